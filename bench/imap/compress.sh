#!/usr/bin/env bash
# COMPRESS=DEFLATE (RFC 4978, issue 11): bytes on the wire for a full mbsync (Debian's
# isync 1.4, which uses COMPRESS=DEFLATE whenever the server offers it) of the SpamAssassin
# corpus folder from ringmail, with and without compression.
#
# The corpus (build/corpus/<dirs>, scripts/fetch-corpus.sh) is copied into one folder,
# "corpus", of john@example.org's Maildir; `ringmail serve` indexes it on first use. mbsync
# pulls it over IMAPS through a TCP proxy here that counts the bytes each way (TLS records
# included: compression sits under TLS, so this is what a phone pays). The same pull runs
# twice on the same server data: once with --imap_compress=true (the default) and once
# with --imap_compress=false (mbsync has no switch to turn COMPRESS off; the server then
# does not offer it). Each pull starts from an empty local Maildir and sync state.
#
# Usage: bench/imap/compress.sh [RINGMAIL RINGMAIL_ADMIN]
#   CORPUS_DIRS="easy-ham-1 easy-ham-2 hard-ham-1 spam-1 spam-2" (default: all five)
#   RUNS=1 pulls per mode (the byte counts do not vary; time does)
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"
ringmail="$(readlink -f "${1:-build/release/tools/ringmail/ringmail}")"
admin="$(readlink -f "${2:-build/release/tools/ringmail-admin/ringmail-admin}")"
corpus_dirs=${CORPUS_DIRS:-"easy-ham-1 easy-ham-2 hard-ham-1 spam-1 spam-2"}
runs=${RUNS:-1}
command -v mbsync >/dev/null || { echo "mbsync not found (apt-get install isync)"; exit 77; }
[ -d build/corpus ] || { echo "no build/corpus: run scripts/fetch-corpus.sh"; exit 77; }

