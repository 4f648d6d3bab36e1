# encoded-character (RFC 5228 2.4.2.4): ${hex:...} and ${unicode:...} in strings.
require ["encoded-character", "fileinto"];
if header :contains "subject" "${hex:5B}" {
  fileinto "Enc.bracket";
} elsif header :contains "subject" "${unicode:0024}" {
  fileinto "Enc.dollar";
} elsif header :matches "subject" "*${hex:21 21}*" {
  fileinto "Enc.bang-bang";
}
