#!/usr/bin/env bash
# Builds ringmail (Release) and starts it on its embedded defaults: data in ./data,
# unprivileged ports, a self-signed certificate made on first start. Extra arguments go
# to `ringmail serve` (e.g. --shards=2 --log_level=debug). Stop it with Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release
exec build/release/tools/ringmail/ringmail serve --data_dir=./data "$@"
