#include "protocols/imap/search.h"

#include <algorithm>
#include <string_view>

#include "delivery/mailstore/maildir_filename.h"
#include "mail/casefold.h"
#include "mail/date.h"
#include "mail/header.h"
#include "protocols/imap/object_id.h"

namespace ringmail::imap {

namespace {

using kind = search_key::kind;

bool is_content_leaf(kind k) {
  switch (k) {
    case kind::bcc: case kind::body: case kind::cc: case kind::from: case kind::subject:
    case kind::text: case kind::to: case kind::header:
    case kind::sent_before: case kind::sent_on: case kind::sent_since:
      return true;
    default:
      return false;
  }
}

bool is_composite(kind k) { return k == kind::and_ || k == kind::or_ || k == kind::not_; }

// The header field a string key searches ("" for BODY/TEXT).
std::string_view field_of(const search_key& k) {
  switch (k.k) {
    case kind::bcc: return "Bcc";
    case kind::cc: return "Cc";
    case kind::from: return "From";
    case kind::subject: return "Subject";
    case kind::to: return "To";
    case kind::header: return k.field;
    default: return {};
  }
}

bool has_flag(const search_message& m, uint8_t flag) { return (m.entry->flags & flag) != 0; }

}  // namespace

namespace {
template <typename Pred>
bool any_key(const search_key& k, Pred pred) {
  if (pred(k.k)) return true;
  for (const search_key& c : k.children) {
    if (any_key(c, pred)) return true;
  }
  return false;
}
}  // namespace

bool search_needs_object_ids(const search_key& k) {
  return any_key(k, [](kind x) { return x == kind::email_id || x == kind::thread_id; });
}

bool search_needs_save_date(const search_key& k) {
  return any_key(k, [](kind x) { return x == kind::saved_before || x == kind::saved_on || x == kind::saved_since; });
}

bool search_needs_content(const search_key& k) {
  if (is_content_leaf(k.k)) return true;
  for (const search_key& c : k.children) {
    if (search_needs_content(c)) return true;
  }
  return false;
}

// One message against one key tree: the index facts straight from the entry, the
// content through the cache.
class search_evaluator {
 public:
  search_evaluator(const search_message& m, const search_context& ctx, search_text_cache& cache)
      : m_(m), ctx_(ctx), cache_(cache) {}

  // The texts the full-text index is built from (search_texts_of).
  search_texts texts() {
    search_texts r;
    if (!content_ok()) return r;
    r.headers = text_headers();
    r.body = body();
    return r;
  }

  bool eval(const search_key& k) {
    switch (k.k) {
      case kind::all: return true;
      case kind::and_: return eval_all(k.children);
      case kind::or_: return eval_any(k.children);
      case kind::not_: return !k.children.empty() && !eval(k.children[0]);
      case kind::seq_set: return in_set(k.set, m_.seq, ctx_.max_seq);
      case kind::uid: return in_set(k.set, m_.entry->uid, ctx_.max_uid);

      case kind::answered: return has_flag(m_, mailstore::flag_answered);
      case kind::deleted: return has_flag(m_, mailstore::flag_deleted);
      case kind::draft: return has_flag(m_, mailstore::flag_draft);
      case kind::flagged: return has_flag(m_, mailstore::flag_flagged);
      case kind::seen: return has_flag(m_, mailstore::flag_seen);
      case kind::unanswered: return !has_flag(m_, mailstore::flag_answered);
      case kind::undeleted: return !has_flag(m_, mailstore::flag_deleted);
      case kind::undraft: return !has_flag(m_, mailstore::flag_draft);
      case kind::unflagged: return !has_flag(m_, mailstore::flag_flagged);
      case kind::unseen: return !has_flag(m_, mailstore::flag_seen);
      // No \Recent (see search.h): RECENT and NEW (RECENT UNSEEN) never, OLD always.
      case kind::recent: return false;
      case kind::new_: return false;
      case kind::old: return true;
      case kind::keyword: return has_keyword(k.text);
      case kind::unkeyword: return !has_keyword(k.text);

      case kind::before: return internal_day() < k.date;
      case kind::on: return internal_day() == k.date;
      case kind::since: return internal_day() >= k.date;
      case kind::sent_before: return content_ok() && sent_day() < k.date;
      case kind::sent_on: return content_ok() && sent_day() == k.date;
      case kind::sent_since: return content_ok() && sent_day() >= k.date;

      case kind::larger: return m_.entry->vsize > k.number;
      case kind::smaller: return m_.entry->vsize < k.number;
      case kind::modseq: return m_.entry->modseq >= k.number;

      // OBJECTID, SAVEDATE, WITHIN (search.h)
      case kind::email_id: return !m_.email_id.empty() && m_.email_id == k.text;
      case kind::thread_id: return !m_.thread_id.empty() && m_.thread_id == k.text;
      case kind::saved_before: return save_day() < k.date;
      case kind::saved_on: return save_day() == k.date;
      case kind::saved_since: return save_day() >= k.date;
      case kind::save_date_supported: return true;
      case kind::older: return m_.entry->internal_date <= ctx_.now - static_cast<int64_t>(k.number);
      case kind::younger: return m_.entry->internal_date >= ctx_.now - static_cast<int64_t>(k.number);

      case kind::bcc: case kind::cc: case kind::from: case kind::subject: case kind::to:
      case kind::header:
        return content_ok() && header_contains(field_of(k), k.text);
      case kind::body:
        return content_ok() && contains(body(), mail::fold_case(k.text));
      case kind::text: {
        if (!content_ok()) return false;
        std::string needle = mail::fold_case(k.text);
        return contains(text_headers(), needle) || contains(body(), needle);
      }
    }
    return false;
  }

