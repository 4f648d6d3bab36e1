// SORT values and order (sort.h).
#include "protocols/imap/sort.h"

#include <algorithm>
#include <optional>

#include "mail/date.h"
#include "mail/header.h"
#include "mail/rfc2047.h"
#include "protocols/imap/base_subject.h"
#include "protocols/imap/message_render.h"

namespace ringmail::imap {

namespace {

// A message may carry this many references at most: 100,000 ids of at least 3 bytes
// each already need more than max_header_field_bytes, so this bounds nothing real.
constexpr size_t kMaxReferences = 100000;

using ck = sort_criterion::kind;

std::string first_mailbox(std::string_view value) {
  std::optional<first_address_result> a = first_address(value);
  if (!a || !a->mailbox) return {};
  return sort_casemap(*a->mailbox);
}

std::string display_name(std::string_view value, mail::charset_converter& charsets) {
  std::optional<first_address_result> a = first_address(value);
  if (!a) return {};
  if (a->name) {
    std::string decoded = mail::decode_header_words(*a->name, charsets);
    if (!decoded.empty()) return sort_casemap(decoded);
  }
  if (a->mailbox && a->domain) return sort_casemap(*a->mailbox + "@" + *a->domain);
  if (a->mailbox) return sort_casemap(*a->mailbox);
  return {};
}

int compare(const sort_facts& a, const sort_facts& b, ck k) {
  auto cmp = [](const auto& x, const auto& y) { return x < y ? -1 : (y < x ? 1 : 0); };
  switch (k) {
    case ck::arrival:
      return cmp(a.internal_date, b.internal_date);
    case ck::date:
      return cmp(a.sent_date, b.sent_date);
    case ck::size:
      return cmp(a.size, b.size);
    case ck::subject:
      return a.subject.compare(b.subject);
    case ck::from:
      return a.from.compare(b.from);
    case ck::to:
      return a.to.compare(b.to);
    case ck::cc:
      return a.cc.compare(b.cc);
    case ck::display_from:
      return a.display_from.compare(b.display_from);
    case ck::display_to:
      return a.display_to.compare(b.display_to);
  }
  return 0;
}

}  // namespace

uint32_t sort_needs(std::span<const sort_criterion> criteria) {
  uint32_t n = 0;
  for (const sort_criterion& c : criteria) {
    switch (c.k) {
      case ck::arrival:
      case ck::size:
        break;
      case ck::date:
        n |= need_date;
        break;
      case ck::subject:
        n |= need_subject;
        break;
      case ck::from:
        n |= need_from;
        break;
      case ck::to:
        n |= need_to;
        break;
      case ck::cc:
        n |= need_cc;
        break;
      case ck::display_from:
        n |= need_display_from;
        break;
      case ck::display_to:
        n |= need_display_to;
        break;
    }
  }
  return n;
}

namespace {

bool is_lwsp(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// RFC 5322 atext.
bool is_atext(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  if (static_cast<unsigned char>(c) >= 0x80) return true;  // 8-bit, as Dovecot's parser
  return std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) != std::string_view::npos;
}

// Skips whitespace and (nested) comments; false at an unterminated comment.
bool skip_cfws(std::string_view v, size_t& p) {
  for (;;) {
    while (p < v.size() && is_lwsp(v[p])) ++p;
    if (p >= v.size() || v[p] != '(') return true;
    int depth = 0;
    for (; p < v.size(); ++p) {
      if (v[p] == '\\') {
        ++p;
      } else if (v[p] == '(') {
        ++depth;
      } else if (v[p] == ')' && --depth == 0) {
        ++p;
        break;
      }
    }
    if (depth != 0) return false;
  }
}

// dot-atom with CFWS around the dots ("a . b" is "a.b"), appended to out.
bool dot_atom(std::string_view v, size_t& p, std::string& out) {
  for (;;) {
    size_t start = p;
    while (p < v.size() && is_atext(v[p])) ++p;
    if (p == start) return false;
    out.append(v.substr(start, p - start));
    size_t save = p;
    if (!skip_cfws(v, p)) return false;
    if (p < v.size() && v[p] == '.') {
      out += '.';
      ++p;
      if (!skip_cfws(v, p)) return false;
      continue;
    }
    p = save;
    return skip_cfws(v, p);
  }
}

// Dovecot's slow path (get_untokenized_msgid) from just after "<": [CFWS] id-left "@"
// [CFWS] id-right ">", where id-left is a dot-atom or a quoted string and id-right a
// dot-atom or a domain literal; comments and whitespace between tokens are dropped.
bool untokenized_msg_id(std::string_view v, size_t& p, std::string& out) {
  if (!skip_cfws(v, p)) return false;
  if (p < v.size() && v[p] == '"') {
    out += '"';
    for (++p; p < v.size() && v[p] != '"'; ++p) {
      if (v[p] == '\\' && p + 1 < v.size()) ++p;
      out += v[p];
    }
    if (p >= v.size()) return false;
    out += '"';
    ++p;
    if (!skip_cfws(v, p)) return false;
  } else if (!dot_atom(v, p, out)) {
    return false;
  }
  if (p >= v.size() || v[p] != '@') return false;
  out += '@';
  ++p;
  if (!skip_cfws(v, p)) return false;
  if (p < v.size() && v[p] == '[') {
    size_t close = v.find(']', p);
    if (close == std::string_view::npos) return false;
    out.append(v.substr(p, close + 1 - p));
    p = close + 1;
    if (!skip_cfws(v, p)) return false;
  } else if (!dot_atom(v, p, out)) {
    return false;
  }
  if (p >= v.size() || v[p] != '>') return false;
  ++p;
  return true;
}

}  // namespace

std::vector<std::string> parse_msg_ids(std::string_view v, size_t limit) {
  // Dovecot's message_id_get_next(): from each "<", a quick scan to ">"; an id without
  // '"', '(' or '[' before the ">" is taken as written minus its whitespace (when it has
  // an "@"; without one the scan goes on after the ">"); otherwise the slow tokenized
  // parse, which on failure goes on right after the "<" (so `<"from <a@b>` finds a@b).
  std::vector<std::string> ids;
  size_t p = 0;
  while (ids.size() < limit) {
    size_t lt = v.find('<', p);
    if (lt == std::string_view::npos) break;
    size_t q = lt + 1;
    bool at = false;
    while (q < v.size() && v[q] != '>' && v[q] != '"' && v[q] != '(' && v[q] != '[') {
      if (v[q] == '@') at = true;
      ++q;
    }
    if (q >= v.size()) break;
    if (v[q] == '>') {
      p = q + 1;
      if (!at) continue;
      std::string id;
      for (char c : v.substr(lt + 1, q - lt - 1)) {
        if (!is_lwsp(c)) id += c;
      }
      ids.push_back(std::move(id));
      continue;
    }
    size_t r = lt + 1;
    std::string id;
    if (untokenized_msg_id(v, r, id)) {
      ids.push_back(std::move(id));
      p = r;
    } else {
      p = lt + 1;
    }
  }
  return ids;
}

void fill_sort_facts(std::string_view header, uint32_t needs, mail::charset_converter& charsets,
                     sort_facts& out) {
  out.sent_date = out.internal_date;
  if (needs == 0) return;
  mail::header_block h = mail::parse_header_block(header);
  auto value = [&](std::string_view name) -> std::optional<std::string> {
    const mail::header_field* f = h.find(name);
    if (f == nullptr) return std::nullopt;
    return mail::unfold(f->value);
  };
  if (needs & need_date) {
    if (auto v = value("Date")) {
      std::optional<mail::message_date> d = mail::parse_message_date(*v);
      // Dovecot's "0 = not found / invalid" also makes an epoch date fall back.
      if (d && d->time != 0) out.sent_date = d->time;
    }
  }
  if (needs & need_subject) {
    if (auto v = value("Subject")) {
      base_subject_result b = base_subject_of_text(mail::decode_header_words(*v, charsets));
      out.subject = std::move(b.subject);
      out.reply_or_forward = b.reply_or_forward;
    }
  }
  if (needs & need_from) {
    if (auto v = value("From")) out.from = first_mailbox(*v);
  }
  if (needs & need_to) {
    if (auto v = value("To")) out.to = first_mailbox(*v);
  }
  if (needs & need_cc) {
    if (auto v = value("Cc")) out.cc = first_mailbox(*v);
  }
  if (needs & need_display_from) {
    if (auto v = value("From")) out.display_from = display_name(*v, charsets);
  }
  if (needs & need_display_to) {
    if (auto v = value("To")) out.display_to = display_name(*v, charsets);
  }
  if (needs & need_threading) {
    if (auto v = value("Message-ID")) {
      std::vector<std::string> ids = parse_msg_ids(*v, 1);
      if (!ids.empty()) out.message_id = std::move(ids.front());
    }
    if (auto v = value("References")) out.references = parse_msg_ids(*v, kMaxReferences);
    if (out.references.empty()) {
      if (auto v = value("In-Reply-To")) out.references = parse_msg_ids(*v, 1);
    }
  }
}

const std::string* sort_string(const sort_facts& f, sort_criterion::kind k) {
  switch (k) {
    case ck::subject:
      return &f.subject;
    case ck::from:
      return &f.from;
    case ck::to:
      return &f.to;
    case ck::cc:
      return &f.cc;
    case ck::display_from:
      return &f.display_from;
    case ck::display_to:
      return &f.display_to;
    default:
      return nullptr;
  }
}

std::vector<uint32_t> sort_order(std::span<const sort_facts> messages, std::span<const sort_criterion> criteria,
                                 const sort_ranks* ranks) {
  std::vector<uint32_t> order(messages.size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](uint32_t x, uint32_t y) {
    const sort_facts& a = messages[x];
    const sort_facts& b = messages[y];
    for (const sort_criterion& c : criteria) {
      int r;
      const std::vector<uint32_t>* rank = ranks ? &(*ranks)[static_cast<size_t>(c.k)] : nullptr;
      if (rank != nullptr && !rank->empty()) {
        r = (*rank)[x] < (*rank)[y] ? -1 : ((*rank)[y] < (*rank)[x] ? 1 : 0);
      } else {
        r = compare(a, b, c.k);
      }
      if (r != 0) return c.reverse ? r > 0 : r < 0;
    }
    // Ties in mailbox order: `messages` are in ascending sequence numbers (sort.h), so
    // the index says it without loading the message's values.
    return x < y;
  });
  return order;
}

}  // namespace ringmail::imap
