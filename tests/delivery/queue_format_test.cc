// The outbound queue's pure parts (issue 13): the .msg and .state codec
// (delivery/queue/queue_format.h) — round trips, one encoding per record, and hostile
// input refused as a whole (every torn prefix, every flipped byte, bad CRCs, huge counts
// and lengths) — and the retry policy (delivery/queue/retry_policy.h).
#include <zlib.h>

#include <string>

#include "delivery/queue/queue_format.h"
#include "delivery/queue/retry_policy.h"
#include "gtest/gtest.h"

namespace ringmail::queue {
namespace {

queue_record sample() {
  queue_record r;
  r.id = "65f1a2b3-0-1";
  r.arrival = 1733550000;
  r.reverse_path = "alice@example.org";
  recipient_state a;
  a.address = "bob@example.net";
  recipient_state b;
  b.address = "carol@example.com";
  b.detail = "lists";
  b.status = rcpt_status::deferred;
  b.attempts = 3;
  b.next_attempt = 1733551200;
  b.text = "451 4.7.1 greylisted\r\nline two \xff\n";
  recipient_state c;
  c.address = "dave@example.com";
  c.status = rcpt_status::delivered;
  c.attempts = 1;
  recipient_state d;
  d.address = "eve@example.com";
  d.status = rcpt_status::bounced;
  d.attempts = 2;
  d.text = "550 5.1.1 no such user";
  r.recipients = {a, b, c, d};
  return r;
}

// A valid trailer for `covered`, so tests can reach the decoder past the checksum.
std::string with_crc(const std::string& covered) {
  uLong crc = crc32(0L, reinterpret_cast<const Bytef*>(covered.data()), covered.size());
  char hex[16];
  snprintf(hex, sizeof hex, "%08lx", crc);
  return covered + "end " + hex + "\n";
}

TEST(QueueFormat, StateRoundTripIsExact) {
  const queue_record r = sample();
  const std::string file = encode_state(r);
  auto back = decode_state(file);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, r);
  EXPECT_EQ(encode_state(*back), file);
  EXPECT_TRUE(back->recipients[2].status == rcpt_status::delivered);
  EXPECT_FALSE(back->all_final());
  // The null reverse path of a bounce survives.
  queue_record bounce = r;
  bounce.reverse_path = "";
  auto b = decode_state(encode_state(bounce));
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->reverse_path, "");
}

TEST(QueueFormat, MessageFileRoundTripAndPieces) {
  queue_record r = sample();
  for (auto& s : r.recipients) {
    recipient_state fresh;
    fresh.address = s.address;
    fresh.detail = s.detail;
    s = fresh;
  }
  const std::string message = std::string("Subject: x\r\n\r\nbody with \0 and end 1 x\n", 38) + "\r\n.\r\n";
  const std::string file = encode_message_file(r, message);
  auto back = decode_message_file(file);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->record, r);
  EXPECT_EQ(back->message, message);
  // Written as head + pieces + tail it is the same file.
  const std::string_view pieces[] = {"Received: by us\r\n", message};
  const std::string whole = std::string(pieces[0]) + message;
  const std::string head = message_file_head(r, whole.size());
  EXPECT_EQ(head + whole + message_file_tail(head, pieces), encode_message_file(r, whole));
  // An empty message is a message.
  auto empty = decode_message_file(encode_message_file(r, ""));
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(empty->message, "");
  // One file is not the other.
  EXPECT_FALSE(decode_state(file).ok());
  EXPECT_FALSE(decode_message_file(encode_state(r)).ok());
}

TEST(QueueFormat, TornAndCorruptFilesAreRefused) {
  for (const std::string& file : {encode_state(sample()), encode_message_file(sample(), "Subject: y\r\n\r\nhi\r\n")}) {
    const bool is_state = file.starts_with("ringmail-queue-state");
    auto parses = [&](std::string_view b) {
      return is_state ? decode_state(b).ok() : decode_message_file(b).ok();
    };
    ASSERT_TRUE(parses(file));
    for (size_t n = 0; n < file.size(); ++n) EXPECT_FALSE(parses(file.substr(0, n))) << "prefix " << n;
    for (size_t i = 0; i < file.size(); ++i) {
      std::string bad = file;
      bad[i] ^= 0x01;
      EXPECT_FALSE(parses(bad)) << "byte " << i << " flipped";
    }
    EXPECT_FALSE(parses(file + "x"));
    EXPECT_FALSE(parses(file + file));
  }
}

