#!/usr/bin/env bash
# Runs the corpus checker over the SpamAssassin public corpus (about 6,000 real messages).
# The corpus lives in $RINGMAIL_CORPUS or <source>/build/corpus (scripts/fetch-corpus.sh);
# when it is absent the test is skipped (77), since CI fetches it in scripts/test.sh.
set -euo pipefail
checker=$1
source_dir=$2
corpus=${RINGMAIL_CORPUS:-$source_dir/build/corpus}
if [ ! -d "$corpus/spam-2" ]; then
  echo "corpus not found at $corpus (run scripts/fetch-corpus.sh): skipped"
  exit 77
fi
"$checker" "$corpus"/easy-ham-1 "$corpus"/easy-ham-2 "$corpus"/hard-ham-1 "$corpus"/spam-1 "$corpus"/spam-2
