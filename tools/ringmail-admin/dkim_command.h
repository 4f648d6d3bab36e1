// `ringmail-admin dkim ...`: the DKIM signing keys under <data_dir>/dkim (issue 16). Only
// flags and printing here; the store is spam/dkim/key_store.h.
//
//   dkim keygen DOMAIN [--selector=S] [--type=rsa|ed25519] [--bits=2048] [--activate]
//   dkim list [DOMAIN]        domain, selector, type, bits, signing|retired, record name
//   dkim rotate DOMAIN        new keys for every type that signs; the old ones retired
//   dkim show DOMAIN          the signing keys' DNS records
//
// Records print as zone-file lines (`name. IN TXT ( "..." "..." )`, 255-byte strings) and
// every other line starts with "; ", so the output pastes into a zone file as it is.
#pragma once

#include <string>
#include <vector>

namespace ringmail::tools {

// 0 done, 1 failed (the message says why), 2 usage error.
int dkim_command(const std::string& data_dir, const std::vector<std::string>& args);

}  // namespace ringmail::tools
