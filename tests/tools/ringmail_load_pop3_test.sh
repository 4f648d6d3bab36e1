#!/usr/bin/env bash
# ringmail-load --mode=pop3 against `ringmail serve` (issue 12): 3 users with 50 messages
# each (written as Maildir files before the server starts; some begin with "." so RETR
# must byte-stuff, and some lack a final newline), then
#   1. 6 sessions over 3 connections, USER/PASS, RETRs one at a time, on the plain port;
#   2. 6 sessions, AUTH PLAIN, pipelined RETRs, over implicit TLS (POP3S);
#   3. 3 sessions with STLS on the plain port.
# Each must exit 0 with failed_sessions=0 and size_mismatches=0 (ringmail-load compares
# every RETR's octets with LIST's size and STAT/LIST/UIDL with each other), sessions = the
# number asked for, messages = sessions x 50, bytes = sessions / 3 x the CRLF size of the
# three maildrops computed here from the files, and final_crlf_added = sessions x 7 (the
# messages without a final newline). The mail must still be there afterwards (no DELE).
#
# Usage: ringmail_load_pop3_test.sh RINGMAIL RINGMAIL_ADMIN RINGMAIL_LOAD
# Exits 77 (skip) while `ringmail serve` has no --pop3_port.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=ringmail_server_lib.sh
. "$here/ringmail_server_lib.sh"
ringmail="$(readlink -f "${1:?usage: ringmail_load_pop3_test.sh RINGMAIL RINGMAIL_ADMIN RINGMAIL_LOAD}")"
admin="$(readlink -f "${2:?}")"
load="$(readlink -f "${3:?}")"

help=$("$ringmail" serve --helpfull 2>&1 || true)
if ! grep -q -- '--pop3_port' <<<"$help"; then
  echo "SKIP: ringmail serve has no --pop3_port yet"
  exit 77
fi
command -v python3 >/dev/null || { echo "SKIP: python3 not found"; exit 77; }

work="$(mktemp -d)"
data="$work/data"
log="$work/server.log"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -KILL "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
  fi
  if [ -n "${KEEP_WORK:-}" ]; then echo "work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
fail() {
  echo "FAIL: $*"
  for f in "$work"/out "$work"/err "$log"; do [ -s "$f" ] && { echo "--- $f"; tail -20 "$f"; }; done
  exit 1
}

adm() { "$admin" --data_dir="$data" "$@"; }
adm domain add example.test >/dev/null || fail "ringmail-admin domain add"
for i in 1 2 3; do
  echo pw | adm user add "user$i@example.test" >/dev/null || fail "ringmail-admin user add user$i"
done

# 50 messages per user in new/; prints the total CRLF octets of the three maildrops.
total_octets=$(python3 - "$data/vmail/example.test" <<'EOF'
import os, random, sys
root = sys.argv[1]
total = 0
for u in (1, 2, 3):
    rng = random.Random(u)
    new = os.path.join(root, "user%d" % u, "Maildir", "new")
    for sub in ("new", "cur", "tmp"):
        os.makedirs(os.path.join(root, "user%d" % u, "Maildir", sub), exist_ok=True)
    for i in range(50):
        lines = ["From: a%d@example.test" % i, "To: user%d@example.test" % u,
                 "Subject: pop3 load %d/%d" % (u, i), "Message-ID: <%d.%d@load.test>" % (u, i), ""]
        for j in range(rng.randint(1, 200)):
            lines.append(("." if rng.random() < 0.1 else "") + "line %d of message %d " % (j, i) + "x" * rng.randint(0, 120))
        text = "\n".join(lines)
        if i % 7 != 3:
            text += "\n"  # every seventh message has no final newline
        data = text.encode()
        # What RETR delivers (RFC 1939 section 11 sizes): CRLF line ends, and a final CRLF
        # added when the message lacks one (the server must end the last line before ".").
        crlf = len(data) + data.count(b"\n") + (0 if data.endswith(b"\n") else 2)
        total += crlf
        with open(os.path.join(new, "%d.M%dP1Q%d.load.test" % (1700000000 + i, i, i)), "wb") as f:
            f.write(data)
print(total)
EOF
) || fail "writing the Maildirs"

read -r port tls_port < <(python3 - <<'EOF'
import socket
socks = []
for _ in range(2):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(*(s.getsockname()[1] for s in socks))
EOF
)
[ -n "${port:-}" ] && [ -n "${tls_port:-}" ] || fail "could not pick free ports"

# With setpriv, the server gets SIGKILL if this script dies without running its trap.
ringmail_start "$log" --spam_scan=false --data_dir="$data" --shards=2 \
  --pop3_port="$port" --pop3s_port="$tls_port" --pop3_allow_plaintext_auth=true \
  --hostname=mx.test --shutdown_grace=1s --log_level=info ||
  fail "server did not log event=ready within 10 s"
server_pid=$ringmail_pid

field() { tr ' ' '\n' <"$work/out" | sed -n "s/^$1=//p"; }
run() {  # SESSIONS ARGS...
  local sessions=$1
  shift
  timeout 120 "$load" --mode=pop3 --port="$port" --users=3 --password=pw --sessions="$sessions" --duration=100s \
    --progress=false --timeout=20s "$@" >"$work/out" 2>"$work/err"
  local rc=$?
  [ "$rc" -eq 0 ] || fail "ringmail-load $* exited $rc"
  [ "$(field failed_sessions)" = 0 ] || fail "failed sessions: $(cat "$work/out")"
  [ "$(field size_mismatches)" = 0 ] || fail "size mismatches: $(cat "$work/out")"
  [ "$(field sessions)" = "$sessions" ] || fail "sessions $(field sessions), expected $sessions"
  [ "$(field messages)" = $((sessions * 50)) ] || fail "messages $(field messages), expected $((sessions * 50))"
  [ "$(field bytes)" = $((sessions / 3 * total_octets)) ] ||
    fail "bytes $(field bytes), expected $((sessions / 3 * total_octets)) ($((sessions / 3)) x $total_octets)"
  # Every seventh message has no final newline: the server ends its last line (RFC 1939
  # section 3), two octets beyond LIST's size, as Dovecot 2.3 does.
  [ "$(field final_crlf_added)" = $((sessions * 7)) ] ||
    fail "final_crlf_added $(field final_crlf_added), expected $((sessions * 7))"
  echo "ok: $*: $(cut -c1-200 "$work/out")"
}
run 6 --connections=3
run 6 --connections=3 --port="$tls_port" --tls=implicit --pop3_auth=plain --pipelining
[ "$(field pipelined_sessions)" = 6 ] || fail "PIPELINING in CAPA but pipelined_sessions=$(field pipelined_sessions)"
run 3 --connections=1 --tls=starttls

# No DELE was sent: every message is still there.
left=$(find "$data/vmail/example.test" -type f \( -path "*/Maildir/new/*" -o -path "*/Maildir/cur/*" \) | wc -l)
[ "$left" -eq 150 ] || fail "$left message files left, expected 150"
echo "ringmail-load POP3 test passed"
