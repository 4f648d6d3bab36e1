// RFC 5322 Date: parsing (mail/date.h), with the leniencies Dovecot's
// message_date_parse() has, since IMAP SENT* searches are compared with Dovecot.
#include "mail/date.h"

#include <gtest/gtest.h>

#include <string>

namespace ringmail::mail {
namespace {

constexpr int64_t kDay = 86400;

TEST(DaysFromCivil, KnownDays) {
  EXPECT_EQ(days_from_civil(1970, 1, 1), 0);
  EXPECT_EQ(days_from_civil(1969, 12, 31), -1);
  EXPECT_EQ(days_from_civil(2000, 3, 1), 11017);
  EXPECT_EQ(days_from_civil(2024, 2, 29), 19782);
  EXPECT_EQ(day_of(-1), -1);
  EXPECT_EQ(day_of(0), 0);
  EXPECT_EQ(day_of(kDay - 1), 0);
  EXPECT_EQ(day_of(kDay), 1);
}

TEST(MessageDate, Rfc5322Examples) {
  // RFC 5322 A.1.1: "Fri, 21 Nov 1997 09:55:06 -0600".
  auto d = parse_message_date("Fri, 21 Nov 1997 09:55:06 -0600");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->time, 880127706);
  EXPECT_EQ(d->zone_minutes, -360);
  // A.5 with comments and folding.
  d = parse_message_date("Thu,\r\n      13\r\n        Feb\r\n          1969\r\n      23:32\r\n"
                         "               -0330 (Newfoundland Time)");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->time, days_from_civil(1969, 2, 13) * kDay + 23 * 3600 + 32 * 60 + 3 * 3600 + 30 * 60);
  EXPECT_EQ(d->zone_minutes, -210);
}

TEST(MessageDate, Leniencies) {
  auto base = days_from_civil(2020, 1, 2) * kDay + 3 * 3600 + 4 * 60 + 5;
  EXPECT_EQ(parse_message_date("2 Jan 2020 03:04:05 +0000")->time, base);
  EXPECT_EQ(parse_message_date("02 jan 2020 3:04:05 GMT")->time, base);
  EXPECT_EQ(parse_message_date("Thu, 02 January 2020 03.04.05 UT")->time, base);  // name >3
  EXPECT_EQ(parse_message_date("(c) Thu (x (nested)) , 2 Jan 2020 03:04:05")->time, base);
  EXPECT_EQ(parse_message_date("2 Jan 20 03:04:05 +0000")->time, base);  // yy < 70: 20yy
  EXPECT_EQ(parse_message_date("2 Jan 99 00:00 +0000")->time, days_from_civil(1999, 1, 2) * kDay);
  EXPECT_EQ(parse_message_date("2 Jan 2020 03:04 +0000")->time, base - 5);  // no seconds
  EXPECT_EQ(parse_message_date("2 Jan 2020 03:04:05 EST")->time, base + 5 * 3600);
  EXPECT_EQ(parse_message_date("2 Jan 2020 03:04:05 pdt")->time, base + 7 * 3600);
  EXPECT_EQ(parse_message_date("2 Jan 2020 03:04:05 A")->zone_minutes, 60);
  EXPECT_EQ(parse_message_date("2 Jan 2020 03:04:05 N")->zone_minutes, -60);
  EXPECT_EQ(parse_message_date("2 Jan 2020 03:04:05 Z")->zone_minutes, 0);
  EXPECT_EQ(parse_message_date("2 Jan 2020 03:04:05 CEST")->zone_minutes, 0);  // unknown
  EXPECT_EQ(parse_message_date("2 Jan 2020 03:04:05 +0100 (CET) trailing")->zone_minutes, 60);
  EXPECT_EQ(parse_message_date("31 Dec 2016 23:59:60 +0000")->time,
            days_from_civil(2017, 1, 1) * kDay);  // leap second
}

TEST(MessageDate, Invalid) {
  for (const char* s : {"", "   ", "Thu 2 Jan 2020 03:04:05", "Thursday, 2 Jan 2020 03:04:05",
                        "2 Jax 2020 03:04:05", "2 Jan 202 03:04:05", "2 Jan 1899 03:04:05",
                        "30 Feb 2020 00:00:00", "29 Feb 2019 00:00:00", "0 Jan 2020 00:00",
                        "2 Jan 2020 24:00:00", "2 Jan 2020 03:60", "2 Jan 2020 03:04:61",
                        "2 Jan 2020 03", "2 Jan 2020 03:4", "123 Jan 2020 03:04",
                        "2 Jan 2020 03:04:05 ,", "((((", "2-Jan-2020 03:04:05"}) {
    EXPECT_FALSE(parse_message_date(s)) << s;
  }
  EXPECT_TRUE(parse_message_date("29 Feb 2020 00:00:00"));
}

TEST(FormatMessageDate, EnglishNamesInUtcAndParsesBack) {
  EXPECT_EQ(format_message_date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
  EXPECT_EQ(format_message_date(1796632200), "Mon, 07 Dec 2026 08:30:00 +0000");
  for (int64_t t : {int64_t{0}, int64_t{951782400}, int64_t{1796632200}, int64_t{4102444799}}) {
    std::optional<message_date> back = parse_message_date(format_message_date(t));
    ASSERT_TRUE(back.has_value()) << t;
    EXPECT_EQ(back->time, t);
    EXPECT_EQ(back->zone_minutes, 0);
  }
}

}  // namespace
}  // namespace ringmail::mail
