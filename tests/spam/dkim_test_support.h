// Keys for the DKIM and ARC tests: generated once per process (RSA 2048 takes a moment),
// and public keys of any size built from a random modulus (a 16,384-bit key record for
// the "key too large" test without minutes of key generation).
#pragma once

#include <string>

#include "spam/dkim/crypto.h"

namespace ringmail::spam::dkim::testing {

const private_key& rsa_key();      // 2048 bits
const private_key& ed25519_key();
const private_key& other_rsa_key();  // a second one, for "wrong key" tests

// "v=DKIM1; k=...; p=..." for the key.
std::string key_record_for(const private_key& key);

// "v=DKIM1; k=rsa; p=<SPKI of an RSA public key with a random `bits`-bit modulus>".
std::string random_rsa_key_record(unsigned bits);

}  // namespace ringmail::spam::dkim::testing
