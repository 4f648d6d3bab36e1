#include "protocols/imap/list_match.h"

#include <algorithm>
#include <set>

#include "mail/header.h"

namespace ringmail::imap {
namespace {

// How many leading bytes of `name` compare case-insensitively: 5 for "INBOX" and its
// children (INBOX is the one case-insensitive name, RFC 9051 5.1), else 0.
size_t inbox_prefix(std::string_view name) {
  if (name.size() >= 5 && mail::equals_ignore_case(name.substr(0, 5), "INBOX") &&
      (name.size() == 5 || name[5] == '/')) {
    return 5;
  }
  return 0;
}

char upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }

}  // namespace

bool list_pattern_matches(std::string_view pattern, std::string_view name) {
  if (pattern.size() > max_pattern_bytes) return false;
  // The INBOX part of a name matches case-insensitively wherever the pattern's literals
  // fall on it, so "inbox", "Inbox/x", "inb*" and "i%X" all reach INBOX, as in Dovecot
  // (its test-imap-match.c); only rewriting a leading "inbox" missed the last two.
  const size_t fold = inbox_prefix(name);
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
        if (can[j] && (name[j] == p || (j < fold && upper(name[j]) == upper(p)))) next[j + 1] = 1;
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
