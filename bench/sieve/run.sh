#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Sieve at delivery, side by side (issue 14, "Benchmark"): LMTP delivery with a 50-rule
# user script (bench/sieve/rules.sieve: header, address and body tests, :regex, fileinto
# :create into 16 folders, addflag and :flags, a spam rule last) into Dovecot 2.3's LMTP with
# Pigeonhole running the same script, against ringmail's LMTP, on the same messages, on
# the same machine in one run. Prints a Markdown table with the commit measured.
#
#   bench/sieve/run.sh [build_dir]          (default build/release)
#
# Install (Debian 12): apt-get install -y dovecot-core dovecot-lmtpd dovecot-sieve python3
# Needs root (Dovecot starts as root and delivers as the 'mail' user), and in build_dir
# the targets ringmail, ringmail-admin and ringmail-load.
#
# Environment:
#   MESSAGES (10000)     messages per run
#   SESSIONS (20)        concurrent LMTP sessions (persistent: message after message)
#   USERS (50)           users user1..N@bench.test, each with the script active
#   REPEATS (3)          runs per server, alternating Dovecot, ringmail, Dovecot, ...
#   CORPUS (211)         distinct messages (bench/sieve/make_messages.py; prime, so each
#                        user gets a mix: ringmail-load sends file i mod CORPUS to user
#                        i mod USERS)
#   SHARDS (2)           ringmail --shards
#   RULES                the script to install (default bench/sieve/rules.sieve)
#   SHOW_USERS (3)       users whose folders are printed after the first run of each side
#   BASELINE (1)         1: after the measured runs, one run per server with no active
#                        script (the links removed): what the Sieve step costs each side
#   RINGMAIL_FLAGS       extra flags for `ringmail serve`
#   BENCH_DIR (/var/tmp) work files; a real disk (tmpfs is refused: fsync would be free)
#   KEEP (0)             1 keeps the work directory
#   LOAD_BIN             ringmail-load to use (default BUILD/tools/ringmail-load/ringmail-load)
#   BENCH_COMMIT         the commit to print (default: this checkout's HEAD, "+dirty" with
#                        changes), for a build_dir made from `git archive COMMIT`
#
# Where the script lives, the same on both sides (Pigeonhole's layout, which ringmail's
# delivery/sieve/script_store.h reads): <home>/sieve/rules.sieve, and <home>/.dovecot.sieve
# a symlink to it; home = the Maildir's parent, <mail_root>/bench.test/userN.
#   Dovecot:  protocols = lmtp, passdb static, userdb passwd-file with uid/gid mail and
#             the homes above, mail_location = maildir:~/Maildir, `mail_plugins = sieve`
#             for LMTP, `sieve = file:~/sieve;active=~/.dovecot.sieve` (the ISPmail
#             guide's set-up). Pigeonhole compiles the script on first use and keeps the
#             binary beside it (~/sieve/rules.svbin), so the runs load a compiled script,
#             as a production server does. Defaults otherwise (mail_fsync=optimized).
#   ringmail: `ringmail serve --lmtp_port=P --shards=SHARDS --spam_scan=false` (LMTP is
#             not scanned by default either), SQLite directory, users made with
#             ringmail-admin, --maildir_fsync=true (the default), the script files put in
#             place as above.
# The script is checked with Pigeonhole's sievec before anything runs. ringmail-admin has
# no Sieve check command, so ringmail's side is checked by the runs themselves: a script
# ringmail's checker refused would leave every message in INBOX, and the folder
# comparison below would fail.
#
# Warm-up (unmeasured): 4 messages per user to each server (Dovecot forks its lmtp and
# auth processes and compiles the script; ringmail compiles and caches it).
#
# Measured per run (client: ringmail-load --lmtp --messages_dir, one process, SESSIONS
# sessions; LMTP answers 250 per recipient only after the message is stored, so the
# client's time is the delivery time):
#   msgs/s      MESSAGES / client wall time
#   CPU ms/msg  server utime+stime per message, from /proc before and after the run: for
#               Dovecot every process under its master (lmtp, auth, config, log, anvil,
#               stats; with the cutime/cstime of reaped children), for ringmail its process
#   client CPU  CPU seconds of ringmail-load (it shares the two cores with the server)
# Checked per run: every message got 250 (ringmail-load exits 0), and the files that
# landed, counted per user and folder in the Maildirs (Maildir++: INBOX is new/ and cur/,
# folder F is .F/), are exactly the same for both servers in the same run number (the
# same messages to the same users). A run whose folders differ from Dovecot's is flagged
# in the table ("Sieve did not file as Pigeonhole") and the script exits 1: its figures
# are not a Sieve measurement. The flags (the Maildir ":2," suffix) are compared too
# and a difference is reported the same way.
# shellcheck disable=SC2317  # cleanup is reached through the EXIT trap
set -Eeuo pipefail
trap 'echo "bench/sieve: line $LINENO failed: $BASH_COMMAND" >&2' ERR

