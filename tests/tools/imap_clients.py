#!/usr/bin/env python3
"""End-to-end IMAP checks against any IMAP server (issue 10, "Tests").

Runs a list of named checks over raw sockets (every line sent and received is kept, and
the last ones are printed when a check fails) and over Python's imaplib, on the plain port
with STARTTLS (--starttls) or with implicit TLS (--tls). Each check asserts behaviour that
RFC 9051 / RFC 3501 and their extensions require; where the RFCs let servers differ (and
Dovecot differs from what issue 10 asks of ringmail), both answers are accepted and the
one given is printed as "note: ..." so the two servers can be compared. --server-kind
ringmail turns the issue's stricter demands on (IMAP4rev2 advertised and ENABLEd, every
hostile mailbox name refused).

Usage:
  imap_clients.py --host 127.0.0.1 --port 1143 --starttls --user john@example.org \
      --password pw-john [--server-kind dovecot|ringmail] [--maildir-root DIR]
      [--source 127.0.0.2] [--only NAME[,NAME]] [--list]
--maildir-root is the mail root (<root>/<domain>/<user>/Maildir): with it, the hostile
mailbox names are also checked not to create anything outside the user's Maildir.
--source binds the client side (Dovecot treats a client on its own address as secure and
would not say LOGINDISABLED).

The user's mailbox must exist; the checks create their folders under a per-run prefix
and delete them at the end, so the suite can be run again on the same mailbox.
Prints "PASS name" / "FAIL name: why" per check and a summary; exits 1 if any failed.
"""

import argparse
import base64
import datetime
import imaplib
import os
import re
import socket
import ssl
import sys
import time
import traceback

ARGS = None
TIMEOUT = 15.0


class CheckFailed(Exception):
    pass


def need(cond, why):
    if not cond:
        raise CheckFailed(why)


NOTES = []


def note(text):
    line = f"note: [{ARGS.server_kind}] {CURRENT[0]}: {text}"
    NOTES.append(line)
    print(line, flush=True)


CURRENT = ["-"]


# ---------------------------------------------------------------- response parsing

class Atom(str):
    """An IMAP atom (or NIL, a number, a flag, a FETCH item name with its [section])."""


def parse_tokens(data, pos=0, depth=0):
    """Parses IMAP response data into a list: Atom for atoms, bytes for strings
    (quoted or literal), list for parenthesized lists. Returns (tokens, end)."""
    out = []
    n = len(data)
    while pos < n:
        c = data[pos:pos + 1]
        if c in (b" ", b"\r", b"\n"):
            pos += 1
        elif c == b"(":
            sub, pos = parse_tokens(data, pos + 1, depth + 1)
            out.append(sub)
        elif c == b")":
            if depth > 0:
                return out, pos + 1
            pos += 1
        elif c == b'"':
            pos += 1
            buf = bytearray()
            while pos < n and data[pos:pos + 1] != b'"':
                if data[pos:pos + 1] == b"\\":
                    pos += 1
                buf += data[pos:pos + 1]
                pos += 1
            out.append(bytes(buf))
            pos += 1
        elif c == b"{" or (c == b"~" and data[pos + 1:pos + 2] == b"{"):
            if c == b"~":
                pos += 1
            m = re.compile(rb"\{(\d+)\+?\}\r\n").match(data, pos)
            if not m:
                out.append(Atom(data[pos:pos + 1].decode()))
                pos += 1
                continue
            size = int(m.group(1))
            out.append(bytes(data[m.end():m.end() + size]))
            pos = m.end() + size
        else:
            start = pos
            bracket = 0
            while pos < n:
                ch = data[pos:pos + 1]
                if ch == b"[":
                    bracket += 1
                elif ch == b"]":
                    bracket -= 1
                elif bracket == 0 and ch in (b" ", b"(", b")", b"\r", b"\n"):
                    break
                pos += 1
            out.append(Atom(data[start:pos].decode("utf-8", "replace")))
    return out, pos


def tokens(data):
    return parse_tokens(data)[0]


def u(x):
    """Upper-case text of an atom or string, for case-insensitive comparisons."""
    if isinstance(x, bytes):
        return x.decode("utf-8", "replace").upper()
    if isinstance(x, str):
        return x.upper()
    return x


def seqset_expand(text):
    out = []
    for part in str(text).split(","):
        if ":" in part:
            a, b = part.split(":")
            a, b = int(a), int(b)
            out.extend(range(min(a, b), max(a, b) + 1))
        elif part:
            out.append(int(part))
    return out


class Result:
    def __init__(self, untagged, tagged, conts=0):
        self.untagged = untagged      # raw bytes of each untagged response (literals inline)
        self.tagged = tagged          # raw bytes of the tagged response (or b"" if none)
        self.conts = conts            # continuation requests seen
        m = re.match(rb"\S+ (OK|NO|BAD)\b ?(\[[^\]]*\])?", tagged or b"")
        self.status = m.group(1).decode() if m else None
        self.code = m.group(2).decode()[1:-1] if m and m.group(2) else ""

    def of(self, kind):
        """Untagged responses of one kind ("LIST", "FETCH", "EXISTS", ...), as token lists."""
        kind = kind.upper()
        out = []
        for raw in self.untagged:
            t = tokens(raw)
            if len(t) >= 2 and u(t[1]) == kind:
                out.append(t)
            elif len(t) >= 3 and u(t[2]) == kind:
                out.append(t)
        return out

    def fetches(self):
        """{seq: {ITEM: value}} from the untagged FETCH responses (merged per message)."""
        out = {}
        for t in self.of("FETCH"):
            if len(t) < 4 or not isinstance(t[3], list):
                continue
            items = out.setdefault(int(t[1]), {})
            lst = t[3]
            for i in range(0, len(lst) - 1, 2):
                items[u(lst[i])] = lst[i + 1]
        return out

    def codes(self):
        """Response codes of the untagged OK/NO responses and the tagged one."""
        out = []
        for raw in self.untagged + [self.tagged]:
            m = re.match(rb"\S+ (?:OK|NO|BAD) \[([^\]]*)\]", raw)
            if m:
                out.append(m.group(1).decode())
        return out

    def short(self):
        return (self.tagged or b"(no tagged response)").decode("utf-8", "replace").strip()[:200]


# ---------------------------------------------------------------- a raw connection

def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Conn:
    """One IMAP connection over a raw socket, keeping a transcript."""
    count = 0
    transcript = []

    def __init__(self, login=True, tls_setup=True):
        Conn.count += 1
        self.name = f"c{Conn.count}"
        self.tagn = 0
        self.buf = b""
        src = (ARGS.source, 0) if ARGS.source else None
        self.sock = socket.create_connection((ARGS.host, ARGS.port), timeout=TIMEOUT, source_address=src)
        self.sock.settimeout(TIMEOUT)
        if ARGS.tls:
            self.sock = tls_context().wrap_socket(self.sock, server_hostname=ARGS.host)
        self.greeting = self.read_response()
        need(self.greeting.startswith(b"* OK"), f"greeting is not * OK: {self.greeting[:100]!r}")
        if ARGS.starttls and tls_setup:
            self.starttls()
        if login:
            self.login()

    def log(self, who, data):
        for line in data.split(b"\r\n"):
            if line:
                text = line[:160].decode("utf-8", "replace")
                if len(line) > 160:
                    text += f"...({len(line)} bytes)"
                Conn.transcript.append(f"{self.name} {who} {text}")
        del Conn.transcript[:-40]

    def starttls(self):
        r = self.cmd("STARTTLS")
        need(r.status == "OK", f"STARTTLS: {r.short()}")
        need(self.buf == b"", "server sent bytes after its STARTTLS OK")
        self.sock = tls_context().wrap_socket(self.sock, server_hostname=ARGS.host)
        return r

    def login(self):
        r = self.cmd(f"LOGIN {qstr(ARGS.user)} {qstr(ARGS.password)}", log_as="LOGIN <user> <password>")
        need(r.status == "OK", f"LOGIN: {r.short()}")
        return r

    def send(self, data, log=True):
        if log:
            self.log("C:", data)
        self.sock.sendall(data)

    def fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed by the server")
        self.buf += chunk

    def readline(self):
        while b"\r\n" not in self.buf:
            if len(self.buf) > 50_000_000:
                raise CheckFailed("server line over 50 MB")
            self.fill()
        i = self.buf.index(b"\r\n") + 2
        line, self.buf = self.buf[:i], self.buf[i:]
        return line

    def read_exact(self, n):
        while len(self.buf) < n:
            self.fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_response(self):
        """One response with its literals inline, e.g. b'* 1 FETCH (BODY[] {3}\\r\\nabc)\\r\\n'."""
        out = b""
        while True:
            line = self.readline()
            out += line
            m = re.search(rb"\{(\d+)\}\r\n$", line)
            if not m:
                break
            out += self.read_exact(int(m.group(1)))
        self.log("S:", out)
        return out

    def tag(self):
        self.tagn += 1
        return f"{self.name}.{self.tagn}"

    def cmd(self, text, log_as=None, parts=None):
        """Sends TAG TEXT CRLF (text may hold non-synchronizing literals) and reads to the
        tagged response. parts: further (data, rest) pieces each sent after a continuation
        request (synchronizing literals)."""
        tag = self.tag()
        data = text if isinstance(text, bytes) else text.encode()
        line = tag.encode() + b" " + data + b"\r\n"
        if log_as:
            self.log("C:", (tag + " " + log_as).encode())
            self.send(line, log=False)
        else:
            self.send(line)
        return self.finish(tag, parts)

    def finish(self, tag, parts=None):
        untagged, conts = [], 0
        parts = list(parts or [])
        while True:
            resp = self.read_response()
            if resp.startswith(b"+"):
                conts += 1
                if not parts:
                    raise CheckFailed(f"unexpected continuation request: {resp[:80]!r}")
                self.send(parts.pop(0) + b"\r\n")
                continue
            if resp.startswith(tag.encode() + b" "):
                return Result(untagged, resp, conts)
            untagged.append(resp)
            if resp.startswith(b"* BYE"):
                # The tagged reply may still follow; wait briefly for it.
                try:
                    self.sock.settimeout(2)
                    while True:
                        resp = self.read_response()
                        if resp.startswith(tag.encode() + b" "):
                            return Result(untagged, resp, conts)
                        untagged.append(resp)
                except (EOFError, OSError, socket.timeout):
                    return Result(untagged, b"", conts)
                finally:
                    try:
                        self.sock.settimeout(TIMEOUT)
                    except OSError:
                        pass

    def ok(self, text, what=None, **kw):
        r = self.cmd(text, **kw)
        need(r.status == "OK", f"{what or text[:60]}: {r.short()}")
        return r

    def close(self):
        try:
            self.sock.settimeout(3)
            self.cmd("LOGOUT")
        except Exception:
            pass
        try:
            self.sock.close()
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def qstr(s):
    if isinstance(s, bytes):
        s = s.decode()
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def lit_plus(data):
    """A non-synchronizing literal (RFC 7888)."""
    if isinstance(data, str):
        data = data.encode()
    return b"{%d+}\r\n" % len(data) + data


