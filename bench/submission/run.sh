#!/usr/bin/env bash
# Submission + relay, side by side with Postfix (issue 13, "Benchmark"): authenticated
# clients submit 5 KiB messages for a remote recipient over STARTTLS + AUTH PLAIN; the
# server queues each durably (250 only after the queue file is on disk) and relays it to
# Postfix's smtp-sink on loopback. Same clients, same messages, same sink, in one run.
#
#   bench/submission/run.sh [build_dir]          (default build/release)
#
# Install (Debian 12): DEBIAN_FRONTEND=noninteractive apt-get install -y postfix dovecot-core openssl
# Needs root (Postfix and Dovecot start as root and drop privileges), and in build_dir the
# targets ringmail, ringmail-admin and ringmail-load. While `ringmail serve` has no
# --relayhost (the relay is being wired into serve) the ringmail rows are skipped with a
# message and only Postfix is measured (a dry run of the harness).
#
# Environment:
#   MESSAGES (10000)     messages per run
#   SESSIONS ("20 100")  concurrent client sessions, one table row each
#   SIZE (5120)          body bytes of each generated message
#   USERS (100)          logins load1..loadN@bench.test (password "pw"); session i logs in
#                        as user i mod N and sends as that address
#   SCHEME (SSHA512)     password scheme of the users on both sides (ringmail-admin's
#                        hash, the same string in Dovecot's passwd-file). SSHA512, as
#                        bench/imap and bench/pop3 use, keeps logins cheap so the rows
#                        measure mail; BLF-CRYPT (ringmail-admin's default, cost 10)
#                        makes a burst of 100 logins queue in Dovecot's one auth
#                        process until Postfix's smtpd gives up on it (after 10 s on a
#                        busy 2-core machine: "454 4.7.0 Temporary authentication
#                        failure: Connection lost to authentication server" for half
#                        the sessions)
#   SHARDS (2)           ringmail --shards
#   LOAD_SHARDS (1)      ringmail-load --shards (client threads)
#   REPEATS (3)          runs per cell, Postfix and ringmail alternating; the table shows
#                        the median by end-to-end msgs/s and lists every run
#   SERVERS ("postfix ringmail")  which servers to measure
#   RELAY_CONCURRENCY (20)  connections to the sink at once, in all: Postfix's
#                        default_destination_concurrency_limit (20, its default) and
#                        ringmail's --relay_destination_concurrency, which is per shard,
#                        so RELAY_CONCURRENCY / SHARDS there
#   PERF (0)             1: during the last run of each cell, `perf record -g -p` of
#                        ringmail (top symbols, CPU by thread: shard-N or the kernel's
#                        io_uring workers iou-wrk-N that run the file operations which
#                        block, such as fsync and unlink; and io_uring requests per
#                        message by opcode, from the io_uring tracepoints) and `perf
#                        record -a` for Postfix (CPU samples by command name: smtpd,
#                        cleanup, qmgr, smtp, auth, ...; other processes on the machine
#                        are left out of the list)
#   RINGMAIL_FLAGS       extra flags for `ringmail serve`
#   BENCH_DIR (/var/tmp) work files, queues; a real disk (tmpfs refused: fsync is free there)
#   KEEP (0)             1 keeps the work directory (configs, logs)
#   LOAD_BIN             ringmail-load to use (default BUILD/tools/ringmail-load/ringmail-load)
#
# What runs, all on 127.0.0.1, all private (nothing under /etc is read or changed):
#   sink:     Postfix's smtp-sink -c (one process, answers at once, no disk, no STARTTLS),
#             shared by both servers; its CPU is reported apart.
#   Postfix:  3.7, `postfix -c DIR start` (bench/lib/postfix.sh): a submission service on
#             a high port as Debian's master.cf template writes it (smtpd_tls_security_level
#             =encrypt, smtpd_sasl_auth_enable=yes, smtpd_tls_auth_only=yes,
#             smtpd_relay_restrictions=permit_sasl_authenticated,reject) plus the ISPmail
#             sender check (smtpd_sender_restrictions=reject_sender_login_mismatch over a
#             texthash smtpd_sender_login_maps: each login owns its address), the same
#             self-signed certificate as ringmail, smtpd_sasl_type=dovecot through a
#             private Dovecot's auth socket; relayhost=[127.0.0.1]:<sink>; the queue on
#             disk with its default fsync; default concurrency (20 per destination) except
#             default_process_limit=150, so 100 sessions get 100 smtpd processes.
#   Dovecot:  2.3, `dovecot -c CONF` with no mail protocol, only its auth service: a
#             unix_listener in Postfix's private/ (mode 0660, user postfix, as the ISPmail
#             guide), passwd-file of the same users with {SCHEME} hashes made by
#             ringmail-admin pw (ringmail stores the same scheme), auth_mechanisms plain
#             login; defaults otherwise (no auth cache: one hash check per login).
#   ringmail: `ringmail serve --submission_port=P --relayhost=[127.0.0.1]:<sink>` with the
#             same certificate (--tls_cert/--tls_key), SQLite directory with the same
#             users (SCHEME), --spam_scan=false (Postfix runs no scanner here),
#             --max_connections_per_ip=0 (100 sessions from 127.0.0.1; Postfix exempts
#             $mynetworks from its per-client limits), the queue under --data_dir (durable:
#             250 after the queue file and its directory are fsynced), relay defaults
#             (--relay_tls=may: the sink offers no STARTTLS, so plaintext on both sides)
#             except --relay_destination_concurrency, which counts per shard: 20 / SHARDS,
#             so both servers keep at most 20 connections to the sink.
# Client: ringmail-load --starttls --users_file=... --connections=S --messages=N --size=SIZE
#   --recipients=rcpt1..50@remote.test (one recipient per message, round-robin), no
#   pipelining; each session logs in once and sends message after message.
# Measured per run:
#   accepted/s  N / the client's time (ringmail-load's msgs_per_sec): submission into the
#               durable queue, relay running alongside
#   e2e msgs/s  N / the time from the client's start until smtp-sink has received all N
#               (its counter, polled every 20 ms)
#   CPU ms/msg  utime+stime per message of the server process trees, from the client's
#               start until the queue is empty again: Postfix's master and all its children
#               (smtpd, cleanup, qmgr, smtp, trivial-rewrite, tlsmgr, ... with the
#               cutime/cstime of reaped ones) plus Dovecot's (auth); ringmail's process
#   sink, load  CPU ms/msg of smtp-sink and of ringmail-load (not the server's; they share
#               the cores with it)
#   p99         ringmail-load's p99 submission latency (MAIL to the 250 after the dot)
# shellcheck source-path=SCRIPTDIR
set -Eeuo pipefail
trap 'echo "bench/submission: line $LINENO failed: $BASH_COMMAND" >&2' ERR

