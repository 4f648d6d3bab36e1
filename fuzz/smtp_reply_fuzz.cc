// Fuzzes the SMTP client's reply parser (delivery/relay/smtp_reply.h): the input's lines go
// through reply_assembler and every complete reply through parse_extensions, describe()
// and classify(). (Its dot-stuffing is mail/dot_stuffing: fuzz/dot_stuffing_fuzz.cc.)
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "delivery/relay/smtp_reply.h"

namespace {

using namespace ringmail::relay;

void check(bool ok) {
  if (!ok) std::abort();
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

  return 0;
}
