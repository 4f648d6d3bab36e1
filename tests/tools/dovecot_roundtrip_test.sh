#!/usr/bin/env bash
# The Dovecot round trip, both directions, on the same Maildir files (DESIGN.md "Data and
# durability": an existing /var/vmail can be served in place, and given back):
#   1. Dovecot 2.3 (doveadm, private config) saves mail into INBOX and two UTF-8 folders
#      ("Entwürfe", "Projekte/Größe"), sets \Seen \Flagged \Answered \Draft \Deleted and
#      keywords ($Work, $Label1, a custom one), expunges (holes in the UIDs), subscribes.
#   2. ringmail-admin reads the same files: status (messages, unseen, uidnext,
#      uidvalidity, vsize), fetch (UIDs, flags, keywords, subjects), folder list and
#      subscriptions must equal doveadm's.
#   3. ringmail changes them: `ringmail serve` takes three messages over SMTP, then
#      ringmail-admin changes flags and keywords (one keyword new to the folder), expunges,
#      creates a UTF-8 folder, renames one, subscribes.
#   4. Dovecot reads the files again: everything must equal what ringmail-admin shows
#      (old UIDs kept, new messages with ringmail's UIDs, flags, keywords, UIDVALIDITY,
#      UIDNEXT, folders, subscriptions).
#   5. And back once more: Dovecot saves and flags after ringmail; ringmail sees the UID
#      Dovecot gave and the flags.
# \Recent is ignored (it is per session, RFC 3501 2.3.2; RFC 9051 dropped it).
# Dovecot runs without its daemon: doveadm with -c PRIVATE_CONF and USER=..., so no
# userdb lookup is made and no system service is touched. Dovecot refuses mail access as
# root, so when this test runs as root everything (doveadm, ringmail, ringmail-admin)
# runs as `nobody` on a work directory owned by nobody.
# Usage: dovecot_roundtrip_test.sh RINGMAIL RINGMAIL_ADMIN   (KEEP_WORK=1 keeps the files)
# Installs dovecot-core and dovecot-imapd with apt-get when doveadm is missing (as
# scripts/install-deps.sh does); exits 77 (skip) only if that fails.
# Ends with "dovecot_roundtrip: N passed, N failed"; exits 0 only if nothing failed.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=ringmail_server_lib.sh
. "$here/ringmail_server_lib.sh"
# shellcheck source=check_lib.sh
. "$here/check_lib.sh"

ringmail="${1:?usage: dovecot_roundtrip_test.sh RINGMAIL RINGMAIL_ADMIN}"
admin="${2:?usage: dovecot_roundtrip_test.sh RINGMAIL RINGMAIL_ADMIN}"
ringmail="$(readlink -f "$ringmail")"
admin="$(readlink -f "$admin")"

user=john@example.org
check_name=dovecot_roundtrip  # (check_setup comes once Dovecot is known to be installed)
check_log_lines=0

