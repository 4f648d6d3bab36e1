# shellcheck shell=bash
# shellcheck disable=SC2154  # bench_host: bench/lib/common.sh
# Sourced by the bench scripts (after common.sh): a private Postfix instance under a work
# directory, as bench/smtp/run.sh sets one up (`postfix -c DIR`, its own queue, no chroot,
# logging to a file through postlogd; nothing under /etc read or changed).
#
#   postfix_main_cf CONF QUEUE DATA NAME    writes CONF/main.cf's common part: own queue
#                                           and data dirs, loopback IPv4 only, no local
#                                           delivery, no aliases, maillog_file in QUEUE/..;
#                                           myhostname=NAME. The caller appends its own.
#   postfix_master_cf CONF                  writes CONF/master.cf with Debian's stock
#                                           services (no chroot); the caller appends its
#                                           listeners.
#   postfix_start CONF QUEUE                check, start; prints master's pid
#   postfix_stop CONF QUEUE                 stop (TERM/KILL of master if stop hangs)
#   postfix_queue_empty QUEUE               true when no message is in any queue
#
# Needs the postfix user and postdrop group (Debian's postfix package) and root.

postfix_main_cf() {
  local conf=$1 queue=$2 data=$3 name=$4
  mkdir -p "$conf" "$queue" "$data"
  chown postfix:postfix "$data"
  cat >"$conf/main.cf" <<EOF
# Private Postfix for a ringmail benchmark (bench/lib/postfix.sh); defaults unless set here
# (queue files fsynced before 250, as always).
compatibility_level = 3.6
queue_directory = $queue
data_directory = $data
mail_owner = postfix
setgid_group = postdrop
myhostname = $name
mydomain = ${name#*.}
myorigin = \$myhostname
inet_interfaces = $bench_host
inet_protocols = ipv4
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
biff = no
append_dot_mydomain = no
readme_directory = no
smtpd_banner = \$myhostname ESMTP
maillog_file = $queue/../maillog
maillog_file_prefixes = $(dirname "$queue")
EOF
}

postfix_master_cf() {
  cat >"$1/master.cf" <<'EOF'
# service type  private unpriv  chroot  wakeup  maxproc command
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
}

postfix_start() {
  local conf=$1 queue=$2 out
  out=$(dirname "$queue")/postfix-start.out
  postfix -c "$conf" check >"$out" 2>&1 || { cat "$out" >&2; return 1; }
  postfix -c "$conf" start >>"$out" 2>&1 || { cat "$out" >&2; return 1; }
  wait_pid_file "$queue/pid/master.pid"
}

postfix_stop() {
  local conf=$1 queue=$2 pid
  pid=$(pid_from "$queue/pid/master.pid" || true)
  timeout 20 postfix -c "$conf" stop >/dev/null 2>&1 || true
  [[ -n $pid ]] && stop_pid "$pid"
  return 0
}

postfix_queue_empty() {
  local d
  for d in maildrop incoming active deferred hold; do
    [[ -z $(find "$1/$d" -type f -print -quit 2>/dev/null) ]] || return 1
  done
  return 0
}
