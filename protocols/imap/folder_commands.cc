// The session's folder commands: SELECT/EXAMINE, CREATE, DELETE, RENAME, SUBSCRIBE,
// UNSUBSCRIBE, LIST, LSUB, STATUS, CLOSE/UNSELECT, and following the selected folder.
#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "delivery/mailstore/folder_name.h"
#include "delivery/mailstore/maildir_filename.h"
#include "delivery/mailstore/mutf7.h"
#include "mail/header.h"
#include "protocols/imap/condstore.h"
#include "protocols/imap/list_match.h"
#include "protocols/imap/message_render.h"
#include "protocols/imap/object_id.h"
#include "protocols/imap/session_impl.h"
#include "runtime/log.h"
#include "runtime/reactor.h"

namespace ringmail::imap {
namespace {

// What SELECT needs from the owner, copied there.
struct select_snapshot {
  std::vector<view_message> messages;
  std::vector<std::string> keywords;
  uint32_t uid_validity = 0;
  uint32_t uid_next = 0;
  uint64_t seq = 0;
  uint32_t first_unseen = 0;  // sequence number, 0: none
  uint64_t highest_modseq = 0;  // RFC 7162
  qresync_result resync;        // SELECT (QRESYNC ...) (condstore.h)
  std::string mailbox_guid;     // MAILBOXID (RFC 8474, object_id.h)
};

// The tagged NO for a store error, with the RFC 5530 response code that fits.
std::string no_text(const absl::Status& st) {
  switch (st.code()) {
    case absl::StatusCode::kNotFound:
      return "[NONEXISTENT] Mailbox doesn't exist";
    case absl::StatusCode::kAlreadyExists:
      return "[ALREADYEXISTS] Mailbox already exists";
    case absl::StatusCode::kInvalidArgument:
      return absl::StrCat("[CANNOT] ", st.message());
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kPermissionDenied:
      return absl::StrCat("[CANNOT] ", st.message());
    case absl::StatusCode::kResourceExhausted:
      return absl::StrCat("[LIMIT] ", st.message());
    case absl::StatusCode::kUnavailable:
      return "[INUSE] Mailbox is in use by another process, try again later";
    default:
      return "[SERVERBUG] Internal error occurred. Refer to server log for more information.";
  }
}

}  // namespace

std::optional<std::string> imap_session::store_name(const command& c, const std::string& wire) {
  // UTF8=ACCEPT (RFC 6855 section 3): names are UTF-8 on the wire, not modified UTF-7.
  auto utf8 = utf8_accept_ ? (mailstore::is_valid_utf8(wire) ? absl::StatusOr<std::string>(wire)
                                                             : absl::InvalidArgumentError("not UTF-8"))
                           : mailstore::mutf7_to_utf8(wire);
  if (!utf8.ok()) {
    no(c, utf8_accept_ ? "[CANNOT] Mailbox name is not valid UTF-8" : "[CANNOT] Mailbox name is not valid modified UTF-7");
    return std::nullopt;
  }
  std::string name = *std::move(utf8);
  auto dir = mailstore::folder_to_dir(name);
  if (!dir.ok()) {
    no(c, absl::StrCat("[CANNOT] Invalid mailbox name: ", dir.status().message()));
    return std::nullopt;
  }
  if (name.size() >= 5 && mail::equals_ignore_case(std::string_view(name).substr(0, 5), "INBOX") &&
      (name.size() == 5 || name[5] == '/')) {
    name.replace(0, 5, "INBOX");
  }
  return name;
}

std::string imap_session::wire_name(const std::string& utf8) const {
  if (utf8_accept_) return utf8;  // RFC 6855 section 3
  auto m = mailstore::utf8_to_mutf7(utf8);
  return m.ok() ? *m : utf8;
}

std::string imap_session::flags_response() const {
  std::string flags = "(\\Answered \\Flagged \\Deleted \\Seen \\Draft";
  for (const auto& k : selected_->view.keywords()) absl::StrAppend(&flags, " ", k);
  flags += ")";
  return flags;
}

void imap_session::deselect() {
  if (!selected_) return;
  // The owner drops closed watchers at its next publish; nothing to wait for.
  selected_->watch->closed.store(true);
  selected_.reset();
  if (state_ == state::selected) state_ = state::authenticated;
}

task<void> imap_session::on_select(const command& c, bool read_only) {
  if (selected_) {
    deselect();
    untagged("OK [CLOSED] Previous mailbox closed.");
  }
  std::optional<std::string> name = store_name(c, c.mailbox);
  if (!name) co_return;
  auto watch = std::make_shared<mailstore::folder_watch>();
  watch->shard = reactor::current()->shard_id();
  auto open = [name = *name, watch, q = c.qresync](mailstore::mailbox& box) -> task<absl::StatusOr<select_snapshot>> {
    auto f = co_await box.folder(name);
    if (!f.ok()) co_return f.status();
    const mailstore::folder_state& st = (*f)->state();
    select_snapshot snap;
    snap.messages.reserve(st.messages.size());
    for (const auto& m : st.messages) {
      snap.messages.push_back(to_view_message(m));
      if (snap.first_unseen == 0 && !(m.flags & mailstore::flag_seen)) {
        snap.first_unseen = static_cast<uint32_t>(snap.messages.size());
      }
    }
    snap.keywords = st.keywords;
    snap.uid_validity = st.uid_validity;
    snap.uid_next = st.uid_next;
    snap.mailbox_guid = st.mailbox_guid;
    snap.seq = (*f)->visible_seq();
    snap.highest_modseq = st.highest_modseq;
    if (q) snap.resync = compute_qresync(st, *q);
    (*f)->watch(watch);
    co_return snap;
  };
  auto hop = on_mailbox(std::move(open));
  absl::StatusOr<select_snapshot> snap = co_await std::move(hop);
  if (!snap.ok()) {
    watch->closed.store(true);
    no(c, no_text(snap.status()));
    co_return;
  }
  selected_.emplace();
  selected_->name = *name;
  selected_->read_only = read_only;
  selected_->watch = std::move(watch);
  selected_->uid_validity = snap->uid_validity;
  selected_->uid_next = snap->uid_next;
  selected_->view.reset(std::move(snap->messages), snap->keywords, snap->seq);
  saved_uids_.clear();
  state_ = state::selected;
  untagged("FLAGS " + flags_response());
  if (read_only) {
    untagged("OK [PERMANENTFLAGS ()] Read-only mailbox.");
  } else {
    std::string perm = flags_response();
    perm.insert(perm.size() - 1, " \\*");
    untagged("OK [PERMANENTFLAGS " + perm + "] Flags permitted.");
  }
  untagged(absl::StrCat(selected_->view.exists(), " EXISTS"));
  if (!rev2_) {
    untagged("0 RECENT");  // \Recent is not kept (RFC 9051 removed it)
    if (snap->first_unseen != 0) untagged(absl::StrCat("OK [UNSEEN ", snap->first_unseen, "] First unseen."));
  }
  untagged(absl::StrCat("OK [UIDVALIDITY ", snap->uid_validity, "] UIDs valid"));
  untagged(absl::StrCat("OK [UIDNEXT ", snap->uid_next, "] Predicted next UID"));
  // RFC 8474 4.1.
  const std::string mailbox_id_text = mailbox_id(snap->mailbox_guid);
  if (!mailbox_id_text.empty()) untagged(absl::StrCat("OK [MAILBOXID (", mailbox_id_text, ")] Ok"));
  untagged(absl::StrCat("OK [HIGHESTMODSEQ ", snap->highest_modseq, "] Highest"));  // RFC 7162 3.1.2.1
  if (rev2_) {
    std::string line = "LIST () \"/\" ";
    append_mailbox_name(line, *name);
    untagged(line);
  }
  report_qresync(snap->resync);  // VANISHED (EARLIER), FETCH of changes (condstore_commands.cc)
  ok(c, read_only ? "[READ-ONLY] Examine completed" : "[READ-WRITE] Select completed");
}

task<void> imap_session::sync_selected(bool force) {
  if (!selected_) co_return;
  if (!force && !selected_->watch->pending) co_return;
  selected_->watch->pending = false;
  struct news {
    mailstore::open_folder::event_batch batch;
    std::vector<std::string> keywords;
    std::vector<view_message> messages;  // only after a reset batch
    uint32_t uid_next = 0;
  };
  auto ask = [name = selected_->name, after = selected_->view.event_seq()](
                 mailstore::mailbox& box) -> task<absl::StatusOr<news>> {
    auto f = co_await box.folder(name);
    if (!f.ok()) co_return f.status();
    news n;
    n.batch = (*f)->events_since(after);
    n.keywords = (*f)->state().keywords;
    n.uid_next = (*f)->state().uid_next;
    if (n.batch.reset) {
      for (const auto& m : (*f)->state().messages) n.messages.push_back(to_view_message(m));
    }
    co_return n;
  };
  auto hop = on_mailbox(std::move(ask));
  absl::StatusOr<news> n = co_await std::move(hop);
  if (!selected_) co_return;
  if (!n.ok()) {
    if (n.status().code() == absl::StatusCode::kNotFound) {
      // Deleted or renamed by another session: every message is gone from this view.
      selected_->view.resync({}, selected_->view.keywords(), selected_->view.event_seq());
    }
    co_return;
  }
  if (n->batch.reset) {
    selected_->view.resync(n->messages, n->keywords, n->batch.last_seq);
  } else {
    selected_->view.apply(n->batch.events, n->keywords, n->batch.last_seq);
  }
  selected_->uid_next = n->uid_next;
}

void imap_session::report_updates(bool allow_expunge, bool uid) {
  if (!selected_) return;
  if (selected_->view.keywords_grew()) {
    untagged("FLAGS " + flags_response());
    selected_->view.clear_keywords_grew();
  }
  selected_->view.report(out_, allow_expunge, uid);
}

task<void> imap_session::on_close(const command& c, bool expunge) {
  if (expunge && !selected_->read_only) {
    // CLOSE expunges silently (RFC 9051 6.4.1): no untagged EXPUNGE.
    auto run = [name = selected_->name](mailstore::mailbox& box) -> task<absl::Status> {
      auto r = co_await box.expunge(name, {});
      co_return r.status();
    };
    auto hop = on_mailbox(std::move(run));
    absl::Status st = co_await std::move(hop);
    if (!st.ok()) log::warn("imap_close_expunge_failed", {{"sid", sid_}, {"reason", st.ToString()}});
  }
  deselect();
  ok(c, expunge ? "Close completed" : "Unselect completed");
}

namespace {
// Maildir's own directory names. Maildir++ stores them as ".tmp" etc., so they could not
// clash, but issue 10 asks that they be refused as new names (a client or script that
// creates "new" is confused about what it is talking to); existing ones still list.
bool reserved_name(std::string_view name) {
  for (size_t start = 0; start <= name.size();) {
    size_t end = name.find('/', start);
    if (end == std::string_view::npos) end = name.size();
    std::string_view level = name.substr(start, end - start);
    if (level == "tmp" || level == "cur" || level == "new") return true;
    start = end + 1;
  }
  return false;
}
}  // namespace

task<void> imap_session::on_create(const command& c) {
  std::string wire = c.mailbox;
  // RFC 9051 6.3.4: a trailing delimiter says the client intends to create children.
  while (!wire.empty() && wire.back() == '/') wire.pop_back();
  std::optional<std::string> name = store_name(c, wire);
  if (!name) co_return;
  if (*name == "INBOX") {
    no(c, "[ALREADYEXISTS] Mailbox already exists");
    co_return;
  }
  if (reserved_name(*name)) {
    no(c, "[CANNOT] Reserved mailbox name (tmp, cur and new are Maildir's own)");
    co_return;
  }
  // RFC 8474 4.1: the tagged OK of CREATE carries the new folder's MAILBOXID.
  auto run = [n = *name](mailstore::mailbox& box) -> task<absl::StatusOr<std::string>> {
    absl::Status made = co_await box.create_folder(n);
    if (!made.ok()) co_return made;
    auto s = co_await box.status(n);
    co_return s.ok() ? s->mailbox_guid : std::string();
  };
  auto hop = on_mailbox(std::move(run));
  absl::StatusOr<std::string> st = co_await std::move(hop);
  const std::string id = st.ok() ? mailbox_id(*st) : std::string();
  if (!st.ok()) {
    no(c, no_text(st.status()));
  } else if (!id.empty()) {
    ok(c, absl::StrCat("[MAILBOXID (", id, ")] Create completed"));
  } else {
    ok(c, "Create completed");
  }
}

task<void> imap_session::on_delete(const command& c) {
  std::optional<std::string> name = store_name(c, c.mailbox);
  if (!name) co_return;
  if (*name == "INBOX") {
    no(c, "[CANNOT] INBOX can't be deleted.");
    co_return;
  }
  if (selected_ && selected_->name == *name) {
    deselect();
    untagged("OK [CLOSED] Mailbox deleted.");
  }
  auto run = [n = *name](mailstore::mailbox& box) -> task<absl::Status> { co_return co_await box.delete_folder(n); };
  auto hop = on_mailbox(std::move(run));
  absl::Status st = co_await std::move(hop);
  if (!st.ok()) {
    no(c, no_text(st));
  } else {
    ok(c, "Delete completed");
  }
}

task<void> imap_session::on_rename(const command& c) {
  std::optional<std::string> from = store_name(c, c.mailbox);
  if (!from) co_return;
  std::optional<std::string> to = store_name(c, c.new_name);
  if (!to) co_return;
  if (*to == "INBOX") {
    no(c, "[ALREADYEXISTS] INBOX exists");
    co_return;
  }
  if (reserved_name(*to)) {
    no(c, "[CANNOT] Reserved mailbox name (tmp, cur and new are Maildir's own)");
    co_return;
  }
  auto run = [f = *from, t = *to](mailstore::mailbox& box) -> task<absl::Status> {
    co_return co_await box.rename_folder(f, t);
  };
  auto hop = on_mailbox(std::move(run));
  absl::Status st = co_await std::move(hop);
  if (!st.ok()) {
    no(c, no_text(st));
  } else {
    ok(c, "Rename completed");
  }
}

task<void> imap_session::on_subscribe(const command& c, bool subscribe) {
  std::optional<std::string> name = store_name(c, c.mailbox);
  if (!name) co_return;
  auto run = [n = *name, subscribe](mailstore::mailbox& box) -> task<absl::Status> {
    co_return co_await box.subscribe(n, subscribe);
  };
  auto hop = on_mailbox(std::move(run));
  absl::Status st = co_await std::move(hop);
  if (!st.ok()) {
    no(c, no_text(st));
  } else {
    ok(c, subscribe ? "Subscribe completed" : "Unsubscribe completed");
  }
}

task<void> imap_session::on_list(const command& c, bool lsub) {
  const list_options& o = c.list;
  // LIST "" "": the delimiter and the root (RFC 9051 6.3.9).
  if (!lsub && c.patterns.size() == 1 && c.patterns[0].empty() && !o.extended) {
    untagged("LIST (\\Noselect) \"/\" \"\"");
    ok(c, "List completed");
    co_return;
  }
  struct listing {
    std::vector<std::string> folders;
    std::vector<std::string> subscriptions;
  };
  auto get = [](mailstore::mailbox& box) -> task<absl::StatusOr<listing>> {
    listing l;
    auto f = co_await box.list_folders();
    if (!f.ok()) co_return f.status();
    l.folders = *std::move(f);
    auto s = co_await box.subscriptions();
    if (!s.ok()) co_return s.status();
    l.subscriptions = *std::move(s);
    co_return l;
  };
  auto hop = on_mailbox(std::move(get));
  absl::StatusOr<listing> l = co_await std::move(hop);
  if (!l.ok()) {
    no(c, no_text(l.status()));
    co_return;
  }
  std::map<std::string, std::string> special;
  static const char* const kSpecial[][2] = {{"Drafts", "\\Drafts"}, {"Sent", "\\Sent"}, {"Trash", "\\Trash"},
                                            {"Junk", "\\Junk"},     {"Archive", "\\Archive"}};
  for (const auto& s : kSpecial) special[s[0]] = s[1];
  std::vector<list_entry> entries = list_candidates(l->folders, l->subscriptions, special);
  // Patterns arrive in modified UTF-7 like names; decode them the same way ('&' and '-'
  // never collide with the wildcards).
  std::vector<std::string> patterns;
  for (const auto& p : c.patterns) {
    std::string full = list_full_pattern(c.reference, p);
    auto utf8 = mailstore::mutf7_to_utf8(full);
    patterns.push_back(utf8.ok() && !utf8_accept_ ? *utf8 : full);  // UTF8=ACCEPT: already UTF-8
  }
  std::vector<std::pair<std::string, bool>> status_targets;  // LIST-STATUS
  for (const auto& e : entries) {
    bool matched = false;
    bool star = false;  // a matching pattern has "*" (so it also reaches the children)
    for (const auto& p : patterns) {
      if (!list_pattern_matches(p, e.name)) continue;
      matched = true;
      star = star || p.find('*') != std::string::npos;
    }
    if (!matched) continue;
    if (o.special_use && e.special_use.empty()) continue;
    std::string attrs;
    auto add = [&](std::string_view a) {
      if (!attrs.empty()) attrs += ' ';
      attrs.append(a);
    };
    if (lsub) {
      // LSUB names subscriptions whether or not the folder exists (as Dovecot); a parent
      // of a subscribed child only where "%" stopped at it, as \Noselect (RFC 3501 6.3.9).
      if (!e.subscribed && !(e.child_subscribed && !star)) continue;
      if (!e.subscribed) add("\\Noselect");
    } else if (o.subscribed) {
      // RECURSIVEMATCH: a parent of a subscribed child, with CHILDINFO below.
      if (!e.subscribed && !(e.child_subscribed && o.recursive_match)) continue;
    } else if (!e.exists && !e.has_children) {
      continue;  // a subscription of a folder that is gone is not a folder
    }
    if (!lsub && !e.exists) add(o.extended ? "\\NonExistent" : "\\Noselect");
    if (o.subscribed && e.subscribed) add("\\Subscribed");
    if (!lsub && !(o.extended && !e.exists)) add(e.has_children ? "\\HasChildren" : "\\HasNoChildren");
    if (!lsub && o.return_subscribed && !o.subscribed && e.subscribed) add("\\Subscribed");
    if (!lsub && !e.special_use.empty()) add(e.special_use);
    std::string line = lsub ? "LSUB (" : "LIST (";
    absl::StrAppend(&line, attrs, ") \"/\" ");
    append_mailbox_name(line, e.name);
    if (o.recursive_match && o.subscribed && !e.subscribed && e.child_subscribed) {
      line += " (\"CHILDINFO\" (\"SUBSCRIBED\"))";
    }
    untagged(line);
    if (!o.return_status.empty() && e.exists) status_targets.emplace_back(e.name, true);
  }
  // LIST-STATUS (RFC 5819): a STATUS response after each selectable folder's LIST; a folder
  // that went away meanwhile simply has none.
  for (const auto& [name, unused] : status_targets) {
    absl::StatusOr<std::string> line = co_await status_line(name, o.return_status);
    if (line.ok()) untagged(*line);
  }
  ok(c, lsub ? "Lsub completed" : "List completed");
}

namespace {
bool known_status_item(const std::string& a) {
  return a == "MESSAGES" || a == "UIDNEXT" || a == "UIDVALIDITY" || a == "UNSEEN" || a == "DELETED" ||
         a == "SIZE" || a == "RECENT" || a == "HIGHESTMODSEQ" ||
         a == "APPENDLIMIT" ||  // RFC 7889
         a == "MAILBOXID" ||    // RFC 8474
         a == "DELETED-STORAGE";  // RFC 9208 4.1.5
}
}  // namespace

task<absl::StatusOr<std::string>> imap_session::status_line(std::string name, std::vector<std::string> atoms) {
  bool want_deleted = false;
  for (const auto& a : atoms) want_deleted = want_deleted || a == "DELETED" || a == "DELETED-STORAGE";
  struct totals {
    mailstore::folder_summary summary;
    uint32_t deleted = 0;
    uint64_t deleted_bytes = 0;  // DELETED-STORAGE (RFC 9208 4.1.5)
  };
  auto get = [n = name, want_deleted](mailstore::mailbox& box) -> task<absl::StatusOr<totals>> {
    totals t;
    if (want_deleted) {
      // \Deleted counts are not in the checkpoint's header: open the folder.
      auto f = co_await box.folder(n);
      if (!f.ok()) co_return f.status();
      t.summary = (*f)->summary();
      for (const auto& m : (*f)->state().messages) {
        if (!(m.flags & mailstore::flag_deleted)) continue;
        ++t.deleted;
        t.deleted_bytes += m.size;  // on disk, as quota usage counts (mailbox::usage)
      }
      co_return t;
    }
    auto s = co_await box.status(n);
    if (!s.ok()) co_return s.status();
    t.summary = *s;
    co_return t;
  };
  auto hop = on_mailbox(std::move(get));
  absl::StatusOr<totals> t = co_await std::move(hop);
  if (!t.ok()) co_return t.status();
  std::string items;
  for (const auto& a : atoms) {
    if (!items.empty()) items += ' ';
    if (a == "MESSAGES") {
      absl::StrAppend(&items, "MESSAGES ", t->summary.messages);
    } else if (a == "UIDNEXT") {
      absl::StrAppend(&items, "UIDNEXT ", t->summary.uid_next);
    } else if (a == "UIDVALIDITY") {
      absl::StrAppend(&items, "UIDVALIDITY ", t->summary.uid_validity);
    } else if (a == "UNSEEN") {
      absl::StrAppend(&items, "UNSEEN ", t->summary.unseen);
    } else if (a == "DELETED") {
      absl::StrAppend(&items, "DELETED ", t->deleted);
    } else if (a == "DELETED-STORAGE") {  // KiB, rounded up as STORAGE (quota_commands.cc)
      absl::StrAppend(&items, "DELETED-STORAGE ", (t->deleted_bytes + 1023) / 1024);
    } else if (a == "SIZE") {
      absl::StrAppend(&items, "SIZE ", t->summary.vsize);
    } else if (a == "RECENT") {
      items += "RECENT 0";
    } else if (a == "HIGHESTMODSEQ") {
      absl::StrAppend(&items, "HIGHESTMODSEQ ", t->summary.highest_modseq);
    } else if (a == "MAILBOXID") {  // RFC 8474 4.2
      const std::string id = mailbox_id(t->summary.mailbox_guid);
      if (!id.empty()) {
        absl::StrAppend(&items, "MAILBOXID (", id, ")");
      } else if (!items.empty()) {
        items.pop_back();  // no id to tell: leave the item out
      }
    } else if (a == "APPENDLIMIT") {
      absl::StrAppend(&items, "APPENDLIMIT ", config_.max_append);  // RFC 7889: one limit for all
    }
  }
  std::string line = "STATUS ";
  append_mailbox_name(line, name);
  absl::StrAppend(&line, " (", items, ")");
  co_return line;
}

task<void> imap_session::on_status(const command& c) {
  std::optional<std::string> name = store_name(c, c.mailbox);
  if (!name) co_return;
  for (const auto& a : c.atoms) {
    if (!known_status_item(a)) {
      bad(c, "Unknown STATUS item");
      co_return;
    }
  }
  absl::StatusOr<std::string> line = co_await status_line(*name, c.atoms);
  if (!line.ok()) {
    no(c, no_text(line.status()));
    co_return;
  }
  untagged(*line);
  ok(c, "Status completed");
}

}  // namespace ringmail::imap
