#!/usr/bin/env python3
"""CONDSTORE and QRESYNC (RFC 7162) end to end, against ringmail or Dovecot 2.3.

One scripted sequence, the same on any server: a fresh folder of 20 messages; sessions
that enable CONDSTORE or QRESYNC and select it; flag changes, a keyword, and expunges
made by another session; then what each kind of client hears:
  - unsolicited FETCH with MODSEQ (CONDSTORE) and UID + VANISHED (QRESYNC) on NOOP;
  - SELECT (QRESYNC (uidvalidity modseq)) with and without known UIDs and sequence
    match data: VANISHED (EARLIER) and FETCH (UID FLAGS MODSEQ) of what changed
    (RFC 7162 3.2.5.2's example adapted to this folder);
  - UID FETCH 1:* (FLAGS) (CHANGEDSINCE n VANISHED) (section 3.2.6);
  - STORE (UNCHANGEDSINCE n) with [MODIFIED] and .SILENT (3.1.3, section 6's example);
  - SEARCH MODSEQ with (MODSEQ n) and ESEARCH ... MODSEQ n (3.1.5);
  - hostile input: mod-sequences at and above 2^63, a known-UID set of 1:4294967295,
    sequence match data of unequal length, QRESYNC before ENABLE;
  - EXPUNGE and MOVE in a QRESYNC session answer VANISHED, never EXPUNGE;
  - Python's imaplib (ENABLE, SELECT with the QRESYNC parameter, untagged VANISHED).
Prints "PASS name" / "FAIL name: why", "note: ..." where servers may differ, and
"RESULT key value" lines (UID sets, flags, modseq orderings; never raw modseqs, which
differ between servers) that imap_condstore_diff.py compares between two servers.
Exits 1 if any check failed.

Usage: imap_condstore.py --host 127.0.0.1 --port N --user U --password P
                         [--server-kind ringmail|dovecot]
"""

import argparse
import imaplib
import random
import re
import socket
import sys
import time

ARGS = None
RESULTS = []
FAILED = []
TIMEOUT = 60.0  # a loaded machine (ctest in parallel) can take seconds per command


class CheckFailed(Exception):
    pass


def need(cond, why):
    if not cond:
        raise CheckFailed(why)


def result(key, value):
    RESULTS.append((key, value))
    print(f"RESULT {key} {value}", flush=True)


def note(text):
    print(f"note: [{ARGS.server_kind}] {text}", flush=True)


class Conn:
    """A raw IMAP connection: one command at a time, responses kept as text lines."""

    def __init__(self):
        self.sock = socket.create_connection((ARGS.host, ARGS.port), timeout=TIMEOUT)
        self.buf = b""
        self.n = 0
        greeting = self.line()
        need(greeting.startswith("* OK"), f"greeting {greeting!r}")

    def line(self):
        out = b""
        while True:
            while b"\r\n" not in self.buf:
                data = self.sock.recv(65536)
                if not data:
                    raise CheckFailed("connection closed")
                self.buf += data
            i = self.buf.index(b"\r\n")
            part, self.buf = self.buf[: i + 2], self.buf[i + 2 :]
            out += part
            m = re.search(rb"\{(\d+)\}\r\n$", part)
            if not m:
                return out[:-2].decode("utf-8", "replace")
            n = int(m.group(1))
            while len(self.buf) < n:
                data = self.sock.recv(65536)
                if not data:
                    raise CheckFailed("connection closed in a literal")
                self.buf += data
            out += self.buf[:n]
            self.buf = self.buf[n:]

    def cmd(self, text):
        """Sends `text` (tag added); returns (untagged lines, tagged line)."""
        self.n += 1
        tag = f"c{self.n}"
        self.sock.sendall(f"{tag} {text}\r\n".encode())
        untagged = []
        while True:
            ln = self.line()
            if ln.startswith(tag + " "):
                return untagged, ln[len(tag) + 1 :]
            untagged.append(ln)

    def ok(self, text):
        u, t = self.cmd(text)
        need(t.startswith("OK"), f"{text!r} -> {t!r}")
        return u, t

    def close(self):
        try:
            self.cmd("LOGOUT")
        except Exception:
            pass
        self.sock.close()


def login():
    c = Conn()
    c.ok(f'LOGIN "{ARGS.user}" "{ARGS.password}"')
    return c


def code(lines, name):
    for ln in lines:
        m = re.search(r"\[" + name + r" (\d+)\]", ln)
        if m:
            return int(m.group(1))
    return None


