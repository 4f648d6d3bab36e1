#include "mail/header.h"
#include "spam/match/scan_targets.h"

#include <algorithm>

#include "absl/strings/string_view.h"

namespace ringmail::spam {
namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

void trim_back(std::string& out, size_t from) {
  while (out.size() > from && is_space(out.back())) out.pop_back();
}

// Index just past the quoted-string that starts at s[i] == '"' (RFC 5322 3.2.4).
size_t skip_quoted(std::string_view s, size_t i) {
  for (++i; i < s.size(); ++i) {
    if (s[i] == '\\') {
      ++i;
    } else if (s[i] == '"') {
      return i + 1;
    }
  }
  return s.size();
}

// Index just past the (possibly nested) comment that starts at s[i] == '(' (RFC 5322 3.2.2).
size_t skip_comment(std::string_view s, size_t i) {
  int depth = 0;
  for (; i < s.size(); ++i) {
    if (s[i] == '\\') {
      ++i;
    } else if (s[i] == '(') {
      ++depth;
    } else if (s[i] == ')') {
      if (--depth == 0) return i + 1;
    }
  }
  return s.size();
}

// Position of the first '<' outside quoted strings and comments, or npos.
size_t find_angle(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    if (s[i] == '"') {
      i = skip_quoted(s, i);
    } else if (s[i] == '(') {
      i = skip_comment(s, i);
    } else if (s[i] == '<') {
      return i;
    } else {
      ++i;
    }
  }
  return std::string_view::npos;
}

// Appends a raw header value with CRLF line ends made LF and the final line end dropped,
// the form SpamAssassin keeps raw headers in.
void append_raw(std::string_view raw, std::string& out) {
  while (!raw.empty() && (raw.back() == '\n' || raw.back() == '\r')) raw.remove_suffix(1);
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\r' && i + 1 < raw.size() && raw[i + 1] == '\n') continue;
    out += raw[i];
  }
}

void append_value(const mail::text_header& h, header_form form, std::string& out) {
  switch (form) {
    case header_form::decoded: out += h.decoded; break;
    case header_form::raw: append_raw(h.raw, out); break;
    case header_form::addr:
    case header_form::name: {
      // SA 4.0 Check.pm joins get()'s values with "" when they end in "\n" (header
      // values) and with "\n" otherwise: addresses and names carry no trailing newline,
      // so /\s/ on From:addr does not see one. A value without an address adds nothing.
      size_t mark = out.size();
      if (mark > 0) out += '\n';
      size_t start = out.size();
      if (form == header_form::addr) {
        append_first_address(h.decoded, out);
      } else {
        append_display_name(h.decoded, out);
      }
      if (out.size() == start) out.resize(mark);
      return;
    }
  }
  out += '\n';
}

// Appends every value of header `name` in `form`; true if there was one.
bool append_named(const std::vector<mail::text_header>& headers, std::string_view name,
                  header_form form, std::string& out) {
  bool found = false;
  for (const auto& h : headers) {
    if (!mail::equals_ignore_case(h.name, name)) continue;
    found = true;
    if (out.size() < max_header_target_bytes) append_value(h, form, out);
  }
  return found;
}

void cap(std::string& out, size_t limit) {
  if (out.size() > limit) out.resize(limit);
}

std::string_view capped(std::string_view s, size_t limit) { return s.substr(0, std::min(s.size(), limit)); }

bool build_special(const mail::message_text& text, const target_key& key, std::string& out) {
  switch (key.source) {
    case target_source::all_headers:
      for (size_t i = 0; i + text.synthesized_headers < text.headers.size(); ++i) {
        const auto& h = text.headers[i];
        if (out.size() >= max_header_target_bytes) break;
        out += h.name;
        out += ": ";
        if (key.form == header_form::raw) {
          append_raw(h.raw, out);
        } else {
          out += h.decoded;
        }
        out += '\n';
      }
      return !text.headers.empty();
    case target_source::to_cc: {
      // PerMsgStatus::_get: To first, then Cc.
      bool to = append_named(text.headers, "to", key.form, out);
      bool cc = append_named(text.headers, "cc", key.form, out);
      return to || cc;
    }
    case target_source::message_id: {
      bool a = append_named(text.headers, "message-id", key.form, out);
      bool b = append_named(text.headers, "resent-message-id", key.form, out);
      bool c = append_named(text.headers, "x-message-id", key.form, out);
      return a || b || c;
    }
    case target_source::envelope_from: {
      // The envelope sender, angle brackets stripped, whatever the modifier.
      for (std::string_view name : {std::string_view("return-path"), std::string_view("x-envelope-from")}) {
        for (const auto& h : text.headers) {
          if (!mail::equals_ignore_case(h.name, name)) continue;
          append_first_address(h.decoded, out);
          out += '\n';
          return true;
        }
      }
      return false;
    }
    default:
      return false;
  }
}

}  // namespace

