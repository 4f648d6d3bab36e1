#!/usr/bin/env bash
# Where ringmail's CPU goes on the receive path with the scanner on: a private
# `ringmail serve` (stock rules, untrained Bayes, fsync on, as bench/smtp/run.sh's spam
# mode) takes MESSAGES messages from ringmail-load over SESSIONS SMTP sessions while
# `perf record` samples the server (all threads, user and kernel), then every sample is
# put in one bucket by the innermost frame that names one (bench/smtp/cpu_buckets.py):
#
#   scan      spam/: Hyperscan, PCRE2, rules, evals, Bayes, the scan cache, SHA-256 of it
#   parse     mail/: MIME parsing, decoding, rendering the text the scanner and store read
#   deliver   delivery/: mail store, index, Maildir files — and the kernel's file work
#             (ext4, fsync, the page cache) wherever it is called from
#   protocol  protocols/, runtime/: SMTP session, io_uring, TLS, sockets — and the
#             kernel's network stack
#   other     everything else (allocator, libc, scheduler, idle loops)
#
# Prints the table as markdown (CPU share and microseconds of server CPU per message).
#
#   bench/smtp/cpu_breakdown.sh [build_dir]     (default build/release)
#
# Environment: MESSAGES (10000), SESSIONS (20), SIZE (5120), USERS (50), SHARDS (2),
#   SOURCE (generated: ringmail-load's bodies; corpus: the SpamAssassin corpus files
#   under CORPUS, build/corpus), BENCH_DIR (/var/tmp), SCAN_CACHE (server default; 0 = off),
#   SHOW_OTHER (0: how many of the commonest unbucketed frames to list on stderr).
# Needs perf (linux-perf) with kernel symbols readable (kptr_restrict 0 or root).
set -Eeuo pipefail
trap 'echo "cpu_breakdown: line $LINENO failed: $BASH_COMMAND" >&2' ERR

build=${1:-build/release}
messages=${MESSAGES:-10000}
sessions=${SESSIONS:-20}
size=${SIZE:-5120}
nusers=${USERS:-50}
shards=${SHARDS:-2}
source=${SOURCE:-generated}
corpus=${CORPUS:-build/corpus}
here=$(cd "$(dirname "$0")" && pwd)
ringmail_bin=$(realpath "$build/tools/ringmail/ringmail")
admin_bin=$(realpath "$build/tools/ringmail-admin/ringmail-admin")
load_bin=$(realpath "$build/tools/ringmail-load/ringmail-load")
command -v perf >/dev/null || { echo "cpu_breakdown: perf not installed (apt-get install linux-perf)" >&2; exit 1; }

work=$(mktemp -d "${BENCH_DIR:-/var/tmp}/ringmail-cpu.XXXXXX")
server_pid=
cleanup() {
  [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$admin_bin" --data_dir="$work/data" domain add bench.test >/dev/null
users=()
for ((i = 1; i <= nusers; i++)); do
  users+=("user$i@bench.test")
  echo pw | "$admin_bin" --data_dir="$work/data" user add "user$i@bench.test" >/dev/null
done
extra=()
[[ -n ${SCAN_CACHE:-} ]] && extra+=(--spam_scan_cache_bytes="$SCAN_CACHE")
"$ringmail_bin" serve --imap_port=0 --imaps_port=0 --pop3_port=0 --pop3s_port=0 --submission_port=0 \
  --submissions_port=0 --lmtp_port=0 --managesieve_port=0 --data_dir="$work/data" --shards="$shards" \
  --smtp_port="$port" --listen_address=127.0.0.1 --hostname=bench.test --log_level=warn \
  --max_connections_per_ip=0 --spam_scan=true "${extra[@]}" >"$work/server.log" 2>&1 &
server_pid=$!
for ((i = 0; i < 600; i++)); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.5
done

load_flags=(--host=127.0.0.1 --port="$port" --connections="$sessions" --size="$size"
            "--recipients=$(IFS=,; echo "${users[*]}")" )
[[ $source == corpus ]] && load_flags+=(--messages_dir="$corpus")
# Warm-up (rules loaded, caches and the page cache filled), then the measured run. The
# corpus's spam is partly refused (554 5.7.1 at score >= --spam_reject_score): counted as
# sent, since it was scanned all the same; ringmail-load then exits non-zero.
load_ok() { [[ $source == corpus ]] || { tail -5 "$1" >&2; exit 1; }; }
"$load_bin" "${load_flags[@]}" --messages=200 >"$work/warmup.out" 2>&1 || load_ok "$work/warmup.out"
before=$(awk '{print $14 + $15}' "/proc/$server_pid/stat")
perf record -F 999 -g -p "$server_pid" -o "$work/perf.data" -- \
  "$load_bin" "${load_flags[@]}" --messages="$messages" >"$work/load.out" 2>&1 || load_ok "$work/load.out"
after=$(awk '{print $14 + $15}' "/proc/$server_pid/stat")
ticks=$(getconf CLK_TCK)
us_per_msg=$(python3 -c "print(($after - $before) / $ticks / $messages * 1e6)")
grep -E "msgs/s|delivered|acknowledged" "$work/load.out" | head -3 >&2 || true
perf script -i "$work/perf.data" -F comm,ip,sym,dso 2>/dev/null |
  python3 "$here/cpu_buckets.py" --us_per_message="$us_per_msg" --messages="$messages" --source="$source" \
    --show_other="${SHOW_OTHER:-0}"
