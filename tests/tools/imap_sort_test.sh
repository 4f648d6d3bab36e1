#!/usr/bin/env bash
# SORT and THREAD end to end through Python's imaplib (issue 11): the RFC 5256 section 4
# SORT example's shape ("SORT (SUBJECT REVERSE DATE)"), every sort key, REVERSE, the
# SORT=DISPLAY keys, ESORT RETURN (MIN MAX COUNT ALL) and SAVE then "$", THREAD
# ORDEREDSUBJECT/REFERENCES/REFS with a missing parent (a dummy), a loop of References
# and subject grouping, UID forms, search criteria narrowing the set, and the BAD/NO
# answers (bad syntax, unknown charset, no mailbox selected). Then the same SORTs again
# after a flag change (the header cache warm). Starts `ringmail serve` itself (IMAP only).
# Usage: imap_sort_test.sh RINGMAIL RINGMAIL_ADMIN
set -uo pipefail
ringmail="$(readlink -f "${1:?usage: imap_sort_test.sh RINGMAIL RINGMAIL_ADMIN}")"
admin="$(readlink -f "${2:?usage: imap_sort_test.sh RINGMAIL RINGMAIL_ADMIN}")"
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
ringmail_start "$work/serve.log" "${ringmail_test_flags[@]}" --shards=2 --data_dir="$data" --imap_port="$port" \
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

# (From, To, Cc, Subject, Date, Message-ID, References, size padding)
M = [
    ('"Zed" <b@x.example>', "carol@c.example", "", "Re: beta", "Thu, 02 Jan 2020 10:00:00 +0000", "<m1@x>", "<m0@x>", 10),
    ("alice@a.example", '"Bob" <bob@b.example>', "dave@d.example", "alpha", "Fri, 03 Jan 2020 10:00:00 +0000", "<m2@x>", "", 300),
    ('"Amy" <b@x.example>', "", "", "[list] Alpha", "Wed, 01 Jan 2020 10:00:00 +0000", "<m3@x>", "", 50),
    ("", "zoe@z.example", "", "gamma", "", "<m4@x>", "<m2@x>", 20),
    ("yves@y.example", "", "", "Re: [fwd: gamma]", "Sat, 04 Jan 2020 10:00:00 +0000", "<m5@x>", "<m9@x> <m4@x>", 5),
    ("eve@e.example", "", "", "beta (fwd)", "Thu, 02 Jan 2020 09:00:00 +0000", "<m6@x>", "<m0@x>", 1),
]
c = imaplib.IMAP4("127.0.0.1", port)
c.login("john@example.org", "pw")
typ, d = c.capability()
caps = d[0].decode().upper().split()
for cap in ("SORT", "SORT=DISPLAY", "ESORT", "THREAD=ORDEREDSUBJECT", "THREAD=REFERENCES", "THREAD=REFS"):
    check(f"capability {cap}", cap in caps, True)
for frm, to, cc, subj, date, mid, refs, pad in M:
    h = ""
    if frm: h += f"From: {frm}\r\n"
    if to: h += f"To: {to}\r\n"
    if cc: h += f"Cc: {cc}\r\n"
    h += f"Subject: {subj}\r\n"
    if date: h += f"Date: {date}\r\n"
    h += f"Message-ID: {mid}\r\n"
    if refs: h += f"References: {refs}\r\n"
    typ, _ = c.append("INBOX", None, None, (h + "\r\n" + "x" * pad + "\r\n").encode())
    assert typ == "OK"
c.select("INBOX")

def sort(*args, uid=False):
    typ, d = (c.uid("SORT", *args) if uid else c.sort(*args))
    if typ != "OK":
        return typ
    return d[0].decode().split() if d and d[0] else []

