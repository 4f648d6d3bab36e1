#!/usr/bin/env bash
# Side-by-side echo benchmark: the ringmail runtime's echo server against the
# classic epoll baseline, same client, same sizes, 1 and then 2 shards/threads.
#
#   bench/echo/run.sh [build_dir]          (default build/release)
#
# Environment:
#   SECONDS_PER_RUN (10)  measured seconds per client run
#   WARMUP (1)            unmeasured seconds before that
#   CONNS (100)           connections, one client thread each
#   SIZES ("64 4096")     message sizes in bytes
#   REPEATS (3)           runs per cell; the table shows the median by requests/s
#   CLIENT_CPUS ("")      taskset list for the client; empty leaves it unpinned
#
# Targets from the issue: ringmail >= 1.2x epoll at 64 B with 1 shard, and
# near-linear from 1 to 2 shards.
#
# Servers are pinned: cpu 0 for 1 shard/thread, cpus 0-1 for 2. The client is
# not pinned by default: on small VMs, a client pinned to another vCPU made
# every round trip a cross-vCPU wake-up and the same binary swung between 14k
# and 150k requests/s from run to run. With CLIENT_CPUS on a host with spare
# cores the client stays off the server's cores.
#
# Repeats alternate epoll and ringmail so drift on the host hits both alike.
# The "server CPU" column (whole client run, % of one core) says whether the
# server was the bottleneck: well below 100% per core means the client was,
# and the ratio then understates the difference. Loopback only.

set -euo pipefail

build=${1:-build/release}
seconds=${SECONDS_PER_RUN:-10}
warmup=${WARMUP:-1}
conns=${CONNS:-100}
sizes=${SIZES:-"64 4096"}
repeats=${REPEATS:-3}
client_cpus=${CLIENT_CPUS:-}
host=127.0.0.1

find_bin() {
  local name=$1 dir
  for dir in "$build/bench/echo" "$build"; do
    if [[ -x $dir/$name ]]; then
      echo "$dir/$name"
      return 0
    fi
  done
  return 1
}

epoll_bin=$(find_bin epoll_echo_server) || {
  echo "epoll_echo_server not found under $build; build it first:" >&2
  echo "  cmake --build $build --target epoll_echo_server echo_client ringmail_echo_server" >&2
  exit 1
}
client_bin=$(find_bin echo_client) || {
  echo "echo_client not found under $build" >&2
  exit 1
}
ringmail_bin=$(find_bin ringmail_echo_server) || {
  ringmail_bin=""
  echo "note: ringmail_echo_server not found under $build; running the baseline only" >&2
}
servers=(epoll)
[[ -n $ringmail_bin ]] && servers+=(ringmail)

ncpu=$(nproc)
clk_tck=$(getconf CLK_TCK)
logdir=$(mktemp -d "${TMPDIR:-/tmp}/ringmail-echo.XXXXXX")

server_pid=""
client_pid=""