# ---------------------------------------------------------------- prerequisites
if ! command -v doveadm >/dev/null; then
  echo "doveadm not found: installing dovecot-core dovecot-imapd" >&2
  sudo_cmd=()
  [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo -n)
  export DEBIAN_FRONTEND=noninteractive
  if ! { "${sudo_cmd[@]}" apt-get update -qq &&
         "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends dovecot-core dovecot-imapd >/dev/null; } ||
     ! command -v doveadm >/dev/null; then
    echo "SKIP: Dovecot (doveadm) cannot be installed" >&2
    exit 77
  fi
fi
check_need_binaries

check_setup dovecot_roundtrip
chmod 755 "$work"
# as_user is a prefix, not a function, so that `"${as_user[@]}" ringmail serve &` gives
# the server's own pid (setpriv and env exec it): SIGTERM must reach ringmail itself. It is
# also ringmail_server_lib.sh's ringmail_runner.
if [ "$(id -u)" -eq 0 ]; then
  chown nobody:nogroup "$work"
  as_user=(setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME="$work")
  mail_uid=$(id -u nobody)
  mail_gid=$(id -g nobody)
else
  as_user=(env HOME="$HOME")
  mail_uid=$(id -u)
  mail_gid=$(id -g)
fi
vmail="$work/vmail"
conf="$work/dovecot.conf"
"${as_user[@]}" mkdir -p "$data" "$vmail" "$work/run" "$work/out" || fatal "cannot create the work directory"

cat >"$conf" <<EOF
# Private Dovecot: doveadm only, no daemon, no system paths.
base_dir = $work/run
state_dir = $work/run
log_path = $work/dovecot.log
ssl = no
mail_location = maildir:$vmail/%d/%n/Maildir
mail_uid = $mail_uid
mail_gid = $mail_gid
first_valid_uid = 0
first_valid_gid = 0
passdb {
  driver = static
  args = password=unused
}
userdb {
  driver = static
  args = uid=$mail_uid gid=$mail_gid
}
namespace inbox {
  separator = /
  inbox = yes
}
EOF
chmod 644 "$conf"

# doveadm's warnings and errors go to stderr (and are kept: step 6 checks there are none).
dove() { "${as_user[@]}" USER="$user" doveadm -c "$conf" "$@" 2> >(tee -a "$work/doveadm.err" >&2); }
# "--" ends ringmail-admin's flags, so that a flag change like -\Seen is an argument.
adm() { "${as_user[@]}" "$admin" --data_dir="$data" --mail_root="$vmail" -- "$@"; }
out="$work/out"

# compare NAME EXPECTED_FILE ACTUAL_FILE: equal, or a FAIL with a unified diff.
compare() {
  local name="$1" a="$2" b="$3"
  if diff -q "$a" "$b" >/dev/null; then
    ok "$name"
  else
    bad "$name"
    diff -u --label "dovecot" --label "ringmail" "$a" "$b" | sed 's/^/    /'
  fi
}

# "uid<TAB>flags sorted<TAB>subject" per message, from doveadm and from ringmail-admin.
# Flags sorted (byte order), \Recent dropped; the subject as the header has it.
normalize_fetch() {
  LC_ALL=C awk -F'\t' -v OFS='\t' '{
    n = split($2, f, " "); out = ""
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (f[j] < f[i]) { t = f[i]; f[i] = f[j]; f[j] = t }
    for (i = 1; i <= n; i++) if (f[i] != "\\Recent") out = out (out == "" ? "" : " ") f[i]
    print $1, out, $3
  }'
}
dove_fetch() {  # FOLDER
  dove -f tab fetch 'uid flags hdr.subject' mailbox "$1" all | tail -n +2 | normalize_fetch
}
ring_fetch() {  # FOLDER
  adm fetch "$user" "$1" | sed -n 's/^uid=\([0-9]*\) flags=(\([^)]*\)) size=[0-9]* subject=\(.*\)$/\1\t\2\t\3/p' | normalize_fetch
}
status_keys='messages|unseen|uidnext|uidvalidity|vsize'
dove_status() { dove mailbox status 'messages unseen uidnext uidvalidity vsize' "$1" | grep -oE "\b($status_keys)=[0-9]+" | LC_ALL=C sort; }
ring_status() { adm mailbox status "$user" "$1" | grep -oE "\b($status_keys)=[0-9]+" | LC_ALL=C sort; }

# compare_all STEP WRITER: every folder's status and messages, the folder list,
# subscriptions. WRITER (dove|ring), the side that made the last changes, reads each
# folder first: its view is the truth, taken before the other side has opened (and
# perhaps rewritten) anything — e.g. the UIDVALIDITY of a folder ringmail created.
compare_all() {
  local step="$1" writer="$2" f i=0
  adm mailbox list "$user" | LC_ALL=C sort >"$out/$step.ring.list"
  dove mailbox list | LC_ALL=C sort >"$out/$step.dove.list"
  compare "$step: folder list" "$out/$step.dove.list" "$out/$step.ring.list"
  dove mailbox list -s | LC_ALL=C sort >"$out/$step.dove.subs"
  adm mailbox subscriptions "$user" | LC_ALL=C sort >"$out/$step.ring.subs"
  compare "$step: subscriptions" "$out/$step.dove.subs" "$out/$step.ring.subs"
  while IFS= read -r f; do
    i=$((i + 1))
    if [ "$writer" = ring ]; then
      ring_status "$f" >"$out/$step.$i.ring.status"
      ring_fetch "$f" >"$out/$step.$i.ring.fetch"
    fi
    dove_status "$f" >"$out/$step.$i.dove.status"
    dove_fetch "$f" >"$out/$step.$i.dove.fetch"
    if [ "$writer" = dove ]; then
      ring_status "$f" >"$out/$step.$i.ring.status"
      ring_fetch "$f" >"$out/$step.$i.ring.fetch"
    fi
    [ -s "$out/$step.$i.dove.status" ] || bad "$step: doveadm mailbox status $f gave nothing"
    compare "$step: status of $f" "$out/$step.$i.dove.status" "$out/$step.$i.ring.status"
    compare "$step: UIDs, flags, keywords, subjects of $f" "$out/$step.$i.dove.fetch" "$out/$step.$i.ring.fetch"
  done <"$out/$step.$writer.list"
}

