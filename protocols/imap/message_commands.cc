// The session's message commands: APPEND, FETCH, STORE, SEARCH, COPY, MOVE, EXPUNGE.
// Facts (flags, sizes, file names) come from the owner shard in one hop per command;
// message bytes are read here, on the session's shard, through the ring (message files
// are immutable once named, so any shard may read them).
#include <algorithm>
#include <list>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "delivery/mailstore/index_file.h"
#include "delivery/mailstore/maildir_filename.h"
#include "mail/header.h"
#include "protocols/imap/condstore.h"
#include "protocols/imap/fetch_cache.h"
#include "protocols/imap/fetch_needs.h"
#include "protocols/imap/fts_search.h"
#include "protocols/imap/header_cache.h"
#include "protocols/imap/message_render.h"
#include "protocols/imap/number_set.h"
#include "protocols/imap/object_fetch.h"
#include "protocols/imap/search.h"
#include "protocols/imap/session_impl.h"
#include "runtime/file.h"
#include "runtime/log.h"

namespace ringmail::imap {
namespace {

// Output is sent in pieces of about this size, so FETCH 1:* BODY[] of a big folder does
// not build one huge string.
constexpr size_t kFlushBytes = 256 * 1024;

task<std::optional<loaded_message>> load_message(const std::string& path, uint64_t size_hint) {
  io_result<std::string> r = co_await mailstore::read_whole_file(path, size_hint);
  if (!r.ok()) co_return std::nullopt;
  std::optional<loaded_message> m;
  m.emplace();
  m->bytes = to_crlf(*r);
  co_return m;
}

// Whether a search key needs more of a message than its top-level header fields: BODY
// and TEXT read the body (TEXT every part's headers too); SUBJECT/FROM/TO/CC/BCC/HEADER
// and SENT* read only top-level fields (search.h), so they are answered from the header
// block alone.
bool search_needs_body(const search_key& k) {
  if (k.k == search_key::kind::body || k.k == search_key::kind::text) return true;
  return std::any_of(k.children.begin(), k.children.end(), search_needs_body);
}

// The header block of a CRLF message: everything up to and including the empty line
// (the whole message when it has no body).
std::string_view header_block(std::string_view bytes) {
  if (bytes.substr(0, 2) == "\r\n") return bytes.substr(0, 2);
  const size_t end = bytes.find("\r\n\r\n");
  return end == std::string_view::npos ? bytes : bytes.substr(0, end + 4);
}

// The tagged NO text for a failed APPEND/COPY/MOVE into a folder (RFC 9051 7.1: TRYCREATE
// tells the client to CREATE and retry; RFC 9208 OVERQUOTA).
std::string save_error_text(const absl::Status& st) {
  switch (st.code()) {
    case absl::StatusCode::kNotFound:
      return "[TRYCREATE] Mailbox doesn't exist";
    case absl::StatusCode::kResourceExhausted:
      return "[OVERQUOTA] Quota exceeded";
    case absl::StatusCode::kInvalidArgument:
      return absl::StrCat("[CANNOT] ", st.message());
    default:
      return absl::StrCat("[SERVERBUG] ", st.message());
  }
}

bool needs_content(const fetch_item& f) {
  if (f.k == fetch_item::kind::preview && f.lazy) return false;  // RFC 8970: cached or NIL
  switch (f.k) {
    case fetch_item::kind::uid:
    case fetch_item::kind::flags:
    case fetch_item::kind::internal_date:
    case fetch_item::kind::rfc822_size:
    case fetch_item::kind::modseq:
    case fetch_item::kind::save_date:  // from the file name (object_id.h)
      return false;
    default:
      return true;
  }
}

// ENVELOPE, BODYSTRUCTURE and BODY come from the cache blob when it is there.
bool cached_item(const fetch_item& f) {
  return f.k == fetch_item::kind::envelope || f.k == fetch_item::kind::body_structure ||
         f.k == fetch_item::kind::body || f.k == fetch_item::kind::email_id ||  // and OBJECTID,
         f.k == fetch_item::kind::thread_id || (f.k == fetch_item::kind::preview && !f.lazy);  // PREVIEW
}

bool sets_seen(const fetch_item& f) {
  switch (f.k) {
    case fetch_item::kind::rfc822:
    case fetch_item::kind::rfc822_text:
      return true;
    case fetch_item::kind::body_section:
    case fetch_item::kind::binary_section:
      return !f.peek;
    default:
      return false;
  }
}

// "1.2.HEADER.FIELDS (FROM TO)" as the response names the section.
std::string section_name(const section_spec& s) {
  std::string out;
  for (size_t i = 0; i < s.part.size(); ++i) absl::StrAppend(&out, i ? "." : "", s.part[i]);
  auto add = [&](std::string_view what) {
    if (!out.empty()) out += '.';
    out.append(what);
  };
  switch (s.k) {
    case section_spec::kind::whole:
      break;
    case section_spec::kind::header:
      add("HEADER");
      break;
    case section_spec::kind::header_fields:
    case section_spec::kind::header_fields_not: {
      add(s.k == section_spec::kind::header_fields ? "HEADER.FIELDS (" : "HEADER.FIELDS.NOT (");
      for (size_t i = 0; i < s.fields.size(); ++i) absl::StrAppend(&out, i ? " " : "", s.fields[i]);
      out += ')';
      break;
    }
    case section_spec::kind::text:
      add("TEXT");
      break;
    case section_spec::kind::mime:
      add("MIME");
      break;
  }
  return out;
}

// The date-time of INTERNALDATE: "17-Jul-1996 02:44:25 +0000" (UTC).
std::string internal_date_string(int64_t t) {
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

// A literal: {n} or, for bytes with a NUL (BINARY only), literal8 ~{n} (RFC 3516 4.1).
void append_literal(std::string& out, std::string_view bytes, bool binary) {
  const bool nul = binary && bytes.find('\0') != std::string_view::npos;
  absl::StrAppend(&out, nul ? "~{" : "{", bytes.size(), "}\r\n");
  out.append(bytes);
}

std::string_view partial(std::string_view bytes, const fetch_item& f) {
  if (!f.partial_origin) return bytes;
  if (*f.partial_origin >= bytes.size()) return {};
  return bytes.substr(*f.partial_origin, f.partial_length);
}

mailstore::message_entry entry_of(const message_facts& f) {
  mailstore::message_entry e;
  e.uid = f.uid;
  e.flags = f.flags;
  e.keywords = f.keywords;
  e.modseq = f.modseq;
  e.vsize = f.vsize;
  e.size = f.vsize;
  e.internal_date = f.internal_date;
  return e;
}

}  // namespace

uint8_t system_flag_bit(std::string_view name) {
  if (mail::equals_ignore_case(name, "\\Seen")) return mailstore::flag_seen;
  if (mail::equals_ignore_case(name, "\\Answered")) return mailstore::flag_answered;
  if (mail::equals_ignore_case(name, "\\Flagged")) return mailstore::flag_flagged;
  if (mail::equals_ignore_case(name, "\\Deleted")) return mailstore::flag_deleted;
  if (mail::equals_ignore_case(name, "\\Draft")) return mailstore::flag_draft;
  return 0;
}

bool split_flags(const std::vector<std::string>& names, uint8_t* bits, std::vector<std::string>* keywords) {
  *bits = 0;
  for (const auto& n : names) {
    if (n.empty()) return false;
    if (n[0] == '\\') {
      uint8_t b = system_flag_bit(n);
      if (b == 0) return false;
      *bits |= b;
    } else {
      keywords->push_back(n);
    }
  }
  return true;
}

std::optional<std::vector<uint32_t>> imap_session::resolve_set(const command& c, const sequence_set& set, bool uid) {
  const mailbox_view& view = selected_->view;
  std::vector<uint32_t> seqs;
  if (set.saved) {
    for (uint32_t u : saved_uids_) {
      uint32_t s = view.seq_of(u);
      if (s != 0) seqs.push_back(s);
    }
    std::sort(seqs.begin(), seqs.end());
    return seqs;
  }
  if (uid) {
    // Both ascending: step through the view beside the set, searching only past a gap (a
    // binary search per UID was a quarter of UID FETCH 1:* on 100,000 messages).
    const auto& msgs = view.messages();
    size_t i = 0;
    for (uint32_t u : set.resolve(view.max_uid())) {
      if (i < msgs.size() && msgs[i].uid != u) {
        i = static_cast<size_t>(std::lower_bound(msgs.begin() + static_cast<ptrdiff_t>(i), msgs.end(), u,
                                                 [](const view_message& m, uint32_t v) { return m.uid < v; }) -
                                msgs.begin());
      }
      if (i == msgs.size()) break;
      if (msgs[i].uid == u) seqs.push_back(static_cast<uint32_t>(++i));
    }
    return seqs;
  }
  if (view.exists() == 0 || set.exceeds(view.exists())) {
    bad(c, "Invalid message sequence number");
    return std::nullopt;
  }
  return set.resolve(view.exists());
}

task<absl::StatusOr<std::vector<message_facts>>> imap_session::facts_for(const std::vector<uint32_t>& seqs,
                                                                         std::vector<std::string>* keywords,
                                                                         bool set_seen, uint32_t needs,
                                                                         std::optional<uint64_t> changed_since) {
  std::vector<uint32_t> uids;
  uids.reserve(seqs.size());
  for (uint32_t s : seqs) uids.push_back(selected_->view.uid_at(s));
  struct result {
    std::vector<message_facts> facts;
    std::vector<std::string> keywords;
  };
  auto get = [name = selected_->name, uids = std::move(uids), set_seen, needs, changed_since](
                 mailstore::mailbox& box) -> task<absl::StatusOr<result>> {
    if (set_seen) {
      std::vector<uint32_t> unseen;
      {
        auto f = co_await box.folder(name);
        if (!f.ok()) co_return f.status();
        for (uint32_t u : uids) {
          const auto* m = (*f)->state().find(u);
          if (m != nullptr && !(m->flags & mailstore::flag_seen)) unseen.push_back(u);
        }
      }
      if (!unseen.empty()) {
        auto st = co_await box.store(name, std::move(unseen), mailstore::flag_op::add, mailstore::flag_seen, {});
        if (!st.ok()) co_return st.status();
      }
    }
    auto f = co_await box.folder(name);
    if (!f.ok()) co_return f.status();
    result r;
    if (!changed_since) r.facts.reserve(uids.size());
    // `uids` ascend (the view's order): the next entry is usually the one asked for, so
    // look there before searching (a binary search per UID was 14% of FETCH 1:*).
    const std::vector<mailstore::message_entry>& all = (*f)->state().messages;
    size_t next = 0;
    for (size_t i = 0; i < uids.size(); ++i) {
      const mailstore::message_entry* m = nullptr;
      if (next < all.size() && all[next].uid == uids[i]) {
        m = &all[next];
      } else {
        m = (*f)->state().find(uids[i]);
      }
      if (m != nullptr) next = static_cast<size_t>(m - all.data()) + 1;
      // RFC 7162 CHANGEDSINCE: a gone message (modseq 0 here before) never qualifies.
      if (changed_since && (m == nullptr || m->modseq <= *changed_since)) continue;
      message_facts& mf = r.facts.emplace_back();
      mf.seq = static_cast<uint32_t>(i);  // the index into `seqs`, mapped after the hop
      mf.uid = uids[i];
      if (m != nullptr) {
        mf.found = true;
        mf.flags = m->flags;
        mf.keywords = m->keywords;
        mf.modseq = m->modseq;
        mf.vsize = m->vsize;
        mf.internal_date = m->internal_date;
        if (needs & fetch_need_path) mf.path = (*f)->path_of(*m);
        if (needs & fetch_need_cache) mf.cache = m->cache;
      }
    }
    r.keywords = (*f)->state().keywords;
    co_return r;
  };
  auto hop = on_mailbox(std::move(get));
  absl::StatusOr<result> r = co_await std::move(hop);
  if (!r.ok()) co_return r.status();
  for (message_facts& mf : r->facts) mf.seq = seqs[mf.seq];
  if (keywords != nullptr) *keywords = std::move(r->keywords);
  co_return std::move(r->facts);
}

task<std::string> imap_session::current_path(uint32_t uid) {
  auto ask = [name = selected_->name, uid](mailstore::mailbox& box) -> task<absl::StatusOr<std::string>> {
    auto f = co_await box.folder(name);
    if (!f.ok()) co_return f.status();
    const auto* m = (*f)->state().find(uid);
    if (m == nullptr) co_return std::string();
    co_return (*f)->path_of(*m);
  };
  auto hop = on_mailbox(std::move(ask));
  absl::StatusOr<std::string> path = co_await std::move(hop);
  co_return path.ok() ? *path : std::string();
}

task<std::optional<loaded_message>> imap_session::load(const message_facts& m) {
  std::optional<loaded_message> msg = co_await load_message(m.path, m.vsize);
  // Another session's flag change renames the file (Maildir keeps flags in the name):
  // ask the owner where it is now, a few times; gone for good means expunged.
  for (int attempt = 0; !msg && attempt < 3; ++attempt) {
    std::string path = co_await current_path(m.uid);
    if (path.empty()) break;
    msg = co_await load_message(path, m.vsize);
  }
  co_return msg;
}

task<void> imap_session::on_fetch(const command& c) {
  std::optional<std::vector<uint32_t>> seqs = resolve_set(c, c.set, c.uid);
  if (!seqs) co_return;
  std::vector<fetch_item> items = c.fetch;
  if (c.uid && std::none_of(items.begin(), items.end(), [](const fetch_item& f) { return f.k == fetch_item::kind::uid; })) {
    items.insert(items.begin(), fetch_item{});  // UID FETCH always reports UID (RFC 9051 6.4.9)
  }
  // RFC 7162 3.1.4.1: CHANGEDSINCE answers with MODSEQ; VANISHED (EARLIER) comes first.
  bool modseq_item = std::any_of(items.begin(), items.end(), [](const fetch_item& f) { return f.k == fetch_item::kind::modseq; });
  if (c.changed_since && !modseq_item) {
    items.emplace_back().k = fetch_item::kind::modseq;
    modseq_item = true;
  }
  if (c.fetch_vanished) co_await report_fetch_vanished(c);
  bool content = false, seen = false, flags_item = false, file = false, structure = false;
  for (const auto& f : items) {
    content = content || needs_content(f);
    file = file || (needs_content(f) && !cached_item(f));
    structure = structure || cached_item(f);
    seen = seen || sets_seen(f);
    flags_item = flags_item || f.k == fetch_item::kind::flags;
  }
  std::vector<std::pair<uint32_t, std::string>> new_caches;
  const object_needs objects = object_needs_of(items);
  const bool lazy_preview = wants_lazy_preview(items);
  seen = seen && !selected_->read_only;
  std::vector<std::string> keywords;
  // Only what the items need is copied, and CHANGEDSINCE filters on the owner
  // (fetch_needs.h: UID FETCH 1:* (FLAGS) of a big folder copies no strings).
  auto get = facts_for(*seqs, &keywords, seen, fetch_needs_of(items), c.changed_since);
  absl::StatusOr<std::vector<message_facts>> facts = co_await std::move(get);
  if (!facts.ok()) {
    no(c, "[SERVERBUG] Cannot read the mailbox");
    co_return;
  }
  if (keywords.size() > selected_->view.keywords().size()) {
    // New keywords: apply an empty batch that carries them, so the view names them.
    selected_->view.apply({}, keywords, selected_->view.event_seq());
  }
  bool expunge_issued = false;
  bool failed = false;
  const bool view_only = !content && std::all_of(items.begin(), items.end(), [](const fetch_item& f) {
    return f.k == fetch_item::kind::uid || f.k == fetch_item::kind::flags;
  });
  std::string line;  // one buffer for every response line
  for (message_facts& m : *facts) {
    if (!m.found) {
      // Expunged by another session, and this one has not been told yet: its UID and
      // last flags are still known here, so a FETCH of just those is answered from the
      // view (as Dovecot does); anything else is gone (RFC 5530 EXPUNGEISSUED).
      if (!view_only) {
        expunge_issued = true;
        continue;
      }
      const view_message& gone = selected_->view.messages()[m.seq - 1];
      m.flags = gone.flags;
      m.keywords = gone.keywords;
    }
    std::optional<loaded_message> msg;
    std::optional<fetch_cache> cached;
    if (structure || lazy_preview) cached = decode_fetch_cache(m.cache);
    const bool objects_missing = cached && !cache_has(*cached, objects);  // object_fetch.h
    if (file || (structure && !cached) || objects_missing) {
      msg = co_await load(m);
      if (!msg) {
        expunge_issued = true;
        continue;
      }
      if (structure && !cached) {
        cached.emplace();
        cached->envelope = render_envelope(msg->parsed(*shard_.charsets));
        cached->body_structure = render_body_structure(msg->parsed(*shard_.charsets), true);
        cached->body = render_body_structure(msg->parsed(*shard_.charsets), false);
        new_caches.emplace_back(m.uid, encode_fetch_cache(*cached));
      }
      // EMAILID, THREADID, PREVIEW (a LAZY one too, now that the file is read anyway).
      if ((objects.any() || lazy_preview) &&
          fill_fetch_cache(cached, {objects.ids, objects.preview || lazy_preview}, *msg, *shard_.charsets)) {
        keep_cache_blob(new_caches, m.uid, *cached);
      }
    }
    line.clear();
    absl::StrAppend(&line, "* ", m.seq, " FETCH (");
    bool first = true;
    auto sep = [&] {
      if (!first) line += ' ';
      first = false;
    };
    const view_message& vm = selected_->view.messages()[m.seq - 1];
    bool reported_flags = false;
    for (const auto& f : items) {
      sep();
      switch (f.k) {
        case fetch_item::kind::uid:
          absl::StrAppend(&line, "UID ", m.uid);
          break;
        case fetch_item::kind::flags:
          line += "FLAGS ";
          selected_->view.append_flag_list(line, m.flags, m.keywords);
          reported_flags = true;
          break;
        case fetch_item::kind::internal_date:
          absl::StrAppend(&line, "INTERNALDATE ", internal_date_string(m.internal_date));
          break;
        case fetch_item::kind::rfc822_size:
          absl::StrAppend(&line, "RFC822.SIZE ", m.vsize);
          break;
        case fetch_item::kind::modseq:
          absl::StrAppend(&line, "MODSEQ (", m.modseq, ")");
          break;
        case fetch_item::kind::envelope:
          absl::StrAppend(&line, "ENVELOPE ", cached->envelope);
          break;
        case fetch_item::kind::body_structure:
          absl::StrAppend(&line, "BODYSTRUCTURE ", cached->body_structure);
          break;
        case fetch_item::kind::body:
          absl::StrAppend(&line, "BODY ", cached->body);
          break;
        case fetch_item::kind::email_id:
        case fetch_item::kind::thread_id:
        case fetch_item::kind::save_date:
        case fetch_item::kind::preview:
          append_object_item(line, f, cached ? &*cached : nullptr, m);  // object_fetch.h
          break;
        case fetch_item::kind::rfc822:
          line += "RFC822 ";
          append_literal(line, msg->bytes, false);
          break;
        case fetch_item::kind::rfc822_header:
        case fetch_item::kind::rfc822_text: {
          section_spec s;
          s.k = f.k == fetch_item::kind::rfc822_header ? section_spec::kind::header : section_spec::kind::text;
          section_result r = render_section(msg->parsed(*shard_.charsets), s, false);
          line += f.k == fetch_item::kind::rfc822_header ? "RFC822.HEADER " : "RFC822.TEXT ";
          append_literal(line, r.bytes, false);
          break;
        }
        case fetch_item::kind::body_section:
        case fetch_item::kind::binary_section: {
          const bool binary = f.k == fetch_item::kind::binary_section;
          section_result r = render_section(msg->parsed(*shard_.charsets), f.section, binary);
          if (r.st == section_result::status::unknown_cte) {
            failed = true;
            break;
          }
          absl::StrAppend(&line, binary ? "BINARY[" : "BODY[", section_name(f.section), "]");
          if (f.partial_origin) absl::StrAppend(&line, "<", *f.partial_origin, ">");
          line += ' ';
          if (r.st == section_result::status::missing) {
            line += "\"\"";  // a part that does not exist is empty, as Dovecot answers
          } else {
            append_literal(line, partial(r.bytes, f), binary);
          }
          break;
        }
        case fetch_item::kind::binary_size: {
          std::optional<uint64_t> n = binary_size(msg->parsed(*shard_.charsets), f.section.part);
          if (!n) {
            failed = true;
            break;
          }
          absl::StrAppend(&line, "BINARY.SIZE[", section_name(f.section), "] ", *n);
          break;
        }
      }
      if (failed) break;
    }
    if (failed) break;
    // \Seen set by this FETCH is reported with it (RFC 9051 6.4.5), unless FLAGS was asked.
    if (!reported_flags && (vm.flags != m.flags || vm.keywords != m.keywords)) {
      sep();
      absl::StrAppend(&line, "FLAGS ", selected_->view.flag_list(m.flags, m.keywords));
      reported_flags = true;
      if (condstore_ && !modseq_item) absl::StrAppend(&line, " MODSEQ (", m.modseq, ")");  // RFC 7162 3.1.4
    }
    if (reported_flags) selected_->view.reported_flags(m.uid, m.flags, m.keywords, m.seq);
    line += ")\r\n";
    out_ += line;
    if (out_.size() >= kFlushBytes && !co_await flush()) co_return;
  }
  if (!new_caches.empty()) {
    auto keep = [name = selected_->name, blobs = std::move(new_caches)](mailstore::mailbox& box) -> task<absl::Status> {
      co_return co_await box.set_cache(name, blobs);
    };
    auto hop = on_mailbox(std::move(keep));
    absl::Status st = co_await std::move(hop);
    if (!st.ok()) log::debug("imap_cache_not_kept", {{"sid", sid_}, {"reason", st.ToString()}});
  }
  if (failed) {
    no(c, "[UNKNOWN-CTE] Unknown Content-Transfer-Encoding");
  } else if (expunge_issued) {
    // OK, as Dovecot: "never reply NO to FETCH" (clients take NO as a failed fetch and
    // retry); the code tells them some messages went (RFC 5530).
    ok(c, "[EXPUNGEISSUED] Some messages were already expunged");
  } else {
    ok(c, "Fetch completed");
  }
}

task<void> imap_session::on_store(const command& c) {
  if (selected_->read_only) {
    no(c, "[READ-ONLY] Mailbox is read-only");
    co_return;
  }
  std::optional<std::vector<uint32_t>> seqs = resolve_set(c, c.set, c.uid);
  if (!seqs) co_return;
  uint8_t bits = 0;
  std::vector<std::string> keywords;
  if (!split_flags(c.flags, &bits, &keywords)) {
    bad(c, "Invalid system flag");
    co_return;
  }
  std::vector<uint32_t> uids;
  for (uint32_t s : *seqs) uids.push_back(selected_->view.uid_at(s));
  mailstore::flag_op op = mailstore::flag_op::replace;
  if (c.store == command::store_mode::add) op = mailstore::flag_op::add;
  if (c.store == command::store_mode::remove) op = mailstore::flag_op::remove;
  struct result {
    std::vector<uint32_t> failed;
    std::vector<std::tuple<uint32_t, uint8_t, uint32_t>> flags;  // uid, flags, keywords
    std::vector<uint64_t> modseqs;  // of `flags`, by index (RFC 7162)
    std::vector<std::string> keywords;
  };
  auto run = [name = selected_->name, uids, op, bits, keywords, since = c.unchanged_since](
                 mailstore::mailbox& box) -> task<absl::StatusOr<result>> {
    result r;
    auto changed = co_await box.store(name, uids, op, bits, keywords, since, &r.failed);
    if (!changed.ok()) co_return changed.status();
    auto f = co_await box.folder(name);
    if (!f.ok()) co_return f.status();
    for (uint32_t u : uids) {
      if (const auto* m = (*f)->state().find(u); m != nullptr) {
        r.flags.emplace_back(u, m->flags, m->keywords);
        r.modseqs.push_back(m->modseq);
      }
    }
    r.keywords = (*f)->state().keywords;
    co_return r;
  };
  auto hop = on_mailbox(std::move(run));
  absl::StatusOr<result> r = co_await std::move(hop);
  if (!r.ok()) {
    no(c, absl::StrCat("[SERVERBUG] ", r.status().message()));
    co_return;
  }
  if (r->keywords.size() > selected_->view.keywords().size()) {
    selected_->view.apply({}, r->keywords, selected_->view.event_seq());
    report_updates(false, c.uid);  // FLAGS before FETCH responses that use the new keyword
  }
  size_t at = 0;  // index into r->modseqs
  for (const auto& [uid, flags, kw] : r->flags) {
    const uint64_t modseq = r->modseqs[at++];
    const uint32_t seq = selected_->view.seq_of(uid);
    if (seq == 0) continue;
    if (!c.silent) {
      std::string line = absl::StrCat("* ", seq, " FETCH (");
      if (c.uid || qresync_) absl::StrAppend(&line, "UID ", uid, " ");
      absl::StrAppend(&line, "FLAGS ", selected_->view.flag_list(flags, kw));
      if (condstore_) absl::StrAppend(&line, " MODSEQ (", modseq, ")");  // RFC 7162 3.1.3
      line += ")\r\n";
      out_ += line;
    } else if (condstore_ && modseq > selected_->view.messages()[seq - 1].modseq &&
               std::find(r->failed.begin(), r->failed.end(), uid) == r->failed.end()) {
      // RFC 7162 3.1.3: even .SILENT reports the new MODSEQ of what it changed.
      out_ += absl::StrCat("* ", seq, " FETCH (", c.uid || qresync_ ? absl::StrCat("UID ", uid, " ") : "",
                           "MODSEQ (", modseq, "))\r\n");
    }
    selected_->view.reported_flags(uid, flags, kw);
  }
  if (!r->failed.empty()) {
    std::vector<uint32_t> numbers;
    for (uint32_t u : r->failed) numbers.push_back(c.uid ? u : selected_->view.seq_of(u));
    std::sort(numbers.begin(), numbers.end());
    ok(c, absl::StrCat("[MODIFIED ", format_number_set(numbers), "] Conditional STORE failed"));
    co_return;
  }
  ok(c, "Store completed");
}

task<void> imap_session::on_search(const command& c) {
  // RFC 6855 section 3: after UTF8=ACCEPT a charset label conflicts (BAD); CHARSET UTF-8
  // is tolerated, since clients (Thunderbird) keep sending it and it conflicts with nothing.
  if (utf8_accept_ && !c.charset.empty() && c.charset != "UTF-8" && c.charset != "US-ASCII") {
    bad(c, "SEARCH CHARSET after ENABLE UTF8=ACCEPT");
    co_return;
  }
  if (!c.charset.empty() && c.charset != "UTF-8" && c.charset != "US-ASCII") {
    no(c, "[BADCHARSET (UTF-8 US-ASCII)] Unsupported charset");
    co_return;
  }
  const uint32_t exists = selected_->view.exists();
  const bool content = search_needs_content(c.search);
  const bool headers_only = content && !search_needs_body(c.search);
  // EMAILID/THREADID need cache blobs (or files), SAVED* the base names (object_fetch.h).
  const bool want_ids = search_needs_object_ids(c.search);
  const bool want_files = content || want_ids || search_needs_save_date(c.search);
  const search_key ids_prefilter = index_fact_keys(c.search);  // object_fetch.h
  // The index facts of every message in the view, in one hop to the owner. Unlike
  // facts_for (FETCH), no cache blobs are copied, and file names only when a key needs
  // the content (with the base name, the header cache's key).
  struct search_facts {
    std::vector<message_facts> facts;
    std::vector<std::string> bases;
    std::vector<std::string> keywords;
  };
  std::vector<uint32_t> uids(exists);
  for (uint32_t i = 0; i < exists; ++i) uids[i] = selected_->view.uid_at(i + 1);
  // Full-text index (fts_search.cc): messages it rules out for BODY/TEXT are not read,
  // and their file names not even asked for.
  std::optional<std::vector<uint32_t>> fts = co_await fts_filter(c.search, uids);
  // Messages outside the candidates cannot match: only the candidates' facts are asked
  // for (all 100,000 messages' were a fixed ~20 ms of a warm SEARCH TEXT). fts_seqs[i]
  // is the sequence number of uids[i] then.
  std::vector<uint32_t> fts_seqs;
  if (fts) uids = fts_in_view(*fts, selected_->view, fts_seqs);
  auto get = [name = selected_->name, uids = std::move(uids), content = want_files, want_ids, fts](
                 mailstore::mailbox& box) -> task<absl::StatusOr<search_facts>> {
    auto f = co_await box.folder(name);
    if (!f.ok()) co_return f.status();
    search_facts r;
    r.facts.resize(uids.size());
    if (content) r.bases.resize(uids.size());
    for (size_t i = 0; i < uids.size(); ++i) {
      message_facts& mf = r.facts[i];
      mf.uid = uids[i];
      const auto* m = (*f)->state().find(uids[i]);
      if (m == nullptr) continue;
      mf.found = true;
      mf.flags = m->flags;
      mf.keywords = m->keywords;
      mf.modseq = m->modseq;
      mf.vsize = m->vsize;
      mf.internal_date = m->internal_date;
      if (content && (!fts || std::binary_search(fts->begin(), fts->end(), uids[i]))) {
        mf.path = (*f)->path_of(*m);
        r.bases[i] = m->base;
      }
      if (want_ids) mf.cache = m->cache;
    }
    r.keywords = (*f)->state().keywords;
    co_return r;
  };
  auto hop = on_mailbox(std::move(get));
  absl::StatusOr<search_facts> got = co_await std::move(hop);
  if (!got.ok()) {
    no(c, "[SERVERBUG] Cannot read the mailbox");
    co_return;
  }
  std::vector<message_facts>* facts = &got->facts;
  std::vector<std::string>& keywords = got->keywords;
  for (size_t i = 0; i < facts->size(); ++i) (*facts)[i].seq = fts ? fts_seqs[i] : static_cast<uint32_t>(i + 1);
  header_cache& headers = *shard_.headers;
  const std::string key_prefix = absl::StrCat(user_, "\n", selected_->name, "\n");
  search_context ctx;
  ctx.now = std::time(nullptr);  // WITHIN (RFC 5032)
  std::vector<std::pair<uint32_t, std::string>> new_caches;  // OBJECTID ids computed here
  ctx.max_seq = exists;
  ctx.max_uid = selected_->view.max_uid();
  ctx.keywords = &keywords;
  ctx.saved_uids = &saved_uids_;
  ctx.charsets = shard_.charsets;
  std::vector<uint32_t> hits_seq, hits_uid;
  uint64_t hits_modseq = 0;  // RFC 7162 3.1.5: the highest of the matches, for (MODSEQ n)
  search_text_cache cache;
  for (size_t i = 0; i < facts->size(); ++i) {
    const message_facts& m = (*facts)[i];
    if (!m.found) continue;
    if (fts && !std::binary_search(fts->begin(), fts->end(), m.uid)) continue;
    mailstore::message_entry e = entry_of(m);
    if (!got->bases.empty()) e.base = got->bases[i];  // SAVED* (search.h)
    search_message sm;
    sm.seq = m.seq;
    sm.entry = &e;
    std::pair<std::string, std::string> ids;  // OBJECTID (object_fetch.h)
    if (want_ids) {
      // Index facts that rule the message out first: no file read for its ids.
      if (!search_matches(ids_prefilter, sm, ctx)) continue;
      ids = co_await object_ids_of(m, &new_caches);
      sm.email_id = ids.first;
      sm.thread_id = ids.second;
    }
    std::optional<loaded_message> msg;
    if (headers_only) {
      std::string key = absl::StrCat(key_prefix, got->bases[i]);
      if (const std::string* h = headers.find(key)) {
        msg.emplace();
        msg->bytes = *h;
      } else {
        msg = co_await load(m);
        if (!msg) continue;
        msg->bytes.resize(header_block(msg->bytes).size());
        headers.put(std::move(key), msg->bytes);
      }
      sm.parsed = &msg->parsed(*shard_.charsets);
    } else if (content) {
      msg = co_await load(m);
      if (!msg) continue;
      sm.parsed = &msg->parsed(*shard_.charsets);
    }
    if (search_matches(c.search, sm, ctx, cache)) {
      hits_seq.push_back(m.seq);
      hits_uid.push_back(m.uid);
      hits_modseq = std::max(hits_modseq, m.modseq);
    }
  }
  if (!new_caches.empty()) {  // EMAILID/THREADID computed for the search: keep them
    auto keep = [name = selected_->name, blobs = std::move(new_caches)](mailstore::mailbox& box) -> task<absl::Status> {
      co_return co_await box.set_cache(name, blobs);
    };
    auto hop = on_mailbox(std::move(keep));
    absl::Status st = co_await std::move(hop);
    if (!st.ok()) log::debug("imap_cache_not_kept", {{"sid", sid_}, {"reason", st.ToString()}});
  }
  const std::vector<uint32_t>& hits = c.uid ? hits_uid : hits_seq;
  const search_return& ret = c.search_ret;
  if (ret.save) {
    // RFC 5182 2.4: with MIN or MAX (and neither ALL nor COUNT) only those are saved.
    if ((ret.min || ret.max) && !ret.all && !ret.count && !hits_uid.empty()) {
      std::vector<uint32_t> keep;
      if (ret.min) keep.push_back(hits_uid.front());
      if (ret.max && (keep.empty() || keep.back() != hits_uid.back())) keep.push_back(hits_uid.back());
      saved_uids_ = std::move(keep);
    } else {
      saved_uids_ = hits_uid;
    }
  }
  const bool only_save = ret.save && !ret.min && !ret.max && !ret.all && !ret.count;
  if (c.esearch || rev2_) {
    if (!only_save) {
      const bool all_by_default = !ret.any();
      std::string line = "ESEARCH (TAG ";
      append_string(line, c.tag);
      line += ")";
      if (c.uid) line += " UID";
      if (!hits.empty()) {
        if (ret.min) absl::StrAppend(&line, " MIN ", hits.front());
        if (ret.max) absl::StrAppend(&line, " MAX ", hits.back());
        if (ret.all || all_by_default) absl::StrAppend(&line, " ALL ", format_number_set(hits));
      }
      if (ret.count) absl::StrAppend(&line, " COUNT ", hits.size());
      if (!hits.empty() && search_uses_modseq(c.search)) absl::StrAppend(&line, " MODSEQ ", hits_modseq);
      untagged(line);
    }
  } else {
    std::string line = "SEARCH";
    for (uint32_t n : hits) absl::StrAppend(&line, " ", n);
    if (!hits.empty() && search_uses_modseq(c.search)) absl::StrAppend(&line, " (MODSEQ ", hits_modseq, ")");
    untagged(line);
  }
  ok(c, "Search completed");
}

task<void> imap_session::on_copy(const command& c, bool move) {
  if (move && selected_->read_only) {
    no(c, "[READ-ONLY] Mailbox is read-only");
    co_return;
  }
  std::optional<std::vector<uint32_t>> seqs = resolve_set(c, c.set, c.uid);
  if (!seqs) co_return;
  std::optional<std::string> to = store_name(c, c.mailbox);
  if (!to) co_return;
  if (seqs->empty()) {
    ok(c, move ? "No messages moved" : "No messages copied");
    co_return;
  }
  std::vector<uint32_t> uids;
  for (uint32_t s : *seqs) uids.push_back(selected_->view.uid_at(s));
  // QUOTA (RFC 9208, quota_commands.cc); a MOVE within the user's folders adds nothing.
  if (!move) {
    const bool over_quota = co_await refuse_over_quota(c, uids);  // (a value: see on_compress)
    if (over_quota) co_return;
  }
  struct result {
    std::vector<std::pair<uint32_t, uint32_t>> pairs;
    uint32_t uid_validity = 0;
    std::vector<std::string> paths;  // of the copies, for spam training
  };
  const bool train = shard_.trainer != nullptr &&
                     ((*to == "Junk" && selected_->name != "Junk") || (selected_->name == "Junk" && *to != "Junk" && *to != "Trash"));
  auto run = [from = selected_->name, to = *to, uids, move, train](
                 mailstore::mailbox& box) -> task<absl::StatusOr<result>> {
    result r;
    auto pairs = co_await box.copy(from, uids, to, move);
    if (!pairs.ok()) co_return pairs.status();
    r.pairs = *std::move(pairs);
    auto f = co_await box.folder(to);
    if (!f.ok()) co_return f.status();
    r.uid_validity = (*f)->state().uid_validity;
    if (train) {
      for (const auto& [src, dst] : r.pairs) {
        if (const auto* m = (*f)->state().find(dst); m != nullptr) r.paths.push_back((*f)->path_of(*m));
      }
    }
    co_return r;
  };
  auto hop = on_mailbox(std::move(run));
  absl::StatusOr<result> r = co_await std::move(hop);
  if (!r.ok()) {
    no(c, save_error_text(r.status()));
    co_return;
  }
  if (train && !r->paths.empty()) shard_.trainer->learn(user_, std::move(r->paths), *to == "Junk");
  std::vector<uint32_t> src, dst;
  for (const auto& [s, d] : r->pairs) {
    src.push_back(s);
    dst.push_back(d);
  }
  const std::string code = src.empty() ? std::string()
                                       : absl::StrCat("[COPYUID ", r->uid_validity, " ", format_number_set(src), " ",
                                                      format_number_set(dst), "] ");
  if (!move) {
    ok(c, code + "Copy completed");
    co_return;
  }
  // RFC 6851 4.3: COPYUID in an untagged OK, then the EXPUNGEs, then the tagged OK.
  if (!code.empty()) untagged("OK " + code + "Moved UIDs.");
  co_await sync_selected(true);
  report_updates(true, c.uid);
  ok(c, "Move completed");
}

task<void> imap_session::on_expunge(const command& c) {
  if (selected_->read_only) {
    no(c, "[READ-ONLY] Mailbox is read-only");
    co_return;
  }
  std::vector<uint32_t> uids;
  if (c.uid) {
    std::optional<std::vector<uint32_t>> seqs = resolve_set(c, c.set, true);
    if (!seqs) co_return;
    for (uint32_t s : *seqs) uids.push_back(selected_->view.uid_at(s));
    if (uids.empty()) {
      ok(c, "Expunge completed");
      co_return;
    }
  }
  auto run = [name = selected_->name, uids, by_uid = c.uid](mailstore::mailbox& box) -> task<absl::Status> {
    std::vector<uint32_t> targets;
    if (by_uid) {
      // UID EXPUNGE removes only the named messages that are \Deleted (RFC 4315 2.1).
      auto f = co_await box.folder(name);
      if (!f.ok()) co_return f.status();
      for (uint32_t u : uids) {
        const auto* m = (*f)->state().find(u);
        if (m != nullptr && (m->flags & mailstore::flag_deleted)) targets.push_back(u);
      }
      if (targets.empty()) co_return absl::OkStatus();
    }
    auto r = co_await box.expunge(name, std::move(targets));
    co_return r.status();
  };
  auto hop = on_mailbox(std::move(run));
  absl::Status st = co_await std::move(hop);
  co_await sync_selected(true);
  report_updates(true, c.uid);
  if (!st.ok()) {
    no(c, absl::StrCat("[SERVERBUG] ", st.message()));
  } else {
    ok(c, (co_await highestmodseq_code()) + "Expunge completed");  // RFC 7162 (QRESYNC)
  }
}

task<void> imap_session::on_append(command& c) {
  std::optional<std::string> name = store_name(c, c.mailbox);
  if (!name) co_return;
  if (c.append.empty()) {
    bad(c, "Missing message");
    co_return;
  }
  // MULTIAPPEND, CATENATE, UTF8 data, APPENDLIMIT (append_commands.cc).
  if (!co_await prepare_append(c)) co_return;
  const bool over_quota = co_await refuse_over_quota(c);  // QUOTA (RFC 9208, quota_commands.cc)
  if (over_quota) co_return;
  if (c.append.size() > 1) {
    absl::StatusOr<std::string> done = co_await append_several(c, *name);
    if (done.ok()) {
      ok(c, *done);
    } else {
      no(c, save_error_text(done.status()));
    }
    co_return;
  }
  append_message& a = c.append.front();
  if (a.message.empty()) {
    no(c, "Can't save a zero byte message");
    co_return;
  }
  uint8_t bits = 0;
  std::vector<std::string> keywords;
  if (!split_flags(a.flags, &bits, &keywords)) {
    bad(c, "Invalid system flag");
    co_return;
  }
  struct result {
    uint32_t uid = 0;
    uint32_t uid_validity = 0;
    std::string path;  // for spam training
    std::optional<fts_new_message> fts;  // the folder's full-text index is in memory (fts_search.h)
  };
  // Mail put into Junk by a client is spam for this user, as the seed's imapsieve rule
  // (causes = COPY APPEND) learns it.
  const bool train = shard_.trainer != nullptr && *name == "Junk";
  auto run = [n = *name, message = std::move(a.message), bits, keywords, train,
              date = a.internal_date.value_or(0)](mailstore::mailbox& box) -> task<absl::StatusOr<result>> {
    std::vector<std::string_view> pieces;
    pieces.push_back(message);
    auto uid = co_await box.append(n, std::move(pieces), bits, keywords, date);
    if (!uid.ok()) co_return uid.status();
    auto f = co_await box.folder(n);
    if (!f.ok()) co_return f.status();
    result r;
    r.uid = *uid;
    r.uid_validity = (*f)->state().uid_validity;
    if (train) {
      if (const auto* m = (*f)->state().find(*uid); m != nullptr) r.path = (*f)->path_of(*m);
    }
    r.fts = fts_new_message_of(box, **f, *uid);
    co_return r;
  };
  auto hop = on_mailbox(std::move(run));
  absl::StatusOr<result> r = co_await std::move(hop);
  if (!r.ok()) {
    no(c, save_error_text(r.status()));
    co_return;
  }
  if (train && !r->path.empty()) {
    std::vector<std::string> paths;
    paths.push_back(std::move(r->path));
    shard_.trainer->learn(user_, std::move(paths), true);
  }
  if (selected_ && selected_->name == *name) {
    co_await sync_selected(true);
    report_updates(true, false);
  }
  ok(c, absl::StrCat("[APPENDUID ", r->uid_validity, " ", r->uid, "] Append completed"));
  if (r->fts) {
    // Indexed after the reply is out, so the next SEARCH BODY/TEXT need not read it.
    const bool sent = co_await flush();
    if (sent) co_await fts_index_new(std::move(*r->fts));
  }
}

}  // namespace ringmail::imap
