#!/usr/bin/env bash
# Renders deploy/kubernetes's overlays with `kubectl kustomize` and checks every rendered object against the
# Kubernetes JSON schemas bundled in kubernetes-models (npm). No cluster and no network beyond the package registries:
# kubectl is tried from apt when missing, the schemas come from npm ci. Called by .ci/run.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

# kubectl renders with its built-in kustomize; these overlays need kustomize v4 or later (kubectl 1.21+). This machine
# image ships kubectl 1.32 (kustomize v5.5). Debian 12's own kubernetes-client is kubectl 1.20 with kustomize v2, which
# cannot read `labels:`, `patches:` or components, so it is no substitute.
renders() { command -v kubectl >/dev/null 2>&1 && kubectl kustomize "$root/deploy/kubernetes/base" >/dev/null 2>&1; }
if ! renders && [ "$(id -u)" -eq 0 ]; then
  apt-get update -qq && apt-get install -y -qq kubectl >/dev/null 2>&1 || true
fi
if ! renders; then
  echo "kubectl with kustomize v4 or later is needed (kubectl 1.21+; found: $(kubectl version --client 2>&1 | head -n 1 || echo none))." >&2
  echo "Install kubectl from the Kubernetes project's apt repository; Debian 12's kubernetes-client (1.20) is too old." >&2
  exit 1
fi

(cd "$here" && npm ci --no-audit --no-fund --silent)

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
kubectl kustomize "$root/deploy/kubernetes/overlays/single" > "$out/single.yaml"
kubectl kustomize "$root/deploy/kubernetes/overlays/team" > "$out/team.yaml"
kubectl kustomize "$here/team-with-servicemonitor" > "$out/team-with-servicemonitor.yaml"

# The check must be able to fail: every object in broken.yaml has one mistake and must be rejected.
if broken="$(node "$here/validate.mjs" "$here/broken.yaml")" || ! grep -qx "0 of 6 objects valid" <<<"$broken"; then
  echo "the schema check accepted an object of tests/kubernetes/broken.yaml that it must reject:" >&2
  echo "$broken" >&2
  exit 1
fi

cd "$out"
node "$here/validate.mjs" single.yaml team.yaml team-with-servicemonitor.yaml
