#!/usr/bin/env python3
"""Unit tests of the differential's normalized format (sieve_actions.py) and of the
sample preparation (sieve_sample.py), on sieve-test output captured from Pigeonhole
0.5.19 (Debian 12's dovecot-sieve). No Pigeonhole needed."""

import os
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import sieve_actions  # noqa: E402
import sieve_sample  # noqa: E402

SUCCESS = "sieve-test: Info: final result: success\n"

# fileinto :copy :create :flags, fileinto, keep :flags, redirect :copy, redirect,
# fileinto with the internal flags, vacation with :mime, discard.
MANY = """
Performed actions:

 * store message in folder: Junk/Sub
        + create mailbox if it does not exist
        + preserve implicit keep
        + add IMAP flags: \\seen $Label1
 * store message in folder: Other
 * store message in folder: INBOX
        + add IMAP flags: \\answered
 * redirect message to: <x@y.org>
        + preserve implicit keep
 * redirect message to: <z@y.org>
 * store message in folder: Spammy
        + add IMAP flags: \\flagged
 * send vacation message:
    => seconds : 172800
    => subject : away 
    => from    : me@example.net
    => handle  : h1

START MESSAGE
Content-Type: text/plain

 * not an action
END MESSAGE
 * discard

Implicit keep:

  (none)

"""

DEFAULT_HANDLE_VACATION = """
Performed actions:

 * send vacation message:
    => seconds : 604800
    => handle  : x<default-subject><default-from><NO-MIME>

START MESSAGE
x
END MESSAGE
 * track duplicate
 * track last duplicate with handle: spam

Implicit keep:

 * store message in folder: INBOX
        + add IMAP flags: \\seen $Label1 foo bar \\SEEN

"""


class ParseTest(unittest.TestCase):
    def test_many_actions_in_order(self):
        self.assertEqual(sieve_actions.parse_sieve_test(MANY, SUCCESS, 0), [
            'fileinto "Junk/Sub" :copy :create flags=($Label1 \\Seen)',
            'fileinto "Other"',
            'keep flags=(\\Answered)',
            'redirect "x@y.org" :copy',
            'redirect "z@y.org"',
            'fileinto "Spammy" flags=(\\Flagged)',
            'vacation seconds=172800 subject="away " from="me@example.net" handle="h1" '
            'reason="Content-Type: text/plain\\n\\n * not an action"',
            'discard',
        ])

    def test_default_handle_dropped_and_implicit_keep_flags(self):
        stderr = "sieve-test: Info: checked duplicate for user nobody.\n\n" + SUCCESS
        self.assertEqual(sieve_actions.parse_sieve_test(DEFAULT_HANDLE_VACATION, stderr, 0), [
            'vacation seconds=604800 reason="x"',
            'track-duplicate',
            'track-duplicate :last handle="spam"',
            'implicit-keep flags=($Label1 \\Seen bar foo)',
        ])

    def test_runtime_error_is_a_result(self):
        stderr = ("e: line 4: error: reject/ereject action conflicts with other action: the vacation "
                  "action (e: line 2) also sends a response to the sender.\n"
                  "sieve-test: Info: final result: failed; resolved with successful implicit keep\n")
        self.assertEqual(sieve_actions.parse_sieve_test("", stderr, 1), ["error"])

    def test_compile_error_and_warnings_are_problems(self):
        compile_error = ("t: line 1: error: require command: unknown Sieve capability `ereject'.\n"
                         "t: error: validation failed.\nsieve-test: Fatal: failed to compile sieve script\n")
        with self.assertRaises(sieve_actions.ParseError):
            sieve_actions.parse_sieve_test("", compile_error, 89)
        warning = "d: line 4: warning: deleteheader command: deleting `received' is forbidden.\n" + SUCCESS
        with self.assertRaises(sieve_actions.ParseError):
            sieve_actions.parse_sieve_test(MANY, warning, 0)

    def test_unknown_output_is_a_problem(self):
        for text in (MANY.replace(" * discard", " * notify somebody"),
                     MANY.replace("+ preserve implicit keep", "+ something new"),
                     "no result print at all\n"):
            with self.assertRaises(sieve_actions.ParseError):
                sieve_actions.parse_sieve_test(text, SUCCESS, 0)

    def test_empty_result(self):
        out = "\nPerformed actions:\n\n  (none)\n\nImplicit keep:\n\n  (none)\n\n"
        self.assertEqual(sieve_actions.parse_sieve_test(out, SUCCESS, 0), [])
        self.assertEqual(sieve_actions.format_line("s", "m", []), "s\tm\tnone")


class FormatTest(unittest.TestCase):
    def test_quote(self):
        self.assertEqual(sieve_actions.quote('a"b\\c\r\n\t\x01\x7f'), '"a\\"b\\\\c\\r\\n\\t\\x01\\x7f"')
        self.assertEqual(sieve_actions.quote("caf\u00e9"), '"caf\u00e9"')
        raw = b"x\xff".decode("utf-8", "surrogateescape")
        self.assertEqual(sieve_actions.quote(raw), '"x\\xff"')

    def test_flags(self):
        self.assertEqual(sieve_actions.format_flags(["\\SEEN $b", "\\seen", "$B", "\\deleted"]),
                         "flags=($b \\Deleted \\Seen)")
        self.assertEqual(sieve_actions.format_flags([]), "")

    def test_store_inbox_is_keep(self):
        self.assertEqual(sieve_actions.format_store("inbox", copy=True), "keep :copy")
        self.assertEqual(sieve_actions.format_store("INBOX.Sub"), 'fileinto "INBOX.Sub"')

    def test_line(self):
        self.assertEqual(sieve_actions.format_line("s", "spam-1/x.txt", ["discard", "implicit-keep"]),
                         "s\tspam-1/x.txt\tdiscard ; implicit-keep")


class SampleTest(unittest.TestCase):
    def test_prepare(self):
        raw = b"From a@b Thu Aug 22 12:36:23 2002\nSubject: x\r\n\nbody\n"
        out = sieve_sample.prepare(raw, "easy-ham-1/1.txt", 4)
        self.assertEqual(out, b"Subject: x\r\n\r\nbody\r\n")  # index 4: no verdict
        out = sieve_sample.prepare(raw, "easy-ham-1/1.txt", 0)
        self.assertTrue(out.startswith(b"X-Spam-") and out.endswith(b"Subject: x\r\n\r\nbody\r\n"))
        headers = sieve_sample.verdict_headers("spam-1/1.txt", 0).decode()
        score = float(headers.split("X-Spam-Score: ")[1].split("\r\n")[0])
        self.assertEqual("X-Spam-Flag: YES" in headers, score >= 5.0)
        self.assertIn(f"X-Spam-Status: {'Yes' if score >= 5.0 else 'No'}, score={score:.1f} required=5.0", headers)

    def test_sample_is_fixed(self):
        with tempfile.TemporaryDirectory() as corpus:
            for set_name in sieve_sample.SETS:
                os.makedirs(os.path.join(corpus, set_name))
                for i in range(20):
                    with open(os.path.join(corpus, set_name, f"{i:05d}.txt"), "w") as f:
                        f.write("Subject: s\n\nb\n")
            names = [m.name for m in sieve_sample.sample(corpus, 4)]
            self.assertEqual(len(names), 20)
            self.assertEqual(names[:4], ["easy-ham-1/00000.txt", "easy-ham-1/00005.txt",
                                         "easy-ham-1/00010.txt", "easy-ham-1/00015.txt"])
            self.assertEqual(names, [m.name for m in sieve_sample.sample(corpus, 4)])


if __name__ == "__main__":
    unittest.main()
