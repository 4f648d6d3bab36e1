#!/usr/bin/env bash
# SEARCH BODY/TEXT through the full-text index (issue 11; protocols/imap/fts_search.cc),
# end to end with Python's imaplib: the first search of a folder builds its index
# (<folder>/ringmail-fts), later ones use it; deliveries by APPEND, COPY into another
# folder and EXPUNGE are picked up; the file survives a restart; a torn or garbled file is
# rebuilt. At every step the results must equal a server started with --imap_fts=false
# (the linear scan) on the same Maildir, and a few are checked against what the messages
# say (substrings, not words; base64 and quoted-printable bodies; HTML source; an
# attachment's file name; non-ASCII folded). Starts `ringmail serve` itself, IMAP only.
# Usage: imap_fts_test.sh RINGMAIL RINGMAIL_ADMIN
set -uo pipefail
ringmail="$(readlink -f "${1:?usage: imap_fts_test.sh RINGMAIL RINGMAIL_ADMIN}")"
admin="$(readlink -f "${2:?usage: imap_fts_test.sh RINGMAIL RINGMAIL_ADMIN}")"
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
maildir="$data/vmail/example.org/john/Maildir"

# Each start logs to its own file, $log (serve.1.log, serve.2.log, ...): the log checks
# below are about what that one start did. The log level is info at least (ringmail_start
# waits for event=ready), so fts_index_rebuild (info) is logged by every start.
starts=0
log=""
ringmail_ready_seconds=30
start() {  # start [extra flags]
  starts=$((starts + 1))
  log="$work/serve.$starts.log"
  port=$(ringmail_free_ports 1)
  ringmail_start "$log" "${ringmail_test_flags[@]}" --data_dir="$data" --imap_port="$port" \
    --imap_allow_plaintext_auth=true "$@" || { echo "FAIL: server did not start"; exit 1; }
}
stop() { ringmail_stop; }
run() {  # run STEP: prints the step's SEARCH results to $work/STEP.<mode>
  timeout 300 python3 "$work/client.py" "$port" "$@" || { echo "FAIL: client step $*"; tail -20 "$log"; exit 1; }
}

cat >"$work/client.py" <<'PY'
import base64, imaplib, sys
port, step, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
c = imaplib.IMAP4("127.0.0.1", port)
c.login("john@example.org", "pw")

def msg(i):
    kind = i % 6
    head = f"From: Sender {i} <s{i}@example.net>\r\nTo: john@example.org\r\nSubject: note {i} {'warning' if i % 7 == 0 else 'plain'}\r\n"
    if kind == 0:
        return head + "\r\nA plain body about the weather, number %d.\r\n" % i
    if kind == 1:
        b = base64.b64encode(("Encoded secret-%d with Grüße and ΣΊΣΥΦΟΣ\n" % i).encode()).decode()
        return head + "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b + "\r\n"
    if kind == 2:
        return head + "MIME-Version: 1.0\r\nContent-Type: text/html\r\n\r\n<html><body><p class=x>Tabled &amp; <b>bold</b> offer</p></body></html>\r\n"
    if kind == 3:
        return head + ("MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=BB\r\n\r\n--BB\r\nContent-Type: text/plain\r\n\r\n"
                       "see attachment\r\n--BB\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"invoice-%d.pdf\"\r\n"
                       "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--BB--\r\n" % i)
    if kind == 4:
        return head + "Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nCaf=E9 cr=E8me soft=\r\nbreak warning\r\n"
    return head + "\r\nshort\r\n"

NEEDLES = ["warning", "arn", "WARNING", "secret-1", "secret-13", "grüße", "GRÜSSE", "σίσυφος", "tabled &amp;", "<b>bold",
           "bold offer", "invoice-3", "invoice-9.pdf", "jvberi0xljqk", "café crème", "softbreak", "soft break", "weather",
           "number 4", "absent-needle", "subject: note 1", "from: sender", "s12@", "ab", "a", "zzz", "note", "plain body"]

if step == "fill":
    c.create("Archive")
    for i in range(1, 61):
        c.append("INBOX", "(\\Seen)" if i % 2 else None, None, msg(i).encode())
elif step == "change":
    c.select("INBOX")
    c.uid("COPY", "1:20", "Archive")
    c.uid("STORE", "5:9", "+FLAGS.SILENT", "(\\Deleted)")
    c.expunge()
    for i in range(61, 71):
        c.append("INBOX", None, None, msg(i).encode())
    c.uid("STORE", "30", "+FLAGS", "(\\Flagged)")
elif step == "append_warm":  # the index in memory (a first search), then APPENDs
    c.select("INBOX")
    c.uid("SEARCH", "TEXT", "warning")
    for i in range(71, 77):
        c.append("INBOX", None, None, msg(i).encode())
# non-ASCII needles go as literals: imaplib sends them through _command's literal support
def literal_search(key, n):
    c.literal = n.encode()
    return c.uid("SEARCH", "CHARSET", "UTF-8", key)