# ---------------------------------------------------------------- messages and helpers

def message(subject, frm="Alice <alice@example.net>", body="Hello.\r\n", extra=(), date=None):
    hdr = [f"From: {frm}", f"To: {ARGS.user}", f"Subject: {subject}",
           f"Date: {date or 'Fri, 14 Jul 2023 02:44:25 +0200'}",
           f"Message-ID: <{os.urandom(6).hex()}@example.net>"] + list(extra)
    text = "\r\n".join(hdr) + "\r\n\r\n" + body
    return text.encode()


MULTIPART = (
    b"From: Carol <carol@example.net>\r\n"
    b"To: someone@example.org\r\n"
    b"Subject: multipart\r\n"
    b"Date: Sat, 15 Jul 2023 10:00:00 +0000\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
    b"\r\n"
    b"preamble\r\n"
    b"--b1\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"Gr=C3=BC=C3=9Fe, this is part one.\r\n"
    b"Second line.\r\n"
    b"--b1\r\n"
    b"Content-Type: application/octet-stream; name=\"data.bin\"\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"Content-Disposition: attachment; filename=\"data.bin\"\r\n"
    b"\r\n"
    b"AAECAwQFBgcICQoLDA0ODw==\r\n"
    b"--b1--\r\n"
)
PART1_BODY = b"Gr=C3=BC=C3=9Fe, this is part one.\r\nSecond line."
PART1_DECODED = "Grüße, this is part one.\r\nSecond line.".encode()
PART2_BODY = b"AAECAwQFBgcICQoLDA0ODw=="
PART2_DECODED = bytes(range(16))


class Folders:
    """Folder names under this run's prefix; all are deleted at the end."""
    prefix = "it" + os.urandom(3).hex()

    @classmethod
    def name(cls, leaf):
        return f"{cls.prefix}-{leaf}"


def append(c, folder, msg, flags="", date=None):
    """APPEND with a non-synchronizing literal; returns (uidvalidity, uid) or (None, None)."""
    args = qstr(folder).encode()
    if flags:
        args += b" (" + flags.encode() + b")"
    if date:
        args += b' "' + date.encode() + b'"'
    r = c.cmd(b"APPEND " + args + b" " + lit_plus(msg))
    need(r.status == "OK", f"APPEND to {folder}: {r.short()}")
    m = re.search(r"APPENDUID (\d+) (\d+)", r.code)
    return (int(m.group(1)), int(m.group(2))) if m else (None, None)


def fresh_folder(c, leaf, messages=()):
    """CREATE prefix-leaf and APPEND messages (bytes or (bytes, flags, date)); returns
    (name, [uids])."""
    name = Folders.name(leaf)
    c.ok(f"CREATE {qstr(name)}")
    uids = []
    for m in messages:
        if isinstance(m, tuple):
            uids.append(append(c, name, *m)[1])
        else:
            uids.append(append(c, name, m)[1])
    return name, uids


def select(c, folder, cmd="SELECT"):
    r = c.ok(f"{cmd} {qstr(folder)}")
    info = {}
    for raw in r.untagged:
        m = re.match(rb"\* (\d+) EXISTS", raw)
        if m:
            info["exists"] = int(m.group(1))
        m = re.search(rb"\[UIDVALIDITY (\d+)\]", raw)
        if m:
            info["uidvalidity"] = int(m.group(1))
        m = re.search(rb"\[UIDNEXT (\d+)\]", raw)
        if m:
            info["uidnext"] = int(m.group(1))
        m = re.search(rb"\[PERMANENTFLAGS \(([^)]*)\)\]", raw)
        if m:
            info["permanentflags"] = m.group(1).decode().split()
        m = re.match(rb"\* FLAGS \(([^)]*)\)", raw)
        if m:
            info["flags"] = m.group(1).decode().split()
    m = re.search(r"READ-(WRITE|ONLY)", r.code)
    info["access"] = m.group(0) if m else ""
    return info


def search(c, criteria, uid=False):
    """SEARCH results as a sorted list, from * SEARCH or * ESEARCH (IMAP4rev2)."""
    r = c.ok(("UID " if uid else "") + "SEARCH " + criteria)
    out = []
    for raw in r.untagged:
        if raw.startswith(b"* SEARCH"):
            out += [int(x) for x in raw[8:].split()]
        elif raw.startswith(b"* ESEARCH"):
            m = re.search(rb" ALL (\S+)", raw)
            if m:
                out += seqset_expand(m.group(1).decode())
    return sorted(out)


def flags_of(fetch_items):
    return {u(f) for f in fetch_items.get("FLAGS", [])}


def list_names(r):
    """{name: set(ATTRIBUTES)} from * LIST / * LSUB responses."""
    out = {}
    for t in r.of("LIST") + r.of("LSUB"):
        if len(t) >= 5:
            name = t[4]
            name = name.decode() if isinstance(name, bytes) else str(name)
            out[name] = {u(a) for a in t[2]} if isinstance(t[2], list) else set()
    return out


def status(c, folder, items="MESSAGES UIDNEXT UIDVALIDITY UNSEEN SIZE"):
    r = c.ok(f"STATUS {qstr(folder)} ({items})")
    for t in r.of("STATUS"):
        lst = t[-1]
        return {u(lst[i]): int(lst[i + 1]) for i in range(0, len(lst) - 1, 2)}
    raise CheckFailed(f"no * STATUS for {folder}")


def capabilities(c):
    r = c.ok("CAPABILITY")
    for raw in r.untagged:
        if raw.startswith(b"* CAPABILITY"):
            return set(raw.decode().upper().split()[2:])
    raise CheckFailed("no * CAPABILITY")


# ---------------------------------------------------------------- checks

CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


@check
def greeting_and_tls():
    """Greeting; before TLS on the plain port: STARTTLS and LOGINDISABLED, LOGIN refused;
    after TLS: no LOGINDISABLED, no STARTTLS, AUTH=PLAIN."""
    with Conn(login=False, tls_setup=False) as c:
        greet = c.greeting.decode(errors="replace").strip()
        note(f"greeting: {greet[:150]}")
        if ARGS.starttls:
            caps = capabilities(c)
            need("STARTTLS" in caps, f"STARTTLS not offered on the plain port: {sorted(caps)}")
            need("LOGINDISABLED" in caps, f"LOGINDISABLED not advertised before STARTTLS: {sorted(caps)}")
            need(not any(x.startswith("AUTH=") for x in caps),
                 f"AUTH= mechanisms offered before TLS: {sorted(caps)}")
            r = c.cmd(f"LOGIN {qstr(ARGS.user)} {qstr(ARGS.password)}", log_as="LOGIN <user> <password>")
            need(r.status in ("NO", "BAD"), f"LOGIN before STARTTLS not refused: {r.short()}")
            note(f"LOGIN before STARTTLS -> {r.short()}")
            r = c.cmd("AUTHENTICATE PLAIN " + base64.b64encode(
                f"\0{ARGS.user}\0{ARGS.password}".encode()).decode(), log_as="AUTHENTICATE PLAIN <ir>")
            need(r.status in ("NO", "BAD"), f"AUTHENTICATE before STARTTLS not refused: {r.short()}")
            c.starttls()
        caps = capabilities(c)
        need("LOGINDISABLED" not in caps, f"LOGINDISABLED after TLS: {sorted(caps)}")
        need("STARTTLS" not in caps, f"STARTTLS still offered under TLS: {sorted(caps)}")
        need("AUTH=PLAIN" in caps, f"AUTH=PLAIN not offered under TLS: {sorted(caps)}")
        need("SASL-IR" in caps, f"SASL-IR not offered under TLS: {sorted(caps)}")
        if ARGS.tls or ARGS.starttls:
            note(f"TLS: {c.sock.version()} {c.sock.cipher()[0]}")
            need(c.sock.version() in ("TLSv1.2", "TLSv1.3"), f"TLS version {c.sock.version()}")
        if ARGS.starttls:
            r = c.cmd("STARTTLS")
            need(r.status in ("BAD", "NO"), f"a second STARTTLS not refused: {r.short()}")


REQUIRED_CAPS = ["IDLE", "LITERAL+", "UIDPLUS", "MOVE", "ENABLE", "NAMESPACE", "ID", "SPECIAL-USE",
                 "LIST-EXTENDED", "LIST-STATUS", "ESEARCH", "SEARCHRES", "BINARY", "UNSELECT",
                 "CHILDREN", "STATUS=SIZE"]


@check
def capability_after_login():
    with Conn() as c:
        caps = capabilities(c)
        note("capabilities: " + " ".join(sorted(caps)))
        missing = [x for x in REQUIRED_CAPS if x not in caps]
        need(not missing, f"missing after login: {missing}")
        need("IMAP4REV2" in caps or "IMAP4REV1" in caps, "neither IMAP4rev2 nor IMAP4rev1")
        if ARGS.server_kind == "ringmail":
            need("IMAP4REV2" in caps and "IMAP4REV1" in caps, "ringmail must offer IMAP4rev2 and IMAP4rev1")
        need("LOGINDISABLED" not in caps and "STARTTLS" not in caps, "LOGINDISABLED/STARTTLS after login")
        c.ok("NOOP")


