#!/usr/bin/env python3
"""SORT and THREAD on a big folder, ringmail against Dovecot 2.3 in the same run (issue 11).

Builds one Maildir of MESSAGES messages (default 100,000): the SpamAssassin corpus repeated,
each copy k with varied headers (Message-ID, References and In-Reply-To ids prefixed with
"c<k>." so each copy threads like the original and apart from it; " #<k>" after the
Subject; Date: moved k days on; an "X-Bench-Id" line first; internal dates one minute
apart). Dovecot's copy and ringmail's share the files (hard links: same bytes, same page
cache). For each command:
  cold  ringmail: a fresh `ringmail serve` (no sort or header cache), LOGIN, SELECT, then
        the command; Dovecot: a fresh imap process with its dovecot.index.cache deleted
        (so it parses the headers too; its index stays), SELECT, then the command;
  warm  the same command again in the same session (ringmail: the sort cache; Dovecot:
        the fields it added to dovecot.index.cache and its in-memory sort data).
Milliseconds are client-side, from sending the command to its tagged OK, the response
read but not parsed (loopback TCP for ringmail, a pipe for Dovecot's pre-authenticated
imap process, which has no login or network layer in the way); the median of RUNS warm
runs. Prints a Markdown table.

Usage: sort_thread.py RINGMAIL RINGMAIL_ADMIN CORPUS_DIR
Env: MESSAGES (100000), RUNS (3), BENCH_DIR (/var/tmp), SHARDS (1), KEEP (0)
"""
import imaplib
import os
import pwd
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "tests", "tools"))
import imap_render_diff as render  # noqa: E402

COMMANDS = [
    ("SORT (ARRIVAL)", "SORT", ["(ARRIVAL)", "UTF-8", "ALL"]),
    ("SORT (DATE)", "SORT", ["(DATE)", "UTF-8", "ALL"]),
    ("SORT (FROM)", "SORT", ["(FROM)", "UTF-8", "ALL"]),
    ("SORT (SUBJECT)", "SORT", ["(SUBJECT)", "UTF-8", "ALL"]),
    ("THREAD REFERENCES", "THREAD", ["REFERENCES", "UTF-8", "ALL"]),
]
BASE_TIME = 1009843200


def corpus_files(corpus):
    files = []
    for s in render.SETS:
        d = os.path.join(corpus, s)
        for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            if name.endswith(".txt"):
                files.append(os.path.join(d, name))
    return files


def vary(data, k):
    """Copy k of a message: ids prefixed, subject suffixed, date moved."""
    if k == 0:
        return data
    end = data.find(b"\n\n")
    head, body = (data, b"") if end < 0 else (data[:end + 1], data[end + 1:])
    out = []
    field = None
    for line in head.split(b"\n"):
        if line[:1] not in (b" ", b"\t"):
            field = line.split(b":", 1)[0].lower()
        if field in (b"message-id", b"references", b"in-reply-to"):
            line = line.replace(b"<", b"<c%d." % k)
        if field == b"subject" and line.lower().startswith(b"subject:"):
            line = line + b" #%d" % k
        if field == b"date" and line.lower().startswith(b"date:"):
            m = re.search(rb"(\d{1,2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{4})", line)
            if m:
                t = time.strptime(b"%s %s %s" % m.groups() and (m.group(0).decode()), "%d %b %Y")
                moved = time.strftime("%d %b %Y", time.gmtime(time.mktime(t) + 86400 * k + 43200))
                line = line[:m.start()] + moved.encode() + line[m.end():]
        out.append(line)
    return b"\n".join(out) + body


def build(corpus, work, count, rm_maildir):
    files = corpus_files(corpus)
    dove = os.path.join(work, "Maildir")
    for md in (dove, rm_maildir):
        for d in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(md, d), exist_ok=True)
    cache = {}
    with open(os.path.join(dove, "dovecot-uidlist"), "w") as uidlist:
        uidlist.write("3 V1 N%d\n" % (count + 1))
        for n in range(1, count + 1):
            k, i = divmod(n - 1, len(files))
            data = cache.get(i)
            if data is None:
                data = open(files[i], "rb").read()
                if data.startswith(b"From "):
                    nl = data.find(b"\n")
                    data = data[nl + 1:] if nl >= 0 else b""
                cache[i] = data
            data = b"X-Bench-Id: %d\n" % n + vary(data, k)
            base = "%07d.bench" % n
            out = os.path.join(dove, "cur", base + ":2,S")
            with open(out, "wb") as f:
                f.write(data)
            os.utime(out, (BASE_TIME + 60 * n, BASE_TIME + 60 * n))
            os.link(out, os.path.join(rm_maildir, "cur", base + ":2,S"))
            uidlist.write("%d :%s\n" % (n, base))


imaplib._MAXLINE = 1 << 30  # a THREAD line of 100,000 messages is over 1 MB


