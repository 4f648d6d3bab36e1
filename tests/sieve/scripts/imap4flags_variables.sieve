# imap4flags with variables (RFC 5232 3/4): flags kept in a user variable, tested with
# hasflag on that variable, with :count (relational) on the internal variable.
require ["imap4flags", "variables", "relational", "comparator-i;ascii-numeric", "fileinto"];
set "mine" "";
if exists "list-id" { addflag "mine" "$List"; }
if header :matches "subject" "*[*]*" { addflag "mine" "$Tagged"; }
if address :domain :is "from" "spamassassin.taint.org" { addflag "mine" "$Local"; }
if hasflag :count "ge" :comparator "i;ascii-numeric" "mine" "2" {
  fileinto :flags "${mine}" "Many-flags";
} elsif hasflag "mine" "$List" {
  addflag "${mine}";
  keep;
}
