// Maildir file names: the unique base and the "info" that carries the message flags.
//
// cr.yp.to/proto/maildir.html: "When you move a file from new to cur, you have to change
// its name from uniq to uniq:info. ... info starting with "2,": Each character after the
// comma is an independent flag. Flag "P" (passed) ..., "R" (replied), "S" (seen), "T"
// (trashed), "D" (draft), "F" (flagged). ... Flags must be stored in ASCII order".
// Dovecot (src/lib-storage/index/maildir/maildir-filename.c, maildir-sync-index.c) adds:
//   - lowercase letters 'a'..'z' in the info are keywords; letter 'a'+i is the keyword
//     with index i in `dovecot-keywords` (see dovecot_keywords.h);
//   - ",S=<bytes>" and ",W=<virtual size>" fields in the base, so RFC822.SIZE needs no
//     open() (our writer emits both, see maildir.h unique_name());
//   - the "base" used to match a file across renames is everything before the first ':'.
//
// Departures, on purpose:
//   - Only ':' separates the info (Dovecot's maildir_broken_filename / ';' separator for
//     file systems without ':' is not supported).
//   - Info that is not ":2," (the experimental ":1," form) is dropped on format: the flags
//     of such a name are empty and format_maildir_name() writes ":2,".
//   - Info characters we do not map (e.g. 'P' passed, digits) are kept in other_flags so a
//     flag change does not lose them; duplicates are written once.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ringmail::mailstore {

enum message_flag : uint8_t {
  flag_seen = 1,
  flag_answered = 2,
  flag_flagged = 4,
  flag_deleted = 8,
  flag_draft = 16,
};

// A view into the name passed to parse_maildir_name(): `base` does not own its bytes.
struct maildir_name {
  std::string_view base;      // everything before ':' (or the whole name if no info)
  int64_t size = -1;          // ",S=<n>" in base, or -1
  int64_t vsize = -1;         // ",W=<n>" in base, or -1
  uint8_t flags = 0;          // from the info: D=draft F=flagged R=answered S=seen T=deleted
  uint32_t keywords = 0;      // bit i = letter 'a'+i (Dovecot keyword index i)
  std::string other_flags;    // info characters we do not map, in ASCII order, once each
};

// Never fails: a name without ":2," has no flags; an S=/W= field that is not all digits
// (or overflows int64) reads as -1.
maildir_name parse_maildir_name(std::string_view name);

// base + ":2," + the flag letters in ASCII order (digits/punctuation and uppercase
// letters, i.e. system flags and other_flags, then the keyword letters), each once.
std::string format_maildir_name(std::string_view base, uint8_t flags, uint32_t keywords,
                                std::string_view other_flags = "");

}  // namespace ringmail::mailstore
