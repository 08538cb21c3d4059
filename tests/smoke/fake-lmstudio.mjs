// A fake LM Studio upstream for the container smoke test and the npm client tests: zero dependencies, loopback only.
// It serves LM Studio 0.4's model listings (native /api/v1, the older /api/v0, OpenAI /v1), an OpenAI SSE chat
// stream, the newer APIs with their own event shapes: /v1/responses (0.3.29+) and the Anthropic-compatible
// /v1/messages (0.4.1+) (with tools, each answers with one call of the first tool, {"city":"Paris"}), and LM Studio's
// model management: /api/v1/models/load (taking LOAD_DELAY_MS), /unload, /download and /download/status/{job_id}
// (qwen/qwen3-4b can be downloaded, in three status polls). A chat whose last message contains "slow" streams one chunk
// every SLOW_CHUNK_MS, so a test can stop the proxy while a stream is in flight and see whether it drains; one that
// contains "wait" holds its response headers for WAIT_MS, as a model that is still processing a long prompt does.
//
//   node tests/smoke/fake-lmstudio.mjs [port]     (port 0 or absent: any free port; prints "listening <port>")
import http from "node:http";

const port = Number(process.argv[2] ?? 0);
const slowChunkMs = Number(process.env.SLOW_CHUNK_MS ?? 400);
const modelKey = "qwen/qwen3-8b";
const loadDelayMs = Number(process.env.LOAD_DELAY_MS ?? 0);
const waitMs = Number(process.env.WAIT_MS ?? 2500);
const downloadable = {
  type: "llm", publisher: "qwen", key: "qwen/qwen3-4b", display_name: "Qwen3 4B", architecture: "qwen3",
  quantization: { name: "Q4_K_M", bits_per_weight: 4.8 }, size_bytes: 2500000000, params_string: "4B",
  loaded_instances: [], max_context_length: 32768, format: "gguf", capabilities: { vision: false, trained_for_tool_use: true },
};
const downloads = new Map();

const nativeModels = {
  models: [
    {
      type: "llm",
      publisher: "qwen",
      key: modelKey,
      display_name: "Qwen3 8B",
      architecture: "qwen3",
      quantization: { name: "Q4_K_M", bits_per_weight: 4.8 },
      size_bytes: 5000000000,
      params_string: "8B",
      loaded_instances: [{ id: modelKey, config: { context_length: 16384 } }],
      max_context_length: 32768,
      format: "gguf",
      capabilities: { vision: false, trained_for_tool_use: true },
    },
    {
      type: "embedding",
      publisher: "nomic-ai",
      key: "text-embedding-nomic-embed-text-v1.5",
      display_name: "Nomic Embed Text v1.5",
      architecture: "nomic-bert",
      quantization: { name: "Q4_K_M", bits_per_weight: 4.8 },
      size_bytes: 84000000,
      params_string: null,
      loaded_instances: [],
      max_context_length: 2048,
      format: "gguf",
    },
  ],
};

const v0Models = {
  object: "list",
  data: [
    {
      id: modelKey, object: "model", type: "llm", publisher: "qwen", arch: "qwen3", compatibility_type: "gguf",
      quantization: "Q4_K_M", state: "loaded", max_context_length: 32768, loaded_context_length: 16384,
      capabilities: ["tool_use"],
    },
  ],
};

const openAIModels = { object: "list", data: [{ id: modelKey, object: "model", owned_by: "organization_owner" }] };

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const findModel = (key) => nativeModels.models.find((m) => m.key === key);

// LM Studio's POST /api/v1/models/load: replaces the instance's context here (the real one adds an instance; the proxy
// unloads first).
async function load(req, res) {
  const request = await readJson(req);
  const model = findModel(request.model);
  if (!model) return sendJson(res, 404, { error: `Model "${request.model}" not found` });
  await sleep(loadDelayMs);
  const context = Math.min(request.context_length ?? 4096, model.max_context_length);
  model.loaded_instances = [{ id: model.key, config: { context_length: context } }];
  sendJson(res, 200, { type: model.type, instance_id: model.key, load_time_seconds: loadDelayMs / 1000, status: "loaded" });
}

