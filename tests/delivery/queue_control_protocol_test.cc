// The queue control channel's line protocol (delivery/queue/queue_control_protocol.h),
// pure: every request the admin tool sends parses back to itself, malformed ones get a
// usage text, and the reply reader gives the same items whole and byte by byte and
// refuses framing errors, oversize fields and damaged records.
#include "delivery/queue/queue_control_protocol.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace ringmail::queue {
namespace {

control_request req(control_verb v, std::string id = "", bool all = false) {
  control_request r;
  r.verb = v;
  r.id = std::move(id);
  r.all = all;
  return r;
}

TEST(QueueControlRequest, ParsesEveryCommandAndFormatsItBack) {
  const std::vector<std::pair<std::string, control_request>> cases = {
      {"list", req(control_verb::list)},
      {"show 6751a2b3-0-1", req(control_verb::show, "6751a2b3-0-1")},
      {"flush", req(control_verb::flush)},
      {"flush 6751a2b3-1-a", req(control_verb::flush, "6751a2b3-1-a")},
      {"delete 6751a2b3-0-1", req(control_verb::remove, "6751a2b3-0-1")},
      {"delete ALL", req(control_verb::remove, "", true)},
      {"hold 6751a2b3-0-1", req(control_verb::hold, "6751a2b3-0-1")},
      {"hold ALL", req(control_verb::hold, "", true)},
      {"release 6751a2b3-0-1", req(control_verb::release, "6751a2b3-0-1")},
      {"release ALL", req(control_verb::release, "", true)},
  };
  for (const auto& [line, want] : cases) {
    SCOPED_TRACE(line);
    for (const char* ending : {"", "\n", "\r\n"}) {
      auto got = parse_control_request(line + ending);
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_EQ(*got, want);
    }
    EXPECT_EQ(format_control_request(want), line + "\n");
  }
}

TEST(QueueControlRequest, RefusesWhatIsNotACommand) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "expected one command"},
      {"LIST", "unknown command"},
      {"list x", "usage: list"},
      {"show", "usage: show"},
      {"show ALL", "usage: show"},
      {"show  6751a2b3-0-1", "expected one command"},
      {"show 6751a2b3-0-1 ", "expected one command"},
      {" list", "expected one command"},
      {"hold", "usage: hold <queue id>|ALL"},
      {"delete ../../etc/passwd", "usage: delete"},
      {"release .hidden", "usage: release"},
      {"flush ALL", "usage: flush"},
      {"hold a b", "expected one command"},
      {"list\r\r\n", "control character"},
      {std::string("show a\0b", 8), "control character"},
      {"show \xc3\xa9", "non-ASCII"},
      {"show " + std::string(kMaxControlLine, 'a'), "too long"},
  };
  // ALL is upper case, as Postfix writes it; "all" is an id by shape (no such queue id).
  EXPECT_EQ(*parse_control_request("hold all"), req(control_verb::hold, "all"));
  for (const auto& [line, want] : cases) {
    SCOPED_TRACE(line);
    auto got = parse_control_request(line);
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(std::string(got.status().message()).find(want), std::string::npos) << got.status();
  }
}

TEST(QueueControlRequest, ShardOfQueueId) {
  EXPECT_EQ(shard_of_queue_id("6751a2b3-0-1"), 0u);
  EXPECT_EQ(shard_of_queue_id("6751a2b3-17-ff"), 17u);
  EXPECT_EQ(shard_of_queue_id("6751a2b3-3-1-2"), 3u);  // a retry suffix after the counter
  EXPECT_EQ(shard_of_queue_id("6751a2b3"), std::nullopt);
  EXPECT_EQ(shard_of_queue_id("6751a2b3-1"), std::nullopt);
  EXPECT_EQ(shard_of_queue_id("6751a2b3--1"), std::nullopt);
  EXPECT_EQ(shard_of_queue_id("6751a2b3-01-1"), std::nullopt);  // one spelling per number
  EXPECT_EQ(shard_of_queue_id("6751a2b3-x-1"), std::nullopt);
  EXPECT_EQ(shard_of_queue_id("6751a2b3-99999-1"), std::nullopt);
  EXPECT_EQ(shard_of_queue_id("ALL"), std::nullopt);
}

control_message sample(unsigned shard, bool held) {
  control_message m;
  m.shard = shard;
  m.size = 1234;
  m.held = held;
  m.record.id = "6751a2b3-" + std::to_string(shard) + "-1";
  m.record.arrival = 1700000000;
  m.record.reverse_path = "alice@example.org";
  recipient_state a;
  a.address = "bob@example.net";
  a.status = rcpt_status::deferred;
  a.attempts = 2;
  a.next_attempt = 1700000600;
  a.text = "451 4.4.1 no answer\r\nsecond line";
  recipient_state b;
  b.address = "carol@example.net";
  b.detail = "lists";
  m.record.recipients = {a, b};
  return m;
}

