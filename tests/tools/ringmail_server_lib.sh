# Sourced by the end-to-end test scripts: one private `ringmail serve` on 127.0.0.1, as
# the scripts used to start it each in their own copy of the same lines.
#
#   ringmail_free_ports N          prints N free TCP ports on 127.0.0.1 (one line)
#   ringmail_start DATA LOG FLAGS  starts the server with every listener off except those
#                                  FLAGS turn on (later flags win), 2 shards, host name
#                                  mx.test, spam scanning off, logging to LOG (appended);
#                                  sets $ringmail_pid; returns 1 (the log's tail on stderr)
#                                  if it did not log event=ready within 10 s
#   ringmail_stop                  SIGTERM, then waits up to 15 s; returns the exit status
#                                  (124 if it did not stop: it is then killed)
#   ringmail_kill                  SIGKILL if still running (for the EXIT trap)
#
# Needs $ringmail (the binary). With setpriv, the server gets SIGKILL if the script dies
# without running its trap. A script that runs the server as another user sets the array
# ringmail_runner (e.g. the `as_user` of imap_dovecot_lib.sh): the uid change comes first,
# since a later one would clear the parent-death signal.

ringmail_pid=""
ringmail_runner=()

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
  local data="$1" log="$2"
  shift 2
  local pdeath=()
  setpriv --help 2>/dev/null | grep -q -- --pdeathsig && pdeath=(setpriv --pdeathsig KILL --)
  "${ringmail_runner[@]}" "${pdeath[@]}" "$ringmail" serve --spam_scan=false --data_dir="$data" --shards=2 --smtp_port=0 --lmtp_port=0 \
    --imap_port=0 --imaps_port=0 --pop3_port=0 --pop3s_port=0 --listen_address=127.0.0.1 --hostname=mx.test \
    --shutdown_grace=1s --log_level=info "$@" 2>>"$log" &
  ringmail_pid=$!
  local _
  for _ in $(seq 1 200); do
    grep -q "event=ready" "$log" 2>/dev/null && return 0
    kill -0 "$ringmail_pid" 2>/dev/null || break
    sleep 0.05
  done
  tail -n 20 "$log" >&2
  return 1
}

ringmail_stop() {
  [ -n "$ringmail_pid" ] || return 0
  kill -TERM "$ringmail_pid" 2>/dev/null
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
