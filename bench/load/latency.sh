#!/usr/bin/env bash
# c=1 latency per client (issue 25): what a hop adds to one request, measured by four clients that read the answer
# differently: wrk (C, one event loop), hey (Go's net/http), Node's fetch (undici, the HTTP stack of VS Code extensions
# such as Copilot) and a raw socket (one write per request, read to the response's last byte). Each client asks the
# fake upstream directly, nginx in front of it, each candidate, and with FLOOR=1 the framework floor (bench/load/Floor:
# Kestrel + HttpClient that parses nothing), in interleaved rounds with the target order rotated, so drift on a shared
# machine hits every target alike. The stream is 64 SSE events written in one write (WHOLE=1), as a fast upstream's
# answer arrives in one read.
#
#   bench/load/latency.sh 'proxy=artifacts/bench-load/proxy/copilot-proxy'
#   ROUNDS=9 CLIENTS="fetch hey" FLOOR=1 bench/load/latency.sh 'base=BIN_A' 'fix=BIN_B'
#
# Reported per client and target: the median over rounds of the mean latency it adds over the direct call (ms), and of
# (target added − nginx added) in the same round: the figure the goal is stated in (within 0.1 ms of nginx).
# Settings: ROUNDS (5), SECONDS_PER_CELL (3), CLIENTS ("wrk hey fetch socket"), TOKENS (64), FLOOR (0), RAWFLOOR (0: 1 adds
# bench/load/RawFloor's relays built with less of the frameworks, issue 25 wave 12).
# Needs wrk, hey, node and nginx. Results: bench/load/results/<time>-latency-<pid>/ (results.md, cells.tsv, logs).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
rounds=${ROUNDS:-5}
seconds=${SECONDS_PER_CELL:-3}
clients=${CLIENTS:-wrk hey fetch socket}
tokens=${TOKENS:-64}
bin="$root/artifacts/bench-load"
# shellcheck source=bench/load/hops.sh
source "$here/hops.sh"
hops_open latency 19200 "wrk hey node" "$@"

declare -A target_url
targets=(direct nginx)
target_url[direct]="http://127.0.0.1:$upstream_port/v1/chat/completions"
target_url[nginx]="http://127.0.0.1:$nginx_port/v1/chat/completions"
for i in "${!labels[@]}"; do
  label=${labels[$i]}
  start_candidate "$label" "${commands[$i]}"
  target_url[$label]="http://127.0.0.1:$ollama_port/v1/chat/completions"; targets+=("$label")
done
curl -sf -X POST "http://127.0.0.1:$upstream_port/_bench/config?tokens=$tokens&delay_ms=0&whole=1" >/dev/null || die "the fake upstream refused its config"

# Mean latency in µs of one cell: a client against a URL for $seconds at c=1.
measure() { # client url
  local result
  case "$1" in
    wrk) wrk_mean_us "$2" ;;
    hey)
      result=$(hey -c 1 -z "${seconds}s" -m POST -T application/json -d "$body" "$2")
      grep -q '\[200\]' <<<"$result" || echo "$1 $2: $result" >>"$out/errors.log"
      awk '/Requests\/sec:/{ printf "%.1f", 1e6 / $2 }' <<<"$result" ;;
    fetch | socket)
      result=$(node "$here/clients/fetch.mjs" "$1" "$2" "$seconds" "$body")
      sed -n 's/.*mean_us=\([0-9.]*\).*/\1/p' <<<"$result" ;;
  esac
}

printf 'round\tclient\ttarget\tmean_us\n' >"$out/cells.tsv"
log "$rounds rounds x clients ($clients) x targets (${targets[*]}), $seconds s each; results in $out"
for round in $(seq 1 "$rounds"); do
  for client in $clients; do
    n=${#targets[@]}
    for k in $(seq 0 $((n - 1))); do
      target=${targets[$(((k + round) % n))]}
      printf '%s\t%s\t%s\t%s\n' "$round" "$client" "$target" "$(measure "$client" "${target_url[$target]}")" >>"$out/cells.tsv"
    done
  done
  log "round $round done"
done

{
  echo "# latency.sh: $(date -u +%FT%TZ), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
  echo
  for i in "${!labels[@]}"; do echo "- \`${labels[$i]}\`: \`${commands[$i]}\`"; done
  echo
  echo "$rounds rounds of ${seconds} s per cell, c=1, $tokens SSE events in one upstream write, target order rotated each round."
  echo "Added = the target's mean latency minus the direct call's in the same round; medians over rounds."
  echo
  echo "| client | target | mean latency µs (median) | added vs direct, ms (median) | added − nginx's added, ms (median) [range] |"
  echo "|---|---|---|---|---|"
  for client in $clients; do
    for target in "${targets[@]}"; do
      awk -F'\t' -v c="$client" -v t="$target" "$median_awk"'
        NR > 1 && $2 == c && $3 == "direct" { direct[$1] = $4 }
        NR > 1 && $2 == c && $3 == "nginx" { nginx[$1] = $4 }
        NR > 1 && $2 == c && $3 == t { m++; lat[m] = $4; r[m] = $1 }
        END {
          for (i = 1; i <= m; i++) { added[i] = (lat[i] - direct[r[i]]) / 1000; over[i] = (lat[i] - nginx[r[i]]) / 1000
            if (i == 1 || over[i] < lo) lo = over[i]; if (i == 1 || over[i] > hi) hi = over[i] }
          printf "| %s | %s | %.0f | %.3f | %+.3f [%+.3f .. %+.3f] |\n", c, t, median(lat, m), median(added, m), median(over, m), lo, hi
        }' "$out/cells.tsv"
    done
  done
} >"$out/results.md"
cat "$out/results.md"
[ ! -f "$out/errors.log" ] || die "some requests failed; see $out/errors.log"
