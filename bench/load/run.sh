#!/usr/bin/env bash
# End-to-end benchmark of copilot-proxy (issue 7): a fake upstream, nginx as the pass-through baseline and the
# AOT-published proxy, all on 127.0.0.1, measured side by side by bench/load/LoadClient (and wrk as a cross-check).
#
#   bench/load/run.sh            full run (about 5 minutes of measuring, plus the build)
#   bench/load/run.sh --smoke    every phase shrunk to seconds; CI uses it to prove the script still works
#   bench/load/run.sh --strict   also exit non-zero when a target from the issue is missed
#
# PROXY_EXE=/path/to/copilot-proxy skips publishing the proxy and measures that binary instead.
# Results go to bench/load/results/<time>-<profile>/ (results.json, results.md, chart.png, logs); results/latest points there.
# Exit status: 0 when every request succeeded, 1 on any error, 3 on a missed target with --strict.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
profile=full
client_args=()
for arg in "$@"; do
  case "$arg" in
    --smoke) profile=smoke; client_args+=(--smoke) ;;
    --strict) client_args+=(--strict) ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument '$arg' (try --help)" >&2; exit 64 ;;
  esac
done

log() { printf '[run.sh] %s\n' "$*" >&2; }
die() { printf '[run.sh] error: %s\n' "$*" >&2; exit 1; }

# --- tools -------------------------------------------------------------------------------------------------------
find_nginx() { command -v nginx 2>/dev/null || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; } || true; }
missing=()
[ -n "$(find_nginx)" ] || missing+=(nginx)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v gnuplot >/dev/null 2>&1 || missing+=(gnuplot-nox)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    log "missing packages: ${missing[*]}; install them with: sudo apt-get install ${missing[*]}"
  fi
fi
nginx_bin="$(find_nginx)"
[ -n "$nginx_bin" ] || die "nginx is required as the baseline (apt-get install nginx)"
command -v dotnet >/dev/null 2>&1 || die "the .NET SDK is required (see global.json)"
wrk_bin="$(command -v wrk || true)"
[ -n "$wrk_bin" ] || log "wrk not found: the wrk cross-check is skipped"

# stages.sh's probe patch rots silently when the relay's code moves; the smoke run is where CI notices.
if [ "$profile" = smoke ] && git -C "$root" rev-parse --git-dir >/dev/null 2>&1; then
  git -C "$root" apply --check "$here/stages.patch" \
    || die "bench/load/stages.patch no longer applies to this tree; refresh it as its preamble says"
fi

# 1,000 streams through nginx hold four sockets each (client, nginx in and out, upstream), plus the proxy's.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge 8192 ] \
  || die "open-file limit is $(ulimit -n); the 1,000-stream phase needs at least 8192 (raise the hard limit)"

# --- build -------------------------------------------------------------------------------------------------------
bin="$root/artifacts/bench-load"
publish() { # project output [extra args]
  local project=$1 out=$2
  shift 2
  dotnet publish "$project" -c Release -o "$out" -nologo -v quiet "$@" >"$bin/publish.log" 2>&1 \
    || { cat "$bin/publish.log" >&2; die "publishing $project failed"; }
}
mkdir -p "$bin"
if [ -n "${PROXY_EXE:-}" ]; then
  proxy_exe="$PROXY_EXE"
  [ -x "$proxy_exe" ] || die "PROXY_EXE=$proxy_exe is not executable"
else
  log "publishing the proxy (Native AOT)"
  publish "$root/src/CopilotProxy/CopilotProxy.csproj" "$bin/proxy" -r linux-x64
  proxy_exe="$bin/proxy/copilot-proxy"
fi
log "publishing the fake upstream (Native AOT) and the load client"
publish "$here/FakeUpstream/FakeUpstream.csproj" "$bin/fake-upstream" -r linux-x64
publish "$here/LoadClient/LoadClient.csproj" "$bin/load-client"

