// mailbox_view: what ONE IMAP session has told its client about the selected folder —
// the message sequence numbers, and each message's flags as last reported — and the
// untagged updates that bring the client up to date with the store's event stream.
//
// Why a view of its own: sequence numbers are per session (RFC 9051 2.3.1.2). A message
// expunged by another session keeps its number here until this session reports the
// EXPUNGE, and that may only happen at certain points: RFC 9051 7.5.1 / 7.4.1 forbid an
// EXPUNGE response "while responding to a FETCH, STORE, or SEARCH command" (numbers would
// shift under the client), and when no command is in progress. So store events are
// applied at once (the view knows the truth) but expunges are only *marked*; report()
// with expunges allowed sends them (highest number first, so each number is right when
// it is sent), the EXISTS for new mail, and FETCH (FLAGS) for flag changes; report()
// without sends only EXISTS and FLAGS changes, numbered with the marked messages still in
// place.
//
// A session's own changes (STORE, EXPUNGE) come back through the event stream too; the
// view compares the reported flags with the event's and stays silent when they match, so
// a client does not hear its own change twice.
//
// Pure: no runtime, no store. The session feeds it snapshots and events.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "delivery/mailstore/mailbox.h"

namespace ringmail::imap {

// The facts of one message the view keeps; from mailstore::message_entry.
// Ordered largest first: 24 bytes, not 32 with padding (a session holds one per message
// of its selected folder).
struct view_message {
  uint64_t modseq = 0;
  uint32_t uid = 0;
  uint32_t keywords = 0;  // bit i: keyword i of the folder
  uint8_t flags = 0;      // mailstore message_flag bits, as the client last heard them
  bool expunged = false;  // gone from the store; EXPUNGE not reported yet
  bool flags_dirty = false;  // changed since last reported
};
static_assert(sizeof(view_message) == 24);
// (uid, flags, keywords, modseq), the order the fields are usually named in.
inline view_message make_view_message(uint32_t uid, uint8_t flags, uint32_t keywords, uint64_t modseq) {
  view_message m;
  m.modseq = modseq;
  m.uid = uid;
  m.keywords = keywords;
  m.flags = flags;
  return m;
}
view_message to_view_message(const mailstore::message_entry& m);

class mailbox_view {
 public:
  // SELECT: the folder's messages (ascending UID) and keyword names.
  void reset(std::vector<view_message> messages, const std::vector<std::string>& keywords, uint64_t seq);

  uint32_t exists() const { return static_cast<uint32_t>(messages_.size()); }
  const std::vector<view_message>& messages() const { return messages_; }
  const std::vector<std::string>& keywords() const { return keywords_; }
  uint64_t event_seq() const { return seq_; }
  uint32_t max_uid() const { return messages_.empty() ? 0 : messages_.back().uid; }

  // Message sequence number (1-based) of `uid`, or 0.
  uint32_t seq_of(uint32_t uid) const;
  uint32_t uid_at(uint32_t seq) const { return messages_[seq - 1].uid; }

  // Applies a batch of store events. `keywords` is the folder's current keyword list
  // (it only grows). `reset`: the batch is incomplete; the caller must resync().
  void apply(const std::vector<mailstore::folder_event>& events, const std::vector<std::string>& keywords,
             uint64_t last_seq);
  // After a `reset` batch: the folder's current messages. Messages the view has that are
  // gone are marked expunged, new ones appended, changed flags marked dirty.
  void resync(const std::vector<view_message>& messages, const std::vector<std::string>& keywords, uint64_t seq);

  // The session reported flags for `uid` itself (FETCH FLAGS, STORE): no update needed.
  // `seq_hint`: its sequence number if known (checked; saves the search).
  void reported_flags(uint32_t uid, uint8_t flags, uint32_t keywords, uint32_t seq_hint = 0);

  // Appends the untagged responses (EXPUNGE only if allowed, EXISTS, FETCH FLAGS) to
  // `out`, and forgets what it reported. *new_keywords: the FLAGS response is due because
  // the keyword list grew (the caller sends FLAGS/PERMANENTFLAGS).
  void report(std::string& out, bool allow_expunge, bool uid_in_fetch);
  bool has_pending() const { return pending_expunges_ > 0 || exists_reported_ != messages_.size() || dirty_ > 0; }
  bool keywords_grew() const { return keywords_grew_; }
  void clear_keywords_grew() { keywords_grew_ = false; }

  // RFC 7162: once CONDSTORE is on, FETCH for a flag change carries MODSEQ; once QRESYNC
  // is on, it carries UID too and expunges go out as one "VANISHED uid-set" (3.2.10).
  void set_condstore(bool modseq, bool vanished) {
    modseq_ = modseq;
    vanished_ = vanished;
  }

  // "\\Seen \\Flagged $Junk" for FETCH FLAGS.
  std::string flag_list(uint8_t flags, uint32_t keywords) const;
  // The same appended to `out` (FETCH renders into one reused line buffer).
  void append_flag_list(std::string& out, uint8_t flags, uint32_t keywords) const;

 private:
  // Drops messages_[index], which is past exists_reported_ (never announced).
  void forget_unreported(size_t index);
  std::vector<view_message> messages_;  // ascending UID
  std::vector<std::string> keywords_;
  uint64_t seq_ = 0;
  size_t exists_reported_ = 0;
  size_t pending_expunges_ = 0;
  size_t dirty_ = 0;
  bool keywords_grew_ = false;
  bool modseq_ = false;    // set_condstore
  bool vanished_ = false;
};

// The flag names of mailstore message_flag bits, in the order Dovecot lists them.
void append_system_flags(std::string& out, uint8_t flags);

}  // namespace ringmail::imap
