# spamtest (RFC 5235 3.2) fed by X-Spam-Score / X-Spam-Status (pigeonhole.conf.in):
# 0 = not tested, 1 = surely ham ... 10 = surely spam.
require ["spamtest", "relational", "comparator-i;ascii-numeric", "fileinto", "imap4flags"];
if spamtest :is "0" {
  addflag "$Unscanned";
} elsif spamtest :value "ge" :comparator "i;ascii-numeric" "10" {
  fileinto "Junk";
} elsif spamtest :value "ge" :comparator "i;ascii-numeric" "6" {
  fileinto "Maybe-junk";
} elsif spamtest :value "le" :comparator "i;ascii-numeric" "2" {
  addflag "$Ham";
}
