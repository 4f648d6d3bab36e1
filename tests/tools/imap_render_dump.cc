// imap_render_dump FILE...: for each message file, the FETCH items the Dovecot
// differential (imap_render_diff.py) compares, rendered by protocols/imap/message_render.h
// as a FETCH response would carry them. Offline test helper: blocking reads are fine.
//
// Output, per file and item, binary-safe (literals carry CRLF):
//   <file>\t<item>\t<length>\n<length bytes>\n
// where the bytes are "ENVELOPE (...)", "BODY[HEADER] {n}\r\n...", "BINARY.SIZE[1] n", ...
// An item the renderer refuses (missing part, unknown encoding) has the bytes "NO".
// The file bytes go through to_crlf() once, as the server does.
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>

#include "mail/charset.h"
#include "mail/message.h"
#include "protocols/imap/message_render.h"

namespace {

using ringmail::imap::section_result;
using ringmail::imap::section_spec;

void emit(const std::string& file, const std::string& item, const std::string& bytes) {
  std::cout << file << '\t' << item << '\t' << bytes.size() << '\n' << bytes << '\n';
}

std::string literal(const std::string& name, const section_result& r) {
  // A section that does not exist: Dovecot answers an empty string, and so will the
  // session (RFC 9051 6.4.5 leaves it open).
  if (r.st == section_result::status::missing) return name + " {0}\r\n";
  if (r.st != section_result::status::ok) return "NO";
  return name + " {" + std::to_string(r.bytes.size()) + "}\r\n" + r.bytes;
}

}  // namespace

int main(int argc, char** argv) {
  ringmail::mail::charset_converter charsets;
  for (int i = 1; i < argc; ++i) {
    std::string file = argv[i];
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      std::cerr << "imap_render_dump: cannot read " << file << '\n';
      return 1;
    }
    std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::string bytes = ringmail::imap::to_crlf(raw);
    ringmail::mail::message m = ringmail::mail::parse_message(bytes, charsets);
    emit(file, "ENVELOPE", "ENVELOPE " + ringmail::imap::render_envelope(m));
    emit(file, "BODYSTRUCTURE", "BODYSTRUCTURE " + ringmail::imap::render_body_structure(m, true));
    emit(file, "BODY", "BODY " + ringmail::imap::render_body_structure(m, false));
    section_spec header;
    header.k = section_spec::kind::header;
    emit(file, "BODY[HEADER]", literal("BODY[HEADER]", ringmail::imap::render_section(m, header, false)));
    section_spec text;
    text.k = section_spec::kind::text;
    emit(file, "BODY[TEXT]", literal("BODY[TEXT]", ringmail::imap::render_section(m, text, false)));
    section_spec mime;
    mime.part = {1};
    mime.k = section_spec::kind::mime;
    emit(file, "BODY[1.MIME]", literal("BODY[1.MIME]", ringmail::imap::render_section(m, mime, false)));
    auto size = ringmail::imap::binary_size(m, {1});
    emit(file, "BINARY.SIZE[1]", size ? "BINARY.SIZE[1] " + std::to_string(*size) : "NO");
  }
  return 0;
}
