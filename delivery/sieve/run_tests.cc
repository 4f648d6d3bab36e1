// Test evaluation (RFC 5228 5 and the extensions' tests): each test gathers its values
// from the message, the envelope or the run, and hands them with its keys to the matching
// library (match_list.h).
#include <algorithm>
#include <span>
#include <string_view>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "delivery/sieve/address_part.h"
#include "delivery/sieve/date_part.h"
#include "delivery/sieve/imap4flags.h"
#include "delivery/sieve/run.h"
#include "delivery/sieve/spamtest.h"
#include "mail/date.h"
#include "mail/header.h"

namespace ringmail::sieve {
namespace {

// RFC 5233 / Dovecot's recipient_delimiter default.
constexpr std::string_view kDetailSeparators = "+";

bool is_count(const matching::match_spec& spec) { return spec.count_relation.has_value(); }

body_transform transform_of(const checked_arguments& a) {
  if (a.find(tag_id::raw) != nullptr) return body_transform::raw;
  if (a.find(tag_id::content) != nullptr) return body_transform::content;
  return body_transform::text;  // RFC 5173 5: ":text" is the default
}

// The worst-case work of matching `values` against `keys` (see run_limits::max_match_work):
// :regex costs the square of each (cut) subject, glibc's unanchored search being
// quadratic in the worst case (match_regex.h); a :matches key with "?" costs value length
// times key length (its segments are found by a direct scan, match.h), at most the
// per-match step limit; everything else is linear in the value.
uint64_t match_work(const matching::match_spec& spec, const std::vector<std::string>& keys,
                    const std::vector<std::string>& values, const run_limits& limits,
                    size_t regex_subject_bytes) {
  uint64_t work = 0;
  const bool relational = spec.value_relation || spec.count_relation;
  for (const std::string& key : keys) {
    const bool scan = !relational && spec.type == matching::match_type::matches &&
                      key.find('?') != std::string::npos;
    for (const std::string& v : values) {
      if (!relational && spec.type == matching::match_type::regex) {
        const uint64_t n = std::min(v.size(), regex_subject_bytes);
        work += n * n;
      } else if (scan) {
        work += std::min<uint64_t>(uint64_t{v.size()} * key.size(), limits.match.max_steps);
      } else {
        work += v.size() + key.size();
      }
    }
  }
  return work;
}

}  // namespace

absl::StatusOr<bool> run_state::match_with(scope& s, const matching::match_spec& spec,
                                           const std::optional<matching::compiled_match>& compiled,
                                           const value& keys,
                                           const std::vector<std::string>& values,
                                           source_location where,
                                           std::optional<test_id> test) {
  std::optional<matching::compiled_match> runtime;
  const matching::compiled_match* m = compiled ? &*compiled : nullptr;
  std::vector<std::string> expanded_keys;
  if (m == nullptr) {
    // Keys with variable references: expanded now, compiled for this evaluation.
    absl::StatusOr<std::vector<std::string>> expanded = expand_list(s, keys);
    if (!expanded.ok()) return expanded.status();
    expanded_keys = test ? test_keys(*test, *std::move(expanded)) : *std::move(expanded);
  }
  // Charged before matching (a match may stop early: the estimate is an upper bound).
  match_work_ += match_work(spec, m != nullptr ? keys.strings : expanded_keys, values, limits_,
                            matching::regex_limits{}.max_subject_bytes);
  if (match_work_ > limits_.max_match_work) {
    return absl::ResourceExhaustedError(absl::StrCat(
        where_text(where), ": the script's matching work went past the limit (",
        limits_.max_match_work, "; :regex over long values costs the most)"));
  }
  if (m == nullptr) {
    absl::StatusOr<matching::compiled_match> c =
        matching::compiled_match::compile(spec, expanded_keys);
    if (!c.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat(where_text(where), ": ", c.status().message()));
    }
    runtime.emplace(*std::move(c));
    m = &*runtime;
  }
  std::vector<std::string_view> views(values.begin(), values.end());
  const bool want_captures = s.prog.variables && m->sets_match_variables();
  matching::match_captures captures;
  absl::StatusOr<bool> r = m->match(views, want_captures ? &captures : nullptr, limits_.match);
  if (!r.ok()) {
    return absl::ResourceExhaustedError(
        absl::StrCat(where_text(where), ": ", r.status().message()));
  }
  if (*r && want_captures) s.locals.set_match_values(captures);
  return *r;
}

