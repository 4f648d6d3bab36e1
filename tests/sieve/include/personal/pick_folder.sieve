# Personal script (include :personal): sets the global variable "folder" for the
# including script (RFC 6609 3.3).
require ["include", "variables", "regex"];
global "folder";
if header :regex "subject" "^\\[([A-Za-z]+)" {
  set :lower "folder" "Tag.${1}";
} elsif header :contains "from" "spamassassin.taint.org" {
  set "folder" "Local";
}
