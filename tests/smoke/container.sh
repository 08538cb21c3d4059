#!/usr/bin/env bash
# Container smoke test: builds the real image, runs it against a fake LM Studio and checks what a user of the
# container would notice (non-root, healthy, the endpoints Copilot calls, idle memory, a clean drain on `docker stop`),
# then validates the compose files. Everything talks over --network host on 127.0.0.1 only.
# Prints the measured figures and a closing "N passed, N failed" line; exits non-zero on any failure.
#   bash tests/smoke/container.sh     (IMAGE=name:tag chooses the tag; the image is kept so a rerun reuses the build
#                                     cache; REMOVE_IMAGE=1 removes it afterwards)
set -euo pipefail

root=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
cd "$root"
# shared/ sits beside the checkout; from a git worktree, beside the main checkout that owns the repository.
shared=${SHARED_DIR:-$root/../shared}
if [[ ! -d $shared ]]; then
  shared="$(dirname "$(git rev-parse --path-format=absolute --git-common-dir)")/../shared"
fi
image=${IMAGE:-lmstudio-copilot-proxy:smoke}
name="copilot-proxy-smoke-$$"
work=$(mktemp -d /tmp/copilot-proxy-smoke.XXXX)
fake_pid=""
passed=0
failed=0

log() { echo "container-smoke: $*" >&2; }
pass() { passed=$((passed + 1)); echo "  ok   $*"; }
fail() { failed=$((failed + 1)); echo "  FAIL $*"; }
check() { local what=$1; shift; if "$@"; then pass "$what"; else fail "$what"; fi; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

cleanup() {
  docker rm -f -v "$name" >/dev/null 2>&1 || true
  [[ -n $fake_pid ]] && kill "$fake_pid" 2>/dev/null || true
  [[ -z ${REMOVE_IMAGE:-} ]] || docker image rm "$image" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# Free loopback ports picked by the kernel, so parallel runs and other services on this machine don't clash.
free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

# json_ok FILE 'JS expression over `j`' : true when the file parses as JSON and the expression holds.
json_ok() { node -e 'const j=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")); process.exit(eval(process.argv[2]) ? 0 : 1)' "$1" "$2" 2>/dev/null; }

http_status() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@" || true; }

# ---- 1. engine and base images ------------------------------------------------------------------------------------
# Here (no registry) the stand-in script provides the engine and the .NET base images under their real names; on a
# machine that reaches MCR, such as a GitHub runner, `docker build` pulls the real ones.
as_root() { if [[ $EUID == 0 ]]; then "$@"; else sudo -n "$@"; fi; }
if [[ -f $shared/container/standin-base-images.sh ]]; then
  log "engine and stand-in base images"
  bash "$shared/container/standin-base-images.sh"
else
  docker info >/dev/null || { log "no Docker engine and no $shared/container/standin-base-images.sh"; exit 1; }
fi

# ---- 2. build -------------------------------------------------------------------------------------------------------
log "docker build"
# The plain command a user types, with no platform arguments: on Docker 20.10 (no buildx) this is the classic builder,
# which sets none of BuildKit's BUILDPLATFORM/TARGETARCH variables. REVISION only fills a label.
build_args=(--network host -t "$image" --build-arg "REVISION=$(git rev-parse HEAD)")
t=$(now_ms)
if ! docker build "${build_args[@]}" . >"$work/build.log" 2>&1; then
  tail -40 "$work/build.log"; log "docker build failed"; exit 1
fi
build_s=$(( ($(now_ms) - t) / 1000 ))
image_bytes=$(docker image inspect -f '{{.Size}}' "$image")
# Issue 24's budget, in the decimal megabytes `docker images` shows (docs/performance.md, "Footprint").
check "image is within the 35 MB budget ($image_bytes bytes)" test "$image_bytes" -le 35000000
check "image runs as user 1654" test "$(docker image inspect -f '{{.Config.User}}' "$image")" = 1654
check "image binds 0.0.0.0 and targets host.docker.internal by default" \
  bash -c 'env=$(docker image inspect -f "{{json .Config.Env}}" "$1"); [[ $env == *\"HOST=0.0.0.0\"* && $env == *\"LMSTUDIO_URL=http://host.docker.internal:1234\"* ]]' _ "$image"
check "image has an exec-form healthcheck on the binary" \
  test "$(docker image inspect -f '{{json .Config.Healthcheck.Test}}' "$image")" = '["CMD","/app/copilot-proxy","--healthcheck"]'

# ---- 3. fake LM Studio and the container ---------------------------------------------------------------------------
upstream_port=$(free_port); ollama_port=$(free_port); openai_port=$(free_port)
node tests/smoke/fake-lmstudio.mjs "$upstream_port" >"$work/fake.log" 2>&1 &
fake_pid=$!
for _ in $(seq 1 50); do grep -q listening "$work/fake.log" && break; sleep 0.1; done
grep -q listening "$work/fake.log" || { cat "$work/fake.log"; log "fake LM Studio did not start"; exit 1; }

ollama="http://127.0.0.1:$ollama_port"
openai="http://127.0.0.1:$openai_port"
log "docker run (upstream :$upstream_port, Ollama :$ollama_port, OpenAI :$openai_port)"
# HOST=127.0.0.1 because --network host shares the host's interfaces: the image's 0.0.0.0 would listen on all of
# them. Read-only root with volumes on the data folders, exactly as compose.yaml runs it.
t_run=$(now_ms)
docker run -d --name "$name" --network host --read-only --tmpfs /tmp -v /app/logs -v /app/.cache -v /app/data \
  -e HOST=127.0.0.1 -e OLLAMA_PORT="$ollama_port" -e LITELLM_PORT="$openai_port" \
  -e LMSTUDIO_URL="http://127.0.0.1:$upstream_port" -e GRACEFUL_SHUTDOWN_TIMEOUT=10 \
  "$image" >/dev/null

first_200_ms=""
for _ in $(seq 1 600); do
  if [[ $(http_status "$ollama/") == 200 ]]; then first_200_ms=$(( $(now_ms) - t_run )); break; fi
  [[ $(docker inspect -f '{{.State.Running}}' "$name") == true ]] || break
  sleep 0.05
done
if [[ -z $first_200_ms ]]; then docker logs "$name" 2>&1 | tail -40; log "the container never answered"; exit 1; fi

healthy_ms=""
for _ in $(seq 1 600); do
  status=$(docker inspect -f '{{.State.Health.Status}}' "$name")
  if [[ $status == healthy ]]; then healthy_ms=$(( $(now_ms) - t_run )); break; fi
  [[ $status == unhealthy ]] && break
  sleep 0.1
done
check "container turns healthy (${healthy_ms:-never} ms)" test -n "$healthy_ms"

pid=$(docker inspect -f '{{.State.Pid}}' "$name")
check "process runs as uid 1654, not root" bash -c "awk '/^Uid:/{exit !(\$2==1654 && \$3==1654)}' /proc/$pid/status"
check "--healthcheck inside the container exits 0" docker exec "$name" /app/copilot-proxy --healthcheck

# ---- 4. the endpoints Copilot and OpenAI clients call --------------------------------------------------------------
log "endpoints"
check "GET / says Ollama is running" bash -c "[[ \$(curl -s --max-time 5 '$ollama/') == 'Ollama is running' ]]"
curl -s --max-time 5 "$ollama/api/version" >"$work/version.json" || true
check "GET /api/version reports a version" json_ok "$work/version.json" 'typeof j.version === "string" && j.version.length > 0'
curl -s --max-time 5 "$ollama/api/tags" >"$work/tags.json" || true
check "GET /api/tags lists the upstream's model" json_ok "$work/tags.json" 'j.models.some(m => m.name.startsWith("qwen/qwen3-8b") || m.model.startsWith("qwen/qwen3-8b"))'
model=$(node -e 'try{const j=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));const m=j.models.find(m=>m.name.startsWith("qwen/qwen3-8b"));console.log(m?m.name:"qwen/qwen3-8b")}catch{console.log("qwen/qwen3-8b")}' "$work/tags.json")
curl -s --max-time 5 -H 'Content-Type: application/json' -d "{\"model\":\"$model\"}" "$ollama/api/show" >"$work/show.json" || true
check "POST /api/show reports the tools capability" json_ok "$work/show.json" 'j.capabilities.includes("tools") && j.capabilities.includes("completion")'
# The fake has the model loaded at 16384 of a 32768 maximum; with MIN_CONTEXT_LENGTH's default (32768) the proxy reloads
# it larger before the first chat, so /api/show must already advertise the context the model will have, not 16384.
check "POST /api/show reports the context the proxy will load (MIN_CONTEXT_LENGTH)" json_ok "$work/show.json" 'Object.entries(j.model_info).some(([k, v]) => k.endsWith(".context_length") && v === 32768)'
chat_body="{\"model\":\"$model\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
curl -sN --max-time 15 -H 'Content-Type: application/json' -H 'Authorization: Bearer ' -d "$chat_body" \
  "$ollama/v1/chat/completions" >"$work/chat.sse" || true
check "streamed chat relays the upstream's text" grep -q '"content":" fake"' "$work/chat.sse"
check "streamed chat ends with [DONE]" bash -c "grep -v '^\$' '$work/chat.sse' | tail -1 | grep -qx 'data: \[DONE\]'"
curl -s --max-time 5 "$openai/v1/models" >"$work/models.json" || true
check "GET :$openai_port/v1/models lists the upstream's model" json_ok "$work/models.json" 'j.data.some(m => m.id.startsWith("qwen/qwen3-8b"))'
check "GET /health/liveliness is 200" test "$(http_status "$openai/health/liveliness")" = 200
check "GET /health/readiness is 200 with a reachable upstream" test "$(http_status "$openai/health/readiness")" = 200

# ---- 5. idle memory -------------------------------------------------------------------------------------------------
sleep 3
idle_mem=$(docker stats --no-stream --format '{{.MemUsage}}' "$name" | cut -d/ -f1 | tr -d ' ')
idle_bytes=$(awk -v s="$idle_mem" 'BEGIN { v = s + 0; u = s; sub(/^[0-9.]+/, "", u);
  m = (u == "GiB") ? 1073741824 : (u == "MiB") ? 1048576 : (u == "KiB" || u == "kB") ? 1024 : 1; printf "%d", v * m }')
check "idle memory under 100 MiB ($idle_mem)" test "${idle_bytes:-999999999}" -lt 104857600

# ---- 6. docker stop during an in-flight stream ----------------------------------------------------------------------
log "drain: docker stop while a slow stream is in flight"
slow_body="{\"model\":\"$model\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"slow please\"}]}"
curl -sN --max-time 30 -H 'Content-Type: application/json' -d "$slow_body" "$ollama/v1/chat/completions" >"$work/slow.sse" &
curl_pid=$!
for _ in $(seq 1 100); do grep -q '^data:' "$work/slow.sse" 2>/dev/null && break; sleep 0.05; done
t=$(now_ms)
docker stop -t 20 "$name" >/dev/null
stop_ms=$(( $(now_ms) - t ))
wait "$curl_pid" || true
exit_code=$(docker inspect -f '{{.State.ExitCode}}' "$name")
check "docker stop -> exit code 0 (got $exit_code)" test "$exit_code" = 0
check "the in-flight stream got every chunk" grep -q '"content":" eight"' "$work/slow.sse"
check "the in-flight stream ended with [DONE]" bash -c "grep -v '^\$' '$work/slow.sse' | tail -1 | grep -qx 'data: \[DONE\]'"
check "docker stop waited for the stream, not for SIGKILL (${stop_ms} ms)" test "$stop_ms" -lt 15000
if (( failed > 0 )); then echo "--- container log (tail)"; docker logs "$name" 2>&1 | tail -30; fi

# ---- 7. compose files ----------------------------------------------------------------------------------------------
log "compose validation"
if ! command -v docker-compose >/dev/null; then
  as_root apt-get update -qq >/dev/null && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null
fi
# A fresh clone has no .env: validate without one, whatever the developer has locally.
mkdir -p "$work/clone"
cp compose.yaml compose.dev.yaml .env.example "$work/clone/"
cp -r config "$work/clone/"
( cd "$work/clone" && docker-compose -f compose.yaml config ) >"$work/compose.out" 2>&1 \
  && pass "docker-compose config: compose.yaml without .env" || { fail "docker-compose config: compose.yaml without .env"; cat "$work/compose.out"; }
( cd "$work/clone" && cp .env.example .env && docker-compose -f compose.yaml -f compose.dev.yaml config ) >"$work/compose-dev.out" 2>&1 \
  && pass "docker-compose config: compose.yaml + compose.dev.yaml with .env.example as .env" || { fail "docker-compose config: with compose.dev.yaml"; cat "$work/compose-dev.out"; }
if docker compose version >/dev/null 2>&1; then
  ( cd "$work/clone" && rm -f .env && docker compose -f compose.yaml -f compose.dev.yaml config -q ) >"$work/compose-v2.out" 2>&1 \
    && pass "docker compose (v2) config: compose.yaml + compose.dev.yaml" || { fail "docker compose (v2) config"; cat "$work/compose-v2.out"; }
fi
# `docker-compose up --build` as a new user types it: compose's own build of compose.yaml's build section (the classic
# builder on Docker 20.10). The layers are cached from the build above, so this takes seconds.
compose_image="${image%:*}:compose-smoke-$$"
if ( PROXY_IMAGE=$compose_image docker-compose -f compose.yaml build ) >"$work/compose-build.out" 2>&1; then
  pass "docker-compose build: compose.yaml builds the image"
else
  fail "docker-compose build: compose.yaml builds the image"; tail -20 "$work/compose-build.out"
fi
docker image rm "$compose_image" >/dev/null 2>&1 || true
check "compose has no version: key" bash -c "! grep -q '^version:' compose.yaml compose.dev.yaml"
check "compose runs the image's own healthcheck" grep -q -- '--healthcheck' "$work/compose.out"
check "compose stop_grace_period exceeds GRACEFUL_SHUTDOWN_TIMEOUT" bash -c "
  grace=\$(awk '/stop_grace_period:/{gsub(/[^0-9]/,\"\",\$2); print \$2}' '$work/compose.out')
  drain=\$(awk -F: '/GRACEFUL_SHUTDOWN_TIMEOUT:/{gsub(/[^0-9]/,\"\",\$2); print \$2}' '$work/compose.out')
  [[ -n \$grace && -n \$drain ]] && (( grace > drain ))"
# Every ${VAR} compose.yaml reads must be listed in .env.example, so a user sees each knob the container has.
documented() {
  local missing=0 v
  for v in $(grep -v '^ *#' compose.yaml | grep -oE '\$\{[A-Z_]+' | cut -c3- | sort -u); do
    grep -q "^$v=" .env.example || { echo "    not in .env.example: $v"; missing=1; }
  done
  return "$missing"
}
check "every setting compose passes is documented in .env.example" documented
# ...and every variable the proxy reads (SettingsLoader.VariableNames), as a value or as a line compose fixes.
app_settings_documented() {
  local missing=0 v names
  names=$(sed -n '/VariableNames =/,/\];/p' src/CopilotProxy/Configuration/SettingsLoader.cs | grep -oE '"[A-Z_]+"' | tr -d '"')
  [[ -n $names ]] || { echo "    no VariableNames found in SettingsLoader.cs"; return 1; }
  for v in $names; do
    grep -qE "^(# )?$v=" .env.example || { echo "    not in .env.example: $v"; missing=1; }
  done
  return "$missing"
}
check "every setting the proxy reads is in .env.example" app_settings_documented

# ---- figures ---------------------------------------------------------------------------------------------------------
echo
echo "container figures ($(docker version -f 'engine {{.Server.Version}}'), image $image):"
awk -v b="$image_bytes" 'BEGIN { printf "  image size           %d bytes (%.1f MB)\n", b, b / 1000000 }'
echo "  build time           ${build_s} s"
echo "  docker run -> 200    ${first_200_ms} ms"
echo "  docker run -> healthy ${healthy_ms:-never} ms"
echo "  idle memory          ${idle_mem}"
echo "  docker stop          ${stop_ms} ms, exit code ${exit_code} (stream drained: $(grep -q '\[DONE\]' "$work/slow.sse" && echo yes || echo no))"
echo
echo "container-smoke: $passed passed, $failed failed"
(( failed == 0 ))