# expect NAME FILE LINE: FILE has exactly LINE among its lines.
expect_line() {
  if grep -qxF -- "$3" "$2"; then ok "$1"; else bad "$1: no line '$3' in:"; sed 's/^/    /' "$2"; fi
}

t_start=$(date +%s)

# ---------------------------------------------------------------- 1. Dovecot writes
message() {  # SUBJECT
  printf 'From: Alice <alice@example.net>\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s@example.net>\r\n\r\nBody of %s.\r\n' \
    "$user" "$1" "$(tr -dc a-z0-9 </dev/urandom | head -c 16)" "$1"
}
dove mailbox create "Entwürfe" "Projekte" "Projekte/Größe" || fatal "doveadm mailbox create"
for i in $(seq 1 20); do
  message "inbox $i" | dove save -m INBOX || fatal "doveadm save inbox $i"
done
for i in 1 2 3 4; do message "entwurf $i" | dove save -m "Entwürfe" || fatal "doveadm save entwurf $i"; done
for i in 1 2 3; do message "größe $i" | dove save -m "Projekte/Größe" || fatal "doveadm save größe $i"; done

d_flags() {  # FLAGS FOLDER UIDS
  dove flags add "$1" mailbox "$2" uid "$3" || fatal "doveadm flags add $1 $2 $3"
}
d_flags '\Seen' INBOX 1:12
d_flags '\Flagged' INBOX 2,5,14
d_flags '\Answered' INBOX 3
d_flags '\Draft' INBOX 4
d_flags '$Work' INBOX 1:3,15
d_flags '$Label1' INBOX 8,16
d_flags 'Kundenprojekt' INBOX 9,16
d_flags '\Deleted' INBOX 6,7
dove expunge mailbox INBOX deleted || fatal "doveadm expunge INBOX"
d_flags '\Deleted' INBOX 11            # one \Deleted message stays
d_flags '\Seen' "Entwürfe" 1,2
d_flags '\Draft $Label2' "Entwürfe" 2:3
dove expunge mailbox "Entwürfe" uid 1 || fatal "doveadm expunge Entwürfe"
d_flags '\Flagged Groessenordnung' "Projekte/Größe" 2
dove mailbox subscribe INBOX "Entwürfe" "Projekte/Größe" || fatal "doveadm mailbox subscribe"

# ---------------------------------------------------------------- 2. ringmail reads
adm domain add example.org >/dev/null || fatal "ringmail-admin domain add example.org"
echo "pw-john" | adm user add "$user" >/dev/null || fatal "ringmail-admin user add $user"
compare_all "2 ringmail reads Dovecot's files" dove

# ---------------------------------------------------------------- 3. ringmail writes
smtp=$(ringmail_free_ports 1)
ringmail_runner=("${as_user[@]}")
ringmail_ready_seconds=30
ringmail_start "$work/server.log" --spam_scan=false --data_dir="$data" --mail_root="$vmail" --shards=1 \
  --shutdown_grace=1s --smtp_port="$smtp" || fatal "ringmail serve did not start"
python3 - "$smtp" "$user" <<'EOF' || { tail -n 30 "$work/server.log"; fatal "SMTP delivery through ringmail serve"; }
import smtplib, sys
port, rcpt = int(sys.argv[1]), sys.argv[2]
with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
    for i in (1, 2, 3):
        msg = ("From: Bob <bob@example.net>\r\nTo: %s\r\nSubject: ringmail %d\r\n"
               "Message-ID: <rm%d@example.net>\r\n\r\nDelivered by ringmail.\r\n" % (rcpt, i, i))
        s.sendmail("bob@example.net", [rcpt], msg.encode())
