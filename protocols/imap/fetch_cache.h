// The parsed facts FETCH keeps per message in the index's cache blob (message_entry::cache,
// DESIGN.md "parsed facts are cached in the index"): ENVELOPE, BODYSTRUCTURE and BODY as
// rendered, so a client listing a folder (FETCH 1:* (ENVELOPE BODYSTRUCTURE), what
// Thunderbird and Roundcube ask for) costs no file read after the first time.
//
// Format: "imap1:" then three netstring-like fields "<decimal length>:<bytes>". A blob that
// does not decode (another version, damage) is ignored and computed again.
// OBJECTID/PREVIEW (object_id.h, preview.h) append three more fields when any is known:
// EMAILID, THREADID ("" = not computed yet) and the preview ("" = not computed, else "="
// and the text, so an empty preview is cached too). Blobs written before them have three
// fields and decode with those unknown, so old indexes keep their cache.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ringmail::imap {

struct fetch_cache {
  std::string envelope;
  std::string body_structure;  // extensible (BODYSTRUCTURE)
  std::string body;            // non-extensible (BODY)
  // OBJECTID (RFC 8474) and PREVIEW (RFC 8970): empty / nullopt until computed.
  std::string email_id;
  std::string thread_id;
  std::optional<std::string> preview;
  bool operator==(const fetch_cache&) const = default;
};

std::string encode_fetch_cache(const fetch_cache& c);
std::optional<fetch_cache> decode_fetch_cache(std::string_view blob);

}  // namespace ringmail::imap
