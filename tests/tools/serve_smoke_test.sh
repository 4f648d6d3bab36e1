#!/usr/bin/env bash
# `ringmail serve` end to end: starts on an empty data dir, makes its self-signed
# certificate, logs ready with the requested shards, exits 0 on SIGTERM and on SIGINT;
# with --user it hands what it created (the mail root too, wherever --mail_root puts it)
# to that user; where io_uring is denied it exits non-zero with one line naming the cause.
# `ringmail --version` names the release, the commit and the build type.
#   serve_smoke_test.sh RINGMAIL DENY_IO_URING RINGMAIL_ADMIN
set -uo pipefail
# The stock SpamAssassin rules take seconds to compile; ringmail's own rule files keep
# the scanner on at a fraction of the start-up time (tests/tools/spam_clients_test.sh
# runs the stock rules).
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=ringmail_server_lib.sh
. "$here/ringmail_server_lib.sh"
own_rules="$(cd "$here/../.." && pwd)/spam/rules"
ringmail="$1"
deny="$2"
admin="$3"
work="$(mktemp -d)"
trap 'ringmail_kill; rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; echo "--- log:"; cat "$work/log" 2>/dev/null; exit 1; }

start_and_stop() {  # $1 = signal
  rm -f "$work/log"
  local smtp lmtp
  read -r smtp lmtp < <(ringmail_free_ports 2)
  ringmail_start "$work/log" --spam_rules="$own_rules" --data_dir="$work/data" --shards=2 --shutdown_grace=1s \
    --smtp_port="$smtp" --lmtp_port="$lmtp" --lmtp_socket="$work/lmtp.sock" 2>/dev/null || fail "no ready line"
  grep -q "event=ready.*shards=2" "$work/log" || fail "ready line lacks shards=2"
  python3 -c "import smtplib; s=smtplib.SMTP('127.0.0.1', $smtp, timeout=5); assert s.ehlo()[0] == 250; s.quit()" ||
    fail "SMTP listener does not answer"
  # smtplib.LMTP's ehlo() sends LHLO.
  python3 -c "import smtplib; s=smtplib.LMTP('127.0.0.1', $lmtp, timeout=5); assert s.ehlo()[0] == 250" ||
    fail "LMTP listener does not answer"
  python3 -c "import smtplib; s=smtplib.LMTP('$work/lmtp.sock'); assert s.ehlo()[0] == 250" ||
    fail "LMTP Unix socket does not answer"
  [ "$(grep -c 'event=shard_started' "$work/log")" -eq 2 ] || fail "expected 2 shard_started lines"
  grep -q "setup=SINGLE_ISSUER|DEFER_TASKRUN\|setup=COOP_TASKRUN\|setup=plain" "$work/log" || fail "no ring setup logged"
  local rc=0
  ringmail_stop "$1"; rc=$?
  [ "$rc" -eq 0 ] || fail "exit code $rc after SIG$1"
  grep -q "event=shutdown_requested" "$work/log" || fail "no shutdown_requested"
  grep -q "event=stopped" "$work/log" || fail "no stopped"
}

# --version: "ringmail <version> (commit <hash|unknown>, <build type>)", exit 0; not
# abseil's default ("Debug build (NDEBUG not #defined)").
version=$("$ringmail" --version) || fail "--version exited non-zero"
[[ $version =~ ^ringmail\ [0-9]+\.[0-9]+\.[0-9]+\ \(commit\ ([0-9a-f]{7,}|unknown),\ [A-Za-z]+\)$ ]] ||
  fail "unexpected --version output: $version"
# The usage names only what the binary serves.
usage=$("$ringmail" 2>&1)
grep -q "SMTP" <<<"$usage" || fail "usage does not name SMTP: $usage"
grep -q "IMAP" <<<"$usage" || fail "usage does not name IMAP: $usage"
! grep -q "POP3" <<<"$usage" || fail "usage promises POP3: $usage"

start_and_stop TERM
[ -s "$work/data/tls/cert.pem" ] || fail "no self-signed certificate"
[ -s "$work/data/directory.sqlite" ] || fail "no SQLite directory created on first start"
grep -q "event=ready.*directory=sqlite:" "$work/log" || fail "ready line lacks the directory"
[ "$(stat -c %a "$work/data/tls/key.pem")" = "600" ] || fail "key.pem is not mode 600"
openssl x509 -in "$work/data/tls/cert.pem" -noout -subject >/dev/null || fail "certificate does not parse"
cert_before="$(sha256sum < "$work/data/tls/cert.pem")"
start_and_stop INT
[ "$cert_before" = "$(sha256sum < "$work/data/tls/cert.pem")" ] || fail "certificate regenerated on second start"

