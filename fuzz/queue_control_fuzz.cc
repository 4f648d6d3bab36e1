// delivery/queue/queue_control_protocol.h: the queue control channel's two parsers on
// arbitrary bytes. The first byte picks the use:
//   even: the input as one request line. What parses formats back to a line that parses
//         to the same request; every refusal is InvalidArgument with a text that encodes
//         as an error item the reply reader reads back as one line.
//   odd:  the rest as a reply stream. The reader, fed all at once and fed byte by byte,
//         gives the same items and the same outcome; a message item re-encodes to bytes
//         that read back to the same message; an error text is printable ASCII.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "delivery/queue/queue_control_protocol.h"

namespace {

using namespace ringmail::queue;

#define CHECK(c) \
  do {           \
    if (!(c)) std::abort(); \
  } while (0)

struct outcome {
  std::vector<reply_item> items;
  bool failed = false;
};

bool same(const reply_item& a, const reply_item& b) {
  return a.kind == b.kind && a.text == b.text && a.message == b.message;
}

outcome read_items(std::string_view bytes, size_t chunk) {
  outcome out;
  control_reply_reader reader;
  size_t at = 0;
  for (;;) {
    auto item = reader.next();
    if (!item.ok()) {
      out.failed = true;
      return out;
    }
    if (item->has_value()) {
      out.items.push_back(std::move(**item));
      continue;
    }
    if (at >= bytes.size()) return out;
    const size_t n = std::min(chunk, bytes.size() - at);
    reader.append(bytes.substr(at, n));
    at += n;
  }
}

void check_request(std::string_view line) {
  auto parsed = parse_control_request(line);
  if (!parsed.ok()) {
    CHECK(parsed.status().code() == absl::StatusCode::kInvalidArgument);
    const std::string error = encode_error_item(std::string(parsed.status().message()));
    outcome o = read_items(error, error.size());
    CHECK(!o.failed && o.items.size() == 1 && o.items[0].kind == reply_kind::error);
    return;
  }
  const std::string again = format_control_request(*parsed);
  CHECK(again.size() <= kMaxControlLine + 1);
  auto reparsed = parse_control_request(again);
  CHECK(reparsed.ok() && *reparsed == *parsed);
  if (!parsed->id.empty()) CHECK(valid_queue_id(parsed->id));
}

void check_reply(std::string_view bytes) {
  const outcome whole = read_items(bytes, bytes.size() + 1);
  const outcome bytewise = read_items(bytes, 1);
  CHECK(whole.failed == bytewise.failed);
  CHECK(whole.items.size() == bytewise.items.size());
  for (size_t i = 0; i < whole.items.size(); ++i) {
    const reply_item& it = whole.items[i];
    CHECK(same(it, bytewise.items[i]));
    if (it.kind == reply_kind::message) {
      const std::string again = encode_message_item(it.message);
      outcome o = read_items(again, again.size());
      CHECK(!o.failed && o.items.size() == 1 && same(o.items[0], it));
    } else if (it.kind == reply_kind::error) {
      for (char c : it.text) CHECK(static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7f);
    } else if (it.kind == reply_kind::done) {
      CHECK(valid_queue_id(it.text));
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    check_request(rest);
  } else {
    check_reply(rest);
  }
  return 0;
}
