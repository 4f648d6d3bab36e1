#!/usr/bin/env python3
"""Differential test of IMAP SORT and THREAD: ringmail against Dovecot 2.3, same messages.

The Maildirs are imap_search_diff.py's (the SpamAssassin corpus, an "X-Diff-Id: N" first
header line in each message so the two servers' UIDs map to the same message, internal
date 2002-01-01 + N hours, so ARRIVAL is X-Diff-Id order on both). Both servers answer
the same UID SORT (every RFC 5256 key, each plain and REVERSE; the RFC 5957 DISPLAYFROM
and DISPLAYTO; a few key pairs; ESORT RETURN) and UID THREAD (ORDEREDSUBJECT, REFERENCES,
REFS) commands, and the answers are compared after mapping UIDs to X-Diff-Ids: SORT as
ordered lists, THREAD as the whole response text. Ties are broken by the mailbox order
(RFC 5256), so the comparison needs both servers to number the messages in the same
order; the script checks that first.

Known differences (protocols/imap/DIFFERENCES.md, SORT and THREAD) are listed in KNOWN;
any other difference fails.

Usage: imap_sort_diff.py RINGMAIL RINGMAIL_ADMIN [CORPUS_DIR] [--limit N] [--keep]
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
import imap_render_diff as render  # noqa: E402
import imap_search_diff as sd  # noqa: E402

KEYS = ["ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT", "TO", "DISPLAYFROM", "DISPLAYTO"]
SORTS = [[k] for k in KEYS] + [["REVERSE", k] for k in KEYS] + [
    ["SUBJECT", "DATE"], ["FROM", "REVERSE", "DATE"], ["REVERSE", "SIZE", "SUBJECT"],
    ["TO", "CC", "ARRIVAL"],
]
THREADS = ["ORDEREDSUBJECT", "REFERENCES", "REFS"]

# command text -> reason, for differences that are explained (DIFFERENCES.md).
_DECOMPOSITION = ("7 spam messages with raw 8-bit (Big5/EUC-KR) subjects whose bytes happen to "
                  "form valid UTF-8 letters with canonical decompositions (\\xc7\\xb0 is U+01F0, "
                  "j + U+030C): Dovecot's i;unicode-casemap decomposes (RFC 5051), ringmail's "
                  "case map (mail/casefold.h) does not, so those subjects order differently "
                  "(DIFFERENCES.md, SORT and THREAD)")
KNOWN = {
    "UID SORT (SUBJECT) UTF-8 ALL": _DECOMPOSITION,
    "UID SORT (REVERSE SUBJECT) UTF-8 ALL": _DECOMPOSITION,
    "UID SORT (SUBJECT DATE) UTF-8 ALL": _DECOMPOSITION,
}


def build_maildirs(corpus, work, limit, ringmail_maildir):
    """imap_search_diff.build_maildirs with zero-padded file names (both servers then
    number the messages in X-Diff-Id order, which SORT's ties need) and the ringmail copy
    hard-linked to Dovecot's (the bytes are never written to; flag changes rename)."""
    files = []
    for s in render.SETS:
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
            base = "%07d.%s.%s" % (n, s, os.path.basename(path)[:5])
            out = os.path.join(dove, "cur", base + ":2,S")
            with open(out, "wb") as f:
                f.write(data)
            os.utime(out, (sd.BASE_TIME + 3600 * n, sd.BASE_TIME + 3600 * n))
            os.link(out, os.path.join(ringmail_maildir, "cur", base + ":2,S"))
            uidlist.write("%d :%s\n" % (n, base))
    return ["%s/%s" % (s, os.path.basename(p)[:5]) for s, p in files]


def run(c, name, args):
    typ, data = c.uid(name, *args)
    if typ != "OK":
        return None, repr(data)
    parts = [d for d in data if isinstance(d, bytes)]
    return b" ".join(parts).decode("utf-8", "replace").strip(), None


def map_numbers(text, uid_to_id):
    return re.sub(r"\d+", lambda m: str(uid_to_id.get(int(m.group(0)), "?" + m.group(0))), text)


def esearch(c, args):
    typ, data = c.uid("SORT", *args)
    if typ != "OK":
        return None
    typ, data = c.response("ESEARCH")
    return b" ".join(d for d in data if isinstance(d, bytes)).decode()


def first_difference(a, b):
    la, lb = a.split(), b.split()
    for i, (x, y) in enumerate(zip(la, lb)):
        if x != y:
            return i, " ".join(la[max(0, i - 3):i + 4]), " ".join(lb[max(0, i - 3):i + 4])
    return min(len(la), len(lb)), " ".join(la[-4:]), " ".join(lb[-4:])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ringmail")
    ap.add_argument("admin")
    ap.add_argument("corpus", nargs="?", default="build/corpus")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--dump", help="write each server's mapped answers into this directory")
    args = ap.parse_args()

    imap_bin = "/usr/lib/dovecot/imap"
    if not os.access(imap_bin, os.X_OK):
        sd.skip("Dovecot's imap binary not found (apt-get install dovecot-imapd)")
    if not os.path.isdir(os.path.join(args.corpus, "spam-1")):
        sd.skip("no corpus at %s (scripts/fetch-corpus.sh %s)" % (args.corpus, args.corpus))
    ringmail = os.path.abspath(args.ringmail)
    admin = os.path.abspath(args.admin)

    work = tempfile.mkdtemp(prefix="imap_sort_diff.")
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

        port = sd.free_port()
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
            maps[name] = sd.id_map(c)
            if len(maps[name]) != count:
                raise RuntimeError("%s: %d of %d messages mapped" % (name, len(maps[name]), count))
            order = [maps[name][u] for u in sorted(maps[name])]
            if order != sorted(order):
                raise RuntimeError("%s numbers the messages out of X-Diff-Id order: ties "
                                   "would not compare" % name)

        commands = [("SORT", ["(%s)" % " ".join(s), "UTF-8", "ALL"]) for s in SORTS]
        commands += [("THREAD", [t, "UTF-8", "ALL"]) for t in THREADS]
        commands += [("SORT", ["(SUBJECT)", "UTF-8", "SUBJECT", "re"]),
                     ("THREAD", ["REFERENCES", "UTF-8", "FROM", "spamassassin"])]
        unexplained = explained = 0
        for verb, cargs in commands:
            text = "UID %s %s" % (verb, " ".join(cargs))
            results = {}
            for name, c in servers:
                t0 = time.time()
                out, err = run(c, verb, cargs)
                results[name] = (None if out is None else map_numbers(out, maps[name]), err,
                                 time.time() - t0)
            (a, aerr, at), (b, berr, bt) = results["ringmail"], results["dovecot"]
            if args.dump:
                os.makedirs(args.dump, exist_ok=True)
                for name in results:
                    with open(os.path.join(args.dump, re.sub(r"\W+", "_", text) + "." + name), "w") as f:
                        f.write((results[name][0] or "").replace(")(", ")\n(") + "\n")
            same = a == b
            status = "same" if same else ("known" if text in KNOWN else "DIFFER")
            print("%-52s %-6s ringmail %.2fs  dovecot %.2fs" % (text, status, at, bt))
            if same:
                continue
            if text in KNOWN:
                explained += 1
                print("    explained: " + KNOWN[text])
                continue
            unexplained += 1
            if a is None or b is None:
                print("    ringmail: %r  dovecot: %r" % (aerr, berr))
                continue
            i, ra, db = first_difference(a, b)
            print("    first difference at token %d:\n      ringmail: %s\n      dovecot:  %s" % (i, ra, db))

        # ESORT (RFC 5267): MIN/MAX/COUNT and ALL in sort order, as ESEARCH.
        for ret in ["(MIN MAX COUNT)", "(ALL)"]:
            cargs = ["RETURN", ret, "(DATE)", "UTF-8", "ALL"]
            got = {}
            for name, c in servers:
                r = esearch(c, cargs)
                got[name] = None if r is None else map_numbers(re.sub(r'\(TAG "[^"]*"\) ', "", r).replace(":", " : ").replace(",", " , "), maps[name])
            same = got["ringmail"] == got["dovecot"]
            print("%-52s %-6s" % ("UID SORT " + " ".join(cargs), "same" if same else "DIFFER"))
            if not same:
                unexplained += 1
                print("    ringmail: %.200s\n    dovecot:  %.200s" % (got["ringmail"], got["dovecot"]))
        for _, c in servers:
            try:
                c.logout()
            except (imaplib.IMAP4.abort, OSError):
                pass
        print("imap_sort_diff: %d messages, %d commands, %d explained, %d unexplained differences" % (
            count, len(commands) + 2, explained, unexplained))
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
