# spamtestplus (RFC 5235 3.3): :percent, 0..100 of the scanner's "required" score.
require ["spamtestplus", "relational", "comparator-i;ascii-numeric", "fileinto", "variables"];
if spamtest :percent :value "eq" :comparator "i;ascii-numeric" "100" {
  fileinto "Spam.certain";
} elsif spamtest :percent :value "ge" :comparator "i;ascii-numeric" "50" {
  fileinto "Spam.likely";
} elsif spamtest :percent :matches "*" {
  if string :value "gt" :comparator "i;ascii-numeric" "${1}" "0" {
    fileinto "Spam.low";
  }
}
