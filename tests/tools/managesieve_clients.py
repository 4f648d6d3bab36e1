#!/usr/bin/env python3
"""ManageSieve (RFC 5804) end to end over raw sockets, against `ringmail serve` (issue 14).

Started by managesieve_test.sh with a server whose ManageSieve port has STARTTLS (the
self-signed certificate), user john@example.org (--password) and small script limits
(--max-scripts, --max-script-bytes). Every command and response code: the greeting's
capabilities before and after TLS, ENCRYPT-NEEDED before TLS, AUTHENTICATE PLAIN and LOGIN
(initial response, continuations, "*" cancel, a wrong password), HAVESPACE, PUTSCRIPT with a
syntax error (NO with line/column), a warning (OK (WARNINGS)), CHECKSCRIPT, LISTSCRIPTS,
SETACTIVE (and the .dovecot.sieve symlink on disk), GETSCRIPT, DELETESCRIPT of the active
script (NO (ACTIVE)), RENAMESCRIPT (NONEXISTENT, ALREADYEXISTS), QUOTA/MAXSCRIPTS and
QUOTA/MAXSIZE, NOOP with TAG, UNAUTHENTICATE, LOGOUT, pipelined commands, a synchronizing
literal, and hostile input (a 4 GiB literal announcement, an unterminated quote, NUL).

Prints "PASS name" / "FAIL name: why" per check; exits 1 if any failed.
"""
import argparse
import base64
import os
import re
import socket
import ssl
import sys
import time

TIMEOUT = 15
ARGS = None
RESULTS = []


class Fail(Exception):
    pass


def need(cond, why):
    if not cond:
        raise Fail(why)


class Client:
    """One ManageSieve connection: responses are (lines, status) where `lines` holds the
    data lines before the OK/NO/BYE (a literal's octets joined to its line) and `status`
    the final line, its human-readable literal (if any) included."""

    def __init__(self, source=None):
        src = (source, 0) if source else None
        self.sock = socket.create_connection((ARGS.host, ARGS.port), timeout=TIMEOUT, source_address=src)
        self.buf = b""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise Fail("connection closed by the server")
        self.buf += data

    def read_line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read_exact(self, n):
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_item(self):
        """One line with the literals at its line ends read in: each "{N}" replaced by its
        N octets, followed by the rest (the next line)."""
        out = b""
        seg = self.read_line()
        while True:
            m = re.search(rb"\{(\d+)\}$", seg)
            if not m:
                return out + seg
            out += seg[: m.start()] + self.read_exact(int(m.group(1)))
            seg = self.read_line()

    def read_response(self):
        lines = []
        while True:
            line = self.read_item()
            if re.match(rb"^(OK|NO|BYE)( |$)", line):
                return lines, line
            lines.append(line)

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def cmd(self, data):
        """Sends `data` and its CRLF (every caller leaves it off: a script literal ends in a
        line end of its own)."""
        if isinstance(data, str):
            data = data.encode()
        self.send(data + b"\r\n")
        return self.read_response()

    def greeting(self):
        return self.read_response()

    def starttls(self):
        lines, status = self.cmd("STARTTLS")
        need(status.startswith(b"OK"), f"STARTTLS: {status!r}")
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.sock = ctx.wrap_socket(self.sock, server_hostname="mx.test")
        self.buf = b""
        # RFC 5804 2.2: the capabilities again, then OK.
        return self.read_response()

    def login(self, user=None, password=None):
        token = base64.b64encode(b"\0" + (user or ARGS.user).encode() + b"\0" + (password or ARGS.password).encode())
        return self.cmd(b'AUTHENTICATE "PLAIN" "' + token + b'"')


def caps(lines):
    out = {}
    for line in lines:
        m = re.match(rb'^"([^"]+)"(?: (.*))?$', line)
        need(m, f"capability line: {line!r}")
        value = m.group(2)
        if value is not None:
            need(value.startswith(b'"') and value.endswith(b'"'), f"capability value: {line!r}")
            value = value[1:-1].decode()
        out[m.group(1).decode()] = value
    return out


def home():
    local, domain = ARGS.user.split("@")
    return os.path.join(ARGS.mail_root, domain, local)


def literal(data):
    if isinstance(data, str):
        data = data.encode()
    return b"{%d+}\r\n" % len(data) + data


