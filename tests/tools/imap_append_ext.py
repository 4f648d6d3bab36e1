#!/usr/bin/env python3
"""End-to-end checks of APPEND's extensions (issue 11): MULTIAPPEND (RFC 3502), CATENATE
(RFC 4469), APPENDLIMIT (RFC 7889) and UTF8=ACCEPT (RFC 6855), over raw sockets (every
literal waits for the server's "+", as a synchronizing client must) and Python's imaplib.

Failure paths are checked as much as the happy ones: a MULTIAPPEND whose second message is
bad stores nothing; [BADURL] for URLs naming another server, URLAUTH, a wrong UIDVALIDITY,
a missing UID or relative URLs with no mailbox selected; [TOOBIG] before the client sends
a literal over APPENDLIMIT and for a catenated result over it; BAD for UTF8 data before
ENABLE UTF8=ACCEPT.

The same script runs against Dovecot 2.3 (--server-kind dovecot), which has all four
extensions; where the two answer differently the check accepts both and prints a "note:"
(protocols/imap/DIFFERENCES.md explains each).

Usage:
  imap_append_ext.py --host 127.0.0.1 --port 1993 --tls --user john@example.org \
      --password pw-john [--server-kind ringmail|dovecot] [--hostname mx.test] [--only NAME]
The server's APPENDLIMIT must be at most 2 MB (the TOOBIG checks send that much).
Prints "PASS name" / "FAIL name: why" per check; exits 1 if any failed.
"""

import argparse
import imaplib
import re
import socket
import ssl
import sys
import time
import traceback

ARGS = None
TIMEOUT = 20.0
CURRENT = [""]


class CheckFailed(Exception):
    pass


def need(cond, why):
    if not cond:
        raise CheckFailed(why)


