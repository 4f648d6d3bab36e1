#!/usr/bin/env bash
# POP3 side by side with Dovecot 2.3 (issue 12, "Benchmark"): the same users, the same
# Maildirs (copies of one generated set), the same load tool (ringmail-load --mode=pop3),
# on the same machine in one run. Prints a Markdown table with the commit measured.
#
#   bench/pop3/run.sh [build_dir]          (default build/release)
#
# Each session is a fetcher that keeps mail on the server: connect (plain, or implicit
# TLS to the POP3S port), USER/PASS, STAT, LIST, UIDL, RETR of every message (pipelined
# when the server lists PIPELINING), QUIT. No DELE, so every row sees the same maildrops.
# ringmail-load checks each RETR's octets against LIST's size and STAT/LIST/UIDL against
# each other; a row with failed sessions says so.
#
# Needs root (Dovecot starts as root and drops to uid 65534 for mail), dovecot-core and
# dovecot-pop3d (apt-get install -y dovecot-core dovecot-pop3d), python3, openssl, and in
# build_dir the targets ringmail, ringmail-admin and ringmail-load. While `ringmail serve`
# has no --pop3_port the ringmail rows are skipped with a message and only Dovecot is
# measured (a dry run of the harness).
#
# Environment:
#   USERS (200) MESSAGES (50)    users user1..N@example.test, messages per INBOX
#                                (bench/mailstore/make_maildir.py, seed = user number);
#                                USERS must be at least the largest CLIENTS (one POP3
#                                session per maildrop at a time)
#   CLIENTS ("10 100")           concurrent POP3 sessions, one row each
#   TLS_MODES ("plain tls")      plain: the POP3 port; tls: implicit TLS (POP3S)
#   DURATION (20)                seconds per row
#   PIPELINING (1)               1: --pipelining (both servers list PIPELINING in CAPA)
#   SHARDS (2)                   ringmail --shards
#   LOAD_SHARDS (2)              client threads of ringmail-load (one thread limits the
#                                TLS rows: ~29k msgs/s against ringmail where two reach ~51k)
#   RINGMAIL_POP3_FLAGS          extra flags for `ringmail serve`
#   BENCH_DIR (/var/tmp)         work files; the generated Maildirs are kept in
#                                $BENCH_DIR/ringmail-pop3-pristine-U-M and reused
#   KEEP (0)                     1 keeps the work directory
#   LOAD_BIN                     ringmail-load to use (default BUILD/tools/ringmail-load/ringmail-load)
#
# Users and logins are made comparable as bench/imap/run.sh does: password "pw" under the
# same salted SSHA512 hash on both sides (Dovecot's passwd-file, ringmail-admin
# --scheme=SSHA512), and Dovecot's defaults otherwise (no auth_cache_size: one SHA-512 per
# login is cheap either way).
#
# Before the measured rows each server gets one unmeasured pass (one session per user),
# so both start from maildrops they have indexed once and whose retrieved messages are
# \Seen and in cur/ (both servers set \Seen on RETRieved messages at QUIT).
#
# Measured per row:
#   msgs/s        messages retrieved (whole RETRs, size checked) per second of the row
#   sessions/s    sessions that ended with QUIT's +OK per second
#   login p99     USER to PASS's +OK (client side); session p99: connect to QUIT's +OK
#   CPU ms/msg    server utime+stime per retrieved message: for Dovecot every process
#                 under its master (pop3, pop3-login, auth, anvil, config, stats, log; the
#                 cutime/cstime of reaped children too: a pop3 process serves one session
#                 and exits), for ringmail its process
#   load CPU s/s  CPU seconds of ringmail-load per second of the row (it shares the
#                 cores with the server: near 1 with LOAD_SHARDS=1, the client is the limit)
#   ratio         ringmail msgs/s / Dovecot msgs/s, and Dovecot CPU/msg / ringmail CPU/msg
set -Eeuo pipefail
trap 'echo "bench/pop3: line $LINENO failed: $BASH_COMMAND" >&2' ERR

