// GETMETADATA and SETMETADATA (RFC 5464), over the mail store's per-folder entries
// (delivery/mailstore/metadata_store.h). The session side: names, DEPTH, MAXSIZE, and
// the response codes; the entries themselves are read and replaced on the owner shard.
//
// As Dovecot 2.3 (cmd-getmetadata.c), which clients of both see alike:
//   - one "* METADATA mbox (entry value ...)" response per command, entries lower-cased;
//   - an entry asked for by name that has no value is returned as "entry NIL" (DEPTH 0);
//     with DEPTH 1 / infinity only the entries that have values, the root included;
//   - values above MAXSIZE are left out and the tagged OK carries
//     "[METADATA LONGENTRIES n]", n the largest left out (section 4.2.1);
//   - no response at all when nothing is returned.
// SETMETADATA: all or nothing (section 4.3); a value above kMaxMetadataValueBytes gets
// "NO [METADATA MAXSIZE n]", more than kMaxMetadataEntries entries "NO [METADATA
// TOOMANY]". "[METADATA NOPRIVATE]" is never sent: /private is always stored.
// Departure: "/shared/admin" of the server (section 3.2.1) is not answered, as no
// administrator address is configured for IMAP; a client may not set it either
// (server entries under /shared/admin are read-only).
#include "absl/strings/str_cat.h"
#include "delivery/mailstore/metadata_format.h"
#include "protocols/imap/message_render.h"
#include "protocols/imap/session_impl.h"

namespace ringmail::imap {

namespace {

// The children of `root` in `entries` at DEPTH `depth` (1 or -1 = infinity), in order.
std::vector<const std::pair<const std::string, std::string>*> children(const mailstore::metadata_entries& entries,
                                                                       const std::string& root, int depth) {
  std::vector<const std::pair<const std::string, std::string>*> out;
  const std::string prefix = root + "/";
  for (auto it = entries.lower_bound(prefix); it != entries.end() && it->first.starts_with(prefix); ++it) {
    if (depth == 1 && it->first.find('/', prefix.size()) != std::string::npos) continue;
    out.push_back(&*it);
  }
  return out;
}

// astring as Dovecot writes it (imap_append_astring): an atom when the name is one
// ("" and NIL quoted).
void append_astring(std::string& out, const std::string& s) {
  bool atom = !s.empty() && s != "NIL";
  for (unsigned char ch : s) {
    atom = atom && ch > 0x20 && ch < 0x7f && ch != '(' && ch != ')' && ch != '{' && ch != '%' && ch != '*' &&
           ch != '"' && ch != '\\' && ch != ']';
  }
  if (atom) {
    out += s;
  } else {
    append_string(out, s);
  }
}

}  // namespace

task<void> imap_session::on_getmetadata(const command& c) {
  std::string name;
  if (!c.mailbox.empty()) {
    std::optional<std::string> n = store_name(c, c.mailbox);
    if (!n) co_return;
    name = *std::move(n);
  }
  auto get = [name](mailstore::mailbox& box) { return box.metadata(name); };
  auto hop = on_mailbox(std::move(get));
  absl::StatusOr<mailstore::metadata_entries> entries = co_await std::move(hop);
  if (!entries.ok()) {
    no(c, entries.status().code() == absl::StatusCode::kNotFound
              ? std::string("[NONEXISTENT] Mailbox doesn't exist")
              : absl::StrCat("[SERVERBUG] ", entries.status().message()));
    co_return;
  }
  const uint32_t maxsize = c.metadata.maxsize.value_or(UINT32_MAX);
  uint64_t longest_left_out = 0;
  std::string items;
  std::vector<std::string> seen;  // each entry once, even if asked for twice
  auto add = [&](const std::string& entry, const std::string* value) {
    if (std::find(seen.begin(), seen.end(), entry) != seen.end()) return;
    seen.push_back(entry);
    if (value != nullptr && value->size() > maxsize) {
      longest_left_out = std::max<uint64_t>(longest_left_out, value->size());
      return;
    }
    if (!items.empty()) items += ' ';
    append_astring(items, entry);
    items += ' ';
    if (value == nullptr) {
      items += "NIL";
    } else if (value->find('\0') != std::string::npos) {
      // RFC 5464 section 5: value = nstring / literal8; NUL is only allowed in literal8.
      absl::StrAppend(&items, "~{", value->size(), "}\r\n", *value);
    } else {
      append_string(items, *value);
    }
  };
  for (const std::string& asked : c.metadata.entries) {
    const std::string entry = mailstore::canonical_metadata_name(asked);
    auto it = entries->find(entry);
    // DEPTH 1 / infinity: a root without a value is left out (RFC 5464 4.2.2's example,
    // and Dovecot); DEPTH 0: it is "entry NIL".
    if (it != entries->end() || c.metadata.depth == 0) add(entry, it == entries->end() ? nullptr : &it->second);
    if (c.metadata.depth != 0) {
      for (const auto* kv : children(*entries, entry, c.metadata.depth)) add(kv->first, &kv->second);
    }
  }
  if (!items.empty()) {
    std::string line = "METADATA ";
    append_astring(line, c.mailbox.empty() ? std::string() : wire_name(name));
    absl::StrAppend(&line, " (", items, ")");
    untagged(line);
  }
  if (longest_left_out > 0) {
    ok(c, absl::StrCat("[METADATA LONGENTRIES ", longest_left_out, "] Getmetadata completed."));
  } else {
    ok(c, "Getmetadata completed.");
  }
}

task<void> imap_session::on_setmetadata(const command& c) {
  std::string name;
  if (!c.mailbox.empty()) {
    std::optional<std::string> n = store_name(c, c.mailbox);
    if (!n) co_return;
    name = *std::move(n);
  }
  std::vector<mailstore::metadata_change> changes;
  for (const auto& [entry, value] : c.metadata.values) {
    if (c.mailbox.empty() && mailstore::canonical_metadata_name(entry).starts_with("/shared/admin")) {
      no(c, "[CANNOT] /shared/admin is read-only");
      co_return;
    }
    // Checked here as well as in the store, so the answer names the limit before any
    // trip to the owner shard.
    if (value && value->size() > mailstore::kMaxMetadataValueBytes) {
      no(c, absl::StrCat("[METADATA MAXSIZE ", mailstore::kMaxMetadataValueBytes,
                         "] Metadata entry value is too large"));
      co_return;
    }
    changes.push_back({entry, value});
  }
  auto set = [name, changes = std::move(changes)](mailstore::mailbox& box) { return box.set_metadata(name, changes); };
  auto hop = on_mailbox(std::move(set));
  absl::Status st = co_await std::move(hop);
  if (st.ok()) {
    ok(c, "Setmetadata completed.");
    co_return;
  }
  switch (st.code()) {
    case absl::StatusCode::kNotFound:
      no(c, "[NONEXISTENT] Mailbox doesn't exist");
      break;
    case absl::StatusCode::kOutOfRange:
      no(c, absl::StrCat("[METADATA MAXSIZE ", mailstore::kMaxMetadataValueBytes,
                         "] Metadata entry value is too large"));
      break;
    case absl::StatusCode::kResourceExhausted:
      no(c, "[METADATA TOOMANY] Too many metadata entries");
      break;
    case absl::StatusCode::kInvalidArgument:
      no(c, absl::StrCat("[CANNOT] ", st.message()));
      break;
    default:
      no(c, "[SERVERBUG] Internal error occurred. Refer to server log for more information.");
  }
}

}  // namespace ringmail::imap
