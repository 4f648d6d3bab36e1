#!/usr/bin/env bash
# Starts a private MariaDB on loopback, runs directory_bench against it, stops it.
#   bench/directory/run.sh [build_dir]
set -euo pipefail
build=${1:-build/release}
shift || true
src="$(cd "$(dirname "$0")/../.." && pwd)"
dir="$(mktemp -d)"
trap '"$src/tests/support/mariadb.sh" stop "$dir" >/dev/null 2>&1; rm -rf "$dir"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$src/tests/support/mariadb.sh" start "$dir" "$port"
"$build/bench/directory/directory_bench" --directory="mariadb://ringmail:ringmail-test-pw@127.0.0.1:$port/ringmail" "$@"
