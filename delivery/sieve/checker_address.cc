#include "delivery/sieve/checker_address.h"

#include <cstring>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace ringmail::sieve {
namespace {

// RFC 5322 3.2.3 atext, and UTF-8 octets (RFC 6532 3.2).
bool is_atext(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u >= 0x80) return true;
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return c != '\0' && std::strchr("!#$%&'*+-/=?^_`{|}~", c) != nullptr;
}

enum class kind { word, literal, dot, at, open, close, comma, other };

struct piece {
  kind what;
  std::string_view text;
};

// Splits into words (atoms, quoted strings), domain literals and specials, dropping white
// space and comments. nullopt-like failure through `error`.
absl::StatusOr<std::vector<piece>> split(std::string_view s) {
  std::vector<piece> out;
  size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      ++i;
    } else if (c == '(') {  // comment, nesting (RFC 5322 3.2.2)
      int depth = 0;
      for (; i < s.size(); ++i) {
        if (s[i] == '\\') {
          ++i;
        } else if (s[i] == '(') {
          ++depth;
        } else if (s[i] == ')' && --depth == 0) {
          break;
        }
      }
      if (i >= s.size()) return absl::InvalidArgumentError("unclosed comment");
      ++i;
    } else if (c == '"' || c == '[') {
      const char close = c == '"' ? '"' : ']';
      const size_t begin = i++;
      for (; i < s.size() && s[i] != close; ++i) {
        if (s[i] == '\\') ++i;
        if (c == '[' && i < s.size() && s[i] == '[') {
          return absl::InvalidArgumentError("invalid domain literal");
        }
      }
      if (i >= s.size()) {
        return absl::InvalidArgumentError(c == '"' ? "unclosed quoted string" : "unclosed domain literal");
      }
      ++i;
      out.push_back({c == '"' ? kind::word : kind::literal, s.substr(begin, i - begin)});
    } else if (is_atext(c)) {
      const size_t begin = i;
      while (i < s.size() && is_atext(s[i])) ++i;
      out.push_back({kind::word, s.substr(begin, i - begin)});
    } else {
      kind k = kind::other;
      switch (c) {
        case '.': k = kind::dot; break;
        case '@': k = kind::at; break;
        case '<': k = kind::open; break;
        case '>': k = kind::close; break;
        case ',': k = kind::comma; break;
        default: break;
      }
      if (k == kind::comma) return absl::InvalidArgumentError("not a single address (found ',')");
      if (k == kind::other) {
        const auto u = static_cast<unsigned char>(c);
        return absl::InvalidArgumentError(
            u > 31 && u < 127 ? absl::StrCat("unexpected character '", std::string(1, c), "'")
                              : std::string("unexpected control character"));
      }
      out.push_back({k, s.substr(i, 1)});
      ++i;
    }
  }
  return out;
}

// addr-spec over pieces [begin, end).
absl::StatusOr<std::string> addr_spec(const std::vector<piece>& p, size_t begin, size_t end) {
  size_t at = begin;
  while (at < end && p[at].what != kind::at) ++at;
  if (at == end) return absl::InvalidArgumentError("missing '@'");
  std::string out;
  bool any_word = false;
  for (size_t i = begin; i < at; ++i) {
    if (p[i].what == kind::word) {
      // obs-local-part = word *("." word): words need a dot between them.
      if (i > begin && p[i - 1].what == kind::word) {
        return absl::InvalidArgumentError("invalid local part");
      }
      any_word = true;
    } else if (p[i].what != kind::dot) {
      return absl::InvalidArgumentError("invalid local part");
    }
    out.append(p[i].text.data(), p[i].text.size());
  }
  if (!any_word) return absl::InvalidArgumentError("invalid local part");
  out += '@';
  const size_t domain = at + 1;
  if (domain < end && p[domain].what == kind::literal && domain + 1 == end) {
    out.append(p[domain].text.data(), p[domain].text.size());
    return out;
  }
  // dot-atom: word *("." word)
  if (domain >= end || (end - domain) % 2 == 0) {
    return absl::InvalidArgumentError("invalid or missing domain");
  }
  for (size_t i = domain; i < end; ++i) {
    const bool want_word = (i - domain) % 2 == 0;
    if (want_word ? (p[i].what != kind::word || p[i].text[0] == '"') : p[i].what != kind::dot) {
      return absl::InvalidArgumentError("invalid or missing domain");
    }
    out.append(p[i].text.data(), p[i].text.size());
  }
  return out;
}

}  // namespace

absl::StatusOr<std::string> parse_mailbox(std::string_view text) {
  absl::StatusOr<std::vector<piece>> pieces = split(text);
  if (!pieces.ok()) return pieces.status();
  const std::vector<piece>& p = *pieces;
  if (p.empty()) return absl::InvalidArgumentError("empty address");
  size_t open = 0;
  while (open < p.size() && p[open].what != kind::open) ++open;
  if (open == p.size()) return addr_spec(p, 0, p.size());
  // name-addr: the display name is words (and dots, obs-phrase) only.
  for (size_t i = 0; i < open; ++i) {
    if (p[i].what != kind::word && p[i].what != kind::dot) {
      return absl::InvalidArgumentError("invalid display name");
    }
  }
  if (p.back().what != kind::close) return absl::InvalidArgumentError("missing '>'");
  return addr_spec(p, open + 1, p.size() - 1);
}

}  // namespace ringmail::sieve
