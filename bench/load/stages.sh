#!/usr/bin/env bash
# Where one c=1 request's time goes inside the proxy (issue 25). Builds REF (default HEAD) with bench/load/stages.patch
# applied in a scratch worktree, which timestamps each stage of the chat relay's path, then serves `wrk -t1 -c1` for
# ROUNDS rounds of SECONDS_PER_CELL s against it, nginx and the fake upstream directly (64 SSE events in one upstream
# write, as latency.sh). Prints µs per request for each stage inside the proxy, the client's latency, and what is left
# outside the stages (Kestrel's parse and hop in, the last send, wrk itself).
#
#   bench/load/stages.sh now
#   REF=7643bb8 ROUNDS=5 bench/load/stages.sh now
#   PUBLISH_ARGS=-p:OptimizationPreference=Speed bench/load/stages.sh now
#
# Settings: REF (HEAD), ROUNDS (3), SECONDS_PER_CELL (3), TOKENS (64), PUBLISH_ARGS (none; split on spaces, passed to
# dotnet publish). Needs wrk, nginx and git.
# Results: bench/load/results/<time>-stages-<pid>/ (results.md, cells.tsv, probe.log).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
rounds=${ROUNDS:-3}
seconds=${SECONDS_PER_CELL:-3}
tokens=${TOKENS:-64}
ref=${REF:-HEAD}
bin="$root/artifacts/bench-load"
# shellcheck source=bench/load/hops.sh
source "$here/hops.sh"
hops_require "wrk nginx git" "$@"
commit=$(git -C "$root" rev-parse --short "$ref^{commit}") || die "REF=$ref is not a commit of $root"

tree="$bin/stages-src"
git -C "$root" worktree remove --force "$tree" 2>/dev/null || rm -rf "$tree"
git -C "$root" worktree prune
git -C "$root" worktree add --detach --quiet "$tree" "$commit"
cleanup_tree() { git -C "$root" worktree remove --force "$tree" 2>/dev/null || true; }
trap cleanup_tree EXIT
git -C "$tree" apply "$here/stages.patch" || die "bench/load/stages.patch no longer applies to $commit; refresh it as its preamble says"
read -ra publish_args <<<"${PUBLISH_ARGS:-}"
publish_aot "$tree/src/CopilotProxy/CopilotProxy.csproj" "$bin/stages" "$commit with the stage probe" "${publish_args[@]}"
cleanup_tree

hops_start stages 19800
start_candidate probe "$bin/stages/copilot-proxy"
probe_pid=$candidate_pid
curl -sf -X POST "http://127.0.0.1:$upstream_port/_bench/config?tokens=$tokens&delay_ms=0&whole=1" >/dev/null || die "the fake upstream refused its config"

declare -A url=(
  [direct]="http://127.0.0.1:$upstream_port/v1/chat/completions"
  [nginx]="http://127.0.0.1:$nginx_port/v1/chat/completions"
  [proxy]="http://127.0.0.1:$ollama_port/v1/chat/completions"
)
# A second of warm-up; the probe's means include it, a small share of the requests they average.
wrk -t1 -c1 -d1s -s "$work/post.lua" "${url[proxy]}" >/dev/null

printf 'round\ttarget\tmean_us\n' >"$out/cells.tsv"
targets=(direct nginx proxy)
for round in $(seq 1 "$rounds"); do
  for k in 0 1 2; do
    target=${targets[$(((k + round) % 3))]}
    printf '%s\t%s\t%s\n' "$round" "$target" "$(wrk_mean_us "${url[$target]}")" >>"$out/cells.tsv"
  done
  log "round $round done"
done

kill "$probe_pid"; wait "$probe_pid" 2>/dev/null || true
grep '^STAGE ' "$out/probe.log" | sed 's/^STAGE //' >"$out/stages.tsv" || die "the probe printed no stages; see $out/probe.log"

{
  echo "# stages.sh: $commit with the stage probe${PUBLISH_ARGS:+ (published with $PUBLISH_ARGS)}, $(date -u +%FT%TZ), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
  echo
  echo "wrk -t1 -c1, $rounds rounds of $seconds s per target, $tokens SSE events in one upstream write. Stage figures are means over"
  echo "every request the probe served (warm-up included); latencies are medians over rounds of 1 / requests per second."
  echo
  echo "| where | µs per request |"
  echo "|---|---|"
  awk -F'\t' "$median_awk"'
    FNR == NR { if (FNR > 1) { n[$2]++; lat[$2, n[$2]] = $3 }; next }
    $1 == "requests" { next }
    { printf "| %s | %.1f |\n", $1, $2
      if ($1 !~ /^relay: / || $1 ~ /^relay: every/) inside += $2 }
    END {
      for (t in n) { m = 0; delete v; for (i = 1; i <= n[t]; i++) v[++m] = lat[t, i]; med[t] = median(v, m) }
      printf "| **sum of the stages above (relay parts counted once)** | **%.1f** |\n", inside
      printf "| the client'"'"'s latency through the proxy | %.1f |\n", med["proxy"]
      printf "| outside the stages (Kestrel in and out, wrk) | %.1f |\n", med["proxy"] - inside
      printf "| the client'"'"'s latency through nginx / direct | %.1f / %.1f |\n", med["nginx"], med["direct"]
    }' "$out/cells.tsv" "$out/stages.tsv"
} >"$out/results.md"
cat "$out/results.md"
[ ! -f "$out/errors.log" ] || die "some requests failed; see $out/errors.log"
