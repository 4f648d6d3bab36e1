#!/usr/bin/env python3
"""Times IMAP SEARCH TEXT/BODY on one server (bench/imap/search_text.sh).

  search_text.py --port P --key TEXT --needle WORD [--runs N]
Logs in as john@example.org / pw-john, SELECTs INBOX (not timed), then runs
`UID SEARCH <key> "<needle>"` N times in that session; prints JSON: ms of each run and
the number of hits (which must agree between servers).
"""
import argparse, imaplib, json, time

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--key", default="TEXT")
ap.add_argument("--needle", required=True)
ap.add_argument("--runs", type=int, default=1)
a = ap.parse_args()
c = imaplib.IMAP4("127.0.0.1", a.port)
c.login("john@example.org", "pw-john")
typ, d = c.select("INBOX")
assert typ == "OK", d
ms, hits = [], None
for _ in range(a.runs):
    t = time.perf_counter()
    typ, d = c.uid("SEARCH", a.key, '"%s"' % a.needle)
    ms.append(round((time.perf_counter() - t) * 1000, 1))
    assert typ == "OK", d
    hits = len(d[0].split()) if d and d[0] else 0
c.logout()
print(json.dumps({"ms": ms, "hits": hits}))
