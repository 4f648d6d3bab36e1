#!/usr/bin/env python3
"""OBJECTID (RFC 8474), SAVEDATE (RFC 8514), PREVIEW (RFC 8970) and WITHIN (RFC 5032)
end to end through Python's imaplib against a running server.

MAILBOXID: in CREATE's OK, SELECT, STATUS and LIST RETURN (STATUS (MAILBOXID)); the
same after RENAME, a new one after DELETE + CREATE. EMAILID: the same for a COPY and a
MOVE, different for different messages, and SEARCH EMAILID finds it. THREADID: a reply
shares its root's. SAVEDATE: the time of APPEND/COPY, not INTERNALDATE; SEARCH SAVED*.
PREVIEW: decoded, HTML as text, LAZY gives NIL until computed. WITHIN: OLDER/YOUNGER by
INTERNALDATE.

Usage: imap_object_ext.py HOST PORT USER PASSWORD [MAILDIR]   (the mailbox may be empty;
with MAILDIR, the user's INBOX directory, a warm PREVIEW is shown to read no file)
"""
import imaplib
import re
import sys
import time

host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
maildir = sys.argv[5] if len(sys.argv) > 5 else ""  # the user's INBOX, for the warm-cache check
fails = 0


def check(name, cond, detail=""):
    global fails
    if cond:
        print(f"ok   {name}")
    else:
        fails += 1
        print(f"FAIL {name} {detail}")


def ok(resp):
    typ, data = resp
    assert typ == "OK", resp
    return data


c = imaplib.IMAP4(host, port)
ok(c.login(user, password))
caps = ok(c.capability())[0].decode().upper().split()
for cap in ("OBJECTID", "SAVEDATE", "PREVIEW", "WITHIN"):
    check(f"CAPABILITY has {cap}", cap in caps, str(caps))

OBJECTID = r"[A-Za-z0-9_-]{1,255}"


def tagged_text(resp):
    return b" ".join(x for x in resp[1] if isinstance(x, bytes)).decode()


# ---- MAILBOXID ------------------------------------------------------------------------
resp = c.create("Proj")
m = re.search(r"\[MAILBOXID \((" + OBJECTID + r")\)\]", tagged_text(resp))
check("CREATE OK carries MAILBOXID", resp[0] == "OK" and m, str(resp))
proj_id = m.group(1) if m else ""


def status_id(name):
    typ, data = c.status(name, "(MAILBOXID MESSAGES)")
    m = re.search(r"MAILBOXID \((" + OBJECTID + r")\)", data[0].decode()) if typ == "OK" else None
    return m.group(1) if m else None


check("STATUS MAILBOXID = CREATE's", status_id("Proj") == proj_id, f"{status_id('Proj')} vs {proj_id}")
ok(c.select("Proj"))
sel = c.untagged_responses.get("OK", [])
check("SELECT reports MAILBOXID", any(f"[MAILBOXID ({proj_id})]".encode() in x for x in sel), str(sel))
ok(c._simple_command("UNSELECT"))
ok(c.rename("Proj", "Proj2"))
check("RENAME keeps MAILBOXID", status_id("Proj2") == proj_id)
typ, data = c._simple_command("LIST", '""', "*", "RETURN", "(STATUS (MAILBOXID))")
status_lines = [x.decode() for x in c.untagged_responses.pop("STATUS", [])]
c.untagged_responses.pop("LIST", None)
check("LIST RETURN (STATUS (MAILBOXID))", typ == "OK" and any(proj_id in s and "Proj2" in s for s in status_lines),
      str(status_lines))
inbox_id = status_id("INBOX")
check("INBOX has a MAILBOXID of its own", inbox_id and inbox_id != proj_id)
ok(c.delete("Proj2"))
resp = c.create("Proj2")
m = re.search(r"\[MAILBOXID \((" + OBJECTID + r")\)\]", tagged_text(resp))
check("DELETE + CREATE gives a new MAILBOXID", m and m.group(1) != proj_id, str(resp))

# ---- messages ---------------------------------------------------------------------------
root = (b"From: a@example.org\r\nSubject: plan\r\nMessage-ID: <root-1@example.org>\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nHello   team,\r\n\r\nthe plan is ready.\r\n")
reply = (b"From: b@example.org\r\nSubject: Re: plan\r\nMessage-ID: <reply-1@example.org>\r\n"
         b"In-Reply-To: <root-1@example.org>\r\nReferences: <root-1@example.org>\r\n\r\n"
         b"> Hello team\r\nLooks good.\r\n")
