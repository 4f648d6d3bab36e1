// The record format of the greylist journal (<data_dir>/greylist/shard-N.log): one line
// per change of a triplet, appended in the order the shard made the changes.
//
//   g1 <first_seen_ms> <last_seen_ms> <0|1 passed> <key> <fnv1a64 of the rest, 16 hex>\n
//
// Times are Unix milliseconds. The key is the table key (greylist.h) with '%', bytes
// below 0x21 and 0x7f written as %XX, so a line has no spaces inside fields and no line
// break. The checksum catches what a crash or a stray write leaves behind: a torn last
// line, a line glued to the next one, garbage. Such lines are skipped and counted, never
// fatal: losing one triplet costs its sender one more retry.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "spam/greylist.h"

namespace ringmail::spam {

struct greylist_record {
  std::string key;
  greylist_entry entry;
};

// Longest line the reader accepts: keys are bounded by the SMTP path limits (RFC 5321
// 4.5.3.1.3: 256 octets each), so anything near this is garbage, and a bound keeps a
// corrupt file from making one giant key.
inline constexpr size_t kGreylistMaxLine = 2048;

// Appends the record's line (with its '\n') to `out`.
void append_greylist_record(std::string& out, std::string_view key, const greylist_entry& e);

// One line without its '\n'; nullopt when it is not a valid record.
std::optional<greylist_record> parse_greylist_line(std::string_view line);

struct greylist_log_stats {
  size_t records = 0;  // valid records handed to the callback
  size_t skipped = 0;  // lines that were not (garbage, bad checksum, too long, torn tail)
};

// Reads a whole journal: calls `fn` for each valid record, in file order. A last line
// without '\n' is a torn write and is skipped.
greylist_log_stats parse_greylist_log(std::string_view bytes, const std::function<void(greylist_record&&)>& fn);

}  // namespace ringmail::spam
