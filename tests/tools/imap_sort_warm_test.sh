#!/usr/bin/env bash
# SORT and THREAD on the warm path with no owner hop (sort_commands.cc from_cache): once a
# SORT has filled the shard's sort cache, criteria decided by sequence numbers and UIDs
# alone (ALL, sequence sets, UID sets, "$", NOT/OR of them) are answered from the
# session's view and the cache. Checks each against the answer the cold path gave for the
# same question, that a message appended after warming (not in the cache) is sorted (the
# owner path fills it in), that after another session's EXPUNGE (reported by NOOP) the
# sequence numbers follow the view, and that the UIDVALIDITY-keyed values serve a second
# session. Starts `ringmail serve` itself (IMAP only).
# Usage: imap_sort_warm_test.sh RINGMAIL RINGMAIL_ADMIN
set -uo pipefail
ringmail="$(readlink -f "${1:?usage: imap_sort_warm_test.sh RINGMAIL RINGMAIL_ADMIN}")"
admin="$(readlink -f "${2:?usage: imap_sort_warm_test.sh RINGMAIL RINGMAIL_ADMIN}")"
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=ringmail_server_lib.sh
. "$here/ringmail_server_lib.sh"
command -v python3 >/dev/null || { echo "FAIL: python3 not found"; exit 1; }
work="$(mktemp -d)"
cleanup() { ringmail_kill; rm -rf "$work"; }
trap cleanup EXIT
data="$work/data"
"$admin" --data_dir="$data" domain add example.org >/dev/null || { echo "FAIL: domain add"; exit 1; }
echo pw | "$admin" --data_dir="$data" user add john@example.org >/dev/null || { echo "FAIL: user add"; exit 1; }
port=$(ringmail_free_ports 1)
ringmail_ready_seconds=30
ringmail_start "$work/serve.log" "${ringmail_test_flags[@]}" --shards=1 --data_dir="$data" --imap_port="$port" \
  --imap_allow_plaintext_auth=true || { echo "FAIL: server did not start"; exit 1; }
timeout 120 python3 - "$port" <<'PY'
import imaplib, re, sys
port = int(sys.argv[1])
fails = 0
def check(name, got, want):
    global fails
    if got != want:
        fails += 1
        print(f"FAIL {name}: got {got!r} want {want!r}")
    else:
        print(f"ok   {name}")

# (From, Subject, Date, Message-ID, References, size padding); appended out of date order
# and with sizes out of arrival order, so every key gives a different permutation.
M = [
    ("zed@x.example", "Re: beta", "Thu, 02 Jan 2020 10:00:00 +0000", "<m1@x>", "<m0@x>", 10),
    ("alice@a.example", "alpha", "Fri, 03 Jan 2020 10:00:00 +0000", "<m2@x>", "", 300),
    ("bob@x.example", "[list] Alpha", "Wed, 01 Jan 2020 10:00:00 +0000", "<m3@x>", "", 50),
    ("carol@c.example", "gamma", "Sun, 05 Jan 2020 10:00:00 +0000", "<m4@x>", "<m2@x>", 20),
    ("yves@y.example", "Re: gamma", "Sat, 04 Jan 2020 10:00:00 +0000", "<m5@x>", "<m4@x>", 5),
    ("eve@e.example", "beta (fwd)", "Thu, 02 Jan 2020 09:00:00 +0000", "<m6@x>", "<m0@x>", 1),
    ("dan@d.example", "delta", "Mon, 06 Jan 2020 10:00:00 +0000", "<m7@x>", "", 700),
]
def message(frm, subj, date, mid, refs, pad):
    h = f"From: {frm}\r\nSubject: {subj}\r\nDate: {date}\r\nMessage-ID: {mid}\r\n"
    if refs: h += f"References: {refs}\r\n"
    return (h + "\r\n" + "x" * pad + "\r\n").encode()
def connect():
    c = imaplib.IMAP4("127.0.0.1", port)
    c.login("john@example.org", "pw")
    return c
c = connect()
for i, (frm, subj, date, mid, refs, pad) in enumerate(M):
    # Internal dates out of append order: ARRIVAL is not the sequence order.
    when = imaplib.Time2Internaldate(1600000000 + ((i * 5) % 7) * 3600)
    c.append("INBOX", None, when, message(frm, subj, date, mid, refs, pad))
c.select("INBOX")
def sort(conn, *args, uid=False):
    typ, d = (conn.uid("SORT", *args) if uid else conn.sort(*args))
    if typ != "OK": return typ
    return d[0].decode().split()
def thread(conn, alg, *crit):
    typ, d = conn.thread(alg, "UTF-8", *crit)
    return d[0].decode() if typ == "OK" else typ
KEYS = ["(ARRIVAL)", "(REVERSE ARRIVAL)", "(SIZE)", "(DATE)", "(FROM)", "(SUBJECT)", "(REVERSE SUBJECT DATE)"]
SETS = [("ALL",), ("2:5",), ("NOT", "3"), ("OR", "1", "6:*"), ("UID", "3:*"), ("1:*",)]
# The owner path first (UNDELETED, true of every message, is a flag key: the view alone
# cannot decide it, so these never take the warm path and compare with sort_order).
cold = {(k, s): sort(c, k, "UTF-8", "UNDELETED", *s) for k in KEYS for s in SETS}
cold_uid = {k: sort(c, k, "UTF-8", "UNDELETED", "UID", "2:6", uid=True) for k in KEYS}
cold_thread = {a: thread(c, a, "UNDELETED") for a in ("REFERENCES", "REFS", "ORDEREDSUBJECT")}
check("cold SORT (ARRIVAL) is not sequence order", cold[("(ARRIVAL)", ("ALL",))] != [str(n) for n in range(1, 8)], True)
check("cold SORT (ARRIVAL) 2:5", sorted(cold[("(ARRIVAL)", ("2:5",))]), ["2", "3", "4", "5"])
# Warm: the same answers from the view and the cache.
for (k, s), want in cold.items():
    check(f"warm SORT {k} {' '.join(s)}", sort(c, k, "UTF-8", *s), want)
