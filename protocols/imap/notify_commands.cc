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
// When: during IDLE at once (the IDLE loop waits on these watches too), otherwise after
// the next command's tagged response (the session is then between commands, where
// section 5 allows unsolicited responses).
// DEPARTURES, said plainly:
//   - the session does not yet write unsolicited responses while it waits for a command
//     outside IDLE: a client without IDLE sees the news with its next command (NOOP);
//   - events of the selected folder stay as before NOTIFY (EXISTS, EXPUNGE, FETCH FLAGS
//     through the normal path) whatever the "selected" group says, and MessageNew's
//     fetch-att are accepted but not sent (the client FETCHes after EXISTS);
//   - MailboxName, SubscriptionChange, MailboxMetadataChange, ServerMetadataChange and
//     AnnotationChange are refused with NO [BADEVENT (the supported events)], as section
//     5 asks of a server that does not support an event: the store publishes no
//     folder-level events yet;
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
constexpr char kSupportedEvents[] = "(MessageNew MessageExpunge FlagChange)";
constexpr uint16_t kSupported = notify_group::message_new | notify_group::message_expunge | notify_group::flag_change;

bool under(const std::string& name, const std::string& root) {
  return name == root || (name.size() > root.size() && name.compare(0, root.size(), root) == 0 &&
                          name[root.size()] == '/');
}

}  // namespace

void imap_session::drop_notify() {
  for (auto& w : notify_watches_) w.watch->closed.store(true);
  notify_watches_.clear();
  notify_status_ = false;
}

bool imap_session::notify_pending() const {
  for (const auto& w : notify_watches_) {
    if (w.watch->pending) return true;
  }
  return false;
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
      while (!done) {
        co_await watch->wake.wait();
        if (!done) to.notify_all();
      }
    };
    scope.spawn(relay(w.watch, wake, over));
  }
}

void imap_session::release_notify_relays() {
  for (const auto& w : notify_watches_) w.watch->wake.notify_all();
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
  auto resolve = [=](mailstore::mailbox& box) -> task<absl::StatusOr<plan>> {
    plan p;
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
    no(c, p.status().code() == absl::StatusCode::kResourceExhausted ? absl::StrCat("[LIMIT] ", p.status().message())
                                                                     : std::string("[SERVERBUG] NOTIFY failed"));
    co_return;
  }
  drop_notify();
  for (size_t i = 0; i < p->names.size(); ++i) notify_watches_.push_back({p->names[i], p->watches[i]});
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