absl::StatusOr<bool> run_state::match(scope& s, const compiled_test& t, const value& keys,
                                      const std::vector<std::string>& values) {
  return match_with(s, t.spec, t.keys, keys, values, t.source->where, t.source->id);
}

std::pair<size_t, size_t> run_state::indexed(const checked_arguments& a, size_t count) {
  const checked_tag* index = a.find(tag_id::index);
  if (index == nullptr) return {0, count};
  const uint64_t n = index->parameter.number;
  if (n == 0 || n > count) return {0, 0};
  const size_t at = a.find(tag_id::last) != nullptr ? count - n : n - 1;
  return {at, at + 1};
}

const std::vector<std::string>& run_state::header(std::string_view name, bool decode) {
  for (const header_entry& e : headers_) {
    if (e.decode == decode && mail::equals_ignore_case(e.name, name)) return e.values;
  }
  headers_.push_back({std::string(name), decode, message_.header_values(name, decode)});
  return headers_.back().values;
}

const std::vector<std::vector<matching::parsed_address>>& run_state::addresses(
    std::string_view name) {
  for (const address_entry& e : addresses_) {
    if (mail::equals_ignore_case(e.name, name)) return e.fields;
  }
  const std::vector<std::string>& fields = header(name, /*decode=*/false);
  address_entry& entry = addresses_.emplace_back();
  entry.name = std::string(name);
  entry.fields.reserve(fields.size());
  for (const std::string& field : fields) {
    entry.fields.push_back(matching::parse_address_list(field));
  }
  return entry.fields;
}

void run_state::forget_header() {
  headers_.clear();
  addresses_.clear();
}

absl::StatusOr<bool> run_state::test_header(scope& s, const compiled_test& t) {
  const checked_arguments& a = t.source->arguments;
  absl::StatusOr<std::vector<std::string>> names = expand_list(s, a.positional[0]);
  if (!names.ok()) return names.status();
  std::vector<std::string> values;
  for (const std::string& name : *names) {
    const std::vector<std::string>& all = header(name, /*decode=*/true);
    auto [first, last] = indexed(a, all.size());
    values.insert(values.end(), all.begin() + first, all.begin() + last);
  }
  // RFC 5228 5.7: a header that is not there matches nothing (but :count counts 0).
  if (values.empty() && !is_count(t.spec)) return false;
  return match(s, t, a.positional[1], values);
}

absl::StatusOr<bool> run_state::test_address(scope& s, const compiled_test& t) {
  const checked_arguments& a = t.source->arguments;
  absl::StatusOr<std::vector<std::string>> names = expand_list(s, a.positional[0]);
  if (!names.ok()) return names.status();
  const matching::address_part part = to_matching(a.part);
  std::vector<std::string> values;
  for (const std::string& name : *names) {
    const std::vector<std::string>& fields = header(name, /*decode=*/false);
    const std::vector<std::vector<matching::parsed_address>>& lists = addresses(name);
    auto [first, last] = indexed(a, fields.size());
    for (size_t i = first; i < last; ++i) {
      const std::string& field = fields[i];
      const std::vector<matching::parsed_address>& list = lists[i];
      if (list.empty()) {
        // A field without a single address still gives one value, as Pigeonhole's
        // address test does (checked with sieve-test): an empty field ("Cc: ") is an
        // empty address whose :all, :localpart, :domain and :user are "" (so :count
        // counts it), and anything else ("undisclosed-recipients:;") is its text, for
        // :all only.
        // (header_values() trims the value.)
        if (field.empty()) {
          if (part != matching::address_part::detail) values.emplace_back();
        } else if (part == matching::address_part::all) {
          values.push_back(field);
        }
        continue;
      }
      for (const matching::parsed_address& addr : list) {
        std::optional<std::string> v =
            matching::extract_address_part(addr, part, kDetailSeparators);
        if (v) values.push_back(*std::move(v));
      }
    }
  }
  if (values.empty() && !is_count(t.spec)) return false;
  return match(s, t, a.positional[1], values);
}

