# date (RFC 5260 4): parts of the Date header in its own zone (:originalzone), in a
# fixed zone (:zone), and in the local zone (TZ=UTC for both sides); malformed dates
# (the corpus has "-1900", "0530", year 0102) simply do not match.
require ["date", "relational", "fileinto", "variables"];
if date :originalzone :matches "date" "zone" "*" { set "zone" "${1}"; }
if date :value "lt" :originalzone "date" "date" "2002-08-01" {
  fileinto "Date.before-august";
} elsif date :zone "+0000" :value "ge" "date" "hour" "18" {
  fileinto "Date.evening-utc";
} elsif date :is "date" "weekday" ["0", "6"] {
  fileinto "Date.weekend";
} elsif string :is "${zone}" "+0100" {
  fileinto "Date.zone-plus-one";
}
