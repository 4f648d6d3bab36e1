// mail_store: the mailboxes a shard owns, and how any shard reaches a user's mailbox.
//
// OWNERSHIP (DESIGN.md "One owner per mailbox"). A user's mailboxes belong to shard
// owner_of(address) = owner_shard(lower-cased address). The mailbox object lives there,
// opened on first use, and every change runs there; another shard calls in with
// `co_await with_mailbox(stores, address, fn)`, which hops to the owner, runs fn there and
// hops back (runtime's on_shard). Sessions that want to FOLLOW a folder (IMAP IDLE) stay
// on their own shard and register a folder_watch with the owner (mailbox.h "EVENTS"):
// cross-shard messages rather than moving the session, so a login's TLS state and socket
// never migrate, and a user with many connections does not pile them onto one core.
//
// LOCKING AGAINST ringmail-admin: see mailbox.h ("ONE PROCESS AT A TIME").
//
// Threading: one mail_store per shard, used only on that shard; `store_set` is an
// immutable list of them built at start-up and shared by all shards.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "delivery/mailstore/mailbox.h"
#include "runtime/shard_set.h"

namespace ringmail::mailstore {

class mail_store {
 public:
  mail_store(std::string mail_root, store_options options, maildir_writer& writer, offload_pool& offload);
  ~mail_store();
  mail_store(const mail_store&) = delete;
  mail_store& operator=(const mail_store&) = delete;

  const std::string& mail_root() const { return mail_root_; }

  // On this (the owner) shard: the user's mailbox, opened on first use. `address` is a
  // normalised local@domain of a local user. Unavailable when another process (a running
  // server, ringmail-admin) holds the mailbox.
  absl::StatusOr<mailbox*> mailbox_for(std::string_view address);
  // Closes every mailbox after a checkpoint of each (clean shutdown).
  task<absl::Status> close_all();
  // Checkpoints and closes the mailboxes nobody has used for `idle` (and nobody follows),
  // which releases their locks: ringmail-admin can then work on them while the server
  // runs. Returns how many were closed.
  task<size_t> close_idle(std::chrono::milliseconds idle);
  // Runs close_idle(idle) every `period` until `stop` is cancelled.
  task<void> sweep_idle(std::chrono::milliseconds period, std::chrono::milliseconds idle, cancel_source& stop);
  size_t open_mailboxes() const { return mailboxes_.size(); }

 private:
  std::string mail_root_;
  store_options options_;
  maildir_writer& writer_;
  offload_pool& offload_;
  absl::flat_hash_map<std::string, std::unique_ptr<mailbox>> mailboxes_;
  // Index commits and Dovecot file writes still running for this shard's mailboxes (also
  // of mailboxes already closed): close_all waits for them.
  std::shared_ptr<background_work> background_ = std::make_shared<background_work>();
};

// The owner shard of a user's mailboxes.
unsigned owner_of(std::string_view address, unsigned shard_count);

// Every shard's mail_store, index = shard id. Built once at start-up, then read-only.
using store_set = std::vector<mail_store*>;

// Runs fn(mailbox&) -> task<R> on the owner shard of `address` and returns its result to
// the calling shard. A mailbox that cannot be opened gives `on_error(status)`.
template <typename F, typename E>
auto with_mailbox(const store_set& stores, std::string address, F fn, E on_error)
    -> task<typename detail::unwrap_task<std::invoke_result_t<F&, mailbox&>>::type> {
  using R = typename detail::unwrap_task<std::invoke_result_t<F&, mailbox&>>::type;
  const unsigned owner = owner_of(address, static_cast<unsigned>(stores.size()));
  mail_store* store = stores[owner];
  auto run = [store, address = std::move(address), fn = std::move(fn), on_error = std::move(on_error)]() -> task<R> {
    auto box = store->mailbox_for(address);
    if (!box.ok()) co_return on_error(box.status());
    struct in_use {  // keeps close_idle away while fn runs
      mailbox* box;
      explicit in_use(mailbox* b) : box(b) { box->begin_use(); }
      ~in_use() { box->end_use(); }
    } guard(*box);
    co_return co_await fn(**box);
  };
  // Named, not a temporary inside the co_await: g++ 12 destroys such temporaries twice
  // when their captures own memory.
  auto hop = on_shard(owner, std::move(run));
  co_return co_await std::move(hop);
}

}  // namespace ringmail::mailstore
