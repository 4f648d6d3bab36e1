#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Side-by-side mail delivery benchmark (issue 4): the classic stack, Postfix delivering
# over LMTP into Dovecot's Maildir, against ringmail, on the same machine in one run,
# with the same clients and the same messages. Spam scanning is explicit: two modes, each
# with its own table, run one after the other against the same private instances:
#
#   plain  no scanning on either side: Postfix -> Dovecot LMTP, against
#          `ringmail serve --spam_scan=false`. Also the LMTP rows (Dovecot LMTP against
#          ringmail LMTP; neither scans LMTP).
#   spam   the receive path ringmail replaces, scanner included: Postfix with rspamd as a
#          milter (smtpd_milters = inet:127.0.0.1:<proxy port>; rspamd's proxy worker in
#          milter mode passing each message to its normal workers, as Debian's stock
#          rspamd.conf wires them) -> Dovecot LMTP, against `ringmail serve` with its
#          scanner on (--spam_scan=true, the default stock rules: /usr/share/spamassassin
#          plus spam/rules, untrained Bayes). SMTP rows only.
#
#   bench/smtp/run.sh [build_dir]          (default build/release)
#
# Install (Debian 12):
#   DEBIAN_FRONTEND=noninteractive apt-get install -y postfix dovecot-core dovecot-lmtpd rspamd
#   (rspamd only for the spam mode; the package's own service is neither used nor needed)
#
# Environment:
#   MODES ("plain spam")  which modes to run, in this order
#   MESSAGES (20000)      messages per run; SMALL=1 makes it 2000 (a quick run)
#   SESSIONS ("20 100")   parallel client sessions, one table row each
#   SIZE (5120)           message body bytes (smtp-source -l)
#   USERS (50)            mailboxes user1..userN@bench.test the messages are spread over
#   SHARDS (2)            ringmail --shards; also rspamd's normal worker count
#   REPEATS (1)           runs per cell; the table shows the median by messages/s
#   LMTP (1)              also run the LMTP-vs-LMTP rows (Dovecot LMTP vs ringmail LMTP)
#   REUSE (1)             1: sessions send message after message (smtp-source -d);
#                         0: one connection per message (smtp-source's default;
#                         ringmail-load --new_connection_per_message)
#   BENCH_DIR (/var/tmp)  where the private instances keep their queues and Maildirs;
#                         must be a real disk (tmpfs is refused: fsync would be free)
#   LOAD_BIN              ringmail-load to use (default BUILD/tools/ringmail-load/ringmail-load)
#   KEEP (0)              1 keeps the work directory (configs, logs, Maildirs)
#   AUTH (0)              1: the spam mode with SPF/DKIM/DMARC/ARC checks on both sides
#                         (issue 16). Both skip loopback clients by default (ringmail
#                         without --mail_auth_check_local, rspamd's check_local=false), so
#                         AUTH=0 runs no checks. AUTH=1 starts a private dnsmasq
#                         (bench/smtp/auth_zone.sh: SPF and DMARC records of client.test,
#                         the load tools' MAIL FROM and HELO domain); ringmail gets
#                         --mail_auth_check_local --dns_servers=<it>; rspamd the same DNS,
#                         local_addrs = [], check_local = true and its spf, dkim, dmarc and
#                         arc modules on, and milter_headers adding Authentication-Results.
#                         Every SMTP run then checks that each delivered message carries
#                         "spf=pass" (the "spf=pass" count in the log line and scanned column).
#
# What runs, all on loopback, all private (nothing under /etc is read or changed, the
# system's postfix/dovecot services are neither used nor touched):
#   peer:     Postfix 3.7 (`postfix -c DIR start`, own queue, no chroot, logging to a file
#             through postlogd) on an SMTP port, virtual_mailbox_domains=bench.test, the
#             50 users listed in virtual_mailbox_maps (so it refuses unknown recipients at
#             RCPT, as ringmail does), virtual_transport=lmtp:inet:127.0.0.1:LMTPPORT into
#             Dovecot 2.3 (`dovecot -c CONF`, protocols=lmtp, static userdb, Maildir,
#             mail_fsync=optimized, the default). Postfix's queue fsyncs every message
#             (the default); everything else is left at Postfix's and Dovecot's defaults
#             except default_process_limit=150, so 100 sessions get 100 smtpd processes.
#             The spam mode's messages go to a second smtpd listener of the same Postfix,
#             `-o smtpd_milters=inet:127.0.0.1:PROXYPORT` (milter_protocol 6 and the
#             milter_mail_macros rspamd's documentation gives; milter_default_action stays
#             tempfail, so a broken milter shows as refused messages, not as speed).
#   rspamd:   3.4 from Debian (spam mode only; `rspamd -f -c PRIVATE.conf`, dropping to
#             _rspamd), started and stopped by this script: Debian's stock configuration
#             (/etc/rspamd common.conf, options, logging, worker-normal.inc) with private
#             run/db/log dirs; a normal worker (count SHARDS) and the proxy worker (the
#             stock worker-proxy.inc settings: milter = yes, count = 1, timeout 120 s) with
#             its upstream on the normal worker's private port. No controller, no redis
#             (so no Bayes: ringmail's Bayes is untrained too). Modules that query DNS or
#             other hosts are disabled (the list of bench/spam/evaluate.sh) and its DNS
#             points at a dead loopback port, so nothing leaves the machine; ringmail's
#             network checks (DNSBL) are off by default. Every spam-mode run checks that
#             rspamd logged one scan per message (the "scanned" column), and that a
#             message ringmail delivered carries its X-Spam-Status header.
#   ringmail: `ringmail serve --shards=SHARDS` with SMTP and LMTP listeners (restarted
#             between modes: --spam_scan=false, then --spam_scan=true), SQLite
#             directory with bench.test and user1..userN, --maildir_fsync=true (the
#             default: file and new/ directory fsynced before 250),
#             --max_connections_per_ip=0 (its default of 50 per client address would
#             refuse the 100-session rows, all from 127.0.0.1; Postfix exempts
#             $mynetworks from its own per-client limit by default).
# Clients:
#   smtp-source (Postfix's test generator; one process per recipient: for S sessions,
#             min(S, USERS) processes, process i sending to user<i> with S/processes
#             sessions each, so 1 session means one user, 20 sessions 20 users, 100
#             sessions all 50 users with 2 sessions each); no PIPELINING (it has none).
#   ringmail-load (if BUILD/tools/ringmail-load/ringmail-load exists): one process,
#             --recipients=user1..userN round-robin, no pipelining; it reports p99.
#   LMTP rows: the same clients with smtp-source -L / ringmail-load --lmtp, straight
#             to Dovecot's LMTP port and to ringmail's.
# Measured per run:
#   delivered   new files in the Maildirs after the run (must equal MESSAGES)
#   msgs/s      messages / wall time from the client's start until the last message is
#               in a Maildir (for Postfix: until its queue is empty, polled every 50 ms;
#               ringmail and Dovecot LMTP answer 250 only after delivery, so for them it
#               is the client's time). Every run checks that exactly MESSAGES new files
#               landed in the Maildirs, and clears them afterwards.
#   accepted/s  messages / client wall time (Postfix accepts into its queue faster than
#               it delivers; equal to msgs/s for the others).
#   CPU s/1k    utime+stime of every server process per 1,000 messages: for Postfix,
#               Dovecot and rspamd the whole process trees under their master processes (live
#               processes plus the cutime/cstime of children that exited and were
#               reaped), from /proc before and after the run; for ringmail its process.
#               Peer rows for SMTP count Postfix AND Dovecot (AND rspamd in the spam
#               mode); LMTP rows count Dovecot.
#   scanned     spam mode: messages rspamd logged a scan of during the run (peer), and
#               whether a message ringmail delivered carries X-Spam-Status (ringmail).
#   p99 (ms)    as reported by ringmail-load (smtp-source reports no latency).
# Peer and ringmail alternate within each cell, so drift on the host hits both alike.

