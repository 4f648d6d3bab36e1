#!/usr/bin/env bash
# Side-by-side spam evaluation: SpamAssassin 4.0 (spamd), rspamd 3.4 and ringmail's
# built-in scanner on the SpamAssassin public corpus, same split, same machine, same run.
#
#   bench/spam/evaluate.sh [build_dir]        (default build/release)
#
# Split (fixed): Bayes is trained on easy-ham-1 (2500 ham) + spam-1 (500 spam); every
# system is measured on easy-ham-2 (1400 ham), hard-ham-1 (250 ham) and spam-2 (1396 spam).
#
# Environment:
#   CORPUS (build/corpus)   corpus directory; fetched with scripts/fetch-corpus.sh when absent
#   OUT (build/spam-eval)   results: <system>.tsv (one line per test message), <system>.meta,
#                           table.md (bench/spam/metrics.py's output); replaced on each run
#   SYSTEMS ("spamassassin rspamd ringmail")  which columns to run
#   JOBS (nproc)            spamd children, rspamd normal workers, parallel clients
#   LIMIT (0)               >0: only the first LIMIT messages of each TEST set (a quick
#                           run); training always uses the whole training sets
#   SA_COMPILED (auto)      1: load Rule2XSBody (sa-compile's compiled body rules) as
#                           Debian's sa-compile package does; 0: don't; auto: when
#                           /etc/spamassassin/sa-compile.pre and compiled rules exist
#   RINGMAIL_SCAN_FLAGS     extra flags for `ringmail-admin spam scan`
#   KEEP (0)                1 keeps the work directory (configs, daemon logs, raw replies)
#
# Everything runs privately on 127.0.0.1 (nothing under /etc is read for configuration
# except the packages' stock rule and module files, nothing is changed there, running
# system services are neither used nor touched; every daemon started here is stopped on
# exit, also on errors and Ctrl-C):
#   SpamAssassin: own siteconfig dir (the stock *.pre plugin lists copied from
#     /etc/spamassassin, plus a local.cf: required_score 5, use_bayes 1, bayes_auto_learn 0,
#     bayes_auto_expire 0, private bayes_path, skip_rbl_checks 1, use_razor2 0, use_pyzor 0,
#     dns_available no), stock rules from /usr/share/spamassassin (-C, so rules from an
#     sa-update run are not picked up), HOME in the work dir. Trained with
#     `sa-learn -L --spam|--ham DIR`; scanned by `spamd -L -x` (local tests only, no user
#     config) on a private port with JOBS preforked children, through `spamc -x -E -R`
#     (JOBS clients in parallel, xargs -P). Verdict: spamc's exit code (1 = spam, i.e.
#     score >= required_score 5); score: the first line of the report.
#   rspamd: own top-level config (stock common.conf/options/workers from /etc/rspamd,
#     LOCAL_CONFDIR/DBDIR/RUNDIR/LOGDIR in the work dir), one controller and JOBS normal
#     workers on private ports, a private redis-server on a loopback port (no persistence)
#     as the Bayes backend (classifier-bayes.conf backend=redis, stock min_learns 200).
#     Modules that need the network are disabled (listed at rspamd_disabled_modules
#     below); remote maps of the modules kept are pointed at the local copies the package
#     ships as their fallbacks; the resolver points at a closed loopback port, so a stray
#     lookup fails at once and never leaves the machine (the log's "dns req" counts are
#     summed into the meta file). Trained with `rspamc learn_spam|learn_ham` with the
#     header `Learn-Type: bulk` (without it rspamd skips messages its Bayes already
#     classifies with >95% certainty; bulk makes it learn every file, as sa-learn does).
#     Scanned with rspamc (-n 2*JOBS parallel requests). Verdict: the action rspamd picks
#     ("add header", "rewrite subject" or "reject" = spam, i.e. score >= 6, the stock
#     add_header threshold; "greylist"/"no action" = ham).
#   ringmail: `ringmail-admin --data_dir=DIR spam learn --spam|--ham DIR` then
#     `ringmail-admin --data_dir=DIR spam scan --spam_threads=1 FILES...` (stock rules
#     from /usr/share/spamassassin by default), which prints `score<TAB>Yes|No<TAB>path`
#     per message and `scanned=N wall_seconds=W cpu_seconds=C` on stderr. Skipped, with a
#     message, when the binary or the subcommand is not there yet.
#
# Throughput is messages per CPU-second (one core busy for one second), measured over the
# scan of the test sets only (daemons already up, warmed up on a few training messages):
#   spamd:  utime+stime of the spamd master and all its children, from /proc/<pid>/stat
#           before and after the scan; cutime/cstime of the master carry the CPU of
#           children that exited in between (spamd respawns a child every 200 messages).
#   rspamd: the same over the rspamd main process tree (normal workers, controller,
#           hs_helper) plus the private redis-server (its Bayes storage: SpamAssassin's
#           and ringmail's Bayes live inside their own processes).
#   ringmail: the cpu_seconds its scan reports (all threads, scanning only); the whole
#           process's CPU including start-up (rules, Bayes DB) is kept in the meta file.
# The clients (spamc, rspamc) are not counted for anyone. Wall time is reported too.

