#!/usr/bin/env python3
"""bench/dkim/run.sh's table: the median over the rounds of each engine's CPU µs per
message, and ratios against ringmail's median.

Input: results.tsv rows "engine  op  alg  round  us_per_msg  messages  failed". rspamd's
DKIM share is taken per round (that round's sign or verify batch minus its baseline
batch, measured minutes apart at most) and then the median of those differences: the
baseline moves with the machine's load as much as the figures it is subtracted from."""
import statistics
import sys
from collections import defaultdict

OPS = ["sign/rsa-2048", "sign/ed25519", "verify/rsa-2048", "verify/ed25519"]


def main(path):
    us = defaultdict(dict)      # "engine/op/alg" -> {round: us}
    failed = defaultdict(int)   # "engine/op/alg" -> max failed over rounds
    for line in open(path):
        engine, op, alg, rnd, value, _messages, fail = line.rstrip("\n").split("\t")
        key = f"{engine}/{op}/{alg}"
        us[key][int(rnd)] = float(value)
        failed[key] = max(failed[key], int(fail))

    def median(key):
        return statistics.median(us[key].values()) if us.get(key) else None

    def share(op):
        base, rows = us.get("rspamd/baseline/none"), us.get(f"rspamd/{op}")
        if not base or not rows:
            return None
        return statistics.median(v - base[r] for r, v in rows.items() if r in base)

    def cell(value, key=None):
        if value is None:
            return "-"
        text = f"{value:,.1f}"
        if key and failed[key]:
            text += f" ({failed[key]} failed)" if failed[key] > 0 else " (error)"
        return text

    def ratio(peer, ours):
        return f"{peer / ours:.2f}x" if peer is not None and ours else "-"

    print("| operation | ringmail | OpenDKIM | OpenDKIM / ringmail | rspamd, whole request "
          "| rspamd DKIM share | rspamd share / ringmail |")
    print("|---|---|---|---|---|---|---|")
    for op in OPS:
        ours, odkim, rsp, sh = median(f"ringmail/{op}"), median(f"opendkim/{op}"), median(f"rspamd/{op}"), share(op)
        print(f"| {op} | {cell(ours, f'ringmail/{op}')} | {cell(odkim, f'opendkim/{op}')} | {ratio(odkim, ours)} "
              f"| {cell(rsp, f'rspamd/{op}')} | {cell(sh)} | {ratio(sh, ours)} |")
    base = median("rspamd/baseline/none")
    if base is not None:
        print(f"\nrspamd baseline (the verifying instance over the unsigned messages: request, MIME "
              f"parsing, the dkim module finding no signature): {base:,.1f} us/msg")
    spreads = []
    for key, rows in sorted(us.items()):
        if len(rows) > 1:
            spreads.append(f"{key} {min(rows.values()):,.0f}-{max(rows.values()):,.0f}")
    if spreads:
        print("Range over the rounds: " + "; ".join(spreads))
    print("(CPU µs per message, medians over the rounds; ratios: the peer's CPU / ringmail's; "
          "failed: the most messages an engine refused in one round)")


if __name__ == "__main__":
    main(sys.argv[1])