def logged_in():
    c = Client()
    c.greeting()
    c.starttls()
    _, status = c.login()
    need(status.startswith(b"OK"), f"login: {status!r}")
    return c


GOOD = 'require ["fileinto"];\r\nif header :contains "subject" "[ms-test]" {\r\n  fileinto "Test";\r\n}\r\n'
BAD = 'require ["fileinto"];\r\nif header :contains "subject" {\r\n  fileinto "Test";\r\n}\r\n'
WARN = 'if exists "a:b" {\r\n  keep;\r\n}\r\n'


def check(fn):
    try:
        fn()
        RESULTS.append((fn.__name__, None))
        print(f"PASS {fn.__name__}", flush=True)
    except (Fail, OSError, ssl.SSLError, ValueError) as e:
        RESULTS.append((fn.__name__, str(e)))
        print(f"FAIL {fn.__name__}: {e}", flush=True)


def greeting_before_tls():
    """The greeting is the capability list then OK (RFC 5804 1.7): IMPLEMENTATION, SIEVE,
    STARTTLS, MAXREDIRECTS, VERSION "1.0"; SASL empty before TLS (from 127.0.0.2, not
    trusted); AUTHENTICATE answers NO (ENCRYPT-NEEDED); commands that need a login, NO."""
    c = Client(ARGS.source)
    lines, status = c.greeting()
    need(status.startswith(b"OK"), f"greeting status: {status!r}")
    cap = caps(lines)
    need(cap.get("IMPLEMENTATION") == "ringmail", f"IMPLEMENTATION: {cap}")
    need("fileinto" in cap.get("SIEVE", "").split(), f"SIEVE: {cap.get('SIEVE')}")
    need("STARTTLS" in cap, "no STARTTLS before TLS")
    need(cap.get("VERSION") == "1.0", f"VERSION: {cap.get('VERSION')}")
    need(cap.get("MAXREDIRECTS", "").isdigit(), f"MAXREDIRECTS: {cap.get('MAXREDIRECTS')}")
    need(cap.get("SASL") == "", f"SASL before TLS: {cap.get('SASL')!r}")
    need("NOTIFY" not in cap, "NOTIFY without enotify")
    need("OWNER" not in cap, "OWNER before login")
    _, status = c.login()
    need(status.startswith(b"NO (ENCRYPT-NEEDED)"), f"AUTHENTICATE before TLS: {status!r}")
    _, status = c.cmd("LISTSCRIPTS")
    need(status.startswith(b"NO"), f"LISTSCRIPTS before login: {status!r}")
    _, status = c.cmd("CAPABILITY")
    need(status.startswith(b"OK"), f"CAPABILITY: {status!r}")
    _, status = c.cmd("LOGOUT")
    need(status.startswith(b"OK"), f"LOGOUT: {status!r}")
    c.sock.settimeout(5)
    need(c.sock.recv(100) == b"", "connection open after LOGOUT")
    c.close()


def starttls_capabilities():
    """STARTTLS, then the capabilities again (RFC 5804 2.2) with SASL PLAIN LOGIN and no
    STARTTLS; a second STARTTLS is refused."""
    c = Client(ARGS.source)
    c.greeting()
    lines, status = c.starttls()
    need(status.startswith(b"OK"), f"after STARTTLS: {status!r}")
    cap = caps(lines)
    need(cap.get("SASL", "").split() == ["PLAIN", "LOGIN"], f"SASL under TLS: {cap.get('SASL')!r}")
    need("STARTTLS" not in cap, "STARTTLS offered under TLS")
    _, status = c.cmd("STARTTLS")
    need(status.startswith(b"NO"), f"second STARTTLS: {status!r}")
    c.close()


