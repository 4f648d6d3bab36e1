#include "delivery/directory/address.h"

#include <idn2.h>

#include <cstdint>
#include <cstdlib>
#include <memory>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace ringmail::directory {
namespace {

// RFC 5321 4.5.3.1.
constexpr size_t kMaxLocal = 64;
constexpr size_t kMaxDomain = 255;
constexpr size_t kMaxAddress = 254;
// RFC 1035 2.3.4.
constexpr size_t kMaxLabel = 63;

absl::Status invalid(std::string_view message) { return absl::InvalidArgumentError(std::string(message)); }

// A printable ASCII character may be named in an error; anything else is described.
std::string describe_char(unsigned char c) {
  if (c > 0x20 && c < 0x7f) return absl::StrCat("'", std::string(1, static_cast<char>(c)), "'");
  return absl::StrCat("byte 0x", absl::Hex(c, absl::kZeroPad2));
}

// Control characters and spaces are never part of an address (RFC 5321 4.1.2 has no
// production for them outside quoted strings, which we refuse). CR and LF get their own
// message: in a directory key they are an injection attempt (SMTP, logs, headers).
absl::Status check_no_controls(std::string_view text, std::string_view what) {
  for (unsigned char c : text) {
    if (c == '\r' || c == '\n') return invalid(absl::StrCat(std::string(what), " contains a line break (CR or LF)"));
    if (c == '\0') return invalid(absl::StrCat(std::string(what), " contains a NUL byte"));
    if (c < 0x20 || c == 0x7f) return invalid(absl::StrCat(std::string(what), " contains a control character"));
    if (c == ' ') return invalid(absl::StrCat(std::string(what), " contains a space"));
  }
  return absl::OkStatus();
}

// Decodes one UTF-8 sequence at text[i]; returns its length, or 0 if it is not
// well-formed (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF).
size_t utf8_sequence(std::string_view text, size_t i, uint32_t& code_point) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  unsigned char b0 = byte(i);
  size_t len;
  uint32_t cp;
  if (b0 < 0x80) {
    code_point = b0;
    return 1;
  } else if (b0 >= 0xc2 && b0 <= 0xdf) {
    len = 2;
    cp = b0 & 0x1f;
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    len = 3;
    cp = b0 & 0x0f;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    len = 4;
    cp = b0 & 0x07;
  } else {
    return 0;
  }
  if (i + len > text.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    unsigned char b = byte(i + k);
    if ((b & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3f);
  }
  if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)) return 0;  // overlong
  if (cp >= 0xd800 && cp <= 0xdfff) return 0;                            // surrogate
  if (cp > 0x10ffff) return 0;
  code_point = cp;
  return len;
}

