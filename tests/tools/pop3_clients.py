#!/usr/bin/env python3
"""End-to-end POP3 checks against any POP3 server (issue 12, "Tests").

RFC 1939 (POP3), RFC 2449 (CAPA, RESP-CODES), RFC 2595 (STLS), RFC 3206 (SYS, AUTH
codes), RFC 5034 (AUTH, SASL initial response). Named checks over raw sockets (every
line sent and received is kept; the last ones are printed when a check fails) and over
Python's poplib: POP3 with stls(), POP3_SSL, and (--plaintext-allowed) plain logins.

The mailbox is filled by this script first (--populate MAILDIR, before the server opens
it): varied messages written straight into Maildir/new, each with an X-Test-Id header, so
the checks know every message's exact bytes whatever order the server numbers them in:
lines starting with "." (byte-stuffing), one file with bare LF line ends, one of about
3 MB, one with 8-bit bytes, one with a long body for TOP, and victims for DELE + QUIT.
Expected RETR content is the file with every line end made CRLF; LIST/STAT sizes must be
the length of exactly those bytes (RFC 1939 section 11 "the size of the message ...
may be an exact count of the octets"; issue 12 asks for the CRLF size the client gets).

--server-kind ringmail turns on the exact texts issue 12 gives ringmail (greeting,
"+OK <size> octets", "-ERR Message is deleted.", 20 bad commands). Where Dovecot 2.3
legitimately differs, the check accepts both and prints "note: ..." so the two can be
compared (tests/tools/pop3_clients_test.sh dovecot runs the suite against Dovecot).

Usage:
  pop3_clients.py --populate MAILDIR
  pop3_clients.py --port P --tls-port P --user U --password PW --maildir MAILDIR
      [--source 127.0.0.2] [--server-kind ringmail|dovecot] [--hostname mx.test]
      [--plaintext-allowed] [--only NAME[,NAME]] [--list]
Prints "PASS name" / "FAIL name: why" per check and a summary; exits 1 if any failed.
The DELE + QUIT check removes two messages: populate a fresh Maildir for every run.
"""

import argparse
import base64
import os
import poplib
import re
import socket
import ssl
import sys
import time
import traceback

ARGS = None
TIMEOUT = 20.0
# Dovecot waits for the POP3 session lock before it says [IN-USE] (about 5 s).
LOCK_TIMEOUT = 30.0
CHECKS = []
CURRENT = ["-"]
NOTES = []


class CheckFailed(Exception):
    pass


def need(cond, why):
    if not cond:
        raise CheckFailed(why)


def note(text):
    line = f"note: [{ARGS.server_kind}] {CURRENT[0]}: {text}"
    NOTES.append(line)
    print(line, flush=True)


def ringmail():
    return ARGS.server_kind == "ringmail"


# ---------------------------------------------------------------- the test messages

def header(test_id, subject, extra=b""):
    return (b"From: Alice <alice@example.net>\r\nTo: John <john@example.org>\r\n"
            b"Subject: " + subject + b"\r\nDate: Mon, 7 Dec 2026 05:00:00 +0000\r\n"
            b"Message-ID: <" + test_id.encode() + b"@pop3.test>\r\nX-Test-Id: " + test_id.encode() +
            b"\r\n" + extra)


def make_messages():
    """{test_id: file bytes}. Deterministic, so --populate and the checks agree."""
    m = {}
    m["plain"] = header("plain", b"plain") + b"\r\nHello John.\r\nSecond line.\r\n"
    m["dots"] = header("dots", b"dots") + (
        b"\r\n.\r\n..\r\n.leading dot\r\n...three\r\n . space first\r\nend.\r\n.\r\nlast\r\n")
    # Bare LF line ends, with dot lines too: the server must send CRLF and stuff them.
    m["barelf"] = (header("barelf", b"bare LF") + b"\r\nline one\r\n.dot line\r\n\r\nafter blank\r\n"
                   ).replace(b"\r\n", b"\n")
    body = b"".join(b"%07d " % i + b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ" + b"\r\n"
                    for i in range(42000))
    m["big"] = header("big", b"about 3 MB") + b"\r\n" + body
    m["eightbit"] = header("eightbit", b"=?utf-8?q?Gr=C3=BC=C3=9Fe?=",
                           b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                           b"Content-Transfer-Encoding: 8bit\r\n") + (
        "\r\nGrüße, naïve café — ☃ 日本語\r\n".encode() + bytes(range(0x80, 0x100)) + b"\r\n.\xe9t\xe9\r\n")
    m["toplines"] = header("toplines", b"ten body lines") + b"\r\n" + b"".join(
        b"body line %d\r\n" % i for i in range(1, 11))
    m["victim1"] = header("victim1", b"to be deleted 1") + b"\r\nbye\r\n"
    m["victim2"] = header("victim2", b"to be deleted 2") + b"\r\n.bye\r\n"
    m["keeper"] = header("keeper", b"stays") + b"\r\nstays\r\n"
    return m


MESSAGES = make_messages()
DELETED = set()  # test ids removed by dele_quit


def crlf(data):
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def expected(test_id):
    return crlf(MESSAGES[test_id])


def populate(maildir):
    for sub in ("new", "cur", "tmp"):
        os.makedirs(os.path.join(maildir, sub), exist_ok=True)
    base = int(time.time())
    for i, (tid, data) in enumerate(MESSAGES.items()):
        name = f"{base + i}.M{i}P{os.getpid()}.pop3test"
        tmp = os.path.join(maildir, "tmp", name)
        with open(tmp, "wb") as f:
            f.write(data)
        os.rename(tmp, os.path.join(maildir, "new", name))
    print(f"populated {maildir}: {len(MESSAGES)} messages")


