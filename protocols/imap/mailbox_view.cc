#include "protocols/imap/mailbox_view.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "delivery/mailstore/maildir_filename.h"
#include "protocols/imap/number_set.h"

namespace ringmail::imap {

void append_system_flags(std::string& out, uint8_t flags) {
  auto add = [&](const char* name) {
    if (!out.empty() && out.back() != '(') out += ' ';
    out += name;
  };
  if (flags & mailstore::flag_answered) add("\\Answered");
  if (flags & mailstore::flag_flagged) add("\\Flagged");
  if (flags & mailstore::flag_deleted) add("\\Deleted");
  if (flags & mailstore::flag_seen) add("\\Seen");
  if (flags & mailstore::flag_draft) add("\\Draft");
}

std::string mailbox_view::flag_list(uint8_t flags, uint32_t keywords) const {
  std::string out;
  append_flag_list(out, flags, keywords);
  return out;
}

void mailbox_view::append_flag_list(std::string& out, uint8_t flags, uint32_t keywords) const {
  const size_t open = out.size();
  out += '(';
  append_system_flags(out, flags);  // separates after anything but '('
  for (size_t i = 0; i < keywords_.size() && i < 32; ++i) {
    if (keywords & (1u << i)) {
      if (out.size() > open + 1) out += ' ';
      out += keywords_[i];
    }
  }
  out += ')';
}

view_message to_view_message(const mailstore::message_entry& m) {
  return make_view_message(m.uid, m.flags, m.keywords, m.modseq);
}

void mailbox_view::reset(std::vector<view_message> messages, const std::vector<std::string>& keywords,
                         uint64_t seq) {
  messages_ = std::move(messages);
  keywords_ = keywords;
  seq_ = seq;
  exists_reported_ = messages_.size();
  pending_expunges_ = 0;
  dirty_ = 0;
  keywords_grew_ = false;
}

uint32_t mailbox_view::seq_of(uint32_t uid) const {
  auto it = std::lower_bound(messages_.begin(), messages_.end(), uid,
                             [](const view_message& m, uint32_t u) { return m.uid < u; });
  if (it == messages_.end() || it->uid != uid) return 0;
  return static_cast<uint32_t>(it - messages_.begin()) + 1;
}

void mailbox_view::apply(const std::vector<mailstore::folder_event>& events, const std::vector<std::string>& keywords,
                         uint64_t last_seq) {
  if (keywords.size() > keywords_.size()) {
    keywords_ = keywords;
    keywords_grew_ = true;
  }
  for (const auto& e : events) {
    if (e.seq <= seq_) continue;  // already seen (SELECT's snapshot was newer)
    switch (e.k) {
      case mailstore::folder_event::appended:
        // UIDs only grow, so an append goes at the end; one we already have (the
        // snapshot at SELECT raced with the event) is skipped.
        if (messages_.empty() || e.uid > messages_.back().uid) {
          messages_.push_back(make_view_message(e.uid, e.flags, e.keywords, e.modseq));
        }
        break;
      case mailstore::folder_event::flags_changed: {
        uint32_t s = seq_of(e.uid);
        if (s == 0) break;
        view_message& m = messages_[s - 1];
        m.modseq = std::max(m.modseq, e.modseq);
        if (m.expunged || (m.flags == e.flags && m.keywords == e.keywords)) break;
        m.flags = e.flags;
        m.keywords = e.keywords;
        // A message whose EXISTS is still to come is news as a whole: its flags are
        // what the client will FETCH, not a change to announce.
        if (s - 1 >= exists_reported_) break;
        if (!m.flags_dirty) {
          m.flags_dirty = true;
          ++dirty_;
        }
        break;
      }
      case mailstore::folder_event::expunged: {
        uint32_t s = seq_of(e.uid);
        if (s == 0) break;
        if (s > exists_reported_) {
          // The client never heard of it (no EXISTS yet): forget it now, or a report
          // without expunges would count it in EXISTS and a later one EXPUNGE it.
          forget_unreported(s - 1);
          break;
        }
        view_message& m = messages_[s - 1];
        if (m.expunged) break;
        m.expunged = true;
        ++pending_expunges_;
        if (m.flags_dirty) {
          m.flags_dirty = false;
          --dirty_;
        }
        break;
      }
    }
  }
  seq_ = std::max(seq_, last_seq);
}

void mailbox_view::resync(const std::vector<view_message>& messages, const std::vector<std::string>& keywords,
                          uint64_t seq) {
  if (keywords.size() > keywords_.size()) keywords_grew_ = true;
  keywords_ = keywords;
  size_t j = 0;
  for (auto& m : messages_) {
    while (j < messages.size() && messages[j].uid < m.uid) ++j;
    if (j < messages.size() && messages[j].uid == m.uid) {
      const auto& e = messages[j];
      if (!m.expunged && (e.flags != m.flags || e.keywords != m.keywords)) {
        m.flags = e.flags;
        m.keywords = e.keywords;
        if (!m.flags_dirty) {
          m.flags_dirty = true;
          ++dirty_;
        }
      }
      m.modseq = e.modseq;
    } else if (!m.expunged) {
      // Those the client never heard of are dropped below, after this loop.
      m.expunged = true;
      ++pending_expunges_;
      if (m.flags_dirty) {
        m.flags_dirty = false;
        --dirty_;
      }
    }
  }
  const uint32_t top = max_uid();
  for (size_t i = messages_.size(); i-- > exists_reported_;) {
    if (messages_[i].expunged) {
      --pending_expunges_;
      messages_[i].expunged = false;
      forget_unreported(i);
    }
  }
  for (const auto& e : messages) {
    if (e.uid > top) messages_.push_back(make_view_message(e.uid, e.flags, e.keywords, e.modseq));
  }
  seq_ = seq;
}

void mailbox_view::forget_unreported(size_t index) {
  if (messages_[index].flags_dirty) --dirty_;
  messages_.erase(messages_.begin() + static_cast<ptrdiff_t>(index));
}

void mailbox_view::reported_flags(uint32_t uid, uint8_t flags, uint32_t keywords, uint32_t seq_hint) {
  const bool hit = seq_hint != 0 && seq_hint <= messages_.size() && messages_[seq_hint - 1].uid == uid;
  uint32_t s = hit ? seq_hint : seq_of(uid);
  if (s == 0) return;
  view_message& m = messages_[s - 1];
  m.flags = flags;
  m.keywords = keywords;
  if (m.flags_dirty) {
    m.flags_dirty = false;
    --dirty_;
  }
}

void mailbox_view::report(std::string& out, bool allow_expunge, bool uid_in_fetch) {
  if (allow_expunge && pending_expunges_ > 0 && vanished_) {
    // QRESYNC: the UIDs, ascending, in one response (RFC 7162 3.2.10); the count of
    // messages drops by as many.
    std::vector<uint32_t> gone;
    for (size_t i = 0; i < messages_.size() && i < exists_reported_; ++i) {
      if (messages_[i].expunged) gone.push_back(messages_[i].uid);
    }
    if (!gone.empty()) absl::StrAppend(&out, "* VANISHED ", format_number_set(gone), "\r\n");
    exists_reported_ -= gone.size();
    std::erase_if(messages_, [](const view_message& m) { return m.expunged; });
    pending_expunges_ = 0;
  }
  if (allow_expunge && pending_expunges_ > 0) {
    // Highest number first: each EXPUNGE renumbers only the messages after it, which
    // were already reported, so every number sent is right at the moment it is sent.
    for (size_t i = messages_.size(); i-- > 0;) {
      if (!messages_[i].expunged) continue;
      // A message that came and went before its EXISTS was sent is dropped silently.
      if (i >= exists_reported_) continue;
      absl::StrAppend(&out, "* ", i + 1, " EXPUNGE\r\n");
      --exists_reported_;
    }
    std::erase_if(messages_, [](const view_message& m) { return m.expunged; });
    pending_expunges_ = 0;
  }
  if (messages_.size() > exists_reported_) {
    absl::StrAppend(&out, "* ", messages_.size(), " EXISTS\r\n");
  }
  exists_reported_ = messages_.size();
  if (dirty_ > 0) {
    for (size_t i = 0; i < messages_.size(); ++i) {
      view_message& m = messages_[i];
      if (!m.flags_dirty) continue;
      m.flags_dirty = false;
      absl::StrAppend(&out, "* ", i + 1, " FETCH (");
      if (uid_in_fetch || vanished_) absl::StrAppend(&out, "UID ", m.uid, " ");
      absl::StrAppend(&out, "FLAGS ", flag_list(m.flags, m.keywords));
      if (modseq_) absl::StrAppend(&out, " MODSEQ (", m.modseq, ")");
      out += ")\r\n";
    }
    dirty_ = 0;
  }
}

}  // namespace ringmail::imap