FETCH_RE = re.compile(r"^\* (\d+) FETCH \((.*)\)$")


def fetches(lines):
    """{uid or ('seq', n): {'flags': set, 'modseq': int or None, 'seq': n}}"""
    out = {}
    for ln in lines:
        m = FETCH_RE.match(ln)
        if not m:
            continue
        body = m.group(2)
        uid = re.search(r"\bUID (\d+)", body)
        flags = re.search(r"\bFLAGS \(([^)]*)\)", body)
        modseq = re.search(r"\bMODSEQ \((\d+)\)", body)
        key = int(uid.group(1)) if uid else ("seq", int(m.group(1)))
        out[key] = {
            "seq": int(m.group(1)),
            "flags": set(flags.group(1).split()) if flags else None,
            "modseq": int(modseq.group(1)) if modseq else None,
        }
    return out


def expand(text):
    out = set()
    for part in text.split(","):
        if ":" in part:
            a, b = (int(x) for x in part.split(":"))
            out.update(range(min(a, b), max(a, b) + 1))
        elif part:
            out.add(int(part))
    return out


def vanished(lines, earlier):
    out = set()
    for ln in lines:
        m = re.match(r"^\* VANISHED (\(EARLIER\) )?(\S+)$", ln)
        if m and bool(m.group(1)) == earlier:
            out |= expand(m.group(2))
    return out


def fmt(uids):
    return ",".join(str(u) for u in sorted(uids)) or "-"


def fmt_flags(f):
    """{uid: flags} -> "uid:flag+flag;..." with \\Recent dropped (Dovecot still has it)."""
    parts = []
    for uid in sorted(k for k in f if isinstance(k, int)):
        flags = sorted(x for x in (f[uid]["flags"] or ()) if x != "\\Recent")
        parts.append(f"{uid}:{'+'.join(flags)}")
    return ";".join(parts) or "-"


CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


class State:
    folder = ""
    uv = 0
    hm0 = 0
    uids = []


S = State()


@check
def capability_and_enable():
    c = login()
    u, _ = c.ok("CAPABILITY")
    caps = " ".join(u).upper().split()
    need("CONDSTORE" in caps and "QRESYNC" in caps, f"CAPABILITY lacks CONDSTORE/QRESYNC: {u}")
    u, _ = c.ok("ENABLE QRESYNC")
    en = [x for x in u if x.startswith("* ENABLED")]
    need(en and "QRESYNC" in en[0].upper(), f"ENABLE QRESYNC -> {u}")
    u, _ = c.ok("ENABLE CONDSTORE")
    # QRESYNC implied CONDSTORE: nothing new to enable (Dovecot may still name it).
    en = [x for x in u if x.startswith("* ENABLED")]
    need(en, f"ENABLE CONDSTORE -> no ENABLED: {u}")
    if "CONDSTORE" in en[0].upper():
        note("ENABLE CONDSTORE after QRESYNC names CONDSTORE again")
    c.close()


@check
def setup_folder():
    S.folder = f"cs-{random.randrange(1 << 30):x}"
    c = login()
    c.ok(f"CREATE {S.folder}")
    for i in range(20):
        msg = f"From: a{i}@example.org\r\nSubject: m{i}\r\nMessage-ID: <m{i}@cs>\r\n\r\nbody {i}\r\n"
        c.ok(f"APPEND {S.folder} {{{len(msg)}+}}\r\n{msg}")
    c.close()


def select_condstore(c, extra=""):
    u, t = c.ok(f"SELECT {S.folder} {extra}".rstrip())
    return u, t


@check
def select_reports_highestmodseq():
    c = login()
    u, t = select_condstore(c, "(CONDSTORE)")
    hm = code(u + [t], "HIGHESTMODSEQ")
    need(hm is not None and hm > 0, f"no HIGHESTMODSEQ in SELECT (CONDSTORE): {u}")
    need(not any("NOMODSEQ" in x for x in u), "NOMODSEQ")
    S.uv = code(u, "UIDVALIDITY")
    S.hm0 = hm
    u, _ = c.ok("UID SEARCH ALL")
    S.uids = [int(x) for x in u[0].split()[2:]]
    need(len(S.uids) == 20, f"UID SEARCH ALL -> {u}")
    result("uids", fmt(S.uids))
    u, _ = c.ok("FETCH 1:* (UID MODSEQ)")
    f = fetches(u)
    need(len(f) == 20 and all(v["modseq"] and v["modseq"] <= hm for v in f.values()), f"MODSEQ > HIGHESTMODSEQ: {u[:3]}")
    u, _ = c.ok(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {hm})")
    need(not fetches(u), f"CHANGEDSINCE HIGHESTMODSEQ returned messages: {u}")
    c.close()