EOF
ok "3 messages delivered over SMTP"
rc=0
ringmail_stop || rc=$?
[ "$rc" -eq 0 ] || { tail -n 30 "$work/server.log"; bad "ringmail serve exited $rc after SIGTERM"; }

# The new messages got UIDs 21, 22, 23 (Dovecot's uidnext was 21).
ring_fetch INBOX >"$out/3.inbox"
for i in 1 2 3; do expect_line "ringmail gave 'ringmail $i' UID $((20 + i))" "$out/3.inbox" "$((20 + i))		ringmail $i"; done

a_flags() {  # FOLDER UIDS OP
  adm flags "$user" "$1" "$2" "$3" >/dev/null || fatal "ringmail-admin flags $1 $2 $3"
}
# Keywords are IMAP atoms, ASCII only (RFC 9051 9: ATOM-CHAR is CHAR, 0x01-0x7f): Dovecot
# refuses "8bit characters in keyword", and so must ringmail.
if adm flags "$user" INBOX 1 '+Größe' >/dev/null 2>&1; then
  bad "ringmail-admin took the 8-bit keyword 'Größe' (Dovecot refuses it)"
else
  ok "ringmail-admin refuses an 8-bit keyword, as Dovecot does"
fi
a_flags INBOX 1 '-\Seen'
a_flags INBOX 2 '-$Work'
a_flags INBOX 8 '+\Flagged,\Answered'
a_flags INBOX 21 '+\Seen,$Work'
a_flags INBOX 22 '+$Forwarded'        # a keyword INBOX did not have: a new letter
a_flags INBOX 16 '=\Seen,Kundenprojekt'
a_flags INBOX 12 '+\Deleted'
a_flags "Entwürfe" 2 '-$Label2'
a_flags "Projekte/Größe" 1,3 '+\Seen,Groessenordnung'
adm expunge "$user" INBOX >/dev/null || fatal "ringmail-admin expunge INBOX (\\Deleted: 11, 12)"
adm expunge "$user" INBOX 23 >/dev/null || fatal "ringmail-admin expunge INBOX 23"
adm mailbox create "$user" "Archiv" >/dev/null || fatal "ringmail-admin mailbox create Archiv"
adm mailbox create "$user" "Archiv/Tränen" >/dev/null || fatal "ringmail-admin mailbox create Archiv/Tränen"
adm mailbox rename "$user" "Entwürfe" "Archiv/Entwürfe 2024" >/dev/null ||
  fatal "ringmail-admin mailbox rename Entwürfe 'Archiv/Entwürfe 2024'"
adm mailbox subscribe "$user" "Archiv/Tränen" >/dev/null || fatal "ringmail-admin mailbox subscribe Archiv/Tränen"
ring_fetch INBOX >"$out/3.inbox"
expect_line "ringmail-admin shows the new keyword on UID 22" "$out/3.inbox" "22	\$Forwarded	ringmail 2"
if grep -qE '^(11|12|23)	' "$out/3.inbox"; then bad "ringmail-admin still shows expunged UIDs"; else ok "UIDs 11, 12, 23 expunged"; fi

# ---------------------------------------------------------------- 4. Dovecot reads
compare_all "4 Dovecot reads ringmail's files" ring

# ---------------------------------------------------------------- 5. and back again
message "after ringmail" | dove save -m INBOX || fatal "doveadm save after ringmail"
d_flags '\Seen $Forwarded' INBOX 24
d_flags 'Nachbearbeitung' "Archiv/Entwürfe 2024" 3
compare_all "5 ringmail reads Dovecot's files again" dove
dove_fetch INBOX >"$out/5.inbox"
expect_line "Dovecot gave the next message UID 24 (after ringmail's 23)" "$out/5.inbox" \
  "24	\$Forwarded \\Seen	after ringmail"

# ---------------------------------------------------------------- 6. Dovecot's complaints
cat "$work/dovecot.log" >>"$work/doveadm.err" 2>/dev/null
if grep -qiE 'error|warning|panic|fatal|corrupt|broken' "$work/doveadm.err"; then
  bad "Dovecot logged warnings or errors:"
  grep -iE 'error|warning|panic|fatal|corrupt|broken' "$work/doveadm.err" | sed 's/^/    /'
else
  ok "Dovecot logged no errors (uidlist, keywords, index)"
fi
echo "time: $(($(date +%s) - t_start)) s"
summary
[ "$failed" -eq 0 ]