build=${1:-build/release}
messages=${MESSAGES:-10000}
sessions=${SESSIONS:-20}
nusers=${USERS:-50}
repeats=${REPEATS:-3}
corpus=${CORPUS:-211}
shards=${SHARDS:-2}
show_users=${SHOW_USERS:-3}
baseline=${BASELINE:-1}
bench_base=${BENCH_DIR:-/var/tmp}
keep=${KEEP:-0}
host=127.0.0.1
domain=bench.test

src_dir=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck disable=SC2034  # used by die (bench/lib/common.sh)
bench_name=bench/sieve
bench_host=$host
# shellcheck source=../lib/common.sh
. "$src_dir/bench/lib/common.sh"
# shellcheck source=../lib/dovecot.sh
. "$src_dir/bench/lib/dovecot.sh"
rules=${RULES:-$src_dir/bench/sieve/rules.sieve}

ringmail_bin=$build/tools/ringmail/ringmail
admin_bin=$build/tools/ringmail-admin/ringmail-admin
load_bin=${LOAD_BIN:-$build/tools/ringmail-load/ringmail-load}
for b in "$ringmail_bin" "$admin_bin" "$load_bin"; do
  [[ -x $b ]] || die "$b not found (ninja -C $build ringmail ringmail-admin ringmail-load)"
done
ringmail_bin=$(realpath "$ringmail_bin")
admin_bin=$(realpath "$admin_bin")
load_bin=$(realpath "$load_bin")
for tool in dovecot sievec python3; do
  command -v "$tool" >/dev/null ||
    die "$tool not found: apt-get install -y dovecot-core dovecot-lmtpd dovecot-sieve python3"
done
[[ -x /usr/lib/dovecot/lmtp ]] || die "Dovecot's LMTP server is missing: apt-get install -y dovecot-lmtpd"
compgen -G '/usr/lib/dovecot/modules/lib*_sieve_plugin.so' >/dev/null ||
  die "Pigeonhole is missing: apt-get install -y dovecot-sieve"
id mail >/dev/null 2>&1 || die "the 'mail' user is missing (Dovecot's deliveries run as it)"
((EUID == 0)) || die "run as root (Dovecot starts as root and drops privileges)"

mkdir -p "$bench_base"
require_real_disk "$bench_base"
work=$(mktemp -d "$bench_base/ringmail-sieve-bench.XXXXXX")
chmod 755 "$work"  # Dovecot's deliveries run as 'mail' and must reach the homes

clk_tck=$(getconf CLK_TCK)
dv=$work/dovecot
dv_mail=$dv/vmail
rm_data=$work/ringmail
rm_mail=$rm_data/vmail
ringmail_pid=""
dv_started=0
failed=0

