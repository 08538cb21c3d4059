# Shared by bench/chaos/run.sh and bench/soak/run.sh: builds the drills tool and finds (or publishes) the proxy binary.
# Sets $drills and $proxy_exe.
log() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }
command -v dotnet >/dev/null 2>&1 || { log "the .NET SDK is required (see global.json)"; exit 1; }
bin="$root/artifacts/reliability"
mkdir -p "$bin"
dotnet build "$root/bench/chaos/Drills/Drills.csproj" -c Release -nologo -v quiet >"$bin/build.log" 2>&1 \
  || { cat "$bin/build.log" >&2; log "building the drills failed"; exit 1; }
drills="$root/artifacts/bin/Drills/release/drills"
if [ -n "${PROXY_EXE:-}" ]; then
  proxy_exe="$PROXY_EXE"
  [ -x "$proxy_exe" ] || { log "PROXY_EXE=$proxy_exe is not executable"; exit 1; }
else
  log "publishing the proxy (Native AOT, as shipped; PROXY_EXE=... skips this)"
  dotnet publish "$root/src/CopilotProxy/CopilotProxy.csproj" -c Release -r linux-x64 -o "$bin/proxy" -nologo -v quiet >"$bin/publish.log" 2>&1 \
    || { cat "$bin/publish.log" >&2; log "publishing the proxy failed"; exit 1; }
  proxy_exe="$bin/proxy/copilot-proxy"
fi
