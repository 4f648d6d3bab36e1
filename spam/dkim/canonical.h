// canonical: RFC 6376 §3.4 canonicalization of header fields and bodies, and the hash
// inputs built from them (§3.7), shared by the DKIM signer and verifier and by ARC.
//
// Input is CRLF text (prepared_message turns bare LF into CRLF first: mail reaches us
// with either, and RFC 6376 §5.3 signs the CRLF form). The body canonicalizer is fed
// pieces and hashes as it goes (the body is never copied); l= stops the hash at that
// many canonical bytes while the length of the rest is still counted.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "mail/header.h"
#include "spam/dkim/signature.h"

typedef struct evp_md_ctx_st EVP_MD_CTX;

namespace ringmail::spam::dkim {

// A message in CRLF form and its parsed header block (views into `text`). Neither
// copyable nor movable: the views point into the object's own string.
class prepared_message {
 public:
  explicit prepared_message(std::string_view raw);
  prepared_message(const prepared_message&) = delete;
  prepared_message& operator=(const prepared_message&) = delete;

  std::string_view text() const { return text_; }
  const mail::header_block& headers() const { return headers_; }
  std::string_view body() const;

 private:
  std::string text_;
  mail::header_block headers_;
};

// The field as written, "Name: value" with its folding, without the final CRLF: from the
// name's first byte to the value's last (header_field holds views into one buffer).
std::string_view raw_field(const mail::header_field& f);

// One header field canonicalized, with the final CRLF (§3.4.1 simple, §3.4.2 relaxed).
std::string canonical_header(std::string_view raw, canonicalization c);

// The header hash input (§3.7): the fields h= names, each taken bottom-up (§5.4.2: the
// last unused instance of a name; a name with none left contributes nothing), then the
// signature field itself with its b= value removed and no final CRLF.
// `signature_raw` is that field with b= already emptied (see without_b_value).
std::string header_hash_input(const mail::header_block& headers, std::span<const std::string> names,
                              canonicalization c, std::string_view signature_raw);

// The raw signature field with the b= tag's value deleted (RFC 6376 §3.7; the rest,
// whitespace included, kept as is). The input unchanged when it has no b=.
std::string without_b_value(std::string_view raw_signature_field);

// Body canonicalization and SHA-256 (§3.4.3 simple, §3.4.4 relaxed, §3.7 bh=).
class body_hasher {
 public:
  // `copy`, when given, receives the canonical bytes hashed (tests, canonical_body).
  body_hasher(canonicalization c, std::optional<uint64_t> limit, std::string* copy = nullptr);
  ~body_hasher();
  body_hasher(const body_hasher&) = delete;
  body_hasher& operator=(const body_hasher&) = delete;

  void feed(std::string_view bytes);
  // The 32-byte digest; call once, after the last feed().
  std::string finish();
  // Canonical body length (counted past l=; valid after finish()).
  uint64_t canonical_length() const { return total_; }

 private:
  void line(std::string_view content);  // one line without its CRLF
  void emit(std::string_view bytes);

  canonicalization canon_;
  std::optional<uint64_t> limit_;
  std::string* copy_;
  EVP_MD_CTX* ctx_;
  std::string partial_;        // the current unterminated line
  uint64_t pending_empty_ = 0; // empty lines not yet emitted (trailing ones are dropped)
  uint64_t total_ = 0;
  bool any_ = false;           // a non-empty line was emitted
};

// Convenience: the canonicalized body as a string (tests, small bodies).
std::string canonical_body(std::string_view body, canonicalization c);

}  // namespace ringmail::spam::dkim
