#include "spam/rules/replace_tags.h"

namespace ringmail::spam {
namespace {

struct match {
  size_t pos = std::string::npos;
  size_t len = 0;
  std::string_view inner;
  bool found() const { return pos != std::string::npos; }
};

// Perl's  m/$prefix(.+?)$end/  : the leftmost prefix, then the shortest non-empty text
// up to `end`.
match find_delimited(std::string_view s, std::string_view prefix, std::string_view end, size_t from = 0) {
  for (size_t p = s.find(prefix, from); p != std::string_view::npos; p = s.find(prefix, p + 1)) {
    size_t inner_start = p + prefix.size();
    if (inner_start + 1 > s.size()) break;
    size_t q = s.find(end, inner_start + 1);
    if (q == std::string_view::npos) break;  // no later start can find an end either
    return match{p, q + end.size() - p, s.substr(inner_start, q - inner_start)};
  }
  return {};
}

// Perl's  s/$start(pre|post|inter) (.+?)$end//  (first occurrence): returns the name.
std::string take_modifier(std::string& re, const replace_tags_config& c, std::string_view kind) {
  std::string prefix = c.start + std::string(kind) + " ";
  match m = find_delimited(re, prefix, c.end);
  if (!m.found()) return "";
  std::string name(m.inner);
  re.erase(m.pos, m.len);
  return name;
}

// Perl's  split(/(<[^<>]+>)/, $re) : text and tags alternating (text first), trailing
// empty fields dropped.
std::vector<std::string> split_on_tags(std::string_view s) {
  std::vector<std::string> out;
  size_t text_start = 0, i = 0;
  while (true) {
    size_t lt = s.find('<', i);
    if (lt == std::string_view::npos) break;
    size_t j = lt + 1;
    while (j < s.size() && s[j] != '<' && s[j] != '>') ++j;
    if (j < s.size() && s[j] == '>' && j > lt + 1) {
      out.emplace_back(s.substr(text_start, lt - text_start));
      out.emplace_back(s.substr(lt, j + 1 - lt));
      text_start = i = j + 1;
    } else {
      i = j;  // at the next '<' (or the end)
      if (i >= s.size()) break;
    }
  }
  out.emplace_back(s.substr(text_start));
  while (!out.empty() && out.back().empty()) out.pop_back();
  return out;
}

// Perl truth of a hash value: missing, "" and "0" are false.
const std::string* truthy(const absl::flat_hash_map<std::string, std::string>& map, const std::string& key) {
  auto it = map.find(key);
  if (it == map.end() || it->second.empty() || it->second == "0") return nullptr;
  return &it->second;
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  if (from.empty()) return;
  std::string out;
  size_t i = 0;
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, i)) {
    out.append(s, i, p - i);
    out.append(to);
    i = p + from.size();
  }
  out.append(s, i, std::string::npos);
  s = std::move(out);
}

// /<[^>]+>/
bool contains_tag_syntax(std::string_view s) {
  for (size_t lt = s.find('<'); lt != std::string_view::npos; lt = s.find('<', lt + 1)) {
    size_t gt = s.find('>', lt + 1);
    if (gt == std::string_view::npos) return false;
    if (gt > lt + 1) return true;
  }
  return false;
}

}  // namespace

std::string apply_replace_tags(std::string_view pattern, const replace_tags_config& c) {
  std::string re(pattern);
  if (c.start.empty() || c.end.empty()) return re;
  bool again = false;
  int passes = 0;
  do {
    again = false;
    std::string pre_name = take_modifier(re, c, "pre");
    std::string post_name = take_modifier(re, c, "post");
    std::string inter_name = take_modifier(re, c, "inter");
    std::vector<std::string> parts = split_on_tags(re);

    if (const std::string* pre = pre_name.empty() ? nullptr : truthy(c.pre, pre_name)) {
      for (std::string& part : parts) {
        match m = find_delimited(part, c.start, c.end);
        if (m.found()) part.insert(m.pos, *pre);
      }
    }
    if (const std::string* post = post_name.empty() ? nullptr : truthy(c.post, post_name)) {
      for (std::string& part : parts) {
        for (match m = find_delimited(part, c.start, c.end); m.found();
             m = find_delimited(part, c.start, c.end, m.pos + m.len + post->size())) {
          part.insert(m.pos + m.len, *post);
        }
      }
    }
    if (const std::string* inter = inter_name.empty() ? nullptr : truthy(c.inter, inter_name)) {
      // SpamAssassin splits the stringified qr//, which starts with "(?aa)" (Perl >= 5.16),
      // so there is never an empty field before a leading tag: skip index 0.
      for (size_t i = 1; i < parts.size(); ++i) {
        if (parts[i].empty()) parts[i] = *inter;
      }
    }
    for (std::string& part : parts) {
      match m = find_delimited(part, c.start, c.end);
      if (!m.found()) continue;
      std::string name(m.inner);
      if (const std::string* value = truthy(c.tags, name)) {
        replace_all(part, c.start + name + c.end, *value);
        if (!again && contains_tag_syntax(*value)) again = true;
      }
    }
    re.clear();
    for (const std::string& part : parts) re += part;
    ++passes;
  } while (again && passes <= 5);
  return re;
}

}  // namespace ringmail::spam