# --user: root binds, then the server runs as that user; what the start created as root
# stays usable, the compiled-rule cache included (a SIGHUP reload loads every database
# from it). Only where the test runs as root (CI does) and the user exists.
if [ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1; then
  chmod 755 "$work"
  rm -f "$work/log"
  smtp=$(ringmail_free_ports 1)
  ringmail_ready_seconds=15
  ringmail_start "$work/log" --user=nobody --spam_rules="$own_rules" --data_dir="$work/data-user" --shards=1 \
    --shutdown_grace=1s --smtp_port="$smtp" 2>/dev/null
  grep -q "event=privileges_dropped.*user=nobody" "$work/log" || fail "privileges not dropped"
  [ "$(stat -c %U "$work/data-user/spam-cache")" = nobody ] || fail "spam-cache not handed to nobody"
  kill -HUP "$ringmail_pid"
  for _ in $(seq 1 300); do grep -q "event=spam_rules_reloaded" "$work/log" && break; sleep 0.1; done
  line=$(grep "event=spam_rules_reloaded" "$work/log")
  databases=$(sed -n 's/.* databases=\([0-9]*\).*/\1/p' <<<"$line")
  cached=$(sed -n 's/.*cached_databases=\([0-9]*\).*/\1/p' <<<"$line")
  [ -n "$databases" ] && [ "$databases" -gt 0 ] && [ "$cached" = "$databases" ] ||
    { fail "reload as nobody did not use the cache: $line"; }
  ringmail_stop || fail "non-zero exit as nobody"
fi

# --user with --mail_root outside --data_dir: the mail root the listeners deliver under
# (created by root at start) is the one handed to the user, so a delivery as nobody lands.
if [ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1; then
  rm -f "$work/log"
  mkdir -p "$work/elsewhere"
  chmod 755 "$work" "$work/elsewhere"
  "$admin" --data_dir="$work/data-root" domain add root.test >/dev/null || fail "domain add"
  echo pw | "$admin" --data_dir="$work/data-root" --scheme=PLAIN user add "u1@root.test" >/dev/null || fail "user add"
  smtp=$(ringmail_free_ports 1)
  ringmail_start "$work/log" --user=nobody --spam_scan=false --data_dir="$work/data-root" \
    --mail_root="$work/elsewhere/vmail" --shards=1 --shutdown_grace=1s --smtp_port="$smtp" 2>/dev/null
  grep -q "event=privileges_dropped.*user=nobody" "$work/log" || fail "privileges not dropped"
  [ "$(stat -c %U "$work/elsewhere/vmail")" = nobody ] || fail "--mail_root not handed to nobody"
  python3 - "$smtp" <<'PY' || fail "delivery as nobody under --mail_root refused"
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10)
refused = s.sendmail("sender@client.test", ["u1@root.test"],
                     "From: sender@client.test\r\nTo: u1@root.test\r\nSubject: mail root\r\n\r\nhello\r\n")
assert not refused, refused
s.quit()
PY
  ringmail_stop || fail "non-zero exit as nobody (mail root)"
  landed=$(find "$work/elsewhere/vmail/root.test/u1/Maildir/new" -type f 2>/dev/null | wc -l)
  [ "$landed" -eq 1 ] || fail "expected 1 message under --mail_root, found $landed"
fi

# io_uring denied by seccomp: one clear line, non-zero exit, no hang.
rm -f "$work/log"
# ringmail_start fails (no event=ready: the server exits); its exit status is then the
# one to check.
ringmail_runner=(timeout 10 "$deny")
ringmail_ready_seconds=12
ringmail_start "$work/log" --spam_rules="$own_rules" --data_dir="$work/data" 2>/dev/null && fail "started with io_uring denied"
ringmail_runner=()
wait "$ringmail_pid"
rc=$?
ringmail_pid=""
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "expected a quick non-zero exit, got $rc"
grep -q "event=startup_failed.*io_uring.*denied" "$work/log" || fail "no clear io_uring failure line"
[ "$(grep -c 'level=error' "$work/log")" -eq 1 ] || fail "expected exactly one error line"
echo "serve smoke test passed"
