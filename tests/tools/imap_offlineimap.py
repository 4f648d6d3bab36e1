#!/usr/bin/env python3
"""offlineimap3 (Debian's package) against any IMAP server, for imap_offlineimap_test.sh
(issue 11, "Real clients"):

  1. fill: APPENDs N generated messages (imap_mbsync.gen_message: plain, 8-bit UTF-8,
     multipart with a base64 attachment, 300 B to ~60 KB, some \\Flagged or \\Seen) into a
     fresh folder;
  2. first sync: offlineimap pulls the folder into an empty local Maildir; the local copy
     must hold every message byte for byte (CRLF as LF) with the server's flags;
  3. changes on both sides, on disjoint messages:
       server (another IMAP session, while offlineimap is not running): +\\Flagged on 40,
       +\\Seen on 40, -\\Seen on the \\Seen ones among 40 more, +\\Answered on 20,
       30 expunged, 10 new messages APPENDed;
       local: 25 files renamed to carry F, 25 to carry S, 15 deleted, 5 new files in new/;
  4. incremental sync: each change must have reached the other side, and then both sides
     must agree: the same set of messages (by Message-ID), the same flags (F S R), the
     same bytes (CRLF as LF, offlineimap's X-OfflineIMAP header aside if it added one);
  5. a third sync changes nothing on either side.

offlineimap3 has no CONDSTORE/QRESYNC code (its incremental sync is FETCH 1:* (FLAGS UID
INTERNALDATE) and a UID comparison against its own status files). It has COMPRESS=DEFLATE
("usecompression"), but Debian 12's offlineimap3 (0.0~git20211018 with python3-imaplib2
3.05) stalls with it on, against Dovecot 2.3 (IMAPS and plain IMAP) and ringmail alike, at
the first message that inflates to more than 32 KiB at once: imaplib2's reader asks read()
for READ_SIZE (32 KiB), zlib returns at most that and keeps the rest of the input in its
unconsumed_tail, and the reader then poll()s the socket, which has nothing more to say
(seen with -d imap: "reader rcvd 32768" inside a 60,287-byte literal, then "poll => []"
forever). A client bug, so --compress (usecompression = yes when offered) is off by
default; with it the test checks that COMPRESS DEFLATE was sent and accepted.
The incremental sync runs with `-d imap` and the commands it sent are printed.

Usage: imap_offlineimap.py --host H --port P --user U --password PW --work DIR [--count 1000]
       (the port is implicit TLS, IMAPS)
Prints "ok: ..." / "FAIL: ..." per step; exits 1 if any failed.
"""

import argparse
import hashlib
import os
import random
import re
import ssl
import subprocess
import sys
import time

import imap_mbsync as lib  # Imap (a small blocking client), gen_message

FAILED = []
A = None
FLAG_LETTERS = {"\\Flagged": "F", "\\Seen": "S", "\\Answered": "R", "\\Draft": "D"}


def check(name, cond, detail=""):
    print(("ok: " if cond else "FAIL: ") + name + ("" if cond or not detail else " -- " + str(detail)[:600]),
          flush=True)
    if not cond:
        FAILED.append(name)
    return cond


def msgid_of(data):
    m = re.search(rb"^Message-ID: (\S+)\r?$", data, re.M | re.I)
    return m.group(1).decode() if m else None


def normalize(data):
    """Bytes as compared on both sides: LF line ends, no X-OfflineIMAP header."""
    data = data.replace(b"\r\n", b"\n")
    return re.sub(rb"^X-OfflineIMAP: [^\n]*\n", b"", data, count=1, flags=re.M | re.I)


def server_full(folder):
    """{message-id: (uid, letters, sha256 of normalized bytes, RFC822.SIZE)} of a folder."""
    c = lib.Imap()
    c.cmd(b'EXAMINE "%s"' % folder.encode())
    out = {}
    for ln in c.cmd(b"UID FETCH 1:* (UID FLAGS RFC822.SIZE BODY.PEEK[])"):
        if not re.match(rb"\* \d+ FETCH \(", ln):
            continue
        uid = int(re.search(rb"UID (\d+)", ln).group(1))
        flags = re.search(rb"FLAGS \(([^)]*)\)", ln).group(1).decode().split()
        size = int(re.search(rb"RFC822\.SIZE (\d+)", ln).group(1))
        lit = re.search(rb"BODY\[\] \{(\d+)\}\r\n", ln)
        body = ln[lit.end():lit.end() + int(lit.group(1))]
        letters = "".join(sorted(FLAG_LETTERS[f] for f in flags if f in FLAG_LETTERS))
        out[msgid_of(body)] = (uid, letters, hashlib.sha256(normalize(body)).hexdigest(), size, body)
    c.cmd(b"LOGOUT")
    return out


