// Drives the mail store's index codec (delivery/mailstore/folder_index.h): the log record
// decoder, replay and the checkpoint decoder on arbitrary bytes (a damaged index must be
// refused or stopped at, never crash), and round trips of states built from the input.
// The first input byte picks the mode; the rest is its input.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <zlib.h>

#include "delivery/mailstore/folder_index.h"

using namespace ringmail::mailstore;

#define CHECK(cond)       \
  do {                    \
    if (!(cond)) abort(); \
  } while (0)

namespace {

// The fields a record of each kind carries.
bool same_record(const change& a, const change& b) {
  if (a.k != b.k) return false;
  switch (a.k) {
    case change::append:
      return a.message == b.message && b.modseq == a.message.modseq;
    case change::set_flags:
      return a.message.uid == b.message.uid && a.message.in_new == b.message.in_new &&
             a.message.flags == b.message.flags && a.message.keywords == b.message.keywords &&
             a.message.other_flags == b.message.other_flags && a.modseq == b.modseq;
    case change::expunge:
      return a.uid == b.uid && a.modseq == b.modseq;
    case change::add_keyword:
      return a.keyword == b.keyword;
    case change::set_header:
      return a.uid_validity == b.uid_validity && a.uid_next == b.uid_next;
    case change::set_cache:
      return a.message.uid == b.message.uid && a.message.cache == b.message.cache;
  }
  return false;
}

// Reads small values off the input to build changes an owner could log.
class source {
 public:
  explicit source(std::string_view in) : in_(in) {}
  bool empty() const { return in_.empty(); }
  uint8_t byte() {
    if (in_.empty()) return 0;
    uint8_t v = static_cast<uint8_t>(in_[0]);
    in_.remove_prefix(1);
    return v;
  }
  uint32_t u32() { return byte() | uint32_t{byte()} << 8 | uint32_t{byte()} << 16 | uint32_t{byte()} << 24; }
  std::string str(size_t max) {
    size_t n = byte() % (max + 1);
    n = std::min(n, in_.size());
    std::string s(in_.substr(0, n));
    in_.remove_prefix(n);
    return s;
  }

 private:
  std::string_view in_;
};

std::vector<change> build_changes(std::string_view in) {
  source src(in);
  std::vector<change> out;
  uint32_t uid = 0;
  uint64_t modseq = 1;
  change header;
  header.k = change::set_header;
  header.uid_validity = src.u32() | 1;
  header.uid_next = 1;
  out.push_back(header);
  while (!src.empty() && out.size() < 200) {
    change c;
    switch (src.byte() % 6) {
      case 0:
        c.k = change::append;
        uid += 1 + src.byte() % 4;
        c.message.uid = uid;
        c.message.base = src.str(40);
        c.message.in_new = src.byte() % 2 == 1;
        c.message.flags = src.byte() & 31;
        c.message.keywords = src.u32();
        c.message.other_flags = src.str(3);
        c.message.modseq = c.modseq = ++modseq;
        c.message.size = src.u32();
        c.message.vsize = src.u32();
        c.message.internal_date = static_cast<int32_t>(src.u32());
        c.message.cache = src.str(20);
        break;
      case 1:
        c.k = change::set_flags;
        c.message.uid = uid == 0 ? 1 : 1 + src.byte() % uid;
        c.message.in_new = src.byte() % 2 == 1;
        c.message.flags = src.byte() & 31;
        c.message.keywords = src.u32();
        c.message.other_flags = src.str(3);
        c.modseq = ++modseq;
        break;
      case 2:
        c.k = change::expunge;
        c.uid = uid == 0 ? 1 : 1 + src.byte() % uid;
        c.modseq = ++modseq;
        break;
      case 3:
        c.k = change::add_keyword;
        c.keyword = src.str(12);
        break;
      case 4:
        c.k = change::set_header;
        c.uid_validity = header.uid_validity;
        c.uid_next = uid + 1 + src.byte();
        break;
      case 5:
        c.k = change::set_cache;
        c.message.uid = uid == 0 ? 1 : 1 + src.byte() % uid;
        c.message.cache = src.str(30);
        break;
    }
    out.push_back(std::move(c));
  }
  return out;
}

void put_u32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}

uint32_t crc_of(std::string_view bytes) {
  return static_cast<uint32_t>(crc32(0L, reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(bytes.size())));
}