# Internal dates are the APPEND times (ascending); DATE of message 4 falls back to it (2026+).
check("SORT ARRIVAL", sort("(ARRIVAL)", "UTF-8", "ALL"), ["1", "2", "3", "4", "5", "6"])
check("SORT DATE", sort("(DATE)", "UTF-8", "ALL"), ["3", "6", "1", "2", "5", "4"])
check("SORT REVERSE DATE", sort("(REVERSE DATE)", "UTF-8", "ALL"), ["4", "5", "2", "1", "6", "3"])
check("SORT SUBJECT", sort("(SUBJECT)", "UTF-8", "ALL"), ["2", "3", "1", "6", "4", "5"])
check("SORT SUBJECT REVERSE DATE", sort("(SUBJECT REVERSE DATE)", "UTF-8", "ALL"), ["2", "3", "1", "6", "4", "5"])
check("SORT REVERSE SUBJECT DATE", sort("(REVERSE SUBJECT DATE)", "UTF-8", "ALL"), ["5", "4", "6", "1", "3", "2"])
check("SORT FROM", sort("(FROM)", "UTF-8", "ALL"), ["4", "2", "1", "3", "6", "5"])
check("SORT TO", sort("(TO)", "UTF-8", "ALL"), ["3", "5", "6", "2", "1", "4"])
check("SORT CC", sort("(CC)", "UTF-8", "ALL"), ["1", "3", "4", "5", "6", "2"])
typ, d = c.fetch("1:*", "(RFC822.SIZE)")
sizes = {int(m.group(1)): int(m.group(2)) for m in (re.match(rb"(\d+) \(RFC822.SIZE (\d+)\)", x) for x in d) if m}
check("SORT SIZE", sort("(SIZE)", "UTF-8", "ALL"), [str(n) for n in sorted(sizes, key=lambda n: (sizes[n], n))])
check("SORT DISPLAYFROM", sort("(DISPLAYFROM)", "UTF-8", "ALL"), ["4", "2", "3", "6", "5", "1"])
check("SORT DISPLAYTO", sort("(DISPLAYTO)", "UTF-8", "ALL"), ["3", "5", "6", "2", "1", "4"])
check("SORT with criteria", sort("(SUBJECT)", "UTF-8", "FROM", "b@x.example"), ["3", "1"])
check("SORT nothing matches", sort("(SUBJECT)", "US-ASCII", "SUBJECT", "nonesuch"), [])
# Content criteria go through the full-text index (fts_search.cc) as SEARCH's do, and
# EMAILID/THREADID (RFC 8474) are computed for SORT as for SEARCH.
check("SORT BODY", sort("(ARRIVAL)", "UTF-8", "BODY", "x" * 100), ["2"])
check("SORT TEXT", sort("(SUBJECT)", "UTF-8", "TEXT", "alpha"), ["2", "3"])
typ, d = c.fetch("3", "(EMAILID THREADID)")
ids = re.search(rb"EMAILID \(([^)\s]+)\) THREADID \(([^)\s]+)\)", d[0])
check("FETCH EMAILID for SORT", ids is not None, True)
if ids:
    check("SORT EMAILID", sort("(ARRIVAL)", "UTF-8", "EMAILID", ids.group(1).decode()), ["3"])
    check("SORT THREADID", sort("(ARRIVAL)", "UTF-8", "THREADID", ids.group(2).decode()), ["3"])
    typ, d = c.thread("REFERENCES", "UTF-8", "EMAILID", ids.group(1).decode())
    check("THREAD EMAILID", d[0], b"(3)")
