// local_sink: delivery into the mail store. Each copy runs on its recipient's owner shard
// (mail_store.h), where the mailbox writes the file (tmp -> fsync -> new/, directory fsync
// shared by concurrent deliveries), appends it to the folder's index (log fsync, also
// shared), and wakes the sessions that follow the folder. Copies for different
// recipients run concurrently; the sink returns when all are done.
//
// Each copy gets Return-Path and Delivered-To (as Dovecot's LDA/LMTP adds them) before
// the session's trace lines. Folder choice: INBOX, or Junk when the spam verdict says so
// (Sieve, a later issue, takes this decision over).
//
// Quota (RFC 3463 X.2.2, checked at RCPT time): over_quota() asks the owner for the
// user's running totals, kept by the mail store's indexes — no directory listing per RCPT.
#pragma once

#include <cstdint>

#include "delivery/mailstore/mail_store.h"
#include "delivery/sink/message_sink.h"

namespace ringmail::delivery {

class local_sink : public message_sink {
 public:
  explicit local_sink(const mailstore::store_set& stores) : stores_(stores) {}

  task<std::vector<delivery_result>> deliver(const sink_message& message,
                                             std::vector<sink_recipient> recipients) override;

  // True when the mailbox holds at least `quota_bytes` bytes or `quota_messages`
  // messages (0: no limit). A mailbox that cannot be counted is not over quota: a fault
  // here must not bounce mail.
  task<bool> over_quota(std::string address, uint64_t quota_bytes, uint64_t quota_messages = 0);

 private:
  task<delivery_result> deliver_one(const sink_message& message, sink_recipient recipient);
  const mailstore::store_set& stores_;
};

// "Return-Path: <sender>\r\nDelivered-To: rcpt\r\n" (RFC 5321 4.4; Postfix and Dovecot's
// Delivered-To, which loop detection relies on).
std::string delivery_headers(std::string_view reverse_path, std::string_view recipient);

}  // namespace ringmail::delivery
