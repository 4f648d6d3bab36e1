# oracle: may-fail
# reject and vacation both answer the sender: RFC 5429 2.2 makes them incompatible,
# so where both run the script fails at run time and the message is kept (RFC 5228
# 2.10.6). Elsewhere only one of them runs.
require ["reject", "vacation"];
if size :over 20K {
  vacation "Busy.";
  reject "No large mail, please.";
} elsif size :under 3K {
  reject "Too short to be real.";
}
