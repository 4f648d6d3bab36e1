#!/usr/bin/python3
"""Drives Roundcube in headless Chromium against an IMAP server and checks the result.

Used by tests/tools/roundcube_test.sh, which starts the IMAP server, Roundcube (`php -S`)
and passes their ports. What a user does, in this order:
  1. seed: three messages reach INBOX before the browser starts (IMAP APPEND over
     STARTTLS, or SMTP delivery for the third when --smtp-port is given), and a folder
     "Archive" is created and subscribed;
  2. log in through Roundcube's login form (elastic skin), see INBOX's message list with
     the three subjects;
  3. open message A (`_action=show`): its subject and body text are on the page;
  4. move A to Archive from the message view (the toolbar's "Move to" command);
  5. delete B from the list (Roundcube moves it to Trash), then delete it again in Trash
     (permanently: \\Deleted + EXPUNGE);
  5b. (issue 11) threads and sorting: a folder "Lists" holds 13 messages in 3 reply
     threads (References/In-Reply-To) and 4 single messages, appended out of date order;
     the list is switched through Roundcube's list options (rcmail.set_list_options, what
     the "List options" dialog calls: sort column, order, threads) to flat lists sorted by
     date, arrival, subject and from (both orders) and threaded lists (date both orders,
     subject, from); each rendered list is read from the DOM (rows in order, with
     Roundcube's depth and parent_uid, threads expanded) and must equal the order computed
     here from the messages: RFC 5256 sort keys (Date in UTC, base subject, the first From
     address / display name, arrival), ties by sequence number, DESC as Roundcube does it
     (the ASC result reverted), threads as THREAD=REFS gives them (children under their
     parent by date, threads by their newest message) and re-ordered as Roundcube does for
     other sort columns (by the first member in the sorted index). roundcube_test.sh then
     checks in Roundcube's IMAP log that SORT and THREAD went to the server (and ENABLE
     QRESYNC/CONDSTORE, as Roundcube's message cache does when they are offered);
  5c. (issue 14, only with --sieve-home: Roundcube's managesieve plugin against the
     server's ManageSieve port) open Settings > Filters (the plugin makes and activates its
     script "roundcube"), create a filter in the plugin's own form (Subject contains a tag
     -> move to Archive) and save it, see it in the script on disk and the active link
     (<home>/.dovecot.sieve -> sieve/roundcube.sieve), then delete it as the list's delete
     command does, and see it gone from the script;
  6. log out;
  7. check the server over IMAP (imaplib): INBOX holds only C, Archive holds A with
     \\Seen (Roundcube marked it read when shown), Trash does not hold B, nothing else moved.

Roundcube's own JavaScript commands (rcmail.command('move'|'delete'|'logout')) are what its
buttons call; the browser talks to Chromium's DevTools protocol over a websocket (Debian's
python3-websocket), so the only moving parts are Chromium, Roundcube and the server.

Prints "ok: NAME" / "FAIL: NAME -- detail" lines; exits 0 only when nothing failed.
"""

import argparse
import email.utils
import imaplib
import json
import os
import re
import smtplib
import ssl
import subprocess
import sys
import time
import urllib.request

import websocket  # Debian: python3-websocket

failures = 0


def check(name, cond, detail=""):
    global failures
    if cond:
        print(f"ok: {name}", flush=True)
    else:
        failures += 1
        print(f"FAIL: {name}" + (f" -- {detail}" if detail else ""), flush=True)
    return cond


class Fatal(Exception):
    pass


# ------------------------------------------------------------------------------ IMAP side
def imap_connect(args):
    m = imaplib.IMAP4(args.host, args.imap_port, timeout=30)
    m.starttls(ssl_context=ssl._create_unverified_context())
    m.login(args.user, args.password)
    return m


notes = []


def folder_messages(m, folder):
    """{message-id: (uid, flags)} of a folder, read-only.

    Roundcube works on the same folders meanwhile, so a message may be expunged between
    our EXAMINE and UID FETCH. Dovecot then answers the FETCH with OK [EXPUNGEISSUED]
    (or plain OK); an RFC 2180 4.1.2 server may answer NO [EXPUNGEISSUED] instead: that
    is noted (the report lists it) and the folder read again."""
    for attempt in range(5):
        typ, _ = m.select(f'"{folder}"', readonly=True)
        if typ != "OK":
            raise Fatal(f"SELECT {folder}: {typ}")
        typ, data = m.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        if typ == "NO" and b"EXPUNGEISSUED" in b" ".join(d for d in data if isinstance(d, bytes)):
            notes.append(f"UID FETCH 1:* in {folder} after a concurrent expunge: NO {data!r}")
            m.close()
            continue
        break
    out = {}
    if typ != "OK":
        raise Fatal(f"UID FETCH in {folder}: {typ} {data!r}")
    for item in data:
        if not isinstance(item, tuple):
            continue
        meta = item[0].decode()
        uid = int(re.search(r"UID (\d+)", meta).group(1))
        flags = re.search(r"FLAGS \(([^)]*)\)", meta).group(1).split()
        mid = re.search(rb"<([^>]+)>", item[1])
        out[mid.group(1).decode() if mid else f"?{uid}"] = (uid, flags)
    m.close()
    return out


