# The three comparators of RFC 5228 2.7.3 / RFC 4790 on the same values: i;octet is
# case-sensitive, i;ascii-casemap (the default) folds ASCII case only, i;ascii-numeric
# compares the leading digits (none: positive infinity).
require ["fileinto", "comparator-i;ascii-numeric"];
if header :is :comparator "i;octet" "precedence" "bulk" {
  if header :is :comparator "i;ascii-casemap" "x-spam-status" "YES" { fileinto "Cmp.never"; }
  fileinto "Cmp.octet-bulk";
} elsif header :contains :comparator "i;ascii-casemap" "from" "YAHOO" {
  fileinto "Cmp.casemap-yahoo";
} elsif header :is :comparator "i;ascii-numeric" "x-spam-score" ["2", "3", "4"] {
  fileinto "Cmp.numeric-2-4";
} elsif header :contains :comparator "i;octet" "subject" "RE:" {
  fileinto "Cmp.octet-upper-re";
}
