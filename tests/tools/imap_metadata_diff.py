#!/usr/bin/env python3
"""METADATA (RFC 5464) differential: the same command script against ringmail and Dovecot
2.3 (mail_attribute_dict + imap_metadata = yes), comparing the untagged METADATA
responses and each tagged status with its response code. Differences that are explained
in protocols/imap/DIFFERENCES.md ("METADATA") are listed in EXPLAINED and reported but
not failures.

Usage: imap_metadata_diff.py RINGMAIL_PORT RINGMAIL_USER RINGMAIL_PW DOVECOT_PORT DOVECOT_USER DOVECOT_PW
"""
import re
import socket
import sys

SCRIPT = [
    "CREATE Work",
    "CREATE Tree",
    "CREATE Tree/Leaf",
    'SETMETADATA Work (/private/comment "My new comment")',
    'SETMETADATA Work (/shared/comment "Shared comment")',
    'GETMETADATA "Work" /private/comment',
    "GETMETADATA Work (/shared/comment /private/comment /private/nothing)",
    "GETMETADATA Work /PRIVATE/Comment",
    "SETMETADATA Work (/shared/comment NIL)",
    "GETMETADATA Work /shared/comment",
    'SETMETADATA "" (/shared/comment "Shared server comment")',
    'GETMETADATA "" /shared/comment',
    'SETMETADATA "" (/private/vendor/x "mid" /private/vendor/z "other" /private/vendor/x/y "deep")',
    'GETMETADATA (DEPTH 1) "" /private/vendor',
    'GETMETADATA (DEPTH infinity) "" /private/vendor',
    'GETMETADATA (DEPTH 0) "" /private/vendor/x',
    'SETMETADATA Work (/private/long "0123456789012345678901234567890123456789" /private/short "ab")',
    "GETMETADATA (MAXSIZE 10) Work (/private/long /private/short)",
    'GETMETADATA Work "/comment"',
    'GETMETADATA Work "/private/a//b"',
    'GETMETADATA Work "/private/"',
    'SETMETADATA Nope (/private/comment "x")',
    "GETMETADATA Nope /private/comment",
    'SETMETADATA Tree/Leaf (/private/comment "leaf")',
    "RENAME Tree Moved",
    "GETMETADATA Moved/Leaf /private/comment",
    "DELETE Moved/Leaf",
    "CREATE Moved/Leaf",
    "GETMETADATA Moved/Leaf /private/comment",
    "GETMETADATA INBOX (/private/comment /shared/comment)",
    "NOTIFY SET (personal (MessageNew MessageExpunge))",
    "NOTIFY NONE",
]

# command -> why the answers may differ (protocols/imap/DIFFERENCES.md, "METADATA")
EXPLAINED = {
    'SETMETADATA "" (/shared/comment "Shared server comment")':
        "server /shared entries: Dovecot refuses them ([CANNOT]); ringmail keeps them per user",
    'GETMETADATA "" /shared/comment': "follows from the SETMETADATA above",
    'SETMETADATA Nope (/private/comment "x")': "ringmail adds RFC 5530 [NONEXISTENT] to the NO",
    "GETMETADATA Nope /private/comment": "ringmail adds RFC 5530 [NONEXISTENT] to the NO",
}


class Client:
    def __init__(self, port, user, pw):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.f = self.s.makefile("rb")
        self.f.readline()
        self.n = 0
        self.cmd(f"LOGIN {user} {pw}")

    def line(self):
        """One response line; each literal becomes a quoted string of its bytes (Dovecot
        sends METADATA values as literals, ringmail quotes what it can: same value)."""
        out = ""
        while True:
            raw = self.f.readline().decode(errors="replace").rstrip("\r\n")
            m = re.search(r"~?\{(\d+)\}$", raw)
            if not m:
                return out + raw
            data = self.f.read(int(m.group(1))).decode(errors="replace")
            out += raw[: m.start()] + '"' + data.replace("\\", "\\\\").replace('"', '\\"') + '"'

    def cmd(self, text):
        self.n += 1
        tag = f"d{self.n}"
        self.s.sendall(f"{tag} {text}\r\n".encode())
        untagged = []
        while True:
            line = self.line()
            if line.startswith(tag + " "):
                return untagged, line[len(tag) + 1:]
            untagged.append(line)


def tokens(s):
    """IMAP atoms, quoted strings (unescaped) and parentheses of a response line."""
    out, i = [], 0
    while i < len(s):
        ch = s[i]
        if ch == " ":
            i += 1
        elif ch in "()":
            out.append(ch)
            i += 1
        elif ch == '"':
            j, val = i + 1, ""
            while s[j] != '"':
                if s[j] == "\\":
                    j += 1
                val += s[j]
                j += 1
            out.append(("str", val))
            i = j + 1
        else:
            j = i
            while j < len(s) and s[j] not in ' ()':
                j += 1
            out.append(s[i:j])
            i = j
    return out


def metadata_response(line):
    """'* METADATA mbox (e v e v)' -> (mbox, sorted (entry, value) pairs): the order of
    entries is not specified (Dovecot's follows its dict), nor quoting vs literal."""
    t = tokens(line)[2:]
    mbox = t[0][1] if isinstance(t[0], tuple) else t[0]
    items = [x[1] if isinstance(x, tuple) else x for x in t[2:-1]]
    return (mbox, tuple(sorted(zip(items[0::2], items[1::2]))))


def summary(untagged, tagged):
    status = tagged.split(" ", 1)[0]
    m = re.match(r"\w+ (\[[^\]]*\])", tagged)
    code = m.group(1) if m else ""
    # Response codes are compared by name only, except METADATA's (their numbers matter).
    if code and not code.startswith("[METADATA"):
        code = code.split(" ")[0].rstrip("]") + "]"
    meta = [metadata_response(u) for u in untagged if u.startswith("* METADATA")]
    return (status, code, tuple(meta))


def main():
    rp, ru, rpw, dp, du, dpw = sys.argv[1:7]
    r = Client(int(rp), ru, rpw)
    d = Client(int(dp), du, dpw)
    unexplained = 0
    for i, text in enumerate(SCRIPT):
        a = summary(*r.cmd(text))
        b = summary(*d.cmd(text))
        if not text.startswith(("GETMETADATA", "SETMETADATA")):
            print(f"setup {text}")
            continue
        if a == b:
            print(f"same  {text}")
            continue
        why = EXPLAINED.get(text)
        tag = "EXPL " if why else "DIFF "
        if not why:
            unexplained += 1
        print(f"{tag} {text}\n      ringmail: {a}\n      dovecot:  {b}" + (f"\n      ({why})" if why else ""))
    print("UNEXPLAINED:", unexplained)
    return 1 if unexplained else 0


sys.exit(main())