async function unload(req, res) {
  const request = await readJson(req);
  const model = nativeModels.models.find((m) => m.loaded_instances.some((i) => i.id === request.instance_id));
  if (!model) return sendJson(res, 404, { error: `No loaded model instance with id "${request.instance_id}"` });
  model.loaded_instances = model.loaded_instances.filter((i) => i.id !== request.instance_id);
  sendJson(res, 200, { instance_id: request.instance_id });
}

async function download(req, res) {
  const request = await readJson(req);
  if (findModel(request.model)) return sendJson(res, 200, { status: "already_downloaded" });
  if (request.model !== downloadable.key) {
    return sendJson(res, 404, { error: { message: `Could not find model "${request.model}" in the LM Studio catalog.`, type: "invalid_request_error" } });
  }
  const jobId = `job_${downloads.size + 1}`;
  downloads.set(jobId, 0);
  sendJson(res, 200, { job_id: jobId, status: "downloading", total_size_bytes: downloadable.size_bytes, started_at: new Date().toISOString() });
}

function downloadStatus(res, jobId) {
  if (!downloads.has(jobId)) return sendJson(res, 404, { error: `No download job with id "${jobId}"` });
  const polls = downloads.get(jobId) + 1;
  downloads.set(jobId, polls);
  const total = downloadable.size_bytes;
  if (polls >= 3) {
    if (!findModel(downloadable.key)) nativeModels.models.push({ ...downloadable });
    return sendJson(res, 200, { status: "completed", downloaded_bytes: total, total_size_bytes: total, bytes_per_second: 0, completed_at: new Date().toISOString() });
  }
  sendJson(res, 200, { status: "downloading", downloaded_bytes: Math.floor((total * polls) / 3), total_size_bytes: total, bytes_per_second: 52428800 });
}

function sendJson(res, status, body) {
  const bytes = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { "Content-Type": "application/json; charset=utf-8", "Content-Length": bytes.length });
  res.end(bytes);
}

async function readJson(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
}

// A call to `tool` with {city: "Oslo"} in other model families' formats, as token pieces (docs/models.md).
function textForms(tool) {
  const name = tool.split(/(?=_)/);
  return {
    "qwen3-coder": ["<tool_call>", "\n", "<function=", ...name, ">", "\n", "<parameter=", "city", ">", "\n", "Os", "lo", "\n", "</parameter>", "\n", "</function>", "\n", "</tool_call>"],
    mistral: ["[TOOL_CALLS]", ...name, "[ARGS]", '{"', "city", '":', ' "', "Os", "lo", '"}'],
    gemma4: ["<|tool_call>", "call", ":", ...name, "{", "city", ":", '<|"|>', "Os", "lo", '<|"|>', "}", "<tool_call|>"],
    deepseek: ["<｜tool▁calls▁begin｜>", "<｜tool▁call▁begin｜>", ...name, "<｜tool▁sep｜>", '{"', "city", '":', ' "', "Os", "lo", '"}', "<｜tool▁call▁end｜>", "<｜tool▁calls▁end｜>"],
  };
}

function lastMessageText(request) {
  const messages = Array.isArray(request.messages) ? request.messages : [];
  const content = messages.at(-1)?.content;
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.map((part) => part?.text ?? "").join(" ");
  return "";
}

