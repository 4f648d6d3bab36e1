#!/usr/bin/env bash
# The relay's SMTP client (delivery/relay/smtp_client.h) against real servers on
# 127.0.0.1: five Postfix smtp-sink instances (default; -p no PIPELINING; -r data: 4xx at
# DATA; -f rcpt: 5xx to every RCPT; -e no ESMTP) and one `ringmail serve` (STARTTLS with
# its self-signed certificate for mx.test, a domain with users, so an unknown recipient
# gets 550 5.1.1 among 250s; its submission port for AUTH). Then runs the gtest binary,
# which finds them through RELAY_* environment variables (tests/delivery/smtp_client_test.cc).
#
# Usage: relay_client_test.sh SMTP_CLIENT_TESTS RINGMAIL RINGMAIL_ADMIN
# Exits 77 (skip) when smtp-sink is not installed (Debian: apt-get install postfix).
set -uo pipefail
tests="${1:?usage: relay_client_test.sh SMTP_CLIENT_TESTS RINGMAIL RINGMAIL_ADMIN}"
ringmail="${2:?usage}"
admin="${3:?usage}"
sink_bin="$(command -v smtp-sink || echo /usr/sbin/smtp-sink)"
if [ ! -x "$sink_bin" ]; then
  echo "SKIP: smtp-sink not found (Debian package postfix)"
  exit 77
fi

work="$(mktemp -d)"
chmod 755 "$work"
sink_pids=()
server_pid=""
cleanup() {
  local p
  for p in "${sink_pids[@]}" $server_pid; do kill -KILL "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; local f; for f in "$work/server.log" "$work/sink.log"; do [ -s "$f" ] && { echo "--- $f"; tail -30 "$f"; }; done; exit 1; }

# smtp-sink refuses to run as root without a user to switch to.
sink_user=()
[ "$(id -u)" = 0 ] && sink_user=(-u nobody)

# $(...) waits for python to exit and free the ports (with `< <(...)` the sinks could
# start while it still holds them).
ports=$(python3 - <<'PY'
import socket
socks = []
for _ in range(7):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(*(s.getsockname()[1] for s in socks))
PY
)
read -r p_default p_nopipe p_data4xx p_rcpt5xx p_noesmtp p_smtp p_submission <<<"$ports"
start_sink() {  # start_sink PORT FLAGS...
  local port="$1"; shift
  "$sink_bin" "${sink_user[@]}" "$@" "127.0.0.1:$port" 64 2>>"$work/sink.log" &
  sink_pids+=($!)
}
start_sink "$p_default"
start_sink "$p_nopipe" -p
start_sink "$p_data4xx" -r data
start_sink "$p_rcpt5xx" -f rcpt
start_sink "$p_noesmtp" -e

data="$work/data"
adm() { "$admin" --data_dir="$data" "$@"; }
adm domain add example.org >/dev/null || fail "domain add"
echo "pw-john" | adm user add john@example.org >/dev/null || fail "user add john"
echo "pw-user1" | adm user add user1@example.org >/dev/null || fail "user add user1"
# Every other listener off, so concurrent tests never collide on a default port; with
# setpriv the server dies with this script even if its trap does not run.
pdeath=()
setpriv --help 2>/dev/null | grep -q -- --pdeathsig && pdeath=(setpriv --pdeathsig KILL --)
"${pdeath[@]}" "$ringmail" serve --spam_scan=false --data_dir="$data" --shards=2 --listen_address=127.0.0.1 \
  --hostname=mx.test --smtp_port="$p_smtp" --submission_port="$p_submission" --submissions_port=0 --lmtp_port=0 \
  --imap_port=0 --imaps_port=0 --pop3_port=0 --pop3s_port=0 --managesieve_port=0 --shutdown_grace=1s --log_level=info \
  2>>"$work/server.log" &
server_pid=$!
for _ in $(seq 1 200); do
  grep -q "event=ready" "$work/server.log" 2>/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || fail "ringmail serve exited"
  sleep 0.05
done
grep -q "event=ready" "$work/server.log" || fail "ringmail serve not ready within 10 s"

# Wait until every sink accepts connections.
for port in "$p_default" "$p_nopipe" "$p_data4xx" "$p_rcpt5xx" "$p_noesmtp"; do
  up=0
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then up=1; break; fi
    sleep 0.05
  done
  [ "$up" = 1 ] || fail "smtp-sink on port $port not listening"
done

RELAY_SINK_PORT="$p_default" RELAY_SINK_NOPIPE_PORT="$p_nopipe" RELAY_SINK_DATA4XX_PORT="$p_data4xx" \
  RELAY_SINK_RCPT5XX_PORT="$p_rcpt5xx" RELAY_SINK_NOESMTP_PORT="$p_noesmtp" \
  RELAY_RINGMAIL_PORT="$p_smtp" RELAY_RINGMAIL_SUBMISSION_PORT="$p_submission" RELAY_RINGMAIL_CERT="$data/tls/cert.pem" RELAY_RINGMAIL_VMAIL="$data/vmail" \
  "$tests" || fail "smtp_client_tests"
kill -TERM "$server_pid"
wait "$server_pid" || fail "ringmail serve did not exit cleanly"
server_pid=""
echo "relay client test passed"
