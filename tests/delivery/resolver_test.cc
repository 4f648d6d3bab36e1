// Recipient resolution and the sender check over an in-memory source: ISPmail precedence
// (alias, then user, then catch-all), self-mapping, sub-addressing, remote destinations,
// fan-out, loops, bounds, and temporary failures that must never read as "no such user".
#include "delivery/directory/resolver.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace ringmail::directory {
namespace {

// Completes synchronously (every co_await finishes at once), so tasks run to the end
// on the test thread without a reactor.
class fake_source : public source {
 public:
  std::set<std::string> domains;
  std::set<std::string> users;
  std::map<std::string, std::vector<std::string>> aliases;  // source -> destinations, in order
  std::set<std::string> failing;  // keys whose lookups fail (any kind)
  absl::StatusCode failure_code = absl::StatusCode::kUnavailable;
  int lookups = 0;

  void alias(const std::string& from, std::vector<std::string> to) {
    auto& list = aliases[from];
    list.insert(list.end(), to.begin(), to.end());
  }

  task<absl::StatusOr<bool>> has_domain(std::string domain) override {
    ++lookups;
    if (failing.contains(domain)) co_return failure(domain);
    co_return domains.contains(domain);
  }
  task<absl::StatusOr<std::optional<user_record>>> find_user(std::string email) override {
    ++lookups;
    if (failing.contains(email)) co_return failure(email);
    if (!users.contains(email)) co_return std::optional<user_record>();
    user_record u;
    u.id = 1;
    u.email = email;
    u.password = "{PLAIN}x";
    co_return std::optional<user_record>(u);
  }
  task<absl::StatusOr<std::vector<std::string>>> alias_destinations(std::string key) override {
    ++lookups;
    if (failing.contains(key)) co_return failure(key);
    auto it = aliases.find(key);
    if (it == aliases.end()) co_return std::vector<std::string>();
    co_return it->second;
  }
  task<absl::StatusOr<std::vector<std::string>>> alias_sources_for(std::string destination) override {
    ++lookups;
    if (failing.contains(destination)) co_return failure(destination);
    std::vector<std::string> out;
    for (const auto& [from, to] : aliases) {
      if (std::find(to.begin(), to.end(), destination) != to.end()) out.push_back(from);
    }
    co_return out;
  }

 private:
  absl::Status failure(const std::string& key) { return absl::Status(failure_code, absl::StrCat("injected: ", key)); }
};

template <typename T>
T run(task<T> t) {
  auto h = t.handle();
  h.resume();
  if (!h.done()) {
    ADD_FAILURE() << "task suspended: the fake source never suspends";
    std::abort();
  }
  return h.promise().take_result();
}

// "address" for a local destination, "address+detail" if it has one, "remote:address".
std::vector<std::string> describe(const resolution& r) {
  std::vector<std::string> out;
  for (const destination& d : r.destinations) {
    if (!d.local) {
      EXPECT_TRUE(d.detail.empty());
      out.push_back(absl::StrCat("remote:", d.address));
    } else {
      out.push_back(d.detail.empty() ? d.address : absl::StrCat(d.address, " +", d.detail));
    }
  }
  return out;
}

using strings = std::vector<std::string>;

class ResolverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    src_.domains = {"example.org", "example.net"};
    src_.users = {"john@example.org", "jane@example.org", "catch@example.org", "bob@example.net"};
  }
  resolution resolve(std::string_view rcpt, resolver_options o = {}) {
    resolver r(src_, o);
    return run(r.resolve(rcpt));
  }
  fake_source src_;
};

TEST_F(ResolverTest, ForeignDomainIsNotOurs) {
  resolution r = resolve("someone@elsewhere.test");
  EXPECT_EQ(r.result, outcome::not_our_domain);
  EXPECT_TRUE(r.destinations.empty());
  EXPECT_NE(r.reason.find("elsewhere.test"), std::string::npos);
}

TEST_F(ResolverTest, UserIsItsMailbox) {
  resolution r = resolve("john@example.org");
  ASSERT_EQ(r.result, outcome::ok) << r.reason;
  EXPECT_EQ(describe(r), strings{"john@example.org"});
  EXPECT_TRUE(r.destinations[0].local);
  EXPECT_TRUE(r.reason.empty());
}