def maildir_files():
    """{test_id: path} of the messages now in the Maildir (new/ and cur/)."""
    out = {}
    for sub in ("new", "cur"):
        d = os.path.join(ARGS.maildir, sub)
        for name in os.listdir(d):
            path = os.path.join(d, name)
            try:
                with open(path, "rb") as f:
                    head = f.read(4096)
            except FileNotFoundError:
                continue
            m = re.search(rb"\nX-Test-Id: (\w+)", head)
            if m:
                out[m.group(1).decode()] = path
    return out


def present_ids():
    return [t for t in MESSAGES if t not in DELETED]


# ---------------------------------------------------------------- raw connection

def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Conn:
    """One POP3 connection over a raw socket, keeping a transcript."""
    count = 0
    transcript = []

    def __init__(self, tls=False, stls=False, login=False):
        Conn.count += 1
        self.name = f"c{Conn.count}"
        self.buf = b""
        self.echo = False
        src = (ARGS.source, 0) if ARGS.source else None
        port = ARGS.tls_port if tls else ARGS.port
        self.sock = socket.create_connection((ARGS.host, port), timeout=TIMEOUT, source_address=src)
        if tls:
            self.sock = tls_context().wrap_socket(self.sock, server_hostname=ARGS.host)
        self.greeting = self.readline()
        need(self.greeting.startswith(b"+OK"), f"greeting is not +OK: {self.greeting[:100]!r}")
        if stls:
            self.stls()
        if login:
            self.login()

    def log(self, who, data):
        if data == b"\r\n":
            data = b"(an empty line)"
        for line in data.split(b"\r\n"):
            if line:
                text = line[:160].decode("utf-8", "replace")
                if len(line) > 160:
                    text += f"...({len(line)} bytes)"
                Conn.transcript.append(f"{self.name} {who} {text}")
                if self.echo:
                    print(f"    {who} {text}", flush=True)
        del Conn.transcript[:-60]

    def stls(self):
        r = self.cmd("STLS")
        need(r.startswith(b"+OK"), f"STLS: {r!r}")
        need(self.buf == b"", f"server sent bytes after its STLS +OK: {self.buf[:80]!r}")
        self.sock = tls_context().wrap_socket(self.sock, server_hostname=ARGS.host)
        return r

    def login(self, user=None, password=None):
        r = self.cmd(f"USER {user or ARGS.user}")
        need(r.startswith(b"+OK"), f"USER: {r!r}")
        r = self.cmd(f"PASS {password or ARGS.password}", log_as="PASS <password>")
        need(r.startswith(b"+OK"), f"PASS: {r!r}")
        return r

    def send(self, data, log=True):
        if log:
            self.log("C:", data)
        self.sock.sendall(data)

    def fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise EOFError("connection closed by the server")
        self.buf += chunk

    def readline(self, log=True):
        while b"\r\n" not in self.buf:
            if len(self.buf) > 10_000_000:
                raise CheckFailed("server line over 10 MB")
            self.fill()
        i = self.buf.index(b"\r\n") + 2
        line, self.buf = self.buf[:i], self.buf[i:]
        if log:
            self.log("S:", line)
        return line

    def cmd(self, text, log_as=None):
        """Sends one command line, returns the status line (with its CRLF)."""
        data = text if isinstance(text, bytes) else text.encode()
        if log_as:
            self.log("C:", log_as.encode())
        self.send(data + b"\r\n", log=not log_as)
        return self.readline()

    def multiline(self):
        """The body of a multi-line reply up to ".CRLF": (raw lines as sent, un-stuffed
        bytes). Only the first and last few lines go into the transcript."""
        raw = []
        while True:
            line = self.readline(log=len(raw) < 3)
            if line == b".\r\n":
                break
            raw.append(line)
        data = b"".join(l[1:] if l.startswith(b".") else l for l in raw)
        if len(raw) >= 3:
            self.log("S:", f"... ({len(raw)} lines, {len(data)} octets)".encode())
            self.log("S:", line)
        return raw, data

    def multi(self, text):
        """A command whose +OK reply is multi-line: (status line, raw lines, data)."""
        st = self.cmd(text)
        if not st.startswith(b"+OK"):
            return st, [], b""
        raw, data = self.multiline()
        return st, raw, data

    def ok(self, text, **kw):
        r = self.cmd(text, **kw)
        need(r.startswith(b"+OK"), f"{kw.get('log_as') or text}: {r!r}")
        return r

    def err(self, text, why=None):
        r = self.cmd(text)
        need(r.startswith(b"-ERR"), f"{why or text[:60]}: want -ERR, got {r!r}")
        return r

    def quit(self):
        r = self.cmd("QUIT")
        need(r.startswith(b"+OK"), f"QUIT: {r!r}")
        self.close()
        return r

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def session():
    """A logged-in session over implicit TLS. Retries a few times on [IN-USE]: the server
    may still be finishing the previous session's QUIT or noticing its dropped socket."""
    deadline = time.time() + 10
    while True:
        c = Conn(tls=True)
        c.cmd(f"USER {ARGS.user}")
        r = c.cmd(f"PASS {ARGS.password}", log_as="PASS <password>")
        if r.startswith(b"+OK"):
            return c
        c.close()
        need(b"[IN-USE]" in r and time.time() < deadline, f"login: {r!r}")
        time.sleep(0.3)


def parse_scan(lines):
    """LIST or UIDL lines -> {msg: value}."""
    out = {}
    for l in lines:
        parts = l.decode().split()
        need(len(parts) == 2, f"bad scan line {l!r}")
        out[int(parts[0])] = parts[1]
    return out


def numbering(c):
    """{msg number: test id} from TOP n 0 of every message."""
    st = c.ok("STAT")
    n = int(st.split()[1])
    out = {}
    for i in range(1, n + 1):
        s, _, data = c.multi(f"TOP {i} 0")
        need(s.startswith(b"+OK"), f"TOP {i} 0: {s!r}")
        m = re.search(rb"\nX-Test-Id: (\w+)", data)
        need(m, f"message {i} has no X-Test-Id")
        out[i] = m.group(1).decode()
    return out


