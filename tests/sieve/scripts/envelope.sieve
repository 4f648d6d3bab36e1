# envelope (RFC 5228 5.4) on the fixed envelope, with address parts, combined with the
# header From so the outcome varies by message.
require ["envelope", "fileinto"];
if envelope :domain :is "from" "lists.example.org" {
  if address :domain :is "from" "spamassassin.taint.org" {
    fileinto "Envelope.local-list";
  } elsif envelope :all :is "to" "jane+lists@example.net" {
    if header :contains "to" "fork" { fileinto "Envelope.fork"; }
  }
}
if envelope :localpart :is "to" "jane" {
  fileinto "Envelope.wrong";
}
