#include "protocols/imap/object_fetch.h"

#include <ctime>

#include "absl/strings/str_cat.h"
#include "mail/header.h"
#include "protocols/imap/message_render.h"
#include "protocols/imap/object_id.h"
#include "protocols/imap/preview.h"

namespace ringmail::imap {
namespace {

// RFC 9051 date-time in UTC, quoted, as INTERNALDATE is written.
std::string date_time_string(int64_t t) {
  static const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  time_t tt = static_cast<time_t>(t);
  struct tm tm {};
  gmtime_r(&tt, &tm);
  char buf[64];
  snprintf(buf, sizeof buf, "\"%02d-%s-%04d %02d:%02d:%02d +0000\"", tm.tm_mday, kMonths[tm.tm_mon],
           tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

}  // namespace

object_needs object_needs_of(const std::vector<fetch_item>& items) {
  object_needs n;
  for (const fetch_item& f : items) {
    if (f.k == fetch_item::kind::email_id || f.k == fetch_item::kind::thread_id) n.ids = true;
    if (f.k == fetch_item::kind::preview && !f.lazy) n.preview = true;
  }
  return n;
}

bool wants_lazy_preview(const std::vector<fetch_item>& items) {
  for (const fetch_item& f : items) {
    if (f.k == fetch_item::kind::preview && f.lazy) return true;
  }
  return false;
}

bool cache_has(const fetch_cache& c, object_needs n) {
  if (n.ids && (c.email_id.empty() || c.thread_id.empty())) return false;
  if (n.preview && !c.preview) return false;
  return true;
}

bool fill_fetch_cache(std::optional<fetch_cache>& c, object_needs n, loaded_message& msg,
                      mail::charset_converter& charsets) {
  bool changed = false;
  if (!c) {
    c.emplace();
    const mail::message& parsed = msg.parsed(charsets);
    c->envelope = render_envelope(parsed);
    c->body_structure = render_body_structure(parsed, true);
    c->body = render_body_structure(parsed, false);
    changed = true;
  }
  if (n.ids && (c->email_id.empty() || c->thread_id.empty())) {
    c->email_id = email_id(msg.bytes);
    // The top-level header fields are all THREADID needs: no MIME parse.
    c->thread_id = thread_id(thread_root_message_id(mail::parse_header_block(msg.bytes)), c->email_id);
    changed = true;
  }
  if (n.preview && !c->preview) {
    c->preview = make_preview(msg.parsed(charsets), charsets);
    changed = true;
  }
  return changed;
}

void append_object_item(std::string& line, const fetch_item& f, const fetch_cache* cached,
                        const message_facts& m) {
  switch (f.k) {
    case fetch_item::kind::email_id:
      if (cached != nullptr && !cached->email_id.empty()) {
        absl::StrAppend(&line, "EMAILID (", cached->email_id, ")");
      } else {
        line += "EMAILID NIL";  // not reached: FETCH reads the file when the id is missing
      }
      break;
    case fetch_item::kind::thread_id:
      if (cached != nullptr && !cached->thread_id.empty()) {
        absl::StrAppend(&line, "THREADID (", cached->thread_id, ")");
      } else {
        line += "THREADID NIL";
      }
      break;
    case fetch_item::kind::save_date:
      absl::StrAppend(&line, "SAVEDATE ", date_time_string(save_date_of(m.path, m.internal_date)));
      break;
    case fetch_item::kind::preview:
      line += "PREVIEW ";
      if (cached != nullptr && cached->preview) {
        // UTF-8 text: append_string makes it a literal when it is not plain ASCII
        // (IMAP4rev1 allows 8-bit bytes only in literals).
        append_string(line, *cached->preview);
      } else {
        line += "NIL";  // RFC 8970: LAZY and not cached yet
      }
      break;
    default:
      break;
  }
}

search_key index_fact_keys(const search_key& program) {
  search_key out;
  out.k = search_key::kind::and_;
  if (program.k != search_key::kind::and_) return out;
  for (const search_key& k : program.children) {
    if (!search_needs_content(k) && !search_needs_object_ids(k)) out.children.push_back(k);
  }
  return out;
}

void keep_cache_blob(std::vector<std::pair<uint32_t, std::string>>& blobs, uint32_t uid, const fetch_cache& c) {
  if (!blobs.empty() && blobs.back().first == uid) {
    blobs.back().second = encode_fetch_cache(c);
  } else {
    blobs.emplace_back(uid, encode_fetch_cache(c));
  }
}

task<std::pair<std::string, std::string>> imap_session::object_ids_of(
    const message_facts& m, std::vector<std::pair<uint32_t, std::string>>* blobs) {
  std::optional<fetch_cache> c = decode_fetch_cache(m.cache);
  const object_needs n{.ids = true};
  if (!c || !cache_has(*c, n)) {
    std::optional<loaded_message> msg = co_await load(m);
    if (!msg) co_return std::pair<std::string, std::string>{};
    if (fill_fetch_cache(c, n, *msg, *shard_.charsets)) keep_cache_blob(*blobs, m.uid, *c);
  }
  co_return std::pair<std::string, std::string>{c->email_id, c->thread_id};
}

}  // namespace ringmail::imap