# shellcheck disable=SC2317  # cleanup and the stop functions run from the EXIT trap
set -Eeuo pipefail
trap 'echo "bench/spam: line $LINENO failed: $BASH_COMMAND" >&2' ERR

build=${1:-build/release}
corpus=${CORPUS:-build/corpus}
out=${OUT:-build/spam-eval}
systems=${SYSTEMS:-"spamassassin rspamd ringmail"}
jobs=${JOBS:-$(nproc)}
limit=${LIMIT:-0}
sa_compiled=${SA_COMPILED:-auto}
keep=${KEEP:-0}
host=127.0.0.1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

train_sets=(easy-ham-1 spam-1)
test_sets=(easy-ham-2 hard-ham-1 spam-2)

die() {
  echo "bench/spam: $*" >&2
  exit 1
}
log() { echo "[$(date +%T)] $*" >&2; }

[[ $jobs =~ ^[1-9][0-9]*$ ]] || die "JOBS must be a positive integer"
[[ $limit =~ ^[0-9]+$ ]] || die "LIMIT must be a number"

if [[ ! -f $corpus/.complete ]]; then
  "$repo/scripts/fetch-corpus.sh" "$corpus"
fi
corpus=$(realpath "$corpus")
for set in "${train_sets[@]}" "${test_sets[@]}"; do
  [[ -d $corpus/$set ]] || die "$corpus/$set missing (scripts/fetch-corpus.sh $corpus)"
done
mkdir -p "$out"
out=$(realpath "$out")

work=$(mktemp -d "${TMPDIR:-/tmp}/ringmail-spam-eval.XXXXXX")
# spamd and rspamd drop root for nobody/_rspamd and must reach their files in here.
chmod 755 "$work"
clk_tck=$(getconf CLK_TCK)
failed=1
daemon_pids=()  # stopped in reverse order at exit
client_pid=""

# Every descendant of $1 (children, grandchildren, ...), from /proc.
descendants() {
  { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v root="$1" '
    {
      pid = $1; line = $0; sub(/^.*\) /, "", line); split(line, f, " "); ppid[pid] = f[2]
    }
    END {
      for (p in ppid) {
        q = ppid[p]
        for (depth = 0; depth < 64 && q != "" && q > 1; depth++) {
          if (q == root) { print p; break }
          q = ppid[q]
        }
      }
    }'
}

