#!/usr/bin/env bash
# Real POP3 fetchers (issue 12, "fetchmail and getmail6 (Debian) fetching a 1,000-message
# mailbox with keep and delete") against a POP3 server on 127.0.0.1, as john@example.org:
#   1. COUNT generated messages (tests/tools/pop3_fetchers.py generate: unique
#      Message-IDs, 1-6 KB, lines that must be dot-stuffed) written into the user's
#      Maildir/new before the server opens it;
#   2. fetchmail, `keep`, `uidl` with an idfile, through an MDA that writes each message
#      to its own file: once over the plain port with STLS (sslproto tls1.2+, which makes
#      STLS mandatory), once over implicit TLS (ssl); both must exit 0 with COUNT files,
#      every one the original byte for byte (pop3_fetchers.py compare); the idfile must
#      hold the server's UIDLs; a second STLS run with the first idfile fetches nothing
#      (exit 1, "no mail") and the server still holds COUNT messages;
#   3. getmail6 (SimplePOP3SSLRetriever: getmail6 has no STLS for POP3) into a Maildir,
#      run through getmail_run.py (a fix for getmail6's lost-SIGCHLD hang, nothing else):
#      `delete = false` fetches COUNT, a second run with `read_all = false` fetches 0 (its
#      oldmail file is keyed by UIDL), a third with `read_all = true`, `delete = true`
#      fetches COUNT again and deletes them: POP3 STAT then says "0 0" and the user's
#      Maildir holds no message file. Each getmail run exits 0; the counts come from its
#      summary line and from the files it wrote.
# Certificates are not checked (sslcertck off; getmail without ca_certs): the servers use
# self-signed ones.
# Usage:
#   pop3_fetchers_test.sh dovecot                          a private Dovecot 2.3 (validates the test)
#   pop3_fetchers_test.sh ringmail RINGMAIL RINGMAIL_ADMIN `ringmail serve` with a temp data dir
# COUNT=N changes the number of messages (default 1000); KEEP_WORK=1 keeps the files.
# Installs fetchmail and getmail6 with apt-get when missing; exits 77 (skip) if that fails.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=ringmail_server_lib.sh
. "$here/ringmail_server_lib.sh"
# shellcheck source=check_lib.sh
. "$here/check_lib.sh"
kind="${1:?usage: pop3_fetchers_test.sh dovecot | ringmail RINGMAIL RINGMAIL_ADMIN}"
count="${COUNT:-1000}"
check_setup "pop3_fetchers ($kind)"
check_log_lines=30
[ "$kind" = ringmail ] || check_log_lines=0
check_cleanup_hook() { if declare -F dovecot_stop >/dev/null; then dovecot_stop; fi; }
# expect WHAT EXPECTED ACTUAL
expect() { if [ "$2" = "$3" ]; then ok "$1: $3"; else bad "$1: expected $2, got $3"; fi; }

if ! command -v fetchmail >/dev/null || ! command -v getmail >/dev/null; then
  echo "fetchmail or getmail not found: installing fetchmail getmail6" >&2
  sudo_cmd=()
  [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo -n)
  { DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends fetchmail getmail6 >/dev/null ||
    { "${sudo_cmd[@]}" apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends fetchmail getmail6 >/dev/null; }; } &&
    command -v fetchmail >/dev/null && command -v getmail >/dev/null ||
    { echo "SKIP: fetchmail and getmail6 cannot be installed"; exit 77; }
fi
command -v python3 >/dev/null || fatal "python3 not found"
tool() { python3 "$here/pop3_fetchers.py" "$@"; }

orig="$work/orig"
tool generate --maildir "$orig" --count "$count" >/dev/null || fatal "generate $count messages"

