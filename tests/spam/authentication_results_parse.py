#!/usr/bin/python3
# Parses one Authentication-Results header field (stdin) with python3-authres, an
# independent RFC 8601 parser, and prints what it read as JSON, for
# authentication_results_test's round trip. Exit 77 when the module is missing.
import json
import sys

try:
    import authres
except ImportError:
    sys.exit(77)

text = sys.stdin.buffer.read().decode("utf-8")
header = authres.AuthenticationResultsHeader.parse(text)
out = {
    "authserv_id": header.authserv_id,
    "results": [
        {
            "method": r.method,
            "result": r.result,
            "reason": r.reason,
            "properties": [[p.type, p.name, p.value] for p in r.properties],
        }
        for r in header.results
    ],
}
print(json.dumps(out, sort_keys=True))
