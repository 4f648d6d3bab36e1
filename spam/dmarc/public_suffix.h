// public_suffix: the Public Suffix List (https://publicsuffix.org/list/), read once at
// start-up, and the DMARC Organizational Domain (RFC 7489 §3.2) computed from it.
//
// The list is Debian's publicsuffix package (/usr/share/publicsuffix/public_suffix_list.dat).
// Both sections are loaded — ICANN and PRIVATE — as opendmarc (libopendmarc's
// opendmarc_tld_read_file reads every rule of the file it is given, and its documented
// default is this same file) and rspamd (its `tld` map is the whole effective_tld_names.dat)
// do, so "example.blogspot.com" is its own Organizational Domain and one blog cannot align
// with another. `load_options::include_private = false` keeps the ICANN section only.
//
// Matching follows the list's algorithm (publicsuffix.org "Formal algorithm"): the rule
// matching the most labels wins, an exception rule ("!www.ck") beats every other rule and
// makes its parent the suffix, a wildcard ("*.ck") matches exactly one label, and no match
// at all means the implicit rule "*" (the TLD is the suffix). The file writes IDN rules in
// UTF-8 (U-labels, "公司.cn"); mail carries A-labels ("xn--55qx5d.cn"), so each such rule is
// also entered in its A-label form (libidn2, IDNA2008 with UTS #46 as delivery/directory/
// address.cc converts domains), and both forms match.
//
// Threading: load() does blocking file I/O — call it once at start-up, off the shards;
// the table is immutable afterwards and shared by every shard without a lock.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"

namespace ringmail::spam::dmarc {

inline constexpr std::string_view default_public_suffix_path = "/usr/share/publicsuffix/public_suffix_list.dat";

struct load_options {
  bool include_private = true;  // the PRIVATE DOMAINS section too (see above)
};

class public_suffix_list {
 public:
  // Reads and parses the file. NotFound (naming the path and the Debian package) when it
  // is missing; callers then fall back to "the domain itself" (organizational_domain()
  // with a null list).
  static absl::StatusOr<std::shared_ptr<const public_suffix_list>> load(
      std::string_view path = default_public_suffix_path, const load_options& options = {});
  // The same from the file's text (tests, fuzz targets). Never fails: lines that are not
  // rules are skipped.
  static std::shared_ptr<const public_suffix_list> from_text(std::string_view text, const load_options& options = {});

  // The public suffix of `domain` (lower-cased, without a trailing dot): "co.uk" for
  // "mail.example.co.uk". The whole domain when it is itself a suffix.
  std::string public_suffix(std::string_view domain) const;
  // RFC 7489 §3.2: the public suffix plus one label; the domain itself (normalized) when
  // it is a public suffix or has no label beyond one.
  std::string organizational_domain(std::string_view domain) const;

  size_t rule_count() const { return rules_.size(); }

 private:
  enum class kind : uint8_t { normal = 1, wildcard = 2, exception = 4 };  // bits
  void add_rule(std::string_view rule);
  // Labels (from the right) that form the public suffix of the normalized name.
  size_t suffix_labels(std::string_view name) const;

  // Rule name (without "*." / "!") -> kinds of rules written with that name.
  absl::flat_hash_map<std::string, uint8_t> rules_;
};

// Lower-case, no trailing dot: how names are compared here.
std::string normalize_domain(std::string_view domain);

// The Organizational Domain with the list when there is one, else the domain itself
// (normalized) — RFC 7489 §3.2 cannot be followed without the list, and treating every
// name as its own organization only makes relaxed alignment as strict as strict.
std::string organizational_domain(const public_suffix_list* list, std::string_view domain);

}  // namespace ringmail::spam::dmarc