absl::StatusOr<bool> run_state::test_envelope(scope& s, const compiled_test& t) {
  const checked_arguments& a = t.source->arguments;
  absl::StatusOr<std::vector<std::string>> parts = expand_list(s, a.positional[0]);
  if (!parts.ok()) return parts.status();
  const matching::address_part part = to_matching(a.part);
  std::vector<std::string> values;
  for (const std::string& name : *parts) {
    // RFC 5228 5.4: "from" is MAIL FROM, "to" RCPT TO; RFC 5228 lets "auth" through
    // (Pigeonhole knows it: the authenticated sender, absent without one).
    std::optional<std::string_view> path;
    if (mail::equals_ignore_case(name, "from")) {
      path = env_.from;
    } else if (mail::equals_ignore_case(name, "to")) {
      path = env_.to;
    } else if (mail::equals_ignore_case(name, "auth") && !env_.auth.empty()) {
      path = env_.auth;
    }
    if (!path) continue;
    std::optional<std::string> v = matching::extract_address_part(
        matching::parse_envelope_address(*path), part, kDetailSeparators);
    if (v) values.push_back(*std::move(v));
  }
  if (values.empty() && !is_count(t.spec)) return false;
  return match(s, t, a.positional[1], values);
}

absl::StatusOr<bool> run_state::test_hasflag(scope& s, const compiled_test& t) {
  const checked_arguments& a = t.source->arguments;
  std::vector<std::string> values;
  if (a.positional[0].kind == value_kind::none) {
    values = split_flags(internal_flags_);
  } else {
    absl::StatusOr<std::vector<std::string>> names = expand_list(s, a.positional[0]);
    if (!names.ok()) return names.status();
    for (const std::string& name : *names) {
      std::optional<std::string> v = get_variable(s, name);
      if (!v) continue;
      for (std::string& f : split_flags(*v)) values.push_back(std::move(f));
    }
  }
  if (values.empty() && !is_count(t.spec)) return false;
  return match(s, t, a.positional[1], values);
}

absl::StatusOr<bool> run_state::test_date(scope& s, const compiled_test& t) {
  const checked_arguments& a = t.source->arguments;
  const bool current = t.source->id == test_id::currentdate;
  const size_t part_slot = current ? 0 : 1;
  absl::StatusOr<std::string> part = expand(s, a.positional[part_slot].string(), t.source->where);
  if (!part.ok()) return part.status();
  // The zone to show dates in (RFC 5260 4.1): :zone, else :originalzone (the date's own),
  // else the local zone. An invalid :zone falls back to the local zone, as Pigeonhole does
  // after its warning.
  std::optional<int32_t> zone;
  if (const checked_tag* z = a.find(tag_id::zone); z != nullptr) {
    absl::StatusOr<std::string> text = expand(s, z->parameter.string(), z->where);
    if (!text.ok()) return text.status();
    zone = parse_time_zone(*text);
  }
  const bool original = a.find(tag_id::originalzone) != nullptr;
  std::vector<std::string> values;
  auto add = [&](int64_t time, int32_t own_zone) {
    int32_t shown = zone ? *zone : original ? own_zone : environment_.local_zone_minutes;
    if (std::optional<std::string> v = date_part(time, shown, *part)) {
      values.push_back(*std::move(v));
    }
  };
  if (current) {
    add(static_cast<int64_t>(now_), environment_.local_zone_minutes);
  } else {
    absl::StatusOr<std::string> name = expand(s, a.positional[0].string(), t.source->where);
    if (!name.ok()) return name.status();
    const std::vector<std::string>& fields = header(*name, /*decode=*/false);
    auto [first, last] = indexed(a, fields.size());
    for (size_t i = first; i < last; ++i) {
      std::string_view text = fields[i];
      // RFC 5260 4: in "Received" the date follows the last ";".
      if (mail::equals_ignore_case(*name, "received")) {
        size_t semi = text.rfind(';');
        if (semi == std::string_view::npos) continue;
        text.remove_prefix(semi + 1);
      }
      if (std::optional<mail::message_date> d = mail::parse_message_date(text)) {
        add(d->time, d->zone_minutes);
      }
    }
  }
  if (values.empty() && !is_count(t.spec)) return false;
  return match(s, t, a.positional[current ? 1 : 2], values);
}

