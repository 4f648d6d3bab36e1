// The backend-independent contract of directory::store (store.h), as a reusable suite:
// every check below runs against each backend that registers it, so SQLite and MariaDB
// are held to the same behaviour.
//
//   // in a test file of the backend, at namespace scope:
//   static const bool registered = ringmail::directory::testing::register_store_suite(
//       "sqlite_store_suite", [] { return make_empty_sqlite_store_with_schema(); });
//
// Each check becomes its own test, "<suite_name>.<check>", with a fresh store from the
// factory. The factory must return an EMPTY store whose schema exists (ensure_schema
// already called), or nullptr to fail the test (e.g. the server could not be reached).
// Register before RUN_ALL_TESTS (a namespace-scope initialiser, as above, does).
//
// Everything here is inline (no TEST() definitions in the header), so several test files
// of one binary may include it and register it for different backends.
#pragma once

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "delivery/directory/store.h"
#include "gtest/gtest.h"

namespace ringmail::directory::testing {

using store_factory = std::function<std::unique_ptr<store>()>;

namespace store_suite_checks {

inline std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

inline std::vector<std::string> domain_names(store& s) {
  absl::StatusOr<std::vector<domain_record>> d = s.list_domains();
  EXPECT_TRUE(d.ok()) << d.status();
  std::vector<std::string> out;
  if (d.ok()) {
    for (const domain_record& r : *d) out.push_back(r.name);
  }
  return out;
}

inline std::vector<std::string> user_emails(store& s, std::string_view domain) {
  absl::StatusOr<std::vector<user_record>> u = s.list_users(domain);
  EXPECT_TRUE(u.ok()) << u.status();
  std::vector<std::string> out;
  if (u.ok()) {
    for (const user_record& r : *u) out.push_back(r.email);
  }
  return out;
}

inline std::vector<std::string> alias_pairs(store& s, std::string_view domain) {
  absl::StatusOr<std::vector<alias_record>> a = s.list_aliases(domain);
  EXPECT_TRUE(a.ok()) << a.status();
  std::vector<std::string> out;
  if (a.ok()) {
    for (const alias_record& r : *a) out.push_back(r.source + " -> " + r.destination);
  }
  return out;
}

inline int64_t domain_id_of(store& s, const std::string& name) {
  absl::StatusOr<std::vector<domain_record>> d = s.list_domains();
  if (!d.ok()) return -1;
  for (const domain_record& r : *d) {
    if (r.name == name) return r.id;
  }
  return -1;
}

inline absl::StatusOr<std::vector<std::string>> destinations(store& s, std::string_view source) {
  absl::StatusOr<std::vector<std::string>> d = s.alias_destinations(source);
  if (d.ok()) std::sort(d->begin(), d->end());
  return d;
}

inline void expect_code(const absl::Status& s, absl::StatusCode code, const std::string& what) {
  EXPECT_EQ(s.code(), code) << what << ": " << s;
}

// Example data used by several checks.
inline void populate(store& s) {
  ASSERT_TRUE(s.add_domain("example.org").ok());
  ASSERT_TRUE(s.add_domain("example.net").ok());
  ASSERT_TRUE(s.add_user("john@example.org", "{PLAIN}john", 0).ok());
  ASSERT_TRUE(s.add_user("jane@example.org", "{PLAIN}jane", 1000).ok());
  ASSERT_TRUE(s.add_user("bob@example.net", "{PLAIN}bob", 0).ok());
  ASSERT_TRUE(s.add_alias("info@example.org", "john@example.org").ok());
  ASSERT_TRUE(s.add_alias("info@example.org", "jane@example.org").ok());
  ASSERT_TRUE(s.add_alias("@example.org", "john@example.org").ok());
  ASSERT_TRUE(s.add_alias("sales@example.net", "bob@example.net").ok());
  ASSERT_TRUE(s.add_alias("fwd@example.net", "someone@remote.test").ok());
}

// ---- the checks -------------------------------------------------------------------------

inline void schema_is_idempotent(store& s) {
  EXPECT_TRUE(s.ensure_schema().ok());
  ASSERT_TRUE(s.add_domain("example.org").ok());
  EXPECT_TRUE(s.ensure_schema().ok());  // and keeps the data
  EXPECT_EQ(domain_names(s), std::vector<std::string>{"example.org"});
}

inline void empty_store_finds_nothing(store& s) {
  absl::StatusOr<bool> d = s.has_domain("example.org");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_FALSE(*d);
  absl::StatusOr<std::optional<user_record>> u = s.find_user("john@example.org");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_FALSE(u->has_value());
  absl::StatusOr<std::vector<std::string>> a = s.alias_destinations("john@example.org");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_TRUE(a->empty());
  absl::StatusOr<std::vector<std::string>> f = s.alias_sources_for("john@example.org");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_TRUE(f->empty());
  EXPECT_TRUE(domain_names(s).empty());
  EXPECT_TRUE(user_emails(s, "").empty());
  EXPECT_TRUE(alias_pairs(s, "").empty());
}

inline void add_and_list_domains(store& s) {
  ASSERT_TRUE(s.add_domain("example.org").ok());
  ASSERT_TRUE(s.add_domain("Example.NET").ok());  // stored lower-case
  EXPECT_EQ(domain_names(s), (std::vector<std::string>{"example.net", "example.org"}));
  EXPECT_TRUE(*s.has_domain("example.org"));
  EXPECT_TRUE(*s.has_domain("example.net"));
  EXPECT_FALSE(*s.has_domain("example.com"));
  int64_t a = domain_id_of(s, "example.org"), b = domain_id_of(s, "example.net");
  EXPECT_GT(a, 0);
  EXPECT_GT(b, 0);
  EXPECT_NE(a, b);
}

inline void add_domain_duplicate_is_already_exists(store& s) {
  ASSERT_TRUE(s.add_domain("example.org").ok());
  expect_code(s.add_domain("example.org"), absl::StatusCode::kAlreadyExists, "same");
  expect_code(s.add_domain("EXAMPLE.org"), absl::StatusCode::kAlreadyExists, "other case");
  EXPECT_EQ(domain_names(s).size(), 1u);
}

inline void add_domain_rejects_invalid_names(store& s) {
  for (std::string bad : {"", "exa mple.org", "example..org", "-example.org", "[192.0.2.1]",
                          "example.org'; DROP TABLE virtual_domains; --", "example.org\r\nx", "a/b", "x@example.org"}) {
    expect_code(s.add_domain(bad), absl::StatusCode::kInvalidArgument, "\"" + bad + "\"");
  }
  EXPECT_TRUE(domain_names(s).empty());
}

inline void idn_domains_are_stored_as_a_labels(store& s) {
  ASSERT_TRUE(s.add_domain("bücher.example").ok());
  EXPECT_EQ(domain_names(s), std::vector<std::string>{"xn--bcher-kva.example"});
  EXPECT_TRUE(*s.has_domain("xn--bcher-kva.example"));
  expect_code(s.add_domain("xn--bcher-kva.example"), absl::StatusCode::kAlreadyExists, "A-label of the same");
  ASSERT_TRUE(s.add_user("jörg@Bücher.example", "{PLAIN}x", 0).ok());
  absl::StatusOr<std::optional<user_record>> u = s.find_user("jörg@xn--bcher-kva.example");
  ASSERT_TRUE(u.ok()) << u.status();
  ASSERT_TRUE(u->has_value());
  EXPECT_EQ((*u)->email, "jörg@xn--bcher-kva.example");
}

inline void delete_domain(store& s) {
  expect_code(s.delete_domain("example.org"), absl::StatusCode::kNotFound, "missing");
  ASSERT_TRUE(s.add_domain("example.org").ok());
  ASSERT_TRUE(s.add_domain("example.net").ok());
  EXPECT_TRUE(s.delete_domain("Example.ORG").ok());
  EXPECT_FALSE(*s.has_domain("example.org"));
  EXPECT_EQ(domain_names(s), std::vector<std::string>{"example.net"});
  expect_code(s.delete_domain("example.org"), absl::StatusCode::kNotFound, "deleted twice");
}

inline void delete_domain_cascades_to_users_and_aliases(store& s) {
  populate(s);
  if (::testing::Test::HasFatalFailure()) return;
  ASSERT_TRUE(s.delete_domain("example.org").ok());
  EXPECT_FALSE(s.find_user("john@example.org")->has_value());
  EXPECT_FALSE(s.find_user("jane@example.org")->has_value());
  EXPECT_TRUE(s.alias_destinations("info@example.org")->empty());
  EXPECT_TRUE(s.alias_destinations("@example.org")->empty());
  EXPECT_EQ(user_emails(s, ""), std::vector<std::string>{"bob@example.net"});
  EXPECT_EQ(alias_pairs(s, ""),
            (std::vector<std::string>{"fwd@example.net -> someone@remote.test", "sales@example.net -> bob@example.net"}));
  // The other domain is untouched.
  EXPECT_TRUE(s.find_user("bob@example.net")->has_value());
  EXPECT_EQ(*destinations(s, "sales@example.net"), std::vector<std::string>{"bob@example.net"});
  // The domain can come back, empty.
  ASSERT_TRUE(s.add_domain("example.org").ok());
  EXPECT_TRUE(user_emails(s, "example.org").empty());
}

inline void add_user_and_find_it(store& s) {
  ASSERT_TRUE(s.add_domain("example.org").ok());
  const std::string hash = "{BLF-CRYPT}$2y$05$Jm0Nn0yLPp7WzTRcrXuDo.VV3U3y3OQJv9GYpsvEElX1nE3a3tPEK";
  const int64_t quota = int64_t{10} << 40;  // 10 TiB: needs 64 bits
  ASSERT_TRUE(s.add_user("John.Doe@Example.ORG", hash, quota).ok());
  absl::StatusOr<std::optional<user_record>> u = s.find_user("john.doe@example.org");
  ASSERT_TRUE(u.ok()) << u.status();
  ASSERT_TRUE(u->has_value());
  EXPECT_GT((*u)->id, 0);
  EXPECT_EQ((*u)->domain_id, domain_id_of(s, "example.org"));
  EXPECT_EQ((*u)->email, "john.doe@example.org");
  EXPECT_EQ((*u)->password, hash);
  EXPECT_EQ((*u)->quota_bytes, quota);
  EXPECT_FALSE(s.find_user("john@example.org")->has_value());
}

inline void add_user_errors(store& s) {
  ASSERT_TRUE(s.add_domain("example.org").ok());
  expect_code(s.add_user("john@example.net", "{PLAIN}x", 0), absl::StatusCode::kNotFound, "domain not ours");
  ASSERT_TRUE(s.add_user("john@example.org", "{PLAIN}x", 0).ok());
  expect_code(s.add_user("john@example.org", "{PLAIN}y", 0), absl::StatusCode::kAlreadyExists, "duplicate");
  expect_code(s.add_user("JOHN@example.ORG", "{PLAIN}y", 0), absl::StatusCode::kAlreadyExists, "duplicate, other case");
  for (std::string bad : {"", "john", "john@", "@example.org", "jo hn@example.org", "\"john\"@example.org",
                          "../x@example.org", "a/b@example.org", "john@example.org\r\n", "x%y@example.org",
                          "john+lists@example.org"}) {
    expect_code(s.add_user(bad, "{PLAIN}x", 0), absl::StatusCode::kInvalidArgument, "\"" + bad + "\"");
  }
  expect_code(s.add_user("neg@example.org", "{PLAIN}x", -1), absl::StatusCode::kInvalidArgument, "negative quota");
  EXPECT_EQ(user_emails(s, ""), std::vector<std::string>{"john@example.org"});
}

inline void list_users(store& s) {
  populate(s);
  if (::testing::Test::HasFatalFailure()) return;
  EXPECT_EQ(user_emails(s, ""),
            (std::vector<std::string>{"bob@example.net", "jane@example.org", "john@example.org"}));
  EXPECT_EQ(user_emails(s, "example.org"), (std::vector<std::string>{"jane@example.org", "john@example.org"}));
  EXPECT_EQ(user_emails(s, "EXAMPLE.NET"), std::vector<std::string>{"bob@example.net"});
  // A domain that is not ours lists nothing (store.h: finding nothing is not an error).
  EXPECT_TRUE(user_emails(s, "example.com").empty());
  absl::StatusOr<std::vector<user_record>> all = s.list_users("example.org");
  ASSERT_TRUE(all.ok());
  for (const user_record& u : *all) EXPECT_EQ(u.domain_id, domain_id_of(s, "example.org"));
}

inline void delete_user(store& s) {
  populate(s);
  if (::testing::Test::HasFatalFailure()) return;
  expect_code(s.delete_user("nobody@example.org"), absl::StatusCode::kNotFound, "missing");
  EXPECT_TRUE(s.delete_user("John@Example.org").ok());
  EXPECT_FALSE(s.find_user("john@example.org")->has_value());
  expect_code(s.delete_user("john@example.org"), absl::StatusCode::kNotFound, "deleted twice");
  EXPECT_TRUE(s.find_user("jane@example.org")->has_value());
}

inline void set_password_and_quota(store& s) {
  populate(s);
  if (::testing::Test::HasFatalFailure()) return;
  EXPECT_TRUE(s.set_password("john@example.org", "{SHA512-CRYPT}$6$salt$hash").ok());
  EXPECT_TRUE(s.set_quota("John@example.org", 5000).ok());
  absl::StatusOr<std::optional<user_record>> u = s.find_user("john@example.org");
  ASSERT_TRUE(u.ok() && u->has_value());
  EXPECT_EQ((*u)->password, "{SHA512-CRYPT}$6$salt$hash");
  EXPECT_EQ((*u)->quota_bytes, 5000);
  // Jane is untouched.
  EXPECT_EQ((*s.find_user("jane@example.org"))->password, "{PLAIN}jane");
  EXPECT_EQ((*s.find_user("jane@example.org"))->quota_bytes, 1000);
  expect_code(s.set_password("nobody@example.org", "{PLAIN}x"), absl::StatusCode::kNotFound, "set_password missing");
  expect_code(s.set_quota("nobody@example.org", 1), absl::StatusCode::kNotFound, "set_quota missing");
  expect_code(s.set_quota("john@example.org", -5), absl::StatusCode::kInvalidArgument, "negative quota");
  EXPECT_EQ((*s.find_user("john@example.org"))->quota_bytes, 5000);
}

inline void aliases_and_lookups(store& s) {
  populate(s);
  if (::testing::Test::HasFatalFailure()) return;
  ASSERT_TRUE(s.add_alias("Lists@Example.org", "John+Lists@Example.org").ok());  // detail kept whole
  ASSERT_TRUE(s.add_alias("john@example.org", "john@example.org").ok());           // self-mapping
  EXPECT_EQ(*destinations(s, "info@example.org"), (std::vector<std::string>{"jane@example.org", "john@example.org"}));
  EXPECT_EQ(*destinations(s, "@example.org"), std::vector<std::string>{"john@example.org"});
  EXPECT_EQ(*destinations(s, "fwd@example.net"), std::vector<std::string>{"someone@remote.test"});
  EXPECT_EQ(*destinations(s, "lists@example.org"), std::vector<std::string>{"john+lists@example.org"});
  EXPECT_EQ(*destinations(s, "john@example.org"), std::vector<std::string>{"john@example.org"});
  EXPECT_TRUE(destinations(s, "nobody@example.org")->empty());
  // Sources pointing at an address (catch-alls included: the resolver filters them).
  EXPECT_EQ(sorted(*s.alias_sources_for("john@example.org")),
            (std::vector<std::string>{"@example.org", "info@example.org", "john@example.org"}));
  EXPECT_EQ(*s.alias_sources_for("jane@example.org"), std::vector<std::string>{"info@example.org"});
  EXPECT_EQ(*s.alias_sources_for("someone@remote.test"), std::vector<std::string>{"fwd@example.net"});
  // Listing per domain, with the source's domain id.
  EXPECT_EQ(alias_pairs(s, "example.org"),
            (std::vector<std::string>{"@example.org -> john@example.org", "info@example.org -> jane@example.org",
                                      "info@example.org -> john@example.org", "john@example.org -> john@example.org",
                                      "lists@example.org -> john+lists@example.org"}));
  absl::StatusOr<std::vector<alias_record>> net = s.list_aliases("example.net");
  ASSERT_TRUE(net.ok());
  ASSERT_EQ(net->size(), 2u);
  for (const alias_record& a : *net) {
    EXPECT_GT(a.id, 0);
    EXPECT_EQ(a.domain_id, domain_id_of(s, "example.net"));
  }
  EXPECT_TRUE(alias_pairs(s, "example.com").empty());
}

inline void add_alias_errors(store& s) {
  populate(s);
  if (::testing::Test::HasFatalFailure()) return;
  expect_code(s.add_alias("info@example.org", "john@example.org"), absl::StatusCode::kAlreadyExists, "duplicate");
  expect_code(s.add_alias("INFO@example.org", "John@Example.org"), absl::StatusCode::kAlreadyExists,
              "duplicate, other case");
  expect_code(s.add_alias("@example.org", "john@example.org"), absl::StatusCode::kAlreadyExists, "duplicate catch-all");
  expect_code(s.add_alias("info@example.com", "john@example.org"), absl::StatusCode::kNotFound, "source not ours");
  expect_code(s.add_alias("@example.com", "john@example.org"), absl::StatusCode::kNotFound, "catch-all not ours");
  for (std::string bad : {"", "info", "info@", "a@b@example.org", "@", "@a:b@example.org", "in fo@example.org",
                          "info@example.org\r\n", "\"info\"@example.org", "info+x@example.org"}) {
    expect_code(s.add_alias(bad, "john@example.org"), absl::StatusCode::kInvalidArgument, "source \"" + bad + "\"");
  }
  for (std::string bad : {"", "john", "@example.org", "john@", "jo hn@example.org", "john@example.org\nBcc: x@y",
                          "john@example.org, jane@example.org"}) {
    expect_code(s.add_alias("new@example.org", bad), absl::StatusCode::kInvalidArgument, "destination \"" + bad + "\"");
  }
  EXPECT_TRUE(destinations(s, "new@example.org")->empty());
}

inline void delete_alias(store& s) {
  populate(s);
  if (::testing::Test::HasFatalFailure()) return;
  expect_code(s.delete_alias("info@example.org", "bob@example.net"), absl::StatusCode::kNotFound, "missing pair");
  expect_code(s.delete_alias("nobody@example.org", "john@example.org"), absl::StatusCode::kNotFound, "missing source");
  EXPECT_TRUE(s.delete_alias("Info@example.org", "John@example.org").ok());
  EXPECT_EQ(*destinations(s, "info@example.org"), std::vector<std::string>{"jane@example.org"});
  EXPECT_TRUE(s.delete_alias("@example.org", "john@example.org").ok());
  EXPECT_TRUE(destinations(s, "@example.org")->empty());
  expect_code(s.delete_alias("@example.org", "john@example.org"), absl::StatusCode::kNotFound, "deleted twice");
}

// Keys and values with SQL metacharacters are data, stored and found literally; hostile
// raw lookup keys find nothing and harm nothing.
inline void sql_metacharacters_are_literal(store& s) {
  ASSERT_TRUE(s.add_domain("example.org").ok());
  const std::string hash = "{PLAIN}'; DROP TABLE virtual_users; -- \" \\ % _ `x` $1";
  ASSERT_TRUE(s.add_user("o'brien@example.org", hash, 0).ok());
  ASSERT_TRUE(s.add_user("x--y@example.org", "{PLAIN}'", 0).ok());
  ASSERT_TRUE(s.add_alias("it's@example.org", "o'brien@example.org").ok());
  ASSERT_TRUE(s.add_alias("it's@example.org", "d'arcy@remote.test").ok());

  absl::StatusOr<std::optional<user_record>> u = s.find_user("o'brien@example.org");
  ASSERT_TRUE(u.ok()) << u.status();
  ASSERT_TRUE(u->has_value());
  EXPECT_EQ((*u)->password, hash);
  EXPECT_EQ((*s.find_user("x--y@example.org"))->password, "{PLAIN}'");
  EXPECT_EQ(*destinations(s, "it's@example.org"),
            (std::vector<std::string>{"d'arcy@remote.test", "o'brien@example.org"}));
  EXPECT_EQ(*s.alias_sources_for("o'brien@example.org"), std::vector<std::string>{"it's@example.org"});

  // Injection attempts as raw keys (the lookups take whatever the caller passes).
  for (std::string key : {"example.org' OR '1'='1", "' OR 1=1 --", "x\" OR \"\"=\"", "%", "_xample.org",
                          "example.org'; DELETE FROM virtual_domains; --", "example.org\\", "'", "\\'"}) {
    absl::StatusOr<bool> d = s.has_domain(key);
    ASSERT_TRUE(d.ok()) << key << ": " << d.status();
    EXPECT_FALSE(*d) << key;
    absl::StatusOr<std::optional<user_record>> f = s.find_user(key);
    ASSERT_TRUE(f.ok()) << key << ": " << f.status();
    EXPECT_FALSE(f->has_value()) << key;
    absl::StatusOr<std::vector<std::string>> a = s.alias_destinations(key);
    ASSERT_TRUE(a.ok()) << key << ": " << a.status();
    EXPECT_TRUE(a->empty()) << key;
    absl::StatusOr<std::vector<std::string>> b = s.alias_sources_for(key);
    ASSERT_TRUE(b.ok()) << key << ": " << b.status();
    EXPECT_TRUE(b->empty()) << key;
  }
  // Everything is still there.
  EXPECT_EQ(domain_names(s), std::vector<std::string>{"example.org"});
  EXPECT_EQ(user_emails(s, ""), (std::vector<std::string>{"o'brien@example.org", "x--y@example.org"}));
  EXPECT_EQ(alias_pairs(s, "").size(), 2u);
}

struct check {
  const char* name;
  void (*run)(store&);
};

inline const std::vector<check>& all_checks() {
  static const std::vector<check> checks = {
      {"schema_is_idempotent", &schema_is_idempotent},
      {"empty_store_finds_nothing", &empty_store_finds_nothing},
      {"add_and_list_domains", &add_and_list_domains},
      {"add_domain_duplicate_is_already_exists", &add_domain_duplicate_is_already_exists},
      {"add_domain_rejects_invalid_names", &add_domain_rejects_invalid_names},
      {"idn_domains_are_stored_as_a_labels", &idn_domains_are_stored_as_a_labels},
      {"delete_domain", &delete_domain},
      {"delete_domain_cascades_to_users_and_aliases", &delete_domain_cascades_to_users_and_aliases},
      {"add_user_and_find_it", &add_user_and_find_it},
      {"add_user_errors", &add_user_errors},
      {"list_users", &list_users},
      {"delete_user", &delete_user},
      {"set_password_and_quota", &set_password_and_quota},
      {"aliases_and_lookups", &aliases_and_lookups},
      {"add_alias_errors", &add_alias_errors},
      {"delete_alias", &delete_alias},
      {"sql_metacharacters_are_literal", &sql_metacharacters_are_literal},
  };
  return checks;
}

class check_test : public ::testing::Test {
 public:
  check_test(store_factory make, void (*run)(store&)) : make_(std::move(make)), run_(run) {}
  void TestBody() override {
    std::unique_ptr<store> s = make_();
    ASSERT_NE(s, nullptr) << "the store factory failed";
    run_(*s);
  }

 private:
  store_factory make_;
  void (*run_)(store&);
};

}  // namespace store_suite_checks

// Registers one test per check under `suite_name`. Returns true, so it can initialise a
// namespace-scope constant.
inline bool register_store_suite(const std::string& suite_name, store_factory make, const char* file = __FILE__,
                                 int line = __LINE__) {
  for (const store_suite_checks::check& c : store_suite_checks::all_checks()) {
    auto run = c.run;
    ::testing::RegisterTest(suite_name.c_str(), c.name, nullptr, nullptr, file, line,
                            [make, run]() -> store_suite_checks::check_test* { return new store_suite_checks::check_test(make, run); });
  }
  return true;
}

}  // namespace ringmail::directory::testing
