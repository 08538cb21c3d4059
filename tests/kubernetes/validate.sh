#!/usr/bin/env bash
# Renders deploy/kubernetes's overlays with `kubectl kustomize` and checks every rendered object against the
# Kubernetes JSON schemas bundled in kubernetes-models (npm). No cluster and no network beyond the package registries:
# kubectl comes from apt when missing, the schemas from npm ci. Called by .ci/run.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

if ! command -v kubectl >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "kubectl is missing: install it (apt-get install kubectl) and run this again" >&2
    exit 1
  fi
  apt-get update -qq
  apt-get install -y -qq kubectl >/dev/null
fi
# kustomize is built into kubectl since 1.14; say so plainly if this one lacks it.
kubectl kustomize --help >/dev/null 2>&1 || { echo "this kubectl has no built-in kustomize (need 1.14 or later): $(kubectl version --client 2>&1 | head -n 1)" >&2; exit 1; }

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
