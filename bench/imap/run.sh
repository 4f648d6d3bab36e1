#!/usr/bin/env bash
# IMAP side by side with Dovecot 2.3 (issue 10, "Benchmark"): the same users, the same
# Maildirs (copies of one generated set), the same load tool (ringmail-load --mode=imap),
# on the same machine in one run. Prints Markdown tables with the commit measured.
#
#   bench/imap/run.sh [build_dir]          (default build/release)
#
# Needs root (Dovecot starts as root and drops to uid 65534 for mail), dovecot-core,
# dovecot-imapd and dovecot-lmtpd (apt-get install -y dovecot-core dovecot-imapd
# dovecot-lmtpd), python3, openssl, and in build_dir the targets ringmail, ringmail-admin
# and ringmail-load. While `ringmail serve` has no --imap_port the ringmail rows are
# skipped with a message and only Dovecot is measured (a dry run of the harness).
#
# Environment:
#   USERS (200) MESSAGES (500)   users user1..N@example.test, messages per INBOX
#                                (bench/mailstore/make_maildir.py, seed = user number)
#   CLIENTS ("10 100")           concurrent IMAP sessions, one row each
#   DURATION (20)                seconds per throughput run
#   MIX_LONG   (fetch_env:40,fetch_body:20,store:15,search:10,append:5,expunge:5,noop:5)
#   MIX_CYCLE  (fetch_env:1,fetch_body:1,store:1)  commands drawn per login cycle
#   CYCLE_COMMANDS (3)           commands per cycle between SELECT and LOGOUT
#   IDLE_SESSIONS (10000)        sessions held in IDLE (the issue's figure is 100,000:
#                                needs `ulimit -n` above it for this shell, 8 sources)
#   IDLE_SOURCES (8)             connect from 127.0.0.2 .. 127.0.0.(1+N)
#   DOVECOT_HIBERNATE (10)       Dovecot's imap_hibernate_timeout in seconds for the IDLE
#                                test (its documented set-up for many IDLE clients); 0 =
#                                off (one imap process per session held the whole time)
#   SHARDS (2)                   ringmail --shards and ringmail-load --shards
#   LOAD_SHARDS (1)              client threads of ringmail-load
#   RINGMAIL_IMAP_FLAGS          extra flags for `ringmail serve` (e.g. the flag that
#                                allows plaintext LOGIN on the plain port; if serve
#                                offers a flag named *plaintext* it is set to true)
#   SKIP (none)                  "throughput", "idle" to leave a part out
#   BENCH_DIR (/var/tmp)         work files; the generated Maildirs are kept in
#                                $BENCH_DIR/ringmail-imap-pristine-U-M and reused
#   KEEP (0)                     1 keeps the work directory
#   LOAD_BIN                     ringmail-load to use (default BUILD/tools/ringmail-load/ringmail-load)
#
# Measured:
#   cmds/s      OK commands per second of the whole run, all kinds (LOGIN, SELECT and
#               LOGOUT included), and per kind
#   p99 (ms)    per kind, as ringmail-load reports it (client-side, one command in
#               flight per session)
#   CPU s/1k    utime+stime per 1,000 commands of the server: for Dovecot every process
#               under its master (imap, imap-login, auth, anvil, config, stats, log; the
#               cutime/cstime of reaped children too: the imap processes of the cycle
#               mix exit and are reaped), for ringmail its process
#   IDLE        sessions idle, setup time, server memory once all are idle (and, for
#               Dovecot, after hibernation: RSS summed over its processes, and PSS, which
#               counts shared pages once), then one LMTP delivery per mailbox and the
#               delay from the start of each delivery to the session's EXISTS (p50, p99,
#               max, how many over one second, how many never came within 15 s)
# Both servers get the same order of runs on their own copy of the Maildirs, so each
# sees the same appends, expunges and flag changes before each row.
set -Eeuo pipefail
trap 'echo "bench/imap: line $LINENO failed: $BASH_COMMAND" >&2' ERR

build=${1:-build/release}
nusers=${USERS:-200}
nmessages=${MESSAGES:-500}
clients_list=${CLIENTS:-"10 100"}
duration=${DURATION:-20}
mix_long=${MIX_LONG:-fetch_env:40,fetch_body:20,store:15,search:10,append:5,expunge:5,noop:5}
mix_cycle=${MIX_CYCLE:-fetch_env:1,fetch_body:1,store:1}
cycle_commands=${CYCLE_COMMANDS:-3}
idle_sessions=${IDLE_SESSIONS:-10000}
idle_sources=${IDLE_SOURCES:-8}
hibernate=${DOVECOT_HIBERNATE:-10}
shards=${SHARDS:-2}
load_shards=${LOAD_SHARDS:-1}
skip=${SKIP:-}
bench_base=${BENCH_DIR:-/var/tmp}
keep=${KEEP:-0}
host=127.0.0.1
domain=example.test
src=$(cd "$(dirname "$0")/../.." && pwd)

