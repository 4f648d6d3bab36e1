# address (RFC 5228 5.1): :all, :localpart, :domain over From, To and Cc, each
# address of a list tested on its own, group syntax and display names ignored.
require ["fileinto", "variables"];
if address :all :is ["to", "cc"] ["fork@spamassassin.taint.org", "ilug@linux.ie"] {
  fileinto "Addr.known-list";
} elsif address :domain :matches "from" "*.com" {
  if address :localpart :matches "from" "*[0-9]*" {
    fileinto "Addr.com-digits";
  } else {
    fileinto "Addr.com";
  }
} elsif address :localpart :is "to" ["yyyy", "zzzz"] {
  fileinto "Addr.corpus-owner";
}