// Reads every item of `bytes`, fed in pieces of `chunk` octets.
absl::StatusOr<std::vector<reply_item>> read_all(const std::string& bytes, size_t chunk) {
  control_reply_reader reader;
  std::vector<reply_item> out;
  for (size_t at = 0;; at += chunk) {
    for (;;) {
      auto item = reader.next();
      if (!item.ok()) return item.status();
      if (!item->has_value()) break;
      out.push_back(std::move(**item));
    }
    if (at >= bytes.size()) break;
    reader.append(std::string_view(bytes).substr(at, chunk));
  }
  if (reader.buffered() != 0) return absl::DataLossError("left over");
  return out;
}

TEST(QueueControlReply, ItemsReadTheSameWholeAndByteByByte) {
  const std::string body = std::string("Subject: x\r\n\r\nok\n\0\xff", 20) + "\nok\n";  // framing look-alikes inside
  const std::string bytes = encode_message_item(sample(0, false)) + encode_message_item(sample(3, true)) +
                            encode_text_item(body) + encode_done_item("6751a2b3-0-1") + encode_ok_item() +
                            encode_error_item("no such queue id: x");
  for (size_t chunk : {bytes.size(), size_t{1}, size_t{7}}) {
    SCOPED_TRACE(chunk);
    auto items = read_all(bytes, chunk);
    ASSERT_TRUE(items.ok()) << items.status();
    ASSERT_EQ(items->size(), 6u);
    EXPECT_EQ((*items)[0].kind, reply_kind::message);
    EXPECT_EQ((*items)[0].message, sample(0, false));
    EXPECT_EQ((*items)[1].message, sample(3, true));
    EXPECT_EQ((*items)[2].kind, reply_kind::text);
    EXPECT_EQ((*items)[2].text, body);
    EXPECT_EQ((*items)[3].kind, reply_kind::done);
    EXPECT_EQ((*items)[3].text, "6751a2b3-0-1");
    EXPECT_EQ((*items)[4].kind, reply_kind::ok);
    EXPECT_EQ((*items)[5].kind, reply_kind::error);
    EXPECT_EQ((*items)[5].text, "no such queue id: x");
  }
}

TEST(QueueControlReply, ErrorTextIsOneLineOfPrintableAscii) {
  EXPECT_EQ(encode_error_item("a\r\nb\x01\xc3"), "error a??b??\n");
  EXPECT_EQ(encode_error_item(""), "error failed\n");
  const std::string long_error = encode_error_item(std::string(10000, 'e'));
  EXPECT_LE(long_error.size(), kMaxControlLine);
  auto items = read_all(long_error, 1);
  ASSERT_TRUE(items.ok()) << items.status();
  EXPECT_EQ((*items)[0].kind, reply_kind::error);
}

TEST(QueueControlReply, RefusesFramingErrorsAndDamagedRecords) {
  const std::string good = encode_message_item(sample(1, false));
  std::string bad_crc = good;
  bad_crc[good.find("alice")] = 'A';
  std::string no_lf = good;
  no_lf.back() = 'x';
  const std::vector<std::string> cases = {
      "bogus\n",
      "ok extra\n",
      "done\n",
      "done ../x\n",
      "error \x01\n",
      "error\n",  // found by queue_control_fuzz: a bare "error" was read past its end
      "text 01\nx\n",
      "text -1\nx\n",
      "text 99999999999999999999\n",
      "text 2\nabc\n",
      std::string(kMaxControlLine + 1, 'x'),  // no line end within the limit
      "message 0 1 2 3\nabc\n",             // held is 0 or 1
      "message 0 1 0\n",
      "message 0 1 0 " + std::to_string(kMaxControlStateBytes + 1) + "\n",
      "message 5000 1 0 1\nx\n",             // shard beyond the limit
      "message 0 1 0 5\nhello\n",             // not a .state file
      bad_crc,
      no_lf,
  };
  for (const std::string& c : cases) {
    SCOPED_TRACE(c.substr(0, 60));
    auto items = read_all(c, c.size());
    EXPECT_FALSE(items.ok());
    if (!items.ok()) {
      EXPECT_EQ(items.status().code(), absl::StatusCode::kDataLoss);
    }
  }
  // A payload not yet complete is not an error: more bytes are needed.
  control_reply_reader reader;
  reader.append(good.substr(0, good.size() - 1));
  auto item = reader.next();
  ASSERT_TRUE(item.ok());
  EXPECT_FALSE(item->has_value());
}

}  // namespace
}  // namespace ringmail::queue