for k, want in cold_uid.items():
    check(f"warm UID SORT {k} UID 2:6", sort(c, k, "UTF-8", "UID", "2:6", uid=True), want)
for a, want in cold_thread.items():
    check(f"warm THREAD {a}", thread(c, a, "ALL"), want)
# Twice in a row (the second from the folder's THREAD memo), switching algorithms and
# UID/sequence numbers, and with a subset (2:6) between.
for a, want in cold_thread.items():
    check(f"warm THREAD {a} again", thread(c, a, "ALL"), want)
    check(f"warm THREAD {a} a third time", thread(c, a, "ALL"), want)
    check(f"warm THREAD {a} 2:6 = UNDELETED 2:6", thread(c, a, "2:6"), thread(c, a, "UNDELETED", "2:6"))
    typ, d = c.uid("THREAD", a, "UTF-8", "ALL")
    check(f"warm UID THREAD {a} has UIDs", typ == "OK" and sorted(re.findall(r"\d+", d[0].decode())) ==
          sorted(str(u) for u in sort(c, "(ARRIVAL)", "UTF-8", "ALL", uid=True)), True)
    check(f"warm THREAD {a} after UID THREAD", thread(c, a, "ALL"), want)
# "$" (RFC 5182) from a SORT ... SAVE, on the warm path.
typ, _ = c._simple_command("SORT", "RETURN", "(SAVE)", "(FROM)", "UTF-8", "2:4")
check("ESORT SAVE", typ, "OK")
check("warm SORT (DATE) $", sort(c, "(DATE)", "UTF-8", "$"), [n for n in cold[("(DATE)", ("ALL",))] if n in ("2", "3", "4")])

# A message appended after warming: not in the cache, so the owner path sorts it (and
# caches it); then the warm path again, with it.
c.append("INBOX", None, imaplib.Time2Internaldate(1500000000),
         message("aaron@a.example", "epsilon", "Tue, 31 Dec 2019 10:00:00 +0000", "<m8@x>", "<m7@x>", 2))
c.noop()
check("SORT (ARRIVAL) after APPEND", sort(c, "(ARRIVAL)", "UTF-8", "ALL")[0], "8")
check("SORT (FROM) after APPEND", sort(c, "(FROM)", "UTF-8", "ALL")[0], "8")
check("warm SORT (ARRIVAL) after APPEND", sort(c, "(ARRIVAL)", "UTF-8", "ALL"), ["8"] + cold[("(ARRIVAL)", ("ALL",))])
check("warm SORT (DATE) after APPEND", sort(c, "(DATE)", "UTF-8", "ALL"), ["8"] + cold[("(DATE)", ("ALL",))])
check("warm THREAD REFERENCES after APPEND", "7 8" in thread(c, "REFERENCES", "ALL"), True)
check("warm THREAD REFERENCES after APPEND again", "7 8" in thread(c, "REFERENCES", "ALL"), True)
after_append = {k: sort(c, k, "UTF-8", "ALL") for k in KEYS}

# Another session expunges message 2; once told (NOOP), this one's sequence numbers
# shift: the answers are the earlier ones without 2, numbers above 2 lowered by one.
c2 = connect()
c2.select("INBOX")
c2.store("2", "+FLAGS", "(\\Deleted)")
c2.expunge()
c.noop()
def without2(seqs):
    return [str(int(n) - 1) if int(n) > 2 else n for n in seqs if n != "2"]
for k in KEYS:
    check(f"warm SORT {k} after EXPUNGE", sort(c, k, "UTF-8", "ALL"), without2(after_append[k]))
    check(f"warm SORT {k} ALL = UNDELETED", sort(c, k, "UTF-8", "ALL"), sort(c, k, "UTF-8", "UNDELETED"))
# THREAD after the APPEND and the EXPUNGE: the memo of the old candidates must not serve;
# UNDELETED (all of them, by the owner path with no memo) says what is right.
for a in ("REFERENCES", "REFS", "ORDEREDSUBJECT"):
    want = thread(c, a, "UNDELETED")
    check(f"THREAD {a} after EXPUNGE", thread(c, a, "ALL"), want)
    check(f"THREAD {a} after EXPUNGE again", thread(c, a, "ALL"), want)
    check(f"THREAD {a} after EXPUNGE has 7 messages", len(re.findall(r"\d+", want)), 7)
check("warm SORT (SIZE) after EXPUNGE", sort(c, "(SIZE)", "UTF-8", "1:6"),
      [n for n in without2(cold[("(SIZE)", ("ALL",))])])
check("warm UID SORT (DATE) after EXPUNGE", "2" in sort(c, "(DATE)", "UTF-8", "ALL", uid=True), False)
# A second session of the same shard: the values are the folder's, not the session's.
check("second session SORT (SUBJECT)", sort(c2, "(SUBJECT)", "UTF-8", "ALL"), sort(c, "(SUBJECT)", "UTF-8", "ALL"))
c2.logout()
c.logout()
sys.exit(1 if fails else 0)
PY
rc=$?
[ $rc -ne 0 ] && tail -20 "$work/serve.log"
exit $rc
