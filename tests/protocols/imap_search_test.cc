// IMAP SEARCH evaluation (protocols/imap/search.h), key by key, against index entries and
// messages parsed from literal text: flags and keywords, sequence and UID sets with "*"
// and "$", OR/NOT nesting, sizes, INTERNALDATE and Date: days around midnight and across
// zones, and the string keys on decoded content (RFC 2047 words, base64 and QP bodies,
// ISO-8859-1/UTF-8/KOI8-R text, case folding beyond ASCII). Also: a SEARCH of index facts
// over 10,000 messages never touches a message's bytes.
#include "protocols/imap/search.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "delivery/mailstore/maildir_filename.h"
#include "mail/charset.h"
#include "mail/date.h"
#include "mail/message.h"

namespace ringmail::imap {
namespace {

using kind = search_key::kind;
namespace ms = ringmail::mailstore;

// ---- building keys ----------------------------------------------------------------------

search_key key(kind k) {
  search_key s;
  s.k = k;
  return s;
}
search_key str(kind k, std::string text) {
  search_key s = key(k);
  s.text = std::move(text);
  return s;
}
search_key header(std::string field, std::string text) {
  search_key s = str(kind::header, std::move(text));
  s.field = std::move(field);
  return s;
}
search_key date(kind k, int y, unsigned m, unsigned d) {
  search_key s = key(k);
  s.date = mail::days_from_civil(y, m, d);
  return s;
}
search_key number(kind k, uint64_t n) {
  search_key s = key(k);
  s.number = n;
  return s;
}
search_key set(kind k, std::vector<seq_range> ranges, bool saved = false) {
  search_key s = key(k);
  s.set.ranges = std::move(ranges);
  s.set.saved = saved;
  return s;
}
search_key all_of(std::vector<search_key> children) {
  search_key s = key(kind::and_);
  s.children = std::move(children);
  return s;
}
search_key any_of(search_key a, search_key b) {
  search_key s = key(kind::or_);
  s.children = {std::move(a), std::move(b)};
  return s;
}
search_key negate(search_key a) {
  search_key s = key(kind::not_);
  s.children = {std::move(a)};
  return s;
}
constexpr uint32_t star = seq_range::star;

// ---- a folder of test messages ----------------------------------------------------------

struct folder {
  mail::charset_converter charsets;
  std::vector<std::string> keywords{"$Forwarded", "Work", "$Junk"};
  std::vector<uint32_t> saved;
  uint32_t max_seq = 10, max_uid = 100;
  int64_t tz = 0;

