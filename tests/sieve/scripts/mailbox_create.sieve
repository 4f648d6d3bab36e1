# mailbox (RFC 5490): mailboxexists against the user's mailboxes (INBOX and Junk
# exist, nothing else) and fileinto :create.
require ["mailbox", "fileinto"];
if mailboxexists "Archive" {
  fileinto "Archive";
} elsif allof (mailboxexists ["INBOX", "Junk"], header :contains "x-spam-flag" "YES") {
  fileinto "Junk";
} elsif header :contains "subject" "[" {
  fileinto :create "Tagged";
}
