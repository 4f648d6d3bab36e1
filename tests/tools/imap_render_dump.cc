// imap_render_dump FILE...: for each message file, the FETCH items the Dovecot
// differential (imap_render_diff.py) compares, rendered by protocols/imap/message_render.h
// as a FETCH response would carry them. Offline test helper: blocking reads are fine.
//
// Output, per file and item, binary-safe (literals carry CRLF):
//   <file>\t<item>\t<length>\n<length bytes>\n
// where the bytes are "ENVELOPE (...)", "BODY[HEADER] {n}\r\n...", "BINARY.SIZE[1] n", ...
// An item the renderer refuses (missing part, unknown encoding) has the bytes "NO".
// Two more items are not compared but let the script tell why BINARY.SIZE[1] differs:
// "BODY[1] {n}\r\n..." (the raw part) and "PART1 <type>/<subtype> broken=<n>", n being
// the number of base64/quoted-printable leaves in part 1's subtree that a strict decoder
// refuses (invalid characters or a truncated quantum/escape, which our lenient decoder
// counts, and what breaks_strict_decoding() looks for).
// Messages are parsed with boundary_rule::rfc2046, as the IMAP session does.
// The file bytes go through to_crlf() once, as the server does.
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>

#include "mail/charset.h"
#include "mail/encoding.h"
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

// What our decoder reads without counting it but Dovecot's refuses (qp-decoder.c,
// base64.c): a CR that does not start a CRLF in quoted-printable (RFC 2045 6.7 allows CR
// only in line breaks), and base64 text after the "=" padding (a second base64 stream
// pasted after the first; ours stops at the padding, RFC 2045 6.8).
bool breaks_strict_decoding(const ringmail::mail::mime_part& p) {
  std::string_view b = p.body;
  if (p.transfer_encoding == "quoted-printable") {
    for (size_t i = 0; i < b.size(); ++i) {
      if (b[i] == '\r' && (i + 1 == b.size() || b[i + 1] != '\n')) return true;
    }
  } else if (p.transfer_encoding == "base64") {
    size_t pad = b.find('=');
    if (pad == std::string_view::npos) return false;
    for (size_t i = pad; i < b.size(); ++i) {
      char c = b[i];
      if (c != '=' && c != '\r' && c != '\n' && c != ' ' && c != '\t') return true;
    }
  }
  return false;
}

// Part 1 as IMAP numbers it (the root's first child, or the root of a non-multipart),
// described for the script: its type and how many encoded leaves under it are broken.
std::string part1_facts(const ringmail::mail::message& m) {
  using ringmail::mail::mime_part;
  uint32_t first = 0;
  if (m.parts[0].type.is_multipart()) {
    if (m.parts[0].children.empty()) return "none broken=0";
    first = m.parts[0].children[0];
  }
  const mime_part& p1 = m.parts[first];
  int broken = 0;
  for (size_t i = first; i < m.parts.size(); ++i) {
    const mime_part& p = m.parts[i];
    if (i != first && p.depth <= p1.depth) break;  // pre-order: the subtree has ended
    if (!p.children.empty()) continue;
    ringmail::mail::decode_stats stats;
    std::string out;
    if (p.transfer_encoding == "base64") {
      ringmail::mail::decode_base64(p.body, out, &stats);
    } else if (p.transfer_encoding == "quoted-printable") {
      ringmail::mail::decode_quoted_printable(p.body, out, &stats);
    }
    if (stats.invalid > 0 || stats.truncated || breaks_strict_decoding(p)) ++broken;
  }
  return p1.type.type + "/" + p1.type.subtype + " broken=" + std::to_string(broken);
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
    ringmail::mail::message m = ringmail::mail::parse_message(
        bytes, charsets, {.boundaries = ringmail::mail::boundary_rule::rfc2046});
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
    section_spec one;
    one.part = {1};
    emit(file, "BODY[1]", literal("BODY[1]", ringmail::imap::render_section(m, one, false)));
    emit(file, "PART1", part1_facts(m));
  }
  return 0;
}
