# RFC 5228 core: if/elsif/else, keep, discard, stop, true/false, the implicit keep.
# Replies stay in INBOX explicitly; large mail without a reply prefix is dropped; mail
# from the SpamAssassin lists stops early (nothing after `stop` runs).
if header :contains "subject" "Re:" {
  keep;
} elsif size :over 20K {
  discard;
  stop;
} elsif false {
  discard;
} elsif header :contains "from" "spamassassin.taint.org" {
  stop;
} else {
  if true { keep; }
}
if header :contains "subject" "a" {
  discard;
}