src=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck disable=SC2034  # used by die (bench/lib/common.sh)
bench_name=bench/submission
# shellcheck source=../lib/common.sh
. "$src/bench/lib/common.sh"
# shellcheck source=../lib/postfix.sh
. "$src/bench/lib/postfix.sh"
# shellcheck source=../lib/smtp_sink.sh
. "$src/bench/lib/smtp_sink.sh"

build=${1:-build/release}
messages=${MESSAGES:-10000}
sessions_list=${SESSIONS:-"20 100"}
size=${SIZE:-5120}
nusers=${USERS:-100}
scheme=${SCHEME:-SSHA512}
shards=${SHARDS:-2}
load_shards=${LOAD_SHARDS:-1}
repeats=${REPEATS:-3}
servers_wanted=${SERVERS:-"postfix ringmail"}
do_perf=${PERF:-0}
relay_concurrency=${RELAY_CONCURRENCY:-20}
bench_base=${BENCH_DIR:-/var/tmp}
keep=${KEEP:-0}
host=$bench_host
domain=bench.test
remote=remote.test

ringmail_bin=$build/tools/ringmail/ringmail
admin_bin=$build/tools/ringmail-admin/ringmail-admin
load_bin=${LOAD_BIN:-$build/tools/ringmail-load/ringmail-load}
for b in "$ringmail_bin" "$admin_bin" "$load_bin"; do
  [[ -x $b ]] || die "$b not found (ninja -C $build ringmail ringmail-admin ringmail-load)"
