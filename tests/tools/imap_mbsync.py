#!/usr/bin/env python3
"""The mbsync (Debian's isync) round trip against any IMAP server, for
imap_mbsync_test.sh (issue 10, "Real clients"):

  1. fill: APPENDs N generated messages (plain, 8-bit UTF-8, multipart with a base64
     attachment, sizes from 300 B to ~60 KB, some flagged or seen) into a fresh folder,
     pipelined with non-synchronizing literals;
  2. mbsync pulls the folder into an empty local Maildir: the local copy must hold every
     message byte for byte (matched by Message-ID) and the server's flags;
  3. local changes: flag 500 messages (F), mark 500 seen (S), delete 300 files, add 20
     new messages to new/;
  4. mbsync syncs both ways: the server must then hold N - 300 + 20 messages, the 300
     UIDs gone, the flags as set locally, and the 20 new messages byte for byte;
  5. a second sync changes nothing (both sides agree);
  6, 7. (issue 11) two rounds of changes made on the server by another IMAP session
     (\\Flagged/\\Seen set and cleared, \\Answered set, expunges, 5 new messages), each
     followed by an mbsync run: the local Maildir must then hold exactly the server's
     messages with the server's flags; the second run is traced (-Dn) and the test prints
     whether CONDSTORE/QRESYNC/COMPRESS were offered and used (a server offering
     COMPRESS=DEFLATE must see mbsync use it).

Usage: imap_mbsync.py --host H --port P --tls|--starttls --user U --password PW
       --work DIR [--count 5000] [--source ADDR]
Prints "ok: ..." / "FAIL: ..." per step; exits 1 if any failed.
"""

import argparse
import hashlib
import os
import random
import re
import socket
import ssl
import subprocess
import sys
import time

A = None
FAILED = []


def check(name, cond, detail=""):
    print(("ok: " if cond else "FAIL: ") + name + ("" if cond or not detail else " -- " + str(detail)[:500]),
          flush=True)
    if not cond:
        FAILED.append(name)
    return cond


class Imap:
    """A small blocking IMAP client (enough for APPEND, SELECT, SEARCH, FETCH)."""

    def __init__(self):
        src = (A.source, 0) if A.source else None
        s = socket.create_connection((A.host, A.port), timeout=60, source_address=src)
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.ctx = ctx
        self.sock = ctx.wrap_socket(s) if A.tls else s
        self.buf = b""
        self.n = 0
        self.line()
        if A.starttls:
            self.cmd(b"STARTTLS")
            self.sock = ctx.wrap_socket(self.sock)
        self.cmd(b'LOGIN "%s" "%s"' % (A.user.encode(), A.password.encode()))

    def fill(self):
        d = self.sock.recv(1 << 20)
        if not d:
            raise EOFError("server closed the connection")
        self.buf += d

    def line(self):
        while b"\r\n" not in self.buf:
            self.fill()
        i = self.buf.index(b"\r\n") + 2
        out, self.buf = self.buf[:i], self.buf[i:]
        m = re.search(rb"\{(\d+)\}\r\n$", out)
        if m:
            n = int(m.group(1))
            while len(self.buf) < n:
                self.fill()
            out += self.buf[:n]
            self.buf = self.buf[n:]
            out += self.line()
        return out

    def send(self, data):
        self.n += 1
        tag = b"m%d" % self.n
        self.sock.sendall(tag + b" " + data + b"\r\n")
        return tag

    def wait(self, tag):
        untagged = []
        while True:
            ln = self.line()
            if ln.startswith(tag + b" "):
                if not ln.startswith(tag + b" OK"):
                    raise RuntimeError(f"{ln!r}")
                return untagged
            untagged.append(ln)

    def cmd(self, data):
        return self.wait(self.send(data))


