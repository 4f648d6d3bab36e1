#include "spam/verdict.h"

#include <gtest/gtest.h>

namespace ringmail::spam {
namespace {

scan_result with_score(double s) {
  scan_result r;
  r.score = s;
  r.required = 5.0;
  return r;
}

TEST(Verdict, ThresholdsPickTheAction) {
  verdict_policy p;  // reject 15, junk 5, Junk folder on, no greylist
  EXPECT_EQ(decide(with_score(-1.0), p, false), spam_action::inbox);
  EXPECT_EQ(decide(with_score(4.9), p, false), spam_action::inbox);
  EXPECT_EQ(decide(with_score(5.0), p, false), spam_action::junk);
  EXPECT_EQ(decide(with_score(14.99), p, false), spam_action::junk);
  EXPECT_EQ(decide(with_score(15.0), p, false), spam_action::reject);
  EXPECT_EQ(decide(with_score(99), p, true), spam_action::reject);
}

TEST(Verdict, HeadersOnlyKeepsSpamInTheInbox) {
  verdict_policy p;
  p.junk_folder = false;
  EXPECT_EQ(decide(with_score(8), p, false), spam_action::inbox);
  EXPECT_EQ(decide(with_score(20), p, false), spam_action::reject);
}

TEST(Verdict, GreylistOnlyForUnknownTripletsAboveItsScore) {
  verdict_policy p;
  p.greylist = true;
  p.greylist_score = 4;
  EXPECT_FALSE(wants_greylist(with_score(3.9), p));
  EXPECT_TRUE(wants_greylist(with_score(4), p));
  EXPECT_FALSE(wants_greylist(with_score(15), p));  // rejected anyway
  EXPECT_EQ(decide(with_score(4.5), p, false), spam_action::greylist);
  EXPECT_EQ(decide(with_score(4.5), p, true), spam_action::inbox);
  EXPECT_EQ(decide(with_score(6), p, true), spam_action::junk);
  p.greylist = false;
  EXPECT_EQ(decide(with_score(4.5), p, false), spam_action::inbox);
}

TEST(Verdict, HeaderLinesInSpamAssassinFormat) {
  scan_result r = with_score(7.25);
  r.tests = {"BAYES_99", "HTML_MESSAGE"};
  std::string h = spam_header_lines(r);
  EXPECT_NE(h.find("X-Spam-Flag: YES\r\n"), std::string::npos);
  EXPECT_NE(h.find("X-Spam-Status: Yes, score=7.2 required=5.0 tests=BAYES_99,HTML_MESSAGE"), std::string::npos) << h;
  EXPECT_NE(h.find("X-Spam-Score: 7.2\r\n"), std::string::npos);

  scan_result ham = with_score(-0.5);
  std::string hh = spam_header_lines(ham);
  EXPECT_EQ(hh.find("X-Spam-Flag"), std::string::npos);
  EXPECT_NE(hh.find("X-Spam-Status: No, score=-0.5 required=5.0 tests=none\r\n"), std::string::npos) << hh;
}

TEST(Verdict, LongTestListsAreFoldedAt78Columns) {
  scan_result r = with_score(30);
  for (int i = 0; i < 40; ++i) r.tests.push_back("SOME_RULE_NAME_" + std::to_string(i));
  std::string h = spam_header_lines(r);
  size_t start = 0;
  while (start < h.size()) {
    size_t end = h.find("\r\n", start);
    ASSERT_NE(end, std::string::npos);
    EXPECT_LE(end - start, 78u) << h.substr(start, end - start);
    start = end + 2;
  }
  EXPECT_NE(h.find(",\r\n\tSOME_RULE_NAME_"), std::string::npos);  // continued lines start with a tab
}

TEST(Verdict, SkippedHeader) {
  EXPECT_EQ(skipped_header_lines("too-large"), "X-Spam-Status: No, skipped=too-large\r\n");
}

}  // namespace
}  // namespace ringmail::spam
