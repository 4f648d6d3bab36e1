# fileinto :copy and redirect :copy (RFC 3894): the implicit keep survives them;
# a second :copy to the same mailbox is the same action (RFC 5228 2.10.3).
require ["fileinto", "copy"];
if address :domain :contains "from" ".org" {
  fileinto :copy "Archive.org";
}
if header :contains "subject" ["Re:", "RE:"] {
  fileinto :copy "Archive.replies";
  fileinto :copy "Archive.replies";
}
if size :over 8K {
  redirect :copy "big-mail@archive.example.net";
}
