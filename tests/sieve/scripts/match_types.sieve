# :is / :contains / :matches (RFC 5228 2.7.1) with ?, *, escaped wildcards and
# several keys; header values are RFC 2047-decoded and unfolded before matching.
require ["fileinto", "variables"];
if header :matches "subject" "Re: ?*" {
  fileinto "Match.reply";
} elsif header :matches "subject" "*\\**" {
  fileinto "Match.star";
} elsif header :matches "subject" ["*$*", "*money*", "*free*"] {
  fileinto "Match.money";
} elsif header :contains "subject" ["!", "?"] {
  fileinto "Match.punctuation";
} elsif header :is "subject" "" {
  fileinto "Match.empty";
}
if header :matches "from" "\"*\" <*>" {
  set "display" "${1}";
  if string :matches "${display}" "???" { fileinto "Match.short-name"; }
}