// Random bytes almost never carry a valid CRC, so the decoders would stop at the checksum.
// "Sealed" inputs get correct framing: records are cut from the input (a length byte, then
// that many payload bytes) with their length and CRC in front; a checkpoint gets the magic
// before and the CRC after.
std::string seal_records(std::string_view in) {
  std::string out;
  while (!in.empty()) {
    const size_t n = std::min<size_t>(static_cast<uint8_t>(in[0]), in.size() - 1);
    std::string_view payload = in.substr(1, n);
    put_u32(out, static_cast<uint32_t>(payload.size()));
    put_u32(out, crc_of(payload));
    out.append(payload);
    in.remove_prefix(1 + n);
  }
  return out;
}

std::string seal_checkpoint(std::string_view in) {
  std::string out = "RMIDX001";
  out.append(in);
  put_u32(out, crc_of(out));
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view raw(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string sealed;
  const bool seal = (data[0] & 0x80) != 0;
  if (seal && data[0] % 4 < 2) sealed = seal_records(raw);
  if (seal && data[0] % 4 == 2) sealed = seal_checkpoint(raw);
  std::string_view in = seal && data[0] % 4 < 3 ? std::string_view(sealed) : raw;
  switch (data[0] % 4) {
    case 0: {  // one record: decode, and what decodes encodes back to the same record
      auto d = decode_record(in);
      if (!d) break;
      CHECK(d->length >= 8 && d->length <= in.size());
      auto again = decode_record(encode_record(d->seq, d->c));
      CHECK(again && again->seq == d->seq && same_record(d->c, again->c));
      break;
    }
    case 1: {  // replay of arbitrary bytes stops inside them, and its prefix replays the same
      folder_state s;
      uint64_t last = 0;
      const uint64_t after = in.empty() ? 0 : static_cast<uint8_t>(in[0]) % 3;
      const size_t valid = replay(s, in, after, &last);
      CHECK(valid <= in.size());
      CHECK(last >= after);
      folder_state t;
      uint64_t last_again = 0;
      CHECK(replay(t, in.substr(0, valid), after, &last_again) == valid);
      CHECK(t == s && last_again == last);
      for (size_t i = 1; i < s.messages.size(); ++i) CHECK(s.messages[i - 1].uid < s.messages[i].uid);
      // Whatever a log built, a checkpoint of it must load back (or the store could not
      // checkpoint a folder it just opened). apply() refuses an append of UID 2^32 - 1,
      // which would leave uid_next nowhere to go (the store renumbers under a new
      // UIDVALIDITY long before: mailbox.cc kHighestKeptUid).
      CHECK(s.messages.empty() || s.messages.back().uid < s.uid_next);
      auto cp = decode_checkpoint(encode_checkpoint(s, last));
      CHECK(cp.ok());
      CHECK(cp->state == s && cp->seq == last);
      break;
    }
    case 2: {  // a checkpoint: refused, or it encodes back to a state that decodes the same
      auto d = decode_checkpoint(in);
      if (!d.ok()) break;
      auto again = decode_checkpoint(encode_checkpoint(d->state, d->seq));
      CHECK(again.ok());
      CHECK(again->state == d->state && again->seq == d->seq);
      break;
    }
    case 3: {  // a state built from the input: log, torn log, checkpoint + rest, all agree
      const std::vector<change> changes = build_changes(in);
      std::string log;
      std::vector<size_t> ends;
      folder_state want;
      std::vector<folder_state> prefix{want};
      for (size_t i = 0; i < changes.size(); ++i) {
        log += encode_record(i + 1, changes[i]);
        ends.push_back(log.size());
        apply(want, changes[i]);
        prefix.push_back(want);
      }
      folder_state got;
      uint64_t last = 0;
      CHECK(replay(got, log, 0, &last) == log.size());
      CHECK(last == changes.size() && got == want);
      // A cut picked by the input: exactly the complete records before it.
      const size_t cut = log.empty() ? 0 : (size * 7919) % (log.size() + 1);
      size_t complete = 0;
      while (complete < ends.size() && ends[complete] <= cut) ++complete;
      folder_state torn;
      CHECK(replay(torn, std::string_view(log).substr(0, cut), 0, &last) == (complete ? ends[complete - 1] : 0));
      CHECK(last == complete && torn == prefix[complete]);
      // Checkpoint at `complete`, then the whole log: records it holds are skipped.
      auto cp = decode_checkpoint(encode_checkpoint(prefix[complete], complete));
      CHECK(cp.ok());
      CHECK(cp->state == prefix[complete] && cp->seq == complete);
      folder_state resumed = cp->state;
      CHECK(replay(resumed, log, cp->seq, &last) == log.size());
      CHECK(last == changes.size() && resumed == want);
      auto whole = decode_checkpoint(encode_checkpoint(want, last));
      CHECK(whole.ok() && whole->state == want);
      break;
    }
  }
  return 0;
}