def make_imaplib():
    class Client(imaplib.IMAP4_SSL if ARGS.tls else imaplib.IMAP4):
        def _create_socket(self, timeout):
            src = (ARGS.source, 0) if ARGS.source else None
            sock = socket.create_connection((self.host, self.port), TIMEOUT, source_address=src)
            if ARGS.tls:
                return self.ssl_context.wrap_socket(sock, server_hostname=self.host)
            return sock
    kw = {"ssl_context": tls_context()} if ARGS.tls else {}
    m = Client(ARGS.host, ARGS.port, timeout=TIMEOUT, **kw)
    if ARGS.starttls:
        m.starttls(ssl_context=tls_context())
    return m


@check
def imaplib_login_and_wrong_password():
    """imaplib: LOGIN, a little traffic; a wrong password -> NO [AUTHENTICATIONFAILED]."""
    m = make_imaplib()
    typ, data = m.login(ARGS.user, ARGS.password)
    need(typ == "OK", f"imaplib login: {typ} {data}")
    typ, data = m.select("INBOX")
    need(typ == "OK", f"imaplib select INBOX: {typ} {data}")
    folder = Folders.name("imaplib")
    typ, data = m.create(folder)
    need(typ == "OK", f"imaplib create: {data}")
    msg = message("via imaplib")
    typ, data = m.append(folder, r"(\Seen)", imaplib.Time2Internaldate(time.time()), msg)
    need(typ == "OK", f"imaplib append: {data}")
    typ, data = m.select(folder)
    need(typ == "OK" and data[0] == b"1", f"imaplib select {folder}: {typ} {data}")
    typ, data = m.fetch("1", "(FLAGS BODY.PEEK[])")
    need(typ == "OK", f"imaplib fetch: {data}")
    need(data[0][1] == msg, "imaplib: BODY.PEEK[] differs from what was appended")
    need(b"\\Seen" in data[0][0], f"imaplib: \\Seen not kept: {data[0][0]!r}")
    typ, data = m.search(None, "SUBJECT", '"via imaplib"')
    need(typ == "OK" and data[0].split() == [b"1"], f"imaplib search: {typ} {data}")
    m.logout()

    m = make_imaplib()
    try:
        m.login(ARGS.user, ARGS.password + "-wrong")
        raise CheckFailed("LOGIN with a wrong password succeeded")
    except imaplib.IMAP4.error as e:
        need("AUTHENTICATIONFAILED" in str(e), f"wrong password: no [AUTHENTICATIONFAILED]: {e}")
    try:
        m.shutdown()
    except Exception:
        pass


@check
def authenticate_plain():
    """AUTHENTICATE PLAIN with SASL-IR and without; a wrong password refused; LOGIN with
    synchronizing literals."""
    ir = base64.b64encode(f"\0{ARGS.user}\0{ARGS.password}".encode())
    with Conn(login=False) as c:
        r = c.cmd(b"AUTHENTICATE PLAIN " + ir, log_as="AUTHENTICATE PLAIN <ir>")
        need(r.status == "OK", f"AUTHENTICATE PLAIN with SASL-IR: {r.short()}")
        note(f"AUTHENTICATE OK response code: [{r.code}]")
        c.ok("SELECT INBOX")
    with Conn(login=False) as c:
        tag = c.tag()
        c.send(f"{tag} AUTHENTICATE PLAIN\r\n".encode())
        resp = c.read_response()
        need(resp.startswith(b"+"), f"AUTHENTICATE PLAIN without IR: no continuation: {resp!r}")
        c.log("C:", b"<credentials>")
        c.send(ir + b"\r\n", log=False)
        r = c.finish(tag)
        need(r.status == "OK", f"AUTHENTICATE PLAIN after the continuation: {r.short()}")
    with Conn(login=False) as c:
        bad = base64.b64encode(f"\0{ARGS.user}\0wrong-{ARGS.password}".encode())
        r = c.cmd(b"AUTHENTICATE PLAIN " + bad, log_as="AUTHENTICATE PLAIN <wrong ir>")
        need(r.status == "NO" and "AUTHENTICATIONFAILED" in r.code,
             f"wrong password: want NO [AUTHENTICATIONFAILED], got {r.short()}")
        r = c.cmd("AUTHENTICATE PLAIN *")
        need(r.status in ("NO", "BAD"), f"AUTHENTICATE with '*' as IR: {r.short()}")
        # Still usable afterwards: LOGIN with synchronizing literals.
        user, pw = ARGS.user.encode(), ARGS.password.encode()
        r = c.cmd(b"LOGIN {%d}" % len(user), parts=[user + b" {%d}" % len(pw), pw])
        need(r.status == "OK", f"LOGIN with two synchronizing literals: {r.short()}")
        need(r.conts == 2, f"want 2 continuation requests, saw {r.conts}")


@check
def enable_id_namespace():
    with Conn() as c:
        r = c.ok("ENABLE IMAP4rev2")
        enabled = [raw.decode().strip() for raw in r.untagged if raw.upper().startswith(b"* ENABLED")]
        note(f"ENABLE IMAP4rev2 -> {enabled or 'no * ENABLED'}")
        if ARGS.server_kind == "ringmail":
            need(any("IMAP4REV2" in e.upper() for e in enabled), "ringmail did not ENABLE IMAP4rev2")
        r = c.ok('ID ("name" "imap_clients.py" "version" "1")')
        ids = r.of("ID")
        need(ids, "no * ID response")
        note(f"ID -> {r.untagged[0].decode(errors='replace').strip()[:150]}")
        r = c.ok("NAMESPACE")
        ns = r.of("NAMESPACE")
        need(ns, "no * NAMESPACE")
        personal = ns[0][2]
        need(isinstance(personal, list) and personal and isinstance(personal[0], list),
             f"no personal namespace: {r.untagged[0]!r}")
        prefix, sep = personal[0][0], personal[0][1]
        note(f"personal namespace prefix={prefix!r} separator={sep!r}")
        need(sep == b"/", f"separator {sep!r}, the suite assumes '/'")
        # IMAP4rev2 after ENABLE: a SEARCH gives ESEARCH (RFC 9051 6.4.4), rev1: * SEARCH.
        c.ok("SELECT INBOX")
        r = c.ok("SEARCH ALL")
        kinds = {raw.split()[1].decode() for raw in r.untagged if raw.startswith(b"* ") and len(raw.split()) > 1}
        note(f"SEARCH after ENABLE IMAP4rev2 answered with {sorted(kinds)}")
        if enabled:
            need("ESEARCH" in kinds, f"IMAP4rev2 enabled but SEARCH gave {kinds}")


@check
def special_use_folders():
    """\\Sent \\Drafts \\Trash \\Junk exist after the first login (LIST (SPECIAL-USE) and
    LIST RETURN (SPECIAL-USE))."""
    with Conn() as c:
        r = c.ok('LIST (SPECIAL-USE) "" "*"')
        got = list_names(r)
        attrs = set().union(*got.values()) if got else set()
        for want in ("\\SENT", "\\DRAFTS", "\\TRASH", "\\JUNK"):
            need(want in attrs, f"no {want} folder in LIST (SPECIAL-USE): {got}")
        note("special-use folders: " + ", ".join(f"{n} {sorted(a)}" for n, a in sorted(got.items())))
        for name in got:
            c.ok(f"SELECT {qstr(name)}")
        r = c.ok('LIST "" "%" RETURN (SPECIAL-USE)')
        got2 = list_names(r)
        need("INBOX" in {n.upper() for n in got2}, f"no INBOX in LIST % : {sorted(got2)}")
        for name, a in got.items():
            if "/" not in name:
                need(name in got2 and a & got2[name], f"{name} lost its special use in LIST RETURN: {got2.get(name)}")


@check
def create_rename_delete_list():
    p = Folders.name("tree")
    with Conn() as c:
        c.ok(f"CREATE {qstr(p)}")
        c.ok(f"CREATE {qstr(p + '/a')}")
        c.ok(f'CREATE "{p}/a/b/"', "CREATE with a trailing separator")
        r = c.cmd(f"CREATE {qstr(p + '/a')}")
        need(r.status == "NO", f"CREATE of an existing folder: {r.short()}")
        note(f"CREATE existing -> {r.short()}")
        r = c.cmd("CREATE INBOX")
        need(r.status == "NO", f"CREATE INBOX: {r.short()}")

        got = list_names(c.ok(f'LIST "" "{p}*"'))
        need(set(got) == {p, p + "/a", p + "/a/b"}, f"LIST {p}*: {sorted(got)}")
        need("\\HASCHILDREN" in got[p] and "\\HASCHILDREN" in got[p + "/a"],
             f"\\HasChildren missing: {got}")
        need("\\HASNOCHILDREN" in got[p + "/a/b"], f"\\HasNoChildren missing on a leaf: {got}")
        got = list_names(c.ok(f'LIST "" "{p}/%"'))
        need(set(got) == {p + "/a"}, f"LIST {p}/% (one level): {sorted(got)}")
        got = list_names(c.ok(f'LIST "{p}/" "%"'))
        need(set(got) == {p + "/a"}, f'LIST "{p}/" "%" (reference): {sorted(got)}')
        r = c.ok('LIST "" ""')
        need(r.of("LIST") and r.of("LIST")[0][3] == b"/", f"LIST \"\" \"\" (separator): {r.untagged}")

        # RENAME moves the children along.
        c.ok(f"RENAME {qstr(p + '/a')} {qstr(p + '/c')}")
        got = list_names(c.ok(f'LIST "" "{p}*"'))
        need(set(got) == {p, p + "/c", p + "/c/b"}, f"after RENAME {p}/a -> {p}/c: {sorted(got)}")
        r = c.cmd(f"SELECT {qstr(p + '/a')}")
        need(r.status == "NO", f"SELECT of the old name after RENAME: {r.short()}")
        r = c.cmd(f"RENAME {qstr(p + '/nonexistent')} {qstr(p + '/x')}")
        need(r.status == "NO", f"RENAME of a missing folder: {r.short()}")
        r = c.cmd(f"RENAME {qstr(p + '/c')} {qstr(p)}")
        need(r.status == "NO", f"RENAME onto an existing folder: {r.short()}")

        # \Noselect: a parent that only exists because of its child.
        c.ok(f"CREATE {qstr(p + '/n/x')}")
        got = list_names(c.ok(f'LIST "" "{p}/n"'))
        attrs = got.get(p + "/n", set())
        note(f"CREATE {p}/n/x left {p}/n as {sorted(attrs) if got else 'not listed'}")
        if attrs & {"\\NOSELECT", "\\NONEXISTENT"}:
            r = c.cmd(f"SELECT {qstr(p + '/n')}")
            need(r.status == "NO", f"SELECT of a \\Noselect folder: {r.short()}")
        else:
            need(got, f"{p}/n not listed at all after CREATE {p}/n/x")
            c.ok(f"SELECT {qstr(p + '/n')}")
            c.ok("UNSELECT")

        # DELETE of a folder with children: RFC 9051 6.3.5 leaves it \Noselect; servers may refuse.
        r = c.cmd(f"DELETE {qstr(p + '/c')}")
        got = list_names(c.ok(f'LIST "" "{p}/c*"'))
        if r.status == "OK":
            need(p + "/c/b" in got, f"DELETE {p}/c took its child along: {sorted(got)}")
            note(f"DELETE of a folder with children -> OK, now {sorted(got.get(p + '/c', {'(not listed)'}))}")
            if p + "/c" in got and not got[p + "/c"] & {"\\NOSELECT", "\\NONEXISTENT"}:
                # Dovecot 2.3 (Maildir++) lists the deleted parent as plain \HasChildren,
                # though SELECT and DELETE then say it does not exist.
                r2 = c.cmd(f"SELECT {qstr(p + '/c')}")
                note(f"  and SELECT of it -> {r2.short()}")
                need(ARGS.server_kind == "dovecot" and r2.status == "NO",
                     f"{p}/c deleted but listed without \\Noselect: {got}")
        else:
            need(r.status == "NO", f"DELETE with children: {r.short()}")
            note(f"DELETE of a folder with children -> {r.short()}")
        c.ok(f"DELETE {qstr(p + '/c/b')}")
        r = c.cmd(f"DELETE {qstr(p + '/c/b')}")
        need(r.status == "NO", f"DELETE of a deleted folder: {r.short()}")
        r = c.cmd("DELETE INBOX")
        need(r.status == "NO", f"DELETE INBOX: {r.short()}")
        got = list_names(c.ok(f'LIST "" "{p}/c/*"'))
        need(not got, f"{p}/c/b still listed after DELETE: {sorted(got)}")


