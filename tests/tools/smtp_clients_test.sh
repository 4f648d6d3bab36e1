#!/usr/bin/env bash
# `ringmail serve` against real SMTP/LMTP clients, end to end on 127.0.0.1:
#   1. Python smtplib: EHLO, STARTTLS, EHLO again (extensions), a UTF-8 message with
#      leading-dot lines stored byte for byte; unknown user 550, relay 554, %-hack 554.
#   2. swaks: STARTTLS to an alias, and with --pipeline.
#   3. Postfix's smtp-source: 1,000 messages of 5 KiB to 50 users (20 each), in parallel.
#   4. LMTP with smtplib.LMTP: per-recipient replies after DATA, 550 for an unknown user.
#   5. SIGTERM: the server exits 0 within 15 s.
# Usage: smtp_clients_test.sh RINGMAIL RINGMAIL_ADMIN (KEEP_WORK=1 keeps the files)
# Needs swaks (with Net::SSLeay for --tls), postfix (smtp-source) and python3; installs
# nothing. Ends with "smtp_clients: N passed, N failed"; exits 0 only if nothing failed.
set -uo pipefail
# The stock SpamAssassin rules take seconds to compile; ringmail's own rule files keep
# the scanner on at a fraction of the start-up time (tests/tools/spam_clients_test.sh
# runs the stock rules).
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=ringmail_server_lib.sh
. "$here/ringmail_server_lib.sh"
# shellcheck source=check_lib.sh
. "$here/check_lib.sh"
own_rules="$(cd "$here/../.." && pwd)/spam/rules"

ringmail="${1:?usage: smtp_clients_test.sh RINGMAIL RINGMAIL_ADMIN}"
admin="${2:?usage: smtp_clients_test.sh RINGMAIL RINGMAIL_ADMIN}"

check_setup smtp_clients
timings=()
t_start=$(date +%s%N)

check() {  # check NAME COMMAND... (check_lib.sh's, but returning the verdict)
  local name="$1"; shift
  if "$@"; then ok "$name"; return 0; fi
  bad "$name"
  return 1
}
now() { date +%s%N; }
elapsed() {  # seconds since a now() stamp
  local ms=$(( ($(date +%s%N) - $1) / 1000000 ))
  printf '%d.%02ds\n' $((ms / 1000)) $((ms % 1000 / 10))
}
log_tail() {
  [ -s "$log" ] || { echo "--- (no server log)"; return; }
  echo "--- server log (last 60 lines of $(wc -l < "$log" 2>/dev/null || echo 0)):"
  tail -n 60 "$log" 2>/dev/null
  echo "---"
}
summary() {
  echo
  echo "=== smtp clients test summary ==="
  local t
  for t in "${timings[@]}"; do echo "time: $t"; done
  echo "time: total $(elapsed "$t_start")"
  if [ "$failed" -gt 0 ]; then
    local f
    for f in "${failures[@]}"; do echo "failed: $f"; done
    log_tail
  fi
  echo "smtp_clients: $passed passed, $failed failed"
}

# Reads "ok: …" / "FAIL: …" lines from a checker (python) on stdin and counts them.
count_results() {
  local line
  while IFS= read -r line; do
    case "$line" in
      "ok: "*) passed=$((passed + 1)); echo "$line" ;;
      "FAIL: "*) failed=$((failed + 1)); failures+=("${line#FAIL: }"); echo "$line" ;;
      *) echo "  $line" ;;
    esac
  done
}
# run_py NAME SCRIPT_FILE: runs a python checker, counting its results; a crash fails NAME.
run_py() {
  local name="$1" script="$2" out="$work/py.$RANDOM.out" rc
  timeout 300 python3 "$script" >"$out" 2>&1
  rc=$?
  count_results <"$out"
  if [ "$rc" -ne 0 ] && ! grep -q '^FAIL: ' "$out"; then
    bad "$name: checker exited $rc without a verdict (see output above)"
  fi
}

