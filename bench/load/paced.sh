#!/usr/bin/env bash
# CPU when requests and tokens come one at a time, as they do from a person and a local model (issue 25): what a hop
# burns per isolated request (one every 100 ms) and per token of a stream paced like a model's (one every DELAY_MS).
# latency.sh and cpu.sh keep a hop busy back to back, where the .NET thread pool's spinning pays; here every request and
# every token wakes the hop from idle, so spinning is pure cost. Use it beside latency.sh when trying thread-pool
# settings: a setting that wins at c=1 can cost many times the CPU per token of a real stream.
#
#   bench/load/paced.sh 'head=BIN' 'spin1000=env DOTNET_ThreadPool_UnfairSemaphoreSpinLimit=1000 BIN'
#
# Settings: ROUNDS (3), REQUESTS (40), TOKENS (100), DELAY_MS (20), FLOOR (0).
# Results: bench/load/results/<time>-paced-<pid>/ (results.md, cells.tsv).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
rounds=${ROUNDS:-3}
requests=${REQUESTS:-40}
tokens=${TOKENS:-100}
delay_ms=${DELAY_MS:-20}
bin="$root/artifacts/bench-load"
# shellcheck source=bench/load/hops.sh
source "$here/hops.sh"
hops_open paced 19800 "curl perf" "$@"

start_targets

post() { curl -sf -X POST -H 'Content-Type: application/json' -d "$body" "$1" >/dev/null; }
configure() { curl -sf -X POST "http://127.0.0.1:$upstream_port/_bench/config?$1" >/dev/null || die "the fake upstream refused its config"; }

# CPU ms the target's process spent while RUN ran (perf stat over the whole run, started before the first call).
cpu_during() { # target command...
  local target=$1; shift
  perf stat -x, -e task-clock -p "${target_pid[$target]}" -o "$work/stat" -- sleep 600 2>/dev/null &
  local stat=$!
  sleep 0.3
  "$@"
  sleep 0.3
  # perf stat counts until its command exits; ending that `sleep` ends the count.
  pkill -P "$stat" sleep 2>/dev/null || true
  wait "$stat" 2>/dev/null || true
  awk -F, '/task-clock/{ print $1 }' "$work/stat"
}
isolated() { local i; for i in $(seq 1 "$requests"); do post "$1"; sleep 0.1; done; }

printf 'round\ttarget\tisolated_request_cpu_us\tpaced_token_cpu_us\n' >"$out/cells.tsv"
log "$rounds rounds x targets (${targets[*]}); results in $out"
for round in $(seq 1 "$rounds"); do
  n=${#targets[@]}
  for k in $(seq 0 $((n - 1))); do
    target=${targets[$(((k + round) % n))]}
    configure "tokens=64&delay_ms=0&whole=1"
    post "${target_url[$target]}"
    per_request=$(cpu_during "$target" isolated "${target_url[$target]}")
    configure "tokens=$tokens&delay_ms=$delay_ms&whole=0"
    per_stream=$(cpu_during "$target" post "${target_url[$target]}")
    awk -v r="$round" -v t="$target" -v a="$per_request" -v b="$per_stream" -v n="$requests" -v k="$tokens" \
      'BEGIN { printf "%s\t%s\t%.1f\t%.1f\n", r, t, a * 1000 / n, b * 1000 / k }' >>"$out/cells.tsv"
  done
  log "round $round done"
done

{
  echo "# paced.sh: $(date -u +%FT%TZ), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
  echo
  for i in "${!labels[@]}"; do echo "- \`${labels[$i]}\`: \`${commands[$i]}\`"; done
  echo
  echo "$rounds rounds; $requests isolated requests 100 ms apart (64 SSE events in one write); one stream of $tokens tokens, one every $delay_ms ms."
  echo
  echo "| target | CPU µs per isolated request (median) [range] | CPU µs per paced token (median) [range] |"
  echo "|---|---|---|"
  for target in "${targets[@]}"; do
    awk -F'\t' -v t="$target" "$median_awk"'
      NR > 1 && $2 == t { m++; a[m] = $3; b[m] = $4; if (m == 1 || $3 < alo) alo = $3; if (m == 1 || $3 > ahi) ahi = $3; if (m == 1 || $4 < blo) blo = $4; if (m == 1 || $4 > bhi) bhi = $4 }
      END { printf "| %s | %.0f [%.0f .. %.0f] | %.0f [%.0f .. %.0f] |\n", t, median(a, m), alo, ahi, median(b, m), blo, bhi }' "$out/cells.tsv"
  done
} >"$out/results.md"
cat "$out/results.md"
