#include "protocols/imap/fetch_cache.h"

#include "absl/strings/str_cat.h"

namespace ringmail::imap {
namespace {

constexpr std::string_view kMagic = "imap1:";

void put(std::string& out, const std::string& field) { absl::StrAppend(&out, field.size(), ":", field); }

bool get(std::string_view& in, std::string& field) {
  size_t colon = in.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon > 10) return false;
  uint64_t n = 0;
  for (size_t i = 0; i < colon; ++i) {
    if (in[i] < '0' || in[i] > '9') return false;
    n = n * 10 + static_cast<uint64_t>(in[i] - '0');
  }
  in.remove_prefix(colon + 1);
  if (n > in.size()) return false;
  field.assign(in.substr(0, n));
  in.remove_prefix(n);
  return true;
}

}  // namespace

std::string encode_fetch_cache(const fetch_cache& c) {
  std::string out(kMagic);
  put(out, c.envelope);
  put(out, c.body_structure);
  put(out, c.body);
  if (!c.email_id.empty() || !c.thread_id.empty() || c.preview) {  // OBJECTID/PREVIEW fields
    put(out, c.email_id);
    put(out, c.thread_id);
    put(out, c.preview ? "=" + *c.preview : std::string());
  }
  return out;
}

std::optional<fetch_cache> decode_fetch_cache(std::string_view blob) {
  if (blob.substr(0, kMagic.size()) != kMagic) return std::nullopt;
  blob.remove_prefix(kMagic.size());
  fetch_cache c;
  if (!get(blob, c.envelope) || !get(blob, c.body_structure) || !get(blob, c.body)) return std::nullopt;
  if (!blob.empty()) {  // OBJECTID/PREVIEW fields (see fetch_cache.h)
    std::string preview;
    if (!get(blob, c.email_id) || !get(blob, c.thread_id) || !get(blob, preview) || !blob.empty()) {
      return std::nullopt;
    }
    if (!preview.empty()) {
      if (preview[0] != '=') return std::nullopt;
      c.preview = preview.substr(1);
    }
  }
  return c;
}

}  // namespace ringmail::imap