SESSIONS = {}


@check
def watchers_select():
    # A CONDSTORE session and a QRESYNC session keep the folder selected while another
    # session makes the changes.
    c1 = login()
    c1.ok("ENABLE CONDSTORE")
    select_condstore(c1)
    c2 = login()
    c2.ok("ENABLE QRESYNC")
    u, _ = c2.ok(f"SELECT {S.folder} (QRESYNC ({S.uv} {S.hm0}))")
    need(not vanished(u, True) and not fetches(u), f"QRESYNC with the current modseq reported changes: {u}")
    SESSIONS["c1"], SESSIONS["c2"] = c1, c2


@check
def changes_by_another_session():
    u = S.uids
    c = login()
    c.ok(f"SELECT {S.folder}")
    c.ok(f"UID STORE {u[2]},{u[5]} +FLAGS (\\Flagged)")
    c.ok(f"UID STORE {u[3]} +FLAGS ($Label1)")
    c.ok(f"UID STORE {u[7]} +FLAGS (\\Deleted \\Seen)")
    c.ok(f"UID STORE {u[8]} +FLAGS (\\Deleted)")
    c.ok(f"UID EXPUNGE {u[7]}:{u[8]}")
    c.ok(f"UID STORE {u[5]} -FLAGS (\\Flagged)")
    c.ok(f"UID STORE {u[5]} +FLAGS (\\Answered)")
    c.close()


@check
def condstore_session_hears_modseq():
    c1 = SESSIONS["c1"]
    u, _ = c1.ok("NOOP")
    exp = [x for x in u if x.endswith(" EXPUNGE")]
    need(len(exp) == 2, f"CONDSTORE session: expected 2 EXPUNGE, got {u}")
    need(not any(x.startswith("* VANISHED") for x in u), "VANISHED without QRESYNC")
    f = fetches(u)
    need(f, f"no FETCH for the flag changes: {u}")
    need(all(v["modseq"] for v in f.values()), f"FETCH without MODSEQ under CONDSTORE: {u}")
    c1.close()


@check
def qresync_session_hears_vanished():
    c2 = SESSIONS["c2"]
    u, _ = c2.ok("NOOP")
    need(not any(x.endswith(" EXPUNGE") for x in u), f"EXPUNGE under QRESYNC: {u}")
    v = vanished(u, False)
    need(v == {S.uids[7], S.uids[8]}, f"VANISHED {fmt(v)} (expected {S.uids[7]},{S.uids[8]}): {u}")
    f = fetches(u)
    need(f and all(isinstance(k, int) and v["modseq"] for k, v in f.items()), f"FETCH without UID/MODSEQ: {u}")
    result("unsolicited_vanished", fmt(v))
    result("unsolicited_fetch", fmt_flags(f))
    c2.close()


def qresync_select(c, params):
    u, t = c.cmd(f"SELECT {S.folder} (QRESYNC ({params}))")
    need(t.startswith("OK"), f"SELECT QRESYNC ({params}) -> {t}")
    return u, t


@check
def qresync_select_full():
    c = login()
    c.ok("ENABLE QRESYNC")
    u, t = qresync_select(c, f"{S.uv} {S.hm0}")
    hm = code(u + [t], "HIGHESTMODSEQ")
    need(hm and hm > S.hm0, f"HIGHESTMODSEQ did not grow: {hm} vs {S.hm0}")
    v = vanished(u, True)
    need(v == {S.uids[7], S.uids[8]}, f"VANISHED (EARLIER) {fmt(v)}")
    f = fetches(u)
    need(set(f) == {S.uids[2], S.uids[3], S.uids[5]}, f"FETCH for {sorted(f)}")
    need(all(S.hm0 < x["modseq"] <= hm for x in f.values()), f"modseqs out of ({S.hm0}, {hm}]")
    need(f[S.uids[5]]["modseq"] > f[S.uids[2]]["modseq"], "the later change has the lower modseq")
    # Order in the response: VANISHED before the FETCHes (RFC 7162 3.2.5.2's example).
    iv = [i for i, x in enumerate(u) if x.startswith("* VANISHED")]
    ifx = [i for i, x in enumerate(u) if FETCH_RE.match(x)]
    need(iv and ifx and iv[0] < ifx[0], "VANISHED after FETCH")
    result("select_vanished", fmt(v))
    result("select_fetch", fmt_flags(f))
    SESSIONS["c3"] = c
    S.hm1 = hm
    S.modseqs = {k: x["modseq"] for k, x in f.items()}