# WITHIN (RFC 5032) in SORT's criteria: the messages were appended seconds ago.
check("SORT YOUNGER", sort("(ARRIVAL)", "UTF-8", "YOUNGER", "3600"), ["1", "2", "3", "4", "5", "6"])
check("SORT OLDER 3600", sort("(ARRIVAL)", "UTF-8", "OLDER", "3600"), [])
import time
time.sleep(1.2)  # every message is now over a second old: OLDER 1 needs the real clock
check("SORT OLDER 1", sort("(ARRIVAL)", "UTF-8", "OLDER", "1"), ["1", "2", "3", "4", "5", "6"])
uids = sort("(DATE)", "UTF-8", "ALL", uid=True)
check("UID SORT", len(uids), 6)
typ, _ = c.sort("(DATE)", "KOI8-R", "ALL")
check("SORT unknown charset", typ, "NO")
for bad in ("(FOO) UTF-8 ALL", "DATE UTF-8 ALL", "(DATE) ALL", "(DATE) UTF-8"):
    try:
        typ, _ = c._simple_command("SORT", *bad.split())
    except imaplib.IMAP4.error:
        typ = "BAD"
    check(f"SORT {bad} is BAD", typ, "BAD")

# ESORT: ESEARCH with MIN/MAX first/last in sort order, ALL in sort order.
typ, d = c._simple_command("SORT", "RETURN", "(MIN MAX COUNT ALL)", "(REVERSE DATE)", "UTF-8", "ALL")
typ, d = c._untagged_response(typ, d, "ESEARCH")
line = d[0].decode() if d and d[0] else ""
check("ESORT MIN/MAX/COUNT/ALL", re.sub(r'^\(TAG "[^"]*"\) ', "", line), "MIN 4 MAX 3 ALL 4:5,2,1,6,3 COUNT 6")
typ, d = c._simple_command("SORT", "RETURN", "(SAVE)", "(SUBJECT)", "UTF-8", "FROM", "b@x.example")
check("ESORT SAVE", typ, "OK")
typ, d = c.search(None, "$")
check("SEARCH $ after SORT SAVE", d[0].decode().split(), ["1", "3"])

def thread(alg, *crit, uid=False):
    typ, d = (c.uid("THREAD", alg, "UTF-8", *(crit or ("ALL",))) if uid else c.thread(alg, "UTF-8", *(crit or ("ALL",))))
    if typ != "OK":
        return typ
    return d[0].decode() if d and d[0] else ""

# REFERENCES: 1 and 6 reply to the missing m0 (a dummy root with two children); 4 replies
# to 2; 5's last reference is 4. 3 ("[list] Alpha") joins 2 ("alpha") by subject under
# a dummy: neither is a reply.
check("THREAD REFERENCES", thread("REFERENCES"), "((3)(2 4 5))((6)(1))")
check("THREAD REFS", thread("REFS"), "(3)((6)(1))(2 4 5)")
check("THREAD ORDEREDSUBJECT", thread("ORDEREDSUBJECT"), "(3 2)(6 1)(5 4)")
u = thread("REFERENCES", uid=True)
check("UID THREAD numbers are UIDs", len(re.findall(r"\d+", u)), 6)
check("THREAD with criteria", thread("REFERENCES", "FROM", "b@x.example"), "(3)(1)")
try:
    typ, _ = c._simple_command("THREAD", "XYZ", "UTF-8", "ALL")
except imaplib.IMAP4.error:
    typ = "BAD"
check("THREAD unknown algorithm is BAD", typ, "BAD")

# Warm: a flag change renames files; the same answers from the header cache.
c.store("1:*", "+FLAGS", "(\\Seen)")
check("SORT SUBJECT (warm)", sort("(SUBJECT)", "UTF-8", "ALL"), ["2", "3", "1", "6", "4", "5"])
check("THREAD REFERENCES (warm)", thread("REFERENCES"), "((3)(2 4 5))((6)(1))")
c.logout()
c2 = imaplib.IMAP4("127.0.0.1", port)
c2.login("john@example.org", "pw")
try:
    typ, _ = c2.sort("(DATE)", "UTF-8", "ALL")
except imaplib.IMAP4.error:
    typ = "BAD"
check("SORT without a selected mailbox is BAD", typ, "BAD")
c2.logout()
sys.exit(1 if fails else 0)
PY
rc=$?
[ $rc -ne 0 ] && tail -20 "$work/serve.log"
exit $rc
