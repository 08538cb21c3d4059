#!/usr/bin/env bash
# The .NET tool round trip: packs the tool packages (the pointer, the framework-dependent `any` fallback and the
# linux-x64 Native AOT package) into a local folder feed, installs them into a fresh tool path as a user would
# (`dotnet tool install`), and runs the installed command: --version, doctor against a fake LM Studio, the proxy itself
# answering /api/version, and `dnx` running the same package without installing it. The `any` fallback is installed
# and run on its own from a feed without the linux-x64 package. Only the local feed is a package source (a nuget.config
# with <clear/>), and every port is on 127.0.0.1.
# Prints each package's size and a closing "N passed, N failed" line; exits non-zero on any failure.
#   bash tests/smoke/dotnet-tool.sh
set -euo pipefail

root=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
cd "$root"
work=$(mktemp -d /tmp/copilot-proxy-tool.XXXX)
# A version no other run (and nuget.org) has, so neither the packages cache nor a published package can stand in.
version="0.0.0-ci.$(date +%s)"
fake_pid=""
proxy_pid=""
passed=0
failed=0

log() { echo "dotnet-tool: $*" >&2; }
pass() { passed=$((passed + 1)); echo "  ok   $*"; }
fail() { failed=$((failed + 1)); echo "  FAIL $*"; }
check() { local what=$1; shift; if "$@"; then pass "$what"; else fail "$what"; fi; }

