#!/usr/bin/env bash
# METADATA differential against Dovecot 2.3 (imap_metadata_diff.py): a private rootless
# Dovecot (imap_dovecot_lib.sh) with mail_attribute_dict and imap_metadata = yes, and
# ringmail, each on its own empty Maildir, get the same command script; the METADATA
# responses and tagged answers must agree or be listed in DIFFERENCES.md. Exit 77 (skip)
# when Dovecot cannot be installed.
# Usage: imap_metadata_dovecot.sh RINGMAIL RINGMAIL_ADMIN
set -uo pipefail
ringmail="$(readlink -f "${1:?usage: imap_metadata_dovecot.sh RINGMAIL RINGMAIL_ADMIN}")"
admin="$(readlink -f "${2:?usage: imap_metadata_dovecot.sh RINGMAIL RINGMAIL_ADMIN}")"
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
fatal() { echo "FAIL: $*"; exit 1; }
# shellcheck source=imap_dovecot_lib.sh
source "$here/imap_dovecot_lib.sh"
# shellcheck source=ringmail_server_lib.sh
source "$here/ringmail_server_lib.sh"
cleanup() { ringmail_kill; dovecot_stop; rm -rf "$work"; }
trap cleanup EXIT
dovecot_start
# METADATA on (Dovecot 2.3: imap_metadata needs mail_attribute_dict), then a restart.
cat >>"$dovecot_conf" <<EOF2
mail_attribute_dict = file:%h/dovecot-attributes
protocol imap {
  imap_metadata = yes
}
EOF2
dovecot_stop
sleep 0.5
"${as_user[@]}" dovecot -c "$dovecot_conf" 2>"$work/dovecot.start.err" || { cat "$work/dovecot.start.err"; fatal "dovecot restart"; }
for _ in $(seq 1 100); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $dovecot_imap_port), timeout=1).close()" 2>/dev/null && break
  sleep 0.1
done
data="$work/data"
"$admin" --data_dir="$data" domain add example.org >/dev/null || fatal "domain add"
echo pw | "$admin" --data_dir="$data" user add john@example.org >/dev/null || fatal "user add"
port=$(ringmail_free_ports 1)
ringmail_ready_seconds=30
ringmail_start "$work/serve.log" "${ringmail_test_flags[@]}" --data_dir="$data" --imap_port="$port" \
  --imap_allow_plaintext_auth=true || fatal "ringmail serve did not start"
timeout 60 python3 "$here/imap_metadata_diff.py" "$port" john@example.org pw "$dovecot_imap_port" john@example.org pw-john
