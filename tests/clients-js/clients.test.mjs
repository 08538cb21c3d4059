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

test("ollama-js lists the models and shows tools and the context the proxy loads the model with", async () => {
  const { models } = await ollama.list();
  assert.deepEqual(models.map((m) => m.name).sort(), [`${chatModel}:latest`, `${embedModel}:latest`]);

  const show = await ollama.show({ model: `${chatModel}:latest` });
  assert.ok(show.capabilities.includes("tools"), `capabilities: ${show.capabilities}`);
  // LM Studio has it at 16384; MIN_CONTEXT_LENGTH (default 32768, the model's maximum here) is what it will get.
  assert.equal(show.model_info["qwen3.context_length"], 32768);
  assert.match(show.parameters, /num_ctx 32768/);
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

test("ollama-js is refused think on a model without the thinking capability, in Ollama's words", async () => {
  // The fake LM Studio's qwen3-8b does not list reasoning, so /api/show leaves "thinking" out, as Ollama would.
  const show = await ollama.show({ model: chatModel });
  assert.ok(!show.capabilities.includes("thinking"), `capabilities: ${show.capabilities}`);
  for (const call of [
    () => ollama.chat({ model: chatModel, messages: [{ role: "user", content: "hi" }], think: true }),
    () => ollama.generate({ model: chatModel, prompt: "hi", think: true }),
  ]) {
    await assert.rejects(call, (error) => {
      assert.equal(error.status_code, 400);
      assert.equal(error.error, `"${chatModel}" does not support thinking`);
      return true;
    });
  }
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

test("ollama-js gets a real tool call when the model wrote it as text", async () => {
  const calls = [];
  let text = "";
  let done;
  for await (const part of await ollama.chat({
    model: chatModel,
    messages: [{ role: "user", content: "Weather in Oslo? (the model answers the call as text)" }],
    tools: [weatherTool],
    stream: true,
  })) {
    text += part.message.content;
    calls.push(...(part.message.tool_calls ?? []));
    if (part.done) done = part;
  }
  assert.equal(text, "");
  assert.equal(calls.length, 1);
  assert.equal(calls[0].function.name, "get_weather");
  assert.deepEqual(calls[0].function.arguments, { city: "Oslo" });
  assert.equal(done.done_reason, "stop");
});

test("openai finalChatCompletion() has the tool call the model wrote as text", async () => {
  const stream = openai.chat.completions.stream({
    model: chatModel,
    messages: [{ role: "user", content: "Weather in Oslo? (the model answers the call as text)" }],
    tools: [weatherTool],
    stream_options: { include_usage: true },
  });
  const completion = await stream.finalChatCompletion();
  const choice = completion.choices[0];
  assert.equal(choice.finish_reason, "tool_calls");
  assert.ok(!choice.message.content, `content: ${choice.message.content}`);
  assert.equal(choice.message.tool_calls.length, 1);
  assert.equal(choice.message.tool_calls[0].function.name, "get_weather");
  assert.deepEqual(JSON.parse(choice.message.tool_calls[0].function.arguments), { city: "Oslo" });
  assert.match(choice.message.tool_calls[0].id, /^call_/);
});

for (const format of ["qwen3-coder", "mistral", "gemma4", "deepseek"]) {
  test(`ollama-js gets a real tool call when the model wrote it in the ${format} format`, async () => {
    const calls = [];
    let text = "";
    for await (const part of await ollama.chat({
      model: chatModel,
      messages: [{ role: "user", content: `Weather in Oslo? (the model answers the call as ${format} text)` }],
      tools: [weatherTool],
      stream: true,
    })) {
      text += part.message.content;
      calls.push(...(part.message.tool_calls ?? []));
    }
    assert.equal(text, "");
    assert.equal(calls.length, 1);
    assert.equal(calls[0].function.name, "get_weather");
    assert.deepEqual(calls[0].function.arguments, { city: "Oslo" });
  });

  test(`openai on the gateway gets a real tool call when the model wrote it in the ${format} format`, async () => {
    const stream = openai.chat.completions.stream({
      model: chatModel,
      messages: [{ role: "user", content: `Weather in Oslo? (the model answers the call as ${format} text)` }],
      tools: [weatherTool],
    });
    const choice = (await stream.finalChatCompletion()).choices[0];
    assert.equal(choice.finish_reason, "tool_calls");
    assert.ok(!choice.message.content, `content: ${choice.message.content}`);
    assert.equal(choice.message.tool_calls.length, 1);
    assert.equal(choice.message.tool_calls[0].function.name, "get_weather");
    assert.deepEqual(JSON.parse(choice.message.tool_calls[0].function.arguments), { city: "Oslo" });
  });
}

test("openai gets the repaired tool call without streaming too", async () => {
  const completion = await openai.chat.completions.create({
    model: chatModel,
    messages: [{ role: "user", content: "Weather in Oslo? (the model answers the call as text)" }],
    tools: [weatherTool],
  });
  const choice = completion.choices[0];
  assert.equal(choice.finish_reason, "tool_calls");
  assert.equal(choice.message.tool_calls[0].function.name, "get_weather");
  assert.deepEqual(JSON.parse(choice.message.tool_calls[0].function.arguments), { city: "Oslo" });
});

test("ollama-js gets the reasoning a model wrote as text in thinking, and the answer alone in content", async () => {
  let thinking = "";
  let text = "";
  for await (const part of await ollama.chat({
    model: chatModel,
    messages: [{ role: "user", content: "Hi (think aloud)" }],
    stream: true,
  })) {
    thinking += part.message.thinking ?? "";
    text += part.message.content;
  }
  assert.equal(thinking, "The user greets me.\n");
  assert.equal(text, "Hello!");
});

test("openai streams the reasoning a model wrote as text in reasoning_content, the answer in content", async () => {
  let reasoning = "";
  let text = "";
  const stream = await openai.chat.completions.create({
    model: chatModel,
    messages: [{ role: "user", content: "Hi (think aloud)" }],
    stream: true,
  });
  for await (const chunk of stream) {
    const delta = chunk.choices[0]?.delta ?? {};
    reasoning += delta.reasoning_content ?? "";
    text += delta.content ?? "";
  }
  assert.equal(reasoning, "The user greets me.\n");
  assert.equal(text, "Hello!");
});

test("openai gets the reasoning a model wrote as text in message.reasoning_content without streaming", async () => {
  const completion = await openai.chat.completions.create({
    model: chatModel,
    messages: [{ role: "user", content: "Hi (think aloud)" }],
  });
  const message = completion.choices[0].message;
  assert.equal(message.reasoning_content, "The user greets me.\n");
  assert.equal(message.content, "Hello!");
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

test("openai responses.stream gets a function_call item for the call the model wrote as text, after its text", async () => {
  const stream = openai.responses.stream({
    model: chatModel,
    input: "Weather in Oslo? (the model answers the call as text)",
    tools: [{ type: "function", name: "get_weather", description: "Weather for a city", parameters: weatherTool.function.parameters }],
  });
  let text = "";
  const closed = [];
  stream.on("response.output_text.delta", (event) => { text += event.delta; });
  stream.on("response.output_item.done", (event) => { closed.push(event.item); });
  const final = await stream.finalResponse();
  assert.equal(text, "Let me check.\n");
  assert.deepEqual(final.output.map((item) => item.type), ["message", "function_call"]);
  // The final response lists exactly the items the stream closed (the SDK adds its own parsed fields to the final one).
  assert.deepEqual(final.output.map(({ id, type, status }) => ({ id, type, status })), closed.map(({ id, type, status }) => ({ id, type, status })));
  assert.equal(final.output[1].arguments, closed[1].arguments);
  assert.equal(final.output_text, "Let me check.\n");
  const call = final.output[1];
  assert.equal(call.name, "get_weather");
  assert.equal(call.status, "completed");
  assert.match(call.call_id, /^call_/);
  assert.deepEqual(JSON.parse(call.arguments), { city: "Oslo" });
});

test("openai responses.stream gets the reasoning a model wrote as text as a reasoning item before the message", async () => {
  const stream = openai.responses.stream({ model: chatModel, input: "Hi (think aloud)" });
  let reasoning = "";
  let text = "";
  stream.on("response.reasoning_text.delta", (event) => { reasoning += event.delta; });
  stream.on("response.output_text.delta", (event) => { text += event.delta; });
  const final = await stream.finalResponse();
  assert.equal(reasoning, "The user greets me.\n");
  assert.equal(text, "Hello!");
  assert.deepEqual(final.output.map((item) => item.type), ["reasoning", "message"]);
  assert.equal(final.output[0].content[0].text, "The user greets me.\n");
  assert.equal(final.output_text, "Hello!");
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

test("after a chat, /api/ps reports the context the proxy loaded the model with", async () => {
  await ollama.chat({ model: chatModel, messages: [{ role: "user", content: "hi" }], stream: false });
  const { models } = await ollama.ps();
  const loaded = models.find((m) => m.name === `${chatModel}:latest`);
  assert.equal(loaded.context_length, 32768);
});

test("ollama-js pulls a model LM Studio downloads, with Ollama's progress", async () => {
  const parts = [];
  for await (const part of await ollama.pull({ model: "qwen/qwen3-4b", stream: true })) parts.push(part);
  assert.equal(parts[0].status, "pulling manifest");
  const progress = parts.filter((p) => p.status.startsWith("downloading"));
  assert.ok(progress.length >= 2, JSON.stringify(parts));
  assert.ok(progress.every((p) => p.total === 2500000000 && p.digest.startsWith("sha256:")));
  assert.deepEqual(progress.map((p) => p.completed), [...progress.map((p) => p.completed)].sort((a, b) => a - b));
  assert.equal(progress.at(-1).completed, 2500000000);
  assert.equal(parts.at(-1).status, "success");
  const { models } = await ollama.list();
  assert.ok(models.some((m) => m.name === "qwen/qwen3-4b:latest"));
});

test("openai streams through heartbeats while the upstream is slow to answer", async () => {
  // The fake holds its headers for WAIT_MS (2.5 s) and run.sh sets STREAM_HEARTBEAT_SECONDS=1: the proxy sends
  // ": keep-alive" comment lines first, which the SDK's SSE parser skips.
  const raw = await fetch(`${gatewayUrl}/v1/chat/completions`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ model: chatModel, messages: [{ role: "user", content: "wait" }], stream: true }),
  }).then((r) => r.text());
  assert.ok(raw.indexOf(": keep-alive") >= 0 && raw.indexOf(": keep-alive") < raw.indexOf("data:"), raw);

  const stream = await openai.chat.completions.create({ model: chatModel, messages: [{ role: "user", content: "wait" }], stream: true });
  let text = "";
  for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
  assert.equal(text, "Hello from the fake LM Studio.");
});
