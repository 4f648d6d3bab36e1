#!/usr/bin/env python3
"""Differential test of IMAP SEARCH: ringmail against Dovecot 2.3, same messages.

Builds a Maildir from the SpamAssassin public corpus (scripts/fetch-corpus.sh; the mbox
"From " line dropped, bare LF kept) in two copies: one for Debian's Dovecot imap binary
(pre-authenticated on a pipe with a private -c config, as imap_render_diff.py does), one
placed at <data_dir>/vmail/example.org/u/Maildir for `ringmail serve` (a temporary data
directory, a user made with ringmail-admin, plaintext LOGIN allowed on loopback). Each
message gets a first header line "X-Diff-Id: N" so the two servers' UIDs can be mapped
to the same message (both see the same bytes, so sizes and header searches agree), and
file mtime 2002-01-01 + N hours (the internal date, for BEFORE/SINCE/ON).

Both sessions then STORE the same flags on the same messages and run the same ~30
UID SEARCH queries (CHARSET UTF-8): SUBJECT/FROM/TO/BODY/TEXT words (non-ASCII, and
words only found in RFC 2047 encoded subjects), HEADER, LARGER/SMALLER, SENT* and
internal dates, flags, OR/NOT nesting, UID ranges. Results are compared as sets of
X-Diff-Id. Known differences (protocols/imap/DIFFERENCES.md, SEARCH) are listed in
KNOWN with their reason; any other difference fails.

Usage: imap_search_diff.py RINGMAIL RINGMAIL_ADMIN [CORPUS_DIR] [--limit N] [--keep]
Exit: 0 no unexplained difference, 1 differences, 77 skipped (no Dovecot, no corpus).
"""
import argparse
import imaplib
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import imap_render_diff as render  # noqa: E402  (Maildir/config helpers)

SETS = render.SETS
BASE_TIME = 1009843200  # 2002-01-01 00:00:00 UTC

# (name, query args). A non-ASCII argument is sent as a literal (last argument).
QUERIES = [
    ("subject word", ["SUBJECT", "money"]),
    ("subject phrase", ["SUBJECT", '"razor"']),
    ("subject encoded-word (iso-8859-1)", ["SUBJECT", "über"]),
    ("subject encoded-word (big5)", ["SUBJECT", "準備"]),
    ("subject encoded-word (iso-2022-jp)", ["SUBJECT", "コラボ"]),
    ("from address", ["FROM", "taint.org"]),
    ("from name", ["FROM", "Justin"]),
    ("to", ["TO", "zzzz@"]),
    ("cc", ["CC", "spamassassin"]),
    ("body word", ["BODY", "viagra"]),
    ("body word case", ["BODY", "MORTGAGE"]),
    ("body non-ASCII", ["BODY", "€"]),
    ("text word", ["TEXT", "unsubscribe"]),
    ("text header value", ["TEXT", "dogma.slashnull.org"]),
    ("header exists", ["HEADER", "X-Mailer", '""']),
    ("header value", ["HEADER", "X-Mailer", "Outlook"]),
    ("header list-id", ["HEADER", "List-Id", "spamassassin-talk"]),
    ("larger", ["LARGER", "20000"]),
    ("smaller", ["SMALLER", "1500"]),
    ("sentbefore", ["SENTBEFORE", "1-Jun-2002"]),
    ("sentsince", ["SENTSINCE", "1-Nov-2002"]),
    ("senton", ["SENTON", "22-Aug-2002"]),
    ("before (internal)", ["BEFORE", "10-Jan-2002"]),
    ("since (internal)", ["SINCE", "1-Sep-2002"]),
    ("on (internal)", ["ON", "3-Jan-2002"]),
    ("flagged", ["FLAGGED"]),
    ("unseen", ["UNSEEN"]),
    ("answered or deleted", ["OR", "ANSWERED", "DELETED"]),
    ("keyword", ["KEYWORD", "$Junk"]),
    ("not seen and flagged", ["NOT", "SEEN", "FLAGGED"]),
    ("or/not nesting", ["OR", "(SUBJECT", "free", "NOT", "LARGER", "3000)", "(FROM", "yahoo", "SMALLER", "2000)"]),
    ("not or", ["NOT", "OR", "SUBJECT", "re:", "BODY", "click"]),
    ("uid range", ["UID", "{uids:100:400}", "NOT", "SUBJECT", "a"]),
]

# query name -> reason, for differences that are explained (see DIFFERENCES.md, SEARCH).
KNOWN = {
    "body non-ASCII": "iso-8859-1 bodies with =80 (the euro sign in windows-1252): ringmail "
                      "reads iso-8859-1 as windows-1252 (WHATWG Encoding Standard, "
                      "mail/charset.cc, what clients display), Dovecot's iconv as U+0080",
}


