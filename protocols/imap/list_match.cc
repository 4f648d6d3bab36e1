#include "protocols/imap/list_match.h"

#include <algorithm>
#include <set>

#include "mail/header.h"

namespace ringmail::imap {
namespace {

// "inbox", "Inbox/x" -> "INBOX", "INBOX/x": INBOX is the one case-insensitive name.
std::string canonical_inbox(std::string_view s) {
  std::string out(s);
  if (s.size() >= 5 && mail::equals_ignore_case(s.substr(0, 5), "INBOX") &&
      (s.size() == 5 || s[5] == '/')) {
    out.replace(0, 5, "INBOX");
  }
  return out;
}

}  // namespace

bool list_pattern_matches(std::string_view raw_pattern, std::string_view name) {
  if (raw_pattern.size() > max_pattern_bytes) return false;
  const std::string pattern = canonical_inbox(raw_pattern);
  // can[j]: pattern[0..i) can match name[0..j). One row per pattern character.
  const size_t n = name.size();
  std::vector<char> can(n + 1, 0), next(n + 1, 0);
  can[0] = 1;
  for (char p : pattern) {
    std::fill(next.begin(), next.end(), 0);
    if (p == '*') {
      bool any = false;
      for (size_t j = 0; j <= n; ++j) {
        any = any || can[j];
        next[j] = any;
      }
    } else if (p == '%') {
      bool run = false;
      for (size_t j = 0; j <= n; ++j) {
        if (can[j]) run = true;
        next[j] = run;
        if (j < n && name[j] == '/') run = false;
      }
    } else {
      for (size_t j = 0; j < n; ++j) {
        if (can[j] && name[j] == p) next[j + 1] = 1;
      }
    }
    can.swap(next);
  }
  return can[n] != 0;
}

std::string list_full_pattern(std::string_view reference, std::string_view pattern) {
  if (reference.empty()) return std::string(pattern);
  std::string out(reference);
  if (out.back() != '/' && !pattern.empty() && pattern.front() != '/') out += '/';
  if (out.back() == '/' && !pattern.empty() && pattern.front() == '/') out.pop_back();
  out.append(pattern);
  return out;
}

std::vector<list_entry> list_candidates(const std::vector<std::string>& folders,
                                        const std::vector<std::string>& subscriptions,
                                        const std::map<std::string, std::string>& special_use) {
  std::set<std::string> real(folders.begin(), folders.end());
  std::set<std::string> subscribed(subscriptions.begin(), subscriptions.end());
  std::set<std::string> all = real;
  for (const auto& s : subscribed) all.insert(s);
  // Ancestors of every name, so "a/b" brings in "a".
  std::set<std::string> with_parents = all;
  for (const auto& name : all) {
    for (size_t p = name.find('/'); p != std::string::npos; p = name.find('/', p + 1)) {
      with_parents.insert(name.substr(0, p));
    }
  }
  std::vector<list_entry> out;
  out.reserve(with_parents.size());
  for (const auto& name : with_parents) {
    list_entry e;
    e.name = name;
    e.exists = real.contains(name);
    e.subscribed = subscribed.contains(name);
    const std::string prefix = name + "/";
    for (auto it = with_parents.upper_bound(prefix); it != with_parents.end(); ++it) {
      if (it->compare(0, prefix.size(), prefix) != 0) break;
      if (real.contains(*it)) e.has_children = true;
      if (subscribed.contains(*it)) e.child_subscribed = true;
      if (e.has_children && e.child_subscribed) break;
    }
    // upper_bound(prefix) skips `prefix` itself, which cannot be a name (no empty levels).
    auto su = special_use.find(name);
    if (su != special_use.end() && e.exists) e.special_use = su->second;
    out.push_back(std::move(e));
  }
  std::stable_partition(out.begin(), out.end(), [](const list_entry& e) { return e.name == "INBOX"; });
  return out;
}

}  // namespace ringmail::imap
