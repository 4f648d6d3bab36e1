#!/usr/bin/env bash
# ringmail-admin end to end, on both backends: SQLite under --data_dir, and a MariaDB
# server this script starts and stops itself. Checks output, exit codes and messages,
# and that Dovecot's doveadm accepts the hashes `ringmail-admin pw` prints.
set -uo pipefail
admin="$1"
src="$2"
work="$(mktemp -d)"
db_dir="$work/mariadb"
cleanup() { "$src/tests/support/mariadb.sh" stop "$db_dir" >/dev/null 2>&1; rm -rf "$work"; }
trap cleanup EXIT
failures=0
fail() { echo "FAIL [$backend]: $*"; failures=$((failures + 1)); }

expect_ok() {  # expect_ok "description" command...
  local what=$1; shift
  out=$("$@" 2>&1); local rc=$?
  [ "$rc" -eq 0 ] || fail "$what: exit $rc ($out)"
}
expect_fail() {  # expect_fail "description" "message fragment" command...
  local what=$1 fragment=$2; shift 2
  out=$("$@" 2>&1); rc=$?
  [ "$rc" -eq 1 ] || fail "$what: expected exit 1, got $rc ($out)"
  grep -qi -- "$fragment" <<<"$out" || fail "$what: message lacks '$fragment': $out"
}

run_suite() {
  local -a A=("$admin" "$@")
  expect_ok "domain add" "${A[@]}" domain add example.org
  expect_ok "domain add 2" "${A[@]}" domain add Example.NET
  [ "$("${A[@]}" domain list)" = $'example.net\nexample.org' ] || fail "domain list: $("${A[@]}" domain list)"
  expect_fail "duplicate domain" "already exists" "${A[@]}" domain add example.org
  expect_fail "invalid domain" "domain" "${A[@]}" domain add "bad domain"
  echo "s3cret-pw" | expect_ok "user add" "${A[@]}" user add john@example.org --quota=1000
  echo "s3cret-pw" | expect_fail "user in unknown domain" "not found" "${A[@]}" user add x@unknown.test
  echo "s3cret-pw" | expect_fail "duplicate user" "already exists" "${A[@]}" user add JOHN@example.org
  echo "s3cret-pw" | expect_fail "path in address" "" "${A[@]}" user add "../x@example.org"
  "${A[@]}" user list | grep -q $'^john@example.org\tquota=1000$' || fail "user list: $("${A[@]}" user list)"
  expect_ok "quota" "${A[@]}" user quota john@example.org 5000
  "${A[@]}" user list example.org | grep -q "quota=5000" || fail "quota not changed"
  echo "new-pw" | expect_ok "passwd" "${A[@]}" user passwd john@example.org
  expect_fail "passwd unknown" "not found" bash -c "echo pw | $(printf '%q ' "${A[@]}") user passwd ghost@example.org"
  expect_ok "alias add" "${A[@]}" alias add info@example.org john@example.org
  expect_ok "catch-all add" "${A[@]}" alias add @example.net john@example.org
  [ "$("${A[@]}" alias list | wc -l)" -eq 2 ] || fail "alias list: $("${A[@]}" alias list)"
  expect_fail "duplicate alias" "already exists" "${A[@]}" alias add info@example.org john@example.org
  expect_ok "alias del" "${A[@]}" alias del info@example.org john@example.org
  expect_fail "alias del missing" "not found" "${A[@]}" alias del info@example.org john@example.org
  expect_ok "domain del" "${A[@]}" domain del example.net
  [ "$("${A[@]}" alias list | wc -l)" -eq 0 ] || fail "aliases not cascaded: $("${A[@]}" alias list)"
  expect_ok "user del" "${A[@]}" user del john@example.org
  expect_fail "user del again" "not found" "${A[@]}" user del john@example.org
  out=$("${A[@]}" frobnicate 2>&1); [ $? -eq 2 ] || fail "unknown command must exit 2"
}

backend=sqlite
run_suite --data_dir="$work/data"
[ -f "$work/data/directory.sqlite" ] || fail "no SQLite file"

