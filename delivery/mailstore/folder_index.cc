#include "delivery/mailstore/folder_index.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>

namespace ringmail::mailstore {
namespace {

constexpr char kCheckpointMagic[8] = {'R', 'M', 'I', 'D', 'X', '0', '0', '2'};

uint32_t crc_of(std::string_view bytes) {
  uLong crc = crc32(0L, Z_NULL, 0);
  // zlib takes uInt lengths: feed large inputs in pieces.
  while (!bytes.empty()) {
    const size_t n = std::min<size_t>(bytes.size(), 1u << 30);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(n));
    bytes.remove_prefix(n);
  }
  return static_cast<uint32_t>(crc);
}

// ---- little-endian writer and a bounds-checked reader -----------------------------------

class writer {
 public:
  explicit writer(std::string& out) : out_(out) {}
  void u8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void u32(uint32_t v) {
    for (int i = 0; i < 4; ++i) out_.push_back(static_cast<char>(v >> (8 * i)));
  }
  void u64(uint64_t v) {
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>(v >> (8 * i)));
  }
  void str(std::string_view s) {
    u32(static_cast<uint32_t>(s.size()));
    out_.append(s);
  }

 private:
  std::string& out_;
};

class reader {
 public:
  explicit reader(std::string_view in) : in_(in) {}
  bool ok() const { return ok_; }
  bool at_end() const { return in_.empty(); }
  size_t remaining() const { return in_.size(); }
  uint8_t u8() {
    if (!need(1)) return 0;
    uint8_t v = static_cast<uint8_t>(in_[0]);
    in_.remove_prefix(1);
    return v;
  }
  uint32_t u32() {
    if (!need(4)) return 0;
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= uint32_t{static_cast<uint8_t>(in_[i])} << (8 * i);
    in_.remove_prefix(4);
    return v;
  }
  uint64_t u64() {
    if (!need(8)) return 0;
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t{static_cast<uint8_t>(in_[i])} << (8 * i);
    in_.remove_prefix(8);
    return v;
  }
  std::string str(size_t max) {
    uint32_t n = u32();
    if (n > max || !need(n)) {
      ok_ = false;
      return {};
    }
    std::string s(in_.substr(0, n));
    in_.remove_prefix(n);
    return s;
  }

 private:
  bool need(size_t n) {
    if (!ok_ || in_.size() < n) {
      ok_ = false;
      return false;
    }
    return true;
  }
  std::string_view in_;
  bool ok_ = true;
};

// Where the file is, one byte: 0 cur/, 1 new/ (named base), 2 new/ named base + info.
// Indexes written before value 2 existed read the same as before.
uint8_t where_byte(const message_entry& m) { return m.in_new ? (m.new_info ? 2 : 1) : 0; }
void set_where(message_entry& m, uint8_t b) {
  m.in_new = b != 0;
  m.new_info = b == 2;
}

void put_message(writer& w, const message_entry& m) {
  w.u32(m.uid);
  w.str(m.base);
  w.u8(where_byte(m));
  w.u8(m.flags);
  w.u32(m.keywords);
  w.str(m.other_flags);
  w.u64(m.modseq);
  w.u64(m.size);
  w.u64(m.vsize);
  w.u64(static_cast<uint64_t>(m.internal_date));
  w.str(m.cache);
}

message_entry get_message(reader& r) {
  message_entry m;
  m.uid = r.u32();
  m.base = r.str(kMaxBaseNameLength);
  set_where(m, r.u8());
  m.flags = r.u8();
  m.keywords = r.u32();
  m.other_flags = r.str(26);
  m.modseq = r.u64();
  m.size = r.u64();
  m.vsize = r.u64();
  m.internal_date = static_cast<int64_t>(r.u64());
  m.cache = r.str(kMaxCacheBlob);
  return m;
}

bool valid_kind(uint8_t k) { return k >= change::append && k <= change::set_cache; }

}  // namespace

