// URIs in plain text, as SpamAssassin's `uri` rules see them: http/https/ftp/mailto
// schemes, bare "www." and "ftp." hosts (given an http:// prefix, as SA does), and bare
// e-mail addresses (as mailto:). Trailing punctuation that ends a sentence is not part of
// the URI.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ringmail::mail {

// Appends the URIs found in `text` to `out`, stopping when out.size() reaches max_uris.
void extract_uris(std::string_view text, std::vector<std::string>& out, size_t max_uris);

}  // namespace ringmail::mail
