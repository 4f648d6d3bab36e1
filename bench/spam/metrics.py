#!/usr/bin/env python3
"""Accuracy and throughput table for bench/spam/evaluate.sh (standard library only).

    bench/spam/metrics.py RESULTS_DIR [--disagreements N]

RESULTS_DIR holds, per system, <system>.tsv with one line per test message:
    set <TAB> score <TAB> verdict (Yes|No|Error) <TAB> path [<TAB> rules, comma-separated]
and <system>.meta with key=value lines (scanned, cpu_seconds, wall_seconds, label, ...).

Positives are the messages of spam-2, negatives those of easy-ham-2 and hard-ham-1:
    spam recall     = spam-2 messages flagged / spam-2 messages
    FP rate (set)   = ham messages of that set flagged / messages of that set
    precision       = spam-2 flagged / all flagged (spam-2 + both ham sets)
    F1              = 2 * precision * recall / (precision + recall)
    msgs per CPU-s  = messages scanned / CPU seconds of the scanning processes, i.e. how
                      many messages one core checks per second
Messages a system failed to scan (verdict Error) are left out of its rates and counted
in the "errors" column.

With --disagreements N, also lists for every system other than SpamAssassin the N
messages whose score differs most from SpamAssassin's, with the rules only one of the
two fired (useful when ringmail is meant to reproduce SpamAssassin's rules).
"""

import argparse
import math
import os
import sys

SPAM_SET = "spam-2"
HAM_SETS = ("easy-ham-2", "hard-ham-1")
# Column order: the peers first, ringmail last; unknown systems in between.
ORDER = ("spamassassin", "rspamd", "ringmail")
REFERENCE = "ringmail"
BASELINE = "spamassassin"


def read_meta(path):
    meta = {}
    if not os.path.exists(path):
        return meta
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if "=" in line:
                key, value = line.split("=", 1)
                meta[key] = value
    return meta


def read_results(path):
    """Returns {path: (set, score or None, verdict, rules)}."""
    results = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for lineno, line in enumerate(f, 1):
            fields = line.rstrip("\n").split("\t")
            if len(fields) < 4:
                raise SystemExit(f"{path}:{lineno}: expected set, score, verdict, path")
            msg_set, score_text, verdict, msg_path = fields[:4]
            rules = fields[4] if len(fields) > 4 else ""
            try:
                score = float(score_text)
                if math.isnan(score):
                    score = None
            except ValueError:
                score = None
            if verdict not in ("Yes", "No"):
                verdict = "Error"
            results[msg_path] = (msg_set, score, verdict, rules)
    return results


def to_float(text):
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


class Summary:
    def __init__(self, name, results, meta):
        self.name = name
        self.meta = meta
        self.label = meta.get("label", name)
        self.total = {}
        self.flagged = {}
        self.errors = 0
        for msg_set, _score, verdict, _rules in results.values():
            if verdict == "Error":
                self.errors += 1
                continue
            self.total[msg_set] = self.total.get(msg_set, 0) + 1
            if verdict == "Yes":
                self.flagged[msg_set] = self.flagged.get(msg_set, 0) + 1
        self.scanned = len(results)
        self.cpu_seconds = to_float(meta.get("cpu_seconds"))
        self.wall_seconds = to_float(meta.get("wall_seconds"))

    def count(self, msg_set):
        return self.flagged.get(msg_set, 0), self.total.get(msg_set, 0)

    def recall(self):
        tp, n = self.count(SPAM_SET)
        return tp / n if n else None

    def fp_rate(self, msg_set):
        fp, n = self.count(msg_set)
        return fp / n if n else None

    def precision(self):
        tp, _ = self.count(SPAM_SET)
        fp = sum(self.count(s)[0] for s in HAM_SETS)
        return tp / (tp + fp) if tp + fp else None

    def f1(self):
        p, r = self.precision(), self.recall()
        if p is None or r is None or p + r == 0:
            return None
        return 2 * p * r / (p + r)

    def per_cpu_second(self):
        if not self.cpu_seconds or self.cpu_seconds <= 0:
            return None
        return self.scanned / self.cpu_seconds

    def per_wall_second(self):
        if not self.wall_seconds or self.wall_seconds <= 0:
            return None
        return self.scanned / self.wall_seconds


def pct(value, digits=2):
    return "-" if value is None else f"{100 * value:.{digits}f}%"


def with_counts(value, counts):
    hits, n = counts
    return f"{pct(value)} ({hits}/{n})" if value is not None else "-"


def num(value, fmt="{:.1f}"):
    return "-" if value is None else fmt.format(value)


def ordered(names):
    peers = [n for n in ORDER if n in names and n != REFERENCE]
    others = sorted(n for n in names if n not in ORDER)
    return peers + others + ([REFERENCE] if REFERENCE in names else [])


