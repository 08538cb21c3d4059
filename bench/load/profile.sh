#!/usr/bin/env bash
# CPU profile of the relay under load: the benchmark's fake upstream, the AOT proxy, wrk at c=16, `perf record -g` on the
# proxy, then the top symbols. Run bench/load/run.sh once first (it publishes what this needs into artifacts/bench-load).
# Usage: bench/load/profile.sh [proxy publish dir, default artifacts/bench-load/proxy]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="$root/artifacts/bench-load"
proxy_dir="${1:-$bin/proxy}"
command -v perf >/dev/null || { echo "perf is missing: apt-get install linux-perf" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
lua="$(mktemp --suffix=.lua)"
cat >"$lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model":"bench-model","messages":[{"role":"user","content":"Say hello in one word."}],"stream":true}'
LUA
FAKE_PORT=19400 "$bin/fake-upstream/fake-upstream" >/dev/null 2>&1 & fake=$!
LMSTUDIO_URL=http://127.0.0.1:19400 OLLAMA_PORT=19402 LITELLM_PORT=19403 LOG_LEVEL=ERROR "$proxy_dir/copilot-proxy" >/dev/null 2>&1 & proxy=$!
trap 'kill $proxy $fake 2>/dev/null; rm -f "$lua"' EXIT
sleep 1
curl -sf -X POST "http://127.0.0.1:19400/_bench/config?tokens=32&delay_ms=0" >/dev/null
until curl -sf http://127.0.0.1:19402/api/tags | grep -q bench-model; do sleep 0.1; done
wrk -t1 -c16 -d2s -s "$lua" http://127.0.0.1:19402/v1/chat/completions >/dev/null
# The stripped binary's symbols are in the .dbg file beside it; perf finds them through its build-id cache.
[ -f "$proxy_dir/copilot-proxy.dbg" ] && perf buildid-cache --add "$proxy_dir/copilot-proxy.dbg" 2>/dev/null || true
perf record -F 1999 -g -o "$root/artifacts/perf.data" -p "$proxy" -- sleep 6 >/dev/null 2>&1 & rec=$!
wrk -t1 -c16 -d8s -s "$lua" http://127.0.0.1:19402/v1/chat/completions
wait $rec
perf report -i "$root/artifacts/perf.data" --no-children --sort symbol --stdio 2>/dev/null | grep -E "^ +[0-9]" | head -40
