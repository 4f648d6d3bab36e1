#!/usr/bin/env python3
"""Two IMAP sessions on two shards on one mailbox (issue 10, "Concurrency").

Starts `ringmail serve --shards=2` itself (it must restart it for the last check), over a
data directory where the user already exists (tests/tools/imap_concurrency_test.sh makes
it), on 127.0.0.1 only. Over raw sockets, with every line kept for the failure report:

  shards     sessions are opened until two sit on different shards (the imap_login log
             line names the shard); if the log does not say, four are used and the first
             two (SO_REUSEPORT spreads them)
  flags      a STORE by A reaches B as an untagged FETCH FLAGS at B's NOOP, and A does not
             hear its own change again
  expunge    an EXPUNGE by A is not told to B during B's FETCH, STORE or SEARCH (numbers
             stay put), only at B's NOOP, highest number first, and then numbers shift
  idle       an expunge by A reaches B in IDLE as EXPUNGE; a delivery over SMTP reaches B in
             IDLE as EXISTS within 1 s of the 250
  uids       UIDs never reused: expunge the newest message, append (new UID above it),
             expunge the newest again, restart the server, append: above every UID seen;
             UIDNEXT after the restart is above them too

Prints "ok: name" / "FAIL: name -- why" and exits 1 if anything failed.
Usage: imap_concurrency_test.py --ringmail BIN --data-dir DIR --user U --password P
(IMAP_TRANSCRIPT=1 prints the last 400 lines sent and received at the end.)
"""

import argparse
import ctypes
import os
import re
import signal
import smtplib
import socket
import subprocess
import sys
import time

ARGS = None
TIMEOUT = 10.0
FAILED = []
TRANSCRIPT = []


def check(name, cond, detail=""):
    if cond:
        print(f"ok: {name}", flush=True)
    else:
        FAILED.append(name)
        print(f"FAIL: {name}" + (f" -- {detail}" if detail else ""), flush=True)
        print("  last lines (C: sent, S: received):")
        for line in TRANSCRIPT[-30:]:
            print("    " + line)
    return cond


def free_ports(n):
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


# ---------------------------------------------------------------- the server

class Server:
    def __init__(self):
        self.imap_port, self.smtp_port = free_ports(2)
        self.log_path = os.path.join(ARGS.data_dir, "..", "server.log")
        self.proc = None
        self.starts = 0

    def start(self):
        self.starts += 1
        log = open(self.log_path, "ab")
        mark = log.tell()
        libc = ctypes.CDLL("libc.so.6", use_errno=True)

        def die_with_parent():  # PR_SET_PDEATHSIG: no server outlives this script
            libc.prctl(1, signal.SIGKILL)

        self.proc = subprocess.Popen(
            [ARGS.ringmail, "serve", "--spam_scan=false", f"--data_dir={ARGS.data_dir}", "--shards=2",
             f"--smtp_port={self.smtp_port}", "--lmtp_port=0", f"--imap_port={self.imap_port}",
             "--imaps_port=0", "--pop3_port=0", "--pop3s_port=0", "--managesieve_port=0", "--submission_port=0", "--submissions_port=0", "--imap_allow_plaintext_auth", "--listen_address=127.0.0.1",
             "--hostname=mx.test", "--shutdown_grace=1s", "--log_level=info"],
            stdout=subprocess.DEVNULL, stderr=log, preexec_fn=die_with_parent)
        log.close()
        deadline = time.time() + 15
        while time.time() < deadline:
            if "event=ready" in self.log_since(mark):
                return True
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        return False

    def log_since(self, offset):
        with open(self.log_path, "rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", "replace")

    def log_size(self):
        return os.path.getsize(self.log_path) if os.path.exists(self.log_path) else 0

    def stop(self):
        if not self.proc or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return "killed after 15 s"


# ---------------------------------------------------------------- a raw IMAP client

