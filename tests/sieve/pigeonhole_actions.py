#!/usr/bin/env python3
"""The reference side of the Sieve differential (issue 14): Pigeonhole's sieve-test.

Runs every tests/sieve/scripts/*.sieve over the fixed corpus sample (sieve_sample.py)
with the fixed envelope and time, and prints one normalized line per (script, message)
(sieve_actions.py; the format is in tests/sieve/README.md), scripts and messages in
sorted order.

    pigeonhole_actions.py [--corpus DIR] [--check] [--jobs N] [--script NAME]... [--keep-work]

--check (the ctest): instead of the lines, a summary; fails (exit 1) when a script does
not compile, when sieve-test prints anything but a result (a warning counts), when its
output cannot be normalized, when a run fails at run time in a script not marked
"# oracle: may-fail", or when a script gives the same line for every message (a
script that never branches over real mail tests little). Exit 77 when Pigeonhole
(Debian's dovecot-sieve, with dovecot-core and faketime) cannot be installed or the
corpus (scripts/fetch-corpus.sh) is missing.

sieve-test runs in test mode (no -e): it prints the result the script built and
executes nothing (no mail stored or sent; the duplicate test always answers "not
seen"), under faketime at sieve_sample.CURRENT_TIME with TZ=UTC, as `nobody` when we
are root (Dovecot refuses to run mail processes as root).
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import os
import pwd
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, HERE)

import sieve_actions  # noqa: E402
import sieve_sample  # noqa: E402

PACKAGES = ("dovecot-core", "dovecot-sieve", "faketime")
SKIP = 77


def have_tools() -> bool:
    return all(shutil.which(t) for t in ("sieve-test", "sievec", "faketime"))


def install() -> bool:
    """Debian's packages, installed when missing (idempotent; needs root or sudo -n)."""
    if have_tools():
        return True
    print(f"pigeonhole_actions: installing {' '.join(PACKAGES)}", file=sys.stderr)
    prefix = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update", "-qq"],
                ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES]):
        try:
            subprocess.run(prefix + cmd, env=env, check=True, stdout=subprocess.DEVNULL)
        except (OSError, subprocess.CalledProcessError):
            return False
    return have_tools()


def pigeonhole_version() -> str:
    out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "dovecot-sieve"],
                         capture_output=True, text=True)
    return out.stdout.strip() or "unknown"


class Oracle:
    """A private sieve-test set-up under a temporary directory."""

    def __init__(self, scripts: list[str], messages: list[tuple[sieve_sample.Message, bytes]]):
        self.work = tempfile.mkdtemp(prefix="sieve-oracle-")
        self.scripts = scripts
        self.messages = messages
        os.makedirs(os.path.join(self.work, "scripts"))
        shutil.copytree(os.path.join(HERE, "include", "personal"), os.path.join(self.work, "personal"))
        shutil.copytree(os.path.join(HERE, "include", "global"), os.path.join(self.work, "global"))
        for name in scripts:
            shutil.copy(os.path.join(HERE, "scripts", name + ".sieve"), os.path.join(self.work, "scripts"))
        # The user's mailboxes, for mailboxexists (RFC 5490): INBOX and Junk exist.
        for box in ("", ".Junk"):
            for sub in ("cur", "new", "tmp"):
                os.makedirs(os.path.join(self.work, "home", "Maildir", box, sub), exist_ok=True)
        os.makedirs(os.path.join(self.work, "messages"))
        self.message_paths = []
        for i, (_, data) in enumerate(messages):
            path = os.path.join(self.work, "messages", f"{i:03d}.eml")
            with open(path, "wb") as f:
                f.write(data)
            self.message_paths.append(path)
        with open(os.path.join(HERE, "pigeonhole.conf.in")) as f:
            conf = f.read().replace("@WORK@", self.work)
        self.conf = os.path.join(self.work, "dovecot.conf")
        with open(self.conf, "w") as f:
            f.write(conf)
        self.prefix = []
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            for root, dirs, files in os.walk(self.work):
                for entry in [root] + [os.path.join(root, e) for e in dirs + files]:
                    os.chown(entry, nobody.pw_uid, nobody.pw_gid)
            self.prefix = ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups"]
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.path.join(self.work, "home"),
                    "TZ": sieve_sample.TIME_ZONE, "LC_ALL": "C"}

    def close(self) -> None:
        shutil.rmtree(self.work, ignore_errors=True)

    def script_path(self, name: str) -> str:
        return os.path.join(self.work, "scripts", name + ".sieve")

    def compile(self, name: str) -> str | None:
        """sievec once per script (sieve-test then loads the binary); the error or None."""
        out = subprocess.run(self.prefix + ["sievec", "-c", self.conf, self.script_path(name)],
                             env=self.env, capture_output=True, text=True, errors="surrogateescape")
        if out.returncode != 0 or out.stderr.strip():
            return (out.stderr + out.stdout).strip() or f"sievec exit {out.returncode}"
        return None

    def run(self, name: str, index: int) -> list[str]:
        cmd = self.prefix + ["faketime", sieve_sample.CURRENT_TIME, "sieve-test", "-c", self.conf,
                             "-f", sieve_sample.ENVELOPE_FROM, "-a", sieve_sample.ENVELOPE_TO,
                             self.script_path(name), self.message_paths[index]]
        out = subprocess.run(cmd, env=self.env, capture_output=True, text=True, errors="surrogateescape",
                             timeout=60)
        return sieve_actions.parse_sieve_test(out.stdout, out.stderr, out.returncode)