done
ringmail_bin=$(realpath "$ringmail_bin"); admin_bin=$(realpath "$admin_bin"); load_bin=$(realpath "$load_bin")
for tool in postfix postconf smtp-sink dovecot openssl ss; do
  command -v "$tool" >/dev/null || die "$tool not found: apt-get install -y postfix dovecot-core openssl iproute2"
done
((EUID == 0)) || die "run as root (Postfix and Dovecot start as root and drop privileges)"
{ id postfix >/dev/null 2>&1 && getent group postdrop >/dev/null; } || die "the postfix user or postdrop group is missing"
load_help=$("$load_bin" --helpfull 2>&1 || true)
grep -q -- '--auth_user' <<<"$load_help" || die "$load_bin has no --auth_user (submission load)"
((do_perf)) && { command -v perf >/dev/null || die "PERF=1 needs perf (apt-get install -y linux-perf)"; }

serve_help=$("$ringmail_bin" serve --helpfull 2>&1 || true)
have_relay=0
if grep -q -- '--relayhost' <<<"$serve_help"; then
  have_relay=1
else
  log "SKIP ringmail: '$ringmail_bin serve' has no --relayhost yet (relay not wired into serve); measuring Postfix only"
fi
servers=()
for s in $servers_wanted; do
  case $s in
    postfix) servers+=(postfix) ;;
    ringmail) ((have_relay)) && servers+=(ringmail) ;;
    *) die "SERVERS: unknown server '$s' (postfix, ringmail)" ;;
  esac
