# Multi-stage, multi-arch image for copilot-proxy: a Native AOT binary on a chiseled base (no shell, no package
# manager). Build:  docker build -t lmstudio-copilot-proxy .
# Multi-arch:       see docs/docker.md ("How arm64 is built").

# ---- build: runs on the platform it builds for, so every Docker builds it ---------------------------------------
# No `--platform=$BUILDPLATFORM`: the classic builder (Docker 20.10, docker-compose v1) does not set that variable and
# rejects the empty platform, and it would buy nothing, because Native AOT does not cross-compile between
# architectures without a target sysroot, which the SDK image does not carry. The stage therefore runs on the target
# platform: natively on a builder of that architecture (the release pipeline builds each architecture on a native
# runner), under QEMU emulation otherwise (correct, many times slower).
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build

# Native AOT links with clang and needs zlib's headers. The RID is the architecture this stage runs on, resolved here
# once so every later layer agrees.
RUN set -eu; \
    arch="$(dpkg --print-architecture)"; \
    case "$arch" in \
      amd64) rid=linux-x64 ;; \
      arm64) rid=linux-arm64 ;; \
      *) echo "unsupported architecture '$arch' (amd64 and arm64 are supported)" >&2; exit 1 ;; \
    esac; \
    echo "$rid" > /tmp/rid; \
    apt-get update; \
    apt-get install -y --no-install-recommends clang zlib1g-dev; \
    rm -rf /var/lib/apt/lists/*

WORKDIR /src

# Restore in its own layer: it only changes when a project or package version changes, not on every source edit.
COPY global.json Directory.Build.props Directory.Build.targets Directory.Packages.props ./
COPY src/CopilotProxy/CopilotProxy.csproj src/CopilotProxy/
RUN dotnet restore src/CopilotProxy/CopilotProxy.csproj -r "$(cat /tmp/rid)"

COPY .editorconfig ./
COPY eng/ eng/
COPY src/CopilotProxy/ src/CopilotProxy/

# VERSION comes from the release tag (without the "v"); local builds keep the project's own version.
ARG VERSION=
RUN set -eu; \
    set --; \
    if [ -n "$VERSION" ]; then set -- "-p:Version=$VERSION"; fi; \
    dotnet publish src/CopilotProxy/CopilotProxy.csproj -c Release -r "$(cat /tmp/rid)" --no-restore -o /out "$@"; \
    strip --strip-unneeded /out/libe_sqlite3.so; \
    mkdir -p /appdata/logs /appdata/.cache /appdata/data

# ---- final: the binary alone on a distroless-like base ------------------------------------------------------------
FROM mcr.microsoft.com/dotnet/runtime-deps:10.0-noble-chiseled AS final

ARG VERSION=
ARG REVISION=
ARG SOURCE=https://github.com/jsirish/lmstudio-copilot-proxy
ARG LICENSES=MIT
LABEL org.opencontainers.image.title="lmstudio-copilot-proxy" \
      org.opencontainers.image.description="Ollama and OpenAI front doors for LM Studio, for VS Code Copilot and other clients" \
      org.opencontainers.image.source="$SOURCE" \
      org.opencontainers.image.version="$VERSION" \
      org.opencontainers.image.revision="$REVISION" \
      org.opencontainers.image.licenses="$LICENSES"

WORKDIR /app
# The binary stays root-owned so the running user cannot replace it; only the data folders belong to that user.
# Named volumes mounted on them inherit this ownership on first use.
COPY --from=build --chown=1654:1654 /appdata/ /app/
COPY --from=build /out/copilot-proxy /app/copilot-proxy
# SQLite for the key database: Microsoft.Data.Sqlite loads this native library from beside the binary (the chiseled
# base has no libsqlite3). The publish step puts it in /out; without it a virtual key would fail with a 503. The package
# ships it with its symbol table; stripped above (binutils comes with clang), it is 0.14 MB smaller and loads the same:
# the dynamic symbols SQLitePCLRaw binds to stay.
COPY --from=build /out/libe_sqlite3.so /app/libe_sqlite3.so

# HOST=0.0.0.0 because a published port reaches the container from outside its loopback.
# ASPNETCORE_HTTP_PORTS is cleared because the base image's 8080 default is not ours: the proxy binds its own ports.
# CONFIG_FILE stays unset on purpose: in a container the proxy reads /app/config.yaml, else /app/config/config.yaml,
# and either may be absent; a path named in CONFIG_FILE must exist. DOTNET_RUNNING_IN_CONTAINER is what tells it so
# (the Microsoft base images set it too).
ENV HOST=0.0.0.0 \
    LMSTUDIO_URL=http://host.docker.internal:1234 \
    LOG_DIR=/app/logs \
    DATA_DIR=/app/data \
    DOTNET_RUNNING_IN_CONTAINER=true \
    ASPNETCORE_HTTP_PORTS=

USER 1654
EXPOSE 11434 4000

# Exec form: the chiseled base has no shell and no curl; the binary checks itself.
HEALTHCHECK --interval=5s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/app/copilot-proxy", "--healthcheck"]

# The proxy drains in-flight streams on SIGTERM for up to GRACEFUL_SHUTDOWN_TIMEOUT seconds, then exits 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/app/copilot-proxy"]
