#!/usr/bin/env bash
# POP3 differential against Dovecot 2.3 on the same Maildir files (issue 12: "UIDLs
# compared with Dovecot's POP3 on the same Maildir"; a fetcher moved from Dovecot to
# ringmail must not download everything again, nor one moved back).
#   A. Dovecot first: ~200 messages are written into a Maildir's new/ (40 from each set of
#      the SpamAssassin corpus in build/corpus when it is there, else generated; plus edge
#      cases: "." lines, bare LF, CRLF, no final newline, 8-bit, an empty body). Dovecot's
#      POP3 serves them (it assigns the UIDs, writes dovecot-uidlist); the Maildir is copied
#      whole (dovecot-uidlist and Dovecot's index files too) into ringmail's mail root and
#      `ringmail serve` serves it. UIDL, LIST and every RETR's bytes must be identical.
#   B. The other way round: ringmail serves a fresh Maildir first (its UIDs, its
#      dovecot-uidlist), is stopped, and Dovecot serves a copy of ringmail's files.
#   C. In ringmail (on A's files): DELE four messages, QUIT. Dovecot then serves a copy of
#      the result: its UIDL list must be A's minus the four, in order; ringmail's own too.
# Everything runs over implicit TLS from 127.0.0.1 (ringmail refuses login before STLS on
# the plain port). Dovecot refuses mail access as root, so as root everything (Dovecot's
# mail processes, ringmail, ringmail-admin, the copies) runs as `nobody`.
# Usage: pop3_uidl_diff.sh RINGMAIL RINGMAIL_ADMIN [CORPUS_DIR]   (KEEP_WORK=1 keeps files)
# Ends with "pop3_uidl_diff: N passed, N failed"; exits 0 only if nothing failed, 77 if
# Dovecot (dovecot-pop3d) cannot be installed.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=ringmail_server_lib.sh
. "$here/ringmail_server_lib.sh"
# shellcheck source=check_lib.sh
. "$here/check_lib.sh"
usage="usage: pop3_uidl_diff.sh RINGMAIL RINGMAIL_ADMIN [CORPUS_DIR]"
ringmail="$(readlink -f "${1:?$usage}")"
admin="$(readlink -f "${2:?$usage}")"
corpus="${3:-$here/../../build/corpus}"
per_set="${PER_SET:-40}"

check_setup pop3_uidl_diff
check_log_lines=20
check_cleanup_hook() { if declare -F dovecot_stop >/dev/null; then dovecot_stop; fi; }
check_need_binaries

# shellcheck source=imap_dovecot_lib.sh
. "$here/imap_dovecot_lib.sh"
DOVECOT_POP3=1 dovecot_start
ok "Dovecot $(dovecot --version) POP3S on 127.0.0.1:$dovecot_pop3s_port"

"${as_user[@]}" mkdir -p "$data" "$work/out" || fatal "mkdir $data"
out="$work/out"
adm() { "${as_user[@]}" "$admin" --data_dir="$data" "$@"; }  # (check_lib.sh's, as the mail user)
check_add_users example.org john:pw-john jane:pw-john

# fill MAILDIR: the messages into MAILDIR/new (as the mail user). Prints how many.
fill() {
  "${as_user[@]}" python3 - "$1" "$corpus" "$per_set" <<'EOF'
import os, random, sys
maildir, corpus, per_set = sys.argv[1], sys.argv[2], int(sys.argv[3])
for sub in ("new", "cur", "tmp"):
    os.makedirs(os.path.join(maildir, sub), exist_ok=True)
msgs = []
sets = sorted(d for d in (os.listdir(corpus) if os.path.isdir(corpus) else [])
              if os.path.isdir(os.path.join(corpus, d)))
for s in sets:
    names = sorted(os.listdir(os.path.join(corpus, s)))[:per_set]
    for n in names:
        with open(os.path.join(corpus, s, n), "rb") as f:
            data = f.read()
        if data.startswith(b"From "):  # the corpus's mbox separator is not message data
            data = data.split(b"\n", 1)[1] if b"\n" in data else b""
        msgs.append(data)
if not msgs:  # no corpus: 200 generated messages of varied size and shape
    rng = random.Random(12)
    for i in range(200):
        nl = b"\r\n" if i % 3 else b"\n"
        lines = [b"From: sender%d@example.net" % i, b"To: john@example.org",
                 b"Subject: generated %d" % i, b"Message-ID: <gen%d@uidl.test>" % i, b""]
        for j in range(rng.randint(1, 300)):
            lines.append(rng.choice([b".", b"..x", b"plain text line %d" % j, bytes([0xc3, 0xa9]) * 5, b""]))
        msgs.append(nl.join(lines) + nl)
msgs += [  # edge cases, always
    b"Subject: no final newline\r\n\r\nlast line without CRLF",
    b"Subject: bare LF\n\n.dot\n..dots\n.\nend\n",
    b"Subject: only headers\r\n\r\n",
    b"Subject: 8-bit\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + bytes(range(0x80, 0x100)) + b"\r\n",
    b"Subject: mixed\r\n\r\ncrlf\r\nlf\n.lf dot\n\r\n",
]
for i, data in enumerate(msgs):
    name = "%d.M%dP%d.uidl-diff" % (1700000000 + i, i, os.getpid())
    with open(os.path.join(maildir, "tmp", name), "wb") as f:
        f.write(data)
    os.rename(os.path.join(maildir, "tmp", name), os.path.join(maildir, "new", name))
print(len(msgs))
EOF
}