async function chatCompletions(req, res) {
  let request;
  try {
    request = await readJson(req);
  } catch {
    sendJson(res, 400, { error: "Unexpected end of JSON input" });
    return;
  }
  const slow = /slow/i.test(lastMessageText(request));
  // Just-in-time loading, as LM Studio does it: a model that is not loaded gets its default context.
  const target = findModel(request.model);
  if (target && target.loaded_instances.length === 0) {
    await sleep(loadDelayMs);
    target.loaded_instances = [{ id: target.key, config: { context_length: Math.min(4096, target.max_context_length) } }];
  }
  if (/wait/i.test(lastMessageText(request))) await sleep(waitMs);
  // "as text": the model writes its tool call into the content (Qwen/Hermes <tool_call> form) and LM Studio's parser does
  // not recognise it, so it arrives as content tokens, split the way the tokenizer splits it, finish_reason "stop".
  const tool = Array.isArray(request.tools) ? request.tools[0]?.function?.name : undefined;
  const textCall = tool && /as (?:[a-z0-9-]+ )?text/i.test(lastMessageText(request));
  // "as <format> text": the call in another model family's own format (docs/models.md), cut as its tokenizer cuts it.
  const formatCall = tool && /as ([a-z0-9-]+) text/i.exec(lastMessageText(request))?.[1];
  // "think aloud": a Qwen3-style model whose reasoning LM Studio does not separate (the setting off): <think>…</think> in the content.
  const thinkAloud = /think aloud/i.test(lastMessageText(request));
  const words = thinkAloud
    ? ["<think>", "\n", "The", " user", " greets", " me", ".", "\n", "</think>", "\n\n", "Hello", "!"]
    : formatCall
    ? textForms(tool)[formatCall] ?? ["no such form"]
    : textCall
    ? ["<tool_call>", "\n", '{"', "name", '":', ' "', ...tool.split(/(?=_)/), '",', ' "', "arguments", '":', ' {"', "city", '":', ' "', "Os", "lo", '"}}', "\n", "</tool_call>"]
    : slow
      ? ["one", " two", " three", " four", " five", " six", " seven", " eight"]
      : ["Hello", " from", " the", " fake", " LM", " Studio", "."];
  const id = `chatcmpl-fake${Date.now()}`;
  const created = Math.floor(Date.now() / 1000);
  const model = request.model ?? modelKey;
  const usage = { prompt_tokens: 12, completion_tokens: words.length, total_tokens: 12 + words.length };

  if (!request.stream) {
    sendJson(res, 200, {
      id, object: "chat.completion", created, model,
      choices: [{ index: 0, message: { role: "assistant", content: words.join("") }, finish_reason: "stop" }],
      usage,
    });
    return;
  }

  res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache", Connection: "keep-alive" });
  const chunk = (delta, finishReason = null) =>
    `data: ${JSON.stringify({
      id, object: "chat.completion.chunk", created, model, system_fingerprint: model,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    })}\n\n`;
  let aborted = false;
  res.on("close", () => { aborted = !res.writableEnded; });

  // With tools, answer the way LM Studio streams a call: the numeric-looking id and the name on the first fragment only,
  // then argument pieces, then finish_reason "tool_calls".
  if (tool && !textCall) {
    res.write(chunk({ role: "assistant", tool_calls: [{ index: 0, id: "814890118", type: "function", function: { name: tool, arguments: "" } }] }));
    for (const piece of ['{"ci', 'ty":', ' "Pa', 'ris"}']) {
      res.write(chunk({ role: "assistant", tool_calls: [{ index: 0, function: { arguments: piece } }] }));
    }
    res.write(chunk({}, "tool_calls"));
    if (request.stream_options?.include_usage) {
      res.write(`data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model, choices: [], usage })}\n\n`);
    }
    res.end("data: [DONE]\n\n");
    return;
  }

  // LM Studio repeats the role in every delta; the proxy must cope with that.
  for (const word of words) {
    if (aborted) return;
    res.write(chunk({ role: "assistant", content: word }));
    if (slow) await sleep(slowChunkMs);
  }
  res.write(chunk({}, "stop"));
  if (request.stream_options?.include_usage) {
    res.write(`data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model, choices: [], usage })}\n\n`);
  }
  res.end("data: [DONE]\n\n");
  if (slow) console.log(`slow stream completed${aborted ? " (client gone)" : ""}`);
}

// LM Studio ignores encoding_format and always answers floats (lmstudio-bug-tracker#756).
async function embeddings(req, res) {
  const request = await readJson(req);
  const inputs = Array.isArray(request.input) ? request.input : [request.input];
  sendJson(res, 200, {
    object: "list",
    data: inputs.map((_, index) => ({ object: "embedding", index, embedding: [0.25, -0.5, 0.125, 1] })),
    model: request.model,
    usage: { prompt_tokens: inputs.length * 3, total_tokens: inputs.length * 3 },
  });
}

