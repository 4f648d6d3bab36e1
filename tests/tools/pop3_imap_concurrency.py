#!/usr/bin/env python3
"""IMAP and POP3 on one mailbox at once (issue 12, "IMAP and POP3 on one mailbox at
once"), for pop3_imap_concurrency_test.sh. The INBOX starts with --count messages (made
by pop3_fetchers.py generate; their originals in --orig). Sessions: A and B over IMAPS
(imaplib), P over POP3S (poplib), all as one user:

  1. A SELECTs INBOX; P logs in: STAT, LIST, UIDL and TOP n 0 of every message agree
     with A's view (same Message-IDs).
  2. A message delivered during P (--lmtp-port: LMTP; --deliver-maildir: a file put in
     Maildir/new, for Dovecot) reaches A as EXISTS but is not in P's STAT/LIST/UIDL: the
     maildrop is INBOX as it was at login (RFC 1939 section 8 leaves it open; Dovecot
     and ringmail fix it).
  3. B sets \\Flagged on message 7 and \\Answered on 10 (Maildir renames); P's RETR 7
     still returns it, byte for byte the original.
  4. B expunges message 8; P's RETR 8 answers -ERR, and P goes on: NOOP +OK, RETR 9 is
     byte for byte its original. A sees B's expunge as one EXPUNGE.
  5. P RETRs 1-3 and 10-14, DELEs 10-14 (10 renamed by B) and 8 (expunged by B: +OK
     or -ERR, either way the session goes on); A goes into IDLE; P QUITs (+OK): A must get
     exactly 5 EXPUNGE (or VANISHED) responses in IDLE; then SELECT says EXISTS is 5 lower
     than before P's QUIT, and 10-14's Message-IDs are gone.
  6. A FETCH FLAGS: 1-3, 7 and 9 (RETRieved, kept) have \\Seen; 4-6 (only TOP'd) do not;
     7 still has \\Flagged.
  7. A second POP3 session: STAT is count + 1 - 1 - 5; the delivered message is in its
     LIST (RETR of it gives its Message-ID); the UIDLs of the remaining messages equal
     the first session's.
  8. That session DELEs message 1 and drops the connection without QUIT; the next
     session (retrying while the server still reports [IN-USE]) has the same STAT.

Prints "ok: ..." / "FAIL: ..." per check and "pop3_imap_concurrency: N passed, N failed";
exits 1 if any failed.
Usage: pop3_imap_concurrency.py --imaps-port P --pop3s-port P --orig DIR --count N
       (--lmtp-port P | --deliver-maildir DIR) [--host H --user U --password PW]
"""

import argparse
import imaplib
import os
import poplib
import re
import smtplib
import socket
import ssl
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pop3_fetchers import read_tree, split_message  # noqa: E402

PASSED = 0
FAILED = 0


def check(what, cond, detail=""):
    global PASSED, FAILED
    if cond:
        PASSED += 1
        print(f"ok: {what}")
    else:
        FAILED += 1
        print(f"FAIL: {what}" + (f" ({detail})" if detail else ""))
    return cond


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def imap_login(a):
    m = imaplib.IMAP4_SSL(a.host, a.imaps_port, ssl_context=tls_context(), timeout=30)
    m.login(a.user, a.password)
    return m


def pop_login(a, retry_in_use=0.0):
    """A POP3S session; while the server answers [IN-USE], retry for up to retry_in_use s."""
    deadline = time.monotonic() + retry_in_use
    while True:
        p = poplib.POP3_SSL(a.host, a.pop3s_port, context=tls_context(), timeout=30)
        try:
            p.user(a.user)
            p.pass_(a.password)
            return p
        except poplib.error_proto as e:
            p.close()
            if b"IN-USE" in e.args[0] and time.monotonic() < deadline:
                time.sleep(0.1)
                continue
            raise


def exists_of(m):
    return int(m.select("INBOX")[1][0])


def imap_view(m):
    """{UID: (Message-ID, flags)} of the selected INBOX, in sequence order."""
    typ, data = m.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    out = {}
    for item in data:
        if not isinstance(item, tuple):
            continue
        meta, header = item
        uid = int(re.search(rb"UID (\d+)", meta).group(1))
        flags = re.search(rb"FLAGS \(([^)]*)\)", meta).group(1).decode().split()
        mid = re.search(rb"(?i)message-id:\s*(\S+)", header)
        out[uid] = (mid.group(1).decode() if mid else None, flags)
    return out


