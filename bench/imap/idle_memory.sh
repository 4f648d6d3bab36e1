#!/usr/bin/env bash
# ringmail's IMAP server alone under N sessions in IDLE (issue 10, "Benchmark": 100,000 IDLE
# sessions within 2 GiB, EXISTS within 1 s). A smaller, ringmail-only cousin of the IDLE
# part of bench/imap/run.sh, for measuring what one idle session costs the server:
#
#   bench/imap/idle_memory.sh [build_dir]        (default build/release)
#
# Starts `ringmail serve` on a fresh copy of generated Maildirs, samples its RSS with no
# session, holds SESSIONS sessions in IDLE (half over IMAPS, from several 127.0.0.x
# addresses) with ringmail-load, samples RSS again once every session is idle, then makes
# one LMTP delivery per mailbox and prints ringmail-load's EXISTS delays. Per-session
# memory = (RSS idle - RSS before) / sessions. Needs python3 and, in build_dir, ringmail,
# ringmail-admin and ringmail-load. Each session costs a file descriptor on each side
# (client and server are both this machine): `ulimit -Hn` bounds SESSIONS to about half.
#
# Environment: SESSIONS (1000) USERS (200) MESSAGES (100) SOURCES (8) SHARDS (2)
#              TLS_FRACTION (0.5) HOLD (3, seconds idle before sampling) BENCH_DIR (/var/tmp)
#              RINGMAIL_FLAGS (extra flags for serve) KEEP (0) START_WAIT (60 s)
#              TRIM (0; 1: after each RSS sample, gdb calls malloc_trim(0) in the server and
#              RSS is sampled again: what is live, without the freed-but-kept heap pages)
#              RINGMAIL_WRAP (a command to run serve under, e.g. "heaptrack -o FILE"; the RSS
#              figures are then the wrapper's, not the server's)
set -Eeuo pipefail

build=${1:-build/release}
sessions=${SESSIONS:-1000}
nusers=${USERS:-200}
nmessages=${MESSAGES:-100}
nsources=${SOURCES:-8}
shards=${SHARDS:-2}
tls_fraction=${TLS_FRACTION:-0.5}
hold=${HOLD:-3}
bench_base=${BENCH_DIR:-/var/tmp}
keep=${KEEP:-0}
host=127.0.0.1
domain=example.test
src=$(cd "$(dirname "$0")/../.." && pwd)

die() { echo "idle_memory: $*" >&2; exit 1; }
log() { echo "[$(date +%T)] $*" >&2; }

ringmail_bin=$(realpath "$build/tools/ringmail/ringmail") || die "no ringmail in $build"
admin_bin=$(realpath "$build/tools/ringmail-admin/ringmail-admin") || die "no ringmail-admin in $build"
load_bin=$(realpath "$build/tools/ringmail-load/ringmail-load") || die "no ringmail-load in $build"

ulimit -n "$(ulimit -Hn)"
(( 2 * sessions + 500 <= $(ulimit -n) )) || die "SESSIONS=$sessions needs ulimit -n >= $((2 * sessions + 500)) (have $(ulimit -n))"

pristine=$bench_base/ringmail-imap-pristine-$nusers-$nmessages
if [[ ! -f $pristine/.complete ]]; then
  log "generating $nusers x $nmessages messages in $pristine ..."
  rm -rf "$pristine"
  seq 1 "$nusers" | xargs -P 8 -I{} python3 "$src/bench/mailstore/make_maildir.py" \
    "$pristine/$domain/user{}/Maildir" --messages "$nmessages" --seed {}
  touch "$pristine/.complete"
fi

