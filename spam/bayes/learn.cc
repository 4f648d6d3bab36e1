// Learning a raw message in one call: what the IMAP server does when a message is moved
// into or out of Junk, and what ringmail-admin does for a corpus.
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "mail/header.h"
#include "mail/charset.h"
#include "mail/message.h"
#include "mail/message_text.h"
#include "runtime/fnv1a.h"
#include "spam/bayes/bayes.h"

namespace ringmail::spam {

std::string bayes_message_id(const mail::message_text& text, std::string_view body_bytes) {
  // SA Message.pm generate_msgid(): sha1_hex(To . "\0" . Date . "\0" . body digest).
  // "See Bug 5185, not using Received headers etc anymore": the same message relayed
  // twice gets the same id. 64 bits of FNV-1a are plenty to tell one user's messages
  // apart.
  uint64_t h = kFnv1a64Basis;
  for (std::string_view name : {"To", "Date"}) {
    for (const mail::text_header& f : text.headers) {
      if (mail::equals_ignore_case(f.name, name)) h = fnv1a64("\n", fnv1a64(f.decoded, h));
    }
    h = fnv1a64(std::string_view("\0", 1), h);
  }
  h = fnv1a64(body_bytes, h);
  char id[40];
  std::snprintf(id, sizeof id, "%016" PRIx64 "@sa_generated", h);
  return id;
}

namespace {

struct learnable {
  std::string msg_id;
  std::vector<uint64_t> tokens;
};

learnable prepare(std::string_view message_bytes) {
  message_bytes = mail::skip_mbox_separator(message_bytes);  // SA strips it too
  mail::charset_converter charsets;
  mail::message msg = mail::parse_message(message_bytes, charsets);
  mail::message_text text = mail::render_text(msg, charsets);
  learnable out;
  out.msg_id = bayes_message_id(text, msg.parts.empty() ? std::string_view() : msg.parts[0].body);
  out.tokens = bayes_tokens(text);
  return out;
}

}  // namespace

absl::Status learn_message(bayes_store& store, std::string_view user, std::string_view message_bytes, bool is_spam) {
  learnable m = prepare(message_bytes);
  return store.learn(user, m.msg_id, m.tokens, is_spam);
}

absl::Status learn_message(bayes_store::batch& batch, std::string_view user, std::string_view message_bytes,
                           bool is_spam) {
  learnable m = prepare(message_bytes);
  return batch.learn(user, m.msg_id, m.tokens, is_spam);
}

}  // namespace ringmail::spam
