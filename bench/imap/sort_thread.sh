#!/usr/bin/env bash
# SORT (ARRIVAL), SORT (DATE), SORT (FROM), SORT (SUBJECT) and THREAD=REFERENCES on a
# 100,000-message folder, cold and warm, ringmail against Dovecot 2.3 in the same run
# (issue 11 benchmark; the method is in sort_thread.py's docstring).
#
#   bench/imap/sort_thread.sh [build_dir]      (default build/release)
#
# Needs dovecot-imapd (apt-get install -y dovecot-core dovecot-imapd), python3, the
# SpamAssassin corpus in build/corpus (scripts/fetch-corpus.sh build/corpus) and in
# build_dir the targets ringmail and ringmail-admin. MESSAGES (100000), RUNS (3),
# SHARDS (1), BENCH_DIR (/var/tmp), KEEP (0) as in sort_thread.py.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build/release}
exec python3 "$src/bench/imap/sort_thread.py" "$build/tools/ringmail/ringmail" \
  "$build/tools/ringmail-admin/ringmail-admin" "$src/build/corpus"