def may_fail(path: str) -> bool:
    with open(path, errors="replace") as f:
        return any(line.strip() == "# oracle: may-fail" for line in f)


def private_shm() -> None:
    """As root: go on in a private mount namespace with a fresh tmpfs on /dev/shm.

    faketime(1) keeps a POSIX semaphore and shared memory per run there
    (/dev/shm/sem.faketime_sem_<pid>, faketime_shm_<pid>) and, run under setpriv, leaves
    them behind; on a machine that ran this before, a reused pid then meets a stale one
    and the run fails ("faketime: sem_open: File exists"). A private
    /dev/shm starts empty and disappears with the run. Without root (no mount) or without
    unshare, nothing changes."""
    if os.geteuid() != 0:
        return
    if os.environ.get("RINGMAIL_SIEVE_PRIVATE_SHM") == "1":
        subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=1777,size=64m", "ringmail-sieve-shm", "/dev/shm"],
                       check=False, capture_output=True)
        return
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode:
        return
    env = dict(os.environ, RINGMAIL_SIEVE_PRIVATE_SHM="1")
    os.execvpe("unshare", ["unshare", "-m", "--", sys.executable, os.path.abspath(__file__), *sys.argv[1:]], env)


def main() -> int:
    private_shm()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", default=os.path.join(HERE, "..", "..", "build", "corpus"))
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--jobs", type=int, default=min(4, os.cpu_count() or 1))
    ap.add_argument("--script", action="append", default=[], help="only these scripts (stem)")
    ap.add_argument("--per-set", type=int, default=sieve_sample.PER_SET)
    ap.add_argument("--keep-work", action="store_true")
    args = ap.parse_args()

    if not install():
        print("SKIP: Pigeonhole's sieve-test (dovecot-sieve) or faketime cannot be installed", file=sys.stderr)
        return SKIP
    try:
        messages = sieve_sample.prepared_sample(args.corpus, args.per_set)
    except FileNotFoundError as e:
        print(f"SKIP: corpus missing ({e}); run scripts/fetch-corpus.sh", file=sys.stderr)
        return SKIP

    names = sorted(f[:-len(".sieve")] for f in os.listdir(os.path.join(HERE, "scripts")) if f.endswith(".sieve"))
    if args.script:
        names = [n for n in names if n in args.script]
    order = sorted(range(len(messages)), key=lambda i: messages[i][0].name)
    oracle = Oracle(names, messages)
    problems: list[str] = []
    try:
        compiled = []
        for name in names:
            error = oracle.compile(name)
            if error:
                problems.append(f"{name}: does not compile in Pigeonhole: {error}")
            else:
                compiled.append(name)
        jobs = [(name, i) for name in compiled for i in order]
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            futures = [pool.submit(oracle.run, name, i) for name, i in jobs]
            results = {}
            for (name, i), fut in zip(jobs, futures):
                try:
                    results[(name, i)] = fut.result()
                except (sieve_actions.ParseError, subprocess.TimeoutExpired) as e:
                    problems.append(f"{name} {messages[i][0].name}: {e}")
    finally:
        if args.keep_work:
            print(f"pigeonhole_actions: work directory kept: {oracle.work}", file=sys.stderr)
        else:
            oracle.close()

    lines = [sieve_actions.format_line(name, messages[i][0].name, results[(name, i)])
             for name, i in jobs if (name, i) in results]
    if not args.check:
        for line in lines:
            print(line)
        for p in problems:
            print(f"pigeonhole_actions: {p}", file=sys.stderr)
        return 1 if problems else 0

    outcomes = collections.defaultdict(set)
    errors = collections.Counter()
    for name, i in jobs:
        actions = results.get((name, i))
        if actions is None:
            continue
        outcomes[name].add(" ; ".join(actions))
        if actions == ["error"]:
            errors[name] += 1
    for name in compiled:
        if errors[name] and not may_fail(os.path.join(HERE, "scripts", name + ".sieve")):
            problems.append(f"{name}: {errors[name]} run-time error(s) in a script not marked '# oracle: may-fail'")
        if len(outcomes[name]) < 2:
            problems.append(f"{name}: the same result for every message ({next(iter(outcomes[name]), 'none')}): "
                            "the script takes no different branches over the sample")
    expected = len(names) * len(messages)
    print(f"pigeonhole_actions: Pigeonhole (dovecot-sieve {pigeonhole_version()}), {len(names)} scripts x "
          f"{len(messages)} messages: {len(lines)} of {expected} lines, "
          f"{sum(len(o) for o in outcomes.values())} distinct (script, result) pairs, "
          f"{sum(errors.values())} run-time errors")
    for p in problems:
        print(f"FAIL: {p}")
    if len(lines) != expected and not problems:
        problems.append("missing lines")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
