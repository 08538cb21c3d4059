#!/usr/bin/env bash
# Chaos drills against the real proxy process (issue 15): a fault-injecting fake upstream and misbehaving clients, all on
# 127.0.0.1. Prints "drill | expected | result | verdict" and exits non-zero on any FAIL. docs/reliability.md has the figures.
#
#   bench/chaos/run.sh            the full drills (300 slowloris clients for 2 minutes; about 5 minutes in all)
#   bench/chaos/run.sh --short    the CI form (100 slowloris clients for 30 s; about 2 minutes)
#
# PROXY_EXE=/path/to/copilot-proxy measures that binary; otherwise the Native AOT build is published first (as shipped).
# Results: bench/chaos/results/<time>/ (drills.md, proxy.log).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
args=()
for arg in "$@"; do
  case "$arg" in
    --short) args+=(--short) ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "chaos/run.sh: unknown argument '$arg' (try --help)" >&2; exit 64 ;;
  esac
done
# shellcheck source=../reliability-common.sh
source "$root/bench/reliability-common.sh"
out="$here/results/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
"$drills" chaos --proxy-exe "$proxy_exe" --out "$out" "${args[@]}"