// One `event:` + `data:` frame, the way LM Studio writes the Responses and Messages streams.
const frame = (type, data) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;

// The text of a Responses request's last input: a string, or the last item's content (a string or input_text parts).
function responsesInputText(request) {
  if (typeof request.input === "string") return request.input;
  const content = Array.isArray(request.input) ? request.input.at(-1)?.content : undefined;
  if (typeof content === "string") return content;
  return Array.isArray(content) ? content.map((part) => part?.text ?? "").join(" ") : "";
}

// OpenAI's Responses API as LM Studio serves it since 0.3.29: typed events with sequence_number, no [DONE].
async function responses(req, res) {
  const request = await readJson(req);
  const model = request.model ?? modelKey;
  const id = `resp_fake${Date.now()}`;
  const created_at = Math.floor(Date.now() / 1000);
  const name = Array.isArray(request.tools) ? (request.tools[0]?.name ?? request.tools[0]?.function?.name) : undefined;
  // "as text": the model writes its call into the message's text (Qwen/Hermes <tool_call> form), as in chatCompletions.
  const textCall = name && /as text/i.test(responsesInputText(request));
  const tool = textCall ? undefined : name;
  // "think aloud": reasoning written as text at the start of the message, as in chatCompletions.
  const thinkAloud = /think aloud/i.test(responsesInputText(request));
  const words = thinkAloud
    ? ["<think>", "\n", "The", " user", " greets", " me", ".", "\n", "</think>", "\n\n", "Hello", "!"]
    : textCall
    ? ["Let", " me", " check", ".\n", "<tool_call>", "\n", '{"', "name", '":', ' "', ...name.split(/(?=_)/), '",', ' "', "arguments", '":', ' {"', "city", '":', ' "', "Os", "lo", '"}}', "\n", "</tool_call>"]
    : ["Hello", " from", " the", " fake", " LM", " Studio", "."];
  const args = ['{"ci', 'ty":', ' "Pa', 'ris"}'];
  const item = tool
    ? { id: "fc_fake1", type: "function_call", status: "completed", call_id: "814890118", name: tool, arguments: args.join("") }
    : { id: "msg_fake1", type: "message", status: "completed", role: "assistant",
        content: [{ type: "output_text", text: words.join(""), annotations: [] }] };
  const usage = { input_tokens: 12, output_tokens: tool ? args.length : words.length, total_tokens: 12 + (tool ? args.length : words.length) };
  const response = (status, output, usageValue) => ({ id, object: "response", created_at, status, model, output, usage: usageValue });
  if (!request.stream) {
    sendJson(res, 200, response("completed", [item], usage));
    return;
  }

  res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache", Connection: "keep-alive" });
  let sequence_number = 0;
  const send = (type, data) => res.write(frame(type, { sequence_number: sequence_number++, ...data }));
  send("response.created", { response: response("in_progress", [], null) });
  send("response.in_progress", { response: response("in_progress", [], null) });
  if (tool) {
    send("response.output_item.added", { output_index: 0, item: { ...item, status: "in_progress", arguments: "" } });
    for (const delta of args) send("response.function_call_arguments.delta", { item_id: item.id, output_index: 0, delta });
    send("response.function_call_arguments.done", { item_id: item.id, output_index: 0, arguments: item.arguments });
  } else {
    send("response.output_item.added", { output_index: 0, item: { ...item, status: "in_progress", content: [] } });
    send("response.content_part.added", { item_id: item.id, output_index: 0, content_index: 0, part: { type: "output_text", text: "", annotations: [] } });
    for (const delta of words) send("response.output_text.delta", { item_id: item.id, output_index: 0, content_index: 0, delta });
    send("response.output_text.done", { item_id: item.id, output_index: 0, content_index: 0, text: words.join("") });
    send("response.content_part.done", { item_id: item.id, output_index: 0, content_index: 0, part: item.content[0] });
  }
  send("response.output_item.done", { output_index: 0, item });
  send("response.completed", { response: response("completed", [item], usage) });
  res.end();
}

