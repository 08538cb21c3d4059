# shellcheck shell=bash
# The side-by-side rig compare.sh, cpu.sh, latency.sh, paced.sh and stages.sh share: the benchmark's fake upstream,
# nginx in front of it as the baseline, and each candidate proxy in front of it, all on 127.0.0.1 with ports no other
# run holds. The caller sets here, root and bin; every hop is stopped when the script exits.
#
#   hops_require TOOLS ARG...   the script's header comment as its usage when no candidate is given; each of TOOLS checked
#   hops_open NAME PORT_BASE TOOLS ARG...
#                               the opening cpu.sh, latency.sh and paced.sh share: hops_require, the candidates read (and
#                               the floor with FLOOR=1), then hops_start NAME PORT_BASE
#   hops_start NAME PORT_BASE   results folder $out, scratch $work, the fake upstream ($upstream_port) and nginx ($nginx_port,
#                               $nginx_pid); the chat request every script sends in $body, and as wrk's script in $work/post.lua
#   wrk_mean_us URL             wrk's mean latency at c=1 over $seconds (µs); a run with errors is logged to $out/errors.log
#   $median_awk                 awk's median(arr, m), to prepend to a report's awk program
#   start_candidate LABEL CMD   a proxy from CMD (which may start with `env NAME=value ...`) on $ollama_port/$litellm_port, pid in $candidate_pid
#   read_candidates ARG...      each label=command into $labels and $commands
#   add_floor                   with FLOOR=1, the framework floor (bench/load/Floor, copying bytes) as the candidate `floor`;
#                               with RAWFLOOR=1, bench/load/RawFloor's four relays as raw-threads, raw-kestrel, raw-kasync, raw-httpsync
#   start_targets               nginx and every candidate started: $targets, with their chat URL in $target_url and the
#                               pids doing the work (nginx's workers) in $target_pid
#   publish_aot PROJECT DIR WHAT [ARG...]   Native AOT publish of PROJECT into DIR (extra ARGs go to dotnet publish)

log() { printf '[%s] %s\n' "${0##*/}" "$*" >&2; }
die() { printf '[%s] error: %s\n' "${0##*/}" "$*" >&2; exit 1; }

hops_require() {
  local tools=$1 tool package
  shift
  [ $# -ge 1 ] || { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 64; }
  for tool in $tools; do
    case $tool in node) package=nodejs ;; perf) package=linux-perf ;; *) package=$tool ;; esac
    command -v "$tool" >/dev/null || die "$tool is required (apt-get install $package)"
  done
}

hops_open() {
  local name=$1 port_base=$2
  shift 2
  hops_require "$@"
  shift
  read_candidates "$@"
  add_floor
  hops_start "$name" "$port_base"
}

read_candidates() {
  local arg
  labels=(); commands=()
  for arg in "$@"; do
    [[ $arg == *=* ]] || die "candidate '$arg' is not label=command"
    labels+=("${arg%%=*}"); commands+=("${arg#*=}")
  done
}

add_floor() {
  if [ "${FLOOR:-0}" = 1 ]; then
    [ -x "$bin/floor/floor" ] || publish_aot "$here/Floor/Floor.csproj" "$bin/floor" "the framework floor"
    labels+=(floor); commands+=("env FLOOR_MODE=copy $bin/floor/floor")
  fi
  if [ "${RAWFLOOR:-0}" = 1 ]; then
    [ -x "$bin/rawfloor/rawfloor" ] || publish_aot "$here/RawFloor/RawFloor.csproj" "$bin/rawfloor" "the raw floors"
    local mode
    for mode in threads kestrel kasync httpsync; do labels+=("raw-$mode"); commands+=("env RAW_MODE=$mode $bin/rawfloor/rawfloor"); done
  fi
}