def authenticate():
    """AUTHENTICATE PLAIN with an initial response, PLAIN and LOGIN with continuations (the
    server's challenges are strings), "*" cancels, a wrong password is NO; after login
    CAPABILITY has OWNER and no SASL/STARTTLS; UNAUTHENTICATE goes back."""
    c = Client(ARGS.source)
    c.greeting()
    c.starttls()
    _, status = c.login(password="wrong-password")
    need(status.startswith(b"NO"), f"wrong password: {status!r}")
    c.send('AUTHENTICATE "PLAIN"\r\n')
    need(c.read_line() == b'""', "PLAIN without initial response: empty challenge expected")
    c.send("*\r\n")
    _, status = c.read_response()
    need(status.startswith(b"NO"), f"cancel: {status!r}")
    c.send('AUTHENTICATE "LOGIN"\r\n')
    ch = c.read_line()
    need(ch.startswith(b'"') and base64.b64decode(ch[1:-1]).lower().startswith(b"user"), f"LOGIN challenge 1: {ch!r}")
    c.send(b'"' + base64.b64encode(ARGS.user.encode()) + b'"\r\n')
    ch = c.read_line()
    need(ch.startswith(b'"') and base64.b64decode(ch[1:-1]).lower().startswith(b"pass"), f"LOGIN challenge 2: {ch!r}")
    # The response as a literal this time.
    c.send(literal(base64.b64encode(ARGS.password.encode())) + b"\r\n")
    _, status = c.read_response()
    need(status.startswith(b"OK"), f"LOGIN: {status!r}")
    lines, status = c.cmd("CAPABILITY")
    cap = caps(lines)
    need(cap.get("OWNER") == ARGS.user, f"OWNER: {cap.get('OWNER')!r}")
    need("SASL" not in cap and "STARTTLS" not in cap, f"after login: {cap}")
    _, status = c.cmd('AUTHENTICATE "PLAIN" ""')
    need(status.startswith(b"NO"), f"AUTHENTICATE when logged in: {status!r}")
    _, status = c.cmd("UNAUTHENTICATE")
    need(status.startswith(b"OK"), f"UNAUTHENTICATE: {status!r}")
    _, status = c.cmd("LISTSCRIPTS")
    need(status.startswith(b"NO"), f"LISTSCRIPTS after UNAUTHENTICATE: {status!r}")
    c.send('AUTHENTICATE "PLAIN"\r\n')
    need(c.read_line() == b'""', "PLAIN challenge")
    token = base64.b64encode(b"\0" + ARGS.user.encode() + b"\0" + ARGS.password.encode())
    c.send(b'"' + token + b'"\r\n')
    _, status = c.read_response()
    need(status.startswith(b"OK"), f"PLAIN with continuation: {status!r}")
    c.cmd("LOGOUT")
    c.close()


