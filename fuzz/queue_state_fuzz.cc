// delivery/queue/queue_format.h: the outbound queue's .state and .msg decoders on
// arbitrary bytes. The first byte picks the use: raw input (magic, trailer and CRC
// checks), or the rest made a payload behind a valid magic line and CRC, so the field
// decoders past the checksum (counts, lengths, statuses, numbers) see hostile bytes too.
// Whatever decodes must be a valid record, encode back to exactly the same bytes (one
// encoding per record), and every strict prefix of it must be refused (a torn write is
// never read as a shorter valid file).
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "delivery/queue/queue_format.h"

namespace {

using namespace ringmail::queue;

std::string with_crc(std::string covered) {
  uLong crc = crc32(0L, reinterpret_cast<const Bytef*>(covered.data()), static_cast<uInt>(covered.size()));
  char hex[16];
  std::snprintf(hex, sizeof hex, "%08lx", crc);
  return covered + "end " + hex + "\n";
}

void check_state(std::string_view bytes) {
  auto r = decode_state(bytes);
  if (!r.ok()) return;
  if (!validate_record(*r).ok()) std::abort();
  if (encode_state(*r) != bytes) std::abort();
  // A few prefixes (all of them would be quadratic): a torn write is never a valid file.
  for (size_t cut : {size_t{1}, size_t{14}, bytes.size() / 2, bytes.size() - 1}) {
    if (cut < bytes.size() && decode_state(bytes.substr(0, cut)).ok()) std::abort();
  }
}

void check_message(std::string_view bytes) {
  auto m = decode_message_file(bytes);
  if (!m.ok()) return;
  if (!validate_record(m->record).ok()) std::abort();
  const std::string again = encode_message_file(m->record, m->message);
  if (again != bytes) std::abort();
  const std::string head = message_file_head(m->record, m->message.size());
  const std::string_view pieces[] = {m->message.substr(0, m->message.size() / 3), m->message.substr(m->message.size() / 3)};
  if (head + std::string(m->message) + message_file_tail(head, pieces) != again) std::abort();
  for (size_t cut : {size_t{1}, bytes.size() / 2, bytes.size() - 1}) {
    if (cut < bytes.size() && decode_message_file(bytes.substr(0, cut)).ok()) std::abort();
  }
  // The state file of the same record decodes to it.
  auto s = decode_state(encode_state(m->record));
  if (!s.ok() || !(*s == m->record)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0: check_state(in); check_message(in); break;
    case 1: check_state(with_crc("ringmail-queue-state 1\n" + std::string(in))); break;
    case 2: check_message(with_crc("ringmail-queue-msg 1\n" + std::string(in))); break;
    case 3: check_state(with_crc("ringmail-queue-state 1\nid q1\narrival 5\nfrom 0\n\n" + std::string(in))); break;
  }
  return 0;
}
