#include "spam/arc/arc_set.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "spam/auth/tag_list.h"
#include "spam/dkim/canonical.h"
#include "spam/dkim/signature.h"

namespace ringmail::spam::arc {
namespace {

absl::Status broken(std::string_view why) { return absl::InvalidArgumentError(std::string(why)); }

enum class kind { none, results, signature, seal };

kind kind_of(std::string_view name) {
  if (mail::equals_ignore_case(name, "ARC-Authentication-Results")) return kind::results;
  if (mail::equals_ignore_case(name, "ARC-Message-Signature")) return kind::signature;
  if (mail::equals_ignore_case(name, "ARC-Seal")) return kind::seal;
  return kind::none;
}

}  // namespace

// parse_tag_list finds duplicates linearly (quadratic in the tag count): an ARC field
// with more tags than any honest one is refused before it is parsed.
bool too_many_tags(std::string_view value) {
  return static_cast<size_t>(std::count(value.begin(), value.end(), ';')) > dkim::max_signature_tags;
}

unsigned instance_of(std::string_view value) {
  // The AAR is "i=N; authserv-id; ..." (not a tag list as a whole), so only the first
  // ';'-separated piece is read, for all three kinds.
  auto first = parse_tag_list(value.substr(0, value.find(';')));
  const tag* i = first.ok() ? find_tag(*first, "i") : nullptr;
  absl::StatusOr<std::vector<tag>> all;
  if (i == nullptr) {  // AMS and AS may put i= later in their tag list
    if (too_many_tags(value)) return 0;
    all = parse_tag_list(value);
    if (!all.ok()) return 0;
    i = find_tag(*all, "i");
    if (i == nullptr) return 0;
  }
  auto n = dkim::parse_decimal(i->value);
  return n && *n >= 1 && *n <= max_arc_instances ? static_cast<unsigned>(*n) : 0;
}

absl::StatusOr<std::vector<arc_set>> collect_arc_sets(const mail::header_block& headers) {
  std::vector<arc_set> sets;
  size_t fields = 0;
  for (const mail::header_field& f : headers.fields) {
    kind k = kind_of(f.name);
    if (k == kind::none) continue;
    if (++fields > 3 * max_arc_instances) return broken("too many ARC header fields");
    unsigned i = instance_of(f.value);
    if (i == 0) return broken("ARC header field without a valid i=");
    if (sets.size() < i) sets.resize(i);
    arc_set& s = sets[i - 1];
    s.instance = i;
    const mail::header_field** slot = k == kind::results ? &s.results : k == kind::signature ? &s.signature : &s.seal;
    if (*slot != nullptr) return broken(absl::StrCat("two ARC fields of one kind for i=", i));
    *slot = &f;
  }
  for (const arc_set& s : sets) {
    if (s.results == nullptr || s.signature == nullptr || s.seal == nullptr) {
      return broken("incomplete or missing ARC set");
    }
  }
  return sets;
}

absl::StatusOr<seal> parse_seal(std::string_view value) {
  if (too_many_tags(value)) return broken("ARC-Seal: too many tags");
  auto tags = parse_tag_list(value);
  if (!tags.ok()) return broken(absl::StrCat("ARC-Seal: ", std::string(tags.status().message())));
  if (find_tag(*tags, "h") != nullptr) return broken("ARC-Seal with h=");  // §4.1.3
  for (std::string_view required : {"i", "a", "b", "cv", "d", "s"}) {
    if (find_tag(*tags, required) == nullptr) return broken(absl::StrCat("ARC-Seal without ", std::string(required), "="));
  }
  seal s;
  auto n = dkim::parse_decimal(find_tag(*tags, "i")->value);
  if (!n || *n < 1 || *n > max_arc_instances) return broken("ARC-Seal: bad i=");
  s.instance = static_cast<unsigned>(*n);
  std::string_view a = find_tag(*tags, "a")->value;
  if (mail::equals_ignore_case(a, "rsa-sha256")) {
    s.algo = dkim::algorithm::rsa_sha256;
  } else if (mail::equals_ignore_case(a, "ed25519-sha256")) {
    s.algo = dkim::algorithm::ed25519_sha256;
  } else {
    return broken("ARC-Seal: unsupported a=");
  }
  std::string_view cv = find_tag(*tags, "cv")->value;
  if (mail::equals_ignore_case(cv, "none")) {
    s.cv = arc_result::none;
  } else if (mail::equals_ignore_case(cv, "pass")) {
    s.cv = arc_result::pass;
  } else if (mail::equals_ignore_case(cv, "fail")) {
    s.cv = arc_result::fail;
  } else {
    return broken("ARC-Seal: bad cv=");
  }
  s.domain = std::string(find_tag(*tags, "d")->value);
  s.selector = std::string(find_tag(*tags, "s")->value);
  if (s.domain.empty() || s.selector.empty()) return broken("ARC-Seal: empty d= or s=");
  auto b = dkim::decode_base64_strict(find_tag(*tags, "b")->value, dkim::max_signature_bytes);
  if (!b.ok() || b->empty()) return broken("ARC-Seal: bad b=");
  s.signature_data = std::move(*b);
  return s;
}

std::string seal_hash_input(const std::vector<arc_set>& sets, unsigned upto) {
  std::string out;
  for (unsigned k = 0; k < upto && k < sets.size(); ++k) {
    const arc_set& s = sets[k];
    out += dkim::canonical_header(dkim::raw_field(*s.results), dkim::canonicalization::relaxed);
    out += dkim::canonical_header(dkim::raw_field(*s.signature), dkim::canonicalization::relaxed);
    if (k + 1 < upto) {
      out += dkim::canonical_header(dkim::raw_field(*s.seal), dkim::canonicalization::relaxed);
    } else {
      std::string c = dkim::canonical_header(dkim::without_b_value(dkim::raw_field(*s.seal)),
                                             dkim::canonicalization::relaxed);
      c.resize(c.size() - 2);
      out += c;
    }
  }
  return out;
}

}  // namespace ringmail::spam::arc
