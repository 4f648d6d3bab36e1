#!/usr/bin/env bash
# Crash safety (DESIGN.md "250 means on disk"): SIGKILL the server in the middle of a
# delivery load, restart it, and check the client's ledger: every message that got a 250
# is in its Maildir, complete, at least once; no partial file is in new/; after a restart
# every mailbox's index agrees with its files (the recovery pass), and tmp/ leftovers older
# than 36 hours go when their folder is next opened (lazily, as Dovecot cleans them). The
# client is Python's smtplib (8 threads), not our code.
set -uo pipefail
# The stock SpamAssassin rules take seconds to compile; ringmail's own rule files keep
# the scanner on at a fraction of the start-up time (tests/tools/spam_clients_test.sh
# runs the stock rules).
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=ringmail_server_lib.sh
. "$here/ringmail_server_lib.sh"
own_rules="$(cd "$here/../.." && pwd)/spam/rules"
ringmail="$1"
admin="$2"
work="$(mktemp -d /var/tmp/ringmail-crash-XXXXXX)"  # a real disk, not tmpfs
trap 'ringmail_kill; rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; tail -20 "$work/server.log" 2>/dev/null; exit 1; }

"$admin" --data_dir="$work/data" domain add crash.test >/dev/null || fail "domain add"
for i in $(seq 1 20); do echo pw | "$admin" --data_dir="$work/data" --scheme=PLAIN user add "u$i@crash.test" || fail "user add"; done
port=$(ringmail_free_ports 1)

# Both starts append to one server.log (ringmail_start counts only its own event=ready).
ringmail_ready_seconds=30
start_server() {
  ringmail_start "$work/server.log" --spam_rules="$own_rules" --data_dir="$work/data" --shards=2 --smtp_port="$port" \
    --hostname=crash.test --log_level=info || fail "server did not start"
}

start_server
# The load: each thread sends messages with a unique Message-ID and a trailer line, and
# appends the id to the ledger only after the server answered 250 to the DATA.
python3 - "$port" "$work/ledger" <<'PY' &
import smtplib, sys, threading, time
port, ledger_path = int(sys.argv[1]), sys.argv[2]
lock = threading.Lock()
ledger = open(ledger_path, "a")
deadline = time.time() + 8
def worker(t):
    n = 0
    while time.time() < deadline:
        try:
            s = smtplib.SMTP("127.0.0.1", port, timeout=5)
            while time.time() < deadline:
                n += 1
                mid = f"crash-{t}-{n}"
                rcpt = f"u{(t * 7 + n) % 20 + 1}@crash.test"
                body = ("x" * 70 + "\r\n") * 60
                msg = f"Message-ID: <{mid}@load>\r\nSubject: {mid}\r\n\r\n{body}END-OF-MESSAGE {mid}\r\n"
                s.sendmail("load@remote.test", [rcpt], msg)
                with lock:
                    ledger.write(f"{mid} {rcpt}\n"); ledger.flush()
        except Exception:
            time.sleep(0.05)
threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
for th in threads: th.start()
for th in threads: th.join()
PY
load=$!
sleep 3
ringmail_kill  # SIGKILL in the middle of the load
kill "$load" 2>/dev/null; wait "$load" 2>/dev/null

acked=$(wc -l < "$work/ledger")
[ "$acked" -gt 50 ] || fail "only $acked messages acknowledged before the kill: load too small to test"
tmp_before=$(find "$work/data/vmail" -path '*/Maildir/tmp/*' -type f | wc -l)

python3 - "$work/ledger" "$work/data/vmail" <<'PY' || fail "ledger check"
import os, sys, collections
ledger, root = sys.argv[1], sys.argv[2]
found = collections.Counter()
partial = []
for dirpath, dirs, files in os.walk(root):
    if os.path.basename(dirpath) != "new":
        continue
    for f in files:
        data = open(os.path.join(dirpath, f), "rb").read()
        mid = data.split(b"Message-ID: <", 1)[1].split(b"@", 1)[0].decode() if b"Message-ID: <" in data else None
        if mid is None or not data.endswith(f"END-OF-MESSAGE {mid}\r\n".encode()):
            partial.append(f)
        else:
            found[mid] += 1
missing = []
for line in open(ledger):
    mid, rcpt = line.split()
    if found[mid] < 1:
        missing.append(mid)
print(f"acknowledged={sum(1 for _ in open(ledger))} files_in_new={sum(found.values())} partial={len(partial)} missing={len(missing)}")
sys.exit(1 if partial or missing else 0)
PY

# Leftovers in tmp/ are never mail; make them look 40 hours old, so the next open of their
# folder removes them (fresh ones would stay: a delivery in progress keeps its file young).
find "$work/data/vmail" -path '*/Maildir/tmp/*' -type f -exec touch -d '40 hours ago' {} +
# Restart, take one more message per user after the crash, stop cleanly.
start_server
python3 - "$port" <<'PY' || fail "delivery after restart"
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10)
for i in range(1, 21):
    s.sendmail("load@remote.test", [f"u{i}@crash.test"], f"Subject: after {i}\r\n\r\nafter the crash\r\n")
s.quit()
PY
ringmail_stop; rc=$?
[ "$rc" -eq 0 ] || fail "exit code $rc after SIGTERM"
# The index agrees with the files: as many messages as files in new/ and cur/, and UIDNEXT
# beyond them (every message of the crash and after it has its own UID).
for i in $(seq 1 20); do
  dir="$work/data/vmail/crash.test/u$i/Maildir"
  files=$(find "$dir/new" "$dir/cur" -type f | wc -l)
  status=$("$admin" --data_dir="$work/data" mailbox status "u$i@crash.test" INBOX) || fail "status u$i"
  messages=$(sed -n 's/.*messages=\([0-9]*\).*/\1/p' <<<"$status")
  uidnext=$(sed -n 's/.*uidnext=\([0-9]*\).*/\1/p' <<<"$status")
  [ "$messages" = "$files" ] || fail "u$i: index says $messages messages, the Maildir has $files ($status)"
  [ "$uidnext" -gt "$files" ] || fail "u$i: uidnext $uidnext not beyond $files messages"
done
remaining=$(find "$work/data/vmail" -path '*/Maildir/tmp/*' -type f | wc -l)
[ "$remaining" -eq 0 ] || fail "$remaining old files left in tmp/ after their folders were opened again"
echo "crash safety test passed (acknowledged=$acked, tmp leftovers before restart=$tmp_before)"