def lines_to_bytes(lines):
    """poplib's RETR lines (already un-stuffed) back into an LF message."""
    return b"".join(ln + b"\n" for ln in lines)


def deliver(a, mid):
    text = (f"From: other@test.example\nTo: {a.user}\nSubject: delivered during POP3\n"
            f"Message-ID: {mid}\n\nThis one arrived while a POP3 session was open.\n")
    if a.lmtp_port:
        with smtplib.LMTP(a.host, a.lmtp_port, timeout=30) as s:
            s.sendmail("other@test.example", [a.user], text.replace("\n", "\r\n").encode())
    else:
        tmp = os.path.join(a.deliver_maildir, "tmp", f"{int(time.time())}.Mconc.test")
        with open(tmp, "w") as f:
            f.write(text)
        st = os.stat(a.deliver_maildir)
        if os.geteuid() == 0:
            os.chown(tmp, st.st_uid, st.st_gid)
        os.rename(tmp, os.path.join(a.deliver_maildir, "new", os.path.basename(tmp)))


def untagged(m, deadline_s, want):
    """NOOP until want(responses) holds or deadline_s passes; the untagged responses."""
    got = []
    end = time.monotonic() + deadline_s
    while True:
        typ, data = m.noop()
        for kind in ("EXISTS", "EXPUNGE", "VANISHED"):
            for v in m.untagged_responses.pop(kind, []):
                got.append((kind, v))
        if want(got) or time.monotonic() > end:
            return got
        time.sleep(0.1)