backend=mariadb
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
if "$src/tests/support/mariadb.sh" start "$db_dir" "$port"; then
  url="mariadb://ringmail:ringmail-test-pw@127.0.0.1:$port/ringmail"
  run_suite --directory="$url"
  # Bayes lives in the same MariaDB database as the directory.
  backend=mariadb-bayes
  mkdir -p "$work/bayes-spam" "$work/bayes-ham"
  for i in $(seq 1 200); do
    printf 'Subject: cheap pills %d\r\n\r\ncheap pills casino winner prize %d\r\n' "$i" "$i" >"$work/bayes-spam/$i"
    printf 'Subject: project notes %d\r\n\r\nmeeting agenda review patch %d\r\n' "$i" "$i" >"$work/bayes-ham/$i"
  done
  out=$("$admin" --directory="$url" --data_dir="$work/bayes-data" --spam_rules="$src/spam/rules" spam learn --spam "$work/bayes-spam" 2>&1)
  grep -q "learned=200 as=spam .*store=mariadb://ringmail:\*\*\*@127.0.0.1:$port/ringmail" <<<"$out" || fail "spam learn into MariaDB: $out"
  out=$("$admin" --directory="$url" --data_dir="$work/bayes-data" --spam_rules="$src/spam/rules" spam learn --ham "$work/bayes-ham" 2>&1)
  grep -q "learned=200 as=ham" <<<"$out" || fail "ham learn into MariaDB: $out"
  [ ! -e "$work/bayes-data/bayes.sqlite" ] || fail "a SQLite Bayes store was created beside MariaDB"
  out=$("$admin" --directory="$url" --data_dir="$work/bayes-data" --spam_rules="$src/spam/rules" spam rules 2>&1)
  grep -q "bayes=ready(spam=200 ham=200)" <<<"$out" || fail "Bayes from MariaDB not loaded: $out"
  rows=$(mariadb --no-defaults --socket="$db_dir/mysqld.sock" -uroot -N -e "SELECT nspam, nham FROM ringmail.bayes_totals WHERE user = ''" 2>&1)
  [ "$(echo $rows)" = "200 200" ] || fail "bayes_totals in MariaDB: $rows"
  # Forced expiry of a store far below --bayes_expiry_max_db_size leaves it whole; every
  # token learned carries its atime.
  out=$("$admin" --directory="$url" --data_dir="$work/bayes-data" spam expire 2>&1)
  grep -Eq "^user=\(global\) tokens_before=[1-9][0-9]* removed=0 .*note=too_few_tokens_to_remove" <<<"$out" ||
    fail "spam expire on MariaDB: $out"
  rows=$(mariadb --no-defaults --socket="$db_dir/mysqld.sock" -uroot -N -e \
    "SELECT COUNT(*) FROM ringmail.bayes_tokens WHERE user = '' AND atime < UNIX_TIMESTAMP() - 3600" 2>&1)
  [ "$(echo $rows)" = "0" ] || fail "Bayes tokens in MariaDB without a fresh atime: $rows"
  backend=mariadb-down
  "$src/tests/support/mariadb.sh" stop "$db_dir"
  expect_fail "database down" "cannot connect" "$admin" --directory="$url" domain list
else
  fail "could not start MariaDB"
fi

backend=pw
for scheme in BLF-CRYPT SHA512-CRYPT SHA256-CRYPT ARGON2ID SSHA512 PLAIN; do
  hash=$(echo "pw-$scheme" | "$admin" pw -s "$scheme") || { fail "pw -s $scheme"; continue; }
  [[ $hash == "{$scheme}"* ]] || fail "pw -s $scheme printed $hash"
  doveadm pw -t "$hash" -p "pw-$scheme" >/dev/null 2>&1 || fail "doveadm rejects our $scheme hash $hash"
done
hash=$(echo "x" | "$admin" pw) && [[ $hash == '{BLF-CRYPT}$2y$10$'* ]] || fail "default scheme is not BLF-CRYPT cost 10: $hash"
expect_fail "unknown scheme" "scheme" bash -c "echo x | '$admin' pw -s NOPE"

backend=spam-scan
mkdir -p "$work/msgs"
printf 'Subject: hello\r\n\r\nSee you at noon.\r\n' >"$work/msgs/ham.eml"
printf 'Subject: offer\r\n\r\nA million dollars for you.\r\n' >"$work/msgs/spam.eml"
printf 'body MILLION_DOLLARS /million dollars/\nscore MILLION_DOLLARS 6\n' >"$work/test.cf"
out=$("$admin" --data_dir="$work/scan" --spam_rules="$work/test.cf" spam scan --profile=5 "$work/msgs" 2>"$work/scan.err")
grep -q "^6.000	Yes	.*spam.eml" <<<"$out" || fail "spam scan: spam not Yes: $out"
grep -q "No.*ham.eml" <<<"$out" || fail "spam scan: ham not No: $out"
grep -q "^profile: 2 messages" "$work/scan.err" || fail "spam scan --profile: no message count: $(cat "$work/scan.err")"
grep -q "^profile: stage match " "$work/scan.err" || fail "spam scan --profile: no stage lines"
grep -q "^profile: hyperscan body " "$work/scan.err" || fail "spam scan --profile: no per-target line"

if [ "$failures" -ne 0 ]; then
  echo "$failures failure(s)"
  exit 1
fi
echo "admin test passed"