// Behind a valid CRC: the decoder itself must refuse what the format does not allow.
TEST(QueueFormat, HostileFieldsBehindAValidChecksum) {
  const std::string head = "ringmail-queue-state 1\nid q1\narrival 5\nfrom 0\n\n";
  EXPECT_TRUE(decode_state(with_crc(head + "rcpts 1\npending 0 0 1 0 0\na\n")).ok());
  const char* bad[] = {
      "rcpts 4294967295\npending 0 0 1 0 0\na\n",          // huge count, refused up front
      "rcpts 18446744073709551616\npending 0 0 1 0 0\na\n",  // overflows uint64
      "rcpts 0\n",                                          // no recipient
      "rcpts 2\npending 0 0 1 0 0\na\n",                    // fewer than counted
      "rcpts 01\npending 0 0 1 0 0\na\n",                   // leading zero
      "rcpts 1\npending 0 0 99999999 0 0\na\n",             // address longer than the file
      "rcpts 1\npending 0 0 1025 0 0\na\n",                 // address over the limit
      "rcpts 1\npending 0 0 0 0 0\n\n",                     // empty address
      "rcpts 1\nwaiting 0 0 1 0 0\na\n",                    // unknown status
      "rcpts 1\npending 0 7 1 0 0\na\n",                    // next attempt while pending
      "rcpts 1\npending 0 0 1 0 1\nax\n",                   // text while pending
      "rcpts 1\ndelivered 4294967296 0 1 0 0\na\n",         // attempts over 32 bits
      "rcpts 1\npending 0 0 1 0 0\na\nextra",               // trailing bytes
      "rcpts 1\npending  0 0 1 0 0\na\n",                   // double space
      "rcpts 1\npending -1 0 1 0 0\na\n",                   // sign
  };
  for (const char* tail : bad) EXPECT_FALSE(decode_state(with_crc(head + tail)).ok()) << tail;
  EXPECT_FALSE(decode_state(with_crc("ringmail-queue-state 2\nid q1\narrival 5\nfrom 0\n\nrcpts 1\npending 0 0 1 0 0\na\n")).ok());
  EXPECT_FALSE(decode_state(with_crc("ringmail-queue-state 1\nid ../x\narrival 5\nfrom 0\n\nrcpts 1\npending 0 0 1 0 0\na\n")).ok());
  EXPECT_FALSE(decode_state(with_crc("ringmail-queue-state 1\nid q1\narrival 5\nfrom 2\n\n\nrcpts 1\npending 0 0 1 0 0\na\n")).ok());
  // A body length past the end of the file.
  const std::string msg = "ringmail-queue-msg 1\nid q1\narrival 5\nfrom 0\n\nrcpts 1\npending 0 0 1 0 0\na\n";
  EXPECT_TRUE(decode_message_file(with_crc(msg + "body 2\nhi\n")).ok());
  EXPECT_FALSE(decode_message_file(with_crc(msg + "body 18446744073709551615\nhi\n")).ok());
  EXPECT_FALSE(decode_message_file(with_crc(msg + "body 3\nhi\n")).ok());
}

TEST(QueueFormat, QueueIdsAreSafeFileNames) {
  EXPECT_TRUE(valid_queue_id("65f1a2b3-0-1"));
  EXPECT_TRUE(valid_queue_id("A.b-9"));
  EXPECT_FALSE(valid_queue_id(""));
  EXPECT_FALSE(valid_queue_id("."));
  EXPECT_FALSE(valid_queue_id(".."));
  EXPECT_FALSE(valid_queue_id("a/b"));
  EXPECT_FALSE(valid_queue_id("a b"));
  EXPECT_FALSE(valid_queue_id(std::string(kMaxQueueIdBytes + 1, 'a')));
  EXPECT_TRUE(valid_queue_id(std::string(kMaxQueueIdBytes, 'a')));
}