class Conn:
    count = 0

    def __init__(self, port):
        Conn.count += 1
        self.name = f"c{Conn.count}"
        self.tagn = 0
        self.buf = b""
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        greeting = self.read_response()
        if not greeting.startswith(b"* OK"):
            raise RuntimeError(f"greeting {greeting!r}")

    def log(self, who, data):
        for line in data.split(b"\r\n"):
            if line:
                TRANSCRIPT.append(f"{self.name} {who} {line[:200].decode('utf-8', 'replace')}")
        del TRANSCRIPT[:-400]

    def send(self, data):
        self.log("C:", data)
        self.sock.sendall(data)

    def readline(self, timeout=TIMEOUT):
        deadline = time.time() + timeout
        while b"\r\n" not in self.buf:
            left = deadline - time.time()
            if left <= 0:
                raise socket.timeout("no line")
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("server closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line + b"\r\n"

    def read_response(self, timeout=TIMEOUT):
        out = b""
        while True:
            line = self.readline(timeout)
            out += line
            m = re.search(rb"\{(\d+)\}\r\n$", line)
            if not m:
                break
            n = int(m.group(1))
            while len(self.buf) < n:
                self.sock.settimeout(TIMEOUT)
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("closed in a literal")
                self.buf += chunk
            out += self.buf[:n]
            self.buf = self.buf[n:]
        self.log("S:", out)
        return out

    def cmd(self, text, literal=None):
        """TAG TEXT; with `literal`, TEXT ends in {n} and the literal follows the '+'.
        Returns (untagged responses, tagged line)."""
        self.tagn += 1
        tag = f"{self.name}.{self.tagn}".encode()
        self.send(tag + b" " + text.encode() + b"\r\n")
        untagged = []
        if literal is not None:
            while True:
                r = self.read_response()
                if r.startswith(b"+"):
                    break
                if r.startswith(tag + b" "):
                    return untagged, r
                untagged.append(r)
            self.send(literal + b"\r\n")
        while True:
            r = self.read_response()
            if r.startswith(tag + b" "):
                return untagged, r
            untagged.append(r)

    def ok(self, text, literal=None):
        untagged, tagged = self.cmd(text, literal)
        if b" OK" not in tagged[:40]:
            raise RuntimeError(f"{text!r}: {tagged!r}")
        return untagged, tagged

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def expunges(untagged):
    return [int(m.group(1)) for r in untagged for m in [re.match(rb"\* (\d+) EXPUNGE", r)] if m]


def exists(untagged):
    return [int(m.group(1)) for r in untagged for m in [re.match(rb"\* (\d+) EXISTS", r)] if m]


def fetch_flags(untagged):
    """{seq: flags text} of untagged FETCH responses with FLAGS."""
    out = {}
    for r in untagged:
        m = re.match(rb"\* (\d+) FETCH \(.*FLAGS \(([^)]*)\)", r)
        if m:
            out[int(m.group(1))] = m.group(2).decode()
    return out


def fetch_uids(untagged):
    out = {}
    for r in untagged:
        m = re.match(rb"\* (\d+) FETCH \(.*UID (\d+)", r)
        if m:
            out[int(m.group(1))] = int(m.group(2))
    return out


def message(n, tag="x"):
    return (f"From: a@remote.test\r\nTo: {ARGS.user}\r\nSubject: concurrency {tag} {n}\r\n"
            f"Message-ID: <{tag}-{n}-{os.urandom(4).hex()}@remote.test>\r\n\r\nbody {n}\r\n").encode()


def append(conn, folder, n, tag="x"):
    body = message(n, tag)
    _, tagged = conn.ok(f"APPEND {folder} {{{len(body)}}}", literal=body)
    m = re.search(rb"APPENDUID (\d+) (\d+)", tagged)
    return int(m.group(2)) if m else None


def login(server, conn):
    conn.ok(f'LOGIN "{ARGS.user}" "{ARGS.password}"')


def noop_until(conn, pred, seconds=3.0):
    """NOOP every 50 ms until pred(all untagged so far) or the time is up."""
    seen = []
    deadline = time.time() + seconds
    while True:
        untagged, _ = conn.ok("NOOP")
        seen += untagged
        if pred(seen) or time.time() > deadline:
            return seen
        time.sleep(0.05)


# ---------------------------------------------------------------- the checks

def open_pair(server):
    """Two logged-in sessions on different shards, and the shard of each (or None)."""
    conns, shards = [], []
    for _ in range(16):  # all 16 on one shard: 1 in 32,768
        mark = server.log_size()
        c = Conn(server.imap_port)
        login(server, c)
        shard = None
        deadline = time.time() + 2
        while time.time() < deadline:
            m = re.search(r"^.*\bevent=imap_login\b.*$", server.log_since(mark), re.M)
            if m:
                s = re.search(r"\bshard=(\d+)", m.group(0))
                shard = int(s.group(1)) if s else None
                break
            time.sleep(0.02)
        conns.append(c)
        shards.append(shard)
        if None in shards and len(conns) >= 4:
            break
        if shard is not None and any(s is not None and s != shard for s in shards[:-1]):
            first = next(i for i, s in enumerate(shards) if s is not None and s != shard)
            a, b = conns[first], c
            for other in conns:
                if other is not a and other is not b:
                    other.ok("LOGOUT")
                    other.close()
            return a, b, (shards[first], shard)
    a, b = conns[0], conns[1]
    for other in conns[2:]:
        other.close()
    return a, b, (shards[0], shards[1])


def run(server):
    a, b, shards = open_pair(server)
    if None in shards:
        print(f"  note: the log does not name the session's shard; using two of four connections")
    else:
        check(f"two sessions on two shards (A on {shards[0]}, B on {shards[1]})", shards[0] != shards[1])

    folder = "Conc"
    a.ok(f"CREATE {folder}")
    uids = [append(a, folder, i) for i in range(1, 7)]
    check("APPEND gives APPENDUID, ascending", None not in uids and uids == sorted(uids) and len(set(uids)) == 6,
          repr(uids))
    all_uids = set(u for u in uids if u)
    ua, _ = a.ok(f"SELECT {folder}")
    ub, _ = b.ok(f"SELECT {folder}")
    check("both SELECTs see 6 messages", exists(ua) == [6] and exists(ub) == [6], f"{exists(ua)} {exists(ub)}")

    # ---- flags
    untagged, _ = a.ok("STORE 1 +FLAGS (\\Flagged)")
    check("A: STORE answers with the new flags", fetch_flags(untagged).get(1, "").find("\\Flagged") >= 0,
          repr(untagged))
    t0 = time.time()
    seen = noop_until(b, lambda s: "\\Flagged" in fetch_flags(s).get(1, ""))
    check("flags: B hears A's \\Flagged on 1 at NOOP", "\\Flagged" in fetch_flags(seen).get(1, ""), repr(seen))
    print(f"  flag change reached B after {time.time() - t0:.3f} s")
    time.sleep(0.3)
    untagged, _ = a.ok("NOOP")
    check("flags: A does not hear its own change again", not fetch_flags(untagged), repr(untagged))
    b.ok("STORE 3 +FLAGS (\\Seen)")
    seen = noop_until(a, lambda s: "\\Seen" in fetch_flags(s).get(3, ""))
    check("flags: A hears B's \\Seen on 3 at NOOP", "\\Seen" in fetch_flags(seen).get(3, ""), repr(seen))

    # ---- expunges held during FETCH / STORE / SEARCH
    a.ok("STORE 2,4 +FLAGS.SILENT (\\Deleted)")
    untagged, _ = a.ok("EXPUNGE")
    check("expunge: A gets 4 then 2 (highest first is not required of its own, but both)",
          sorted(expunges(untagged)) == [2, 4], repr(untagged))
    time.sleep(0.5)  # the owner has told B's shard by now (commits every 100 ms)
    for cmd in ("FETCH 1:* (FLAGS)", "STORE 1 +FLAGS (\\Answered)", "SEARCH ALL", "FETCH 1:6 (UID)",
                "STORE 5 -FLAGS (\\Answered)", "SEARCH UNSEEN"):
        untagged, tagged = b.cmd(cmd)
        check(f"expunge: no EXPUNGE during B's {cmd}", not expunges(untagged), repr(untagged))
        check(f"expunge: B's {cmd} still sees numbers up to 6 (no EXISTS shrink)",
              all(n <= 6 for n in exists(untagged)) and b"BAD" not in tagged, repr(tagged))
    untagged, _ = b.cmd("FETCH 6 (UID)")
    check("expunge: before B's NOOP, 6 is still the last message's number", fetch_uids(untagged).get(6) == uids[5],
          repr(untagged))
    untagged, _ = b.ok("NOOP")
    check("expunge: B's NOOP says EXPUNGE 4 then 2", expunges(untagged) == [4, 2], repr(untagged))
    untagged, _ = b.ok("FETCH 1:* (UID)")
    got = fetch_uids(untagged)
    want = {1: uids[0], 2: uids[2], 3: uids[4], 4: uids[5]}
    check("expunge: after NOOP B's numbers have shifted", got == want, f"{got} != {want}")
    untagged, _ = b.ok("UID FETCH 1:* (FLAGS)")
    check("expunge: B's UID FETCH lists the 4 left", len(fetch_flags(untagged)) == 4, repr(untagged))

    # ---- IDLE: an expunge, then a delivery over SMTP
    b.ok(f"SELECT INBOX")
    a.ok(f"SELECT INBOX")
    append(a, "INBOX", 1, "idle")
    append(a, "INBOX", 2, "idle")
    untagged = noop_until(b, lambda s: 2 in exists(s) or 3 in exists(s))
    b.tagn += 1
    idle_tag = f"{b.name}.{b.tagn}".encode()
    b.send(idle_tag + b" IDLE\r\n")
    lines = []
    while True:
        r = b.read_response()
        if r.startswith(b"+"):
            break
        lines.append(r)
    check("idle: B gets the continuation", True)
    _, _ = a.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
    a.ok("EXPUNGE")
    got = []
    deadline = time.time() + 3
    while time.time() < deadline and not expunges(got):
        try:
            got.append(b.read_response(timeout=max(0.05, deadline - time.time())))
        except socket.timeout:
            break
    check("idle: A's expunge reaches B in IDLE as EXPUNGE 1", expunges(got) == [1], repr(got))
    count = 1  # INBOX now holds one message (of the two appended)

    marker = "conc-" + os.urandom(5).hex()
    s = smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=TIMEOUT)
    s.ehlo("client.test")
    s.sendmail("a@remote.test", [ARGS.user],
               f"From: a@remote.test\r\nTo: {ARGS.user}\r\nSubject: {marker}\r\n\r\nhello\r\n".encode())
    t250 = time.time()
    s.quit()
    got = []
    while time.time() < t250 + 3 and not exists(got):
        try:
            got.append(b.read_response(timeout=max(0.05, t250 + 3 - time.time())))
        except socket.timeout:
            break
    took = time.time() - t250
    check(f"idle: the SMTP delivery reaches B in IDLE as EXISTS {count + 1}", exists(got) == [count + 1], repr(got))
    check(f"idle: within 1 s of the 250 ({took:.3f} s)", exists(got) and took <= 1.0, f"{took:.3f} s")
    b.send(b"DONE\r\n")
    while True:
        r = b.read_response()
        if r.startswith(idle_tag + b" "):
            check("idle: DONE ends IDLE with OK", b" OK" in r, repr(r))
            break

    # ---- UIDs never reused
    a.ok(f"SELECT {folder}")
    untagged, _ = a.ok("UID SEARCH ALL")
    live = [int(x) for r in untagged if r.startswith(b"* SEARCH") for x in r.split()[2:]]
    top = max(live)
    a.ok(f"UID STORE {top} +FLAGS.SILENT (\\Deleted)")
    a.ok(f"UID EXPUNGE {top}")
    u1 = append(a, folder, 7)
    check("uids: an append after expunging the newest gets a new UID", u1 is not None and u1 > max(all_uids),
          f"{u1} after {sorted(all_uids)}")
    all_uids.add(u1 or 0)
    a.ok(f"UID STORE {u1} +FLAGS.SILENT (\\Deleted)")
    a.ok(f"UID EXPUNGE {u1}")
    time.sleep(0.3)  # let the background commit land before the stop
    a.ok("LOGOUT")
    b.ok("LOGOUT")
    a.close()
    b.close()
    rc = server.stop()
    check("uids: server stops with exit 0 on SIGTERM", rc == 0, repr(rc))
    if not check("uids: server starts again", server.start()):
        return
    c = Conn(server.imap_port)
    login(server, c)
    untagged, _ = c.ok(f"STATUS {folder} (UIDNEXT MESSAGES)")
    m = re.search(rb"UIDNEXT (\d+)", b"".join(untagged))
    uidnext = int(m.group(1)) if m else 0
    check("uids: UIDNEXT after the restart is above every UID handed out",
          uidnext > max(all_uids), f"UIDNEXT {uidnext}, UIDs {sorted(all_uids)}")
    u2 = append(c, folder, 8)
    check("uids: an append after the restart gets a UID never used", u2 is not None and u2 > max(all_uids),
          f"{u2} after {sorted(all_uids)}")
    c.ok(f"SELECT {folder}")
    untagged, _ = c.ok("UID SEARCH ALL")
    live2 = [int(x) for r in untagged if r.startswith(b"* SEARCH") for x in r.split()[2:]]
    check("uids: the folder holds the survivors and the new one",
          live2 == sorted(set(live) - {top}) + [u2], f"{live2}")
    # Another session on the other shard appends too; the two never collide.
    d = Conn(server.imap_port)
    login(server, d)
    got = sorted([append(c, folder, 9), append(d, folder, 10), append(c, folder, 11), append(d, folder, 12)])
    check("uids: appends from two sessions get distinct new UIDs", len(set(got)) == 4 and got[0] > u2, repr(got))
    c.ok("LOGOUT")
    d.ok("LOGOUT")
    c.close()
    d.close()


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--ringmail", required=True)
    p.add_argument("--data-dir", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    ARGS = p.parse_args()
    server = Server()
    try:
        if not check("server ready", server.start()):
            return 1
        try:
            run(server)
        except Exception as e:  # a broken stream or timeout: report with the transcript
            check("no exception", False, f"{type(e).__name__}: {e}")
        rc = server.stop()
        check("server stops with exit 0 at the end", rc == 0, repr(rc))
        text = open(server.log_path, "rb").read().decode("utf-8", "replace")
        errors = [l for l in text.splitlines() if "level=error" in l]
        check("server logged no level=error lines", not errors, "\n".join(errors[:5]))
        if os.environ.get("IMAP_TRANSCRIPT"):
            print("--- transcript (last 400 lines):")
            print("\n".join(TRANSCRIPT))
        if FAILED:
            print("--- server log (last 30 lines):")
            print("\n".join(text.splitlines()[-30:]))
    finally:
        if server.proc and server.proc.poll() is None:
            server.proc.kill()
    print(f"imap_concurrency: {len(FAILED)} failed")
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
