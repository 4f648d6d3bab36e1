#!/usr/bin/env bash
# Two IMAP sessions on two shards on one mailbox (tests/tools/imap_concurrency_test.py):
# flag changes, expunges held during FETCH/STORE/SEARCH, EXPUNGE and a SMTP delivery
# during IDLE, and no UID reused across expunge + append + restart. This script makes the
# data directory and the user; the Python checker starts (and restarts) `ringmail serve
# --shards=2` on 127.0.0.1 itself.
# Usage: imap_concurrency_test.sh RINGMAIL RINGMAIL_ADMIN   (KEEP_WORK=1 keeps the files)
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
ringmail="$(readlink -f "${1:?usage: imap_concurrency_test.sh RINGMAIL RINGMAIL_ADMIN}")"
admin="$(readlink -f "${2:?usage: imap_concurrency_test.sh RINGMAIL RINGMAIL_ADMIN}")"
command -v python3 >/dev/null || { echo "FAIL: python3 not found (Debian package: python3)"; exit 1; }
[ -x "$ringmail" ] || { echo "FAIL: ringmail binary not executable: $ringmail"; exit 1; }
[ -x "$admin" ] || { echo "FAIL: ringmail-admin binary not executable: $admin"; exit 1; }

work="$(mktemp -d)"
cleanup() {
  if [ -n "${KEEP_WORK:-}" ]; then echo "work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

data="$work/data"
"$admin" --data_dir="$data" domain add example.org >/dev/null || { echo "FAIL: domain add"; exit 1; }
echo "pw-john" | "$admin" --data_dir="$data" user add john@example.org >/dev/null ||
  { echo "FAIL: user add john@example.org"; exit 1; }

timeout 240 python3 "$here/imap_concurrency_test.py" --ringmail "$ringmail" --data-dir "$data" \
  --user john@example.org --password pw-john