def timed(c, verb, args):
    """Milliseconds from sending the command to reading its tagged reply; the response
    lines are read but not parsed (imaplib's parsing would dominate the warm times)."""
    tag = c._new_tag()
    line = tag + b" " + " ".join([verb] + args).encode() + b"\r\n"
    t0 = time.perf_counter()
    c.send(line)
    while True:
        got = c.readline()
        if not got:
            raise RuntimeError("%s: connection closed" % verb)
        if got.startswith(tag + b" "):
            break
    dt = (time.perf_counter() - t0) * 1000
    if not got.startswith(tag + b" OK"):
        raise RuntimeError("%s %s: %r" % (verb, args, got))
    return dt


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def main():
    ringmail, admin, corpus = (os.path.abspath(a) for a in sys.argv[1:4])
    count = int(os.environ.get("MESSAGES", "100000"))
    runs = int(os.environ.get("RUNS", "3"))
    shards = os.environ.get("SHARDS", "1")
    imap_bin = "/usr/lib/dovecot/imap"
    if not os.access(imap_bin, os.X_OK):
        print("SKIP: no Dovecot imap (apt-get install dovecot-imapd)", file=sys.stderr)
        return 77
    work = tempfile.mkdtemp(prefix="sort_thread.", dir=os.environ.get("BENCH_DIR", "/var/tmp"))
    os.chmod(work, 0o755)
    server = None
    log = open(os.path.join(work, "ringmail.log"), "wb")
    try:
        data_dir = os.path.join(work, "data")
        adm = [admin, "--data_dir=" + data_dir]
        subprocess.run(adm + ["domain", "add", "example.org"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(adm + ["user", "add", "u@example.org"], input=b"pw-u\n", check=True,
                       stdout=subprocess.DEVNULL)
        rm_maildir = os.path.join(data_dir, "vmail", "example.org", "u", "Maildir")
        t0 = time.time()
        build(corpus, work, count, rm_maildir)
        print("built %d messages in %.0f s" % (count, time.time() - t0), file=sys.stderr)
        prefix = []
        if os.getuid() == 0:
            pw = pwd.getpwnam("nobody")
            uid, gid = pw.pw_uid, pw.pw_gid
            subprocess.run(["chown", "-R", "%d:%d" % (uid, gid), os.path.join(work, "Maildir")], check=True)
            prefix = ["setpriv", "--reuid=%d" % uid, "--regid=%d" % gid, "--clear-groups"]
        else:
            uid, gid = os.getuid(), os.getgid()
        conf = render.write_conf(work, uid, gid)
        if prefix:
            subprocess.run(["chown", "-R", "%d:%d" % (uid, gid), os.path.join(work, "run")], check=True)
        dcmd = " ".join(prefix + ["env", "USER=u", "HOME=" + work, imap_bin, "-c", conf])
        port = free_port()

        def start_ringmail():
            nonlocal server
            if server is not None:
                server.terminate()
                server.wait(30)
            server = subprocess.Popen(
                [ringmail, "serve", "--spam_scan=false", "--data_dir=" + data_dir, "--shards=" + shards,
                 "--smtp_port=0", "--lmtp_port=0", "--imap_port=%d" % port, "--imaps_port=0",
                 "--imap_allow_plaintext_auth", "--listen_address=127.0.0.1", "--log_level=warn",
                 "--hostname=mx.test", "--shutdown_grace=1s"], stdout=log, stderr=log)
            deadline = time.time() + 30
            while time.time() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", port), 0.2).close()
                    break
                except OSError:
                    time.sleep(0.05)
            c = imaplib.IMAP4("127.0.0.1", port)
            c.login("u@example.org", "pw-u")
            t = time.perf_counter()
            typ, d = c.select("INBOX")
            assert typ == "OK" and int(d[0]) == count, (typ, d)
            return c, (time.perf_counter() - t) * 1000

        def start_dovecot(cold):
            if cold:
                for f in ("dovecot.index.cache",):
                    p = os.path.join(work, "Maildir", f)
                    if os.path.exists(p):
                        os.unlink(p)
            c = imaplib.IMAP4_stream(dcmd)
            t = time.perf_counter()
            typ, d = c.select("INBOX")
            assert typ == "OK" and int(d[0]) == count, (typ, d)
            return c, (time.perf_counter() - t) * 1000

        # First SELECTs: both servers index the new Maildir (not part of the table).
        c, ms = start_ringmail()
        print("ringmail first SELECT (indexing %d messages): %.0f ms" % (count, ms), file=sys.stderr)
        c.logout()
        c, ms = start_dovecot(True)
        print("dovecot first SELECT (indexing %d messages): %.0f ms" % (count, ms), file=sys.stderr)
        c.logout()

        rows = []
        for name, verb, args in COMMANDS:
            r = {}
            c, _ = start_ringmail()
            r["rc"] = timed(c, verb, args)
            # The first warm run apart: later ones may be answered from a memo of it
            # (ringmail's THREAD memo).
            warm = [timed(c, verb, args) for _ in range(runs)]
            r["rw1"] = warm[0]
            r["rw"] = statistics.median(warm)
            c.logout()
            c, _ = start_dovecot(True)
            r["dc"] = timed(c, verb, args)
            r["dw"] = statistics.median(timed(c, verb, args) for _ in range(runs))
            c.logout()
            rows.append((name, r))
            print("%s: ringmail cold %.0f warm %.0f (first %.0f), dovecot cold %.0f warm %.0f" % (
                name, r["rc"], r["rw"], r["rw1"], r["dc"], r["dw"]), file=sys.stderr)
        commit = subprocess.run(["git", "-C", here, "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True).stdout.strip()
        print("\n%d messages, commit %s, %s, ringmail --shards=%s, median of %d warm runs\n" % (
            count, commit, time.strftime("%Y-%m-%d"), shards, runs))
        print("| command | ringmail cold ms | Dovecot cold ms | ratio | ringmail warm ms | Dovecot warm ms | ratio "
              "| ringmail first warm ms |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for name, r in rows:
            print("| %s | %.0f | %.0f | %.1fx | %.1f | %.1f | %.1fx | %.1f |" % (
                name, r["rc"], r["dc"], r["dc"] / r["rc"], r["rw"], r["dw"], r["dw"] / r["rw"], r["rw1"]))
        return 0
    finally:
        if server is not None and server.poll() is None:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
        log.close()
        if os.environ.get("KEEP", "0") == "1":
            print("work directory kept: " + work, file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
