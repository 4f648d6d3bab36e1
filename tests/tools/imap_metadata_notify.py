#!/usr/bin/env python3
"""METADATA (RFC 5464) and NOTIFY (RFC 5465) checks over raw sockets.

Usage: imap_metadata_notify.py IMAP_PORT SMTP_PORT phase1|phase2
phase1: everything; phase2 (after a server restart): the metadata set in phase1 is there.
Also usable against Dovecot (imap_metadata_dovecot.sh) with SMTP_PORT 0: the NOTIFY part
that needs SMTP is skipped.
"""
import re
import select
import smtplib
import socket
import sys
import time

port, sport, phase = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
USER = sys.argv[4] if len(sys.argv) > 4 else "john@example.org"
fails = 0


def check(name, ok, detail=""):
    global fails
    if ok:
        print(f"ok   {name}")
    else:
        fails += 1
        print(f"FAIL {name} {detail}")


class Client:
    def __init__(self):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
        self.n = 0
        self.readline()  # greeting

    def _fill(self, timeout=10):
        r, _, _ = select.select([self.s], [], [], timeout)
        if not r:
            raise TimeoutError("no data")
        d = self.s.recv(65536)
        if not d:
            raise EOFError("closed")
        self.buf += d

    def readline(self, timeout=10):
        """One response line with its literals inlined (bytes)."""
        out = b""
        while True:
            while b"\r\n" not in self.buf:
                self._fill(timeout)
            line, self.buf = self.buf.split(b"\r\n", 1)
            out += line
            m = re.search(rb"~?\{(\d+)\}$", line)
            if not m:
                return out
            n = int(m.group(1))
            while len(self.buf) < n:
                self._fill(timeout)
            out += b"\r\n" + self.buf[:n]
            self.buf = self.buf[n:]

    def send_raw(self, data):
        self.s.sendall(data)

    def cmd(self, text, literal=None, literal8=False):
        """Sends a command (a literal appended with {n+}, or ~{n+}, if given); returns (untagged, tagged)."""
        self.n += 1
        tag = f"t{self.n}"
        if literal is not None:
            prefix = "~" if literal8 else ""
            self.s.sendall(f"{tag} {text}{prefix}{{{len(literal)}+}}\r\n".encode() + literal + b")\r\n")
        else:
            self.s.sendall(f"{tag} {text}\r\n".encode())
        untagged = []
        while True:
            line = self.readline()
            if line.startswith(tag.encode() + b" "):
                return untagged, line.decode(errors="replace")
            untagged.append(line.decode(errors="replace"))

    def login(self):
        u, t = self.cmd(f'LOGIN {USER} pw')
        assert " OK " in t, t


def meta(untagged):
    return [u for u in untagged if u.startswith("* METADATA")]