stop_ringmail() {
  [[ -n $ringmail_pid ]] || return 0
  stop_pid "$ringmail_pid"
  wait "$ringmail_pid" 2>/dev/null || true
  ringmail_pid=""
}
cleanup() {
  stop_ringmail
  ((dv_started)) && dovecot_stop "$dv"
  if ((keep || failed)); then echo "work directory kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

users=()
for ((i = 1; i <= nusers; i++)); do users+=("user$i@$domain"); done

# ---------------------------------------------------------------- messages and script
python3 "$src_dir/bench/sieve/make_messages.py" "$work/messages" --messages "$corpus" --seed 1
# Pigeonhole must accept the script as it is (sievec exits non-zero on an error).
mkdir -p "$work/sievec"
printf 'mail_location = maildir:%s/sievec/Maildir\n' "$work" >"$work/sievec/dovecot.conf"
cp "$rules" "$work/sievec/rules.sieve"
sievec -c "$work/sievec/dovecot.conf" "$work/sievec/rules.sieve" "$work/sievec/rules.svbin" \
  >"$work/sievec/out" 2>&1 || { cat "$work/sievec/out" >&2; die "Pigeonhole's sievec rejects $rules"; }

# install_script HOME: the Pigeonhole layout, as ManageSieve would leave it.
install_script() {
  mkdir -p "$1/sieve"
  cp "$rules" "$1/sieve/rules.sieve"
  ln -sfn sieve/rules.sieve "$1/.dovecot.sieve"
}

# ---------------------------------------------------------------- Dovecot (private)
dv_lmtp=$(free_port) || die "no free port"
rm_lmtp=$(free_port) || die "no free port"
dovecot_conf_head "$dv" ringmail-bench-sieve lmtp
mail_uid=$(id -u mail)
mail_gid=$(id -g mail)
for u in "${users[@]}"; do
  home=$dv_mail/$domain/${u%@*}
  install_script "$home"
  echo "$u::$mail_uid:$mail_gid::$home::"
done >"$dv/users"
chown -R mail:mail "$dv_mail"
cat >>"$dv/dovecot.conf" <<EOF
# bench/sieve: LMTP with Pigeonhole, users with homes from a passwd-file.
first_valid_uid = $mail_uid
mail_location = maildir:~/Maildir
passdb {
  driver = static
  args = nopassword=y
}
userdb {
  driver = passwd-file
  args = $dv/users
}
protocol lmtp {
  mail_plugins = \$mail_plugins sieve
}
plugin {
  sieve = file:~/sieve;active=~/.dovecot.sieve
}
service lmtp {
  inet_listener lmtp {
    address = $host
    port = $dv_lmtp
  }
}
EOF

# ---------------------------------------------------------------- ringmail
mkdir -p "$rm_data"
"$admin_bin" --data_dir="$rm_data" domain add "$domain" >/dev/null || die "ringmail-admin domain add failed"
for u in "${users[@]}"; do
  echo pw | "$admin_bin" --data_dir="$rm_data" user add "$u" >/dev/null || die "ringmail-admin user add $u failed"
  install_script "$rm_mail/$domain/${u%@*}"
done
serve_help=$("$ringmail_bin" serve --helpfull 2>&1 || true)
ringmail_extra=()
read -r -a ringmail_extra <<<"${RINGMAIL_FLAGS:-}"
grep -q -- '--max_connections_per_ip' <<<"$serve_help" && ringmail_extra+=(--max_connections_per_ip=0)
sieve_flags=$(grep -o -- '--sieve[a-z_]*' <<<"$serve_help" | sort -u | tr '\n' ' ' || true)
log "ringmail's Sieve flags: ${sieve_flags:-none (no Sieve glue in this build: its folders will not match)}"

# ---------------------------------------------------------------- start both
dv_pid=$(dovecot_start "$dv") || die "dovecot did not start (see $dv/dovecot.log)"
dv_started=1
wait_port "$dv_lmtp" 10 || { tail -n 20 "$dv/dovecot.log" >&2; die "dovecot LMTP not listening"; }
"$ringmail_bin" serve --data_dir="$rm_data" --shards="$shards" --lmtp_port="$rm_lmtp" --smtp_port=0 \
  --imap_port=0 --imaps_port=0 --pop3_port=0 --pop3s_port=0 --submission_port=0 --submissions_port=0 \
  --listen_address="$host" --hostname="$domain" --spam_scan=false --log_level=warn \
  "${ringmail_extra[@]}" >>"$work/ringmail.log" 2>&1 &
ringmail_pid=$!
wait_port "$rm_lmtp" 30 || { tail -n 20 "$work/ringmail.log" >&2; die "ringmail did not open its LMTP port"; }
log "work directory $work: dovecot lmtp=$dv_lmtp (pid $dv_pid), ringmail lmtp=$rm_lmtp (pid $ringmail_pid)"

# ---------------------------------------------------------------- counting
# tally ROOT: "user folder flags count" for every message file under the Maildirs.
tally() {
  { find "$1/$domain" -type f \( -path '*/Maildir/new/*' -o -path '*/Maildir/cur/*' \
      -o -path '*/Maildir/.*/new/*' -o -path '*/Maildir/.*/cur/*' \) -printf '%P\n' 2>/dev/null || true; } |
    awk -F/ '{
      user = $1; folder = ($3 == "new" || $3 == "cur") ? "INBOX" : substr($3, 2)
      flags = ""; n = index($NF, ":2,"); if (n) flags = substr($NF, n + 3)
      count[user " " folder " " (flags == "" ? "-" : flags)]++
    } END { for (k in count) print k, count[k] }' | sort
}
# delta BEFORE AFTER: AFTER minus BEFORE, per key, zero rows dropped.
delta() {
  awk 'NR == FNR { before[$1 " " $2 " " $3] = $4; next }
       { k = $1 " " $2 " " $3; d = $4 - before[k]; if (d) print k, d }' "$1" "$2" | sort
}
# by_folder FILE: "user folder count" (flags summed).
by_folder() {
  awk '{ c[$1 " " $2] += $4 } END { for (k in c) print k, c[k] }' "$1" | sort
}

