// The session's side of OBJECTID (RFC 8474), SAVEDATE (RFC 8514) and PREVIEW (RFC 8970):
// which of a message's computed facts a FETCH or SEARCH needs from the fetch cache blob
// (fetch_cache.h), filling in what the blob lacks from the message file, and the FETCH
// response items. The rules themselves are pure, in object_id.h and preview.h.
//
// Caching: EMAILID, THREADID and the preview are computed once per message (one read of
// its file) and kept in the index's cache blob with ENVELOPE and BODYSTRUCTURE, so a
// client listing a folder with PREVIEW or EMAILID every time reads no file after the
// first. SAVEDATE needs no file: it is the time in the Maildir file name.
// Internal to protocols/imap.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "mail/charset.h"
#include "protocols/imap/command.h"
#include "protocols/imap/fetch_cache.h"
#include "protocols/imap/search.h"
#include "protocols/imap/session_impl.h"

namespace ringmail::imap {

struct object_needs {
  bool ids = false;      // EMAILID / THREADID
  bool preview = false;  // PREVIEW (not LAZY: LAZY never reads a file for it)
  bool any() const { return ids || preview; }
};

// What `items` need read from a file when the cache lacks it.
object_needs object_needs_of(const std::vector<fetch_item>& items);
// Whether any item is PREVIEW (LAZY): filled too when the file is read anyway.
bool wants_lazy_preview(const std::vector<fetch_item>& items);
bool cache_has(const fetch_cache& c, object_needs n);

// Fills what `n` asks and `c` lacks from the message (ENVELOPE, BODYSTRUCTURE and BODY
// too when there was no blob at all, so the blob written back is whole). `msg` holds the
// whole file (CRLF). Returns whether `c` changed (and must be stored).
bool fill_fetch_cache(std::optional<fetch_cache>& c, object_needs n, loaded_message& msg,
                      mail::charset_converter& charsets);

// Appends "EMAILID (id)", "THREADID (id)" / "THREADID NIL", "SAVEDATE "date"" or
// "PREVIEW string" / "PREVIEW NIL" for item `f` of message `m`; `cached` may be null or
// lack the value (then NIL, what RFC 8970 answers a LAZY fetch with).
void append_object_item(std::string& line, const fetch_item& f, const fetch_cache* cached,
                        const message_facts& m);

// The top-level keys of a SEARCH program (an and_) that need only index facts (no
// content, no object ids), as an and_: a message they reject cannot match the program,
// so SEARCH skips it before reading its file for EMAILID/THREADID.
search_key index_fact_keys(const search_key& program);

// (uid, blob) pairs to store: replaces the last pair when it is the same message's.
void keep_cache_blob(std::vector<std::pair<uint32_t, std::string>>& blobs, uint32_t uid, const fetch_cache& c);

}  // namespace ringmail::imap