@check
def qresync_select_known_uids_and_match_data():
    c = SESSIONS["c3"]
    u = S.uids
    # Known UIDs 1..5 (by position): the expunged 8th and 9th are not the client's concern.
    resp, _ = qresync_select(c, f"{S.uv} {S.hm0} {u[0]}:{u[4]}")
    need(any("[CLOSED]" in x for x in resp), "no [CLOSED] when SELECT switched (re-selected) the folder")
    need(not vanished(resp, True), f"VANISHED outside the known UIDs: {resp}")
    f = fetches(resp)
    need(set(f) == {u[2], u[3]}, f"FETCH for {sorted(f)}")
    result("select_known_fetch", fmt_flags(f))
    # RFC 7162 3.2.5.2 with sequence match data that matches the folder now.
    resp, _ = qresync_select(c, f"{S.uv} {S.hm0} {u[0]}:{u[-1]} (1,5,15 {u[0]},{u[4]},{u[16]})")
    v = vanished(resp, True)
    need(v == {u[7], u[8]}, f"VANISHED (EARLIER) with match data {fmt(v)}")
    result("select_match_vanished", fmt(v))
    # Another UIDVALIDITY: the data is ignored.
    resp, _ = qresync_select(c, f"{S.uv + 1} {S.hm0}")
    need(not vanished(resp, True) and not fetches(resp), f"UIDVALIDITY mismatch still answered: {resp}")


@check
def uid_fetch_changedsince_vanished():
    c = SESSIONS["c3"]
    qresync_select(c, f"{S.uv} {S.hm1}")
    u, _ = c.ok(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {S.hm0} VANISHED)")
    v = vanished(u, True)
    need(v == {S.uids[7], S.uids[8]}, f"VANISHED (EARLIER) {fmt(v)}: {u}")
    f = fetches(u)
    need(set(f) == {S.uids[2], S.uids[3], S.uids[5]}, f"FETCH for {sorted(f)}")
    need(all(x["modseq"] for x in f.values()), "CHANGEDSINCE without MODSEQ in the answer")
    result("fetch_vanished", fmt(v))
    result("fetch_changed", fmt_flags(f))
    u, t = c.cmd(f"FETCH 1:* (FLAGS) (CHANGEDSINCE {S.hm0} VANISHED)")
    need(t.startswith("BAD"), f"VANISHED in a non-UID FETCH: {t}")
    u, t = c.cmd("UID FETCH 1:* (FLAGS) (VANISHED)")
    need(t.startswith("BAD"), f"VANISHED without CHANGEDSINCE: {t}")


@check
def store_unchangedsince():
    c = SESSIONS["c3"]
    uid = S.uids[2]
    old = S.modseqs[uid]
    u, t = c.cmd(f"UID STORE {uid} (UNCHANGEDSINCE {old - 1}) +FLAGS (\\Seen)")
    need(t.startswith("OK") and f"[MODIFIED {uid}]" in t, f"expected [MODIFIED {uid}]: {t}")
    u, t = c.ok(f"UID STORE {uid} (UNCHANGEDSINCE {old}) +FLAGS (\\Seen)")
    f = fetches(u)
    need(uid in f and f[uid]["modseq"] and f[uid]["modseq"] > old, f"STORE answer without a new MODSEQ: {u}")
    need("[MODIFIED" not in t, t)
    new = f[uid]["modseq"]
    # .SILENT: still one FETCH with the new MODSEQ (RFC 7162 3.1.3; section 6's example).
    u, t = c.ok(f"UID STORE {uid} (UNCHANGEDSINCE {new}) +FLAGS.SILENT (\\Answered)")
    f = fetches(u)
    need(uid in f and f[uid]["modseq"] and f[uid]["modseq"] > new and f[uid]["flags"] is None,
         f".SILENT STORE answer: {u}")
    result("store_silent", "fetch-modseq-only")
    # UNCHANGEDSINCE 0 always fails for an existing message.
    u, t = c.cmd(f"UID STORE {uid} (UNCHANGEDSINCE 0) +FLAGS (\\Draft)")
    need(f"[MODIFIED {uid}]" in t, f"UNCHANGEDSINCE 0: {t}")
    S.store_modseq = f[uid]["modseq"]


