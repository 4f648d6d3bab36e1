#!/usr/bin/env bash
# Mail authentication end to end (issue 16): tests/tools/mail_auth_e2e.py with two
# `ringmail serve` on 127.0.0.2 and 127.0.0.3 and a private dnsmasq serving their SPF,
# DKIM and DMARC records — DKIM signing at submission, SPF/DKIM/DMARC at the receiver,
# ARC through a forwarding alias, DMARC reject/quarantine, forged Authentication-Results.
# Python's python3-dkim checks our signatures and seals independently when installed.
#
# Usage: mail_auth_e2e_test.sh RINGMAIL RINGMAIL_ADMIN   (KEEP_WORK=1 keeps logs and data)
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
ringmail="$(readlink -f "${1:?usage: mail_auth_e2e_test.sh RINGMAIL RINGMAIL_ADMIN}")"
admin="$(readlink -f "${2:?usage: mail_auth_e2e_test.sh RINGMAIL RINGMAIL_ADMIN}")"
. "$here/need_dnsmasq.sh"

work="$(mktemp -d)"
chmod 755 "$work"
cleanup() {
  if [ -n "${KEEP_WORK:-}" ]; then echo "work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# Debian's python3 (with python3-dkim), not a python3 earlier on PATH without it.
py=python3
[ -x /usr/bin/python3 ] && py=/usr/bin/python3
timeout 300 "$py" -u "$here/mail_auth_e2e.py" --ringmail "$ringmail" --admin "$admin" --work "$work"
rc=$?
if [ "$rc" -ne 0 ]; then
  for f in "$work"/a.log "$work"/b.log; do
    [ -s "$f" ] && { echo "--- $f (last 30 lines)"; tail -n 30 "$f"; }
  done
fi
exit "$rc"
