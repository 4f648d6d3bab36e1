# include (RFC 6609) of personal scripts, once-only and optional includes, and
# `global` variables shared with them (RFC 6609 3.3).
require ["include", "variables", "fileinto"];
global "folder";
set "folder" "";
include :personal "pick_folder";
include :personal :once "pick_folder";
include :personal :optional "no_such_script";
if string :is "${folder}" "" {
  keep;
} else {
  fileinto "${folder}";
}
