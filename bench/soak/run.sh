#!/usr/bin/env bash
# Soak (issue 15): 100 concurrent streams over mixed endpoints (/v1/chat/completions streaming and not, /api/chat,
# /api/generate, /api/tags) against a fake upstream on 127.0.0.1, sampling the proxy's RSS, handles, threads and latency
# every 10 s into a CSV, then the proxy at rest for 45 s. Passes when RSS at rest comes back to within 8 MiB of idle (no
# leak), no request fails and p99 stays stable.
#
#   bench/soak/run.sh [MINUTES]     default 30; the run behind docs/reliability.md
#   bench/soak/run.sh --ci          6 minutes (the full run's 120 s warm-up, then 240 s of p99 in 5 s samples): CI proves
#                                   the soak still works
#
# PROXY_EXE=/path/to/copilot-proxy measures that binary; otherwise the Native AOT build is published first.
# Results: bench/soak/results/<time>/ (soak.csv, summary.md, soak.png, proxy.log). PLOT_TO=docs/soak.png copies the plot.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
minutes=30
args=()
case "${1:-}" in
  --ci) args=(--seconds 360 --interval 5 --warm-up 120) ;;
  -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  '') ;;
  *[!0-9]*) echo "soak/run.sh: expected a number of minutes or --ci, got '$1'" >&2; exit 64 ;;
  *) minutes=$1 ;;
esac
[ ${#args[@]} -gt 0 ] || args=(--seconds $((minutes * 60)) --interval 10 --warm-up 120)
# shellcheck source=../reliability-common.sh
source "$root/bench/reliability-common.sh"
if ! command -v gnuplot >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  log "installing gnuplot-nox for the plot"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gnuplot-nox >/dev/null || true
fi
out="$here/results/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
ulimit -n 65536 2>/dev/null || true
rc=0
"$drills" soak --proxy-exe "$proxy_exe" --out "$out" "${args[@]}" || rc=$?
if command -v gnuplot >/dev/null 2>&1 && [ -s "$out/soak.csv" ]; then
  gnuplot -e "datadir='$out'" "$here/soak.gp" 2>"$out/gnuplot.log" || log "gnuplot failed; see $out/gnuplot.log"
  [ -f "$out/soak.png" ] && log "plot: $out/soak.png"
  if [ -n "${PLOT_TO:-}" ] && [ -f "$out/soak.png" ]; then cp "$out/soak.png" "$PLOT_TO"; fi
fi
exit "$rc"