def note(text):
    print(f"note: [{ARGS.server_kind}] {CURRENT[0]}: {text}", flush=True)


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Conn:
    """A raw IMAP connection; keeps a transcript for failure reports."""

    def __init__(self, login=True):
        s = socket.create_connection((ARGS.host, ARGS.port), timeout=TIMEOUT)
        if ARGS.tls:
            s = tls_context().wrap_socket(s)
        self.sock = s
        self.buf = b""
        self.n = 0
        self.transcript = []
        greeting = self.readline()
        need(greeting.startswith(b"* OK"), f"greeting {greeting!r}")
        if login:
            r = self.cmd(f'LOGIN "{ARGS.user}" "{ARGS.password}"')
            need(r.ok, f"LOGIN: {r.tagged!r}")

    def log(self, who, data):
        self.transcript.append(f"{who} {data[:300]!r}")
        del self.transcript[:-40]

    def send(self, data):
        self.log("C:", data)
        self.sock.sendall(data)

    def readline(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise CheckFailed("connection closed by the server")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        line += b"\n"
        # A literal in a response: read its bytes too.
        m = re.search(rb"\{(\d+)\}\r\n$", line)
        if m:
            n = int(m.group(1))
            while len(self.buf) < n:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise CheckFailed("connection closed in a literal")
                self.buf += chunk
            line += self.buf[:n]
            self.buf = self.buf[n:]
            line += self.readline()
        self.log("S:", line)
        return line

    def tag(self):
        self.n += 1
        return f"x{self.n}"

    def cmd(self, text, parts=()):
        """Sends `text` and CRLF; then, for each continuation "+", the next of `parts` (a
        literal's bytes and what follows them up to the next literal header or the end)
        and CRLF. A tagged answer ends the command, whatever is left unsent."""
        tag = self.tag()
        data = (tag + " " + text).encode() if isinstance(text, str) else tag.encode() + b" " + text
        return self.run(tag, data, list(parts))

    def run(self, tag, first, parts):
        self.send(first + b"\r\n")
        untagged = []
        conts = 0
        while True:
            line = self.readline()
            if line.startswith(b"+"):
                conts += 1
                need(parts, f"unexpected continuation {line!r}")
                payload = parts.pop(0)
                self.send(payload + b"\r\n")
                continue
            if line.startswith(tag.encode() + b" "):
                return Result(untagged, line, conts, len(parts))
            untagged.append(line)


class Result:
    def __init__(self, untagged, tagged, conts, unsent):
        self.untagged = untagged
        self.tagged = tagged
        self.conts = conts
        self.unsent = unsent
        self.status = tagged.split(b" ", 2)[1].decode()
        self.ok = self.status == "OK"

    def code(self):
        m = re.match(rb"\S+ \S+ \[([^\]]*)\]", self.tagged)
        return m.group(1).decode("utf-8", "replace") if m else ""


def lit(data):
    """A synchronizing literal header for `data`."""
    return f"{{{len(data)}}}".encode()


def append_cmd(folder, messages):
    """(first_bytes, parts) for a synchronizing MULTIAPPEND of (flags, bytes) pairs."""
    first = b"APPEND " + quote(folder)
    parts = []
    for i, (flags, data) in enumerate(messages):
        head = (b" (" + flags.encode() + b")" if flags is not None else b"") + b" " + lit(data)
        if i == 0:
            first += head
        else:
            parts[-1] += head
        parts.append(data)
    return first, parts


def quote(name):
    if isinstance(name, str):
        name = name.encode()
    return b'"' + name.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def message(subject, body="Hello.\r\n", extra=""):
    return (f"From: Alice <alice@example.net>\r\nTo: john@example.org\r\nSubject: {subject}\r\n"
            f"Date: Mon, 7 Dec 2026 10:00:00 +0000\r\nMessage-ID: <{subject.replace(' ', '.')}@example.net>\r\n"
            f"{extra}\r\n{body}").encode()


MULTIPART = (b"From: Bob <bob@example.net>\r\nTo: john@example.org\r\nSubject: source\r\n"
             b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
             b"preamble\r\n--b1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nfirst part\r\n"
             b"--b1\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
             b"AAECAwQFBgc=\r\n--b1--\r\n")

PREFIX = "appendext%d" % int(time.time() * 1000 % 100000000)


def folder(leaf):
    return f"{PREFIX}-{leaf}"


def create(c, name):
    r = c.cmd(b"CREATE " + quote(name))
    need(r.ok, f"CREATE {name}: {r.tagged!r}")


def status(c, name, items="MESSAGES UIDNEXT UIDVALIDITY"):
    r = c.cmd(b"STATUS " + quote(name) + f" ({items})".encode())
    need(r.ok, f"STATUS: {r.tagged!r}")
    line = [u for u in r.untagged if u.startswith(b"* STATUS")][0]
    inner = line[line.rindex(b"(") + 1:line.rindex(b")")].split()
    return {inner[i].decode(): int(inner[i + 1]) for i in range(0, len(inner), 2)}


def fetch_body(c, uid, section=""):
    r = c.cmd(f"UID FETCH {uid} (BODY.PEEK[{section}])")
    need(r.ok, f"FETCH: {r.tagged!r}")
    for line in r.untagged:
        m = re.search(rb"BODY\[[^\]]*\] \{(\d+)\}\r\n", line)
        if m:
            start = m.end()
            return line[start:start + int(m.group(1))]
        m = re.search(rb'BODY\[[^\]]*\] "([^"]*)"', line)
        if m:
            return m.group(1)
    raise CheckFailed(f"no BODY in {r.untagged!r}")


def appenduid(r):
    m = re.match(r"APPENDUID (\d+) (\S+)", r.code())
    need(m, f"no APPENDUID in {r.tagged!r}")
    uids = []
    for piece in m.group(2).split(","):
        a, _, b = piece.partition(":")
        uids.extend(range(int(a), int(b or a) + 1))
    return int(m.group(1)), uids


def append_one(c, name, data, flags=None):
    first, parts = append_cmd(name, [(flags, data)])
    r = c.cmd(first, parts)
    need(r.ok, f"APPEND: {r.tagged!r}")
    return appenduid(r)


CHECKS = []


class Skip(Exception):
    pass


def need_limit():
    if not ARGS.limit:
        raise Skip("the server has no APPENDLIMIT")


def need_utf8():
    if not ARGS.utf8:
        raise Skip("the server has no UTF8=ACCEPT")


def check(fn):
    CHECKS.append(fn)
    return fn


@check
def capabilities():
    with_conn = Conn()
    r = with_conn.cmd("CAPABILITY")
    caps = b" ".join(r.untagged).decode().split()
    limits = [c for c in caps if c.startswith("APPENDLIMIT")]
    ARGS.utf8 = "UTF8=ACCEPT" in caps
    if ARGS.server_kind == "dovecot" and not limits:
        note("APPENDLIMIT not in CAPABILITY: the APPENDLIMIT checks are skipped")
        return
    for cap in ("MULTIAPPEND", "CATENATE", "UTF8=ACCEPT"):
        if cap not in caps and ARGS.server_kind == "dovecot":
            note(f"{cap} not in CAPABILITY")
            continue
        need(cap in caps, f"{cap} not in CAPABILITY")
    need(limits, "APPENDLIMIT not in CAPABILITY")
    if "=" in limits[0]:
        ARGS.limit = int(limits[0].split("=")[1])
    else:
        note("APPENDLIMIT without a value (per folder only)")
    need(ARGS.limit and ARGS.limit <= 2 << 20, f"APPENDLIMIT {ARGS.limit} (the test wants <= 2 MB)")


@check
def appendlimit_status_and_list_status():
    need_limit()
    c = Conn()
    name = folder("limit")
    create(c, name)
    st = status(c, name, "APPENDLIMIT MESSAGES")
    need(st.get("APPENDLIMIT") == ARGS.limit, f"STATUS APPENDLIMIT {st}")
    r = c.cmd(b'LIST "" ' + quote(name) + b" RETURN (STATUS (APPENDLIMIT))")
    need(r.ok, f"LIST RETURN STATUS: {r.tagged!r}")
    lines = [u for u in r.untagged if u.startswith(b"* STATUS")]
    need(lines and f"APPENDLIMIT {ARGS.limit}".encode() in lines[0], f"LIST-STATUS {r.untagged!r}")


@check
def multiappend_stores_all_with_uid_set():
    c = Conn()
    name = folder("multi")
    create(c, name)
    msgs = [("\\Seen", message("one")), (None, message("two")), ("\\Flagged $Label", message("three"))]
    first, parts = append_cmd(name, msgs)
    r = c.cmd(first, parts)
    need(r.ok, f"MULTIAPPEND: {r.tagged!r}")
    need(r.conts == 3, f"{r.conts} continuations for 3 literals")
    validity, uids = appenduid(r)
    need(len(uids) == 3, f"APPENDUID names {uids}")
    need(status(c, name)["UIDVALIDITY"] == validity, "APPENDUID's UIDVALIDITY")
    r = c.cmd(b"SELECT " + quote(name))
    need(r.ok and any(b"3 EXISTS" in u for u in r.untagged), f"SELECT: {r.untagged!r}")
    for uid, (flags, data) in zip(uids, msgs):
        got = fetch_body(c, uid)
        need(got == data, f"UID {uid}: {got[:60]!r} != {data[:60]!r}")
    r = c.cmd(f"UID FETCH {uids[2]} FLAGS")
    need(b"\\Flagged" in r.untagged[0] and b"$Label" in r.untagged[0], f"flags {r.untagged!r}")
    # Non-synchronizing literals (LITERAL+) in one write.
    data = b"APPEND " + quote(name) + b" {6+}\r\nA: b\r\n {6+}\r\nC: d\r\n"
    r = c.cmd(data)
    need(r.ok and len(appenduid(r)[1]) == 2, f"LITERAL+ MULTIAPPEND: {r.tagged!r}")


@check
def multiappend_is_all_or_nothing():
    c = Conn()
    name = folder("atomic")
    create(c, name)
    before = status(c, name)["MESSAGES"]
    # Second message with a flag no server accepts in APPEND (\Recent, RFC 3501 6.3.11).
    first, parts = append_cmd(name, [(None, message("ok")), ("\\Recent", message("bad"))])
    r = c.cmd(first, parts)
    need(not r.ok, f"bad flag accepted: {r.tagged!r}")
    if r.status != "BAD":
        note(f"bad flag in the second message: {r.tagged!r}")
    need(status(c, name)["MESSAGES"] == before, "first message kept after the second failed (flag)")
    # Second message empty.
    first, parts = append_cmd(name, [(None, message("ok")), (None, b"")])
    r = c.cmd(first, parts)
    need(r.status == "NO", f"empty second message: {r.tagged!r}")
    need(status(c, name)["MESSAGES"] == before, "first message kept after the second failed (empty)")
    # Second message over APPENDLIMIT: refused before its bytes are sent.
    if ARGS.limit:
        big = b"x" * (ARGS.limit + 1)
        first, parts = append_cmd(name, [(None, message("ok")), (None, big)])
        r = c.cmd(first, parts)
        need(r.status == "NO" and "TOOBIG" in r.code(), f"big second message: {r.tagged!r}")
        need(r.conts == 1 and r.unsent == 1, f"the big literal's bytes were asked for ({r.conts} continuations)")
        need(status(c, name)["MESSAGES"] == before, "first message kept after the second was too big")
    # Second message a CATENATE with a bad URL.
    first = b"APPEND " + quote(name) + b" " + lit(message("ok"))
    rest = message("ok") + b" CATENATE (URL \"/" + name.encode() + b"/;UID=999999\")"
    r = c.cmd(first, [rest])
    need(r.status == "NO" and r.code().startswith("BADURL"), f"bad URL in the second message: {r.tagged!r}")
    need(status(c, name)["MESSAGES"] == before, "first message kept after the second had a bad URL")
    # A folder that does not exist: TRYCREATE (RFC 3501 6.3.11), nothing created.
    first, parts = append_cmd(name + "-missing", [(None, message("ok")), (None, message("ok2"))])
    r = c.cmd(first, parts)
    need(r.status == "NO" and r.code() == "TRYCREATE", f"MULTIAPPEND to a missing folder: {r.tagged!r}")
    # The connection is still in step.
    need(c.cmd("NOOP").ok, "NOOP after the failures")


@check
def appendlimit_toobig_before_data():
    need_limit()
    c = Conn()
    name = folder("toobig")
    create(c, name)
    tag = c.tag()
    c.send(f"{tag} APPEND ".encode() + quote(name) + f" {{{ARGS.limit + 1}}}\r\n".encode())
    line = c.readline()
    need(line.startswith(f"{tag} NO [TOOBIG]".encode()), f"answer to a literal over APPENDLIMIT: {line!r}")
    # Exactly the limit is fine.
    data = message("limit", body="y" * 0)
    data += b"z" * (ARGS.limit - len(data))
    _, uids = append_one(c, name, data)
    need(len(uids) == 1, "APPEND of exactly APPENDLIMIT bytes")


@check
def catenate_urls_and_text():
    c = Conn()
    name = folder("cat")
    create(c, name)
    validity, (src,) = append_one(c, name, MULTIPART)
    r = c.cmd(b"SELECT " + quote(name))
    need(r.ok, "SELECT")
    header = fetch_body(c, src, "HEADER")
    part1 = fetch_body(c, src, "1")
    mime2 = fetch_body(c, src, "2.MIME")
    part2 = fetch_body(c, src, "2")
    base = f"/{name};UIDVALIDITY={validity}/;UID={src}"
    text = b"--b1\r\n"
    first = (b"APPEND " + quote(name) + b" (\\Draft) CATENATE (URL \"" + f"{base}/;SECTION=HEADER".encode() +
             b"\" TEXT " + lit(b"preamble\r\n" + text))
    parts = [b"preamble\r\n" + text + b" URL \"" + f";UID={src}/;SECTION=1.MIME".encode() + b"\" URL \"" +
             f";UID={src}/;SECTION=1".encode() + b"\" TEXT " + lit(b"\r\n--b1\r\n"),
             b"\r\n--b1\r\n URL \"" + f"{base}/;SECTION=2.MIME".encode() + b"\" URL \"" +
             f"{base}/;SECTION=2".encode() + b"\" TEXT " + lit(b"\r\n--b1--\r\n"),
             b"\r\n--b1--\r\n)"]
    r = c.cmd(first, parts)
    need(r.ok, f"CATENATE: {r.tagged!r}")
    _, (new,) = appenduid(r)
    mime1 = fetch_body(c, src, "1.MIME")
    want = header + b"preamble\r\n--b1\r\n" + mime1 + part1 + b"\r\n--b1\r\n" + mime2 + part2 + b"\r\n--b1--\r\n"
    got = fetch_body(c, new)
    need(want == MULTIPART, "the source's sections do not add up to the source")
    need(got == want, f"catenated message differs:\n{got!r}\n{want!r}")
    # The rebuilt message has the same structure as the source.
    r1 = c.cmd(f"UID FETCH {src} BODYSTRUCTURE")
    r2 = c.cmd(f"UID FETCH {new} BODYSTRUCTURE")
    s1 = r1.untagged[0].split(b"BODYSTRUCTURE", 1)[1]
    s2 = r2.untagged[0].split(b"BODYSTRUCTURE", 1)[1]
    need(s1 == s2, f"BODYSTRUCTURE {s1!r} != {s2!r}")
    # The whole message, a PARTIAL, an absolute URL naming this server and user.
    r = c.cmd(b"APPEND " + quote(name) + b" CATENATE (URL \"" + f"{base}/;PARTIAL=0.20".encode() +
              b"\" URL \"" + f"{base}/;SECTION=TEXT".encode() + b"\")")
    need(r.ok, f"CATENATE PARTIAL/TEXT: {r.tagged!r}")
    got = fetch_body(c, appenduid(r)[1][0])
    need(got == MULTIPART[:20] + fetch_body(c, src, "TEXT"), f"PARTIAL+TEXT: {got[:80]!r}")
    if ARGS.hostname:
        url = f"imap://{ARGS.user.replace('@', '%40')}@{ARGS.hostname}{base}"
        r = c.cmd(b"APPEND " + quote(name) + b" CATENATE (URL \"" + url.encode() + b"\")")
        if r.ok:
            need(fetch_body(c, appenduid(r)[1][0]) == MULTIPART, "absolute URL copy")
        else:
            note(f"absolute URL naming this server refused: {r.tagged!r}")


@check
def catenate_badurl():
    c = Conn()
    name = folder("badurl")
    create(c, name)
    validity, (src,) = append_one(c, name, message("src"))
    before = status(c, name)["MESSAGES"]
    # Nothing selected: a URL relative to the selected mailbox names nothing.
    bad_urls = [
        f";UID={src}",
        f"/{name};UIDVALIDITY={validity + 1}/;UID={src}",
        f"/{name}/;UID={src + 100}",
        f"/{name}-nonexistent/;UID=1",
        f"imap://other.example.net/{name}/;UID={src}",
        f"imap://someone-else%40example.org@{ARGS.hostname or 'localhost'}/{name}/;UID={src}",
        f"imap://{ARGS.hostname or 'localhost'}/{name}/;UID={src}/;URLAUTH=anonymous:internal:0123456789abcdef0123456789abcdef",
        f"/{name}/;UID={src}/;SECTION=7",
        f"/{name}/;UID={src}/;SECTION=bogus",
        f"/{name}",
    ]
    for url in bad_urls:
        r = c.cmd(b"APPEND " + quote(name) + b" CATENATE (TEXT {2+}\r\nab URL \"" + url.encode() + b"\")")
        if r.ok and ARGS.server_kind == "dovecot":
            note(f"URL {url} accepted: {r.tagged.decode().strip()}")
            continue
        if r.ok:
            raise CheckFailed(f"URL {url} accepted")
        if r.status != "NO" or not r.code().startswith("BADURL"):
            need(ARGS.server_kind == "dovecot", f"URL {url}: {r.tagged!r}")
            note(f"URL {url}: {r.tagged.decode().strip()}")
    if ARGS.server_kind != "dovecot":
        need(status(c, name)["MESSAGES"] == before, "a failed CATENATE stored something")


@check
def catenate_many_urls():
    """Many URL parts: the same message 300 times is fine; 101 different messages in one
    APPEND is more files than ringmail reads for one command ([BADURL])."""
    c = Conn()
    name = folder("catmany")
    create(c, name)
    msgs = [(None, message(f"m{i}")) for i in range(101)]
    r = c.cmd(b"APPEND " + quote(name) + b" " + b" ".join(b"{%d+}\r\n" % len(d) + d for _, d in msgs))
    need(r.ok, f"MULTIAPPEND of 101: {r.tagged!r}")
    validity, uids = appenduid(r)
    need(len(uids) == 101, f"{len(uids)} UIDs")
    same = b" ".join(b'URL "/' + name.encode() + b"/;UID=%d/;SECTION=TEXT\"" % uids[0] for _ in range(300))
    r = c.cmd(b"APPEND " + quote(name) + b" CATENATE (TEXT {4+}\r\nX: y" + b" TEXT {2+}\r\n\r\n " + same + b")")
    need(r.ok, f"300 URLs of one message: {r.tagged!r}")
    got = fetch_body_unselected(c, name, appenduid(r)[1][0])
    need(got == b"X: y\r\n" + b"Hello.\r\n" * 300, f"300 URLs: {got[:80]!r}")
    many = b" ".join(b'URL "/' + name.encode() + b"/;UID=%d/;SECTION=TEXT\"" % uid for uid in uids)
    r = c.cmd(b"APPEND " + quote(name) + b" CATENATE (" + many + b")")
    if ARGS.server_kind == "dovecot":
        note(f"101 messages in one CATENATE: {r.tagged.decode().strip()}")
        return
    need(r.status == "NO" and r.code().startswith("BADURL"), f"101 messages in one CATENATE: {r.tagged!r}")
    need(status(c, name)["MESSAGES"] == 102, "the refused CATENATE stored something")


def fetch_body_unselected(c, name, uid):
    r = c.cmd(b"EXAMINE " + quote(name))
    need(r.ok, f"EXAMINE: {r.tagged!r}")
    return fetch_body(c, uid)


@check
def catenate_toobig():
    need_limit()
    c = Conn()
    name = folder("cattoobig")
    create(c, name)
    half = message("half", body="h" * (ARGS.limit // 2 + 10))
    validity, (src,) = append_one(c, name, half)
    url = f"/{name};UIDVALIDITY={validity}/;UID={src}".encode()
    r = c.cmd(b"APPEND " + quote(name) + b" CATENATE (URL \"" + url + b"\" URL \"" + url + b"\")")
    need(r.status == "NO" and "TOOBIG" in r.code(), f"catenated result over APPENDLIMIT: {r.tagged!r}")
    need(status(c, name)["MESSAGES"] == 1, "the too-big result was stored")


@check
def utf8_accept():
    need_utf8()
    c = Conn()
    leaf = "Entw\u00fcrfe"
    name = folder(leaf)
    raw = message("8bit", extra="X-Note: gr\u00fc\u00dfe\r\n").replace(b"Subject: 8bit",
                                                                        "Subject: Gr\u00fc\u00dfe".encode())
    # Before ENABLE: UTF8 data is BAD.
    r = c.cmd(b"APPEND INBOX UTF8 (~" + lit(raw), [raw + b")"])
    need(r.status == "BAD", f"UTF8 APPEND before ENABLE: {r.tagged!r}")
    c = Conn()  # the refused literal's bytes may still be in flight: start afresh
    r = c.cmd("ENABLE UTF8=ACCEPT")
    need(r.ok and any(b"ENABLED" in u and b"UTF8=ACCEPT" in u for u in r.untagged), f"ENABLE: {r.untagged!r}")
    r = c.cmd(b"CREATE " + quote(name.encode()))
    need(r.ok, f"CREATE UTF-8 name: {r.tagged!r}")
    r = c.cmd(b'LIST "" ' + quote((PREFIX + "-Entw*").encode()))
    need(any(name.encode() in u for u in r.untagged), f"LIST after UTF8=ACCEPT: {r.untagged!r}")
    need(not any(b"&APw-" in u for u in r.untagged), f"modified UTF-7 after UTF8=ACCEPT: {r.untagged!r}")
    r = c.cmd(b"APPEND " + quote(name.encode()) + b" UTF8 (~" + lit(raw), [raw + b")"])
    need(r.ok, f"UTF8 APPEND: {r.tagged!r}")
    _, (uid,) = appenduid(r)
    r = c.cmd(b"SELECT " + quote(name.encode()))
    need(r.ok, f"SELECT UTF-8 name: {r.tagged!r}")
    need(fetch_body(c, uid) == raw, "UTF8 APPEND bytes")
    r = c.cmd(b"STATUS " + quote(name.encode()) + b" (MESSAGES)")
    need(r.ok and b"MESSAGES 1" in b"".join(r.untagged), f"STATUS UTF-8 name: {r.untagged!r}")
    # A quoted UTF-8 search string after ENABLE (RFC 6855 section 3).
    r = c.cmd(b'UID SEARCH SUBJECT "Gr\xc3\xbc\xc3\x9fe"')
    need(r.ok and any(f" {uid}".encode() in u for u in r.untagged if u.startswith(b"* SEARCH")),
         f"SEARCH with a UTF-8 quoted string: {r.untagged!r} {r.tagged!r}")
    r = c.cmd(b'UID SEARCH CHARSET ISO-8859-1 SUBJECT x')
    need(r.status == "BAD", f"SEARCH CHARSET ISO-8859-1 after UTF8=ACCEPT: {r.tagged!r}")
    # Names go out as quoted UTF-8 strings, not literals, once enabled.
    r = c.cmd(b'LIST "" ' + quote(name.encode()))
    need(any(quote(name.encode()) + b"\r\n" in u for u in r.untagged), f"LIST quoting: {r.untagged!r}")
    # Another session without ENABLE sees the modified UTF-7 name.
    other = Conn()
    r = other.cmd(b'LIST "" ' + quote((PREFIX + "-Entw*").encode()))
    need(any(b"Entw&APw-rfe" in u for u in r.untagged), f"LIST without UTF8=ACCEPT: {r.untagged!r}")
    r = c.cmd(b"DELETE " + quote(name.encode()))
    need(r.ok or r.status == "NO", "DELETE")


@check
def imaplib_utf8_names_and_append():
    cls = imaplib.IMAP4_SSL if ARGS.tls else imaplib.IMAP4
    kw = {"ssl_context": tls_context()} if ARGS.tls else {}
    m = cls(ARGS.host, ARGS.port, **kw)
    try:
        m.login(ARGS.user, ARGS.password)
        typ, data = m.append("INBOX", None, None, message("imaplib"))
        need(typ == "OK" and b"APPENDUID" in data[0], f"imaplib APPEND: {typ} {data!r}")
        if not ARGS.utf8:
            m.logout()
            return
        typ, data = m.enable("UTF8=ACCEPT")
        need(typ == "OK", f"imaplib ENABLE: {data!r}")
        # imaplib sends a name as it is given: quoted here, since an atom may not carry
        # 8-bit bytes even after UTF8=ACCEPT (RFC 6855 section 3 extends quoted strings).
        name = folder("Caf\u00e9")
        qname = '"' + name + '"'
        typ, data = m.create(qname)
        need(typ == "OK", f"imaplib CREATE {name}: {data!r}")
        typ, data = m.list('""', '"' + folder("Caf*") + '"')
        need(typ == "OK" and any(name.encode() in (d or b"") for d in data), f"imaplib LIST: {data!r}")
        typ, data = m.select(qname)
        need(typ == "OK", f"imaplib SELECT: {data!r}")
        m.close()
        typ, data = m.delete(qname)
        need(typ == "OK", f"imaplib DELETE: {data!r}")
        m.logout()
    finally:
        try:
            m.shutdown()
        except Exception:
            pass


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--tls", action="store_true")
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--server-kind", default="ringmail")
    p.add_argument("--hostname", default="")
    p.add_argument("--only", default="")
    ARGS = p.parse_args()
    ARGS.limit = 0
    ARGS.utf8 = True
    failed = passed = skipped = 0
    only = set(filter(None, ARGS.only.split(",")))
    for fn in CHECKS:
        if only and fn.__name__ not in only and fn.__name__ != "capabilities":
            continue
        CURRENT[0] = fn.__name__
        try:
            fn()
            print(f"PASS {fn.__name__}", flush=True)
            passed += 1
        except Skip as e:
            print(f"SKIP {fn.__name__}: {e}", flush=True)
            skipped += 1
        except Exception as e:  # noqa: BLE001 - report every kind of failure
            failed += 1
            why = str(e) if isinstance(e, CheckFailed) else traceback.format_exc()
            print(f"FAIL {fn.__name__}: {why}", flush=True)
    print(f"imap_append_ext: {passed} passed, {skipped} skipped, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
