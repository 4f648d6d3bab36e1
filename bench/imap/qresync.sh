#!/usr/bin/env bash
# QRESYNC resync (issue 11, "Benchmark"): a 100,000-message INBOX, a client that knows it
# as of some HIGHESTMODSEQ, then another session changes FLAGS on 100 messages and
# expunges 10; the client resyncs. Measured on each server (bench/imap/qresync.py):
#   ringmail  SELECT INBOX (QRESYNC (uidvalidity modseq 1:maxuid))
#   ringmail  SELECT INBOX + UID FETCH 1:* (FLAGS)           (a client without QRESYNC)
#   Dovecot   SELECT INBOX + UID FETCH 1:* (FLAGS)
#   Dovecot   SELECT INBOX (QRESYNC (...))
# bytes received and milliseconds (median of RUNS fresh sessions; the session's LOGIN and
# ENABLE are not timed). Each server gets its own copy of one generated Maildir
# (bench/mailstore/make_maildir.py), opened once before the client's state is taken, so
# neither pays for building its index in the timed runs. Dovecot is the private rootless
# one of tests/tools/imap_dovecot_lib.sh (mail_fsync=never; ringmail runs with
# --fsync=false likewise, though a resync writes nothing).
#
#   bench/imap/qresync.sh [build_dir]      (default build/release)
# Environment: MESSAGES (100000), RUNS (7), BENCH_DIR (/var/tmp), KEEP (0)
set -Eeuo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(readlink -f "${1:-build/release}")
messages=${MESSAGES:-100000}
runs=${RUNS:-7}
bench_base=${BENCH_DIR:-/var/tmp}
ringmail="$build/tools/ringmail/ringmail"
admin="$build/tools/ringmail-admin/ringmail-admin"
[ -x "$ringmail" ] || ringmail="$(find "$build" -name ringmail -type f -perm -u+x | head -1)"
[ -x "$admin" ] || admin="$(find "$build" -name ringmail-admin -type f -perm -u+x | head -1)"
[ -x "$ringmail" ] && [ -x "$admin" ] || { echo "bench/imap/qresync: no ringmail/ringmail-admin in $build" >&2; exit 1; }

pristine="$bench_base/ringmail-qresync-pristine-$messages"
if [ ! -d "$pristine/Maildir/cur" ]; then
  echo "generating $messages messages in $pristine" >&2
  rm -rf "$pristine.tmp"
  python3 "$src/bench/mailstore/make_maildir.py" "$pristine.tmp/Maildir" --messages "$messages" --seed 11 >&2
  mv "$pristine.tmp" "$pristine"
fi
chmod -R a+rX "$pristine"  # copied as the mail user below

work="$(mktemp -d "$bench_base/ringmail-qresync.XXXXXX")"
server_pid=""
fatal() { echo "bench/imap/qresync: $*" >&2; exit 1; }
cleanup() {
  dovecot_stop
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then kill -TERM "$server_pid"; wait "$server_pid" 2>/dev/null || true; fi
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
# shellcheck source=../../tests/tools/imap_dovecot_lib.sh
. "$src/tests/tools/imap_dovecot_lib.sh"
dovecot_start
"${as_user[@]}" mkdir -p "$vmail/example.org/john"
"${as_user[@]}" cp -r "$pristine/Maildir" "$vmail/example.org/john/Maildir"

rdata="$work/ringmail"
rvmail="$work/ringmail-vmail"
"${as_user[@]}" mkdir -p "$rdata" "$rvmail/example.org/john"
"${as_user[@]}" cp -r "$pristine/Maildir" "$rvmail/example.org/john/Maildir"
adm() { "${as_user[@]}" "$admin" --data_dir="$rdata" --mail_root="$rvmail" "$@"; }
adm domain add example.org >/dev/null || fatal "ringmail-admin domain add"
echo "pw-john" | adm user add john@example.org >/dev/null || fatal "ringmail-admin user add"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
"${as_user[@]}" "$ringmail" serve --spam_scan=false --data_dir="$rdata" --mail_root="$rvmail" --shards=2 \
  --smtp_port=0 --lmtp_port=0 --imap_port="$port" --imaps_port=0 --pop3_port=0 --pop3s_port=0 --submission_port=0 --submissions_port=0 --imap_allow_plaintext_auth=true \
  --listen_address=127.0.0.1 --hostname=mx.test --shutdown_grace=1s --log_level=warn 2>"$work/ringmail.log" &
server_pid=$!
for _ in $(seq 1 200); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), timeout=1).close()" 2>/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/ringmail.log" >&2; fatal "ringmail serve exited"; }
  sleep 0.05
done

q() { python3 "$src/bench/imap/qresync.py" "$@"; }
declare -A res
for server in ringmail dovecot; do
  p=$port
  [ "$server" = dovecot ] && p=$dovecot_imap_port
  st="$work/$server.state"
  echo "$server: opening the folder (index build, not timed)" >&2
  q prepare --port "$p" --state "$st"
  q change --port "$p" --state "$st"
  res[$server.qresync]=$(q measure --port "$p" --state "$st" --mode qresync --runs "$runs")
  res[$server.uidfetch]=$(q measure --port "$p" --state "$st" --mode uidfetch --runs "$runs")
  echo "$server qresync:  ${res[$server.qresync]}" >&2
  echo "$server uidfetch: ${res[$server.uidfetch]}" >&2
done

row() {
  python3 -c '
import json, sys
label, r = sys.argv[1], json.loads(sys.argv[2])
b, md, lo, hi, v, f = (r[k] for k in ("bytes", "ms_median", "ms_min", "ms_max", "vanished_uids", "fetch_lines"))
print(f"| {label} | {b:,} | {md} ({lo}–{hi}) | {v} | {f:,} |")
' "$1" "$2"
}
echo
echo "QRESYNC resync: $messages messages, 100 flag changes + 10 expunges by another session; ringmail $(git -C "$src" rev-parse --short HEAD), Dovecot $(dovecot --version | cut -d' ' -f1), $(date -u +%F); median of $runs sessions"
echo
echo "| resync | bytes received | ms median (min–max) | VANISHED UIDs | FETCH lines |"
echo "|---|---:|---:|---:|---:|"
row "ringmail SELECT (QRESYNC ...)" "${res[ringmail.qresync]}"
row "Dovecot SELECT (QRESYNC ...)" "${res[dovecot.qresync]}"
row "Dovecot SELECT + UID FETCH 1:* (FLAGS)" "${res[dovecot.uidfetch]}"
row "ringmail SELECT + UID FETCH 1:* (FLAGS)" "${res[ringmail.uidfetch]}"
