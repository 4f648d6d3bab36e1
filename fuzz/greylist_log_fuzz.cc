// spam/greylist_log.h: the greylist journal's reader on arbitrary bytes. The first byte
// picks the use: the raw bytes as a whole journal, or the rest made the body of a line
// with a valid checksum, so the field parsers behind the checksum (times, the passed
// flag, %XX escapes) see hostile bytes too. Whatever parses must encode back to exactly
// the same line (one spelling per record), a journal's valid records plus its skipped
// lines account for every line, and no strict prefix of a line is a valid record.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "runtime/fnv1a.h"
#include "spam/greylist_log.h"

namespace {

using namespace ringmail::spam;

void check_line(std::string_view line) {
  auto r = parse_greylist_line(line);
  if (!r) return;
  std::string again;
  append_greylist_record(again, r->key, r->entry);
  if (again != std::string(line) + "\n") std::abort();
  for (size_t cut : {size_t{1}, line.size() / 2, line.size() - 1}) {
    if (cut < line.size() && parse_greylist_line(line.substr(0, cut))) std::abort();
  }
}

void check_log(std::string_view bytes) {
  size_t seen = 0;
  const greylist_log_stats s = parse_greylist_log(bytes, [&](greylist_record&& r) {
    std::string line;
    append_greylist_record(line, r.key, r.entry);
    if (!parse_greylist_line(std::string_view(line).substr(0, line.size() - 1))) std::abort();
    ++seen;
  });
  if (s.records != seen) std::abort();
  size_t lines = 0;
  for (char c : bytes) lines += c == '\n';
  const bool torn = !bytes.empty() && bytes.back() != '\n';
  if (s.records + s.skipped != lines + (torn ? 1 : 0)) std::abort();
  size_t start = 0;
  for (size_t nl = bytes.find('\n'); nl != std::string_view::npos; nl = bytes.find('\n', start)) {
    check_line(bytes.substr(start, nl - start));
    start = nl + 1;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    check_log(in);
  } else {
    std::string body = "g1 " + std::string(in);
    if (body.find('\n') != std::string::npos) return 0;
    body += " ";
    char sum[17];
    std::snprintf(sum, sizeof sum, "%016llx", static_cast<unsigned long long>(ringmail::fnv1a64(body)));
    check_line(body + sum);
  }
  return 0;
}
