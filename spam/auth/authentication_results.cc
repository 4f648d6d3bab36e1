#include "spam/auth/authentication_results.h"

#include "absl/strings/str_cat.h"
#include "mail/header.h"

namespace ringmail::spam {
namespace {

// Longest outside text kept in one value or comment: a domain is at most 255 octets; a
// reason longer than this is noise, and the line must stay under RFC 5322's 998.
constexpr size_t max_value_bytes = 255;
constexpr size_t max_comment_bytes = 200;
constexpr size_t fold_column = 78;

// Outside text without control characters (CR, LF, NUL, DEL, ...): nothing can end the
// field or start another.
std::string clean(std::string_view text, size_t max_bytes) {
  std::string out;
  for (char c : text) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) continue;
    if (out.size() == max_bytes) break;
    out.push_back(c);
  }
  return out;
}

// RFC 2045 §5.1 token: US-ASCII printable, no space, no tspecials.
bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) return false;
    if (std::string_view("()<>@,;:\\\"/[]?=").find(c) != std::string_view::npos) return false;
  }
  return true;
}

bool is_atext(char c) {
  unsigned char u = static_cast<unsigned char>(c);
  if (u <= 0x20 || u >= 0x7f) return false;
  return std::string_view("()<>[]:;@\\,.\"").find(c) == std::string_view::npos;
}

// RFC 8601 pvalue also allows [local-part] "@" domain-name unquoted: a dot-atom local part
// and a token domain.
bool is_plain_address(std::string_view s) {
  size_t at = s.rfind('@');
  if (at == std::string_view::npos) return false;
  std::string_view local = s.substr(0, at), domain = s.substr(at + 1);
  if (!is_token(domain)) return false;
  if (local.empty()) return true;
  if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos) return false;
  for (char c : local) {
    if (c != '.' && !is_atext(c)) return false;
  }
  return true;
}

std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

// A value for a methodspec/ptype: the token itself, or a quoted-string.
std::string value(std::string_view outside, bool address_allowed = false) {
  std::string v = clean(outside, max_value_bytes);
  if (is_token(v) || (address_allowed && is_plain_address(v))) return v;
  return quoted(v);
}

