#!/usr/bin/env python3
"""The ringmail side of the Sieve differential (issue 14; tests/sieve/README.md).

Runs ringmail's interpreter (the ringmail_sieve_actions driver, built in tests/) over
every tests/sieve/scripts/*.sieve and the fixed sample (sieve_sample.prepared_sample()),
in the set-up sieve-test has on the other side (the envelope and time of sieve_sample,
INBOX and Junk existing, an empty duplicate store, the environment sieve-test reports),
and prints one normalized line per (script, message), each built through
sieve_actions.format_*(): both sides share one formatter.

    ringmail_actions.py --driver PATH [--corpus DIR] [--script NAME]... [--check] [--jobs N]

--check (the ctest sieve_differential): runs pigeonhole_actions.py for the reference
lines and prints every difference; exits 1 when one is not listed in
explained_differences.txt (each entry with its reason), 77 when Pigeonhole or the corpus
is missing (as the oracle does).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, HERE)

import sieve_actions  # noqa: E402
import sieve_sample  # noqa: E402

SKIP = 77
EXPLAINED = os.path.join(HERE, "explained_differences.txt")


def format_actions(result: dict) -> list[str]:
    """The normalized actions of one driver result (README's table), in result order."""
    if result.get("compile_error"):
        # The oracle's scripts all compile in Pigeonhole: not compiling here is a line
        # of its own, so it shows as a difference.
        return ["compile-error " + sieve_actions.quote(result["compile_error"])]
    if result.get("error") is not None:
        return ["error"]
    out = []
    for a in result["actions"]:
        kind = a["kind"]
        if kind == "keep":
            out.append(sieve_actions.format_store("INBOX", a["copy"], a["create"], a["flags"]))
        elif kind == "fileinto":
            out.append(sieve_actions.format_store(a["mailbox"], a["copy"], a["create"], a["flags"]))
        elif kind == "redirect":
            out.append(sieve_actions.format_redirect(a["address"], a["copy"]))
        elif kind in ("reject", "ereject"):
            out.append(sieve_actions.format_reject(a["reason"]))
        elif kind == "discard":
            out.append("discard")
        elif kind == "vacation":
            out.append(sieve_actions.format_vacation(a["seconds"], a["reason"], a["subject"], a["from"],
                                                     a["handle"]))
        elif kind == "track_duplicate":
            out.append(sieve_actions.format_track_duplicate(a["last"], a["handle"]))
        else:
            raise ValueError(f"unknown action kind {kind!r}")
    if result["implicit_keep"]:
        out.append(sieve_actions.format_implicit_keep(result["implicit_keep_flags"]))
    return out


def ringmail_lines(driver: str, names: list[str],
                   messages: list[tuple[sieve_sample.Message, bytes]]) -> list[str]:
    """The lines, sorted by script then message (as pigeonhole_actions.py prints them)."""
    with tempfile.TemporaryDirectory(prefix="sieve-ringmail-") as work:
        cmd = [driver, "--global", os.path.join(HERE, "include", "global"),
               "--personal", os.path.join(HERE, "include", "personal"),
               "--from", sieve_sample.ENVELOPE_FROM, "--to", sieve_sample.ENVELOPE_TO]
        for name in names:
            cmd += ["--script", f"{name}={os.path.join(HERE, 'scripts', name + '.sieve')}"]
        for i, (message, data) in enumerate(messages):
            path = os.path.join(work, f"{i:03d}.eml")
            with open(path, "wb") as f:
                f.write(data)
            cmd += ["--message", f"{message.name}={path}"]
        out = subprocess.run(cmd, capture_output=True, timeout=600)
        if out.returncode != 0:
            raise RuntimeError(f"driver exit {out.returncode}: {out.stderr.decode(errors='replace')[-2000:]}")
    results = {}
    for raw in out.stdout.decode("utf-8", errors="surrogateescape").splitlines():
        r = json.loads(raw)
        results[(r["script"], r["message"])] = format_actions(r)
    order = sorted(messages, key=lambda m: m[0].name)
    lines = []
    for name in names:
        for message, _ in order:
            actions = results.get((name, message.name))
            if actions is None:
                raise RuntimeError(f"driver printed nothing for {name} {message.name}")
            lines.append(sieve_actions.format_line(name, message.name, actions))
    return lines


def pigeonhole_lines(corpus: str, names: list[str], jobs: int) -> tuple[int, list[str], str]:
    cmd = [sys.executable, os.path.join(HERE, "pigeonhole_actions.py"), "--corpus", corpus, "--jobs", str(jobs)]
    for name in names:
        cmd += ["--script", name]
    out = subprocess.run(cmd, capture_output=True, timeout=1200)
    text = out.stdout.decode("utf-8", errors="surrogateescape")
    return out.returncode, [line for line in text.splitlines() if line], out.stderr.decode(errors="replace")


def explained() -> list[tuple[str, str, str]]:
    """(script, message or "*", reason) from explained_differences.txt."""
    entries = []
    if not os.path.exists(EXPLAINED):
        return entries
    with open(EXPLAINED, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            parts = line.split("\t")
            if len(parts) < 3 or not parts[2].strip():
                raise ValueError(f"explained_differences.txt: want SCRIPT TAB MESSAGE|* TAB REASON: {line!r}")
            entries.append((parts[0], parts[1], parts[2]))
    return entries


def key_of(line: str) -> tuple[str, str]:
    script, message, _ = line.split("\t", 2)
    return script, message


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--driver", required=True, help="the ringmail_sieve_actions binary")
    ap.add_argument("--corpus", default=os.path.join(HERE, "..", "..", "build", "corpus"))
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--jobs", type=int, default=min(4, os.cpu_count() or 1))
    ap.add_argument("--script", action="append", default=[], help="only these scripts (stem)")
    ap.add_argument("--per-set", type=int, default=sieve_sample.PER_SET)
    args = ap.parse_args()

    try:
        messages = sieve_sample.prepared_sample(args.corpus, args.per_set)
    except FileNotFoundError as e:
        print(f"SKIP: corpus missing ({e}); run scripts/fetch-corpus.sh", file=sys.stderr)
        return SKIP
    names = sorted(f[:-len(".sieve")] for f in os.listdir(os.path.join(HERE, "scripts")) if f.endswith(".sieve"))
    if args.script:
        names = [n for n in names if n in args.script]
    ours = ringmail_lines(args.driver, names, messages)
    if not args.check:
        for line in ours:
            print(line)
        return 0

    code, theirs, stderr = pigeonhole_lines(args.corpus, names, args.jobs)
    if code == SKIP:
        print(f"SKIP: the Pigeonhole side is not available: {stderr.strip()}", file=sys.stderr)
        return SKIP
    problems = []
    if code != 0:
        problems.append(f"pigeonhole_actions.py exit {code}: {stderr.strip()[-2000:]}")
    reference = {key_of(line): line for line in theirs}
    entries = explained()
    used = set()
    differences = 0
    unexplained = 0
    for line in ours:
        key = key_of(line)
        other = reference.get(key)
        if other == line:
            continue
        differences += 1
        reason = next((e for e in entries if e[0] == key[0] and e[1] in (key[1], "*")), None)
        if reason:
            used.add(reason)
            print(f"explained ({reason[2]}):\n  ringmail:   {line}\n  pigeonhole: {other}")
            continue
        unexplained += 1
        print(f"DIFF:\n  ringmail:   {line}\n  pigeonhole: {other if other is not None else '(no line)'}")
    for e in entries:
        if e not in used:
            print(f"note: explained difference no longer seen: {e[0]} {e[1]} ({e[2]})")
    print(f"ringmail_actions: {len(names)} scripts x {len(messages)} messages: {len(ours)} lines, "
          f"{differences} differences from Pigeonhole, {unexplained} unexplained")
    for p in problems:
        print(f"FAIL: {p}")
    return 1 if unexplained or problems else 0


if __name__ == "__main__":
    sys.exit(main())