def scripts_lifecycle():
    """PUTSCRIPT (syntax error: NO with line and column; a warning: OK (WARNINGS)),
    CHECKSCRIPT, LISTSCRIPTS, SETACTIVE with the files on disk, GETSCRIPT, DELETESCRIPT of
    the active one (NO (ACTIVE)), RENAMESCRIPT, HAVESPACE, NOOP with TAG."""
    c = logged_in()
    _, status = c.cmd(b'PUTSCRIPT "broken" ' + literal(BAD))
    need(status.startswith(b"NO") and re.search(rb"line 2, column \d+", status), f"syntax error: {status!r}")
    need(not os.path.exists(os.path.join(home(), "sieve", "broken.sieve")), "a broken script was written")
    _, status = c.cmd(b"CHECKSCRIPT " + literal(BAD))
    need(status.startswith(b"NO") and re.search(rb"line 2, column \d+", status), f"CHECKSCRIPT error: {status!r}")
    _, status = c.cmd(b"CHECKSCRIPT " + literal(GOOD))
    need(status.startswith(b"OK"), f"CHECKSCRIPT: {status!r}")
    _, status = c.cmd(b"CHECKSCRIPT " + literal(WARN))
    need(status.startswith(b"OK (WARNINGS)") and b"line 1, column" in status, f"CHECKSCRIPT warning: {status!r}")
    _, status = c.cmd(b'HAVESPACE "rules" ' + str(len(GOOD)).encode())
    need(status.startswith(b"OK"), f"HAVESPACE: {status!r}")
    _, status = c.cmd(b'PUTSCRIPT "rules" ' + literal(GOOD))
    need(status == b'OK "PUTSCRIPT completed."', f"PUTSCRIPT: {status!r}")
    path = os.path.join(home(), "sieve", "rules.sieve")
    need(os.path.isfile(path) and open(path, "rb").read() == GOOD.encode(), f"{path} missing or different")
    _, status = c.cmd(b'PUTSCRIPT "warned" ' + literal(WARN))
    need(status.startswith(b"OK (WARNINGS)"), f"PUTSCRIPT with a warning: {status!r}")
    lines, status = c.cmd("LISTSCRIPTS")
    need(status.startswith(b"OK"), f"LISTSCRIPTS: {status!r}")
    need(sorted(lines) == [b'"rules"', b'"warned"'], f"LISTSCRIPTS: {lines!r}")
    _, status = c.cmd('SETACTIVE "rules"')
    need(status.startswith(b"OK"), f"SETACTIVE: {status!r}")
    link = os.path.join(home(), ".dovecot.sieve")
    need(os.path.islink(link) and os.readlink(link) == "sieve/rules.sieve", f".dovecot.sieve: {link}")
    lines, _ = c.cmd("LISTSCRIPTS")
    need(b'"rules" ACTIVE' in lines and b'"warned"' in lines, f"LISTSCRIPTS with active: {lines!r}")
    lines, status = c.cmd('GETSCRIPT "rules"')
    need(status.startswith(b"OK") and lines == [GOOD.encode()], f"GETSCRIPT: {lines!r} {status!r}")
    _, status = c.cmd('GETSCRIPT "nothing"')
    need(status.startswith(b"NO (NONEXISTENT)"), f"GETSCRIPT missing: {status!r}")
    _, status = c.cmd('DELETESCRIPT "rules"')
    need(status.startswith(b"NO (ACTIVE)"), f"DELETESCRIPT active: {status!r}")
    need(os.path.isfile(path), "the active script was deleted")
    _, status = c.cmd('RENAMESCRIPT "nothing" "other"')
    need(status.startswith(b"NO (NONEXISTENT)"), f"RENAMESCRIPT missing: {status!r}")
    _, status = c.cmd('RENAMESCRIPT "warned" "rules"')
    need(status.startswith(b"NO (ALREADYEXISTS)"), f"RENAMESCRIPT onto existing: {status!r}")
    _, status = c.cmd('RENAMESCRIPT "rules" "filters"')
    need(status.startswith(b"OK"), f"RENAMESCRIPT: {status!r}")
    need(os.path.isfile(os.path.join(home(), "sieve", "filters.sieve")), "filters.sieve missing after rename")
    lines, _ = c.cmd("LISTSCRIPTS")
    need(b'"filters" ACTIVE' in lines, f"the renamed active script stays active: {lines!r}")
    need(os.readlink(link) == "sieve/filters.sieve", f".dovecot.sieve after rename: {os.readlink(link)}")
    _, status = c.cmd('DELETESCRIPT "warned"')
    need(status.startswith(b"OK"), f"DELETESCRIPT: {status!r}")
    need(not os.path.exists(os.path.join(home(), "sieve", "warned.sieve")), "warned.sieve still there")
    _, status = c.cmd('NOOP "tag-1"')
    need(status == b'OK (TAG "tag-1") "Done"', f"NOOP with tag: {status!r}")
    _, status = c.cmd("NOOP")
    need(status.startswith(b"OK"), f"NOOP: {status!r}")
    c.cmd("LOGOUT")
    c.close()


def quota():
    """QUOTA/MAXSIZE for one script too large (HAVESPACE and PUTSCRIPT), QUOTA/MAXSCRIPTS
    when the script count is reached; replacing an existing script is no new script."""
    c = logged_in()
    big = "# " + "x" * (ARGS.max_script_bytes + 10) + "\r\nkeep;\r\n"
    _, status = c.cmd(b'HAVESPACE "big" ' + str(len(big)).encode())
    need(status.startswith(b"NO (QUOTA/MAXSIZE)"), f"HAVESPACE too big: {status!r}")
    _, status = c.cmd(b'PUTSCRIPT "big" ' + literal(big))
    need(status.startswith(b"NO (QUOTA/MAXSIZE)"), f"PUTSCRIPT too big: {status!r}")
    lines, _ = c.cmd("LISTSCRIPTS")
    have = len(lines)
    for i in range(have, ARGS.max_scripts):
        _, status = c.cmd(b'PUTSCRIPT "q%d" ' % i + literal("keep;\r\n"))
        need(status.startswith(b"OK"), f"PUTSCRIPT q{i}: {status!r}")
    _, status = c.cmd(b'PUTSCRIPT "one-too-many" ' + literal("keep;\r\n"))
    need(status.startswith(b"NO (QUOTA/MAXSCRIPTS)"), f"over the script count: {status!r}")
    _, status = c.cmd(b'HAVESPACE "one-too-many" 10')
    need(status.startswith(b"NO (QUOTA/MAXSCRIPTS)"), f"HAVESPACE over the count: {status!r}")
    name = b"q%d" % (ARGS.max_scripts - 1)
    _, status = c.cmd(b'PUTSCRIPT "' + name + b'" ' + literal("stop;\r\n"))
    need(status.startswith(b"OK"), f"replacing a script at the limit: {status!r}")
    for i in range(have, ARGS.max_scripts):
        c.cmd(b'DELETESCRIPT "q%d"' % i)
    c.cmd("LOGOUT")
    c.close()


