// The proxy driven by the npm `ollama`, `openai` and `@anthropic-ai/sdk` packages, the clients JavaScript tools (ollama-js,
// Continue, Cline, Copilot's Custom Endpoint) are built on. run.sh starts a fake LM Studio and the proxy and passes their
// addresses in the environment.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Ollama } from "ollama";
import OpenAI from "openai";
import Anthropic from "@anthropic-ai/sdk";

const ollamaUrl = process.env.PROXY_OLLAMA_URL;
const gatewayUrl = process.env.PROXY_GATEWAY_URL;
const chatModel = "qwen/qwen3-8b";
const embedModel = "text-embedding-nomic-embed-text-v1.5";
const weatherTool = {
  type: "function",
  function: {
    name: "get_weather",
    description: "Weather for a city",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  },
};

const ollama = new Ollama({ host: ollamaUrl });
const openai = new OpenAI({ baseURL: `${gatewayUrl}/v1`, apiKey: "unused" });
// The Anthropic SDK adds /v1/messages itself and sends x-api-key and anthropic-version, as Copilot's Messages client does.
const anthropic = new Anthropic({ baseURL: gatewayUrl, apiKey: "unused" });

test("ollama-js lists the models and shows tools and the loaded context", async () => {
  const { models } = await ollama.list();
  assert.deepEqual(models.map((m) => m.name).sort(), [`${chatModel}:latest`, `${embedModel}:latest`]);

  const show = await ollama.show({ model: `${chatModel}:latest` });
  assert.ok(show.capabilities.includes("tools"), `capabilities: ${show.capabilities}`);
  assert.equal(show.model_info["qwen3.context_length"], 16384);
});

test("ollama-js streams a chat with a whole tool call whose arguments are an object", async () => {
  const calls = [];
  let done;
  for await (const part of await ollama.chat({
    model: chatModel,
    messages: [{ role: "user", content: "Weather in Paris?" }],
    tools: [weatherTool],
    stream: true,
  })) {
    calls.push(...(part.message.tool_calls ?? []));
    if (part.done) done = part;
  }
  assert.equal(calls.length, 1);
  assert.equal(calls[0].function.name, "get_weather");
  assert.deepEqual(calls[0].function.arguments, { city: "Paris" });
  assert.equal(done.done_reason, "stop");
});

test("ollama-js streams text and gets the final stats line", async () => {
  let text = "";
  let last;
  for await (const part of await ollama.chat({ model: chatModel, messages: [{ role: "user", content: "hi" }], stream: true })) {
    text += part.message.content;
    last = part;
  }
  assert.equal(text, "Hello from the fake LM Studio.");
  assert.equal(last.done, true);
  assert.equal(last.eval_count, 7);
  assert.ok(last.total_duration > 0);
});

test("ollama-js embeds", async () => {
  const { embeddings } = await ollama.embed({ model: embedModel, input: ["a", "b"] });
  assert.equal(embeddings.length, 2);
  assert.equal(embeddings[0].length, 4);
});

test("openai streams a tool call through the gateway, fragments assembled by index", async () => {
  const stream = await openai.chat.completions.create({
    model: chatModel,
    messages: [{ role: "user", content: "Weather in Paris?" }],
    tools: [weatherTool],
    stream: true,
  });
  let name = "";
  let args = "";
  let id;
  let finish;
  for await (const chunk of stream) {
    for (const call of chunk.choices[0]?.delta?.tool_calls ?? []) {
      id ??= call.id;
      name += call.function?.name ?? "";
      args += call.function?.arguments ?? "";
    }
    finish = chunk.choices[0]?.finish_reason ?? finish;
  }
  assert.equal(name, "get_weather");
  assert.deepEqual(JSON.parse(args), { city: "Paris" });
  assert.equal(id, "814890118");
  assert.equal(finish, "tool_calls");
});

test("openai embeddings decode to the upstream's floats although the SDK asks for base64", async () => {
  // The SDK asks for encoding_format "base64" by default; LM Studio answers floats, which the SDK would misread unless the
  // gateway encodes them itself (docs/protocol.md §7).
  const result = await openai.embeddings.create({ model: embedModel, input: "hello" });
  assert.deepEqual(Array.from(result.data[0].embedding), [0.25, -0.5, 0.125, 1]);
});

test("openai chat.completions streams text through the gateway", async () => {
  const stream = await openai.chat.completions.create({
    model: chatModel,
    messages: [{ role: "user", content: "hi" }],
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = "";
  let usage;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? "";
    usage = chunk.usage ?? usage;
    assert.equal(chunk.model, chatModel);
  }
  assert.equal(text, "Hello from the fake LM Studio.");
  assert.equal(usage.completion_tokens, 7);
});

test("openai responses.stream relays the Responses API's events and final response", async () => {
  const stream = openai.responses.stream({ model: chatModel, input: "hi" });
  let text = "";
  stream.on("response.output_text.delta", (event) => { text += event.delta; });
  const final = await stream.finalResponse();
  assert.equal(text, "Hello from the fake LM Studio.");
  assert.equal(final.status, "completed");
  assert.equal(final.model, chatModel);
  assert.equal(final.output_text, "Hello from the fake LM Studio.");
  assert.equal(final.usage.output_tokens, 7);
});

test("openai responses.stream returns a function call with its arguments", async () => {
  const stream = openai.responses.stream({
    model: chatModel,
    input: "Weather in Paris?",
    tools: [{ type: "function", name: "get_weather", description: "Weather for a city", parameters: weatherTool.function.parameters }],
  });
  const final = await stream.finalResponse();
  const call = final.output.find((item) => item.type === "function_call");
  assert.equal(call.name, "get_weather");
  assert.deepEqual(JSON.parse(call.arguments), { city: "Paris" });
});

test("anthropic messages.stream with a tool gives a tool_use block with parsed input", async () => {
  const stream = anthropic.messages.stream({
    model: chatModel,
    max_tokens: 256,
    messages: [{ role: "user", content: "Weather in Paris?" }],
    tools: [{ name: "get_weather", description: "Weather for a city", input_schema: weatherTool.function.parameters }],
  });
  const events = [];
  stream.on("streamEvent", (event) => events.push(event.type));
  const final = await stream.finalMessage();
  assert.equal(final.model, chatModel);
  assert.equal(final.stop_reason, "tool_use");
  const toolUse = final.content.find((block) => block.type === "tool_use");
  assert.equal(toolUse.name, "get_weather");
  assert.deepEqual(toolUse.input, { city: "Paris" });
  assert.equal(events[0], "message_start");
  assert.equal(events.at(-1), "message_stop");
});

test("anthropic messages.stream streams text", async () => {
  const stream = anthropic.messages.stream({ model: chatModel, max_tokens: 64, messages: [{ role: "user", content: "hi" }] });
  let text = "";
  stream.on("text", (delta) => { text += delta; });
  const final = await stream.finalMessage();
  assert.equal(text, "Hello from the fake LM Studio.");
  assert.equal(final.usage.output_tokens, 7);
});
