#!/usr/bin/env python3
"""Writes the messages of the Sieve delivery benchmark (bench/sieve/run.sh), one file each.

    make_messages.py DIR [--messages 211] [--seed 1]

Mail of the kinds bench/sieve/rules.sieve sorts: mailing lists (List-Id), GitHub
notifications, work and family mail, shop orders, receipts, bank statements, newsletters,
social networks, travel, monitoring alerts, calendar invitations, recruiters, hand-made
junk, scanner-flagged spam (X-Spam-Flag / X-Spam-Status), and personal mail no rule
matches (implicit keep). Every kind comes in variants that hit different rules (a Debian
list by its exact List-Id, another by the :matches rule), so a run passes through most of
the 50 rules, and some bodies are multipart/alternative (body :contains then looks at the
text parts, as RFC 5173 5.1 says).

Headers and bodies are ASCII with CRLF line ends; each message is 1-6 KB. The default
count, 211, is prime: ringmail-load sends file (i mod 211) to user (i mod USERS), so every
user gets a mix of kinds. Deterministic for a given seed, so both servers and every run
see the same bytes.
"""
import argparse
import os
import random

WORDS = ("the of and to in is that for it as was with be by on not this are or from at "
         "which but have an they you were there been one all we their meeting report "
         "budget server mail queue release review schedule draft project customer weekly "
         "update agenda notes please thanks regards attached question minutes deadline "
         "monday friday office network storage backup patch kernel build test").split()
NAMES = ("alice bob carol dave erin frank grace heidi ivan judy mallory niaj olivia "
         "peggy rupert sybil trent victor walter").split()