# dump PORT USER NAME: one POP3S session: UIDL, LIST, RETR of every message, QUIT (no
# DELE) -> $out/NAME.index ("n uidl size retr-octets sha256") and $out/NAME.d/n (RETR
# bytes, un-stuffed, as the client gets them). DELE=1,2 deletes those before QUIT.
dump() {
  python3 - "$1" "$2" "$out/$3" "${DELE:-}" <<'EOF'
import hashlib, os, socket, ssl, sys
port, user, dest, dele = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=30), server_hostname="127.0.0.1")
f = sock.makefile("rb")
def line():
    l = f.readline()
    if not l.endswith(b"\r\n"):
        sys.exit(f"{dest}: connection closed or line without CRLF: {l[:100]!r}")
    return l
def cmd(c):
    sock.sendall(c.encode() + b"\r\n")
    r = line()
    if not r.startswith(b"+OK"):
        sys.exit(f"{dest}: {c.split()[0]}: {r!r}")
    return r
def multi(c):
    cmd(c)
    out = []
    while True:
        l = line()
        if l == b".\r\n":
            return out
        out.append(l[1:] if l.startswith(b".") else l)
line()
cmd(f"USER {user}")
cmd("PASS pw-john")
uidl = dict(l.split() for l in multi("UIDL"))
size = dict(l.split() for l in multi("LIST"))
os.makedirs(dest + ".d", exist_ok=True)
with open(dest + ".index", "w") as idx:
    for n in sorted(uidl, key=int):
        data = b"".join(multi(f"RETR {n.decode()}"))
        with open(f"{dest}.d/{n.decode()}", "wb") as m:
            m.write(data)
        idx.write(f"{n.decode()} {uidl[n].decode()} {size[n].decode()} {len(data)} {hashlib.sha256(data).hexdigest()}\n")
for n in filter(None, dele.split(",")):
    cmd(f"DELE {n}")
cmd("QUIT")
EOF
}

# case_only A B: a remark when files A and B differ only in letter case (UIDL hex digits).
case_only() {
  diff -qi "$1" "$2" >/dev/null && echo " (only in the case of the UIDL's hex digits; Dovecot's %08Xu%08Xv is printf %x: lower case)"
}

# compare_dumps STEP A B: the indexes equal; else the differing lines and the first bytes
# that differ in the first differing messages.
compare_dumps() {
  local step="$1" a="$out/$2" b="$out/$3"
  if diff -q "$a.index" "$b.index" >/dev/null; then
    ok "$step: UIDL, LIST sizes and RETR bytes of $(wc -l <"$a.index") messages identical ($2 vs $3)"
    return
  fi
  bad "$step: $2 and $3 differ in $(diff "$a.index" "$b.index" | grep -c '^<') of $(wc -l <"$a.index") messages$(case_only "$a.index" "$b.index")"
  diff -u --label "$2" --label "$3" "$a.index" "$b.index" | head -24 | sed 's/^/    /'
  local n
  for n in $(diff <(cut -d' ' -f1,5 "$a.index") <(cut -d' ' -f1,5 "$b.index") | sed -n 's/^< \([0-9]*\) .*/\1/p' | head -3); do
    echo "    message $n: $(cmp "$a.d/$n" "$b.d/$n" 2>&1 | head -1)"
  done
}

start_ringmail() {
  pop3s_port=$(ringmail_free_ports 1)
  : >"$work/server.log"
  ringmail_runner=("${as_user[@]}")
  ringmail_start "$work/server.log" --data_dir="$data" "${ringmail_test_flags[@]}" --pop3s_port="$pop3s_port" || fatal "ringmail did not log event=ready within 10 s"
}

stop_ringmail() {
  ringmail_stop
  [ $? -ne 124 ] || bad "ringmail still running 15 s after SIGTERM"
}