def make_message(subject, body, msgid, to):
    return (
        f"From: Alice Sender <alice@example.net>\r\n"
        f"To: {to}\r\n"
        f"Subject: {subject}\r\n"
        f"Date: {email.utils.formatdate(localtime=False)}\r\n"
        f"Message-ID: <{msgid}>\r\n"
        f"MIME-Version: 1.0\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n"
        f"Content-Transfer-Encoding: 8bit\r\n"
        f"\r\n"
        f"{body}\r\n"
    ).encode()


def seed(args, msgs):
    m = imap_connect(args)
    for folder in ("Archive", "Trash"):
        typ, data = m.list('""', folder)
        if not [d for d in data if d]:
            typ, data = m.create(folder)
            if typ != "OK":
                raise Fatal(f"CREATE {folder}: {typ} {data!r}")
        m.subscribe(folder)
    for key in ("A", "B", "C"):
        subject, body, msgid = msgs[key]
        raw = make_message(subject, body, msgid, args.user)
        if key == "C" and args.smtp_port:
            with smtplib.SMTP(args.host, args.smtp_port, timeout=30) as s:
                s.sendmail("alice@example.net", [args.user], raw)
            continue
        typ, data = m.append("INBOX", None, None, raw)
        if typ != "OK":
            raise Fatal(f"APPEND {key}: {typ} {data!r}")
    typ, data = m.list('""', LISTS)
    if not [d for d in data if d]:
        m.create(LISTS)
    m.subscribe(LISTS)
    for lmsg in args.lists:
        typ, data = m.append(LISTS, None, None, lists_raw(lmsg, args.user))
        if typ != "OK":
            raise Fatal(f"APPEND {lmsg['key']} to {LISTS}: {typ} {data!r}")
    in_lists = folder_messages(m, LISTS)
    args.lists_uids = {str(in_lists[lm["msgid"]][0]): lm["key"] for lm in args.lists if lm["msgid"] in in_lists}
    if len(args.lists_uids) != len(args.lists):
        raise Fatal(f"{LISTS} holds {sorted(in_lists)} after APPEND")
    deadline = time.time() + 20
    while True:
        inbox = folder_messages(m, "INBOX")
        if all(msgs[k][2] in inbox for k in "ABC"):
            break
        if time.time() > deadline:
            raise Fatal(f"seeded messages not all in INBOX after 20 s: {sorted(inbox)}")
        time.sleep(0.2)
    m.logout()
    check("seed: 3 messages in INBOX" + (" (one by SMTP)" if args.smtp_port else ""), True)