def local_full(path):
    """{message-id: (file path, letters, sha256 of normalized bytes)} of a local Maildir."""
    out = {}
    for sub in ("cur", "new"):
        d = os.path.join(path, sub)
        for n in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            p = os.path.join(d, n)
            data = open(p, "rb").read()
            info = n.split(":2,", 1)[1] if ":2," in n else ""
            letters = "".join(sorted(ch for ch in info if ch in "FSRD"))
            mid = msgid_of(data) or f"?{n}"
            if mid in out:
                mid = mid + "#dup:" + n
            out[mid] = (p, letters, hashlib.sha256(normalize(data)).hexdigest())
    return out


def run_offlineimap(conf, label, debug_log=None):
    cmd = ["offlineimap", "-c", conf, "-o", "-u", "basic"]
    if debug_log:
        cmd += ["-d", "imap", "-l", debug_log]
    t0 = time.time()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=A.sync_timeout)
    except subprocess.TimeoutExpired as e:
        out = ((e.stdout or b"").decode(errors="replace") + (e.stderr or b"").decode(errors="replace"))
        check(f"{label}: offlineimap finishes within {A.sync_timeout} s", False,
              "\n    " + "\n    ".join(out.strip().splitlines()[-15:]))
        return None
    took = time.time() - t0
    out = (p.stdout + p.stderr).strip().splitlines()
    errors = [ln for ln in out if re.search(r"ERROR|Traceback|WARNING", ln)]
    check(f"{label}: offlineimap exits 0 with no ERROR/WARNING lines ({took:.1f} s)",
          p.returncode == 0 and not errors, "\n    " + "\n    ".join((errors or out)[-15:]))
    print(f"  {label}: offlineimap took {took:.1f} s")
    return p


