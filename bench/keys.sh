#!/usr/bin/env bash
# The latency a virtual key adds per request (KeyCheckBenchmarks), with SQLite and with PostgreSQL: starts a throwaway
# PostgreSQL (Debian's postgresql package) on a free loopback port, runs the benchmark against both, stops the server.
# Usage: bench/keys.sh [extra BenchmarkDotNet arguments]; docs/team.md used --job short --inProcess (in-process: on a busy
# machine the default toolchain can exceed its 2-minute build timeout).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
[[ -x "$bin/pg_ctl" ]] || { echo "PostgreSQL is not installed: apt-get install -y postgresql" >&2; exit 1; }
work="$(mktemp -d)"
as_pg=()
if [[ $(id -u) -eq 0 ]]; then chown postgres "$work"; as_pg=(runuser -u postgres --); fi
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
"${as_pg[@]}" "$bin/initdb" -D "$work/data" -U proxy --auth=trust -E UTF8 --no-sync >/dev/null
"${as_pg[@]}" "$bin/pg_ctl" -D "$work/data" -l "$work/server.log" -w -o "-p $port -k $work -c listen_addresses=127.0.0.1" start >/dev/null
trap '"${as_pg[@]}" "$bin/pg_ctl" -D "$work/data" -m immediate stop >/dev/null; rm -rf "$work"' EXIT
export BENCH_DATABASE_URL="postgresql://proxy@127.0.0.1:$port/postgres"
cd "$root"
dotnet run -c Release --project bench/CopilotProxy.Benchmarks -- --filter '*KeyCheckBenchmarks*' "$@"