die() { echo "bench/imap: $*" >&2; exit 1; }
log() { echo "[$(date +%T)] $*" >&2; }

ringmail_bin=$build/tools/ringmail/ringmail
admin_bin=$build/tools/ringmail-admin/ringmail-admin
load_bin=${LOAD_BIN:-$build/tools/ringmail-load/ringmail-load}
for b in "$ringmail_bin" "$admin_bin" "$load_bin"; do
  [[ -x $b ]] || die "$b not found (ninja -C $build ringmail ringmail-admin ringmail-load)"
done
ringmail_bin=$(realpath "$ringmail_bin"); admin_bin=$(realpath "$admin_bin"); load_bin=$(realpath "$load_bin")
for tool in dovecot doveadm python3 openssl; do
  command -v "$tool" >/dev/null || die "$tool not found: apt-get install -y dovecot-core dovecot-imapd dovecot-lmtpd python3 openssl"
done
[[ -x /usr/lib/dovecot/imap && -x /usr/lib/dovecot/lmtp ]] || die "apt-get install -y dovecot-imapd dovecot-lmtpd"
((EUID == 0)) || die "run as root (Dovecot starts as root and drops privileges)"

# ringmail with IMAP? (The lead is writing the server; until then only Dovecot runs.)
have_ringmail_imap=0
serve_help=$("$ringmail_bin" serve --helpfull 2>&1 || true)
if grep -q -- '--imap_port' <<<"$serve_help"; then
  have_ringmail_imap=1
else
  log "SKIP ringmail: '$ringmail_bin serve' has no --imap_port yet (no IMAP server); measuring Dovecot only"
fi
ringmail_extra=(${RINGMAIL_IMAP_FLAGS:-})
plain_flag=$(grep -o -- '--[a-z_]*plaintext[a-z_]*' <<<"$serve_help" | head -n 1 || true)
[[ -n $plain_flag ]] && ringmail_extra+=("$plain_flag=true")
grep -q -- '--max_connections_per_ip' <<<"$serve_help" && ringmail_extra+=(--max_connections_per_ip=0)
grep -q -- '--max_connections ' <<<"$serve_help" && ringmail_extra+=(--max_connections=0)

# The IDLE test needs a file descriptor per session on each side (plus Dovecot's own).
fd_limit=$(ulimit -n)
if ((fd_limit < idle_sessions + 1000)); then
  ulimit -n $((idle_sessions + 1000)) 2>/dev/null || true
  fd_limit=$(ulimit -n)
  if ((fd_limit < idle_sessions + 1000)); then
    log "ulimit -n is $fd_limit (hard $(ulimit -Hn)): IDLE_SESSIONS lowered from $idle_sessions to $((fd_limit - 1000))"
    idle_sessions=$((fd_limit - 1000))
  fi
fi

mkdir -p "$bench_base"
work=$(mktemp -d "$bench_base/ringmail-imap-bench.XXXXXX")
chmod 755 "$work"
pristine=$bench_base/ringmail-imap-pristine-$nusers-$nmessages
dv=$work/dovecot
rm_data=$work/ringmail
ringmail_pid=""
dv_started=0
inotify_old=""
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
  [[ -n $inotify_old ]] && echo "$inotify_old" >/proc/sys/fs/inotify/max_user_instances 2>/dev/null
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