@check
def search_modseq():
    c = SESSIONS["c3"]
    u, _ = c.ok(f"UID SEARCH MODSEQ {S.hm0 + 1}")
    m = re.match(r"^\* SEARCH ([\d ]+) \(MODSEQ (\d+)\)$", u[0])
    need(m, f"SEARCH MODSEQ -> {u}")
    hits = {int(x) for x in m.group(1).split()}
    need(hits == {S.uids[2], S.uids[3], S.uids[5]}, f"hits {fmt(hits)}")
    need(int(m.group(2)) == S.store_modseq, f"(MODSEQ {m.group(2)}) is not the highest ({S.store_modseq})")
    result("search_modseq", fmt(hits))
    u, _ = c.ok(f"UID SEARCH RETURN (ALL) MODSEQ {S.hm0 + 1}")
    m = re.search(r"ALL (\S+) MODSEQ (\d+)", u[0])
    need(m and expand(m.group(1)) == hits and int(m.group(2)) == S.store_modseq, f"ESEARCH MODSEQ -> {u}")
    u, _ = c.ok(f"SEARCH MODSEQ {S.store_modseq + 1}")
    need(u == ["* SEARCH"], f"no match must carry no MODSEQ: {u}")


@check
def hostile_modseqs_and_sets():
    c = SESSIONS["c3"]
    # mod-sequence-value is 1*DIGIT below 2^63 (RFC 7162 section 7). ringmail says BAD to
    # anything larger; Dovecot reads some of them leniently (DIFFERENCES.md).
    for i, cmd in enumerate([f"SEARCH MODSEQ 9223372036854775808",
                             f"SELECT {S.folder} (QRESYNC ({S.uv} 9223372036854775808))",
                             f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE 18446744073709551616)",
                             f"UID STORE 1 (UNCHANGEDSINCE 99999999999999999999) +FLAGS (\\Seen)"]):
        _, t = c.cmd(cmd)
        result(f"modseq_2^63_{i}", t.split()[0])
        if ARGS.server_kind == "ringmail":
            need(t.startswith("BAD"), f"{cmd} -> {t}")
        elif not t.startswith("BAD"):
            note(f"{cmd} -> {t}")
    qresync_select(c, f"{S.uv} {S.hm1}")
    _, t = c.cmd("SEARCH MODSEQ 9223372036854775807")
    need(t.startswith("OK"), f"2^63-1 refused: {t}")
    t0 = time.monotonic()
    u, _ = qresync_select(c, f"{S.uv} {S.hm0} 1:4294967295")
    took = time.monotonic() - t0
    need(took < 5, f"known UIDs 1:4294967295 took {took:.1f} s")
    v = vanished(u, True) if len(u) < 1000 else None
    need(v is not None and {S.uids[7], S.uids[8]} <= v, f"VANISHED for 1:4294967295: {fmt(v or [])}")
    result("huge_known_vanished", fmt(v))
    u, t = c.cmd(f"SELECT {S.folder} (QRESYNC ({S.uv} {S.hm0} 1:20 (1:3 1:4)))")
    if t.startswith("BAD"):
        result("unequal_match", "BAD")
    else:
        note(f"sequence match data of unequal length: {t}")
        result("unequal_match", "ignored")
    u, t = c.cmd(f"SELECT {S.folder} (QRESYNC ({S.uv} {S.hm0} 1:20 (1:4294967295 1:4294967295)))")
    need(t.startswith("OK") or t.startswith("BAD"), t)
    c2 = login()
    u, t = c2.cmd(f"SELECT {S.folder} (QRESYNC ({S.uv} {S.hm0}))")
    need(t.startswith("BAD"), f"QRESYNC before ENABLE -> {t}")
    c2.close()


@check
def enabling_command_announces_highestmodseq():
    c = login()
    u, _ = c.ok(f"SELECT {S.folder}")
    plain_hm = code(u, "HIGHESTMODSEQ")
    if plain_hm is None:
        note("no HIGHESTMODSEQ in a plain SELECT")
    u, _ = c.ok("FETCH 1 (MODSEQ)")
    f = fetches(u)
    need(f and list(f.values())[0]["modseq"], f"FETCH MODSEQ -> {u}")
    if code(u, "HIGHESTMODSEQ") is None:
        note("FETCH MODSEQ (CONDSTORE enabling) announced no HIGHESTMODSEQ")
    # Now CONDSTORE is on: our own STORE's answer carries MODSEQ.
    u, _ = c.ok("STORE 1 +FLAGS (\\Flagged)")
    f = fetches(u)
    need(f and list(f.values())[0]["modseq"], f"STORE after enabling without MODSEQ: {u}")
    c.close()
    # ENABLE CONDSTORE while a folder is selected: ENABLED names it, HIGHESTMODSEQ comes too.
    c = login()
    c.ok(f"SELECT {S.folder}")
    u, _ = c.ok("ENABLE CONDSTORE")
    need(any(x.upper().startswith("* ENABLED") and "CONDSTORE" in x.upper() for x in u), f"ENABLE CONDSTORE -> {u}")
    result("enable_selected_highestmodseq", "yes" if code(u, "HIGHESTMODSEQ") else "no")
    c.close()