stop_server() {
  [[ -n $server_pid ]] || return 0
  local pid=$server_pid i
  server_pid=""
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

keep_logs=0

# shellcheck disable=SC2317  # reached through the trap below
cleanup() {
  if [[ -n $client_pid ]]; then
    kill -TERM "$client_pid" 2>/dev/null || true
    wait "$client_pid" 2>/dev/null || true
  fi
  stop_server
  ((keep_logs)) || rm -rf "$logdir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A port nobody listens on, below the default ephemeral range (32768-60999) so
# the client's own connections cannot take it.
free_port() {
  local port i
  for ((i = 0; i < 100; i++)); do
    port=$((20000 + RANDOM % 12000))
    if [[ -z $(ss -Htln "sport = :$port" 2>/dev/null) ]] &&
       ! (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  return 1
}

# Waits (at most 10 s) until the server said "ready" and the port accepts.
wait_ready() {
  local port=$1 log=$2 i
  for ((i = 0; i < 200; i++)); do
    kill -0 "$server_pid" 2>/dev/null || return 1
    if grep -qs ready "$log" && (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then
      return 0
    fi
    sleep 0.05
  done
  return 1
}

# utime + stime of the whole process (all threads), in clock ticks.
cpu_ticks() {
  local stat rest
  stat=$(<"/proc/$1/stat") || return 1
  rest=${stat##*) }
  local -a f
  read -ra f <<<"$rest"
  echo $((f[11] + f[12]))
}

# Runs command words after "--", pinned to the cpu list $1 if it is not empty.
pinned() {
  local cpus=$1
  shift 2
  if [[ -n $cpus ]]; then
    exec taskset -c "$cpus" "$@"
  fi
  exec "$@"
}

# Results by "server:n:size:repeat", then the median copied to "server:n:size".
declare -A rps p50 p99 cpu note
failed=0

# run_one SERVER N SIZE REPEAT SERVER_CPUS
run_one() {
  local server=$1 n=$2 size=$3 r=$4 server_cpus=$5
  local key="$server:$n:$size:$r" port log out rc=0
  port=$(free_port) || { note[$key]="no free port"; failed=1; return; }
  log="$logdir/$server-$n-$size-$r.log"
  : >"$log"

  local -a cmd
  if [[ $server == epoll ]]; then
    cmd=("$epoll_bin" "--port=$port" "--threads=$n" "--host=$host")
  else
    cmd=("$ringmail_bin" "--port=$port" "--shards=$n")
  fi
  (pinned "$server_cpus" -- "${cmd[@]}") 2>"$log" &
  server_pid=$!
  if ! wait_ready "$port" "$log"; then
    if kill -0 "$server_pid" 2>/dev/null; then
      note[$key]="not ready in 10 s"
    else
      note[$key]="exited before ready"
    fi
    echo "$server n=$n size=$size: ${note[$key]}; log $log:" >&2
    tail -n 5 "$log" >&2 || true
    failed=1
    stop_server
    return
  fi

  local ticks0 ticks1 t0 t1
  ticks0=$(cpu_ticks "$server_pid") || ticks0=0
  t0=$(date +%s%N)
  # In the background so that a signal to this script is handled at once
  # (bash runs traps only between foreground commands, but does interrupt wait).
  (pinned "$client_cpus" -- "$client_bin" "--host=$host" "--port=$port" \
    "--conns=$conns" "--size=$size" "--seconds=$seconds" "--warmup=$warmup") \
    >"$logdir/client.out" &
  client_pid=$!
  wait "$client_pid" || rc=$?
  client_pid=""
  out=$(<"$logdir/client.out")
  t1=$(date +%s%N)
  ticks1=$(cpu_ticks "$server_pid") || ticks1=$ticks0
  stop_server

  echo "$server n=$n repeat=$r: $out" >&2
  local field
  for field in $out; do
    case $field in
      requests_per_sec=*) rps[$key]=${field#*=} ;;
      p50_us=*) p50[$key]=${field#*=} ;;
      p99_us=*) p99[$key]=${field#*=} ;;
      errors=*) [[ ${field#*=} == 0 ]] || note[$key]="errors=${field#*=}" ;;
    esac
  done
  cpu[$key]=$(awk -v d=$((ticks1 - ticks0)) -v hz="$clk_tck" -v ns=$((t1 - t0)) \
    'BEGIN { printf "%.0f", 100 * (d / hz) / (ns / 1e9) }')
  if ((rc != 0)); then
    note[$key]=${note[$key]:-"client exit $rc"}
    failed=1
  fi
}

# Copies the median run (by requests/s) of "server:n:size" to that key.
take_median() {
  local cell=$1 r
  local -a runs=()
  for ((r = 1; r <= repeats; r++)); do
    [[ -n ${rps[$cell:$r]:-} ]] && runs+=("${rps[$cell:$r]} $r")
    [[ -n ${note[$cell:$r]:-} ]] && note[$cell]="${note[$cell:$r]}"
  done
  ((${#runs[@]} > 0)) || return 0
  local -a sorted
  mapfile -t sorted < <(printf '%s\n' "${runs[@]}" | sort -n)
  local pick=${sorted[$(((${#sorted[@]} - 1) / 2))]#* }
  rps[$cell]=${rps[$cell:$pick]}
  p50[$cell]=${p50[$cell:$pick]}
  p99[$cell]=${p99[$cell:$pick]}
  cpu[$cell]=${cpu[$cell:$pick]}
  local -a all=()
  for ((r = 1; r <= repeats; r++)); do all+=("${rps[$cell:$r]:--}"); done
  runs_of[$cell]=$(IFS=/; echo "${all[*]}")
}

declare -A runs_of
cells=()
for n in 1 2; do
  if ((n == 1)); then
    server_cpus=0
  else
    server_cpus=$(if ((ncpu >= 2)); then echo 0-1; fi)
  fi
  for size in $sizes; do
    for ((r = 1; r <= repeats; r++)); do
      for server in "${servers[@]}"; do
        run_one "$server" "$n" "$size" "$r" "$server_cpus"
      done
    done
    for server in "${servers[@]}"; do
      cells+=("$server:$n:$size")
      take_median "$server:$n:$size"
    done
  done
done

ratio() {
  local a=${rps[$1]:-} b=${rps[$2]:-}
  if [[ -n $a && -n $b && $b != 0 ]]; then
    awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2fx", a / b }'
  else
    echo "-"
  fi
}

echo
echo "conns=$conns seconds=$seconds warmup=$warmup repeats=$repeats cpus=$ncpu" \
     "client_cpus=${client_cpus:-any} kernel=$(uname -r)"
echo
echo "| server | shards/threads | size (B) | requests/s | p50 (µs) | p99 (µs) | server CPU % | vs epoll | all runs (req/s) |"
echo "|---|---|---|---|---|---|---|---|---|"
for cell in "${cells[@]}"; do
  IFS=: read -r server n size <<<"$cell"
  vs=$(ratio "$cell" "epoll:$n:$size")
  [[ -n ${note[$cell]:-} ]] && vs="$vs (${note[$cell]})"
  echo "| $server | $n | $size | ${rps[$cell]:--} | ${p50[$cell]:--} | ${p99[$cell]:--}" \
       "| ${cpu[$cell]:--} | $vs | ${runs_of[$cell]:--} |"
done
echo
for server in "${servers[@]}"; do
  for size in $sizes; do
    echo "$server scaling 1->2 at $size B: $(ratio "$server:2:$size" "$server:1:$size")"
  done
done
if [[ -n $ringmail_bin ]]; then
  echo "target: ringmail >= 1.20x epoll at 64 B with 1 shard;" \
       "measured $(ratio "ringmail:1:64" "epoll:1:64")"
fi
if ((failed)); then
  keep_logs=1
  echo "some runs failed; server logs kept in $logdir" >&2
fi
exit "$failed"