# ---------------------------------------------------------------- one run
declare -A rate cpu client_cpu secs note
# run_one SERVER(dovecot|ringmail) RUN [N]: N messages (default MESSAGES); RUN 0 is the
# warm-up, RUN "none" the run without a script.
run_one() {
  local server=$1 r=$2 n=${3:-$messages} port pid root key="$1:$2"
  if [[ $server == dovecot ]]; then port=$dv_lmtp; pid=$dv_pid; root=$dv_mail
  else port=$rm_lmtp; pid=$ringmail_pid; root=$rm_mail; fi
  local out=$work/run-$server-$r
  tally "$root" >"$out.before"
  local t0 t1 ticks0 ticks1 c0 c1 rc=0
  children_cpu c0
  ticks0=$(tree_ticks "$pid")
  t0=$(date +%s%N)
  "$load_bin" --lmtp --host="$host" --port="$port" --connections="$sessions" --messages="$n" \
    --messages_dir="$work/messages" --seed=1 --from=sender@client.test \
    "--recipients=$(IFS=,; echo "${users[*]}")" --progress=false --timeout=60s \
    >"$out.out" 2>"$out.err" || rc=$?
  t1=$(date +%s%N)
  ticks1=$(tree_ticks "$pid")
  children_cpu c1
  # Both answer after the store; give a straggling rename a moment before counting.
  sleep 0.5
  tally "$root" >"$out.after"
  delta "$out.before" "$out.after" >"$out.delta"
  by_folder "$out.delta" >"$out.folders"
  local got
  got=$(awk '{ s += $3 } END { print s + 0 }' "$out.folders")
  secs[$key]=$(awk -v ns=$((t1 - t0)) 'BEGIN { printf "%.2f", ns / 1e9 }')
  rate[$key]=$(awk -v n="$n" -v ns=$((t1 - t0)) 'BEGIN { printf "%.0f", n / (ns / 1e9) }')
  cpu[$key]=$(awk -v d=$((ticks1 - ticks0)) -v hz="$clk_tck" -v n="$n" 'BEGIN { printf "%.3f", d / hz / n * 1000 }')
  client_cpu[$key]=$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.2f", b - a }')
  if ((rc != 0)); then
    note[$key]="client exit $rc"
    grep -h 'failure' "$out.err" | head -n 3 >&2 || true
  fi
  ((got == n)) || note[$key]="${note[$key]:+${note[$key]}; }$got files for $n messages"
  [[ $r == 0 ]] || log "$server run $r: ${rate[$key]} msgs/s, ${cpu[$key]} ms CPU/msg, ${secs[$key]} s, client CPU ${client_cpu[$key]} s, $got files${note[$key]:+ (${note[$key]})}"
  [[ -z ${note[$key]:-} || $r == 0 ]] || failed=1
}

# Other work on the machine shows in both sides' figures; the report prints this.
load_at_start=$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' /)
# Warm-up, unmeasured; then both start the measured runs from the same state.
for server in dovecot ringmail; do run_one "$server" 0 $((4 * nusers)); done
log "warm-up done (dovecot ${rate[dovecot:0]} msgs/s, ringmail ${rate[ringmail:0]} msgs/s)"

