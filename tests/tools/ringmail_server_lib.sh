# Sourced by the end-to-end test scripts: one private `ringmail serve` on 127.0.0.1, as
# the scripts used to start it each in their own copy of the same lines.
#
#   ringmail_free_ports N          prints N free TCP ports on 127.0.0.1 (one line)
#   ringmail_start LOG FLAGS...    starts `ringmail serve` with every listener off and on
#                                  127.0.0.1, then FLAGS (later flags win: FLAGS turn on
#                                  the listeners a test wants and give --data_dir), its
#                                  stderr appended to LOG; sets $ringmail_pid; returns 1
#                                  (the log's tail on stderr) if it did not log event=ready
#                                  within $ringmail_ready_seconds (10; more for a test that
#                                  compiles the spam rules). Every listener serve has is turned off here,
#                                  so a listener added to serve later (with a default port)
#                                  cannot make concurrently running tests collide.
#                                  event=ready is logged at level info: FLAGS must not set
#                                  --log_level above info. Only what this start appends to
#                                  LOG counts, so a script that restarts the server (after
#                                  ringmail_stop or ringmail_kill) may reuse one LOG; a
#                                  script that wants one log per start passes another LOG.
#   ringmail_test_flags            an array of the usual test settings: no spam scanning,
#                                  2 shards, host name mx.test, 1 s shutdown grace, info log
#   ringmail_stop [SIGNAL]         SIGNAL (default TERM; e.g. INT), then waits up to 15 s;
#                                  returns the exit status (124 if it did not stop: it is
#                                  then killed)
#   ringmail_kill                  SIGKILL if still running (for the EXIT trap)
#
# Needs $ringmail (the binary). With setpriv, the server gets SIGKILL if the script dies
# without running its trap. A script that runs the server as another user sets the array
# ringmail_runner (e.g. the `as_user` of imap_dovecot_lib.sh): the uid change comes first,
# since a later one would clear the parent-death signal.

ringmail_pid=""
ringmail_runner=()
ringmail_ready_seconds=10
ringmail_test_flags=(--spam_scan=false --shards=2 --hostname=mx.test --shutdown_grace=1s --log_level=info)

ringmail_free_ports() {
  python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(*(s.getsockname()[1] for s in socks))
PY
}

ringmail_start() {
  local log="$1"
  shift
  local pdeath=() skip=0
  # What a previous start left in LOG (its event=ready) must not count for this one.
  [ -f "$log" ] && skip=$(stat -c %s "$log")
  setpriv --help 2>/dev/null | grep -q -- --pdeathsig && pdeath=(setpriv --pdeathsig KILL --)
  "${ringmail_runner[@]}" "${pdeath[@]}" "$ringmail" serve --smtp_port=0 --lmtp_port=0 --imap_port=0 --imaps_port=0 \
    --pop3_port=0 --pop3s_port=0 --submission_port=0 --submissions_port=0 --managesieve_port=0 --listen_address=127.0.0.1 "$@" 2>>"$log" &
  ringmail_pid=$!
  local _
  for _ in $(seq 1 $((ringmail_ready_seconds * 20))); do
    # (Not a pipe: under pipefail, tail's SIGPIPE after grep -q's early exit would count.)
    grep -q "event=ready" <(tail -c +$((skip + 1)) "$log" 2>/dev/null) && return 0
    kill -0 "$ringmail_pid" 2>/dev/null || break
    sleep 0.05
  done
  tail -n 20 "$log" >&2
  return 1
}

ringmail_stop() {
  [ -n "$ringmail_pid" ] || return 0
  kill -"${1:-TERM}" "$ringmail_pid" 2>/dev/null
  local _ rc=0
  for _ in $(seq 1 150); do
    kill -0 "$ringmail_pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$ringmail_pid" 2>/dev/null; then
    kill -KILL "$ringmail_pid" 2>/dev/null
    wait "$ringmail_pid" 2>/dev/null
    ringmail_pid=""
    return 124
  fi
  wait "$ringmail_pid" || rc=$?
  ringmail_pid=""
  return $rc
}

ringmail_kill() {
  if [ -n "$ringmail_pid" ] && kill -0 "$ringmail_pid" 2>/dev/null; then
    kill -KILL "$ringmail_pid" 2>/dev/null
    wait "$ringmail_pid" 2>/dev/null
  fi
  ringmail_pid=""
}
