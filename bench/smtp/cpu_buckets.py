#!/usr/bin/env python3
"""Buckets `perf script -F comm,sym,dso` call chains of ringmail's server into the stages
of the receive path (bench/smtp/cpu_breakdown.sh describes them) and prints a markdown
table. Each sample goes to the bucket of the innermost frame that names one: a Hyperscan
frame called from the scanner is "scan", an ext4 frame called from the mail store is
"deliver", memcpy or malloc alone decide nothing and the frames above them are asked.
"""

import argparse
import re
import sys

BUCKETS = ["scan", "parse", "deliver", "protocol", "other"]

# (bucket, pattern on the symbol) in order; the first match wins for one frame.
SYMBOL_RULES = [
    ("scan", re.compile(r"ringmail::spam::|ringmail::spam_store::|^hs_|^pcre2_")),
    ("parse", re.compile(r"ringmail::mail::")),
    ("deliver", re.compile(r"ringmail::(mailstore|delivery|sieve|queue|relay|fts)::")),
    ("protocol", re.compile(r"ringmail::(smtp|sasl|tls|directory|auth|log)::|ringmail::(task|shard|io_ring|stream|connection|"
                            r"net|offload_pool|timer)|io_uring|^__io_")),
    # Kernel: file-system and page-cache work belongs to delivery, the network stack to
    # the protocol, whoever called them.
    ("deliver", re.compile(r"^(ext4_|jbd2|__ext4|ext4|fsync|vfs_fsync|do_fsync|file_write|generic_perform_write|"
                           r"filemap_|__filemap|folio|pagecache|page_cache|blk_|submit_bio|iomap_|do_renameat|"
                           r"vfs_rename|do_filp_open|path_openat|do_sys_open|vfs_statx|link_path_walk|d_alloc|"
                           r"__d_lookup|dput|iput|evict|writeback|wb_|mpage|find_inode_bit|ext2_|"
                           r"__x64_sys_(rename|open|fsync|fdatasync|statx|link|unlink))")),
    ("protocol", re.compile(r"^(tcp_|__tcp|ip_|__ip|ipv6_|sock_|__sock|sk_|__sk|skb_|__skb|net_|__net|"
                            r"__dev_queue|dev_hard|loopback|inet_|__inet|__x64_sys_(recv|send|accept|connect))")),
]
# Libraries whose frames decide by themselves (no symbols needed).
DSO_RULES = [
    # PCRE2 JIT code: anonymous executable memory, named in perf-PID.map or not at all.
    ("scan", re.compile(r"libhs|libpcre2|perf-\d+\.map|//anon")),
]


def frame_bucket(sym, dso):
    for bucket, pattern in DSO_RULES:
        if pattern.search(dso):
            return bucket
    for bucket, pattern in SYMBOL_RULES:
        if pattern.search(sym):
            return bucket
    return None


def samples(lines):
    """Yields each sample's frames [(sym, dso)], innermost first."""
    frames = []
    for line in lines:
        if not line.strip():
            if frames:
                yield frames
            frames = []
            continue
        if not line[0].isspace():  # the sample's header line (comm)
            if frames:
                yield frames
            frames = []
            continue
        m = re.match(r"\s*(?:[0-9a-f]+\s+)?(.*?)\s+\(([^)]*)\)\s*$", line)
        if m:
            sym = re.sub(r"\+0x[0-9a-f]+$", "", m.group(1))
            frames.append((sym, m.group(2)))
    if frames:
        yield frames


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--us_per_message", type=float, required=True)
    p.add_argument("--messages", type=int, required=True)
    p.add_argument("--source", default="generated")
    p.add_argument("--show_other", type=int, default=0, help="print the N commonest innermost frames of 'other'")
    args = p.parse_args()
    counts = {b: 0 for b in BUCKETS}
    other_frames = {}
    total = 0
    for frames in samples(sys.stdin):
        total += 1
        bucket = "other"
        for sym, dso in frames:
            b = frame_bucket(sym, dso)
            if b:
                bucket = b
                break
        counts[bucket] += 1
        if bucket == "other" and frames:
            other_frames[frames[0]] = other_frames.get(frames[0], 0) + 1
    for (sym, dso), n in sorted(other_frames.items(), key=lambda kv: -kv[1])[:args.show_other]:
        print(f"other: {n * 100 / max(total, 1):5.1f} %  {sym[:90]}  ({dso})", file=sys.stderr)
    if total == 0:
        sys.exit("cpu_buckets: no samples (is perf allowed to read the process?)")
    print(f"| stage | share of server CPU | us per message | ({args.messages} messages, {args.source}, "
          f"{total} samples) |")
    print("|---|---|---|---|")
    for b in BUCKETS:
        share = counts[b] / total
        print(f"| {b} | {share * 100:.1f} % | {share * args.us_per_message:.0f} | |")
    print(f"| all | 100 % | {args.us_per_message:.0f} | |")


if __name__ == "__main__":
    main()
