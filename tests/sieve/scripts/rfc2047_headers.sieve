# header decoding: RFC 2047 encoded words in Subject/From are matched decoded (RFC
# 5228 2.7.2), raw octets compared as given; Content-Type and MIME-Version found.
require ["fileinto"];
if header :contains "content-type" "multipart" {
  fileinto "Mime.multipart";
} elsif header :contains "content-type" "html" {
  fileinto "Mime.html";
} elsif not exists "mime-version" {
  fileinto "Mime.none";
}
if header :contains "subject" "=?" {
  fileinto "Mime.undecoded-word";
}