@check
def subscribe_lsub():
    with Conn() as c:
        name, _ = fresh_folder(c, "sub")
        c.ok(f"SUBSCRIBE {qstr(name)}")
        got = list_names(c.ok(f'LSUB "" "{name}"'))
        need(name in got, f"LSUB after SUBSCRIBE: {sorted(got)}")
        got = list_names(c.ok(f'LIST (SUBSCRIBED) "" "{name}"'))
        need(name in got and "\\SUBSCRIBED" in got[name], f"LIST (SUBSCRIBED): {got}")
        got = list_names(c.ok(f'LIST "" "{name}" RETURN (SUBSCRIBED)'))
        need("\\SUBSCRIBED" in got.get(name, set()), f"LIST RETURN (SUBSCRIBED): {got}")
        c.ok(f"UNSUBSCRIBE {qstr(name)}")
        got = list_names(c.ok(f'LSUB "" "{name}"'))
        need(name not in got, f"LSUB after UNSUBSCRIBE: {sorted(got)}")
        got = list_names(c.ok(f'LIST (SUBSCRIBED) "" "{name}"'))
        need(name not in got, f"LIST (SUBSCRIBED) after UNSUBSCRIBE: {sorted(got)}")
        # Subscribing a name that does not exist is allowed (RFC 9051 6.3.7), and LIST
        # (SUBSCRIBED) then marks it \NonExistent.
        ghost = Folders.name("ghost-sub")
        r = c.cmd(f"SUBSCRIBE {qstr(ghost)}")
        note(f"SUBSCRIBE of a missing folder -> {r.short()}")
        if r.status == "OK":
            got = list_names(c.ok(f'LIST (SUBSCRIBED) "" "{ghost}"'))
            need(ghost in got and "\\NONEXISTENT" in got[ghost], f"LIST (SUBSCRIBED) of a missing folder: {got}")
            c.ok(f"UNSUBSCRIBE {qstr(ghost)}")


@check
def status_counts():
    msgs = [(message("s1", body="one\r\n"), "\\Seen"), (message("s2", body="two two\r\n"), "\\Deleted"),
            (message("s3", body="three three three\r\n"), "")]
    with Conn() as c:
        name, uids = fresh_folder(c, "status", msgs)
        st = status(c, name)
        need(st.get("MESSAGES") == 3, f"MESSAGES: {st}")
        need(st.get("UNSEEN") == 2, f"UNSEEN: {st}")
        r = c.cmd(f"STATUS {qstr(name)} (DELETED)")
        if r.status == "OK":
            st.update(status(c, name, "DELETED"))
            need(st.get("DELETED") == 1, f"DELETED: {st}")
        else:
            # STATUS DELETED is IMAP4rev2 (RFC 9051 6.3.11); Dovecot 2.3 is rev1 only.
            note(f"STATUS (DELETED) -> {r.short()}")
            need(ARGS.server_kind == "dovecot", f"STATUS (DELETED) refused: {r.short()}")
        need(st.get("SIZE") == sum(len(m) for m, _ in msgs), f"SIZE {st.get('SIZE')} != {sum(len(m) for m, _ in msgs)}")
        if all(uids):
            need(st.get("UIDNEXT", 0) > max(uids), f"UIDNEXT {st.get('UIDNEXT')} <= last UID {max(uids)}")
        info = select(c, name, "EXAMINE")
        need(info.get("uidvalidity") == st.get("UIDVALIDITY"), f"UIDVALIDITY: STATUS {st} vs EXAMINE {info}")
        need(info.get("exists") == 3, f"EXAMINE EXISTS: {info}")
        need(info.get("access") == "READ-ONLY", f"EXAMINE not [READ-ONLY]: {info}")
        r = c.cmd("STORE 1 +FLAGS (\\Flagged)")
        need(r.status in ("NO", "OK"), f"STORE in an EXAMINEd folder: {r.short()}")
        note(f"STORE in an EXAMINEd folder -> {r.short()}")
        r = c.ok("FETCH 1 (FLAGS)")
        need("\\FLAGGED" not in flags_of(r.fetches().get(1, {})), "STORE changed flags in an EXAMINEd folder")
        c.ok("UNSELECT")
        r = c.ok(f'LIST "" "{name}" RETURN (STATUS (MESSAGES UNSEEN SIZE))')
        st2 = [t for t in r.of("STATUS")]
        need(st2, f"LIST-STATUS gave no * STATUS: {r.untagged}")
        lst = st2[0][-1]
        d = {u(lst[i]): int(lst[i + 1]) for i in range(0, len(lst) - 1, 2)}
        need(d.get("MESSAGES") == 3 and d.get("UNSEEN") == 2, f"LIST-STATUS: {d}")
        r = c.cmd(f"STATUS {qstr(Folders.name('no-such-folder'))} (MESSAGES)")
        need(r.status == "NO", f"STATUS of a missing folder: {r.short()}")


@check
def append_fetch_exact():
    body = ("Line with ümlauts in UTF-8.\r\n" + "x" * 998 + "\r\n.\r\n..dots\r\n\r\nend\r\n")
    msg = message("append exact", body=body, extra=["Content-Type: text/plain; charset=utf-8"])
    date = "14-Jul-2023 02:44:25 +0200"
    with Conn() as c:
        name, _ = fresh_folder(c, "append")
        uv, uid = append(c, name, msg, "\\Flagged $Work", date)
        need(uid is not None, "APPEND: no [APPENDUID uidvalidity uid]")
        info = select(c, name)
        need(info.get("uidvalidity") == uv, f"APPENDUID UIDVALIDITY {uv} != SELECT's {info.get('uidvalidity')}")
        r = c.ok(f"UID FETCH {uid} (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])")
        f = r.fetches()
        need(len(f) == 1, f"UID FETCH {uid}: {len(f)} messages")
        items = next(iter(f.values()))
        need(items.get("UID") == str(uid), f"UID {items.get('UID')} != {uid}")
        need(items.get("BODY[]") == msg, "BODY.PEEK[] is not byte-exact")
        need(int(items.get("RFC822.SIZE", -1)) == len(msg), f"RFC822.SIZE {items.get('RFC822.SIZE')} != {len(msg)}")
        fl = flags_of(items)
        need({"\\FLAGGED", "$WORK"} <= fl, f"flags {fl}")
        need("\\SEEN" not in fl, f"BODY.PEEK set \\Seen: {fl}")
        got = items.get("INTERNALDATE")
        got = got.decode() if isinstance(got, bytes) else str(got)
        fmt = "%d-%b-%Y %H:%M:%S %z"
        want_dt = datetime.datetime.strptime(date, fmt)
        got_dt = datetime.datetime.strptime(got.strip(), fmt)
        need(got_dt == want_dt, f"INTERNALDATE {got!r} is not the instant {date!r}")
        if got.strip() != date:
            note(f"INTERNALDATE given as {date!r}, returned as {got!r} (same instant)")
        # APPEND to a folder that does not exist: NO [TRYCREATE].
        r = c.cmd(b"APPEND " + qstr(Folders.name("missing")).encode() + b" " + lit_plus(msg))
        need(r.status == "NO" and "TRYCREATE" in r.code, f"APPEND to a missing folder: {r.short()}")
        # APPEND to the selected folder: the session hears * EXISTS.
        r = c.cmd(b"APPEND " + qstr(name).encode() + b" " + lit_plus(msg))
        need(r.status == "OK", f"APPEND to the selected folder: {r.short()}")
        r = c.ok("NOOP")
        exists = [x for x in r.untagged + [] if re.match(rb"\* 2 EXISTS", x)]
        note("EXISTS after APPEND to the selected folder came with the APPEND response"
             if not exists else "EXISTS after APPEND came on the following NOOP")


