// RFC 5256 section 2.1 base subject; the steps are numbered as in the RFC (base_subject.h).
#include "protocols/imap/base_subject.h"

#include "mail/casefold.h"
#include "mail/charset.h"
#include "mail/header.h"
#include "mail/rfc2047.h"

namespace ringmail::imap {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// Step (1), the whitespace part: runs of whitespace become one SP.
std::string pack_whitespace(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  bool last_space = false;
  for (char c : s) {
    if (is_space(c)) {
      if (!last_space) out += ' ';
      last_space = true;
    } else {
      out += c;
      last_space = false;
    }
  }
  return out;
}

// subj-blob = "[" *BLOBCHAR "]" *WSP at `p`; returns the position after it, or npos.
size_t skip_blob(std::string_view s, size_t p) {
  if (p >= s.size() || s[p] != '[') return std::string_view::npos;
  ++p;
  while (p < s.size() && s[p] != '[' && s[p] != ']') ++p;
  if (p >= s.size() || s[p] != ']') return std::string_view::npos;
  ++p;
  while (p < s.size() && s[p] == ' ') ++p;
  return p;
}

bool starts_with_at(std::string_view s, size_t p, std::string_view prefix) {
  return s.size() - p >= prefix.size() && s.substr(p, prefix.size()) == prefix;
}

class base_subject_machine {
 public:
  explicit base_subject_machine(std::string text) : s_(std::move(text)), end_(s_.size()) {}

  base_subject_result run() {
    do {
      blob_run_start_ = blob_run_end_ = std::string_view::npos;
      remove_trailers();  // (2)
      bool found;
      do {
        found = remove_leader();                  // (3)
        found = remove_blob_if_nonempty() || found;  // (4)
      } while (found);                            // (5)
    } while (remove_fwd_wrapper());               // (6)
    base_subject_result r;                        // (7)
    r.subject = s_.substr(start_, end_ - start_);
    r.reply_or_forward = reply_or_forward_;
    return r;
  }

 private:
  std::string_view view() const { return std::string_view(s_).substr(0, end_); }

  // (2) subj-trailer = "(fwd)" / WSP, from the end, never into the removed prefix.
  void remove_trailers() {
    std::string_view v = view();
    while (end_ > start_) {
      if (v[end_ - 1] == ' ') {
        --end_;
      } else if (end_ - start_ >= 5 && v.substr(end_ - 5, 5) == "(FWD)") {
        end_ -= 5;
        reply_or_forward_ = true;
      } else {
        break;
      }
    }
  }

  // (3) subj-leader = (*subj-blob subj-refwd) / WSP
  bool remove_leader() {
    std::string_view v = view();
    bool removed = false;
    if (start_ < end_ && v[start_] == ' ') {
      ++start_;
      removed = true;
    }
    size_t p = start_;
    if (blob_run_start_ != std::string_view::npos && p >= blob_run_start_ && p <= blob_run_end_) {
      // The blobs from here end where an earlier scan found no subj-refwd after them.
      return removed;
    }
    const size_t run_start = p;
    while (p < end_ && v[p] == '[') {
      size_t next = skip_blob(v, p);
      if (next == std::string_view::npos) break;
      p = next;
    }
    const size_t run_end = p;
    if (starts_with_at(v, p, "RE")) {
      p += 2;
    } else if (starts_with_at(v, p, "FWD")) {
      p += 3;
    } else if (starts_with_at(v, p, "FW")) {
      p += 2;
    } else {
      return fail_run(run_start, run_end, removed);
    }
    while (p < end_ && v[p] == ' ') ++p;
    if (p < end_ && v[p] == '[') {
      size_t next = skip_blob(v, p);
      if (next == std::string_view::npos) return fail_run(run_start, run_end, removed);
      p = next;
    }
    if (p >= end_ || v[p] != ':') return fail_run(run_start, run_end, removed);
    start_ = p + 1;
    reply_or_forward_ = true;
    return true;
  }

  bool fail_run(size_t run_start, size_t run_end, bool removed) {
    // Only a run that stopped at something other than a broken blob can be remembered:
    // removing its first blob (step 4) leaves a run with the same end and the same text
    // after it. (A scan that stopped at an unterminated "[" also ends there.)
    blob_run_start_ = run_start;
    blob_run_end_ = run_end;
    return removed;
  }

  // (4) a leading subj-blob, when something is left after it.
  bool remove_blob_if_nonempty() {
    std::string_view v = view();
    size_t next = skip_blob(v, start_);
    if (next == std::string_view::npos || next >= end_) return false;
    start_ = next;
    return true;
  }

  // (6) "[FWD:" ... "]"
  bool remove_fwd_wrapper() {
    std::string_view v = view();
    if (!starts_with_at(v, start_, "[FWD:") || end_ < start_ + 6 || v[end_ - 1] != ']') return false;
    start_ += 5;
    --end_;
    reply_or_forward_ = true;
    return true;
  }

  std::string s_;
  size_t start_ = 0;
  size_t end_;
  bool reply_or_forward_ = false;
  // A blob run [start, end] after which no subj-refwd follows (see remove_leader).
  size_t blob_run_start_ = std::string_view::npos;
  size_t blob_run_end_ = std::string_view::npos;
};

}  // namespace

std::string sort_casemap(std::string_view utf8) {
  // Invalid UTF-8 (raw 8-bit headers) becomes U+FFFD, one for a run of them, as Dovecot's
  // uni_utf8_to_decomposed_titlecase() writes it: SORT then orders such values as Dovecot.
  std::string repaired;
  std::string_view in = utf8;
  if (!mail::is_valid_utf8(utf8)) {
    mail::repair_utf8(utf8, repaired);
    in = repaired;
  }
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
  std::string collapsed;
  if (in.find(kReplacement) != std::string_view::npos) {
    collapsed.reserve(in.size());
    for (size_t i = 0; i < in.size();) {
      if (in.substr(i, 3) == kReplacement) {
        if (collapsed.size() < 3 || std::string_view(collapsed).substr(collapsed.size() - 3) != kReplacement) {
          collapsed.append(kReplacement);
        }
        i += 3;
      } else {
        collapsed += in[i++];
      }
    }
    in = collapsed;
  }
  std::string out = mail::fold_case(in);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

base_subject_result base_subject_of_text(std::string_view utf8) {
  return base_subject_machine(pack_whitespace(sort_casemap(utf8))).run();
}

base_subject_result base_subject(std::string_view raw_value, mail::charset_converter& charsets) {
  return base_subject_of_text(mail::decode_header_words(mail::unfold(raw_value), charsets));
}

}  // namespace ringmail::imap