def pipelining_and_literals():
    """Commands sent together are answered in order; a synchronizing literal {N} is read
    without a continuation (RFC 5804 has none); SETACTIVE "" deactivates."""
    c = logged_in()
    c.send(b"NOOP \"a\"\r\nCHECKSCRIPT {7}\r\nkeep;\r\n\r\nNOOP \"b\"\r\n")
    _, s1 = c.read_response()
    _, s2 = c.read_response()
    _, s3 = c.read_response()
    need(b'"a"' in s1 and s2.startswith(b"OK") and b'"b"' in s3, f"pipelined: {s1!r} {s2!r} {s3!r}")
    _, status = c.cmd('SETACTIVE ""')
    need(status.startswith(b"OK"), f"SETACTIVE \"\": {status!r}")
    need(not os.path.lexists(os.path.join(home(), ".dovecot.sieve")), ".dovecot.sieve still there")
    lines, _ = c.cmd("LISTSCRIPTS")
    need(all(not l.endswith(b" ACTIVE") for l in lines), f"still active: {lines!r}")
    _, status = c.cmd('DELETESCRIPT "filters"')
    need(status.startswith(b"OK"), f"DELETESCRIPT after deactivation: {status!r}")
    c.cmd("LOGOUT")
    c.close()


def hostile_input():
    """A 4 GiB literal announcement is refused at once with BYE (nothing awaited);
    an unterminated quote, NUL, 8-bit junk and unknown commands are NO and the session
    goes on; a line without end beyond the limit is BYE."""
    c = logged_in()
    _, status = c.cmd('PUTSCRIPT "x" "unterminated')
    need(status.startswith(b"NO"), f"unterminated quote: {status!r}")
    _, status = c.cmd(b"NOOP \"a\0b\"")
    need(status.startswith(b"NO"), f"NUL: {status!r}")
    _, status = c.cmd(b"NOOP \xff\xfe")
    need(status.startswith(b"NO"), f"8-bit: {status!r}")
    _, status = c.cmd("FROBNICATE")
    need(status.startswith(b"NO"), f"unknown command: {status!r}")
    _, status = c.cmd("NOOP")
    need(status.startswith(b"OK"), f"still serving: {status!r}")
    start = time.monotonic()
    c.send('PUTSCRIPT "x" {4294967295+}\r\n')
    _, status = c.read_response()
    need(status.startswith(b"BYE"), f"huge literal: {status!r}")
    need(time.monotonic() - start < 5, "huge literal: answer took too long")
    c.close()
    c = Client()
    c.greeting()
    c.send(b"NOOP " + b"a" * 100000)
    _, status = c.read_response()
    need(status.startswith(b"BYE"), f"endless line: {status!r}")
    c.close()


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--source", default="127.0.0.2")
    p.add_argument("--user", default="john@example.org")
    p.add_argument("--password", required=True)
    p.add_argument("--mail-root", required=True)
    p.add_argument("--max-scripts", type=int, required=True)
    p.add_argument("--max-script-bytes", type=int, required=True)
    ARGS = p.parse_args()
    for fn in (greeting_before_tls, starttls_capabilities, authenticate, scripts_lifecycle, quota,
               pipelining_and_literals, hostile_input):
        check(fn)
    failed = [r for r in RESULTS if r[1]]
    print(f"managesieve_clients: {len(RESULTS) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
