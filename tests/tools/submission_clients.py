#!/usr/bin/env python3
"""End-to-end checks of message submission (issue 13; RFC 6409, RFC 8314, RFC 4954).

Python's smtplib on 587-style STARTTLS and 465-style implicit TLS, plus raw sockets for
the replies smtplib hides and the hostile input (CR/LF/NUL in MAIL parameters, a 12 KiB
AUTH line, AUTH twice, "*" cancel). The server must have: users john@example.org
(password pw-john) and jane@example.org; aliases sales@ -> john@ and team@ -> jane@.

Usage: submission_clients.py --smtp P25 --submission P587 --submissions P465
           --vmail DIR [--hidden]
--hidden: the server runs with --submission_hide_client (Received: has no client IP).
Prints "PASS name" / "FAIL name: why" per check; exits 1 if any failed.
"""

import argparse
import base64
import glob
import os
import smtplib
import socket
import ssl
import sys
import time

HOST = "127.0.0.1"
SUFFIX = ""  # "-hidden" on the second run: the Maildirs keep the first run's mail
results = {"pass": 0, "fail": 0}


def check(name, cond, why=""):
    if cond:
        results["pass"] += 1
        print(f"PASS {name}", flush=True)
    else:
        results["fail"] += 1
        print(f"FAIL {name}: {why}", flush=True)


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def plain(user, password):
    return base64.b64encode(f"\0{user}\0{password}".encode()).decode()


class Raw:
    """A line-oriented SMTP client over a plain or TLS socket: every reply as text."""

    def __init__(self, port, implicit_tls=False):
        self.sock = socket.create_connection((HOST, port), timeout=10)
        if implicit_tls:
            self.sock = tls_context().wrap_socket(self.sock)
        self.buf = b""
        self.greeting = self.reply()

    def starttls(self):
        self.sock = tls_context().wrap_socket(self.sock)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def reply(self):
        lines = [self.line()]
        while len(lines[-1]) > 3 and lines[-1][3] == "-":
            lines.append(self.line())
        return "\n".join(lines)

    def cmd(self, text):
        self.send(text + "\r\n")
        return self.reply()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def logged_in_587(port, user="john@example.org", password="pw-john"):
    r = Raw(port)
    r.cmd("EHLO client.test")
    r.cmd("STARTTLS")
    r.starttls()
    r.cmd("EHLO client.test")
    rep = r.cmd("AUTH PLAIN " + plain(user, password))
    assert rep.startswith("235"), rep
    return r


def message(frm, to, subject, extra=""):
    return (f"From: {frm}\r\nTo: {to}\r\nSubject: {subject}{SUFFIX}\r\n{extra}\r\n"
            f"Body of {subject}.\r\n")


def find_in_maildir(vmail, user, subject, timeout=5.0):
    local, domain = user.split("@")
    pattern = os.path.join(vmail, domain, local, "Maildir", "new", "*")
    deadline = time.time() + timeout
    while time.time() < deadline:
        for path in glob.glob(pattern):
            with open(path, "rb") as f:
                data = f.read()
            if f"Subject: {subject}{SUFFIX}\r\n".encode() in data:
                return data.decode("utf-8", "replace")
        time.sleep(0.05)
    return None


def header_block(text):
    return text.split("\r\n\r\n", 1)[0] if "\r\n\r\n" in text else text.split("\n\n", 1)[0]