cleanup() {
  [[ -n $proxy_pid ]] && kill "$proxy_pid" 2>/dev/null || true
  [[ -n $fake_pid ]] && kill "$fake_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

# ---- 1. pack ----------------------------------------------------------------------------------------------------------
feed="$work/feed"
pack() { # what [dotnet pack arguments]; into $feed
  local what=$1; shift
  log "dotnet pack $what"
  if ! dotnet pack src/CopilotProxy/CopilotProxy.csproj -c Release -p:Version="$version" -o "$feed" -nologo "$@" >"$work/pack.log" 2>&1; then
    tail -30 "$work/pack.log"; log "dotnet pack $what failed"; exit 1
  fi
}
pack "(pointer package)"
pack "-r any (framework-dependent fallback)" -r any
pack "-r linux-x64 (Native AOT)" -r linux-x64
echo "tool packages ($version):"
for f in "$feed"/*.nupkg; do
  printf '  %-52s %10d bytes (%.1f MB)\n' "$(basename "$f")" "$(stat -c %s "$f")" "$(awk -v b="$(stat -c %s "$f")" 'BEGIN { print b / 1000000 }')"
done
check "pointer package names every RID package" \
  bash -c "unzip -p '$feed/copilot-proxy.$version.nupkg' tools/any/any/DotnetToolSettings.xml | grep -c 'RuntimeIdentifierPackage RuntimeIdentifier=' | grep -qx 6"
check "linux-x64 package holds the native executable and no symbol file" \
  bash -c "unzip -l '$feed/copilot-proxy.linux-x64.$version.nupkg' | grep -q 'tools/any/linux-x64/copilot-proxy\$' && ! unzip -l '$feed/copilot-proxy.linux-x64.$version.nupkg' | grep -q '\.dbg'"

# Only the local feed: nothing but these packages can be installed, and nothing is fetched from the network.
cat >"$work/nuget.config" <<XML
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <clear />
    <add key="local" value="$feed" />
  </packageSources>
</configuration>
XML
export NUGET_PACKAGES="$work/packages"

# ---- 2. install ---------------------------------------------------------------------------------------------------------
tools="$work/tools"
log "dotnet tool install --tool-path $tools copilot-proxy"
dotnet tool install --tool-path "$tools" --configfile "$work/nuget.config" --version "$version" copilot-proxy
tool="$tools/copilot-proxy"
check "the copilot-proxy command is installed" test -x "$tool"
check "it is the Native AOT binary, not the framework-dependent fallback" \
  bash -c "file -L '$tool' | grep -q 'ELF 64-bit' && [[ \$(readlink -f '$tool') == *copilot-proxy.linux-x64* ]]"

out=$(timeout 20 "$tool" --version 2>&1) || true
echo "  \$ copilot-proxy --version"; echo "$out" | sed 's/^/    /'
check "copilot-proxy --version prints $version" test "$out" = "$version"

# ---- 3. doctor and the proxy against a fake LM Studio -------------------------------------------------------------------
upstream_port=$(free_port); ollama_port=$(free_port); openai_port=$(free_port)
node tests/smoke/fake-lmstudio.mjs "$upstream_port" >"$work/fake.log" 2>&1 &
fake_pid=$!
for _ in $(seq 1 50); do grep -q listening "$work/fake.log" && break; sleep 0.1; done
export LMSTUDIO_URL="http://127.0.0.1:$upstream_port" OLLAMA_PORT="$ollama_port" LITELLM_PORT="$openai_port" HOST=127.0.0.1
cd "$work"   # no ./config.yaml here: the run is zero-configuration

# Doctor exits 1 when it finds something to fix (here: the proxy is not running yet); what matters is that it runs and checks.
timeout 60 "$tool" doctor >"$work/doctor.out" 2>&1 && doctor_rc=0 || doctor_rc=$?
echo "  \$ copilot-proxy doctor   (exit $doctor_rc)"; sed 's/^/    /' "$work/doctor.out"
check "doctor runs (exit 0 or 1, got $doctor_rc)" test "$doctor_rc" -le 1
check "doctor reaches the fake LM Studio" grep -q "✓ LM Studio reachable at" "$work/doctor.out"
check "doctor says which config file it looked for" grep -q "config file" "$work/doctor.out"

"$tool" >"$work/proxy.log" 2>&1 &
proxy_pid=$!
version_json=""
for _ in $(seq 1 100); do
  version_json=$(curl -s --max-time 2 "http://127.0.0.1:$ollama_port/api/version" || true)
  [[ -n $version_json ]] && break
  kill -0 "$proxy_pid" 2>/dev/null || break
  sleep 0.1
done
echo "  \$ curl http://127.0.0.1:$ollama_port/api/version"; echo "    $version_json"
check "the installed proxy answers /api/version" bash -c "[[ '$version_json' == *'\"version\"'* ]]"
models=$(curl -s --max-time 5 "http://127.0.0.1:$openai_port/v1/models" || true)
check "the installed proxy lists the fake LM Studio's model" bash -c "[[ '$models' == *qwen/qwen3-8b* ]]"
kill "$proxy_pid" 2>/dev/null || true
wait "$proxy_pid" 2>/dev/null || true
proxy_pid=""
cd "$root"

# ---- 4. dnx: run the package without installing it ----------------------------------------------------------------------
dotnet_dir=$(dirname "$(readlink -f "$(command -v dotnet)")")
dnx=("$dotnet_dir/dnx"); [[ -x ${dnx[0]} ]] || dnx=(dotnet dnx)
log "${dnx[*]} copilot-proxy@$version -- --version"
# `--` ends dnx's own options: its --version would otherwise be read as the package version.
out=$(timeout 120 "${dnx[@]}" --configfile "$work/nuget.config" "copilot-proxy@$version" -- --version 2>&1 </dev/null) || true
echo "  \$ dnx copilot-proxy@$version --version"; echo "$out" | sed 's/^/    /'
check "dnx runs the same package (--version prints $version)" bash -c "[[ \$(tail -n 1 <<<'$out') == '$version' ]]"

# ---- 5. the framework-dependent fallback on its own ----------------------------------------------------------------------
# The pointer sends linux-x64 to its own package; a system with no package of its own (linux-musl, freebsd, …) gets `any`.
# A pointer naming `any` alone plays that system here.
mkdir -p "$work/feed-any"
cp "$feed/copilot-proxy.any.$version.nupkg" "$work/feed-any/"
feed="$work/feed-any" pack "(pointer naming the any package alone)" -p:ToolPackageRuntimeIdentifiers=any
sed "s|$feed|$work/feed-any|" "$work/nuget.config" >"$work/nuget-any.config"
export NUGET_PACKAGES="$work/packages-any"
dotnet tool install --tool-path "$work/tools-any" --configfile "$work/nuget-any.config" --version "$version" copilot-proxy >/dev/null
out=$(timeout 20 "$work/tools-any/copilot-proxy" --version 2>&1) || true
check "the any fallback installs and runs on the shared runtime (--version prints $version)" test "$out" = "$version"

echo
echo "dotnet-tool: $passed passed, $failed failed ($SECONDS s)"
(( failed == 0 ))