absl::StatusOr<bool> run_state::test_duplicate(scope& s, const compiled_test& t) {
  const checked_arguments& a = t.source->arguments;
  // RFC 7352 3: the id is the Message-ID by default, else the :header field's value or
  // the :uniqueid string; a message without one is never a duplicate, and nothing is
  // tracked for it (Pigeonhole: "no unique ID").
  std::optional<std::string> id;
  if (const checked_tag* u = a.find(tag_id::uniqueid); u != nullptr) {
    absl::StatusOr<std::string> v = expand(s, u->parameter.string(), u->where);
    if (!v.ok()) return v.status();
    id = *std::move(v);
  } else {
    std::string header = "message-id";
    if (const checked_tag* h = a.find(tag_id::header); h != nullptr) {
      absl::StatusOr<std::string> v = expand(s, h->parameter.string(), h->where);
      if (!v.ok()) return v.status();
      header = *std::move(v);
    }
    const std::vector<std::string>& values = this->header(header, /*decode=*/false);
    if (!values.empty() && !values.front().empty()) id = values.front();
  }
  if (!id) return false;
  action track;
  if (const checked_tag* h = a.find(tag_id::handle); h != nullptr) {
    absl::StatusOr<std::string> v = expand(s, h->parameter.string(), h->where);
    if (!v.ok()) return v.status();
    track.handle = *std::move(v);
  }
  // What the duplicate store keys on: the handle and the id (the glue hashes it).
  track.duplicate_id = absl::StrCat(track.handle.value_or(""), "\n", *id);
  const checked_tag* seconds = a.find(tag_id::seconds);
  track.duplicate_seconds = seconds != nullptr ? seconds->parameter.number : 7 * 86400;
  track.last = a.find(tag_id::last) != nullptr;
  // The same id tested again in this run (same handle and value) gives the first answer
  // and is tracked once. A DEPARTURE: Pigeonhole 0.5.19 aborts the script there (a
  // run-time error, "[[EXECUTION ABORTED]]" in sieve-test's trace), which reads as its
  // bug; RFC 7352 does not forbid testing an id twice.
  for (const auto& [known, answer] : duplicates_) {
    if (known == track.duplicate_id) return answer;
  }
  const bool seen = host_.duplicate_seen(track.duplicate_id);
  duplicates_.emplace_back(track.duplicate_id, seen);
  if (absl::Status st = result_.track_duplicate(std::move(track), where_text(t.source->where));
      !st.ok()) {
    return st;
  }
  return seen;
}

absl::StatusOr<bool> run_state::test_environment(scope& s, const compiled_test& t) {
  const checked_arguments& a = t.source->arguments;
  absl::StatusOr<std::string> name = expand(s, a.positional[0].string(), t.source->where);
  if (!name.ok()) return name.status();
  // RFC 5183 4.1's items; an empty one (remote-host, remote-ip unknown) does not exist,
  // and a test on an item that does not exist is false.
  const std::string item = absl::AsciiStrToLower(*name);
  const std::string* v = nullptr;
  if (item == "domain") v = &environment_.domain;
  else if (item == "host") v = &environment_.host;
  else if (item == "location") v = &environment_.location;
  else if (item == "phase") v = &environment_.phase;
  else if (item == "name") v = &environment_.name;
  else if (item == "version") v = &environment_.version;
  else if (item == "remote-host") v = &environment_.remote_host;
  else if (item == "remote-ip") v = &environment_.remote_ip;
  if (v == nullptr || v->empty()) return false;
  return match(s, t, a.positional[1], {*v});
}