def uidls(c):
    s, raw, _ = c.multi("UIDL")
    need(s.startswith(b"+OK"), f"UIDL: {s!r}")
    return parse_scan(raw)


def still_serves():
    with session() as c:
        st = c.ok("STAT")
        need(int(st.split()[1]) == len(present_ids()), f"STAT after the hostile input: {st!r}")
        c.quit()


def capa(c):
    s, raw, _ = c.multi("CAPA")
    need(s.startswith(b"+OK"), f"CAPA: {s!r}")
    return [l.decode().strip() for l in raw]


def capa_has(caps, name):
    return any(x.split()[0].upper() == name for x in caps if x)


def sasl_mechs(caps):
    for x in caps:
        p = x.split()
        if p and p[0].upper() == "SASL":
            return [m.upper() for m in p[1:]]
    return []


# ---------------------------------------------------------------- poplib with --source

class SourcePOP3(poplib.POP3):
    def _create_socket(self, timeout):
        src = (ARGS.source, 0) if ARGS.source else None
        return socket.create_connection((self.host, self.port), timeout, source_address=src)


class SourcePOP3_SSL(poplib.POP3_SSL):
    def _create_socket(self, timeout):
        src = (ARGS.source, 0) if ARGS.source else None
        sock = socket.create_connection((self.host, self.port), timeout, source_address=src)
        return self.context.wrap_socket(sock, server_hostname=self.host)


# ---------------------------------------------------------------- checks

def check(fn):
    CHECKS.append(fn)
    return fn


@check
def greeting_capa_before_tls():
    """Greeting; CAPA on the plain port before STLS: STLS and the base capabilities; with
    plaintext login refused, no USER and no SASL mechanism, and USER/AUTH get -ERR [AUTH]."""
    if ARGS.plaintext_allowed:
        return
    with Conn() as c:
        g = c.greeting.decode(errors="replace").strip()
        note(f"greeting: {g}")
        if ringmail():
            want = f"+OK {ARGS.hostname} ringmail POP3 ready."
            need(g == want, f"greeting {g!r}, want {want!r}")
        caps = capa(c)
        note("CAPA before STLS: " + ", ".join(caps))
        for cap in ("TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE", "STLS"):
            need(capa_has(caps, cap), f"CAPA before STLS lacks {cap}: {caps}")
        need(not capa_has(caps, "USER"), f"CAPA lists USER before STLS: {caps}")
        need(not sasl_mechs(caps), f"CAPA lists SASL mechanisms before STLS: {caps}")
        if ringmail():
            need("IMPLEMENTATION ringmail" in caps, f"no IMPLEMENTATION ringmail: {caps}")
        r = c.cmd(f"USER {ARGS.user}")
        need(r.startswith(b"-ERR [AUTH]"), f"USER before STLS: {r!r}")
        r = c.cmd("AUTH PLAIN " + base64.b64encode(f"\0{ARGS.user}\0{ARGS.password}".encode()).decode(),
                  log_as="AUTH PLAIN <credentials>")
        need(r.startswith(b"-ERR [AUTH]"), f"AUTH PLAIN before STLS: {r!r}")
        r = c.cmd(f"PASS {ARGS.password}", log_as="PASS <password>")
        need(r.startswith(b"-ERR"), f"PASS before STLS: {r!r}")
        c.quit()


@check
def plaintext_login_allowed():
    """--plaintext-allowed (the flag, or Dovecot on a client address it trusts): CAPA on
    the plain port lists STLS, USER and SASL PLAIN LOGIN; USER/PASS and AUTH PLAIN work
    without TLS; poplib logs in."""
    if not ARGS.plaintext_allowed:
        return
    with Conn() as c:
        caps = capa(c)
        note("CAPA without TLS, plaintext allowed: " + ", ".join(caps))
        need(capa_has(caps, "STLS") and capa_has(caps, "USER"), f"CAPA: {caps}")
        need({"PLAIN", "LOGIN"} <= set(sasl_mechs(caps)), f"SASL mechanisms: {caps}")
        c.login()
        c.ok("STAT")
        c.quit()
    with Conn() as c:
        c.ok("AUTH PLAIN " + base64.b64encode(f"\0{ARGS.user}\0{ARGS.password}".encode()).decode(),
             log_as="AUTH PLAIN <credentials>")
        c.quit()
    p = SourcePOP3(ARGS.host, ARGS.port, timeout=TIMEOUT)
    p.user(ARGS.user)
    p.pass_(ARGS.password)
    n, size = p.stat()
    need(n == len(present_ids()), f"poplib stat: {n} messages")
    p.quit()


@check
def poplib_stls_login():
    """poplib: POP3 + stls(); CAPA after STLS has USER and SASL PLAIN LOGIN and no STLS;
    user/pass_; CAPA after login (TOP, UIDL, no STLS); STAT counts what was populated."""
    p = SourcePOP3(ARGS.host, ARGS.port, timeout=TIMEOUT)
    need(p.getwelcome().startswith(b"+OK"), f"welcome {p.getwelcome()!r}")
    caps = p.capa()
    need("STLS" in caps, f"poplib capa: {caps}")
    p.stls(tls_context())
    caps = p.capa()
    note("CAPA after STLS: " + ", ".join(sorted(caps)))
    need("STLS" not in caps, "CAPA still lists STLS after STLS")
    need("USER" in caps, f"no USER after STLS: {caps}")
    need({"PLAIN", "LOGIN"} <= {m.upper() for m in caps.get("SASL", [])}, f"SASL after STLS: {caps}")
    need(p.user(ARGS.user).startswith(b"+OK"), "USER")
    need(p.pass_(ARGS.password).startswith(b"+OK"), "PASS")
    caps = p.capa()
    note("CAPA after login: " + ", ".join(sorted(caps)))
    need("TOP" in caps and "UIDL" in caps and "STLS" not in caps, f"CAPA after login: {caps}")
    n, size = p.stat()
    need(n == len(present_ids()), f"STAT {n} messages, want {len(present_ids())}")
    need(size == sum(len(expected(t)) for t in present_ids()), f"STAT {size} octets")
    p.quit()


