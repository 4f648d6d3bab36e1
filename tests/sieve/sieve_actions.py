"""The normalized action line of the Sieve differential (tests/sieve/README.md).

One line per (script, message):

    <script> TAB <message> TAB <action> [" ; " <action>]...

Actions, in the order the implementation's result lists them (RFC 5228 section 2.10.3:
a second keep or fileinto to the same mailbox is the first one, not a new delivery):

    keep [:copy] [:create] [flags=(F ...)]              store into INBOX (keep, fileinto "INBOX")
    fileinto "MAILBOX" [:copy] [:create] [flags=(F ...)]
    redirect "ADDRESS" [:copy]
    reject "REASON"
    discard
    vacation seconds=N [subject="S"] [from="F"] [handle="H"] reason="R"
    track-duplicate [:last] [handle="H"]                RFC 7352: the duplicate id is recorded
    implicit-keep [flags=(F ...)]                       RFC 5228 section 2.10.2, always last
    error                                               the script failed at run time; alone
    none                                                no action at all (empty result)

Strings are quoted: '"' then the value with backslash as "\\\\", double quote as '\\"',
CR, LF and TAB as "\\r", "\\n", "\\t", any other octet below 0x20 and 0x7f as "\\xHH"
(two lower-case hex digits), octets that are not valid UTF-8 as "\\xHH" too; valid
UTF-8 as it is. Flags: system flags
spelled \\Answered \\Deleted \\Draft \\Flagged \\Seen, keywords as written, duplicates
(compared case-insensitively) dropped, sorted by their lower-cased spelling, joined by
single spaces. Vacation's handle is there only when the script gave :handle (not
Pigeonhole's default, derived from the script's text); seconds is always there
(":days N" is N*86400, the default 7 days); subject and from only when given.

parse_sieve_test() turns the output of `sieve-test` (Pigeonhole 0.5, without -e) into
that list; the format_*() functions build the same strings from values, for the other
side of the differential. Pure: no I/O.
"""

from __future__ import annotations

import re

SYSTEM_FLAGS = {f.lower(): f for f in ("\\Answered", "\\Deleted", "\\Draft", "\\Flagged", "\\Seen")}


class ParseError(ValueError):
    """sieve-test printed something this module does not know."""


