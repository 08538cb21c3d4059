#!/usr/bin/env bash
# CPU per request at c=1 (issue 25): on a shared machine wall-clock latency swings by more than a build's difference,
# but the CPU a hop spends on one request barely moves. Each candidate (and nginx and, with FLOOR=1, the framework
# floor) serves wrk at c=1 for SECONDS_PER_CELL while `perf stat -e task-clock` counts its CPU; the figure is CPU µs
# divided by the requests wrk completed. Rounds interleave the targets, as latency.sh does.
#
#   bench/load/cpu.sh 'head=BIN_A' 'fix=BIN_B'
#   ROUNDS=7 PROFILE=1 bench/load/cpu.sh 'fix=BIN_B'    # also `perf record -g` each candidate in the last round
#
# Settings: ROUNDS (5), SECONDS_PER_CELL (3), TOKENS (64), FLOOR (0), PROFILE (0).
# Results: bench/load/results/<time>-cpu-<pid>/ (results.md, cells.tsv, <label>.perf.data).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
rounds=${ROUNDS:-5}
seconds=${SECONDS_PER_CELL:-3}
tokens=${TOKENS:-64}
bin="$root/artifacts/bench-load"
# shellcheck source=bench/load/hops.sh
source "$here/hops.sh"
hops_open cpu 19600 "wrk perf" "$@"

start_targets
# perf names the proxy's frames from the .dbg that a publish leaves beside the binary.
for command in "${commands[@]}"; do
  [ -f "$(dirname "${command##* }")/copilot-proxy.dbg" ] && perf buildid-cache --add "$(dirname "${command##* }")/copilot-proxy.dbg" 2>/dev/null || true
done
curl -sf -X POST "http://127.0.0.1:$upstream_port/_bench/config?tokens=$tokens&delay_ms=0&whole=1" >/dev/null || die "the fake upstream refused its config"

for target in "${targets[@]}"; do wrk -t1 -c1 -d1s -s "$work/post.lua" "${target_url[$target]}" >/dev/null; done

# One cell: "requests cpu_ms" for a target over $seconds of wrk at c=1.
measure() { # target round
  local requests cpu recorder=
  if [ "${PROFILE:-0}" = 1 ] && [ "$2" = "$rounds" ] && [ "$1" != nginx ]; then
    perf record -q -F 2999 -g -o "$out/$1.perf.data" -p "${target_pid[$1]}" -- sleep "$seconds" >/dev/null 2>&1 &
    recorder=$!
  fi
  perf stat -x, -e task-clock,context-switches,raw_syscalls:sys_enter -p "${target_pid[$1]}" -o "$work/stat" -- sleep "$seconds" 2>/dev/null &
  local stat=$!
  requests=$(wrk -t1 -c1 -d"${seconds}s" --timeout 10s -s "$work/post.lua" "${target_url[$1]}" | awk '/requests in/{ print $1 }')
  wait "$stat"
  [ -z "$recorder" ] || wait "$recorder"
  awk -F, -v r="$requests" '/task-clock/{ c = $1 } /context-switches/{ x = $1 } /sys_enter/{ y = $1 }
    END { printf "%s %s %.1f %.2f %.2f\n", r, c, c * 1000 / r, x / r, y / r }' "$work/stat"
}

printf 'round\ttarget\trequests\tcpu_ms\tcpu_us_per_request\tswitches_per_request\tsyscalls_per_request\n' >"$out/cells.tsv"
log "$rounds rounds x targets (${targets[*]}), $seconds s each; results in $out"
for round in $(seq 1 "$rounds"); do
  n=${#targets[@]}
  for k in $(seq 0 $((n - 1))); do
    target=${targets[$(((k + round) % n))]}
    read -r -a cell < <(measure "$target" "$round")
    printf '%s\t%s\t%s\n' "$round" "$target" "$(IFS=$'\t'; echo "${cell[*]}")" >>"$out/cells.tsv"
  done
  log "round $round done"
done

{
  echo "# cpu.sh: $(date -u +%FT%TZ), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
  echo
  for i in "${!labels[@]}"; do echo "- \`${labels[$i]}\`: \`${commands[$i]}\`"; done
  echo
  echo "$rounds rounds of ${seconds} s per target, wrk c=1, $tokens SSE events in one upstream write."
  echo
  echo "| target | CPU µs per request (median) [range] | context switches per request | syscalls per request | requests/s (median) |"
  echo "|---|---|---|---|---|"
  for target in "${targets[@]}"; do
    awk -F'\t' -v t="$target" -v s="$seconds" "$median_awk"'
      NR > 1 && $2 == t { m++; cpu[m] = $5; sw[m] = $6; sys[m] = $7; rate[m] = $3 / s; if (m == 1 || $5 < lo) lo = $5; if (m == 1 || $5 > hi) hi = $5 }
      END { printf "| %s | %.1f [%.1f .. %.1f] | %.2f | %.2f | %.0f |\n", t, median(cpu, m), lo, hi, median(sw, m), median(sys, m), median(rate, m) }' "$out/cells.tsv"
  done
} >"$out/results.md"
cat "$out/results.md"
