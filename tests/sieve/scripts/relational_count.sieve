# relational :count (RFC 5231 4.2) on header fields and addresses: how many Received
# hops, how many recipients.
require ["relational", "comparator-i;ascii-numeric", "fileinto"];
if header :count "ge" :comparator "i;ascii-numeric" "received" "8" {
  fileinto "Hops.many";
} elsif header :count "le" :comparator "i;ascii-numeric" "received" "3" {
  fileinto "Hops.few";
}
if address :count "gt" :comparator "i;ascii-numeric" ["to", "cc"] "1" {
  fileinto "Several-recipients";
} elsif header :count "eq" :comparator "i;ascii-numeric" "cc" "0" {
  fileinto "No-cc";
}