done
((${#servers[@]} > 0)) || die "nothing to measure"

mkdir -p "$bench_base"
require_real_disk "$bench_base"
fstype=$(stat -f -c %T "$bench_base")
work=$(mktemp -d "$bench_base/ringmail-submission-bench.XXXXXX")
chmod 755 "$work"
clk_tck=$(getconf CLK_TCK)

pf=$work/postfix
pf_conf=$pf/conf
pf_queue=$pf/queue
dv=$work/dovecot
rm_data=$work/ringmail
pf_started=0
dv_started=0
ringmail_pid=""
perf_pid=""
perf_ops_pid=""
client_pid=""
failed=0

cleanup() {
  [[ -n $client_pid ]] && kill -TERM "$client_pid" 2>/dev/null
  [[ -n $perf_pid ]] && { kill -INT "$perf_pid" 2>/dev/null; wait "$perf_pid" 2>/dev/null || true; }
  [[ -n $perf_ops_pid ]] && { kill -INT "$perf_ops_pid" 2>/dev/null; wait "$perf_ops_pid" 2>/dev/null || true; }
  if [[ -n $ringmail_pid ]]; then stop_pid "$ringmail_pid"; wait "$ringmail_pid" 2>/dev/null || true; fi
  ((pf_started)) && postfix_stop "$pf_conf" "$pf_queue"
  if ((dv_started)); then
    local pid
    pid=$(pid_from "$dv/run/master.pid" || true)
    timeout 20 dovecot -c "$dv/dovecot.conf" stop >/dev/null 2>&1 || true
    [[ -n $pid ]] && stop_pid "$pid"
  fi
  sink_stop
  if ((keep || failed)); then echo "work directory kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

sink_port=$(free_port) || die "no free port"
pf_port=$(free_port) || die "no free port"
rm_port=$(free_port) || die "no free port"

# ---------------------------------------------------------------- users, certificate
users=()
for ((i = 1; i <= nusers; i++)); do users+=("load$i@$domain"); done
printf '%s pw\n' "${users[@]}" >"$work/users.txt"
rcpts=$(for ((i = 1; i <= 50; i++)); do printf 'rcpt%d@%s,' "$i" "$remote"; done)
rcpts=${rcpts%,}
mkdir -p "$work/tls"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj "/CN=mail.$domain" \
  -keyout "$work/tls/key.pem" -out "$work/tls/cert.pem" 2>/dev/null || die "openssl req failed"

# ---------------------------------------------------------------- Postfix (private)
postfix_main_cf "$pf_conf" "$pf_queue" "$pf/data" "postfix.$domain"
for u in "${users[@]}"; do echo "$u $u"; done >"$pf_conf/sender_login"
cat >>"$pf_conf/main.cf" <<EOF
# bench/submission: every remote recipient through the sink; submission as Debian's
# master.cf template and the ISPmail guide set it up (see master.cf).
relayhost = [$host]:$sink_port
relay_domains =
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
default_process_limit = 150
default_destination_concurrency_limit = $relay_concurrency
smtpd_tls_cert_file = $work/tls/cert.pem
smtpd_tls_key_file = $work/tls/key.pem
smtpd_tls_security_level = may
smtpd_sasl_type = dovecot
smtpd_sasl_path = private/auth
smtpd_sasl_auth_enable = no
smtpd_sender_login_maps = texthash:$pf_conf/sender_login
EOF
postfix_master_cf "$pf_conf"
cat >>"$pf_conf/master.cf" <<EOF
$host:$pf_port inet n - n - - smtpd
  -o syslog_name=postfix/submission
  -o smtpd_tls_security_level=encrypt
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_tls_auth_only=yes
  -o smtpd_reject_unlisted_recipient=no
  -o smtpd_sender_restrictions=reject_sender_login_mismatch
  -o smtpd_recipient_restrictions=
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
  -o milter_macro_daemon_name=ORIGINATING
EOF
# `postfix check` makes the queue directories (private/ among them) with their owners,
# so Dovecot can put its auth socket there before Postfix starts.
postfix -c "$pf_conf" check >"$pf/check.out" 2>&1 || { cat "$pf/check.out" >&2; die "postfix check failed"; }

# ---------------------------------------------------------------- Dovecot auth (private)
mkdir -p "$dv/run" "$dv/state"
hash=$(echo pw | "$admin_bin" pw -s "$scheme") || die "ringmail-admin pw failed"
for u in "${users[@]}"; do echo "$u:$hash"; done >"$dv/passwd"
cat >"$dv/dovecot.conf" <<EOF
# Private Dovecot for bench/submission: only its auth service, for Postfix's SASL.
base_dir = $dv/run
state_dir = $dv/state
log_path = $dv/dovecot.log
instance_name = ringmail-bench-submission
protocols = none
listen = $host
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
passdb {
  driver = passwd-file
  args = $dv/passwd
}
userdb {
  driver = static
  args = uid=65534 gid=65534 home=/nonexistent
}
service auth {
  unix_listener $pf_queue/private/auth {
    mode = 0660
    user = postfix
    group = postfix
  }
}
EOF
dovecot -c "$dv/dovecot.conf" >"$dv/start.out" 2>&1 || { cat "$dv/start.out" >&2; die "dovecot did not start"; }
dv_started=1
dv_pid=$(wait_pid_file "$dv/run/master.pid") || die "no dovecot master.pid"
for ((i = 0; i < 100; i++)); do [[ -S $pf_queue/private/auth ]] && break; sleep 0.05; done
[[ -S $pf_queue/private/auth ]] || die "no Dovecot auth socket in $pf_queue/private"

# ---------------------------------------------------------------- sink, Postfix, ringmail
sink_start "$sink_port" "$work/sink.out" || die "smtp-sink did not open $host:$sink_port"
pf_pid=""
if [[ " ${servers[*]} " == *" postfix "* ]]; then
  pf_pid=$(postfix_start "$pf_conf" "$pf_queue") || die "postfix did not start"
  pf_started=1
  wait_port "$pf_port" 10 || { tail -n 20 "$pf/maillog" >&2 || true; die "postfix submission not listening"; }
fi

if ((have_relay)); then
  "$admin_bin" --data_dir="$rm_data" domain add "$domain" >/dev/null || die "ringmail-admin domain add failed"
  for u in "${users[@]}"; do
    echo pw | "$admin_bin" --data_dir="$rm_data" --scheme="$scheme" user add "$u" >/dev/null || die "ringmail-admin user add $u failed"
  done
fi
start_ringmail() {
  # shellcheck disable=SC2086  # RINGMAIL_FLAGS is a list of flags
  "$ringmail_bin" serve --data_dir="$rm_data" --shards="$shards" --smtp_port=0 --lmtp_port=0 --imap_port=0 \
    --imaps_port=0 --pop3_port=0 --pop3s_port=0 --submissions_port=0 --submission_port="$rm_port" \
    --listen_address="$host" --hostname="mail.$domain" --tls_cert="$work/tls/cert.pem" --tls_key="$work/tls/key.pem" \
    --relayhost="[$host]:$sink_port" --relay_destination_concurrency=$((relay_concurrency / shards)) --spam_scan=false --max_connections_per_ip=0 --log_level=warn \
    ${RINGMAIL_FLAGS:-} >>"$work/ringmail.log" 2>&1 &
  ringmail_pid=$!
  wait_port "$rm_port" 30 || { tail -n 20 "$work/ringmail.log" >&2; die "ringmail did not open its submission port"; }
}
[[ " ${servers[*]} " == *" ringmail "* ]] && start_ringmail

ringmail_queue_empty() {
  [[ -z $(find "$rm_data/queue" -name '*.msg' -print -quit 2>/dev/null) ]]
}

# ---------------------------------------------------------------- one run
declare -A acc e2e cpu sinkcpu loadcpu p99 secs got note runs_of
load_common=(--host="$host" --starttls --users_file="$work/users.txt" --size="$size" --recipients="$rcpts"
             --shards="$load_shards" --timeout=60s)

# run_one SERVER SESSIONS REPEAT [MESSAGES]
run_one() {
  local server=$1 s=$2 r=$3 n=${4:-$messages}
  local key="$server:$s:$r" port out=$work/run-$server-$s-$r
  local -a roots
  if [[ $server == postfix ]]; then port=$pf_port; roots=("$pf_pid" "$dv_pid"); else port=$rm_port; roots=("$ringmail_pid"); fi
  local count0 ticks0=0 ticks1=0 sink0 sink1 c0 c1 root t0 t_del rc=0 i
  count0=$(sink_count "$work/sink.out")
  for root in "${roots[@]}"; do ticks0=$((ticks0 + $(tree_ticks "$root"))); done
  sink0=$(tree_ticks "$sink_pid")
  children_cpu c0
  if ((do_perf)) && [[ $r == "$repeats" ]]; then
    if [[ $server == ringmail ]]; then
      perf record -o "$work/uring-$s.data" -e io_uring:io_uring_submit_req -e io_uring:io_uring_queue_async_work \
        -p "$ringmail_pid" >/dev/null 2>&1 &
      perf_ops_pid=$!
      perf record -g -o "$work/perf-$server-$s.data" -p "$ringmail_pid" >/dev/null 2>&1 &
    else
      perf record -a -o "$work/perf-$server-$s.data" >/dev/null 2>&1 &
    fi
    perf_pid=$!
    sleep 1  # perf attaches before the first message (the per-message counts need all of them)
  fi
  t0=$(date +%s%N)
  "$load_bin" "${load_common[@]}" --port="$port" --connections="$s" --messages="$n" >"$out.out" 2>"$out.err" &
  client_pid=$!
  wait "$client_pid" || rc=$?
  client_pid=""
  # The sink should get every message the client had acknowledged (a refused one, e.g. a
  # 454 at AUTH, never reaches the queue; the run is marked failed then).
  local line field want=0
  line=$(tail -n 1 "$out.out" 2>/dev/null || true)
  for field in $line; do
    [[ $field == ok=* ]] && want=${field#*=}
    [[ $field == msgs_per_sec=* ]] && acc[$key]=$(printf '%.0f' "${field#*=}")
    [[ $field == p99_ms=* ]] && p99[$key]=${field#*=}
  done
  ((want == n)) || note[$key]="client: $want of $n accepted"
  local deadline=$((SECONDS + 120 + n / 50)) have=0
  while :; do
    have=$(($(sink_count "$work/sink.out") - count0))
    ((have >= want)) && break
    if ((SECONDS > deadline)); then note[$key]="${note[$key]:+${note[$key]}; }sink got $have of $want"; break; fi
    sleep 0.02
  done
  t_del=$(date +%s%N)
  # CPU until the queue is empty again (the server deletes its files after the sink's 250).
  for ((i = 0; i < 600; i++)); do
    if [[ $server == postfix ]]; then postfix_queue_empty "$pf_queue" && break; else ringmail_queue_empty && break; fi
    sleep 0.05
  done
  if [[ -n $perf_pid ]]; then kill -INT "$perf_pid" 2>/dev/null; wait "$perf_pid" 2>/dev/null || true; perf_pid=""; fi
  if [[ -n $perf_ops_pid ]]; then
    kill -INT "$perf_ops_pid" 2>/dev/null; wait "$perf_ops_pid" 2>/dev/null || true; perf_ops_pid=""
    echo "$have" >"$work/uring-$s.messages"
  fi
  for root in "${roots[@]}"; do ticks1=$((ticks1 + $(tree_ticks "$root"))); done
  sink1=$(tree_ticks "$sink_pid")
  children_cpu c1
  got[$key]=$have
  secs[$key]=$(awk -v ns=$((t_del - t0)) 'BEGIN { printf "%.2f", ns / 1e9 }')
  e2e[$key]=$(awk -v n="$have" -v ns=$((t_del - t0)) 'BEGIN { printf "%.0f", n / (ns / 1e9) }')
  # Per message that reached the sink.
  local per=$((have > 0 ? have : 1))
  cpu[$key]=$(awk -v t=$((ticks1 - ticks0)) -v hz="$clk_tck" -v n="$per" 'BEGIN { printf "%.3f", t / hz / n * 1000 }')
  sinkcpu[$key]=$(awk -v t=$((sink1 - sink0)) -v hz="$clk_tck" -v n="$per" 'BEGIN { printf "%.3f", t / hz / n * 1000 }')
  loadcpu[$key]=$(awk -v a="$c0" -v b="$c1" -v n="$per" 'BEGIN { printf "%.3f", (b - a) / n * 1000 }')
  if ((rc != 0)); then
    note[$key]="${note[$key]:+${note[$key]}; }client exit $rc"
    grep 'failure' "$out.err" | head -n 3 >&2 || true
  fi
  log "$server sessions=$s run=$r: accepted ${acc[$key]:-?}/s, e2e ${e2e[$key]} msgs/s (${secs[$key]} s)," \
      "sink got ${got[$key]}/$n, CPU ${cpu[$key]} ms/msg (sink ${sinkcpu[$key]}, load ${loadcpu[$key]})," \
      "p99 ${p99[$key]:-?} ms${note[$key]:+ NOTE: ${note[$key]}}"
  [[ -z ${note[$key]:-} ]] || failed=1
}

# Copies the median run (by e2e msgs/s) of a cell to SERVER:S.
take_median() {
  local cell=$1 r
  local -a list=() all=()
  for ((r = 1; r <= repeats; r++)); do
    [[ -n ${e2e[$cell:$r]:-} ]] && list+=("${e2e[$cell:$r]} $r")
    all+=("${e2e[$cell:$r]:--}")
    [[ -n ${note[$cell:$r]:-} ]] && note[$cell]="${note[$cell:$r]}"
  done
  ((${#list[@]} > 0)) || return 0
  local pick
  pick=$(printf '%s\n' "${list[@]}" | sort -n | sed -n "$(((${#list[@]} + 1) / 2))p" | cut -d' ' -f2)
  local v
  for v in acc e2e cpu sinkcpu loadcpu p99 secs got; do
    local -n arr=$v
    # shellcheck disable=SC2004
    arr[$cell]=${arr[$cell:$pick]:-}
  done
  runs_of[$cell]=$(IFS=/; echo "${all[*]}")
}

loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' /)
log "work directory $work ($fstype): sink=$sink_port postfix submission=$pf_port ringmail submission=$rm_port"

# Warm-up, not measured: Postfix spawns its smtpd/cleanup/smtp processes, and every user
# logs in once on both (one session per user). ringmail keeps a verified login in its
# shard's authenticator cache (5 minutes), so its measured runs mostly skip the hash;
# Dovecot's default has no auth cache (auth_cache_size = 0), so Postfix's runs pay one
# hash check per session (cheap with SSHA512; a bcrypt with SCHEME=BLF-CRYPT).
for server in "${servers[@]}"; do
  run_one "$server" "$nusers" 0 $((nusers * 2)) 2>/dev/null || true
done
failed=0
unset "note[postfix:$nusers:0]" "note[ringmail:$nusers:0]"

# Both do the same checks: a login sending as another user's address is refused (553).
for server in "${servers[@]}"; do
  port=$pf_port
  [[ $server == ringmail ]] && port=$rm_port
  if "$load_bin" --host="$host" --port="$port" --starttls --auth_user="${users[0]}" --auth_password=pw \
       --from="load0@$domain" --recipients="rcpt1@$remote" --messages=1 --connections=1 --timeout=20s \
       >"$work/sender-check-$server.out" 2>&1 || ! grep -q '553' "$work/sender-check-$server.out"; then
    log "$server: a forged sender was not refused with 553:"
    tail -n 3 "$work/sender-check-$server.out" >&2
    failed=1
  fi
done

for s in $sessions_list; do
  for ((r = 1; r <= repeats; r++)); do
    for server in "${servers[@]}"; do run_one "$server" "$s" "$r"; done
  done
  for server in "${servers[@]}"; do take_median "$server:$s"; done
done

# ---------------------------------------------------------------- report
ratio() { awk -v a="${1:-}" -v b="${2:-}" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.2fx", a / b }'; }
commit=${BENCH_COMMIT:-$(git_commit "$src")}
echo
echo "Run: date=$(date -u +%Y-%m-%dT%H:%M:%SZ) loadavg_start=$loadavg_start loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' /) commit=$commit messages=$messages size=$size users=$nusers scheme=$scheme" \
     "repeats=$repeats ringmail_shards=$shards load_shards=$load_shards cpus=$(nproc) kernel=$(uname -r)" \
     "disk=$fstype postfix=$(postconf -h mail_version) dovecot=$(dovecot --version | cut -d' ' -f1)"
((have_relay)) || echo "ringmail: not measured ('ringmail serve' has no --relayhost yet)"
echo
echo "| sessions | server | sink got | accepted/s | e2e msgs/s | seconds | server CPU ms/msg | sink CPU ms/msg | load CPU ms/msg | p99 ms | ringmail/Postfix e2e | ringmail/Postfix accepted | Postfix/ringmail CPU | all runs e2e |"
echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
for s in $sessions_list; do
  for server in "${servers[@]}"; do
    k="$server:$s"
    vs=""; avs=""; cvs=""
    if [[ $server == ringmail && -n ${e2e[postfix:$s]:-} ]]; then
      vs=$(ratio "${e2e[$k]:-}" "${e2e[postfix:$s]:-}")
      avs=$(ratio "${acc[$k]:-}" "${acc[postfix:$s]:-}")
      cvs=$(ratio "${cpu[postfix:$s]:-}" "${cpu[$k]:-}")
    fi
    [[ -n ${note[$k]:-} ]] && vs="$vs (${note[$k]})"
    echo "| $s | $server | ${got[$k]:--} | ${acc[$k]:--} | ${e2e[$k]:--} | ${secs[$k]:--} | ${cpu[$k]:--} |" \
         "${sinkcpu[$k]:--} | ${loadcpu[$k]:--} | ${p99[$k]:--} | $vs | $avs | $cvs | ${runs_of[$k]:--} |"
  done
done
echo
echo "client: $load_bin ${load_common[*]/--recipients=*/--recipients=rcpt1..50@$remote} --port=PORT --connections=S --messages=$messages"
((have_relay)) && echo "ringmail: $ringmail_bin serve --data_dir=DIR --shards=$shards --submission_port=P --listen_address=$host" \
  "--tls_cert=cert.pem --tls_key=key.pem --relayhost=[$host]:SINK --relay_destination_concurrency=$((relay_concurrency / shards)) --spam_scan=false --max_connections_per_ip=0 --log_level=warn ${RINGMAIL_FLAGS:-}"
echo "postfix: private instance, main.cf and master.cf as written by this script (KEEP=1 keeps them in the work directory)"
echo "sink: smtp-sink -c -u nobody $host:SINK 1000"
if ((do_perf)); then
  for s in $sessions_list; do
    if [[ -s $work/perf-ringmail-$s.data ]]; then
      echo
      echo "perf, ringmail, $s sessions (last run; self time, top 25 symbols):"
      perf report -i "$work/perf-ringmail-$s.data" --no-children --sort dso,symbol --stdio 2>/dev/null |
        grep -E '^ +[0-9]' | sed -E 's/[[:space:]]+(-[[:space:]]+)*$//' | head -n 25 || true
      echo
      echo "perf, ringmail, $s sessions: CPU samples by thread (iou-wrk-N: the kernel's io_uring workers)"
      perf report -i "$work/perf-ringmail-$s.data" --no-children --sort comm --stdio 2>/dev/null |
        grep -E '^ +[0-9]' | sed -E 's/[[:space:]]+$//' || true
      echo
      echo "perf, ringmail, $s sessions: the kernel functions under which the most CPU went (with callees)"
      perf report -i "$work/perf-ringmail-$s.data" --children --sort symbol --stdio -g none 2>/dev/null |
        grep -E '^ +[0-9].*\[k\] (io_fsync|io_unlinkat|io_renameat|io_openat2?|io_write|io_read|io_recv|io_send|io_sendmsg|io_recvmsg|io_close|io_statx|io_mkdirat|io_linkat|io_fallocate|io_sync_file_range)[[:space:]]' |
        sed -E 's/[[:space:]]+(-[[:space:]]+)*$//' || true
    fi
    if [[ -s $work/uring-$s.data ]]; then
      echo
      echo "io_uring requests per message, ringmail, $s sessions (submitted; of them handed to an io-wq worker, i.e. blocking):"
      perf script -i "$work/uring-$s.data" -F event,trace 2>/dev/null |
        awk -v n="$(cat "$work/uring-$s.messages" 2>/dev/null || echo 0)" '
          { op = ""; for (i = 1; i <= NF; i++) if ($i == "opcode") { op = $(i + 1); sub(/,$/, "", op) } }
          op != "" && /io_uring_submit_req/ { sub_n[op]++ }
          op != "" && /io_uring_queue_async_work/ { async_n[op]++ }
          END {
            if (n <= 0) exit
            for (op in sub_n) printf "  %-14s %6.2f per message  (%5.2f to io-wq)\n", op, sub_n[op] / n, async_n[op] / n
          }' | sort -k2 -rn || true
    fi
    if [[ -s $work/perf-postfix-$s.data ]]; then
      echo
      echo "perf -a, Postfix run, $s sessions (last run; samples by command, % of all on the machine):"
      perf report -i "$work/perf-postfix-$s.data" --sort comm --stdio 2>/dev/null |
        grep -E '^ +[0-9].* (master|smtpd|cleanup|qmgr|smtp|trivial-rewrite|tlsmgr|anvil|proxymap|postlogd|auth|dovecot|config|log|smtp-sink|ringmail-load|ringmail) *$' || true
    fi
  done
fi
((failed == 0)) || exit 1