@check
def poplib_ssl_login():
    """poplib POP3_SSL: greeting, CAPA without STLS (already TLS), login, STAT, NOOP."""
    p = SourcePOP3_SSL(ARGS.host, ARGS.tls_port, timeout=TIMEOUT, context=tls_context())
    need(p.getwelcome().startswith(b"+OK"), f"welcome {p.getwelcome()!r}")
    caps = p.capa()
    need("STLS" not in caps, f"CAPA over implicit TLS lists STLS: {caps}")
    need("USER" in caps, f"CAPA over implicit TLS lacks USER: {caps}")
    p.user(ARGS.user)
    p.pass_(ARGS.password)
    need(p.stat()[0] == len(present_ids()), "STAT count")
    need(p.noop().startswith(b"+OK"), "NOOP")
    p.quit()


def b64(s):
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


@check
def auth_sasl():
    """AUTH (RFC 5034) over TLS: "AUTH" lists PLAIN and LOGIN; PLAIN with and without
    initial response; LOGIN with and without initial response; "*" cancels."""
    plain = b64(f"\0{ARGS.user}\0{ARGS.password}")
    with Conn(tls=True) as c:
        s, raw, _ = c.multi("AUTH")
        need(s.startswith(b"+OK"), f"AUTH: {s!r}")
        mechs = {l.decode().strip().upper() for l in raw}
        need({"PLAIN", "LOGIN"} <= mechs, f"AUTH lists {mechs}")
        c.ok(f"AUTH PLAIN {plain}", log_as="AUTH PLAIN <credentials>")
        c.ok("STAT")
        c.quit()
    with Conn(tls=True) as c:
        r = c.cmd("AUTH PLAIN")
        need(r.startswith(b"+ ") or r == b"+\r\n", f"AUTH PLAIN without IR: {r!r}")
        c.ok(plain, log_as="<credentials>")
        c.quit()
    with Conn(tls=True) as c:
        r = c.cmd("AUTH LOGIN")
        need(r.startswith(b"+"), f"AUTH LOGIN: {r!r}")
        r = c.cmd(b64(ARGS.user))
        need(r.startswith(b"+"), f"AUTH LOGIN user: {r!r}")
        c.ok(b64(ARGS.password), log_as="<password>")
        c.ok("NOOP")
        c.quit()
    with Conn(tls=True) as c:
        r = c.cmd(f"AUTH LOGIN {b64(ARGS.user)}")
        need(r.startswith(b"+"), f"AUTH LOGIN with initial response: {r!r}")
        c.ok(b64(ARGS.password), log_as="<password>")
        c.quit()
    with Conn(tls=True) as c:
        r = c.cmd("AUTH PLAIN")
        need(r.startswith(b"+"), f"AUTH PLAIN: {r!r}")
        c.err("*", "cancelled AUTH")
        c.ok(f"AUTH PLAIN {plain}", log_as="AUTH PLAIN <credentials>")
        c.quit()


@check
def bad_password():
    """A wrong password: -ERR [AUTH] for USER/PASS, AUTH PLAIN and AUTH LOGIN; an unknown
    user the same; the right one still works on the same connection afterwards."""
    with Conn(tls=True) as c:
        c.ok(f"USER {ARGS.user}")
        r = c.cmd("PASS wrong-password")
        need(r.startswith(b"-ERR [AUTH]"), f"bad PASS: {r!r}")
        if ringmail():
            need(r == b"-ERR [AUTH] Authentication failed.\r\n", f"bad PASS text: {r!r}")
        r = c.cmd("AUTH PLAIN " + b64(f"\0{ARGS.user}\0nope"))
        need(r.startswith(b"-ERR [AUTH]"), f"bad AUTH PLAIN: {r!r}")
        c.ok(f"USER nobody-{os.getpid()}@example.org")
        r = c.cmd("PASS whatever")
        need(r.startswith(b"-ERR [AUTH]"), f"unknown user: {r!r}")
        c.login()
        c.quit()
    with Conn(tls=True) as c:
        c.cmd("AUTH LOGIN")
        c.cmd(b64(ARGS.user))
        r = c.cmd(b64("nope"))
        need(r.startswith(b"-ERR [AUTH]"), f"bad AUTH LOGIN: {r!r}")


@check
def dele_dropped_connection():
    """DELE two messages and RETR one, then close the socket without QUIT: nothing is
    deleted (same count, same UIDLs, files still there). Whether the RETRieved one became
    \\Seen is only noted: RFC 1939 says nothing, and Dovecot 2.3 saves the \\Seen flags of
    a dropped session (client_destroy) while issue 12 asks it only of QUIT."""
    before_files = maildir_files()
    with session() as c:
        before = uidls(c)
        c.ok("DELE 1")
        c.ok("DELE 2")
        s, _, _ = c.multi("RETR 3")
        need(s.startswith(b"+OK"), f"RETR 3: {s!r}")
    # Closed without QUIT: the next session may have to wait for the server to notice.
    time.sleep(0.3)
    with session() as c:
        after = uidls(c)
        need(after == before, f"UIDL after a dropped connection: {after} != {before}")
        c.quit()
    after_files = maildir_files()
    need(set(after_files) == set(before_files), f"files {sorted(before_files)} -> {sorted(after_files)}")
    seen = [t for t, p in after_files.items() if re.search(r":2,[A-Z]*S", p)]
    note(f"\\Seen after RETR and a dropped connection: {seen or 'none'}")