work=$(mktemp -d "$bench_base/ringmail-idle-memory.XXXXXX")
pid=""
cleanup() {
  if [[ -n $pid ]]; then
    pkill -TERM -P "$pid" 2>/dev/null || true  # the server under RINGMAIL_WRAP
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  if ((keep)); then echo "work directory kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

free_port() {
  local port
  while :; do
    port=$((20000 + RANDOM % 12000))
    [[ -z $(ss -Htln "sport = :$port" 2>/dev/null) ]] && { echo "$port"; return; }
  done
}
wait_port() {
  local i
  for ((i = 0; i < $2 * 20; i++)); do (exec 3<>"/dev/tcp/$host/$1") 2>/dev/null && return 0; sleep 0.05; done
  return 1
}
rss_kb() { awk '/^Rss:/ {print $2}' "/proc/$1/smaps_rollup"; }
trimmed_kb() {
  gdb -p "$1" -batch -ex 'call (int)malloc_trim(0)' >/dev/null 2>&1 || true
  rss_kb "$1"
}

for ((i = 1; i <= nusers; i++)); do echo "user$i@$domain pw"; done >"$work/users.txt"
"$admin_bin" --data_dir="$work/data" domain add "$domain" >/dev/null
for ((i = 1; i <= nusers; i++)); do
  echo pw | "$admin_bin" --data_dir="$work/data" user add "user$i@$domain" --scheme=SSHA512 >/dev/null
done
mkdir -p "$work/data/vmail"
cp -a "$pristine/$domain" "$work/data/vmail/"

imap=$(free_port); imaps=$(free_port); lmtp=$(free_port)
${RINGMAIL_WRAP:-} "$ringmail_bin" serve --data_dir="$work/data" --shards="$shards" --smtp_port=0 --lmtp_port="$lmtp" \
  --imap_port="$imap" --imaps_port="$imaps" --pop3_port=0 --pop3s_port=0 --submission_port=0 --submissions_port=0 --listen_address="$host" --hostname="$domain" \
  --imap_allow_plaintext_auth=true --max_connections=0 --max_connections_per_ip=0 --log_level=warn \
  ${RINGMAIL_FLAGS:-} >>"$work/ringmail.log" 2>&1 &
pid=$!
wait_port "$imap" "${START_WAIT:-60}" || { tail -n 20 "$work/ringmail.log" >&2; die "ringmail did not open its IMAP port"; }
# Start-up work (rule compilation, caches) settles first: RSS steady for 2 s.
rss0=$(rss_kb "$pid")
for ((i = 0; i < 60; i++)); do
  sleep 2
  r=$(rss_kb "$pid")
  (( r - rss0 < 512 && rss0 - r < 512 )) && break
  rss0=$r
done
trim0=""; ((${TRIM:-0})) && trim0=$(trimmed_kb "$pid")

sources=$(seq -s, -f "127.0.0.%g" 2 $((1 + nsources)))
"$load_bin" --mode=imap --imap_idle --host="$host" --port="$imap" --tls_port="$imaps" \
  --tls_fraction="$tls_fraction" --connections="$sessions" --shards=1 --users_file="$work/users.txt" \
  --source_addresses="$sources" --deliver_port="$lmtp" --lmtp --deliver_connections=4 \
  --idle_hold="$((hold + 2 + ${TRIM:-0} * 20))s" --idle_wait=15s --ready_file="$work/ready" --timeout=120s \
  >"$work/load.out" 2>"$work/load.err" &
load_pid=$!
for ((i = 0; i < 12000; i++)); do [[ -s $work/ready ]] && break; kill -0 "$load_pid" 2>/dev/null || break; sleep 0.1; done
sleep "$hold"
rss1=$(rss_kb "$pid")
trim1=""; ((${TRIM:-0})) && trim1=$(trimmed_kb "$pid")
wait "$load_pid" || true
sleep 1
rss2=$(rss_kb "$pid")
line=$(tail -n 1 "$work/load.out")
get() { tr ' ' '\n' <<<"$line" | sed -n "s/^$1=//p"; }
idle=$(get idle_sessions)
per=$(( (rss1 - rss0) * 1024 / (${idle:-0} > 0 ? idle : 1) ))
commit=$(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo unknown)
echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ) commit=$commit sessions=$sessions users=$nusers messages=$nmessages" \
     "shards=$shards rss_before_kb=$rss0 rss_idle_kb=$rss1 rss_after_delivery_kb=$rss2 bytes_per_session=$per" \
     ${trim1:+"trimmed_before_kb=$trim0 trimmed_idle_kb=$trim1 trimmed_bytes_per_session=$(( (trim1 - trim0) * 1024 / (${idle:-0} > 0 ? idle : 1) ))"}
echo "$line"