@check
def expunge_and_move_answer_vanished():
    c = SESSIONS["c3"]
    qresync_select(c, f"{S.uv} {S.hm1}")
    c.ok(f"UID STORE {S.uids[10]} +FLAGS.SILENT (\\Deleted)")
    u, t = c.ok("EXPUNGE")
    # The tagged OK names the new HIGHESTMODSEQ (the expunge moved it).
    result("expunge_ok_highestmodseq", "yes" if (code([t], "HIGHESTMODSEQ") or 0) > S.hm1 else "no")
    need(not any(x.endswith(" EXPUNGE") for x in u), f"EXPUNGE response under QRESYNC: {u}")
    v = vanished(u, False)
    need(v == {S.uids[10]}, f"VANISHED {fmt(v)}")
    c.ok(f"CREATE {S.folder}-to")
    u, _ = c.ok(f"UID MOVE {S.uids[11]}:{S.uids[12]} {S.folder}-to")
    v = vanished(u, False)
    need(v == {S.uids[11], S.uids[12]}, f"MOVE: VANISHED {fmt(v)}: {u}")
    need(not any(x.endswith(" EXPUNGE") for x in u), f"EXPUNGE in MOVE under QRESYNC: {u}")
    c.ok(f"UID STORE {S.uids[13]} +FLAGS.SILENT (\\Deleted)")
    u, _ = c.ok(f"UID EXPUNGE {S.uids[13]}")
    need(vanished(u, False) == {S.uids[13]}, f"UID EXPUNGE: {u}")
    result("expunge_vanished", fmt({S.uids[10], S.uids[11], S.uids[12], S.uids[13]}))
    c.ok(f"UID STORE {S.uids[14]} +FLAGS.SILENT (\\Deleted)")
    u, t = c.ok("CLOSE")
    need(not vanished(u, False), f"CLOSE sent VANISHED: {u}")
    result("close_ok_highestmodseq", "yes" if (code([t], "HIGHESTMODSEQ") or 0) > S.hm1 else "no")


@check
def imaplib_qresync():
    m = imaplib.IMAP4(ARGS.host, ARGS.port, timeout=TIMEOUT)
    m.login(ARGS.user, ARGS.password)
    typ, data = m.enable("QRESYNC")
    need(typ == "OK", f"imaplib enable: {typ} {data}")
    typ, data = m._simple_command("SELECT", S.folder, f"(QRESYNC ({S.uv} {S.hm0}))")
    need(typ == "OK", f"imaplib SELECT QRESYNC: {typ} {data}")
    van = m.untagged_responses.get("VANISHED", [])
    got = set()
    for v in van:
        s = v.decode()
        need(s.startswith("(EARLIER) "), f"VANISHED without EARLIER: {s}")
        got |= expand(s.split(" ", 1)[1])
    expected = {S.uids[i] for i in (7, 8, 10, 11, 12, 13, 14)}
    need(got == expected, f"imaplib VANISHED {fmt(got)} != {fmt(expected)}")
    hm = m.untagged_responses.get("HIGHESTMODSEQ")
    need(hm, f"imaplib: no HIGHESTMODSEQ code: {list(m.untagged_responses)}")
    result("imaplib_vanished", fmt(got))
    m.logout()


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--server-kind", default="ringmail")
    ARGS = ap.parse_args()
    for fn in CHECKS:
        try:
            fn()
            print(f"PASS {fn.__name__}", flush=True)
        except Exception as e:  # noqa: BLE001 - a check's failure of any kind is reported
            FAILED.append(fn.__name__)
            print(f"FAIL {fn.__name__}: {e}", flush=True)
            if fn.__name__ == "setup_folder" or fn.__name__ == "select_reports_highestmodseq":
                break
    print(f"imap_condstore: {len(CHECKS) - len(FAILED)} passed, {len(FAILED)} failed")
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
