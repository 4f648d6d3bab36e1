#include "tools/ringmail-load/message_source.h"

#include <time.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace ringmail::load {
namespace {

// Bodies are drawn from this many distinct generated texts, one per message in turn.
constexpr size_t kGeneratedVariants = 8;
// RFC 5322 section 2.1.1: lines SHOULD be at most 78 characters, excluding the CRLF.
constexpr size_t kMaxLine = 78;

// ASCII case-insensitive comparison (Debian's abseil takes its own string_view type).
bool equals_ignore_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (absl::ascii_tolower(static_cast<unsigned char>(a[i])) != absl::ascii_tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// True if `line` is a header field named Message-ID (RFC 5322 section 3.6.4), which
// field names compare without regard to case; a space before the colon is obsolete
// syntax (section 4.5) but still seen.
bool is_message_id_field(std::string_view line) {
  constexpr std::string_view kName = "message-id";
  if (line.size() < kName.size() || !equals_ignore_case(line.substr(0, kName.size()), kName)) return false;
  size_t i = kName.size();
  while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
  return i < line.size() && line[i] == ':';
}

// Appends `text` in wire form to `out`: each line (ended by CRLF, LF or a lone CR, or by
// the end of the text) is dot-stuffed and ended with CRLF. With rename_message_id, any
// Message-ID field in the header section (up to the first empty line) is renamed.
void append_wire(std::string_view text, bool rename_message_id, std::string& out) {
  out.reserve(out.size() + text.size() + text.size() / 32 + 2);
  bool in_headers = rename_message_id;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find_first_of("\r\n", pos);
    std::string_view line = text.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    if (end == std::string_view::npos) {
      pos = text.size();
    } else if (text[end] == '\r' && end + 1 < text.size() && text[end + 1] == '\n') {
      pos = end + 2;
    } else {
      pos = end + 1;
    }
    if (in_headers) {
      if (line.empty()) {
        in_headers = false;
      } else if (is_message_id_field(line)) {
        out.append("X-Original-");
      }
    }
    if (!line.empty() && line.front() == '.') out.push_back('.');
    out.append(line);
    out.append("\r\n");
  }
}

constexpr std::array<std::string_view, 48> kWords = {
    "mail",    "server", "queue",   "message", "deliver", "shard",   "ring",     "kernel",
    "socket",  "buffer", "header",  "body",    "folder",  "inbox",   "archive",  "sender",
    "reply",   "thread", "latency", "through", "put",     "storage", "journal",  "index",
    "lorem",   "ipsum",  "dolor",   "sit",     "amet",    "tempor",  "magna",    "aliqua",
    "veniam",  "nostrud", "ullamco", "laboris", "nisi",   "commodo", "consequat", "duis",
    "aute",    "irure",  "in",      "reprehenderit", "voluptate", "velit", "esse", "cillum",
};

}  // namespace

std::string to_wire(std::string_view text) {
  std::string out;
  append_wire(text, false, out);
  return out;
}

std::string prepare_file_message(std::string_view raw) {
  // An mbox envelope line ("From sender date") is not part of the message (RFC 4155).
  if (raw.substr(0, 5) == "From ") {
    size_t nl = raw.find('\n');
    raw = nl == std::string_view::npos ? std::string_view() : raw.substr(nl + 1);
  }
  std::string out;
  append_wire(raw, true, out);
  return out;
}

std::string generate_body(size_t size, uint64_t seed) {
  if (size == 1) size = 2;  // the smallest body that still ends with CRLF
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<size_t> line_length(50, kMaxLine - 2);
  std::uniform_int_distribution<size_t> word(0, kWords.size() - 1);
  std::string out;
  out.reserve(size);
  while (out.size() < size) {
    size_t remaining = size - out.size();
    size_t len = std::min(line_length(rng), remaining - 2);
    // Never leave a single byte over: it could not be a line of its own.
    if (remaining - len - 2 == 1) --len;
    size_t start = out.size();
    while (out.size() - start < len) {
      if (out.size() > start) out.push_back(' ');
      out.append(kWords[word(rng)]);
    }
    out.resize(start + len);
    if (len > 0 && out.back() == ' ') out.back() = 'x';
    out.append("\r\n");
  }
  return out;
}

message_source message_source::generated(size_t body_size, uint64_t seed) {
  message_source s;
  s.generated_ = true;
  for (size_t i = 0; i < kGeneratedVariants; ++i) {
    s.items_.push_back({generate_body(body_size, seed * kGeneratedVariants + i), false});
  }
  return s;
}

absl::StatusOr<message_source> message_source::from_directory(const std::string& dir, uint64_t seed) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<fs::path> paths;
  fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("cannot read ", dir, ": ", ec.message()));
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) return absl::InvalidArgumentError(absl::StrCat("cannot walk ", dir, ": ", ec.message()));
    if (it->is_regular_file(ec)) paths.push_back(it->path());
  }
  if (paths.empty()) return absl::InvalidArgumentError(absl::StrCat("no files under ", dir));
  // A fixed order for a given seed, whatever order the directory lists in.
  std::sort(paths.begin(), paths.end());
  std::mt19937_64 rng(seed);
  std::shuffle(paths.begin(), paths.end(), rng);

  message_source s;
  s.items_.reserve(paths.size());
  for (const fs::path& p : paths) {
    std::ifstream in(p, std::ios::binary);
    if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot open ", p.string()));
    std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    item m;
    m.eight_bit = std::any_of(raw.begin(), raw.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
    m.wire = prepare_file_message(raw);
    s.items_.push_back(std::move(m));
  }
  return s;
}

uint64_t message_source::total_bytes() const {
  uint64_t n = 0;
  for (const item& m : items_) n += m.wire.size();
  return n;
}

message_info message_source::render(uint64_t index, std::string_view message_id, std::string_view from,
                                    std::span<const std::string> recipients, std::string_view date,
                                    std::string& out) const {
  const item& m = items_[index % items_.size()];
  if (!generated_) {
    out.append("Message-ID: ").append(message_id).append("\r\n");
    out.append(m.wire);
    return {m.eight_bit};
  }
  out.append("From: <").append(from).append(">\r\nTo: ");
  for (size_t i = 0; i < recipients.size(); ++i) {
    // One address per line keeps the field within 78 characters (RFC 5322 section 2.2.3).
    out.append(i == 0 ? "<" : ",\r\n <").append(recipients[i]).append(">");
  }
  absl::StrAppend(&out, "\r\nSubject: ringmail-load message ", index);
  out.append("\r\nDate: ").append(date).append("\r\nMessage-ID: ").append(message_id).append("\r\n\r\n");
  out.append(m.wire);
  return {m.eight_bit};
}

}  // namespace ringmail::load
