#include "delivery/queue/queue_format.h"

/* Utility library. */
#include <zlib.h>

#include <algorithm>
#include <charconv>
#include <limits>


namespace ringmail::queue {
namespace {

constexpr std::string_view kStateMagic = "ringmail-queue-state 1\n";
constexpr std::string_view kMessageMagic = "ringmail-queue-msg 1\n";
// "end " + 8 hex digits + "\n"
constexpr size_t kTrailerBytes = 13;

// CRC-32 (zlib's) of `bytes`, continued from `crc` (0 for a fresh one).
uint32_t crc_of(uint32_t crc, std::string_view bytes) {
  uLong c = crc;
  // zlib takes uInt lengths: feed large inputs in pieces.
  while (!bytes.empty()) {
    const size_t n = std::min<size_t>(bytes.size(), 1u << 30);
    c = crc32(c, reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(n));
    bytes.remove_prefix(n);
  }
  return static_cast<uint32_t>(c);
}
uint32_t crc_of(std::string_view bytes) { return crc_of(0, bytes); }

std::string trailer(uint32_t crc) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "end ";
  for (int shift = 28; shift >= 0; shift -= 4) out.push_back(kHex[(crc >> shift) & 0xf]);
  out.push_back('\n');
  return out;
}

// Plain appends, no absl::StrCat: the fuzz build (clang) sees absl::string_view and
// std::string_view as different types.
void append_number(std::string& out, uint64_t v) { out += std::to_string(v); }

void append_bytes(std::string& out, std::string_view key, std::string_view value) {
  out.append(key).append(" ");
  append_number(out, value.size());
  out.append("\n").append(value).append("\n");
}

// The fields both files share, after the magic line.
void append_record(std::string& out, const queue_record& r) {
  out.append("id ").append(r.id).append("\narrival ");
  append_number(out, static_cast<uint64_t>(r.arrival));
  out.append("\n");
  append_bytes(out, "from", r.reverse_path);
  out.append("rcpts ");
  append_number(out, r.recipients.size());
  out.append("\n");
  for (const recipient_state& s : r.recipients) {
    out.append(status_name(s.status));
    for (uint64_t v : {uint64_t{s.attempts}, static_cast<uint64_t>(s.next_attempt), uint64_t{s.address.size()},
                       uint64_t{s.detail.size()}, uint64_t{s.text.size()}}) {
      out.append(" ");
      append_number(out, v);
    }
    out.append("\n").append(s.address).append(s.detail).append(s.text).append("\n");
  }
}

absl::Status damaged(const std::string& what) { return absl::DataLossError("queue file damaged: " + what); }

// A strict cursor over the file: every token must be exactly where the format puts it.
class reader {
 public:
  explicit reader(std::string_view in) : in_(in) {}
  size_t remaining() const { return in_.size(); }
  bool literal(std::string_view s) {
    if (in_.substr(0, s.size()) != s) return false;
    in_.remove_prefix(s.size());
    return true;
  }
  // A decimal number without sign or leading zero, at most `max`.
  bool number(uint64_t max, uint64_t* out) {
    size_t n = 0;
    while (n < in_.size() && n < 20 && in_[n] >= '0' && in_[n] <= '9') ++n;
    if (n == 0 || (n > 1 && in_[0] == '0')) return false;
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(in_.data(), in_.data() + n, v);
    if (ec != std::errc() || p != in_.data() + n || v > max) return false;
    in_.remove_prefix(n);
    *out = v;
    return true;
  }
  bool bytes(size_t n, std::string_view* out) {
    if (n > in_.size()) return false;
    *out = in_.substr(0, n);
    in_.remove_prefix(n);
    return true;
  }
  // Up to (not including) the next SP, which is left in place; at most `max` octets.
  bool word(size_t max, std::string_view* out) {
    size_t sp = in_.substr(0, max + 1).find(' ');
    if (sp == std::string_view::npos || sp == 0) return false;
    *out = in_.substr(0, sp);
    in_.remove_prefix(sp);
    return true;
  }
  // Up to (not including) the next LF, which is consumed.
  bool token_line(size_t max, std::string_view* out) {
    size_t lf = in_.substr(0, max + 1).find('\n');
    if (lf == std::string_view::npos) return false;
    *out = in_.substr(0, lf);
    in_.remove_prefix(lf + 1);
    return true;
  }

