// The session's APPEND extensions, called from on_append (message_commands.cc):
//
//   MULTIAPPEND (RFC 3502): several messages in one APPEND, all or nothing. Section 3:
//     "If the server ... fails to append any of the messages, ... none of the messages
//     are appended". Everything that can be checked without the store (flags, empty
//     messages, UTF8 data, CATENATE URLs, sizes) is checked for every message BEFORE the
//     first is stored, so a bad second message costs nothing. A failure of the store
//     itself part-way (quota, disk) is undone by EXPUNGING the messages already stored,
//     in the same owner-shard hop: the mail store has no staging area, and a hop runs
//     alone on the owner, so no other command sees the folder between the appends and
//     the expunge — but its watchers (other sessions with the folder selected) are told
//     of the appends and then of the expunges. APPENDUID names the UID set (RFC 4315).
//   CATENATE (RFC 4469): the message is built from TEXT literals and URLs naming parts of
//     this user's own messages (imap_url.h). Anything else is NO [BADURL url] (section
//     3: "If the server ... cannot resolve the URL"). Sections are rendered by
//     message_render.h's render_section, as FETCH BODY.PEEK[section] would send them,
//     so the bytes a client fetched are the bytes catenated. A result larger than
//     APPENDLIMIT is NO [TOOBIG] (section 6 / RFC 7889).
//   APPENDLIMIT (RFC 7889): every message's size is at most --imap_max_append. The
//     command reader refuses a larger synchronizing literal before the client sends it
//     (NO [TOOBIG]); this checks the same limit for catenated results and for
//     non-synchronizing literals that fit the command limit.
//   UTF8=ACCEPT (RFC 6855 section 4): append-data "UTF8 (~{n}...)" only once enabled;
//     before, BAD (the client did not ENABLE what it uses). Messages whose headers carry
//     raw UTF-8 are stored as they come (this store never refused 8-bit headers).
//
// Departure (Dovecot does the same): a URL with no mailbox (";UID=5") is relative to the
// selected mailbox; with none selected it is a BADURL.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "delivery/mailstore/folder_name.h"
#include "delivery/mailstore/index_file.h"
#include "delivery/mailstore/mutf7.h"
#include "mail/header.h"
#include "protocols/imap/imap_url.h"
#include "protocols/imap/message_render.h"
#include "protocols/imap/number_set.h"
#include "protocols/imap/session_impl.h"
#include "runtime/log.h"

