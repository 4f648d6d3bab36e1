#!/usr/bin/env bash
# DKIM signing and verification per message, CPU µs (issue 16): ringmail's spam/dkim,
# OpenDKIM's libopendkim (what the opendkim milter runs) and rspamd 3.4, RSA-2048 and
# Ed25519, relaxed/relaxed, on the same messages with the same keys, in one run.
#
#   bench/dkim/run.sh [build_dir]        (default build/release; needs its dkim_bench)
#
# Environment:
#   CORPUS (build/corpus)   SpamAssassin corpus (scripts/fetch-corpus.sh when absent)
#   MESSAGES (2000)         messages, spread evenly over the sorted corpus files
#   ROUNDS (5)              rounds; each runs every engine over the set once. The table
#                           shows each cell's median over the rounds, and each ratio's
#                           median over the rounds' ratios (the machines are shared:
#                           single runs swing by 50 %)
#   PASSES (1)              passes over the messages per round for ringmail and OpenDKIM
#   RSPAMD_PASSES (1)       the same for rspamd (each message is a request over loopback)
#   ENGINES ("ringmail opendkim rspamd")
#   KEEP (0)                1 keeps the work directory (message set, configs, logs)
#
# The set: dkim_bench --export writes the MESSAGES corpus messages as an MTA passes them
# on (mbox "From " line dropped, CRLF), and the same messages with ringmail's RSA and
# Ed25519 signatures prepended. Every engine signs the unsigned files and verifies the
# signed ones, so the verify rows are also a cross-check: OpenDKIM and rspamd must pass
# every ringmail signature (the "failed" column).
#
#   ringmail  dkim_bench: sign_dkim / verify_dkim (static_dns_client, run_inline),
#             Google Benchmark CPU time per message; the message parse is included.
#             verify: the key record parsed per message; verify-cached: through a warm
#             spam/dkim/key_cache (set against the peers' verify rows).
#   opendkim  bench/dkim/opendkim_bench.c, built here with cc: dkim_sign / dkim_verify per
#             message (header fields, body, eom, the signature field or the result), the
#             key record from a callback over memory; CLOCK_PROCESS_CPUTIME_ID.
#   rspamd    `rspamd` on loopback with a minimal configuration: only the dkim module
#             (verify; key records served by a private dnsmasq, cached by rspamd after
#             the first lookup) and dkim_signing (sign, same key, selector and domain,
#             every message signed whatever its From); no rules, no other module. Fed
#             with rspamc; CPU = utime+stime of the rspamd process tree (/proc) over the
#             batch, divided by the messages. That figure is a whole request: HTTP,
#             MIME parsing, the symbol cache. The "DKIM share" subtracts a baseline batch
#             in the same round (the verifying instance over the unsigned messages: the
#             dkim module finding no signature), leaving the signing or verifying itself.
#             The three instances (verify, sign RSA, sign Ed25519) run side by side.
#
# Prints one table (µs CPU per message; "x" columns: the peer's figure / ringmail's, i.e.
# how many times less CPU ringmail uses) with Run: date/commit lines.

# shellcheck disable=SC2317  # cleanup runs from the EXIT trap
set -Eeuo pipefail
bench_name=bench/dkim
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=bench/lib/common.sh
source "$here/../lib/common.sh"
trap 'echo "bench/dkim: line $LINENO failed: $BASH_COMMAND" >&2' ERR

build=${1:-build/release}
corpus=${CORPUS:-build/corpus}
messages=${MESSAGES:-2000}
rounds=${ROUNDS:-5}
passes=${PASSES:-1}
rspamd_passes=${RSPAMD_PASSES:-1}
engines=${ENGINES:-"ringmail opendkim rspamd"}
keep=${KEEP:-0}
domain=bench.example

for engine in $engines; do
  [[ $engine == ringmail || $engine == opendkim || $engine == rspamd ]] || die "unknown engine '$engine'"
done
[[ $messages =~ ^[1-9][0-9]*$ && $rounds =~ ^[1-9][0-9]*$ && $passes =~ ^[1-9][0-9]*$ && $rspamd_passes =~ ^[1-9][0-9]*$ ]] ||
  die "MESSAGES, ROUNDS, PASSES and RSPAMD_PASSES must be positive integers"
