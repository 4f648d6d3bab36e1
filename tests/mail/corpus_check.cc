// Corpus checker for the message model: parses and renders every message it is given and
// checks the invariants that must hold for any input. Not a gtest: the corpus is large
// and optional, so the lead runs it by hand or from a test that skips when it is absent,
// typically under ASan/UBSan:
//
//   corpus_check /work/corpus/package/data/easy-ham-1 more/dirs file.eml ...
//
// Directories are walked recursively; files named *.txt or without an extension are
// read (the SpamAssassin corpus keeps *.json metadata beside each message). Prints the
// counts and exits 1 when any message breaks an invariant (each one is reported).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "mail/charset.h"
#include "mail/encoding.h"
#include "mail/limits.h"
#include "mail/message.h"
#include "mail/message_text.h"

namespace {

namespace fs = std::filesystem;
using namespace ringmail::mail;

struct totals {
  size_t files = 0;
  size_t parts = 0;
  size_t truncated = 0;
  size_t bytes = 0;
  size_t missing_boundaries = 0;
  size_t text_parts = 0;
  size_t html_parts = 0;
  size_t uris = 0;
  size_t failures = 0;
};

bool inside(std::string_view outer, std::string_view inner) {
  return inner.data() >= outer.data() &&
         inner.data() + inner.size() <= outer.data() + outer.size();
}

// Returns the broken invariants of one message, empty when it is consistent.
std::vector<std::string> check_message(std::string_view bytes, charset_converter& charsets,
                                       totals& t) {
  std::vector<std::string> problems;
  auto expect = [&](bool ok, std::string what) {
    if (!ok) problems.push_back(std::move(what));
  };
  message m = parse_message(bytes, charsets);
  expect(!m.parts.empty(), "no root part");
  if (m.parts.empty()) return problems;
  expect(m.parts.size() <= max_mime_parts, "more parts than max_mime_parts");
  expect(m.parts[0].bytes.data() == bytes.data(), "root does not start the message");
  for (size_t i = 0; i < m.parts.size(); ++i) {
    const mime_part& p = m.parts[i];
    std::string at = " (part " + std::to_string(i) + ")";
    expect(inside(bytes, p.bytes), "part bytes outside the message" + at);
    expect(inside(p.bytes, p.body), "body outside its part" + at);
    expect(p.depth <= max_mime_depth, "deeper than max_mime_depth" + at);
    expect(p.headers.fields.size() <= max_header_fields, "too many header fields" + at);
    for (const header_field& f : p.headers.fields) {
      expect(inside(bytes, f.name) && inside(bytes, f.value), "header view outside" + at);
      expect(!f.name.empty(), "empty field name" + at);
    }
    if (i == 0) {
      expect(p.parent == no_part, "root has a parent");
    } else {
      expect(p.parent < i, "not pre-order" + at);
      if (p.parent < i) {
        expect(p.depth == m.parts[p.parent].depth + 1, "depth" + at);
        expect(inside(m.parts[p.parent].bytes, p.bytes), "part outside its parent" + at);
      }
    }
    for (uint32_t c : p.children) {
      expect(c < m.parts.size() && m.parts[c].parent == i, "child link" + at);
    }
    decode_stats stats;
    std::string decoded = decode_body(p, max_text_part_bytes, &stats);
    expect(decoded.size() <= max_text_part_bytes, "decode_body over its cap" + at);
    expect(p.transfer_encoding.find_first_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ \t") ==
               std::string::npos,
           "transfer encoding not lower-case and trimmed" + at);
  }

  message_text text = render_text(m, charsets);
  expect(is_valid_utf8(text.body), "body not valid UTF-8");
  expect(text.body.size() <= max_rendered_text_bytes + max_header_field_bytes + 1,
         "body over max_rendered_text_bytes");
  expect(text.raw_body.size() <= max_rendered_text_bytes, "raw_body over its cap");
  expect(text.uris.size() <= max_uris, "more than max_uris");
  expect(text.full.data() == bytes.data() && text.full.size() == bytes.size(), "full");
  expect(text.headers.size() == m.headers().fields.size(), "header count");
  for (const text_header& h : text.headers) {
    expect(is_valid_utf8(h.decoded), "decoded header not UTF-8");
    expect(inside(bytes, h.raw), "raw header outside");
  }
  for (const text_header& h : text.mime_headers) {
    expect(is_valid_utf8(h.decoded), "decoded MIME header not UTF-8");
  }
  for (const std::string& u : text.uris) expect(!u.empty(), "empty URI");
  expect(!m.truncated || text.truncated, "message truncated but text not");

  t.parts += m.parts.size();
  t.truncated += text.truncated ? 1 : 0;
  t.missing_boundaries += m.missing_boundaries;
  t.text_parts += text.text_parts;
  t.html_parts += text.html_parts;
  t.uris += text.uris.size();
  return problems;
}

bool wanted(const fs::path& p) {
  std::string ext = p.extension().string();
  return ext.empty() || ext == ".txt";
}

void check_file(const fs::path& path, charset_converter& charsets, totals& t) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "%s: cannot read\n", path.c_str());
    ++t.failures;
    return;
  }
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ++t.files;
  t.bytes += bytes.size();
  for (const std::string& problem : check_message(bytes, charsets, t)) {
    std::fprintf(stderr, "%s: %s\n", path.c_str(), problem.c_str());
    ++t.failures;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <file or directory>...\n", argv[0]);
    return 2;
  }
  charset_converter charsets;
  totals t;
  auto started = std::chrono::steady_clock::now();
  for (int i = 1; i < argc; ++i) {
    fs::path arg(argv[i]);
    std::error_code ec;
    if (fs::is_directory(arg, ec)) {
      std::vector<fs::path> files;
      for (const auto& entry : fs::recursive_directory_iterator(arg, ec)) {
        if (entry.is_regular_file() && wanted(entry.path())) files.push_back(entry.path());
      }
      std::sort(files.begin(), files.end());
      for (const fs::path& f : files) check_file(f, charsets, t);
    } else {
      check_file(arg, charsets, t);
    }
  }
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf(
      "files=%zu parts=%zu truncated=%zu bytes=%zu missing_boundaries=%zu text_parts=%zu "
      "html_parts=%zu uris=%zu failures=%zu seconds=%.2f\n",
      t.files, t.parts, t.truncated, t.bytes, t.missing_boundaries, t.text_parts, t.html_parts,
      t.uris, t.failures, seconds);
  return t.failures == 0 ? 0 : 1;
}
