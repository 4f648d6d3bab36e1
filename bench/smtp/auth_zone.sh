# shellcheck shell=bash
# Sourced by bench/smtp/run.sh for AUTH=1 (issue 16): the DNS that ringmail's and rspamd's
# SPF/DKIM/DMARC/ARC checks ask, so both sides run their checks against the same records
# and nothing leaves the machine. A private dnsmasq (Debian dnsmasq-base: the binary alone,
# no system service; the command line of tests/tools/relay_dns.py) on $bench_host:PORT:
#
#   SENDER_DOMAIN        TXT "v=spf1 ip4:127.0.0.1 -all": the MAIL FROM domain of both load
#                        tools, which is also the name they give in HELO/EHLO, so the HELO
#                        check (RFC 7208 §2.3) passes too
#   _dmarc.SENDER_DOMAIN TXT "v=DMARC1; p=none": the From: domain is the MAIL FROM domain,
#                        so DMARC passes through aligned SPF (the messages are unsigned:
#                        DKIM is "none" on both sides)
#   --local=/test/       every other *.test name (bench.test, DKIM key records, ...) is
#                        answered here (NXDOMAIN / no data) instead of forwarded: there is
#                        no upstream (--no-resolv)
#   --bogus-priv         PTR lookups of 127.0.0.1 (and other private addresses) get NXDOMAIN
#                        here instead of going nowhere and timing out
#
#   auth_dns_start PORT LOG SENDER_DOMAIN   starts it in the background, sets auth_dns_pid;
#                                           returns once it accepts on PORT (TCP, 5 s)
#   auth_dns_stop                           stops it (call from the EXIT trap)

auth_dns_pid=""

# shellcheck disable=SC2154  # bench_host: bench/lib/common.sh
auth_dns_start() {
  local port=$1 log_file=$2 sender_domain=$3
  command -v dnsmasq >/dev/null ||
    { echo "dnsmasq not found: apt-get install -y dnsmasq-base" >&2; return 1; }
  # --cache-size=0: every answer straight from the records, so a second run sees no cache;
  # ringmail and rspamd cache answers themselves, as they would against a real resolver.
  dnsmasq --keep-in-foreground --no-resolv --no-hosts --no-poll --conf-file=/dev/null \
    --port="$port" --listen-address="$bench_host" --bind-interfaces --log-facility=- \
    --cache-size=0 --local=/test/ --bogus-priv --user="$(id -un)" --pid-file= \
    "--txt-record=$sender_domain,v=spf1 ip4:127.0.0.1 -all" \
    "--txt-record=_dmarc.$sender_domain,v=DMARC1; p=none" >"$log_file" 2>&1 &
  auth_dns_pid=$!
  wait_port "$port" 5
}

auth_dns_stop() {
  [[ -n $auth_dns_pid ]] || return 0
  stop_pid "$auth_dns_pid"
  wait "$auth_dns_pid" 2>/dev/null || true
  auth_dns_pid=""
}
