#!/usr/bin/env bash
# Coverage-guided fuzzing of the request readers (/api/chat, /api/generate, /api/embed) and the SSE parser with the
# relay and the Ollama translation behind it (issue 15): SharpFuzz instruments the proxy's assembly, afl++ drives it.
#
#   bench/fuzz/run.sh [MINUTES]    default 10; CI runs 1
#
# Installs afl++ (apt) and the sharpfuzz tool (dotnet tool) when missing. The corpus is seeded from the wire transcripts
# (tests/CopilotProxy.Tests/Transcripts) and from request examples. Every crash found is copied to
# tests/CopilotProxy.Tests/Reliability/FuzzCrashes/, where FuzzRegressionTests replays it; the script then exits 1.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
minutes="${1:-10}"
case "$minutes" in ''|*[!0-9]*) echo "fuzz/run.sh: expected a number of minutes, got '$minutes'" >&2; exit 64 ;; esac
log() { printf '[fuzz] %s\n' "$*" >&2; }

if ! command -v afl-fuzz >/dev/null 2>&1; then
  [ "$(id -u)" -eq 0 ] || { log "afl++ is missing: sudo apt-get install afl++"; exit 1; }
  log "installing afl++ (apt)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq afl++ >/dev/null 2>&1 || { apt-get update -qq >/dev/null && apt-get install -y -qq afl++ >/dev/null; }
fi
export PATH="$PATH:$HOME/.dotnet/tools"
if ! command -v sharpfuzz >/dev/null 2>&1; then
  log "installing the sharpfuzz tool (dotnet tool)"
  dotnet tool install --global SharpFuzz.CommandLine --version 2.3.0 >/dev/null
fi

work="$root/artifacts/fuzz"
out="$work/target"
rm -rf "$out" "$work/corpus"
mkdir -p "$out" "$work/corpus"
log "building and instrumenting the target"
# A build, not a publish: the proxy project is a self-contained (AOT) executable, which a publish refuses to reference.
dotnet build "$here/FuzzTarget/FuzzTarget.csproj" -c Release -nologo -v quiet >"$work/build.log" 2>&1 \
  || { cat "$work/build.log" >&2; exit 1; }
# Instrument a copy: the build output stays as it was for the next incremental build.
cp -r "$root/artifacts/bin/FuzzTarget/release/." "$out/"
sharpfuzz "$out/copilot-proxy.dll" >/dev/null

