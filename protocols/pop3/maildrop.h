// maildrop: what one POP3 session sees of INBOX (RFC 1939 section 5, TRANSACTION state).
//
// The maildrop is INBOX as it was at login: messages are numbered 1..n in UID order and
// keep their numbers for the whole session, whatever is delivered or expunged meanwhile
// (a delivery shows up at the next login; a message another session expunged answers
// -ERR when it is retrieved). DELE only marks (section 6: "the POP3 server ... removes
// all messages marked as deleted" at QUIT, in the UPDATE state); RSET unmarks; a session
// that ends without QUIT changes nothing.
//
// UIDL values are Dovecot's default pop3_uidl_format "%08Xu%08Xv": the UID and the
// folder's UIDVALIDITY as eight hex digits each — lower-case, as Dovecot prints them (its
// %X modifier formats with "%llx"; checked against Dovecot 2.3 by pop3_uidl_diff). Both are stable for a
// message (the mail store keeps Dovecot's UIDs, mailbox.h), so a fetcher moved between
// Dovecot and ringmail on the same Maildir does not download everything again.
//
// Pure: no I/O. The session fills it from the owner shard's index.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ringmail::pop3 {

struct maildrop_message {
  uint32_t uid = 0;
  uint64_t size = 0;  // octets with CRLF line ends (the index's vsize): what RETR sends
  uint64_t file_size = 0;  // octets on disk (LF or CRLF line ends): how much to read
  std::string path;   // the file when the maildrop was made (flag renames may move it)
  bool deleted = false;    // DELE
  bool retrieved = false;  // RETR: gets \Seen at QUIT, as Dovecot does
};

// Dovecot's default UIDL: "%08x%08x" of (uid, uid_validity).
std::string uidl_of(uint32_t uid, uint32_t uid_validity);

class maildrop {
 public:
  maildrop() = default;
  maildrop(uint32_t uid_validity, std::vector<maildrop_message> messages);

  enum class lookup { ok, no_such_message, deleted };
  // Message `number` (1-based) for a command that may not touch a deleted message.
  lookup find(uint32_t number) const;
  const maildrop_message& at(uint32_t number) const { return messages_[number - 1]; }
  maildrop_message& at(uint32_t number) { return messages_[number - 1]; }
  size_t size() const { return messages_.size(); }

  // STAT: messages not marked deleted, and their octets.
  uint32_t count() const { return static_cast<uint32_t>(messages_.size() - deleted_); }
  uint64_t octets() const { return octets_; }

  // Marks `number` deleted (it must be found ok).
  void dele(uint32_t number);
  // Unmarks every message (RSET); retrieval marks stay, as in Dovecot.
  void rset();

  std::string uidl(uint32_t number) const { return uidl_of(at(number).uid, uid_validity_); }
  uint32_t uid_validity() const { return uid_validity_; }

  // For the UPDATE state: UIDs of the messages marked deleted, and of the messages
  // retrieved and not deleted, both ascending.
  std::vector<uint32_t> deleted_uids() const;
  std::vector<uint32_t> retrieved_uids() const;

 private:
  uint32_t uid_validity_ = 0;
  std::vector<maildrop_message> messages_;
  size_t deleted_ = 0;
  uint64_t octets_ = 0;
};

}  // namespace ringmail::pop3