def run(args):
    vmail = args.vmail

    # --- port 587: STARTTLS first, then AUTH, then mail -----------------------------
    r = Raw(args.submission)
    ehlo = r.cmd("EHLO client.test")
    check("587 offers STARTTLS before TLS", "STARTTLS" in ehlo, ehlo)
    check("587 does not offer AUTH before TLS", "AUTH" not in ehlo, ehlo)
    rep = r.cmd("AUTH PLAIN " + plain("john@example.org", "pw-john"))
    check("587 AUTH before TLS is 538 5.7.11", rep.startswith("538 5.7.11"), rep)
    rep = r.cmd("MAIL FROM:<john@example.org>")
    check("587 MAIL before TLS is 530 5.7.0", rep.startswith("530 5.7.0"), rep)
    r.cmd("STARTTLS")
    r.starttls()
    ehlo = r.cmd("EHLO client.test")
    check("587 offers AUTH PLAIN LOGIN after STARTTLS", "AUTH PLAIN LOGIN" in ehlo, ehlo)
    check("587 no STARTTLS inside TLS", "STARTTLS" not in ehlo, ehlo)
    rep = r.cmd("MAIL FROM:<john@example.org>")
    check("587 MAIL before AUTH is 530 5.7.0", rep.startswith("530 5.7.0"), rep)
    rep = r.cmd("AUTH PLAIN " + plain("john@example.org", "wrong"))
    check("587 wrong password is 535 5.7.8", rep.startswith("535 5.7.8"), rep)
    rep = r.cmd("AUTH PLAIN " + plain("john@example.org", "pw-john"))
    check("587 AUTH PLAIN initial response is 235 2.7.0", rep.startswith("235 2.7.0"), rep)
    rep = r.cmd("AUTH PLAIN " + plain("john@example.org", "pw-john"))
    check("587 AUTH twice is 503", rep.startswith("503"), rep)
    rep = r.cmd("MAIL FROM:<jane@example.org>")
    check("587 forged MAIL FROM is 553 5.7.1", rep.startswith("553 5.7.1"), rep)
    rep = r.cmd("MAIL FROM:<John+lists@Example.org>")
    check("587 own address with +detail and other case accepted", rep.startswith("250"), rep)
    rep = r.cmd("RCPT TO:<someone@remote.test>")
    check("587 remote recipient accepted for the outbound queue", rep.startswith("250 2.1.5"), rep)
    rep = r.cmd("RSET")
    rep = r.cmd("MAIL FROM:<team@example.org>")
    check("587 someone else's alias is 553 5.7.1", rep.startswith("553 5.7.1"), rep)
    rep = r.cmd("AUTH PLAIN " + plain("john@example.org", "pw-john"))
    check("587 still one login: AUTH again 503", rep.startswith("503"), rep)
    r.cmd("QUIT")
    r.close()

    # smtplib STARTTLS + AUTH PLAIN, a message without Date: and Message-ID:.
    with smtplib.SMTP(HOST, args.submission, timeout=10) as s:
        s.starttls(context=tls_context())
        s.login("john@example.org", "pw-john")  # smtplib picks PLAIN from "PLAIN LOGIN"
        refused = s.sendmail("john@example.org", ["jane@example.org"],
                             message("John <john@example.org>", "jane@example.org", "plain-587"))
        check("smtplib 587 STARTTLS + AUTH PLAIN delivers", refused == {}, str(refused))
    got = find_in_maildir(vmail, "jane@example.org", "plain-587")
    check("submitted message lands in the Maildir", got is not None, "not found")
    if got:
        head = header_block(got)
        check("Date: added", "\nDate: " in "\n" + head, head)
        check("Message-ID: added with our hostname", "Message-ID: <" in head and "@mx.test>" in head, head)
        check("Received: says ESMTPSA", "with ESMTPSA" in head, head)
        check("Received: names the authenticated sender",
              "(Authenticated sender: john@example.org)" in head, head)
        if args.hidden:
            check("--submission_hide_client: no client IP or HELO",
                  "127.0.0.1" not in head and "client.test" not in head and "Received: from" not in head
                  and "Received: (Authenticated sender: john@example.org)\r\n\tby mx.test" in head, head)
        else:
            check("Received: shows the client by default", "[127.0.0.1]" in head, head)
        check("authenticated mail is not spam-scanned", "X-Spam-" not in head, head)

    # Date: and Message-ID: kept when the client set them.
    with smtplib.SMTP(HOST, args.submission, timeout=10) as s:
        s.starttls(context=tls_context())
        s.login("john@example.org", "pw-john")
        s.sendmail("john@example.org", ["jane@example.org"],
                   message("john@example.org", "jane@example.org", "own-ids",
                           "Date: Mon, 7 Dec 2026 06:00:00 +0000\r\nMessage-ID: <mine@client.test>\r\n"))
    got = find_in_maildir(vmail, "jane@example.org", "own-ids")
    if got:
        head = header_block(got)
        check("client's Date: and Message-ID: kept, none added",
              head.count("Message-ID:") == 1 and "<mine@client.test>" in head and head.count("\nDate:") == 1, head)
    else:
        check("client's Date: and Message-ID: kept, none added", False, "message not delivered")

    # AUTH LOGIN (334 challenges) through smtplib, MAIL FROM an owned alias.
    with smtplib.SMTP(HOST, args.submission, timeout=10) as s:
        s.starttls(context=tls_context())
        s.ehlo()
        s.esmtp_features["auth"] = "LOGIN"
        s.login("john@example.org", "pw-john")
        refused = s.sendmail("sales@example.org", ["jane@example.org"],
                             message("Sales <sales@example.org>", "jane@example.org", "login-alias"))
        check("smtplib AUTH LOGIN + an alias the user owns accepted", refused == {}, str(refused))
    check("alias-sent message delivered", find_in_maildir(vmail, "jane@example.org", "login-alias") is not None)

    # --- port 465: implicit TLS -----------------------------------------------------
    with smtplib.SMTP_SSL(HOST, args.submissions, timeout=10, context=tls_context()) as s:
        code, ehlo = s.ehlo()
        ehlo = ehlo.decode()
        check("465 offers AUTH, not STARTTLS", "AUTH PLAIN LOGIN" in ehlo and "STARTTLS" not in ehlo, ehlo)
        s.login("john@example.org", "pw-john")
        refused = s.sendmail("john@example.org", ["jane@example.org", "john@example.org"],
                             message("john@example.org", "jane@example.org", "ssl-465"))
        check("smtplib SMTP_SSL 465 delivers", refused == {}, str(refused))
        # Forged From: header: the envelope is john's own, the header is jane's.
        try:
            s.sendmail("john@example.org", ["jane@example.org"],
                       message("Jane <jane@example.org>", "jane@example.org", "forged-from"))
            check("forged From: header is 553 5.7.1", False, "accepted")
        except smtplib.SMTPDataError as e:
            check("forged From: header is 553 5.7.1", e.smtp_code == 553 and b"5.7.1" in e.smtp_error, str(e))
        try:
            s.sendmail("jane@example.org", ["john@example.org"], message("jane@example.org", "x", "forged-env"))
            check("465 forged MAIL FROM is 553", False, "accepted")
        except smtplib.SMTPSenderRefused as e:
            check("465 forged MAIL FROM is 553", e.smtp_code == 553, str(e))
    check("465 message delivered", find_in_maildir(vmail, "jane@example.org", "ssl-465") is not None)
    check("forged From: message not delivered", find_in_maildir(vmail, "jane@example.org", "forged-from", 0.3) is None)
    got = find_in_maildir(vmail, "john@example.org", "ssl-465")
    check("465 Received: says ESMTPSA", got is not None and "with ESMTPSA" in header_block(got))

    r = Raw(args.submissions, implicit_tls=True)
    check("465 greets inside TLS", r.greeting.startswith("220"), r.greeting)
    r.cmd("EHLO client.test")
    rep = r.cmd("MAIL FROM:<john@example.org>")
    check("465 MAIL before AUTH is 530 5.7.0", rep.startswith("530 5.7.0"), rep)
    rep = r.cmd("STARTTLS")
    check("465 STARTTLS is 502", rep.startswith("502"), rep)
    rep = r.cmd("AUTH LOGIN")
    check("AUTH LOGIN asks for the username", rep == "334 VXNlcm5hbWU6", rep)
    rep = r.cmd("*")
    check("'*' cancels AUTH with 501", rep.startswith("501"), rep)
    rep = r.cmd("AUTH LOGIN " + base64.b64encode(b"john@example.org").decode())
    check("AUTH LOGIN with initial response asks for the password", rep == "334 UGFzc3dvcmQ6", rep)
    rep = r.cmd(base64.b64encode(b"pw-john").decode())
    check("AUTH LOGIN completes with 235", rep.startswith("235 2.7.0"), rep)
    r.cmd("QUIT")
    r.close()

    # --- port 25: no AUTH; relaying refused -------------------------------------------
    r = Raw(args.smtp)
    ehlo = r.cmd("EHLO client.test")
    check("25 does not offer AUTH", "AUTH" not in ehlo, ehlo)
    r.cmd("STARTTLS")
    r.starttls()
    ehlo = r.cmd("EHLO client.test")
    check("25 does not offer AUTH inside TLS either", "AUTH" not in ehlo, ehlo)
    rep = r.cmd("AUTH PLAIN " + plain("john@example.org", "pw-john"))
    check("25 AUTH is 502", rep.startswith("502"), rep)
    r.cmd("MAIL FROM:<john@example.org>")
    rep = r.cmd("RCPT TO:<victim@remote.test>")
    check("25 unauthenticated relay is 554 5.7.1", rep.startswith("554 5.7.1"), rep)
    rep = r.cmd("RCPT TO:<jane@example.org>")
    check("25 local recipient still accepted", rep.startswith("250"), rep)
    r.cmd("QUIT")
    r.close()

    # --- hostile input -----------------------------------------------------------------
    r = logged_in_587(args.submission)
    rep = r.cmd("MAIL FROM:<john@example.org> AUTH=<>")
    check("AUTH=<> accepted (and ignored) where AUTH is offered", rep.startswith("250"), rep)
    r.cmd("RSET")
    rep = r.cmd("MAIL FROM:<john@example.org> AUTH=a\x00b")
    check("NUL inside AUTH= refused", rep.startswith("5") and not rep.startswith("250"), rep)
    rep = r.cmd("MAIL FROM:<john@example.org> AUTH=a\rb")
    check("bare CR inside AUTH= refused", rep.startswith("5"), rep)
    # CRLF inside the parameter ends the line: what follows is a command of its own (the
    # logged-in user's, queued like any RCPT), never part of the MAIL parameter.
    r.send("MAIL FROM:<john@example.org> AUTH=x\r\nRCPT TO:<victim@remote.test>\r\n")
    first, second = r.reply(), r.reply()
    check("CRLF inside AUTH= ends the MAIL line; the RCPT after it is a command of its own",
          first.startswith("250 2.1.0") and second.startswith("250 2.1.5") or first.startswith("5") and second.startswith("5"),
          first + " | " + second)
    r.cmd("RSET")
    rep = r.cmd("MAIL FROM:<john@example.org> SIZE=10\x00 BODY=8BITMIME")
    check("NUL inside SIZE= refused", rep.startswith("5"), rep)
    rep = r.cmd("MAIL FROM:<john@example.org> X-EVIL=1")
    check("unknown MAIL parameter is 555", rep.startswith("555"), rep)
    rep = r.cmd("MAIL FROM:<john@example.org>")
    r.cmd("RCPT TO:<jane@example.org>")
    rep = r.cmd("AUTH PLAIN " + plain("john@example.org", "pw-john"))
    check("AUTH inside a transaction is 503", rep.startswith("503"), rep)
    rep = r.cmd("NOOP")
    check("session alive after the hostile MAIL lines", rep.startswith("250"), rep)
    r.cmd("QUIT")
    r.close()

    r = Raw(args.submission)
    r.cmd("EHLO client.test")
    r.cmd("STARTTLS")
    r.starttls()
    r.cmd("EHLO client.test")
    rep = r.cmd("AUTH PLAIN " + "QUFB" * 3072)  # 12 KiB + the verb: over the 4 KiB line limit
    check("12 KiB AUTH line refused with 500", rep.startswith("500"), rep)
    rep = r.cmd("NOOP")
    check("session resynchronised after the 12 KiB AUTH line", rep.startswith("250"), rep)
    rep = r.cmd("AUTH PLAIN")
    check("AUTH PLAIN without initial response gets an empty 334", rep == "334 ", repr(rep))
    rep = r.cmd("QUFB" * 3100)  # a response past RFC 4954's 12288 octets
    check("over-long AUTH response is 500 5.5.6", rep.startswith("500 5.5.6"), rep)
    try:
        r.cmd("NOOP")
        closed = False
    except (ConnectionError, OSError, ssl.SSLError):
        closed = True
    check("over-long AUTH response closes the session", closed)
    r.close()

    r = Raw(args.submission)
    r.cmd("EHLO client.test")
    r.cmd("STARTTLS")
    r.starttls()
    r.cmd("EHLO client.test")
    rep = r.cmd("AUTH PLAIN " + base64.b64encode(b"jane@example.org\0john@example.org\0pw-john").decode())
    check("PLAIN with another authzid is 535", rep.startswith("535"), rep)
    rep = r.cmd("AUTH PLAIN not-base64!")
    check("malformed base64 is 501", rep.startswith("501"), rep)
    rep = r.cmd("AUTH CRAM-MD5")
    check("unknown mechanism is 504", rep.startswith("504"), rep)
    r.cmd("AUTH LOGIN")
    r.send("am9obg==\nRENDIGIT\r\n")  # a bare LF inside the response: smuggling shape
    rep = r.reply()
    check("bare LF in an AUTH response is 500 5.5.2", rep.startswith("500 5.5.2"), rep)
    try:
        r.cmd("NOOP")
        closed = False
    except (ConnectionError, OSError, ssl.SSLError):
        closed = True
    check("bare LF in an AUTH response closes the session", closed)
    r.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--smtp", type=int, required=True)
    p.add_argument("--submission", type=int, required=True)
    p.add_argument("--submissions", type=int, required=True)
    p.add_argument("--vmail", required=True)
    p.add_argument("--hidden", action="store_true")
    args = p.parse_args()
    global SUFFIX
    SUFFIX = "-hidden" if args.hidden else ""
    try:
        run(args)
    except Exception as e:  # a crash is a failure with its reason, not a silent pass
        check("suite ran to the end", False, f"{type(e).__name__}: {e}")
    print(f"submission_clients: {results['pass']} passed, {results['fail']} failed")
    sys.exit(1 if results["fail"] else 0)


if __name__ == "__main__":
    main()
