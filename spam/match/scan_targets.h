// What each kind of SpamAssassin regex rule scans, as one buffer per distinct target:
// `header Subject`, `header From:addr`, `header ALL`, body, rawbody, uri, full,
// `mimeheader Content-Type` ... The shapes follow Mail::SpamAssassin::PerMsgStatus::get()
// (header values each followed by "\n", concatenated) and its body/uri test loops.
//
// Built once per compiled rule set (target_builder), filled per message into buffers the
// caller owns and reuses (no allocation once they have grown).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "mail/message_text.h"
#include "spam/rules/rule.h"

namespace ringmail::spam {

enum class target_source : uint8_t {
  header,         // the values of one named header
  all_headers,    // "ALL": every header "Name: value\n" in order
  to_cc,          // "ToCc": To values, then Cc values
  envelope_from,  // "EnvelopeFrom": Return-Path address, else X-Envelope-From
  message_id,     // "MESSAGEID": Message-Id, Resent-Message-Id, X-Message-Id values
  body,
  raw_body,
  uris,           // one URI per line
  full,
  mime_header,    // the values of one header of the non-root MIME parts
};

enum class header_form : uint8_t {
  decoded,  // "Name": unfolded, RFC 2047-decoded
  raw,      // "Name:raw": the folded original
  addr,     // "Name:addr": the first address of each value
  name,     // "Name:name": the display name of the first address of each value
};

// Per-target caps on the bytes scanned. SpamAssassin itself scans at most the first
// 500 kB of a message by default (spamc -s); these are generous beyond that so rules see
// everything of a normal message while a hostile one cannot make a scan unbounded.
inline constexpr size_t max_header_target_bytes = 256 * 1024;
inline constexpr size_t max_body_target_bytes = 1024 * 1024;  // body, rawbody
inline constexpr size_t max_uri_target_bytes = 256 * 1024;
inline constexpr size_t max_full_target_bytes = 2 * 1024 * 1024;

struct target_key {
  target_source source = target_source::body;
  header_form form = header_form::decoded;
  std::string header;  // header / mime_header: the name, lower-cased; else empty

  bool operator==(const target_key&) const = default;
  template <typename H>
  friend H AbslHashValue(H h, const target_key& k) {
    return H::combine(std::move(h), k.source, k.form, k.header);
  }
};

// The target a regex or exists rule reads. Special header names are matched exactly as
// SpamAssassin spells them (ALL, ToCc, EnvelopeFrom, MESSAGEID).
target_key target_key_for(const rule& r);

// body, rawbody and uri hold one SpamAssassin line per '\n' (translate_options::line_mode).
bool is_line_target(target_source source);
// "header", "body", "header ALL", ... for messages.
const char* target_name(const target_key& key);

// Address parts of one header value (RFC 5322 3.4), lenient like SpamAssassin's parser:
// the first angle-addr if any, else the first comma-separated item without comments.
void append_first_address(std::string_view value, std::string& out);
// The display name of the first mailbox: the phrase before '<' (quotes removed), else
// the first comment "(Name)" after a bare address; nothing when there is none.
void append_display_name(std::string_view value, std::string& out);

class target_builder {
 public:
  explicit target_builder(std::vector<target_key> keys);

  size_t size() const { return keys_.size(); }
  const target_key& key(size_t i) const { return keys_[i]; }

  // Fills views[i] with what target i scans (pointing into `storage[i]` or into `text`)
  // and present[i] with whether it exists for this message: header-derived targets are
  // absent when no such header is there; body, rawbody and full are always present; uri
  // is absent when the message has no URI (SpamAssassin runs uri rules once per URI).
  // The vectors are resized to size(); their strings are cleared and reused.
  void build(const mail::message_text& text, std::vector<std::string>& storage,
             std::vector<std::string_view>& views, std::vector<uint8_t>& present) const;
  // The same for the `body` targets alone (compiled_rules::match_body_only); the others
  // are left as they are.
  void build_body(const mail::message_text& text, std::vector<std::string_view>& views,
                  std::vector<uint8_t>& present) const;

 private:
  std::vector<target_key> keys_;
  // lower-cased header name -> targets reading that named header (top-level / MIME parts)
  absl::flat_hash_map<std::string, std::vector<uint32_t>> by_header_;
  absl::flat_hash_map<std::string, std::vector<uint32_t>> by_mime_header_;
  std::vector<uint32_t> special_;  // ALL, ToCc, EnvelopeFrom, MESSAGEID targets
  size_t longest_name_ = 0;
};

}  // namespace ringmail::spam