@check
def sizes_and_content():
    """STAT/LIST sizes equal the CRLF bytes RETR sends; RETR (un-stuffed) equals the file
    with CRLF line ends; lines starting with "." arrive stuffed; LIST n agrees; after QUIT
    every RETRieved message is \\Seen in the Maildir (a flag in the file name)."""
    with session() as c:
        st = c.ok("STAT").split()
        count, octets = int(st[1]), int(st[2])
        need(count == len(present_ids()), f"STAT count {count}")
        s, raw, _ = c.multi("LIST")
        need(s.startswith(b"+OK"), f"LIST: {s!r}")
        sizes = {k: int(v) for k, v in parse_scan(raw).items()}
        need(sorted(sizes) == list(range(1, count + 1)), f"LIST numbers {sorted(sizes)}")
        need(sum(sizes.values()) == octets, f"LIST sizes sum {sum(sizes.values())} != STAT {octets}")
        got_ids = set()
        for n in range(1, count + 1):
            one = c.ok(f"LIST {n}").split()
            need(one[1:3] == [b"%d" % n, b"%d" % sizes[n]], f"LIST {n}: {one}")
            s, raw, data = c.multi(f"RETR {n}")
            need(s.startswith(b"+OK"), f"RETR {n}: {s!r}")
            if ringmail():
                need(s == b"+OK %d octets\r\n" % sizes[n], f"RETR {n} status {s!r}")
            m = re.search(rb"\nX-Test-Id: (\w+)", data)
            need(m, f"message {n}: no X-Test-Id")
            tid = m.group(1).decode()
            got_ids.add(tid)
            want = expected(tid)
            need(data == want, f"RETR {n} ({tid}): {len(data)} octets differ from the stored {len(want)}"
                 f" (first difference at {next((i for i in range(min(len(data), len(want))) if data[i] != want[i]), min(len(data), len(want)))})")
            need(sizes[n] == len(want), f"LIST {n} ({tid}) says {sizes[n]}, RETR sends {len(want)}")
            dot_lines = sum(1 for l in want.split(b"\r\n")[:-1] if l.startswith(b"."))
            stuffed = sum(1 for l in raw if l.startswith(b".."))
            need(stuffed == dot_lines, f"{tid}: {stuffed} stuffed lines on the wire, {dot_lines} start with '.'")
        need(got_ids == set(present_ids()), f"messages {sorted(got_ids)}")
        c.quit()
    deadline = time.time() + 5
    while True:
        files = maildir_files()
        unseen = [t for t, p in files.items() if not re.search(r":2,[A-Z]*S", p)]
        if not unseen or time.time() > deadline:
            break
        time.sleep(0.2)
    need(not unseen, f"RETRieved and QUIT, but not \\Seen in the Maildir: {unseen} ({[files[t] for t in unseen][:2]})")


@check
def poplib_retr_top_uidl():
    """poplib over STLS: list, retr (its un-stuffed lines) and top of every message equal
    the stored lines; uidl equals the raw UIDL."""
    p = SourcePOP3(ARGS.host, ARGS.port, timeout=TIMEOUT)
    p.stls(tls_context())
    p.user(ARGS.user)
    p.pass_(ARGS.password)
    _, listing, _ = p.list()
    sizes = {int(a): int(b) for a, b in (l.split() for l in listing)}
    _, uid_lines, _ = p.uidl()
    ids = {}
    for n in sorted(sizes):
        _, lines, _ = p.retr(n)
        data = b"".join(l + b"\r\n" for l in lines)
        tid = re.search(rb"\nX-Test-Id: (\w+)", data).group(1).decode()
        ids[n] = tid
        need(data == expected(tid), f"poplib retr {n} ({tid}) differs")
        need(len(data) == sizes[n], f"poplib list {n}: {sizes[n]} != {len(data)}")
        _, lines, _ = p.top(n, 2)
        want = expected(tid)
        head, _, body = want.partition(b"\r\n\r\n")
        want_top = head + b"\r\n\r\n" + b"".join(l + b"\r\n" for l in body.split(b"\r\n")[:-1][:2])
        need(b"".join(l + b"\r\n" for l in lines) == want_top, f"poplib top {n} 2 ({tid}) differs")
    p.quit()
    with session() as c:
        raw = uidls(c)
        need({int(a): b for a, b in (l.decode().split() for l in uid_lines)} == raw, "poplib uidl != raw UIDL")
        c.quit()


@check
def top():
    """TOP n 0 is the header and the blank line; TOP n 3 adds the first three body lines;
    TOP n 100 of a short message is the whole message; a bad line count is -ERR."""
    with session() as c:
        for n, tid in numbering(c).items():
            want = expected(tid)
            head, _, body = want.partition(b"\r\n\r\n")
            body_lines = [l + b"\r\n" for l in body.split(b"\r\n")[:-1]]
            for k in (0, 3):
                s, _, data = c.multi(f"TOP {n} {k}")
                need(s.startswith(b"+OK"), f"TOP {n} {k}: {s!r}")
                w = head + b"\r\n\r\n" + b"".join(body_lines[:k])
                need(data == w, f"TOP {n} {k} ({tid}): {data[-120:]!r} want ...{w[-120:]!r}")
            if tid == "toplines":
                s, _, data = c.multi(f"TOP {n} 100")
                need(data == want, f"TOP {n} 100 is not the whole message")
                c.err(f"TOP {n} -1")
                c.err(f"TOP {n} abc")
                c.err(f"TOP {n}")
        c.quit()


