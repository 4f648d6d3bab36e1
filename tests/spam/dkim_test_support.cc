#include "tests/spam/dkim_test_support.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <stdexcept>

#include "mail/encoding.h"

namespace ringmail::spam::dkim::testing {
namespace {

// Through PEM, so load_private_key (PKCS#8) is exercised by every test that signs.
private_key generate(const char* type, size_t bits) {
  EVP_PKEY* pkey = bits != 0 ? EVP_PKEY_Q_keygen(nullptr, nullptr, type, bits)
                             : EVP_PKEY_Q_keygen(nullptr, nullptr, type);
  if (pkey == nullptr) throw std::runtime_error("keygen");
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, pkey, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(len));
  BIO_free(bio);
  EVP_PKEY_free(pkey);
  auto key = load_private_key(pem);
  if (!key.ok()) throw std::runtime_error("load_private_key");
  return *key;
}

}  // namespace

const private_key& rsa_key() {
  static const private_key k = generate("RSA", 2048);
  return k;
}

const private_key& other_rsa_key() {
  static const private_key k = generate("RSA", 1024);
  return k;
}

const private_key& ed25519_key() {
  static const private_key k = generate("ED25519", 0);
  return k;
}

std::string key_record_for(const private_key& key) {
  return std::string("v=DKIM1; k=") + (key.type == key_type::ed25519 ? "ed25519" : "rsa") +
         "; p=" + public_key_record_value(key);
}

std::string random_rsa_key_record(unsigned bits) {
  BIGNUM* n = BN_new();
  BIGNUM* e = BN_new();
  BN_rand(n, static_cast<int>(bits), BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ODD);
  BN_set_word(e, 65537);
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n);
  OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e);
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr);
  EVP_PKEY* pkey = nullptr;
  EVP_PKEY_fromdata_init(ctx);
  EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params);
  std::string der;
  int len = i2d_PUBKEY(pkey, nullptr);
  der.resize(static_cast<size_t>(len));
  auto* p = reinterpret_cast<unsigned char*>(der.data());
  i2d_PUBKEY(pkey, &p);
  EVP_PKEY_free(pkey);
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  BN_free(n);
  BN_free(e);
  return "v=DKIM1; k=rsa; p=" + mail::encode_base64(der);
}

}  // namespace ringmail::spam::dkim::testing