// ---- folder_state ------------------------------------------------------------------------

message_entry* folder_state::find(uint32_t uid) {
  auto it = std::lower_bound(messages.begin(), messages.end(), uid,
                             [](const message_entry& m, uint32_t u) { return m.uid < u; });
  return it != messages.end() && it->uid == uid ? &*it : nullptr;
}

const message_entry* folder_state::find(uint32_t uid) const {
  return const_cast<folder_state*>(this)->find(uid);
}

uint64_t folder_state::total_vsize() const {
  uint64_t n = 0;
  for (const auto& m : messages) n += m.vsize;
  return n;
}

uint64_t folder_state::total_size() const {
  uint64_t n = 0;
  for (const auto& m : messages) n += m.size;
  return n;
}

size_t folder_state::unseen() const {
  size_t n = 0;
  for (const auto& m : messages) n += (m.flags & 1) == 0 ? 1 : 0;  // flag_seen
  return n;
}

void apply(folder_state& s, const change& c) {
  switch (c.k) {
    case change::append:
      // UIDs ascend: an append at or below the last UID is a damaged log, not a message.
      if (c.message.uid == 0 || (!s.messages.empty() && c.message.uid <= s.messages.back().uid)) return;
      // The last UID could never be followed by another (uid_next would wrap to 0).
      if (c.message.uid == UINT32_MAX) return;
      s.messages.push_back(c.message);
      s.uid_next = std::max(s.uid_next, c.message.uid + 1);
      s.highest_modseq = std::max(s.highest_modseq, c.message.modseq);
      return;
    case change::set_flags:
      if (message_entry* m = s.find(c.message.uid)) {
        m->flags = c.message.flags;
        m->keywords = c.message.keywords;
        m->in_new = c.message.in_new;
        m->new_info = c.message.new_info;
        m->other_flags = c.message.other_flags;
        m->modseq = c.modseq;
      }
      s.highest_modseq = std::max(s.highest_modseq, c.modseq);
      return;
    case change::expunge: {
      auto it = std::lower_bound(s.messages.begin(), s.messages.end(), c.uid,
                                 [](const message_entry& m, uint32_t u) { return m.uid < u; });
      if (it != s.messages.end() && it->uid == c.uid) s.messages.erase(it);
      s.expunged.emplace_back(c.uid, c.modseq);
      if (s.expunged.size() > kMaxExpungedKept) {
        s.expunged.erase(s.expunged.begin(), s.expunged.begin() + (s.expunged.size() - kMaxExpungedKept));
      }
      s.highest_modseq = std::max(s.highest_modseq, c.modseq);
      return;
    }
    case change::add_keyword:
      if (s.keywords.size() < kMaxKeywords) s.keywords.push_back(c.keyword);
      return;
    case change::set_header:
      s.uid_validity = c.uid_validity;
      s.uid_next = std::max(s.uid_next, c.uid_next);
      return;
    case change::set_cache:
      if (message_entry* m = s.find(c.message.uid)) m->cache = c.message.cache;
      return;
  }
}

// ---- log records -----------------------------------------------------------------------

std::string encode_record(uint64_t seq, const change& c) {
  std::string payload;
  writer w(payload);
  w.u8(c.k);
  w.u64(seq);
  switch (c.k) {
    case change::append:
      put_message(w, c.message);
      break;
    case change::set_flags:
      w.u32(c.message.uid);
      w.u8(where_byte(c.message));
      w.u8(c.message.flags);
      w.u32(c.message.keywords);
      w.str(c.message.other_flags);
      w.u64(c.modseq);
      break;
    case change::expunge:
      w.u32(c.uid);
      w.u64(c.modseq);
      break;
    case change::add_keyword:
      w.str(c.keyword);
      break;
    case change::set_header:
      w.u32(c.uid_validity);
      w.u32(c.uid_next);
      break;
    case change::set_cache:
      w.u32(c.message.uid);
      w.str(c.message.cache);
      break;
  }
  std::string out;
  writer head(out);
  head.u32(static_cast<uint32_t>(payload.size()));
  head.u32(crc_of(payload));
  out += payload;
  return out;
}