@check
def uidl():
    """UIDL: 16 hex digits, Dovecot's default %08Xu%08Xv (UID, UIDVALIDITY), which Dovecot
    2.3 prints in LOWER case (its var_expand X modifier is printf %x: "000000016b163ec2"),
    so lower case is required here; unique, one UIDVALIDITY, UIDs rising with the message
    number, UIDL n equal to the listing, the same in a second session."""
    with session() as c:
        first = uidls(c)
        need(first, "UIDL lists no message")
        for n, v in first.items():
            need(re.fullmatch(r"[0-9a-f]{16}", v), f"UIDL {n} {v!r}: not 16 lower-case hex digits as Dovecot's")
            one = c.ok(f"UIDL {n}").split()
            need(one[1:] == [b"%d" % n, v.encode()], f"UIDL {n}: {one}")
        need(len(set(first.values())) == len(first), "UIDLs not unique")
        need(len({v[8:] for v in first.values()}) == 1, f"more than one UIDVALIDITY: {first}")
        uids = [int(first[n][:8], 16) for n in sorted(first)]
        need(uids == sorted(uids) and uids[0] > 0, f"UIDs {uids}")
        note(f"UIDLs: {[first[n] for n in sorted(first)][:3]}...")
        c.quit()
    with session() as c:
        need(uidls(c) == first, "UIDLs changed between sessions")
        c.quit()


@check
def dele_rset():
    """DELE n: the message is gone from LIST/STAT/RETR/TOP/UIDL and a second DELE is -ERR;
    RSET brings it back; after QUIT nothing was deleted."""
    with session() as c:
        st0 = c.ok("STAT").split()
        sizes = {k: int(v) for k, v in parse_scan(c.multi("LIST")[1]).items()}
        c.ok("DELE 1")
        r = c.err("RETR 1")
        if ringmail():
            need(r == b"-ERR Message is deleted.\r\n", f"RETR of a deleted message: {r!r}")
        else:
            note(f"RETR of a deleted message: {r.strip()!r}")
        c.err("DELE 1")
        c.err("LIST 1")
        c.err("TOP 1 0")
        c.err("UIDL 1")
        st = c.ok("STAT").split()
        need(int(st[1]) == int(st0[1]) - 1 and int(st[2]) == int(st0[2]) - sizes[1], f"STAT after DELE: {st}")
        s, raw, _ = c.multi("LIST")
        need(1 not in parse_scan(raw), "LIST still shows the deleted message")
        c.ok("RSET")
        need(c.ok("STAT").split() == st0, "STAT after RSET")
        c.ok("LIST 1")
        c.quit()
    with session() as c:
        need(c.ok("STAT").split() == st0, "STAT in the next session")
        c.quit()


@check
def in_use():
    """A second session on the mailbox gets -ERR [IN-USE] at login; after the first QUITs,
    a new session logs in."""
    a = session()
    try:
        with Conn(tls=True) as b:
            b.sock.settimeout(LOCK_TIMEOUT)
            b.ok(f"USER {ARGS.user}")
            r = b.cmd(f"PASS {ARGS.password}", log_as="PASS <password>")
            need(r.startswith(b"-ERR [IN-USE]"), f"second session: {r!r}")
        a.ok("STAT")
        a.quit()
    finally:
        a.close()
    with Conn(tls=True) as c:
        c.login()
        c.ok("STAT")
        c.quit()


@check
def dele_quit():
    """DELE the two victims and QUIT: their files leave the Maildir, a new session no
    longer lists them, and the others keep their numbers' order and UIDLs."""
    with session() as c:
        num = numbering(c)
        before = uidls(c)
        victims = [n for n, t in num.items() if t.startswith("victim")]
        need(len(victims) == 2, f"victims {victims}: populate a fresh Maildir for every run")
        for n in victims:
            c.ok(f"DELE {n}")
        r = c.quit()
    DELETED.update(num[n] for n in victims)
    keep = {num[n]: before[n] for n in num if n not in victims}
    deadline = time.time() + 5
    while any(t in maildir_files() for t in DELETED) and time.time() < deadline:
        time.sleep(0.2)
    left = [t for t in maildir_files() if t in DELETED]
    need(not left, f"files of DELEted messages still in the Maildir after QUIT: {left}")
    with session() as c:
        num2 = numbering(c)
        after = uidls(c)
        need(sorted(num2.values()) == sorted(keep), f"messages after DELE+QUIT: {sorted(num2.values())}")
        need({num2[n]: after[n] for n in num2} == keep, "UIDLs of the kept messages changed")
        c.quit()


@check
def hostile_stls_pipelined():
    """STLS with commands after it in the same write: the server must not answer them,
    neither in plaintext nor after the handshake (RFC 2595 section 4 / RFC 3207's rule).
    Dovecot 2.3 closes such a connection instead, also safe: accepted for it, noted."""
    with Conn() as c:
        c.send(b"STLS\r\nAPOP john x\r\nSTAT\r\nUSER john\r\n")
        r = c.readline()
        need(r.startswith(b"+OK"), f"STLS: {r!r}")
        time.sleep(0.3)
        c.sock.setblocking(False)
        try:
            extra = c.sock.recv(4096)
        except (BlockingIOError, ssl.SSLWantReadError):
            extra = b""
        c.sock.setblocking(True)
        c.sock.settimeout(TIMEOUT)
        need(extra == b"" and c.buf == b"", f"plaintext after the STLS +OK: {extra[:100]!r}")
        try:
            c.sock = tls_context().wrap_socket(c.sock, server_hostname=ARGS.host)
        except (ssl.SSLError, OSError) as e:
            need(not ringmail(), f"TLS handshake after STLS with pipelined commands: {e}")
            note(f"the server closed the connection instead of the TLS handshake: {e}")
            still_serves()
            return
        caps = capa(c)   # the first reply over TLS must be CAPA's, not -ERR for APOP/STAT
        need(not capa_has(caps, "STLS"), f"CAPA over TLS: {caps}")
        r = c.cmd(f"USER {ARGS.user}")
        need(r.startswith(b"+OK"), f"USER over TLS: {r!r}")
        r = c.cmd(f"PASS {ARGS.password}", log_as="PASS <password>")
        need(r.startswith(b"+OK"), f"PASS: {r!r} (was a pipelined USER executed?)")
        c.quit()
    still_serves()


