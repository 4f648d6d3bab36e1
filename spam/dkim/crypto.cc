#include "spam/dkim/crypto.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "mail/encoding.h"
#include "spam/auth/tag_list.h"

namespace ringmail::spam::dkim {
namespace {

std::shared_ptr<EVP_PKEY> own(EVP_PKEY* p) { return std::shared_ptr<EVP_PKEY>(p, EVP_PKEY_free); }

struct md_ctx_free {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using md_ctx = std::unique_ptr<EVP_MD_CTX, md_ctx_free>;

bool is_b64(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

}  // namespace

std::string_view to_string(algorithm a) {
  return a == algorithm::rsa_sha256 ? "rsa-sha256" : "ed25519-sha256";
}

absl::StatusOr<std::string> decode_base64_strict(std::string_view text, size_t max_out) {
  std::string clean = without_whitespace(text);
  if (clean.size() % 4 != 0) return absl::InvalidArgumentError("bad base64 (length)");
  if (clean.size() / 4 * 3 > max_out + 2) return absl::InvalidArgumentError("base64 value too long");
  size_t pad = 0;
  while (pad < 2 && pad < clean.size() && clean[clean.size() - 1 - pad] == '=') ++pad;
  for (size_t i = 0; i + pad < clean.size(); ++i) {
    if (!is_b64(clean[i])) return absl::InvalidArgumentError("bad base64 (character)");
  }
  std::string out;
  mail::decode_stats stats;
  mail::decode_base64(clean, out, &stats);
  if (stats.invalid != 0 || stats.truncated) return absl::InvalidArgumentError("bad base64");
  if (out.size() > max_out) return absl::InvalidArgumentError("base64 value too long");
  return out;
}

std::string sha256(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<char*>(md), len);
}

absl::StatusOr<public_key> parse_public_key(key_type type, std::string_view der) {
  public_key key;
  key.type = type;
  if (type == key_type::ed25519) {
    if (der.size() != 32) return absl::InvalidArgumentError("ed25519 key is not 32 bytes");
    key.pkey = own(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                               reinterpret_cast<const unsigned char*>(der.data()), der.size()));
    if (!key.pkey) return absl::InvalidArgumentError("bad ed25519 key");
    key.bits = 256;
    return key;
  }
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  EVP_PKEY* pkey = d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size()));
  if (pkey == nullptr) {
    p = reinterpret_cast<const unsigned char*>(der.data());
    pkey = d2i_PublicKey(EVP_PKEY_RSA, nullptr, &p, static_cast<long>(der.size()));
  }
  if (pkey == nullptr) return absl::InvalidArgumentError("bad RSA key");
  key.pkey = own(pkey);
  if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA) return absl::InvalidArgumentError("k=rsa but not an RSA key");
  key.bits = static_cast<unsigned>(EVP_PKEY_get_bits(pkey));
  return key;
}

absl::StatusOr<private_key> load_private_key(std::string_view pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) return absl::InternalError("BIO_new_mem_buf");
  EVP_PKEY* pkey = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (pkey == nullptr) return absl::InvalidArgumentError("no private key in the PEM text");
  private_key key;
  key.pkey = own(pkey);
  switch (EVP_PKEY_get_base_id(pkey)) {
    case EVP_PKEY_RSA: key.type = key_type::rsa; break;
    case EVP_PKEY_ED25519: key.type = key_type::ed25519; break;
    default: return absl::InvalidArgumentError("private key is neither RSA nor Ed25519");
  }
  key.bits = static_cast<unsigned>(EVP_PKEY_get_bits(pkey));
  if (key.type == key_type::rsa && (key.bits < 1024 || key.bits > 8192)) {
    return absl::InvalidArgumentError("RSA private key size outside 1024..8192 bits");
  }
  return key;
}

std::string public_key_record_value(const private_key& key) {
  std::string der;
  if (key.type == key_type::ed25519) {
    size_t len = 32;
    der.resize(len);
    EVP_PKEY_get_raw_public_key(key.pkey.get(), reinterpret_cast<unsigned char*>(der.data()), &len);
    der.resize(len);
  } else {
    int len = i2d_PUBKEY(key.pkey.get(), nullptr);
    if (len <= 0) return {};
    der.resize(static_cast<size_t>(len));
    auto* p = reinterpret_cast<unsigned char*>(der.data());
    i2d_PUBKEY(key.pkey.get(), &p);
  }
  return mail::encode_base64(der);
}

absl::StatusOr<std::string> sign_data(const private_key& key, algorithm a, std::string_view data) {
  if ((a == algorithm::ed25519_sha256) != (key.type == key_type::ed25519)) {
    return absl::InvalidArgumentError("key type does not match the algorithm");
  }
  md_ctx ctx(EVP_MD_CTX_new());
  std::string digest;
  std::string_view input = data;
  const EVP_MD* md = EVP_sha256();
  if (a == algorithm::ed25519_sha256) {
    digest = sha256(data);  // RFC 8463 §3: Ed25519 signs the SHA-256 hash
    input = digest;
    md = nullptr;
  }
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, md, nullptr, key.pkey.get()) != 1) {
    return absl::InternalError("EVP_DigestSignInit");
  }
  size_t len = 0;
  const auto* in = reinterpret_cast<const unsigned char*>(input.data());
  if (EVP_DigestSign(ctx.get(), nullptr, &len, in, input.size()) != 1) return absl::InternalError("EVP_DigestSign");
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, in, input.size()) != 1) {
    return absl::InternalError("EVP_DigestSign");
  }
  sig.resize(len);
  return sig;
}

bool verify_data(const public_key& key, algorithm a, std::string_view data, std::string_view signature) {
  if (!key.pkey || (a == algorithm::ed25519_sha256) != (key.type == key_type::ed25519)) return false;
  md_ctx ctx(EVP_MD_CTX_new());
  std::string digest;
  std::string_view input = data;
  const EVP_MD* md = EVP_sha256();
  if (a == algorithm::ed25519_sha256) {
    digest = sha256(data);
    input = digest;
    md = nullptr;
  }
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key.pkey.get()) != 1) return false;
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                          reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
}

}  // namespace ringmail::spam::dkim
