# Global script (include :global): the issue's default sieve_after, flagged spam
# into Junk; `return` (RFC 6609 3.2) ends only this script.
require ["fileinto", "include"];
if not header :contains "x-spam-flag" "YES" {
  return;
}
fileinto "Junk";