case "$kind" in
  dovecot)
    # shellcheck source=imap_dovecot_lib.sh
    . "$here/imap_dovecot_lib.sh"
    DOVECOT_POP3=1 dovecot_start
    [ -n "${dovecot_pop3_port:-}" ] || fatal "imap_dovecot_lib.sh has no DOVECOT_POP3 listener"
    pop3_port=$dovecot_pop3_port
    pop3s_port=$dovecot_pop3s_port
    maildir="$vmail/example.org/john/Maildir"
    "${as_user[@]}" mkdir -p "$maildir/new" "$maildir/cur" "$maildir/tmp" || fatal "mkdir $maildir"
    cp "$orig/new/"* "$maildir/new/" || fatal "copy the messages into $maildir/new"
    [ "$(id -u)" -eq 0 ] && chown -R nobody:nogroup "$vmail"
    ;;
  ringmail)
    ringmail="$(readlink -f "${2:?ringmail binary}")"
    admin="$(readlink -f "${3:?ringmail-admin binary}")"
    check_add_users example.org john:pw-john
    maildir="$data/vmail/example.org/john/Maildir"
    mkdir -p "$maildir/new" "$maildir/cur" "$maildir/tmp" || fatal "mkdir $maildir"
    # Files in new/ are taken in when the server first opens the mailbox (at POP3 login).
    cp "$orig/new/"* "$maildir/new/" || fatal "copy the messages into $maildir/new"
    read -r pop3_port pop3s_port < <(ringmail_free_ports 2)
    ringmail_start "$log" --data_dir="$data" "${ringmail_test_flags[@]}" --pop3_port="$pop3_port" --pop3s_port="$pop3s_port" ||
      fatal "ringmail did not get ready in 10 s"
    ;;
  *) fatal "unknown server kind $kind" ;;
esac
ok "$kind serving POP3 on 127.0.0.1:$pop3_port (STLS) and :$pop3s_port (TLS), $count messages in the Maildir"
conn=(--host 127.0.0.1 --user john@example.org --password pw-john)

# ---- fetchmail ----------------------------------------------------------------------
# The MDA: one file per message, so the count is the number of deliveries.
mda="$work/mda.sh"
printf '#!/bin/sh\nf=$(mktemp "$1/m.XXXXXXXX") && cat >"$f"\n' >"$mda"
chmod 755 "$mda"
export FETCHMAILUSER="$(id -un)" HOME="$work"
# fetchmail_run NAME PORT TLS_OPTIONS IDFILE -> exit status; output in $work/NAME.out, mail in $work/NAME/
fetchmail_run() {
  local name=$1 port=$2 tls=$3 idfile=$4
  mkdir -p "$work/$name"
  local rc="$work/$name.rc"
  cat >"$rc" <<EOF
set no bouncemail
poll 127.0.0.1 service $port protocol POP3 uidl
  user "john@example.org" there with password "pw-john"
  options keep no rewrite no sslcertck $tls
  mda "$mda $work/$name"
EOF
  chmod 600 "$rc"
  timeout 300 fetchmail -N --nosyslog -f "$rc" --idfile "$idfile" --pidfile "$work/fetchmail.pid" -v \
    >"$work/$name.out" 2>&1
}
files_in() { find "$1" -type f 2>/dev/null | wc -l; }

fetchmail_run fm_stls "$pop3_port" 'sslproto "tls1.2+"' "$work/fm_stls.ids"
rc=$?
expect "fetchmail STLS keep: exit status" 0 "$rc"
grep -q "POP3> STLS" "$work/fm_stls.out" && ok "fetchmail STLS: the transcript shows STLS" ||
  bad "fetchmail STLS: no STLS in the transcript (-v)"
expect "fetchmail STLS keep: messages delivered" "$count" "$(files_in "$work/fm_stls")"

fetchmail_run fm_tls "$pop3s_port" 'ssl sslproto "tls1.2+"' "$work/fm_tls.ids"
rc=$?
expect "fetchmail TLS (pop3s) keep: exit status" 0 "$rc"
expect "fetchmail TLS (pop3s) keep: messages delivered" "$count" "$(files_in "$work/fm_tls")"

if tool compare --orig "$orig" --count "$count" --fetched "$work/fm_stls" --fetched "$work/fm_tls" >"$work/fm.compare" 2>&1; then
  ok "fetchmail: $(tail -n 1 "$work/fm.compare"): every Message-ID once, bodies and headers byte for byte"
else
  head -n 20 "$work/fm.compare"; bad "fetchmail: fetched messages differ from the originals"
fi

# The idfile: one line per kept message, "user@host UIDL"; the UIDLs must be the server's.
tool uidl --port "$pop3s_port" --tls "${conn[@]}" | sort >"$work/server.uidls" || bad "poplib UIDL"
expect "server UIDL: distinct values" "$count" "$(sort -u "$work/server.uidls" | wc -l)"
awk 'NF >= 2 && $1 !~ /^#/ {print $NF}' "$work/fm_stls.ids" | sed 's/^"//; s/"$//' | sort >"$work/fm.uidls"
if cmp -s "$work/fm.uidls" "$work/server.uidls"; then ok "fetchmail's idfile holds the server's $count UIDLs"
else bad "fetchmail's idfile ($(wc -l <"$work/fm.uidls") lines) differs from the server's UIDL list"; diff "$work/fm.uidls" "$work/server.uidls" | head -5; fi

