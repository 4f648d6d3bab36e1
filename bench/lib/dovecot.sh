# shellcheck shell=bash
# shellcheck disable=SC2154  # bench_host: bench/lib/common.sh
# Sourced by the bench scripts (after common.sh): a private Dovecot instance under a work
# directory, as bench/smtp, bench/pop3 and bench/imap each set one up (`dovecot -c CONF`,
# its own base_dir/state_dir/log, listening on $bench_host only; nothing under /etc read
# or changed, the system's dovecot service neither used nor touched). Those three keep
# their own copies for now; new scripts (bench/sieve) use these.
#
#   dovecot_conf_head DIR NAME PROTOCOLS   writes DIR/dovecot.conf's common part:
#                                          base_dir DIR/run, state_dir DIR/state,
#                                          log_path DIR/dovecot.log, instance_name NAME,
#                                          protocols, listen = $bench_host, ssl = no,
#                                          Debian's internal users. The caller appends
#                                          passdb, userdb, mail_location and services.
#   dovecot_self_signed DIR                DIR/key.pem, DIR/cert.pem (P-256, CN=localhost)
#                                          for a caller that turns ssl on
#   dovecot_start DIR                      starts it; prints the master's pid
#   dovecot_stop DIR                       `dovecot stop`, then TERM/KILL of the master
#
# Needs root (Dovecot starts as root and drops privileges), dovecot-core, and the dovecot
# and dovenull users (Debian's dovecot-core creates them).

dovecot_conf_head() {
  local dir=$1 name=$2 protocols=$3
  mkdir -p "$dir/run" "$dir/state"
  cat >"$dir/dovecot.conf" <<EOF
# Private Dovecot for a ringmail benchmark (bench/lib/dovecot.sh); defaults unless set here.
base_dir = $dir/run
state_dir = $dir/state
log_path = $dir/dovecot.log
instance_name = $name
protocols = $protocols
listen = $bench_host
ssl = no
default_internal_user = dovecot
default_login_user = dovenull
EOF
}

dovecot_self_signed() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj /CN=localhost \
    -keyout "$1/key.pem" -out "$1/cert.pem" 2>/dev/null
}

dovecot_start() {
  local dir=$1
  dovecot -c "$dir/dovecot.conf" >"$dir/start.out" 2>&1 || {
    cat "$dir/start.out" >&2
    tail -n 20 "$dir/dovecot.log" >&2 2>/dev/null || true
    return 1
  }
  wait_pid_file "$dir/run/master.pid"
}

dovecot_stop() {
  local dir=$1 pid
  pid=$(pid_from "$dir/run/master.pid" || true)
  timeout 20 dovecot -c "$dir/dovecot.conf" stop >/dev/null 2>&1 || true
  [[ -n $pid ]] && stop_pid "$pid"
  return 0
}
