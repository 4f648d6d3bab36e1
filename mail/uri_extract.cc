// URIs in plain text, the way SpamAssassin's PerMsgStatus::get_uri_list finds them for
// `uri` rules: explicit schemes (http, https, ftp, mailto), scheme-less hosts that start
// with "www." or "ftp." (given "http://" / "ftp://" as SA does), and bare addresses
// (given "mailto:").
//
// One forward pass with no regex: only ':', '@' and '.' can anchor a URI, so the scan
// skips everything else through a byte table and looks around each anchor, a bounded
// distance backwards and forwards up to where the URI ends. Text inside an extracted URI
// is never looked at again, so the whole pass is linear.
#include "mail/uri_extract.h"

#include <array>
#include <algorithm>
#include <cstdint>

namespace ringmail::mail {
namespace {

// Same cap as the HTML links (SA's MAX_URI_LENGTH).
constexpr size_t kMaxUriBytes = 8192;
// RFC 5321 4.5.3.1: local part at most 64 octets, domain at most 255.
constexpr size_t kMaxLocalPart = 64;
constexpr size_t kMaxDomain = 255;

constexpr std::array<bool, 256> make_anchor_table() {
  std::array<bool, 256> t{};
  t[':'] = t['@'] = t['.'] = true;
  return t;
}
constexpr std::array<bool, 256> kAnchor = make_anchor_table();

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
bool is_alpha(char c) { return (lower(c) >= 'a' && lower(c) <= 'z'); }
bool is_alnum(char c) { return is_alpha(c) || (c >= '0' && c <= '9'); }

// Case-insensitive: does text[at...] spell `word` (lower case)?
bool spells(std::string_view text, size_t at, std::string_view word) {
  if (at + word.size() > text.size()) return false;
  for (size_t i = 0; i < word.size(); ++i) {
    if (lower(text[at + i]) != word[i]) return false;
  }
  return true;
}

// A URI runs to whitespace, a control character, or one of the characters that delimit
// URIs in text (RFC 3986 appendix C: '<' '>' '"').
bool ends_uri(char c) {
  auto u = static_cast<unsigned char>(c);
  return u <= 0x20 || u == 0x7F || c == '<' || c == '>' || c == '"';
}

size_t uri_end(std::string_view text, size_t from) {
  while (from < text.size() && !ends_uri(text[from])) ++from;
  return from;
}

// Punctuation that ends the sentence around a URI rather than the URI itself.
size_t trim_trailing(std::string_view text, size_t start, size_t end) {
  while (end > start) {
    char c = text[end - 1];
    if (c == '.' || c == ',' || c == ';' || c == ':' || c == '!' || c == '?' || c == ')' ||
        c == '\'' || c == ']') {
      --end;
    } else {
      break;
    }
  }
  return end;
}

// RFC 5322 3.2.3 atext and '.', as far as a bare address in text goes.
bool is_local_char(char c) {
  return is_alnum(c) || c == '.' || c == '_' || c == '-' || c == '+' || c == '%' ||
         c == '=' || c == '!' || c == '#' || c == '$' || c == '&' || c == '*' || c == '/' ||
         c == '?' || c == '^' || c == '`' || c == '{' || c == '|' || c == '}' || c == '~' ||
         c == '\'';
}
bool is_domain_char(char c) { return is_alnum(c) || c == '-' || c == '.'; }

class uri_scanner {
 public:
  uri_scanner(std::string_view text, std::vector<std::string>& out, size_t max_uris)
      : text_(text), out_(out), max_uris_(max_uris) {}

  void run() {
    size_t i = 0;
    const size_t n = text_.size();
    while (i < n && out_.size() < max_uris_) {
      while (i < n && !kAnchor[static_cast<unsigned char>(text_[i])]) ++i;
      if (i >= n) break;
      size_t next = 0;
      switch (text_[i]) {
        case ':': next = scheme(i); break;
        case '.': next = bare_host(i); break;
        case '@': next = address(i); break;
      }
      i = next != 0 ? next : i + 1;
    }
  }

