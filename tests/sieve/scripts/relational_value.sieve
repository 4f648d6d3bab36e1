# relational :value (RFC 5231 4.1) with the three comparators: i;ascii-numeric on the
# score (RFC 4790 9.1.1: "-3.4" has no leading digit, so it is positive infinity, and
# "7.1" is 7), i;ascii-casemap and i;octet ordering on the subject.
require ["relational", "comparator-i;ascii-numeric", "fileinto"];
if header :value "ge" :comparator "i;ascii-numeric" "x-spam-score" "100" {
  fileinto "Score.negative-or-none";
} elsif header :value "ge" :comparator "i;ascii-numeric" "x-spam-score" "5" {
  fileinto "Score.high";
} elsif header :value "lt" :comparator "i;ascii-casemap" "subject" "m" {
  fileinto "Subject.a-l";
} elsif header :value "lt" :comparator "i;octet" "subject" "a" {
  fileinto "Subject.upper";
}