html = (b"From: c@example.org\r\nSubject: news\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/html; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
        b"<html><body><p>Caf=E9 &amp; <b>cr=E8me</b></p></body></html>\r\n")
lonely = b"From: d@example.org\r\nSubject: no ids\r\n\r\nplain\r\n"
old_date = imaplib.Time2Internaldate(time.time() - 7200)
ok(c.select("INBOX"))
typ, data = c.search(None, "ALL")
base = len(data[0].split())
for msg in (root, reply, html):
    ok(c.append("INBOX", None, None, msg))
ok(c.append("INBOX", None, old_date, lonely))  # INTERNALDATE two hours ago
ok(c.noop())
n1, n2, n3, n4 = base + 1, base + 2, base + 3, base + 4


def fetch_items(seq, items):
    typ, data = c.fetch(str(seq), items)
    assert typ == "OK", (typ, data)
    text = b""
    for part in data:
        if isinstance(part, tuple):
            text += part[0] + b"{literal}" + part[1]
        elif isinstance(part, bytes):
            text += part
    return text.decode("utf-8", "replace"), data


def get(text, item):
    m = re.search(item + r" \((" + OBJECTID + r")\)", text)
    return m.group(1) if m else None


t1, _ = fetch_items(n1, "(EMAILID THREADID SAVEDATE)")
t2, _ = fetch_items(n2, "(EMAILID THREADID)")
t3, _ = fetch_items(n3, "(EMAILID THREADID)")
t4, _ = fetch_items(n4, "(EMAILID THREADID SAVEDATE INTERNALDATE)")
e1, e2, e3, e4 = get(t1, "EMAILID"), get(t2, "EMAILID"), get(t3, "EMAILID"), get(t4, "EMAILID")
check("EMAILIDs are objectids and differ", all((e1, e2, e3, e4)) and len({e1, e2, e3, e4}) == 4, f"{t1} {t2}")
check("a reply shares its root's THREADID", get(t1, "THREADID") and get(t1, "THREADID") == get(t2, "THREADID"),
      f"{t1} | {t2}")
check("another thread, another THREADID", get(t3, "THREADID") not in (None, get(t1, "THREADID")))
sd4 = re.search(r'SAVEDATE "([^"]+)"', t4)
id4 = re.search(r'INTERNALDATE "([^"]+)"', t4)
check("SAVEDATE is the APPEND time, not INTERNALDATE",
      sd4 and id4 and abs(time.mktime(imaplib.Internaldate2tuple(b'INTERNALDATE "' + sd4.group(1).encode() + b'"'))
                          - time.time()) < 600 and sd4.group(1) != id4.group(1), t4)
t1b, _ = fetch_items(n1, "(EMAILID)")
check("EMAILID is the same when fetched again (cached)", get(t1b, "EMAILID") == e1)

# COPY and MOVE keep EMAILID.
ok(c.copy(str(n1), "Proj2"))
ok(c.select("Proj2"))
tc, _ = fetch_items(1, "(EMAILID THREADID SAVEDATE)")
check("COPY keeps EMAILID", get(tc, "EMAILID") == e1, tc)
check("COPY keeps THREADID", get(tc, "THREADID") == get(t1, "THREADID"), tc)
ok(c.select("INBOX"))
typ, _ = c._simple_command("MOVE", str(n3), "Proj2")
check("MOVE ok", typ == "OK")
ok(c.select("Proj2"))
tm, _ = fetch_items(2, "(EMAILID)")
check("MOVE keeps EMAILID", get(tm, "EMAILID") == e3, tm)
typ, data = c.search(None, "EMAILID", e3)
check("SEARCH EMAILID in the destination", data[0].split() == [b"2"], str(data))
ok(c.select("INBOX"))
# INBOX now: ..., n1 root, n2 reply, n3 = lonely (the html message moved away)
n3 = n4 - 1