def skip(msg):
    print("SKIP: " + msg, file=sys.stderr)
    sys.exit(77)


def build_maildirs(corpus, work, limit, ringmail_maildir):
    files = []
    for s in SETS:
        d = os.path.join(corpus, s)
        for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            if name.endswith(".txt"):
                files.append((s, os.path.join(d, name)))
    if limit:
        files = files[:limit]
    dove = os.path.join(work, "Maildir")
    for md in (dove, ringmail_maildir):
        for d in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(md, d), exist_ok=True)
    with open(os.path.join(dove, "dovecot-uidlist"), "w") as uidlist:
        uidlist.write("3 V1 N%d\n" % (len(files) + 1))
        for n, (s, path) in enumerate(files, 1):
            data = open(path, "rb").read()
            if data.startswith(b"From "):
                nl = data.find(b"\n")
                data = data[nl + 1:] if nl >= 0 else b""
            data = b"X-Diff-Id: %d\n" % n + data
            base = "%d.%s.%s" % (n, s, os.path.basename(path)[:5])
            for md in (dove, ringmail_maildir):
                out = os.path.join(md, "cur", base + ":2,S")
                with open(out, "wb") as f:
                    f.write(data)
                os.utime(out, (BASE_TIME + 3600 * n, BASE_TIME + 3600 * n))
            uidlist.write("%d :%s\n" % (n, base))
    return ["%s/%s" % (s, os.path.basename(p)[:5]) for s, p in files]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def id_map(c):
    """UID -> X-Diff-Id for the selected mailbox."""
    typ, data = c.uid("FETCH", "1:*", "(UID BODY.PEEK[HEADER.FIELDS (X-DIFF-ID)])")
    if typ != "OK":
        raise RuntimeError("FETCH of X-Diff-Id failed: %r" % data)
    out = {}
    for part in data:
        if not isinstance(part, tuple):
            continue
        uid = re.search(rb"UID (\d+)", part[0])
        did = re.search(rb"X-Diff-Id: (\d+)", part[1])
        if uid and did:
            out[int(uid.group(1))] = int(did.group(1))
    return out


def run_search(c, args, id_to_uid):
    parts = []
    literal = None
    for a in args:
        m = re.match(r"\{uids:(\d+):(\d+)\}", a)
        if m:
            lo, hi = int(m.group(1)), int(m.group(2))
            # The servers number the files in different orders (ringmail need not
            # follow dovecot-uidlist): the same messages, each server's UIDs, as ranges.
            uids = sorted(id_to_uid[i] for i in range(lo, hi + 1) if i in id_to_uid)
            ranges = []
            for u in uids:
                if ranges and ranges[-1][1] == u - 1:
                    ranges[-1][1] = u
                else:
                    ranges.append([u, u])
            a = ",".join("%d:%d" % (x, y) if x != y else str(x) for x, y in ranges)
        if any(ord(ch) > 127 for ch in a):
            literal = a.encode("utf-8")
            continue
        parts.append(a)
    if literal is not None:
        c.literal = literal
    typ, data = c.uid("SEARCH", "CHARSET", "UTF-8", *parts)
    if typ != "OK":
        return None, b" ".join(d for d in data if isinstance(d, bytes))
    uids = []
    for d in data:
        if isinstance(d, bytes):
            uids += [int(x) for x in d.split()]
    return uids, None