# ---------------------------------------------------------------- prerequisites
smtp_source="$(command -v smtp-source || true)"
[ -z "$smtp_source" ] && [ -x /usr/sbin/smtp-source ] && smtp_source=/usr/sbin/smtp-source
command -v python3 >/dev/null || fatal "python3 not found (Debian package: python3)"
command -v swaks >/dev/null || fatal "swaks not found (Debian package: swaks)"
[ -n "$smtp_source" ] || fatal "smtp-source not found (Debian package: postfix)"
perl -MNet::SSLeay -e 1 2>/dev/null ||
  fatal "swaks cannot do --tls: Perl module Net::SSLeay missing (Debian package: libnet-ssleay-perl, a Recommends of swaks that --no-install-recommends skips)"
check_need_binaries

# ---------------------------------------------------------------- directory
t0=$(now)
adm domain add example.org >/dev/null || fatal "domain add example.org"
for i in $(seq 1 50); do
  echo "pw-user$i" | adm user add "user$i@example.org" --scheme=SHA512-CRYPT >/dev/null ||
    fatal "user add user$i@example.org"
done
echo "pw-john" | adm user add john@example.org >/dev/null || fatal "user add john@example.org"
adm alias add info@example.org john@example.org >/dev/null || fatal "alias add info@example.org"
timings+=("directory setup (52 users) $(elapsed "$t0")")

# ---------------------------------------------------------------- start the server
read -r smtp_port lmtp_port < <(ringmail_free_ports 2)
[ -n "${smtp_port:-}" ] && [ -n "${lmtp_port:-}" ] || fatal "could not pick free ports"

t0=$(now)
ringmail_start "$log" --spam_rules="$own_rules" --data_dir="$data" --shards=2 --smtp_port="$smtp_port" \
  --lmtp_port="$lmtp_port" --hostname=mx.test --log_level=info ||
  fatal "server did not log event=ready within $ringmail_ready_seconds s"
ok "server ready (smtp=$smtp_port lmtp=$lmtp_port)"
timings+=("server start to ready $(elapsed "$t0")")

vmail="$data/vmail/example.org"
export SMTP_PORT="$smtp_port" LMTP_PORT="$lmtp_port" VMAIL="$vmail" DATA_DIR="$data"

# Files in a user's Maildir/new that contain a string.
files_with() {  # files_with USER STRING
  grep -l -F -- "$2" "$vmail/$1/Maildir/new/"* 2>/dev/null
}
count_in_new() { find "$vmail/$1/Maildir/new" -type f 2>/dev/null | wc -l; }

# ---------------------------------------------------------------- 1. python smtplib
t0=$(now)
cat >"$work/smtplib_check.py" <<'EOF'
import os, smtplib, ssl, glob, re, time

HOST, PORT = "127.0.0.1", int(os.environ["SMTP_PORT"])
VMAIL = os.environ["VMAIL"]

def check(name, cond, detail=""):
    print(("ok: " if cond else "FAIL: ") + name + ("" if cond or not detail else " -- " + detail))
    return cond

def crlf(b):
    return re.sub(rb"\r?\n", b"\r\n", b)

def all_mail_files():
    return {p for p in glob.glob(os.path.join(os.environ["DATA_DIR"], "vmail", "**", "*"), recursive=True)
            if os.path.isfile(p)}

def files_containing(user, needle):
    return [p for p in glob.glob(os.path.join(VMAIL, user, "Maildir", "new", "*"))
            if needle in open(p, "rb").read()]

