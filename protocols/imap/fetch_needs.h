// What a FETCH's items need copied from the owner shard for each message, beyond the
// index facts (UID, flags, keywords, modseq, size, internal date) that are always copied.
//
// Why: facts_for (message_commands.cc) runs on the owner shard and copies one
// message_facts per message. The file name (built from the Maildir base name and flags)
// and the index's cache blob (fetch_cache.h, hundreds of bytes) are each a heap string per
// message; `UID FETCH 1:* (FLAGS)` of a 100,000-message folder — what a client without
// QRESYNC does on every resync — needs neither, and copying them was most of its time.
//
//   item                                        file name   cache blob
//   UID FLAGS INTERNALDATE RFC822.SIZE MODSEQ       -           -
//   SAVEDATE                                        x           -     (time in the file name)
//   PREVIEW (LAZY)                                  -           x     (cached value or NIL)
//   ENVELOPE BODYSTRUCTURE BODY EMAILID THREADID
//     PREVIEW                                       x           x     (file read on a miss)
//   RFC822* BODY[..] BINARY[..] BINARY.SIZE[..]     x           -
//
// A kind this table does not know (a later extension) gets both: being wrong here would
// change answers, being conservative only costs the copy.
// Internal to protocols/imap; pure.
#pragma once

#include <cstdint>
#include <vector>

#include "protocols/imap/command.h"

namespace ringmail::imap {

enum fetch_need : uint32_t {
  fetch_need_none = 0,
  fetch_need_path = 1u << 0,   // message_facts::path
  fetch_need_cache = 1u << 1,  // message_facts::cache
  fetch_need_all = fetch_need_path | fetch_need_cache,
};

// The fetch_need bits of one item.
inline uint32_t fetch_needs_of(const fetch_item& f) {
  switch (f.k) {
    case fetch_item::kind::uid:
    case fetch_item::kind::flags:
    case fetch_item::kind::internal_date:
    case fetch_item::kind::rfc822_size:
    case fetch_item::kind::modseq:
      return fetch_need_none;
    case fetch_item::kind::save_date:
      return fetch_need_path;
    case fetch_item::kind::preview:
      return f.lazy ? fetch_need_cache : fetch_need_all;
    case fetch_item::kind::envelope:
    case fetch_item::kind::body_structure:
    case fetch_item::kind::body:
    case fetch_item::kind::email_id:
    case fetch_item::kind::thread_id:
      return fetch_need_all;
    case fetch_item::kind::rfc822:
    case fetch_item::kind::rfc822_header:
    case fetch_item::kind::rfc822_text:
    case fetch_item::kind::body_section:
    case fetch_item::kind::binary_section:
    case fetch_item::kind::binary_size:
      return fetch_need_path;
  }
  return fetch_need_all;
}

// The union over a FETCH's items (after UID FETCH's implied UID and CHANGEDSINCE's MODSEQ
// are added, which need nothing).
inline uint32_t fetch_needs_of(const std::vector<fetch_item>& items) {
  uint32_t n = fetch_need_none;
  for (const auto& f : items) n |= fetch_needs_of(f);
  return n;
}

}  // namespace ringmail::imap
