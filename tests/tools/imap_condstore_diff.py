#!/usr/bin/env python3
"""Compares two runs of imap_condstore.py (Dovecot's, then ringmail's): every RESULT line
must agree, except the differences explained below (and in protocols/imap/DIFFERENCES.md,
"CONDSTORE/QRESYNC"). A FAIL line in either run fails too (the script's checks are the
RFC's demands; a Dovecot failure means the script is wrong).
Usage: imap_condstore_diff.py DOVECOT_OUTPUT RINGMAIL_OUTPUT
"""
import sys

# key -> (dovecot, ringmail, why)
EXPLAINED = {
    "modseq_2^63_0": ("OK", "BAD", "SEARCH MODSEQ 2^63: Dovecot reads it leniently; "
                      "mod-sequence-valzer is below 2^63 (RFC 7162 section 7), ringmail says BAD"),
    "modseq_2^63_1": ("OK", "BAD", "SELECT (QRESYNC (v 2^63)): likewise"),
}


def read(path):
    results, fails = {}, []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("RESULT "):
                _, key, value = line.split(" ", 2)
                results[key] = value
            elif line.startswith("FAIL "):
                fails.append(line)
    return results, fails


def main():
    dov, dov_fails = read(sys.argv[1])
    rm, rm_fails = read(sys.argv[2])
    bad = 0
    for f in dov_fails:
        print(f"dovecot run failed a check: {f}")
        bad += 1
    for f in rm_fails:
        print(f"ringmail run failed a check: {f}")
        bad += 1
    if not dov or not rm:
        print("no RESULT lines in one of the runs")
        return 1
    for key in sorted(set(dov) | set(rm)):
        a, b = dov.get(key, "<missing>"), rm.get(key, "<missing>")
        if a == b:
            print(f"same {key} {a}")
            continue
        known = EXPLAINED.get(key)
        if known and known[0] == a and known[1] == b:
            print(f"explained {key}: dovecot {a}, ringmail {b} ({known[2]})")
            continue
        print(f"DIFFERENT {key}: dovecot {a}, ringmail {b}")
        bad += 1
    print(f"imap_condstore_diff: {len(set(dov) | set(rm))} results compared, {bad} unexplained")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
