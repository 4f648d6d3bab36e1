# subaddress (RFC 5233) on the fixed envelope (recipient jane+lists@example.net,
# sender bounces+sieve@lists.example.org) and on header addresses, some of which
# carry a "+detail" (kevin+dated+...@) or none.
require ["subaddress", "envelope", "fileinto", "variables"];
if address :detail :matches "to" "*" {
  fileinto "Detail.${1}";
} elsif envelope :detail "to" "lists" {
  if address :user :contains "from" ["list", "admin"] {
    fileinto "Detail.envelope-list";
  } else {
    keep;
  }
}
if envelope :user :is "from" "bounces" {
  if address :user :matches "to" "*-*" { fileinto "Detail.dash-user"; }
}
