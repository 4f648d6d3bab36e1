#!/bin/sh
# Runs QueueStoreFullFs.* (tests/delivery/queue_store_test.cc) on a 256 KiB tmpfs mounted
# in a private mount namespace, so the queue meets a real ENOSPC from the kernel rather
# than an injected one. Exits 77 (skipped) where unshare or mount is not permitted.
#   usage: queue_full_fs_test.sh <queue_store_tests binary>
set -eu
bin=$1
dir=$(mktemp -d "${TMPDIR:-/tmp}/ringmail-queue-fullfs-XXXXXX")
trap 'rmdir "$dir" 2>/dev/null || true' EXIT
if ! unshare -m sh -c "mount -t tmpfs -o size=256k ringmail-queue-test '$dir'" 2>/dev/null; then
  echo "skipped: cannot mount a tmpfs in a private mount namespace" >&2
  exit 77
fi
# The mount lives only as long as the namespace: the test runs inside it.
unshare -m sh -c "mount -t tmpfs -o size=256k ringmail-queue-test '$dir' &&
  RINGMAIL_QUEUE_SMALL_FS='$dir' exec '$bin' --gtest_filter='QueueStoreFullFs.*'"