TEST_F(ResolverTest, MixedCaseAndIdnAreNormalised) {
  src_.domains.insert("xn--bcher-kva.example");
  src_.users.insert("anna@xn--bcher-kva.example");
  EXPECT_EQ(describe(resolve("John@Example.ORG")), strings{"john@example.org"});
  EXPECT_EQ(describe(resolve("ANNA@Bücher.example")), strings{"anna@xn--bcher-kva.example"});
}

TEST_F(ResolverTest, UnknownUserWithoutCatchAll) {
  resolution r = resolve("nobody@example.org");
  EXPECT_EQ(r.result, outcome::no_such_user);
  EXPECT_EQ(r.reason, "no such user");
}

TEST_F(ResolverTest, InvalidAddressIsNoSuchUserWithTheParserMessage) {
  resolution r = resolve("john@example.org\r\nDATA");
  EXPECT_EQ(r.result, outcome::no_such_user);
  EXPECT_NE(r.reason.find("invalid address"), std::string::npos) << r.reason;
  EXPECT_EQ(src_.lookups, 0);  // nothing hostile reaches the source
}

TEST_F(ResolverTest, SubAddressDetailIsCarriedToTheMailbox) {
  resolution r = resolve("John+Lists@example.org");
  ASSERT_EQ(r.result, outcome::ok) << r.reason;
  EXPECT_EQ(describe(r), strings{"john@example.org +lists"});
  EXPECT_EQ(r.destinations[0].detail, "lists");
}

TEST_F(ResolverTest, DetailSeparatorOption) {
  resolver_options o;
  o.detail_separator = '-';
  EXPECT_EQ(describe(resolve("john-lists@example.org", o)), strings{"john@example.org +lists"});
  // With '-' as separator, '+' is an ordinary character: no such user.
  EXPECT_EQ(resolve("john+lists@example.org", o).result, outcome::no_such_user);
}

TEST_F(ResolverTest, AliasToUserCarriesTheRecipientDetail) {
  src_.alias("info@example.org", {"john@example.org"});
  EXPECT_EQ(describe(resolve("info@example.org")), strings{"john@example.org"});
  EXPECT_EQ(describe(resolve("info+sales@example.org")), strings{"john@example.org +sales"});
}

TEST_F(ResolverTest, DestinationDetailWinsOverRecipientDetail) {
  src_.alias("lists@example.org", {"john+lists@example.org"});
  EXPECT_EQ(describe(resolve("lists@example.org")), strings{"john@example.org +lists"});
  EXPECT_EQ(describe(resolve("lists+other@example.org")), strings{"john@example.org +lists"});
}

TEST_F(ResolverTest, AliasWinsOverUser) {
  // Postfix looks in virtual_alias_maps first: a user with an alias entry forwards.
  src_.alias("john@example.org", {"jane@example.org"});
  EXPECT_EQ(describe(resolve("john@example.org")), strings{"jane@example.org"});
}

TEST_F(ResolverTest, CatchAllTakesOnlyWhatNobodyElseHas) {
  src_.alias("@example.org", {"catch@example.org"});
  src_.alias("info@example.org", {"jane@example.org"});
  // A real user without any alias row still gets its mail (the ISPmail self-mapping rule).
  EXPECT_EQ(describe(resolve("john@example.org")), strings{"john@example.org"});
  // An alias beats the catch-all.
  EXPECT_EQ(describe(resolve("info@example.org")), strings{"jane@example.org"});
  // Anything else goes to the catch-all, with its detail.
  EXPECT_EQ(describe(resolve("whoever@example.org")), strings{"catch@example.org"});
  EXPECT_EQ(describe(resolve("whoever+x@example.org")), strings{"catch@example.org +x"});
  // The catch-all is per domain.
  EXPECT_EQ(resolve("whoever@example.net").result, outcome::no_such_user);
}

TEST_F(ResolverTest, CatchAllToRemote) {
  src_.alias("@example.net", {"postmaster@upstream.test"});
  resolution r = resolve("anything@example.net");
  ASSERT_EQ(r.result, outcome::ok) << r.reason;
  EXPECT_EQ(describe(r), strings{"remote:postmaster@upstream.test"});
}