declare -A same
for ((r = 1; r <= repeats; r++)); do
  for server in dovecot ringmail; do run_one "$server" "$r"; done
  # The same messages went to the same users: the folders must match Pigeonhole's.
  if cmp -s "$work/run-dovecot-$r.folders" "$work/run-ringmail-$r.folders"; then
    same[$r]=folders
  else
    same[$r]=""
    note[ringmail:$r]="${note[ringmail:$r]:+${note[ringmail:$r]}; }Sieve did not file as Pigeonhole"
    failed=1
  fi
  if cmp -s "$work/run-dovecot-$r.delta" "$work/run-ringmail-$r.delta"; then
    same[$r]+="${same[$r]:+ and }flags"
  else
    note[ringmail:$r]="${note[ringmail:$r]:+${note[ringmail:$r]}; }flags differ from Pigeonhole's"
  fi
done

# What the script costs each side (BASELINE=1): the .dovecot.sieve links removed, so
# neither has an active script; one run each. Dovecot stores everything in INBOX,
# ringmail too except what its default --sieve_after files into Junk (X-Spam-Flag: YES;
# with the script active the script's own spam rule has filed those first).
if ((baseline)); then
  for u in "${users[@]}"; do
    rm -f "$dv_mail/$domain/${u%@*}/.dovecot.sieve" "$rm_mail/$domain/${u%@*}/.dovecot.sieve"
  done
  for server in dovecot ringmail; do
    run_one "$server" none
    # ringmail's default --sieve_after (built in) files X-Spam-Flag: YES mail into Junk.
    if awk '$2 != "INBOX" && $2 != "Junk" { bad = 1 } END { exit !bad }' "$work/run-$server-none.folders"; then
      note[$server:none]="${note[$server:none]:+${note[$server:none]}; }filed outside INBOX and Junk without a script"
      failed=1
    fi
  done
fi

# ---------------------------------------------------------------- folders of a few users
folder_table() {  # RUN: per folder, the first SHOW_USERS users, Dovecot | ringmail
  local r=$1 u
  local -a shown=()
  for ((u = 1; u <= show_users && u <= nusers; u++)); do shown+=("user$u"); done
  echo
  echo "Files per folder in run $r, Dovecot / ringmail, for users ${shown[*]} and all $nusers users:"
  echo
  local head="| folder |" rule="|---|"
  for u in "${shown[@]}" all; do head+=" $u |"; rule+="---:|"; done
  echo "$head"
  echo "$rule"
  local folders
  folders=$(awk '{ print $2 }' "$work/run-dovecot-$r.folders" "$work/run-ringmail-$r.folders" | sort -u)
  local f line
  for f in $folders; do
    line="| $f |"
    for u in "${shown[@]}" all; do
      local a b
      a=$(awk -v u="$u" -v f="$f" '($1 == u || u == "all") && $2 == f { s += $3 } END { print s + 0 }' "$work/run-dovecot-$r.folders")
      b=$(awk -v u="$u" -v f="$f" '($1 == u || u == "all") && $2 == f { s += $3 } END { print s + 0 }' "$work/run-ringmail-$r.folders")
      line+=" $a / $b"
      [[ $a == "$b" ]] || line+=" (differs)"
      line+=" |"
    done
    echo "$line"
  done
  echo
  echo "Flags on the files of run $r, all users (Maildir ':2,' letters; '-' none): Dovecot | ringmail"
  echo
  echo "| flags | Dovecot | ringmail |"
  echo "|---|---:|---:|"
  local fl
  awk '{ print $3 }' "$work/run-dovecot-$r.delta" "$work/run-ringmail-$r.delta" | sort -u | while read -r fl; do
    echo "| $fl | $(awk -v f="$fl" '$3 == f { s += $4 } END { print s + 0 }' "$work/run-dovecot-$r.delta")" \
         "| $(awk -v f="$fl" '$3 == f { s += $4 } END { print s + 0 }' "$work/run-ringmail-$r.delta") |"
  done
}

# ---------------------------------------------------------------- report
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }
commit=${BENCH_COMMIT:-$(git_commit "$src_dir")}
echo
echo "Sieve at delivery: LMTP, $messages messages over $sessions sessions per run, $nusers users each with" \
     "${rules#"$src_dir"/} active, $corpus distinct messages (make_messages.py --seed 1)"
echo "measured at commit $commit, $(date -u +%Y-%m-%dT%H:%MZ); $("$ringmail_bin" --version 2>/dev/null | head -n 1)"
echo "ringmail_shards=$shards cpus=$(nproc) loadavg_start=$load_at_start loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' /)" \
     "kernel=$(uname -r) disk=$(stat -f -c %T "$work")" \
     "dovecot=$(dovecot --version | cut -d' ' -f1)" \
     "pigeonhole=$(dpkg-query -W -f '${Version}' dovecot-sieve 2>/dev/null || echo '?')"
