// signer: DKIM signing (RFC 6376 §5), relaxed/relaxed, rsa-sha256 or ed25519-sha256.
//
// The header set follows rspamd's dkim_signing default (rspamd ≥ 1.9.3, sign_headers):
//   (o)from (x)sender (o)reply-to (o)subject (x)date (x)message-id (o)to (o)cc
//   (x)mime-version (x)content-type (x)content-transfer-encoding resent-to resent-cc
//   resent-from resent-sender resent-message-id (x)in-reply-to (x)references list-id
//   list-help list-owner list-unsubscribe list-unsubscribe-post list-subscribe list-post
//   (x)openpgp (x)autocrypt
// A name present n times is listed n times; "(o)" (oversign) lists it once more even when
// n = 0, "(x)" once more only when n > 0 — the extra, empty instance makes a header of
// that name added later (above the signed ones: bottom-up selection, §5.4.2) break the
// signature (§8.15).
//
// Dual signatures (RFC 8463 §1: Ed25519 alongside RSA while verifiers catch up): call
// sign_dkim twice on the same message and prepend both fields. DKIM-Signature is not in
// the header set, so neither signature covers the other and the order does not affect
// validity; put the RSA one on top (prepend it last), as rspamd does with its
// signing-table order and since verifiers that stop at the first signature mostly know
// only RSA.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "spam/dkim/crypto.h"

namespace ringmail::spam::dkim {

enum class oversign : uint8_t { none, always, if_present };  // rspamd's "", "(o)", "(x)"

struct sign_header {
  std::string name;
  oversign mode = oversign::none;
};

// rspamd's default list above.
const std::vector<sign_header>& default_sign_headers();

struct dkim_sign_options {
  std::string domain;    // d=
  std::string selector;  // s=
  const private_key* key = nullptr;  // rsa -> rsa-sha256, ed25519 -> ed25519-sha256
  int64_t timestamp = 0;             // t=; 0: the current time
  std::optional<int64_t> expire_after;  // x= = t= + this many seconds
  std::string identity;                 // i=, empty: omitted
  // l= with the whole body's canonical length. Off by default: l= lets anyone append
  // content under the signature (RFC 6376 §8.2); for tests and special cases.
  bool sign_body_length = false;
  std::vector<sign_header> headers = default_sign_headers();
};

// The complete field to prepend, "DKIM-Signature: v=1; ...\r\n", folded under 78
// columns. `message` is the whole message (CRLF or LF line ends).
absl::StatusOr<std::string> sign_dkim(std::string_view message, const dkim_sign_options& options);

// The h= names the header set gives for a message's header block (exposed for tests
// and ARC's AMS): each name as often as it occurs, plus the oversigning extra.
std::vector<std::string> names_to_sign(std::string_view message, const std::vector<sign_header>& headers);

// Folds "tag=value; " pieces into lines (CRLF + TAB) under `width` columns; base64
// values (b=, bh=) are broken anywhere, colon lists (h=) after a colon. The first line
// starts after `prefix` ("DKIM-Signature: ").
std::string fold_tags(std::string_view prefix, const std::vector<std::string>& tags, size_t width = 76);

}  // namespace ringmail::spam::dkim