@check
def hostile_long_line():
    """A 300-octet line (RFC 2449 section 4: commands up to 255 octets): -ERR, the line is
    skipped, the session goes on (before and after login)."""
    def too_long(c, line, what):
        # The reply must come without further input: wait 5 s, then say whether it only
        # came with the next command (a reply held back until more input arrives).
        c.sock.settimeout(5)
        try:
            c.err(line, what)
        except (socket.timeout, TimeoutError):
            c.sock.settimeout(TIMEOUT)
            r = c.cmd("NOOP")
            raise CheckFailed(f"{what} (sent with its CRLF in one write): no reply within 5 s; "
                              f"the next command (NOOP) then got {r!r} first")
        c.sock.settimeout(TIMEOUT)

    with Conn(tls=True) as c:
        too_long(c, "X" * 298, "300-octet line before login")
        c.err("X" * 253, "255-octet unknown command")  # the longest line RFC 2449 allows
        c.login()
        too_long(c, "Y" * 298, "300-octet line after login")
        too_long(c, "RETR " + "1" * 2000, "2005-octet RETR")
        c.ok("NOOP")
        need(int(c.ok("STAT").split()[1]) == len(present_ids()), "STAT")
        c.quit()
    still_serves()


def count_until_closed(c, n):
    """Sends up to n unknown commands one by one; returns (the number of ordinary -ERR
    replies before the close, the last line). The "Too many" line may be the reply to the
    last command or follow the last ordinary reply (Dovecot)."""
    last = b""
    answered = 0
    for i in range(n):
        try:
            c.send(b"XYZZY%d\r\n" % i)
            r = c.readline()
        except (EOFError, OSError):
            return answered, last
        need(r.startswith(b"-ERR"), f"unknown command {i + 1}: {r!r}")
        last = r
        if b"Too many" not in r:
            answered += 1
        if b"Too many" in r:
            # The close may come with a second line or right after this one.
            try:
                c.sock.settimeout(3)
                while True:
                    last = c.readline()
            except (EOFError, OSError):
                return answered, last
    return answered, last


@check
def hostile_bad_commands():
    """25 unknown commands after login: -ERR each, then "-ERR Too many bad commands." and
    the connection closes (ringmail: at the 20th, as its 20th reply or right after it;
    Dovecot 2.3 after the 21st); before login as well (Dovecot's login process: after 3)."""
    with session() as c:
        answered, last = count_until_closed(c, 25)
        note(f"after login: {answered} ordinary -ERR replies, then {last.strip()!r} and the close")
        need(answered < 25, "connection still open after 25 unknown commands")
        need(b"Too many bad commands" in last, f"last line {last!r}")
        if ringmail():
            need(answered in (19, 20), f"closed after {answered} ordinary -ERR replies, want 20 bad commands")
    with Conn(tls=True) as c:
        answered, last = count_until_closed(c, 25)
        note(f"before login: {answered} ordinary -ERR replies, then {last.strip()!r} and the close")
        need(answered < 25 and b"Too many" in last, f"before login: {answered} answers, {last!r}")
        if ringmail():
            need(answered in (19, 20), f"before login: closed after {answered} ordinary replies, want 20 bad commands")
    still_serves()


@check
def hostile_message_numbers():
    """RETR/LIST/DELE/TOP/UIDL with 0, -1, 99999999999999999999, abc, one beyond the count,
    none, 4294967297 (2^32 + 1): -ERR; the session and the server go on."""
    n = len(present_ids())
    bad = ["0", "-1", "99999999999999999999", "abc", str(n + 1), "4294967297", "1x", "+1", "0x1", ""]
    # One session per command: every -ERR counts towards the bad-command limit.
    for verb in ("RETR %s", "LIST %s", "UIDL %s", "TOP %s 0", "DELE %s"):
        with session() as c:
            for arg in bad:
                if arg or verb.startswith(("RETR", "DELE", "TOP")):
                    c.err((verb % arg).rstrip())
            need(c.ok("STAT").split()[1] == b"%d" % n, "STAT after the bad numbers")
            c.quit()
    still_serves()


@check
def wrong_state():
    """Transaction commands before login and login commands after it: -ERR; APOP is not
    offered; STLS on a TLS connection is -ERR."""
    before = ["STAT", "LIST", "RETR 1", "DELE 1", "UIDL", "TOP 1 0", "RSET", "PASS x", "STLS",
              "APOP john 0123456789abcdef0123456789abcdef"]
    # Two per connection: Dovecot's login process closes after three bad commands.
    for i in range(0, len(before), 2):
        with Conn(tls=True) as c:
            for cmd in before[i:i + 2]:
                c.err(cmd, f"{cmd} before login")
    with Conn(tls=True) as c:
        c.login()
        for cmd in (f"USER {ARGS.user}", "PASS x", "AUTH PLAIN " + b64(f"\0{ARGS.user}\0{ARGS.password}"),
                    "STLS", "APOP john 0123456789abcdef0123456789abcdef"):
            c.err(cmd, f"{cmd.split()[0]} after login")
        c.ok("STAT")
        c.quit()
    still_serves()