# shellcheck disable=SC2317  # the stop functions are reached through the EXIT trap
set -Eeuo pipefail
trap 'echo "bench/smtp: line $LINENO failed: $BASH_COMMAND" >&2' ERR

build=${1:-build/release}
if [[ ${SMALL:-0} == 1 ]]; then
  messages=${MESSAGES:-2000}
else
  messages=${MESSAGES:-20000}
fi
sessions_list=${SESSIONS:-"20 100"}
modes=${MODES:-"plain spam"}
do_spam=0
for m in $modes; do
  case $m in
    plain) ;;
    spam) do_spam=1 ;;
    *) echo "bench/smtp: MODES: unknown mode '$m' (plain, spam)" >&2; exit 2 ;;
  esac
done
size=${SIZE:-5120}
nusers=${USERS:-50}
shards=${SHARDS:-2}
repeats=${REPEATS:-1}
do_lmtp=${LMTP:-1}
reuse=${REUSE:-1}
bench_base=${BENCH_DIR:-/var/tmp}
keep=${KEEP:-0}
auth=${AUTH:-0}
host=127.0.0.1
domain=bench.test

# log, die, stop_pid, pid_from, wait_pid_file, free_port, wait_port, tree_ticks;
# postfix_master_cf, postfix_queue_empty.
src_dir=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck disable=SC2034  # used by die (bench/lib/common.sh)
bench_name=bench/smtp
bench_host=$host
# shellcheck source=../lib/common.sh
. "$src_dir/bench/lib/common.sh"
# shellcheck source=../lib/postfix.sh
. "$src_dir/bench/lib/postfix.sh"
# shellcheck source=auth_zone.sh
. "$src_dir/bench/smtp/auth_zone.sh"

ringmail_bin=$build/tools/ringmail/ringmail
admin_bin=$build/tools/ringmail-admin/ringmail-admin
load_bin=${LOAD_BIN:-$build/tools/ringmail-load/ringmail-load}
[[ -x $ringmail_bin ]] || die "$ringmail_bin not found; build first: cmake --preset release && cmake --build build/release"
[[ -x $admin_bin ]] || die "$admin_bin not found"
have_load=0
[[ -x $load_bin ]] && have_load=1
ringmail_bin=$(realpath "$ringmail_bin")
admin_bin=$(realpath "$admin_bin")
((have_load)) && load_bin=$(realpath "$load_bin")

for tool in postfix postconf postqueue smtp-source dovecot; do
  command -v "$tool" >/dev/null ||
    die "$tool not found: DEBIAN_FRONTEND=noninteractive apt-get install -y postfix dovecot-core dovecot-lmtpd"
done
if ((do_spam)); then
  command -v rspamd >/dev/null ||
    die "rspamd not found (the spam mode needs it): DEBIAN_FRONTEND=noninteractive apt-get install -y rspamd; or MODES=plain"
  id _rspamd >/dev/null 2>&1 || die "the _rspamd user is missing (reinstall rspamd)"
