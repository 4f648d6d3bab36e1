# exists (RFC 5228 5.5, every name must exist) and size (5.9, :over/:under with K
# and M, over the CRLF form of the message).
require "fileinto";
if exists ["list-id", "list-post", "list-unsubscribe"] {
  fileinto "Exists.full-list";
} elsif exists ["list-id", "x-no-such-header"] {
  fileinto "Exists.never";
}
if size :under 3K {
  fileinto "Size.small";
} elsif size :over 1M {
  fileinto "Size.huge";
} elsif size :over 10000 {
  fileinto "Size.large";
}
