#include "delivery/mailstore/mail_store.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "delivery/directory/address.h"
#include "delivery/mailstore/maildir.h"
#include "runtime/log.h"

namespace ringmail::mailstore {

unsigned owner_of(std::string_view address, unsigned shard_count) {
  return owner_shard(absl::AsciiStrToLower(std::string(address)), shard_count);
}

mail_store::mail_store(std::string mail_root, store_options options, maildir_writer& writer, offload_pool& offload)
    : mail_root_(std::move(mail_root)), options_(std::move(options)), writer_(writer), offload_(offload) {}

mail_store::~mail_store() = default;

absl::StatusOr<mailbox*> mail_store::mailbox_for(std::string_view address) {
  const std::string key = absl::AsciiStrToLower(std::string(address));
  if (auto it = mailboxes_.find(key); it != mailboxes_.end()) return it->second.get();
  auto parsed = directory::parse_address(key, '\0');
  if (!parsed.ok()) return parsed.status();
  auto maildir = maildir_path(mail_root_, parsed->domain, parsed->local);
  if (!maildir.ok()) return maildir.status();
  auto box = std::make_unique<mailbox>(*maildir, options_, writer_, offload_);
  mailbox* out = box.get();
  mailboxes_.emplace(key, std::move(box));
  return out;
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
  co_return result;
}

}  // namespace ringmail::mailstore
