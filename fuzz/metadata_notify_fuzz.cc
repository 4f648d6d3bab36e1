// Drives METADATA's store file (delivery/mailstore/metadata_format.h) and the GETMETADATA /
// SETMETADATA / NOTIFY argument parsers (protocols/imap/metadata_parser.cc,
// notify_parser.cc). The first input byte picks:
//   0: parse_metadata on arbitrary bytes; what parses formats back to itself, and any
//      strict prefix of that is refused (a torn file is never read as some entries);
//   1: changes built from the input applied to a set: all or nothing, limits kept, names
//      valid and canonical, and the file of the result parses back to it;
//   2-3: "t GETMETADATA " / "t SETMETADATA " + input through parse_command: accepted
//      entry names are valid, DEPTH is 0/1/-1;
//   4: "t NOTIFY " + input: section 5's pairing rules hold in every accepted group.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "delivery/mailstore/metadata_format.h"
#include "protocols/imap/command.h"

using namespace ringmail;
using namespace ringmail::mailstore;

#define CHECK(cond) \
  do {              \
    if (!(cond)) abort(); \
  } while (0)

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 5) {
    case 0: {
      auto e = parse_metadata(in);
      if (!e.ok()) break;
      const std::string file = format_metadata(*e);
      if (!in.empty()) CHECK(file == in);
      for (size_t n = 1; n < file.size(); n += 1 + file.size() / 64) CHECK(!parse_metadata(file.substr(0, n)).ok());
      break;
    }
    case 1: {
      // Lines "name=value" (value "-" = NIL) make the changes; small limits so they bite.
      metadata_entries e;
      std::vector<metadata_change> changes;
      size_t pos = 0;
      while (pos < in.size()) {
        size_t end = in.find('\n', pos);
        if (end == std::string_view::npos) end = in.size();
        std::string_view line = in.substr(pos, end - pos);
        pos = end + 1;
        size_t eq = line.find('=');
        if (eq == std::string_view::npos) continue;
        metadata_change c{std::string(line.substr(0, eq)), std::string(line.substr(eq + 1))};
        if (*c.value == "-") c.value.reset();
        changes.push_back(std::move(c));
      }
      const metadata_entries before = e;
      absl::Status st = apply_metadata_changes(e, changes, 16, 8);
      if (!st.ok()) {
        CHECK(e == before);
        break;
      }
      CHECK(e.size() <= 8);
      for (const auto& [name, value] : e) {
        CHECK(valid_metadata_name(name));
        CHECK(canonical_metadata_name(name) == name);
        CHECK(value.size() <= 16);
      }
      auto back = parse_metadata(format_metadata(e));
      CHECK(back.ok() && *back == e);
      break;
    }
    case 2:
    case 3: {
      std::string line = (data[0] % 5 == 2 ? "t GETMETADATA " : "t SETMETADATA ") + std::string(in);
      imap::parse_result r = imap::parse_command(line);
      if (!r.cmd) break;
      for (const auto& name : r.cmd->metadata.entries) CHECK(valid_metadata_name(name));
      for (const auto& [name, value] : r.cmd->metadata.values) CHECK(valid_metadata_name(name));
      CHECK(r.cmd->metadata.depth == 0 || r.cmd->metadata.depth == 1 || r.cmd->metadata.depth == -1);
      break;
    }
    case 4: {
      imap::parse_result r = imap::parse_command("t NOTIFY " + std::string(in));
      if (!r.cmd) break;
      CHECK(r.cmd->notify.none != !r.cmd->notify.groups.empty());
      for (const auto& g : r.cmd->notify.groups) {
        const bool n = g.events & imap::notify_group::message_new;
        const bool x = g.events & imap::notify_group::message_expunge;
        CHECK(n == x);
        if (g.events & (imap::notify_group::flag_change | imap::notify_group::annotation_change)) CHECK(n);
        CHECK(g.fetch.empty() || n);
      }
      break;
    }
  }
  return 0;
}
