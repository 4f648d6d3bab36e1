# environment (RFC 5183): items both sides must report alike ("location" MS: the
# delivery agent; "phase" post as sieve-test says; "domain" and "host" only tested for
# being there, their values are the machine's).
require ["environment", "fileinto", "variables"];
if allof (environment :is "location" "MS", environment :matches "domain" "?*") {
  if header :contains "subject" "Re:" {
    fileinto "Env.reply";
  }
}
if environment :is "phase" "post" {
  if exists "list-id" { fileinto "Env.list"; }
}
if environment :contains "remote-host" "" {
  fileinto "Env.remote-host-known";
}
