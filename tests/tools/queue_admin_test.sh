#!/usr/bin/env bash
# `ringmail-admin queue list|show|flush|delete|hold|release` against a RUNNING server
# (issue 13; delivery/queue/queue_control.h, tools/ringmail-admin/queue_command.h), on
# 127.0.0.1 through ringmail_server_lib.sh, with two shards:
#   1. three messages submitted (STARTTLS + AUTH on the submission port) to a remote
#      domain, with --relayhost=[127.0.0.1]:<a closed port>: the relay's first attempt is
#      refused, so they stay deferred (a back-off of an hour keeps them still)
#   2. list (ids, sizes, deferred recipients with their error), show (envelope + message),
#      the control socket's mode 0600
#   3. hold ID: <id>.hold in the spool, '!' in the listing, flush ID refused while held;
#      release ID: marker gone, the relay tries it at once (attempts go up); flush ID and
#      flush (attempts go up); hold ALL / release ALL
#   4. delete ID: every file of it gone; again: "no such queue id"; bad commands: usage
#   5. a held message survives a restart; with the server stopped, list and show read the
#      spool offline and the changing commands refuse with "not running"
#   6. delete ALL: the spool is empty
# Exits 77 (skip) while `ringmail serve` has no relay flags or no queue yet (a remote
# recipient of an authenticated submission gets 451 4.3.2): until the relay's wiring is in.
# Usage: queue_admin_test.sh RINGMAIL RINGMAIL_ADMIN (KEEP_WORK=1 keeps the files).
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=ringmail_server_lib.sh
. "$here/ringmail_server_lib.sh"
# shellcheck source=check_lib.sh
. "$here/check_lib.sh"
ringmail="$(readlink -f "${1:?usage: queue_admin_test.sh RINGMAIL RINGMAIL_ADMIN}")"
admin="$(readlink -f "${2:?usage: queue_admin_test.sh RINGMAIL RINGMAIL_ADMIN}")"

check_setup queue_admin
check_log_lines=30
check_need_binaries

serve_help="$("$ringmail" serve --helpfull 2>&1)"  # (exits 1: not in a pipe with pipefail)
if ! grep -q -- "queue_minimal_backoff" <<<"$serve_help"; then
  echo "skip: this ringmail serve has no outbound relay yet (no --relayhost, --queue_minimal_backoff)"
  exit 77
fi

check_add_users example.org john:pw-john

# q ARGS...: `ringmail-admin queue ARGS`, stdout in $out, stderr in $err, status in $rc.
q() {
  out="$("$admin" --data_dir="$data" queue "$@" 2>"$work/q.err")"
  rc=$?
  err="$(cat "$work/q.err")"
}

# submit RCPT...: one message from john over STARTTLS + AUTH; prints "250" or the refusal.
submit() {
  timeout 30 python3 - "$sub_port" "$@" <<'PY'
import smtplib, ssl, sys
port, rcpts = int(sys.argv[1]), sys.argv[2:]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
msg = ("From: john@example.org\r\nTo: " + ", ".join(rcpts) + "\r\nSubject: queue-admin " + rcpts[0] +
       "\r\n\r\nHeld, released, flushed and deleted by queue_admin_test.sh.\r\n")
try:
    with smtplib.SMTP("127.0.0.1", port, timeout=20) as s:
        s.starttls(context=ctx)
        s.login("john@example.org", "pw-john")
        s.sendmail("john@example.org", rcpts, msg)
    print("250")
except smtplib.SMTPRecipientsRefused as e:
    print(" ".join(f"{c} {m.decode(errors='replace')}" for c, m in e.recipients.values()))
except smtplib.SMTPResponseException as e:
    print(e.smtp_code, e.smtp_error.decode(errors="replace"))
except Exception as e:
    print("error", e)
PY
}

# The closed port the relayhost points at: picked free, then left unbound.
read -r sub_port dead_port < <(ringmail_free_ports 2)
[ -n "${dead_port:-}" ] || fatal "could not pick free ports"
start() {
  ringmail_start "$log" "${ringmail_test_flags[@]}" --data_dir="$data" --submission_port="$sub_port" \
    --relayhost="[127.0.0.1]:$dead_port" --queue_minimal_backoff=3600s --queue_maximal_backoff=3600s "$@" || fatal "server did not log event=ready within 10 s"
}

