#!/usr/bin/env bash
# A/B comparison of proxy builds or settings (issue 16): every candidate runs at once beside nginx in front of the
# benchmark's fake upstream, and wrk measures them in interleaved rounds (hop order rotated every round), so drift on a
# shared machine hits every candidate alike. Reported per path and concurrency: the median over rounds of each
# candidate's streams/s as a ratio of nginx's in the same round, the range of those ratios, and the CPU each hop spent
# per stream (from /proc/<pid>/stat, which does not depend on what other processes left over). Also idle RSS (VmRSS)
# of each candidate after IDLE seconds, measured before any load.
#
#   bench/load/compare.sh 'speed=artifacts/speed/copilot-proxy' 'size=artifacts/size/copilot-proxy'
#   bench/load/compare.sh 'base=BIN' 'inline=env DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1 BIN'
#
# A candidate is label=command; the command may start with `env NAME=value ...` (env execs, so the pid is the proxy's).
# Settings (environment): ROUNDS (default 5), SECONDS_PER_CELL (3), CONCURRENCY ("1 16 64"), PATHS ("relay translation"),
# IDLE (60; 0 skips the idle RSS; ROUNDS=0 measures idle RSS only), WHOLE (1: the upstream writes each stream in one write
# and flush, as a fast upstream's answer arrives in one read), FLOOR (1: also measure the framework floor, bench/load/Floor:
# a Kestrel + HttpClient relay that parses nothing, and YARP's forwarder; relay path only). Needs wrk and nginx; run bench/load/run.sh once first, or this publishes the fake
# upstream itself. Results: bench/load/results/<time>-compare/ (results.md, cells.tsv, logs).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
rounds=${ROUNDS:-5}
seconds=${SECONDS_PER_CELL:-3}
concurrency=${CONCURRENCY:-1 16 64}
paths=${PATHS:-relay translation}
idle=${IDLE:-60}
bin="$root/artifacts/bench-load"
# shellcheck source=bench/load/hops.sh
source "$here/hops.sh"

hops_require wrk "$@"
ulimit -n 65536 2>/dev/null || true
read_candidates "$@"
if [ "${FLOOR:-0}" = 1 ]; then
  floor="$bin/floor/floor"
  publish_aot "$here/Floor/Floor.csproj" "$bin/floor" "the framework floor"
  labels+=(floor-copy floor-yarp); commands+=("env FLOOR_MODE=copy $floor" "env FLOOR_MODE=yarp $floor")
fi
hops_start compare 18600

declare -A hop_pid hop_port
hops=(nginx)
hop_pid[nginx]=$nginx_pid; hop_port[nginx]=$nginx_port
for i in "${!labels[@]}"; do
  label=${labels[$i]}
  start_candidate "$label" "${commands[$i]}"
  hop_pid[$label]=$candidate_pid; hop_port[$label]=$ollama_port; hops+=("$label")
done
curl -sf -X POST "http://127.0.0.1:$upstream_port/_bench/config?tokens=32&delay_ms=0&whole=${WHOLE:-0}" >/dev/null || die "the fake upstream refused its config"

rss_kb() { awk '/^(VmRSS|RssAnon|RssFile|Threads):/{printf "%s ", $2}' "/proc/$1/status"; }
if [ "$idle" -gt 0 ]; then
  log "idling $idle s (all candidates at once) for idle RSS"
  sleep "$idle"
  for label in "${labels[@]}"; do
    echo "$label $(rss_kb "${hop_pid[$label]}")"
    # The largest mappings, to tell the GC heap, thread stacks and the binary's own pages apart.
    awk '/^[0-9a-f]+-[0-9a-f]+ /{m = $2 " " $6} /^Rss:/{ if ($2 >= 256) print "  " $2 " kB " m }' "/proc/${hop_pid[$label]}/smaps" | sort -rn >"$out/$label.smaps.txt"
  done >"$out/idle-rss.txt"
fi