# ---- SEARCH ----------------------------------------------------------------------------
typ, data = c.uid("SEARCH", None, "EMAILID", e1)
typ2, data2 = c.search(None, "EMAILID", e1)
check("SEARCH EMAILID", data2[0].split() == [str(n1).encode()], str(data2))
typ, data = c.search(None, str(n1), "EMAILID", e1)
check("SEARCH n EMAILID (index facts first)", data[0].split() == [str(n1).encode()], str(data))
typ, data = c.search(None, str(n2), "EMAILID", e1)
check("SEARCH other-n EMAILID: none", data[0].split() == [], str(data))
typ, data = c.search(None, "OR", "EMAILID", e1, "EMAILID", e2)
check("SEARCH OR EMAILID EMAILID", data[0].split() == [str(n1).encode(), str(n2).encode()], str(data))
typ, data = c.search(None, "THREADID", get(t1, "THREADID"))
check("SEARCH THREADID finds root and reply", data[0].split() == [str(n1).encode(), str(n2).encode()], str(data))
typ, data = c.search(None, "EMAILID", "Mnonexistent")
check("SEARCH EMAILID of nothing", data[0].split() == [], str(data))
today = time.strftime("%d-%b-%Y", time.gmtime())
typ, data = c.search(None, "SAVEDSINCE", today)
check("SAVEDSINCE today: every new message", [str(n).encode() for n in (n1, n2, n3)] == data[0].split()[-3:],
      str(data))
typ, data = c.search(None, "SAVEDBEFORE", "1-Jan-2000")
check("SAVEDBEFORE 2000: none", data[0].split() == [], str(data))
typ, data = c.search(None, "SAVEDATESUPPORTED")
check("SAVEDATESUPPORTED: all", len(data[0].split()) == n3, str(data))
typ, data = c.search(None, "OLDER", "3600")
check("OLDER 3600: the message dated two hours ago", str(n3).encode() in data[0].split() and
      str(n1).encode() not in data[0].split(), str(data))
typ, data = c.search(None, "YOUNGER", "3600")
check("YOUNGER 3600: the fresh ones", str(n1).encode() in data[0].split() and
      str(n3).encode() not in data[0].split(), str(data))
try:
    c.search(None, "YOUNGER", "0")
    check("YOUNGER 0 is a BAD (nz-number)", False)
except imaplib.IMAP4.error as e:
    check("YOUNGER 0 is a BAD (nz-number)", "BAD" in str(e), str(e))

# ---- PREVIEW ---------------------------------------------------------------------------
fresh = b"From: e@example.org\r\nSubject: lazy\r\n\r\nLazy   preview\r\ntext\r\n"
ok(c.append("INBOX", None, None, fresh))
ok(c.noop())
n5 = n3 + 1
t, _ = fetch_items(n5, "(PREVIEW (LAZY))")
check("PREVIEW (LAZY) before anyone computed it: NIL", "PREVIEW NIL" in t, t)
t, _ = fetch_items(n5, "(PREVIEW)")
check("PREVIEW computes it", 'PREVIEW "Lazy preview text"' in t, t)
t, _ = fetch_items(n5, "(PREVIEW (LAZY))")
check("PREVIEW (LAZY) once cached", 'PREVIEW "Lazy preview text"' in t, t)
if maildir:
    # A warm PREVIEW reads no file: move the message's file away and ask again.
    import glob
    import os
    path = [p for p in glob.glob(maildir + "/cur/*") + glob.glob(maildir + "/new/*")
            if b"Lazy   preview" in open(p, "rb").read()]
    check("the message file is found", len(path) == 1, str(path))
    if len(path) == 1:
        os.rename(path[0], path[0] + ".away")
        try:
            t, _ = fetch_items(n5, "(PREVIEW)")
            check("a warm PREVIEW reads no file", 'PREVIEW "Lazy preview text"' in t, t)
        finally:
            os.rename(path[0] + ".away", path[0])
t, _ = fetch_items(n1, "(PREVIEW)")
check("PREVIEW of plain text, whitespace collapsed", 'PREVIEW "Hello team, the plan is ready."' in t, t)
t, _ = fetch_items(n2, "(PREVIEW)")
check("PREVIEW drops quoted lines", 'PREVIEW "Looks good."' in t, t)
ok(c.select("Proj2"))
t, data = fetch_items(2, "(PREVIEW)")
check("PREVIEW of QP Latin-1 HTML, as UTF-8 text in a literal", "Café & crème" in t, t)

c.logout()
print("FAILED" if fails else "PASSED", fails)
sys.exit(1 if fails else 0)
