#include "protocols/imap/object_id.h"

#include <openssl/sha.h>

namespace ringmail::imap {
namespace {

// 24 hex digits (96 bits) of the SHA-256 of `bytes`.
std::string digest24(std::string_view bytes) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), md);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(24);
  for (int i = 0; i < 12; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 15]);
  }
  return out;
}

bool is_wsp(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// The first "<...>" of a raw (possibly folded) field value, whitespace removed inside
// (a folded msg-id is the same id); "" when there is none or it is empty.
std::string first_msg_id(std::string_view raw) {
  // CFWS comments are not parsed: a msg-id list is "<a> <b>" in practice, and a '<'
  // inside a comment before the first msg-id is rare enough to cost only a new thread.
  const size_t open = raw.find('<');
  if (open == std::string_view::npos) return {};
  const size_t close = raw.find('>', open + 1);
  if (close == std::string_view::npos) return {};
  std::string id;
  for (char c : raw.substr(open + 1, close - open - 1)) {
    if (!is_wsp(c)) id.push_back(c);
  }
  return id;
}

}  // namespace

bool valid_object_id(std::string_view id) {
  if (id.empty() || id.size() > 255) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string mailbox_id(std::string_view mailbox_guid) {
  return valid_object_id(mailbox_guid) ? std::string(mailbox_guid) : std::string();
}

std::string email_id(std::string_view crlf_bytes) { return "M" + digest24(crlf_bytes); }

std::string thread_root_message_id(const mail::header_block& headers) {
  for (std::string_view name : {"References", "In-Reply-To", "Message-ID"}) {
    if (const mail::header_field* f = headers.find(name)) {
      std::string id = first_msg_id(f->value);
      if (!id.empty()) return id;
    }
  }
  return {};
}

std::string thread_id(std::string_view root_message_id, std::string_view email_id) {
  if (root_message_id.empty()) {
    // A thread of its own: the EMAILID's digits (without its "M").
    return "T" + std::string(email_id.size() > 1 ? email_id.substr(1) : email_id);
  }
  return "T" + digest24(root_message_id);
}

int64_t save_date_of(std::string_view maildir_base, int64_t fallback) {
  if (size_t slash = maildir_base.rfind('/'); slash != std::string_view::npos) {
    maildir_base.remove_prefix(slash + 1);
  }
  int64_t t = 0;
  size_t i = 0;
  for (; i < maildir_base.size() && i < 12 && maildir_base[i] >= '0' && maildir_base[i] <= '9'; ++i) {
    t = t * 10 + (maildir_base[i] - '0');
  }
  // "<digits>." and a time after 1990-01-01 (a name like "12.foo" is not a time).
  if (i == 0 || i >= maildir_base.size() || maildir_base[i] != '.' || t < 631152000) return fallback;
  return t;
}

}  // namespace ringmail::imap