@check
def copy_move_uidplus():
    msgs = [message(f"cm{i}") for i in range(1, 5)]
    with Conn() as c:
        src, suids = fresh_folder(c, "cm-src", msgs)
        dst, _ = fresh_folder(c, "cm-dst")
        dinfo = select(c, dst, "EXAMINE")
        select(c, src)
        r = c.ok(f"COPY 1 {qstr(dst)}")
        m = re.search(r"COPYUID (\d+) (\S+) (\S+)", r.code)
        need(m, f"COPY: no [COPYUID] in {r.short()}")
        need(int(m.group(1)) == dinfo["uidvalidity"], f"COPYUID UIDVALIDITY {m.group(1)} != {dinfo['uidvalidity']}")
        need(seqset_expand(m.group(2)) == [suids[0]], f"COPYUID source set {m.group(2)} != {suids[0]}")
        copied = seqset_expand(m.group(3))
        r = c.ok(f"MOVE 2:3 {qstr(dst)}")
        codes = [x for x in r.codes() if x.startswith("COPYUID")]
        need(codes, f"MOVE: no COPYUID response code: {r.untagged} {r.short()}")
        where = "untagged OK" if any(b"COPYUID" in x for x in r.untagged) else "tagged OK"
        note(f"MOVE's COPYUID came in the {where}")
        exp = [int(x.split()[1]) for x in r.untagged if re.match(rb"\* \d+ EXPUNGE", x)]
        need(sorted(exp) in ([2, 2], [2, 3]), f"MOVE 2:3 untagged EXPUNGEs: {exp}")
        cm = re.search(r"COPYUID (\d+) (\S+) (\S+)", codes[0])
        need(seqset_expand(cm.group(2)) == suids[1:3], f"MOVE COPYUID source {cm.group(2)} != {suids[1:3]}")
        moved = seqset_expand(cm.group(3))
        r = c.ok(f"UID MOVE {suids[3]} {qstr(dst)}")
        exp = [x for x in r.untagged if re.match(rb"\* \d+ EXPUNGE", x)]
        need(len(exp) == 1 and exp[0].startswith(b"* 2 EXPUNGE"), f"UID MOVE untagged EXPUNGE: {exp}")
        r = c.cmd(f"COPY 1 {qstr(Folders.name('missing'))}")
        need(r.status == "NO" and "TRYCREATE" in r.code, f"COPY to a missing folder: {r.short()}")
        st = status(c, src, "MESSAGES")
        need(st["MESSAGES"] == 1, f"source has {st} after COPY 1 + MOVE 3")
        c.ok("UNSELECT")
        select(c, dst)
        r = c.ok("UID FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (Subject)])")
        subj = {int(v["UID"]): v.get('BODY[HEADER.FIELDS (SUBJECT)]', b"") for v in r.fetches().values()}
        need(len(subj) == 4, f"destination has {len(subj)} messages, want 4")
        for uid_, want in zip(copied + moved, ["cm1", "cm2", "cm3"]):
            need(want.encode() in subj.get(uid_, b""), f"UID {uid_} in the destination is not {want}: {subj}")


@check
def store_flags_keywords():
    with Conn() as c:
        name, _ = fresh_folder(c, "store", [message(f"st{i}") for i in range(1, 4)])
        info = select(c, name)
        need("\\*" in info.get("permanentflags", []), f"PERMANENTFLAGS without \\*: {info}")
        r = c.ok("STORE 1 +FLAGS (\\Seen \\Answered)")
        f = r.fetches()
        need(1 in f and {"\\SEEN", "\\ANSWERED"} <= flags_of(f[1]), f"STORE +FLAGS untagged FETCH: {f}")
        r = c.ok("STORE 1 -FLAGS (\\Answered)")
        f = r.fetches()
        need(1 in f and flags_of(f[1]) & {"\\SEEN", "\\ANSWERED"} == {"\\SEEN"}, f"-FLAGS: {f}")
        r = c.ok("STORE 2 FLAGS (\\Draft $Label1 Projekt)")
        f = r.fetches()
        need(2 in f and flags_of(f[2]) - {"\\RECENT"} == {"\\DRAFT", "$LABEL1", "PROJEKT"}, f"FLAGS replace: {f}")
        r = c.ok("STORE 3 +FLAGS.SILENT (\\Flagged)")
        need(3 not in r.fetches(), f"+FLAGS.SILENT sent a FETCH: {r.untagged}")
        r = c.ok("UID FETCH 1:* (UID FLAGS)")
        f = r.fetches()
        need("\\FLAGGED" in flags_of(f[3]), f"\\Flagged not stored silently: {f}")
        need(r.fetches()[1]["UID"], "UID FETCH without UID")
        uid2 = r.fetches()[2]["UID"]
        r = c.ok(f"UID STORE {uid2} -FLAGS.SILENT ($Label1)")
        r = c.ok("FETCH 2 (FLAGS)")
        need(flags_of(r.fetches()[2]) - {"\\RECENT"} == {"\\DRAFT", "PROJEKT"}, f"UID STORE -FLAGS: {r.fetches()}")
        r = c.ok("SELECT " + qstr(name))
        fl = {x.upper() for x in select(c, name).get("flags", [])}
        need({"$LABEL1", "PROJEKT"} & fl, f"* FLAGS does not list the keywords in use: {fl}")
        r = c.cmd("STORE 1 +FLAGS (\\Bogus)")
        note(f"STORE +FLAGS (\\Bogus) -> {r.short()}")
        need(r.status in ("BAD", "NO", "OK"), r.short())
        r = c.cmd("STORE 1 +FLAGS (\\Recent)")
        need(r.status in ("BAD", "NO"), f"STORE \\Recent accepted: {r.short()}")
        found = search(c, "KEYWORD Projekt")
        need(found == [2], f"SEARCH KEYWORD Projekt: {found}")
        found = search(c, "FLAGGED")
        need(found == [3], f"SEARCH FLAGGED: {found}")


def search_folder(c, leaf):
    big = "B" * 76 + "\r\n"
    msgs = [
        (message("apples report", frm="Alice <alice@example.net>", body="short\r\n",
                 extra=["X-Tag: blue"]), "\\Seen", "01-Jun-2020 12:00:00 +0000"),
        (message("bananas", frm="Bob <bob@example.com>", body=big * 60), "", "01-Jun-2021 12:00:00 +0000"),
        (message("cherries report", frm="Alice <alice@example.net>", body=big * 10,
                 extra=["X-Tag: red"]), "\\Seen \\Flagged", "01-Jun-2022 12:00:00 +0000"),
        (message("dates", frm="Dave <dave@example.org>", body="short\r\n"), "", "01-Jun-2023 12:00:00 +0000"),
        (message("elderberries", frm="alice@example.net", body=big * 80,
                 extra=["X-Tag: blue"]), "", "01-Jun-2024 12:00:00 +0000"),
    ]
    name, uids = fresh_folder(c, leaf, msgs)
    select(c, name)
    return name, uids, msgs


@check
def search_keys():
    with Conn() as c:
        _, uids, msgs = search_folder(c, "search")
        cases = [
            ("ALL", [1, 2, 3, 4, 5]),
            ("UNSEEN", [2, 4, 5]),
            ("SEEN", [1, 3]),
            ("FROM alice", [1, 3, 5]),
            ('FROM "bob@example.com"', [2]),
            ("SUBJECT report", [1, 3]),
            ('SUBJECT "REPORT"', [1, 3]),
            ("HEADER X-Tag blue", [1, 5]),
            ('HEADER X-Tag ""', [1, 3, 5]),
            (f"LARGER {len(msgs[2][0])}", [2, 5]),
            (f"SMALLER {len(msgs[0][0]) + 1}", [1] + ([4] if len(msgs[3][0]) <= len(msgs[0][0]) else [])),
            ("SINCE 1-Jan-2022", [3, 4, 5]),
            ("BEFORE 1-Jan-2021", [1]),
            ("ON 1-Jun-2023", [4]),
            ("OR FROM bob FROM dave", [2, 4]),
            ("NOT FROM alice", [2, 4]),
            ("OR SUBJECT dates NOT (FROM alice)", [2, 4]),
            ("UNSEEN NOT LARGER 1000", [4]),
            ("FLAGGED SEEN", [3]),
            ("2:4 FROM alice", [3]),
            ("*", [5]),
            ("BODY short", [1, 4]),
            ("TEXT blue", [1, 5]),
            ("NEW", None),
        ]
        for crit, want in cases:
            got = search(c, crit)
            if want is not None:
                need(got == want, f"SEARCH {crit}: {got}, want {want}")
        if all(uids):
            got = search(c, f"UID {uids[1]}:{uids[3]}", uid=True)
            need(got == uids[1:4], f"UID SEARCH UID {uids[1]}:{uids[3]}: {got}")
            got = search(c, f"UID {uids[4] + 1000}:*", uid=True)
            need(got == [uids[4]], f"UID SEARCH UID n:* beyond the last UID: {got} (want the last, RFC 9051 6.4.8)")
            got = search(c, f"{uids[0]},{uids[2]} FROM alice", uid=True)
            need(got == [uids[0], uids[2]], f"UID SEARCH with a sequence set: {got}")
        r = c.cmd("SEARCH CHARSET UTF-8 SUBJECT report")
        need(r.status == "OK", f"SEARCH CHARSET UTF-8: {r.short()}")
        r = c.cmd("SEARCH CHARSET X-NO-SUCH-CHARSET SUBJECT x")
        need(r.status == "NO" and "BADCHARSET" in r.code, f"SEARCH with an unknown charset: {r.short()}")
        r = c.cmd("SEARCH NOSUCHKEY")
        need(r.status == "BAD", f"SEARCH NOSUCHKEY: {r.short()}")