std::optional<decoded_record> decode_record(std::string_view in) {
  reader head(in);
  const uint32_t length = head.u32();
  const uint32_t crc = head.u32();
  if (!head.ok() || length > kMaxRecordPayload || in.size() < 8 + size_t{length}) return std::nullopt;
  std::string_view payload = in.substr(8, length);
  if (crc_of(payload) != crc) return std::nullopt;
  reader r(payload);
  decoded_record d;
  const uint8_t kind = r.u8();
  if (!valid_kind(kind)) return std::nullopt;
  d.c.k = static_cast<change::kind>(kind);
  d.seq = r.u64();
  switch (d.c.k) {
    case change::append:
      d.c.message = get_message(r);
      d.c.modseq = d.c.message.modseq;
      break;
    case change::set_flags:
      d.c.message.uid = r.u32();
      set_where(d.c.message, r.u8());
      d.c.message.flags = r.u8();
      d.c.message.keywords = r.u32();
      d.c.message.other_flags = r.str(26);
      d.c.modseq = r.u64();
      break;
    case change::expunge:
      d.c.uid = r.u32();
      d.c.modseq = r.u64();
      break;
    case change::add_keyword:
      d.c.keyword = r.str(kMaxKeywordLength);
      break;
    case change::set_header:
      d.c.uid_validity = r.u32();
      d.c.uid_next = r.u32();
      break;
    case change::set_cache:
      d.c.message.uid = r.u32();
      d.c.message.cache = r.str(kMaxCacheBlob);
      break;
  }
  if (!r.ok() || !r.at_end()) return std::nullopt;
  d.length = 8 + length;
  return d;
}

size_t replay(folder_state& s, std::string_view log, uint64_t after_seq, uint64_t* last_seq) {
  size_t pos = 0;
  uint64_t seq = after_seq;
  while (pos < log.size()) {
    auto d = decode_record(log.substr(pos));
    if (!d) break;
    if (d->seq > seq) {
      if (d->seq != seq + 1) break;  // a gap: records from an older log generation
      apply(s, d->c);
      seq = d->seq;
    }
    pos += d->length;
  }
  if (last_seq != nullptr) *last_seq = seq;
  return pos;
}

// ---- checkpoints -----------------------------------------------------------------------

std::string encode_checkpoint(const folder_state& s, uint64_t seq) {
  std::string out(kCheckpointMagic, sizeof kCheckpointMagic);
  writer w(out);
  w.u64(seq);
  w.u32(s.uid_validity);
  w.u32(s.uid_next);
  w.u64(s.highest_modseq);
  w.str(s.mailbox_guid);
  w.u32(s.dovecot_uidlist_next);
  w.u64(static_cast<uint64_t>(s.new_mtime_ns));
  w.u64(static_cast<uint64_t>(s.cur_mtime_ns));
  w.u32(static_cast<uint32_t>(s.messages.size()));
  w.u32(static_cast<uint32_t>(s.unseen()));
  w.u64(s.total_vsize());
  w.u64(s.total_size());
  w.u32(crc_of(out));  // the header's own checksum (decode_checkpoint_summary)
  w.u32(static_cast<uint32_t>(s.keywords.size()));
  for (const auto& k : s.keywords) w.str(k);
  w.u32(static_cast<uint32_t>(s.expunged.size()));
  for (const auto& [uid, modseq] : s.expunged) {
    w.u32(uid);
    w.u64(modseq);
  }
  w.u32(static_cast<uint32_t>(s.messages.size()));
  for (const auto& m : s.messages) put_message(w, m);
  w.u32(crc_of(out));
  return out;
}

