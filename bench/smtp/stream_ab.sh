#!/usr/bin/env bash
# A/B of two ringmail builds on the SMTP receive path (first used for ebcc371: stream.cc before/after),
# alternating, ringmail-load 100 sessions, 20,000 x 5 KiB over 50 users, --shards=2
# --spam_scan=false, same as bench/smtp/run.sh's plain ringmail-load cells.
# Usage: RUNS=N stream_ab.sh RINGMAIL_A RINGMAIL_B RINGMAIL_LOAD RINGMAIL_ADMIN
set -uo pipefail
A=$1 B=$2 LOAD=$3 ADMIN=$4 RUNS=${RUNS:-4}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
users=(); for i in $(seq 1 50); do users+=("user$i@bench.test"); done
port=$((20000 + RANDOM % 20000))
for r in $(seq 1 "$RUNS"); do
  for which in A B; do
    bin=${!which}
    data=$work/data-$which-$r; rm -rf "$data"
    "$ADMIN" --data_dir="$data" domain add bench.test >/dev/null
    for u in "${users[@]}"; do echo pw | "$ADMIN" --data_dir="$data" user add "$u" --scheme=SSHA512 >/dev/null 2>&1; done
    # Every other listener off, as far as this build has it (A and B may differ).
    off=()
    for f in imap_port imaps_port pop3_port pop3s_port submission_port submissions_port; do
      "$bin" serve --helpfull 2>&1 | grep -q -- "--$f " && off+=("--$f=0")
    done
    "$bin" serve "${off[@]}" --lmtp_port=0 --data_dir="$data" --shards=2 --smtp_port=$port \
      --listen_address=127.0.0.1 --hostname=bench.test --log_level=warn --max_connections_per_ip=0 --spam_scan=false \
      >"$work/server-$which-$r.log" 2>&1 &
    pid=$!
    for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
    t0=$(awk '{print $14+$15}' /proc/$pid/stat)
    "$LOAD" --host=127.0.0.1 --port=$port --connections=100 --messages=200 --size=5120 \
      "--recipients=$(IFS=,; echo "${users[*]}")" >/dev/null 2>&1   # warm-up
    t0=$(awk '{print $14+$15}' /proc/$pid/stat); w0=$(date +%s%N)
    "$LOAD" --host=127.0.0.1 --port=$port --connections=100 --messages=20000 --size=5120 \
      "--recipients=$(IFS=,; echo "${users[*]}")" >"$work/load-$which-$r.out" 2>&1
    t1=$(awk '{print $14+$15}' /proc/$pid/stat); w1=$(date +%s%N)
    kill -TERM $pid; wait $pid 2>/dev/null
    n=$(find "$data" -path '*/new/*' -type f | wc -l)
    echo "$which run $r: $(awk -v n=20000 -v ns=$((w1 - w0)) 'BEGIN { printf "%.0f", n / (ns / 1e9) }') msgs/s delivered_files=$n server_cpu_ticks=$((t1 - t0))"
    rm -rf "$data"
  done
done