@check
def esearch_and_searchres():
    with Conn() as c:
        _, uids, _ = search_folder(c, "esearch")
        r = c.ok("SEARCH RETURN (MIN MAX COUNT ALL) FROM alice")
        es = [x for x in r.untagged if x.startswith(b"* ESEARCH")]
        need(es, f"no * ESEARCH: {r.untagged}")
        line = es[0].decode()
        need(re.search(r'\(TAG "[^"]+"\)', line), f"ESEARCH without (TAG ...): {line}")
        need(re.search(r"\bMIN 1\b", line) and re.search(r"\bMAX 5\b", line) and
             re.search(r"\bCOUNT 3\b", line), f"ESEARCH MIN/MAX/COUNT: {line}")
        m = re.search(r"\bALL (\S+)", line)
        need(m and seqset_expand(m.group(1)) == [1, 3, 5], f"ESEARCH ALL: {line}")
        r = c.ok("UID SEARCH RETURN (COUNT) FROM alice")
        line = b"".join(x for x in r.untagged if x.startswith(b"* ESEARCH")).decode()
        need(" UID" in line and re.search(r"\bCOUNT 3\b", line), f"UID SEARCH RETURN (COUNT): {line}")
        r = c.ok("SEARCH RETURN (MIN) FROM nobody-at-all")
        line = b"".join(x for x in r.untagged if x.startswith(b"* ESEARCH")).decode()
        need(line and "MIN" not in line, f"ESEARCH with no match must leave MIN out: {line!r}")
        r = c.ok("SEARCH RETURN () SUBJECT report")
        line = b"".join(x for x in r.untagged if x.startswith(b"* ESEARCH")).decode()
        m = re.search(r"\bALL (\S+)", line)
        need(m and seqset_expand(m.group(1)) == [1, 3], f"RETURN () means ALL: {line!r}")
        # SEARCHRES: SAVE alone returns nothing; $ then names the result.
        r = c.ok("SEARCH RETURN (SAVE) SUBJECT report")
        need(not [x for x in r.untagged if x.startswith((b"* ESEARCH", b"* SEARCH"))],
             f"RETURN (SAVE) alone gave a result: {r.untagged}")
        r = c.ok("FETCH $ (UID)")
        need(sorted(r.fetches()) == [1, 3], f"FETCH $: {sorted(r.fetches())}")
        got = search(c, "$ FROM alice")
        need(got == [1, 3], f"SEARCH $ FROM alice: {got}")
        if all(uids):
            got = search(c, "$", uid=True)
            need(got == [uids[0], uids[2]], f"UID SEARCH $: {got}")
        r = c.ok("SEARCH RETURN (SAVE MIN) FROM bob")
        line = b"".join(x for x in r.untagged if x.startswith(b"* ESEARCH")).decode()
        need(re.search(r"\bMIN 2\b", line), f"RETURN (SAVE MIN): {line!r}")
        r = c.ok("UID FETCH $ (UID)")
        need(sorted(r.fetches()) == [2], f"$ after RETURN (SAVE MIN) FROM bob: {sorted(r.fetches())}")
        c.ok("UNSELECT")
        c.ok("SELECT INBOX")
        r = c.cmd("FETCH $ (UID)")
        need(r.status == "OK" and not r.fetches(), f"$ after re-SELECT must be empty: {r.short()} {r.untagged}")


@check
def fetch_sections():
    with Conn() as c:
        name, uids = fresh_folder(c, "fetch", [MULTIPART])
        select(c, name)
        r = c.ok("FETCH 1 (BODY.PEEK[HEADER.FIELDS (From)] BODY.PEEK[1] BODY.PEEK[2] BODY.PEEK[TEXT]<0.10> "
                 "BODY.PEEK[HEADER] RFC822.SIZE)")
        f = r.fetches()[1]
        hf = [v for k, v in f.items() if k.startswith("BODY[HEADER.FIELDS")]
        need(hf == [b"From: Carol <carol@example.net>\r\n\r\n"], f"BODY[HEADER.FIELDS (From)]: {hf} keys {list(f)}")
        need(f.get("BODY[1]") == PART1_BODY, f"BODY[1]: {f.get('BODY[1]')!r}")
        need(f.get("BODY[2]") == PART2_BODY, f"BODY[2]: {f.get('BODY[2]')!r}")
        hdr_end = MULTIPART.index(b"\r\n\r\n") + 4
        need(f.get("BODY[HEADER]") == MULTIPART[:hdr_end], "BODY[HEADER] differs")
        text = MULTIPART[hdr_end:]
        need(f.get("BODY[TEXT]<0>") == text[:10], f"BODY[TEXT]<0.10>: {f.get('BODY[TEXT]<0>')!r} keys {list(f)}")
        r = c.ok("FETCH 1 (BODY.PEEK[TEXT]<5.4> BODY.PEEK[1.MIME] BODY.PEEK[2]<100.10>)")
        f = r.fetches()[1]
        need(f.get("BODY[TEXT]<5>") == text[5:9], f"BODY[TEXT]<5.4>: {f.get('BODY[TEXT]<5>')!r}")
        need(f.get("BODY[1.MIME]") == b"Content-Type: text/plain; charset=utf-8\r\n"
             b"Content-Transfer-Encoding: quoted-printable\r\n\r\n", f"BODY[1.MIME]: {f.get('BODY[1.MIME]')!r}")
        need(f.get("BODY[2]<100>") == b"", f"partial past the end: {f.get('BODY[2]<100>')!r}")
        r = c.ok("FETCH 1 (BINARY.PEEK[1] BINARY.PEEK[2] BINARY.SIZE[1] BINARY.SIZE[2])")
        f = r.fetches()[1]
        need(f.get("BINARY[1]") == PART1_DECODED, f"BINARY[1]: {f.get('BINARY[1]')!r}")
        need(f.get("BINARY[2]") == PART2_DECODED, f"BINARY[2]: {f.get('BINARY[2]')!r}")
        need(str(f.get("BINARY.SIZE[1]")) == str(len(PART1_DECODED)),
             f"BINARY.SIZE[1] {f.get('BINARY.SIZE[1]')} != {len(PART1_DECODED)}")
        need(str(f.get("BINARY.SIZE[2]")) == "16", f"BINARY.SIZE[2] {f.get('BINARY.SIZE[2]')} != 16")
        note("BINARY[2] was sent as " + ("a literal8 (~{n})" if b"~{" in b"".join(r.untagged) else "a plain literal"))
        r = c.ok("FETCH 1 (BODYSTRUCTURE)")
        bs = r.fetches()[1].get("BODYSTRUCTURE")
        need(isinstance(bs, list) and len(bs) >= 3, f"BODYSTRUCTURE: {bs!r}")
        p1, p2, sub = bs[0], bs[1], bs[2]
        need(u(sub) == "MIXED", f"multipart subtype {sub!r}")
        need(isinstance(p1, list) and u(p1[0]) == "TEXT" and u(p1[1]) == "PLAIN", f"part 1: {p1!r}")
        need([u(x) for x in p1[2]] == ["CHARSET", "UTF-8"], f"part 1 params: {p1[2]!r}")
        need(u(p1[5]) == "QUOTED-PRINTABLE", f"part 1 encoding: {p1[5]!r}")
        need(int(p1[6]) == len(PART1_BODY), f"part 1 size {p1[6]} != {len(PART1_BODY)}")
        # Two lines of text, the second without its own CRLF (that one belongs to the
        # boundary): Dovecot counts the CRLFs (1); counting text lines gives 2.
        need(int(p1[7]) in (1, 2), f"part 1 lines {p1[7]}, want 1 (Dovecot) or 2")
        note(f"text/plain part of 2 lines, the last without CRLF: {p1[7]} lines")
        need(u(p2[0]) == "APPLICATION" and u(p2[1]) == "OCTET-STREAM", f"part 2: {p2!r}")
        need([u(x) for x in p2[2]] == ["NAME", "DATA.BIN"], f"part 2 params: {p2[2]!r}")
        need(u(p2[5]) == "BASE64" and int(p2[6]) == len(PART2_BODY), f"part 2 encoding/size: {p2!r}")
        need(len(bs) >= 4 and isinstance(bs[3], list) and [u(x) for x in bs[3]] == ["BOUNDARY", "B1"],
             f"multipart extension (boundary): {bs[3:]!r}")
        disp = p2[8] if len(p2) > 8 else None
        need(isinstance(disp, list) and u(disp[0]) == "ATTACHMENT" and
             [u(x) for x in disp[1]] == ["FILENAME", "DATA.BIN"], f"part 2 disposition: {disp!r}")
        r = c.ok("FETCH 1 (BODY ENVELOPE)")
        f = r.fetches()[1]
        need(isinstance(f.get("BODY"), list) and len(f["BODY"]) == 3, f"BODY (no extension data): {f.get('BODY')!r}")
        env = f.get("ENVELOPE")
        need(isinstance(env, list) and env[1] == b"multipart" and env[0] == b"Sat, 15 Jul 2023 10:00:00 +0000",
             f"ENVELOPE date/subject: {env!r}")
        need(env[2][0][2] == b"carol" and env[2][0][3] == b"example.net", f"ENVELOPE from: {env[2]!r}")
        need(isinstance(env[4], list) and env[4] == env[2], f"ENVELOPE sender defaults to from: {env[4]!r}")
        # A non-PEEK fetch sets \Seen and says so.
        r = c.ok("FETCH 1 (BODY[1])")
        f = r.fetches()[1]
        need("\\SEEN" in flags_of(f), f"FETCH BODY[1] did not report \\Seen: {f}")
        r = c.cmd("FETCH 1 (BODY.PEEK[3])")
        note(f"FETCH of a missing part BODY[3] -> {r.short()} {[x[:80] for x in r.untagged]}")
        r = c.cmd("FETCH 1 (BINARY.PEEK[1.2.3])")
        need(r.status in ("NO", "BAD", "OK"), r.short())
        r = c.cmd("FETCH 1 (NOSUCHITEM)")
        need(r.status == "BAD", f"FETCH NOSUCHITEM: {r.short()}")
        r = c.cmd("FETCH 2 (FLAGS)")
        need(r.status in ("BAD", "NO"), f"FETCH of a message number past EXISTS: {r.short()}")


def expunged(untagged, uids):
    """Applies * n EXPUNGE responses in order to a list of UIDs; returns the set removed."""
    left = list(uids)
    removed = set()
    for raw in untagged:
        m = re.match(rb"\* (\d+) EXPUNGE", raw)
        if m:
            n = int(m.group(1))
            need(1 <= n <= len(left), f"* {n} EXPUNGE with {len(left)} messages")
            removed.add(left.pop(n - 1))
    return removed


