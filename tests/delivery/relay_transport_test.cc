// The relay's configuration parsers (delivery/relay/transport.h): next hops in Postfix's
// relayhost syntax, transport entries, the table file and flag forms, and lookups.
#include "delivery/relay/transport.h"

#include <string>

#include "gtest/gtest.h"

namespace ringmail::relay {
namespace {

next_hop hop(std::string host, uint16_t port, bool mx, bool literal = false) {
  return next_hop{std::move(host), port, mx, literal};
}

TEST(NextHop, PostfixForms) {
  struct row {
    const char* text;
    next_hop want;
  } rows[] = {
      {"mail.example.com", hop("mail.example.com", 25, true)},
      {"Mail.Example.COM.", hop("mail.example.com", 25, true)},
      {"mail.example.com:2525", hop("mail.example.com", 2525, true)},
      {"[mail.example.com]", hop("mail.example.com", 25, false)},
      {"[mail.example.com]:587", hop("mail.example.com", 587, false)},
      {"[smarthost]:submission", hop("smarthost", 587, false)},
      {"  [relay.example.net]:smtps ", hop("relay.example.net", 465, false)},
      {"[192.0.2.1]", hop("192.0.2.1", 25, false, true)},
      {"[192.0.2.1]:2525", hop("192.0.2.1", 2525, false, true)},
      {"[2001:db8::1]:2525", hop("2001:db8::1", 2525, false, true)},
      {"[ipv6:2001:db8::1]", hop("2001:db8::1", 25, false, true)},
      {"[IPv6:::1]:26", hop("::1", 26, false, true)},
  };
  for (const row& r : rows) {
    auto got = parse_next_hop(r.text);
    ASSERT_TRUE(got.ok()) << r.text << ": " << got.status();
    EXPECT_EQ(*got, r.want) << r.text;
  }
}

TEST(NextHop, Refusals) {
  for (const char* bad : {"", "  ", "[", "[host", "[]", "[]:25", "host:", "host:0", "host:65536", "host:25x",
                          "host:-1", "[host]x", "[host]:", "192.0.2.1", "192.0.2.1:25", "[host:25]",
                          "[ipv6:192.0.2.1]", "bad..name", "-bad.example", "sp ace.example", "host:pop3",
                          "[ipv6:]",
                          // An address with a trailing dot (found by relay_transport_fuzz):
                          // it would print as a host and parse back as an address.
                          "0.0.0.1.", "192.0.2.1.:25", "[0.0.0.1.]"}) {
    EXPECT_FALSE(parse_next_hop(bad).ok()) << "\"" << bad << "\"";
  }
  std::string long_label(64, 'a');
  EXPECT_FALSE(parse_next_hop(long_label + ".example").ok());
}

TEST(TransportEntry, Kinds) {
  auto smtp = parse_transport_entry("smtp:[10.0.0.1]:2525");
  ASSERT_TRUE(smtp.ok()) << smtp.status();
  EXPECT_EQ(smtp->kind, transport_kind::smtp);
  EXPECT_EQ(smtp->name, "smtp");
  EXPECT_EQ(smtp->nexthop, hop("10.0.0.1", 2525, false, true));

  auto relay = parse_transport_entry("relay:gw.example.net");
  ASSERT_TRUE(relay.ok()) << relay.status();
  EXPECT_EQ(relay->kind, transport_kind::smtp);
  EXPECT_EQ(relay->name, "relay");
  EXPECT_EQ(relay->nexthop, hop("gw.example.net", 25, true));

  auto domain_mx = parse_transport_entry("smtp:");
  ASSERT_TRUE(domain_mx.ok());
  EXPECT_FALSE(domain_mx->nexthop.has_value());
  auto bare = parse_transport_entry("SMTP");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->name, "smtp");
  EXPECT_FALSE(bare->nexthop.has_value());

  auto default_transport = parse_transport_entry(":[gw.example.net]");
  ASSERT_TRUE(default_transport.ok());
  EXPECT_EQ(default_transport->name, "smtp");
  EXPECT_EQ(default_transport->nexthop, hop("gw.example.net", 25, false));

  auto error = parse_transport_entry("error:5.1.1 no: such: domain");
  ASSERT_TRUE(error.ok());
  EXPECT_EQ(error->kind, transport_kind::error);
  EXPECT_EQ(error->text, "5.1.1 no: such: domain");
  auto retry = parse_transport_entry("retry:4.3.2 maintenance");
  ASSERT_TRUE(retry.ok());
  EXPECT_EQ(retry->kind, transport_kind::retry);