def agree(srv, loc, label):
    """Both sides hold the same messages with the same flags and bytes."""
    only_srv = sorted(set(srv) - set(loc))
    only_loc = sorted(set(loc) - set(srv))
    check(f"{label}: local Maildir and server hold the same {len(srv)} messages (by Message-ID)",
          not only_srv and not only_loc and len(srv) == len(loc),
          f"{len(srv)} on the server, {len(loc)} local; only on the server {only_srv[:3]}, "
          f"only local {only_loc[:3]}")
    both = set(srv) & set(loc)
    flags = [(m, srv[m][1], loc[m][1]) for m in both if srv[m][1] != loc[m][1]]
    check(f"{label}: flags (F S R D) agree", not flags, flags[:5])
    data = [m for m in both if srv[m][2] != loc[m][2]]
    check(f"{label}: bytes agree (CRLF as LF, X-OfflineIMAP aside)", not data, data[:3])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--sync-timeout", type=int, default=120, help="seconds one offlineimap run may take")
    ap.add_argument("--compress", action="store_true",
                    help="usecompression = yes when the server offers COMPRESS=DEFLATE (see the docstring)")
    args = ap.parse_args()
    global A
    A = args
    lib.A = argparse.Namespace(host=args.host, port=args.port, tls=True, starttls=False, user=args.user,
                               password=args.password, source=None)
    rnd = random.Random(4321)
    folder = "oi-" + os.urandom(3).hex()
    local_root = os.path.join(args.work, "local")
    meta = os.path.join(args.work, "meta")
    os.makedirs(local_root, exist_ok=True)
    os.makedirs(meta, exist_ok=True)

    # 1. fill
    t0 = time.time()
    msgs = {}
    c = lib.Imap()
    caps = " ".join(ln.decode(errors="replace") for ln in c.cmd(b"CAPABILITY")).upper().split()
    c.cmd(b'CREATE "%s"' % folder.encode())
    tags = []
    for i in range(args.count):
        mid, data = lib.gen_message(i, rnd)
        msgs[mid] = data
        flags = b"(\\Flagged) " if i % 50 == 0 else (b"(\\Seen) " if i % 3 == 0 else b"")
        tags.append(c.send(b'APPEND "%s" %s{%d+}\r\n' % (folder.encode(), flags, len(data)) + data))
        if len(tags) >= 50:
            for t in tags:
                c.wait(t)
            tags = []
    for t in tags:
        c.wait(t)
    c.cmd(b"LOGOUT")
    print(f"  filled {folder}: {args.count} messages, {sum(map(len, msgs.values())) / 1e6:.1f} MB "
          f"in {time.time() - t0:.1f} s")
    compress = "COMPRESS=DEFLATE" in caps and args.compress
    print(f"  server capabilities after login: {' '.join(c for c in caps if c not in ('*', 'CAPABILITY'))}")
    print(f"  COMPRESS=DEFLATE offered: {'yes' if 'COMPRESS=DEFLATE' in caps else 'no'}, "
          f"usecompression = {'yes' if compress else 'no'}; "
          f"CONDSTORE offered: {'yes' if 'CONDSTORE' in caps else 'no'}, "
          f"QRESYNC: {'yes' if 'QRESYNC' in caps else 'no'} (offlineimap3 uses neither)")

    pem = ssl.get_server_certificate((args.host, args.port))
    fp = hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()
    conf = os.path.join(args.work, "offlineimaprc")
    with open(conf, "w") as f:
        f.write(f"""[general]
accounts = test
metadata = {meta}
fsync = false
ui = basic

[Account test]
localrepository = local
remoterepository = remote

[Repository local]
type = Maildir
localfolders = {local_root}

[Repository remote]
type = IMAP
remotehost = {args.host}
remoteport = {args.port}
ssl = yes
cert_fingerprint = {fp}
remoteuser = {args.user}
remotepass = {args.password}
folderfilter = lambda f: f == {folder!r}
maxconnections = 2
usecompression = {'yes' if compress else 'no'}
""")

    # 2. first sync
    run_offlineimap(conf, "first sync")
    local = os.path.join(local_root, folder)
    srv = server_full(folder)
    loc = local_full(local)
    check(f"server holds {args.count} messages after APPEND", len(srv) == args.count, len(srv))
    check(f"local Maildir holds {args.count} messages", len(loc) == args.count, len(loc))
    exact = [m for m in msgs if m not in loc or
             hashlib.sha256(normalize(msgs[m])).hexdigest() != loc[m][2]]
    check("every local message equals the appended one (CRLF as LF)", not exact, exact[:3])
    agree(srv, loc, "first sync")
    if FAILED:
        print("imap_offlineimap: FAIL (the first sync did not complete; later steps skipped)")
        return 1

    # 3. changes on both sides, disjoint
    mids = sorted(srv, key=lambda m: srv[m][0])
    random.Random(77).shuffle(mids)
    take = iter(mids)
    pick = lambda n: [next(take) for _ in range(n)]  # noqa: E731
    s_flag, s_seen, s_unseen, s_ans, s_exp = pick(40), pick(40), pick(40), pick(20), pick(30)
    l_flag, l_seen, l_del = pick(25), pick(25), pick(15)
    s_unseen = [m for m in s_unseen if "S" in srv[m][1]]
    c = lib.Imap()
    c.cmd(b'SELECT "%s"' % folder.encode())
    uids = lambda ms: ",".join(str(srv[m][0]) for m in ms).encode()  # noqa: E731
    c.cmd(b"UID STORE %s +FLAGS.SILENT (\\Flagged)" % uids(s_flag))
    c.cmd(b"UID STORE %s +FLAGS.SILENT (\\Seen)" % uids(s_seen))
    if s_unseen:
        c.cmd(b"UID STORE %s -FLAGS.SILENT (\\Seen)" % uids(s_unseen))
    c.cmd(b"UID STORE %s +FLAGS.SILENT (\\Answered)" % uids(s_ans))
    c.cmd(b"UID STORE %s +FLAGS.SILENT (\\Deleted)" % uids(s_exp))
    c.cmd(b"UID EXPUNGE %s" % uids(s_exp))
    s_new = {}
    for i in range(10):
        mid, data = lib.gen_message(200000 + i, rnd)
        s_new[mid] = data
        c.cmd(b'APPEND "%s" {%d+}\r\n' % (folder.encode(), len(data)) + data)
    c.cmd(b"LOGOUT")

    def rename_add(path, letter):
        d, n = os.path.split(path)
        base, _, info = n.partition(":2,")
        new = os.path.join(os.path.dirname(d), "cur", base + ":2," + "".join(sorted(set(info + letter))))
        os.rename(path, new)

    for m in l_flag:
        rename_add(loc[m][0], "F")
    for m in l_seen:
        rename_add(loc[m][0], "S")
    for m in l_del:
        os.unlink(loc[m][0])
    l_new = {}
    for i in range(5):
        mid, data = lib.gen_message(300000 + i, rnd)
        l_new[mid] = data
        name = f"{int(time.time())}_{i}.{os.getpid()}.test"
        with open(os.path.join(local, "tmp", name), "wb") as f:
            f.write(data.replace(b"\r\n", b"\n"))
        os.rename(os.path.join(local, "tmp", name), os.path.join(local, "new", name))

    # 4. incremental sync
    debug_log = os.path.join(args.work, "offlineimap-debug.log")
    run_offlineimap(conf, "incremental sync", debug_log)
    log = open(debug_log, "rb").read() if os.path.exists(debug_log) else b""
    sent_compress = re.search(rb"COMPRESS DEFLATE", log) is not None
    enabled = b"Enabled COMPRESS=DEFLATE" in log
    cmds = sorted({w.decode() for w in re.findall(rb"writer > b'[A-Z]+\d+ (?:UID )?([A-Z]+)", log)})
    print(f"  incremental sync: commands sent {cmds}; COMPRESS DEFLATE sent: {sent_compress}, "
          f"accepted: {enabled}")
    if compress:
        check("incremental sync: offlineimap negotiated COMPRESS=DEFLATE (offered by the server)",
              sent_compress and enabled, f"sent {sent_compress}, accepted {enabled}")
    srv2 = server_full(folder)
    loc2 = local_full(local)
    want = args.count - len(s_exp) - len(l_del) + len(s_new) + len(l_new)
    check(f"server holds {want} messages after the incremental sync", len(srv2) == want, len(srv2))
    check("server flag changes reached the local Maildir",
          all("F" in loc2.get(m, ("", ""))[1] for m in s_flag) and
          all("S" in loc2.get(m, ("", ""))[1] for m in s_seen) and
          all("S" not in loc2.get(m, ("", "S"))[1] for m in s_unseen) and
          all("R" in loc2.get(m, ("", ""))[1] for m in s_ans),
          [(m, loc2.get(m, (None, None))[1]) for m in s_flag + s_seen + s_unseen + s_ans
           if m not in loc2][:3])
    check(f"the {len(s_exp)} messages expunged on the server are gone locally",
          not [m for m in s_exp if m in loc2], [m for m in s_exp if m in loc2][:3])
    check(f"the {len(s_new)} messages appended on the server are local, byte for byte (as LF)",
          all(m in loc2 and loc2[m][2] == hashlib.sha256(normalize(d)).hexdigest() for m, d in s_new.items()),
          [m for m in s_new if m not in loc2][:3])
    check("local flag changes reached the server",
          all("F" in srv2.get(m, (0, ""))[1] for m in l_flag) and
          all("S" in srv2.get(m, (0, ""))[1] for m in l_seen),
          [(m, srv2.get(m, (0, None))[1]) for m in l_flag + l_seen][:3])
    check(f"the {len(l_del)} messages deleted locally are expunged on the server",
          not [m for m in l_del if m in srv2], [srv[m][0] for m in l_del if m in srv2][:5])
    got = {m: srv2[m][4] for m in l_new if m in srv2}
    check(f"the {len(l_new)} new local messages are on the server, byte for byte (as LF, "
          f"X-OfflineIMAP aside)",
          len(got) == len(l_new) and all(normalize(got[m]) == normalize(l_new[m]) for m in got),
          {m: got.get(m, b"")[:200] for m in l_new if normalize(got.get(m, b"")) != normalize(l_new[m])})
    crlf = [m for m, b in got.items() if re.search(rb"(?<!\r)\n", b)]
    check("uploaded messages are CRLF on the server", not crlf, crlf[:3])
    untouched = set(mids) - set(s_flag + s_seen + s_unseen + s_ans + s_exp + l_flag + l_seen + l_del)
    moved = [m for m in untouched if srv2.get(m, (0, None))[1] != srv[m][1] or srv2[m][0] != srv[m][0]]
    check("the other messages kept their UIDs and flags", not moved, moved[:3])
    max_old = max(v[0] for v in srv.values())
    new_uids = [srv2[m][0] for m in list(s_new) + list(l_new) if m in srv2]
    check("new messages got UIDs above every earlier one", all(u > max_old for u in new_uids), new_uids[:5])
    agree(srv2, loc2, "incremental sync")

    # 5. nothing left to do
    run_offlineimap(conf, "idempotent re-sync")
    srv3 = server_full(folder)
    loc3 = local_full(local)
    check("a third sync changes nothing on the server",
          {m: v[:3] for m, v in srv3.items()} == {m: v[:3] for m, v in srv2.items()})
    check("a third sync changes nothing locally",
          {m: v[1:] for m, v in loc3.items()} == {m: v[1:] for m, v in loc2.items()})
    agree(srv3, loc3, "third sync")

    c = lib.Imap()
    c.cmd(b'DELETE "%s"' % folder.encode())
    c.cmd(b"LOGOUT")
    print(f"imap_offlineimap: {'FAIL' if FAILED else 'PASS'}")
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
