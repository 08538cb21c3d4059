// One keep-alive client at c=1, as Copilot talks to a model server: Node's own fetch (undici, the HTTP stack VS Code
// extensions use), or a raw socket that writes each request and reads until the response's last byte.
//   node fetch.mjs fetch|socket URL SECONDS BODY
// Prints one line: "requests=N seconds=S mean_us=M p50_us=P" (after a 0.5 s warm-up that is not counted).
import net from "node:net";

const [mode, url, secondsText, body] = process.argv.slice(2);
const seconds = Number(secondsText);
const target = new URL(url);

async function viaFetch() {
  const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body });
  await response.arrayBuffer();
  if (response.status !== 200) throw new Error(`status ${response.status}`);
}

// A raw HTTP/1.1 client: one request written in one write, the response read until its end (chunked terminator or
// Content-Length). It shows what the proxy costs without any client library in the way.
const request = Buffer.from(
  `POST ${target.pathname} HTTP/1.1\r\nHost: ${target.host}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
let socket;
let pending;
let received = Buffer.alloc(0);
function complete(data) {
  const head = data.indexOf("\r\n\r\n");
  if (head < 0) return false;
  const headers = data.subarray(0, head).toString("latin1");
  const length = /content-length:\s*(\d+)/i.exec(headers);
  if (length) return data.length >= head + 4 + Number(length[1]);
  return data.subarray(data.length - 5).toString("latin1") === "0\r\n\r\n";
}
async function viaSocket() {
  if (!socket) {
    socket = net.connect(Number(target.port), target.hostname);
    socket.setNoDelay(true);
    socket.on("data", (chunk) => {
      received = received.length ? Buffer.concat([received, chunk]) : chunk;
      if (pending && complete(received)) {
        received = Buffer.alloc(0);
        const done = pending;
        pending = undefined;
        done();
      }
    });
    await new Promise((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  }
  await new Promise((resolve) => {
    pending = resolve;
    socket.write(request);
  });
}

const once = mode === "socket" ? viaSocket : viaFetch;
const warmUntil = performance.now() + 500;
while (performance.now() < warmUntil) await once();
const times = [];
const end = performance.now() + seconds * 1000;
while (performance.now() < end) {
  const start = performance.now();
  await once();
  times.push(performance.now() - start);
}
times.sort((a, b) => a - b);
const mean = times.reduce((a, b) => a + b, 0) / times.length;
console.log(`requests=${times.length} seconds=${seconds} mean_us=${(mean * 1000).toFixed(1)} p50_us=${(times[times.length >> 1] * 1000).toFixed(1)}`);
socket?.destroy();
