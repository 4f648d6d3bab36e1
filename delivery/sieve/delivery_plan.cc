#include "delivery/sieve/delivery_plan.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "delivery/mailstore/folder_name.h"
#include "delivery/mailstore/maildir_filename.h"
#include "mail/header.h"

namespace ringmail::sieve {
namespace {

constexpr std::string_view kInbox = "INBOX";

// RFC 3501 9 atom-char: any CHAR except atom-specials ( "(" ")" "{" SP CTL "%" "*" '"'
// "\" "]" ); RFC 5232 keywords are atoms.
bool is_atom(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (c <= 0x20 || c >= 0x7f) return false;
    switch (c) {
      case '(': case ')': case '{': case '%': case '*': case '"': case '\\': case ']':
        return false;
      default:
        break;
    }
  }
  return true;
}

uint8_t system_flag(std::string_view name) {
  using namespace mailstore;
  if (mail::equals_ignore_case(name, "\\Seen")) return flag_seen;
  if (mail::equals_ignore_case(name, "\\Answered")) return flag_answered;
  if (mail::equals_ignore_case(name, "\\Flagged")) return flag_flagged;
  if (mail::equals_ignore_case(name, "\\Deleted")) return flag_deleted;
  if (mail::equals_ignore_case(name, "\\Draft")) return flag_draft;
  return 0;
}

// Adds a copy into `folder` or merges it into an earlier copy of the same folder (the
// later flags win, RFC 5232 3: each keep/fileinto carries the flags as they stand).
void add_copy(delivery_plan& plan, std::string folder, const std::vector<std::string>& flags, bool create) {
  // Names compare as the store stores them: "inbox" and "INBOX" are one folder.
  auto dir = mailstore::folder_to_dir(folder);
  if (!dir.ok()) {
    plan.notes.push_back(absl::StrCat("fileinto \"", folder, "\" cannot be a folder (", dir.status().message(),
                                      "): kept in INBOX"));
    folder = std::string(kInbox);
    dir = std::string();
    create = false;
  }
  if (dir->empty()) {
    folder = std::string(kInbox);
    create = false;
  }
  planned_copy copy;
  copy.folder = std::move(folder);
  copy.create = create;
  split_sieve_flags(flags, &copy.flags, &copy.keywords);
  for (planned_copy& earlier : plan.copies) {
    auto earlier_dir = mailstore::folder_to_dir(earlier.folder);
    if (earlier_dir.ok() && *earlier_dir == *dir) {
      earlier.flags = copy.flags;
      earlier.keywords = std::move(copy.keywords);
      earlier.create = earlier.create || copy.create;
      return;
    }
  }
  plan.copies.push_back(std::move(copy));
}

// Some field `name` of the header block at the start of `header` has the value `value`
// (unfolded, trimmed, ASCII case-insensitive).
bool has_field_value(std::string_view header, std::string_view name, std::string_view value) {
  const mail::header_block block = mail::parse_header_block(header);
  for (const mail::header_field* f : block.find_all(name)) {
    std::string v = mail::unfold(f->value);
    absl::StripAsciiWhitespace(&v);
    if (mail::equals_ignore_case(v, value)) return true;
  }
  return false;
}

}  // namespace

bool spam_flagged(std::string_view trace, std::string_view message) {
  return has_field_value(trace, "X-Spam-Flag", "YES") || has_field_value(message, "X-Spam-Flag", "YES");
}

bool carries_delivered_to(std::string_view message, std::string_view recipient) {
  return has_field_value(message, "Delivered-To", recipient);
}

void split_sieve_flags(const std::vector<std::string>& names, uint8_t* bits, std::vector<std::string>* keywords) {
  *bits = 0;
  keywords->clear();
  for (const std::string& name : names) {
    if (name.empty()) continue;
    if (name[0] == '\\') {
      *bits |= system_flag(name);  // \Recent and unknown system flags: 0, dropped
      continue;
    }
    if (!is_atom(name)) continue;
    bool seen = false;
    for (const std::string& k : *keywords) seen = seen || mail::equals_ignore_case(k, name);
    if (!seen) keywords->push_back(name);
  }
}

std::string reply_text(std::string_view reason, size_t max_bytes) {
  std::string out;
  for (unsigned char c : reason) {
    const bool space = c < 0x20 || c == 0x7f || c == ' ';
    if (space) {
      if (!out.empty() && out.back() != ' ') out += ' ';
      continue;
    }
    out += static_cast<char>(c);
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (out.size() > max_bytes) {
    size_t cut = max_bytes;
    // Do not cut a UTF-8 sequence in two: back up to its lead byte.
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
    out.resize(cut);
  }
  if (out.empty()) out = "Message rejected";
  return out;
}

delivery_plan plan_delivery(const run_result& result, const plan_input& input) {
  delivery_plan plan;
  if (result.error) {
    plan.error = *result.error;
    plan.copies.push_back(planned_copy{std::string(kInbox), 0, {}, false});
    return plan;
  }
  bool keep_lost_to_refused_redirect = false;
  for (const action& a : result.actions) {
    switch (a.kind) {
      case action::keep:
        add_copy(plan, std::string(kInbox), a.flags, false);
        break;
      case action::fileinto:
        add_copy(plan, a.mailbox, a.flags, a.create);
        break;
      case action::redirect:
        if (mail::equals_ignore_case(a.address, input.recipient) || input.delivered_to_recipient) {
          plan.notes.push_back(absl::StrCat("redirect to <", a.address, "> refused: mail loop (the message was ",
                                            input.delivered_to_recipient ? "delivered to this recipient before)"
                                                                         : "addressed to itself)"));
          if (!a.copy) keep_lost_to_refused_redirect = true;
          break;
        }
        plan.redirects.push_back(a.address);
        break;
      case action::reject:
        if (input.envelope_from.empty()) {
          plan.notes.push_back("reject: no notice to the null sender (RFC 5429 2.1)");
        } else {
          plan.reject_notice = a.reason;
        }
        break;
      case action::ereject:
        if (input.refuse_in_protocol) {
          plan.refusal = reply_text(a.reason);
        } else if (input.envelope_from.empty()) {
          plan.notes.push_back("ereject: not refusable in protocol and no notice to the null sender");
        } else {
          plan.notes.push_back("ereject: the transaction has other recipients, a rejection notice instead");
          plan.reject_notice = a.reason;
        }
        break;
      case action::discard:
        break;
      case action::vacation:
        if (!plan.vacation) plan.vacation = a;
        break;
      case action::track_duplicate:
        plan.duplicates.push_back(a);
        break;
    }
  }
  if (result.implicit_keep) {
    add_copy(plan, std::string(kInbox), result.implicit_keep_flags, false);
  } else if (keep_lost_to_refused_redirect && plan.copies.empty() && plan.redirects.empty()) {
    add_copy(plan, std::string(kInbox), {}, false);
  }
  return plan;
}

}  // namespace ringmail::sieve
