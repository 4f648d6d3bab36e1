# vacation-seconds (RFC 6131) and vacation :handle / :mime (RFC 5230 4.2, 4.4).
require ["vacation", "vacation-seconds", "variables"];
if size :over 5K {
  vacation :seconds 86400 :handle "big-mail" "Large mail is read weekly.";
} elsif address :domain :contains "from" "spamassassin" {
  vacation :seconds 1209600 :mime :subject "Out of office"
"Content-Type: text/plain; charset=utf-8

Back in two weeks.";
}