# copy_maildir FROM TO: the whole Maildir (uidlist, index files, flags in the names).
copy_maildir() {
  "${as_user[@]}" rm -rf "$2"
  "${as_user[@]}" mkdir -p "$(dirname "$2")"
  "${as_user[@]}" cp -a "$1" "$2" || fatal "cp -a $1 $2"
}

# ---------------------------------------------------------------- A: Dovecot first
dove_john="$vmail/example.org/john/Maildir"
ring_john="$data/vmail/example.org/john/Maildir"
count=$(fill "$dove_john") || fatal "fill $dove_john"
[ -d "$corpus" ] && echo "corpus: $corpus, $per_set per set" || echo "no corpus at $corpus: generated messages"
echo "A: $count messages, Dovecot first"
dump "$dovecot_pop3s_port" john@example.org A.dovecot || fatal "Dovecot POP3 session (A)"
[ "$(wc -l <"$out/A.dovecot.index")" -eq "$count" ] && ok "A: Dovecot lists all $count messages" ||
  bad "A: Dovecot lists $(wc -l <"$out/A.dovecot.index") of $count messages"
grep -q . "$dove_john/dovecot-uidlist" 2>/dev/null || bad "A: Dovecot wrote no dovecot-uidlist"
copy_maildir "$dove_john" "$ring_john"
start_ringmail
dump "$pop3s_port" john@example.org A.ringmail || fatal "ringmail POP3 session (A)"
compare_dumps "A (Dovecot's files in ringmail)" A.dovecot A.ringmail

# ---------------------------------------------------------------- C: DELE in ringmail
dele="1,2,$((count / 2)),$count"
DELE="$dele" dump "$pop3s_port" john@example.org C.ringmail.before || fatal "ringmail POP3 session with DELE (C)"
dump "$pop3s_port" john@example.org C.ringmail.after || fatal "ringmail POP3 session after DELE (C)"
stop_ringmail
awk -v d=",$dele," 'index(d, "," $1 ",") == 0 { print $2, $3, $4, $5 }' "$out/A.dovecot.index" >"$out/C.want"
cut -d' ' -f2- "$out/C.ringmail.after.index" >"$out/C.ringmail.got"
if diff -q "$out/C.want" "$out/C.ringmail.got" >/dev/null; then
  ok "C: after DELE $dele + QUIT ringmail lists the other $(wc -l <"$out/C.want") with the same UIDLs"
else
  bad "C: ringmail after DELE $dele + QUIT$(case_only "$out/C.want" "$out/C.ringmail.got")"; diff -u "$out/C.want" "$out/C.ringmail.got" | head -12 | sed 's/^/    /'
fi
left=$(find "$ring_john/new" "$ring_john/cur" -type f | wc -l)
[ "$left" -eq $((count - 4)) ] && ok "C: $left files left in ringmail's Maildir" ||
  bad "C: $left files in ringmail's Maildir after DELE of 4 of $count"
copy_maildir "$ring_john" "$dove_john"
dump "$dovecot_pop3s_port" john@example.org C.dovecot || fatal "Dovecot POP3 session (C)"
cut -d' ' -f2- "$out/C.dovecot.index" >"$out/C.dovecot.got"
if diff -q "$out/C.want" "$out/C.dovecot.got" >/dev/null; then
  ok "C: Dovecot on ringmail's files after the DELE: the same UIDLs, sizes and bytes for the rest"
else
  bad "C: Dovecot on ringmail's files after the DELE$(case_only "$out/C.want" "$out/C.dovecot.got")"; diff -u "$out/C.want" "$out/C.dovecot.got" | head -12 | sed 's/^/    /'
fi

# ---------------------------------------------------------------- B: ringmail first
ring_jane="$data/vmail/example.org/jane/Maildir"
dove_jane="$vmail/example.org/jane/Maildir"
"${as_user[@]}" rm -rf "$ring_jane"
count=$(fill "$ring_jane") || fatal "fill $ring_jane"
echo "B: $count messages, ringmail first"
start_ringmail
dump "$pop3s_port" jane@example.org B.ringmail || fatal "ringmail POP3 session (B)"
stop_ringmail
grep -q . "$ring_jane/dovecot-uidlist" 2>/dev/null || bad "B: ringmail wrote no dovecot-uidlist"
copy_maildir "$ring_jane" "$dove_jane"
dump "$dovecot_pop3s_port" jane@example.org B.dovecot || fatal "Dovecot POP3 session (B)"
compare_dumps "B (ringmail's files in Dovecot)" B.ringmail B.dovecot

if grep -qiE 'panic|fatal|error' "$work/dovecot.log"; then
  bad "Dovecot logged errors"; grep -iE 'panic|fatal|error' "$work/dovecot.log" | head -5 | sed 's/^/    /'
fi
summary
[ "$failed" -eq 0 ]