def main_table(summaries):
    reference = summaries.get(REFERENCE)
    ref_speed = reference.per_cpu_second() if reference else None
    lines = [
        "| system | scanned | errors | spam recall (spam-2) | FP rate easy-ham-2 "
        "| FP rate hard-ham-1 | precision | F1 | msgs per CPU-second | CPU s | wall s "
        "| msgs/s wall | ringmail speed-up (per CPU-s) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in ordered(summaries):
        s = summaries[name]
        speed = s.per_cpu_second()
        if name == REFERENCE or ref_speed is None or not speed:
            ratio = "-"
        else:
            ratio = f"{ref_speed / speed:.1f}x"
        lines.append(
            "| {label} | {scanned} | {errors} | {recall} | {fp_easy} | {fp_hard} | {prec} "
            "| {f1} | {speed} | {cpu} | {wall} | {wall_rate} | {ratio} |".format(
                label=s.label,
                scanned=s.scanned,
                errors=s.errors,
                recall=with_counts(s.recall(), s.count(SPAM_SET)),
                fp_easy=with_counts(s.fp_rate(HAM_SETS[0]), s.count(HAM_SETS[0])),
                fp_hard=with_counts(s.fp_rate(HAM_SETS[1]), s.count(HAM_SETS[1])),
                prec=pct(s.precision()),
                f1=num(s.f1(), "{:.4f}"),
                speed=num(speed),
                cpu=num(s.cpu_seconds, "{:.2f}"),
                wall=num(s.wall_seconds, "{:.2f}"),
                wall_rate=num(s.per_wall_second()),
                ratio=ratio,
            ))
    return lines


def agreement_table(all_results):
    base = all_results.get(BASELINE)
    if base is None:
        return []
    lines = []
    for name in ordered(all_results):
        if name == BASELINE:
            continue
        other = all_results[name]
        common = [p for p in base if p in other and base[p][2] != "Error" and other[p][2] != "Error"]
        if not common:
            continue
        same = sum(1 for p in common if base[p][2] == other[p][2])
        diffs = [abs(base[p][1] - other[p][1]) for p in common
                 if base[p][1] is not None and other[p][1] is not None]
        mean_diff = sum(diffs) / len(diffs) if diffs else None
        within = sum(1 for d in diffs if d <= 0.05)
        if not lines:
            lines = [
                "",
                "Agreement with SpamAssassin on the same messages (scores are on each system's "
                "own scale; only a system running SpamAssassin's rules should match):",
                "",
                "| system | same verdict | mean abs score difference | scores within 0.05 |",
                "|---|---:|---:|---:|",
            ]
        lines.append("| {} | {} ({}/{}) | {} | {} |".format(
            name, pct(same / len(common)), same, len(common), num(mean_diff, "{:.2f}"),
            f"{pct(within / len(diffs))} ({within}/{len(diffs)})" if diffs else "-"))
    return lines


def disagreements(all_results, count):
    base = all_results.get(BASELINE)
    if base is None:
        return []
    lines = []
    for name in ordered(all_results):
        if name == BASELINE:
            continue
        other = all_results[name]
        rows = []
        for p, (msg_set, score, verdict, rules) in other.items():
            if p not in base or score is None or base[p][1] is None:
                continue
            rows.append((abs(score - base[p][1]), p, msg_set, score, verdict, rules))
        rows.sort(reverse=True)
        if not rows:
            continue
        lines += ["", f"Largest score differences, {name} vs SpamAssassin:", ""]
        for delta, p, msg_set, score, verdict, rules in rows[:count]:
            _, base_score, base_verdict, base_rules = base[p]
            mine, theirs = set(filter(None, rules.split(","))), set(filter(None, base_rules.split(",")))
            only_mine = ",".join(sorted(mine - theirs)) if rules else "(no rule list)"
            only_theirs = ",".join(sorted(theirs - mine))
            lines.append(f"- {msg_set}/{os.path.basename(p)}: {name} {score:.1f} {verdict}, "
                         f"SpamAssassin {base_score:.1f} {base_verdict} (diff {delta:.1f}); "
                         f"only {name}: {only_mine or '-'}; only SpamAssassin: {only_theirs or '-'}")
    return lines


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results_dir")
    parser.add_argument("--disagreements", type=int, default=0, metavar="N")
    args = parser.parse_args(argv)

    all_results = {}
    summaries = {}
    for entry in sorted(os.listdir(args.results_dir)):
        if not entry.endswith(".tsv"):
            continue
        name = entry[:-len(".tsv")]
        results = read_results(os.path.join(args.results_dir, entry))
        meta = read_meta(os.path.join(args.results_dir, name + ".meta"))
        all_results[name] = results
        summaries[name] = Summary(name, results, meta)
    if not summaries:
        raise SystemExit(f"no <system>.tsv files in {args.results_dir}")

    run = read_meta(os.path.join(args.results_dir, "run.meta"))
    out = []
    if run:
        out.append("Run: " + ", ".join(f"{k}={v}" for k, v in run.items() if k != "corpus"))
        out.append("")
    out += main_table(summaries)
    out += agreement_table(all_results)
    notes = []
    for name in ordered(summaries):
        meta = summaries[name].meta
        details = [f"{k}={meta[k]}" for k in (
            "cpu_scope", "parallelism", "threshold", "learned_spam", "learned_ham",
            "train_wall_seconds", "compiled_body_rules", "redis_cpu_seconds",
            "dns_requests_in_log", "process_cpu_seconds", "process_wall_seconds") if k in meta]
        if details:
            notes.append(f"- {summaries[name].label}: " + "; ".join(details))
    if notes:
        out += ["", "Details:", ""] + notes
    if args.disagreements > 0:
        out += disagreements(all_results, args.disagreements)
    print("\n".join(out))


if __name__ == "__main__":
    main(sys.argv[1:])
