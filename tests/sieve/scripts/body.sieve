# body (RFC 5173): :text (decoded text parts), :raw (undecoded body) and
# :content "text/html", with :contains and :matches.
require ["body", "fileinto"];
if body :content "text/html" :contains "<a href" {
  fileinto "Body.html-link";
} elsif body :text :contains ["unsubscribe", "remove"] {
  fileinto "Body.unsubscribe";
} elsif body :raw :matches "*http://*" {
  fileinto "Body.url";
} elsif body :contains "exmh" {
  fileinto "Body.exmh";
}
