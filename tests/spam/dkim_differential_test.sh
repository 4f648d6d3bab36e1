#!/usr/bin/env bash
# ringmail's DKIM against python3-dkim both ways (tests/spam/dkim_differential.py); skips
# (77) without python3-dkim or openssl. $1: the dkim_tool binary; $2: the corpus
# directory (scripts/fetch-corpus.sh; without it dkimpy's own test messages are used).
set -euo pipefail
tool=$1
corpus=${2:-}
/usr/bin/python3 -c 'import dkim, nacl' 2>/dev/null || { echo "python3-dkim (and python3-nacl) not installed: skip"; exit 77; }
command -v openssl >/dev/null || { echo "openssl not installed: skip"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
exec /usr/bin/python3 "$(dirname "$0")/dkim_differential.py" "$tool" "$corpus" "$work"
