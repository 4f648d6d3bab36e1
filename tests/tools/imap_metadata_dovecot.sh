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
pid=""
fatal() { echo "FAIL: $*"; exit 1; }
# shellcheck source=imap_dovecot_lib.sh
source "$here/imap_dovecot_lib.sh"
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; dovecot_stop; rm -rf "$work"; }
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
port=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")
"$ringmail" serve --data_dir="$data" --shards=2 --smtp_port=0 --lmtp_port=0 --imap_port="$port" --imaps_port=0 --pop3_port=0 --pop3s_port=0 --submission_port=0 --submissions_port=0 \
  --listen_address=127.0.0.1 --log_level=warn --imap_allow_plaintext_auth=true --spam_scan=false >"$work/serve.log" 2>&1 &
pid=$!
for _ in $(seq 300); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
timeout 60 python3 "$here/imap_metadata_diff.py" "$port" john@example.org pw "$dovecot_imap_port" john@example.org pw-john