# CPU seconds of a process and, for nginx, its workers.
cpu_ticks() {
  local pid total=0 p
  for p in "$1" $(pgrep -P "$1" || true); do
    total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat")))
  done
  echo "$total"
}
url() { # hop path
  case "$1:$2" in
    nginx:*) echo "http://127.0.0.1:${hop_port[nginx]}/v1/chat/completions" ;;
    *:relay) echo "http://127.0.0.1:${hop_port[$1]}/v1/chat/completions" ;;
    *:translation) echo "http://127.0.0.1:${hop_port[$1]}/api/chat" ;;
  esac
}
hz=$(getconf CLK_TCK)
printf 'round\tpath\tc\thop\tstreams_per_s\tcpu_us_per_stream\n' >"$out/cells.tsv"
log "$rounds rounds x paths ($paths) x c ($concurrency) x hops (${hops[*]}), $seconds s each; results in $out"
for round in $(seq 1 "$rounds"); do
  for path in $paths; do
    for c in $concurrency; do
      # Rotate the hop order every round.
      n=${#hops[@]}
      for k in $(seq 0 $((n - 1))); do
        hop=${hops[$(((k + round) % n))]}
        # The floor forwards paths as they are: it has no translation to measure.
        [[ $hop == floor-* && $path != relay ]] && continue
        before=$(cpu_ticks "${hop_pid[$hop]}")
        result=$(wrk -t1 -c"$c" -d"${seconds}s" --timeout 10s -s "$work/post.lua" "$(url "$hop" "$path")")
        after=$(cpu_ticks "${hop_pid[$hop]}")
        rps=$(awk '/^Requests\/sec:/{print $2}' <<<"$result")
        total=$(awk '/ requests in /{print $1}' <<<"$result")
        if grep -qE 'Non-2xx|Socket errors' <<<"$result"; then log "errors in $hop $path c=$c: $result"; echo "$result" >>"$out/errors.log"; fi
        cpu_us=$(awk -v t=$((after - before)) -v hz="$hz" -v n="$total" 'BEGIN { printf "%.0f", (n > 0 ? t / hz * 1e6 / n : 0) }')
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$path" "$c" "$hop" "$rps" "$cpu_us" >>"$out/cells.tsv"
      done
    done
  done
  log "round $round done"
done

# Per round, each candidate's rate over nginx's; then the median and range of those ratios over rounds.
{
  echo "# compare.sh: $(date -u +%FT%TZ), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
  echo
  for i in "${!labels[@]}"; do echo "- \`${labels[$i]}\`: \`${commands[$i]}\`"; done
  echo
  if [ "$rounds" -gt 0 ]; then
  echo "$rounds rounds of ${seconds} s per cell, wrk -t1, 32-token streams, hop order rotated each round."
  echo
  echo "| path | c | hop | streams/s (median) | vs nginx (median of per-round ratios) [range] | CPU µs/stream (median) |"
  echo "|---|---|---|---|---|---|"
  for path in $paths; do
    for c in $concurrency; do
      for hop in "${hops[@]}"; do
        [[ $hop == floor-* && $path != relay ]] && continue
        awk -F'\t' -v p="$path" -v c="$c" -v h="$hop" "$median_awk"'
          NR > 1 && $2 == p && $3 == c && $4 == "nginx" { base[$1] = $5 }
          NR > 1 && $2 == p && $3 == c && $4 == h { m++; rate[m] = $5; cpu[m] = $6; round[m] = $1 }
          END {
            for (i = 1; i <= m; i++) { ratio[i] = base[round[i]] > 0 ? rate[i] / base[round[i]] : 0; if (i == 1 || ratio[i] < lo) lo = ratio[i]; if (i == 1 || ratio[i] > hi) hi = ratio[i] }
            printf "| %s | %s | %s | %.0f | %.3f [%.3f .. %.3f] | %.0f |\n", p, c, h, median(rate, m), median(ratio, m), lo, hi, median(cpu, m)
          }' "$out/cells.tsv"
      done
    done
  done
  fi
  if [ -f "$out/idle-rss.txt" ]; then
    echo
    echo "Idle RSS (VmRSS after $idle s, before any load):"
    echo
    while read -r label kb anon file threads; do
      awk -v l="$label" -v kb="$kb" -v a="$anon" -v f="$file" -v t="$threads" 'BEGIN { printf "- `%s`: %.1f MB (anonymous %.1f MB, file-backed %.1f MB; %d threads)\n", l, kb * 1024 / 1e6, a * 1024 / 1e6, f * 1024 / 1e6, t }'
    done <"$out/idle-rss.txt"
  fi
} >"$out/results.md"
cat "$out/results.md"
[ ! -f "$out/errors.log" ] || die "some requests failed; see $out/errors.log"