bool is_valid_utf8(std::string_view text) {
  uint32_t cp;
  for (size_t i = 0; i < text.size();) {
    size_t n = utf8_sequence(text, i, cp);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

bool is_ascii(std::string_view text) {
  for (unsigned char c : text) {
    if (c >= 0x80) return false;
  }
  return true;
}

// atext (RFC 5322 3.2.3) less what we refuse on purpose: '%' and '!' (routing), '/'
// (a path separator). '\\' and '"' are not atext at all.
bool is_local_atext(unsigned char c) {
  if (absl::ascii_isalnum(c)) return true;
  switch (c) {
    case '#': case '$': case '&': case '\'': case '*': case '+': case '-': case '=':
    case '?': case '^': case '_': case '`': case '{': case '|': case '}': case '~':
      return true;
    default:
      return false;
  }
}

absl::Status check_local_part(std::string_view local) {
  if (local == "." || local == "..") return invalid("local part may not be \".\" or \"..\"");
  if (local.front() == '.') return invalid("local part starts with a dot");
  if (local.back() == '.') return invalid("local part ends with a dot");
  if (local.find("..") != std::string_view::npos) return invalid("local part has two dots in a row");
  uint32_t cp = 0;
  for (size_t i = 0; i < local.size();) {
    unsigned char c = static_cast<unsigned char>(local[i]);
    if (c >= 0x80) {
      // SMTPUTF8 (RFC 6531 3.3): any UTF-8 beyond ASCII, but it must be UTF-8, and C1
      // controls are controls all the same.
      size_t n = utf8_sequence(local, i, cp);
      if (n == 0) return invalid("local part is not valid UTF-8");
      if (cp >= 0x80 && cp <= 0x9f) return invalid("local part contains a control character");
      i += n;
      continue;
    }
    if (c == '.') {
      ++i;
      continue;
    }
    if (c == '%') return invalid("'%' in a local part (percent-hack routing) is not accepted");
    if (c == '!') return invalid("'!' in a local part (UUCP bang path) is not accepted");
    if (c == '/' || c == '\\') return invalid("path separators ('/', '\\') are not accepted in a local part");
    if (!is_local_atext(c)) {
      return invalid(absl::StrCat("local part contains ", describe_char(c), ", which is not allowed"));
    }
    ++i;
  }
  return absl::OkStatus();
}

// An ASCII host name: LDH labels (RFC 1035 2.3.1, RFC 5321 4.1.2 "Domain"), no empty
// label, no trailing root dot, and a last label that is not all digits (RFC 3696 2: a
// dotted quad is an address literal without its brackets, not a domain).
absl::Status check_host_name(std::string_view name) {
  if (name.empty()) return invalid("empty domain");
  if (name.size() > kMaxDomain) return invalid("domain longer than 255 octets");
  if (name.front() == '.') return invalid("domain starts with a dot");
  if (name.back() == '.') return invalid("domain ends with a dot");
  if (name.find("..") != std::string_view::npos) return invalid("domain has two dots in a row");
  std::string_view last;
  size_t start = 0;
  while (start <= name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string_view::npos) dot = name.size();
    std::string_view label = name.substr(start, dot - start);
    if (label.size() > kMaxLabel) return invalid("domain label longer than 63 octets");
    for (unsigned char c : label) {
      if (!absl::ascii_isalnum(c) && c != '-') {
        return invalid(absl::StrCat("domain contains ", describe_char(c), ", which is not allowed in a host name"));
      }
    }
    if (label.front() == '-' || label.back() == '-') return invalid("domain label starts or ends with a hyphen");
    last = label;
    start = dot + 1;
  }
  bool all_digits = true;
  for (unsigned char c : last) all_digits = all_digits && absl::ascii_isdigit(c);
  if (all_digits) return invalid("domain looks like an IP address; address literals are not accepted");
  return absl::OkStatus();
}

struct idn2_free_deleter {
  void operator()(char* p) const { idn2_free(p); }
};

// IDNA2008 (RFC 5891) with UTS #46 non-transitional mapping: case folding, NFC, full-width
// dots; "ß" stays "ß" (xn--zca), as browsers and registries now do.
absl::StatusOr<std::string> to_a_labels(const std::string& text) {
  char* out = nullptr;
  int rc = idn2_to_ascii_8z(text.c_str(), &out, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
  std::unique_ptr<char, idn2_free_deleter> owned(out);
  if (rc != IDN2_OK || out == nullptr) {
    return invalid(absl::StrCat("domain is not a valid internationalised domain name (", idn2_strerror(rc), ")"));
  }
  return std::string(out);
}

}  // namespace

std::string address::full() const { return absl::StrCat(local, "@", domain); }

bool is_safe_path_component(std::string_view s) {
  if (s.empty() || s == "." || s == "..") return false;
  if (s.find('/') != std::string_view::npos) return false;
  if (s.find('\0') != std::string_view::npos) return false;
  if (s.find("..") != std::string_view::npos) return false;
  return true;
}

absl::StatusOr<std::string> parse_domain(std::string_view text) {
  if (text.empty()) return invalid("empty domain");
  if (text.size() > kMaxDomain) return invalid("domain longer than 255 octets");
  if (absl::Status s = check_no_controls(text, "domain"); !s.ok()) return s;
  if (text.front() == '[') return invalid("address literals ([...]) are not accepted as domains");
  if (text.find('@') != std::string_view::npos) return invalid("domain contains '@'");

  std::string name;
  if (is_ascii(text)) {
    name = absl::AsciiStrToLower(std::string(text));
    if (absl::Status s = check_host_name(name); !s.ok()) return s;
    // An A-label written out by hand must still be valid Punycode of a valid U-label,
    // or two spellings of one domain could become two keys.
    for (size_t start = 0; start < name.size();) {
      size_t dot = name.find('.', start);
      if (dot == std::string::npos) dot = name.size();
      std::string label = name.substr(start, dot - start);
      if (label.size() >= 4 && label.compare(0, 4, "xn--") == 0) {
        absl::StatusOr<std::string> checked = to_a_labels(label);
        if (!checked.ok()) return checked.status();
        if (*checked != label) return invalid("domain has an A-label that is not in canonical form");
      }
      start = dot + 1;
    }
    return name;
  }

  if (!is_valid_utf8(text)) return invalid("domain is not valid UTF-8");
  // Only letters, digits, hyphens and dots may appear beside the non-ASCII characters;
  // libidn2 would otherwise pass '_' or '/' through.
  for (unsigned char c : text) {
    if (c < 0x80 && !absl::ascii_isalnum(c) && c != '-' && c != '.') {
      return invalid(absl::StrCat("domain contains ", describe_char(c), ", which is not allowed in a host name"));
    }
  }
  absl::StatusOr<std::string> converted = to_a_labels(std::string(text));
  if (!converted.ok()) return converted.status();
  name = absl::AsciiStrToLower(*converted);
  if (absl::Status s = check_host_name(name); !s.ok()) return s;
  return name;
}

absl::StatusOr<std::string> parse_catch_all(std::string_view text) {
  if (text.empty() || text.front() != '@') return invalid("a catch-all source has the form \"@domain\"");
  std::string_view domain = text.substr(1);
  if (domain.find(':') != std::string_view::npos) return invalid("source routes (@host:...) are not accepted");
  return parse_domain(domain);
}

absl::StatusOr<address> parse_address(std::string_view text, char detail_separator) {
  if (text.empty()) return invalid("empty address");
  if (absl::Status s = check_no_controls(text, "address"); !s.ok()) return s;
  if (text.front() == '@') {
    if (text.find(':') != std::string_view::npos) return invalid("source routes (@host:...) are not accepted");
    return invalid("address has no local part (\"@domain\" is a catch-all, not a mailbox)");
  }
  if (text.find('"') != std::string_view::npos) {
    return invalid("quoted local parts are not accepted: no mailbox here has one");
  }
  size_t at = text.find('@');
  if (at == std::string_view::npos) return invalid("address has no '@'");
  if (text.find('@', at + 1) != std::string_view::npos) return invalid("address has more than one '@'");
  std::string_view local = text.substr(0, at);
  std::string_view domain_text = text.substr(at + 1);
  if (domain_text.empty()) return invalid("address has no domain");
  if (local.size() > kMaxLocal) return invalid("local part longer than 64 octets");
  if (domain_text.size() > kMaxDomain) return invalid("domain longer than 255 octets");
  if (absl::Status s = check_local_part(local); !s.ok()) return s;
  absl::StatusOr<std::string> domain = parse_domain(domain_text);
  if (!domain.ok()) return domain.status();
  if (text.size() > kMaxAddress || local.size() + 1 + domain->size() > kMaxAddress) {
    return invalid("address longer than 254 octets");
  }

  address out;
  out.domain = std::move(*domain);
  std::string lowered = absl::AsciiStrToLower(std::string(local));
  size_t sep = detail_separator == '\0' ? std::string::npos : lowered.find(detail_separator);
  // Postfix's split_addr leaves "+list" whole: with nothing before the separator there
  // is no user to deliver to.
  if (sep != std::string::npos && sep > 0) {
    out.detail = lowered.substr(sep + 1);
    lowered.resize(sep);
  }
  out.local = std::move(lowered);
  return out;
}

}  // namespace ringmail::directory