  search_context ctx() {
    search_context c;
    c.max_seq = max_seq;
    c.max_uid = max_uid;
    c.keywords = &keywords;
    c.saved_uids = &saved;
    c.charsets = &charsets;
    c.tz_offset_seconds = tz;
    return c;
  }
};

ms::message_entry entry(uint32_t uid, uint8_t flags = 0, uint32_t keywords = 0) {
  ms::message_entry e;
  e.uid = uid;
  e.flags = flags;
  e.keywords = keywords;
  e.vsize = 1000;
  e.internal_date = mail::days_from_civil(2024, 3, 10) * 86400 + 12 * 3600;
  e.modseq = 7;
  return e;
}

// Index facts only: `parsed` stays null, as the session leaves it.
bool facts_match(folder& f, const search_key& k, const ms::message_entry& e, uint32_t seq = 1) {
  EXPECT_FALSE(search_needs_content(k));
  return search_matches(k, search_message{seq, &e, nullptr}, f.ctx());
}

bool content_match(folder& f, const search_key& k, const std::string& raw) {
  EXPECT_TRUE(search_needs_content(k));
  mail::message msg = mail::parse_message(raw, f.charsets);
  ms::message_entry e = entry(1);
  return search_matches(k, search_message{1, &e, &msg}, f.ctx());
}

// ---- flags and keywords -----------------------------------------------------------------

TEST(ImapSearch, EachFlagAndItsNegation) {
  folder f;
  struct row {
    kind set, unset;
    uint8_t flag;
  };
  for (row r : {row{kind::answered, kind::unanswered, ms::flag_answered},
                row{kind::deleted, kind::undeleted, ms::flag_deleted},
                row{kind::draft, kind::undraft, ms::flag_draft},
                row{kind::flagged, kind::unflagged, ms::flag_flagged},
                row{kind::seen, kind::unseen, ms::flag_seen}}) {
    // The flag alone, and the flag among all the others.
    ms::message_entry with = entry(1, r.flag), without = entry(2, 0x1F & ~r.flag);
    EXPECT_TRUE(facts_match(f, key(r.set), with));
    EXPECT_FALSE(facts_match(f, key(r.unset), with));
    EXPECT_FALSE(facts_match(f, key(r.set), without));
    EXPECT_TRUE(facts_match(f, key(r.unset), without));
  }
}

TEST(ImapSearch, RecentIsNotTrackedSoNewNeverAndOldAlways) {
  folder f;
  for (uint8_t flags : {uint8_t{0}, uint8_t{ms::flag_seen}}) {
    ms::message_entry e = entry(1, flags);
    EXPECT_FALSE(facts_match(f, key(kind::recent), e));
    EXPECT_FALSE(facts_match(f, key(kind::new_), e));
    EXPECT_TRUE(facts_match(f, key(kind::old), e));
  }
}

TEST(ImapSearch, Keywords) {
  folder f;
  ms::message_entry work = entry(1, 0, 0b010), both = entry(2, 0, 0b011), none = entry(3);
  EXPECT_TRUE(facts_match(f, str(kind::keyword, "Work"), work));
  EXPECT_TRUE(facts_match(f, str(kind::keyword, "work"), work));  // flags are case-insensitive
  EXPECT_FALSE(facts_match(f, str(kind::keyword, "$Forwarded"), work));
  EXPECT_TRUE(facts_match(f, str(kind::keyword, "$forwarded"), both));
  EXPECT_FALSE(facts_match(f, str(kind::keyword, "Work"), none));
  EXPECT_TRUE(facts_match(f, str(kind::unkeyword, "Work"), none));
  EXPECT_FALSE(facts_match(f, str(kind::unkeyword, "Work"), both));
  // A keyword the folder has never seen: no message has it.
  EXPECT_FALSE(facts_match(f, str(kind::keyword, "Nope"), both));
  EXPECT_TRUE(facts_match(f, str(kind::unkeyword, "Nope"), both));
  // A bit set for a keyword index the folder has no name for matches no name.
  ms::message_entry stray = entry(4, 0, 1u << 20);
  EXPECT_FALSE(facts_match(f, str(kind::keyword, "$Junk"), stray));
}

// ---- sequence and UID sets --------------------------------------------------------------

TEST(ImapSearch, SequenceSetsWithStar) {
  folder f;  // max_seq 10
  ms::message_entry e = entry(42);
  EXPECT_TRUE(facts_match(f, set(kind::seq_set, {{3, 3}}), e, 3));
  EXPECT_FALSE(facts_match(f, set(kind::seq_set, {{3, 3}}), e, 4));
  EXPECT_TRUE(facts_match(f, set(kind::seq_set, {{2, 4}, {8, star}}), e, 10));
  EXPECT_TRUE(facts_match(f, set(kind::seq_set, {{star, star}}), e, 10));
  EXPECT_FALSE(facts_match(f, set(kind::seq_set, {{star, star}}), e, 9));
  EXPECT_TRUE(facts_match(f, set(kind::seq_set, {{4, 2}}), e, 3));  // 4:2 is 2:4
  EXPECT_FALSE(facts_match(f, set(kind::seq_set, {{2, 4}, {8, star}}), e, 6));
}

TEST(ImapSearch, UidSetsWithStar) {
  folder f;
  f.max_uid = 100;
  EXPECT_TRUE(facts_match(f, set(kind::uid, {{40, 50}}), entry(42)));
  EXPECT_FALSE(facts_match(f, set(kind::uid, {{40, 50}}), entry(51)));
  EXPECT_TRUE(facts_match(f, set(kind::uid, {{99, star}}), entry(100)));
  // RFC 9051 6.4.8: "UID 200:*" names the highest UID even when it is below 200.
  EXPECT_TRUE(facts_match(f, set(kind::uid, {{200, star}}), entry(100)));
  EXPECT_FALSE(facts_match(f, set(kind::uid, {{200, star}}), entry(99)));
  // UID compares the UID, not the sequence number.
  EXPECT_FALSE(facts_match(f, set(kind::uid, {{1, 1}}), entry(42), 1));
}

TEST(ImapSearch, SavedResultIsUidsForBothKindsOfSet) {
  folder f;
  f.saved = {3, 17, 42};
  EXPECT_TRUE(facts_match(f, set(kind::seq_set, {}, true), entry(17), 1));
  EXPECT_FALSE(facts_match(f, set(kind::seq_set, {}, true), entry(18), 17));
  EXPECT_TRUE(facts_match(f, set(kind::uid, {}, true), entry(42)));
  EXPECT_FALSE(facts_match(f, set(kind::uid, {}, true), entry(43)));
  search_context c = f.ctx();
  c.saved_uids = nullptr;  // nothing saved yet: "$" is empty
  ms::message_entry e = entry(17);
  EXPECT_FALSE(search_matches(set(kind::uid, {}, true), search_message{1, &e, nullptr}, c));
  EXPECT_TRUE(
      search_matches(negate(set(kind::uid, {}, true)), search_message{1, &e, nullptr}, c));
}

// ---- AND / OR / NOT ---------------------------------------------------------------------

TEST(ImapSearch, OrNotNesting) {
  folder f;
  ms::message_entry seen = entry(1, ms::flag_seen), flagged = entry(2, ms::flag_flagged),
                    plain = entry(3), both = entry(4, ms::flag_seen | ms::flag_flagged);
  search_key either = any_of(key(kind::seen), key(kind::flagged));
  EXPECT_TRUE(facts_match(f, either, seen));
  EXPECT_TRUE(facts_match(f, either, flagged));
  EXPECT_FALSE(facts_match(f, either, plain));
  EXPECT_TRUE(facts_match(f, negate(either), plain));
  EXPECT_FALSE(facts_match(f, negate(either), both));
  // NOT (SEEN FLAGGED): a parenthesised list is an AND.
  search_key not_both = negate(all_of({key(kind::seen), key(kind::flagged)}));
  EXPECT_TRUE(facts_match(f, not_both, seen));
  EXPECT_FALSE(facts_match(f, not_both, both));
  // OR (NOT SEEN) (FLAGGED LARGER 500), and the empty AND (top level with no key).
  search_key mixed = any_of(negate(key(kind::seen)),
                            all_of({key(kind::flagged), number(kind::larger, 500)}));
  EXPECT_TRUE(facts_match(f, mixed, plain));
  EXPECT_TRUE(facts_match(f, mixed, both));
  EXPECT_FALSE(facts_match(f, mixed, seen));
  EXPECT_TRUE(facts_match(f, all_of({}), plain));
  EXPECT_TRUE(facts_match(f, key(kind::all), plain));
  // 100 levels of NOT (the parser's bound): even count, the key itself.
  search_key deep = key(kind::seen);
  for (int i = 0; i < 100; ++i) deep = negate(std::move(deep));
  EXPECT_TRUE(facts_match(f, deep, seen));
  EXPECT_FALSE(facts_match(f, deep, plain));
}

// ---- sizes and MODSEQ -------------------------------------------------------------------

TEST(ImapSearch, SizesAreStrictOnRfc822Size) {
  folder f;
  ms::message_entry e = entry(1);
  e.size = 5000;  // bytes on disk do not count; vsize (CRLF) does
  e.vsize = 1000;
  EXPECT_TRUE(facts_match(f, number(kind::larger, 999), e));
  EXPECT_FALSE(facts_match(f, number(kind::larger, 1000), e));
  EXPECT_TRUE(facts_match(f, number(kind::smaller, 1001), e));
  EXPECT_FALSE(facts_match(f, number(kind::smaller, 1000), e));
  EXPECT_FALSE(facts_match(f, number(kind::smaller, 0), e));
}

TEST(ImapSearch, Modseq) {
  folder f;
  ms::message_entry e = entry(1);  // modseq 7
  EXPECT_TRUE(facts_match(f, number(kind::modseq, 7), e));
  EXPECT_TRUE(facts_match(f, number(kind::modseq, 1), e));
  EXPECT_FALSE(facts_match(f, number(kind::modseq, 8), e));
}

// ---- INTERNALDATE -----------------------------------------------------------------------

TEST(ImapSearch, InternalDateAroundMidnight) {
  folder f;
  const int64_t day = mail::days_from_civil(2024, 3, 10) * 86400;
  ms::message_entry last = entry(1), first = entry(2);
  last.internal_date = day - 1;  // 9-Mar-2024 23:59:59 UTC
  first.internal_date = day;     // 10-Mar-2024 00:00:00 UTC
  EXPECT_TRUE(facts_match(f, date(kind::on, 2024, 3, 9), last));
  EXPECT_FALSE(facts_match(f, date(kind::on, 2024, 3, 10), last));
  EXPECT_TRUE(facts_match(f, date(kind::on, 2024, 3, 10), first));
  EXPECT_TRUE(facts_match(f, date(kind::before, 2024, 3, 10), last));
  EXPECT_FALSE(facts_match(f, date(kind::before, 2024, 3, 10), first));
  EXPECT_TRUE(facts_match(f, date(kind::since, 2024, 3, 10), first));
  EXPECT_FALSE(facts_match(f, date(kind::since, 2024, 3, 10), last));
  EXPECT_TRUE(facts_match(f, date(kind::since, 2024, 3, 9), last));  // SINCE includes the day
}

TEST(ImapSearch, InternalDateInTheServersZone) {
  folder f;
  const int64_t day = mail::days_from_civil(2024, 3, 10) * 86400;
  ms::message_entry late = entry(1);
  late.internal_date = day - 30 * 60;  // 23:30 UTC on 9 March
  f.tz = 3600;                         // 00:30 on 10 March in +0100
  EXPECT_TRUE(facts_match(f, date(kind::on, 2024, 3, 10), late));
  EXPECT_FALSE(facts_match(f, date(kind::before, 2024, 3, 10), late));
  f.tz = -5 * 3600;
  ms::message_entry early = entry(2);
  early.internal_date = day + 2 * 3600;  // 02:00 UTC on 10 March = 21:00 on 9 March, -0500
  EXPECT_TRUE(facts_match(f, date(kind::on, 2024, 3, 9), early));
  EXPECT_TRUE(facts_match(f, date(kind::before, 2024, 3, 10), early));
  // Before 1970 too (day numbers are floored).
  f.tz = 0;
  ms::message_entry old = entry(3);
  old.internal_date = -1;
  EXPECT_TRUE(facts_match(f, date(kind::on, 1969, 12, 31), old));
}

// ---- Date: header -----------------------------------------------------------------------

std::string with_date(std::string date_header) {
  return "From: a@example.com\r\n" + date_header + "Subject: x\r\n\r\nbody\r\n";
}

TEST(ImapSearch, SentDateUsesTheHeadersOwnZone) {
  folder f;
  // 23:30 on 1 Jan in -0500 is 04:30 UTC on 2 Jan: SENTON looks at the written day.
  std::string m = with_date("Date: Mon, 1 Jan 2024 23:30:00 -0500\r\n");
  EXPECT_TRUE(content_match(f, date(kind::sent_on, 2024, 1, 1), m));
  EXPECT_FALSE(content_match(f, date(kind::sent_on, 2024, 1, 2), m));
  EXPECT_TRUE(content_match(f, date(kind::sent_before, 2024, 1, 2), m));
  EXPECT_FALSE(content_match(f, date(kind::sent_before, 2024, 1, 1), m));
  EXPECT_TRUE(content_match(f, date(kind::sent_since, 2024, 1, 1), m));
  EXPECT_FALSE(content_match(f, date(kind::sent_since, 2024, 1, 2), m));
  // 00:10 on 2 Jan in +1400 is 10:10 UTC on 1 Jan.
  std::string k = with_date("Date: 2 Jan 2024 00:10 +1400\r\n");
  EXPECT_TRUE(content_match(f, date(kind::sent_on, 2024, 1, 2), k));
  EXPECT_FALSE(content_match(f, date(kind::sent_on, 2024, 1, 1), k));
  // The INTERNALDATE does not matter for SENT* keys.
  EXPECT_FALSE(content_match(f, date(kind::sent_on, 2024, 3, 10), k));
}

TEST(ImapSearch, MissingOrBrokenDateCountsAs1970LikeDovecot) {
  folder f;
  for (std::string m : {with_date(""), with_date("Date: yesterday at noon\r\n")}) {
    EXPECT_TRUE(content_match(f, date(kind::sent_before, 2000, 1, 1), m));
    EXPECT_FALSE(content_match(f, date(kind::sent_since, 2000, 1, 1), m));
    EXPECT_TRUE(content_match(f, date(kind::sent_on, 1970, 1, 1), m));
    EXPECT_FALSE(content_match(f, date(kind::sent_on, 2024, 3, 10), m));  // not INTERNALDATE
  }
}

// ---- header keys ------------------------------------------------------------------------

const std::string kHeaders =
    "From: =?ISO-8859-1?Q?J=F6rg_M=FCller?= <joerg@example.de>\r\n"
    "To: Alice <alice@example.com>,\r\n bob@example.org\r\n"
    "To: second-to@example.net\r\n"
    "Cc: =?UTF-8?B?0JjQstCw0L0g0J/QtdGC0YDQvtCy?= <ivan@example.ru>\r\n"
    "Bcc: hidden@example.com\r\n"
    "Subject: =?ISO-8859-1?Q?Gr=FCsse_aus_K=F6ln?= and\r\n more\r\n"
    "X-Empty:\r\n"
    "X-Mailer: Test 1.0\r\n"
    "Date: Tue, 5 Mar 2024 10:00:00 +0100\r\n"
    "\r\n"
    "Hello.\r\n";

TEST(ImapSearch, SubjectIsDecodedUnfoldedAndCaseFolded) {
  folder f;
  EXPECT_TRUE(content_match(f, str(kind::subject, "GRÜSSE AUS KÖLN"), kHeaders));
  EXPECT_TRUE(content_match(f, str(kind::subject, "grüsse"), kHeaders));
  EXPECT_TRUE(content_match(f, str(kind::subject, "köln and more"), kHeaders));  // unfolded
  EXPECT_FALSE(content_match(f, str(kind::subject, "=?ISO-8859-1"), kHeaders));  // decoded
  EXPECT_FALSE(content_match(f, str(kind::subject, "grüße"), kHeaders));  // no ß -> ss
  EXPECT_FALSE(content_match(f, str(kind::subject, "hello"), kHeaders));  // body is not it
}

TEST(ImapSearch, AddressHeadersAndEveryInstance) {
  folder f;
  EXPECT_TRUE(content_match(f, str(kind::from, "jörg müller"), kHeaders));
  EXPECT_TRUE(content_match(f, str(kind::from, "JOERG@EXAMPLE.DE"), kHeaders));
  EXPECT_TRUE(content_match(f, str(kind::to, "bob@example"), kHeaders));  // folded line
  EXPECT_TRUE(content_match(f, str(kind::to, "second-to"), kHeaders));    // second To:
  EXPECT_TRUE(content_match(f, str(kind::cc, "ИВАН ПЕТРОВ"), kHeaders));  // Cyrillic fold
  EXPECT_TRUE(content_match(f, str(kind::bcc, "hidden"), kHeaders));
  EXPECT_FALSE(content_match(f, str(kind::cc, "alice"), kHeaders));
  EXPECT_FALSE(content_match(f, str(kind::from, "alice"), kHeaders));
}

TEST(ImapSearch, HeaderFieldAndExistence) {
  folder f;
  EXPECT_TRUE(content_match(f, header("X-MAILER", "test 1"), kHeaders));
  EXPECT_FALSE(content_match(f, header("X-MAILER", "test 2"), kHeaders));
  EXPECT_TRUE(content_match(f, header("X-EMPTY", ""), kHeaders));   // exists, empty
  EXPECT_TRUE(content_match(f, header("X-MAILER", ""), kHeaders));
  EXPECT_FALSE(content_match(f, header("X-ABSENT", ""), kHeaders));
  EXPECT_FALSE(content_match(f, header("X-EMPTY", "x"), kHeaders));
  EXPECT_TRUE(content_match(f, header("SUBJECT", "KÖLN"), kHeaders));
  // "" in the other header keys is existence too; NOT of an absent field matches.
  std::string bare = "From: a@b\r\n\r\nbody\r\n";
  EXPECT_FALSE(content_match(f, str(kind::subject, ""), bare));
  EXPECT_TRUE(content_match(f, str(kind::subject, ""), kHeaders));
  EXPECT_TRUE(content_match(f, negate(str(kind::subject, "x")), bare));
}

// ---- bodies -----------------------------------------------------------------------------

TEST(ImapSearch, Base64Utf8Body) {
  folder f;
  std::string m =
      "Subject: b64\r\nContent-Type: text/plain; charset=utf-8\r\n"
      "Content-Transfer-Encoding: base64\r\n\r\n"
      "0J/RgNC40LLQtdGCLCDQvNC40YAhIEdyw7zDn2UgYXVzIEvDtmxuLgo=\r\n";  // "Привет, мир! Grüße aus Köln.\n"
  EXPECT_TRUE(content_match(f, str(kind::body, "ПРИВЕТ, МИР"), m));
  EXPECT_FALSE(content_match(f, str(kind::body, "GRÜSSE"), m));  // ß is not "ss"
  EXPECT_TRUE(content_match(f, str(kind::body, "grÜße AUS"), m));
  EXPECT_FALSE(content_match(f, str(kind::body, "0J/RgNC4"), m));  // the encoding is not text
  EXPECT_FALSE(content_match(f, str(kind::body, "b64"), m));       // BODY skips headers
}

TEST(ImapSearch, QuotedPrintableLatin1Body) {
  folder f;
  std::string m =
      "Subject: qp\r\nContent-Type: text/plain; charset=ISO-8859-1\r\n"
      "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
      "Sch=F6ne Gr=FC=DFe, soft=\r\nbreak, caf=E9 CR=C8ME\r\n";
  EXPECT_TRUE(content_match(f, str(kind::body, "SCHÖNE GRÜßE"), m));
  EXPECT_TRUE(content_match(f, str(kind::body, "softbreak"), m));
  EXPECT_TRUE(content_match(f, str(kind::body, "Café crème"), m));
  EXPECT_FALSE(content_match(f, str(kind::body, "=F6"), m));
}

TEST(ImapSearch, EightBitBodiesInTheirCharsets) {
  folder f;
  std::string latin1 =
      "Content-Type: text/plain; charset=iso-8859-1\r\n\r\n"
      "\xC4rger \xFC" "ber Stra\xDF" "en\r\n";
  EXPECT_TRUE(content_match(f, str(kind::body, "ärger über straßen"), latin1));
  EXPECT_TRUE(content_match(f, str(kind::body, "ÄRGER"), latin1));
  std::string utf8 =
      "Content-Type: text/plain; charset=UTF-8\r\n\r\n"
      "\xCE\x9F\xCE\x94\xCE\x9F\xCE\xA3 \xCE\xBA\xCE\xB1\xCE\xB9\r\n";  // ΟΔΟΣ και
  EXPECT_TRUE(content_match(f, str(kind::body, "οδος"), utf8));  // final sigma
  std::string koi8 =
      "Content-Type: text/plain; charset=koi8-r\r\n\r\n"
      "\xF0\xD2\xC9\xD7\xC5\xD4\r\n";  // "Привет" in KOI8-R
  EXPECT_TRUE(content_match(f, str(kind::body, "привет"), koi8));
  EXPECT_TRUE(content_match(f, str(kind::body, "ПРИВЕТ"), koi8));
}

const std::string kMultipart =
    "From: a@example.com\r\n"
    "Subject: Quarterly numbers\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
    "\r\n"
    "preamble-words\r\n"
    "--outer\r\n"
    "Content-Type: multipart/alternative; boundary=\"inner\"\r\n"
    "\r\n"
    "--inner\r\n"
    "Content-Type: text/plain; charset=us-ascii\r\n"
    "\r\n"
    "Plain version of the numbers.\r\n"
    "--inner\r\n"
    "Content-Type: text/html; charset=utf-8\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "<p>HTML <b>bold</b> figures =E2=82=AC</p>\r\n"
    "--inner--\r\n"
    "--outer\r\n"
    "Content-Type: application/octet-stream; name=\"report.bin\"\r\n"
    "Content-Disposition: attachment; filename=\"report.bin\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "c2VjcmV0LWJpbmFyeS13b3Jk\r\n"  // "secret-binary-word"
    "--outer\r\n"
    "Content-Type: message/rfc822\r\n"
    "\r\n"
    "Subject: forwarded subject\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "Inner forwarded text.\r\n"
    "--outer--\r\n"
    "epilogue-words\r\n";

TEST(ImapSearch, BodyCoversTextPartsOfEveryLevelAndNothingElse) {
  folder f;
  EXPECT_TRUE(content_match(f, str(kind::body, "plain version"), kMultipart));
  EXPECT_TRUE(content_match(f, str(kind::body, "<b>bold</b> figures €"), kMultipart));  // HTML raw
  EXPECT_TRUE(content_match(f, str(kind::body, "inner forwarded"), kMultipart));
  EXPECT_FALSE(content_match(f, str(kind::body, "secret-binary"), kMultipart));  // not text
  EXPECT_FALSE(content_match(f, str(kind::body, "preamble-words"), kMultipart));
  EXPECT_FALSE(content_match(f, str(kind::body, "epilogue-words"), kMultipart));
  EXPECT_FALSE(content_match(f, str(kind::body, "quarterly"), kMultipart));
  EXPECT_FALSE(content_match(f, str(kind::body, "forwarded subject"), kMultipart));
  EXPECT_TRUE(content_match(f, str(kind::body, ""), kMultipart));
}

TEST(ImapSearch, TextIsHeadersOfEveryPartAndBody) {
  folder f;
  EXPECT_TRUE(content_match(f, str(kind::text, "quarterly"), kMultipart));
  EXPECT_TRUE(content_match(f, str(kind::text, "subject: quarterly"), kMultipart));
  EXPECT_TRUE(content_match(f, str(kind::text, "report.bin"), kMultipart));  // part header
  EXPECT_TRUE(content_match(f, str(kind::text, "forwarded subject"), kMultipart));
  EXPECT_TRUE(content_match(f, str(kind::text, "PLAIN VERSION"), kMultipart));
  EXPECT_FALSE(content_match(f, str(kind::text, "secret-binary"), kMultipart));
  EXPECT_FALSE(content_match(f, str(kind::text, "nowhere at all"), kMultipart));
  // TEXT decodes header words too.
  EXPECT_TRUE(content_match(f, str(kind::text, "jörg"), kHeaders));
  // SUBJECT is the top-level Subject only, not the forwarded message's.
  EXPECT_FALSE(content_match(f, str(kind::subject, "forwarded"), kMultipart));
}

TEST(ImapSearch, BareLfMessages) {
  folder f;
  std::string m =
      "Subject: lf\n only\nContent-Type: text/plain; charset=iso-8859-1\n"
      "Content-Transfer-Encoding: quoted-printable\n\nline one=\nline two \xE9=E9\n";
  EXPECT_TRUE(content_match(f, str(kind::subject, "lf only"), m));
  EXPECT_TRUE(content_match(f, str(kind::body, "line oneline two"), m));
}

TEST(ImapSearch, ContentKeysMixedWithFacts) {
  folder f;
  mail::message msg = mail::parse_message(kHeaders, f.charsets);
  ms::message_entry seen = entry(5, ms::flag_seen), unseen = entry(6);
  search_key k = all_of({str(kind::subject, "köln"), key(kind::seen)});
  EXPECT_TRUE(search_matches(k, {1, &seen, &msg}, f.ctx()));
  EXPECT_FALSE(search_matches(k, {2, &unseen, &msg}, f.ctx()));
  search_key o = any_of(str(kind::body, "absent"), key(kind::seen));
  EXPECT_TRUE(search_matches(o, {1, &seen, &msg}, f.ctx()));
  EXPECT_FALSE(search_matches(o, {2, &unseen, &msg}, f.ctx()));
  EXPECT_TRUE(search_needs_content(negate(any_of(key(kind::seen), str(kind::body, "x")))));
  EXPECT_TRUE(search_needs_content(date(kind::sent_on, 2024, 1, 1)));
  EXPECT_FALSE(search_needs_content(
      all_of({date(kind::on, 2024, 1, 1), number(kind::larger, 1), key(kind::old)})));
}

TEST(ImapSearch, CacheFollowsTheMessage) {
  folder f;
  std::string a = "Subject: alpha\r\n\r\nfirst body\r\n";
  std::string b = "Subject: beta\r\n\r\nsecond body\r\n";
  mail::message ma = mail::parse_message(a, f.charsets), mb = mail::parse_message(b, f.charsets);
  ms::message_entry ea = entry(1), eb = entry(2);
  search_text_cache cache;
  search_context c = f.ctx();
  EXPECT_TRUE(search_matches(str(kind::subject, "alpha"), {1, &ea, &ma}, c, cache));
  EXPECT_TRUE(search_matches(str(kind::body, "first"), {1, &ea, &ma}, c, cache));
  EXPECT_FALSE(search_matches(str(kind::subject, "alpha"), {2, &eb, &mb}, c, cache));
  EXPECT_FALSE(search_matches(str(kind::body, "first"), {2, &eb, &mb}, c, cache));
  EXPECT_TRUE(search_matches(str(kind::text, "second"), {2, &eb, &mb}, c, cache));
  EXPECT_TRUE(search_matches(str(kind::body, "first"), {1, &ea, &ma}, c, cache));
}

TEST(ImapSearch, ContentKeyWithoutTheMessageDoesNotMatch) {
  folder f;
  ms::message_entry e = entry(1);
  EXPECT_FALSE(search_matches(str(kind::body, "x"), {1, &e, nullptr}, f.ctx()));
  EXPECT_TRUE(search_matches(negate(str(kind::body, "x")), {1, &e, nullptr}, f.ctx()));
}

// ---- cost -------------------------------------------------------------------------------

// A message whose bytes sit on a page that is then made unreadable: any decoding would
// fault. AND/OR settle on the index facts first and never get there.
TEST(ImapSearch, FactsDecideBeforeContentIsRead) {
  folder f;
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  void* mem = mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(mem, MAP_FAILED);
  std::string_view text = "Subject: guarded\r\n\r\nguarded body\r\n";
  std::memcpy(mem, text.data(), text.size());
  mail::message msg =
      mail::parse_message(std::string_view(static_cast<char*>(mem), text.size()), f.charsets);
  ASSERT_EQ(mprotect(mem, page, PROT_NONE), 0);
  ms::message_entry unseen = entry(1), seen = entry(2, ms::flag_seen);
  EXPECT_FALSE(search_matches(all_of({str(kind::body, "guarded"), key(kind::seen)}),
                              {1, &unseen, &msg}, f.ctx()));
  EXPECT_TRUE(search_matches(any_of(str(kind::subject, "guarded"), key(kind::seen)),
                             {2, &seen, &msg}, f.ctx()));
  EXPECT_FALSE(search_matches(all_of({negate(str(kind::text, "x")), number(kind::larger, 5000)}),
                              {1, &unseen, &msg}, f.ctx()));
  munmap(mem, page);
}

TEST(ImapSearch, TenThousandMessagesOfIndexFactsOnly) {
  folder f;
  std::vector<ms::message_entry> entries;
  for (uint32_t i = 1; i <= 10000; ++i) {
    ms::message_entry e = entry(i * 3, (i % 2 ? ms::flag_seen : 0) | (i % 7 ? 0 : ms::flag_flagged),
                                i % 5 ? 0 : 0b10);
    e.vsize = i;
    entries.push_back(e);
  }
  f.max_seq = 10000;
  f.max_uid = 30000;
  // UNSEEN OR FLAGGED KEYWORD Work, NOT LARGER 9000, UID 3:*, 1:5000,9001:*
  search_key k = all_of({key(kind::unseen), any_of(key(kind::flagged), str(kind::keyword, "Work")),
                         negate(number(kind::larger, 9000)), set(kind::uid, {{3, star}}),
                         set(kind::seq_set, {{1, 5000}, {9001, star}})});
  ASSERT_FALSE(search_needs_content(k));
  search_context c = f.ctx();
  auto start = std::chrono::steady_clock::now();
  size_t hits = 0, expected = 0;
  for (uint32_t seq = 1; seq <= 10000; ++seq) {
    hits += search_matches(k, {seq, &entries[seq - 1], nullptr}, c);
    expected += seq % 2 == 0 && (seq % 7 == 0 || seq % 5 == 0) && seq <= 5000;
  }
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(hits, expected);
  EXPECT_GT(hits, 0u);
  // Generous: this is microseconds of work; a shared 2-core CI box must not flake.
  EXPECT_LT(std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count(), 500);
}

}  // namespace
}  // namespace ringmail::imap
