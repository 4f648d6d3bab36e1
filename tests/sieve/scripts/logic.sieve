# allof / anyof / not (RFC 5228 5.2, 5.3, 5.8), nested, with short-circuit order not
# observable.
require "fileinto";
if allof (anyof (header :contains "subject" "Re:", header :contains "subject" "["),
          not exists "x-spam-flag") {
  fileinto "Logic.discussion";
} elsif anyof (allof (exists "x-spam-flag", size :over 4K), not anyof (exists "date", false)) {
  fileinto "Logic.big-spam";
} elsif not allof (true, exists "list-id") {
  fileinto "Logic.no-list";
}
