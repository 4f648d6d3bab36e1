#!/usr/bin/env bash
# Mail store, side by side with Dovecot 2.3 on copies of the same 100,000-message Maildir:
# folder open (first and steady-state, cold and warm page cache) and flag changes per
# second. Prints a Markdown table with the commit it was measured at.
#
#   bench/mailstore/run.sh [build_dir] [messages]      (defaults: build/release 100000)
#
# Needs: root (Dovecot's private instance and drop_caches), dovecot-core and
# dovecot-imapd (apt-get install -y dovecot-core dovecot-imapd), python3. The build dir
# needs the targets ringmail-admin and mailstore_bench. Work files go to
# $MAILSTORE_BENCH_DIR (default /tmp/ringmail-mailstore-bench): the generated Maildir is
# kept there and reused (make_maildir.py is deterministic), everything else is fresh.
# Details and caveats: bench/mailstore/README.md.
set -euo pipefail
src="$(cd "$(dirname "$0")/../.." && pwd)"
build="$(cd "${1:-build/release}" && pwd)"
messages=${2:-100000}
changes=${CHANGES:-1000}
work=${MAILSTORE_BENCH_DIR:-/tmp/ringmail-mailstore-bench}
admin="$build/tools/ringmail-admin/ringmail-admin"
bench="$build/bench/mailstore/mailstore_bench"
user=u@example.org
for b in "$admin" "$bench"; do [[ -x $b ]] || { echo "missing $b (ninja -C $build ringmail-admin mailstore_bench)" >&2; exit 2; }; done
command -v doveadm >/dev/null || { echo "dovecot missing: apt-get install -y dovecot-core dovecot-imapd" >&2; exit 2; }

mkdir -p "$work"
pristine="$work/pristine-$messages/Maildir"
if [[ ! -d $pristine/cur ]]; then
  echo "generating $messages messages in $pristine ..." >&2
  rm -rf "$work/pristine-$messages"
  python3 "$src/bench/mailstore/make_maildir.py" "$pristine" --messages "$messages"
fi

# Cold cache: the whole page cache, dentries and inodes dropped (needs root in a VM/host
# that allows it; inside an unprivileged container it fails and cold figures are n/a).
can_drop=no
if sync && echo 3 >/proc/sys/vm/drop_caches 2>/dev/null; then can_drop=yes; fi
drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }

