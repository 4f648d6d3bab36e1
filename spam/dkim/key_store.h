// key_store: the DKIM signing keys on disk (issue 16), for `ringmail-admin dkim` and for
// the server, which loads the signing ones at start-up and on SIGHUP.
//
//   <data_dir>/dkim/                       0700
//   <data_dir>/dkim/<domain>/              0700, the domain in lower case
//   <data_dir>/dkim/<domain>/<selector>.rsa.pem       PKCS#8 PEM private keys, 0600
//   <data_dir>/dkim/<domain>/<selector>.ed25519.pem
//   <data_dir>/dkim/<domain>/signing       the selectors that sign, one line per key type:
//                                          "rsa <selector>" / "ed25519 <selector>"
//                                          ('#' comments and blank lines are allowed)
// A key not named in `signing` is retired: kept so that its DNS record can stay published
// while mail signed with it is still in flight (a rotation keeps the old key), and usable
// again with `activate`. A selector names one key per domain, whatever its type: the DNS
// record <selector>._domainkey.<domain> holds one key.
//
// Files are written atomically (a temporary file, fsync, then link (new key: never over an
// existing one) or rename (`signing`), and an fsync of the directory), so a crash leaves
// the old state or the new, and the server never reads half a key.
//
// Everything here blocks on the disk (and key generation costs ~100 ms for RSA-2048): the
// tools call it directly, the server on its offload pool.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "spam/dkim/crypto.h"

namespace ringmail::spam::dkim {

std::string_view to_string(key_type t);              // "rsa", "ed25519"
std::optional<key_type> parse_key_type(std::string_view name);

// A new private key as PKCS#8 PEM ("BEGIN PRIVATE KEY"). RSA: `bits` in 1024..4096 (RFC
// 8301 §3.2 wants at least 1024, 2048 is the norm; larger keys do not fit providers' TXT
// limits well); Ed25519 ignores `bits`.
absl::StatusOr<std::string> generate_key(key_type type, unsigned bits = 2048);

// The TXT record value publishing the public half of `private_key_pem`:
// "v=DKIM1; k=rsa; p=<base64 SubjectPublicKeyInfo>" (RFC 6376 §3.6.1), or k=ed25519 with
// the raw 32-byte key (RFC 8463 §4).
absl::StatusOr<std::string> dns_txt_record(std::string_view private_key_pem);
// "<selector>._domainkey.<domain>" (RFC 6376 §3.6.2.1).
std::string dns_record_name(std::string_view selector, std::string_view domain);
// `value` cut into character-strings of at most 255 bytes (RFC 1035 §3.3.14: one TXT
// string holds 255; verifiers concatenate them, RFC 6376 §3.6.2.2).
std::vector<std::string> txt_strings(std::string_view value);
// A zone-file line: `<name>. IN TXT ( "..." "..." )`.
std::string zone_file_record(std::string_view name, std::string_view value);

// The selector keygen and rotate choose: "rm" + YYYYMMDD, + "e" for Ed25519 (so both keys
// made on one day have their own record). `yyyymmdd` e.g. "20261207".
std::string default_selector(key_type type, std::string_view yyyymmdd);

// Names as the store accepts them (lower-cased): a domain of LDH labels; a selector of
// LDH labels too (RFC 6376 §3.1 allows dotted selectors). Anything else — '/', "..",
// empty labels — is refused before it becomes part of a path.
absl::StatusOr<std::string> normalize_domain(std::string_view domain);
absl::StatusOr<std::string> normalize_selector(std::string_view selector);

// The `signing` file: (type, selector) pairs sorted by type, at most one per type;
// '#' comments and blank lines skipped. Errors name `origin` and the line.
using signing_selectors = std::vector<std::pair<key_type, std::string>>;
absl::StatusOr<signing_selectors> parse_signing_file(std::string_view text, std::string_view origin);
std::string format_signing_file(const signing_selectors& selectors);

enum class key_state : uint8_t { signing, retired };
std::string_view to_string(key_state s);

struct stored_key {
  std::string domain;
  std::string selector;
  key_type type = key_type::rsa;
  unsigned bits = 0;  // RSA modulus size, 256 for Ed25519
  key_state state = key_state::retired;
  std::string path;   // the PEM file
};

// What the signer needs: per domain (lower case) the signing keys, one per type.
struct signing_key {
  std::string selector;
  key_type type = key_type::rsa;
  std::string pem;
};
using dkim_key_table = absl::flat_hash_map<std::string, std::vector<signing_key>>;

// The signing keys of every domain under <data_dir>/dkim (none: an empty table). Every
// key named in a `signing` file must exist, parse, be of the named type and be private to
// its owner (no group/other permissions); otherwise an error naming the file and the fault
// — a server that signs with some domains' keys but silently not others' is worse.
absl::StatusOr<dkim_key_table> load_signing_keys(std::string_view data_dir);

class key_store {
 public:
  explicit key_store(std::string data_dir);

  // Writes a new key for `domain` under `selector`; refuses a selector the domain already
  // has. It becomes the domain's signing key of its type when `activate`, or when the
  // domain has none of that type yet.
  absl::StatusOr<stored_key> generate(std::string_view domain, std::string_view selector, key_type type,
                                      unsigned bits = 2048, bool activate = false);
  // Every key (of `domain`, or of all domains when empty), by domain then selector.
  absl::StatusOr<std::vector<stored_key>> list(std::string_view domain = {}) const;
  // The signing keys of `domain` (rsa first).
  absl::StatusOr<std::vector<stored_key>> signing(std::string_view domain) const;
  // Makes `selector` (an existing key) the signing key of its type.
  absl::Status activate(std::string_view domain, std::string_view selector);

  // For every key type the domain signs with, a new key (same type, RSA keeps its size)
  // under default_selector(type, yyyymmdd) (with "-2", "-3"... when taken), which becomes
  // the signing one; the old key stays, retired. Refused for a domain that signs with
  // nothing.
  struct rotation {
    stored_key retired;
    stored_key signing;
  };
  absl::StatusOr<std::vector<rotation>> rotate(std::string_view domain, std::string_view yyyymmdd);

  // The TXT record value of a stored key.
  absl::StatusOr<std::string> record(const stored_key& key) const;

 private:
  std::string domain_dir(const std::string& domain) const;
  std::string data_dir_;
};

}  // namespace ringmail::spam::dkim
