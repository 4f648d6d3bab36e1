# vacation (RFC 5230) with :days, :subject built from the original subject, :from
# and :addresses; not for lists, bulk mail or what the scanner flagged (a script
# choice here: the RFC 5230 4.5 checks of to-me and list headers are Pigeonhole's
# commit-time work, which sieve-test does not run).
require ["vacation", "variables"];
if anyof (exists "list-id", header :is "precedence" "bulk", header :contains "x-spam-flag" "YES") {
  keep;
} elsif header :matches "subject" "*" {
  vacation :days 3 :subject "Away: ${1}" :from "jane@example.net"
    :addresses ["jane@example.net", "j.doe@example.net"]
    "I am away until Monday and will read your message then.";
}