bench=$build/bench/dkim/dkim_bench
[[ -x $bench ]] || die "$bench missing (ninja -C $build dkim_bench)"
[[ -f $corpus/.complete ]] || "$repo/scripts/fetch-corpus.sh" "$corpus"

work=$(mktemp -d "${TMPDIR:-/tmp}/ringmail-dkim-bench.XXXXXX")
chmod 755 "$work"  # rspamd drops to _rspamd and reads the keys and its config in here
results=$work/results.tsv  # engine  op  alg  round  us_per_msg  messages  failed
: >"$results"
daemons=()
cleanup() {
  local p
  for p in "${daemons[@]}"; do stop_pid "$p"; done
  # rspamd's exiting workers may still write their logs: retry once.
  if ((keep)); then log "work directory kept: $work"; else rm -rf "$work" 2>/dev/null || { sleep 1; rm -rf "$work"; }; fi
}
trap cleanup EXIT

log "keys: RSA-2048 and Ed25519 (openssl genpkey)"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/rsa.pem" 2>/dev/null
openssl genpkey -algorithm ed25519 -out "$work/ed25519.pem" 2>/dev/null
# rspamd reads Ed25519 signing keys only in libsodium's form: base64 of seed || public key.
{
  openssl pkey -in "$work/ed25519.pem" -outform DER | tail -c 32
  openssl pkey -in "$work/ed25519.pem" -pubout -outform DER | tail -c 32
} | base64 -w0 >"$work/ed25519.rspamd"
cp "$work/rsa.pem" "$work/rsa.rspamd"
chmod 644 "$work"/*.pem "$work"/*.rspamd  # throwaway keys; _rspamd must read them

# ---------------------------------------------------------------- ringmail
bench_env=(RINGMAIL_CORPUS="$corpus" RINGMAIL_BENCH_MESSAGES="$messages" RINGMAIL_BENCH_PASSES="$passes"
  RINGMAIL_DKIM_RSA_KEY="$work/rsa.pem" RINGMAIL_DKIM_ED25519_KEY="$work/ed25519.pem")
log "ringmail: the message set ($messages corpus messages, our signatures)"
env "${bench_env[@]}" "$bench" --export="$work/set" --benchmark_filter='^$' >"$work/export.out" 2>&1 ||
  { cat "$work/export.out" >&2; die "dkim_bench --export failed"; }
set_size=$(find "$work/set/plain" -name '*.eml' | wc -l)
((set_size > 0)) || die "dkim_bench exported no messages"
plain=("$work"/set/plain/*.eml)
rsa_set=("$work"/set/rsa/*.eml)
ed_set=("$work"/set/ed25519/*.eml)

# One dkim_bench run (its six benchmarks, `passes` passes each), rows for round $1.
round_ringmail() {
  env "${bench_env[@]}" "$bench" --benchmark_format=json --benchmark_out="$work/ringmail-$1.json" \
    --benchmark_out_format=json >"$work/ringmail.out" 2>&1 || { cat "$work/ringmail.out" >&2; die "dkim_bench failed"; }
  # name, cpu_time (µs per iteration = per message), the failed counter; -1: an error
  /usr/bin/python3 - "$work/ringmail-$1.json" "$1" "$set_size" >>"$results" <<'EOF'
import json, sys
for b in json.load(open(sys.argv[1]))["benchmarks"]:
    op, alg = b["name"].split("/")[:2]
    failed = int(b.get("failed", 0)) if not b.get("error_occurred") else -1
    print(f"ringmail\t{op}\t{alg}\t{sys.argv[2]}\t{b['cpu_time']:.1f}\t{sys.argv[3]}\t{failed}")
EOF
}

# ---------------------------------------------------------------- OpenDKIM
round_opendkim() {
  local alg key selector n failed us
  for alg in rsa-2048 ed25519; do
    key=${alg%-2048}
    selector=$([[ $key == rsa ]] && echo rsa || echo ed)
    read -r _ n failed us < <("$work/opendkim_bench" sign "$key" "$work/$key.pem" "$selector" "$domain" "$passes" "${plain[@]}")
    printf 'opendkim\tsign\t%s\t%s\t%s\t%s\t%s\n' "$alg" "$1" "$us" "$n" "$failed" >>"$results"
  done
  read -r _ n failed us < <("$work/opendkim_bench" verify "$work/set/keys.txt" "$passes" "${rsa_set[@]}")
  printf 'opendkim\tverify\trsa-2048\t%s\t%s\t%s\t%s\n' "$1" "$us" "$n" "$failed" >>"$results"
  read -r _ n failed us < <("$work/opendkim_bench" verify "$work/set/keys.txt" "$passes" "${ed_set[@]}")
  printf 'opendkim\tverify\ted25519\t%s\t%s\t%s\t%s\n' "$1" "$us" "$n" "$failed" >>"$results"
}

if [[ " $engines " == *" opendkim "* && ! -f /usr/include/opendkim/dkim.h ]]; then
  log "opendkim: libopendkim-dev missing (scripts/install-deps.sh); skipped"
  engines=${engines//opendkim/}
elif [[ " $engines " == *" opendkim "* ]]; then
  read -ra opendkim_flags < <(pkg-config --cflags --libs opendkim)
  cc -O2 -o "$work/opendkim_bench" "$here/opendkim_bench.c" "${opendkim_flags[@]}"
fi

# ---------------------------------------------------------------- rspamd
clk_tck=$(getconf CLK_TCK)
user_args=()
if [[ $(id -u) -eq 0 ]]; then user_args=(-u _rspamd -g _rspamd); fi

# start_rspamd NAME DNS_PORT [dkim_signing section]: rspamd_pids[NAME], rspamd_ports[NAME]
declare -A rspamd_pids rspamd_ports
start_rspamd() {
  local name=$1 dns_port=$2 signing=${3:-} dir=$work/rspamd-$1 rspamd_port
  mkdir -p "$dir/run" "$dir/db" "$dir/log"
  rspamd_port=$(free_port) || die "no free port"
  rspamd_ports[$name]=$rspamd_port
  cat >"$dir/rspamd.conf" <<EOF
# bench/dkim: the dkim modules alone. Lua modules without a section here are disabled
# ("disabling unconfigured lua module"); no rules file is loaded.
options {
  pidfile = "\$RUNDIR/rspamd.pid";
  filters = "dkim";
  dns { nameserver = ["$bench_host:$dns_port"]; timeout = 1s; retransmits = 1; }
}
logging { type = "file"; filename = "\$LOGDIR/rspamd.log"; level = "warning"; }
worker "normal" { bind_socket = "$bench_host:$rspamd_port"; count = 1; }
modules { path = "\${PLUGINSDIR}"; }
# rspamc sends 127.0.0.1 as the client: check local mail too.
dkim { check_local = true; check_authed = true; }
$signing
EOF
  if ((${#user_args[@]})); then chown -R _rspamd:_rspamd "$dir/run" "$dir/db" "$dir/log"; fi
  rspamd -f -c "$dir/rspamd.conf" "${user_args[@]}" --var="DBDIR=$dir/db" --var="RUNDIR=$dir/run" \
    --var="LOGDIR=$dir/log" >"$dir/rspamd.out" 2>&1 &
  rspamd_pids[$name]=$!
  daemons+=("$!")
  wait_port "$rspamd_port" 180 || { tail -n 20 "$dir/rspamd.out" "$dir/log/rspamd.log" >&2; die "rspamd ($name) did not come up"; }
}

# measure NAME ROUND OP ALG SYMBOL FILES...: rspamc over FILES (RSPAMD_PASSES times)
# against instance NAME; appends the row (failed = messages without SYMBOL per pass).
measure() {
  local name=$1 round=$2 op=$3 alg=$4 symbol=$5 t0 t1 i hits us
  local pid=${rspamd_pids[$1]} port=${rspamd_ports[$1]} out=$work/rspamd-$1-$3-$4.out
  shift 5
  # Warm-up: Lua, the key (first DNS lookup / key load), the worker's caches.
  rspamc -h "$bench_host:$port" -i 127.0.0.1 "${@:1:20}" >/dev/null
  t0=$(tree_ticks "$pid")
  : >"$out"
  for ((i = 0; i < rspamd_passes; i++)); do
    rspamc -h "$bench_host:$port" -i 127.0.0.1 -n 4 "$@" >>"$out"
  done
  t1=$(tree_ticks "$pid")
  kill -0 "$pid" 2>/dev/null || die "rspamd ($name) died; see $work/rspamd-$name"
  hits=$(grep -c "Symbol: $symbol " "$out" || true)
  us=$(awk -v d=$((t1 - t0)) -v hz="$clk_tck" -v n=$(($# * rspamd_passes)) 'BEGIN { printf "%.1f", d / hz * 1e6 / n }')
  printf 'rspamd\t%s\t%s\t%s\t%s\t%s\t%s\n' "$op" "$alg" "$round" "$us" "$#" $((($# * rspamd_passes - hits) / rspamd_passes)) >>"$results"
}

have_all() {
  local t
  for t in "$@"; do command -v "$t" >/dev/null || return 1; done
}
if [[ " $engines " == *" rspamd "* ]] && ! have_all rspamd rspamc dnsmasq; then
  # Not in install-deps.sh: the rspamd package starts a system service when installed.
  log "rspamd: rspamd, rspamc or dnsmasq missing (apt-get install rspamd dnsmasq-base); skipped"
  engines=${engines//rspamd/}
elif [[ " $engines " == *" rspamd "* ]]; then
  dns_port=$(free_port) || die "no free port"
  txt_args=()
  while read -r name value; do
    pieces=""
    # 255-byte character-strings, comma-separated; no quotes: on dnsmasq's command line
    # (unlike in its config file) they would stay in the record.
    for ((i = 0; i < ${#value}; i += 255)); do pieces+=",${value:i:255}"; done
    txt_args+=("--txt-record=$name$pieces")
  done <"$work/set/keys.txt"
  dnsmasq --keep-in-foreground --no-resolv --no-hosts --no-poll --conf-file=/dev/null \
    --port="$dns_port" --listen-address="$bench_host" --bind-interfaces --cache-size=0 \
    --local=/$domain/ --user="$(id -un)" --pid-file= "${txt_args[@]}" >"$work/dnsmasq.log" 2>&1 &
  daemons+=("$!")

  log "rspamd: three instances (verify: keys from dnsmasq on port $dns_port; sign RSA; sign Ed25519)"
  start_rspamd verify "$dns_port"
  for key in rsa ed25519; do
    selector=$([[ $key == rsa ]] && echo rsa || echo ed)
    start_rspamd "sign-$key" "$dns_port" "dkim_signing {
  sign_local = true; sign_authenticated = false; allow_username_mismatch = true;
  allow_hdrfrom_mismatch = true; allow_hdrfrom_multiple = true; try_fallback = false;
  use_esld = false; use_domain = \"$domain\";
  domain { \"$domain\" { selector = \"$selector\"; path = \"$work/$key.rspamd\"; } }
}"
  done
fi

round_rspamd() {
  measure verify "$1" baseline none R_DKIM_NA "${plain[@]}"
  measure verify "$1" verify rsa-2048 R_DKIM_ALLOW "${rsa_set[@]}"
  measure verify "$1" verify ed25519 R_DKIM_ALLOW "${ed_set[@]}"
  measure sign-rsa "$1" sign rsa-2048 DKIM_SIGNED "${plain[@]}"
  measure sign-ed25519 "$1" sign ed25519 DKIM_SIGNED "${plain[@]}"
}

# ---------------------------------------------------------------- the rounds
# Every round runs every engine once, so that each round's figures (and the per-round
# ratios the table takes) share the machine's load of that minute.
for ((round = 0; round < rounds; round++)); do
  log "round $((round + 1))/$rounds: $engines"
  for engine in $engines; do "round_$engine" "$round"; done
done

# ---------------------------------------------------------------- table
commit=${BENCH_COMMIT:-$(git_commit "$repo")}
echo "Run: date=$(date -u +%Y-%m-%dT%H:%M:%SZ) commit=$commit messages=$set_size rounds=$rounds passes=$passes rspamd_passes=$rspamd_passes"
echo "Machine: $(nproc) CPUs, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/python3 "$here/table.py" "$results"

