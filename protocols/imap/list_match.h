// LIST and LSUB (RFC 9051 6.3.9, RFC 3501 6.3.8/6.3.9, RFC 5258 LIST-EXTENDED, RFC 6154
// SPECIAL-USE): which folders a reference and pattern name, and what to say about each.
// Pure: the session passes the folder and subscription lists it got from the owner.
//
// Names are UTF-8 with '/' as the hierarchy delimiter (the session converts to modified
// UTF-7 on the wire). A folder "a/b" whose parent "a" does not exist (Maildir++ stores
// ".a.b" alone) makes "a" appear as \Noselect \HasChildren, as RFC 3501 6.3.8 asks for
// "%" and as Dovecot does for both wildcards; LIST-EXTENDED answers call it \NonExistent.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace ringmail::imap {

// "*" matches any run of characters, "%" any run without the delimiter '/'. The "INBOX"
// part of a name ("INBOX", "INBOX/...") matches case-insensitively (RFC 9051 5.1), also
// across wildcards ("inb*", "i%X") as in Dovecot. Patterns longer than
// max_pattern_bytes never match (bounded work: matching is O(pattern x name)).
inline constexpr size_t max_pattern_bytes = 1024;
bool list_pattern_matches(std::string_view pattern, std::string_view name);

// Reference + pattern as RFC 9051 6.3.9 combines them: the reference is prefixed (with
// a delimiter if it lacks one and the pattern does not start with one).
std::string list_full_pattern(std::string_view reference, std::string_view pattern);

struct list_entry {
  std::string name;
  bool exists = true;          // a real folder (else \Noselect / \NonExistent)
  bool has_children = false;   // \HasChildren / \HasNoChildren
  bool subscribed = false;
  bool child_subscribed = false;  // RECURSIVEMATCH: a descendant is subscribed
  std::string special_use;     // "\\Sent" or ""
};

// Every folder, its missing ancestors, and subscribed names that do not exist, sorted
// with INBOX first, then by name. `special_use`: folder name -> attribute.
std::vector<list_entry> list_candidates(const std::vector<std::string>& folders,
                                        const std::vector<std::string>& subscriptions,
                                        const std::map<std::string, std::string>& special_use);

}  // namespace ringmail::imap