work="$(mktemp -d)"
server_pid=""
proxy_pid=""
cleanup() {
  for p in "$proxy_pid" "$server_pid"; do
    if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null || true; fi
  done
  if [ -n "${KEEP_WORK:-}" ]; then echo "work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

data="$work/data"
"$admin" --data_dir="$data" domain add example.org >/dev/null
echo "pw-john" | "$admin" --data_dir="$data" user add john@example.org >/dev/null
md="$data/vmail/example.org/john/Maildir/.corpus"
mkdir -p "$md/cur" "$md/new" "$md/tmp" "$data/vmail/example.org/john/Maildir/"{cur,new,tmp}
n=0
bytes=0
for d in $corpus_dirs; do
  for f in build/corpus/"$d"/*; do
    n=$((n + 1))
    cp "$f" "$md/cur/$((1700000000 + n)).M${n}P1.corpus:2,S"
  done
done
bytes=$(du -sb "$md/cur" | cut -f1)
echo "corpus: $n messages, $bytes bytes in $(echo "$corpus_dirs" | wc -w) folders of build/corpus"

read -r imaps_port proxy_port < <(python3 -c '
import socket
s=[socket.socket() for _ in range(2)]
[x.bind(("127.0.0.1",0)) for x in s]
print(*(x.getsockname()[1] for x in s))')

start_server() {  # $1: true|false for --imap_compress
  "$ringmail" serve --spam_scan=false --data_dir="$data" --shards=2 --smtp_port=0 --lmtp_port=0 \
    --imap_port=0 --imaps_port="$imaps_port" --pop3_port=0 --pop3s_port=0 --submission_port=0 --submissions_port=0 --listen_address=127.0.0.1 --hostname=mx.test \
    --imap_compress="$1" --log_level=warn 2>"$work/server-$1.log" &
  server_pid=$!
  for _ in $(seq 1 200); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $imaps_port), timeout=0.2)" 2>/dev/null && return
    sleep 0.05
  done
  echo "server did not start"; tail "$work/server-$1.log"; exit 1
}
# The server's user + system CPU time so far, in clock ticks (the machine may be shared:
# wall time is noisy, CPU time much less).
server_cpu() { awk '{print $14 + $15}' "/proc/$server_pid/stat"; }
stop_server() { kill -TERM "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""; }

# The byte-counting proxy: totals per direction written to $work/proxy.counts on SIGTERM
# and after each connection closes.
cat >"$work/proxy.py" <<'EOF'
import asyncio, signal, sys
listen, target, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
tot = {"c2s": 0, "s2c": 0}
def dump():
    open(out, "w").write(f"{tot['c2s']} {tot['s2c']}\n")
async def pump(r, w, key):
    try:
        while True:
            b = await r.read(65536)
            if not b:
                break
            tot[key] += len(b)
            w.write(b)
            await w.drain()
    except ConnectionError:
        pass
    finally:
        w.close()
async def handle(cr, cw):
    sr, sw = await asyncio.open_connection("127.0.0.1", target)
    await asyncio.gather(pump(cr, sw, "c2s"), pump(sr, cw, "s2c"))
    dump()
async def main():
    srv = await asyncio.start_server(handle, "127.0.0.1", listen)
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, lambda: (dump(), sys.exit(0)))
    async with srv:
        await srv.serve_forever()
asyncio.run(main())
EOF

pull() {  # $1: label
  local lw="$work/pull-$1"
  rm -rf "$lw"
  mkdir -p "$lw/local" "$lw/state"
  python3 -c "import ssl; open('$lw/cert.pem','w').write(ssl.get_server_certificate(('127.0.0.1', $imaps_port)))"
  cat >"$lw/mbsyncrc" <<EOF
IMAPAccount srv
Host 127.0.0.1
Port $proxy_port
User john@example.org
Pass "pw-john"
SSLType IMAPS
CertificateFile $lw/cert.pem
PipelineDepth 50

IMAPStore srv
Account srv

MaildirStore local
Path $lw/local/
SubFolders Verbatim

Channel ch
Far :srv:corpus
Near :local:corpus
Create Near
Sync Pull
SyncState $lw/state/
EOF
  python3 "$work/proxy.py" "$proxy_port" "$imaps_port" "$lw/counts" &
  proxy_pid=$!
  for _ in $(seq 1 100); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $proxy_port), timeout=0.2).close()" 2>/dev/null && break
    sleep 0.1
  done
  local t0 t1 cpu0 cpu1
  cpu0=$(server_cpu)
  t0=$(date +%s.%N)
  /usr/bin/time -f "%U %S" -o "$lw/mbsync.cpu" mbsync -c "$lw/mbsyncrc" -q -a
  t1=$(date +%s.%N)
  cpu1=$(server_cpu)
  kill -TERM "$proxy_pid"; wait "$proxy_pid" 2>/dev/null || true; proxy_pid=""
  local got
  got=$(find "$lw/local/corpus/cur" "$lw/local/corpus/new" -type f | wc -l)
  read -r c2s s2c <"$lw/counts"
  local mu ms
  read -r mu ms <"$lw/mbsync.cpu"
  printf '%-14s messages=%s client->server=%s server->client=%s seconds=%.1f server_cpu_s=%.2f mbsync_cpu_s=%.2f\n' \
    "$1" "$got" "$c2s" "$s2c" "$(echo "$t1 - $t0" | bc -l)" "$(echo "($cpu1 - $cpu0) / $(getconf CLK_TCK)" | bc -l)" \
    "$(echo "$mu + $ms" | bc -l)"
  [ "$got" -eq "$n" ] || { echo "mbsync pulled $got of $n messages"; exit 1; }
}

for mode in true false; do
  start_server "$mode"
  for r in $(seq 1 "$runs"); do
    if [ "$mode" = true ]; then pull "compress-$r"; else pull "plain-$r"; fi
  done
  stop_server
done
echo "ringmail: $(cd "$root" && git rev-parse --short HEAD) ($ringmail); mbsync: $(mbsync --version)"