target_key target_key_for(const rule& r) {
  target_key key;
  switch (r.target) {
    case rule_target::body: key.source = target_source::body; return key;
    case rule_target::rawbody: key.source = target_source::raw_body; return key;
    case rule_target::uri: key.source = target_source::uris; return key;
    case rule_target::full: key.source = target_source::full; return key;
    case rule_target::header:
    case rule_target::mimeheader:
      break;
  }
  if (r.header_modifier == ":raw") {
    key.form = header_form::raw;
  } else if (r.header_modifier == ":addr") {
    key.form = header_form::addr;
  } else if (r.header_modifier == ":name") {
    key.form = header_form::name;
  }
  if (r.target == rule_target::mimeheader) {
    key.source = target_source::mime_header;
    key.header = lowercase(r.header_name);
    return key;
  }
  if (r.header_name == "ALL") {
    key.source = target_source::all_headers;
    // ALL:addr and ALL:name mean nothing in SpamAssassin; read them as ALL.
    if (key.form != header_form::raw) key.form = header_form::decoded;
  } else if (r.header_name == "ToCc") {
    key.source = target_source::to_cc;
  } else if (r.header_name == "EnvelopeFrom") {
    key.source = target_source::envelope_from;
    key.form = header_form::addr;
  } else if (r.header_name == "MESSAGEID") {
    key.source = target_source::message_id;
  } else {
    key.source = target_source::header;
    key.header = lowercase(r.header_name);
  }
  return key;
}

bool is_line_target(target_source source) {
  return source == target_source::body || source == target_source::raw_body || source == target_source::uris;
}

const char* target_name(const target_key& key) {
  switch (key.source) {
    case target_source::header: return "header";
    case target_source::all_headers: return "header ALL";
    case target_source::to_cc: return "header ToCc";
    case target_source::envelope_from: return "header EnvelopeFrom";
    case target_source::message_id: return "header MESSAGEID";
    case target_source::body: return "body";
    case target_source::raw_body: return "rawbody";
    case target_source::uris: return "uri";
    case target_source::full: return "full";
    case target_source::mime_header: return "mimeheader";
  }
  return "?";
}

void append_first_address(std::string_view value, std::string& out) {
  size_t angle = find_angle(value);
  if (angle != std::string_view::npos) {
    size_t end = value.find('>', angle + 1);
    out += trim(value.substr(angle + 1, end == std::string_view::npos ? std::string_view::npos : end - angle - 1));
    return;
  }
  // A bare addr-spec: the first item of the list, comments removed. A group
  // ("undisclosed-recipients:;") contributes its members, i.e. nothing here.
  size_t start = out.size();
  for (size_t i = 0; i < value.size();) {
    char c = value[i];
    if (c == '"') {
      size_t end = skip_quoted(value, i);
      out.append(value.substr(i, end - i));
      i = end;
    } else if (c == '(') {
      i = skip_comment(value, i);
    } else if (c == ',' || c == ';') {
      break;
    } else if (c == ':') {
      out.resize(start);  // a group name
      ++i;
    } else {
      if (!(out.size() == start && is_space(c))) out += c;
      ++i;
    }
  }
  trim_back(out, start);
}

