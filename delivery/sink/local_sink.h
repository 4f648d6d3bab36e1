// local_sink: delivery into the mail store. Each copy runs on its recipient's owner shard
// (mail_store.h), where the mailbox writes the file (tmp -> fsync -> new/, directory fsync
// shared by concurrent deliveries), appends it to the folder's index (log fsync, also
// shared), and wakes the sessions that follow the folder. Copies for different
// recipients run concurrently; the sink returns when all are done.
//
// Each copy gets Return-Path and Delivered-To (as Dovecot's LDA/LMTP adds them) before
// the session's trace lines. Folder choice: with a delivery_filter set (Sieve,
// delivery/sieve/sieve_delivery.h, built by `ringmail serve` unless --sieve=false), the
// owner shard's filter decides and stores; without one, INBOX, or Junk when the spam
// verdict says so (what the unit tests of the sessions build).
//
// Quota (RFC 3463 X.2.2, checked at RCPT time): over_quota() asks the owner for the
// user's running totals, kept by the mail store's indexes — no directory listing per RCPT.
#pragma once

#include <cstdint>

#include "delivery/mailstore/mail_store.h"
#include "delivery/sink/message_sink.h"

namespace ringmail::delivery {

// What runs on the recipient's owner shard, inside with_mailbox, instead of the plain
// INBOX/Junk copy: it decides what to store (and what else to do) and stores it into
// `box`. `headers` are delivery_headers() of this copy. The result is the recipient's.
class delivery_filter {
 public:
  virtual ~delivery_filter() = default;
  virtual task<delivery_result> deliver(mailstore::mailbox& box, const sink_message& message,
                                        const sink_recipient& recipient, const std::string& headers) = 0;
};
// Every shard's filter, index = shard id (nullptr: none on that shard). Each entry is
// read on its own shard only (the owner's, inside with_mailbox), so the set may be
// filled shard by shard at start-up.
using delivery_filter_set = std::vector<delivery_filter*>;

class local_sink : public message_sink {
 public:
  explicit local_sink(const mailstore::store_set& stores, const delivery_filter_set* filters = nullptr)
      : stores_(stores), filters_(filters) {}

  task<std::vector<delivery_result>> deliver(const sink_message& message,
                                             std::vector<sink_recipient> recipients) override;

  // True when the mailbox holds at least `quota_bytes` bytes or `quota_messages`
  // messages (0: no limit). A mailbox that cannot be counted is not over quota: a fault
  // here must not bounce mail.
  task<bool> over_quota(std::string address, uint64_t quota_bytes, uint64_t quota_messages = 0);

 private:
  task<delivery_result> deliver_one(const sink_message& message, sink_recipient recipient);
  const mailstore::store_set& stores_;
  const delivery_filter_set* filters_;
};

// "Return-Path: <sender>\r\nDelivered-To: rcpt\r\n" (RFC 5321 4.4; Postfix and Dovecot's
// Delivered-To, which loop detection relies on).
std::string delivery_headers(std::string_view reverse_path, std::string_view recipient);

}  // namespace ringmail::delivery
