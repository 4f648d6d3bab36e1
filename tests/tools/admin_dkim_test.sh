#!/usr/bin/env bash
# ringmail-admin dkim keygen|list|rotate|show end to end (issue 16): the files and their
# modes, that `openssl pkey` reads the keys and derives the same public key the printed
# record carries, the zone-file form (255-byte strings), selectors never overwritten,
# rotation keeping the old keys, and usage errors. With python3-dkim installed, a message
# signed with the generated keys verifies against the printed records there too.
# Exit 77 (skip) without the openssl command.
set -uo pipefail
admin="$1"
# shellcheck source=tests/tools/check_lib.sh
source "$(dirname "$0")/check_lib.sh"
check_setup admin_dkim
command -v openssl >/dev/null || { echo "skip: openssl not installed (Debian package: openssl)"; exit 77; }
[ -x "$admin" ] || fatal "ringmail-admin binary not executable: $admin"

today=$(date -u +%Y%m%d)
keys="$data/dkim/example.org"

# The p= value of a printed zone-file record (its strings joined).
record_p() { tr -d '\n' <<<"$1" | sed -n 's/.*IN TXT (\(.*\) ).*/\1/p' | sed 's/" "//g; s/"//g; s/ //g' | sed -n 's/.*p=\(.*\)/\1/p'; }
mode() { stat -c %a "$1"; }

# ---- keygen, RSA (default) ----
out=$(adm dkim keygen Example.ORG 2>&1); rc=$?
[ "$rc" -eq 0 ] && ok "keygen rsa" || bad "keygen rsa: exit $rc: $out"
rsa="$keys/rm$today.rsa.pem"
[ -f "$rsa" ] && ok "key file $rsa" || bad "no key file $rsa"
grep -q "^rm$today._domainkey.example.org. IN TXT ( \"v=DKIM1; k=rsa; p=" <<<"$out" && ok "record line" ||
  bad "record line: $out"
grep -q '" "' <<<"$out" && ok "2048-bit record cut into strings" || bad "record not split: $out"
longest=$(grep -o '"[^"]*"' <<<"$out" | awk '{ if (length($0) - 2 > m) m = length($0) - 2 } END { print m }')
[ "$longest" -le 255 ] && ok "strings of at most 255 bytes ($longest)" || bad "a string of $longest bytes"
grep -q "signing" <<<"$out" && ok "first rsa key signs" || bad "first key not signing: $out"
[ "$(mode "$rsa")" = 600 ] && ok "key mode 600" || bad "key mode $(mode "$rsa")"
[ "$(mode "$data/dkim")" = 700 ] && [ "$(mode "$keys")" = 700 ] && ok "directories 700" ||
  bad "directory modes $(mode "$data/dkim") $(mode "$keys")"
head -1 "$rsa" | grep -q -- "-----BEGIN PRIVATE KEY-----" && ok "PKCS#8 PEM" || bad "not PKCS#8: $(head -1 "$rsa")"
check "openssl pkey reads the rsa key" openssl pkey -in "$rsa" -noout
bits=$(openssl pkey -in "$rsa" -noout -text 2>/dev/null | sed -n 's/.*Private-Key: (\([0-9]*\) bit.*/\1/p')
[ "$bits" = 2048 ] && ok "rsa 2048 bits" || bad "rsa bits '$bits'"
want=$(openssl pkey -in "$rsa" -pubout -outform DER 2>/dev/null | base64 -w0)
[ -n "$want" ] && [ "$(record_p "$out")" = "$want" ] && ok "p= is the key's public half (SPKI)" ||
  bad "p= differs from openssl's public key"
rsa_record="$out"

out=$(adm dkim keygen example.org 2>&1); rc=$?
[ "$rc" -eq 1 ] && grep -q "already has selector rm$today" <<<"$out" && ok "selector not overwritten" ||
  bad "second keygen: exit $rc: $out"

# ---- keygen, Ed25519 ----
out=$(adm dkim keygen example.org --type=ed25519 2>&1); rc=$?
ed="$keys/rm${today}e.ed25519.pem"
[ "$rc" -eq 0 ] && [ -f "$ed" ] && ok "keygen ed25519 ($ed)" || bad "keygen ed25519: exit $rc: $out"
grep -q "^rm${today}e._domainkey.example.org. IN TXT ( \"v=DKIM1; k=ed25519; p=" <<<"$out" && ok "ed25519 record" ||
  bad "ed25519 record: $out"
check "openssl pkey reads the ed25519 key" openssl pkey -in "$ed" -noout
# RFC 8463 §4: p= is the raw 32-byte key, the last 32 bytes of its SPKI.
want=$(openssl pkey -in "$ed" -pubout -outform DER 2>/dev/null | tail -c 32 | base64 -w0)
[ -n "$want" ] && [ "$(record_p "$out")" = "$want" ] && ok "ed25519 p= is the raw public key" ||
  bad "ed25519 p= differs: $(record_p "$out") vs $want"
ed_record="$out"

out=$(adm dkim keygen example.org --selector=spare --bits=1024 2>&1); rc=$?
[ "$rc" -eq 0 ] && grep -q "Not signing yet" <<<"$out" && ok "a second rsa key waits (retired)" ||
  bad "keygen spare: exit $rc: $out"
out=$(adm dkim keygen example.net --selector=s1 2>&1) && ok "keygen other domain" || bad "keygen example.net: $out"

# ---- list, show ----
out=$(adm dkim list 2>&1)
[ "$(wc -l <<<"$out")" -eq 4 ] && ok "list: 4 keys" || bad "list: $out"
grep -qP "^example.org\trm$today\trsa\t2048\tsigning\trm$today._domainkey.example.org$" <<<"$out" &&
  ok "list rsa line" || bad "list rsa line: $out"
