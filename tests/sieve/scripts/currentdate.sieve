# currentdate (RFC 5260 5) against the fixed time both sides run at
# (2026-01-15 12:00:00 UTC, a Thursday), and the message's age against it.
require ["date", "relational", "variables", "fileinto"];
if currentdate :matches "year" "*" { set "year" "${1}"; }
if allof (currentdate :is "weekday" "4", currentdate :value "ge" "hour" "12") {
  if date :value "lt" "date" "year" "${year}" {
    if date :is "date" "month" ["07", "08"] { fileinto "Age.summer-${year}"; }
    elsif date :is "date" "month" "09" { fileinto "Age.september"; }
  }
}
