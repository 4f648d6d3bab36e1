#!/usr/bin/env bash
# SEARCH TEXT / BODY on a 100,000-message INBOX (issue 11, "Benchmark"): the SpamAssassin
# corpus (scripts/fetch-corpus.sh) repeated until MESSAGES, the same files in a ringmail
# and a Dovecot Maildir. Dovecot is Debian's dovecot-imapd without an FTS plugin (what it
# does by default: it reads and decodes every message per search), the private rootless
# one of tests/tools/imap_dovecot_lib.sh. Each needle is timed (bench/imap/search_text.py):
#   ringmail build   the first SEARCH ever of the folder: it indexes all messages
#   ringmail cold    the first SEARCH after a restart (the index read from its file)
#   ringmail warm    median of RUNS more in one session
#   ringmail scan    --imap_fts=false: the linear scan the index replaces (DOVECOT_RUNS)
#   Dovecot          median of DOVECOT_RUNS (its first; each one reads every message)
# Hit counts must agree between ringmail's modes (the script fails otherwise); Dovecot's
# are shown beside them (its BODY differs on a few messages: DIFFERENCES.md).
#
#   bench/imap/search_text.sh [build_dir]        (default build/release)
# Environment: MESSAGES (100000), RUNS (7), DOVECOT_RUNS (1), BENCH_DIR (/var/tmp),
#   CORPUS (build/corpus), NEEDLES ("rare:razor-report common:the absent:qzxwvj"), KEEP (0)
set -Eeuo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(readlink -f "${1:-build/release}")
messages=${MESSAGES:-100000}
runs=${RUNS:-7}
druns=${DOVECOT_RUNS:-1}
bench_base=${BENCH_DIR:-/var/tmp}
corpus=$(readlink -f "${CORPUS:-$src/build/corpus}")
needles=${NEEDLES:-"rare:razor-report common:the absent:qzxwvj"}
ringmail="$build/tools/ringmail/ringmail"
admin="$build/tools/ringmail-admin/ringmail-admin"
[ -x "$ringmail" ] || ringmail="$(find "$build" -name ringmail -type f -perm -u+x | head -1)"
[ -x "$admin" ] || admin="$(find "$build" -name ringmail-admin -type f -perm -u+x | head -1)"
[ -x "$ringmail" ] && [ -x "$admin" ] || { echo "bench/imap/search_text: no ringmail/ringmail-admin in $build" >&2; exit 1; }
[ -d "$corpus/spam-1" ] || "$src/scripts/fetch-corpus.sh" "$corpus"

pristine="$bench_base/ringmail-searchtext-pristine-$messages"
if [ ! -d "$pristine/Maildir/cur" ]; then
  echo "writing $messages messages (the corpus repeated) to $pristine" >&2
  rm -rf "$pristine.tmp"
  python3 - "$corpus" "$pristine.tmp/Maildir" "$messages" <<'PY'
import os, sys
corpus, md, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
for d in ("cur", "new", "tmp"):
    os.makedirs(os.path.join(md, d), exist_ok=True)
files = []
for s in ("easy-ham-1", "easy-ham-2", "hard-ham-1", "spam-1", "spam-2"):
    d = os.path.join(corpus, s)
    files += [os.path.join(d, f) for f in sorted(os.listdir(d)) if f.endswith(".txt")]
data = []
for p in files:
    b = open(p, "rb").read()
    if b.startswith(b"From "):
        b = b[b.find(b"\n") + 1:]
    data.append(b)
t0 = 1_600_000_000
for i in range(n):
    name = os.path.join(md, "cur", "%d.M%dP1.bench:2,S" % (t0 + i, i))
    with open(name, "wb") as f:
        f.write(data[i % len(data)])
    os.utime(name, (t0 + i, t0 + i))
PY
  mv "$pristine.tmp" "$pristine"
fi
chmod -R a+rX "$pristine"

