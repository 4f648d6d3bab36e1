#!/usr/bin/env python3
"""Flag changes per second through a PREAUTH IMAP session on stdin/stdout.

    imap_flags.py [--changes 2000] [--concurrency 16] [--range-size 10000] -- CMD...

CMD is a program that speaks IMAP on its stdio after a PREAUTH greeting; run.sh passes
`doveadm -c CONF exec imap -u USER` (Dovecot's imap process itself: no login process, no
TCP, no TLS, so what is timed is Dovecot's STORE path plus one pipe round trip). The same
three shapes as mailstore_bench:
  single  UID STORE <uid> +FLAGS.SILENT (\\Flagged), waiting for each tagged OK
  conc    the same, with --concurrency commands in flight (IMAP pipelining)
  range   one UID STORE <uidnext - range-size>:* +FLAGS.SILENT (\\Flagged)
UIDs for single/conc are the lowest ones UID SEARCH UNFLAGGED returns. Prints key=value.
"""
import argparse
import subprocess
import sys
import time


class Session:
    def __init__(self, argv):
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
        self.n = 0
        greeting = self.p.stdout.readline()
        if b"PREAUTH" not in greeting:
            sys.exit("no PREAUTH greeting: %r" % greeting)

    def send(self, command):
        self.n += 1
        tag = b"t%d" % self.n
        self.p.stdin.write(tag + b" " + command + b"\r\n")
        return tag

    def wait(self, tag):
        untagged = []
        while True:
            line = self.p.stdout.readline()
            if not line:
                sys.exit("imap closed the session")
            if line.startswith(tag + b" "):
                if not line.startswith(tag + b" OK"):
                    sys.exit("imap: %r" % line)
                return untagged
            untagged.append(line)

    def run(self, command):
        return self.wait(self.send(command))

    def close(self):
        self.run(b"LOGOUT")
        self.p.stdin.close()
        self.p.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--changes", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--range-size", type=int, default=10000)
    ap.add_argument("argv", nargs="+")
    a = ap.parse_args()
    s = Session(a.argv)
    uidnext = 0
    for line in s.run(b"SELECT INBOX"):
        if b"[UIDNEXT " in line:
            uidnext = int(line.split(b"[UIDNEXT ")[1].split(b"]")[0])
    uids = []
    for line in s.run(b"UID SEARCH UNFLAGGED"):
        if line.startswith(b"* SEARCH"):
            uids = [int(x) for x in line.split()[2:]]
    uids.sort()
    if len(uids) < 2 * a.changes:
        sys.exit("only %d unflagged messages" % len(uids))
    store = b"UID STORE %d +FLAGS.SILENT (\\Flagged)"

    t = time.perf_counter()
    for uid in uids[:a.changes]:
        s.run(store % uid)
    d = time.perf_counter() - t
    print("dovecot_flags_single_per_second=%.0f changes=%d seconds=%.3f" % (a.changes / d, a.changes, d))

    conc_uids = uids[a.changes:2 * a.changes]
    inflight = []
    t = time.perf_counter()
    for uid in conc_uids:
        inflight.append(s.send(store % uid))
        if len(inflight) >= a.concurrency:
            s.wait(inflight.pop(0))
    for tag in inflight:
        s.wait(tag)
    d = time.perf_counter() - t
    print("dovecot_flags_conc_per_second=%.0f changes=%d concurrency=%d seconds=%.3f" %
          (a.changes / d, a.changes, a.concurrency, d))

    low = uidnext - a.range_size
    changes = sum(1 for u in uids if u >= low)
    t = time.perf_counter()
    s.run(b"UID STORE %d:* +FLAGS.SILENT (\\Flagged)" % low)
    d = time.perf_counter() - t
    print("dovecot_flags_range_per_second=%.0f changes=%d seconds=%.3f" % (changes / d, changes, d))
    s.close()


if __name__ == "__main__":
    main()
