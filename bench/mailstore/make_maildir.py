#!/usr/bin/env python3
"""Writes a Maildir of N small, realistic messages, named as Dovecot names deliveries.

    make_maildir.py MAILDIR [--messages 100000] [--seed 1]

File names: <secs>.M<usecs>P<pid>Q<n>.bench.example,S=<bytes>,W=<crlf bytes>[:2,<flags>]
(Dovecot's maildir_filename_generate() plus its S=/W= fields, so neither server has to read
a file to learn its sizes). the newest 30% are mostly (95%) in new/, never looked at; the rest are
in cur/ with flags: 90% of those \\Seen, some also \\Answered or \\Flagged, a few \\Deleted.
Mtimes (Maildir INTERNALDATE) are the delivery times in the names: one message every
~30 s going back from now. No dovecot-uidlist: both servers number the files themselves,
as for a Maildir that an MDA filled.

Deterministic for a given seed, so every run measures the same bytes.
"""
import argparse
import os
import random
import time

WORDS = ("the of and to in is that for it as was with be by on not he this are or his "
         "from at which but have an they you were her she there been one all we their "
         "meeting report budget server mail queue release review invoice schedule draft "
         "project customer weekly update agenda notes please thanks regards attached "
         "question minutes deadline monday friday office network storage backup").split()
NAMES = ("alice bob carol dave erin frank grace heidi ivan judy mallory niaj olivia "
         "peggy rupert sybil trent victor walter").split()


def body_lines(rng, n_words):
    line, out = [], []
    for _ in range(n_words):
        line.append(rng.choice(WORDS))
        if len(line) >= rng.randint(8, 14):
            out.append(" ".join(line))
            line = []
            if rng.random() < 0.15:
                out.append("")
    if line:
        out.append(" ".join(line))
    return out


def message(rng, i, when):
    sender = rng.choice(NAMES)
    subject = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 8))).capitalize()
    date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(when))
    head = [
        "Return-Path: <%s@sender.example>" % sender,
        "Delivered-To: u@example.org",
        "Received: from mx%d.sender.example (mx%d.sender.example [192.0.2.%d])" % (i % 7, i % 7, i % 250 + 1),
        "\tby mail.example.org (ringmail) with ESMTPS id %08X" % (i * 2654435761 % 2**32),
        "\tfor <u@example.org>; %s" % date,
        "From: %s <%s@sender.example>" % (sender.capitalize(), sender),
        "To: u@example.org",
        "Subject: %s" % subject,
        "Date: %s" % date,
        "Message-ID: <%d.%d@sender.example>" % (when, i),
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=us-ascii",
    ]
    # Bodies of ~0.3-6 KB, most near 1-2 KB (a long tail like real mail).
    n_words = int(min(1000, 40 + rng.expovariate(1 / 220.0)))
    text = "\n".join(head) + "\n\n" + "\n".join(body_lines(rng, n_words)) + "\n"
    return text.encode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("maildir")
    ap.add_argument("--messages", type=int, default=100000)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(a.maildir, sub), mode=0o700, exist_ok=True)
    now = int(time.time())
    start = now - 30 * a.messages
    pid = 4242
    for i in range(a.messages):
        when = start + 30 * i + rng.randint(0, 29)
        data = message(rng, i, when)
        base = "%d.M%dP%dQ%d.bench.example,S=%d,W=%d" % (
            when, rng.randint(0, 999999), pid, i + 1, len(data), len(data) + data.count(b"\n"))
        if i >= a.messages * 0.7 and rng.random() < 0.95:
            path = os.path.join(a.maildir, "new", base)  # the newest 30%: mostly unread
        else:
            flags = ""
            r = rng.random()
            if r < 0.9:
                flags += "S"
            if rng.random() < 0.10:
                flags += "R"
            if rng.random() < 0.05:
                flags += "F"
            if rng.random() < 0.01:
                flags += "T"
            flags = "".join(sorted(flags))
            path = os.path.join(a.maildir, "cur", base + ":2," + flags)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, data)
        os.close(fd)
        os.utime(path, (when, when))


if __name__ == "__main__":
    main()