std::string comment(std::string_view outside) {
  std::string out = "(";
  for (char c : clean(outside, max_comment_bytes)) {
    if (c == '(' || c == ')' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back(')');
  return out;
}

// One resinfo: its elements, joined by spaces (folded between them when long).
struct resinfo {
  std::vector<std::string> parts;
  resinfo& add(std::string part) {
    parts.push_back(std::move(part));
    return *this;
  }
  resinfo& prop(std::string_view name, std::string_view outside, bool address_allowed = false) {
    return add(absl::StrCat(std::string(name), "=", value(outside, address_allowed)));
  }
};

// Appends `parts` to `out` starting on a new folded line; a part that would pass the
// fold column goes on a line of its own (a single long part stays whole: it holds no
// place to fold that would not change its value).
void append_folded(std::string& out, const resinfo& info, bool last) {
  out += "\r\n\t";
  size_t column = 8;  // a tab
  for (size_t i = 0; i < info.parts.size(); ++i) {
    std::string part = info.parts[i];
    if (i + 1 == info.parts.size() && !last) part.push_back(';');
    if (i > 0) {
      if (column + 1 + part.size() > fold_column) {
        out += "\r\n\t";
        column = 8;
      } else {
        out.push_back(' ');
        ++column;
      }
    }
    out += part;
    column += part.size();
  }
}

std::vector<resinfo> results_of(const message_auth& auth, const ar_context& context) {
  std::vector<resinfo> infos;
  if (context.iprev) {
    resinfo info;
    info.add(absl::StrCat("iprev=", value(context.iprev->result)));
    if (!context.iprev->name.empty()) info.add(comment(context.iprev->name));
    info.prop("policy.iprev", context.iprev->address);
    infos.push_back(std::move(info));
  }
  {
    resinfo info;
    info.add(absl::StrCat("spf=", std::string(to_string(auth.spf.result))));
    if (auth.spf.result != spf_result::pass && auth.spf.result != spf_result::none && !auth.spf.explanation.empty()) {
      info.prop("reason", auth.spf.explanation);
    }
    std::string_view mailfrom = context.mail_from.empty() ? std::string_view(auth.spf.domain) : context.mail_from;
    if (!mailfrom.empty()) info.prop("smtp.mailfrom", mailfrom, true);
    infos.push_back(std::move(info));
  }
  if (auth.helo_spf.result != spf_result::none) {
    resinfo info;
    info.add(absl::StrCat("spf=", std::string(to_string(auth.helo_spf.result))));
    if (auth.helo_spf.result != spf_result::pass && !auth.helo_spf.explanation.empty()) {
      info.prop("reason", auth.helo_spf.explanation);
    }
    std::string_view helo = context.helo.empty() ? std::string_view(auth.helo_spf.domain) : context.helo;
    if (!helo.empty()) info.prop("smtp.helo", helo);
    infos.push_back(std::move(info));
  }
  if (auth.dkim.empty()) infos.push_back(resinfo().add("dkim=none"));
  for (const dkim_signature_check& sig : auth.dkim) {
    resinfo info;
    info.add(absl::StrCat("dkim=", std::string(to_string(sig.result))));
    if (sig.key_bits > 0) info.add(comment(absl::StrCat(sig.key_bits, "-bit key")));
    // l= left content unsigned: readers must know the pass does not cover all of it.
    if (sig.result == dkim_result::pass && sig.body_length_limited) info.add(comment("body length limited"));
    if (sig.result != dkim_result::pass && !sig.reason.empty()) info.prop("reason", sig.reason);
    if (!sig.domain.empty()) info.prop("header.d", sig.domain);
    if (!sig.identity.empty()) info.prop("header.i", sig.identity, true);
    if (!sig.selector.empty()) info.prop("header.s", sig.selector);
    if (!sig.algorithm.empty()) info.prop("header.a", sig.algorithm);
    if (!sig.b_prefix.empty()) info.prop("header.b", sig.b_prefix);
    infos.push_back(std::move(info));
  }
  {
    const dmarc_check& d = auth.dmarc;
    resinfo info;
    info.add(absl::StrCat("dmarc=", std::string(to_string(d.result))));
    if (d.result == dmarc_result::pass || d.result == dmarc_result::fail) {
      // opendmarc's comment: the published policy and what we did.
      info.add(absl::StrCat("(p=", std::string(to_string(d.policy)), " dis=", std::string(to_string(d.disposition)), ")"));
    }
    if ((d.result == dmarc_result::temperror || d.result == dmarc_result::permerror) && !d.reason.empty()) {
      info.prop("reason", d.reason);
    }
    if (!d.from_domain.empty()) info.prop("header.from", d.from_domain);
    infos.push_back(std::move(info));
  }
  {
    const arc_check& a = auth.arc;
    resinfo info;
    info.add(absl::StrCat("arc=", std::string(to_string(a.result))));
    if (a.instances > 0) {
      std::string text = absl::StrCat("i=", a.instances);
      if (!a.oldest_pass_domain.empty()) absl::StrAppend(&text, " oldest pass ", clean(a.oldest_pass_domain, max_value_bytes));
      info.add(comment(text));
    }
    if (a.result == arc_result::fail && !a.reason.empty()) info.prop("reason", a.reason);
    infos.push_back(std::move(info));
  }
  return infos;
}

bool is_wsp(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

}  // namespace

std::string format_authentication_results(std::string_view authserv_id, const message_auth& auth,
                                          const ar_context& context) {
  std::string out = absl::StrCat("Authentication-Results: ", value(authserv_id), ";");
  if (!auth.checked) {
    out += " none\r\n";
    return out;
  }
  std::vector<resinfo> infos = results_of(auth, context);
  for (size_t i = 0; i < infos.size(); ++i) append_folded(out, infos[i], i + 1 == infos.size());
  out += "\r\n";
  return out;
}

std::string_view authserv_id_of(std::string_view v) {
  size_t i = 0;
  // CFWS before the id: whitespace, line folds and (nested) comments. A counter, not
  // recursion, so 10,000 nested comments cost no stack.
  while (i < v.size()) {
    if (is_wsp(v[i])) {
      ++i;
    } else if (v[i] == '(') {
      size_t depth = 0;
      for (; i < v.size(); ++i) {
        if (v[i] == '\\') {
          ++i;
        } else if (v[i] == '(') {
          ++depth;
        } else if (v[i] == ')' && --depth == 0) {
          break;
        }
      }
      if (i >= v.size()) return {};  // unterminated comment
      ++i;
    } else {
      break;
    }
  }
  if (i >= v.size()) return {};
  if (v[i] == '"') {
    size_t start = ++i;
    for (; i < v.size(); ++i) {
      if (v[i] == '\\') {
        ++i;
      } else if (v[i] == '"') {
        return v.substr(start, i - start);
      }
    }
    return {};  // unterminated quoted-string
  }
  size_t start = i;
  while (i < v.size() && !is_wsp(v[i]) && v[i] != ';' && v[i] != '(' && v[i] != '"') ++i;
  return v.substr(start, i - start);
}

std::vector<byte_range> remove_our_authentication_results(std::string_view message, std::string_view authserv_id) {
  std::vector<byte_range> ranges;
  size_t field_start = std::string_view::npos;
  auto finish = [&](size_t end) {
    if (field_start == std::string_view::npos) return;
    std::string_view field = message.substr(field_start, end - field_start);
    field_start = std::string_view::npos;
    size_t colon = field.find(':');
    if (colon == std::string_view::npos) return;
    std::string_view name = field.substr(0, colon);
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
    if (!mail::equals_ignore_case(name, "Authentication-Results")) return;
    std::string_view id = authserv_id_of(field.substr(colon + 1));
    if (!id.empty() && mail::equals_ignore_case(id, authserv_id)) {
      ranges.push_back({static_cast<size_t>(field.data() - message.data()), field.size()});
    }
  };
  size_t pos = 0;
  while (pos < message.size()) {
    size_t nl = message.find('\n', pos);
    size_t next = nl == std::string_view::npos ? message.size() : nl + 1;
    std::string_view line = message.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;  // the empty line ends the header block
    if (line[0] == ' ' || line[0] == '\t') {
      // A continuation line belongs to the open field (a leading one to none).
    } else {
      finish(pos);
      field_start = pos;
    }
    pos = next;
  }
  finish(pos);
  return ranges;
}

std::string without_ranges(std::string_view message, const std::vector<byte_range>& ranges) {
  std::string out;
  out.reserve(message.size());
  size_t pos = 0;
  for (const byte_range& r : ranges) {
    if (r.offset < pos || r.offset > message.size()) continue;  // not ascending: ignored
    out.append(message.substr(pos, r.offset - pos));
    pos = std::min(message.size(), r.offset + r.length);
  }
  out.append(message.substr(pos));
  return out;
}

}  // namespace ringmail::spam
