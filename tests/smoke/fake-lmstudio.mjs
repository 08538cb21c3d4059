// A fake LM Studio upstream for the container smoke test: zero dependencies, loopback only.
// It serves LM Studio 0.4's model listings (native /api/v1, the older /api/v0, OpenAI /v1) and an OpenAI SSE chat
// stream. A chat whose last message contains "slow" streams one chunk every SLOW_CHUNK_MS, so a test can stop the
// proxy while a stream is in flight and see whether it drains.
//
//   node tests/smoke/fake-lmstudio.mjs [port]     (port 0 or absent: any free port; prints "listening <port>")
import http from "node:http";

const port = Number(process.argv[2] ?? 0);
const slowChunkMs = Number(process.env.SLOW_CHUNK_MS ?? 400);
const modelKey = "qwen/qwen3-8b";

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
  // "as text": the model writes its tool call into the content (Qwen/Hermes <tool_call> form) and LM Studio's parser does
  // not recognise it, so it arrives as content tokens, split the way the tokenizer splits it, finish_reason "stop".
  const tool = Array.isArray(request.tools) ? request.tools[0]?.function?.name : undefined;
  const textCall = tool && /as text/i.test(lastMessageText(request));
  const words = textCall
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