def gen_message(i, rnd):
    mid = f"<mbsync-{i}-{rnd.getrandbits(48):x}@example.net>"
    kind = i % 4
    size = rnd.choice([200, 800, 3000, 12000, 60000]) if i % 10 else 300
    subj = f"message {i} " + rnd.choice(["report", "invoice", "hello", "Grüße", "news"])
    hdr = [f"From: Sender {i % 37} <sender{i % 37}@example.net>", "To: john@example.org",
           f"Subject: {subj}" if kind != 1 else f"Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe_{i}?=",
           f"Date: Mon, {1 + i % 28:02d} Jan 2024 {i % 24:02d}:{i % 60:02d}:00 +0100",
           f"Message-ID: {mid}", "MIME-Version: 1.0"]
    line = "Lorem ipsum dolor sit amet, consectetur adipiscing elit %d.\r\n" % i
    body = line * max(1, size // len(line))
    if kind == 2:
        blob = rnd.randbytes(min(size, 20000))
        import base64
        b64 = base64.encodebytes(blob).decode().replace("\n", "\r\n")
        hdr.append('Content-Type: multipart/mixed; boundary="=b%d"' % i)
        text = ("\r\n".join(hdr) + "\r\n\r\n--=b%d\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" % i
                + body + "--=b%d\r\nContent-Type: application/octet-stream\r\n"
                "Content-Transfer-Encoding: base64\r\n\r\n" % i + b64 + "--=b%d--\r\n" % i)
    elif kind == 3:
        hdr += ["Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit"]
        text = "\r\n".join(hdr) + "\r\n\r\n" + "Ünïcödé ✓ " + body
    else:
        hdr.append("Content-Type: text/plain; charset=us-ascii")
        text = "\r\n".join(hdr) + "\r\n\r\n" + body
    return mid, text.encode()


def msgid_of(data):
    m = re.search(rb"^Message-ID: (\S+)\r?$", data, re.M | re.I)
    return m.group(1).decode() if m else None


def maildir_files(path):
    out = {}
    for sub in ("cur", "new"):
        d = os.path.join(path, sub)
        for n in os.listdir(d) if os.path.isdir(d) else []:
            out[os.path.join(d, n)] = n
    return out


def server_state(folder):
    """{uid: (flags set, message-id)} and {message-id: sha256 of the body} from the server."""
    c = Imap()
    c.cmd(b'SELECT "%s"' % folder.encode())
    lines = c.cmd(b"UID FETCH 1:* (UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (Message-ID)])")
    state = {}
    for ln in lines:
        m = re.match(rb"\* \d+ FETCH \((.*)", ln, re.S)
        if not m:
            continue
        uid = int(re.search(rb"UID (\d+)", ln).group(1))
        flags = set(re.search(rb"FLAGS \(([^)]*)\)", ln).group(1).decode().split()) - {"\\Recent"}
        mid = msgid_of(ln.split(b"}\r\n", 1)[1]) if b"}\r\n" in ln else None
        state[uid] = (flags, mid)
    c.cmd(b"LOGOUT")
    return state


def server_bodies(folder, uids):
    c = Imap()
    c.cmd(b'EXAMINE "%s"' % folder.encode())
    out = {}
    for i in range(0, len(uids), 200):
        chunk = ",".join(str(x) for x in uids[i:i + 200])
        for ln in c.cmd(b"UID FETCH %s (UID BODY.PEEK[])" % chunk.encode()):
            m = re.match(rb"\* \d+ FETCH \(", ln)
            if m:
                uid = int(re.search(rb"UID (\d+)", ln).group(1))
                lit = re.search(rb"BODY\[\] \{(\d+)\}\r\n", ln)
                out[uid] = ln[lit.end():lit.end() + int(lit.group(1))]
    c.cmd(b"LOGOUT")
    return out


def run_mbsync(conf, label, net_debug=False):
    t0 = time.time()
    # -Dn prints the IMAP protocol lines (not the message payloads): what was negotiated.
    p = subprocess.run(["mbsync", "-c", conf, "-Dn" if net_debug else "-V", "-a"], capture_output=True,
                       text=True, timeout=600)
    took = time.time() - t0
    tail = (p.stdout + p.stderr).strip().splitlines()[-15:]
    check(f"{label}: mbsync exits 0 ({took:.1f} s)", p.returncode == 0,
          "\n    " + "\n    ".join(tail))
    if not net_debug:
        print(f"  {label}: mbsync took {took:.1f} s; last lines:")
        for ln in (p.stdout + p.stderr).strip().splitlines()[-4:]:
            print("    " + ln)
    return p


def negotiated(p, label):
    """What an `mbsync -Dn` run says about CONDSTORE/QRESYNC/COMPRESS: offered by the
    server after login, and asked for by mbsync (ENABLE, CHANGEDSINCE, COMPRESS DEFLATE)."""
    out = p.stdout + p.stderr
    caps = set()
    for m in re.finditer(r"CAPABILITY ([^\]\n]*)", out):
        caps |= set(m.group(1).upper().split())
    sent = [ln.split(">>> ", 1)[1] for ln in out.splitlines() if ">>> " in ln]
    verbs = sorted({re.sub(r"^\d+ ", "", c).split(" ")[0] + (" " + c.split(" ")[2] if c.split(" ")[1:2] == ["UID"]
                    and len(c.split(" ")) > 2 else "") for c in sent})
    used = {ext: any(re.search(pat, c, re.I) for c in sent) for ext, pat in
            (("COMPRESS", r"COMPRESS DEFLATE"), ("CONDSTORE", r"CONDSTORE|CHANGEDSINCE|MODSEQ"),
             ("QRESYNC", r"QRESYNC|VANISHED"))}
    offered = {ext: any(c == ext or c.startswith(ext + "=") for c in caps) for ext in used}
    print(f"  {label}: server offers " + ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in offered.items()) +
          "; mbsync used " + ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in used.items()))
    print(f"  {label}: commands sent: {' '.join(verbs)}")
    return offered, used