@check
def expunge_close_unselect():
    with Conn() as c:
        name, uids = fresh_folder(c, "expunge", [message(f"e{i}") for i in range(1, 8)])
        need(all(uids), "APPENDUID missing")
        select(c, name)
        c.ok("STORE 2,4 +FLAGS.SILENT (\\Deleted)")
        r = c.ok("EXPUNGE")
        need(expunged(r.untagged, uids) == {uids[1], uids[3]}, f"EXPUNGE removed the wrong ones: {r.untagged}")
        left = [x for x in uids if x not in (uids[1], uids[3])]        # 5 left
        c.ok("STORE 1,2 +FLAGS.SILENT (\\Deleted)")
        r = c.ok(f"UID EXPUNGE {left[1]}")
        need(expunged(r.untagged, left) == {left[1]}, f"UID EXPUNGE {left[1]}: {r.untagged}")
        left.remove(left[1])
        r = c.ok("FETCH 1 (UID FLAGS)")
        need("\\DELETED" in flags_of(r.fetches()[1]), "UID EXPUNGE removed a \\Deleted message it was not given")
        # UNSELECT does not expunge; CLOSE does, silently.
        c.ok("UNSELECT")
        need(status(c, name, "MESSAGES")["MESSAGES"] == 4, "UNSELECT expunged")
        select(c, name)
        r = c.ok("CLOSE")
        need(not [x for x in r.untagged if b"EXPUNGE" in x], f"CLOSE sent EXPUNGE responses: {r.untagged}")
        need(status(c, name, "MESSAGES")["MESSAGES"] == 3, "CLOSE did not expunge the \\Deleted message")
        r = c.cmd("FETCH 1 (FLAGS)")
        need(r.status == "BAD", f"FETCH after CLOSE (no folder selected): {r.short()}")
        select(c, name, "EXAMINE")
        r = c.ok("CLOSE")
        need(status(c, name, "MESSAGES")["MESSAGES"] == 3, "CLOSE after EXAMINE expunged")
        st = status(c, name, "UIDNEXT")
        need(st["UIDNEXT"] > uids[-1], f"UIDNEXT went back: {st}")
        # No UID reuse after expunges.
        _, nu = append(c, name, message("after expunge"))
        need(nu is None or nu > uids[-1], f"a UID was reused: {nu} <= {uids[-1]}")


@check
def idle_sees_append():
    with Conn() as a, Conn() as b:
        name, _ = fresh_folder(a, "idle", [message("i1")])
        select(a, name)
        tag = a.tag()
        a.send(f"{tag} IDLE\r\n".encode())
        resp = a.read_response()
        need(resp.startswith(b"+"), f"IDLE: no continuation: {resp!r}")
        t0 = time.time()
        append(b, name, message("i2"))
        a.sock.settimeout(2.0)
        seen = None
        try:
            while time.time() - t0 < 2.0:
                resp = a.read_response()
                if re.match(rb"\* 2 EXISTS", resp):
                    seen = time.time() - t0
                    break
        except (socket.timeout, TimeoutError):
            pass
        a.sock.settimeout(TIMEOUT)
        need(seen is not None, "IDLE did not report * 2 EXISTS within 2 s of an APPEND from another connection")
        note(f"IDLE heard the APPEND after {seen * 1000:.0f} ms")
        # A flag change from the other session during IDLE.
        b.ok(f"SELECT {qstr(name)}")
        t0 = time.time()
        b.ok("STORE 1 +FLAGS.SILENT (\\Flagged)")
        a.sock.settimeout(2.0)
        seen = None
        try:
            while time.time() - t0 < 2.0:
                resp = a.read_response()
                if re.match(rb"\* 1 FETCH \(.*\\Flagged", resp, re.I):
                    seen = time.time() - t0
                    break
        except (socket.timeout, TimeoutError):
            pass
        a.sock.settimeout(TIMEOUT)
        need(seen is not None, "IDLE did not report * 1 FETCH (FLAGS (\\Flagged)) within 2 s")
        a.log("C:", b"DONE")
        a.send(b"DONE\r\n", log=False)
        r = a.finish(tag)
        need(r.status == "OK", f"IDLE DONE: {r.short()}")
        a.ok("NOOP")


@check
def two_sessions_see_changes():
    with Conn() as a, Conn() as b:
        name, _ = fresh_folder(a, "two", [message(f"t{i}") for i in range(1, 4)])
        select(a, name)
        select(b, name)
        b.ok("STORE 1 +FLAGS (\\Flagged $Seen2)")
        r = a.ok("NOOP")
        f = r.fetches()
        need(1 in f and {"\\FLAGGED", "$SEEN2"} <= flags_of(f[1]), f"NOOP after the other's STORE: {r.untagged}")
        b.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
        b.ok("EXPUNGE")
        r = a.ok("NOOP")
        need(any(re.match(rb"\* 2 EXPUNGE", x) for x in r.untagged), f"NOOP after the other's EXPUNGE: {r.untagged}")
        # No EXPUNGE during FETCH/STORE/SEARCH (RFC 9051 7.5.1): b expunges, a FETCHes.
        b.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
        b.ok("EXPUNGE")
        r = a.ok("FETCH 1:2 (FLAGS)")
        need(not any(b"EXPUNGE" in x for x in r.untagged), f"EXPUNGE sent during FETCH: {r.untagged}")
        r = a.ok("NOOP")
        need(any(re.match(rb"\* 1 EXPUNGE", x) for x in r.untagged), f"the EXPUNGE held back from FETCH: {r.untagged}")
        append(b, name, message("t4"))
        r = a.ok("NOOP")
        need(any(re.match(rb"\* 2 EXISTS", x) for x in r.untagged), f"NOOP after the other's APPEND: {r.untagged}")


@check
def literals():
    with Conn() as c:
        n1 = Folders.name("lit-sync").encode()
        r = c.cmd(b"CREATE {%d}" % len(n1), parts=[n1])
        need(r.status == "OK" and r.conts == 1, f"CREATE with a synchronizing literal: {r.short()} conts={r.conts}")
        n2 = Folders.name("lit-plus")
        r = c.cmd(b"CREATE " + lit_plus(n2))
        need(r.status == "OK" and r.conts == 0, f"CREATE with {{n+}}: {r.short()}")
        got = list_names(c.ok(f'LIST "" "{Folders.prefix}-lit-*"'))
        need({n1.decode(), n2} <= set(got), f"literal folder names not listed: {sorted(got)}")
        msg = message("sync literal append")
        r = c.cmd(b"APPEND " + qstr(n2).encode() + b" (\\Seen) {%d}" % len(msg), parts=[msg])
        need(r.status == "OK" and r.conts == 1, f"APPEND with a synchronizing literal: {r.short()}")
        big = message("big plus", body=("y" * 70 + "\r\n") * 100)   # > 4096: LITERAL- servers refuse
        r = c.cmd(b"APPEND " + qstr(n2).encode() + b" " + lit_plus(big))
        note(f"APPEND with a {len(big)}-octet {{n+}} literal -> {r.short()}")
        if r.status != "OK":
            need(r.status == "BAD", r.short())
            need(ARGS.server_kind != "dovecot", "Dovecot refused a LITERAL+ literal")
        r = c.ok(f"STATUS {qstr(n2)} (MESSAGES)")
        c.ok("NOOP")
        # A literal for a plain command argument, and an empty literal.
        r = c.cmd(b"SELECT " + lit_plus(n2))
        need(r.status == "OK", f"SELECT with a literal name: {r.short()}")
        r = c.cmd(b'SEARCH SUBJECT ' + lit_plus("sync literal"))
        need(r.status == "OK", r.short())
        r = c.cmd(b'SEARCH SUBJECT {0+}\r\n')
        need(r.status == "OK", f"an empty literal: {r.short()}")


@check
def mutf7_names():
    name = Folders.name("Entw&APw-rfe")
    with Conn() as c:
        c.ok(f"CREATE {qstr(name)}")
        got = list_names(c.ok(f'LIST "" "{Folders.prefix}-Entw*"'))
        need(name in got, f"LIST did not give back {name}: {sorted(got)}")
        c.ok(f"SELECT {qstr(name)}")
        c.ok("UNSELECT")
        st = status(c, name, "MESSAGES")
        need(st["MESSAGES"] == 0, f"STATUS: {st}")
        sub = name + "/&ZeVnLIqe-"
        c.ok(f"CREATE {qstr(sub)}")
        got = list_names(c.ok(f'LIST "" "{name}/*"'))
        need(sub in got, f"LIST of a CJK child: {sorted(got)}")
        if ARGS.maildir_root:
            found = [d for d in os.listdir(user_maildir()) if "Entw" in d]
            note(f"on disk: {found}")


def user_maildir():
    local, _, domain = ARGS.user.partition("@")
    return os.path.join(ARGS.maildir_root, domain, local, "Maildir")


def tree_outside_maildir():
    root = ARGS.maildir_root
    md = os.path.realpath(user_maildir())
    out = set()
    for dirpath, dirnames, filenames in os.walk(root):
        if os.path.realpath(dirpath).startswith(md):
            dirnames[:] = []
            continue
        for n in dirnames + filenames:
            out.add(os.path.join(dirpath, n))
    return out


def still_answers(c=None):
    """The server answers a NOOP on c (if it is open) or on a new connection."""
    if c is not None:
        try:
            r = c.cmd("NOOP")
            if r.status == "OK":
                return "same connection"
        except (EOFError, OSError, socket.timeout, CheckFailed):
            pass
    with Conn() as n:
        n.ok("NOOP")
    return "closed; a new connection works"


def hostile_send(c, data, want=("BAD", "NO")):
    """Sends a whole command (with its tag) and reads the reply: (status, closed, text)."""
    tag = c.tag()
    try:
        c.send(tag.encode() + b" " + data, log=True)
    except OSError as e:
        return None, True, f"send failed: {e}"
    try:
        r = c.finish(tag)
    except CheckFailed as e:
        return "CONTINUATION", False, str(e)
    except (EOFError, OSError, socket.timeout) as e:
        return None, True, f"{type(e).__name__}: {e}"
    bye = any(x.startswith(b"* BYE") for x in r.untagged)
    return r.status or ("BYE" if bye else None), bye and not r.status, r.short() if r.tagged else \
        (r.untagged[-1][:120].decode(errors="replace") if r.untagged else "")


