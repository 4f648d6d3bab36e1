#!/usr/bin/env python3
"""Helpers for pop3_fetchers_test.sh and pop3_imap_concurrency.py (issue 12, "fetchmail
and getmail6 fetching a 1,000-message mailbox"): make the messages, compare what a
fetcher delivered with them, and ask the POP3 server what it holds.

  generate --maildir M --count N --seed S
      N messages of 1-6 KB written straight into M/new (Maildir, LF line ends, as a
      delivery agent leaves them), each with a unique Message-ID <fetch-I.S@test.example>.
      Bodies hold the lines POP3 must byte-stuff (".", "..", ".x", "From ") and
      a last line without a newline on some messages, so a server that forgets to
      dot-stuff, or a fetcher that un-stuffs twice, changes the bytes.
  compare --orig M --fetched DIR [--fetched DIR2 ...] [--count N]
      Every file under each DIR (recursively: a Maildir's new/ and cur/, or an MDA's
      flat directory) is matched to an original by Message-ID. Passes when each DIR holds
      exactly one copy of every original, the body is byte for byte the original's and
      the original header block appears whole and in order in the fetched header block
      (fetchers prepend Received:, Delivered-To:, Return-Path:, X-getmail-...). CRLF is
      read as LF on both sides: a POP3 fetcher hands local delivery LF lines, RFC 1939
      sends CRLF; the line *content* is compared exactly. An original whose last line
      has no newline is compared as if it had one: POP3 cannot carry that difference
      (RFC 1939 section 3: the server ends the last line with CRLF before "."; Dovecot
      does the same). One line per failure, then "compare: N ok".
  stat --host H --port P (--tls | --stls) --user U --password PW
      Prints "COUNT OCTETS" from POP3 STAT (poplib), then QUITs without deleting.
  uidl ...same connection options...
      Prints the server's UIDL values, one a line, in message-number order.

Connections verify no certificate: the servers under test use self-signed ones.
"""

import argparse
import os
import poplib
import random
import re
import ssl
import sys
import time

WORDS = ("mail pop3 fetch ring shard index maildir uidl octet stuff dot body header "
         "line keep delete read seen flag quit stat list retr top noop rset").split()


def message_bytes(i, seed, rnd):
    """One generated message (LF line ends). Its size is 1-6 KB."""
    mid = f"<fetch-{i}.{seed}@test.example>"
    lines = [
        f"Return-Path: <sender{i % 7}@test.example>",
        f"From: Sender {i % 7} <sender{i % 7}@test.example>",
        "To: John <john@example.org>",
        f"Subject: fetch test {i} of seed {seed}",
        f"Date: Mon, 07 Dec 2026 {i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d} +0000",
        f"Message-ID: {mid}",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=us-ascii",
        "",
    ]
    target = rnd.randint(1000, 6000)
    size = sum(len(x) + 1 for x in lines)
    n = 0
    while size < target:
        n += 1
        kind = rnd.randrange(12)
        if kind == 0:
            line = "."                                  # stuffed to ".." on the wire
        elif kind == 1:
            line = ".." + rnd.choice(WORDS)            # stuffed to "..."
        elif kind == 2:
            line = "." + rnd.choice(WORDS)             # stuffed to "..word"
        elif kind == 3:
            line = "From " + rnd.choice(WORDS) + " line that mbox would quote"
        elif kind == 4:
            line = ""
        else:
            line = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(3, 14)))
        lines.append(line)
        size += len(line) + 1
    lines.append(f"end of message {i}")
    text = "\n".join(lines)
    # Every seventh message ends without a newline: the server must add CRLF before ".".
    if i % 7 != 3:
        text += "\n"
    return mid, text.encode()


def cmd_generate(a):
    rnd = random.Random(a.seed)
    new = os.path.join(a.maildir, "new")
    for sub in ("new", "cur", "tmp"):
        os.makedirs(os.path.join(a.maildir, sub), exist_ok=True)
    base = int(time.time()) - a.count
    for i in range(a.start, a.start + a.count):
        _, data = message_bytes(i, a.seed, rnd)
        name = f"{base + i}.M{i}P{os.getpid()}.gen"
        with open(os.path.join(new, name), "wb") as f:
            f.write(data)
    print(f"generate: {a.count} messages in {new}")
    return 0