TEST_F(ResolverTest, SelfMappingIsTheMailboxItself) {
  // ISPmail's "keep a copy and forward": john -> john, john -> archive elsewhere.
  src_.alias("john@example.org", {"john@example.org", "archive@remote.test"});
  src_.alias("@example.org", {"catch@example.org"});
  resolution r = resolve("john+x@example.org");
  ASSERT_EQ(r.result, outcome::ok) << r.reason;
  EXPECT_EQ(describe(r), (strings{"john@example.org +x", "remote:archive@remote.test"}));
}

TEST_F(ResolverTest, SelfMappingAloneWithCatchAll) {
  // The guide's explicit self-mapping row, with a catch-all beside it: the user wins.
  src_.alias("john@example.org", {"john@example.org"});
  src_.alias("@example.org", {"catch@example.org"});
  EXPECT_EQ(describe(resolve("john@example.org")), strings{"john@example.org"});
}

TEST_F(ResolverTest, SelfMappingWithoutUserIsNoMailbox) {
  src_.alias("ghost@example.org", {"ghost@example.org"});
  src_.alias("@example.org", {"catch@example.org"});
  resolution r = resolve("ghost@example.org");
  EXPECT_EQ(r.result, outcome::no_such_user) << r.reason;
}

TEST_F(ResolverTest, RemoteDestinationsAreNotExpanded) {
  src_.alias("fwd@example.org", {"Bob+Tag@Remote.TEST", "friend@bücher.example"});
  resolution r = resolve("fwd+x@example.org");
  ASSERT_EQ(r.result, outcome::ok) << r.reason;
  // Normalised, the remote +extension kept (theirs), our detail not carried.
  EXPECT_EQ(describe(r), (strings{"remote:bob+tag@remote.test", "remote:friend@xn--bcher-kva.example"}));
  for (const destination& d : r.destinations) EXPECT_FALSE(d.local);
}

TEST_F(ResolverTest, DestinationsInOtherLocalDomainsExpand) {
  src_.alias("sales@example.org", {"sales@example.net"});
  src_.alias("sales@example.net", {"bob@example.net"});
  EXPECT_EQ(describe(resolve("sales@example.org")), strings{"bob@example.net"});
}

TEST_F(ResolverTest, FanOutIsDeduplicated) {
  src_.alias("team@example.org", {"john@example.org", "dev@example.org", "jane@example.org", "ext@remote.test"});
  src_.alias("dev@example.org", {"jane@example.org", "john@example.org", "EXT@remote.test", "all@example.org"});
  src_.alias("all@example.org", {"john@example.org", "jane@example.org"});
  resolution r = resolve("team@example.org");
  ASSERT_EQ(r.result, outcome::ok) << r.reason;
  EXPECT_EQ(describe(r), (strings{"john@example.org", "jane@example.org", "remote:ext@remote.test"}));
  EXPECT_TRUE(r.reason.empty()) << r.reason;  // a diamond is not a loop
}

TEST_F(ResolverTest, LoopWithoutMailboxIsNoSuchUser) {
  src_.alias("a@example.org", {"b@example.org"});
  src_.alias("b@example.org", {"c@example.org"});
  src_.alias("c@example.org", {"a@example.org"});
  resolution r = resolve("a@example.org");
  EXPECT_EQ(r.result, outcome::no_such_user);
  EXPECT_EQ(r.reason, "alias loop");
  // A loop is not a depth problem: it never reads as temporary.
  resolver_options tight;
  tight.max_depth = 2;
  EXPECT_EQ(resolve("b@example.org", tight).result, outcome::no_such_user);
}

TEST_F(ResolverTest, LoopBranchIsIgnoredWhenOthersReachMailboxes) {
  src_.alias("a@example.org", {"b@example.org"});
  src_.alias("b@example.org", {"a@example.org", "john@example.org"});
  resolution r = resolve("a@example.org");
  ASSERT_EQ(r.result, outcome::ok) << r.reason;
  EXPECT_EQ(describe(r), strings{"john@example.org"});
  EXPECT_NE(r.reason.find("loop"), std::string::npos) << r.reason;
}

TEST_F(ResolverTest, CatchAllToAnUnknownAddress) {
  // @domain -> nobody@domain, which is neither user nor alias: the catch-all would map it
  // to itself, which (as in Postfix) ends the expansion: no mailbox, no loop.
  src_.alias("@example.org", {"nobody@example.org"});
  resolution r = resolve("stranger@example.org");
  EXPECT_EQ(r.result, outcome::no_such_user);
  EXPECT_EQ(resolve("nobody@example.org").result, outcome::no_such_user);
}

