#!/usr/bin/env bash
# `ringmail serve` against the IMAP end-to-end suite (tests/tools/imap_clients.py), on
# 127.0.0.1: the plain port with STARTTLS, then the implicit-TLS port, as
# john@example.org in a temporary data directory; then SIGTERM, which must stop the
# server with exit 0 within 15 s. The same suite passes against Dovecot 2.3
# (tests/tools/imap_dovecot_check.sh), so a failure here is ringmail's.
# Usage: imap_clients_test.sh RINGMAIL RINGMAIL_ADMIN   (KEEP_WORK=1 keeps the files)
# Ends with "imap_clients: N passed, N failed" (suite runs and server checks); exits 0
# only if nothing failed.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=ringmail_server_lib.sh
. "$here/ringmail_server_lib.sh"
# shellcheck source=check_lib.sh
. "$here/check_lib.sh"
ringmail="${1:?usage: imap_clients_test.sh RINGMAIL RINGMAIL_ADMIN}"
admin="${2:?usage: imap_clients_test.sh RINGMAIL RINGMAIL_ADMIN}"
ringmail="$(readlink -f "$ringmail")"
admin="$(readlink -f "$admin")"

check_setup imap_clients
check_need_binaries
check_add_users example.org john:pw-john

read -r imap_port imaps_port < <(ringmail_free_ports 2)
[ -n "${imap_port:-}" ] && [ -n "${imaps_port:-}" ] || fatal "could not pick free ports"

# With setpriv, the server gets SIGKILL if this script dies without running its trap.
ringmail_start "$log" --spam_scan=false --data_dir="$data" --shards=2 \
  --imap_port="$imap_port" --imaps_port="$imaps_port" --hostname=mx.test \
  --shutdown_grace=1s --log_level=info ||
  fatal "server did not log event=ready within 10 s"
server_pid=$ringmail_pid
ok "server ready (imap=$imap_port imaps=$imaps_port)"

# Connect from 127.0.0.2: a client on the server's own address may count as local, and
# LOGINDISABLED before STARTTLS must be seen.
common=(--host 127.0.0.1 --source 127.0.0.2 --user john@example.org --password pw-john
        --server-kind ringmail --maildir-root "$data/vmail")
for mode in starttls tls; do
  port=$imap_port
  [ "$mode" = tls ] && port=$imaps_port
  out="$work/suite.$mode.out"
  timeout 600 python3 "$here/imap_clients.py" --port "$port" "--$mode" "${common[@]}" >"$out" 2>&1
  rc=$?
  cat "$out"
  n_pass=$(grep -c '^PASS ' "$out")
  n_fail=$(grep -c '^FAIL ' "$out")
  passed=$((passed + n_pass))
  failed=$((failed + n_fail))
  while IFS= read -r line; do failures+=("$mode: ${line#FAIL }"); done < <(grep '^FAIL ' "$out")
  if [ "$rc" -ne 0 ] && [ "$n_fail" -eq 0 ]; then bad "$mode: imap_clients.py exited $rc without a verdict"; fi
  kill -0 "$server_pid" 2>/dev/null || fatal "server died during the $mode run"
done

kill -TERM "$server_pid"
for _ in $(seq 1 150); do
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$server_pid" 2>/dev/null; then
  bad "server still running 15 s after SIGTERM"
else
  rc=0
  wait "$server_pid" || rc=$?
  server_pid=""
  if [ "$rc" -eq 0 ]; then ok "server exited 0 after SIGTERM"; else bad "server exited $rc after SIGTERM"; fi
fi
errors="$(grep -c 'level=error' "$log")"
if [ "$errors" -eq 0 ]; then ok "server logged no level=error lines"; else
  bad "server logged $errors level=error lines"; grep 'level=error' "$log" | head -5 | sed 's/^/    /'; fi

summary
[ "$failed" -eq 0 ]