 private:
  std::string_view in_;
};

bool parse_status(std::string_view name, rcpt_status* out) {
  for (rcpt_status s : {rcpt_status::pending, rcpt_status::deferred, rcpt_status::delivered, rcpt_status::bounced}) {
    if (status_name(s) == name) {
      *out = s;
      return true;
    }
  }
  return false;
}

// The shared fields; on success the reader stands after the last recipient.
absl::Status read_record(reader& in, queue_record* r) {
  std::string_view id;
  if (!in.literal("id ") || !in.token_line(kMaxQueueIdBytes, &id) || !valid_queue_id(id)) return damaged("id");
  r->id = std::string(id);
  uint64_t v = 0;
  if (!in.literal("arrival ") || !in.number(std::numeric_limits<int64_t>::max(), &v) || !in.literal("\n")) {
    return damaged("arrival");
  }
  r->arrival = static_cast<int64_t>(v);
  std::string_view from;
  if (!in.literal("from ") || !in.number(kMaxQueueAddressBytes, &v) || !in.literal("\n") || !in.bytes(v, &from) ||
      !in.literal("\n")) {
    return damaged("from");
  }
  r->reverse_path = std::string(from);
  uint64_t count = 0;
  if (!in.literal("rcpts ") || !in.number(kMaxQueueRecipients, &count) || count == 0 || !in.literal("\n")) {
    return damaged("rcpts");
  }
  // Every recipient line takes at least "pending 0 0 0 0 0\n\n" (19 octets): a count the
  // rest of the file cannot hold is refused before the vector grows.
  if (count > in.remaining() / 19) return damaged("rcpts");
  r->recipients.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    recipient_state s;
    std::string_view name;
    uint64_t attempts = 0, next = 0, alen = 0, dlen = 0, tlen = 0;
    std::string_view address, detail, text;
    if (!in.word(9, &name) || !parse_status(name, &s.status) || !in.literal(" ") ||
        !in.number(std::numeric_limits<uint32_t>::max(), &attempts) || !in.literal(" ") ||
        !in.number(std::numeric_limits<int64_t>::max(), &next) || !in.literal(" ") ||
        !in.number(kMaxQueueAddressBytes, &alen) || !in.literal(" ") || !in.number(kMaxQueueAddressBytes, &dlen) ||
        !in.literal(" ") || !in.number(kMaxQueueTextBytes, &tlen) || !in.literal("\n") || !in.bytes(alen, &address) ||
        !in.bytes(dlen, &detail) || !in.bytes(tlen, &text) || !in.literal("\n")) {
      return damaged("recipient " + std::to_string(i));
    }
    s.attempts = static_cast<uint32_t>(attempts);
    s.next_attempt = static_cast<int64_t>(next);
    s.address = std::string(address);
    s.detail = std::string(detail);
    s.text = std::string(text);
    r->recipients.push_back(std::move(s));
  }
  absl::Status st = validate_record(*r);
  if (!st.ok()) return damaged(std::string(st.message()));
  return absl::OkStatus();
}

// Checks the trailer of `file` and returns the bytes it covers.
absl::StatusOr<std::string_view> checked_body(std::string_view file) {
  if (file.size() < kTrailerBytes) return damaged("too short");
  std::string_view covered = file.substr(0, file.size() - kTrailerBytes);
  if (file.substr(covered.size()) != trailer(crc_of(covered))) return damaged("checksum");
  return covered;
}

}  // namespace

std::string_view status_name(rcpt_status s) {
  switch (s) {
    case rcpt_status::pending: return "pending";
    case rcpt_status::deferred: return "deferred";
    case rcpt_status::delivered: return "delivered";
    case rcpt_status::bounced: return "bounced";
  }
  return "?";
}

bool queue_record::all_final() const {
  for (const recipient_state& s : recipients) {
    if (!is_final(s.status)) return false;
  }
  return true;
}