s = smtplib.SMTP(HOST, PORT, timeout=30)
code, banner = s.ehlo("client.test")
check("smtplib: EHLO 250", code == 250, f"{code} {banner!r}")
check("smtplib: STARTTLS offered before TLS", s.has_extn("starttls"), repr(s.esmtp_features))
code, resp = s.starttls(context=ssl._create_unverified_context())
check("smtplib: STARTTLS 220", code == 220, f"{code} {resp!r}")
print(f"TLS: {s.sock.version()} {s.sock.cipher()[0]}")
check("smtplib: TLS 1.2 or newer", s.sock.version() in ("TLSv1.2", "TLSv1.3"), s.sock.version())
code, banner = s.ehlo("client.test")
check("smtplib: EHLO after STARTTLS 250", code == 250, f"{code} {banner!r}")
print("EHLO after TLS: " + banner.decode(errors="replace").replace("\n", " | "))
check("smtplib: STARTTLS no longer offered after TLS", not s.has_extn("starttls"))
for ext in ("PIPELINING", "SIZE", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES", "CHUNKING"):
    check(f"smtplib: {ext} offered after TLS", s.has_extn(ext.lower()), repr(s.esmtp_features))
size = s.esmtp_features.get("size", "")
check("smtplib: SIZE carries a limit", size.isdigit() and int(size) > 0, repr(size))

marker = "smtplib-" + os.urandom(6).hex()
first_header = "From: Alice <a@remote.test>\r\n"
msg = (first_header +
       "To: John <john@example.org>\r\n"
       f"Subject: Grüße {marker}\r\n"
       f"Message-ID: <{marker}@remote.test>\r\n"
       "MIME-Version: 1.0\r\n"
       "Content-Type: text/plain; charset=utf-8\r\n"
       "Content-Transfer-Encoding: 8bit\r\n"
       "\r\n"
       "Grüße aus Köln — ünïcödé ✓ 日本語 🙂\r\n"
       ".leading dot line\r\n"
       "..two leading dots\r\n"
       ".\r\n"
       "line after a lone dot\r\n"
       " . space then dot\r\n"
       "trailing spaces   \r\n"
       "\r\n"
       "last line ✓\r\n").encode("utf-8")
refused = s.sendmail("a@remote.test", ["john@example.org"], msg,
                     mail_options=["SMTPUTF8", "BODY=8BITMIME"])
check("smtplib: message to john accepted", refused == {}, repr(refused))
s.quit()

found = files_containing("john", marker.encode())
check("smtplib: message in john's Maildir/new right after the 250, exactly once",
      len(found) == 1, f"{len(found)} files")
if not found:  # give a slow writer a moment, to tell "late" from "lost"
    for _ in range(50):
        time.sleep(0.1)
        found = files_containing("john", marker.encode())
        if found:
            print(f"note: the message appeared only after the 250 reply: {found}")
            break
if found:
    raw = open(found[0], "rb").read()
    print("stored line endings: " + ("CRLF" if b"\n" not in raw.replace(b"\r\n", b"") else "LF or mixed"))
    stored = crlf(raw)
    expected = crlf(msg)
    idx = stored.find(b"\r\n" + first_header.encode()) + 2
    check("smtplib: original first header found in the stored message", idx >= 2)
    prefix = stored[:idx].decode("utf-8", errors="replace")
    print("prepended headers:\n    " + prefix.rstrip("\r\n").replace("\r\n", "\n    "))
    names = [l.split(":", 1)[0] for l in prefix.split("\r\n") if l and not l[0].isspace()]
    check("smtplib: prepended headers are Return-Path, Delivered-To, Received, X-Spam-Status, X-Spam-Score",
          names == ["Return-Path", "Delivered-To", "Received", "X-Spam-Status", "X-Spam-Score"], repr(names))
    check("smtplib: Return-Path: <a@remote.test>", prefix.startswith("Return-Path: <a@remote.test>\r\n"))
    check("smtplib: Delivered-To: john@example.org", "\r\nDelivered-To: john@example.org\r\n" in prefix)
    m = re.search(r"with (\S+)", prefix)
    print("Received protocol: " + (m.group(1) if m else "?"))
    body_ok = stored[idx:] == expected
    detail = ""
    if not body_ok:
        got = stored[idx:]
        n = next((i for i in range(min(len(got), len(expected))) if got[i] != expected[i]),
                 min(len(got), len(expected)))
        detail = (f"sent {len(expected)} bytes, stored {len(got)}; first difference at {n}: "
                  f"sent {expected[n:n+40]!r} stored {got[n:n+40]!r}")
    check("smtplib: stored message equals the sent one byte for byte (UTF-8, dot lines)", body_ok, detail)
    check("smtplib: nothing left in john's Maildir/tmp",
          not os.listdir(os.path.join(VMAIL, "john", "Maildir", "tmp")))

# Refusals, on a fresh plaintext session.
before = all_mail_files()
s = smtplib.SMTP(HOST, PORT, timeout=30)
s.ehlo("client.test")
small = b"From: a@remote.test\r\nSubject: refused\r\n\r\nshould not be delivered\r\n"
for rcpt, want in (("nobody@example.org", 550), ("someone@elsewhere.test", 554),
                   ("user%elsewhere.test@example.org", 554)):
    try:
        r = s.sendmail("a@remote.test", [rcpt], small)
        check(f"smtplib: RCPT {rcpt} refused with {want}", False, f"accepted: {r!r}")
    except smtplib.SMTPRecipientsRefused as e:
        code, text = e.recipients.get(rcpt, (None, b""))
        print(f"RCPT {rcpt} -> {code} {text.decode(errors='replace')}")
        check(f"smtplib: RCPT {rcpt} refused with {want}", code == want, f"{code} {text!r}")
    except smtplib.SMTPException as e:
        check(f"smtplib: RCPT {rcpt} refused with {want}", False, f"{type(e).__name__}: {e}")
code, _ = s.noop()
check("smtplib: session still usable after the refusals (NOOP 250)", code == 250, str(code))
s.quit()
new_files = sorted(all_mail_files() - before)
check("smtplib: refused recipients created no files", not new_files, repr(new_files[:5]))
EOF
run_py "smtplib" "$work/smtplib_check.py"
timings+=("1. smtplib $(elapsed "$t0")")

# ---------------------------------------------------------------- 2. swaks
t0=$(now)
m1="swaks-tls-$RANDOM$RANDOM"
timeout 60 swaks --server "127.0.0.1:$smtp_port" --helo client.test --from a@remote.test \
  --to info@example.org --tls --header "Subject: $m1" --body 'hello via swaks' \
  >"$work/swaks_tls.out" 2>&1
rc=$?
check "swaks --tls to info@ (alias) exits 0" [ "$rc" -eq 0 ] ||
  { echo "  swaks exit $rc; transcript:"; sed 's/^/    /' "$work/swaks_tls.out" | tail -40; }
check "swaks --tls: transcript shows TLS started" grep -q "TLS started" "$work/swaks_tls.out"
f="$(files_with john "$m1")"
check "swaks --tls: delivered once to john via the alias" [ "$(printf '%s' "$f" | grep -c .)" -eq 1 ]
if [ -n "$f" ]; then
  check "swaks --tls: body 'hello via swaks' stored" grep -q "^hello via swaks" $f
  check "swaks --tls: Delivered-To: john@example.org" grep -q "^Delivered-To: john@example.org" $f
  echo "  swaks --tls Received: $(sed -n '/^Received:/,/^[^[:space:]R]/p' $f | head -4 | tr -d '\r' | tr '\n' ' ')"
fi

m2="swaks-pipe-$RANDOM$RANDOM"
timeout 60 swaks --server "127.0.0.1:$smtp_port" --helo client.test --from a@remote.test \
  --to john@example.org --pipeline --header "Subject: $m2" --body 'hello via swaks pipelining' \
  >"$work/swaks_pipe.out" 2>&1
rc=$?
check "swaks --pipeline to john exits 0" [ "$rc" -eq 0 ] ||
  { echo "  swaks exit $rc; transcript:"; sed 's/^/    /' "$work/swaks_pipe.out" | tail -40; }
f="$(files_with john "$m2")"
check "swaks --pipeline: delivered once to john" [ "$(printf '%s' "$f" | grep -c .)" -eq 1 ]
[ -n "$f" ] && check "swaks --pipeline: body stored" grep -q "^hello via swaks pipelining" $f

# Pipelined transaction with one bad recipient among good ones: the good one still gets it.
m3="swaks-pipe-mixed-$RANDOM$RANDOM"
timeout 60 swaks --server "127.0.0.1:$smtp_port" --helo client.test --from a@remote.test \
  --to john@example.org,ghost@example.org --pipeline --header "Subject: $m3" \
  --body 'pipelined with a bad recipient' >"$work/swaks_mixed.out" 2>&1
rc=$?
echo "  swaks --pipeline john+ghost exit $rc; RCPT replies:"
grep -E '^<[~*-]* +[0-9]{3} ' "$work/swaks_mixed.out" | sed 's/^/    /' | head -8
check "swaks --pipeline john+ghost: ghost refused with 550" grep -qE '^<[~*-]* +550 .*ghost@example\.org' "$work/swaks_mixed.out"
f="$(files_with john "$m3")"
check "swaks --pipeline john+ghost: john still gets it, once" [ "$(printf '%s' "$f" | grep -c .)" -eq 1 ]
check "swaks: no mailbox created for ghost" [ ! -e "$vmail/ghost" ]
timings+=("2. swaks (3 sessions) $(elapsed "$t0")")

# ---------------------------------------------------------------- 3. smtp-source
# 50 senders (one per user), 20 messages of 5,120 payload bytes each, 2 sessions per
# sender; 10 senders at a time (20 concurrent sessions, under the per-IP limit of 50).
# Odd users: a new connection per message; even users: -d, one connection per session.
t0=$(now)
mkdir -p "$work/ss"
for batch in 0 1 2 3 4; do
  pids=()
  for j in $(seq 1 10); do
    i=$((batch * 10 + j))
    reuse=()
    [ $((i % 2)) -eq 0 ] && reuse=(-d)
    ( timeout 120 "$smtp_source" "${reuse[@]}" -s 2 -m 20 -l 5120 -S "load test $i" -M client.test \
        -f sender@remote.test -t "user$i@example.org" "127.0.0.1:$smtp_port" >"$work/ss/$i.out" 2>&1
      echo $? >"$work/ss/$i.rc" ) &
    pids+=($!)
  done
  wait "${pids[@]}"
done
ss_secs="$(elapsed "$t0")"
timings+=("3. smtp-source 1000 messages x 5 KiB to 50 users $ss_secs")
ss_bad=0
for i in $(seq 1 50); do
  rc="$(cat "$work/ss/$i.rc" 2>/dev/null || echo missing)"
  if [ "$rc" != 0 ]; then
    ss_bad=$((ss_bad + 1))
    [ "$ss_bad" -le 5 ] && { echo "  smtp-source for user$i exited $rc:"; sed 's/^/    /' "$work/ss/$i.out" | tail -5; }
  fi
done
check "smtp-source: all 50 senders exited 0 ($ss_bad did not)" [ "$ss_bad" -eq 0 ]

cat >"$work/load_check.py" <<'EOF'
import os, re

VMAIL = os.environ["VMAIL"]
def check(name, cond, detail=""):
    print(("ok: " if cond else "FAIL: ") + name + ("" if cond or not detail else " -- " + detail))

total, bad_count, bad_files, bodies, tmp_left = 0, [], [], set(), []
line_re = re.compile(rb"[0-9]?X+")
for i in range(1, 51):
    user = f"user{i}"
    new = os.path.join(VMAIL, user, "Maildir", "new")
    files = sorted(os.listdir(new)) if os.path.isdir(new) else []
    total += len(files)
    if len(files) != 20:
        bad_count.append(f"{user}:{len(files)}")
    tmp = os.path.join(VMAIL, user, "Maildir", "tmp")
    if os.path.isdir(tmp) and os.listdir(tmp):
        tmp_left.append(f"{user}:{len(os.listdir(tmp))}")
    for name in files:
        raw = open(os.path.join(new, name), "rb").read()
        head, sep, body = raw.partition(b"\r\n\r\n")
        problems = []
        if not sep:
            problems.append("no header/body separator")
        if not head.startswith(b"Return-Path: <sender@remote.test>\r\nDelivered-To: " +
                               f"{user}@example.org\r\nReceived: ".encode()):
            problems.append("trace headers")
        if f"\r\nSubject: load test {i}\r\n".encode() not in head + b"\r\n":
            problems.append("subject")
        if b"\r\nFrom: <sender@remote.test>\r\n" not in head:
            problems.append("from")
        # smtp-source -l 5120: lines of [digit]X…X, 5,120 bytes or a little more with CRLFs.
        lines = body.split(b"\r\n")
        if lines[-1] != b"" or not 5120 <= len(body) <= 5120 + 2 * len(lines) or \
           not all(line_re.fullmatch(l) for l in lines[:-1]):
            problems.append(f"body ({len(body)} bytes, ends {body[-20:]!r})")
        m = re.search(rb",S=(\d+)", name.encode())
        if m and int(m.group(1)) != len(raw):
            problems.append(f"S={m.group(1).decode()} but {len(raw)} bytes")
        bodies.add(body)
        if problems:
            bad_files.append(f"{user}/{name}: {', '.join(problems)}")

check("smtp-source: every user1..user50 has exactly 20 messages in new/", not bad_count,
      " ".join(bad_count[:10]))
check("smtp-source: 1000 messages in total", total == 1000, str(total))
check("smtp-source: every message complete (trace headers, subject, 5 KiB body ending in X…X CRLF, S= size)",
      not bad_files, f"{len(bad_files)} bad, e.g. " + "; ".join(bad_files[:3]))
check("smtp-source: all bodies identical", len(bodies) == 1, f"{len(bodies)} distinct bodies")
check("smtp-source: nothing left in any Maildir/tmp", not tmp_left, " ".join(tmp_left[:10]))
EOF
run_py "smtp-source" "$work/load_check.py"
grep -q "event=smtp_message" "$log" && echo "  server logged $(grep -c 'event=smtp_message' "$log") smtp_message events so far"

# ---------------------------------------------------------------- 4. LMTP
t0=$(now)
cat >"$work/lmtp_check.py" <<'EOF'
import os, smtplib, glob

HOST, PORT = "127.0.0.1", int(os.environ["LMTP_PORT"])
VMAIL = os.environ["VMAIL"]
def check(name, cond, detail=""):
    print(("ok: " if cond else "FAIL: ") + name + ("" if cond or not detail else " -- " + detail))
def files_containing(user, needle):
    return [p for p in glob.glob(os.path.join(VMAIL, user, "Maildir", "new", "*"))
            if needle in open(p, "rb").read()]

m1 = "lmtp-one-" + os.urandom(6).hex()
m2 = "lmtp-two-" + os.urandom(6).hex()
l = smtplib.LMTP(HOST, PORT, timeout=30)
code, resp = l.ehlo("mta.test")   # smtplib.LMTP sends LHLO
check("lmtp: LHLO 250", code == 250, f"{code} {resp!r}")
print("LHLO: " + resp.decode(errors="replace").replace("\n", " | "))

# smtplib's own path: one good and one unknown recipient (one reply after DATA).
msg = f"From: mta@remote.test\r\nSubject: {m1}\r\n\r\nvia LMTP\r\n".encode()
try:
    refused = l.sendmail("mta@remote.test", ["john@example.org", "ghost@example.org"], msg)
    print(f"lmtp sendmail refused: {refused!r}")
    check("lmtp: ghost@example.org refused with 550",
          refused.get("ghost@example.org", (0,))[0] == 550, repr(refused))
    check("lmtp: john@example.org accepted", "john@example.org" not in refused, repr(refused))
except smtplib.SMTPException as e:
    check("lmtp: sendmail to john + ghost", False, f"{type(e).__name__}: {e}")
code, _ = l.noop()
check("lmtp: replies in step after that transaction (NOOP 250)", code == 250, str(code))
check("lmtp: john got the first message once", len(files_containing("john", m1.encode())) == 1)

# By hand: two good recipients around a bad one; one reply per good recipient after DATA.
msg = f"From: mta@remote.test\r\nSubject: {m2}\r\n\r\nvia LMTP to two\r\n".encode()
code, _ = l.mail("mta@remote.test")
check("lmtp: MAIL 250", code == 250, str(code))
r = [l.rcpt(a) for a in ("john@example.org", "ghost@example.org", "user1@example.org")]
print("lmtp RCPT replies: " + " / ".join(f"{c} {t.decode(errors='replace')}" for c, t in r))
check("lmtp: RCPT john 250, ghost 550, user1 250", [c for c, _ in r] == [250, 550, 250],
      repr(r))
code, resp = l.data(msg)          # reads the first per-recipient reply
code2, resp2 = l.getreply()       # the second one
print(f"lmtp DATA replies: {code} {resp.decode(errors='replace')} / {code2} {resp2.decode(errors='replace')}")
check("lmtp: one 250 per accepted recipient after DATA", code == 250 and code2 == 250,
      f"{code} {resp!r} / {code2} {resp2!r}")
check("lmtp: per-recipient replies name their recipient",
      b"john@example.org" in resp and b"user1@example.org" in resp2, f"{resp!r} / {resp2!r}")
code, _ = l.noop()
check("lmtp: no extra reply after the per-recipient ones (NOOP 250)", code == 250, str(code))
l.quit()
check("lmtp: john got the second message once", len(files_containing("john", m2.encode())) == 1)
check("lmtp: user1 got the second message once", len(files_containing("user1", m2.encode())) == 1)
check("lmtp: no mailbox for ghost", not os.path.exists(os.path.join(VMAIL, "ghost")))

# SMTP's EHLO on the LMTP port is refused.
l = smtplib.SMTP(HOST, PORT, timeout=30)
code, resp = l.ehlo("mta.test")
check("lmtp: EHLO on the LMTP port refused with 500", code == 500, f"{code} {resp!r}")
l.close()
EOF
run_py "lmtp" "$work/lmtp_check.py"
timings+=("4. LMTP $(elapsed "$t0")")

john_new="$(count_in_new john)"
check "john holds exactly 6 messages (smtplib, swaks x3, LMTP x2), got $john_new" [ "$john_new" -eq 6 ]
check "user1 holds 21 messages after LMTP (20 + 1), got $(count_in_new user1)" [ "$(count_in_new user1)" -eq 21 ]

# ---------------------------------------------------------------- 5. graceful stop
t0=$(now)
ringmail_stop
rc=$?
if [ "$rc" -eq 124 ]; then  # ringmail_stop's "did not stop within 15 s" (it was then killed)
  bad "server still running 15 s after SIGTERM"
else
  check "server exited 0 after SIGTERM (exit $rc)" [ "$rc" -eq 0 ]
  check "server logged event=stopped" grep -q "event=stopped" "$log"
fi
timings+=("5. SIGTERM to exit $(elapsed "$t0")")
errors="$(grep -c 'level=error' "$log")"
check "server logged no level=error lines ($errors)" [ "$errors" -eq 0 ] ||
  grep 'level=error' "$log" | head -5 | sed 's/^/    /'
echo "  server log: $(grep -c 'level=warn' "$log") warn lines, $(wc -l <"$log") lines in all"

summary
[ "$failed" -eq 0 ]
