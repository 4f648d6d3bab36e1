// The session's CONDSTORE/QRESYNC (RFC 7162) pieces: ENABLE, the enabling commands,
// SELECT's QRESYNC answer and UID FETCH's VANISHED modifier. The rest lives where the
// commands do (MODSEQ in FETCH/STORE/SEARCH in message_commands.cc, HIGHESTMODSEQ in
// SELECT in folder_commands.cc, VANISHED for expunges in mailbox_view.cc), a line or two
// each; the arithmetic is condstore.h.
//
//   RFC 7162 3.1 (paraphrased): CONDSTORE is on for the rest of the session once the
//   client sends any "CONDSTORE enabling command": ENABLE CONDSTORE/QRESYNC, SELECT or
//   EXAMINE (CONDSTORE) or (QRESYNC ...), FETCH or SEARCH with MODSEQ, FETCH CHANGEDSINCE,
//   STORE UNCHANGEDSINCE, STATUS (HIGHESTMODSEQ).
//   When the first enabling command is not SELECT/EXAMINE and a mailbox is selected, the
//   client gets HIGHESTMODSEQ as an untagged OK (it has not seen one it knows to use);
//   Dovecot does the same, ENABLE included.
//   QRESYNC arguments before ENABLE QRESYNC are BAD (as Dovecot).
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "protocols/imap/condstore.h"
#include "protocols/imap/session_impl.h"

namespace ringmail::imap {

namespace {

bool has_atom(const command& c, std::string_view a) {
  return std::find(c.atoms.begin(), c.atoms.end(), a) != c.atoms.end();
}

bool enabling(const command& c) {
  switch (c.name) {
    case command_name::select:
    case command_name::examine:
      return has_atom(c, "CONDSTORE") || c.qresync.has_value();
    case command_name::fetch:
      return c.changed_since.has_value() ||
             std::any_of(c.fetch.begin(), c.fetch.end(), [](const fetch_item& f) { return f.k == fetch_item::kind::modseq; });
    case command_name::search:
      return search_uses_modseq(c.search);
    case command_name::store:
      return c.unchanged_since.has_value();
    case command_name::status:
      return has_atom(c, "HIGHESTMODSEQ");
    default:
      return false;
  }
}

}  // namespace

task<bool> imap_session::condstore_before(const command& c) {
  if (c.qresync && !qresync_) {
    bad(c, "QRESYNC isn't enabled");
    co_return false;
  }
  if (c.fetch_vanished && !qresync_) {
    bad(c, "QRESYNC isn't enabled");
    co_return false;
  }
  // ENABLE CONDSTORE/QRESYNC while a folder is selected announces HIGHESTMODSEQ too (as
  // Dovecot, before "* ENABLED"); enable_condstore() turns it on, so ENABLED names it.
  const bool enable = c.name == command_name::enable && (has_atom(c, "CONDSTORE") || has_atom(c, "QRESYNC"));
  if (!condstore_ && (enable || enabling(c))) {
    if (!enable) condstore_ = true;
    const bool selecting = c.name == command_name::select || c.name == command_name::examine;
    if (selected_ && !selecting) {
      auto ask = [name = selected_->name](mailstore::mailbox& box) -> task<absl::StatusOr<uint64_t>> {
        auto f = co_await box.folder(name);
        if (!f.ok()) co_return f.status();
        co_return (*f)->state().highest_modseq;
      };
      auto hop = on_mailbox(std::move(ask));
      absl::StatusOr<uint64_t> top = co_await std::move(hop);
      if (top.ok()) untagged(absl::StrCat("OK [HIGHESTMODSEQ ", *top, "] Highest"));
    }
  }
  if (selected_) selected_->view.set_condstore(condstore_, qresync_);
  co_return true;
}

void imap_session::enable_condstore(const std::string& cap, std::string* enabled) {
  if (cap == "QRESYNC" && !qresync_) {
    qresync_ = true;
    *enabled += " QRESYNC";
    // QRESYNC implies CONDSTORE (RFC 7162); ENABLED names CONDSTORE only when asked for.
    condstore_ = true;
  } else if (cap == "CONDSTORE" && !condstore_) {
    condstore_ = true;
    *enabled += " CONDSTORE";
  }
  if (selected_) selected_->view.set_condstore(condstore_, qresync_);
}

void imap_session::report_qresync(const qresync_result& r) {
  if (!r.applies || !selected_) return;
  mailbox_view& view = selected_->view;
  view.set_condstore(condstore_, qresync_);
  if (!r.vanished.empty()) untagged("VANISHED (EARLIER) " + format_spans(r.vanished));
  for (const view_message& m : r.changed) {
    const uint32_t seq = view.seq_of(m.uid);
    if (seq == 0) continue;
    untagged(absl::StrCat(seq, " FETCH (UID ", m.uid, " FLAGS ", view.flag_list(m.flags, m.keywords), " MODSEQ (",
                          m.modseq, "))"));
  }
}

task<void> imap_session::report_fetch_vanished(const command& c) {
  sequence_set set = c.set;
  if (set.saved) {
    // "$": the saved UIDs, as ranges.
    set = {};
    for (uint32_t u : saved_uids_) set.ranges.push_back({u, u});
  }
  auto ask = [name = selected_->name, set = std::move(set), since = *c.changed_since](
                 mailstore::mailbox& box) -> task<absl::StatusOr<std::string>> {
    auto f = co_await box.folder(name);
    if (!f.ok()) co_return f.status();
    co_return format_spans(fetch_vanished((*f)->state(), set, since));
  };
  auto hop = on_mailbox(std::move(ask));
  absl::StatusOr<std::string> gone = co_await std::move(hop);
  if (gone.ok() && !gone->empty()) untagged("VANISHED (EARLIER) " + *gone);
}

task<std::string> imap_session::highestmodseq_code() {
  if (!qresync_ || !selected_) co_return std::string();
  auto ask = [name = selected_->name](mailstore::mailbox& box) -> task<absl::StatusOr<uint64_t>> {
    auto f = co_await box.folder(name);
    if (!f.ok()) co_return f.status();
    co_return (*f)->state().highest_modseq;
  };
  auto hop = on_mailbox(std::move(ask));
  absl::StatusOr<uint64_t> top = co_await std::move(hop);
  co_return top.ok() ? absl::StrCat("[HIGHESTMODSEQ ", *top, "] ") : std::string();
}

}  // namespace ringmail::imap
