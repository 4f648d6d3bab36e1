# editheader (RFC 5293): addheader (first or :last), deleteheader with :index and a
# match type; later tests see the edited header (RFC 5293 5).
require ["editheader", "fileinto", "variables", "index", "relational", "comparator-i;ascii-numeric"];
addheader "X-Sieve-Seen" "first";
addheader :last "X-Sieve-Seen" "last";
if header :index 2 :is "x-sieve-seen" "last" {
  deleteheader :index 1 "x-sieve-seen";
}
if exists "list-id" {
  deleteheader :contains "list-id" ["taint", "sourceforge"];
}
if allof (not exists "list-id", header :count "eq" :comparator "i;ascii-numeric" "x-sieve-seen" "1") {
  fileinto "Edit.no-list";
} elsif exists "list-id" {
  fileinto "Edit.other-list";
}