@check
def slow_clients():
    """--idle-timeout N (the server runs with N-second login and idle timeouts): a client
    silent before login, one silent after login with a DELE pending, and one that sends
    half a command line are each disconnected after about N s (a -ERR line first, if
    any), and the DELE of the timed-out session deletes nothing."""
    if not ARGS.idle_timeout:
        return
    n_before = len(present_ids())

    def wait_closed(c, what):
        t0 = time.time()
        c.sock.settimeout(ARGS.idle_timeout + 10)
        lines = []
        try:
            while True:
                lines.append(c.readline())
        except EOFError:
            pass
        except (socket.timeout, TimeoutError):
            raise CheckFailed(f"{what}: still open {ARGS.idle_timeout + 10} s later")
        took = time.time() - t0
        need(took >= ARGS.idle_timeout * 0.8, f"{what}: closed after {took:.1f} s, before the timeout")
        need(all(l.startswith(b"-ERR") for l in lines), f"{what}: {lines}")
        note(f"{what}: closed after {took:.1f} s with {[l.strip() for l in lines]}")

    with Conn(tls=True) as c:
        wait_closed(c, "silent before login")
    with session() as c:
        c.ok("DELE 1")
        wait_closed(c, "silent after login, DELE 1 pending")
    with session() as c:
        c.send(b"NOO")
        wait_closed(c, "half a command line")
    with session() as c:
        need(int(c.ok("STAT").split()[1]) == n_before, "the timed-out session's DELE deleted a message")
        c.quit()


TRANSCRIPT = [
    # (command, expected status, multi-line when +OK)
    ("CAPA", "+OK", True),
    ("STAT", "-ERR", False),
    ("NOOP", "-ERR", False),
    ("APOP john 0123456789abcdef0123456789abcdef", "-ERR", False),
    ("USER", "-ERR ringmail", False),  # Dovecot 2.3 accepts an empty user name here
    (f"USER %(user)s", "+OK", False),
    ("PASS wrong", "-ERR", False),
    (f"USER %(user)s", "+OK", False),
    ("PASS %(password)s", "+OK", False),
    ("CAPA", "+OK", True),
    ("STAT", "+OK", False),
    ("LIST", "+OK", True),
    ("LIST 1", "+OK", False),
    ("LIST 0", "-ERR", False),
    ("LIST 99999", "-ERR", False),
    ("UIDL", "+OK", True),
    ("UIDL 1", "+OK", False),
    ("UIDL abc", "-ERR", False),
    ("TOP 1 0", "+OK", True),
    ("TOP 1 1", "+OK", True),
    ("TOP 1", "-ERR", False),
    ("RETR 1", "+OK", True),
    ("RETR 0", "-ERR", False),
    ("RETR -1", "-ERR", False),
    ("RETR 99999999999999999999", "-ERR", False),
    ("RETR abc", "-ERR", False),
    ("DELE 1", "+OK", False),
    ("DELE 1", "-ERR", False),
    ("RETR 1", "-ERR", False),
    ("TOP 1 0", "-ERR", False),
    ("NOOP", "+OK", False),
    ("RSET", "+OK", False),
    ("RETR 1", "+OK", True),
    ("USER x", "-ERR", False),
    ("STLS", "-ERR", False),
    ("LAST", "-ERR", False),
    ("XYZZY", "-ERR", False),
    ("", "-ERR", False),
    ("RSET", "+OK", False),
    ("QUIT", "+OK", False),
]


@check
def transcript():
    """Every command and error once, on the plain port with STLS, printed request by
    response (the issue's transcripts); each reply's status is asserted. RSET before QUIT:
    nothing is deleted."""
    with Conn() as c:
        print(f"  transcript ({ARGS.server_kind}), plain port:", flush=True)
        c.echo = True
        c.log("S:", c.greeting)
        capa(c)
        c.stls()
        print("    (TLS)", flush=True)
        wrong = []
        for text, want, multi in TRANSCRIPT:
            line = text % {"user": ARGS.user, "password": ARGS.password}
            if text.startswith("PASS %"):
                r = c.cmd(line, log_as="PASS <password>")
            else:
                r = c.cmd(line)
            if r.startswith(b"+OK") and multi:
                c.multiline()
            if want.endswith(" ringmail"):
                if not ringmail():
                    continue
                want = want.split()[0]
            if not r.startswith(want.encode()):
                wrong.append(f"{line!r}: {r.strip()!r}, want {want}")
        need(not wrong, "; ".join(wrong))


# ---------------------------------------------------------------- main

def main():
    global ARGS
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--populate", metavar="MAILDIR", help="write the test messages into MAILDIR/new and exit")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, help="plain port (STLS)")
    ap.add_argument("--tls-port", type=int, help="implicit TLS port")
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--maildir", help="the user's Maildir (to check files and flags)")
    ap.add_argument("--server-kind", choices=("dovecot", "ringmail", "other"), default="other")
    ap.add_argument("--hostname", default="mx.test", help="the server's --hostname (greeting)")
    ap.add_argument("--source", help="local address to connect from")
    ap.add_argument("--plaintext-allowed", action="store_true",
                    help="login without TLS is allowed on the plain port: check that instead of the refusal")
    ap.add_argument("--idle-timeout", type=float, default=0,
                    help="the server's login and idle timeouts in seconds: check that slow clients are cut off")
    ap.add_argument("--only", help="comma-separated check names")
    ap.add_argument("--list", action="store_true", help="list the checks")
    ARGS = ap.parse_args()
    if ARGS.list:
        for fn in CHECKS:
            print(fn.__name__)
        return 0
    if ARGS.populate:
        populate(ARGS.populate)
        return 0
    if not (ARGS.port and ARGS.tls_port and ARGS.user and ARGS.password is not None and ARGS.maildir):
        ap.error("--port, --tls-port, --user, --password and --maildir are required")
    only = set(ARGS.only.split(",")) if ARGS.only else None
    print(f"pop3_clients: {ARGS.host}:{ARGS.port} (STLS) and :{ARGS.tls_port} (TLS) as {ARGS.user} "
          f"({ARGS.server_kind}{', plaintext allowed' if ARGS.plaintext_allowed else ''})")
    passed, failed = [], []
    for fn in CHECKS:
        if only and fn.__name__ not in only:
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
            for line in Conn.transcript[-16:]:
                print("    " + line)
    print(f"\npop3_clients: {len(passed)} passed, {len(failed)} failed")
    for name, why in failed:
        print(f"  failed: {name}: {why}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