def stores(c, id_to_uid, count):
    """The same flag changes on both servers, by X-Diff-Id."""
    def uidset(ids):
        return ",".join(str(id_to_uid[i]) for i in ids if i in id_to_uid)
    plan = [
        (range(1, count + 1, 37), "+FLAGS", r"(\Flagged)"),
        (range(5, count + 1, 53), "-FLAGS", r"(\Seen)"),
        (range(3, count + 1, 41), "+FLAGS", r"(\Answered)"),
        (range(7, count + 1, 97), "+FLAGS", r"(\Deleted)"),
        (range(2, count + 1, 61), "+FLAGS", "($Junk)"),
        (range(1, count + 1, 74), "-FLAGS", r"(\Flagged)"),
    ]
    for ids, op, flags in plan:
        s = uidset(ids)
        if s:
            typ, data = c.uid("STORE", s, op + ".SILENT", flags)
            if typ != "OK":
                raise RuntimeError("STORE failed: %r" % data)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ringmail")
    ap.add_argument("admin")
    ap.add_argument("corpus", nargs="?", default="build/corpus")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--show", type=int, default=5)
    args = ap.parse_args()

    imap_bin = "/usr/lib/dovecot/imap"
    if not os.access(imap_bin, os.X_OK):
        skip("Dovecot's imap binary not found (apt-get install dovecot-imapd)")
    if not os.path.isdir(os.path.join(args.corpus, "spam-1")):
        skip("no corpus at %s (scripts/fetch-corpus.sh %s)" % (args.corpus, args.corpus))
    ringmail = os.path.abspath(args.ringmail)
    admin = os.path.abspath(args.admin)

    work = tempfile.mkdtemp(prefix="imap_search_diff.")
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
        names = build_maildirs(args.corpus, work, args.limit, rm_maildir)
        count = len(names)

        prefix = []
        if os.getuid() == 0:
            pw = pwd.getpwnam("nobody")
            uid, gid = pw.pw_uid, pw.pw_gid
            subprocess.run(["chown", "-R", "%d:%d" % (uid, gid), os.path.join(work, "Maildir")],
                           check=True)
            prefix = ["setpriv", "--reuid=%d" % uid, "--regid=%d" % gid, "--clear-groups"]
        else:
            uid, gid = os.getuid(), os.getgid()
        conf = render.write_conf(work, uid, gid)
        if prefix:
            subprocess.run(["chown", "-R", "%d:%d" % (uid, gid), os.path.join(work, "run")],
                           check=True)
        cmd = " ".join(prefix + ["env", "USER=u", "HOME=" + work, imap_bin, "-c", conf])

        port = free_port()
        server = subprocess.Popen(
            [ringmail, "serve", "--spam_scan=false", "--data_dir=" + data_dir, "--shards=1",
             "--smtp_port=0", "--lmtp_port=0", "--imap_port=%d" % port, "--imaps_port=0", "--pop3_port=0", "--pop3s_port=0", "--managesieve_port=0", "--submission_port=0", "--submissions_port=0",
             "--imap_allow_plaintext_auth", "--listen_address=127.0.0.1",
             "--hostname=mx.test", "--shutdown_grace=1s"], stdout=log, stderr=log)
        deadline = time.time() + 20
        while time.time() < deadline:
            if server.poll() is not None:
                raise RuntimeError("ringmail serve exited: see %s" % log.name)
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.05)

        dc = imaplib.IMAP4_stream(cmd)
        rc = imaplib.IMAP4("127.0.0.1", port)
        rc.login("u@example.org", "pw-u")
        servers = [("ringmail", rc), ("dovecot", dc)]
        maps = {}
        for name, c in servers:
            typ, data = c.select("INBOX")
            if typ != "OK":
                raise RuntimeError("%s: SELECT failed: %r" % (name, data))
            maps[name] = id_map(c)
            if len(maps[name]) != count:
                raise RuntimeError("%s: %d of %d messages mapped" % (name, len(maps[name]), count))
            stores(c, {v: k for k, v in maps[name].items()}, count)

        unexplained = 0
        explained = 0
        for qname, q in QUERIES:
            results = {}
            for name, c in servers:
                t0 = time.time()
                uids, err = run_search(c, q, {v: k for k, v in maps[name].items()})
                dt = time.time() - t0
                ids = None if uids is None else {maps[name][u] for u in uids}
                results[name] = (ids, err, dt)
            (a, aerr, at), (b, berr, bt) = results["ringmail"], results["dovecot"]
            same = a == b
            status = "same" if same else ("known" if qname in KNOWN else "DIFFER")
            print("%-36s %-6s ringmail %5s (%.2fs)  dovecot %5s (%.2fs)" % (
                qname, status, "NO" if a is None else len(a), at,
                "NO" if b is None else len(b), bt))
            if same:
                continue
            if qname in KNOWN:
                explained += 1
                print("    explained: " + KNOWN[qname])
            else:
                unexplained += 1
            if a is None or b is None:
                print("    ringmail: %r  dovecot: %r" % (aerr, berr))
                continue
            only_r = sorted(a - b)
            only_d = sorted(b - a)
            print("    only ringmail (%d): %s" % (len(only_r), " ".join(
                names[i - 1] for i in only_r[:args.show])))
            print("    only dovecot  (%d): %s" % (len(only_d), " ".join(
                names[i - 1] for i in only_d[:args.show])))
        for _, c in servers:
            try:
                c.logout()
            except (imaplib.IMAP4.abort, OSError):
                pass
        print("imap_search_diff: %d messages, %d queries, %d explained, %d unexplained "
              "differences" % (count, len(QUERIES), explained, unexplained))
        return 1 if unexplained else 0
    finally:
        if server is not None and server.poll() is None:
            server.terminate()
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()
        log.close()
        if args.keep:
            print("work directory kept: " + work)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
