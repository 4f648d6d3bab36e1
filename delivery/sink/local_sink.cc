#include "delivery/sink/local_sink.h"

#include "runtime/when_all.h"

namespace ringmail::delivery {
namespace {

// Kept out of coroutine bodies: g++ 12 miscompiles some braced lists inside coroutines.
std::vector<std::string_view> pieces_of(const std::string& headers, std::string_view trace, std::string_view message) {
  return std::vector<std::string_view>{headers, trace, message};
}

delivery_result unavailable(const absl::Status& st) {
  delivery_result r;
  r.st = delivery_result::temporary;
  r.enhanced = "4.2.0";
  r.reason = absl::IsUnavailable(st) ? "mailbox busy, try again later" : "mailbox unavailable";
  return r;
}

}  // namespace

std::string delivery_headers(std::string_view reverse_path, std::string_view recipient) {
  std::string h = "Return-Path: <";
  h.append(reverse_path);
  h += ">\r\nDelivered-To: ";
  h.append(recipient);
  h += "\r\n";
  return h;
}

task<delivery_result> local_sink::deliver_one(const sink_message& message, sink_recipient recipient) {
  const std::string headers = delivery_headers(message.reverse_path, recipient.address);
  const std::string folder = message.junk ? "Junk" : "INBOX";
  // The filter is the owner shard's, looked up there (the set's entries are per shard).
  const unsigned owner = mailstore::owner_of(recipient.address, static_cast<unsigned>(stores_.size()));
  const delivery_filter_set* filters = filters_;
  auto write = [&headers, &message, &folder, &recipient, filters, owner](mailstore::mailbox& box) -> task<delivery_result> {
    delivery_filter* filter = filters != nullptr && owner < filters->size() ? (*filters)[owner] : nullptr;
    if (filter != nullptr) co_return co_await filter->deliver(box, message, recipient, headers);
    co_return co_await box.deliver(folder, pieces_of(headers, message.trace, message.message));
  };
  auto copy = mailstore::with_mailbox(stores_, recipient.address, std::move(write), unavailable);  // named: g++ 12
  co_return co_await std::move(copy);
}

task<std::vector<delivery_result>> local_sink::deliver(const sink_message& message,
                                                       std::vector<sink_recipient> recipients) {
  std::vector<task<delivery_result>> copies;
  copies.reserve(recipients.size());
  for (auto& r : recipients) copies.push_back(deliver_one(message, std::move(r)));
  co_return co_await when_all(std::move(copies));
}

task<bool> local_sink::over_quota(std::string address, uint64_t quota_bytes, uint64_t quota_messages) {
  if (quota_bytes == 0 && quota_messages == 0) co_return false;
  auto count = [quota_bytes, quota_messages](mailstore::mailbox& box) -> task<bool> {
    auto used = co_await box.usage();
    if (!used.ok()) co_return false;
    co_return (quota_bytes > 0 && used->bytes >= quota_bytes) || (quota_messages > 0 && used->messages >= quota_messages);
  };
  auto not_counted = [](const absl::Status&) { return false; };
  auto check = mailstore::with_mailbox(stores_, std::move(address), std::move(count), not_counted);  // named: g++ 12
  co_return co_await std::move(check);
}

}  // namespace ringmail::delivery