 private:
  // AND and OR look at the index facts first: when they decide, the message is never
  // decoded (RFC 9051 leaves the order of evaluation to the server).
  bool eval_all(const std::vector<search_key>& children) {
    for (int pass = 0; pass < 2; ++pass) {
      for (const search_key& c : children) {
        bool cheap = !is_content_leaf(c.k) && !(is_composite(c.k) && search_needs_content(c));
        if (cheap == (pass == 0) && !eval(c)) return false;
      }
    }
    return true;
  }
  bool eval_any(const std::vector<search_key>& children) {
    for (int pass = 0; pass < 2; ++pass) {
      for (const search_key& c : children) {
        bool cheap = !is_content_leaf(c.k) && !(is_composite(c.k) && search_needs_content(c));
        if (cheap == (pass == 0) && eval(c)) return true;
      }
    }
    return false;
  }

  bool in_set(const sequence_set& set, uint32_t n, uint32_t largest) const {
    if (set.saved) {
      // RFC 5182: "$" is the saved result, a list of UIDs, whatever the key's kind.
      if (ctx_.saved_uids == nullptr) return false;
      return std::binary_search(ctx_.saved_uids->begin(), ctx_.saved_uids->end(),
                                m_.entry->uid);
    }
    return set.contains(n, largest);
  }

  bool has_keyword(std::string_view name) const {
    if (ctx_.keywords == nullptr) return false;
    const std::vector<std::string>& names = *ctx_.keywords;
    for (size_t i = 0; i < names.size() && i < 32; ++i) {
      if (mail::equals_ignore_case(names[i], name)) return (m_.entry->keywords >> i) & 1;
    }
    return false;
  }

  int64_t save_day() const {
    return mail::day_of(save_date_of(m_.entry->base, m_.entry->internal_date) + ctx_.tz_offset_seconds);
  }

  int64_t internal_day() const {
    return mail::day_of(m_.entry->internal_date + ctx_.tz_offset_seconds);
  }

  // Content keys need the parsed message; the cache is bound to it here, lazily, so a
  // search of index facts never looks at `parsed` at all.
  bool content_ok() {
    if (m_.parsed == nullptr || ctx_.charsets == nullptr || m_.parsed->parts.empty()) {
      return false;
    }
    search_text_cache& c = cache_;
    const void* bytes = m_.parsed->bytes.data();
    size_t size = m_.parsed->bytes.size();
    uint32_t uid = m_.entry != nullptr ? m_.entry->uid : 0;
    if (!c.valid_ || c.uid_ != uid || c.seq_ != m_.seq || c.bytes_ != bytes ||
        c.size_ != size) {
      c.uid_ = uid;
      c.seq_ = m_.seq;
      c.bytes_ = bytes;
      c.size_ = size;
      c.valid_ = true;
      c.headers_.assign(m_.parsed->headers().fields.size(), {});
      c.body_.reset();
      c.text_headers_.reset();
      c.sent_day_.reset();
    }
    return true;
  }