TEST(QueueFormat, ValidateRefusesWhatCannotBeStored) {
  queue_record r = sample();
  EXPECT_TRUE(validate_record(r).ok());
  r.recipients.clear();
  EXPECT_FALSE(validate_record(r).ok());
  r = sample();
  r.recipients.resize(kMaxQueueRecipients + 1, r.recipients[0]);
  EXPECT_FALSE(validate_record(r).ok());
  r = sample();
  r.recipients[0].text = "pending has no error";
  EXPECT_FALSE(validate_record(r).ok());
  r = sample();
  r.recipients[0].address = std::string(kMaxQueueAddressBytes + 1, 'a');
  EXPECT_FALSE(validate_record(r).ok());
  r = sample();
  r.recipients[1].text = std::string(kMaxQueueTextBytes + 1, 'e');
  EXPECT_FALSE(validate_record(r).ok());
}

using std::chrono::seconds;

TEST(RetryPolicy, BackoffDoublesBetweenPostfixLimits) {
  const retry_policy p;  // 300 s .. 4000 s, 5 days
  EXPECT_EQ(backoff_after(p, 0), seconds(300));
  EXPECT_EQ(backoff_after(p, 1), seconds(300));
  EXPECT_EQ(backoff_after(p, 2), seconds(600));
  EXPECT_EQ(backoff_after(p, 3), seconds(1200));
  EXPECT_EQ(backoff_after(p, 4), seconds(2400));
  EXPECT_EQ(backoff_after(p, 5), seconds(4000));
  EXPECT_EQ(backoff_after(p, 4000000000u), seconds(4000));  // no overflow
  retry_policy odd;
  odd.minimal_backoff = seconds(0);  // treated as 1 s
  odd.maximal_backoff = seconds(0);  // never below the minimum
  EXPECT_EQ(backoff_after(odd, 10), seconds(1));
}

TEST(RetryPolicy, LifetimeBouncesAndTheLastTryIsAtExpiry) {
  const retry_policy p;
  const int64_t arrival = 1'000'000;
  const int64_t life = 5 * 24 * 3600;
  retry_decision d = after_temporary_failure(p, arrival, arrival + 10, 1);
  EXPECT_FALSE(d.bounce);
  EXPECT_EQ(d.next_attempt, arrival + 10 + 300);
  d = after_temporary_failure(p, arrival, arrival + life - 100, 40);
  EXPECT_FALSE(d.bounce);
  EXPECT_EQ(d.next_attempt, arrival + life);  // one final attempt at expiry, not later
  EXPECT_TRUE(after_temporary_failure(p, arrival, arrival + life, 41).bounce);
  EXPECT_TRUE(after_temporary_failure(p, arrival, arrival + life + 5000, 2).bounce);
  retry_policy short_life = p;
  short_life.maximal_lifetime = seconds(0);  // Postfix: 0 means one attempt only
  EXPECT_TRUE(after_temporary_failure(short_life, arrival, arrival, 1).bounce);
}

TEST(RetryPolicy, DelayNoticeOnceWhenTheWarningTimePasses) {
  retry_policy p;
  const int64_t arrival = 1'000'000;
  EXPECT_FALSE(delay_notice_due(p, arrival, arrival, arrival + 99999));  // off by default
  p.delay_warning = seconds(4 * 3600);
  EXPECT_FALSE(delay_notice_due(p, arrival, 0, arrival + 3600));
  EXPECT_TRUE(delay_notice_due(p, arrival, arrival + 3600, arrival + 4 * 3600));
  EXPECT_TRUE(delay_notice_due(p, arrival, 0, arrival + 5 * 3600));
  EXPECT_FALSE(delay_notice_due(p, arrival, arrival + 4 * 3600, arrival + 5 * 3600));  // already sent
  p.delay_warning = p.maximal_lifetime;  // the bounce comes first
  EXPECT_FALSE(delay_notice_due(p, arrival, 0, arrival + p.maximal_lifetime.count()));
}

}  // namespace
}  // namespace ringmail::queue