// Anthropic's Messages API as LM Studio serves it since 0.4.1: message_start … message_stop, tool input in pieces.
async function messages(req, res) {
  const request = await readJson(req);
  const model = request.model ?? modelKey;
  const tool = Array.isArray(request.tools) ? request.tools[0]?.name : undefined;
  const words = ["Hello", " from", " the", " fake", " LM", " Studio", "."];
  const args = ['{"ci', 'ty":', ' "Pa', 'ris"}'];
  const id = `msg_fake${Date.now()}`;
  if (!request.stream) {
    sendJson(res, 200, {
      id, type: "message", role: "assistant", model,
      content: tool ? [{ type: "tool_use", id: "toolu_fake1", name: tool, input: { city: "Paris" } }] : [{ type: "text", text: words.join("") }],
      stop_reason: tool ? "tool_use" : "end_turn", stop_sequence: null,
      usage: { input_tokens: 12, output_tokens: tool ? args.length : words.length },
    });
    return;
  }

  res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache", Connection: "keep-alive" });
  const send = (type, data = {}) => res.write(frame(type, data));
  send("message_start", {
    message: { id, type: "message", role: "assistant", model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 12, output_tokens: 1 } },
  });
  if (tool) {
    send("content_block_start", { index: 0, content_block: { type: "tool_use", id: "toolu_fake1", name: tool, input: {} } });
    for (const partial_json of args) send("content_block_delta", { index: 0, delta: { type: "input_json_delta", partial_json } });
  } else {
    send("content_block_start", { index: 0, content_block: { type: "text", text: "" } });
    for (const text of words) send("content_block_delta", { index: 0, delta: { type: "text_delta", text } });
  }
  send("content_block_stop", { index: 0 });
  send("message_delta", { delta: { stop_reason: tool ? "tool_use" : "end_turn", stop_sequence: null }, usage: { output_tokens: tool ? args.length : words.length } });
  send("message_stop");
  res.end();
}

const server = http.createServer((req, res) => {
  const path = new URL(req.url ?? "/", "http://127.0.0.1").pathname;
  if (req.method === "GET" && path === "/api/v1/models") return sendJson(res, 200, nativeModels);
  if (req.method === "GET" && path === "/api/v0/models") return sendJson(res, 200, v0Models);
  if (req.method === "GET" && path === "/v1/models") return sendJson(res, 200, openAIModels);
  if (req.method === "POST" && path === "/v1/chat/completions") {
    chatCompletions(req, res).catch((error) => {
      console.error(error);
      res.destroy();
    });
    return;
  }
  for (const [route, handler] of [["/v1/responses", responses], ["/v1/messages", messages]]) {
    if (req.method === "POST" && path === route) {
      handler(req, res).catch((error) => {
        console.error(error);
        res.destroy();
      });
      return;
    }
  }
  const fail = (error) => {
    console.error(error);
    res.destroy();
  };
  if (req.method === "POST" && path === "/api/v1/models/load") return void load(req, res).catch(fail);
  if (req.method === "POST" && path === "/api/v1/models/unload") return void unload(req, res).catch(fail);
  if (req.method === "POST" && path === "/api/v1/models/download") return void download(req, res).catch(fail);
  if (req.method === "GET" && path.startsWith("/api/v1/models/download/status/")) {
    return downloadStatus(res, decodeURIComponent(path.slice("/api/v1/models/download/status/".length)));
  }
  if (req.method === "POST" && path === "/v1/embeddings") {
    embeddings(req, res).catch((error) => {
      console.error(error);
      res.destroy();
    });
    return;
  }
  sendJson(res, 404, { error: `Unexpected endpoint or method. (${req.method} ${path})` });
});

server.listen(port, "127.0.0.1", () => {
  console.log(`listening ${server.address().port}`);
});

for (const signal of ["SIGTERM", "SIGINT"]) process.on(signal, () => server.close(() => process.exit(0)));