def split_message(data):
    """(header lines, body bytes, Message-ID) of a message, CRLF read as LF."""
    data = data.replace(b"\r\n", b"\n")
    head, sep, body = data.partition(b"\n\n")
    if not sep:
        head, body = data, b""
    lines = head.split(b"\n")
    mid = None
    for ln in lines:
        m = re.match(rb"(?i)message-id:\s*(\S+)", ln)
        if m:
            mid = m.group(1).decode("ascii", "replace")
    return lines, body, mid


def read_tree(root):
    out = []
    for dirpath, _, files in os.walk(root):
        for name in sorted(files):
            if os.path.basename(dirpath) == "tmp":
                continue
            with open(os.path.join(dirpath, name), "rb") as f:
                data = f.read()
            if data and not data.endswith(b"\n"):
                data += b"\n"
            out.append((os.path.join(dirpath, name), data))
    return out


def contains_run(haystack, needle):
    n = len(needle)
    return any(haystack[k:k + n] == needle for k in range(len(haystack) - n + 1))


def cmd_compare(a):
    originals = {}
    for path, data in read_tree(a.orig):
        lines, body, mid = split_message(data)
        originals[mid] = (lines, body)
    failures = 0
    if a.count is not None and len(originals) != a.count:
        print(f"FAIL: {a.orig} holds {len(originals)} originals, expected {a.count}")
        failures += 1
    for root in a.fetched:
        seen = {}
        bad = 0
        for path, data in read_tree(root):
            lines, body, mid = split_message(data)
            if mid not in originals:
                print(f"FAIL: {path}: Message-ID {mid} is not one of the originals")
                bad += 1
                continue
            seen[mid] = seen.get(mid, 0) + 1
            o_lines, o_body = originals[mid]
            if body != o_body:
                # Show where the bytes part, so a stuffing bug is visible at once.
                k = next((j for j in range(min(len(body), len(o_body))) if body[j] != o_body[j]),
                         min(len(body), len(o_body)))
                print(f"FAIL: {path}: body of {mid} differs at byte {k} "
                      f"(got {body[k:k + 40]!r}, want {o_body[k:k + 40]!r}; "
                      f"{len(body)} vs {len(o_body)} bytes)")
                bad += 1
            elif not contains_run(lines, o_lines):
                print(f"FAIL: {path}: the original header block of {mid} is not in the fetched one")
                bad += 1
        dups = [m for m, c in seen.items() if c > 1]
        missing = [m for m in originals if m not in seen]
        if dups:
            print(f"FAIL: {root}: {len(dups)} messages delivered more than once, e.g. {dups[:3]}")
            bad += 1
        if missing:
            print(f"FAIL: {root}: {len(missing)} of {len(originals)} messages missing, e.g. {missing[:3]}")
            bad += 1
        if bad == 0:
            print(f"compare: {root}: {len(seen)} messages, each the original byte for byte")
        failures += bad
    if failures:
        print(f"compare: {failures} failures")
        return 1
    print(f"compare: {len(a.fetched)} ok")
    return 0


def connect(a):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if a.tls:
        p = poplib.POP3_SSL(a.host, a.port, context=ctx, timeout=30)
    else:
        p = poplib.POP3(a.host, a.port, timeout=30)
        p.stls(context=ctx)
    p.user(a.user)
    p.pass_(a.password)
    return p


def cmd_stat(a):
    p = connect(a)
    count, octets = p.stat()
    p.quit()
    print(count, octets)
    return 0


def cmd_uidl(a):
    p = connect(a)
    _, lines, _ = p.uidl()
    p.quit()
    for ln in lines:
        print(ln.decode().split()[1])
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate")
    g.add_argument("--maildir", required=True)
    g.add_argument("--count", type=int, required=True)
    g.add_argument("--start", type=int, default=1)
    g.add_argument("--seed", type=int, default=12)
    c = sub.add_parser("compare")
    c.add_argument("--orig", required=True)
    c.add_argument("--fetched", action="append", required=True)
    c.add_argument("--count", type=int)
    for name in ("stat", "uidl"):
        s = sub.add_parser(name)
        s.add_argument("--host", default="127.0.0.1")
        s.add_argument("--port", type=int, required=True)
        mode = s.add_mutually_exclusive_group(required=True)
        mode.add_argument("--tls", action="store_true")
        mode.add_argument("--stls", action="store_true")
        s.add_argument("--user", required=True)
        s.add_argument("--password", required=True)
    a = ap.parse_args()
    return {"generate": cmd_generate, "compare": cmd_compare, "stat": cmd_stat, "uidl": cmd_uidl}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
