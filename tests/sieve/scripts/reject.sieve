# reject (RFC 5429 2.2): refuse what the scanner scored high or what is very large;
# reject cancels the implicit keep and must come alone (no keep/fileinto beside it).
require ["reject", "spamtest", "relational", "comparator-i;ascii-numeric"];
if spamtest :value "ge" :comparator "i;ascii-numeric" "9" {
  reject "Your message looks like spam to us.";
  stop;
}
if size :over 25K {
  reject "Message too large for this mailbox.";
}