def phase1():
    c = Client()
    c.login()
    u, t = c.cmd("CAPABILITY")
    caps = u[0].split()
    check("CAPABILITY lists METADATA and NOTIFY", "METADATA" in caps and "NOTIFY" in caps, u[0])
    c.cmd("CREATE Work")
    c.cmd("CREATE Other")
    c.cmd("CREATE Tree")
    c.cmd("CREATE Tree/Leaf")

    # RFC 5464 4.3 example 1 adapted: set a comment on a mailbox (our Work for INBOX).
    u, t = c.cmd('SETMETADATA Work (/private/comment "My new comment")')
    check("SETMETADATA mailbox", " OK " in t, t)
    u, t = c.cmd('SETMETADATA Work (/shared/comment "Shared comment")')
    check("SETMETADATA /shared", " OK " in t, t)
    # 4.2.1 example: GETMETADATA of one entry.
    u, t = c.cmd('GETMETADATA "Work" /private/comment')
    check("GETMETADATA one entry", meta(u) == ['* METADATA Work (/private/comment "My new comment")'], u)
    # Several entries, one missing -> NIL (Dovecot does the same).
    u, t = c.cmd('GETMETADATA Work (/shared/comment /private/comment /private/nothing)')
    check("GETMETADATA several, missing is NIL",
          meta(u) == ['* METADATA Work (/shared/comment "Shared comment" /private/comment "My new comment" /private/nothing NIL)'], u)
    # Case-insensitive names (section 3.2), answered lower-case.
    u, t = c.cmd('GETMETADATA Work /PRIVATE/Comment')
    check("entry names are case-insensitive", meta(u) == ['* METADATA Work (/private/comment "My new comment")'], u)
    # 4.3 example 2: delete with NIL.
    u, t = c.cmd('SETMETADATA Work (/shared/comment NIL)')
    u, t = c.cmd('GETMETADATA Work /shared/comment')
    check("SETMETADATA NIL deletes", meta(u) == ['* METADATA Work (/shared/comment NIL)'], u)
    # Server entries ("" mailbox), 4.3 example 3 adapted.
    u, t = c.cmd('SETMETADATA "" (/shared/comment "Shared server comment" /private/vendor/x/y "deep")')
    check("SETMETADATA server", " OK " in t, t)
    u, t = c.cmd('GETMETADATA "" /shared/comment')
    check("GETMETADATA server", meta(u) == ['* METADATA "" (/shared/comment "Shared server comment")'], u)
    # DEPTH (4.2.2): 1 = the entry and its children, infinity = all below.
    c.cmd('SETMETADATA "" (/private/vendor/x "mid" /private/vendor/z "other")')
    u, t = c.cmd('GETMETADATA "" (DEPTH 1) /private/vendor')
    check("DEPTH 1 (a root without value left out, as RFC 5464 4.2.2)",
          meta(u) == ['* METADATA "" (/private/vendor/x "mid" /private/vendor/z "other")'], u)
    u, t = c.cmd('GETMETADATA "" (DEPTH infinity) /private/vendor')
    check("DEPTH infinity",
          meta(u) == ['* METADATA "" (/private/vendor/x "mid" /private/vendor/x/y "deep" /private/vendor/z "other")'], u)
    u, t = c.cmd('GETMETADATA "" (DEPTH 0) /private/vendor/x')
    check("DEPTH 0", meta(u) == ['* METADATA "" (/private/vendor/x "mid")'], u)
    # MAXSIZE (4.2.1): longer values are left out, LONGENTRIES names the largest.
    c.cmd('SETMETADATA Other (/private/long "0123456789012345678901234567890123456789" /private/short "ab")')
    u, t = c.cmd('GETMETADATA (MAXSIZE 10) Other (/private/long /private/short)')
    check("MAXSIZE leaves long values out", meta(u) == ['* METADATA Other (/private/short "ab")'], u)
    check("MAXSIZE answers LONGENTRIES", "[METADATA LONGENTRIES 40]" in t, t)
    # Literal and binary-safe values.
    val = b"line one\r\nline two \xc3\xa9"
    u, t = c.cmd("SETMETADATA Other (/private/text ", literal=val)
    check("SETMETADATA literal value", " OK " in t, t)
    u, t = c.cmd('GETMETADATA Other /private/text')
    check("GETMETADATA literal value round trip",
          len(meta(u)) == 1 and meta(u)[0].encode().endswith(b"{%d}\r\n" % len(val) + val + b")"), u)
    u, t = c.cmd("SETMETADATA Other (/private/bin ", literal=b"a\x00b", literal8=True)
    check("SETMETADATA literal8 value (NUL allowed)", " OK " in t, t)
    u, t = c.cmd('GETMETADATA Other /private/bin')
    check("a value with NUL comes back as literal8",
          len(meta(u)) == 1 and meta(u)[0].encode().endswith(b"~{3}\r\na\x00b)"), u)
    # Limits (4.3): value too large -> MAXSIZE; too many entries -> TOOMANY; nothing changes.
    big = b"x" * (64 * 1024 + 1)
    u, t = c.cmd("SETMETADATA Other (/private/big ", literal=big)
    check("too large value: NO [METADATA MAXSIZE 65536]", " NO [METADATA MAXSIZE 65536]" in t, t)
    many = " ".join(f'/private/n{i} "v"' for i in range(300))
    u, t = c.cmd(f"SETMETADATA Other ({many})")
    check("too many entries: NO [METADATA TOOMANY]", " NO [METADATA TOOMANY]" in t, t)
    u, t = c.cmd('GETMETADATA Other /private/n1')
    check("a refused SETMETADATA changes nothing", meta(u) == ['* METADATA Other (/private/n1 NIL)'], u)
    # Syntax (3.2): BAD for bad names.
    for bad in ['/comment', '/private/a//b', '/private/a*', '/private/']:
        u, t = c.cmd(f'GETMETADATA Work "{bad}"')
        check(f"invalid entry {bad!r} is BAD", " BAD " in t, t)
    u, t = c.cmd('SETMETADATA Nope (/private/comment "x")')
    check("SETMETADATA on a missing mailbox: NO [NONEXISTENT]", " NO [NONEXISTENT]" in t, t)
    u, t = c.cmd('GETMETADATA Nope /private/comment')
    check("GETMETADATA on a missing mailbox: NO [NONEXISTENT]", " NO [NONEXISTENT]" in t, t)
    # Follows RENAME, goes with DELETE.
    c.cmd('SETMETADATA Tree/Leaf (/private/comment "leaf")')
    c.cmd("RENAME Tree Moved")
    u, t = c.cmd('GETMETADATA Moved/Leaf /private/comment')
    check("metadata follows RENAME (children too)", meta(u) == ['* METADATA Moved/Leaf (/private/comment "leaf")'], u)
    c.cmd("DELETE Moved/Leaf")
    c.cmd("CREATE Moved/Leaf")
    u, t = c.cmd('GETMETADATA Moved/Leaf /private/comment')
    check("metadata goes with DELETE", meta(u) == ['* METADATA Moved/Leaf (/private/comment NIL)'], u)
    c.cmd("LOGOUT")
    notify_checks()


