# include (RFC 6609) of a global script: the issue's default sieve_after, spam with
# "X-Spam-Flag: YES" into Junk; then the personal part runs on (return ends only the
# included script).
require ["include", "fileinto"];
include :global "spam_to_junk";
if header :contains "subject" "Re:" {
  fileinto "Replies";
}
