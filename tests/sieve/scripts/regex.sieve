# regex (draft-ietf-sieve-regex as Pigeonhole implements it: POSIX extended, case
# folding with i;ascii-casemap, match variables from the groups).
require ["regex", "variables", "fileinto"];
if header :regex "subject" "^\\[([A-Za-z]+)[-_ ]?[A-Za-z]*\\]" {
  set :lower "tag" "${1}";
  fileinto "Regex.${tag}";
} elsif address :regex :domain "from" "\\.(com|net)$" {
  fileinto "Regex.commercial-${1}";
} elsif header :regex :comparator "i;octet" "subject" "[A-Z]{4,}" {
  fileinto "Regex.shouting";
}
