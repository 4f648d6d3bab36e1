# shellcheck shell=bash
# Sourced by the end-to-end test scripts: the check counters, verdict helpers and work
# directory that each script used to carry in its own copy of the same lines.
#
#   check_setup NAME       sets check_name=NAME, work (mktemp -d), data=$work/data,
#                          log=$work/server.log, passed=0, failed=0, failures=(); installs
#                          the EXIT trap (check_cleanup) and exits 130 on INT, 143 on TERM
#   ok MSG...              counts a passed check, prints "ok: MSG"
#   bad MSG...             counts a failed check, prints "FAIL: MSG", remembers MSG
#   summary [NAME]         after a failure: the failed checks and the last $check_log_lines
#                          (40; 0 for none) lines of $log; then "NAME: N passed, N failed"
#                          (NAME defaults to check_setup's)
#   fatal MSG...           bad MSG, summary, exit 1
#   check NAME COMMAND...  ok NAME if COMMAND succeeds, else bad NAME
#   check_need_binaries    fatal unless python3 is installed and $ringmail and $admin (the
#                          binaries the script was given) are executable
#   adm ARGS...            ringmail-admin ($admin) --data_dir="$data" ARGS
#   check_add_users DOMAIN USER:PASSWORD...
#                          adm domain add DOMAIN, then adm user add USER@DOMAIN with the
#                          password on stdin, output discarded; fatal on a refusal
#
# The EXIT trap runs check_cleanup_hook first if the script defines one (e.g. to stop a
# Dovecot), then ringmail_kill when ringmail_server_lib.sh is sourced too, then removes
# $work, or keeps it and says so when KEEP_WORK is set. A script ends with
#   summary
#   [ "$failed" -eq 0 ]
# A script that needs more may redefine a function after sourcing this file (adm run as
# the mail user, bad that also shows a client's output, a summary with timings).

check_name=""
check_log_lines=40
work=""
data=""
log=""
passed=0
failed=0
failures=()

check_cleanup() {
  declare -F check_cleanup_hook >/dev/null && check_cleanup_hook
  declare -F ringmail_kill >/dev/null && ringmail_kill
  [ -n "$work" ] || return 0
  if [ -n "${KEEP_WORK:-}" ]; then echo "work directory kept: $work"; else rm -rf "$work"; fi
}

check_setup() {
  check_name="${1:?check_setup NAME}"
  work="$(mktemp -d)"
  data="$work/data"
  log="$work/server.log"
  trap check_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

ok() { passed=$((passed + 1)); echo "ok: $*"; }
bad() { failed=$((failed + 1)); failures+=("$*"); echo "FAIL: $*"; }

# shellcheck disable=SC2120  # (NAME is optional: fatal calls it without)
summary() {
  echo
  if [ "$failed" -gt 0 ]; then
    local f
    for f in "${failures[@]}"; do echo "failed: $f"; done
    if [ "$check_log_lines" -gt 0 ]; then
      echo "--- server log (last $check_log_lines lines):"
      tail -n "$check_log_lines" "$log" 2>/dev/null
      echo "---"
    fi
  fi
  echo "${1:-$check_name}: $passed passed, $failed failed"
}

fatal() { bad "$*"; summary; exit 1; }
check() { local name="$1"; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }

# shellcheck disable=SC2154  # ($ringmail and $admin are the script's)
check_need_binaries() {
  command -v python3 >/dev/null || fatal "python3 not found (Debian package: python3)"
  [ -x "$ringmail" ] || fatal "ringmail binary not executable: $ringmail"
  [ -x "$admin" ] || fatal "ringmail-admin binary not executable: $admin"
}

adm() { "$admin" --data_dir="$data" "$@"; }

check_add_users() {
  local domain="$1" spec
  shift
  adm domain add "$domain" >/dev/null || fatal "ringmail-admin domain add $domain"
  for spec in "$@"; do
    echo "${spec#*:}" | adm user add "${spec%%:*}@$domain" >/dev/null ||
      fatal "ringmail-admin user add ${spec%%:*}@$domain"
  done
}