TEST_F(ResolverTest, LoopThroughTheCatchAll) {
  // @domain -> hop -> x, and x (unknown) falls to the catch-all again: hop, on the path.
  src_.alias("@example.org", {"hop@example.org"});
  src_.alias("hop@example.org", {"x@example.org"});
  resolution r = resolve("stranger@example.org");
  EXPECT_EQ(r.result, outcome::no_such_user);
  EXPECT_EQ(r.reason, "alias loop");
}

TEST_F(ResolverTest, DepthBoundIsTemporaryFailure) {
  // a0 -> a1 -> ... -> aN -> john: N+1 alias hops.
  auto chain = [&](int hops) {
    src_.aliases.clear();
    for (int i = 0; i < hops - 1; ++i) {
      src_.alias(absl::StrCat("a", i, "@example.org"), {absl::StrCat("a", i + 1, "@example.org")});
    }
    src_.alias(absl::StrCat("a", hops - 1, "@example.org"), {"john@example.org"});
  };
  resolver_options o;
  o.max_depth = 5;
  chain(5);
  resolution fits = resolve("a0@example.org", o);
  ASSERT_EQ(fits.result, outcome::ok) << fits.reason;
  EXPECT_EQ(describe(fits), strings{"john@example.org"});
  chain(6);
  resolution deep = resolve("a0@example.org", o);
  EXPECT_EQ(deep.result, outcome::temporary_failure);
  EXPECT_NE(deep.reason.find("deeper than 5"), std::string::npos) << deep.reason;
  // The default bound is 20.
  chain(20);
  EXPECT_EQ(resolve("a0@example.org").result, outcome::ok);
  chain(21);
  EXPECT_EQ(resolve("a0@example.org").result, outcome::temporary_failure);
}

TEST_F(ResolverTest, DestinationBoundIsTemporaryFailure) {
  std::vector<std::string> many;
  for (int i = 0; i < 5; ++i) many.push_back(absl::StrCat("r", i, "@remote.test"));
  src_.alias("list@example.org", many);
  resolver_options o;
  o.max_destinations = 5;
  EXPECT_EQ(resolve("list@example.org", o).destinations.size(), 5u);
  o.max_destinations = 4;
  resolution r = resolve("list@example.org", o);
  EXPECT_EQ(r.result, outcome::temporary_failure);
  EXPECT_TRUE(r.destinations.empty());
  EXPECT_NE(r.reason.find("more than 4 destinations"), std::string::npos) << r.reason;
}

TEST_F(ResolverTest, InvalidDestinationRowsAreSkipped) {
  src_.alias("info@example.org", {"not an address", "@example.org", "john@example.org"});
  resolution r = resolve("info@example.org");
  ASSERT_EQ(r.result, outcome::ok) << r.reason;
  EXPECT_EQ(describe(r), strings{"john@example.org"});
  src_.alias("broken@example.org", {"bad\r\naddress"});
  EXPECT_EQ(resolve("broken@example.org").result, outcome::no_such_user);
}

// Every lookup the resolution needs, failing in turn: always temporary_failure.
TEST_F(ResolverTest, SourceErrorsAreTemporaryNeverNoSuchUser) {
  src_.alias("info@example.org", {"dev@example.org"});
  src_.alias("dev@example.org", {"john@example.org", "ext@remote.test"});
  src_.alias("@example.org", {"catch@example.org"});
  struct step {
    std::string failing_key;
    std::string recipient;
  };
  const std::vector<step> steps = {
      {"example.org", "john@example.org"},         // has_domain of the recipient
      {"john@example.org", "john@example.org"},    // its alias and user lookups
      {"info@example.org", "info@example.org"},    // alias lookup
      {"dev@example.org", "info@example.org"},     // deeper in the expansion
      {"john@example.org", "info@example.org"},    // user lookup at the end of the chain
      {"remote.test", "info@example.org"},         // has_domain of a remote destination
      {"@example.org", "nobody@example.org"},      // catch-all lookup
      {"nobody@example.org", "nobody@example.org"},
      {"catch@example.org", "nobody@example.org"},
  };
  for (absl::StatusCode code : {absl::StatusCode::kUnavailable, absl::StatusCode::kInternal,
                                absl::StatusCode::kDeadlineExceeded}) {
    src_.failure_code = code;
    for (const step& s : steps) {
      src_.failing = {s.failing_key};
      resolution r = resolve(s.recipient);
      EXPECT_EQ(r.result, outcome::temporary_failure)
          << "failing " << s.failing_key << " resolving " << s.recipient << ": " << r.reason;
      EXPECT_TRUE(r.destinations.empty());
      EXPECT_NE(r.reason.find("injected"), std::string::npos) << r.reason;
    }
  }
}