bool valid_queue_id(std::string_view id) {
  if (id.empty() || id.size() > kMaxQueueIdBytes || id[0] == '.') return false;
  for (char c : id) {
    const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool same_envelope(const queue_record& a, const queue_record& b) {
  if (a.id != b.id || a.arrival != b.arrival || a.reverse_path != b.reverse_path ||
      a.recipients.size() != b.recipients.size()) {
    return false;
  }
  for (size_t i = 0; i < a.recipients.size(); ++i) {
    if (a.recipients[i].address != b.recipients[i].address || a.recipients[i].detail != b.recipients[i].detail) {
      return false;
    }
  }
  return true;
}

absl::Status validate_record(const queue_record& r) {
  if (!valid_queue_id(r.id)) return absl::InvalidArgumentError("invalid queue id");
  if (r.arrival < 0) return absl::InvalidArgumentError("negative arrival time");
  if (r.reverse_path.size() > kMaxQueueAddressBytes) return absl::InvalidArgumentError("reverse path too long");
  if (r.recipients.empty() || r.recipients.size() > kMaxQueueRecipients) {
    return absl::InvalidArgumentError("recipient count out of range");
  }
  for (const recipient_state& s : r.recipients) {
    if (s.address.empty() || s.address.size() > kMaxQueueAddressBytes || s.detail.size() > kMaxQueueAddressBytes) {
      return absl::InvalidArgumentError("recipient address length out of range");
    }
    if (s.text.size() > kMaxQueueTextBytes) return absl::InvalidArgumentError("recipient text too long");
    if (s.next_attempt < 0) return absl::InvalidArgumentError("negative next attempt");
    if (s.status != rcpt_status::deferred && s.next_attempt != 0) {
      return absl::InvalidArgumentError("next attempt on a recipient that is not deferred");
    }
    if (s.status == rcpt_status::pending && !s.text.empty()) {
      return absl::InvalidArgumentError("error text on a pending recipient");
    }
  }
  return absl::OkStatus();
}

std::string encode_state(const queue_record& record) {
  std::string out(kStateMagic);
  append_record(out, record);
  out += trailer(crc_of(out));
  return out;
}

absl::StatusOr<queue_record> decode_state(std::string_view file) {
  auto covered = checked_body(file);
  if (!covered.ok()) return covered.status();
  reader in(*covered);
  if (!in.literal(kStateMagic)) return damaged("not a queue state file");
  queue_record r;
  absl::Status st = read_record(in, &r);
  if (!st.ok()) return st;
  if (in.remaining() != 0) return damaged("bytes after the recipients");
  return r;
}

std::string message_file_head(const queue_record& record, uint64_t message_size) {
  std::string out(kMessageMagic);
  append_record(out, record);
  out.append("body ");
  append_number(out, message_size);
  out.append("\n");
  return out;
}

std::string message_file_tail(std::string_view head, std::span<const std::string_view> pieces) {
  // The CRC covers the head, every piece and the "\n" after the message.
  uint32_t crc = crc_of(head);
  for (std::string_view p : pieces) crc = crc_of(crc, p);
  return "\n" + trailer(crc_of(crc, "\n"));
}

std::string encode_message_file(const queue_record& record, std::string_view message) {
  std::string out = message_file_head(record, message.size());
  const std::string_view pieces[] = {message};
  const std::string tail = message_file_tail(out, pieces);
  out.append(message);
  out += tail;
  return out;
}

absl::StatusOr<message_file> decode_message_file(std::string_view file) {
  auto covered = checked_body(file);
  if (!covered.ok()) return covered.status();
  reader in(*covered);
  if (!in.literal(kMessageMagic)) return damaged("not a queue message file");
  message_file out;
  absl::Status st = read_record(in, &out.record);
  if (!st.ok()) return st;
  uint64_t size = 0;
  if (!in.literal("body ") || !in.number(std::numeric_limits<uint64_t>::max(), &size) || !in.literal("\n") ||
      !in.bytes(size, &out.message) || !in.literal("\n")) {
    return damaged("body");
  }
  if (in.remaining() != 0) return damaged("bytes after the body");
  return out;
}

}  // namespace ringmail::queue
