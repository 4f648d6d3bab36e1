#!/usr/bin/python3
# The SPF differential's reference side: a table of zones and cases evaluated by pyspf
# (python3-spf) with its DNS replaced by the same in-memory zone; writes spf_zone_check's
# case file (see spf_zone_check.cc) with pyspf's results as the expected ones.
#   spf_pyspf_diff.py OUT
import sys

import spf

# One zone for all rows: name -> list of (type, value).
ZONE = {
    "pass.example": [("TXT", "v=spf1 ip4:192.0.2.0/24 -all")],
    "cidr.example": [("TXT", "v=spf1 ip4:192.0.2.128/25 ip6:2001:db8:1::/48 ~all")],
    "a.example": [("TXT", "v=spf1 a a:other.a.example/28 -all"), ("A", "198.51.100.10")],
    "other.a.example": [("A", "203.0.113.16")],
    "a6.example": [("TXT", "v=spf1 a//64 -all"), ("AAAA", "2001:db8:2::1")],
    "mx.example": [("TXT", "v=spf1 mx/30 -all"), ("MX", (10, "mx1.mx.example")), ("MX", (20, "mx2.mx.example"))],
    "mx1.mx.example": [("A", "198.51.100.20")],
    "mx2.mx.example": [("A", "198.51.100.40")],
    "inc.example": [("TXT", "v=spf1 include:pass.example ?all")],
    "incnone.example": [("TXT", "v=spf1 include:nothing.example -all")],
    "red.example": [("TXT", "v=spf1 redirect=pass.example")],
    "rednone.example": [("TXT", "v=spf1 redirect=nothing.example")],
    "exists.example": [("TXT", "v=spf1 exists:%{i}.allow.exists.example -all")],
    "192.0.2.7.allow.exists.example": [("A", "127.0.0.2")],
    "macro.example": [("TXT", "v=spf1 exists:%{l1r-}.%{d2}.m.example -all")],
    "joe.macro.example.m.example": [("A", "127.0.0.2")],
    "two.example": [("TXT", "v=spf1 -all"), ("TXT", "v=spf1 +all")],
    "syntax.example": [("TXT", "v=spf1 ip4:192.0.2.300 -all")],
    "unknownmod.example": [("TXT", "v=spf1 foo=bar ip4:192.0.2.1 -all")],
    "badmech.example": [("TXT", "v=spf1 frob -all")],
    "case.example": [("TXT", "V=SPF1 IP4:192.0.2.1 -ALL")],
    "neutral.example": [("TXT", "v=spf1 ip4:203.0.113.1")],
    "soft.example": [("TXT", "v=spf1 ~all")],
    "void.example": [("TXT", "v=spf1 a:n1.void.example a:n2.void.example a:n3.void.example +all")],
    "void2.example": [("TXT", "v=spf1 a:n1.void.example a:n2.void.example +all")],
    "many.example": [("TXT", "v=spf1 " + " ".join("a:h%d.many.example" % i for i in range(11)) + " -all")]
                    + [],
    "loop.example": [("TXT", "v=spf1 include:loop2.example -all")],
    "loop2.example": [("TXT", "v=spf1 include:loop.example -all")],
    "timeout.example": [("TXT", "TIMEOUT")],
    "inctimeout.example": [("TXT", "v=spf1 include:timeout.example -all")],
    "atimeout.example": [("TXT", "v=spf1 a:slow.atimeout.example -all")],
    "slow.atimeout.example": [("A", "TIMEOUT")],
    "ptr.example": [("TXT", "v=spf1 ptr -all")],
    "mail.ptr.example": [("A", "192.0.2.50")],
    "50.2.0.192.in-addr.arpa": [("PTR", "mail.ptr.example")],
    "exp.example": [("TXT", "v=spf1 -all exp=msg.exp.example")],
    "msg.exp.example": [("TXT", "%{l} at %{i} is not allowed for %{d}")],
    "ip6.example": [("TXT", "v=spf1 ip6:2001:db8::/32 -all")],
    "mxbig.example": [("TXT", "v=spf1 mx -all")] + [("MX", (i, "m%d.mxbig.example" % i)) for i in range(11)],
    "empty.example": [("TXT", "v=spf1")],
    "dup.example": [("TXT", "v=spf1 redirect=pass.example redirect=pass.example")],
    "cidr0.example": [("TXT", "v=spf1 ip4:0.0.0.0/0 -all")],
    "spaces.example": [("TXT", "v=spf1   ip4:192.0.2.1   -all  ")],
}
for i in range(11):
    ZONE["h%d.many.example" % i] = [("A", "203.0.113.%d" % (i + 1))]
    ZONE["m%d.mxbig.example" % i] = [("A", "203.0.113.%d" % (i + 100))]

