#!/usr/bin/env python3
"""Tests of the ringmail side of the Sieve differential without Pigeonhole or the corpus:
ringmail_sieve_actions (the driver) over small scripts and messages whose results are
known, read back through ringmail_actions.py's formatting. They check the set-up the
differential relies on (envelope, fixed time, INBOX and Junk, environment, includes, a
fresh message per run) and the JSON plumbing (escapes, invalid UTF-8, compile errors).

    ringmail_actions_test.py DRIVER
"""

import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ringmail_actions  # noqa: E402
import sieve_actions  # noqa: E402
import sieve_sample  # noqa: E402

DRIVER = None

SCRIPTS = {
    # The envelope, the fixed date, mailboxexists, environment.
    "setup": b"""require ["envelope", "date", "mailbox", "environment", "fileinto", "relational"];
if envelope :is "from" "bounces+sieve@lists.example.org" { fileinto "E.from"; }
if envelope :is "to" "jane+lists@example.net" { fileinto "E.to"; }
if currentdate :is "iso8601" "2026-01-15T12:00:00Z" { fileinto "D.now"; }
if currentdate :zone "+0000" :is "weekday" "4" { fileinto "D.thursday"; }
if mailboxexists "Junk" { fileinto "M.junk"; }
if mailboxexists "inbox" { fileinto "M.inbox"; }
if mailboxexists "Nope" { fileinto "M.nope"; }
if environment :is "location" "MS" { fileinto "V.location"; }
if environment :is "phase" "post" { fileinto "V.phase"; }
if environment :matches "domain" "?*" { fileinto "V.domain"; }
if environment :contains "remote-host" "" { fileinto "V.remote-host"; }
""",
    # Includes from the personal and global directories.
    "includes": b"""require ["include", "fileinto"];
include :personal "mine";
include :global "theirs";
include :optional "missing";
""",
    # editheader on one message must not leak into the next run.
    "edits": b"""require ["editheader", "fileinto"];
if exists "x-added" { fileinto "Leaked"; }
addheader "X-Added" "yes";
if header :is "x-added" "yes" { fileinto "Seen"; }
""",
    # Strings the JSON must carry: a tab, a quote, a backslash, UTF-8.
    "strings": b"""require ["reject", "variables"];
if header :matches "subject" "*" { set "s" "${1}"; }
reject "tab\there \\"q\\" \\\\ ${s}";
""",
    # flags, :copy, redirect, discard, vacation.
    "actions": b"""require ["fileinto", "imap4flags", "copy", "vacation-seconds", "variables"];
addflag "$Label";
fileinto :copy :flags "\\\\seen" "Junk";
redirect :copy "a@example.org";
vacation :seconds 172800 :subject "away" :handle "h1" "gone";
discard;
""",
    "broken": b"""if foo {""",
}

PERSONAL = {"mine": b'require "fileinto";\nfileinto "From.personal";\n'}
GLOBAL = {"theirs": b'require "fileinto";\nfileinto "From.global";\n'}

MESSAGES = [
    ("set/one.txt", b"Subject: caf\xc3\xa9\r\nFrom: a@example.org\r\n\r\nbody\r\n"),
    ("set/two.txt", b"Subject: plain\r\nFrom: b@example.org\r\n\r\nbody\r\n"),
]


class DriverTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.TemporaryDirectory(prefix="sieve-driver-test-")
        root = cls.work.name
        for sub, files in (("scripts", SCRIPTS), ("include/personal", PERSONAL), ("include/global", GLOBAL)):
            os.makedirs(os.path.join(root, sub))
            for name, text in files.items():
                with open(os.path.join(root, sub, name + ".sieve"), "wb") as f:
                    f.write(text)
        messages = [(sieve_sample.Message(name, ""), data) for name, data in MESSAGES]
        saved = ringmail_actions.HERE
        ringmail_actions.HERE = root
        try:
            lines = ringmail_actions.ringmail_lines(DRIVER, sorted(SCRIPTS), messages)
        finally:
            ringmail_actions.HERE = saved
        cls.lines = {tuple(line.split("\t")[:2]): line.split("\t", 2)[2] for line in lines}

    @classmethod
    def tearDownClass(cls):
        cls.work.cleanup()

    def line(self, script, message="set/one.txt"):
        return self.lines[(script, message)]

    def test_setup_matches_sieve_test(self):
        self.assertEqual(self.line("setup"), " ; ".join(
            sieve_actions.format_store(m) for m in
            ["E.from", "E.to", "D.now", "D.thursday", "M.junk", "M.inbox",
             "V.location", "V.phase", "V.domain"]))

    def test_includes(self):
        self.assertEqual(self.line("includes"), 'fileinto "From.personal" ; fileinto "From.global"')

    def test_edits_do_not_leak_between_messages(self):
        self.assertEqual(self.line("edits", "set/one.txt"), 'fileinto "Seen"')
        self.assertEqual(self.line("edits", "set/two.txt"), 'fileinto "Seen"')

    def test_strings(self):
        self.assertEqual(self.line("strings"), sieve_actions.format_reject('tab\there "q" \\ café'))
        self.assertEqual(self.line("strings", "set/two.txt"), sieve_actions.format_reject('tab\there "q" \\ plain'))

    def test_actions(self):
        self.assertEqual(self.line("actions"), " ; ".join([
            sieve_actions.format_store("Junk", copy=True, flags=["\\Seen"]),
            sieve_actions.format_redirect("a@example.org", copy=True),
            sieve_actions.format_vacation(172800, "gone", subject="away", handle="h1"),
            "discard"]))

    def test_compile_error_is_a_line_of_its_own(self):
        self.assertTrue(self.line("broken").startswith("compile-error "), self.line("broken"))


class JsonTest(unittest.TestCase):
    def test_invalid_utf8_reads_back_as_surrogate_escapes(self):
        # What the driver prints for the octets 0xff 0xfe: lone surrogates, which
        # sieve_actions.quote() prints as \xHH.
        value = json.loads('"a\\udcff\\udcfeb"')
        self.assertEqual(sieve_actions.quote(value), '"a\\xff\\xfeb"')

    def test_format_actions(self):
        result = {"compile_error": None, "error": None, "implicit_keep": True,
                  "implicit_keep_flags": ["\\flagged"], "actions": [
                      {"kind": "keep", "mailbox": "", "flags": [], "copy": False, "create": False},
                      {"kind": "ereject", "reason": "no"},
                      {"kind": "track_duplicate", "last": True, "handle": None}]}
        self.assertEqual(ringmail_actions.format_actions(result),
                         ["keep", 'reject "no"', "track-duplicate :last", "implicit-keep flags=(\\Flagged)"])
        self.assertEqual(ringmail_actions.format_actions(dict(result, error="boom")), ["error"])


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    DRIVER = sys.argv.pop(1)
    unittest.main()
