# bench/sieve/rules.sieve: the user script of the Sieve delivery benchmark (issue 14,
# bench/sieve/run.sh). 50 rules (50 `if`s) of the kinds a mail user collects over the
# years: flags first (no stop), then one folder per kind of mail (16 folders, each rule
# ending in stop, as Roundcube's managesieve plugin writes them), the spam rule last.
# Tests used: header :is/:contains/:matches/:regex on From, To, Cc, Subject, List-Id and
# others; address :is/:domain/:localpart; exists; body :contains; allof/anyof/not.
# bench/sieve/make_messages.py writes messages that hit every rule and some that hit none.
#
# Folders are flat names (no hierarchy separator), so Dovecot's Maildir++ and ringmail
# map them to the same directories (.Debian, .Kernel, ...). `fileinto :create` (RFC 5490)
# makes a missing folder on first use on both sides, without a server-wide autocreate.
require ["fileinto", "imap4flags", "body", "regex", "mailbox"];

# ---- flags (no stop: they carry into the fileinto or the implicit keep, RFC 5232 3)
# 1
if address :is "from" ["ceo@company.example", "boss@company.example"] {
  addflag "\\Flagged";
}
# 2
if header :contains "subject" ["urgent", "asap", "action required"] {
  addflag "\\Flagged";
}
# 3
if header :is "x-priority" ["1", "1 (Highest)"] {
  addflag "\\Flagged";
}
# 4
if header :contains "auto-submitted" "auto-generated" {
  addflag "\\Seen";
}
# 5
if allof (header :is "precedence" "bulk", exists "list-unsubscribe") {
  addflag "\\Seen";
}

# ---- mailing lists
# 6
if header :contains "list-id" "debian-devel.lists.debian.org" {
  fileinto :create "Debian";
  stop;
}
# 7
if header :contains "list-id" "debian-user.lists.debian.org" {
  fileinto :create "Debian";
  stop;
}
# 8
if header :matches "list-id" "*<*.lists.debian.org>" {
  fileinto :create "Debian";
  stop;
}
# 9
if header :contains "list-id" "linux-kernel.vger.kernel.org" {
  fileinto :create "Kernel";
  stop;
}
# 10
if header :regex "list-id" "<[a-z0-9-]+\\.vger\\.kernel\\.org>" {
  fileinto :create "Kernel";
  stop;
}
# 11
if header :contains "list-id" ["postfix-users.postfix.org", "dovecot.dovecot.org"] {
  fileinto :create "Lists";
  stop;
}
# 12
if allof (exists "list-id", header :contains "list-id" "lists.sourceforge.net") {
  fileinto :create "Lists";
  stop;
}

# ---- GitHub
# 13
if allof (address :domain "from" "github.com",
          header :contains "x-github-reason" "review_requested") {
  fileinto :create :flags "\\Flagged" "GitHub";
  stop;
}
# 14
if address :is "from" "notifications@github.com" {
  fileinto :create "GitHub";
  stop;
}
# 15
if header :matches "subject" "[*/*] *(#*)" {
  fileinto :create "GitHub";
  stop;
}

# ---- work
# 16
if allof (address :domain "from" "company.example",
          header :contains "subject" "standup") {
  addflag "\\Seen";
  fileinto :create "Work";
  stop;
}
# 17
if address :domain "from" ["company.example", "corp.company.example"] {
  fileinto :create "Work";
  stop;
}
# 18
if address :domain "to" "company.example" {
  fileinto :create "Work";
  stop;
}
# 19
if header :contains "cc" "team@company.example" {
  fileinto :create "Work";
  stop;
}

# ---- family
# 20
if address :is "from" ["mum@family.example", "dad@family.example", "anna.smith@mail.example"] {
  fileinto :create "Family";
  stop;
}
# 21
if address :localpart "from" "grandma" {
  fileinto :create "Family";
  stop;
}

