# fileinto (RFC 5228 4.1) by mailing list: List-Id's "<name.host>" with :matches and
# variables (RFC 5229 3.2: ${1} is the first wildcard); only safe names are used.
require ["fileinto", "variables", "regex"];
if header :regex "list-id" "<([a-z0-9_-]+)[.@]" {
  set :lower "list" "${1}";
  fileinto "Lists.${list}";
} elsif exists "list-post" {
  fileinto "Lists.unknown";
} elsif header :is "precedence" ["bulk", "list"] {
  fileinto "Bulk";
}