absl::StatusOr<decoded_checkpoint> decode_checkpoint(std::string_view in) {
  if (in.size() < sizeof kCheckpointMagic + 4 || std::memcmp(in.data(), kCheckpointMagic, sizeof kCheckpointMagic) != 0) {
    return absl::DataLossError("index checkpoint: bad magic or too short");
  }
  std::string_view body = in.substr(0, in.size() - 4);
  reader tail(in.substr(in.size() - 4));
  if (tail.u32() != crc_of(body)) return absl::DataLossError("index checkpoint: checksum mismatch");
  reader r(body.substr(sizeof kCheckpointMagic));
  decoded_checkpoint d;
  folder_state& s = d.state;
  d.seq = r.u64();
  s.uid_validity = r.u32();
  s.uid_next = r.u32();
  s.highest_modseq = r.u64();
  s.mailbox_guid = r.str(64);
  s.dovecot_uidlist_next = r.u32();
  s.new_mtime_ns = static_cast<int64_t>(r.u64());
  s.cur_mtime_ns = static_cast<int64_t>(r.u64());
  r.u32();  // messages, unseen, vsize, size: derived, for the summary reader
  r.u32();
  r.u64();
  r.u64();
  r.u32();  // header checksum (the whole-file checksum above covers it)
  const uint32_t keywords = r.u32();
  if (keywords > kMaxKeywords) return absl::DataLossError("index checkpoint: too many keywords");
  for (uint32_t i = 0; i < keywords && r.ok(); ++i) s.keywords.push_back(r.str(kMaxKeywordLength));
  const uint32_t expunged = r.u32();
  if (expunged > kMaxExpungedKept) return absl::DataLossError("index checkpoint: expunge history too long");
  for (uint32_t i = 0; i < expunged && r.ok(); ++i) {
    uint32_t uid = r.u32();
    uint64_t modseq = r.u64();
    s.expunged.emplace_back(uid, modseq);
  }
  const uint32_t count = r.u32();
  // Each record takes at least 50 bytes: a count larger than the file allows is damage.
  if (count > body.size() / 50 + 1) return absl::DataLossError("index checkpoint: message count too large");
  s.messages.reserve(count);
  for (uint32_t i = 0; i < count && r.ok(); ++i) {
    s.messages.push_back(get_message(r));
    const auto& m = s.messages.back();
    if (m.uid == 0 || m.uid >= s.uid_next || (i > 0 && m.uid <= s.messages[i - 1].uid)) {
      return absl::DataLossError("index checkpoint: UIDs out of order");
    }
  }
  if (!r.ok() || !r.at_end()) return absl::DataLossError("index checkpoint: truncated or trailing bytes");
  return d;
}

absl::StatusOr<checkpoint_summary> decode_checkpoint_summary(std::string_view in) {
  if (in.size() < sizeof kCheckpointMagic || std::memcmp(in.data(), kCheckpointMagic, sizeof kCheckpointMagic) != 0) {
    return absl::DataLossError("index checkpoint: bad magic or too short");
  }
  reader r(in.substr(sizeof kCheckpointMagic));
  checkpoint_summary c;
  c.seq = r.u64();
  c.uid_validity = r.u32();
  c.uid_next = r.u32();
  c.highest_modseq = r.u64();
  c.mailbox_guid = r.str(64);
  r.u32();  // dovecot_uidlist_next
  c.new_mtime_ns = static_cast<int64_t>(r.u64());
  c.cur_mtime_ns = static_cast<int64_t>(r.u64());
  c.messages = r.u32();
  c.unseen = r.u32();
  c.vsize = r.u64();
  c.size = r.u64();
  if (!r.ok()) return absl::DataLossError("index checkpoint: header truncated");
  const size_t header_bytes = in.size() - r.remaining();
  const uint32_t crc = r.u32();
  if (!r.ok() || crc != crc_of(in.substr(0, header_bytes))) {
    return absl::DataLossError("index checkpoint: header checksum mismatch");
  }
  return c;
}

}  // namespace ringmail::mailstore