void append_display_name(std::string_view value, std::string& out) {
  size_t angle = find_angle(value);
  size_t start = out.size();
  if (angle != std::string_view::npos) {
    // The phrase: quoted-strings unquoted, comments dropped, whitespace trimmed.
    std::string_view phrase = trim(value.substr(0, angle));
    for (size_t i = 0; i < phrase.size();) {
      char c = phrase[i];
      if (c == '"') {
        size_t end = skip_quoted(phrase, i);
        size_t stop = end > i + 1 && end <= phrase.size() && phrase[end - 1] == '"' ? end - 1 : end;
        for (size_t j = i + 1; j < stop; ++j) {
          if (phrase[j] == '\\' && j + 1 < stop) ++j;
          out += phrase[j];
        }
        i = end;
      } else if (c == '(') {
        i = skip_comment(phrase, i);
      } else {
        out += c;
        ++i;
      }
    }
    trim_back(out, start);
    return;
  }
  // addr-spec (Name): the old comment form of a display name.
  for (size_t i = 0; i < value.size();) {
    if (value[i] == '"') {
      i = skip_quoted(value, i);
    } else if (value[i] == '(') {
      size_t end = skip_comment(value, i);
      size_t stop = end > i + 1 && value[end - 1] == ')' ? end - 1 : end;
      out += trim(value.substr(i + 1, stop - i - 1));
      return;
    } else if (value[i] == ',') {
      return;
    } else {
      ++i;
    }
  }
}

target_builder::target_builder(std::vector<target_key> keys) : keys_(std::move(keys)) {
  for (uint32_t i = 0; i < keys_.size(); ++i) {
    const target_key& k = keys_[i];
    switch (k.source) {
      case target_source::header:
        by_header_[k.header].push_back(i);
        longest_name_ = std::max(longest_name_, k.header.size());
        break;
      case target_source::mime_header:
        by_mime_header_[k.header].push_back(i);
        longest_name_ = std::max(longest_name_, k.header.size());
        break;
      case target_source::all_headers:
      case target_source::to_cc:
      case target_source::envelope_from:
      case target_source::message_id:
        special_.push_back(i);
        break;
      default:
        break;
    }
  }
}

void target_builder::build(const mail::message_text& text, std::vector<std::string>& storage,
                           std::vector<std::string_view>& views, std::vector<uint8_t>& present) const {
  storage.resize(keys_.size());
  views.resize(keys_.size());
  present.assign(keys_.size(), 0);
  for (auto& s : storage) s.clear();

  // Named headers: one pass over the message's headers, each appended to every target
  // that reads it, instead of one pass per target (there are ~200 in the stock rules).
  auto distribute = [&](const std::vector<mail::text_header>& headers,
                        const absl::flat_hash_map<std::string, std::vector<uint32_t>>& index) {
    if (index.empty()) return;
    char name[256];
    for (const auto& h : headers) {
      if (h.name.size() > longest_name_ || h.name.size() > sizeof(name)) continue;
      for (size_t i = 0; i < h.name.size(); ++i) name[i] = lower(h.name[i]);
      auto it = index.find(absl::string_view(name, h.name.size()));
      if (it == index.end()) continue;
      for (uint32_t t : it->second) {
        present[t] = 1;
        if (storage[t].size() < max_header_target_bytes) append_value(h, keys_[t].form, storage[t]);
      }
    }
  };
  distribute(text.headers, by_header_);
  distribute(text.mime_headers, by_mime_header_);
  for (uint32_t t : special_) present[t] = build_special(text, keys_[t], storage[t]) ? 1 : 0;

  for (uint32_t t = 0; t < keys_.size(); ++t) {
    switch (keys_[t].source) {
      case target_source::body:
        views[t] = capped(text.body, max_body_target_bytes);
        present[t] = 1;
        break;
      case target_source::raw_body:
        views[t] = capped(text.raw_body, max_body_target_bytes);
        present[t] = 1;
        break;
      case target_source::full:
        views[t] = capped(text.full, max_full_target_bytes);
        present[t] = 1;
        break;
      case target_source::uris: {
        std::string& out = storage[t];
        for (const auto& u : text.uris) {
          if (out.size() + u.size() + 1 > max_uri_target_bytes) break;
          if (!out.empty()) out += '\n';
          out += u;
        }
        views[t] = out;
        present[t] = text.uris.empty() ? 0 : 1;
        break;
      }
      default:
        cap(storage[t], max_header_target_bytes);
        views[t] = storage[t];
        break;
    }
  }
}

void target_builder::build_body(const mail::message_text& text, std::vector<std::string_view>& views,
                                std::vector<uint8_t>& present) const {
  views.resize(keys_.size());
  present.resize(keys_.size());
  for (uint32_t t = 0; t < keys_.size(); ++t) {
    if (keys_[t].source != target_source::body) continue;
    views[t] = capped(text.body, max_body_target_bytes);
    present[t] = 1;
  }
}

}  // namespace ringmail::spam
