# Sourced by tests that serve a private DNS zone with dnsmasq: makes sure the binary is
# there, installing dnsmasq-base (the binary alone, no system service; the dnsmasq package
# would enable and start a system DNS server) when it is missing. Exits 77 (skip) when it
# cannot be had.
export PATH="$PATH:/usr/sbin:/sbin"
if ! command -v dnsmasq >/dev/null; then
  echo "dnsmasq not found: installing dnsmasq-base" >&2
  sudo_cmd=()
  [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo -n)
  { DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends dnsmasq-base >/dev/null ||
    { "${sudo_cmd[@]}" apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends dnsmasq-base >/dev/null; }; } &&
    command -v dnsmasq >/dev/null ||
    { echo "SKIP: dnsmasq cannot be installed"; exit 77; }
fi
