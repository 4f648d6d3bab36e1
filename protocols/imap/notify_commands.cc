// NOTIFY (RFC 5465): which folders the session follows besides the selected one, and the
// STATUS responses it sends when they change.
//
// How news arrives: for each followed folder the session registers a folder_watch with
// the owner shard, exactly as SELECT does for the selected folder (mailbox.h "EVENTS"):
// the owner wakes it after each durable change, from any session or from SMTP delivery.
// The session then answers with "* STATUS name (MESSAGES n UIDNEXT n UNSEEN n)" for that
// folder (section 5.2: MessageNew and MessageExpunge of a non-selected mailbox are told
// with STATUS; 5.4: FlagChange likewise), read from the owner at the time of sending, so
// several changes make one response.
//
// When: at once whenever no command is in progress — during IDLE (the IDLE loop waits on
// these watches too) and while the session waits for the next command with nothing of
// it received (read_more_notifying) — and otherwise after the command's tagged response.
// DEPARTURES, said plainly:
//   - events of the selected folder stay as before NOTIFY (EXISTS, EXPUNGE, FETCH FLAGS
//     through the normal path) whatever the "selected" group says, and MessageNew's
//     fetch-att are accepted but not sent (the client FETCHes after EXISTS);
//   - AnnotationChange (per-message annotations, which we do not have) is refused with
//     NO [BADEVENT (the supported events)], as section 5 asks;
//   - folder-level events come from the store's user_watch (mailbox.h user_event):
//     MailboxName as LIST (created), LIST (\NonExistent) (deleted), LIST with OLDNAME
//     (renamed); SubscriptionChange as LIST (\Subscribed) / LIST (); the metadata events
//     as unsolicited "METADATA mbox entry ..." (RFC 5464 4.4.2). "subscribed" covers every
//     folder for these, and a folder created after NOTIFY SET is not followed for message
//     events until the next NOTIFY SET;
//   - "inboxes" is INBOX alone (Sieve may file elsewhere, but we cannot know where);
//   - at most kMaxNotifyFolders folders are followed: a NOTIFY naming more gets
//     NO [LIMIT]; [NOTIFICATIONOVERFLOW] is sent, and NOTIFY turned off, when more than
//     kMaxNotifyStatus STATUS responses are due at once.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "protocols/imap/message_render.h"
#include "protocols/imap/session_impl.h"
#include "runtime/reactor.h"