# ------------------------------------------------------------------------------ Chromium
class Browser:
    """Headless Chromium and one page, driven over the DevTools protocol."""

    def __init__(self, chromium, profile, shots):
        self.shots = shots
        self.proc = subprocess.Popen(
            [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--no-first-run", "--no-default-browser-check", "--disable-extensions",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
             "--remote-allow-origins=*", f"--user-data-dir={profile}", "--window-size=1280,900",
             "about:blank"],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(profile + ".log"), "wb"))
        port_file = os.path.join(profile, "DevToolsActivePort")
        deadline = time.time() + 30
        while not os.path.exists(port_file) or not open(port_file).read().strip():
            if self.proc.poll() is not None:
                raise Fatal(f"chromium exited {self.proc.returncode} (log: {profile}.log)")
            if time.time() > deadline:
                raise Fatal("chromium did not write DevToolsActivePort within 30 s")
            time.sleep(0.1)
        time.sleep(0.1)
        port = int(open(port_file).read().split()[0])
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10))
        page = [t for t in targets if t.get("type") == "page"]
        if not page:
            raise Fatal(f"no page target: {targets!r}")
        self.ws = websocket.create_connection(page[0]["webSocketDebuggerUrl"], timeout=30,
                                              suppress_origin=True)
        self.next_id = 0
        self.events = []
        self.errors = []
        self.call("Page.enable")
        self.call("Runtime.enable")

    def call(self, method, **params):
        self.next_id += 1
        my_id = self.next_id
        self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise Fatal(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if msg.get("method") == "Runtime.exceptionThrown":
                d = msg["params"]["exceptionDetails"]
                self.errors.append(d.get("exception", {}).get("description") or d.get("text"))
            elif msg.get("method") == "Runtime.consoleAPICalled" and msg["params"]["type"] == "error":
                self.errors.append(" ".join(str(a.get("value", a.get("description")))
                                            for a in msg["params"]["args"]))

    def js(self, expr):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise Fatal(f"JS error in {expr[:80]!r}: {r['exceptionDetails'].get('text')} "
                        f"{r['exceptionDetails'].get('exception', {}).get('description', '')}")
        return r["result"].get("value")

    def wait(self, expr, what, timeout=20):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            try:
                last = self.js(expr)
            except Fatal as e:  # the page navigated mid-evaluation
                last = str(e)
            if last:
                return last
            time.sleep(0.1)
        self.screenshot("timeout")
        raise Fatal(f"timed out after {timeout} s waiting for {what} "
                    f"(page: {self.page_text()[:600]!r}; JS errors: {self.errors[-5:]!r})")

    def goto(self, url):
        self.call("Page.navigate", url=url)
        time.sleep(0.05)
        self.wait("document.readyState == 'complete' && location.href != 'about:blank' && "
                  "typeof rcmail == 'object'", f"page {url} loaded")

    def page_text(self):
        try:
            return self.js("document.body ? document.body.innerText : ''") or ""
        except Fatal:
            return ""

    def screenshot(self, name):
        try:
            import base64
            data = self.call("Page.captureScreenshot", format="png")["data"]
            path = os.path.join(self.shots, f"{name}.png")
            open(path, "wb").write(base64.b64decode(data))
            print(f"  screenshot: {path}")
        except Exception as e:  # diagnostics only
            print(f"  (no screenshot: {e})")

    def close(self):
        try:
            self.call("Browser.close")
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


LIST_JS = """(() => {
  if (!window.rcmail || !rcmail.message_list || rcmail.busy) return null;
  return Object.values(rcmail.message_list.rows).map(r => [String(r.uid), r.obj.innerText]);
})()"""


def list_rows(b, want_subjects, what):
    """Waits for the message list to show every subject; returns {subject: uid}."""
    expr = LIST_JS
    deadline = time.time() + 20
    rows = None
    while time.time() < deadline:
        rows = b.js(expr)
        if rows is not None and all(any(s in text for _, text in rows) for s in want_subjects):
            break
        time.sleep(0.1)
    else:
        b.screenshot("list")
        raise Fatal(f"{what}: message list rows {rows!r} lack some of {want_subjects!r}")
    return {s: uid for s in want_subjects for uid, text in rows if s in text}, rows


# ------------------------------------------------------------------------------ threads and sorting
LISTS = "Lists"


def lists_messages(tag):
    """The 13 messages of the threads/sorting check, in APPEND (= arrival, sequence) order.

    Each: key, subject, (display name, address), Date header, hours after the base date
    (the UTC instant, for the expected order), parent key. Sender display names sort
    like their addresses so that SORT FROM and SORT DISPLAYFROM (RFC 5957, which Roundcube
    asks for when offered) expect the same order; base subjects differ between threads."""
    import datetime
    base = datetime.datetime(2024, 3, 1, 10, 0, tzinfo=datetime.timezone.utc)
    spec = [  # key, subject, sender, hours after base, timezone offset (hours), parent
        ("s1", "Server migration", "dave", 4, 0, None),
        ("p2", "Re: Project plan", "bob", 5, 2, "p1"),
        ("z", "Zebra facts", "erin", 10, 0, None),
        ("l1", "Lunch on Friday", "carol", 2, -5, None),
        ("p1", "Project plan", "alice", 1, 0, None),
        ("m", "Meeting notes", "bob", 0, 0, None),
        ("s3", "Re: Server migration", "alice", 7, 1, "s1"),
        ("p4", "Re: Project plan", "carol", 6, 0, "p1"),
        ("i", "Invoice 42", "alice", 8, 0, None),
        ("l2", "Re: Lunch on Friday", "erin", 3, 0, "l1"),
        ("s2", "Re: Server migration", "bob", 12, 0, "s1"),
        ("p3", "Re: Re: Project plan", "dave", 9, -3, "p2"),
        ("a", "alpha release", "carol", 11, 0, None),
    ]
    out = []
    parent = {k: par for k, _, _, _, _, par in spec}
    for key, subject, who, hours, tz, par in spec:
        when = base + datetime.timedelta(hours=hours)
        local = when.astimezone(datetime.timezone(datetime.timedelta(hours=tz)))
        chain = []
        p = par
        while p:
            chain.insert(0, f"<rc-{p}-{tag}@example.net>")
            p = parent[p]
        out.append({"key": key, "subject": subject, "name": who.capitalize(), "addr": f"{who}@example.net",
                    "date": email.utils.format_datetime(local), "utc": when, "parent": par,
                    "msgid": f"rc-{key}-{tag}@example.net", "refs": chain})
    return out


def lists_raw(m, to):
    hdr = (f"From: {m['name']} <{m['addr']}>\r\nTo: {to}\r\nSubject: {m['subject']}\r\n"
           f"Date: {m['date']}\r\nMessage-ID: <{m['msgid']}>\r\n")
    if m["refs"]:
        hdr += f"In-Reply-To: {m['refs'][-1]}\r\nReferences: {' '.join(m['refs'])}\r\n"
    return (hdr + "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
            f"Thread and sort test message {m['key']}.\r\n").encode()


def base_subject(s):
    s = s.strip()
    while s.lower().startswith("re:"):
        s = s[3:].strip()
    return s.lower()


def expected_flat(lm, col, order):
    """[key, ...] as Roundcube shows a flat list: the server's SORT (ASC, ties by
    sequence number), reverted for DESC; no column = sequence order (SEARCH)."""
    keyf = {"date": lambda m: m["utc"], "subject": lambda m: base_subject(m["subject"]),
            "from": lambda m: m["addr"].lower(), "arrival": lambda m: 0, "": lambda m: 0}[col]
    asc = [m["key"] for _, m in sorted(((keyf(m), i), m) for i, m in enumerate(lm))]
    return asc if order == "ASC" else asc[::-1]


def expected_threads(lm, col, order):
    """[(key, depth), ...] as Roundcube shows a threaded list (THREAD=REFS, expanded)."""
    seq = {m["key"]: i for i, m in enumerate(lm)}
    by = {m["key"]: m for m in lm}
    kids = {m["key"]: [] for m in lm}
    roots = []
    for m in lm:
        (kids[m["parent"]] if m["parent"] else roots).append(m["key"])
    for k in kids:
        kids[k].sort(key=lambda x: (by[x]["utc"], seq[x]))

    def members(k):
        return [k] + [x for c in kids[k] for x in members(c)]

    if col in ("", "date"):
        # THREAD=REFS: threads by their newest message (oldest first); Roundcube reverts for DESC.
        roots.sort(key=lambda r: (max(by[x]["utc"] for x in members(r)), seq[r]))
        if order == "DESC":
            roots.reverse()
    else:
        index = expected_flat(lm, col, order)
        first = {r: min(index.index(x) for x in members(r)) for r in roots}
        roots.sort(key=lambda r: first[r])
    out = []

    def walk(k, depth):
        out.append((k, depth))
        for c in kids[k]:
            walk(c, depth + 1)
    for r in roots:
        walk(r, 0)
    return out


ROWS_JS = """(() => {
  if (!window.rcmail || !rcmail.message_list || rcmail.busy || rcmail.env.mailbox != %s) return null;
  const list = rcmail.message_list, rows = Object.values(list.rows);
  if (window.__rc_mark && list.rows === window.__rc_mark) return null;
  const byObj = new Map(rows.map(r => [r.obj, r]));
  return {threading: !!rcmail.env.threading, sort_col: rcmail.env.sort_col, sort_order: rcmail.env.sort_order,
          rows: [...list.tbody.rows].map(tr => byObj.get(tr)).filter(r => r)
                .map(r => [String(r.uid), r.depth || 0, String(r.parent_uid || ''), r.obj.style.display != 'none'])};
})()"""


def list_state(b, want_rows, what, timeout=20, retry=None):
    """The list's rows once it shows want_rows rows, all visible, the same twice in a row.
    retry: JavaScript run again every 5 s while the list has not been replaced (a request
    Roundcube dropped because another one held its lock)."""
    deadline = time.time() + timeout
    next_retry = time.time() + 5
    last = None
    st = None
    while time.time() < deadline:
        if retry and time.time() > next_retry:
            next_retry = time.time() + 5
            if b.js("!!window.__rc_mark && rcmail.message_list.rows === window.__rc_mark && !rcmail.busy"):
                b.js(retry)
        st = b.js(ROWS_JS % json.dumps(LISTS))
        if st and len(st["rows"]) == want_rows and all(r[3] for r in st["rows"]):
            if st == last:
                return st
            last = st
        elif st and len(st["rows"]) == want_rows and st["threading"]:
            b.js("rcmail.command('expand-all')")
        time.sleep(0.15)
    b.screenshot("lists")
    raise Fatal(f"{what}: the list did not settle at {want_rows} visible rows: {last or st!r}")


def lists_change(args, uid_key, store=None, expunge=None):
    """A change to Lists made by another IMAP session while Roundcube has it cached."""
    key_uid = {k: u for u, k in uid_key.items()}
    m = imap_connect(args)
    try:
        m.select(LISTS)
        if store:
            m.uid("STORE", key_uid[store], "+FLAGS.SILENT", "(\\Flagged)")
        if expunge:
            m.uid("STORE", key_uid[expunge], "+FLAGS.SILENT", "(\\Deleted)")
            typ, data = m.uid("EXPUNGE", key_uid[expunge])
            if typ != "OK":
                raise Fatal(f"UID EXPUNGE in {LISTS}: {typ} {data!r}")
        m.close()
    finally:
        m.logout()


def threads_and_sorting(b, args, base, lm, uid_key):
    b.goto(base + f"?_task=mail&_mbox={LISTS}")
    st = list_state(b, len(lm), "Lists folder")
    check(f"lists: {LISTS} shows its {len(lm)} messages", len(st["rows"]) == len(lm), repr(st))
    modes = [(False, "date", "DESC"), (False, "date", "ASC"), (False, "arrival", "ASC"),
             (False, "arrival", "DESC"), (False, "subject", "ASC"), (False, "subject", "DESC"),
             (False, "from", "ASC"), (False, "from", "DESC"),
             (True, "date", "DESC"), (True, "date", "ASC"), (True, "subject", "ASC"), (True, "from", "DESC"),
             (True, "arrival", "ASC"), (False, "date", "DESC")]
    for n, (threads, col, order) in enumerate(modes):
        label = f"{'threads' if threads else 'list'} by {col} {order}"
        if n == 8:
            # Another session flags "i": Roundcube's cache must learn it (QRESYNC/CONDSTORE
            # FETCH ... CHANGEDSINCE when offered, else a full flags fetch).
            lists_change(args, uid_key, store="i")
        b.js("window.__rc_mark = rcmail.message_list.rows")
        cur = b.js("[rcmail.env.sort_col, rcmail.env.sort_order, !!rcmail.env.threading]")
        if cur == [col, order, threads]:
            b.js("window.__rc_mark = null")
        b.js(f"rcmail.set_list_options(null, {json.dumps(col)}, {json.dumps(order)}, {1 if threads else 0})")
        st = list_state(b, len(lm), label, retry=f"rcmail.list_mailbox('', '', '{col}_{order}', "
                                                 f"{{_threads: {1 if threads else 0}}})")
        b.js("window.__rc_mark = null")
        got = [(uid_key.get(u, f"?{u}"), d) for u, d, _, _ in st["rows"]]
        parents = {uid_key.get(u, f"?{u}"): uid_key.get(p, "") for u, _, p, _ in st["rows"]}
        if threads:
            want = expected_threads(lm, col, order)
            check(f"lists: {label}: rows and depths as THREAD=REFS and Roundcube order them",
                  got == want and st["threading"], f"got {got}, want {want}, threading {st['threading']}")
            wrong = {k: p for k, p in parents.items()
                     if p != ([m["parent"] for m in lm if m["key"] == k][0] or "")}
            check(f"lists: {label}: each reply's parent is the message it answers", not wrong, repr(wrong))
        else:
            want = expected_flat(lm, col, order)
            check(f"lists: {label}: rows in the RFC 5256 order",
                  [k for k, _ in got] == want and not st["threading"] and all(d == 0 for _, d in got),
                  f"got {[k for k, _ in got]}, want {want}, threading {st['threading']}")
    flagged = b.js("Object.values(rcmail.message_list.rows).filter(r => r.flagged).map(r => String(r.uid))")
    check("lists: the message flagged by another session meanwhile shows as flagged",
          [uid_key.get(u) for u in flagged] == ["i"], repr([uid_key.get(u) for u in flagged]))
    # Another session expunges "z"; the next list must lose it (VANISHED under QRESYNC).
    lists_change(args, uid_key, expunge="z")
    b.js("window.__rc_mark = rcmail.message_list.rows")
    b.js("rcmail.list_mailbox()")
    st = list_state(b, len(lm) - 1, "list after an expunge by another session", retry="rcmail.list_mailbox()")
    b.js("window.__rc_mark = null")
    got = [uid_key.get(u, f"?{u}") for u, _, _, _ in st["rows"]]
    want = [k for k in expected_flat(lm, "date", "DESC") if k != "z"]
    check("lists: a message expunged by another session leaves the list", got == want, f"got {got}, want {want}")


def sieve_script(args):
    path = os.path.join(args.sieve_home, "sieve", "roundcube.sieve")
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return None


def sieve_filters(b, args, base):
    tag = "[rc-filter-" + os.urandom(3).hex() + "]"
    b.goto(base + "?_task=settings&_action=plugin.managesieve")
    b.wait("rcmail.env.action == 'plugin.managesieve' && !!rcmail.filters_list", "the Filters page")
    link = os.path.join(args.sieve_home, ".dovecot.sieve")
    check("filters: the plugin made and activated its script",
          os.path.islink(link) and os.readlink(link) == "sieve/roundcube.sieve",
          f"{link} -> {os.readlink(link) if os.path.islink(link) else None}")
    # The new-filter form, loaded into the Filters page's content frame by the "Create"
    # button's command, as a user gets it: its save answer then calls back into this page
    # (rcmail.managesieve_updatelist), which a form opened as a top-level page would not
    # have (a JavaScript error whenever the answer came before the next navigation).
    b.js("rcmail.command('plugin.managesieve-add')")
    frame = "rcmail.get_frame_window(rcmail.env.contentframe)"
    # Its fields are indexed per rule/action row ("_header[0]"); the rule's value list is a
    # textarea that the skin turns into inputs named "_rule_target[0][]".
    # Filled as soon as the frame holds the loaded form (a wait, since the frame may still
    # be between documents when the command returns); true once every field is set.
    b.wait(f"""(() => {{
      const w = {frame};
      if (!w || w.document.readyState != 'complete' || !w.rcmail || !w.rcmail.gui_objects.sieveform) return false;
      const f = w.rcmail.gui_objects.sieveform, q = (n) => f.querySelector('[name="' + n + '"]');
      const target = q('_rule_target[0][]') || q('_rule_target[0]');
      if (!target || !q('_name') || !q('_action_mailbox[0]')) return false;
      const set = (el, v) => {{ el.value = v; el.dispatchEvent(new w.Event('change', {{bubbles: true}})); }};
      set(q('_name'), 'Roundcube test filter');
      set(q('_header[0]'), 'subject');
      set(q('_rule_op[0]'), 'contains');
      set(target, {json.dumps(tag)});
      set(q('_action_type[0]'), 'fileinto');
      set(q('_action_mailbox[0]'), 'Archive');
      return true;
    }})()""", "the new-filter form in the Filters page's frame, filled")
    b.js(f"{frame}.rcmail.command('plugin.managesieve-save')")
    # Generous waits: in the ASan+UBSan pass on a loaded 2-core CI machine the save (PHP,
    # ManageSieve, the sanitized server) has taken over 20 s.
    deadline = time.time() + 60
    while time.time() < deadline and tag not in (sieve_script(args) or ""):
        time.sleep(0.2)
    # The save answer adds the filter to this page's list: wait for it, so no answer is
    # left in flight when the page changes.
    b.wait("!!rcmail.filters_list && Object.values(rcmail.filters_list.rows)"
           ".some(r => r.obj.innerText.includes('Roundcube test filter'))",
           "the saved filter in the Filters list", timeout=60)
    script = sieve_script(args) or ""
    check("filters: the saved filter is in sieve/roundcube.sieve",
          tag in script and 'fileinto "Archive"' in script and "Roundcube test filter" in script, repr(script))
    # A delivery obeys the rule: a message with the tag in its subject, sent by SMTP, is
    # filed into Archive by the script Roundcube wrote (then expunged, so the final
    # checks of the mail folders stay as they were).
    if args.smtp_port:
        msgid = f"rc-filter-{os.urandom(4).hex()}@example.net"
        raw = make_message(f"{tag} filed by the Roundcube rule", "Filed by Sieve.", msgid, args.user)
        with smtplib.SMTP(args.host, args.smtp_port, timeout=30) as s:
            s.sendmail("alice@example.net", [args.user], raw)
        m = imap_connect(args)
        try:
            deadline = time.time() + 20
            while True:
                archive = folder_messages(m, "Archive")
                if msgid in archive or time.time() > deadline:
                    break
                time.sleep(0.2)
            check("filters: a delivery obeys the rule (filed into Archive)", msgid in archive, repr(sorted(archive)))
            if msgid in archive:
                m.select('"Archive"')
                m.uid("STORE", str(archive[msgid][0]), "+FLAGS.SILENT", r"(\Deleted)")
                m.expunge()
                m.close()
        finally:
            m.logout()
    # Delete it as the list's delete command does once confirmed.
    b.goto(base + "?_task=settings&_action=plugin.managesieve")
    b.wait("rcmail.env.action == 'plugin.managesieve' && !!rcmail.filters_list && "
           "Object.keys(rcmail.filters_list.rows).length > 0", "the filter in the Filters list")
    listed = b.js("Object.values(rcmail.filters_list.rows).map(r => r.obj.innerText).join('|')")
    check("filters: the list shows the new filter", "Roundcube test filter" in (listed or ""), repr(listed))
    b.js("(() => { const r = Object.values(rcmail.filters_list.rows)"
         ".find(r => r.obj.innerText.includes('Roundcube test filter'));"
         " rcmail.http_post('plugin.managesieve-action', '_act=delete&_fid=' + r.uid); })()")
    deadline = time.time() + 20
    while time.time() < deadline and tag in (sieve_script(args) or tag):
        time.sleep(0.2)
    script = sieve_script(args)
    check("filters: the deleted filter is gone from the script", script is not None and tag not in script,
          repr(script))


def drive(args, msgs, base):
    shots = args.work
    b = Browser(args.chromium, os.path.join(args.work, "chrome-profile"), shots)
    try:
        t0 = time.time()
        # ---- 2. log in
        b.goto(base + "?_task=login")
        b.wait("!!document.querySelector('#rcmloginuser')", "the login form")
        b.js(f"""(() => {{
          document.querySelector('#rcmloginuser').value = {json.dumps(args.user)};
          document.querySelector('#rcmloginpwd').value = {json.dumps(args.password)};
          document.querySelector('#rcmloginsubmit').click();
        }})()""")
        b.wait("document.readyState == 'complete' && window.rcmail && "
               "(rcmail.env.task == 'mail' || !!document.querySelector('#messagestack .error'))",
               "the mail view after login")
        task = b.js("rcmail.env.task")
        if not check("login: Roundcube shows the mail view", task == "mail",
                     f"task={task!r}, page: {b.page_text()[:400]!r}"):
            b.screenshot("login")
            return
        check("login: INBOX selected", b.js("rcmail.env.mailbox") == "INBOX", b.js("rcmail.env.mailbox"))
        subjects = {k: msgs[k][0] for k in "ABC"}
        by_subject, rows = list_rows(b, list(subjects.values()), "list")
        check("list: INBOX lists the 3 seeded subjects", len(by_subject) == 3, repr(rows))
        folders = b.js("Object.keys(rcmail.env.mailboxes || {})") or []
        check("list: folder list has INBOX, Archive and Trash",
              all(f in folders for f in ("INBOX", "Archive", "Trash")), repr(folders))
        print(f"  login + list: {time.time() - t0:.1f}s")

        # ---- 3. read A
        t0 = time.time()
        uid_a = by_subject[subjects["A"]]
        b.goto(base + f"?_task=mail&_mbox=INBOX&_uid={uid_a}&_action=show")
        b.wait("rcmail.env.action == 'show' && !!document.querySelector('#messagebody')",
               "the message view")
        shown_subject = b.js("(document.querySelector('h2.subject') || document.body).innerText")
        body = b.js("document.querySelector('#messagebody').innerText")
        check("read: the subject is shown", subjects["A"] in (shown_subject or ""), repr(shown_subject))
        check("read: the body text is shown", msgs["A"][1] in (body or ""), repr(body))
        check("read: the sender is shown", "alice@example.net" in b.page_text() or
              "Alice Sender" in b.page_text(), b.page_text()[:400])
        print(f"  read: {time.time() - t0:.1f}s")

        # ---- 4. move A to Archive from the message view
        t0 = time.time()
        b.wait("!rcmail.busy && rcmail.commands['move']", "the move command enabled")
        b.js("rcmail.command('move', 'Archive')")
        wait_server(args, lambda st: msgs["A"][2] in st["Archive"] and msgs["A"][2] not in st["INBOX"],
                    "A moved to Archive")
        print(f"  move: {time.time() - t0:.1f}s")

        # ---- 5. delete B: to Trash, then from Trash for good
        t0 = time.time()
        b.goto(base + "?_task=mail&_mbox=INBOX")
        by_subject, rows = list_rows(b, [subjects["B"], subjects["C"]], "list after move")
        check("delete: the moved message left the list",
              not any(subjects["A"] in text for _, text in rows), repr(rows))
        uid_b = by_subject[subjects["B"]]
        b.js(f"rcmail.message_list.select({json.dumps(uid_b)})")
        b.wait("!rcmail.busy && rcmail.commands['delete']", "the delete command enabled")
        b.js("rcmail.command('delete')")
        wait_server(args, lambda st: msgs["B"][2] in st["Trash"] and msgs["B"][2] not in st["INBOX"],
                    "B moved to Trash by delete")
        b.goto(base + "?_task=mail&_mbox=Trash")
        by_subject, rows = list_rows(b, [subjects["B"]], "Trash list")
        b.js(f"rcmail.message_list.select({json.dumps(by_subject[subjects['B']])})")
        b.wait("!rcmail.busy && rcmail.commands['delete']", "the delete command enabled in Trash")
        b.js("rcmail.command('delete')")
        wait_server(args, lambda st: msgs["B"][2] not in st["Trash"], "B expunged from Trash")
        b.wait(f"!rcmail.busy && !Object.values(rcmail.message_list.rows)"
               f".some(r => r.obj.innerText.includes({json.dumps(subjects['B'])}))",
               "B gone from the Trash list")
        print(f"  delete: {time.time() - t0:.1f}s")

        # ---- 5b. threads and sorting
        t0 = time.time()
        threads_and_sorting(b, args, base, args.lists, args.lists_uids)
        print(f"  threads and sorting: {time.time() - t0:.1f}s")

        # ---- 5c. Sieve filters through the managesieve plugin
        if args.sieve_home:
            t0 = time.time()
            sieve_filters(b, args, base)
            print(f"  sieve filters: {time.time() - t0:.1f}s")

        # ---- 6. log out
        b.wait("!rcmail.busy && rcmail.commands['logout']", "the logout command enabled")
        b.js("rcmail.command('logout')")
        b.wait("document.readyState == 'complete' && window.rcmail && rcmail.env.task == 'login'",
               "the login page after logout")
        check("logout: back at the login form", True)
        check("browser: no JavaScript errors", not b.errors, repr(b.errors[:5]))
    finally:
        b.close()


def server_state(args):
    m = imap_connect(args)
    try:
        return {f: folder_messages(m, f) for f in ("INBOX", "Archive", "Trash")}
    finally:
        m.logout()


def wait_server(args, cond, what, timeout=20):
    deadline = time.time() + timeout
    while True:
        st = server_state(args)
        if cond(st):
            check(f"server: {what}", True)
            return st
        if time.time() > deadline:
            check(f"server: {what}", False, f"after {timeout} s: {st!r}")
            raise Fatal(f"server never reached: {what}")
        time.sleep(0.2)


def final_checks(args, msgs):
    st = server_state(args)
    a, b, c = (msgs[k][2] for k in "ABC")
    check("final: INBOX holds only C", set(st["INBOX"]) == {c}, repr(st["INBOX"]))
    check("final: Archive holds A", set(st["Archive"]) == {a}, repr(st["Archive"]))
    check("final: A is \\Seen (read in Roundcube)", a in st["Archive"] and "\\Seen" in st["Archive"][a][1],
          repr(st["Archive"].get(a)))
    check("final: C is not \\Seen (never opened)", c in st["INBOX"] and "\\Seen" not in st["INBOX"][c][1],
          repr(st["INBOX"].get(c)))
    check("final: Trash is empty (B deleted for good)", not st["Trash"], repr(st["Trash"]))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True, help="Roundcube's base URL, e.g. http://127.0.0.1:8080/")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--imap-port", type=int, required=True, help="IMAP port with STARTTLS")
    p.add_argument("--smtp-port", type=int, default=0, help="deliver message C by SMTP here")
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--chromium", default="chromium")
    p.add_argument("--sieve-home", default="",
                   help="the user's home on the server: drive the managesieve plugin and check the script there")
    p.add_argument("--work", required=True, help="scratch directory (profile, screenshots)")
    args = p.parse_args()

    tag = os.urandom(4).hex()
    msgs = {k: (f"Roundcube test {k} {tag}", f"Body text of message {k}, marker {k}-{tag}.",
                f"rc-{k}-{tag}@example.net") for k in "ABC"}
    args.lists = lists_messages(tag)
    try:
        t0 = time.time()
        seed(args, msgs)
        print(f"  seed: {time.time() - t0:.1f}s")
        drive(args, msgs, args.url)
        final_checks(args, msgs)
    except Fatal as e:
        check("roundcube run", False, str(e))
    except Exception as e:  # noqa: BLE001 -- any crash is a failure with its reason
        import traceback
        traceback.print_exc()
        check("roundcube run", False, f"{type(e).__name__}: {e}")
    for n in notes:
        print(f"note: {n}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