@check
def hostile_literals_before_login():
    for lit in (b"{4294967295}", b"{99999999999}", b"{18446744073709551616}"):
        with Conn(login=False) as c:
            tag = c.tag()
            c.send(tag.encode() + b" LOGIN " + lit + b"\r\n")
            c.sock.settimeout(5)
            try:
                resp = c.read_response()
                while resp.startswith(b"* ") and not resp.startswith(b"* BYE"):
                    resp = c.read_response()
            except (EOFError, OSError, socket.timeout) as e:
                resp = f"({type(e).__name__})".encode()
            c.sock.settimeout(TIMEOUT)
            need(not resp.startswith(b"+"), f"LOGIN {lit.decode()}: the server asked for the literal")
            need(resp.startswith((tag.encode() + b" BAD", tag.encode() + b" NO", b"* BYE", b"(EOF")),
                 f"LOGIN {lit.decode()}: {resp[:100]!r}")
            note(f"LOGIN {lit.decode()} before login -> {resp[:90].decode(errors='replace').strip()}")
            how = still_answers(c)
            note(f"  afterwards: {how}")
    with Conn(login=False) as c:
        st, closed, text = hostile_send(c, b"LOGIN " + lit_plus(b"u" * 5000) + b" pw\r\n")
        need(st in ("BAD", "NO", "BYE") or closed, f"{{5000+}} before login: {st} {text}")
        note(f"{{5000+}} before login -> {text} {'(closed)' if closed else ''}")
        note(f"  afterwards: {still_answers(None if closed else c)}")


@check
def hostile_parser():
    with Conn() as c:
        name, _ = fresh_folder(c, "hostile", [message("h1"), message("h2")])
        select(c, name)
    cases = [
        ("100,000 nested (", b"FETCH 1 " + b"(" * 100_000 + b"\r\n"),
        # Deep nesting that fits in a 64 KiB line, so the parser itself sees it.
        ("30,000 nested ( in FETCH", b"FETCH 1 " + b"(" * 30_000 + b"\r\n"),
        ("20,000 nested ( in SEARCH", b"SEARCH " + b"(" * 20_000 + b"ALL" + b")" * 20_000 + b"\r\n"),
        ("15,000 NOTs in SEARCH", b"SEARCH " + b"NOT " * 15_000 + b"ALL\r\n"),
        ("15,000 ORs in SEARCH", b"SEARCH " + b"OR ALL " * 15_000 + b"ALL\r\n"),
        ("1 MB line", b"NOOP " + b"a" * 1_000_000 + b"\r\n"),
        ("1 MB mailbox name", b"SELECT " + b"a" * 1_000_000 + b"\r\n"),
        ("1 MB quoted string", b'SEARCH SUBJECT "' + b"a" * 1_000_000 + b'"\r\n'),
        ("sequence set 1:4294967296", b"FETCH 1:4294967296 (FLAGS)\r\n"),
        ("sequence set 0", b"FETCH 0 (FLAGS)\r\n"),
        ("sequence set 4294967296", b"UID FETCH 4294967296 (FLAGS)\r\n"),
        ("100,000 ranges", b"FETCH " + b",".join(b"%d:%d" % (i, i + 1) for i in range(1, 200_000, 2)) + b" (FLAGS)\r\n"),
        ("NUL byte", b"SELECT \"a\0b\"\r\n"),
        ("bare LF", b"NOOP\n"),
        ("unknown command", b"FROBNICATE\r\n"),
        ("empty command", b"\r\n"),
    ]
    for label, data in cases:
        with Conn() as c:
            select(c, name)
            st, closed, text = hostile_send(c, data)
            if label == "bare LF" and st is None and not closed:
                st = "OK"
            ok_statuses = ("BAD", "NO", "BYE")
            if label == "bare LF":
                ok_statuses = ("BAD", "NO", "BYE", "OK")
            if "SEARCH" in label:
                ok_statuses += ("OK",)      # valid if deep: refusing or answering are both fine
            if label in ("100,000 ranges", "1 MB line") and ARGS.server_kind == "dovecot":
                ok_statuses += ("OK",)      # Dovecot ignores NOOP's arguments
            need(st in ok_statuses or closed, f"{label}: {st} {text}")
            note(f"{label} -> {st} {text[:90]} {'(connection closed)' if closed else ''}")
            note(f"  afterwards: {still_answers(None if closed else c)}")
    with Conn() as c:
        select(c, name)
        r = c.cmd("FETCH *:* (UID)")
        need(r.status == "OK" and sorted(r.fetches()) == [2], f"FETCH *:* (is just *): {r.short()} {sorted(r.fetches())}")
        r = c.cmd("FETCH 2:1 (UID)")
        need(r.status == "OK" and sorted(r.fetches()) == [1, 2], f"FETCH 2:1 (reversed range): {r.short()}")
        r = c.cmd("UID FETCH 4294967295 (UID)")
        need(r.status == "OK" and not r.fetches(), f"UID FETCH 4294967295: {r.short()}")


# The names issue 10 lists (ringmail must refuse each), then more that only have to stay
# inside the Maildir.
ISSUE_NAMES = ["../x", "a/../../b", "/etc", "~root", "a//b", "tmp", "cur", "new",
               "&", "&Jjo", "&Jjo!", "&U,BTFw-&ZeVnLIqe-"]
HOSTILE_NAMES = ISSUE_NAMES + ["..", ".", "x/..", ".hidden", "a/./b", "&AGE-", "a\\b", "&-/../&-",
                               "INBOX/../../x", "tmp/x", "a/new"]


@check
def hostile_mailbox_names():
    accepted, accepted_listed = [], []
    with Conn() as c:
        c.ok("SELECT INBOX")          # the Maildir exists from here on
        c.ok("UNSELECT")
        before = tree_outside_maildir() if ARGS.maildir_root else None
        for n in HOSTILE_NAMES:
            for cmd in ("CREATE", "SELECT", "DELETE", "STATUS", "RENAME INBOX-x"):
                if cmd.startswith("RENAME"):
                    src = Folders.name("ren-src")
                    c.cmd(f"CREATE {qstr(src)}")
                    r = c.cmd(f"RENAME {qstr(src)} {qstr(n)}")
                elif cmd == "STATUS":
                    r = c.cmd(f"STATUS {qstr(n)} (MESSAGES)")
                else:
                    r = c.cmd(f"{cmd} {qstr(n)}")
                    if cmd == "SELECT" and r.status == "OK":
                        c.ok("UNSELECT")
                need(r.status in ("OK", "NO", "BAD"), f"{cmd} {n!r}: {r.short()}")
                if cmd == "CREATE" and r.status == "OK":
                    accepted.append(n)
                    if n in ISSUE_NAMES:
                        accepted_listed.append(n)
                if cmd.startswith("RENAME") and r.status == "OK":
                    accepted.append(f"RENAME->{n}")
                    c.cmd(f"DELETE {qstr(n)}")
                if cmd == "CREATE":
                    note(f"CREATE {n!r} -> {r.short()}")
            # Clean up what a lenient server took.
            c.cmd(f"DELETE {qstr(n)}")
        c.cmd(f"DELETE {qstr(Folders.name('ren-src'))}")
        c.ok("NOOP")
        if accepted:
            note(f"accepted: {accepted}")
        if ARGS.server_kind == "ringmail":
            need(not accepted_listed, f"ringmail must refuse the names issue 10 lists; it accepted {accepted_listed}")
    if before is not None:
        after = tree_outside_maildir()
        need(after - before == set(), f"created outside the user's Maildir: {sorted(after - before)[:10]}")
    still_answers()


@check
def cleanup_folders():
    """Deletes this run's folders (children first); the tree is back to what it was."""
    with Conn() as c:
        got = list_names(c.ok(f'LIST "" "{Folders.prefix}*"'))
        for name in sorted(got, key=lambda n: -n.count("/")):
            r = c.cmd(f"DELETE {qstr(name)}")
            need(r.status == "OK" or "\\NOSELECT" in got[name] or "\\NONEXISTENT" in got[name] or
                 "NONEXISTENT" in r.code,
                 f"DELETE {name}: {r.short()}")
        got = list_names(c.ok(f'LIST "" "{Folders.prefix}*"'))
        need(not got, f"left after cleanup: {sorted(got)}")


# ---------------------------------------------------------------- main

def main():
    global ARGS
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=False)
    ap.add_argument("--user")
    ap.add_argument("--password")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--tls", action="store_true", help="implicit TLS (imaps)")
    g.add_argument("--starttls", action="store_true", help="plain port, STARTTLS first")
    ap.add_argument("--server-kind", choices=("dovecot", "ringmail", "other"), default="other")
    ap.add_argument("--maildir-root", help="mail root, to check nothing is created outside the Maildir")
    ap.add_argument("--source", help="local address to connect from")
    ap.add_argument("--only", help="comma-separated check names")
    ap.add_argument("--list", action="store_true", help="list the checks")
    ARGS = ap.parse_args()
    if ARGS.list:
        for fn in CHECKS:
            print(fn.__name__)
        return 0
    if not (ARGS.port and ARGS.user and ARGS.password is not None):
        ap.error("--port, --user and --password are required")
    only = set(ARGS.only.split(",")) if ARGS.only else None
    mode = "TLS" if ARGS.tls else ("STARTTLS" if ARGS.starttls else "plain")
    print(f"imap_clients: {ARGS.host}:{ARGS.port} {mode} as {ARGS.user} ({ARGS.server_kind}); prefix {Folders.prefix}")
    passed, failed = [], []
    for fn in CHECKS:
        if only and fn.__name__ not in only and fn.__name__ != "cleanup_folders":
            continue
        CURRENT[0] = fn.__name__
        Conn.transcript = []
        t0 = time.time()
        try:
            fn()
            passed.append(fn.__name__)
            print(f"PASS {fn.__name__} ({time.time() - t0:.2f}s)", flush=True)
        except Exception as e:
            why = str(e) if isinstance(e, CheckFailed) else f"{type(e).__name__}: {e}"
            failed.append((fn.__name__, why))
            print(f"FAIL {fn.__name__} ({time.time() - t0:.2f}s): {why}", flush=True)
            if not isinstance(e, CheckFailed):
                traceback.print_exc(limit=3, file=sys.stdout)
            print("  transcript (last lines):")
            for line in Conn.transcript[-14:]:
                print("    " + line)
    print(f"\nimap_clients ({mode}): {len(passed)} passed, {len(failed)} failed")
    for name, why in failed:
        print(f"  failed: {name}: {why}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