fi
[[ -x /usr/lib/dovecot/lmtp ]] || die "Dovecot's LMTP server is missing: apt-get install -y dovecot-lmtpd"
if ! id postfix >/dev/null 2>&1 || ! getent group postdrop >/dev/null; then
  die "the postfix user or postdrop group is missing"
fi
id mail >/dev/null 2>&1 || die "the 'mail' user is missing (Dovecot's Maildirs are owned by it)"
((EUID == 0)) || die "run as root (Postfix and Dovecot start as root and drop privileges)"

mkdir -p "$bench_base"
fstype=$(stat -f -c %T "$bench_base")
[[ $fstype != tmpfs && $fstype != ramfs ]] ||
  die "$bench_base is $fstype: fsync would cost nothing there; set BENCH_DIR to a directory on a real disk"
work=$(mktemp -d "$bench_base/ringmail-smtp-bench.XXXXXX")
chmod 755 "$work"  # Dovecot's delivery runs as the 'mail' user and must reach its Maildirs

clk_tck=$(getconf CLK_TCK)

ringmail_pid=""
client_pids=()
pf_conf=$work/postfix/conf
pf_queue=$work/postfix/queue
dv_conf=$work/dovecot/dovecot.conf
dv_base=$work/dovecot/run
pf_started=0
dv_started=0
rs_pid=""
failed=0

stop_postfix() {
  ((pf_started)) || return 0
  pf_started=0
  local pid
  pid=$(pid_from "$pf_queue/pid/master.pid" || true)
  timeout 20 postfix -c "$pf_conf" stop >/dev/null 2>&1 || true
  [[ -n $pid ]] && stop_pid "$pid"
  return 0
}

stop_dovecot() {
  ((dv_started)) || return 0
  dv_started=0
  local pid
  pid=$(pid_from "$dv_base/master.pid" || true)
  timeout 20 dovecot -c "$dv_conf" stop >/dev/null 2>&1 || true
  [[ -n $pid ]] && stop_pid "$pid"
  return 0
}

stop_ringmail() {
  [[ -n $ringmail_pid ]] || return 0
  stop_pid "$ringmail_pid"
  wait "$ringmail_pid" 2>/dev/null || true
  ringmail_pid=""
}

# rspamd's main process stops its workers on TERM.
stop_rspamd() {
  [[ -n $rs_pid ]] || return 0
  stop_pid "$rs_pid"
  wait "$rs_pid" 2>/dev/null || true
  rs_pid=""
}