: >"$log"
start
first="$(submit bob@remote.test)"
case "$first" in
  250) ok "submission to a remote domain queued (250)" ;;
  451*4.3.2*)
    echo "skip: this ringmail serve has no outbound queue yet (451 4.3.2 for a remote recipient)"
    exit 77 ;;
  *) fatal "submission to a remote domain: $first" ;;
esac
check "second message queued" [ "$(submit carol@remote.test dave@remote.test)" = 250 ]
check "third message queued" [ "$(submit erin@remote.test)" = 250 ]

# Each message is tried once at once (refused) and then waits an hour.
deferred=0
for _ in $(seq 1 100); do
  q list
  deferred=$(grep -c '^    deferred  ' <<<"$out")
  [ "$deferred" -ge 4 ] && break
  sleep 0.1
done
check "list: 4 deferred recipients after the first attempt" [ "$deferred" -eq 4 ]
check "list: 3 messages" grep -q '^-- [0-9]* bytes in 3 messages$' <<<"$out"
check "list: the error of the attempt" grep -q 'deferred  bob@remote.test  attempts=1  next=.*(' <<<"$out"
mapfile -t ids < <(grep -o '^[0-9a-f]\+-[0-9]\+-[0-9a-f]\+' <<<"$out")
check "list: three ids" [ "${#ids[@]}" -eq 3 ]
id_bob="$(grep -B1 'bob@remote.test' <<<"$out" | grep -o '^[0-9a-f]\+-[0-9]\+-[0-9a-f]\+')"
id_carol="$(grep -B1 'carol@remote.test' <<<"$out" | grep -o '^[0-9a-f]\+-[0-9]\+-[0-9a-f]\+')"
id_erin="$(grep -B1 'erin@remote.test' <<<"$out" | grep -o '^[0-9a-f]\+-[0-9]\+-[0-9a-f]\+')"
[ -n "$id_bob" ] && [ -n "$id_carol" ] && [ -n "$id_erin" ] || fatal "could not find the three ids in: $out"
spool_of() { ls "$data"/queue/*/"$1".msg 2>/dev/null | head -1 | xargs -r dirname; }
check "spool: one .msg per id" [ "$(ls "$data"/queue/*/*.msg | wc -l)" -eq 3 ]
check "control socket is mode 0600" [ "$(stat -c %a "$data/queue/control.sock")" = 600 ]

q show "$id_carol"
check "show: envelope" grep -q "^queue id: $id_carol$" <<<"$out"
check "show: both recipients" bash -c 'grep -q "^recipient: deferred  carol@remote.test" <<<"$1" && grep -q "^recipient: deferred  dave@remote.test" <<<"$1"' _ "$out"
check "show: the message" grep -q "^Subject: queue-admin carol@remote.test" <<<"$out"
q show 1-0-1
check "show of an unknown id fails: no such queue id" bash -c '[ "$1" -eq 1 ] && grep -q "no such queue id: 1-0-1" <<<"$2"' _ "$rc" "$err"

