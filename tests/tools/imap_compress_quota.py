#!/usr/bin/env python3
"""End-to-end checks of IMAP COMPRESS=DEFLATE (RFC 4978) and QUOTA (RFC 9208).

imaplib has no COMPRESS, so the COMPRESS checks speak IMAP over raw sockets with Python's
zlib (compressobj/decompressobj with wbits=-15: raw DEFLATE, sync flush after each
command), over the plain port (--plain-port, the server must allow plaintext LOGIN) and
over implicit TLS (--tls-port). The QUOTA checks use imaplib and raw lines.

Usage:
  imap_compress_quota.py --host 127.0.0.1 --plain-port P --tls-port P2 \
      --user john@example.org --password pw-john \
      --quota-user quota@example.org --quota-password pw-quota --quota-bytes 20000 \
      --quota-messages 5 [--compress|--no-compress] [--log SERVER_LOG]
--quota-user must have --quota-bytes set in the directory (ringmail-admin --quota) and an
empty mailbox; --user has no byte quota; --quota-messages is the server's
--imap_quota_messages (0: none). With --no-compress the server runs --imap_compress=false.
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
import zlib

ARGS = None
TIMEOUT = 15.0


class CheckFailed(Exception):
    pass


def need(cond, why):
    if not cond:
        raise CheckFailed(why)


class Raw:
    """One IMAP connection: lines in and out, optionally deflated both ways."""

    def __init__(self, port, use_tls):
        sock = socket.create_connection((ARGS.host, port), timeout=TIMEOUT)
        if use_tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            sock = ctx.wrap_socket(sock, server_hostname="mx.test")
        self.sock = sock
        self.buf = b""
        self.comp = None
        self.decomp = None
        self.transcript = []
        self.wire_in = 0
        self.wire_out = 0
        self.line()  # greeting

    def start_compression(self):
        self.comp = zlib.compressobj(6, zlib.DEFLATED, -15)
        self.decomp = zlib.decompressobj(-15)
        # Bytes already received after the tagged OK are compressed.
        rest, self.buf = self.buf, b""
        if rest:
            self.buf = self.decomp.decompress(rest)

    def encode(self, data):
        if self.comp is None:
            return data
        return self.comp.compress(data) + self.comp.flush(zlib.Z_SYNC_FLUSH)

    def send_raw(self, data):
        self.wire_out += len(data)
        self.sock.sendall(data)

    def send(self, data):
        self.transcript.append(b"C: " + data[:200])
        self.send_raw(self.encode(data))

    def fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed")
        self.wire_in += len(chunk)
        self.buf += self.decomp.decompress(chunk) if self.decomp else chunk

    def line(self):
        while b"\r\n" not in self.buf:
            self.fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        self.transcript.append(b"S: " + line[:200])
        return line.decode("utf-8", "replace")

    def read_exact(self, n):
        while len(self.buf) < n:
            self.fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def command(self, tag, text):
        """Sends `tag text`, returns (untagged lines, tagged line)."""
        self.send(f"{tag} {text}\r\n".encode())
        return self.until(tag)

    def until(self, tag):
        untagged = []
        while True:
            line = self.line()
            if line.startswith(tag + " "):
                return untagged, line
            untagged.append(line)

    def login(self, user, password):
        _, t = self.command("L1", f'LOGIN "{user}" "{password}"')
        need(" OK " in t, f"LOGIN failed: {t}")

    def closed(self, wait=5.0):
        """True if the server closes the connection within `wait` seconds."""
        self.sock.settimeout(wait)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except (socket.timeout, TimeoutError):
            return False
        except ssl.SSLError:
            return True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


def ports():
    out = []
    if ARGS.plain_port:
        out.append((ARGS.plain_port, False, "plain"))
    if ARGS.tls_port:
        out.append((ARGS.tls_port, True, "tls"))
    return out


def compressed_session(port, use_tls):
    c = Raw(port, use_tls)
    c.login(ARGS.user, ARGS.password)
    _, t = c.command("Z1", "COMPRESS DEFLATE")
    need(t.startswith("Z1 OK"), f"COMPRESS DEFLATE: {t}")
    c.start_compression()
    return c


# ---- COMPRESS ------------------------------------------------------------------------

@check
def capability_after_login():
    for port, tls, kind in ports():
        c = Raw(port, tls)
        u, t = c.command("a", "CAPABILITY")
        caps = " ".join(u)
        need("COMPRESS=DEFLATE" not in caps, f"{kind}: COMPRESS offered before login: {caps}")
        c.login(ARGS.user, ARGS.password)
        u, t = c.command("b", "CAPABILITY")
        caps = " ".join(u).split()
        for want in ("QUOTA", "QUOTA=RES-STORAGE", "QUOTA=RES-MESSAGE"):
            need(want in caps, f"{kind}: {want} missing: {caps}")
        need(("COMPRESS=DEFLATE" in caps) == ARGS.compress, f"{kind}: COMPRESS=DEFLATE offered={not ARGS.compress}")
        c.close()


@check
def compress_unknown_algorithm_and_disabled():
    c = Raw(*ports()[0][:2])
    c.login(ARGS.user, ARGS.password)
    _, t = c.command("a", "COMPRESS LZ77")
    if ARGS.compress:
        need(t.startswith("a NO "), f"COMPRESS LZ77: {t}")
    else:
        need(t.startswith("a BAD "), f"COMPRESS with --imap_compress=false: {t}")
    _, t = c.command("b", "COMPRESS")
    need(t.startswith("b BAD "), f"COMPRESS without an argument: {t}")
    _, t = c.command("c", "NOOP")  # still in step, uncompressed
    need(t.startswith("c OK"), f"NOOP after refused COMPRESS: {t}")
    c.close()


def compress_round_trip(port, tls, kind):
    c = compressed_session(port, tls)
    _, t = c.command("a", "NOOP")
    need(t.startswith("a OK"), f"{kind}: NOOP under COMPRESS: {t}")
    _, t = c.command("b", "COMPRESS DEFLATE")
    need(t.startswith("b NO [COMPRESSIONACTIVE]"), f"{kind}: second COMPRESS: {t}")
    _, t = c.command("c", "STARTTLS")
    need(t.startswith("c BAD") or t.startswith("c NO"), f"{kind}: STARTTLS after COMPRESS: {t}")
    folder = f"cq-{kind}-{int(time.time() * 1000)}"
    _, t = c.command("d", f'CREATE "{folder}"')
    need(t.startswith("d OK"), f"{kind}: CREATE: {t}")
    body = (b"From: a@example.org\r\nSubject: compressed\r\n\r\n" + b"line of text to compress\r\n" * 400)
    c.send(f'e APPEND "{folder}" {{{len(body)}}}\r\n'.encode())
    cont = c.line()
    need(cont.startswith("+"), f"{kind}: no continuation for APPEND: {cont}")
    # The literal byte by byte, each its own sync-flushed deflate block.
    for i in range(0, 200):
        c.send(body[i:i + 1])
    c.send(body[200:] + b"\r\n")
    _, t = c.until("e")
    need(t.startswith("e OK"), f"{kind}: APPEND under COMPRESS: {t}")
    _, t = c.command("f", f'SELECT "{folder}"')
    need(t.startswith("f OK"), f"{kind}: SELECT: {t}")
    c.send(b"g FETCH 1 BODY.PEEK[]\r\n")
    first = c.line()
    m = re.search(r"\{(\d+)\}$", first)
    need(m is not None, f"{kind}: FETCH: {first}")
    data = c.read_exact(int(m.group(1)))
    need(data == body, f"{kind}: FETCH BODY[] differs from what was appended")
    _, t = c.until("g")
    need(t.startswith("g OK"), f"{kind}: FETCH: {t}")
    need(c.wire_in < len(body) / 3, f"{kind}: {c.wire_in} compressed bytes received for a {len(body)} byte body")
    _, t = c.command("h", "CLOSE")
    _, t = c.command("i", f'DELETE "{folder}"')
    need(t.startswith("i OK"), f"{kind}: DELETE: {t}")
    c.send(b"j LOGOUT\r\n")
    u, t = c.until("j")
    need(any(x.startswith("* BYE") for x in u) and t.startswith("j OK"), f"{kind}: LOGOUT: {u} {t}")
    c.close()


@check
def compress_round_trip_plain():
    if not ARGS.compress or not ARGS.plain_port:
        return "skip"
    compress_round_trip(ARGS.plain_port, False, "plain")


@check
def compress_round_trip_tls():
    if not ARGS.compress or not ARGS.tls_port:
        return "skip"
    compress_round_trip(ARGS.tls_port, True, "tls")


@check
def compress_big_append():
    """A 20 MB APPEND under COMPRESS (a literal far larger than any line, well within
    --imap_max_append): the stream's bound on buffered plaintext must not cut it off."""
    if not ARGS.compress:
        return "skip"
    c = compressed_session(*ports()[0][:2])
    folder = f"cq-big-{int(time.time() * 1000)}"
    _, t = c.command("a", f'CREATE "{folder}"')
    need(t.startswith("a OK"), f"CREATE: {t}")
    line = b"All work and no play makes Jack a dull boy, 0123456789.\r\n"
    body = b"Subject: big\r\n\r\n" + line * (20_000_000 // len(line))
    c.send(f'b APPEND "{folder}" {{{len(body)}+}}\r\n'.encode())
    for i in range(0, len(body), 1 << 20):
        c.send(body[i:i + (1 << 20)])
    c.send(b"\r\n")
    c.sock.settimeout(60)
    _, t = c.until("b")
    need(t.startswith("b OK"), f"APPEND of {len(body)} bytes under COMPRESS: {t}")
    need(c.wire_out < len(body) / 20, f"{c.wire_out} bytes sent for a {len(body)} byte literal")
    _, t = c.command("c", f'SELECT "{folder}"')
    u, t = c.command("d", "FETCH 1 RFC822.SIZE")
    need(any(f"RFC822.SIZE {len(body)}" in x for x in u), f"RFC822.SIZE: {u}")
    _, t = c.command("e", "CLOSE")
    _, t = c.command("f", f'DELETE "{folder}"')
    c.close()


@check
def compress_command_pipelined_after_compress():
    if not ARGS.compress:
        return "skip"
    for port, tls, kind in ports():
        c = Raw(port, tls)
        c.login(ARGS.user, ARGS.password)
        # RFC 4978 has the client wait for the OK; one that does not is still understood:
        # its bytes after the command's CRLF are compressed. (Dovecot 2.3.19 hangs here.)
        comp = zlib.compressobj(6, zlib.DEFLATED, -15)
        c.send_raw(b"a COMPRESS DEFLATE\r\n" + comp.compress(b"b NOOP\r\n") + comp.flush(zlib.Z_SYNC_FLUSH))
        while b"\r\n" not in c.buf:
            c.fill()
        line, c.buf = c.buf.split(b"\r\n", 1)
        need(line.startswith(b"a OK"), f"{kind}: COMPRESS: {line!r}")
        c.start_compression()
        c.comp = comp
        _, t = c.until("b")
        need(t.startswith("b OK"), f"{kind}: pipelined NOOP: {t}")
        c.close()


@check
def compress_idle_hears_new_mail():
    """IDLE under COMPRESS: the EXISTS for a message appended by another session arrives
    (sync-flushed) while the server waits, and DONE ends the IDLE."""
    if not ARGS.compress:
        return "skip"
    for port, tls, kind in ports():
        c = compressed_session(port, tls)
        folder = f"cq-idle-{kind}-{int(time.time() * 1000)}"
        _, t = c.command("a", f'CREATE "{folder}"')
        need(t.startswith("a OK"), f"{kind}: CREATE: {t}")
        _, t = c.command("b", f'SELECT "{folder}"')
        need(t.startswith("b OK"), f"{kind}: SELECT: {t}")
        c.send(b"c IDLE\r\n")
        need(c.line().startswith("+"), f"{kind}: no continuation for IDLE")
        other = Raw(port, tls)
        other.login(ARGS.user, ARGS.password)
        msg = b"Subject: idle\r\n\r\nhello\r\n"
        other.send(f'x APPEND "{folder}" {{{len(msg)}+}}\r\n'.encode() + msg + b"\r\n")
        _, t = other.until("x")
        need(t.startswith("x OK"), f"{kind}: APPEND from another session: {t}")
        other.close()
        c.sock.settimeout(10)
        line = c.line()
        need(line == "* 1 EXISTS", f"{kind}: during IDLE: {line}")
        c.send(b"DONE\r\n")
        _, t = c.until("c")
        need(t.startswith("c OK"), f"{kind}: IDLE: {t}")
        _, t = c.command("d", "CLOSE")
        _, t = c.command("e", f'DELETE "{folder}"')
        need(t.startswith("e OK"), f"{kind}: DELETE: {t}")
        c.close()


@check
def compress_bomb_is_cut_off():
    if not ARGS.compress:
        return "skip"
    c = compressed_session(*ports()[0][:2])
    # 1 GiB of 'x' on one command line: about 1 MB compressed. The server must answer
    # (line too long) and close long before it has inflated it all.
    comp = c.comp
    piece = b"x" * (1 << 20)
    c.send_raw(comp.compress(b"a NOOP ") + comp.flush(zlib.Z_SYNC_FLUSH))
    started = time.time()
    sent = 0
    closed = False
    try:
        for _ in range(1024):
            out = comp.compress(piece)
            if out:
                c.send_raw(out)
                sent += len(out)
        c.send_raw(comp.flush(zlib.Z_SYNC_FLUSH))
    except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
        closed = True
    lines = []
    try:
        while True:
            lines.append(c.line())
    except (EOFError, ConnectionResetError, OSError, zlib.error):
        closed = True
    need(closed, "connection not closed after the bomb")
    need(any("BAD" in x for x in lines) and any(x.startswith("* BYE") for x in lines),
         f"expected a BAD and a BYE, got {lines[:4]}")
    need(time.time() - started < 30, "the bomb took more than 30 s to be cut off")
    c.close()
    # The server is still there.
    d = Raw(*ports()[0][:2])
    _, t = d.command("z", "NOOP")
    need(t.startswith("z OK"), f"server after the bomb: {t}")
    d.close()


@check
def compress_corrupt_stream_closes():
    if not ARGS.compress:
        return "skip"
    c = compressed_session(*ports()[0][:2])
    _, t = c.command("a", "NOOP")
    need(t.startswith("a OK"), f"NOOP: {t}")
    c.send_raw(b"\xff\xfe\xfd\xfc this is not deflate\r\n")
    need(c.closed(), "connection still open after a corrupt DEFLATE stream")
    c.close()
    if ARGS.log:
        deadline = time.time() + 5
        while time.time() < deadline:
            with open(ARGS.log, encoding="utf-8", errors="replace") as f:
                if "event=compress_inflate_failed" in f.read():
                    return None
            time.sleep(0.1)
        raise CheckFailed("no compress_inflate_failed line in the server log")


# ---- QUOTA ---------------------------------------------------------------------------

def quota_client(user=None, password=None):
    port, tls = ports()[0][:2]
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        m = imaplib.IMAP4_SSL(ARGS.host, port, ssl_context=ctx, timeout=TIMEOUT)
    else:
        m = imaplib.IMAP4(ARGS.host, port, timeout=TIMEOUT)
    m.login(user or ARGS.quota_user, password or ARGS.quota_password)
    return m


def kib(n):
    return (n + 1023) // 1024


def message(size, subject="quota"):
    head = f"From: q@example.org\r\nTo: quota@example.org\r\nSubject: {subject}\r\n\r\n".encode()
    line = b"0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz01234567\r\n"
    body = (line * (size // len(line) + 1))[: size - len(head)]
    return head + body


def parse_quota(lines):
    """{'STORAGE': (used, limit), ...} from a QUOTA response."""
    for raw in lines:
        s = raw.decode() if isinstance(raw, bytes) else raw
        m = re.match(r'^(?:\* QUOTA )?"" \((.*)\)$', s)
        if m:
            items = m.group(1).split()
            return {items[i]: (int(items[i + 1]), int(items[i + 2])) for i in range(0, len(items), 3)}
    raise CheckFailed(f"no QUOTA \"\" response in {lines}")


@check
def quota_getquotaroot_and_getquota():
    m = quota_client()
    typ, data = m.getquotaroot("INBOX")
    need(typ == "OK", f"GETQUOTAROOT: {typ} {data}")
    roots, quotas = data
    need(roots[0].replace(b'"INBOX"', b"INBOX") == b'INBOX ""', f"QUOTAROOT line: {roots}")
    q = parse_quota(quotas)
    need(q.get("STORAGE", (None, None))[1] == kib(ARGS.quota_bytes), f"STORAGE limit: {q}")
    if ARGS.quota_messages:
        need(q.get("MESSAGE", (None, None))[1] == ARGS.quota_messages, f"MESSAGE limit: {q}")
    else:
        need("MESSAGE" not in q, f"MESSAGE reported without a limit: {q}")
    typ, data = m.getquota('""')
    need(typ == "OK" and parse_quota(data) == q, f"GETQUOTA \"\": {typ} {data}")
    typ, data = m.getquota("other")
    need(typ == "NO", f"GETQUOTA of an unknown root: {typ} {data}")
    # As Dovecot: a folder that does not exist yet would be under the same root.
    typ, data = m.getquotaroot("no-such-folder")
    need(typ == "OK" and data[0][0].replace(b'"no-such-folder"', b"no-such-folder") == b'no-such-folder ""',
         f"GETQUOTAROOT of a missing folder: {typ} {data}")
    typ, data = m.setquota('""', "(STORAGE 100)")
    need(typ == "NO", f"SETQUOTA: {typ} {data}")
    m.logout()


@check
def quota_unlimited_user():
    m = quota_client(ARGS.user, ARGS.password)
    typ, data = m.getquotaroot("INBOX")
    need(typ == "OK", f"GETQUOTAROOT: {typ} {data}")
    if ARGS.quota_messages:
        q = parse_quota(data[1])
        need("STORAGE" not in q, f"STORAGE reported for a user without a byte quota: {q}")
        need(q.get("MESSAGE", (0, 0))[1] == ARGS.quota_messages, f"MESSAGE: {q}")
    else:
        # No limit at all: no root, no QUOTA response (as Dovecot 2.3 answers).
        need(data[0][0] in (b"INBOX", b'"INBOX"') and data[1] == [None], f"a user without limits: {data}")
        typ, data = m.getquota('""')
        need(typ == "OK" and data == [None], f"GETQUOTA for a user without limits: {typ} {data}")
    m.logout()


@check
def quota_overquota_append_copy_move():
    """With a 20000-byte quota: 6000-byte messages, APPEND one, COPY twice (18000), the
    third COPY and a big APPEND get NO [OVERQUOTA]; MOVE is allowed; usage follows."""
    need(ARGS.quota_bytes == 20000, "this check expects --quota-bytes 20000")
    m = quota_client()
    msg = message(6000)
    typ, data = m.append("INBOX", None, None, msg)
    need(typ == "OK", f"APPEND 6000: {typ} {data}")
    q = parse_quota(m.getquota('""')[1])
    used_one = q["STORAGE"][0]
    need(1 <= used_one <= kib(len(msg)), f"STORAGE after one message: {q}")
    typ, data = m.append("INBOX", None, None, message(30000))
    need(typ == "NO" and b"[OVERQUOTA]" in data[0], f"APPEND past the quota: {typ} {data}")
    m.select("INBOX")
    for i in range(2):
        typ, data = m.copy("1", "Trash")
        need(typ == "OK", f"COPY {i + 1}: {typ} {data}")
    typ, data = m.copy("1", "Trash")
    need(typ == "NO" and b"[OVERQUOTA]" in data[0], f"third COPY past the quota: {typ} {data}")
    q = parse_quota(m.getquota('""')[1])
    need(q["STORAGE"][0] >= 3 * used_one - 2, f"STORAGE after three copies: {q}")
    if ARGS.quota_messages:
        need(q["MESSAGE"][0] == 3, f"MESSAGE after three copies: {q}")
    # MOVE within the user's folders adds nothing: allowed at the limit.
    typ, data = m._simple_command("MOVE", "1", "Junk")
    need(typ == "OK", f"MOVE at the quota: {typ} {data}")
    q2 = parse_quota(m.getquota('""')[1])
    need(q2["STORAGE"][0] == q["STORAGE"][0], f"MOVE changed usage: {q} -> {q2}")
    m.logout()


@check
def quota_status_deleted_storage():
    m = quota_client()
    m.select("Trash")
    typ, data = m.status("Trash", "(MESSAGES DELETED DELETED-STORAGE)")
    need(typ == "OK", f"STATUS: {typ} {data}")
    s = data[0].decode()
    need("DELETED 0" in s and "DELETED-STORAGE 0" in s, f"before \\Deleted: {s}")
    typ, data = m.store("1", "+FLAGS", "(\\Deleted)")
    need(typ == "OK", f"STORE: {typ} {data}")
    typ, data = m.status("Trash", "(DELETED DELETED-STORAGE)")
    s = data[0].decode()
    mm = re.search(r"DELETED-STORAGE (\d+)", s)
    need(mm is not None and 1 <= int(mm.group(1)) <= kib(6000), f"after \\Deleted: {s}")
    need("DELETED 1" in s, f"DELETED count: {s}")
    # Expunging frees the space: usage drops by about one message.
    before = parse_quota(m.getquota('""')[1])["STORAGE"][0]
    m.expunge()
    after = parse_quota(m.getquota('""')[1])["STORAGE"][0]
    need(after < before, f"STORAGE after EXPUNGE: {before} -> {after}")
    m.logout()


@check
def quota_message_limit():
    if not ARGS.quota_messages:
        return "skip"
    m = quota_client(ARGS.user, ARGS.password)
    folder = f"cq-msgs-{int(time.time() * 1000)}"
    m.create(folder)
    used = parse_quota(m.getquota('""')[1])["MESSAGE"][0]
    refused = None
    for i in range(ARGS.quota_messages - used + 1):
        typ, data = m.append(folder, None, None, message(300, f"n{i}"))
        if typ != "OK":
            refused = (i, typ, data)
            break
    need(refused is not None and refused[0] == ARGS.quota_messages - used and b"[OVERQUOTA]" in refused[2][0],
         f"MESSAGE limit {ARGS.quota_messages} (used {used}): refused at {refused}")
    m.delete(folder)
    m.logout()


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--plain-port", type=int, default=0)
    p.add_argument("--tls-port", type=int, default=0)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--quota-user", required=True)
    p.add_argument("--quota-password", required=True)
    p.add_argument("--quota-bytes", type=int, required=True)
    p.add_argument("--quota-messages", type=int, default=0)
    p.add_argument("--compress", dest="compress", action="store_true", default=True)
    p.add_argument("--no-compress", dest="compress", action="store_false")
    p.add_argument("--log", default="")
    p.add_argument("--only", default="")
    ARGS = p.parse_args()
    only = set(filter(None, ARGS.only.split(",")))
    failed = 0
    for fn in CHECKS:
        if only and fn.__name__ not in only:
            continue
        try:
            verdict = fn()
            print(f"{'SKIP' if verdict == 'skip' else 'PASS'} {fn.__name__}", flush=True)
        except CheckFailed as e:
            failed += 1
            print(f"FAIL {fn.__name__}: {e}", flush=True)
        except Exception as e:  # noqa: BLE001 - report any crash as a failure of that check
            failed += 1
            print(f"FAIL {fn.__name__}: {type(e).__name__}: {e}", flush=True)
            traceback.print_exc()
    print(f"{len(CHECKS) - failed if not only else 'some'} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