def main():
    global A
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--tls", action="store_true")
    g.add_argument("--starttls", action="store_true")
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--count", type=int, default=5000)
    ap.add_argument("--source")
    A = ap.parse_args()
    rnd = random.Random(1234)
    folder = "mbsync-" + os.urandom(3).hex()
    local_root = os.path.join(A.work, "local")
    os.makedirs(local_root, exist_ok=True)

    # 1. fill
    t0 = time.time()
    msgs = {}
    c = Imap()
    c.cmd(b'CREATE "%s"' % folder.encode())
    tags = []
    for i in range(A.count):
        mid, data = gen_message(i, rnd)
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
    total = sum(len(d) for d in msgs.values())
    print(f"  filled {folder}: {A.count} messages, {total / 1e6:.1f} MB in {time.time() - t0:.1f} s")
    st = server_state(folder)
    check(f"server holds {A.count} messages after APPEND", len(st) == A.count, len(st))

    # The server's certificate, trusted by mbsync as given (self-signed).
    cert = os.path.join(A.work, "server-cert.pem")
    if A.tls:
        pem = ssl.get_server_certificate((A.host, A.port))
    else:
        s = socket.create_connection((A.host, A.port), timeout=30)
        f = s.makefile("rwb")
        f.readline()
        f.write(b"c STARTTLS\r\n")
        f.flush()
        f.readline()
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        t = ctx.wrap_socket(s)
        pem = ssl.DER_cert_to_PEM_cert(t.getpeercert(binary_form=True))
        t.close()
    open(cert, "w").write(pem)
    conf = os.path.join(A.work, "mbsyncrc")
    state_dir = os.path.join(A.work, "mbsync-state") + "/"
    os.makedirs(state_dir, exist_ok=True)
    with open(conf, "w") as f:
        f.write(f"""IMAPAccount srv
Host {A.host}
Port {A.port}
User {A.user}
Pass "{A.password}"
SSLType {"IMAPS" if A.tls else "STARTTLS"}
CertificateFile {cert}
PipelineDepth 50

IMAPStore srv
Account srv

MaildirStore local
Path {local_root}/
SubFolders Verbatim

Channel ch
Far :srv:{folder}
Near :local:{folder}
Create Near
Expunge Both
Sync All
SyncState {state_dir}
""")

    # 2. pull
    run_mbsync(conf, "pull")
    local = os.path.join(local_root, folder)
    files = maildir_files(local)
    check(f"local Maildir holds {A.count} messages", len(files) == A.count, len(files))
    by_mid = {}
    bad = []
    local_bytes = 0
    for path in files:
        data = open(path, "rb").read()
        # mbsync writes an X-TUID header into its copies too (21 bytes).
        data = re.sub(rb"^X-TUID: [^\n]*\n", b"", data, count=1, flags=re.M)
        local_bytes += len(data)
        mid = msgid_of(data)
        by_mid[mid] = path
        # mbsync stores Maildir files with LF line ends (its default); the IMAP side is CRLF.
        if msgs.get(mid, b"").replace(b"\r\n", b"\n") != data:
            bad.append(os.path.basename(path))
    lf_total = sum(len(d.replace(b"\r\n", b"\n")) for d in msgs.values())
    check(f"every local message equals the appended one byte for byte, CRLF as LF, X-TUID aside ({local_bytes} bytes)",
          not bad and local_bytes == lf_total, f"{len(bad)} differ, e.g. {bad[:3]}; {lf_total} expected")
    flag_bad = []
    uid_of = {}
    for uid, (flags, mid) in st.items():
        path = by_mid.get(mid)
        if not path:
            flag_bad.append(f"uid {uid} missing locally")
            continue
        uid_of[mid] = uid
        info = os.path.basename(path).split(":2,")[-1] if ":2," in path else ""
        want = ("F" if "\\Flagged" in flags else "") + ("S" if "\\Seen" in flags else "")
        if "".join(ch for ch in info if ch in "FS") != want:
            flag_bad.append(f"uid {uid} flags {flags} local '{info}'")
    check("local flags (F, S) match the server's", not flag_bad, flag_bad[:5])

    # 3. local changes
    mids = sorted(by_mid, key=lambda m: uid_of.get(m, 0))
    rnd2 = random.Random(99)
    rnd2.shuffle(mids)
    nd, nf = A.count * 6 // 100, A.count // 10          # 300 and 500 of 5,000
    to_delete, to_flag, to_seen = mids[:nd], mids[nd:nd + nf], mids[nd + nf:nd + 2 * nf]
    rest = mids[nd + 2 * nf:]

    def add_info(path, letter):
        base, _, info = os.path.basename(path).partition(":2,")
        info = "".join(sorted(set(info + letter)))
        new_path = os.path.join(os.path.dirname(os.path.dirname(path)), "cur", base + ":2," + info)
        os.rename(path, new_path)
        return new_path

    for m in to_delete:
        os.unlink(by_mid.pop(m))
    for m in to_flag:
        by_mid[m] = add_info(by_mid[m], "F")
    for m in to_seen:
        by_mid[m] = add_info(by_mid[m], "S")
    new_msgs = {}
    for i in range(20):
        mid, data = gen_message(100000 + i, rnd)
        new_msgs[mid] = data
        name = f"{int(time.time())}.{os.getpid()}_{i}.test"
        with open(os.path.join(local, "tmp", name), "wb") as f:
            f.write(data)
        os.rename(os.path.join(local, "tmp", name), os.path.join(local, "new", name))

    # 4. sync both ways
    run_mbsync(conf, "push changes")
    st2 = server_state(folder)
    want_count = A.count - nd + 20
    check(f"server holds {want_count} messages after the sync", len(st2) == want_count, len(st2))
    gone = [uid_of[m] for m in to_delete if uid_of.get(m) in st2]
    check(f"the {nd} messages deleted locally are expunged on the server", not gone, gone[:5])
    mid_flags = {mid: flags for flags, mid in st2.values()}
    not_flagged = [m for m in to_flag if "\\Flagged" not in mid_flags.get(m, set())]
    check(f"the {nf} messages flagged locally are \\Flagged on the server", not not_flagged, not_flagged[:3])
    not_seen = [m for m in to_seen if "\\Seen" not in mid_flags.get(m, set())]
    check(f"the {nf} messages marked seen locally are \\Seen on the server", not not_seen, not_seen[:3])
    untouched = [m for m in rest if mid_flags.get(m, set()) - {"\\Seen", "\\Flagged"} or
                 ("\\Flagged" in mid_flags.get(m, set())) != ("\\Flagged" in st[uid_of[m]][0])]
    check("the other messages kept their flags", not untouched, untouched[:3])
    new_uids = [uid for uid, (_, mid) in st2.items() if mid in new_msgs]
    check("the 20 new local messages are on the server", len(new_uids) == 20, len(new_uids))
    bodies = server_bodies(folder, sorted(new_uids))
    # mbsync adds an X-TUID header to what it uploads (to find the message again when
    # the server gives no APPENDUID); apart from that line the bytes must be ours.
    def strip_tuid(b):
        return re.sub(rb"^X-TUID: [^\r\n]*\r\n", b"", b, flags=re.M)
    tuid = sum(1 for b in bodies.values() if re.search(rb"^X-TUID: ", b, re.M))
    print(f"  {tuid} of the uploaded messages carry mbsync's X-TUID header")
    diff = [(u, bodies.get(u, b"")[:300]) for u in new_uids
            if strip_tuid(bodies.get(u, b"")) != new_msgs[st2[u][1]]]
    check("the 20 new messages are byte-exact on the server (but for X-TUID)", not diff, diff[:1])
    dup = len({mid for _, mid in st2.values()}) != len(st2)
    check("no duplicate messages on the server", not dup)
    max_old = max(st)
    check("new messages got UIDs above every earlier one (no reuse)", all(u > max_old for u in new_uids),
          sorted(new_uids)[:3])

    # 5. nothing left to do
    p = run_mbsync(conf, "idempotent re-sync")
    st3 = server_state(folder)
    check("a second sync changes nothing on the server", st3 == st2, f"{len(st3)} vs {len(st2)}")
    check("the local Maildir agrees with the server", len(maildir_files(local)) == len(st2),
          f"{len(maildir_files(local))} local vs {len(st2)}")

    # 6, 7. incremental syncs after changes made on the server by another IMAP session
    # (issue 11): flags set and cleared, expunges, new messages; mbsync must bring each
    # into the local Maildir. The last one runs with -Dn: whether mbsync negotiated
    # CONDSTORE/QRESYNC/COMPRESS with the server is printed (isync 1.4 has COMPRESS=DEFLATE
    # but no CONDSTORE/QRESYNC code, so "used no" for those is expected whatever is offered).
    rnd3 = random.Random(7)
    st_now = st3
    for rnd_no, label in ((1, "server changes sync 1"), (2, "server changes sync 2")):
        prev = st_now
        uids = sorted(st_now)
        rnd3.shuffle(uids)
        it = iter(uids)
        take = lambda n: [next(it) for _ in range(n)]  # noqa: E731
        n = max(1, A.count // 100)                          # 10 of 1,000
        add_f, add_s, clr, add_r, expunge = take(4 * n), take(4 * n), take(4 * n), take(2 * n), take(3 * n)
        clr_s = [u for u in clr if "\\Seen" in st_now[u][0]]
        clr_f = [u for u in clr if "\\Flagged" in st_now[u][0]]
        c = Imap()
        c.cmd(b'SELECT "%s"' % folder.encode())
        j = lambda us: ",".join(map(str, us)).encode()  # noqa: E731
        c.cmd(b"UID STORE %s +FLAGS.SILENT (\\Flagged)" % j(add_f))
        c.cmd(b"UID STORE %s +FLAGS.SILENT (\\Seen)" % j(add_s))
        if clr_s:
            c.cmd(b"UID STORE %s -FLAGS.SILENT (\\Seen)" % j(clr_s))
        if clr_f:
            c.cmd(b"UID STORE %s -FLAGS.SILENT (\\Flagged)" % j(clr_f))
        c.cmd(b"UID STORE %s +FLAGS.SILENT (\\Answered)" % j(add_r))
        c.cmd(b"UID STORE %s +FLAGS.SILENT (\\Deleted)" % j(expunge))
        c.cmd(b"UID EXPUNGE %s" % j(expunge))
        added = {}
        for i in range(5):
            mid, data = gen_message(200000 + 100 * rnd_no + i, rnd)
            added[mid] = data
            c.cmd(b'APPEND "%s" {%d+}\r\n' % (folder.encode(), len(data)) + data)
        c.cmd(b"LOGOUT")
        before = server_state(folder)
        p = run_mbsync(conf, label, net_debug=(rnd_no == 2))
        if rnd_no == 2:
            offered, used = negotiated(p, label)
            if offered["COMPRESS"]:
                check(f"{label}: mbsync used COMPRESS=DEFLATE, which the server offers", used["COMPRESS"])
        st_now = server_state(folder)
        check(f"{label}: mbsync changed nothing on the server", st_now == before,
              f"{len(st_now)} vs {len(before)}")
        loc = {}
        for path in maildir_files(local):
            data = open(path, "rb").read()
            info = os.path.basename(path).split(":2,")[-1] if ":2," in path else ""
            loc[msgid_of(data)] = ("".join(sorted(ch for ch in info if ch in "FSR")), data)
        srv_letters = {mid: "".join(sorted(l for f, l in (("\\Flagged", "F"), ("\\Seen", "S"),
                                                          ("\\Answered", "R")) if f in fl))
                       for fl, mid in st_now.values()}
        check(f"{label}: local Maildir holds the server's {len(st_now)} messages",
              set(loc) == set(srv_letters) and len(loc) == len(st_now),
              f"{len(loc)} local; only local {sorted(set(loc) - set(srv_letters))[:3]}, "
              f"only on the server {sorted(set(srv_letters) - set(loc))[:3]}")
        gone = [u for u in expunge if prev[u][1] in loc]
        check(f"{label}: the {len(expunge)} messages expunged on the server are gone locally", not gone, gone[:5])
        wrong = [(m, srv_letters[m], loc[m][0]) for m in srv_letters if m in loc and loc[m][0] != srv_letters[m]]
        check(f"{label}: local flags (F S R) equal the server's after its changes", not wrong, wrong[:5])
        new_bad = [m for m, d in added.items()
                   if m not in loc or re.sub(rb"^X-TUID: [^\n]*\n", b"", loc[m][1], count=1, flags=re.M)
                   != d.replace(b"\r\n", b"\n")]
        check(f"{label}: the 5 messages appended on the server are local, byte for byte", not new_bad, new_bad[:3])
    p = run_mbsync(conf, "idempotent re-sync after server changes")
    check("a further sync changes nothing on the server", server_state(folder) == st_now)

    c = Imap()
    c.cmd(b'DELETE "%s"' % folder.encode())
    c.cmd(b"LOGOUT")
    print(f"imap_mbsync: {'FAIL' if FAILED else 'PASS'}")
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
