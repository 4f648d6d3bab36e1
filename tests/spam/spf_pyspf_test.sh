#!/bin/sh
# Differential against pyspf (python3-spf): spf_pyspf_diff.py evaluates its table with
# pyspf over an in-memory zone and writes the case file; spf_zone_check runs the same
# cases through ours. Explained differences: spf_pyspf_differences.txt. Skips (77)
# without python3-spf.
#   spf_pyspf_test.sh SPF_ZONE_CHECK
set -eu
here=$(dirname "$0")
python=/usr/bin/python3
"$python" -c "import spf" 2>/dev/null || { echo "skip: python3-spf missing"; exit 77; }
cases=$(mktemp)
trap 'rm -f "$cases"' EXIT
"$python" "$here/spf_pyspf_diff.py" "$cases"
"$1" "$cases" "$here/spf_pyspf_differences.txt"
