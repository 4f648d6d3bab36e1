#!/usr/bin/env python3
"""bench/dkim/run.sh's table: the median over the rounds of each engine's CPU µs per
message, and the median over the rounds of each round's ratio to ringmail's figure (the
engines of one round ran within a minute of each other, under the same machine load).

Input: results.tsv rows "engine  op  alg  round  us_per_msg  messages  failed". rspamd's
DKIM share is taken per round (that round's sign or verify batch minus its baseline
batch, measured minutes apart at most) and then the median of those differences: the
baseline moves with the machine's load as much as the figures it is subtracted from."""
import statistics
import sys
from collections import defaultdict

OPS = ["sign/rsa-2048", "sign/ed25519", "verify/rsa-2048", "verify/ed25519",
       "verify-cached/rsa-2048", "verify-cached/ed25519"]


def peer_op(op):
    """The peers' row a ringmail row is set against: the peers have no "verify-cached" run
    (rspamd caches parsed keys in its verify run anyway; OpenDKIM's bench parses the key
    every message), so ringmail's warm-cache rows face their verify rows."""
    return op.replace("verify-cached/", "verify/")


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

    def shares(op):  # round -> that round's batch minus its baseline
        base, rows = us.get("rspamd/baseline/none", {}), us.get(f"rspamd/{op}", {})
        return {r: v - base[r] for r, v in rows.items() if r in base}

    def share(op):
        values = shares(op)
        return statistics.median(values.values()) if values else None

    def ratio(peer_rows, ours_rows):
        """The median over the rounds of that round's peer / ringmail."""
        pairs = [peer_rows[r] / ours_rows[r] for r in peer_rows if r in ours_rows and ours_rows[r] > 0]
        return f"{statistics.median(pairs):.2f}x" if pairs else "-"

    def cell(value, key=None):
        if value is None:
            return "-"
        text = f"{value:,.1f}"
        if key and failed[key]:
            text += f" ({failed[key]} failed)" if failed[key] > 0 else " (error)"
        return text

    print("| operation | ringmail | OpenDKIM | OpenDKIM / ringmail | rspamd, whole request "
          "| rspamd DKIM share | rspamd share / ringmail |")
    print("|---|---|---|---|---|---|---|")
    for op in OPS:
        ours_rows = us.get(f"ringmail/{op}", {})
        peer = peer_op(op)
        if peer != op and not ours_rows:
            continue  # a ringmail-only row without ringmail
        print(f"| {op} | {cell(median(f'ringmail/{op}'), f'ringmail/{op}')} "
              f"| {cell(median(f'opendkim/{peer}'), f'opendkim/{peer}')} | {ratio(us.get(f'opendkim/{peer}', {}), ours_rows)} "
              f"| {cell(median(f'rspamd/{peer}'), f'rspamd/{peer}')} | {cell(share(peer))} | {ratio(shares(peer), ours_rows)} |")
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
    print("(CPU µs per message, medians over the rounds; ratios: the median of the rounds' peer CPU / ringmail's; "
          "failed: the most messages an engine refused in one round)")


if __name__ == "__main__":
    main(sys.argv[1])