attempts_of() {  # attempts_of ADDRESS: from the listing
  "$admin" --data_dir="$data" queue list 2>/dev/null | grep "  $1  " | grep -o 'attempts=[0-9]*' | cut -d= -f2
}
wait_attempts() {  # wait_attempts ADDRESS N: until its attempts reach N (5 s)
  for _ in $(seq 1 50); do
    [ "$(attempts_of "$1")" -ge "$2" ] 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# hold / release / flush
q hold "$id_bob"
check "hold ID" bash -c '[ "$1" -eq 0 ] && [ "$2" = "held: $3" ]' _ "$rc" "$out" "$id_bob"
check "hold: marker file in the spool" [ -e "$(spool_of "$id_bob")/$id_bob.hold" ]
q list
check "list: '!' marks the held message" grep -q "^$id_bob!  " <<<"$out"
q flush "$id_bob"
check "flush of a held message refused" bash -c '[ "$1" -eq 1 ] && grep -q "on hold" <<<"$2"' _ "$rc" "$err"
q release "$id_bob"
check "release ID" bash -c '[ "$1" -eq 0 ] && [ "$2" = "released: $3" ]' _ "$rc" "$out" "$id_bob"
check "release: marker file gone" [ ! -e "$(spool_of "$id_bob")/$id_bob.hold" ]
check "release: the relay tried it at once (attempts=2)" wait_attempts bob@remote.test 2
q flush "$id_erin"
check "flush ID" [ "$rc" -eq 0 ]
check "flush ID: tried at once (attempts=2)" wait_attempts erin@remote.test 2
q flush
check "flush" [ "$rc" -eq 0 ]
check "flush: every deferred message tried (carol attempts=2)" wait_attempts carol@remote.test 2
q hold ALL
check "hold ALL: three held" bash -c '[ "$1" -eq 0 ] && grep -q "^-- held 3 messages$" <<<"$2"' _ "$rc" "$out"
check "hold ALL: three markers" [ "$(ls "$data"/queue/*/*.hold | wc -l)" -eq 3 ]
q release ALL
check "release ALL: three released" bash -c '[ "$1" -eq 0 ] && grep -q "^-- released 3 messages$" <<<"$2"' _ "$rc" "$out"
check "release ALL: no marker left" [ -z "$(ls "$data"/queue/*/*.hold 2>/dev/null)" ]

# delete
dir_erin="$(spool_of "$id_erin")"
q delete "$id_erin"
check "delete ID" bash -c '[ "$1" -eq 0 ] && [ "$2" = "deleted: $3" ]' _ "$rc" "$out" "$id_erin"
check "delete: its files are gone" bash -c '! ls "$1/$2".* 2>/dev/null | grep -q .' _ "$dir_erin" "$id_erin"
q list
check "delete: not listed" bash -c '! grep -q "$1" <<<"$2" && grep -q "in 2 messages" <<<"$2"' _ "$id_erin" "$out"
q delete "$id_erin"
check "delete again: no such queue id" bash -c '[ "$1" -eq 1 ] && grep -q "no such queue id: $3" <<<"$2"' _ "$rc" "$err" "$id_erin"
q frobnicate
check "unknown command: usage, exit 2" bash -c '[ "$1" -eq 2 ] && grep -q "usage: ringmail-admin" <<<"$2"' _ "$rc" "$err"
q hold
check "hold without an id: usage" bash -c '[ "$1" -eq 2 ] && grep -q "hold <queue id>|ALL" <<<"$2"' _ "$rc" "$err"

# A hold survives a restart; the server stopped, reading works offline, changing does not.
q hold "$id_carol"
check "hold before the restart" [ "$rc" -eq 0 ]
ringmail_stop || bad "server did not exit 0 after SIGTERM"
q list
check "offline list: says the server is not running" grep -q "not running" <<<"$err"
check "offline list: two messages, carol's held" bash -c '[ "$1" -eq 0 ] && grep -q "^$2!  " <<<"$3" && grep -q "in 2 messages" <<<"$3"' _ "$rc" "$id_carol" "$out"
q show "$id_bob"
check "offline show" bash -c '[ "$1" -eq 0 ] && grep -q "^Subject: queue-admin bob@remote.test" <<<"$2"' _ "$rc" "$out"
q release "$id_carol"
check "offline release refused: not running" bash -c '[ "$1" -eq 1 ] && grep -q "not running" <<<"$2"' _ "$rc" "$err"
check "offline release changed nothing" [ -e "$(spool_of "$id_carol")/$id_carol.hold" ]
start
q list
check "after the restart: carol's message still held" grep -q "^$id_carol!  " <<<"$out"
before="$(attempts_of carol@remote.test)"
q flush
sleep 1
check "a held message is not tried by flush" [ "$(attempts_of carol@remote.test)" = "$before" ]

q delete ALL
check "delete ALL" bash -c '[ "$1" -eq 0 ] && grep -q "^-- deleted 2 messages$" <<<"$2"' _ "$rc" "$out"
q list
check "the queue is empty" [ "$out" = "-- queue is empty" ]
check "the spool is empty" [ -z "$(ls "$data"/queue/*/*.msg "$data"/queue/*/*.state "$data"/queue/*/*.hold 2>/dev/null)" ]
ringmail_stop || bad "server did not exit 0 after SIGTERM"

summary
[ "$failed" -eq 0 ]