  EXPECT_FALSE(parse_transport_entry("lmtp:unix:/run/lmtp").ok());
  EXPECT_FALSE(parse_transport_entry("local:").ok());
  EXPECT_FALSE(parse_transport_entry("smtp:[broken").ok());
}

TEST(TransportTable, FileFormatAndLookupOrder) {
  auto table = transport_table::parse(
      "# routes\n"
      "example.com      smtp:[10.0.0.1]:2525\n"
      "\n"
      ".example.com     relay:sub-gw.example.net\n"
      "   # an indented comment\n"
      ".deep.example.com smtp:[deep-gw]\n"
      "Blocked.Example. error:5.7.1\n"
      "  mail refused\r\n"
      "*                smtp:[fallback.example.net]:587\n");
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->size(), 5u);

  const transport_entry* e = table->find("example.com");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->nexthop, hop("10.0.0.1", 2525, false, true));
  e = table->find("EXAMPLE.com.");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->nexthop->host, "10.0.0.1");
  // Subdomains: the closest ".parent" key; the bare key never matches them.
  e = table->find("a.example.com");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->nexthop->host, "sub-gw.example.net");
  e = table->find("x.y.deep.example.com");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->nexthop->host, "deep-gw");
  e = table->find("deep.example.com");  // ".deep.example.com" is for its subdomains
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->nexthop->host, "sub-gw.example.net");
  // A continuation line joins its entry.
  e = table->find("blocked.example");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->kind, transport_kind::error);
  EXPECT_EQ(e->text, "5.7.1 mail refused");
  // Anything else: "*".
  e = table->find("elsewhere.org");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->nexthop, hop("fallback.example.net", 587, false));
  e = table->find("notexample.com");  // not a subdomain of example.com
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->nexthop->host, "fallback.example.net");
}

TEST(TransportTable, NoDefaultMeansNoMatch) {
  auto table = transport_table::parse("example.com smtp:\n");
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_NE(table->find("example.com"), nullptr);
  EXPECT_EQ(table->find("other.com"), nullptr);
  EXPECT_EQ(table->find("sub.example.com"), nullptr);
  EXPECT_EQ(transport_table{}.find("example.com"), nullptr);
}

TEST(TransportTable, ErrorsNameTheLine) {
  auto dup = transport_table::parse("a.example smtp:\n\nA.example. relay:\n");
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.status().message().find("line 3"), std::string::npos) << dup.status();
  auto no_value = transport_table::parse("a.example smtp:\nlonely.example\n");
  ASSERT_FALSE(no_value.ok());
  EXPECT_NE(no_value.status().message().find("line 2"), std::string::npos) << no_value.status();
  auto cont = transport_table::parse("  smtp:[x]\n");
  ASSERT_FALSE(cont.ok());
  EXPECT_NE(cont.status().message().find("line 1"), std::string::npos) << cont.status();
  EXPECT_FALSE(transport_table::parse("bad_key! smtp:\n").ok());
  EXPECT_FALSE(transport_table::parse(". smtp:\n").ok());
  EXPECT_FALSE(transport_table::parse("x.example pigeon:\n").ok());
}

TEST(TransportTable, FlagForm) {
  auto table = transport_table::parse_flag("example.com=smtp:[10.0.0.1]:2525, .example.org = relay:gw.example.net,*=smtp:");
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->size(), 3u);
  EXPECT_EQ(table->find("example.com")->nexthop, hop("10.0.0.1", 2525, false, true));
  EXPECT_EQ(table->find("a.example.org")->nexthop, hop("gw.example.net", 25, true));
  EXPECT_FALSE(table->find("x.net")->nexthop.has_value());

  auto braces = transport_table::parse_flag("{ a.example=error:5.1.2 gone }");
  ASSERT_TRUE(braces.ok()) << braces.status();
  EXPECT_EQ(braces->find("a.example")->text, "5.1.2 gone");
  auto empty = transport_table::parse_flag("");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());

  EXPECT_FALSE(transport_table::parse_flag("example.com smtp:").ok());
  EXPECT_FALSE(transport_table::parse_flag("{ a.example=smtp:").ok());
  EXPECT_FALSE(transport_table::parse_flag("a.example=smtp:,a.example=relay:").ok());
}

TEST(TransportTable, SizeLimit) {
  std::string huge(kMaxTransportTableBytes + 1, '#');
  EXPECT_FALSE(transport_table::parse(huge).ok());
}

}  // namespace
}  // namespace ringmail::relay