echo
echo "| run | server | msgs/s | server CPU ms/msg | seconds | client CPU s | same as Dovecot | ringmail/Dovecot msgs/s | Dovecot/ringmail CPU | note |"
echo "|---:|---|---:|---:|---:|---:|---|---:|---:|---|"
for ((r = 1; r <= repeats; r++)); do
  for server in dovecot ringmail; do
    key=$server:$r
    vs="" cvs="" sm=""
    if [[ $server == ringmail ]]; then
      vs=$(awk -v a="${rate[$key]}" -v b="${rate[dovecot:$r]}" 'BEGIN { if (b > 0) printf "%.2fx", a / b }')
      cvs=$(awk -v a="${cpu[$key]}" -v b="${cpu[dovecot:$r]}" 'BEGIN { if (a > 0) printf "%.2fx", b / a }')
      sm=${same[$r]:-no}
    fi
    echo "| $r | $server | ${rate[$key]} | ${cpu[$key]} | ${secs[$key]} | ${client_cpu[$key]} | $sm | $vs | $cvs | ${note[$key]:-} |"
  done
done
if ((baseline)); then
  for server in dovecot ringmail; do
    key=$server:none
    vs="" cvs=""
    if [[ $server == ringmail ]]; then
      vs=$(awk -v a="${rate[$key]}" -v b="${rate[dovecot:none]}" 'BEGIN { if (b > 0) printf "%.2fx", a / b }')
      cvs=$(awk -v a="${cpu[$key]}" -v b="${cpu[dovecot:none]}" 'BEGIN { if (a > 0) printf "%.2fx", b / a }')
    fi
    echo "| no script | $server | ${rate[$key]} | ${cpu[$key]} | ${secs[$key]} | ${client_cpu[$key]} | | $vs | $cvs | ${note[$key]:-} |"
  done
fi
rates_d=() rates_r=() cpus_d=() cpus_r=()
for ((r = 1; r <= repeats; r++)); do
  rates_d+=("${rate[dovecot:$r]}"); rates_r+=("${rate[ringmail:$r]}")
  cpus_d+=("${cpu[dovecot:$r]}"); cpus_r+=("${cpu[ringmail:$r]}")
done
md=$(median "${rates_d[@]}") mr=$(median "${rates_r[@]}") cd=$(median "${cpus_d[@]}") cr=$(median "${cpus_r[@]}")
echo
echo "medians: Dovecot $md msgs/s, $cd ms CPU/msg; ringmail $mr msgs/s, $cr ms CPU/msg;" \
     "ringmail/Dovecot msgs/s $(awk -v a="$mr" -v b="$md" 'BEGIN { if (b > 0) printf "%.2fx", a / b }')," \
     "Dovecot/ringmail CPU per message $(awk -v a="$cr" -v b="$cd" 'BEGIN { if (a > 0) printf "%.2fx", b / a }') (target: >= 5x)"
if ((baseline)); then
  echo "the script's cost (median CPU per message with it minus the run without): Dovecot" \
       "$(awk -v a="$cd" -v b="${cpu[dovecot:none]}" 'BEGIN { printf "%.3f", a - b }') ms," \
       "ringmail $(awk -v a="$cr" -v b="${cpu[ringmail:none]}" 'BEGIN { printf "%.3f", a - b }') ms"
fi
folder_table 1
echo
echo "commands:"
echo "  $load_bin --lmtp --host=$host --port=PORT --connections=$sessions --messages=$messages --messages_dir=DIR --seed=1 --from=sender@client.test --recipients=user1..user$nusers@$domain"
echo "  $ringmail_bin serve --data_dir=DIR --shards=$shards --lmtp_port=P --listen_address=$host --hostname=$domain --spam_scan=false --log_level=warn ${ringmail_extra[*]}"
echo "  dovecot -c DIR/dovecot.conf (protocols = lmtp, mail_plugins = sieve, sieve = file:~/sieve;active=~/.dovecot.sieve)"
if ((failed)); then
  echo "some runs failed or did not file as Pigeonhole (see the notes); logs kept in $work" >&2
fi
exit "$failed"