const std::vector<std::string>& run_state::body(body_transform transform,
                                                const std::vector<std::string>& content_types) {
  for (const body_entry& e : bodies_) {
    if (e.transform == transform && e.content_types == content_types) return e.values;
  }
  bodies_.push_back({transform, content_types, message_.body(transform, content_types)});
  return bodies_.back().values;
}

absl::StatusOr<bool> run_state::test(scope& s, const compiled_test& t) {
  if (absl::Status st = step(t.source->where); !st.ok()) return st;
  const checked_arguments& a = t.source->arguments;
  switch (t.source->id) {
    case test_id::true_: return true;
    case test_id::false_: return false;
    case test_id::not_: {
      absl::StatusOr<bool> r = test(s, t.tests.front());
      if (!r.ok()) return r;
      return !*r;
    }
    case test_id::allof:
    case test_id::anyof: {
      const bool all = t.source->id == test_id::allof;
      for (const compiled_test& sub : t.tests) {
        absl::StatusOr<bool> r = test(s, sub);
        if (!r.ok()) return r;
        if (*r != all) return !all;  // short-circuit (RFC 5228 5.2/5.3)
      }
      return all;
    }
    case test_id::address: return test_address(s, t);
    case test_id::envelope: return test_envelope(s, t);
    case test_id::header: return test_header(s, t);
    case test_id::exists: {
      absl::StatusOr<std::vector<std::string>> names = expand_list(s, a.positional[0]);
      if (!names.ok()) return names.status();
      for (const std::string& name : *names) {
        if (!message_.has_header(name)) return false;
      }
      return true;
    }
    case test_id::size: {
      const uint64_t limit = a.positional[0].number;
      const uint64_t size = message_.size();
      return a.find(tag_id::over) != nullptr ? size > limit : size < limit;
    }
    case test_id::hasflag: return test_hasflag(s, t);
    case test_id::string: {
      absl::StatusOr<std::vector<std::string>> sources = expand_list(s, a.positional[0]);
      if (!sources.ok()) return sources.status();
      // RFC 5229 5: for :count "the count of a single string is 0 if it is the empty
      // string, or 1 otherwise".
      if (is_count(t.spec)) {
        std::erase_if(*sources, [](const std::string& v) { return v.empty(); });
      }
      return match(s, t, a.positional[1], *sources);
    }
    case test_id::body: {
      std::vector<std::string> types;
      if (const checked_tag* c = a.find(tag_id::content); c != nullptr) {
        absl::StatusOr<std::vector<std::string>> v = expand_list(s, c->parameter);
        if (!v.ok()) return v.status();
        types = *std::move(v);
      }
      return match(s, t, a.positional[0], body(transform_of(a), types));
    }
    case test_id::date:
    case test_id::currentdate:
      return test_date(s, t);
    case test_id::mailboxexists: {
      absl::StatusOr<std::vector<std::string>> names = expand_list(s, a.positional[0]);
      if (!names.ok()) return names.status();
      for (const std::string& name : *names) {
        if (!host_.mailbox_exists(name)) return false;
      }
      return true;
    }
    case test_id::spamtest: {
      const std::vector<std::string>& score = header("X-Spam-Score", false);
      const std::vector<std::string>& status = header("X-Spam-Status", false);
      std::optional<std::string_view> sc, st;
      if (!score.empty()) sc = score.front();
      if (!status.empty()) st = status.front();
      return match(s, t, a.positional[0],
                   {spamtest_value(sc, st, a.find(tag_id::percent) != nullptr)});
    }
    case test_id::duplicate: return test_duplicate(s, t);
    case test_id::environment: return test_environment(s, t);
  }
  return false;
}

}  // namespace ringmail::sieve