work="$(mktemp -d "$bench_base/ringmail-searchtext.XXXXXX")"
server_pid=""
fatal() { echo "bench/imap/search_text: $*" >&2; exit 1; }
stop_ringmail() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then kill -TERM "$server_pid"; wait "$server_pid" 2>/dev/null || true; fi
  server_pid=""
}
cleanup() {
  dovecot_stop
  stop_ringmail
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
start_ringmail() {
  "${as_user[@]}" "$ringmail" serve --spam_scan=false --data_dir="$rdata" --mail_root="$rvmail" --shards=2 \
    --smtp_port=0 --lmtp_port=0 \
    --imap_port="$port" --imaps_port=0 --pop3_port=0 --pop3s_port=0 --submission_port=0 --submissions_port=0 --imap_allow_plaintext_auth=true \
    --listen_address=127.0.0.1 --hostname=mx.test --shutdown_grace=1s --log_level=warn "$@" 2>>"$work/ringmail.log" &
  server_pid=$!
  for _ in $(seq 1 400); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), timeout=1).close()" 2>/dev/null && return 0
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/ringmail.log" >&2; fatal "ringmail serve exited"; }
    sleep 0.05
  done
  fatal "ringmail did not listen"
}
t() { python3 "$src/bench/imap/search_text.py" "$@"; }
ms_of() { python3 -c 'import json,sys,statistics; r=json.loads(sys.argv[1]); print(statistics.median(r["ms"]))' "$1"; }
hits_of() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])["hits"])' "$1"; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# Open the folder once on each server (its own index build, not timed).
start_ringmail
t --port "$port" --key FLAGGED --needle x >/dev/null 2>&1 || python3 -c "
import imaplib; c=imaplib.IMAP4('127.0.0.1',$port); c.login('john@example.org','pw-john'); c.select('INBOX'); c.logout()"
python3 -c "
import imaplib; c=imaplib.IMAP4('127.0.0.1',$dovecot_imap_port); c.login('john@example.org','pw-john'); c.select('INBOX'); c.uid('SEARCH','FLAGGED'); c.logout()"

declare -A res
keys="TEXT BODY"
for nk in $needles; do
  n=${nk#*:}
  for k in $keys; do
    res[$nk.$k.build]=$(t --port "$port" --key "$k" --needle "$n")
    echo "ringmail build $k $n: ${res[$nk.$k.build]}" >&2
  done
done
rss_indexed=$(rss_kb "$server_pid")
stop_ringmail
fts_bytes=$(stat -c %s "$rvmail/example.org/john/Maildir/ringmail-fts" 2>/dev/null || echo 0)
start_ringmail
for nk in $needles; do
  n=${nk#*:}
  for k in $keys; do
    res[$nk.$k.cold]=$(t --port "$port" --key "$k" --needle "$n")
    res[$nk.$k.warm]=$(t --port "$port" --key "$k" --needle "$n" --runs "$runs")
    echo "ringmail cold/warm $k $n: ${res[$nk.$k.cold]} ${res[$nk.$k.warm]}" >&2
  done
done
rss_loaded=$(rss_kb "$server_pid")
stop_ringmail
start_ringmail --imap_fts=false
for nk in $needles; do
  n=${nk#*:}
  for k in $keys; do
    res[$nk.$k.scan]=$(t --port "$port" --key "$k" --needle "$n" --runs "$druns")
    echo "ringmail scan $k $n: ${res[$nk.$k.scan]}" >&2
    res[$nk.$k.dovecot]=$(t --port "$dovecot_imap_port" --key "$k" --needle "$n" --runs "$druns")
    echo "dovecot $k $n: ${res[$nk.$k.dovecot]}" >&2
  done
done
stop_ringmail

echo
echo "SEARCH TEXT/BODY: $messages messages (SpamAssassin corpus repeated); ringmail $(git -C "$src" rev-parse --short HEAD) (2 shards), Dovecot $(dovecot --version | cut -d' ' -f1) without FTS, $(date -u +%F); ms (warm: median of $runs; scan and Dovecot: median of $druns)"
echo "index file $((fts_bytes / 1024 / 1024)) MiB; ringmail RSS after building $((rss_indexed / 1024)) MiB, after loading it $((rss_loaded / 1024)) MiB"
echo
echo "| search | hits (Dovecot) | ringmail build | ringmail cold | ringmail warm | ringmail scan (no index) | Dovecot | Dovecot / warm |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for nk in $needles; do
  n=${nk#*:}
  for k in $keys; do
    h=$(hits_of "${res[$nk.$k.warm]}")
    for m in build cold scan; do
      [ "$(hits_of "${res[$nk.$k.$m]}")" = "$h" ] || fatal "$k $n: $m found $(hits_of "${res[$nk.$k.$m]}") hits, warm $h"
    done
    w=$(ms_of "${res[$nk.$k.warm]}")
    d=$(ms_of "${res[$nk.$k.dovecot]}")
    ratio=$(python3 -c "print(f'{$d / max($w, 0.1):.0f}x')")
    echo "| UID SEARCH $k \"$n\" (${nk%%:*}) | $h ($(hits_of "${res[$nk.$k.dovecot]}")) | $(ms_of "${res[$nk.$k.build]}") | $(ms_of "${res[$nk.$k.cold]}") | $w | $(ms_of "${res[$nk.$k.scan]}") | $d | $ratio |"
  done
done
