# redirect (RFC 5228 4.2): to a fixed address and to one built with variables; a
# redirect cancels the implicit keep, redirect :copy (RFC 3894) does not.
require ["copy", "variables"];
if header :contains "subject" "ILUG" {
  redirect "ilug-reader@example.net";
} elsif address :localpart :matches "to" "*" {
  if string :matches "${1}" "zzzz" {
    redirect :copy "zzzz-archive@example.net";
  }
}