# utime+stime+cutime+cstime (ticks) of process $1 and all its descendants (as bench/smtp).
tree_ticks() {
  { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v root="$1" '
    { pid = $1; line = $0; sub(/^.*\) /, "", line); split(line, f, " ")
      ppid[pid] = f[2]; ticks[pid] = f[12] + f[13] + f[14] + f[15] }
    END { total = 0
      for (p in ticks) { q = p
        for (d = 0; d < 64 && q != "" && q != 0 && q != 1; d++) { if (q == root) { total += ticks[p]; break }; q = ppid[q] } }
      print total }'
}
# "RSS_MB PSS_MB processes" of process $1 and its descendants.
tree_memory() {
  local root=$1 pids p rss=0 pss=0 n=0 v
  pids=$(ps -e -o pid=,ppid= | awk -v root="$root" '{ ppid[$1] = $2 } END {
    for (p in ppid) { q = p; for (d = 0; d < 64 && q != "" && q != 0 && q != 1; d++) { if (q == root) { print p; break }; q = ppid[q] } } }')
  for p in $pids; do
    v=$(awk '/^Rss:/ {r=$2} /^Pss:/ {s=$2} END {print r+0, s+0}' "/proc/$p/smaps_rollup" 2>/dev/null) || continue
    [[ -n $v ]] || continue
    rss=$((rss + ${v% *})); pss=$((pss + ${v#* })); n=$((n + 1))
  done
  echo "$((rss / 1024)) $((pss / 1024)) $n"
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
dv_imap=$(free_port); dv_imaps=$(free_port); dv_lmtp=$(free_port)
mkdir -p "$dv/run" "$dv/state"
cp -a "$pristine" "$dv/vmail"
chown -R 65534:65534 "$dv/vmail"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj /CN=localhost \
  -keyout "$dv/key.pem" -out "$dv/cert.pem" 2>/dev/null
# The same salted SSHA512 hash on both sides: logins cost a hash check on each.
hash=$(doveadm pw -s SSHA512 -p pw)
for u in "${users[@]}"; do echo "$u:$hash"; done >"$dv/passwd"
write_dovecot_conf() {  # HIBERNATE_SECONDS
  cat >"$dv/dovecot.conf" <<EOF
# Private Dovecot for bench/imap: IMAP (STARTTLS and IMAPS) and LMTP on loopback,
# passwd-file users with SSHA512 hashes, Maildir; defaults otherwise, except the limits a
# load of $idle_sessions sessions from one address needs.
base_dir = $dv/run
state_dir = $dv/state
log_path = $dv/dovecot.log
instance_name = ringmail-bench-imap
protocols = imap lmtp
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
mail_max_userip_connections = 1000000
default_process_limit = $((idle_sessions + 1000))
default_client_limit = $((idle_sessions + 1000))
passdb {
  driver = passwd-file
  args = $dv/passwd
}
userdb {
  driver = static
  args = uid=65534 gid=65534 home=$dv/vmail/%d/%n
}
service imap-login {
  inet_listener imap {
    port = $dv_imap
  }
  inet_listener imaps {
    port = $dv_imaps
    ssl = yes
  }
  # High-performance mode (Dovecot's documented set-up for many connections).
  service_count = 0
  process_min_avail = $(nproc)
}
service lmtp {
  inet_listener lmtp {
    address = $host
    port = $dv_lmtp
  }
}
service auth {
  client_limit = $((3 * idle_sessions + 3000))
}
service anvil {
  client_limit = $((3 * idle_sessions + 3000))
}
protocol imap {
  mail_max_userip_connections = 1000000
}
EOF
  if (($1 > 0)); then
    cat >>"$dv/dovecot.conf" <<EOF
imap_hibernate_timeout = ${1}s
service imap {
  unix_listener imap-master {
    user = \$default_internal_user
  }
}
service imap-hibernate {
  unix_listener imap-hibernate {
    mode = 0666
  }
}
EOF
  fi
}
write_dovecot_conf 0
# One inotify instance per imap process: above 128 (the default) Dovecot falls back to
# polling every 30 s and IDLE hears of nothing in time. Raised for the run, restored after.
cur=$(cat /proc/sys/fs/inotify/max_user_instances)
if ((cur < idle_sessions + 1000)); then
  inotify_old=$cur
  echo $((idle_sessions + 1000)) >/proc/sys/fs/inotify/max_user_instances ||
    log "cannot raise fs.inotify.max_user_instances ($cur): Dovecot's IDLE will poll every 30 s"
fi
dovecot -c "$dv/dovecot.conf" || die "dovecot did not start (see $dv/dovecot.log)"
dv_started=1
wait_port "$dv_imap" 10 || die "dovecot IMAP not listening"
dv_pid=$(tr -dc 0-9 <"$dv/run/master.pid")

# ---------------------------------------------------------------- ringmail
rm_imap=$(free_port); rm_imaps=$(free_port); rm_lmtp=$(free_port)
start_ringmail() {
  "$ringmail_bin" serve --data_dir="$rm_data" --shards="$shards" --smtp_port=0 --lmtp_port="$rm_lmtp" \
    --imap_port="$rm_imap" --imaps_port="$rm_imaps" --pop3_port=0 --pop3s_port=0 --submission_port=0 --submissions_port=0 --listen_address="$host" --hostname="$domain" \
    --log_level=warn "${ringmail_extra[@]}" >>"$work/ringmail.log" 2>&1 &
  ringmail_pid=$!
  wait_port "$rm_imap" 30 || { tail -n 20 "$work/ringmail.log" >&2; die "ringmail did not open its IMAP port"; }
}
if ((have_ringmail_imap)); then
  "$admin_bin" --data_dir="$rm_data" domain add "$domain" >/dev/null || die "ringmail-admin domain add failed"
  for u in "${users[@]}"; do
    echo pw | "$admin_bin" --data_dir="$rm_data" user add "$u" --scheme=SSHA512 >/dev/null 2>&1 ||
      echo pw | "$admin_bin" --data_dir="$rm_data" user add "$u" >/dev/null || die "ringmail-admin user add $u failed"
  done
  mkdir -p "$rm_data/vmail"
  cp -a "$pristine/$domain" "$rm_data/vmail/"
  start_ringmail
fi

# ---------------------------------------------------------------- throughput
declare -A rate p99 cpu1k detail errs
servers=(dovecot)
((have_ringmail_imap)) && servers+=(ringmail)

# run_throughput SHAPE(long|cycle) CLIENTS SERVER
run_throughput() {
  local shape=$1 c=$2 server=$3 port pid key="$1:$2:$3" t0 t1 out=$work/$1-$2-$3
  if [[ $server == dovecot ]]; then port=$dv_imap; pid=$dv_pid; else port=$rm_imap; pid=$ringmail_pid; fi
  local -a args=(--mode=imap --host="$host" --port="$port" --connections="$c" --shards="$load_shards"
                 --users_file="$work/users.txt" --duration="${duration}s" --progress=false --timeout=60s)
  if [[ $shape == cycle ]]; then
    args+=(--imap_cycle --imap_mix="$mix_cycle" --imap_cycle_commands="$cycle_commands")
  else
    args+=(--imap_mix="$mix_long")
  fi
  t0=$(tree_ticks "$pid")
  "$load_bin" "${args[@]}" >"$out.out" 2>"$out.err" || true
  t1=$(tree_ticks "$pid")
  local line; line=$(tail -n 1 "$out.out")
  get() { tr ' ' '\n' <<<"$line" | sed -n "s/^$1=//p"; }
  local ok; ok=$(get ok)
  rate[$key]=$(get cmds_per_sec)
  p99[$key]=$(get p99_ms)
  errs[$key]="$(get failed)/$(get session_errors)"
  if [[ -n $ok && $ok -gt 0 ]]; then
    cpu1k[$key]=$(awk -v t=$((t1 - t0)) -v hz="$clk_tck" -v n="$ok" 'BEGIN { printf "%.3f", t / hz / n * 1000 }')
  fi
  local k d=""
  for k in login select fetch_env fetch_body store search append expunge noop logout; do
    local r q; r=$(get "${k}_per_sec"); q=$(get "${k}_p99_ms")
    [[ -n $r ]] && d+="$k ${r}/s p99 ${q}; "
  done
  detail[$key]=$d
  log "$shape c=$c $server: ${rate[$key]:-?} cmds/s p99 ${p99[$key]:-?} ms cpu/1k ${cpu1k[$key]:-?} s failed/session_errors ${errs[$key]}"
  [[ ${errs[$key]} == 0/0 ]] || grep 'failure' "$out.err" | head -n 3 >&2 || true
}

if [[ $skip != *throughput* ]]; then
  for shape in cycle long; do
    for c in $clients_list; do
      for server in "${servers[@]}"; do run_throughput "$shape" "$c" "$server"; done
    done
  done
fi

# ---------------------------------------------------------------- IDLE
declare -A idle_line idle_mem
sources=$(seq -s, -f "127.0.0.%g" 2 $((1 + idle_sources)))
# run_idle SERVER: all sessions idle, memory sampled, one LMTP delivery per mailbox.
run_idle() {
  local server=$1 port tls_port lmtp pid hold=2 out=$work/idle-$1
  if [[ $server == dovecot ]]; then
    port=$dv_imap; tls_port=$dv_imaps; lmtp=$dv_lmtp; pid=$dv_pid
    ((hibernate > 0)) && hold=$((hibernate + 5))
  else
    port=$rm_imap; tls_port=$rm_imaps; lmtp=$rm_lmtp; pid=$ringmail_pid
  fi
  rm -f "$out.ready"
  "$load_bin" --mode=imap --imap_idle --host="$host" --port="$port" --tls_port="$tls_port" --tls_fraction=0.5 \
    --connections="$idle_sessions" --shards="$load_shards" --users_file="$work/users.txt" \
    --source_addresses="$sources" --deliver_port="$lmtp" --lmtp --deliver_connections=4 \
    --idle_hold="${hold}s" --idle_wait=15s --ready_file="$out.ready" --timeout=120s >"$out.out" 2>"$out.err" &
  local load_pid=$! i
  for ((i = 0; i < 12000; i++)); do [[ -s $out.ready ]] && break; kill -0 "$load_pid" 2>/dev/null || break; sleep 0.1; done
  sleep $((hold - 1))  # Dovecot: after hibernation
  idle_mem[$server]=$(tree_memory "$pid")
  wait "$load_pid" || true
  idle_line[$server]=$(tail -n 1 "$out.out")
  log "idle $server: memory (RSS_MB PSS_MB processes) ${idle_mem[$server]}; ${idle_line[$server]}"
}
if [[ $skip != *idle* ]]; then
  if ((hibernate > 0)); then
    write_dovecot_conf "$hibernate"
    doveadm -c "$dv/dovecot.conf" reload && sleep 2
  fi
  for server in "${servers[@]}"; do run_idle "$server"; done
fi

# ---------------------------------------------------------------- report
ratio() { awk -v a="${1:-}" -v b="${2:-}" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.2fx", a / b }'; }
commit=${BENCH_COMMIT:-$(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo unknown)}
echo
echo "Run: date=$(date -u +%Y-%m-%dT%H:%M:%SZ) commit=$commit users=$nusers messages_per_user=$nmessages duration=${duration}s" \
     "ringmail_shards=$shards load_shards=$load_shards cpus=$(nproc) kernel=$(uname -r) dovecot=$(dovecot --version | cut -d' ' -f1)"
((have_ringmail_imap)) || echo "ringmail: not measured ('ringmail serve' has no --imap_port yet)"
if [[ $skip != *throughput* ]]; then
  echo
  echo "### Commands per second (cycle: connect, LOGIN, SELECT, $cycle_commands of $mix_cycle, LOGOUT; long: $mix_long)"
  echo
  echo "| mix | clients | server | cmds/s | p99 ms (all) | server CPU s / 1k cmds | failed/session errors | ringmail/Dovecot | by kind |"
  echo "|---|---:|---|---:|---:|---:|---:|---:|---|"
  for shape in cycle long; do
    for c in $clients_list; do
      for server in "${servers[@]}"; do
        key="$shape:$c:$server"
        vs=""
        [[ $server == ringmail ]] && vs=$(ratio "${rate[$key]:-}" "${rate[$shape:$c:dovecot]:-}")
        echo "| $shape | $c | $server | ${rate[$key]:--} | ${p99[$key]:--} | ${cpu1k[$key]:--} | ${errs[$key]:--} | $vs | ${detail[$key]:-} |"
      done
    done
  done
fi
if [[ $skip != *idle* ]]; then
  echo
  echo "### $idle_sessions sessions in IDLE (half over IMAPS, from $idle_sources source addresses), one LMTP delivery per mailbox"
  echo
  echo "| server | idle | TLS | setup s | memory RSS MB | PSS MB | processes | EXISTS seen/expected | p50 ms | p99 ms | max ms | > 1 s |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  for server in "${servers[@]}"; do
    line=${idle_line[$server]:-}
    get() { tr ' ' '\n' <<<"$line" | sed -n "s/^$1=//p"; }
    read -r mr mp mn <<<"${idle_mem[$server]:-- - -}"
    name=$server
    [[ $server == dovecot ]] && ((hibernate > 0)) && name="dovecot (imap_hibernate_timeout=${hibernate}s)"
    echo "| $name | $(get idle_sessions) | $(get idle_tls) | $(get setup_seconds) | $mr | $mp | $mn |" \
         "$(get exists_seen)/$(get exists_expected) | $(get exists_p50_ms) | $(get exists_p99_ms) | $(get exists_max_ms) | $(get exists_late_1s) |"
  done
fi
echo
echo "commands: $load_bin --mode=imap --users_file=USERS --connections=C --duration=${duration}s [--imap_cycle --imap_mix=$mix_cycle | --imap_mix=$mix_long]"
echo "          $load_bin --mode=imap --imap_idle --connections=$idle_sessions --tls_fraction=0.5 --tls_port=IMAPS --source_addresses=$sources --deliver_port=LMTP --lmtp"