cleanup() {
  local pid
  for pid in "${client_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  stop_ringmail
  stop_postfix
  stop_rspamd
  stop_dovecot
  auth_dns_stop
  if ((keep || failed)); then
    echo "work directory kept: $work" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Files delivered under a Maildir root: <root>/<domain>/<user>/Maildir/{new,cur}/*.
count_delivered() {
  local root=$1
  [[ -d $root ]] || { echo 0; return; }
  { find "$root" -mindepth 5 -maxdepth 5 -type f \( -path '*/Maildir/new/*' -o -path '*/Maildir/cur/*' \) \
      2>/dev/null || true; } | wc -l
}

pf_smtp_port=$(free_port) || die "no free port"
dv_lmtp_port=$(free_port) || die "no free port"
rm_smtp_port=$(free_port) || die "no free port"
rm_lmtp_port=$(free_port) || die "no free port"
if ((do_spam)); then
  pf_spam_port=$(free_port) || die "no free port"
  rs_proxy_port=$(free_port) || die "no free port"
  rs_normal_port=$(free_port) || die "no free port"
  rs_dns_port=$(free_port) || die "no free port"  # nothing listens: lookups fail at once
fi
sender_domain=client.test  # smtp-source -f sender@client.test -M client.test; ringmail-load --from/--helo
if ((auth)); then
  ((do_spam)) || die "AUTH=1 needs the spam mode (MODES=spam): rspamd runs the peer's checks"
  auth_dns_port=$(free_port) || die "no free port"
  rs_dns_port=$auth_dns_port
fi

users=()
for ((i = 1; i <= nusers; i++)); do users+=("user$i@$domain"); done

# ---------------------------------------------------------------- Dovecot (private)
dv_mail=$work/dovecot/vmail
mkdir -p "$dv_base" "$work/dovecot/state" "$dv_mail"
chown mail:mail "$dv_mail"
cat >"$dv_conf" <<EOF
# Private Dovecot for bench/smtp: LMTP only, static users, Maildir, defaults otherwise.
base_dir = $dv_base
state_dir = $work/dovecot/state
log_path = $work/dovecot/dovecot.log
instance_name = ringmail-bench-dovecot
protocols = lmtp
listen = 127.0.0.1
ssl = no
default_internal_user = dovecot
default_login_user = dovenull
first_valid_uid = 8
mail_location = maildir:~/Maildir
passdb {
  driver = static
  args = nopassword=y
}
userdb {
  driver = static
  args = uid=mail gid=mail home=$dv_mail/%d/%n
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = $dv_lmtp_port
  }
}
EOF

# ---------------------------------------------------------------- Postfix (private)
mkdir -p "$pf_conf" "$pf_queue" "$work/postfix/data"
chown postfix:postfix "$work/postfix/data"
printf '%s OK\n' "${users[@]}" >"$pf_conf/vmailbox"
cat >"$pf_conf/main.cf" <<EOF
# Private Postfix for bench/smtp: SMTP on 127.0.0.1:$pf_smtp_port, all of bench.test to
# Dovecot over LMTP. Defaults otherwise (queue fsync on).
compatibility_level = 3.6
queue_directory = $pf_queue
data_directory = $work/postfix/data
mail_owner = postfix
setgid_group = postdrop
myhostname = postfix.$domain
mydomain = $domain
myorigin = \$myhostname
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
relayhost =
relay_domains =
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination
virtual_mailbox_domains = $domain
virtual_mailbox_maps = texthash:$pf_conf/vmailbox
virtual_transport = lmtp:inet:127.0.0.1:$dv_lmtp_port
default_process_limit = 150
maillog_file = $work/postfix/maillog
maillog_file_prefixes = $work
biff = no
append_dot_mydomain = no
readme_directory = no
smtpd_banner = \$myhostname ESMTP
# For the spam mode's listener (master.cf); as rspamd's milter documentation gives them.
milter_protocol = 6
milter_mail_macros = i {mail_addr} {client_addr} {client_name} {auth_authen}
EOF
postfix_master_cf "$pf_conf"  # Debian's stock services, no chroot (bench/lib/postfix.sh)
echo "$host:$pf_smtp_port inet n - n - - smtpd" >>"$pf_conf/master.cf"
if ((do_spam)); then
  # The spam mode's port: the same smtpd, every message through rspamd's milter.
  echo "$host:$pf_spam_port inet n - n - - smtpd -o smtpd_milters=inet:$host:$rs_proxy_port" >>"$pf_conf/master.cf"
fi

# ---------------------------------------------------------------- rspamd (private, spam mode)
# Modules that query DNS or other hosts, or keep state in redis: off, as in
# bench/spam/evaluate.sh, so nothing leaves the machine and no scan waits on a timeout.
rspamd_disabled_modules=(
  rbl surbl emails dkim dkim_signing arc dmarc spf asn fuzzy_check multimap whitelist
  neural ratelimit greylist replies history_redis reputation url_redirector mx_check bimi
  dcc antivirus external_services clickhouse elastic metadata_exporter metric_exporter p0f
  spamtrap rspamd_update aws_s3 once_received
)
rs=$work/rspamd
if ((do_spam)); then
  mkdir -p "$rs/etc/local.d" "$rs/etc/override.d" "$rs/run" "$rs/db" "$rs/log"
  cat >"$rs/rspamd.conf" <<EOF
# Private rspamd for bench/smtp: Debian's stock pieces from \$CONFDIR (/etc/rspamd), private
# paths and loopback ports; the proxy worker in milter mode in front of the normal workers.
.include "\$CONFDIR/common.conf"
options {
    pidfile = "\$RUNDIR/rspamd.pid";
    .include "\$CONFDIR/options.inc"
    .include(try=true; priority=10) "\$LOCAL_CONFDIR/override.d/options.inc"
}
logging {
    type = "file";
    filename = "\$LOGDIR/rspamd.log";
    .include "\$CONFDIR/logging.inc"
}
worker "normal" {
    bind_socket = "$host:$rs_normal_port";
    count = $shards;
    .include "\$CONFDIR/worker-normal.inc"
}
# The settings of the stock worker-proxy.inc, with the upstream on the private port.
worker "rspamd_proxy" {
    bind_socket = "$host:$rs_proxy_port";
    milter = yes;
    timeout = 120s;
    upstream "local" {
        default = yes;
        hosts = "$host:$rs_normal_port";
    }
    count = 1;
    max_retries = 5;
    discard_on_reject = false;
    quarantine_on_reject = false;
    spam_header = "X-Spam";
    reject_message = "Spam message rejected";
}
EOF
  cat >"$rs/etc/override.d/options.inc" <<EOF
dns {
  nameserver = ["$host:$rs_dns_port"];
  timeout = 0.2s;
  retransmits = 1;
}
EOF
  if ((auth)); then
    # The checks on, for loopback clients too: rspamd's ip:is_local() is true for 127/8
    # whatever local_addrs says, so check_local is what makes spf/dkim/dmarc/arc run.
    printf '%s\n' 'local_addrs = [];' 'check_local = true;' >>"$rs/etc/override.d/options.inc"
    kept=()
    for m in "${rspamd_disabled_modules[@]}"; do
      case $m in
        spf | dkim | dmarc | arc) echo 'check_local = true;' >"$rs/etc/override.d/$m.conf" ;;
        *) kept+=("$m") ;;
      esac
    done
    rspamd_disabled_modules=("${kept[@]}")
    # skip_local: milter_headers, too, leaves loopback clients' messages alone by default.
    printf '%s\n' 'use = ["authentication-results"];' 'skip_local = false;' \
      >"$rs/etc/override.d/milter_headers.conf"
  fi
  for m in "${rspamd_disabled_modules[@]}"; do
    echo 'enabled = false;' >"$rs/etc/override.d/$m.conf"
  done
  printf '%s\n' 'helo_enabled = false;' 'hostname_enabled = false;' 'from_enabled = false;' \
    'rcpt_enabled = false;' >"$rs/etc/override.d/hfilter.conf"
  cat >"$rs/etc/override.d/phishing.conf" <<'EOF'
phishtank_enabled = false;
openphish_enabled = false;
exceptions = {
  REDIRECTOR_FALSE = ["${CONFDIR}/maps.d/redirectors.inc"];
};
EOF
  # shellcheck disable=SC2016  # ${CONFDIR} is rspamd's variable
  echo 'file = ["${CONFDIR}/maps.d/mime_types.inc"];' >"$rs/etc/override.d/mime_types.conf"
  # shellcheck disable=SC2016
  echo 'source = { url = ["${CONFDIR}/maps.d/mid.inc"]; };' >"$rs/etc/override.d/mid.conf"
  chown -R _rspamd:_rspamd "$rs/run" "$rs/db" "$rs/log"
fi

# One scan per message: rspamd logs a task line for each message it scanned.
rspamd_scans() { { grep -c 'rspamd_task_write_log' "$rs/log/rspamd.log" 2>/dev/null || true; } | head -n 1; }

# ---------------------------------------------------------------- ringmail
rm_data=$work/ringmail
rm_mail=$rm_data/vmail
mkdir -p "$rm_data"
"$admin_bin" --data_dir="$rm_data" domain add "$domain" >/dev/null ||
  die "ringmail-admin domain add failed"
for u in "${users[@]}"; do
  echo pw | "$admin_bin" --data_dir="$rm_data" user add "$u" --scheme=SSHA512 >/dev/null 2>&1 ||
    echo pw | "$admin_bin" --data_dir="$rm_data" user add "$u" >/dev/null ||
    die "ringmail-admin user add $u failed"
done

# ---------------------------------------------------------------- start everything
log "work directory $work ($fstype): postfix smtp=$pf_smtp_port dovecot lmtp=$dv_lmtp_port" \
    "ringmail smtp=$rm_smtp_port lmtp=$rm_lmtp_port"

dovecot -c "$dv_conf" >"$work/dovecot/start.out" 2>&1 || {
  cat "$work/dovecot/start.out" >&2
  die "dovecot did not start"
}
dv_started=1
wait_port "$dv_lmtp_port" 10 || { tail -n 20 "$work/dovecot/dovecot.log" >&2; die "dovecot LMTP not listening"; }
dv_pid=$(wait_pid_file "$dv_base/master.pid") || die "no dovecot master.pid"

if ((auth)); then
  auth_dns_start "$auth_dns_port" "$work/dnsmasq.log" "$sender_domain" ||
    die "dnsmasq did not start (see $work/dnsmasq.log)"
  log "AUTH=1: dnsmasq pid $auth_dns_pid on $host:$auth_dns_port for $sender_domain"
fi

if ((do_spam)); then
  rspamd -f -c "$rs/rspamd.conf" -u _rspamd -g _rspamd \
    --var="LOCAL_CONFDIR=$rs/etc" --var="DBDIR=$rs/db" --var="RUNDIR=$rs/run" \
    --var="LOGDIR=$rs/log" >"$rs/rspamd.out" 2>&1 &
  rs_pid=$!
  log "rspamd: pid $rs_pid, proxy (milter) $host:$rs_proxy_port, normal $host:$rs_normal_port x$shards; waiting for it"
  { wait_port "$rs_normal_port" 120 && wait_port "$rs_proxy_port" 30; } || {
    tail -n 20 "$rs/rspamd.out" "$rs/log/rspamd.log" >&2 || true
    die "rspamd did not open its ports"
  }
  # hs_helper compiles the Hyperscan databases after start; workers scan without them
  # (slower) until they have loaded them. Wait (at most 180 s) until every normal worker has.
  loaded=0
  for ((i = 0; i < 1800; i++)); do
    loaded=$(grep -c '(normal).*hyperscan database of .* has been loaded' "$rs/log/rspamd.log" 2>/dev/null || true)
    ((loaded >= shards)) && break
    kill -0 "$rs_pid" 2>/dev/null || die "rspamd died during start-up (see $rs/rspamd.out)"
    sleep 0.1
  done
  ((loaded >= shards)) || log "rspamd: warning: Hyperscan databases not loaded after 180 s; going on"
fi

postfix -c "$pf_conf" check >"$work/postfix/check.out" 2>&1 || {
  cat "$work/postfix/check.out" >&2
  die "postfix check failed"
}
postfix -c "$pf_conf" start >"$work/postfix/start.out" 2>&1 || {
  cat "$work/postfix/start.out" >&2
  die "postfix did not start"
}
pf_started=1
wait_port "$pf_smtp_port" 10 || { tail -n 20 "$work/postfix/maillog" >&2 || true; die "postfix smtpd not listening"; }
pf_pid=$(wait_pid_file "$pf_queue/pid/master.pid") || die "no postfix master.pid"

((do_spam)) && { wait_port "$pf_spam_port" 10 || die "postfix's spam-mode smtpd not listening"; }

# start_ringmail MODE: the scanner off (plain) or on with its default rules (spam). It
# opens its ports only once the rules are compiled (the first start of the stock rules
# takes about 20 s; later ones load them from <data_dir>/spam-cache).
start_ringmail() {
  local scan=false limit=20
  [[ $1 == spam ]] && { scan=true; limit=300; }
  local -a auth_flags=()
  ((auth)) && auth_flags=(--mail_auth_check_local "--dns_servers=$host:$auth_dns_port")
  "$ringmail_bin" serve --imap_port=0 --imaps_port=0 --pop3_port=0 --pop3s_port=0 --submission_port=0 --submissions_port=0 --data_dir="$rm_data" --shards="$shards" --smtp_port="$rm_smtp_port" \
    --lmtp_port="$rm_lmtp_port" --listen_address="$host" --hostname="$domain" --log_level=warn \
    --max_connections_per_ip=0 --spam_scan="$scan" "${auth_flags[@]}" >>"$work/ringmail-$1.log" 2>&1 &
  ringmail_pid=$!
  { wait_port "$rm_smtp_port" "$limit" && wait_port "$rm_lmtp_port" 5; } || {
    tail -n 20 "$work/ringmail-$1.log" >&2
    die "ringmail ($1) did not open its ports"
  }
}

# ---------------------------------------------------------------- one run
# Results by "mode:workload:client:sessions:server:repeat".
declare -A rate accepted cpu1k p99 secs delivered note scanned

# run_one WORKLOAD(smtp|lmtp) CLIENT(smtp-source|ringmail-load) SESSIONS SERVER(peer|ringmail) REPEAT
# in the current $mode.
run_one() {
  local workload=$1 client=$2 s=$3 server=$4 r=$5
  local key="$mode:$workload:$client:$s:$server:$r"
  local port mailroot
  local -a roots
  if [[ $server == peer ]]; then
    mailroot=$dv_mail
    if [[ $workload == lmtp ]]; then
      port=$dv_lmtp_port; roots=("$dv_pid")
    elif [[ $mode == spam ]]; then
      port=$pf_spam_port; roots=("$pf_pid" "$dv_pid" "$rs_pid")
    else
      port=$pf_smtp_port; roots=("$pf_pid" "$dv_pid")
    fi
  else
    mailroot=$rm_mail
    roots=("$ringmail_pid")
    if [[ $workload == smtp ]]; then port=$rm_smtp_port; else port=$rm_lmtp_port; fi
  fi
  local out=$work/client-$mode-$workload-$client-$s-$server-$r
  mkdir -p "$out"

  local before_count scans0=0
  before_count=$(count_delivered "$mailroot")
  [[ $mode == spam && $server == peer ]] && scans0=$(rspamd_scans)
  local ticks0=0 root
  for root in "${roots[@]}"; do ticks0=$((ticks0 + $(tree_ticks "$root"))); done
  local t0 t_acc t_del rc=0
  t0=$(date +%s%N)
  client_pids=()
  if [[ $client == smtp-source ]]; then
    local procs=$s i per_sess per_msg extra
    ((procs > nusers)) && procs=$nusers
    ((procs > messages)) && procs=$messages
    per_sess=$((s / procs))
    extra=$((messages % procs))
    local -a flags=(-l "$size" -f "sender@client.test" -M client.test)
    ((reuse)) && flags+=(-d)
    [[ $workload == lmtp ]] && flags+=(-L)
    for ((i = 0; i < procs; i++)); do
      per_msg=$((messages / procs + (i < extra ? 1 : 0)))
      local ss=$per_sess
      ((i < s % procs)) && ss=$((ss + 1))
      smtp-source "${flags[@]}" -s "$ss" -m "$per_msg" -t "${users[i]}" "$host:$port" \
        >"$out/$i.out" 2>&1 &
      client_pids+=($!)
    done
  else
    local -a flags=(--host="$host" --port="$port" --connections="$s" --messages="$messages"
                    --size="$size" "--recipients=$(IFS=,; echo "${users[*]}")")
    [[ $workload == lmtp ]] && flags+=(--lmtp)
    ((reuse)) || flags+=(--new_connection_per_message)
    ((auth)) && flags+=("--from=sender@$sender_domain" "--helo=$sender_domain")
    "$load_bin" "${flags[@]}" >"$out/load.out" 2>"$out/load.err" &
    client_pids+=($!)
  fi
  local pid
  for pid in "${client_pids[@]}"; do wait "$pid" || rc=$?; done
  client_pids=()
  t_acc=$(date +%s%N)

  # Postfix has only queued the messages; wait until its queue is empty.
  if [[ $server == peer && $workload == smtp ]]; then
    local deadline=$((SECONDS + 120 + messages / 20))
    until postfix_queue_empty "$pf_queue"; do
      if ((SECONDS > deadline)); then
        note[$key]="queue not empty after $((120 + messages / 20)) s"
        break
      fi
      sleep 0.05
    done
  fi
  t_del=$(date +%s%N)
  local ticks1=0
  for root in "${roots[@]}"; do ticks1=$((ticks1 + $(tree_ticks "$root"))); done

  local after_count got
  after_count=$(count_delivered "$mailroot")
  got=$((after_count - before_count))
  delivered[$key]=$got
  secs[$key]=$(awk -v ns=$((t_del - t0)) 'BEGIN { printf "%.2f", ns / 1e9 }')
  rate[$key]=$(awk -v n="$got" -v ns=$((t_del - t0)) 'BEGIN { printf "%.0f", n / (ns / 1e9) }')
  accepted[$key]=$(awk -v n="$messages" -v ns=$((t_acc - t0)) 'BEGIN { printf "%.0f", n / (ns / 1e9) }')
  cpu1k[$key]=$(awk -v d=$((ticks1 - ticks0)) -v hz="$clk_tck" -v n="$got" \
    'BEGIN { if (n > 0) printf "%.3f", (d / hz) / n * 1000; else print "-" }')
  if [[ $client == ringmail-load && -s $out/load.out ]]; then
    local field
    for field in $(<"$out/load.out"); do
      [[ $field == p99_ms=* ]] && p99[$key]=${field#*=}
    done
  fi
  if ((rc != 0)); then
    note[$key]=${note[$key]:-"client exit $rc"}
    failed=1
    log "$key: client failed (exit $rc):"
    tail -q -n 3 "$out"/* 2>/dev/null | sort | uniq -c | head -n 10 >&2 || true
  fi
  if ((got != messages)); then
    note[$key]="${note[$key]:+${note[$key]}; }delivered $got of $messages"
    failed=1
  fi
  # The spam mode must really scan: rspamd logs one task per message it saw; ringmail
  # stamps X-Spam-Status on every message it delivers after a scan.
  if [[ $mode == spam && $workload == smtp ]]; then
    local n
    if [[ $server == peer ]]; then
      n=$(($(rspamd_scans) - scans0))
      scanned[$key]="$n (rspamd)"
    else
      n=$({ find "$mailroot" -mindepth 5 -maxdepth 5 -type f -path '*/Maildir/new/*' -print0 2>/dev/null |
            xargs -0 -r grep -l '^X-Spam-Status:' 2>/dev/null || true; } | wc -l)
      scanned[$key]="$n (X-Spam-Status)"
    fi
    if ((n < got)); then
      note[$key]="${note[$key]:+${note[$key]}; }scanned $n of $got"
      failed=1
    fi
    if ((auth)); then
      # Both sides' Authentication-Results (rspamd's through milter_headers) must say
      # spf=pass on every message: proof that the checks ran rather than were skipped.
      n=$({ find "$mailroot" -mindepth 5 -maxdepth 5 -type f -path '*/Maildir/new/*' -print0 2>/dev/null |
            xargs -0 -r grep -l -E '^Authentication-Results:.*spf=pass|^[[:space:]].*spf=pass' 2>/dev/null || true; } | wc -l)
      scanned[$key]+=", $n spf=pass"
      # One message of each run kept for reading (KEEP=1): its Authentication-Results.
      local sample
      sample=$(find "$mailroot" -mindepth 5 -maxdepth 5 -type f -path '*/Maildir/new/*' -print -quit 2>/dev/null || true)
      [[ -n $sample ]] && cp "$sample" "$out/sample.eml"
      if ((n < got)); then
        note[$key]="${note[$key]:+${note[$key]}; }spf=pass on $n of $got"
        # The peer's shortfall is a finding (rspamd's DNS timeouts under load:
        # R_SPF_DNSFAIL in its log), not a broken run; ringmail's is a failure.
        [[ $server == ringmail ]] && failed=1
      fi
    fi
  fi
  log "$key: ${rate[$key]} msgs/s (accepted ${accepted[$key]}/s) delivered=$got" \
      "seconds=${secs[$key]} cpu_s_per_1k=${cpu1k[$key]} p99_ms=${p99[$key]:--} scanned=${scanned[$key]:--}"

  # Fresh Maildirs for the next run (nothing is delivering now).
  if [[ $server == peer ]]; then
    find "$dv_mail" -mindepth 1 -delete
  else
    # ringmail commits index records (100 ms) and dovecot-uidlist appends (1 s) in the
    # background after the last 250: let them land, and retry a delete they raced.
    sleep 1.5
    for _ in 1 2 3 4 5; do rm -rf "${rm_mail:?}"/* 2>/dev/null && break; sleep 0.5; done
  fi
}

# Copies the median run (by messages/s) of a cell to the cell's key.
declare -A runs_of
take_median() {
  local cell=$1 r
  local -a runs=()
  for ((r = 1; r <= repeats; r++)); do
    [[ -n ${rate[$cell:$r]:-} ]] && runs+=("${rate[$cell:$r]} $r")
    [[ -n ${note[$cell:$r]:-} ]] && note[$cell]="${note[$cell:$r]}"
  done
  ((${#runs[@]} > 0)) || return 0
  local -a sorted
  mapfile -t sorted < <(printf '%s\n' "${runs[@]}" | sort -n)
  local pick=${sorted[$(((${#sorted[@]} - 1) / 2))]#* }
  local v
  for v in rate accepted cpu1k p99 secs delivered scanned; do
    local -n arr=$v
    # shellcheck disable=SC2004  # arr names an associative array
    arr[$cell]=${arr[$cell:$pick]:-}
  done
  local -a all=()
  for ((r = 1; r <= repeats; r++)); do all+=("${rate[$cell:$r]:--}"); done
  runs_of[$cell]=$(IFS=/; echo "${all[*]}")
}

clients=(smtp-source)
((have_load)) && clients+=(ringmail-load)

cells=()
for mode in $modes; do
  stop_ringmail
  start_ringmail "$mode"
  log "mode $mode: ringmail pid $ringmail_pid (--spam_scan=$([[ $mode == spam ]] && echo true || echo false))"

  # Warm-up, not measured: both stacks spawn their processes and create the Maildirs
  # (and, in the spam mode, rspamd's and ringmail's scanners see their first messages).
  warm=$((nusers * 4))
  log "warm-up ($mode): $warm messages to each server"
  saved_messages=$messages
  saved_failed=$failed
  messages=$warm
  run_one smtp smtp-source 20 peer 0 >/dev/null 2>&1 || true
  run_one smtp smtp-source 20 ringmail 0 >/dev/null 2>&1 || true
  messages=$saved_messages
  failed=$saved_failed

  # LMTP rows only without scanning: neither Dovecot's LMTP nor ringmail's scans.
  workloads=(smtp)
  [[ $mode == plain ]] && ((do_lmtp)) && workloads+=(lmtp)

  for workload in "${workloads[@]}"; do
    for client in "${clients[@]}"; do
      for s in $sessions_list; do
        for ((r = 1; r <= repeats; r++)); do
          for server in peer ringmail; do
            run_one "$workload" "$client" "$s" "$server" "$r"
          done
        done
        for server in peer ringmail; do
          cells+=("$mode:$workload:$client:$s:$server")
          take_median "$mode:$workload:$client:$s:$server"
        done
      done
    done
  done
done
stop_ringmail

ratio() {
  local a=${rate[$1]:-} b=${rate[$2]:-}
  if [[ -n $a && -n $b && $b != 0 ]]; then
    awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2fx", a / b }'
  else
    echo "-"
  fi
}

cpu_ratio() {
  local a=${cpu1k[$1]:-} b=${cpu1k[$2]:-}
  if [[ -n $a && -n $b && $a != - && $b != - ]] && awk -v a="$a" 'BEGIN { exit !(a > 0) }'; then
    awk -v a="$a" -v b="$b" 'BEGIN { printf "%.1fx", b / a }'
  else
    echo "-"
  fi
}

peer_name() {  # MODE WORKLOAD
  if [[ $2 == lmtp ]]; then
    echo "Dovecot LMTP"
  elif [[ $1 == spam ]]; then
    echo "Postfix+rspamd milter→Dovecot"
  else
    echo "Postfix→Dovecot"
  fi
}

commit=$(git -C "$src_dir" rev-parse --short HEAD 2>/dev/null || echo unknown)
[[ $commit != unknown && -n $(git -C "$src_dir" status --porcelain --untracked-files=no 2>/dev/null) ]] &&
  commit+=" (with uncommitted changes in the checkout)"

echo
echo "measured at commit $commit; $("$ringmail_bin" --version)"
echo "messages=$messages size=$size users=$nusers ringmail_shards=$shards repeats=$repeats" \
     "reuse_connections=$reuse cpus=$(nproc) kernel=$(uname -r) disk=$fstype($(df --output=source "$work" | tail -n 1))" \
     "postfix=$(postconf -h mail_version) dovecot=$(dovecot --version | cut -d' ' -f1)" \
     "$( ((do_spam)) && echo "rspamd=$(rspamd --version | awk '{print $NF}')")"
for mode in $modes; do
  echo
  if [[ $mode == plain ]]; then
    echo "Mode plain: no spam scanning (Postfix → Dovecot LMTP; ringmail --spam_scan=false)"
  else
    echo "Mode spam: Postfix with rspamd as a milter → Dovecot LMTP; ringmail with its scanner on (default rules)"
    ((auth)) && echo "AUTH=1: SPF (MAIL FROM, HELO), DKIM, DMARC, ARC checked on both sides (private dnsmasq; unsigned messages: DKIM none)"
  fi
  echo
  echo "| protocol | client | sessions | server | delivered | msgs/s | accepted/s | server CPU s per 1k msgs | p99 (ms) | scanned | ringmail/peer msgs/s | peer/ringmail CPU | all runs (msgs/s) |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  for cell in "${cells[@]}"; do
    IFS=: read -r cmode workload client s server <<<"$cell"
    [[ $cmode == "$mode" ]] || continue
    name=ringmail
    [[ $server == peer ]] && name=$(peer_name "$mode" "$workload")
    vs=""
    cvs=""
    if [[ $server == ringmail ]]; then
      vs=$(ratio "$cell" "$mode:$workload:$client:$s:peer")
      cvs=$(cpu_ratio "$cell" "$mode:$workload:$client:$s:peer")
    fi
    [[ -n ${note[$cell]:-} ]] && vs="$vs (${note[$cell]})"
    echo "| ${workload^^} | $client | $s | $name | ${delivered[$cell]:--} | ${rate[$cell]:--} | ${accepted[$cell]:--}" \
         "| ${cpu1k[$cell]:--} | ${p99[$cell]:--} | ${scanned[$cell]:--} | $vs | $cvs | ${runs_of[$cell]:--} |"
  done
  for client in "${clients[@]}"; do
    line="mode $mode, ringmail/peer msgs/s ($client):"
    for s in $sessions_list; do
      line+=" SMTP@$s: $(ratio "$mode:smtp:$client:$s:ringmail" "$mode:smtp:$client:$s:peer")"
    done
    if [[ $mode == plain ]] && ((do_lmtp)); then
      for s in $sessions_list; do
        line+=" LMTP@$s: $(ratio "$mode:lmtp:$client:$s:ringmail" "$mode:lmtp:$client:$s:peer")"
      done
    fi
    echo "$line"
  done
done
echo
echo "commands:"
echo "  peer SMTP: smtp-source -l $size -f sender@client.test -M client.test$( ((reuse)) && echo " -d") -s S/P -m N/P -t user<i>@$domain $host:<postfix port>  (P = min(S, $nusers) processes)"
echo "  peer SMTP, spam mode: the same against the Postfix listener with smtpd_milters=inet:$host:<rspamd proxy port>"
echo "  peer LMTP: the same with -L against Dovecot's LMTP port"
echo "  ringmail:  $ringmail_bin serve --data_dir=DIR --shards=$shards --smtp_port=P --lmtp_port=Q --listen_address=$host --hostname=$domain --log_level=warn --max_connections_per_ip=0 --spam_scan=false|true (plain|spam)$( ((auth)) && echo " --mail_auth_check_local --dns_servers=$host:<dnsmasq port>")"
((have_load)) && echo "  ringmail-load --host=$host --port=PORT --connections=S --messages=$messages --size=$size --recipients=user1..user$nusers@$domain [--lmtp]$( ((reuse)) || echo " --new_connection_per_message")$( ((auth)) && echo " --from=sender@$sender_domain --helo=$sender_domain")"
echo
echo "targets: without scanning, ringmail ≥ 10x Postfix→Dovecot msgs/s at 20 and 100 sessions and ringmail LMTP ≥ 5x Dovecot LMTP"
if ((failed)); then
  echo "some runs failed (see the notes in the table); logs kept in $work" >&2
fi
exit "$failed"