# ---- shopping, receipts, bank
# 22
if header :matches "subject" ["Your order *", "Order confirmation*"] {
  fileinto :create "Shopping";
  stop;
}
# 23
if address :domain "from" ["shop.example", "marketplace.example"] {
  fileinto :create "Shopping";
  stop;
}
# 24
if header :regex "subject" "(invoice|receipt) #?[0-9]{4,}" {
  fileinto :create "Receipts";
  stop;
}
# 25
if body :contains "Total amount due" {
  fileinto :create "Receipts";
  stop;
}
# 26
if allof (address :domain "from" "bank.example", header :contains "subject" "statement") {
  addflag "\\Flagged";
  fileinto :create "Bank";
  stop;
}
# 27
if address :domain "from" "bank.example" {
  fileinto :create "Bank";
  stop;
}
# 28
if body :contains ["IBAN", "account ending in"] {
  fileinto :create "Bank";
  stop;
}

# ---- newsletters
# 29
if header :contains "list-unsubscribe" "newsletter" {
  fileinto :create "Newsletters";
  stop;
}
# 30
if address :localpart "from" ["newsletter", "news", "digest"] {
  fileinto :create "Newsletters";
  stop;
}
# 31
if allof (header :is "precedence" "bulk", not exists "list-id") {
  fileinto :create "Newsletters";
  stop;
}

# ---- social
# 32
if address :domain "from" ["facebookmail.com", "linkedin.com", "twitter.com", "mastodon.social"] {
  fileinto :create "Social";
  stop;
}
# 33
if header :contains "subject" ["commented on your post", "new follower", "endorsed you"] {
  fileinto :create "Social";
  stop;
}

# ---- travel
# 34
if address :domain "from" ["airline.example", "booking.example", "rail.example"] {
  fileinto :create "Travel";
  stop;
}
# 35
if header :matches "subject" "*boarding pass*" {
  fileinto :create "Travel";
  stop;
}
# 36
if body :contains "booking reference" {
  fileinto :create "Travel";
  stop;
}

# ---- monitoring
# 37
if header :regex "subject" "^\\[(ALERT|CRITICAL)\\]" {
  addflag "\\Flagged";
  fileinto :create "Alerts";
  stop;
}
# 38
if address :localpart "from" ["nagios", "alertmanager", "cron"] {
  fileinto :create "Alerts";
  stop;
}
# 39
if exists "x-cron-env" {
  fileinto :create "Alerts";
  stop;
}

# ---- calendar
# 40
if header :contains "content-type" "text/calendar" {
  fileinto :create "Calendar";
  stop;
}
# 41
if header :matches "subject" ["Invitation: *", "Updated invitation: *", "Accepted: *"] {
  fileinto :create "Calendar";
  stop;
}

# ---- jobs
# 42
if address :domain "from" ["jobs.example", "recruiter.example"] {
  fileinto :create "Jobs";
  stop;
}
# 43
if body :contains "job opportunity" {
  fileinto :create "Jobs";
  stop;
}
# 44
if header :contains "to" "jobs@" {
  fileinto :create "Jobs";
  stop;
}

# ---- junk by hand
# 45
if header :contains "subject" ["viagra", "lottery", "you have won"] {
  fileinto :create "Junk";
  stop;
}
# 46
if header :regex "from" "[0-9]{5,}@" {
  fileinto :create "Junk";
  stop;
}
# 47
if address :domain "from" ["spam.example", "cheap-meds.example"] {
  fileinto :create "Junk";
  stop;
}
# 48
if header :contains "x-mailer" "BulkMailer Pro" {
  fileinto :create "Junk";
  stop;
}
# 49
if header :matches "subject" "*$$$*" {
  fileinto :create "Junk";
  stop;
}

# ---- the spam rule (the scanner's verdict; SpamAssassin's and ringmail's headers)
# 50
if anyof (header :contains "x-spam-flag" "YES", header :matches "x-spam-status" "Yes, *") {
  fileinto :create "Junk";
  stop;
}