# Wall seconds of one command (stdout kept in $work/last.out).
timed() {
  local t0 t1
  t0=$(date +%s.%N)
  "$@" >"$work/last.out" 2>>"$work/stderr.log"
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc -l | xargs printf '%.3f'
}
median() { tr ' ' '\n' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# first | warm steady (median of 5) | cold steady (median of 3) for a command.
open_series() {
  local first warm=() cold=()
  [[ $can_drop == yes ]] && drop
  first=$(timed "$@")
  for i in 1 2 3 4 5; do warm+=("$(timed "$@")"); done
  if [[ $can_drop == yes ]]; then
    for i in 1 2 3; do drop; cold+=("$(timed "$@")"); done
  fi
  echo "$first $(echo "${warm[*]}" | median) $( [[ $can_drop == yes ]] && echo "${cold[*]}" | median || echo n/a)"
}

# ---- ringmail: a data dir with one user, the Maildir copied in ---------------------------
rm -rf "$work/ringmail" "$work/dovecot"
rdata="$work/ringmail/data"
"$admin" --data_dir="$rdata" domain add example.org >/dev/null
echo bench-pw | "$admin" --data_dir="$rdata" user add "$user" >/dev/null
mkdir -p "$rdata/vmail/example.org/u"
cp -a "$pristine" "$rdata/vmail/example.org/u/Maildir"

# ---- Dovecot: a private instance (no listeners), static userdb, its own copy ------------
# Dovecot refuses mail access as uid 0, so its copy belongs to nobody (65534).
d="$work/dovecot"
mkdir -p "$d/run" "$d/state" "$d/vmail/example.org/u"
cat >"$d/dovecot.conf" <<EOF
base_dir = $d/run
state_dir = $d/state
log_path = $d/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
first_valid_uid = 1
mail_uid = 65534
mail_gid = 65534
mail_location = maildir:$d/vmail/%d/%n/Maildir
passdb {
  driver = static
  args = password=bench-pw
}
userdb {
  driver = static
  args = uid=65534 gid=65534 home=$d/vmail/%d/%n
}
service imap-login {
  inet_listener imap {
    port = 0
  }
  inet_listener imaps {
    port = 0
  }
}
EOF
# The same with maildir_very_dirty_syncs (Dovecot's documented speed-up for a Maildir only
# Dovecot changes: trust the index instead of rescanning cur/ after its own renames).
printf '!include %s\nmaildir_very_dirty_syncs = yes\n' "$d/dovecot.conf" >"$d/dovecot-vds.conf"
cp -a "$pristine" "$d/vmail/example.org/u/Maildir"
chown -R 65534:65534 "$d/vmail"
dovecot -c "$d/dovecot.conf"
trap 'doveadm -c "$d/dovecot.conf" stop >/dev/null 2>&1 || true' EXIT
sleep 1
dovecot_version=$(dovecot --version)

status_items="messages unseen uidnext uidvalidity highestmodseq vsize"
echo "open: ringmail-admin mailbox status ..." >&2
read -r r_first r_warm r_cold < <(open_series "$admin" --data_dir="$rdata" mailbox status "$user" INBOX)
r_line=$(cat "$work/last.out")
echo "open: doveadm mailbox status ..." >&2
# mailbox_list_index=no: otherwise doveadm answers STATUS from dovecot.list.index and never
# opens the folder (a cache ringmail does not have; see README).
read -r d_first d_warm d_cold < <(open_series doveadm -c "$d/dovecot.conf" -o mailbox_list_index=no mailbox status -u "$user" "$status_items" INBOX)
d_line=$(cat "$work/last.out")
echo "open: IMAP SELECT in dovecot's imap ..." >&2
select_cmd() { printf 'a SELECT INBOX\r\nb LOGOUT\r\n' | doveadm -c "$d/dovecot.conf" exec imap -u "$user"; }
read -r s_first s_warm s_cold < <(open_series select_cmd)
echo "open: mailstore_bench (in-process) ..." >&2
inproc=()
for i in 1 2 3 4 5; do
  inproc+=("$("$bench" --mail_root="$rdata/vmail" --address="$user" --mode=open | sed -n 's/^ringmail_open_seconds=\([0-9.]*\).*/\1/p')")
done
r_inproc=$(echo "${inproc[*]}" | median)

echo "flags: ringmail mailbox::store, fsync on ..." >&2
"$bench" --mail_root="$rdata/vmail" --address="$user" --mode=flags --changes="$changes" --range_size=10000 >"$work/rflags.txt"
echo "flags: ringmail mailbox::store, fsync off ..." >&2
# range_size 20000: the top 10000 were flagged by the run before (skipped again).
"$bench" --mail_root="$rdata/vmail" --address="$user" --mode=flags --fsync=false --changes="$changes" --range_size=20000 >"$work/rflags-nofsync.txt"
echo "flags: Dovecot IMAP STORE ..." >&2
python3 "$src/bench/mailstore/imap_flags.py" --changes "$changes" --range-size 10000 -- \
  doveadm -c "$d/dovecot.conf" exec imap -u "$user" >"$work/dflags.txt" 2>>"$work/stderr.log"
echo "flags: Dovecot IMAP STORE, maildir_very_dirty_syncs=yes ..." >&2
python3 "$src/bench/mailstore/imap_flags.py" --changes "$changes" --range-size 20000 -- \
  doveadm -c "$d/dovecot-vds.conf" exec imap -u "$user" >"$work/dflags-vds.txt" 2>>"$work/stderr.log"

get() { sed -n "s/^.*$2=\([0-9.]*\).*/\1/p" "$work/$1" | head -1; }
ratio() { if [[ $1 == n/a || $2 == n/a ]]; then echo n/a; else echo "$1 / $2" | bc -l | xargs printf '%.1fx'; fi; }

# BENCH_COMMIT: the commit a snapshot (git archive) was built from, when $src is not a checkout.
commit=${BENCH_COMMIT:-$(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo unknown)}
dirty=$([[ -z ${BENCH_COMMIT:-} ]] && git -C "$src" status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo " (+ uncommitted changes)" || true)
echo
echo "Run: date=$(date -u +%Y-%m-%dT%H:%M:%SZ), commit=$commit$dirty, messages=$messages, host_cpus=$(nproc), kernel=$(uname -r), dovecot=$dovecot_version, cold_cache=$can_drop"
echo
echo "ringmail: $r_line"
echo "Dovecot:  $d_line"
echo
echo "### Open (wall seconds per process; lower is better; ratio = Dovecot / ringmail, >1 means ringmail faster)"
echo
echo "| measurement | ringmail-admin mailbox status | doveadm mailbox status | ratio | Dovecot IMAP SELECT (exec imap) | ratio |"
echo "|---|---:|---:|---:|---:|---:|"
echo "| first open (builds the index), cold | $r_first | $d_first | $(ratio "$d_first" "$r_first") | $s_first | $(ratio "$s_first" "$r_first") |"
echo "| steady state, warm (median of 5) | $r_warm | $d_warm | $(ratio "$d_warm" "$r_warm") | $s_warm | $(ratio "$s_warm" "$r_warm") |"
echo "| steady state, cold (median of 3) | $r_cold | $d_cold | $(ratio "$d_cold" "$r_cold") | $s_cold | $(ratio "$s_cold" "$r_cold") |"
echo
echo "ringmail in-process open (mailstore_bench, warm, median of 5, no process start): ${r_inproc} s"
echo
echo "### Flag changes per second (+\\Flagged; higher is better; ratio = ringmail / Dovecot)"
echo
echo "| shape | ringmail (fsync) | ringmail (no fsync) | Dovecot | Dovecot very_dirty_syncs | ratio fsync vs Dovecot | ratio no-fsync vs Dovecot vds |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for shape in single conc range; do
  a=$(get rflags.txt "ringmail_flags_${shape}_per_second"); b=$(get rflags-nofsync.txt "ringmail_flags_${shape}_per_second")
  c=$(get dflags.txt "dovecot_flags_${shape}_per_second"); e=$(get dflags-vds.txt "dovecot_flags_${shape}_per_second")
  echo "| $shape | $a | $b | $c | $e | $(ratio "$a" "$c") | $(ratio "$b" "$e") |"
done
echo
echo "single: one UID per call/command, waiting for each; conc: $changes changes with 16 in flight (ringmail: 16 concurrent store() calls; Dovecot: 16 pipelined commands in one session); range: one call/command over the top UIDs (~10,000 changes)."