build=${1:-build/release}
nusers=${USERS:-200}
nmessages=${MESSAGES:-50}
clients_list=${CLIENTS:-"10 100"}
tls_modes=${TLS_MODES:-"plain tls"}
duration=${DURATION:-20}
pipelining=${PIPELINING:-1}
shards=${SHARDS:-2}
load_shards=${LOAD_SHARDS:-2}
bench_base=${BENCH_DIR:-/var/tmp}
keep=${KEEP:-0}
host=127.0.0.1
domain=example.test
src=$(cd "$(dirname "$0")/../.." && pwd)

die() { echo "bench/pop3: $*" >&2; exit 1; }
log() { echo "[$(date +%T)] $*" >&2; }

ringmail_bin=$build/tools/ringmail/ringmail
admin_bin=$build/tools/ringmail-admin/ringmail-admin
load_bin=${LOAD_BIN:-$build/tools/ringmail-load/ringmail-load}
for b in "$ringmail_bin" "$admin_bin" "$load_bin"; do
  [[ -x $b ]] || die "$b not found (ninja -C $build ringmail ringmail-admin ringmail-load)"
done
ringmail_bin=$(realpath "$ringmail_bin"); admin_bin=$(realpath "$admin_bin"); load_bin=$(realpath "$load_bin")
for tool in dovecot doveadm python3 openssl; do
  command -v "$tool" >/dev/null || die "$tool not found: apt-get install -y dovecot-core dovecot-pop3d python3 openssl"
done
[[ -x /usr/lib/dovecot/pop3 ]] || die "apt-get install -y dovecot-pop3d"
((EUID == 0)) || die "run as root (Dovecot starts as root and drops privileges)"
for c in $clients_list; do ((c <= nusers)) || die "CLIENTS=$c needs USERS >= $c (one POP3 session per maildrop)"; done
load_help=$("$load_bin" --helpfull 2>&1 || true)
grep -q -- '--pop3_auth' <<<"$load_help" || die "$load_bin has no POP3 mode"

# ringmail with POP3? (The lead is writing the server; until then only Dovecot runs.)
have_ringmail_pop3=0
serve_help=$("$ringmail_bin" serve --helpfull 2>&1 || true)
if grep -q -- '--pop3_port' <<<"$serve_help"; then
  have_ringmail_pop3=1
else
  log "SKIP ringmail: '$ringmail_bin serve' has no --pop3_port yet (no POP3 server); measuring Dovecot only"
fi
ringmail_extra=(${RINGMAIL_POP3_FLAGS:-})
grep -q -- '--pop3_allow_plaintext_auth' <<<"$serve_help" && ringmail_extra+=(--pop3_allow_plaintext_auth=true)
grep -q -- '--max_connections_per_ip' <<<"$serve_help" && ringmail_extra+=(--max_connections_per_ip=0)
grep -q -- '--max_connections ' <<<"$serve_help" && ringmail_extra+=(--max_connections=0)

mkdir -p "$bench_base"
work=$(mktemp -d "$bench_base/ringmail-pop3-bench.XXXXXX")
chmod 755 "$work"
pristine=$bench_base/ringmail-pop3-pristine-$nusers-$nmessages
dv=$work/dovecot
rm_data=$work/ringmail
ringmail_pid=""
dv_started=0
failed=0

stop_pid() {
  local pid=$1 i
  [[ -n $pid ]] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}