def text(rng, n_words, extra=None):
    """Paragraphs of words in lines of at most ~75 characters; `extra` is put in the middle."""
    words = [rng.choice(WORDS) for _ in range(n_words)]
    if extra:
        words.insert(len(words) // 2, extra)
    lines, line = [], ""
    for w in words:
        if len(line) + len(w) + 1 > 72:
            lines.append(line)
            line = ""
            if rng.random() < 0.12:
                lines.append("")
        line = (line + " " + w).strip()
    lines.append(line)
    return lines


def subject_words(rng, n=5):
    return " ".join(rng.choice(WORDS) for _ in range(n))


def person(rng):
    n = rng.choice(NAMES)
    return n, "%s %s <%s@%s>" % (n.capitalize(), rng.choice(NAMES).capitalize(), n,
                                 rng.choice(["mail.example", "post.example", "inbox.example"]))


# Each kind returns (headers, body_phrase or None, multipart?, calendar?).
def k_debian(rng):
    lst = rng.choice(["debian-devel", "debian-user", "debian-security", "debian-kde"])
    _, frm = person(rng)
    return ([("From", frm), ("To", "%s@lists.debian.org" % lst),
             ("Subject", "Re: %s" % subject_words(rng)),
             ("List-Id", "<%s.lists.debian.org>" % lst),
             ("List-Unsubscribe", "<mailto:%s-request@lists.debian.org?subject=unsubscribe>" % lst),
             ("Precedence", "list")], None, False, False)


def k_kernel(rng):
    lst = rng.choice(["linux-kernel", "netdev", "linux-fsdevel", "io-uring"])
    _, frm = person(rng)
    return ([("From", frm), ("To", "%s@vger.kernel.org" % lst),
             ("Cc", "%s@kernel.example" % rng.choice(NAMES)),
             ("Subject", "[PATCH v%d %d/%d] %s" % (rng.randint(1, 5), rng.randint(1, 9), 9, subject_words(rng))),
             ("List-Id", "<%s.vger.kernel.org>" % lst)], None, False, False)


def k_lists(rng):
    lid = rng.choice(["postfix-users.postfix.org", "dovecot.dovecot.org", "spamassassin-users.lists.sourceforge.net"])
    _, frm = person(rng)
    return ([("From", frm), ("To", "list@%s" % lid.split(".", 1)[1]),
             ("Subject", "Re: [%s] %s" % (lid.split(".")[0], subject_words(rng))),
             ("List-Id", "Discussion <%s>" % lid), ("Precedence", "list")], None, False, False)


def k_github(rng):
    repo = rng.choice(["ringmail/ringmail", "torvalds/linux", "dovecot/core", "abseil/abseil-cpp"])
    num = rng.randint(100, 9999)
    reason = rng.choice(["review_requested", "mention", "subscribed", "author"])
    frm = rng.choice(["%s <notifications@github.com>" % rng.choice(NAMES), "noreply <noreply@github.com>"])
    return ([("From", frm), ("To", "%s <%s@noreply.github.com>" % (repo, repo.split("/")[0])),
             ("Subject", "[%s] %s (#%d)" % (repo, subject_words(rng).capitalize(), num)),
             ("X-GitHub-Reason", reason), ("Precedence", "list"),
             ("List-Unsubscribe", "<https://github.com/notifications/unsubscribe/%d>" % num)], None, False, False)


def k_work(rng):
    v = rng.randrange(5)
    name = rng.choice(NAMES)
    frm = "%s <%s@company.example>" % (name.capitalize(), name)
    to = "me@company.example"
    subj = subject_words(rng).capitalize()
    hdrs = []
    if v == 0:
        frm = "The Boss <boss@company.example>"
        subj = "Urgent: " + subj
        hdrs.append(("X-Priority", "1 (Highest)"))
    elif v == 1:
        subj = "Daily standup notes " + subj
    elif v == 2:
        frm = "%s <%s@partner.example>" % (name.capitalize(), name)
    elif v == 3:
        frm = "%s <%s@partner.example>" % (name.capitalize(), name)
        to = "me@home.example"
        hdrs.append(("Cc", "Team <team@company.example>"))
    return ([("From", frm), ("To", to), ("Subject", subj)] + hdrs, None, rng.random() < 0.3, False)


def k_family(rng):
    frm = rng.choice(["Mum <mum@family.example>", "Dad <dad@family.example>",
                      "Anna Smith <anna.smith@mail.example>", "Grandma <grandma@oldmail.example>"])
    return ([("From", frm), ("To", "me@home.example"), ("Subject", subject_words(rng, 3).capitalize())],
            None, False, False)


def k_shop(rng):
    v = rng.randrange(3)
    if v == 0:
        return ([("From", "Shop <orders@shop.example>"), ("To", "me@home.example"),
                 ("Subject", "Your order %d has shipped" % rng.randint(10000, 99999))], None, True, False)
    if v == 1:
        return ([("From", "Marketplace <noreply@marketplace.example>"), ("To", "me@home.example"),
                 ("Subject", "Items you viewed")], None, True, False)
    return ([("From", "Store <store@bookstore.example>"), ("To", "me@home.example"),
             ("Subject", "Order confirmation for %s" % subject_words(rng, 2))], None, False, False)


def k_receipt(rng):
    v = rng.randrange(2)
    if v == 0:
        return ([("From", "Billing <billing@hosting.example>"), ("To", "me@home.example"),
                 ("Subject", "Invoice #%d for %s" % (rng.randint(1000, 99999), rng.choice(["May", "June"])))],
                None, False, False)
    return ([("From", "Accounts <accounts@utility.example>"), ("To", "me@home.example"),
             ("Subject", "Your monthly bill")], "Total amount due: 42.00 EUR", rng.random() < 0.5, False)


def k_bank(rng):
    v = rng.randrange(3)
    if v == 0:
        return ([("From", "My Bank <service@bank.example>"), ("To", "me@home.example"),
                 ("Subject", "Your statement is ready")], None, False, False)
    if v == 1:
        return ([("From", "My Bank <alerts@bank.example>"), ("To", "me@home.example"),
                 ("Subject", "Card payment")], None, False, False)
    return ([("From", "Payments <pay@fintech.example>"), ("To", "me@home.example"),
             ("Subject", "Transfer received")], "to your account ending in 4242", False, False)


def k_newsletter(rng):
    v = rng.randrange(3)
    if v == 0:
        return ([("From", "Weekly <weekly@magazine.example>"), ("To", "me@home.example"),
                 ("Subject", "This week: %s" % subject_words(rng)),
                 ("List-Unsubscribe", "<https://magazine.example/newsletter/unsubscribe>"),
                 ("Precedence", "bulk")], None, True, False)
    if v == 1:
        return ([("From", "News <news@paper.example>"), ("To", "me@home.example"),
                 ("Subject", "Morning briefing")], None, True, False)
    return ([("From", "Offers <offers@travelclub.example>"), ("To", "me@home.example"),
             ("Subject", "Deals for you"), ("Precedence", "bulk")], None, False, False)


def k_social(rng):
    v = rng.randrange(2)
    if v == 0:
        frm = rng.choice(["Facebook <notification@facebookmail.com>", "LinkedIn <messages-noreply@linkedin.com>",
                          "Mastodon <notifications@mastodon.social>"])
        return ([("From", frm), ("To", "me@home.example"), ("Subject", subject_words(rng).capitalize())],
                None, True, False)
    return ([("From", "Forum <noreply@forum.example>"), ("To", "me@home.example"),
             ("Subject", "%s commented on your post" % rng.choice(NAMES).capitalize())], None, False, False)


def k_travel(rng):
    v = rng.randrange(3)
    if v == 0:
        return ([("From", "Airline <checkin@airline.example>"), ("To", "me@home.example"),
                 ("Subject", "Check-in is open")], None, True, False)
    if v == 1:
        return ([("From", "Trip <trip@agency.example>"), ("To", "me@home.example"),
                 ("Subject", "Your boarding pass for LIS")], None, False, False)
    return ([("From", "Hotel <stay@hotel.example>"), ("To", "me@home.example"),
             ("Subject", "Reservation")], "Your booking reference is QX7H2P", False, False)


def k_alert(rng):
    v = rng.randrange(3)
    if v == 0:
        return ([("From", "Monitoring <monitor@ops.example>"), ("To", "oncall@ops.example"),
                 ("Subject", "[%s] disk usage on db%d" % (rng.choice(["ALERT", "CRITICAL"]), rng.randint(1, 9))),
                 ("Auto-Submitted", "auto-generated")], None, False, False)
    if v == 1:
        return ([("From", "nagios@ops.example"), ("To", "oncall@ops.example"),
                 ("Subject", "** PROBLEM Service Alert: web%d/HTTP is WARNING **" % rng.randint(1, 9)),
                 ("Auto-Submitted", "auto-generated")], None, False, False)
    return ([("From", "root@host%d.ops.example" % rng.randint(1, 9)), ("To", "root@ops.example"),
             ("Subject", "Cron <root@host> /usr/local/bin/backup"),
             ("X-Cron-Env", "<SHELL=/bin/sh>")], None, False, False)


def k_calendar(rng):
    v = rng.randrange(2)
    name = rng.choice(NAMES)
    if v == 0:
        return ([("From", "%s <%s@partner.example>" % (name.capitalize(), name)), ("To", "me@home.example"),
                 ("Subject", "Meeting on %s" % rng.choice(["Monday", "Friday"]))], None, False, True)
    return ([("From", "%s <%s@calendar.example>" % (name.capitalize(), name)), ("To", "me@home.example"),
             ("Subject", "Invitation: %s @ Tue 10:00" % subject_words(rng, 3))], None, False, False)


def k_jobs(rng):
    v = rng.randrange(3)
    if v == 0:
        return ([("From", "Jobs <alerts@jobs.example>"), ("To", "me@home.example"),
                 ("Subject", "New jobs for you")], None, True, False)
    if v == 1:
        return ([("From", "Sam <sam@talent.example>"), ("To", "me@home.example"),
                 ("Subject", "Quick question")], "an exciting job opportunity in Lisbon", False, False)
    return ([("From", "HR <hr@startup.example>"), ("To", "jobs@home.example"),
             ("Subject", "Your application")], None, False, False)


def k_junk(rng):
    v = rng.randrange(5)
    if v == 0:
        return ([("From", "Winner <winner@prize.example>"), ("To", "me@home.example"),
                 ("Subject", "You have won the lottery")], None, False, False)
    if v == 1:
        return ([("From", "x%d@freemail.example" % rng.randint(10000, 999999)), ("To", "me@home.example"),
                 ("Subject", subject_words(rng))], None, False, False)
    if v == 2:
        return ([("From", "Pharmacy <sales@cheap-meds.example>"), ("To", "me@home.example"),
                 ("Subject", "Best prices")], None, True, False)
    if v == 3:
        return ([("From", "Deals <deals@promo.example>"), ("To", "me@home.example"),
                 ("Subject", "Hot deals"), ("X-Mailer", "BulkMailer Pro 5.1")], None, False, False)
    return ([("From", "Money <money@promo.example>"), ("To", "me@home.example"),
             ("Subject", "Earn $$$ from home")], None, False, False)


def k_spam(rng):
    score = rng.randint(60, 250) / 10
    hdrs = [("From", "%s <%s@%s.example>" % (rng.choice(NAMES), rng.choice(NAMES), rng.choice(["biz", "info", "net"]))),
            ("To", "me@home.example"), ("Subject", subject_words(rng).capitalize()),
            ("X-Spam-Status", "Yes, score=%.1f required=5.0 tests=BAYES_99,HTML_MESSAGE" % score)]
    if rng.random() < 0.5:
        hdrs.append(("X-Spam-Flag", "YES"))
    return (hdrs, None, True, False)


def k_personal(rng):
    _, frm = person(rng)
    return ([("From", frm), ("To", "Me <me@home.example>"), ("Subject", "Re: " + subject_words(rng, 3))],
            None, rng.random() < 0.2, False)


# (kind, weight): roughly an ordinary inbox; personal mail falls through to INBOX.
KINDS = [(k_debian, 10), (k_kernel, 8), (k_lists, 6), (k_github, 10), (k_work, 12), (k_family, 4),
         (k_shop, 5), (k_receipt, 4), (k_bank, 4), (k_newsletter, 7), (k_social, 5), (k_travel, 4),
         (k_alert, 6), (k_calendar, 3), (k_jobs, 3), (k_junk, 5), (k_spam, 8), (k_personal, 10)]


def message(rng, i):
    kind = rng.choices([k for k, _ in KINDS], weights=[w for _, w in KINDS])[0]
    hdrs, phrase, multipart, calendar = kind(rng)
    day = 1 + i % 28
    date = "%s, %02d Nov 2026 %02d:%02d:%02d +0000" % (
        ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][day % 7], day, i % 24, i % 60, (i * 7) % 60)
    host = "mx%d.sender.example" % (i % 7)
    head = [("Return-Path", "<bounces@sender.example>"),
            ("Received", "from %s (%s [192.0.2.%d])\r\n\tby mx.home.example with ESMTPS id %08X;\r\n\t%s"
             % (host, host, i % 250 + 1, i * 2654435761 % 2**32, date))]
    head += hdrs + [("Date", date), ("Message-ID", "<%d.bench@sender.example>" % i), ("MIME-Version", "1.0")]
    plain = text(rng, rng.randint(120, 700), phrase)
    lines = ["%s: %s" % h for h in head]
    if calendar:
        boundary = "cal-%d" % i
        lines.append('Content-Type: multipart/mixed; boundary="%s"' % boundary)
        lines += ["", "--" + boundary, "Content-Type: text/plain; charset=us-ascii", ""] + plain
        lines += ["--" + boundary, 'Content-Type: text/calendar; method=REQUEST; charset=UTF-8', "",
                  "BEGIN:VCALENDAR", "METHOD:REQUEST", "BEGIN:VEVENT", "SUMMARY:Meeting",
                  "DTSTART:20261201T100000Z", "END:VEVENT", "END:VCALENDAR", "--" + boundary + "--"]
    elif multipart:
        boundary = "alt-%d" % i
        lines.append('Content-Type: multipart/alternative; boundary="%s"' % boundary)
        lines += ["", "--" + boundary, "Content-Type: text/plain; charset=us-ascii", ""] + plain
        lines += ["--" + boundary, "Content-Type: text/html; charset=us-ascii", "",
                  "<html><body>"] + ["<p>%s</p>" % l for l in plain if l] + ["</body></html>", "--" + boundary + "--"]
    else:
        lines += ["Content-Type: text/plain; charset=us-ascii", ""] + plain
    return "\r\n".join(lines) + "\r\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir")
    ap.add_argument("--messages", type=int, default=211)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    os.makedirs(args.dir, exist_ok=True)
    for i in range(args.messages):
        with open(os.path.join(args.dir, "msg-%04d.eml" % i), "w", newline="") as f:
            f.write(message(rng, i))


if __name__ == "__main__":
    main()
