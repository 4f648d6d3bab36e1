#!/usr/bin/python3
# Converts the RFC 7208 test suite (openspf.org, shipped by python3-spf as
# rfc7208-tests.yml.gz) into spf_zone_check's case file (see spf_zone_check.cc).
#
# The suite's zone conventions, as its own driver (python3-spf's testspf.py) reads them:
# SPF-type records stand in for TXT when a name has no TXT record (RFC 7208 dropped the
# SPF type; those tests check TXT-only behaviour); "TXT: NONE" means no record; a bare
# "TIMEOUT" entry makes every query for the name time out, "TYPE: TIMEOUT" that type
# only; TXT values that are lists are one record of several strings (joined); CNAMEs are
# followed by copying the target's records (static_dns_client has no CNAME). A bare
# TIMEOUT spares the types listed before it (testspf.py answers those first).
# "explanation: DEFAULT" (the implementation's default text) expects an empty
# explanation: ours leaves the wording of a fail without exp= to the caller.
import gzip
import sys

import yaml


def h(s):
    return str(s).encode("utf-8").hex()


def zone_lines(zonedata):
    records = {}
    out = []
    for name, entries in zonedata.items():
        recs = []
        has_txt = any(isinstance(e, dict) and "TXT" in e for e in entries)
        answered = set()  # types with a record before a bare TIMEOUT (those still answer)
        for e in entries:
            if e == "TIMEOUT":
                for t in ("a", "aaaa", "mx", "txt", "ptr"):
                    if t not in answered:
                        out.append(["STATUS", h(name), t, "timeout"])
                continue
            for t, v in e.items():
                if v != "NONE" and v != ["NONE"]:
                    answered.add(t.lower())
                if v == "TIMEOUT":
                    out.append(["STATUS", h(name), t.lower(), "timeout"])
                    continue
                if t == "SPF":
                    if has_txt:
                        continue
                    t = "TXT"
                if t == "TXT":
                    if v == "NONE" or v == ["NONE"]:
                        continue
                    v = "".join(v) if isinstance(v, list) else v
                recs.append((t, v))
        records[name.lower()] = recs
    for name, recs in list(records.items()):
        for t, v in recs:
            if t == "CNAME":
                seen = set()
                target = str(v).lower().rstrip(".")
                while target in records and target not in seen:
                    seen.add(target)
                    nxt = None
                    for t2, v2 in records[target]:
                        if t2 == "CNAME":
                            nxt = str(v2).lower().rstrip(".")
                        else:
                            out.append(record_line(name, t2, v2))
                    if nxt is None:
                        break
                    target = nxt
            else:
                out.append(record_line(name, t, v))
    return out


def record_line(name, t, v):
    if t == "MX":
        return ["MX", h(name), str(v[0]), h(v[1])]
    if t in ("A", "AAAA"):
        return [t, h(name), str(v)]
    return [t, h(name), h(v)]


def main():
    src, dst = sys.argv[1], sys.argv[2]
    with gzip.open(src, "rb") as f:
        docs = list(yaml.safe_load_all(f))
    lines = []
    for doc in docs:
        lines.append(["zone"])
        lines.extend(zone_lines(doc.get("zonedata") or {}))
        for tid, t in doc["tests"].items():
            result = t["result"]
            results = result if isinstance(result, list) else [result]
            exp = t.get("explanation")
            if exp == "DEFAULT":
                exp = ""  # the implementation's own text: ours is none (the caller words it)
            lines.append(["CASE", h(tid), str(t["host"]), h(t.get("mailfrom", "")), h(t.get("helo", "")),
                          ",".join(results), "-" if exp is None else h(exp)])
    with open(dst, "w") as f:
        for l in lines:
            f.write("\t".join(l) + "\n")


main()