# TERM to $1, up to 10 s for it and its descendants to go, then KILL for what is left.
stop_tree() {
  local pid=$1 kids i
  kill -0 "$pid" 2>/dev/null || return 0
  kids=$(descendants "$pid")
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  # shellcheck disable=SC2086  # one pid per word
  kill -KILL "$pid" $kids 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# Drops $1 from daemon_pids once it has been stopped.
forget_pid() {
  local kept=() p
  for p in "${daemon_pids[@]}"; do
    [[ $p == "$1" ]] || kept+=("$p")
  done
  daemon_pids=("${kept[@]}")
}

cleanup() {
  local i
  [[ -n $client_pid ]] && stop_tree "$client_pid"
  for ((i = ${#daemon_pids[@]} - 1; i >= 0; i--)); do
    stop_tree "${daemon_pids[i]}"
  done
  daemon_pids=()
  if ((keep || failed)); then
    echo "bench/spam: work directory kept: $work" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
# An interrupted run is not a failure to debug: its work directory goes too.
trap 'failed=0; exit 130' INT TERM

# Runs "$@" in the background and waits, so INT/TERM reach the trap at once.
run_client() {
  "$@" &
  client_pid=$!
  local rc=0
  wait "$client_pid" || rc=$?
  client_pid=""
  return "$rc"
}

# A TCP port nobody listens on, below the ephemeral range.
used_ports=" "
free_port() {
  local port i
  for ((i = 0; i < 200; i++)); do
    port=$((20000 + RANDOM % 12000))
    [[ $used_ports == *" $port "* ]] && continue
    if [[ -z $(ss -Htuln "sport = :$port" 2>/dev/null) ]] &&
       ! (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then
      used_ports+="$port "
      echo "$port"
      return 0
    fi
  done
  return 1
}

# Waits (at most $2 s) until something accepts on port $1, failing early if the daemon
# $3 died.
wait_port() {
  local port=$1 limit=$2 pid=$3 i
  for ((i = 0; i < limit * 10; i++)); do
    (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# utime+stime+cutime+cstime in clock ticks, summed over the processes $@ and all their
# descendants (cutime/cstime: children that exited and were reaped in between).
tree_ticks() {
  local roots="$*"
  { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v roots="$roots" '
    BEGIN { n = split(roots, r, " "); for (i = 1; i <= n; i++) isroot[r[i]] = 1 }
    {
      pid = $1; line = $0; sub(/^.*\) /, "", line); split(line, f, " ")
      ppid[pid] = f[2]; ticks[pid] = f[12] + f[13] + f[14] + f[15]
    }
    END {
      total = 0
      for (p in ticks) {
        q = p
        for (depth = 0; depth < 64 && q != "" && q > 1; depth++) {
          if (q in isroot) { total += ticks[p]; break }
          q = ppid[q]
        }
      }
      print total
    }'
}

now() { date +%s.%N; }
# xargs' default command-line limit is 128 KiB; the test list is ~250 KiB of paths.
xargs_max=$(($(getconf ARG_MAX) - 262144))
seconds_between() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
ticks_to_seconds() { awk -v t="$1" -v hz="$clk_tck" 'BEGIN { printf "%.3f", t / hz }'; }

# The test messages, one path a line, set by set (the first LIMIT of each when set).
lists=$work/lists
mkdir -p "$lists"
: >"$lists/test"
for set in "${test_sets[@]}"; do
  find "$corpus/$set" -maxdepth 1 -type f -name '*.txt' | sort >"$lists/$set"
  if ((limit > 0)); then
    head -n "$limit" "$lists/$set" >"$lists/$set.tmp"
    mv "$lists/$set.tmp" "$lists/$set"
  fi
  cat "$lists/$set" >>"$lists/test"
done
test_count=$(wc -l <"$lists/test")
# Warm-up messages (not measured): a few from the training sets, so every worker has
# loaded its Bayes data and compiled whatever it compiles lazily.
find "$corpus/spam-1" "$corpus/easy-ham-1" -maxdepth 1 -type f -name '*.txt' | sort |
  awk 'NR % 97 == 1' | head -n $((4 * jobs)) >"$lists/warmup"

# Writes <out>/<system>.meta from key=value arguments.
write_meta() {
  local system=$1
  shift
  printf '%s\n' "system=$system" "$@" >"$out/$system.meta"
}

as_root=0
((EUID == 0)) && as_root=1

# ------------------------------------------------------------------ SpamAssassin
run_spamassassin() {
  local tool
  for tool in spamd spamc sa-learn; do
    command -v "$tool" >/dev/null ||
      { echo "bench/spam: $tool not found (apt-get install spamassassin spamd spamc); skipping SpamAssassin" >&2; return 0; }
  done
  local sa=$work/spamassassin site=$work/spamassassin/site
  mkdir -p "$site" "$sa/home" "$sa/bayes"
  local pre compiled_note="no"
  for pre in /etc/spamassassin/*.pre; do
    [[ $(basename "$pre") == sa-compile.pre ]] && continue
    cp "$pre" "$site/"
  done
  # Rule2XSBody: Debian's sa-compile package compiles the body rules into a shared object
  # and loads it from sa-compile.pre; use it when this machine has it (or SA_COMPILED=1).
  if [[ $sa_compiled == 1 ||
        ($sa_compiled == auto && -f /etc/spamassassin/sa-compile.pre &&
         -n $(find /var/lib/spamassassin/compiled -name '*.so' -print -quit 2>/dev/null)) ]]; then
    echo 'loadplugin Mail::SpamAssassin::Plugin::Rule2XSBody' >"$site/sa-compile.pre"
    compiled_note="yes"
  fi
  cat >"$site/local.cf" <<EOF
# Private configuration for bench/spam/evaluate.sh: stock rules, Bayes on (trained by
# sa-learn only), every network test off.
required_score 5
use_bayes 1
bayes_auto_learn 0
bayes_auto_expire 0
bayes_path $sa/bayes/bayes
skip_rbl_checks 1
use_razor2 0
use_pyzor 0
dns_available no
EOF
  local sa_args=(--siteconfigpath="$site" -C /usr/share/spamassassin)
  local t0 t1 train_wall
  log "SpamAssassin: training Bayes (sa-learn) on spam-1 and easy-ham-1"
  t0=$(now)
  HOME=$sa/home sa-learn -L "${sa_args[@]}" --prefspath="$sa/home/user_prefs" \
    --spam "$corpus/spam-1" >"$sa/learn-spam.out" 2>&1 || { cat "$sa/learn-spam.out" >&2; die "sa-learn --spam failed"; }
  HOME=$sa/home sa-learn -L "${sa_args[@]}" --prefspath="$sa/home/user_prefs" \
    --ham "$corpus/easy-ham-1" >"$sa/learn-ham.out" 2>&1 || { cat "$sa/learn-ham.out" >&2; die "sa-learn --ham failed"; }
  t1=$(now)
  train_wall=$(seconds_between "$t0" "$t1")
  local nspam nham
  nspam=$(HOME=$sa/home sa-learn "${sa_args[@]}" --prefspath="$sa/home/user_prefs" --dump magic 2>/dev/null |
    awk '/non-token data: nspam/ { print $3 }')
  nham=$(HOME=$sa/home sa-learn "${sa_args[@]}" --prefspath="$sa/home/user_prefs" --dump magic 2>/dev/null |
    awk '/non-token data: nham/ { print $3 }')
  log "SpamAssassin: learned $nspam spam, $nham ham in ${train_wall}s"

  local user_args=()
  if ((as_root)); then
    # spamd will not scan as root; its children run as nobody and must write the Bayes
    # journal (token access times) next to the database.
    chown -R nobody "$sa/bayes" "$sa/home"
    user_args=(-u nobody)
  fi
  local port pid
  port=$(free_port) || die "no free port"
  HOME=$sa/home spamd -L -x "${user_args[@]}" -H "$sa/home" "${sa_args[@]}" \
    -i "$host:$port" -A 127.0.0.1 \
    --min-children="$jobs" --max-children="$jobs" --min-spare=1 --max-spare="$jobs" \
    -s "$sa/spamd.log" >"$sa/spamd.out" 2>&1 &
  pid=$!
  daemon_pids+=("$pid")
  log "SpamAssassin: spamd pid $pid on $host:$port, $jobs children; waiting for it"
  wait_port "$port" 120 "$pid" || { tail -n 20 "$sa/spamd.out" >&2; die "spamd did not come up in 120 s"; }

  # One client process per batch of messages; each writes its own raw file:
  # "@@@ <exit code> <path>" followed by spamc's report.
  local raw=$sa/raw
  mkdir -p "$raw"
  # shellcheck disable=SC2016  # expanded by the inner bash
  local client='
    for f; do
      out=$(spamc -d "$SA_HOST" -p "$SA_PORT" -x -E -R -s 100000000 -t 120 <"$f" 2>&1)
      rc=$?
      printf "@@@ %d %s\n%s\n" "$rc" "$f" "$out"
    done >>"$SA_RAW/part.$SLOT"'
  export SA_HOST=$host SA_PORT=$port SA_RAW=$raw
  run_client xargs -a "$lists/warmup" -d '\n' -P "$jobs" -n 4 --process-slot-var=SLOT \
    bash -c "$client" _
  rm -f "$raw"/part.*

  log "SpamAssassin: scanning $test_count test messages ($jobs parallel spamc clients)"
  local ticks0 ticks1 cpu wall
  ticks0=$(tree_ticks "$pid")
  t0=$(now)
  run_client xargs -a "$lists/test" -d '\n' -P "$jobs" -n 16 --process-slot-var=SLOT \
    bash -c "$client" _
  t1=$(now)
  ticks1=$(tree_ticks "$pid")
  kill -0 "$pid" 2>/dev/null || die "spamd died during the scan (see $sa/spamd.out)"
  cpu=$(ticks_to_seconds $((ticks1 - ticks0)))
  wall=$(seconds_between "$t0" "$t1")

  # Score from "score/threshold" (the first line), rule names from the table after the
  # "---- ----" line of the report; exit code 0 = ham, 1 = spam, anything else = error.
  cat "$raw"/part.* | awk -v OFS='\t' '
    function flush() {
      if (path == "") return
      n = split(path, parts, "/"); set = parts[n - 1]
      verdict = rc == 1 ? "Yes" : rc == 0 ? "No" : "Error"
      if (verdict == "Error") score = "nan"
      print set, score, verdict, path, rules
    }
    /^@@@ / {
      flush()
      rc = $2; path = $0; sub(/^@@@ [0-9]+ /, "", path)
      score = ""; rules = ""; state = 1; next
    }
    state == 1 { split($0, s, "/"); score = s[1]; state = 2; next }
    state == 2 && /^---- / { state = 3; next }
    state == 3 && match($0, /^ *-?[0-9]+\.[0-9]+ +[A-Z0-9_]+/) {
      split(substr($0, RSTART, RLENGTH), w, " ")
      rules = rules == "" ? w[2] : rules "," w[2]
    }
    END { flush() }' | sort -t $'\t' -k4,4 >"$out/spamassassin.tsv"

  local scanned
  scanned=$(wc -l <"$out/spamassassin.tsv")
  ((scanned == test_count)) || die "SpamAssassin: $scanned results for $test_count messages"
  write_meta spamassassin \
    "label=SpamAssassin $(spamassassin --version 2>/dev/null | awk 'NR == 1 { print $3 }') (spamd)" \
    "scanned=$scanned" "wall_seconds=$wall" "cpu_seconds=$cpu" \
    "cpu_scope=spamd master + $jobs children (/proc utime+stime+cutime+cstime)" \
    "parallelism=$jobs spamd children, $jobs spamc clients" \
    "threshold=required_score 5 (spamc exit code)" \
    "compiled_body_rules=$compiled_note" \
    "learned_spam=$nspam" "learned_ham=$nham" "train_wall_seconds=$train_wall"
  log "SpamAssassin: $scanned messages, ${wall}s wall, ${cpu}s spamd CPU"
  stop_tree "$pid"
  forget_pid "$pid"
}

# ------------------------------------------------------------------ rspamd
# Modules that query DNS or other hosts, or keep per-sender state in redis (which would
# make the result depend on scan order), all off. Kept: the local rules (regexp, Lua
# rules, chartable, hfilter's local checks, mime_types, mid, phishing's link checks,
# maillist, forged_recipients, force_actions, ...) and Bayes.
rspamd_disabled_modules=(
  rbl surbl emails dkim dkim_signing arc dmarc spf asn fuzzy_check multimap whitelist
  neural ratelimit greylist replies history_redis reputation url_redirector mx_check bimi
  dcc antivirus external_services clickhouse elastic metadata_exporter metric_exporter p0f
  spamtrap rspamd_update aws_s3
  # once_received: without a hostname from the MTA it looks up the PTR of the IP it takes
  # from the Received headers; offline that fails after the timeout and adds RDNS_NONE
  # (+1) to nearly every message, a network-failure artefact, not a local rule.
  once_received
)

run_rspamd() {
  local tool
  for tool in rspamd rspamc redis-server; do
    command -v "$tool" >/dev/null ||
      { echo "bench/spam: $tool not found (apt-get install rspamd redis-server); skipping rspamd" >&2; return 0; }
  done
  local rs=$work/rspamd
  local conf=$rs/etc rundir=$rs/run dbdir=$rs/db logdir=$rs/log
  mkdir -p "$conf/local.d" "$conf/override.d" "$rundir" "$dbdir" "$logdir" "$rs/redis"
  local normal_port controller_port redis_port dns_port
  normal_port=$(free_port) || die "no free port"
  controller_port=$(free_port) || die "no free port"
  redis_port=$(free_port) || die "no free port"
  dns_port=$(free_port) || die "no free port"

  cat >"$rs/rspamd.conf" <<EOF
# Private top-level configuration for bench/spam/evaluate.sh: the stock pieces from
# \$CONFDIR (/etc/rspamd), private workers and paths.
.include "\$CONFDIR/common.conf"
options {
    pidfile = "\$RUNDIR/rspamd.pid";
    .include "\$CONFDIR/options.inc"
    .include(try=true; priority=1,duplicate=merge) "\$LOCAL_CONFDIR/local.d/options.inc"
    .include(try=true; priority=10) "\$LOCAL_CONFDIR/override.d/options.inc"
}
logging {
    type = "file";
    filename = "\$LOGDIR/rspamd.log";
    .include "\$CONFDIR/logging.inc"
}
worker "normal" {
    bind_socket = "$host:$normal_port";
    count = $jobs;
    .include "\$CONFDIR/worker-normal.inc"
}
worker "controller" {
    bind_socket = "$host:$controller_port";
    count = 1;
    .include "\$CONFDIR/worker-controller.inc"
}
EOF
  cat >"$conf/local.d/classifier-bayes.conf" <<EOF
backend = "redis";
servers = "$host:$redis_port";
EOF
  # Nothing listens on dns_port: any lookup a kept module still tries fails at once.
  cat >"$conf/override.d/options.inc" <<EOF
dns {
  nameserver = ["$host:$dns_port"];
  timeout = 0.2s;
  retransmits = 1;
}
EOF
  local m
  for m in "${rspamd_disabled_modules[@]}"; do
    echo 'enabled = false;' >"$conf/override.d/$m.conf"
  done
  # hfilter: only the checks that need no DNS (HELO/hostname/from/rcpt ones resolve).
  printf '%s\n' 'helo_enabled = false;' 'hostname_enabled = false;' 'from_enabled = false;' \
    'rcpt_enabled = false;' >"$conf/override.d/hfilter.conf"
  # The shipped local copies of the maps these modules would otherwise download.
  cat >"$conf/override.d/phishing.conf" <<'EOF'
phishtank_enabled = false;
openphish_enabled = false;
exceptions = {
  REDIRECTOR_FALSE = ["${CONFDIR}/maps.d/redirectors.inc"];
};
EOF
  # shellcheck disable=SC2016  # ${CONFDIR} is rspamd's variable
  echo 'file = ["${CONFDIR}/maps.d/mime_types.inc"];' >"$conf/override.d/mime_types.conf"
  # shellcheck disable=SC2016
  echo 'source = { url = ["${CONFDIR}/maps.d/mid.inc"]; };' >"$conf/override.d/mid.conf"

  local user_args=()
  if ((as_root)); then
    id _rspamd >/dev/null 2>&1 || die "the _rspamd user is missing (reinstall rspamd)"
    chown -R _rspamd:_rspamd "$rundir" "$dbdir" "$logdir"
    user_args=(-u _rspamd -g _rspamd)
  fi

  local redis_pid rspamd_pid
  redis-server --port "$redis_port" --bind "$host" --save '' --appendonly no \
    --dir "$rs/redis" --logfile "$rs/redis.log" --daemonize no >/dev/null 2>&1 &
  redis_pid=$!
  daemon_pids+=("$redis_pid")
  wait_port "$redis_port" 30 "$redis_pid" || { tail -n 20 "$rs/redis.log" >&2; die "redis-server did not come up in 30 s"; }

  rspamd -f -c "$rs/rspamd.conf" "${user_args[@]}" \
    --var="LOCAL_CONFDIR=$conf" --var="DBDIR=$dbdir" --var="RUNDIR=$rundir" \
    --var="LOGDIR=$logdir" >"$rs/rspamd.out" 2>&1 &
  rspamd_pid=$!
  daemon_pids+=("$rspamd_pid")
  log "rspamd: pid $rspamd_pid, normal $host:$normal_port x$jobs, controller $host:$controller_port, redis $redis_port; waiting for it"
  wait_port "$normal_port" 120 "$rspamd_pid" || { tail -n 20 "$rs/rspamd.out" "$logdir/rspamd.log" >&2; die "rspamd did not come up in 120 s"; }
  wait_port "$controller_port" 30 "$rspamd_pid" || die "rspamd's controller did not come up"
  # hs_helper compiles the Hyperscan databases after start; workers scan without them
  # (slower) until they load them. Wait (at most 180 s) until every normal worker has.
  local i loaded=0
  for ((i = 0; i < 1800; i++)); do
    loaded=$(grep -c '(normal).*hyperscan database of .* has been loaded' "$logdir/rspamd.log" 2>/dev/null || true)
    ((loaded >= jobs)) && break
    kill -0 "$rspamd_pid" 2>/dev/null || die "rspamd died during start-up (see $rs/rspamd.out)"
    sleep 0.1
  done
  ((loaded >= jobs)) || log "rspamd: warning: Hyperscan databases not loaded after 180 s; going on"

  local t0 t1 train_wall kind dir
  log "rspamd: training Bayes (rspamc learn_spam/learn_ham, Learn-Type: bulk)"
  t0=$(now)
  for kind in spam ham; do
    if [[ $kind == spam ]]; then dir=$corpus/spam-1; else dir=$corpus/easy-ham-1; fi
    # One request at a time: in parallel, two copies of a message (the training sets
    # hold a few) can both pass the "already learned" check, making counts vary by run.
    run_client rspamc -h "$host:$controller_port" -t 120 -n 1 \
      --header 'Learn-Type: bulk' "learn_$kind" "$dir" >"$rs/learn-$kind.out" 2>&1 ||
      { tail -n 20 "$rs/learn-$kind.out" >&2; die "rspamc learn_$kind failed"; }
  done
  t1=$(now)
  train_wall=$(seconds_between "$t0" "$t1")
  local nspam nham
  nspam=$(grep -c 'success = true' "$rs/learn-spam.out" || true)
  nham=$(grep -c 'success = true' "$rs/learn-ham.out" || true)
  log "rspamd: learned $nspam spam, $nham ham in ${train_wall}s"
  ((nspam >= 200 && nham >= 200)) || die "rspamd learned too few messages (min_learns is 200); see $rs/learn-*.out"

  run_client xargs -a "$lists/warmup" -d '\n' rspamc -h "$host:$normal_port" -t 120 \
    -n "$((2 * jobs))" >/dev/null 2>&1 || true

  log "rspamd: scanning $test_count test messages (rspamc -n $((2 * jobs)))"
  local ticks0 ticks1 cpu wall redis0 redis1
  ticks0=$(tree_ticks "$rspamd_pid" "$redis_pid")
  redis0=$(tree_ticks "$redis_pid")
  t0=$(now)
  # rspamc takes many files per call (one call unless the list exceeds ARG_MAX).
  run_client xargs -a "$lists/test" -d '\n' -s "$xargs_max" \
    rspamc -h "$host:$normal_port" -t 120 -n "$((2 * jobs))" >"$rs/scan.out" 2>"$rs/scan.err" ||
    { tail -n 20 "$rs/scan.err" >&2; die "rspamc failed"; }
  t1=$(now)
  ticks1=$(tree_ticks "$rspamd_pid" "$redis_pid")
  redis1=$(tree_ticks "$redis_pid")
  kill -0 "$rspamd_pid" 2>/dev/null || die "rspamd died during the scan (see $rs/rspamd.out)"
  cpu=$(ticks_to_seconds $((ticks1 - ticks0)))
  wall=$(seconds_between "$t0" "$t1")

  awk -v OFS='\t' '
    function flush() {
      if (path == "") return
      n = split(path, parts, "/"); set = parts[n - 1]
      if (action == "") verdict = "Error"
      else verdict = (action == "add header" || action == "rewrite subject" || action == "reject") ? "Yes" : "No"
      if (verdict == "Error") score = "nan"
      print set, score, verdict, path, rules
    }
    /^Results for file: / {
      flush()
      path = $0; sub(/^Results for file: /, "", path); sub(/ \([0-9.]+ seconds\)$/, "", path)
      action = ""; score = ""; rules = ""; next
    }
    /^Action: / { action = $0; sub(/^Action: /, "", action); next }
    /^Score: / { score = $2; next }
    /^Symbol: / { rules = rules == "" ? $2 : rules "," $2 }
    END { flush() }' "$rs/scan.out" | sort -t $'\t' -k4,4 >"$out/rspamd.tsv"

  local scanned dns_requests
  scanned=$(wc -l <"$out/rspamd.tsv")
  ((scanned == test_count)) || die "rspamd: $scanned results for $test_count messages (see $rs/scan.out)"
  dns_requests=$(grep -o 'dns req: [0-9]*' "$logdir/rspamd.log" | awk '{ s += $3 } END { print s + 0 }')
  write_meta rspamd \
    "label=rspamd $(rspamd --version 2>/dev/null | awk '{ print $NF; exit }')" \
    "scanned=$scanned" "wall_seconds=$wall" "cpu_seconds=$cpu" \
    "cpu_scope=rspamd main + $jobs normal workers + controller + hs_helper + redis-server (/proc utime+stime+cutime+cstime)" \
    "redis_cpu_seconds=$(ticks_to_seconds $((redis1 - redis0)))" \
    "parallelism=$jobs normal workers, rspamc -n $((2 * jobs))" \
    "threshold=action add header/rewrite subject/reject (score >= 6)" \
    "dns_requests_in_log=$dns_requests" \
    "learned_spam=$nspam" "learned_ham=$nham" "train_wall_seconds=$train_wall"
  log "rspamd: $scanned messages, ${wall}s wall, ${cpu}s rspamd+redis CPU ($dns_requests DNS requests logged)"
  ((dns_requests == 0)) ||
    log "rspamd: warning: $dns_requests DNS lookups were attempted (and failed); KEEP=1 keeps rspamd.log"
  stop_tree "$rspamd_pid"
  forget_pid "$rspamd_pid"
  stop_tree "$redis_pid"
  forget_pid "$redis_pid"
}

# ------------------------------------------------------------------ ringmail
run_ringmail() {
  local admin=$build/tools/ringmail-admin/ringmail-admin
  if [[ ! -x $admin ]]; then
    echo "bench/spam: $admin not found; skipping the ringmail column (build it first)" >&2
    return 0
  fi
  admin=$(realpath "$admin")
  local rm=$work/ringmail
  mkdir -p "$rm/data" "$rm/probe"
  # Probe the subcommand on a throw-away data dir, so the real one is trained once.
  if ! "$admin" --data_dir="$rm/probe" spam learn --ham "$(head -n 1 "$lists/warmup")" \
      >"$rm/probe.out" 2>&1; then
    echo "bench/spam: '$admin spam learn' is not available yet; skipping the ringmail column:" >&2
    tail -n 5 "$rm/probe.out" | sed 's/^/  /' >&2
    return 0
  fi

  local t0 t1 train_wall
  log "ringmail: training Bayes (ringmail-admin spam learn)"
  t0=$(now)
  run_client "$admin" --data_dir="$rm/data" spam learn --spam "$corpus/spam-1" \
    >"$rm/learn-spam.out" 2>&1 || { tail -n 20 "$rm/learn-spam.out" >&2; die "ringmail spam learn --spam failed"; }
  run_client "$admin" --data_dir="$rm/data" spam learn --ham "$corpus/easy-ham-1" \
    >"$rm/learn-ham.out" 2>&1 || { tail -n 20 "$rm/learn-ham.out" >&2; die "ringmail spam learn --ham failed"; }
  t1=$(now)
  train_wall=$(seconds_between "$t0" "$t1")
  log "ringmail: trained in ${train_wall}s"

  log "ringmail: scanning $test_count test messages (--spam_threads=1)"
  local extra=()
  # shellcheck disable=SC2206  # flags split on blanks on purpose
  [[ -n ${RINGMAIL_SCAN_FLAGS:-} ]] && extra=(${RINGMAIL_SCAN_FLAGS})
  # `times` in the subshell prints the CPU of its finished children: the whole
  # ringmail-admin process, start-up included.
  # The whole sets are passed as directories; with LIMIT, the listed files.
  local targets=$rm/targets
  if ((limit > 0)); then
    cp "$lists/test" "$targets"
  else
    printf "$corpus/%s\n" "${test_sets[@]}" >"$targets"
  fi
  t0=$(now)
  (
    xargs -a "$targets" -d '\n' -s "$xargs_max" \
      "$admin" --data_dir="$rm/data" spam scan --spam_threads=1 "${extra[@]}" \
      >"$rm/scan.out" 2>"$rm/scan.err"
    times >"$rm/times.out"
  ) &
  client_pid=$!
  wait "$client_pid" || { client_pid=""; tail -n 20 "$rm/scan.err" >&2; die "ringmail spam scan failed"; }
  client_pid=""
  t1=$(now)
  local wall process_cpu cpu reported_wall scanned
  wall=$(seconds_between "$t0" "$t1")
  process_cpu=$(awk 'NR == 2 {
      n = split($0, t, " "); s = 0
      for (i = 1; i <= n; i++) { m = t[i]; sub(/s$/, "", m); split(m, p, "m"); s += p[1] * 60 + p[2] }
      printf "%.3f", s }' "$rm/times.out")
  # Summed over summary lines, should xargs have split the list into several runs.
  sum_field() {
    grep -o "$1=[0-9.]*" "$rm/scan.err" | cut -d= -f2 |
      awk '{ s += $1; n++ } END { if (n) printf "%.3f", s }'
  }
  cpu=$(sum_field cpu_seconds)
  reported_wall=$(sum_field wall_seconds)
  local cpu_scope="ringmail-admin's reported cpu_seconds (scan only)"
  if [[ -z $cpu ]]; then
    cpu=$process_cpu
    cpu_scope="whole ringmail-admin process (no cpu_seconds in its summary)"
  fi

  awk -F '\t' -v OFS='\t' 'NF >= 3 {
      path = $3; n = split(path, parts, "/"); set = parts[n - 1]
      print set, $1, $2, path, (NF >= 4 ? $4 : "")
    }' "$rm/scan.out" | sort -t $'\t' -k4,4 >"$out/ringmail.tsv"
  scanned=$(wc -l <"$out/ringmail.tsv")
  ((scanned == test_count)) || die "ringmail: $scanned results for $test_count messages (see $rm/scan.out)"
  write_meta ringmail \
    "label=ringmail (ringmail-admin spam scan)" \
    "scanned=$scanned" "wall_seconds=${reported_wall:-$wall}" "cpu_seconds=$cpu" \
    "cpu_scope=$cpu_scope" "process_cpu_seconds=$process_cpu" "process_wall_seconds=$wall" \
    "parallelism=--spam_threads=1" "threshold=Yes/No as printed (required_score 5)" \
    "train_wall_seconds=$train_wall"
  log "ringmail: $scanned messages, ${wall}s wall, ${cpu}s CPU"
}

rm -f "$out"/*.tsv "$out"/*.meta "$out/table.md"
{
  echo "date=$(date -u +%FT%TZ)"
  echo "host_cpus=$(nproc)"
  echo "kernel=$(uname -r)"
  echo "corpus=$corpus"
  echo "train=spam-1 easy-ham-1"
  echo "test=${test_sets[*]}"
  echo "test_messages=$test_count"
  echo "limit=$limit"
  echo "jobs=$jobs"
} >"$out/run.meta"

for system in $systems; do
  case $system in
    spamassassin) run_spamassassin ;;
    rspamd) run_rspamd ;;
    ringmail) run_ringmail ;;
    *) die "unknown system '$system' (spamassassin, rspamd, ringmail)" ;;
  esac
done

python3 "$here/metrics.py" "$out" | tee "$out/table.md"
failed=0