fetchmail_run fm_again "$pop3_port" 'sslproto "tls1.2+"' "$work/fm_stls.ids"
rc=$?
expect "fetchmail STLS keep, second run with the idfile: exit status (1 = no mail)" 1 "$rc"
expect "fetchmail second run: messages delivered" 0 "$(files_in "$work/fm_again")"
read -r n octets < <(tool stat --port "$pop3_port" --stls "${conn[@]}")
expect "after fetchmail keep: POP3 STAT count" "$count" "${n:-none}"

# ---- getmail6 -----------------------------------------------------------------------
gm="$work/getmail"
mkdir -p "$gm/state" "$gm/mail/new" "$gm/mail/cur" "$gm/mail/tmp"
# getmail through getmail_run.py, which fixes getmail6's lost-SIGCHLD hang (see there),
# with getmail's own interpreter (it imports getmailcore).
getmail="$(command -v getmail)"
getmail_python="$(sed -n '1s/^#! *//p' "$getmail" | awk '{print $1}')"
[ -x "$getmail_python" ] || getmail_python=python3
# getmail's Maildir delivery refuses to run as root: as root, run it as nobody.
as_nobody=()
if [ "$(id -u)" -eq 0 ]; then
  chmod 755 "$work"
  chown -R nobody:nogroup "$gm"
  as_nobody=(setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME="$gm")
fi
# getmail_run NAME DELETE READ_ALL -> exit status; output in $gm/NAME.out
getmail_run() {
  cat >"$gm/$1.rc" <<EOF
[retriever]
type = SimplePOP3SSLRetriever
server = 127.0.0.1
port = $pop3s_port
username = john@example.org
password = pw-john

[destination]
type = Maildir
path = $gm/mail/

[options]
verbose = 1
delete = $2
read_all = $3
delivered_to = false
received = false
EOF
  timeout 300 "${as_nobody[@]}" "$getmail_python" "$here/getmail_run.py" "$getmail" --getmaildir="$gm/state" --rcfile="$gm/$1.rc" >"$gm/$1.out" 2>&1
}
# The summary line: "N messages (B bytes) retrieved, S skipped from ..."
retrieved() { sed -n 's/^ *\([0-9][0-9]*\) messages\{0,1\} .*retrieved.*/\1/p' "$1" | tail -n 1; }

getmail_run keep false true
rc=$?
expect "getmail delete=false: exit status" 0 "$rc"
expect "getmail delete=false: messages retrieved (summary)" "$count" "$(retrieved "$gm/keep.out")"
expect "getmail delete=false: files in its Maildir" "$count" "$(files_in "$gm/mail")"
if tool compare --orig "$orig" --count "$count" --fetched "$gm/mail" >"$work/gm.compare" 2>&1; then
  ok "getmail: every Message-ID once, bodies and headers byte for byte"
else
  head -n 20 "$work/gm.compare"; bad "getmail: fetched messages differ from the originals"
fi

getmail_run new_only false false
rc=$?
expect "getmail read_all=false second run: exit status" 0 "$rc"
expect "getmail read_all=false second run: messages retrieved (summary)" 0 "$(retrieved "$gm/new_only.out")"
expect "getmail read_all=false second run: files in its Maildir" "$count" "$(files_in "$gm/mail")"

find "$gm/mail/new" "$gm/mail/cur" -type f -delete
getmail_run delete true true
rc=$?
expect "getmail delete=true: exit status" 0 "$rc"
expect "getmail delete=true: messages retrieved (summary)" "$count" "$(retrieved "$gm/delete.out")"
expect "getmail delete=true: files in its Maildir" "$count" "$(files_in "$gm/mail")"
read -r n octets < <(tool stat --port "$pop3s_port" --tls "${conn[@]}")
expect "after getmail delete=true: POP3 STAT" "0 0" "${n:-none} ${octets:-none}"
expect "after getmail delete=true: message files in the server's Maildir (new/ and cur/)" 0 \
  "$(find "$maildir/new" "$maildir/cur" -type f | wc -l)"

for f in "$work"/fm_*.out "$gm"/*.out; do
  grep -qi 'traceback\|delivery error' "$f" && { echo "--- $f:"; grep -i 'traceback\|delivery error' "$f" | head -5; }
done
if [ "$kind" = ringmail ]; then
  kill -0 "$ringmail_pid" 2>/dev/null && ok "server still running" || bad "server died"
  errors="$(grep -c 'level=error' "$log")"
  expect "server log: level=error lines" 0 "$errors"
  ringmail_stop; expect "server exit status after SIGTERM" 0 "$?"
fi
summary
[ "$failed" -eq 0 ]