def quote(value: str) -> str:
    out = ['"']
    for ch in value:
        code = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif 0xDC80 <= code <= 0xDCFF:  # an octet that is not UTF-8 (surrogateescape)
            out.append(f"\\x{code - 0xDC00:02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def format_flags(flags) -> str:
    """"flags=(...)" for a non-empty set, "" otherwise."""
    seen = {}
    for flag in flags:
        for word in flag.split():
            spelled = SYSTEM_FLAGS.get(word.lower(), word)
            seen.setdefault(spelled.lower(), spelled)
    if not seen:
        return ""
    return "flags=(" + " ".join(seen[k] for k in sorted(seen)) + ")"


def _join(*parts: str) -> str:
    return " ".join(p for p in parts if p)


def format_store(mailbox: str, copy: bool = False, create: bool = False, flags=()) -> str:
    head = "keep" if mailbox.upper() == "INBOX" else "fileinto " + quote(mailbox)
    return _join(head, ":copy" if copy else "", ":create" if create else "", format_flags(flags))


def format_redirect(address: str, copy: bool = False) -> str:
    return _join("redirect " + quote(address), ":copy" if copy else "")


def format_reject(reason: str) -> str:
    return "reject " + quote(reason)


def format_vacation(seconds: int, reason: str, subject: str | None = None, from_: str | None = None,
                    handle: str | None = None) -> str:
    return _join(f"vacation seconds={seconds}",
                 "" if subject is None else "subject=" + quote(subject),
                 "" if from_ is None else "from=" + quote(from_),
                 "" if handle is None else "handle=" + quote(handle),
                 "reason=" + quote(reason))


def format_track_duplicate(last: bool = False, handle: str | None = None) -> str:
    return _join("track-duplicate", ":last" if last else "", "" if handle is None else "handle=" + quote(handle))


def format_implicit_keep(flags=()) -> str:
    return _join("implicit-keep", format_flags(flags))


def format_line(script: str, message: str, actions: list[str]) -> str:
    return f"{script}\t{message}\t{' ; '.join(actions) if actions else 'none'}"


# --- sieve-test's result print (lib-sieve/sieve-result.c and each action's print) ----

_PERFORMED = "\nPerformed actions:\n"
_IMPLICIT = "\nImplicit keep:\n"
_VACATION = re.compile(
    r" \* send vacation message:\n"
    r"    => seconds : (?P<seconds>\d+)\n"
    r"(?:    => subject : (?P<subject>.*?)\n)?"
    r"(?:    => from    : (?P<from>.*?)\n)?"
    r"(?:    => handle  : (?P<handle>.*?)\n)?"
    r"\nSTART MESSAGE\n(?P<reason>.*?)\nEND MESSAGE\n", re.S)


def _is_default_handle(handle: str) -> bool:
    # Pigeonhole's default handle (cmd-vacation.c) is the reason, the subject and from
    # as written in the script (variables unexpanded, "<default-subject>" and
    # "<default-from>" when absent), then "<MIME>" or "<NO-MIME>": an implementation
    # detail nothing else can reproduce, so only a handle the script gave is compared.
    return handle.endswith("<MIME>") or handle.endswith("<NO-MIME>")


def _parse_section(text: str, implicit: bool) -> list[str]:
    actions = []
    pos = 0
    current = None  # [kind, argument, copy, create, flags]

    def finish():
        nonlocal current
        if current is None:
            return
        kind, arg, copy, create, flags = current
        if kind == "store":
            actions.append(format_implicit_keep(flags) if implicit else format_store(arg, copy, create, flags))
        elif kind == "redirect":
            actions.append(format_redirect(arg, copy))
        current = None

    while pos < len(text):
        end = text.find("\n", pos)
        end = len(text) if end < 0 else end
        line = text[pos:end]
        if line.strip() in ("", "(none)"):
            pos = end + 1
            continue
        if line.startswith(" * send vacation message:"):
            finish()
            m = _VACATION.match(text, pos)
            if not m:
                raise ParseError(f"vacation block: {text[pos:pos + 200]!r}")
            reason, subject, from_, handle = m["reason"], m["subject"], m["from"], m["handle"]
            if handle is not None and _is_default_handle(handle):
                handle = None
            actions.append(format_vacation(int(m["seconds"]), reason, subject, from_, handle))
            pos = m.end()
            continue
        pos = end + 1
        if line.startswith(" * "):
            finish()
            body = line[3:]
            if body.startswith("store message in folder: "):
                current = ["store", body[len("store message in folder: "):], False, False, []]
            elif body.startswith("redirect message to: "):
                current = ["redirect", body[len("redirect message to: "):].strip().strip("<>"), False, False, []]
            elif body.startswith("reject message with reason: "):
                actions.append(format_reject(body[len("reject message with reason: "):]))
            elif body == "discard":
                actions.append("discard")
            elif m := re.fullmatch(r"track (last )?duplicate(?: with handle: (.*))?", body):
                actions.append(format_track_duplicate(bool(m[1]), m[2]))
            else:
                raise ParseError(f"unknown action: {line!r}")
        elif line.startswith("        + "):
            effect = line[len("        + "):]
            if current is None:
                raise ParseError(f"side effect without a store or redirect: {line!r}")
            if effect == "preserve implicit keep":
                current[2] = True
            elif effect == "create mailbox if it does not exist":
                current[3] = True
            elif effect.startswith("add IMAP flags: "):
                current[4].extend(effect[len("add IMAP flags: "):].split())
            else:
                raise ParseError(f"unknown side effect: {line!r}")
        else:
            raise ParseError(f"unexpected line: {line!r}")
    finish()
    return actions


def parse_sieve_test(stdout: str, stderr: str, returncode: int) -> list[str]:
    """The normalized actions of one sieve-test run (test mode, no -e).

    A run that compiled but failed at run time ("final result: failed; resolved with
    successful implicit keep") is ["error"]. Anything else sieve-test complains about
    (compile errors, warnings, a fatal error) raises ParseError with its stderr: for the
    differential's script set that is a bug in the script, not a result.
    """
    problems = [line for line in stderr.splitlines()
                if line and not re.match(r"sieve-test: Info: (final result: success|checked duplicate|marked duplicate)", line)
                and not re.match(r"sieve-test: Info: final result: failed; resolved with successful implicit keep", line)]
    failed = "final result: failed; resolved with successful implicit keep" in stderr
    # A run-time error names the script's line ("NAME: line N: error: ..."); those are
    # the run's result. Anything else (compile errors, warnings, fatal) is a problem.
    runtime = [p for p in problems if re.match(r"[^:]+: line \d+: error: ", p)]
    if failed and returncode == 1 and len(runtime) == len(problems):
        return ["error"]
    if problems or returncode != 0 or "final result: success" not in stderr:
        raise ParseError(f"sieve-test exit {returncode}: {stderr.strip()}")
    start = stdout.find(_PERFORMED)
    middle = stdout.find(_IMPLICIT, start + 1)
    if start < 0 or middle < 0:
        raise ParseError(f"no result print: {stdout[:300]!r}")
    actions = _parse_section(stdout[start + len(_PERFORMED):middle + 1], implicit=False)
    actions += _parse_section(stdout[middle + len(_IMPLICIT):], implicit=True)
    return actions
