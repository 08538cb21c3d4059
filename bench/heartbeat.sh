#!/usr/bin/env bash
# Time to the first heartbeat and to the first token through the proxy when LM Studio takes LOAD_DELAY_MS (default 5 s)
# to load the model: the Node fake LM Studio has the model loaded at 16384 tokens, MIN_CONTEXT_LENGTH=32768 makes the
# proxy reload it (unload + a 5 s load) before the chat goes, and STREAM_HEARTBEAT_SECONDS (default 1) keeps Copilot's
# 2-minute first-chunk timer from running out. Loopback only. Prints the figures; asserts nothing.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dll="$root/artifacts/bin/CopilotProxy/debug/copilot-proxy.dll"
[ -f "$dll" ] || dotnet build "$root/src/CopilotProxy" -nologo -v quiet >/dev/null
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
upstream=$(free_port); ollama=$(free_port); gateway=$(free_port)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
LOAD_DELAY_MS="${LOAD_DELAY_MS:-5000}" node "$root/tests/smoke/fake-lmstudio.mjs" "$upstream" >/dev/null & pids+=($!)
LMSTUDIO_URL="http://127.0.0.1:$upstream" OLLAMA_PORT=$ollama LITELLM_PORT=$gateway HOST=127.0.0.1 LOG_LEVEL=WARNING \
  MIN_CONTEXT_LENGTH=32768 STREAM_HEARTBEAT_SECONDS="${STREAM_HEARTBEAT_SECONDS:-1}" dotnet "$dll" & pids+=($!)
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$ollama/api/tags" | grep -q qwen3-8b && break
  sleep 0.1
done

python3 - "$ollama" <<'PY'
import http.client, json, sys, time
port = int(sys.argv[1])
body = json.dumps({"model": "qwen/qwen3-8b:latest", "stream": True,
                   "messages": [{"role": "user", "content": "hi"}]})
start = time.monotonic()
conn = http.client.HTTPConnection("127.0.0.1", port)
conn.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json", "Authorization": "Bearer "})
resp = conn.getresponse()
headers = time.monotonic() - start
first_beat = first_token = None
beats = 0
buffer = b""
while True:
    chunk = resp.read1(4096)
    if not chunk:
        break
    buffer += chunk
    now = time.monotonic() - start
    while b"\n\n" in buffer:
        event, buffer = buffer.split(b"\n\n", 1)
        if event.startswith(b": keep-alive"):
            beats += 1
            first_beat = first_beat or now
        elif b'"content"' in event and first_token is None:
            first_token = now
print(f"status {resp.status}, headers after {headers*1000:.0f} ms, first heartbeat after {first_beat*1000:.0f} ms, "
      f"first token after {first_token*1000:.0f} ms, {beats} heartbeat(s)")
PY