  static bool contains(std::string_view haystack, std::string_view folded_needle) {
    return haystack.find(folded_needle) != std::string_view::npos;
  }

  bool header_contains(std::string_view name, std::string_view text) {
    const auto& fields = m_.parsed->headers().fields;
    std::string needle;
    bool needle_ready = false;
    for (size_t i = 0; i < fields.size(); ++i) {
      if (!mail::equals_ignore_case(fields[i].name, name)) continue;
      if (text.empty()) return true;  // the field exists
      if (!needle_ready) {
        needle = mail::fold_case(text);
        needle_ready = true;
      }
      search_text_cache::header_text& h = cache_.headers_[i];
      if (!h.decoded) {
        mail::fold_case(mail::decoded_value(fields[i], *ctx_.charsets), h.folded);
        h.decoded = true;
      }
      if (contains(h.folded, needle)) return true;
    }
    return false;
  }

  // Every part's header fields as "Name: decoded value" lines, folded (TEXT).
  const std::string& text_headers() {
    if (!cache_.text_headers_) {
      std::string out;
      for (const mail::mime_part& part : m_.parsed->parts) {
        for (const mail::header_field& f : part.headers.fields) {
          if (out.size() >= max_search_text_bytes) break;
          std::string line(f.name);
          line += ": ";
          line += mail::decoded_value(f, *ctx_.charsets);
          line += '\n';
          mail::fold_case(line, out);
        }
      }
      cache_.text_headers_ = std::move(out);
    }
    return *cache_.text_headers_;
  }

  // The body of every leaf part, transfer-decoded, in UTF-8, folded (BODY, TEXT).
  const std::string& body() {
    if (!cache_.body_) {
      std::string out;
      for (const mail::mime_part& part : m_.parsed->parts) {
        if (part.type.is_multipart() || !part.children.empty()) continue;
        // Dovecot's message-search.c searches the bodies of text/* and message/* parts
        // only (content_type_text): an image's base64 is not text.
        if (part.type.type != "text" && part.type.type != "message") continue;
        if (out.size() >= max_search_text_bytes) break;
        std::string decoded = mail::decode_body(part, max_search_text_bytes - out.size());
        std::string utf8;
        ctx_.charsets->to_utf8(decoded, part.type.charset(), utf8);
        if (!out.empty()) out += '\n';
        mail::fold_case(utf8, out);
      }
      if (out.size() > max_search_text_bytes) out.resize(max_search_text_bytes);
      cache_.body_ = std::move(out);
    }
    return *cache_.body_;
  }

  // The Date: header's calendar day in its own zone; 1970-01-01 (day 0) when there is
  // none or it does not parse, as Dovecot.
  int64_t sent_day() {
    if (!cache_.sent_day_) {
      int64_t day = 0;
      if (const mail::header_field* f = m_.parsed->headers().find("Date")) {
        if (auto d = mail::parse_message_date(f->value)) {
          day = mail::day_of(d->time + int64_t{d->zone_minutes} * 60);
        }
      }
      cache_.sent_day_ = day;
    }
    return *cache_.sent_day_;
  }

  const search_message& m_;
  const search_context& ctx_;
  search_text_cache& cache_;
};

bool search_matches(const search_key& k, const search_message& m, const search_context& ctx,
                    search_text_cache& cache) {
  if (m.entry == nullptr) return false;
  return search_evaluator(m, ctx, cache).eval(k);
}

search_texts search_texts_of(const search_message& m, const search_context& ctx) {
  search_text_cache cache;
  return search_evaluator(m, ctx, cache).texts();
}

bool search_matches(const search_key& k, const search_message& m, const search_context& ctx) {
  search_text_cache cache;
  return search_matches(k, m, ctx, cache);
}

}  // namespace ringmail::imap
