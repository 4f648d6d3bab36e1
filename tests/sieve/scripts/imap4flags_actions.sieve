# imap4flags (RFC 5232): setflag/addflag/removeflag on the internal variable, which
# keep and fileinto without :flags pick up; :flags overrides it; hasflag tests it.
require ["imap4flags", "fileinto"];
setflag "\\Seen";
if header :contains "subject" "Re:" {
  addflag ["\\Answered", "$Replied"];
}
if header :contains "from" ["yahoo", "hotmail", "msn"] {
  removeflag "\\Seen";
  addflag "$Freemail \\Flagged";
}
if hasflag :contains "$Freemail" {
  fileinto :flags ["\\Flagged", "$Junk"] "Freemail";
}
if size :under 4K {
  keep :flags "\\Draft";
} elsif hasflag "\\Answered" {
  keep;
}
