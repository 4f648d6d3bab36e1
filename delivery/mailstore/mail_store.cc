#include "delivery/mailstore/mail_store.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "delivery/directory/address.h"
#include "delivery/mailstore/maildir.h"
#include "runtime/log.h"
#include "runtime/reactor.h"

namespace ringmail::mailstore {

unsigned owner_of(std::string_view address, unsigned shard_count) {
  return owner_shard(absl::AsciiStrToLower(std::string(address)), shard_count);
}

mail_store::mail_store(std::string mail_root, store_options options, maildir_writer& writer, offload_pool& offload)
    : mail_root_(std::move(mail_root)), options_(std::move(options)), writer_(writer), offload_(offload) {}

mail_store::~mail_store() {
  // Dropped without close_all (a test standing in for a crash): background work that is
  // still waiting gives up at once instead of outliving its shard.
  background_->stop.request_cancel();
}

absl::StatusOr<mailbox*> mail_store::mailbox_for(std::string_view address) {
  const std::string key = absl::AsciiStrToLower(std::string(address));
  if (auto it = mailboxes_.find(key); it != mailboxes_.end()) return it->second.get();
  auto parsed = directory::parse_address(key, '\0');
  if (!parsed.ok()) return parsed.status();
  auto maildir = maildir_path(mail_root_, parsed->domain, parsed->local);
  if (!maildir.ok()) return maildir.status();
  auto box = std::make_unique<mailbox>(*maildir, options_, writer_, offload_, background_);
  mailbox* out = box.get();
  mailboxes_.emplace(key, std::move(box));
  return out;
}

task<size_t> mail_store::close_idle(std::chrono::milliseconds idle) {
  const auto before = std::chrono::steady_clock::now() - idle;
  std::vector<std::string> candidates;
  for (const auto& [address, box] : mailboxes_) {
    if (box->idle_since(before)) candidates.push_back(address);
  }
  size_t closed = 0;
  for (const auto& address : candidates) {
    auto it = mailboxes_.find(address);
    if (it == mailboxes_.end()) continue;
    mailbox* box = it->second.get();
    const auto stamp = box->last_used();
    absl::Status st = co_await box->checkpoint_all();
    // Used again while we wrote the checkpoint: keep it open. (Only close_all, which the
    // owner runs after stopping the sweep, erases mailboxes besides us.)
    if (!st.ok() || box->last_used() != stamp || !box->idle_since(before)) continue;
    it = mailboxes_.find(address);
    mailboxes_.erase(it);
    ++closed;
  }
  co_return closed;
}

task<void> mail_store::sweep_idle(std::chrono::milliseconds period, std::chrono::milliseconds idle,
                                  cancel_source& stop) {
  while (co_await sleep_for(period, &stop)) {
    size_t closed = co_await close_idle(idle);
    if (closed > 0) log::debug("mailstore_idle_closed", {{"mailboxes", closed}});
  }
}

task<absl::Status> mail_store::close_all() {
  absl::Status result;
  for (auto& [address, box] : mailboxes_) {
    absl::Status st = co_await box->checkpoint_all();
    if (!st.ok()) {
      log::warn("mailstore_checkpoint_failed", {{"user", address}, {"reason", st.message()}});
      result = st;
    }
  }
  mailboxes_.clear();
  // The background commits and appends of closed folders too: nothing may still run when
  // the shard stops.
  while (background_->active > 0) co_await background_->done.wait();
  co_return result;
}

}  // namespace ringmail::mailstore
