# shellcheck shell=bash
# shellcheck disable=SC2154  # bench_host: bench/lib/common.sh
# Sourced by the bench scripts (after common.sh): Postfix's smtp-sink as the far end of a
# relay benchmark, counting what it receives.
#
#   sink_start PORT OUT          smtp-sink -c on $bench_host:PORT (backlog 1000; as root it
#                                runs as nobody), its counters written to OUT; sets $sink_pid
#   sink_count OUT               messages received so far (the last "mesg=N" smtp-sink -c
#                                printed: it updates its counters at every "." it answers)
#   sink_stop                    stops it
#
# smtp-sink answers every command at once (250 for the final dot, no disk), advertises
# PIPELINING and 8BITMIME and no STARTTLS, and serves every connection from one process.
sink_pid=""

sink_start() {
  local port=$1 out=$2 user=()
  ((EUID == 0)) && user=(-u nobody)
  smtp-sink -c "${user[@]}" "$bench_host:$port" 1000 >"$out" 2>&1 &
  sink_pid=$!
  wait_port "$port" 10
}

sink_count() {
  local n
  n=$(tail -c 300 "$1" 2>/dev/null | tr '\r' '\n' | grep -o 'mesg=[0-9]*' | tail -n 1)
  echo "${n#mesg=}" | awk '{ print $1 + 0 }'
}

sink_stop() {
  [[ -n $sink_pid ]] || return 0
  stop_pid "$sink_pid"
  wait "$sink_pid" 2>/dev/null || true
  sink_pid=""
}