namespace ringmail::imap {

namespace {

// Distinct message files one APPEND's CATENATE parts may read (see catenate_source).
constexpr size_t kMaxCatenateFiles = 100;

// url-resp-text (RFC 4469 section 5, errata 2002): TEXT-CHAR except "]"; a URL that
// cannot be echoed as it is is cut where it stops being echoable.
std::string url_resp_text(std::string_view url) {
  std::string out;
  for (char ch : url.substr(0, 1024)) {
    auto u = static_cast<unsigned char>(ch);
    if (u < 0x20 || u == 0x7f || ch == ']') break;
    out.push_back(ch);
  }
  return out.empty() ? std::string("url") : out;
}

// A URL's mailbox (UTF-8, RFC 5092 3.2) as a store name, INBOX in any case -> "INBOX";
// nullopt if the name is not one the store could hold.
std::optional<std::string> url_store_name(std::string name) {
  if (!mailstore::is_valid_utf8(name) || !mailstore::folder_to_dir(name).ok()) return std::nullopt;
  if (name.size() >= 5 && mail::equals_ignore_case(std::string_view(name).substr(0, 5), "INBOX") &&
      (name.size() == 5 || name[5] == '/')) {
    name.replace(0, 5, "INBOX");
  }
  return name;
}

}  // namespace

void imap_session::append_mailbox_name(std::string& out, const std::string& name) const {
  const bool quotable = utf8_accept_ && mailstore::is_valid_utf8(name) &&
                        name.find_first_of(std::string_view("\r\n\0", 3)) == std::string::npos;
  if (!quotable) {
    append_string(out, wire_name(name));
    return;
  }
  out += '"';
  for (char ch : name) {
    if (ch == '"' || ch == '\\') out += '\\';
    out += ch;
  }
  out += '"';
}

task<std::optional<std::string>> imap_session::resolve_catenate_url(const command& c, const std::string& text,
                                                                     catenate_source& source) {
  auto badurl = [&](std::string_view why) {
    no(c, absl::StrCat("[BADURL ", url_resp_text(text), "] ", std::string(why)));
    return std::optional<std::string>();
  };
  imap_url_result parsed = parse_imap_url(text);
  if (!parsed.url) co_return badurl(parsed.error);
  const imap_url& u = *parsed.url;
  if (u.absolute) {
    // Our own server and user only: no IMAP client in us to fetch from elsewhere, and no
    // URLAUTH (RFC 4467) to read another user's mail.
    const bool same_host = mail::equals_ignore_case(u.host, config_.hostname) || u.host == "localhost";
    const bool same_user = u.user.empty() || mail::equals_ignore_case(u.user, user_);
    if (!same_host || !same_user || (!u.auth.empty() && u.auth != "*")) {
      co_return badurl("URL names another server or user");
    }
  }
  std::string box;
  if (u.mailbox) {
    std::optional<std::string> n = url_store_name(*u.mailbox);
    if (!n) co_return badurl("Invalid mailbox in URL");
    box = *std::move(n);
  } else if (selected_) {
    box = selected_->name;
  } else {
    co_return badurl("Relative URL and no mailbox selected");
  }
  struct where {
    std::string path;
    uint64_t vsize = 0;
    uint32_t uid_validity = 0;
  };
  // Where the message's file is; a flag change by another session renames it between our
  // ask and our read, so a failed read asks again (as FETCH does).
  std::optional<std::string> bytes;
  // The same message as the previous URL: its file is immutable, so the bytes read then
  // are its bytes now (a UIDVALIDITY change would have made it another folder).
  const bool same = source.uid == u.uid && source.box == box && (u.uid_validity == 0 || u.uid_validity == source.uid_validity);
  if (same) bytes = source.bytes;
  if (!same && source.reads >= kMaxCatenateFiles) co_return badurl("Too many messages in one CATENATE");
  for (int attempt = 0; attempt < 3 && !bytes; ++attempt) {
    auto ask = [box, uid = u.uid, uid_validity = u.uid_validity](mailstore::mailbox& mb) -> task<absl::StatusOr<where>> {
      auto f = co_await mb.folder(box);
      if (!f.ok()) co_return f.status();
      if (uid_validity != 0 && uid_validity != (*f)->state().uid_validity) {
        co_return absl::FailedPreconditionError("UIDVALIDITY");
      }
      const auto* m = (*f)->state().find(uid);
      if (m == nullptr) co_return absl::NotFoundError("UID");
      co_return where{(*f)->path_of(*m), m->vsize, (*f)->state().uid_validity};
    };
    auto hop = on_mailbox(std::move(ask));
    absl::StatusOr<where> w = co_await std::move(hop);
    if (!w.ok()) {
      if (absl::IsFailedPrecondition(w.status())) co_return badurl("UIDVALIDITY does not match");
      if (absl::IsNotFound(w.status()) && w.status().message() == "UID") co_return badurl("No such message");
      co_return badurl("No such mailbox");
    }
    io_result<std::string> r = co_await mailstore::read_whole_file(w->path, w->vsize);
    if (r.ok()) {
      bytes = to_crlf(*r);
      ++source.reads;
      source.box = box;
      source.uid = u.uid;
      source.uid_validity = w->uid_validity;
      source.bytes = *bytes;
    }
  }
  if (!bytes) co_return badurl("Message is gone");
  std::string out;
  if (!u.section) {
    out = *std::move(bytes);
  } else {
    loaded_message msg;
    msg.bytes = *std::move(bytes);
    section_result r = render_section(msg.parsed(*shard_.charsets), *u.section, false);
    if (r.st != section_result::status::ok) co_return badurl("No such section");
    out = std::move(r.bytes);
  }
  if (u.partial_origin) {
    const size_t origin = std::min<size_t>(*u.partial_origin, out.size());
    const size_t length = u.partial_length ? std::min<size_t>(*u.partial_length, out.size() - origin)
                                           : out.size() - origin;
    out = out.substr(origin, length);
  }
  co_return out;
}

task<bool> imap_session::prepare_append(command& c) {
  // RFC 6855 section 4 / RFC 5161: UTF8 data only after ENABLE UTF8=ACCEPT.
  for (const auto& m : c.append) {
    bool utf8 = m.utf8;
    for (const auto& p : m.parts) utf8 = utf8 || p.utf8;
    if (utf8 && !utf8_accept_) {
      bad(c, "APPEND with UTF8 data needs ENABLE UTF8=ACCEPT first");
      co_return false;
    }
  }
  // The checks that need no store, for every message before any is built or stored.
  for (const auto& m : c.append) {
    uint8_t bits = 0;
    std::vector<std::string> keywords;
    if (!split_flags(m.flags, &bits, &keywords)) {
      bad(c, "Invalid system flag");
      co_return false;
    }
    if (!m.catenate && m.message.empty()) {
      no(c, "Can't save a zero byte message");
      co_return false;
    }
  }
  const uint64_t limit = config_.max_append;
  catenate_source source;
  for (auto& m : c.append) {
    if (m.catenate) {
      std::string built;
      for (const auto& p : m.parts) {
        if (p.url) {
          std::optional<std::string> piece = co_await resolve_catenate_url(c, p.text, source);
          if (!piece) co_return false;
          built += *piece;
        } else {
          built += p.text;
        }
        if (built.size() > limit) {
          no(c, "[TOOBIG] Catenated message exceeds the APPENDLIMIT");
          co_return false;
        }
      }
      m.message = std::move(built);
      m.parts.clear();
    }
    if (m.message.size() > limit) {
      no(c, "[TOOBIG] Message exceeds the APPENDLIMIT");
      co_return false;
    }
    if (m.message.empty()) {
      no(c, "Can't save a zero byte message");
      co_return false;
    }
  }
  co_return true;
}

task<absl::StatusOr<std::string>> imap_session::append_several(command& c, const std::string& name) {
  struct one {
    std::string message;
    uint8_t bits = 0;
    std::vector<std::string> keywords;
    int64_t date = 0;
  };
  std::vector<one> messages;
  messages.reserve(c.append.size());
  for (auto& a : c.append) {
    one m;
    split_flags(a.flags, &m.bits, &m.keywords);  // checked by prepare_append
    m.message = std::move(a.message);
    m.date = a.internal_date.value_or(0);
    messages.push_back(std::move(m));
  }
  struct result {
    std::vector<uint32_t> uids;
    uint32_t uid_validity = 0;
    std::vector<std::string> paths;  // for spam training
  };
  const bool train = shard_.trainer != nullptr && name == "Junk";
  auto run = [n = name, messages = std::move(messages), train](mailstore::mailbox& box) -> task<absl::StatusOr<result>> {
    result r;
    for (const auto& m : messages) {
      std::vector<std::string_view> pieces{m.message};
      auto uid = co_await box.append(n, std::move(pieces), m.bits, m.keywords, m.date);
      if (!uid.ok()) {
        // All or nothing (RFC 3502 section 3): take back what this command stored.
        if (!r.uids.empty()) {
          auto undone = co_await box.expunge(n, r.uids);
          if (!undone.ok()) {
            log::warn("imap_multiappend_undo_failed", {{"folder", n}, {"reason", undone.status().ToString()}});
          }
        }
        co_return uid.status();
      }
      r.uids.push_back(*uid);
    }
    auto f = co_await box.folder(n);
    if (!f.ok()) co_return f.status();
    r.uid_validity = (*f)->state().uid_validity;
    if (train) {
      for (uint32_t uid : r.uids) {
        if (const auto* m = (*f)->state().find(uid); m != nullptr) r.paths.push_back((*f)->path_of(*m));
      }
    }
    co_return r;
  };
  auto hop = on_mailbox(std::move(run));
  absl::StatusOr<result> r = co_await std::move(hop);
  if (!r.ok()) co_return r.status();
  if (train && !r->paths.empty()) shard_.trainer->learn(user_, std::move(r->paths), true);
  if (selected_ && selected_->name == name) {
    co_await sync_selected(true);
    report_updates(true, false);
  }
  co_return absl::StrCat("[APPENDUID ", r->uid_validity, " ", format_number_set(r->uids), "] Append completed");
}

}  // namespace ringmail::imap