# (id, client ip, mail from, helo)
CASES = [
    ("pass-in", "192.0.2.5", "a@pass.example"), ("pass-out", "198.51.100.1", "a@pass.example"),
    ("cidr-v4-in", "192.0.2.200", "a@cidr.example"), ("cidr-v4-out", "192.0.2.100", "a@cidr.example"),
    ("cidr-v6-in", "2001:db8:1:5::1", "a@cidr.example"), ("cidr-v6-out", "2001:db8:2::1", "a@cidr.example"),
    ("a-self", "198.51.100.10", "a@a.example"), ("a-other-cidr", "203.0.113.20", "a@a.example"),
    ("a-miss", "203.0.113.40", "a@a.example"), ("a6-cidr", "2001:db8:2::ffff", "a@a6.example"),
    ("mx-cidr", "198.51.100.22", "a@mx.example"), ("mx-miss", "198.51.100.30", "a@mx.example"),
    ("include-pass", "192.0.2.5", "a@inc.example"), ("include-nomatch", "203.0.113.1", "a@inc.example"),
    ("include-none", "192.0.2.5", "a@incnone.example"), ("redirect-pass", "192.0.2.5", "a@red.example"),
    ("redirect-fail", "203.0.113.5", "a@red.example"), ("redirect-none", "192.0.2.5", "a@rednone.example"),
    ("exists-hit", "192.0.2.7", "a@exists.example"), ("exists-miss", "192.0.2.8", "a@exists.example"),
    ("macro-l1r", "192.0.2.8", "joe-x@macro.example"), ("two-records", "192.0.2.8", "a@two.example"),
    ("syntax-error", "192.0.2.8", "a@syntax.example"), ("unknown-modifier", "192.0.2.1", "a@unknownmod.example"),
    ("bad-mechanism", "192.0.2.1", "a@badmech.example"), ("upper-case", "192.0.2.1", "a@case.example"),
    ("neutral", "192.0.2.1", "a@neutral.example"), ("softfail", "192.0.2.1", "a@soft.example"),
    ("void-3", "192.0.2.1", "a@void.example"), ("void-2", "192.0.2.1", "a@void2.example"),
    ("eleven-terms", "192.0.2.1", "a@many.example"), ("eleven-terms-early", "203.0.113.1", "a@many.example"),
    ("include-loop", "192.0.2.1", "a@loop.example"), ("txt-timeout", "192.0.2.1", "a@timeout.example"),
    ("include-timeout", "192.0.2.1", "a@inctimeout.example"), ("a-timeout", "192.0.2.1", "a@atimeout.example"),
    ("ptr-pass", "192.0.2.50", "a@ptr.example"), ("ptr-fail", "192.0.2.51", "a@ptr.example"),
    ("exp-text", "192.0.2.9", "bob@exp.example"), ("ip6-in", "2001:db8:ffff::1", "a@ip6.example"),
    ("ip6-v4client", "192.0.2.1", "a@ip6.example"), ("mx-eleven", "203.0.113.100", "a@mxbig.example"),
    ("empty-record", "192.0.2.1", "a@empty.example"), ("duplicate-redirect", "192.0.2.1", "a@dup.example"),
    ("cidr-zero", "203.0.113.9", "a@cidr0.example"), ("extra-spaces", "192.0.2.1", "a@spaces.example"),
    ("no-record", "192.0.2.1", "a@nothing.example"), ("null-sender", "192.0.2.5", ""),
    ("no-localpart", "192.0.2.9", "@exp.example"),
]


def lookup(name, qtype, strict=True, timeout=None, level=0):
    name = name.rstrip(".").lower()
    for t, v in ZONE.get(name, []):
        if t != qtype:
            continue
        if v == "TIMEOUT":
            raise spf.TempError("DNS timeout")
        if t == "TXT":
            v = (v.encode(),)
        elif t == "AAAA":
            import socket
            v = socket.inet_pton(socket.AF_INET6, v)
        yield ((name, t), v)


spf.DNSLookup = lookup


def h(s):
    return s.encode().hex()


def main():
    out = [["zone"]]
    for name, recs in ZONE.items():
        for t, v in recs:
            if v == "TIMEOUT":
                out.append(["STATUS", h(name), t.lower(), "timeout"])
            elif t == "MX":
                out.append(["MX", h(name), str(v[0]), h(v[1])])
            elif t in ("A", "AAAA"):
                out.append([t, h(name), v])
            else:
                out.append([t, h(name), h(v)])
    for cid, ip, sender in CASES:
        helo = "pass.example"
        q = spf.query(ip, sender or "postmaster@" + helo, helo, receiver="receiver.example")
        result, _code, text = q.check()
        exp = text if result == "fail" and "exp=" in (ZONE.get(sender.split("@")[-1], [("", "")])[0][1]) else None
        out.append(["CASE", h(cid), ip, h(sender), h(helo), result, "-" if exp is None else h(exp)])
    with open(sys.argv[1], "w") as f:
        for l in out:
            f.write("\t".join(l) + "\n")


main()