TEST_F(ResolverTest, FailureDuringAnUnknownUserLookupIsNotNoSuchUser) {
  // The classic mistake: treating "could not look it up" as "not there".
  src_.failing = {"nobody@example.org"};
  EXPECT_EQ(resolve("nobody@example.org").result, outcome::temporary_failure);
  src_.failing = {"example.org"};
  EXPECT_EQ(resolve("nobody@example.org").result, outcome::temporary_failure);
}

// ---- sender check ----------------------------------------------------------------------

class SenderTest : public ResolverTest {
 protected:
  void SetUp() override {
    ResolverTest::SetUp();
    src_.alias("info@example.org", {"john@example.org"});
    src_.alias("sales@example.org", {"jane@example.org", "john@example.org"});
    src_.alias("john@example.org", {"john@example.org"});  // self-mapping: no new right
    src_.alias("@example.org", {"john@example.org"});      // catch-all: gives no right
    src_.alias("team@example.org", {"sales@example.org"});  // indirect: gives no right
    src_.alias("jane@example.org", {"john@example.org"});   // a user forwarding to john
  }
  absl::StatusOr<bool> may(std::string_view login, std::string_view from) {
    resolver r(src_);
    return run(r.may_send_as(login, from));
  }
};

TEST_F(SenderTest, SendableAddresses) {
  resolver r(src_);
  absl::StatusOr<std::vector<std::string>> a = run(r.sendable_addresses("John@Example.org"));
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_FALSE(a->empty());
  EXPECT_EQ(a->front(), "john@example.org");
  std::vector<std::string> sorted = *a;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, (strings{"info@example.org", "jane@example.org", "john@example.org", "sales@example.org"}));
}

TEST_F(SenderTest, MaySendAs) {
  struct item {
    std::string from;
    bool allowed;
  };
  for (const item& c : std::vector<item>{
           {"john@example.org", true},
           {"JOHN@EXAMPLE.ORG", true},
           {"john+lists@example.org", true},
           {"info@example.org", true},
           {"info+foo@example.org", true},
           {"sales@example.org", true},
           {"jane@example.org", true},  // jane's mail goes to john: an alias source pointing at him
           {"team@example.org", false},
           {"random@example.org", false},  // only the catch-all points here
           {"john@example.net", false},
           {"bob@example.net", false},
           {"", false},
           {"<>", false},
           {"john@example.org\r\nRCPT TO:<x@y>", false},
           {"john", false},
       }) {
    absl::StatusOr<bool> ok = may("john@example.org", c.from);
    ASSERT_TRUE(ok.ok()) << c.from << ": " << ok.status();
    EXPECT_EQ(*ok, c.allowed) << c.from;
  }
  // Rights are not symmetric: jane may not send as john or info.
  EXPECT_FALSE(*may("jane@example.org", "john@example.org"));
  EXPECT_FALSE(*may("jane@example.org", "info@example.org"));
  EXPECT_TRUE(*may("jane@example.org", "sales@example.org"));
}

TEST_F(SenderTest, ErrorsAreErrorsNotRefusals) {
  src_.failing = {"john@example.org"};
  absl::StatusOr<bool> ok = may("john@example.org", "info@example.org");
  ASSERT_FALSE(ok.ok());
  EXPECT_TRUE(absl::IsUnavailable(ok.status())) << ok.status();
  resolver r(src_);
  EXPECT_TRUE(absl::IsUnavailable(run(r.sendable_addresses("john@example.org")).status()));

  src_.failing.clear();
  absl::StatusOr<bool> bad_login = may("not a login", "john@example.org");
  ASSERT_FALSE(bad_login.ok());
  EXPECT_EQ(bad_login.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ringmail::directory
