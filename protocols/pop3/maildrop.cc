#include "protocols/pop3/maildrop.h"

#include <cstdio>

namespace ringmail::pop3 {

std::string uidl_of(uint32_t uid, uint32_t uid_validity) {
  char buf[17];
  // Dovecot's %X modifier prints with "%llx": lower-case hex, whatever the letter's case.
  std::snprintf(buf, sizeof buf, "%08x%08x", uid, uid_validity);
  return std::string(buf, 16);
}

maildrop::maildrop(uint32_t uid_validity, std::vector<maildrop_message> messages)
    : uid_validity_(uid_validity), messages_(std::move(messages)) {
  for (const auto& m : messages_) octets_ += m.size;
}

maildrop::lookup maildrop::find(uint32_t number) const {
  if (number == 0 || number > messages_.size()) return lookup::no_such_message;
  if (messages_[number - 1].deleted) return lookup::deleted;
  return lookup::ok;
}

void maildrop::dele(uint32_t number) {
  maildrop_message& m = at(number);
  if (m.deleted) return;
  m.deleted = true;
  ++deleted_;
  octets_ -= m.size;
}

void maildrop::rset() {
  for (auto& m : messages_) {
    if (m.deleted) {
      m.deleted = false;
      octets_ += m.size;
    }
  }
  deleted_ = 0;
}

std::vector<uint32_t> maildrop::deleted_uids() const {
  std::vector<uint32_t> out;
  for (const auto& m : messages_) {
    if (m.deleted) out.push_back(m.uid);
  }
  return out;
}

std::vector<uint32_t> maildrop::retrieved_uids() const {
  std::vector<uint32_t> out;
  for (const auto& m : messages_) {
    if (m.retrieved && !m.deleted) out.push_back(m.uid);
  }
  return out;
}

}  // namespace ringmail::pop3