 private:
  void emit(std::string_view prefix, size_t start, size_t end) {
    std::string uri(prefix);
    uri.append(text_.substr(start, std::min(end - start, kMaxUriBytes)));
    out_.push_back(std::move(uri));
    consumed_ = end;
  }

  // text_[colon] == ':'. Returns where scanning goes on, 0 when there is no URI here.
  size_t scheme(size_t colon) {
    struct known {
      std::string_view name;
      bool slashes;  // "scheme://" (hierarchical) or "mailto:"
    };
    static constexpr known kSchemes[] = {
        {"https", true}, {"http", true}, {"ftp", true}, {"mailto", false}};
    for (const known& s : kSchemes) {
      if (colon < s.name.size() + consumed_) continue;
      size_t start = colon - s.name.size();
      if (!spells(text_, start, s.name)) continue;
      size_t body = colon + 1;
      if (s.slashes) {
        if (!spells(text_, body, "//")) return 0;
        body += 2;
      }
      // "http:///" has no host. Checked before scanning on: "http:///http:///..." must not
      // make every anchor scan to the end of the text.
      if (s.slashes && body < text_.size() && text_[body] == '/') return 0;
      size_t end = trim_trailing(text_, body, uri_end(text_, body));
      if (end == body) return 0;  // nothing after the scheme
      emit("", start, end);
      return end;
    }
    return 0;
  }

  // text_[dot] == '.': "www." or "ftp." starting a word.
  size_t bare_host(size_t dot) {
    if (dot < 3 + consumed_) return 0;
    size_t start = dot - 3;
    std::string_view prefix;
    if (spells(text_, start, "www")) {
      prefix = "http://";
    } else if (spells(text_, start, "ftp")) {
      prefix = "ftp://";
    } else {
      return 0;
    }
    if (start > 0) {
      char before = text_[start - 1];
      if (is_alnum(before) || before == '.' || before == '-' || before == '_' ||
          before == '/' || before == '@' || before == ':') {
        return 0;
      }
    }
    if (dot + 1 >= text_.size() || !is_alnum(text_[dot + 1])) return 0;
    size_t end = trim_trailing(text_, start, uri_end(text_, dot + 1));
    emit(prefix, start, end);
    return end;
  }

  // text_[at] == '@': local@domain.tld.
  size_t address(size_t at) {
    size_t local = at;
    while (local > consumed_ && at - local < kMaxLocalPart && is_local_char(text_[local - 1])) {
      --local;
    }
    // Quotes and punctuation before the address belong to the sentence ('john@x.com').
    while (local < at && !is_alnum(text_[local])) ++local;
    if (local == at) return 0;
    size_t domain = at + 1;
    size_t end = domain;
    while (end < text_.size() && end - domain < kMaxDomain && is_domain_char(text_[end])) {
      // An empty label ("a..b") ends the domain.
      if (text_[end] == '.' && end + 1 < text_.size() && text_[end + 1] == '.') break;
      ++end;
    }
    while (end > domain && (text_[end - 1] == '.' || text_[end - 1] == '-')) --end;
    if (end == domain || !is_alnum(text_[domain])) return 0;
    // The top-level domain: at least two letters after the last dot.
    size_t last_dot = text_.substr(domain, end - domain).rfind('.');
    if (last_dot == std::string_view::npos) return 0;
    size_t tld = domain + last_dot + 1;
    if (end - tld < 2) return 0;
    for (size_t k = tld; k < end; ++k) {
      if (!is_alpha(text_[k])) return 0;
    }
    emit("mailto:", local, end);
    return end;
  }

  std::string_view text_;
  std::vector<std::string>& out_;
  size_t max_uris_;
  size_t consumed_ = 0;  // text before this belongs to an extracted URI
};

}  // namespace

void extract_uris(std::string_view text, std::vector<std::string>& out, size_t max_uris) {
  uri_scanner(text, out, max_uris).run();
}

}  // namespace ringmail::mail