publish_aot() {
  log "publishing $3 (Native AOT)"
  mkdir -p "$bin"
  dotnet publish "$1" -c Release -r linux-x64 -o "$2" -nologo -v quiet "${@:4}" >"$bin/publish.log" 2>&1 \
    || { cat "$bin/publish.log" >&2; die "publishing $3 failed"; }
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# Sets $port to the next free port (not echoed: a $(...) subshell would lose the counter).
take_port() {
  while port_busy "$next_port"; do next_port=$((next_port + 1)); done
  port=$next_port; next_port=$((next_port + 1))
}
wait_port() { local i; for i in $(seq 1 200); do port_busy "$1" && return 0; kill -0 "$2" 2>/dev/null || die "$3 exited at start; see $out/$3.log"; sleep 0.05; done; die "$3 did not listen on :$1"; }

median_awk='function median(arr, m,   i, j, x) { for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (arr[j] < arr[i]) { x = arr[i]; arr[i] = arr[j]; arr[j] = x }
  return (m % 2) ? arr[(m + 1) / 2] : (arr[m / 2] + arr[m / 2 + 1]) / 2 }
'

wrk_mean_us() { # url
  local result
  result=$(wrk -t1 -c1 -d"${seconds}s" --timeout 10s -s "$work/post.lua" "$1")
  grep -qE 'Non-2xx|Socket errors' <<<"$result" && echo "wrk $1: $result" >>"$out/errors.log"
  awk '/^Requests\/sec:/{ printf "%.1f", 1e6 / $2 }' <<<"$result"
}

pids=()
stop_hops() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}

hops_start() { # name port-base
  local fake="$bin/fake-upstream/fake-upstream"
  [ -x "$fake" ] || publish_aot "$here/FakeUpstream/FakeUpstream.csproj" "$bin/fake-upstream" "the fake upstream"
  nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"
  [ -x "$nginx_bin" ] || die "nginx is required (apt-get install nginx)"
  # Two runs at once (or run.sh beside this) must not pick the same ports or results folder.
  next_port=$(($2 + ($$ % 400) * 16))
  out="$here/results/$(date -u +%Y%m%dT%H%M%SZ)-$1-$$"
  mkdir -p "$out"
  work="$(mktemp -d)"; chmod 755 "$work"
  body='{"model":"bench-model","messages":[{"role":"user","content":"Say hello in one word."}],"stream":true}'
  printf 'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = %s\n' "'$body'" >"$work/post.lua"
  trap stop_hops EXIT
  trap 'exit 130' INT TERM

  take_port; upstream_port=$port
  FAKE_PORT=$upstream_port "$fake" >"$out/fake-upstream.log" 2>&1 &
  pids+=($!); wait_port "$upstream_port" "${pids[-1]}" fake-upstream

  take_port; nginx_port=$port
  # shellcheck source=bench/load/nginx.sh
  source "$here/nginx.sh"
  write_nginx_conf "$work/nginx" "$upstream_port" "$nginx_port"
  "$nginx_bin" -e "$work/nginx/error.log" -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' >"$out/nginx.log" 2>&1 &
  pids+=($!); nginx_pid=${pids[-1]}; wait_port "$nginx_port" "$nginx_pid" nginx
}

start_candidate() { # label command
  local cmd _
  read -ra cmd <<<"$2"
  take_port; ollama_port=$port; take_port; litellm_port=$port
  env -u API_KEY -u LMSTUDIO_API_KEY -u CONFIG_FILE -u LOG_DIR \
    LMSTUDIO_URL="http://127.0.0.1:$upstream_port" OLLAMA_PORT="$ollama_port" LITELLM_PORT="$litellm_port" \
    HOST=127.0.0.1 LOG_LEVEL=WARNING "${cmd[@]}" >"$out/$1.log" 2>&1 &
  pids+=($!); candidate_pid=$!
  wait_port "$ollama_port" "$candidate_pid" "$1"
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$ollama_port/api/tags" | grep -q bench-model && break; sleep 0.1; done
}

start_targets() {
  declare -gA target_url target_pid
  targets=(nginx)
  target_url[nginx]="http://127.0.0.1:$nginx_port/v1/chat/completions"
  # nginx's workers do the work; its master only forks them.
  target_pid[nginx]=$(pgrep -d, -P "$nginx_pid")
  local i label
  for i in "${!labels[@]}"; do
    label=${labels[$i]}
    start_candidate "$label" "${commands[$i]}"
    target_url[$label]="http://127.0.0.1:$ollama_port/v1/chat/completions"; target_pid[$label]=$candidate_pid; targets+=("$label")
  done
}
