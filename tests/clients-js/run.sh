#!/usr/bin/env bash
# Runs clients.test.mjs: the npm `ollama` and `openai` packages against the real proxy in front of the Node fake LM
# Studio (tests/smoke/fake-lmstudio.mjs), all on 127.0.0.1. Needs the debug build that `dotnet test` leaves behind.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
dll="$root/artifacts/bin/CopilotProxy/debug/copilot-proxy.dll"
[ -f "$dll" ] || dotnet build "$root/src/CopilotProxy" -nologo -v quiet >/dev/null

(cd "$here" && npm ci --no-audit --no-fund --silent)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
upstream=$(free_port); ollama=$(free_port); gateway=$(free_port)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
node "$root/tests/smoke/fake-lmstudio.mjs" "$upstream" >/dev/null & pids+=($!)
LMSTUDIO_URL="http://127.0.0.1:$upstream" STREAM_HEARTBEAT_SECONDS=1 OLLAMA_PORT=$ollama LITELLM_PORT=$gateway HOST=127.0.0.1 LOG_LEVEL=WARNING \
  dotnet "$dll" & pids+=($!)
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$ollama/api/tags" | grep -q qwen3-8b && break
  sleep 0.1
done

cd "$here"
PROXY_OLLAMA_URL="http://127.0.0.1:$ollama" PROXY_GATEWAY_URL="http://127.0.0.1:$gateway" node --test