grep -qP "^example.org\trm${today}e\ted25519\t256\tsigning\t" <<<"$out" && ok "list ed25519 line" || bad "list: $out"
grep -qP "^example.org\tspare\trsa\t1024\tretired\t" <<<"$out" && ok "list retired line" || bad "list: $out"
[ "$(adm dkim list example.net | wc -l)" -eq 1 ] && ok "list DOMAIN" || bad "list example.net"
out=$(adm dkim show example.org 2>&1)
[ "$(grep -c 'IN TXT' <<<"$out")" -eq 2 ] && grep -q "rm$today._domainkey" <<<"$out" &&
  grep -q "rm${today}e._domainkey" <<<"$out" && ok "show: the two signing records" || bad "show: $out"
[ "$(grep -c 'IN TXT' <<<"$out")" -eq 2 ] && ! grep -q "spare" <<<"$out" && ok "show leaves the retired key out" ||
  bad "show: $out"

# ---- python3-dkim verifies mail signed with these keys against the printed records ----
python=/usr/bin/python3  # Debian's, where python3-dkim installs (not a pyenv shim)
if "$python" -c 'import dkim' 2>/dev/null; then
  if "$python" - "$rsa" "$ed" "rm$today" "rm${today}e" "$(record_p "$rsa_record")" "$(record_p "$ed_record")" <<'EOF'
import sys, dkim
rsa, ed, rsa_sel, ed_sel, rsa_p, ed_p = sys.argv[1:]
msg = b"From: a@example.org\r\nTo: b@example.net\r\nSubject: t\r\n\r\nhello\r\n"
records = {f"{rsa_sel}._domainkey.example.org.".encode(): f"v=DKIM1; k=rsa; p={rsa_p}".encode(),
           f"{ed_sel}._domainkey.example.org.".encode(): f"v=DKIM1; k=ed25519; p={ed_p}".encode()}
dnsfunc = lambda name, timeout=5: records.get(name if name.endswith(b".") else name + b".", b"")
# dkimpy wants Ed25519 private keys as the raw 32-byte seed in base64.
import base64, subprocess
der = subprocess.run(["openssl", "pkey", "-in", ed, "-outform", "DER"], capture_output=True, check=True).stdout
ed_raw = base64.b64encode(der[-32:])
for sel, key, alg in ((rsa_sel, open(rsa, "rb").read(), b"rsa-sha256"), (ed_sel, ed_raw, b"ed25519-sha256")):
    sig = dkim.sign(msg, sel.encode(), b"example.org", key, signature_algorithm=alg)
    if not dkim.verify(sig + msg, dnsfunc=dnsfunc):
        print("dkimpy did not verify", alg); sys.exit(1)
EOF
  then ok "python3-dkim verifies with the printed records (rsa, ed25519)"; else bad "python3-dkim verification"; fi
else
  echo "note: python3-dkim not installed, cross-check skipped"
fi

# ---- rotate ----
out=$(adm dkim rotate example.org 2>&1); rc=$?
[ "$rc" -eq 0 ] && ok "rotate" || bad "rotate: exit $rc: $out"
grep -q "rm$today-2._domainkey.example.org. IN TXT" <<<"$out" && grep -q "rm${today}e-2._domainkey" <<<"$out" &&
  ok "rotate: new records (next free selectors)" || bad "rotate new records: $out"
grep -q "rm$today._domainkey.example.org. IN TXT" <<<"$out" && grep -qi "few days" <<<"$out" &&
  ok "rotate: old records and the advice to keep them" || bad "rotate advice: $out"
out=$(adm dkim list example.org)
[ "$(wc -l <<<"$out")" -eq 5 ] && ok "rotate keeps the old keys" || bad "after rotate: $out"
grep -qP "^example.org\trm$today\trsa\t2048\tretired" <<<"$out" &&
  grep -qP "^example.org\trm$today-2\trsa\t2048\tsigning" <<<"$out" &&
  grep -qP "^example.org\trm${today}e-2\ted25519\t256\tsigning" <<<"$out" && ok "rotate switched signing" ||
  bad "after rotate: $out"
[ -f "$rsa" ] && check "old key still readable" openssl pkey -in "$rsa" -noout

# ---- errors ----
out=$(adm dkim keygen ../evil 2>&1); rc=$?
[ "$rc" -eq 1 ] && grep -q "bad domain" <<<"$out" && [ ! -e "$data/evil" ] && ok "path-like domain refused" ||
  bad "keygen ../evil: exit $rc: $out"
out=$(adm dkim keygen example.org --type=dsa --selector=x 2>&1); rc=$?
[ "$rc" -eq 2 ] && ok "--type=dsa is a usage error" || bad "--type=dsa: exit $rc: $out"
out=$(adm dkim keygen example.org --selector=small --bits=512 2>&1); rc=$?
[ "$rc" -eq 1 ] && grep -q "1024..4096" <<<"$out" && ok "512-bit rsa refused" || bad "--bits=512: exit $rc: $out"
out=$(adm dkim rotate nothing.example 2>&1); rc=$?
[ "$rc" -eq 1 ] && grep -q "no signing key" <<<"$out" && ok "rotate without keys refused" || bad "rotate: $rc: $out"
out=$(adm dkim 2>&1); rc=$?
[ "$rc" -eq 2 ] && ok "dkim alone: usage" || bad "dkim alone: exit $rc"
chmod 644 "$rsa"
out=$(adm dkim list example.org 2>&1); rc=$?
[ "$rc" -eq 1 ] && grep -q "chmod 600" <<<"$out" && ok "a key open to others is refused" || bad "mode 644: $rc: $out"

summary
[ "$failed" -eq 0 ]
