# shellcheck shell=bash
# Sourced by the bench scripts: the process, port and CPU helpers bench/smtp, bench/pop3
# and bench/imap each carry a copy of (new scripts source this instead of copying again).
#
#   bench_name=NAME                  set before sourcing: the prefix of die's message
#   bench_host (127.0.0.1)           the loopback address every bench listens on
#   log MESSAGE...                   "[HH:MM:SS] MESSAGE" on stderr
#   die MESSAGE...                   "NAME: MESSAGE" on stderr, exit 1
#   stop_pid PID                     TERM, then KILL after 10 s
#   pid_from FILE                    the digits of a pid file (fails if empty/missing)
#   wait_pid_file FILE               prints the pid once FILE names a live process (10 s)
#   free_port                        a port in 20000-31999 nobody listens on, never the
#                                    same twice in one script (call it in the main shell:
#                                    it remembers ports in $bench_used_ports)
#   wait_port PORT SECONDS           until something accepts on $bench_host:PORT
#   tree_ticks PID                   utime+stime+cutime+cstime (clock ticks) of PID and
#                                    every descendant: covers children that exited and
#                                    were reaped, as long as PID lives through both readings
#   children_cpu VARIABLE            CPU seconds (user+sys) of this shell's reaped children
#                                    (bash `times`; call it in the main shell, not in $( ))
#   require_real_disk DIR            dies if DIR is on tmpfs/ramfs, where fsync is free
#   git_commit SRC                   short HEAD of the checkout, "+dirty" with tracked changes
bench_name=${bench_name:-bench}
bench_host=${bench_host:-127.0.0.1}
bench_used_ports=" "

log() { echo "[$(date +%T)] $*" >&2; }

die() {
  echo "$bench_name: $*" >&2
  exit 1
}

stop_pid() {
  local pid=$1 i
  [[ -n $pid ]] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}

pid_from() { [[ -s $1 ]] && tr -dc 0-9 <"$1"; }

wait_pid_file() {
  local i pid
  for ((i = 0; i < 200; i++)); do
    pid=$(pid_from "$1" || true)
    if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
      echo "$pid"
      return 0
    fi
    sleep 0.05
  done
  return 1
}

free_port() {
  local port i
  for ((i = 0; i < 100; i++)); do
    port=$((20000 + RANDOM % 12000))
    [[ $bench_used_ports == *" $port "* ]] && continue
    if [[ -z $(ss -Htln "sport = :$port" 2>/dev/null) ]] &&
       ! (exec 3<>"/dev/tcp/$bench_host/$port") 2>/dev/null; then
      bench_used_ports+="$port "
      echo "$port"
      return 0
    fi
  done
  return 1
}

wait_port() {
  local port=$1 limit=$2 i
  for ((i = 0; i < limit * 20; i++)); do
    (exec 3<>"/dev/tcp/$bench_host/$port") 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

tree_ticks() {
  # cat fails for processes that exit between the glob and the read; that is expected.
  { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v root="$1" '
    {
      pid = $1
      line = $0
      sub(/^.*\) /, "", line)
      split(line, f, " ")
      ppid[pid] = f[2]
      ticks[pid] = f[12] + f[13] + f[14] + f[15]
    }
    END {
      total = 0
      for (p in ticks) {
        q = p
        for (depth = 0; depth < 64 && q != "" && q != 0 && q != 1; depth++) {
          if (q == root) { total += ticks[p]; break }
          q = ppid[q]
        }
      }
      print total
    }'
}

children_cpu() {
  local file
  file=$(mktemp)
  times >"$file"
  printf -v "$1" '%s' "$(tail -n 1 "$file" | awk '{ t = 0; for (i = 1; i <= 2; i++) { split($i, p, /[ms]/); t += p[1] * 60 + p[2] }; printf "%.3f", t }')"
  rm -f "$file"
}

require_real_disk() {
  local fstype
  fstype=$(stat -f -c %T "$1")
  [[ $fstype != tmpfs && $fstype != ramfs ]] ||
    die "$1 is $fstype: fsync would cost nothing there; set BENCH_DIR to a directory on a real disk"
}

git_commit() {
  local c
  c=$(git -C "$1" rev-parse --short HEAD 2>/dev/null || echo unknown)
  [[ $c != unknown && -n $(git -C "$1" status --porcelain --untracked-files=no 2>/dev/null) ]] && c+="+dirty"
  echo "$c"
}
