#include "delivery/sieve/result.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "mail/header.h"

namespace ringmail::sieve {
namespace {

bool tries_deliver(const action& a) {
  return a.kind == action::keep || a.kind == action::fileinto || a.kind == action::redirect;
}
bool is_reject(const action& a) { return a.kind == action::reject || a.kind == action::ereject; }

const char* kind_name(const action& a) {
  switch (a.kind) {
    case action::keep: return "keep";
    case action::fileinto: return "fileinto";
    case action::redirect: return "redirect";
    case action::reject: return "reject";
    case action::ereject: return "ereject";
    case action::discard: return "discard";
    case action::vacation: return "vacation";
    case action::track_duplicate: return "duplicate";
  }
  return "?";
}

absl::Status runtime_error(const std::string& where, std::string_view text) {
  return absl::FailedPreconditionError(absl::StrCat(where, ": ", std::string(text)));
}

}  // namespace

absl::Status result_builder::check_conflicts(const action& a, const std::string& where) const {
  for (size_t i = executed_; i < actions_.size(); ++i) {
    const action& other = actions_[i];
    const action* rej = is_reject(a) ? &a : is_reject(other) ? &other : nullptr;
    if (rej == nullptr) continue;
    const action& peer = rej == &a ? other : a;
    if (is_reject(peer)) {
      return runtime_error(where, "duplicate reject/ereject action not allowed");
    }
    if (tries_deliver(peer)) {
      return runtime_error(where, absl::StrCat("reject/ereject action conflicts with the ",
                                               kind_name(peer),
                                               " action, which tries to deliver the message"));
    }
    if (peer.kind == action::vacation) {
      return runtime_error(where,
                           "reject/ereject action conflicts with the vacation action, which "
                           "also sends a response to the sender");
    }
  }
  return absl::OkStatus();
}

absl::Status result_builder::add(action a, const std::string& where) {
  if (absl::Status s = check_conflicts(a, where); !s.ok()) return s;
  if (actions_.size() >= limits_.max_actions) {
    return runtime_error(where, absl::StrCat("total number of actions exceeds the limit of ",
                                             limits_.max_actions));
  }
  actions_.push_back(std::move(a));
  return absl::OkStatus();
}

absl::Status result_builder::store(std::string mailbox, std::vector<std::string> flags,
                                   bool copy, bool create, bool keep_command,
                                   const std::string& where) {
  const bool inbox = mail::equals_ignore_case(mailbox, "INBOX");
  if (keep_command) explicit_keep_ = true;
  for (action& a : actions_) {
    bool same = inbox ? a.kind == action::keep
                      : a.kind == action::fileinto && a.mailbox == mailbox;
    if (!same) continue;
    a.flags = std::move(flags);
    a.create = a.create || create;
    return absl::OkStatus();
  }
  if (!copy) implicit_keep_ = false;
  action a;
  a.kind = inbox ? action::keep : action::fileinto;
  a.mailbox = inbox ? "INBOX" : std::move(mailbox);
  a.flags = std::move(flags);
  a.copy = copy;
  a.create = create;
  return add(std::move(a), where);
}

absl::Status result_builder::redirect(std::string address, bool copy, const std::string& where) {
  size_t redirects = 0;
  for (action& a : actions_) {
    if (a.kind != action::redirect) continue;
    if (a.address == address) return absl::OkStatus();
    ++redirects;
  }
  if (!copy) implicit_keep_ = false;
  if (redirects >= limits_.max_redirects) {
    return runtime_error(where, absl::StrCat("number of redirect actions exceeds the limit of ",
                                             limits_.max_redirects));
  }
  action a;
  a.kind = action::redirect;
  a.address = std::move(address);
  a.copy = copy;
  return add(std::move(a), where);
}

absl::Status result_builder::reject(action::kind_t kind, std::string reason,
                                    const std::string& where) {
  implicit_keep_ = false;
  action a;
  a.kind = kind;
  a.reason = std::move(reason);
  return add(std::move(a), where);
}

absl::Status result_builder::discard(const std::string& where) {
  implicit_keep_ = false;
  for (const action& a : actions_) {
    if (a.kind == action::discard) return absl::OkStatus();
  }
  action a;
  a.kind = action::discard;
  return add(std::move(a), where);
}

absl::Status result_builder::vacation(action a, const std::string& where) {
  size_t count = 0;
  for (size_t i = executed_; i < actions_.size(); ++i) {
    if (actions_[i].kind == action::vacation) ++count;
  }
  if (count >= limits_.max_vacation_per_run) {
    return runtime_error(where, "duplicate vacation action not allowed");
  }
  a.kind = action::vacation;
  return add(std::move(a), where);
}

absl::Status result_builder::track_duplicate(action a, const std::string& where) {
  a.kind = action::track_duplicate;
  return add(std::move(a), where);
}

}  // namespace ringmail::sieve