def idle_until_expunges(m, n, timeout_s, during):
    """IDLE on m, run during(), read until n EXPUNGE/VANISHED have arrived (or timeout_s);
    DONE. Returns (expunge count, raw lines)."""
    tag = m._new_tag()
    m.send(tag + b" IDLE\r\n")
    first = m.readline()
    if not first.startswith(b"+"):
        return -1, [first]
    during()
    m.sock.settimeout(timeout_s)
    lines, count = [], 0
    try:
        while count < n:
            ln = m.readline()
            if not ln:
                break
            lines.append(ln)
            if re.match(rb"\* \d+ EXPUNGE", ln):
                count += 1
            elif ln.startswith(b"* VANISHED"):
                ids = ln.split()[-1].decode()
                for part in ids.split(","):
                    lo, _, hi = part.partition(":")
                    count += int(hi or lo) - int(lo) + 1
    except (socket.timeout, TimeoutError):
        lines.append(b"(timeout)")
        return count, lines
    m.sock.settimeout(30)
    m.send(b"DONE\r\n")
    while True:
        ln = m.readline()
        lines.append(ln)
        if not ln or ln.startswith(tag):
            break
    return count, lines


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--imaps-port", type=int, required=True)
    ap.add_argument("--pop3s-port", type=int, required=True)
    ap.add_argument("--user", default="john@example.org")
    ap.add_argument("--password", default="pw-john")
    ap.add_argument("--orig", required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--lmtp-port", type=int)
    ap.add_argument("--deliver-maildir")
    a = ap.parse_args()
    if not a.lmtp_port and not a.deliver_maildir:
        ap.error("--lmtp-port or --deliver-maildir")
    n = a.count
    assert n >= 15, "the steps use messages 1-14"
    originals = {}
    for _, data in read_tree(a.orig):
        _, _, mid = split_message(data)
        originals[mid] = data.replace(b"\r\n", b"\n")

    # 1. Both views agree.
    A = imap_login(a)
    check(f"IMAP A: SELECT INBOX EXISTS {n}", exists_of(A) == n)
    view = imap_view(A)
    uid_of_mid = {mid: uid for uid, (mid, _) in view.items()}
    P = pop_login(a)
    count, octets = P.stat()
    check(f"POP3 P: STAT {n}", count == n, f"{count} {octets}")
    listed = P.list()[1]
    check(f"POP3 P: LIST has {n} lines", len(listed) == n, repr(listed[:3]))
    uidl1 = {int(x.split()[0]): x.split()[1].decode() for x in P.uidl()[1]}
    pop_mid = {}
    for k in range(1, n + 1):
        _, lines, _ = P.top(k, 0)
        pop_mid[k] = split_message(lines_to_bytes(lines))[2]
    check("POP3 TOP n 0 Message-IDs are the IMAP view's and the originals'",
          set(pop_mid.values()) == set(uid_of_mid) == set(originals),
          f"{len(set(pop_mid.values()))} / {len(uid_of_mid)} / {len(originals)}")
    uid = {k: uid_of_mid.get(pop_mid[k]) for k in pop_mid}

    # 2. A delivery during P: A sees it, P's maildrop does not change.
    new_mid = f"<delivered-during-pop3.{os.getpid()}@test.example>"
    deliver(a, new_mid)
    got = untagged(A, 10, lambda g: any(k == "EXISTS" and int(v) == n + 1 for k, v in g))
    check(f"IMAP A: the delivery arrives as EXISTS {n + 1}",
          any(k == "EXISTS" and int(v) == n + 1 for k, v in got), repr(got))
    count, _ = P.stat()
    check(f"POP3 P: STAT still {n} after the delivery (maildrop fixed at login)", count == n, str(count))
    check(f"POP3 P: LIST still {n} lines", len(P.list()[1]) == n)
    check(f"POP3 P: UIDL unchanged", {int(x.split()[0]): x.split()[1].decode() for x in P.uidl()[1]} == uidl1)
    try:
        P.list(n + 1)
        check(f"POP3 P: LIST {n + 1} (the delivered message) is -ERR", False, "+OK")
    except poplib.error_proto as e:
        check(f"POP3 P: LIST {n + 1} (the delivered message) is -ERR", e.args[0].startswith(b"-ERR"), repr(e))

    # 3. B flags message 7 (the file is renamed); P's RETR 7 still works.
    B = imap_login(a)
    exists_of(B)
    typ, _ = B.uid("STORE", str(uid[7]), "+FLAGS", "(\\Flagged)")
    check("IMAP B: UID STORE +FLAGS (\\Flagged) on message 7", typ == "OK")
    # Message 10 is renamed too; P DELEtes it later, so QUIT must expunge the renamed file.
    typ, _ = B.uid("STORE", str(uid[10]), "+FLAGS", "(\\Answered)")
    check("IMAP B: UID STORE +FLAGS (\\Answered) on message 10", typ == "OK")
    try:
        _, lines, _ = P.retr(7)
        body = lines_to_bytes(lines)
        check("POP3 P: RETR 7 after IMAP's flag change is the original byte for byte",
              body == originals[pop_mid[7]], f"{len(body)} vs {len(originals[pop_mid[7]])} bytes")
    except poplib.error_proto as e:
        check("POP3 P: RETR 7 after IMAP's flag change", False, repr(e))

    # 4. B expunges message 8; P's RETR 8 fails, P keeps serving.
    B.uid("STORE", str(uid[8]), "+FLAGS", "(\\Deleted)")
    typ, data = B.expunge()
    check("IMAP B: EXPUNGE of message 8", typ == "OK", repr(data))
    try:
        resp = P.retr(8)[0]
        check("POP3 P: RETR 8 after IMAP's EXPUNGE is -ERR", False, repr(resp))
    except poplib.error_proto as e:
        check("POP3 P: RETR 8 after IMAP's EXPUNGE is -ERR", e.args[0].startswith(b"-ERR"), repr(e))
    except (OSError, EOFError) as e:
        check("POP3 P: RETR 8 after IMAP's EXPUNGE is -ERR", False, f"connection lost: {e!r}")
        return finish()
    try:
        check("POP3 P: NOOP after that is +OK", P.noop().startswith(b"+OK"))
        _, lines, _ = P.retr(9)
        check("POP3 P: RETR 9 after that is the original byte for byte",
              lines_to_bytes(lines) == originals[pop_mid[9]])
    except (poplib.error_proto, OSError) as e:
        check("POP3 P: keeps serving after the -ERR", False, repr(e))
        return finish()
    got = untagged(A, 10, lambda g: any(k == "EXPUNGE" for k, _ in g))
    check("IMAP A: B's expunge arrives as one EXPUNGE",
          sum(1 for k, _ in got if k == "EXPUNGE") == 1, repr(got))
    before_quit = exists_of(A)
    check(f"IMAP A: EXISTS {n} before P's QUIT ({n} + 1 delivered - 1 expunged)", before_quit == n,
          str(before_quit))

    # 5. P RETRs 1-3 and 10-14, DELEs 10-14 and QUITs while A IDLEs.
    for k in (1, 2, 3, 10, 11, 12, 13, 14):
        P.retr(k)
    for k in range(10, 15):
        P.dele(k)
    # DELE of the message IMAP expunged: +OK or -ERR, but the session goes on and QUIT
    # still expunges exactly the 5 others.
    try:
        r = P.dele(8)
        dele8 = r.split()[0].decode(errors="replace")
    except poplib.error_proto as e:
        dele8 = e.args[0].split()[0].decode(errors="replace")
    except (OSError, EOFError) as e:
        dele8 = f"connection lost: {e!r}"
    check(f"POP3 P: DELE of the IMAP-expunged message 8 answers +OK or -ERR ({dele8})",
          dele8 in ("+OK", "-ERR"), dele8)
    try:
        P.retr(10)
        check("POP3 P: RETR of a DELEted message is -ERR", False, "+OK")
    except poplib.error_proto as e:
        check("POP3 P: RETR of a DELEted message is -ERR", e.args[0].startswith(b"-ERR"), repr(e))
    quit_reply = []
    expunged, lines = idle_until_expunges(A, 5, 15, lambda: quit_reply.append(P.quit()))
    check("POP3 P: QUIT is +OK", bool(quit_reply) and quit_reply[0].startswith(b"+OK"), repr(quit_reply))
    check("IMAP A: 5 EXPUNGE responses in IDLE after P's QUIT", expunged == 5, repr(lines))
    if expunged < 0 or (lines and lines[-1] == b"(timeout)"):
        A = imap_login(a)
    after = exists_of(A)
    check(f"IMAP A: SELECT EXISTS {before_quit - 5} (5 fewer)", after == before_quit - 5, str(after))
    view = imap_view(A)
    mids_now = {mid for mid, _ in view.values()}
    check("IMAP A: the DELEted messages 10-14 are gone, 8 too, the others and the delivery stay",
          mids_now == (set(pop_mid.values()) - {pop_mid[k] for k in (8, 10, 11, 12, 13, 14)}) | {new_mid},
          f"{len(mids_now)} messages")

    # 6. Flags after QUIT.
    flags = {k: view.get(uid[k], (None, []))[1] for k in pop_mid}
    check("IMAP A: messages RETRieved and kept (1, 2, 3, 7, 9) have \\Seen",
          all("\\Seen" in flags[k] for k in (1, 2, 3, 7, 9)), repr({k: flags[k] for k in (1, 2, 3, 7, 9)}))
    check("IMAP A: messages only TOP'd (4, 5, 6) have no \\Seen",
          not any("\\Seen" in flags[k] for k in (4, 5, 6)), repr({k: flags[k] for k in (4, 5, 6)}))
    check("IMAP A: message 7 keeps \\Flagged", "\\Flagged" in flags[7], repr(flags[7]))

    # 7. The next POP3 session sees the delivery; UIDLs are stable.
    P2 = pop_login(a, retry_in_use=5)
    count, _ = P2.stat()
    want = n + 1 - 1 - 5
    check(f"POP3 P2: STAT {want} ({n} + 1 delivered - 1 IMAP-expunged - 5 DELEted)", count == want, str(count))
    mids2 = {}
    for k in range(1, count + 1):
        _, lines, _ = P2.top(k, 0)
        mids2[k] = split_message(lines_to_bytes(lines))[2]
    check("POP3 P2: the message delivered during P is in its maildrop", new_mid in mids2.values())
    k_new = next((k for k, v in mids2.items() if v == new_mid), None)
    if k_new:
        _, lines, _ = P2.retr(k_new)
        check("POP3 P2: RETR of the delivered message has its Message-ID",
              split_message(lines_to_bytes(lines))[2] == new_mid)
    uidl2 = {int(x.split()[0]): x.split()[1].decode() for x in P2.uidl()[1]}
    by_mid1 = {pop_mid[k]: uidl1[k] for k in pop_mid}
    same = all(uidl2[k] == by_mid1[mids2[k]] for k in mids2 if mids2[k] in by_mid1)
    check("POP3 P2: UIDLs of the remaining messages equal P's", same,
          repr([(k, uidl2[k], by_mid1.get(mids2[k])) for k in list(mids2)[:3]]))

    # 8. A dropped connection deletes nothing.
    P2.dele(1)
    # shutdown(): close() alone would leave the socket open behind poplib's file object.
    P2.sock.shutdown(socket.SHUT_RDWR)
    P2.sock.close()
    P3 = pop_login(a, retry_in_use=5)
    count3, _ = P3.stat()
    check(f"POP3 P3: STAT {count} after P2 DELEted 1 and dropped the connection", count3 == count, str(count3))
    P3.quit()
    for m in (A, B):
        try:
            m.logout()
        except Exception:  # noqa: BLE001 - best effort
            pass
    return finish()


def finish():
    print(f"pop3_imap_concurrency: {PASSED} passed, {FAILED} failed")
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