cleanup() {
  [[ -n $ringmail_pid ]] && { stop_pid "$ringmail_pid"; wait "$ringmail_pid" 2>/dev/null || true; }
  if ((dv_started)); then doveadm -c "$dv/dovecot.conf" stop >/dev/null 2>&1 || true; fi
  if ((keep || failed)); then echo "work directory kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

used_ports=" "
free_port() {
  local port i
  for ((i = 0; i < 100; i++)); do
    port=$((20000 + RANDOM % 12000))
    [[ $used_ports == *" $port "* ]] && continue
    if [[ -z $(ss -Htln "sport = :$port" 2>/dev/null) ]]; then used_ports+="$port "; echo "$port"; return 0; fi
  done
  return 1
}
wait_port() {
  local i
  for ((i = 0; i < $2 * 20; i++)); do (exec 3<>"/dev/tcp/$host/$1") 2>/dev/null && return 0; sleep 0.05; done
  return 1
}

# utime+stime+cutime+cstime (ticks) of process $1 and all its descendants (as bench/imap).
tree_ticks() {
  { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v root="$1" '
    { pid = $1; line = $0; sub(/^.*\) /, "", line); split(line, f, " ")
      ppid[pid] = f[2]; ticks[pid] = f[12] + f[13] + f[14] + f[15] }
    END { total = 0
      for (p in ticks) { q = p
        for (d = 0; d < 64 && q != "" && q != 0 && q != 1; d++) { if (q == root) { total += ticks[p]; break }; q = ppid[q] } }
      print total }'
}

# CPU seconds (user+sys) of this shell's reaped children so far (bash `times`): the
# load generator's own CPU, since it runs on the same cores as the servers.
# (`times` must run in this shell, not in a pipe's or $( )'s subshell, which has no children.)
children_cpu() {  # VARIABLE
  times >"$work/times"
  printf -v "$1" '%s' "$(tail -n 1 "$work/times" | awk '{ t = 0; for (i = 1; i <= 2; i++) { split($i, p, /[ms]/); t += p[1] * 60 + p[2] }; printf "%.3f", t }')"
}

clk_tck=$(getconf CLK_TCK)
users=()
for ((i = 1; i <= nusers; i++)); do users+=("user$i@$domain"); done
printf '%s pw\n' "${users[@]}" >"$work/users.txt"

# ---------------------------------------------------------------- the Maildirs
if [[ ! -f $pristine/.complete ]]; then
  log "generating $nusers x $nmessages messages in $pristine ..."
  rm -rf "$pristine"
  for ((i = 1; i <= nusers; i++)); do
    python3 "$src/bench/mailstore/make_maildir.py" "$pristine/$domain/user$i/Maildir" --messages "$nmessages" --seed "$i"
  done
  touch "$pristine/.complete"
fi

# ---------------------------------------------------------------- Dovecot (private)
dv_pop3=$(free_port); dv_pop3s=$(free_port)
mkdir -p "$dv/run" "$dv/state"
cp -a "$pristine" "$dv/vmail"
chown -R 65534:65534 "$dv/vmail"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj /CN=localhost \
  -keyout "$dv/key.pem" -out "$dv/cert.pem" 2>/dev/null
# The same salted SSHA512 hash on both sides: logins cost a hash check on each.
hash=$(doveadm pw -s SSHA512 -p pw)
for u in "${users[@]}"; do echo "$u:$hash"; done >"$dv/passwd"
cat >"$dv/dovecot.conf" <<EOF
# Private Dovecot for bench/pop3: POP3 and POP3S on loopback, passwd-file users with
# SSHA512 hashes, Maildir; defaults otherwise (pop3_uidl_format %08Xu%08Xv, \\Seen set
# on RETRieved messages at QUIT), except the limits $nusers sessions from one address need.
base_dir = $dv/run
state_dir = $dv/state
log_path = $dv/dovecot.log
instance_name = ringmail-bench-pop3
protocols = pop3
listen = $host
ssl = yes
ssl_cert = <$dv/cert.pem
ssl_key = <$dv/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
mail_uid = 65534
mail_gid = 65534
mail_location = maildir:$dv/vmail/%d/%n/Maildir
mail_max_userip_connections = 100000
default_process_limit = 5000
default_client_limit = 5000
passdb {
  driver = passwd-file
  args = $dv/passwd
}
userdb {
  driver = static
  args = uid=65534 gid=65534 home=$dv/vmail/%d/%n
}
service pop3-login {
  inet_listener pop3 {
    port = $dv_pop3
  }
  inet_listener pop3s {
    port = $dv_pop3s
    ssl = yes
  }
  # High-performance mode (Dovecot's documented set-up for many connections).
  service_count = 0
  process_min_avail = $(nproc)
}
service auth {
  client_limit = 20000
}
service anvil {
  client_limit = 20000
}
protocol pop3 {
  mail_max_userip_connections = 100000
}
EOF
dovecot -c "$dv/dovecot.conf" || die "dovecot did not start (see $dv/dovecot.log)"
dv_started=1
wait_port "$dv_pop3" 10 || die "dovecot POP3 not listening"
dv_pid=$(tr -dc 0-9 <"$dv/run/master.pid")

# ---------------------------------------------------------------- ringmail
rm_pop3=$(free_port); rm_pop3s=$(free_port)
if ((have_ringmail_pop3)); then
  "$admin_bin" --data_dir="$rm_data" domain add "$domain" >/dev/null || die "ringmail-admin domain add failed"
  for u in "${users[@]}"; do
    echo pw | "$admin_bin" --data_dir="$rm_data" user add "$u" --scheme=SSHA512 >/dev/null 2>&1 ||
      echo pw | "$admin_bin" --data_dir="$rm_data" user add "$u" >/dev/null || die "ringmail-admin user add $u failed"
  done
  mkdir -p "$rm_data/vmail"
  cp -a "$pristine/$domain" "$rm_data/vmail/"
  "$ringmail_bin" serve --data_dir="$rm_data" --shards="$shards" --smtp_port=0 --lmtp_port=0 --imap_port=0 \
    --imaps_port=0 --pop3_port="$rm_pop3" --pop3s_port="$rm_pop3s" --submission_port=0 --submissions_port=0 --listen_address="$host" --hostname="$domain" \
    --spam_scan=false --log_level=warn "${ringmail_extra[@]}" >>"$work/ringmail.log" 2>&1 &
  ringmail_pid=$!
  wait_port "$rm_pop3" 30 || { tail -n 20 "$work/ringmail.log" >&2; die "ringmail did not open its POP3 port"; }
fi

servers=(dovecot)
((have_ringmail_pop3)) && servers+=(ringmail)
load_common=(--mode=pop3 --host="$host" --shards="$load_shards" --users_file="$work/users.txt" --progress=false
             --timeout=60s)
((pipelining)) && load_common+=(--pipelining)

# ---------------------------------------------------------------- warm-up (unmeasured)
for server in "${servers[@]}"; do
  port=$dv_pop3
  [[ $server == ringmail ]] && port=$rm_pop3
  "$load_bin" "${load_common[@]}" --port="$port" --connections=10 --sessions="$nusers" --duration=600s \
    >"$work/warmup-$server.out" 2>"$work/warmup-$server.err" ||
    { tail -n 5 "$work/warmup-$server.err" >&2; failed=1; die "warm-up against $server failed"; }
  log "warm-up $server: $(tail -n 1 "$work/warmup-$server.out" | cut -c1-200)"
done

# ---------------------------------------------------------------- the rows
declare -A rate srate lp99 sp99 cpumsg errs mbps loadcpu
# run_row TLS(plain|tls) CLIENTS SERVER
run_row() {
  local mode=$1 c=$2 server=$3 port pid key="$1:$2:$3" t0 t1 out=$work/$1-$2-$3
  local -a args=("${load_common[@]}" --connections="$c" --duration="${duration}s")
  if [[ $server == dovecot ]]; then
    pid=$dv_pid; port=$dv_pop3; [[ $mode == tls ]] && port=$dv_pop3s
  else
    pid=$ringmail_pid; port=$rm_pop3; [[ $mode == tls ]] && port=$rm_pop3s
  fi
  [[ $mode == tls ]] && args+=(--tls=implicit)
  local c0 c1
  t0=$(tree_ticks "$pid")
  children_cpu c0
  "$load_bin" "${args[@]}" --port="$port" >"$out.out" 2>"$out.err" || true
  children_cpu c1
  t1=$(tree_ticks "$pid")
  local line; line=$(tail -n 1 "$out.out")
  get() { tr ' ' '\n' <<<"$line" | sed -n "s/^$1=//p"; }
  local msgs; msgs=$(get messages)
  rate[$key]=$(get msgs_per_sec)
  srate[$key]=$(get sessions_per_sec)
  mbps[$key]=$(get mbytes_per_sec)
  lp99[$key]=$(get login_p99_ms)
  sp99[$key]=$(get session_p99_ms)
  errs[$key]="$(get failed_sessions)/$(get size_mismatches)"
  loadcpu[$key]=$(awk -v a="$c0" -v b="$c1" -v s="$(get seconds)" 'BEGIN { if (s > 0) printf "%.2f", (b - a) / s }')
  if [[ -n $msgs && $msgs -gt 0 ]]; then
    cpumsg[$key]=$(awk -v t=$((t1 - t0)) -v hz="$clk_tck" -v n="$msgs" 'BEGIN { printf "%.4f", t / hz / n * 1000 }')
  fi
  log "$mode c=$c $server: ${rate[$key]:-?} msgs/s ${srate[$key]:-?} sessions/s cpu ${cpumsg[$key]:-?} ms/msg failed/size_mismatch ${errs[$key]}"
  if [[ ${errs[$key]} != 0/0 ]]; then failed=1; grep 'failure' "$out.err" | head -n 3 >&2 || true; fi
}

for mode in $tls_modes; do
  for c in $clients_list; do
    for server in "${servers[@]}"; do run_row "$mode" "$c" "$server"; done
  done
done

# ---------------------------------------------------------------- report
ratio() { awk -v a="${1:-}" -v b="${2:-}" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.2fx", a / b }'; }
commit=${BENCH_COMMIT:-$(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo unknown)}
echo
echo "Run: date=$(date -u +%Y-%m-%dT%H:%M:%SZ) commit=$commit users=$nusers messages_per_user=$nmessages duration=${duration}s" \
     "pipelining=$pipelining ringmail_shards=$shards load_shards=$load_shards cpus=$(nproc) kernel=$(uname -r)" \
     "dovecot=$(dovecot --version | cut -d' ' -f1)"
((have_ringmail_pop3)) || echo "ringmail: not measured ('ringmail serve' has no --pop3_port yet)"
echo
echo "### POP3: connect, USER/PASS, STAT, LIST, UIDL, RETR all $nmessages, QUIT (no DELE)"
echo
echo "| TLS | clients | server | msgs/s | sessions/s | MB/s | login p99 ms | session p99 ms | server CPU ms / msg | load tool CPU s/s | failed sessions/size mismatches | ringmail/Dovecot msgs/s | Dovecot/ringmail CPU per msg |"
echo "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for mode in $tls_modes; do
  for c in $clients_list; do
    for server in "${servers[@]}"; do
      key="$mode:$c:$server"
      vs=""; cvs=""
      if [[ $server == ringmail ]]; then
        vs=$(ratio "${rate[$key]:-}" "${rate[$mode:$c:dovecot]:-}")
        cvs=$(ratio "${cpumsg[$mode:$c:dovecot]:-}" "${cpumsg[$key]:-}")
      fi
      name=$mode; [[ $mode == tls ]] && name="implicit TLS"
      echo "| $name | $c | $server | ${rate[$key]:--} | ${srate[$key]:--} | ${mbps[$key]:--} | ${lp99[$key]:--} |" \
           "${sp99[$key]:--} | ${cpumsg[$key]:--} | ${loadcpu[$key]:--} | ${errs[$key]:--} | $vs | $cvs |"
    done
  done
done
echo
echo "command: $load_bin ${load_common[*]} --port=PORT [--tls=implicit] --connections=C --duration=${duration}s"
((failed == 0)) || exit 1
