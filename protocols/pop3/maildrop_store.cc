#include "protocols/pop3/maildrop_store.h"

#include "delivery/mailstore/maildir_filename.h"

namespace ringmail::pop3 {
namespace {

constexpr const char* kInbox = "INBOX";

shard_context& owner_context(shard_context& shard, const std::string& user, unsigned* owner) {
  *owner = mailstore::owner_of(user, static_cast<unsigned>(shard.all->size()));
  return *(*shard.all)[*owner];
}

}  // namespace

task<absl::StatusOr<maildrop>> load_maildrop(const mailstore::store_set& stores, std::string user) {
  auto read = [](mailstore::mailbox& box) -> task<absl::StatusOr<maildrop>> {
    auto folder = co_await box.folder(kInbox);
    if (!folder.ok()) co_return folder.status();
    const mailstore::open_folder& f = **folder;
    std::vector<maildrop_message> messages;
    messages.reserve(f.state().messages.size());
    for (const auto& m : f.state().messages) {
      maildrop_message& d = messages.emplace_back();
      d.uid = m.uid;
      d.size = m.vsize;
      d.file_size = m.size;
      d.path = f.path_of(m);
    }
    co_return maildrop(f.state().uid_validity, std::move(messages));
  };
  auto hop = mailstore::with_mailbox(stores, std::move(user), std::move(read),
                                     [](absl::Status st) -> absl::StatusOr<maildrop> { return st; });
  co_return co_await std::move(hop);
}

task<std::string> current_path(const mailstore::store_set& stores, std::string user, uint32_t uid) {
  auto find = [uid](mailstore::mailbox& box) -> task<std::string> {
    auto folder = co_await box.folder(kInbox);
    if (!folder.ok()) co_return std::string();
    const mailstore::message_entry* m = (*folder)->state().find(uid);
    co_return m ? (*folder)->path_of(*m) : std::string();
  };
  auto hop = mailstore::with_mailbox(stores, std::move(user), std::move(find), [](absl::Status) { return std::string(); });
  co_return co_await std::move(hop);
}

task<absl::Status> apply_update(const mailstore::store_set& stores, std::string user, std::vector<uint32_t> deleted,
                                std::vector<uint32_t> seen) {
  auto update = [deleted = std::move(deleted), seen = std::move(seen)](mailstore::mailbox& box) -> task<absl::Status> {
    // expunge() with no UIDs means "every \Deleted message": only call it with some.
    if (!deleted.empty()) {
      auto removed = co_await box.expunge(kInbox, deleted);
      if (!removed.ok()) co_return removed.status();
    }
    if (!seen.empty()) {
      auto stored = co_await box.store(kInbox, seen, mailstore::flag_op::add, mailstore::flag_seen, {});
      if (!stored.ok()) co_return stored.status();
    }
    co_return absl::OkStatus();
  };
  auto hop = mailstore::with_mailbox(stores, std::move(user), std::move(update), [](absl::Status st) { return st; });
  co_return co_await std::move(hop);
}

task<bool> lock_maildrop(shard_context& shard, std::string user) {
  unsigned owner = 0;
  shard_context* there = &owner_context(shard, user, &owner);
  auto take = [there, user = std::move(user)] { return there->locked.insert(user).second; };
  auto hop = on_shard(owner, std::move(take));
  co_return co_await std::move(hop);
}

task<void> unlock_maildrop(shard_context& shard, std::string user) {
  unsigned owner = 0;
  shard_context* there = &owner_context(shard, user, &owner);
  auto release = [there, user = std::move(user)] { there->locked.erase(user); };
  auto hop = on_shard(owner, std::move(release));
  co_await std::move(hop);
}

}  // namespace ringmail::pop3
