#!/usr/bin/env bash
# ringmail's DKIM (or ARC) against python3-dkim both ways (tests/spam/dkim_differential.py);
# skips (77) without python3-dkim, python3-nacl, python3-authres (ARC) or openssl.
# $1: the dkim_tool binary; $2: the corpus directory (scripts/fetch-corpus.sh; without it
# dkimpy's own test messages are used); $3: dkim (default) or arc.
set -euo pipefail
tool=$1
corpus=${2:-}
mode=${3:-dkim}
/usr/bin/python3 -c 'import dkim, nacl' 2>/dev/null || { echo "python3-dkim (and python3-nacl) not installed: skip"; exit 77; }
if [[ $mode == arc ]]; then
  /usr/bin/python3 -c 'import authres' 2>/dev/null || { echo "python3-authres not installed: skip"; exit 77; }
fi
command -v openssl >/dev/null || { echo "openssl not installed: skip"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 "$(dirname "$0")/dkim_differential.py" "$tool" "$corpus" "$work" "$mode"
