#!/usr/bin/env bash
# Installs what ringmail needs to build, run and test, from Debian 12's packages.
# Idempotent: does nothing (and needs no network) when everything is already there.
set -euo pipefail

packages=(
  # toolchain
  g++ cmake ninja-build pkg-config ccache clang
  # runtime and later layers (DESIGN.md: Debian packages only)
  liburing-dev libssl-dev libabsl-dev libhyperscan-dev libmariadb-dev libsqlite3-dev
  libc-ares-dev libcrypt-dev libargon2-dev libidn2-dev libpcre2-dev zlib1g-dev
  # the stock SpamAssassin rules (/usr/share/spamassassin) the spam scanner loads
  spamassassin
  # the MariaDB tests start their own server; Dovecot checks password compatibility and
  # shares Maildirs with ringmail (tests/tools/dovecot_roundtrip_test.sh)
  mariadb-server mariadb-client dovecot-core dovecot-imapd
  # the Sieve differential's reference: Pigeonhole's sieve-test, run at a fixed time under
  # faketime (tests/sieve/README.md)
  dovecot-sieve faketime
  # real SMTP clients for the end-to-end tests
  swaks libnet-ssleay-perl postfix
  # the relay end-to-end test's private DNS server (tests/tools/relay_e2e_test.sh); the
  # binary alone: the "dnsmasq" package would enable and start a system DNS service
  dnsmasq-base
  # real IMAP clients for the end-to-end tests: Roundcube (run with `php -S`) driven by
  # headless Chromium (tests/tools/roundcube_test.sh), mbsync (tests/tools/imap_mbsync_test.sh)
  roundcube-core roundcube-plugins php-cli php-sqlite3 chromium python3-websocket isync
  # real ManageSieve clients (tests/tools/managesieve_test.sh): sieve-connect, and Net_Sieve,
  # the library of Roundcube's managesieve plugin
  sieve-connect php-net-sieve
  # offlineimap3 (tests/tools/imap_offlineimap_test.sh)
  offlineimap3
  # mail authentication (issue 16): the public suffix list DMARC reads, and the
  # differential tests' references (python3-dkim's dkimverify/arcverify, pyspf, authres;
  # python3-yaml reads pyspf's RFC 7208 test suite)
  publicsuffix python3-dkim python3-spf python3-yaml python3-authres
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev openssl python3 curl ca-certificates
  # bench/dkim/run.sh's OpenDKIM column: the library the opendkim milter runs
  libopendkim-dev
  # SPF references: the RFC 7208 test suite and pyspf (tests/spam/spf_suite_test.sh,
  # spf_pyspf_test.sh)
  python3-spf python3-yaml
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  sudo_cmd=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