# Seeds: the first byte picks the target (0 chat, 1 generate, 2 embed, 3 SSE into the relay, 4 SSE into /api/chat,
# 5 and 6 the same with the tool-call repair, 7 a Responses stream, 8 a Messages stream, 9 the reasoning splitter, 10 and
# 11 the relay and /api/chat with reasoning written as text, 12-15 the repair alone with one family of tool-call formats);
# for SSE the second byte is the read size.
seed() { { printf "$1"; cat; } >"$work/corpus/$2"; }
printf '{"model":"qwen/qwen3-8b","messages":[{"role":"user","content":"hi","images":["aGk="]},{"role":"assistant","content":"","tool_calls":[{"function":{"name":"f","arguments":{"a":1}}}]},{"role":"tool","content":"r","tool_name":"f"}],"format":"json","think":"high","options":{"temperature":0.2,"stop":["x"]},"tools":[{"type":"function","function":{"name":"f"}}]}' | seed '\x00' chat
printf '{"model":"qwen/qwen3-8b","prompt":"hi","system":"s","raw":false,"images":["aGk="],"format":{"type":"object"},"think":true,"keep_alive":"5m"}' | seed '\x01' generate
printf '{"model":"nomic","input":["a","b"],"dimensions":8,"truncate":true}' | seed '\x02' embed
n=0
for sse in "$root"/tests/CopilotProxy.Tests/Transcripts/*/*.sse; do
  n=$((n + 1))
  seed '\x03\x07' "relay-$n" <"$sse"
  seed '\x04\x0d' "chat-$n" <"$sse"
done
# A tool call written as text, cut across deltas, for the repair targets; and one small stream of each event API.
tagged='data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"Let me look.\n<tool"},"finish_reason":null}]}

data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"_call>{\"name\": \"read_file\", \"arguments\": {\"path\": \"a.cs\"}}</tool_call>"},"finish_reason":null}]}

data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":9,"total_tokens":14}}

data: [DONE]

'
printf '%s' "$tagged" | seed '\x05\x11' repair-relay
printf '%s' "$tagged" | seed '\x06\x17' repair-chat
printf '%s' 'data: {"type":"response.created","sequence_number":0,"response":{"id":"resp_1","object":"response","status":"in_progress","model":"m","output":[]}}

data: {"type":"response.output_item.added","sequence_number":1,"output_index":0,"item":{"id":"msg_1","type":"message","status":"in_progress","role":"assistant","content":[]}}

data: {"type":"response.content_part.added","sequence_number":2,"item_id":"msg_1","output_index":0,"content_index":0,"part":{"type":"output_text","text":"","annotations":[]}}

data: {"type":"response.output_text.delta","sequence_number":3,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"<tool_call>{\"name\": \"grep\", \"arguments\": {\"q\": \"x\"}}</tool_call>"}

data: {"type":"response.output_text.done","sequence_number":4,"item_id":"msg_1","output_index":0,"content_index":0,"text":"<tool_call>{\"name\": \"grep\", \"arguments\": {\"q\": \"x\"}}</tool_call>"}

data: {"type":"response.completed","sequence_number":5,"response":{"id":"resp_1","object":"response","status":"completed","model":"m","output":[],"usage":{"input_tokens":5,"output_tokens":9,"total_tokens":14}}}

' | seed '\x07\x1f' responses
printf '%s' 'data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"m","content":[],"stop_reason":null,"usage":{"input_tokens":5,"output_tokens":0}}}

data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"{\"name\": \"read_file\", \"arguments\": {\"path\": \"a\"}}"}}

data: {"type":"content_block_stop","index":0}

data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":9}}

data: {"type":"message_stop"}

' | seed '\x08\x1f' messages
# One answer per tool-call format family for the repair targets (12 JSON in markers, 13 XML-like tags, 14 special
# tokens, 15 literal syntax); the second byte is twice the delta size.
printf '%s' 'Let me look.<tool_call>{"name": "read_file", "arguments": {"path": "a.cs"}}</tool_call>[TOOL_CALLS]grep[ARGS]{"q": "x"}' | seed '\x0c\x0e' repair-json
printf '%s' '<tool_call>\n<function=read_file>\n<parameter=path>\na.cs\n</parameter>\n<parameter=line>\n3\n</parameter>\n</function>\n</tool_call><minimax:tool_call><invoke name="grep"><parameter name="q">x</parameter></invoke></minimax:tool_call>' | seed '\x0d\x0e' repair-xml
printf '%s' '<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>read_file<｜tool▁sep｜>{"path": "a"}<｜tool▁call▁end｜><｜tool▁calls▁end｜><|start|>assistant<|channel|>commentary to=functions.grep<|message|>{"q": "x"}<|call|>' | seed '\x0e\x0e' repair-tokens
printf '%s' '[read_file(path='"'"'a.cs'"'"', line=3, all=True, note=None)]' | seed '\x0f\x0e' repair-literals
# Reasoning written as text: each form for the splitter alone (9), and a <think> answer with a call after it for the
# relay and /api/chat with reasoning and the repair (10, 11).
printf '<think>\nPlan.\n</think>\n\nHi <think> [THINK]' | seed '\x09\x00\x03' reasoning-think
printf '<|channel|>analysis<|message|>Plan.<|end|><|start|>assistant<|channel|>commentary to=functions.grep <|constrain|>json<|message|>{}<|call|>' | seed '\x09\x00\x05' reasoning-harmony
printf '<|channel>thought\nPlan.<channel|>Hi.<|channel>thought x<channel|>' | seed '\x09\x03\x02' reasoning-gemma
printf '[THINK]Plan.[/THINK]Hi. <seed:think>' | seed '\x09\x04\x01' reasoning-mistral
thought="${tagged/Let me look.\\n<tool/<think>Plan.<\/think>\\n\\n<tool}"
printf '%s' "$thought" | seed '\x0a\x0b' reasoning-relay
printf '%s' "$thought" | seed '\x0b\x13' reasoning-chat
log "corpus: $(ls "$work/corpus" | wc -l) seeds; fuzzing for $minutes minute(s)"

export AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1
rm -rf "$work/findings"
afl-fuzz -i "$work/corpus" -o "$work/findings" -x "$here/json.dict" -t 10000 -m none -V $((minutes * 60)) -- "$out/fuzz-target" >"$work/afl.log" 2>&1 \
  || { tail -n 30 "$work/afl.log" >&2; log "afl-fuzz failed; see $work/afl.log"; exit 1; }
stats="$work/findings/default/fuzzer_stats"
[ -f "$stats" ] && log "$(grep -E '^(execs_done|execs_per_sec|corpus_count|saved_crashes|saved_hangs) ' "$stats" | tr -s ' ' | tr '\n' ';')"

crashes=("$work"/findings/default/crashes/id*)
if [ -e "${crashes[0]}" ]; then
  keep="$root/tests/CopilotProxy.Tests/Reliability/FuzzCrashes"
  mkdir -p "$keep"
  for crash in "${crashes[@]}"; do cp "$crash" "$keep/$(sha1sum "$crash" | cut -c1-16).bin"; done
  log "${#crashes[@]} crash(es) kept in $keep: replay with 'dotnet test ... --filter-class *FuzzRegressionTests', fix, commit them"
  exit 1
fi
log "no crash"
