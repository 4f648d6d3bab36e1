#!/usr/bin/env bash
# The outbound relay end to end (issue 13 "Tests"): tests/tools/relay_e2e.py submits with
# STARTTLS + AUTH to `ringmail serve` and checks what reaches receiving servers on
# 127.0.0.2 ... 127.0.0.8 (Postfix's smtp-sink, a second ringmail) through MX records
# served by a private dnsmasq on 127.0.0.1 — every one started and stopped by the test:
# best MX, implicit MX, MX fallback, 4xx then retry, 5xx -> RFC 3464 DSN, connection
# refused -> deferred, STARTTLS offered and not, null MX, SMTPUTF8 to a peer without it,
# a forwarding alias, --relayhost (with and without AUTH), --transport_maps, --relay_tls
# none/verify/wrong CA, delay notice and lifetime bounce, SIGKILL with a busy queue, and
# hostile input (open-relay probes, CR/LF in MAIL parameters, 10,000 recipients, the
# failure of a null-sender message). About a minute when everything works; every wait is
# bounded, so a relay that does nothing fails in about three.
#
# Known: in the ASan+UBSan build (RINGMAIL_SANITIZE) the 10,000-recipient check's pipelined
# writes of 500 RCPTs overflow a shard's stack (a chain of synchronously completing
# coroutines nests frames there: GCC makes no tail call for the symmetric transfer in the
# sanitized build); --rcpt_batch=100 passes. The release build takes 10,000 in one write.
#
# Usage: relay_e2e_test.sh RINGMAIL RINGMAIL_ADMIN [relay_e2e.py args, e.g. --only main]
# (KEEP_WORK=1 keeps the data directories, logs and sink dumps.)
# Installs dnsmasq-base (the binary alone, no system service) when dnsmasq is missing.
# Exits 77 (skip) when smtp-sink or dnsmasq cannot be had, or while `ringmail serve` has no
# --relay_smtp_port (the relay not wired into serve yet).
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
ringmail="$(readlink -f "${1:?usage: relay_e2e_test.sh RINGMAIL RINGMAIL_ADMIN}")"
admin="$(readlink -f "${2:?usage: relay_e2e_test.sh RINGMAIL RINGMAIL_ADMIN}")"
shift 2

export PATH="$PATH:/usr/sbin:/sbin"
if ! command -v smtp-sink >/dev/null; then
  echo "SKIP: smtp-sink not found (Debian package postfix, see scripts/install-deps.sh)"
  exit 77
fi
. "$here/need_dnsmasq.sh"
# --helpfull exits 1: read it whole first (in a pipe, pipefail would make every run skip).
serve_flags="$("$ringmail" serve --helpfull 2>&1)"
if ! grep -q -- "relay_smtp_port" <<<"$serve_flags"; then
  echo "SKIP: ringmail serve has no --relay_smtp_port (the relay is not wired into serve)"
  exit 77
fi

work="$(mktemp -d)"
chmod 755 "$work"
driver_pid=""
cleanup() {
  # The driver runs in its own process group: smtp-sink drops to "nobody" when started as
  # root and so loses setpriv's parent-death signal; the group takes it down with the rest.
  if [ -n "$driver_pid" ]; then
    kill -KILL -- "-$driver_pid" 2>/dev/null
    wait "$driver_pid" 2>/dev/null
  fi
  if [ -n "${KEEP_WORK:-}" ]; then echo "work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

setsid python3 -u "$here/relay_e2e.py" --ringmail "$ringmail" --admin "$admin" --work "$work" "$@" &
driver_pid=$!
wait "$driver_pid"
rc=$?
# the group, minus the driver that already exited: anything it left behind
kill -KILL -- "-$driver_pid" 2>/dev/null
driver_pid=""
if [ "$rc" -ne 0 ]; then
  for f in "$work"/tx.log "$work"/txr.log "$work"/txa.log "$work"/txc.log; do
    [ -s "$f" ] && { echo "--- $f (last 25 lines)"; tail -n 25 "$f"; }
  done
fi
exit "$rc"
