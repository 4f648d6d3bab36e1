#include "spam/dkim/canonical.h"

#include <algorithm>

#include <openssl/evp.h>

#include "absl/strings/ascii.h"
#include "spam/auth/tag_list.h"

namespace ringmail::spam::dkim {
namespace {

bool is_wsp(char c) { return c == ' ' || c == '\t'; }

// Bare LF -> CRLF. A lone CR is left alone (as DKIM libraries do).
std::string to_crlf(std::string_view raw) {
  std::string out;
  out.reserve(raw.size() + raw.size() / 32);
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\n' && (i == 0 || raw[i - 1] != '\r')) out.push_back('\r');
    out.push_back(raw[i]);
  }
  return out;
}

}  // namespace

prepared_message::prepared_message(std::string_view raw)
    : text_(to_crlf(raw)), headers_(mail::parse_header_block(text_)) {}

std::string_view prepared_message::body() const {
  if (!headers_.has_body_separator) return {};
  return std::string_view(text_).substr(std::min(headers_.body_offset, text_.size()));
}

std::string_view raw_field(const mail::header_field& f) {
  const char* end = f.value.data() + f.value.size();
  if (end < f.name.data() + f.name.size()) end = f.name.data() + f.name.size();
  return std::string_view(f.name.data(), static_cast<size_t>(end - f.name.data()));
}

std::string canonical_header(std::string_view raw, canonicalization c) {
  std::string out;
  if (c == canonicalization::simple) {
    out.reserve(raw.size() + 2);
    out.append(raw);
    out.append("\r\n");
    return out;
  }
  // §3.4.2: lower-case name, unfold, WSP runs -> one SP, no WSP at either end of the
  // value or before the colon.
  size_t colon = raw.find(':');
  std::string_view name = colon == std::string_view::npos ? raw : raw.substr(0, colon);
  std::string_view value = colon == std::string_view::npos ? std::string_view() : raw.substr(colon + 1);
  while (!name.empty() && is_wsp(name.back())) name.remove_suffix(1);
  out.reserve(raw.size() + 2);
  for (char ch : name) out.push_back(absl::ascii_tolower(static_cast<unsigned char>(ch)));
  out.push_back(':');
  bool space = false, started = false;
  for (char ch : value) {
    if (ch == '\r' || ch == '\n') continue;
    if (is_wsp(ch)) {
      space = true;
      continue;
    }
    if (space && started) out.push_back(' ');
    space = false;
    started = true;
    out.push_back(ch);
  }
  out.append("\r\n");
  return out;
}

std::string header_hash_input(const mail::header_block& headers, std::span<const std::string> names,
                              canonicalization c, std::string_view signature_raw) {
  std::string out;
  // Per name, how many instances (from the bottom) are used up already.
  std::vector<std::pair<std::string_view, size_t>> used;
  for (const std::string& name : names) {
    auto it = std::find_if(used.begin(), used.end(),
                           [&](const auto& u) { return mail::equals_ignore_case(u.first, name); });
    if (it == used.end()) {
      used.emplace_back(name, 0);
      it = used.end() - 1;
    }
    size_t skip = it->second;
    const mail::header_field* pick = nullptr;
    for (auto f = headers.fields.rbegin(); f != headers.fields.rend(); ++f) {
      if (!mail::equals_ignore_case(f->name, name)) continue;
      if (skip == 0) {
        pick = &*f;
        break;
      }
      --skip;
    }
    ++it->second;
    if (pick != nullptr) out += canonical_header(raw_field(*pick), c);
  }
  std::string sig = canonical_header(signature_raw, c);
  sig.resize(sig.size() - 2);  // §3.7: the signature field goes in without its CRLF
  out += sig;
  return out;
}

std::string without_b_value(std::string_view raw) {
  size_t colon = raw.find(':');
  if (colon == std::string_view::npos) return std::string(raw);
  std::string_view value = raw.substr(colon + 1);
  auto tags = parse_tag_list(value);
  if (!tags.ok()) return std::string(raw);
  const tag* b = find_tag(*tags, "b");
  if (b == nullptr || b->value.empty()) return std::string(raw);
  size_t at = static_cast<size_t>(b->value.data() - raw.data());
  std::string out(raw.substr(0, at));
  out.append(raw.substr(at + b->value.size()));
  return out;
}

body_hasher::body_hasher(canonicalization c, std::optional<uint64_t> limit, std::string* copy)
    : canon_(c), limit_(limit), copy_(copy), ctx_(EVP_MD_CTX_new()) {
  EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr);
}

body_hasher::~body_hasher() { EVP_MD_CTX_free(ctx_); }

void body_hasher::emit(std::string_view bytes) {
  uint64_t room = bytes.size();
  if (limit_) room = total_ >= *limit_ ? 0 : std::min<uint64_t>(room, *limit_ - total_);
  if (room != 0) {
    EVP_DigestUpdate(ctx_, bytes.data(), static_cast<size_t>(room));
    if (copy_ != nullptr) copy_->append(bytes.substr(0, static_cast<size_t>(room)));
  }
  total_ += bytes.size();
}

void body_hasher::line(std::string_view content) {
  std::string relaxed;
  if (canon_ == canonicalization::relaxed) {
    // §3.4.4: WSP runs -> one SP, none at the line end.
    relaxed.reserve(content.size());
    bool space = false;
    for (char ch : content) {
      if (is_wsp(ch)) {
        space = true;
        continue;
      }
      if (space) relaxed.push_back(' ');
      space = false;
      relaxed.push_back(ch);
    }
    content = relaxed;
  }
  if (content.empty()) {
    ++pending_empty_;  // emitted only if a non-empty line follows (§3.4.3/§3.4.4)
    return;
  }
  for (; pending_empty_ != 0; --pending_empty_) emit("\r\n");
  emit(content);
  emit("\r\n");
  any_ = true;
}

void body_hasher::feed(std::string_view bytes) {
  while (!bytes.empty()) {
    size_t lf = bytes.find('\n');
    if (lf == std::string_view::npos) {
      partial_.append(bytes);
      return;
    }
    std::string_view piece = bytes.substr(0, lf);
    bytes.remove_prefix(lf + 1);
    if (partial_.empty()) {
      if (!piece.empty() && piece.back() == '\r') piece.remove_suffix(1);
      line(piece);
    } else {
      partial_.append(piece);
      if (partial_.back() == '\r') partial_.pop_back();
      line(partial_);
      partial_.clear();
    }
  }
}

std::string body_hasher::finish() {
  // An unterminated last line gets its CRLF (§3.4.3, §3.4.4).
  if (!partial_.empty()) {
    std::string last = std::move(partial_);
    partial_.clear();
    line(last);
  }
  // §3.4.3: a simple empty body is one CRLF; relaxed stays empty (RFC 6376 erratum 3192).
  if (!any_ && canon_ == canonicalization::simple) emit("\r\n");
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx_, md, &len);
  return std::string(reinterpret_cast<char*>(md), len);
}

std::string canonical_body(std::string_view body, canonicalization c) {
  std::string out;
  body_hasher h(c, std::nullopt, &out);
  h.feed(body);
  h.finish();
  return out;
}

}  // namespace ringmail::spam::dkim
