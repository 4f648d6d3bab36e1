// libFuzzer target for the Bayes tokenizer (spam/bayes/tokens.cc) and classifier. Build:
// see fuzz/README.md and scripts/fuzz.sh.
//
// Input: first byte selects the mode.
//   even: the rest is a raw message: parse_message + render_text + tokenize (the path
//         learn_message and the scanner take).
//   odd:  the rest builds a message_text directly, so the tokenizer also sees bytes the
//         renderer would never produce (invalid UTF-8, NULs, CRs): split at 0x00 bytes into
//         body, URIs and "Name:value" header fields.
// Invariants (any break aborts): bayes_tokens is sorted and free of duplicates and equals
// the sorted hashes of bayes_token_strings; no token string is empty; a classification is
// in [0, 1].
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "mail/charset.h"
#include "mail/message.h"
#include "mail/message_text.h"
#include "spam/bayes/bayes.h"

namespace {

using namespace ringmail;

void check(bool ok) {
  if (!ok) abort();
}

const spam::bayes_model& small_model() {
  static const spam::bayes_model model = [] {
    spam::bayes_model m;
    m.spam_messages = 300;
    m.ham_messages = 300;
    const char* spammy[] = {"money", "viagra", "UD:example.com", "sk:aaaaaaa", "H*F:D*com", "free", "FREE"};
    const char* hammy[] = {"meeting", "patch", "H*r:ip*127.0.0.1", "thanks", "code", "HTo:U*john"};
    for (const char* t : spammy) m.tokens[spam::bayes_token_hash(t)] = {150, 2};
    for (const char* t : hammy) m.tokens[spam::bayes_token_hash(t)] = {1, 120};
    return m;
  }();
  return model;
}

void check_text(const mail::message_text& text) {
  std::vector<uint64_t> tokens = spam::bayes_tokens(text);
  check(std::is_sorted(tokens.begin(), tokens.end()));
  check(std::adjacent_find(tokens.begin(), tokens.end()) == tokens.end());
  std::vector<std::string> strings = spam::bayes_token_strings(text);
  std::vector<uint64_t> hashed;
  for (const std::string& s : strings) {
    check(!s.empty());
    hashed.push_back(spam::bayes_token_hash(s));
  }
  std::sort(hashed.begin(), hashed.end());
  hashed.erase(std::unique(hashed.begin(), hashed.end()), hashed.end());
  check(hashed == tokens);
  if (std::optional<double> p = small_model().classify(tokens)) check(*p >= 0.0 && *p <= 1.0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  if ((data[0] & 1) == 0) {
    mail::charset_converter charsets;
    mail::message msg = mail::parse_message(input, charsets);
    check_text(mail::render_text(msg, charsets));
    return 0;
  }
  mail::message_text text;
  std::vector<std::string_view> pieces;
  size_t start = 0;
  for (size_t i = 0; i <= input.size(); ++i) {
    if (i == input.size() || input[i] == '\0') {
      pieces.push_back(input.substr(start, i - start));
      start = i + 1;
    }
  }
  text.body = std::string(pieces[0]);
  for (size_t i = 1; i < pieces.size(); ++i) {
    std::string_view p = pieces[i];
    size_t colon = p.find(':');
    if (colon == std::string_view::npos) {
      text.uris.emplace_back(p);
      continue;
    }
    mail::text_header h;
    h.name = p.substr(0, colon);
    h.raw = p.substr(colon + 1);
    h.decoded = std::string(h.raw);
    text.headers.push_back(std::move(h));
  }
  check_text(text);
  return 0;
}
