#!/bin/sh
# The RFC 7208 test suite (openspf.org 2014.04, shipped by python3-spf) against our SPF
# evaluator: spf_suite_convert.py turns the YAML into a case file, spf_zone_check runs it.
# Deliberate differences: spf_suite_differences.txt. Skips (77) without the suite or PyYAML.
#   spf_suite_test.sh SPF_ZONE_CHECK
set -eu
here=$(dirname "$0")
suite=/usr/share/doc/python3-spf/rfc7208-tests.yml.gz
python=/usr/bin/python3
[ -r "$suite" ] || { echo "skip: $suite missing (python3-spf)"; exit 77; }
"$python" -c "import yaml" 2>/dev/null || { echo "skip: python3-yaml missing"; exit 77; }
cases=$(mktemp)
trap 'rm -f "$cases"' EXIT
"$python" "$here/spf_suite_convert.py" "$suite" "$cases"
"$1" "$cases" "$here/spf_suite_differences.txt"
