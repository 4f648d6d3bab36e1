# duplicate (RFC 7352): by Message-ID (the default), by another header, and by a
# :uniqueid from a variable. With an empty duplicate store every first answer is
# "not seen"; each test that runs records the id (Pigeonhole lists "track
# duplicate"), so the result shows which tests ran.
require ["duplicate", "variables", "fileinto"];
if exists "list-id" {
  if duplicate { discard; stop; }
}
if header :matches "subject" "*" {
  if duplicate :seconds 3600 :uniqueid "${1}" { fileinto "Dup.subject"; }
}
if not duplicate :header "x-spam-status" :handle "spam" :last {
  if exists "x-spam-status" { fileinto "Dup.scanned"; }
}