def wait_for(c, pred, seconds=5):
    """Reads untagged lines until pred(line) or timeout; returns the lines read."""
    seen = []
    end = time.time() + seconds
    while time.time() < end:
        try:
            line = c.readline(timeout=max(0.05, end - time.time())).decode(errors="replace")
        except TimeoutError:
            break
        seen.append(line)
        if pred(line):
            break
    return seen


def notify_checks():
    a, b = Client(), Client()
    a.login()
    b.login()
    # Section 5 rules and BADEVENT.
    u, t = b.cmd("NOTIFY SET (personal (MessageNew FlagChange))")
    check("NOTIFY MessageNew without MessageExpunge is BAD", " BAD " in t, t)
    u, t = b.cmd("NOTIFY SET (personal (MessageNew MessageExpunge AnnotationChange))")
    check("NOTIFY unsupported event: NO [BADEVENT (...)]", " NO [BADEVENT (" in t and "MailboxName" in t, t)
    u, t = b.cmd("NOTIFY SET (personal (MessageNew MessageExpunge Bogus))")
    check("NOTIFY unknown event: NO [BADEVENT (...)]", " NO [BADEVENT (" in t, t)
    u, t = b.cmd("NOTIFY SET (bogus (MessageNew MessageExpunge))")
    check("NOTIFY unknown filter is BAD", " BAD " in t, t)
    # RFC 5465 section 6 example adapted: STATUS at SET time, then news while idle.
    b.cmd("SELECT INBOX")
    u, t = b.cmd("NOTIFY SET STATUS (selected (MessageNew (UID BODY.PEEK[HEADER.FIELDS (From Subject)]) MessageExpunge FlagChange)) "
                 "(subtree Work (MessageNew MessageExpunge FlagChange)) (mailboxes (Other) (MessageNew MessageExpunge))")
    check("NOTIFY SET STATUS", " OK " in t, t)
    check("SET STATUS sends STATUS of followed folders",
          any(x.startswith('* STATUS "Work"') for x in u) and any(x.startswith('* STATUS "Other"') for x in u), u)
    b.send_raw(b"i1 IDLE\r\n")
    cont = b.readline()
    check("IDLE", cont.startswith(b"+"), cont)
    msg = b"From: a@example.net\r\nSubject: hello\r\n\r\nbody\r\n"
    u, t = a.cmd("APPEND Work {%d+}\r\n" % len(msg) + msg.decode())
    check("APPEND from the other session", " OK " in t, t)
    got = wait_for(b, lambda l: l.startswith('* STATUS "Work"'))
    check("IDLE gets STATUS of a non-selected folder after APPEND",
          any(re.match(r'\* STATUS "Work" \(MESSAGES 1 UIDNEXT 2 UNSEEN 1\)', x) for x in got), got)
    a.cmd("SELECT Work")
    a.cmd("STORE 1 +FLAGS (\\Seen)")
    got = wait_for(b, lambda l: l.startswith('* STATUS "Work"'))
    check("IDLE gets STATUS after a flag change", any('UNSEEN 0' in x for x in got), got)
    if sport:
        s = smtplib.SMTP("127.0.0.1", sport, timeout=10)
        s.sendmail("x@example.net", [USER], b"From: x@example.net\r\nSubject: smtp\r\n\r\nhi\r\n")
        s.quit()
        got = wait_for(b, lambda l: l.startswith("* ") and "EXISTS" in l)
        check("IDLE on INBOX gets EXISTS for SMTP delivery", any("EXISTS" in x for x in got), got)
    b.send_raw(b"DONE\r\n")
    rest = wait_for(b, lambda l: l.startswith("i1 "))
    check("IDLE DONE", any(x.startswith("i1 OK") for x in rest), rest)
    # Outside IDLE: told after the next command.
    a.cmd("APPEND Other {%d+}\r\n" % len(msg) + msg.decode())
    time.sleep(0.3)
    u, t = b.cmd("NOOP")
    rest = wait_for(b, lambda l: l.startswith('* STATUS "Other"'), 2)
    check("STATUS after the next command", any(x.startswith('* STATUS "Other"') for x in u + rest), (u, rest))
    # A folder not followed says nothing; NOTIFY NONE stops it all.
    u, t = b.cmd("NOTIFY NONE")
    check("NOTIFY NONE", " OK " in t, t)
    a.cmd("APPEND Work {%d+}\r\n" % len(msg) + msg.decode())
    time.sleep(0.3)
    u, t = b.cmd("NOOP")
    rest = wait_for(b, lambda l: l.startswith("* STATUS"), 1)
    check("after NOTIFY NONE no STATUS", not any(x.startswith("* STATUS") for x in u + rest), (u, rest))
    # Folder-level events (sections 5.4-5.7) while idle: LIST and METADATA responses.
    u, t = b.cmd("NOTIFY SET (personal (MailboxName SubscriptionChange MailboxMetadataChange ServerMetadataChange))")
    check("NOTIFY SET folder-level events", " OK " in t, t)
    b.send_raw(b"i2 IDLE\r\n")
    b.readline()
    steps = [
        ("CREATE Fresh", lambda l: l == '* LIST () "/" "Fresh"', "MailboxName: LIST of a created folder"),
        ("RENAME Fresh Renamed", lambda l: l == '* LIST () "/" "Renamed" ("OLDNAME" ("Fresh"))',
         "MailboxName: LIST with OLDNAME after RENAME"),
        ("SUBSCRIBE Renamed", lambda l: l == '* LIST (\\Subscribed) "/" "Renamed"', "SubscriptionChange: LIST (\\Subscribed)"),
        ("UNSUBSCRIBE Renamed", lambda l: l == '* LIST () "/" "Renamed"', "SubscriptionChange: LIST () after UNSUBSCRIBE"),
        ('SETMETADATA Renamed (/private/comment "c" /shared/x "y")',
         lambda l: l == '* METADATA "Renamed" /private/comment /shared/x', "MailboxMetadataChange: METADATA with entry names"),
        ('SETMETADATA "" (/private/s "1")', lambda l: l == '* METADATA "" /private/s', "ServerMetadataChange"),
        ("DELETE Renamed", lambda l: l == '* LIST (\\NonExistent) "/" "Renamed"', "MailboxName: LIST (\\NonExistent) after DELETE"),
    ]
    for command, pred, name in steps:
        a.cmd(command)
        got = wait_for(b, pred)
        check(name, any(pred(x) for x in got), got)
    b.send_raw(b"DONE\r\n")
    wait_for(b, lambda l: l.startswith("i2 "))
    # Outside IDLE, with no command in progress: sent at once (section 5).
    a.cmd("CREATE Later")
    got = wait_for(b, lambda l: l == '* LIST () "/" "Later"', 5)
    check("MailboxName while waiting for a command (no IDLE)", '* LIST () "/" "Later"' in got, got)
    msg2 = b"From: a@example.net\r\nSubject: later\r\n\r\nbody\r\n"
    u, t = b.cmd("NOTIFY SET (mailboxes Later (MessageNew MessageExpunge))")
    a.cmd("APPEND Later {%d+}\r\n" % len(msg2) + msg2.decode())
    got = wait_for(b, lambda l: l.startswith('* STATUS "Later"'), 5)
    check("STATUS while waiting for a command (no IDLE)", any(x.startswith('* STATUS "Later" (MESSAGES 1') for x in got), got)
    a.cmd("LOGOUT")
    b.cmd("LOGOUT")


def phase2():
    c = Client()
    c.login()
    u, t = c.cmd('GETMETADATA Work /private/comment')
    check("mailbox metadata survives a restart", meta(u) == ['* METADATA Work (/private/comment "My new comment")'], u)
    u, t = c.cmd('GETMETADATA "" /shared/comment')
    check("server metadata survives a restart", meta(u) == ['* METADATA "" (/shared/comment "Shared server comment")'], u)
    c.cmd("LOGOUT")


phase1() if phase == "phase1" else phase2()
print("FAILURES:", fails)
sys.exit(1 if fails else 0)
