# index (RFC 5260 6) with header and date: the first and :last Received field, and
# the date at the end of the second Received field (RFC 5260 4.1: after its last ";").
require ["index", "date", "fileinto", "relational", "comparator-i;ascii-numeric"];
if header :index 1 :contains "received" "localhost" {
  fileinto "Index.first-local";
} elsif header :index 1 :last :contains "received" ["127.0.0.1", "localhost"] {
  fileinto "Index.last-local";
}
if date :index 2 :value "ge" :comparator "i;ascii-numeric" "received" "month" "09" {
  fileinto "Index.second-hop-autumn";
} elsif date :index 1 :last :is "received" "weekday" "1" {
  fileinto "Index.origin-monday";
}
