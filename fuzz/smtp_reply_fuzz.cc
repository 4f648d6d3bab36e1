// Fuzzes the SMTP client's pure parts (delivery/relay/smtp_reply.h, dot_stuffer.h): the
// input's lines go through reply_assembler and every complete reply through
// parse_extensions, describe() and classify(); the input is also dot-stuffed split at a
// point taken from its first byte, which must give the same bytes as stuffing it whole,
// and un-stuffing the result must give the input back with line breaks as CRLF.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "delivery/relay/dot_stuffer.h"
#include "delivery/relay/smtp_reply.h"

namespace {

using namespace ringmail::relay;

void check(bool ok) {
  if (!ok) std::abort();
}

// Inverse of dot-stuffing for a payload that ends in CRLF "." CRLF.
std::string unstuff(std::string_view payload) {
  check(payload.ends_with(".\r\n"));
  payload.remove_suffix(3);
  std::string out;
  bool line_start = true;
  for (char c : payload) {
    if (line_start && c == '.') {
      line_start = false;
      continue;  // the added dot (a stuffed line starts with "..")
    }
    out.push_back(c);
    line_start = c == '\n';
  }
  return out;
}

// The input with every CR, LF or CRLF as CRLF, and a final CRLF if it has content.
std::string normalise(std::string_view in) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '\r' || in[i] == '\n') {
      out.append("\r\n");
      if (in[i] == '\r' && i + 1 < in.size() && in[i + 1] == '\n') ++i;
    } else {
      out.push_back(in[i]);
    }
  }
  if (!out.empty() && !out.ends_with("\r\n")) out.append("\r\n");
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);

  reply_assembler a;
  size_t pos = 0;
  while (pos < in.size()) {
    size_t nl = in.find('\n', pos);
    std::string_view line = in.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos + 1);
    pos += line.size();
    auto st = a.add(line);
    if (st == reply_assembler::status::error) break;
    if (st == reply_assembler::status::complete) {
      const smtp_reply& r = a.reply();
      check(r.code >= 200 && r.code <= 599);
      check(!r.enhanced.present() || r.enhanced.klass == r.code / 100);
      extensions e = parse_extensions(r);
      for (const std::string& m : e.auth) check(e.offers_auth(m));
      (void)r.describe();
      (void)disposition_name(classify(r));
    }
  }
  (void)parse_enhanced_status(in);

  const std::string whole = dot_stuff(in);
  size_t cut = in.empty() ? 0 : static_cast<unsigned char>(in[0]) % (in.size() + 1);
  std::string split;
  dot_stuffer s;
  s.append(in.substr(0, cut), split);
  s.append(in.substr(cut), split);
  s.finish(split);
  check(split == whole);
  check(unstuff(whole) == normalise(in));
  return 0;
}