namespace ringmail::imap {

namespace {

constexpr size_t kMaxNotifyFolders = 1000;
constexpr size_t kMaxNotifyStatus = 1000;
constexpr char kSupportedEvents[] =
    "(MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange MailboxMetadataChange "
    "ServerMetadataChange)";
constexpr uint16_t kSupported = notify_group::message_new | notify_group::message_expunge |
                                notify_group::flag_change | notify_group::mailbox_name |
                                notify_group::subscription_change | notify_group::mailbox_metadata_change |
                                notify_group::server_metadata_change;
constexpr uint16_t kUserEvents = notify_group::mailbox_name | notify_group::subscription_change |
                                 notify_group::mailbox_metadata_change | notify_group::server_metadata_change;

bool under(const std::string& name, const std::string& root) {
  return name == root || (name.size() > root.size() && name.compare(0, root.size(), root) == 0 &&
                          name[root.size()] == '/');
}

}  // namespace

void imap_session::drop_notify() {
  // Closed, and woken: a relay (IDLE, read_more_notifying) waiting on one ends.
  for (auto& w : notify_watches_) {
    w.watch->closed.store(true);
    w.watch->wake.notify_all();
  }
  notify_watches_.clear();
  notify_status_ = false;
  if (user_watch_) {
    user_watch_->closed.store(true);
    user_watch_->wake.notify_all();
  }
  user_watch_.reset();
  notify_groups_.clear();
}

bool imap_session::notify_pending() const {
  for (const auto& w : notify_watches_) {
    if (w.watch->pending) return true;
  }
  return user_watch_ && (!user_watch_->events.empty() || user_watch_->overflowed);
}

// Whether a group covers folder `name` (store form). "subscribed" is taken as every
// folder for folder-level events (DIFFERENCES.md).
static bool covers(const notify_group& g, const std::string& name, const std::string& selected) {
  switch (g.f) {
    case notify_group::filter::selected:
    case notify_group::filter::selected_delayed:
      return !selected.empty() && name == selected;
    case notify_group::filter::inboxes:
      return name == "INBOX";
    case notify_group::filter::personal:
    case notify_group::filter::subscribed:
      return true;
    case notify_group::filter::subtree:
      return std::any_of(g.mailboxes.begin(), g.mailboxes.end(), [&](const std::string& r) { return under(name, r); });
    case notify_group::filter::mailboxes:
      return std::find(g.mailboxes.begin(), g.mailboxes.end(), name) != g.mailboxes.end();
  }
  return false;
}

// The responses of section 5.4-5.7 for one folder-level event: LIST for MailboxName and
// SubscriptionChange, METADATA with the entry names for the metadata events.
void imap_session::report_user_event(const mailstore::user_event& e) {
  using ue = mailstore::user_event;
  const std::string selected = selected_ ? selected_->name : std::string();
  auto wanted = [&](uint16_t bit, const std::string& name) {
    for (const notify_group& g : notify_groups_) {
      if ((g.events & bit) != 0 && (bit == notify_group::server_metadata_change || covers(g, name, selected))) {
        return true;
      }
    }
    return false;
  };
  auto list = [&](std::string_view attrs, const std::string& name, const std::string* old_name) {
    std::string line = "LIST (" + std::string(attrs) + ") \"/\" ";
    append_string(line, wire_name(name));
    if (old_name != nullptr) {
      line += " (\"OLDNAME\" (";
      append_string(line, wire_name(*old_name));
      line += "))";
    }
    untagged(line);
  };
  switch (e.k) {
    case ue::created:
      if (wanted(notify_group::mailbox_name, e.name)) list("", e.name, nullptr);
      break;
    case ue::deleted:
      if (wanted(notify_group::mailbox_name, e.name)) list("\\NonExistent", e.name, nullptr);
      break;
    case ue::renamed:
      if (wanted(notify_group::mailbox_name, e.name) || wanted(notify_group::mailbox_name, e.new_name)) {
        list("", e.new_name, &e.name);
      }
      break;
    case ue::subscribed:
    case ue::unsubscribed:
      if (wanted(notify_group::subscription_change, e.name)) {
        list(e.k == ue::subscribed ? "\\Subscribed" : "", e.name, nullptr);
      }
      break;
    case ue::metadata_changed: {
      const bool server = e.name.empty();
      if (!wanted(server ? notify_group::server_metadata_change : notify_group::mailbox_metadata_change, e.name)) break;
      // RFC 5464 4.4.2, unsolicited: "METADATA" SP mailbox SP entry-list, the list
      // without parentheses ("* METADATA "INBOX" /shared/comment").
      std::string line = "METADATA ";
      append_string(line, server ? std::string() : wire_name(e.name));
      for (const std::string& entry : e.entries) absl::StrAppend(&line, " ", entry);
      untagged(line);
      break;
    }
  }
}

task<void> imap_session::report_notify() {
  std::vector<std::string> due;
  for (auto& w : notify_watches_) {
    if (!w.watch->pending) continue;
    w.watch->pending = false;
    // The selected folder's news goes out as EXISTS/EXPUNGE/FETCH instead.
    if (selected_ && selected_->name == w.name) continue;
    due.push_back(w.name);
  }
  if (user_watch_) {
    if (user_watch_->overflowed) {
      untagged("OK [NOTIFICATIONOVERFLOW] Too many notifications, NOTIFY is off");
      drop_notify();
      co_return;
    }
    std::vector<mailstore::user_event> events = std::move(user_watch_->events);
    user_watch_->events.clear();
    for (const auto& e : events) report_user_event(e);
  }
  if (due.size() > kMaxNotifyStatus) {
    untagged("OK [NOTIFICATIONOVERFLOW] Too many notifications, NOTIFY is off");
    drop_notify();
    co_return;
  }
  static const std::vector<std::string> items = {"MESSAGES", "UIDNEXT", "UNSEEN"};
  for (const std::string& name : due) {
    absl::StatusOr<std::string> line = co_await status_line(name, items);
    if (line.ok()) untagged(*line);  // a folder deleted meanwhile: nothing to say
  }
}

void imap_session::relay_notify(task_scope& scope, notifier& wake, const bool& over) {
  for (const auto& w : notify_watches_) {
    auto relay = [](std::shared_ptr<mailstore::folder_watch> watch, notifier& to, const bool& done) -> task<void> {
      while (!done && !watch->closed.load()) {
        co_await watch->wake.wait();
        if (!done) to.notify_all();
      }
    };
    scope.spawn(relay(w.watch, wake, over));
  }
  if (user_watch_) {
    auto relay = [](std::shared_ptr<mailstore::user_watch> watch, notifier& to, const bool& done) -> task<void> {
      while (!done && !watch->closed.load()) {
        co_await watch->wake.wait();
        if (!done) to.notify_all();
      }
    };
    scope.spawn(relay(user_watch_, wake, over));
  }
}

void imap_session::release_notify_relays() {
  for (const auto& w : notify_watches_) w.watch->wake.notify_all();
  if (user_watch_) user_watch_->wake.notify_all();
}

task<io_status> imap_session::read_more_notifying() {
  // As IDLE does (session.cc on_idle): a child reads, relays wake us on news, and the
  // news goes out as soon as it comes; only at a command boundary (the caller checks that
  // nothing of a next command is buffered), so no response lands inside a command.
  notifier wake;
  bool over = false;
  bool input_done = false;
  io_status input_status;
  task_scope scope;
  auto read_input = [this, &wake, &input_done, &input_status]() -> task<void> {
    input_status = co_await io_.read_more();
    input_done = true;
    wake.notify_all();
  };
  scope.spawn(read_input());
  relay_notify(scope, wake, over);
  while (!input_done) {
    if (notify_pending()) {
      co_await report_notify();
      if (!co_await flush()) {
        s_.cancel.request_cancel();  // the read ends too
        break;
      }
      continue;
    }
    co_await wake.wait();
  }
  over = true;
  release_notify_relays();
  co_await scope.join();
  co_return input_status;
}

task<void> imap_session::on_notify(const command& c) {
  if (c.notify.none) {
    drop_notify();
    ok(c, "NOTIFY completed");
    co_return;
  }
  // Section 5: an event we do not support -> NO [BADEVENT (what we do)], nothing changes.
  for (const notify_group& g : c.notify.groups) {
    if (!g.unknown_events.empty() || (g.events & ~kSupported) != 0) {
      no(c, absl::StrCat("[BADEVENT ", kSupportedEvents, "] Unsupported NOTIFY event"));
      co_return;
    }
  }
  // The folders each group names (selected / selected-delayed follow the selection,
  // which SELECT's own watch already covers).
  std::vector<notify_group> groups = c.notify.groups;  // mailbox names in store form
  uint16_t user_events = 0;
  for (notify_group& g : groups) {
    if (!g.none) user_events |= g.events & kUserEvents;
    for (std::string& wire : g.mailboxes) {
      std::optional<std::string> n = store_name(c, wire);
      if (!n) co_return;
      wire = *std::move(n);
    }
  }
  std::vector<std::string> explicit_names;
  bool want_all = false, want_subscribed = false, want_inbox = false;
  std::vector<std::string> subtrees;
  for (const notify_group& g : c.notify.groups) {
    if (g.none || g.events == 0) continue;
    switch (g.f) {
      case notify_group::filter::selected:
      case notify_group::filter::selected_delayed:
        break;
      case notify_group::filter::inboxes:
        want_inbox = true;
        break;
      case notify_group::filter::personal:
        want_all = true;
        break;
      case notify_group::filter::subscribed:
        want_subscribed = true;
        break;
      case notify_group::filter::subtree:
      case notify_group::filter::mailboxes:
        for (const std::string& wire : g.mailboxes) {
          std::optional<std::string> n = store_name(c, wire);
          if (!n) co_return;
          (g.f == notify_group::filter::subtree ? subtrees : explicit_names).push_back(*std::move(n));
        }
        break;
    }
  }
  auto watch_shard = reactor::current()->shard_id();
  struct plan {
    std::vector<std::string> names;
    std::vector<std::shared_ptr<mailstore::folder_watch>> watches;
  };
  std::shared_ptr<mailstore::user_watch> uw;
  if (user_events != 0) {
    uw = std::make_shared<mailstore::user_watch>();
    uw->shard = watch_shard;
  }
  auto resolve = [=](mailstore::mailbox& box) -> task<absl::StatusOr<plan>> {
    plan p;
    if (uw) box.watch_user(uw);
    std::vector<std::string> names = explicit_names;
    if (want_inbox) names.push_back("INBOX");
    if (want_all || !subtrees.empty()) {
      auto all = co_await box.list_folders();
      if (!all.ok()) co_return all.status();
      for (const auto& n : *all) {
        bool take = want_all;
        for (const auto& root : subtrees) take = take || under(n, root);
        if (take) names.push_back(n);
      }
    }
    if (want_subscribed) {
      auto subs = co_await box.subscriptions();
      if (!subs.ok()) co_return subs.status();
      names.insert(names.end(), subs->begin(), subs->end());
    }
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    if (names.size() > kMaxNotifyFolders) {
      co_return absl::ResourceExhaustedError(absl::StrCat("NOTIFY follows at most ", kMaxNotifyFolders, " mailboxes"));
    }
    for (const auto& n : names) {
      auto f = co_await box.folder(n);
      if (!f.ok()) continue;  // named but absent (RFC 5465 5: not an error)
      auto w = std::make_shared<mailstore::folder_watch>();
      w->shard = watch_shard;
      (*f)->watch(w);
      p.names.push_back(n);
      p.watches.push_back(std::move(w));
    }
    co_return p;
  };
  auto hop = on_mailbox(std::move(resolve));
  absl::StatusOr<plan> p = co_await std::move(hop);
  if (!p.ok()) {
    if (uw) uw->closed.store(true);
    no(c, p.status().code() == absl::StatusCode::kResourceExhausted ? absl::StrCat("[LIMIT] ", p.status().message())
                                                                     : std::string("[SERVERBUG] NOTIFY failed"));
    co_return;
  }
  drop_notify();
  for (size_t i = 0; i < p->names.size(); ++i) notify_watches_.push_back({p->names[i], p->watches[i]});
  user_watch_ = std::move(uw);
  notify_groups_ = std::move(groups);
  notify_status_ = c.notify.status;
  // SET STATUS (section 3): the current STATUS of every followed folder but the selected.
  if (notify_status_) {
    static const std::vector<std::string> items = {"MESSAGES", "UIDNEXT", "UNSEEN"};
    for (const auto& w : notify_watches_) {
      if (selected_ && selected_->name == w.name) continue;
      absl::StatusOr<std::string> line = co_await status_line(w.name, items);
      if (line.ok()) untagged(*line);
    }
  }
  ok(c, "NOTIFY completed");
}

}  // namespace ringmail::imap