# --- ports, temp dir, cleanup ------------------------------------------------------------------------------------
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
next_port=18400
take_port() {
  while port_busy "$next_port"; do next_port=$((next_port + 1)); done
  echo "$next_port"
  next_port=$((next_port + 1))
}
upstream_port=$(take_port); next_port=$((upstream_port + 1))
nginx_port=$(take_port); next_port=$((nginx_port + 1))
ollama_port=$(take_port); next_port=$((ollama_port + 1))
litellm_port=$(take_port)

stamp="$(date -u +%Y%m%dT%H%M%SZ)"
out="$here/results/$stamp-$profile"
mkdir -p "$out"
ln -sfn "$stamp-$profile" "$here/results/latest"
work="$(mktemp -d)"
chmod 755 "$work"
pids=()
cleanup() {
  local pid
  if [ -f "$work/proxy.pid" ]; then pids+=("$(cat "$work/proxy.pid")"); fi
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  [ -f "$work/nginx/error.log" ] && cp "$work/nginx/error.log" "$out/nginx-error.log"
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_port() { # port name pid
  local i
  for i in $(seq 1 200); do
    port_busy "$1" && return 0
    kill -0 "$3" 2>/dev/null || die "$2 exited at start; see $out/$2.log"
    sleep 0.05
  done
  die "$2 did not listen on 127.0.0.1:$1 within 10 s"
}

# --- fake upstream and nginx -------------------------------------------------------------------------------------
FAKE_PORT=$upstream_port "$bin/fake-upstream/fake-upstream" >"$out/fake-upstream.log" 2>&1 &
pids+=($!)
wait_port "$upstream_port" fake-upstream "${pids[-1]}"

# shellcheck source=bench/load/nginx.sh
source "$here/nginx.sh"
write_nginx_conf "$work/nginx" "$upstream_port" "$nginx_port"
"$nginx_bin" -e "$work/nginx/error.log" -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' >"$out/nginx.log" 2>&1 &
pids+=($!)
nginx_pid="${pids[-1]}"
wait_port "$nginx_port" nginx "$nginx_pid"

# --- measure -----------------------------------------------------------------------------------------------------
# The proxy's own last commit, not the benchmark's: that is what the figures describe.
commit="$(git -C "$root" log -1 --format=%h -- src 2>/dev/null || echo unknown)"
if [ -n "$(git -C "$root" status --porcelain -- src 2>/dev/null)" ]; then commit="$commit+dirty"; fi
cpu_model="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
mem_gib="$(awk '/MemTotal/ {printf "%.0f", $2 / 1048576}' /proc/meminfo)"
load_avg="$(cut -d' ' -f1 /proc/loadavg)"
machine="$(nproc) cores ($cpu_model), ${mem_gib} GiB RAM, Linux $(uname -r), $("$nginx_bin" -v 2>&1 | sed 's/.*version: //'), load average $load_avg at start"
# Every hop shares the same cores, so anything else running skews all ratios; say so rather than publish noise silently.
if awk -v l="$load_avg" -v n="$(nproc)" 'BEGIN { exit !(l > n / 2) }'; then
  log "warning: load average $load_avg on $(nproc) cores; other processes will add noise to these figures"
fi

log "profile $profile: upstream :$upstream_port, nginx :$nginx_port, proxy :$ollama_port (OpenAI :$litellm_port); results in $out"
rc=0
"$bin/load-client/load-client" \
  --upstream "http://127.0.0.1:$upstream_port" --nginx "http://127.0.0.1:$nginx_port" \
  --proxy-exe "$proxy_exe" --ollama-port "$ollama_port" --litellm-port "$litellm_port" \
  --out "$out" --pid-file "$work/proxy.pid" --nginx-pid "$nginx_pid" --commit "$commit" --machine "$machine" \
  ${wrk_bin:+--wrk "$wrk_bin"} "${client_args[@]}" || rc=$?

if command -v gnuplot >/dev/null 2>&1 && [ -f "$out/throughput.dat" ]; then
  gnuplot -e "datadir='$out'" "$here/chart.gp" 2>"$out/gnuplot.log" || { log "gnuplot failed; see $out/gnuplot.log"; rm -f "$out/chart.png"; [ "$rc" -ne 0 ] || rc=1; }
  [ -f "$out/chart.png" ] && log "chart: $out/chart.png"
fi
log "results: $out/results.json and results.md"
exit "$rc"