lines = []
for folder in ("INBOX", "Archive"):
    typ, _ = c.select(folder)
    if typ != "OK":
        continue
    for key in ("TEXT", "BODY"):
        for n in NEEDLES:
            if n.isascii():
                typ, d = c.uid("SEARCH", key, '"%s"' % n)
            else:
                typ, d = literal_search(key, n)
            lines.append(f"{folder} {key} {n!r}: {typ} {d[0].decode() if d and d[0] else ''}")
    for q in (["OR", "TEXT", "invoice", "BODY", "weather"], ["TEXT", "note", "NOT", "BODY", "weather"],
              ["SEEN", "TEXT", "warning"], ["OR", "TEXT", "warning", "FLAGGED"]):
        typ, d = c.uid("SEARCH", *q)
        lines.append(f"{folder} {' '.join(q)}: {typ} {d[0].decode() if d and d[0] else ''}")
open(out, "w").write("\n".join(lines) + "\n")
c.logout()
PY
# The file's own expectations, on the first (cold) results.
check_expect() {  # FILE
  python3 - "$1" <<'PY' || exit 1
import sys
got = {}
for line in open(sys.argv[1]):
    k, _, v = line.rstrip("\n").partition(": ")
    got[k] = v
def uids(k):
    typ, _, rest = got[k].partition(" ")
    assert typ == "OK", (k, got[k])
    return [int(x) for x in rest.split()]
fails = 0
def want(k, pred):
    global fails
    exp = [i for i in range(1, 61) if pred(i)]
    if uids(k) != exp:
        fails += 1
        print(f"FAIL {k}: got {uids(k)} want {exp}")
want("INBOX TEXT 'arn'", lambda i: i % 7 == 0 or i % 6 == 4)           # substring of "warning"
want("INBOX BODY 'arn'", lambda i: i % 6 == 4)                          # only the QP bodies say it
want("INBOX BODY 'secret-13'", lambda i: i == 13)                       # base64 body
want("INBOX BODY 'σίσυφος'", lambda i: i % 6 == 1)                     # folded Greek
want("INBOX BODY 'grüße'", lambda i: i % 6 == 1)
want("INBOX BODY 'tabled &amp;'", lambda i: i % 6 == 2)                 # HTML source
want("INBOX TEXT 'invoice-9.pdf'", lambda i: i == 9)                    # an attachment's name
want("INBOX BODY 'invoice-9.pdf'", lambda i: False)                     # ... is a header
want("INBOX BODY 'jvberi0xljqk'", lambda i: False)                      # a PDF's base64 is not text
want("INBOX BODY 'café crème'", lambda i: i % 6 == 4)                   # Latin-1 QP
want("INBOX BODY 'softbreak'", lambda i: i % 6 == 4)                    # QP soft line break
want("INBOX TEXT 'absent-needle'", lambda i: False)
want("INBOX TEXT 'ab'", lambda i: i % 6 in (0, 2, 4))  # short: the scan (about, Tabled, quoted-printable)
print("ok   expectations" if fails == 0 else f"{fails} expectations failed")
sys.exit(1 if fails else 0)
PY
}
same() {  # same A B WHAT
  if ! diff -u "$1" "$2" >"$work/diff"; then echo "FAIL: $3: index and scan differ"; head -30 "$work/diff"; exit 1; fi
  echo "ok   $3: index == scan ($(wc -l <"$1") searches)"
}
fts_file="$maildir/ringmail-fts"

start
run fill "$work/cold.fts"
check_expect "$work/cold.fts"
run search "$work/warm.fts"
same "$work/cold.fts" "$work/warm.fts" "cold vs warm"
[ -s "$fts_file" ] || { echo "FAIL: no $fts_file after the first search"; exit 1; }
echo "ok   index file written ($(stat -c %s "$fts_file") bytes)"
stop
start --imap_fts=false
run search "$work/warm.scan"
same "$work/warm.fts" "$work/warm.scan" "first fill"
stop

start
run change "$work/change.fts"   # COPY, EXPUNGE, APPEND, then search
stop
start --imap_fts=false
run search "$work/change.scan"
same "$work/change.fts" "$work/change.scan" "after copy, expunge, append"
stop

start
run search "$work/restart.fts"
same "$work/restart.fts" "$work/change.scan" "after a restart (index from the file)"
grep -q "fts_index_rebuild" "$log" && { echo "FAIL: a good file was rebuilt"; exit 1; }
stop
size=$(stat -c %s "$fts_file")
truncate -s $((size / 2)) "$fts_file"
start --log_level=info
run search "$work/torn.fts"
same "$work/torn.fts" "$work/change.scan" "after a torn index file"
grep -q "fts_index_rebuild" "$log" || { echo "FAIL: the torn file was not noticed"; exit 1; }
stop
printf '\x7f' | dd of="$fts_file" bs=1 seek=30 conv=notrunc 2>/dev/null
start
run search "$work/garbled.fts"
same "$work/garbled.fts" "$work/change.scan" "after a garbled index file"
stop
# APPEND into a folder whose index is in memory indexes the message at once: the searches
# after it index nothing in INBOX (no imap_fts_indexed for it) and still equal the scan.
start --log_level=debug
run append_warm "$work/append.fts"
stop
grep -q "imap_fts_indexed.*INBOX" "$log" && { echo "FAIL: a search indexed the APPENDed messages"; grep "imap_fts_indexed" "$log" | tail -3; exit 1; }
echo "ok   APPEND indexed the new messages (no search had to)"
start --imap_fts=false
run search "$work/append.scan"
same "$work/append.fts" "$work/append.scan" "after APPEND into an indexed folder"
stop
echo "PASS imap_fts"
