// The Bayes classifier: tokenizer (SpamAssassin's token shapes), classification
// (Robinson f(w) + chi-square), the SQLite store (sa-learn semantics) and learn_message.
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "mail/message_text.h"
#include "spam/bayes/bayes.h"

namespace ringmail::spam {
namespace {

using ::testing::TestWithParam;

mail::message_text text_with(std::string body, std::vector<std::pair<std::string_view, std::string>> headers = {},
                             std::vector<std::string> uris = {}) {
  mail::message_text t;
  t.body = std::move(body);
  for (auto& [name, value] : headers) {
    mail::text_header h;
    h.name = name;
    h.raw = {};
    h.decoded = std::move(value);
    t.headers.push_back(std::move(h));
  }
  t.uris = std::move(uris);
  return t;
}

bool has(const std::vector<std::string>& tokens, std::string_view t) {
  return std::find(tokens.begin(), tokens.end(), t) != tokens.end();
}

std::string joined(const std::vector<std::string>& tokens) {
  std::string s;
  for (const auto& t : tokens) s.append(t).append(" | ");
  return s;
}

// ---------------------------------------------------------------------------------------
// Tokenizer.

TEST(BayesTokens, BodyWordsCaseAndTitleCase) {
  auto t = bayes_token_strings(text_with("Hello there, CHEAP Pills!! ok no"));
  SCOPED_TRACE(joined(t));
  // A capital at the start of the line is lowered (IGNORE_TITLE_CASE)...
  EXPECT_TRUE(has(t, "hello"));
  EXPECT_FALSE(has(t, "Hello"));
  // ...elsewhere the case-preserving token and the lower-cased one are both kept, and
  // punctuation is kept with a stripped variant (DECOMPOSE_BODY_TOKENS).
  EXPECT_TRUE(has(t, "CHEAP"));
  EXPECT_TRUE(has(t, "cheap"));
  EXPECT_TRUE(has(t, "Pills!!"));
  EXPECT_TRUE(has(t, "Pills"));
  EXPECT_TRUE(has(t, "pills!!"));
  EXPECT_TRUE(has(t, "pills"));
  // Trailing ',' trimmed; tokens shorter than 3 bytes dropped.
  EXPECT_TRUE(has(t, "there"));
  EXPECT_FALSE(has(t, "there,"));
  EXPECT_FALSE(has(t, "ok"));
  EXPECT_FALSE(has(t, "no"));
}

TEST(BayesTokens, StopwordsAndSeparators) {
  auto t = bayes_token_strings(text_with("you and the people with money...now wait--what $1,000,000"));
  SCOPED_TRACE(joined(t));
  for (const char* stop : {"you", "and", "the", "people", "with"}) EXPECT_FALSE(has(t, stop)) << stop;
  EXPECT_TRUE(has(t, "money"));
  EXPECT_TRUE(has(t, "money"));  // "..." between words splits them
  EXPECT_TRUE(has(t, "wait"));
  EXPECT_TRUE(has(t, "what"));
  EXPECT_TRUE(has(t, "$1,000,000"));
  EXPECT_TRUE(has(t, "1000000"));
}

TEST(BayesTokens, LongTokensAndEightBit) {
  auto t = bayes_token_strings(text_with(
      "supercalifragilisticexpialidocious caf\xc3\xa9 "
      "\xe4\xb8\xad\xe6\x96\x87\xe4\xb8\xad\xe6\x96\x87\xe5\xad\x97\xe5\xad\x97"));
  SCOPED_TRACE(joined(t));
  EXPECT_TRUE(has(t, "sk:superca"));
  EXPECT_FALSE(has(t, "supercalifragilisticexpialidocious"));
  EXPECT_TRUE(has(t, "caf\xc3\xa9"));
  // A long run of CJK characters becomes one token per character (Bug 7135).
  EXPECT_TRUE(has(t, "u8:\xe4\xb8\xad"));
  EXPECT_TRUE(has(t, "u8:\xe5\xad\x97"));
}

TEST(BayesTokens, BodyAddressesAndDomains) {
  auto t = bayes_token_strings(text_with("write to sales@mail.example.com or visit www.shop.example.net today"));
  SCOPED_TRACE(joined(t));
  EXPECT_TRUE(has(t, "U*sales"));
  EXPECT_TRUE(has(t, "D*mail.example.com"));
  EXPECT_TRUE(has(t, "D*example.com"));
  EXPECT_TRUE(has(t, "D*com"));
  EXPECT_TRUE(has(t, "UD:www.shop.example.net"));
  EXPECT_TRUE(has(t, "UD:example.net"));
  EXPECT_TRUE(has(t, "sk:www.sho"));  // body tokens over 15 bytes are shortened
}

TEST(BayesTokens, UriTokens) {
  auto t = bayes_token_strings(
      text_with("", {}, {"http://www.Example.com/offers/cheapest-pharmacy-online-today.html?id=123456"}));
  SCOPED_TRACE(joined(t));
  EXPECT_TRUE(has(t, "UD:www.Example.com"));
  EXPECT_TRUE(has(t, "UD:Example.com"));
  EXPECT_TRUE(has(t, "www.example.com"));
  EXPECT_TRUE(has(t, "offers"));
  // URI path pieces are not shortened to "sk:" (URIS_TOKENIZE_LONG_TOKENS_AS_SKIPS = 0).
  EXPECT_TRUE(has(t, "cheapest-pharmacy-online-today.html"));
  EXPECT_TRUE(has(t, "123456"));
  EXPECT_FALSE(has(t, "http"));  // a stop word
}

TEST(BayesTokens, HeadersArePrefixedAndChewed) {
  auto t = bayes_token_strings(text_with(
      "", {{"From", "\"Doe, John\" <john.doe@mail.example.com>"},
           {"To", "jane@example.org, Bob Smith <bob@example.net>"},
           {"Subject", "subject words are in the body"},
           {"Date", "Mon, 2 Sep 2002 13:05:10 +0100"},
           {"X-Spam-Status", "No, score=-2.3"},
           {"Message-ID", "<20020902120510.1A2B3C4D5E@mx.example.com>"},
           {"X-Mailer", "Microsoft Outlook Express 6.00.2600.0000"},
           {"Content-Type", "multipart/alternative; boundary=\"----=_NextPart_000_0007_01C2525E.6AB7C780\""},
           {"Received", "from mail.spammer.biz (unknown [211.144.18.22]) by mx.example.com (Postfix) "
                        "with ESMTP id 8D6F643F99 for <jane@example.org>; Mon, 2 Sep 2002 13:05:10 +0100 (IST)"},
           {"Received", "from relay.example.com ([10.1.2.3]) by mx.example.com"}}));
  SCOPED_TRACE(joined(t));
  // Addresses: display-name words, local part, domain and its parents.
  EXPECT_TRUE(has(t, "H*F:N*Doe"));
  EXPECT_TRUE(has(t, "H*F:N*John"));
  EXPECT_TRUE(has(t, "H*F:U*john.doe"));
  EXPECT_TRUE(has(t, "H*F:D*mail.example.com"));
  EXPECT_TRUE(has(t, "H*F:D*example.com"));
  EXPECT_TRUE(has(t, "HTo:U*jane"));
  EXPECT_TRUE(has(t, "HTo:D*example.net"));
  EXPECT_TRUE(has(t, "HTo:N*Smith"));
  // From/To/Cc again under *Ad, X-Mailer/User-Agent under *UA.
  EXPECT_TRUE(has(t, "H*Ad:D*example.org"));
  EXPECT_TRUE(has(t, "H*x:Microsoft"));
  EXPECT_TRUE(has(t, "H*UA:Microsoft"));
  // Header tokens keep their case and are not decomposed.
  EXPECT_FALSE(has(t, "H*x:microsoft"));
  // Sendmail-style Message-ID: the timestamp part is dropped, the host kept.
  EXPECT_TRUE(has(t, "H*M:example"));
  EXPECT_TRUE(has(t, "H*MI:example"));
  EXPECT_FALSE(has(t, "H*M:20020902120510"));
  // Content-Type: the boundary's shape, hex digits as 'H'.
  EXPECT_TRUE(has(t, "H*ct:alternative"));
  EXPECT_TRUE(has(t, "H*ct:NHxtPHrt"));
  EXPECT_TRUE(has(t, "H*ct:HHHHHHHH"));
  EXPECT_FALSE(has(t, "H*ct:01C2525E"));
  // Received: /24 and ip*full, host names; ids, dates and gray words dropped.
  EXPECT_TRUE(has(t, "H*r:211.144.18"));
  EXPECT_TRUE(has(t, "H*r:ip*211.144.18.22"));
  EXPECT_TRUE(has(t, "H*r:mx.example.com"));
  EXPECT_TRUE(has(t, "H*r:sk:mail.sp"));  // header tokens over 15 bytes are shortened too
  EXPECT_TRUE(has(t, "H*r:ip*10.1.2.3"));
  EXPECT_FALSE(has(t, "H*r:8D6F643F99"));
  EXPECT_FALSE(has(t, "H*r:2002"));
  EXPECT_FALSE(has(t, "H*r:Sep"));
  EXPECT_FALSE(has(t, "H*r:ESMTP"));
  EXPECT_FALSE(has(t, "H*r:IST"));
  // Ignored headers make no tokens.
  for (const auto& tok : t) {
    EXPECT_NE(tok.rfind("HSubject:", 0), 0u) << tok;
    EXPECT_NE(tok.rfind("HDate:", 0), 0u) << tok;
    EXPECT_NE(tok.rfind("HX-Spam-Status:", 0), 0u) << tok;
  }
}

TEST(BayesTokens, MessageIdFormats) {
  // Outlook Express ids keep their informative pieces; Exim and Sendmail ids lose their
  // per-message parts.
  auto oe = bayes_token_strings(text_with("", {{"Message-ID", "<000801c25153$a1b2c3d4$6401a8c0@mypc>"}}));
  SCOPED_TRACE(joined(oe));
  EXPECT_TRUE(has(oe, "H*M:OEA0008"));
  EXPECT_TRUE(has(oe, "H*M:OEBa1b2"));
  EXPECT_TRUE(has(oe, "H*M:OEC6401a8c0"));
  EXPECT_TRUE(has(oe, "H*M:mypc"));
  auto exim = bayes_token_strings(text_with("", {{"Message-Id", "<E17kxyz-0001ab-00@host.example>"}}));
  SCOPED_TRACE(joined(exim));
  EXPECT_TRUE(has(exim, "H*m:host"));
  EXPECT_TRUE(has(exim, "H*m:example"));
  EXPECT_FALSE(has(exim, "H*m:E17kxyz"));
  auto other = bayes_token_strings(text_with("", {{"Message-ID", "<abc.def-123@mail.example.org>"}}));
  SCOPED_TRACE(joined(other));
  EXPECT_TRUE(has(other, "H*M:abc"));
  EXPECT_TRUE(has(other, "H*M:def"));
  EXPECT_TRUE(has(other, "H*M:123"));
  EXPECT_TRUE(has(other, "H*M:example"));
  EXPECT_FALSE(has(other, "H*M:mail"));  // a stop word, in headers too
}

TEST(BayesTokens, OnlyTheLastTwoReceivedCount) {
  auto t = bayes_token_strings(text_with("", {{"Received", "from newest.example"},
                                              {"Received", "from middle.example"},
                                              {"Received", "from oldest.example"}}));
  SCOPED_TRACE(joined(t));
  EXPECT_FALSE(has(t, "H*r:newest.example"));
  EXPECT_TRUE(has(t, "H*r:middle.example"));
  EXPECT_TRUE(has(t, "H*r:oldest.example"));
}

TEST(BayesTokens, DeduplicatedSortedAndStable) {
  auto text = text_with("money money money MONEY money", {{"X-Mailer", "Mutt Mutt"}});
  std::vector<uint64_t> a = bayes_tokens(text);
  std::vector<uint64_t> b = bayes_tokens(text);
  EXPECT_EQ(a, b);
  EXPECT_TRUE(std::is_sorted(a.begin(), a.end()));
  EXPECT_EQ(std::adjacent_find(a.begin(), a.end()), a.end());
  // The hashes are exactly the hashes of the token strings.
  std::vector<uint64_t> from_strings;
  for (const std::string& s : bayes_token_strings(text)) from_strings.push_back(bayes_token_hash(s));
  std::sort(from_strings.begin(), from_strings.end());
  EXPECT_EQ(a, from_strings);
  // money, MONEY, H*x:Mutt, H*UA:Mutt.
  EXPECT_EQ(a.size(), 4u);
  // The hash is stored on disk: it must never change. FNV-1a 64 reference values.
  EXPECT_EQ(bayes_token_hash(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(bayes_token_hash("hello"), 0xa430d84680aabd0bULL);
  EXPECT_EQ(bayes_token_hash("H*F:D*example.com"), 0xaf612f48e74b65d6ULL);
}

TEST(BayesTokens, HostileInputs) {
  // Empty, binary, invalid UTF-8, a huge single token, many separators, a huge header.
  EXPECT_TRUE(bayes_tokens(mail::message_text{}).empty());
  std::string binary;
  for (int i = 0; i < 4096; ++i) binary.push_back(static_cast<char>(i * 7919 % 256));
  EXPECT_NO_FATAL_FAILURE(bayes_tokens(text_with(binary, {{"From", binary}, {"Received", binary}}, {binary})));
  std::string huge(1 << 20, 'a');
  auto t = bayes_token_strings(text_with(huge));
  EXPECT_EQ(t, std::vector<std::string>{"sk:aaaaaaa"});
  std::string dots;
  for (int i = 0; i < 100000; ++i) dots += "a...";
  EXPECT_FALSE(bayes_tokens(text_with(dots)).empty());
  std::string titles;
  for (int i = 0; i < 100000; ++i) titles += ". Abc";
  EXPECT_FALSE(bayes_tokens(text_with(titles)).empty());
  std::string many_addresses;
  for (int i = 0; i < 5000; ++i) many_addresses += "\"x\\\"y (z\" <a" + std::to_string(i) + "@b.c>, (";
  EXPECT_FALSE(bayes_tokens(text_with("", {{"To", many_addresses}})).empty());
  std::string ids;
  for (int i = 0; i < 5000; ++i) ids += "<20020902120510.1A2B3C4D5E@<0123456789ab$01234567$01234567@x";
  EXPECT_FALSE(bayes_tokens(text_with("", {{"Message-ID", ids}, {"Content-Type", "boundary=\"" + ids}})).empty());
  std::string received = "from ";
  for (int i = 0; i < 20000; ++i) received += "1.2.3.4.5 id abcdefgh Mon, 1 Jan 2002 10:00 ((((";
  EXPECT_FALSE(bayes_tokens(text_with("", {{"Received", received}})).empty());
  // Body tokens stop at SA's cap of 50,000 per source (more lines are not read).
  std::string many;
  for (int i = 0; i < 120000; ++i) many += "w" + std::to_string(i) + "\n";
  EXPECT_LT(bayes_tokens(text_with(many)).size(), 60000u);
}

// ---------------------------------------------------------------------------------------
// Classification.

// Synthetic vocabularies: 300 spam words, 300 ham words, 300 shared words.
struct corpus {
  std::vector<std::string> spam_words, ham_words, common_words;
  std::mt19937 rng{12345};

  corpus() {
    for (int i = 0; i < 300; ++i) {
      spam_words.push_back("spamword" + std::to_string(i));
      ham_words.push_back("hamword" + std::to_string(i));
      common_words.push_back("common" + std::to_string(i));
    }
  }
  std::vector<uint64_t> message(bool spam, int own = 25, int shared = 40) {
    std::string body;
    const auto& words = spam ? spam_words : ham_words;
    for (int i = 0; i < own; ++i) body += words[rng() % words.size()] + " ";
    for (int i = 0; i < shared; ++i) body += common_words[rng() % common_words.size()] + " ";
    return bayes_tokens(text_with(body));
  }
};

bayes_model trained_model(corpus& c, uint32_t spam, uint32_t ham) {
  bayes_model m;
  auto add = [&](bool is_spam) {
    for (uint64_t t : c.message(is_spam)) (is_spam ? m.tokens[t].spam : m.tokens[t].ham)++;
    (is_spam ? m.spam_messages : m.ham_messages)++;
  };
  for (uint32_t i = 0; i < spam; ++i) add(true);
  for (uint32_t i = 0; i < ham; ++i) add(false);
  return m;
}

TEST(BayesModel, SeparatesSyntheticSpamAndHam) {
  corpus c;
  bayes_model m = trained_model(c, 250, 250);
  ASSERT_TRUE(m.ready());
  for (int i = 0; i < 20; ++i) {
    std::optional<double> spam = m.classify(c.message(true));
    std::optional<double> ham = m.classify(c.message(false));
    ASSERT_TRUE(spam.has_value());
    ASSERT_TRUE(ham.has_value());
    EXPECT_GT(*spam, 0.9);
    EXPECT_LT(*ham, 0.1);
  }
  // A message of shared words only is gray.
  std::optional<double> gray = m.classify(c.message(true, 0, 60));
  if (gray.has_value()) {
    EXPECT_GT(*gray, 0.1);
    EXPECT_LT(*gray, 0.9);
  }
  // A mostly-ham message with a few spam words stays on the ham side.
  std::string body;
  for (int i = 0; i < 30; ++i) body += c.ham_words[i] + " ";
  body += c.spam_words[0] + " " + c.spam_words[1];
  std::optional<double> mixed = m.classify(bayes_tokens(text_with(body)));
  ASSERT_TRUE(mixed.has_value());
  EXPECT_LT(*mixed, 0.5);
}

TEST(BayesModel, NoVerdictWhenNotReadyOrNothingKnown) {
  corpus c;
  bayes_model m = trained_model(c, 199, 250);
  EXPECT_FALSE(m.ready());
  EXPECT_FALSE(m.classify(c.message(true)).has_value());
  bayes_model ready = trained_model(c, 200, 200);
  EXPECT_TRUE(ready.ready());
  EXPECT_FALSE(ready.classify(bayes_tokens(text_with("zzzunknown qqqnever"))).has_value());
  EXPECT_FALSE(ready.classify({}).has_value());
  // Only gray tokens (equally frequent in both classes) are not usable either.
  bayes_model gray;
  gray.spam_messages = gray.ham_messages = 300;
  gray.tokens[bayes_token_hash("gray")] = {100, 100};
  EXPECT_FALSE(gray.classify({bayes_token_hash("gray")}).has_value());
}

TEST(BayesModel, ProbabilitiesFollowSpamAssassin) {
  // One hapax spam token: Robinson's f(w) = (0.030*0.538 + 1*1.0) / (0.030 + 1) = 0.9865,
  // strong enough; combined with chi-square (prior ns/(ns+nn) = 0.5) for one token:
  // S = 1 - exp(-(-ln(0.5*(1-p)))), H = 1 - exp(ln(0.5*p)) ... the SA formula, computed
  // here independently.
  bayes_model m;
  m.spam_messages = m.ham_messages = 200;
  m.tokens[1] = {1, 0};
  double p = (0.030 * 0.538 + 1.0) / (0.030 + 1.0);
  double s = 1.0 - std::exp(std::log(0.5 * (1 - p)));  // chi2q(x, 1) = exp(-x/2)
  double h = 1.0 - std::exp(std::log(0.5 * p));
  std::optional<double> score = m.classify({1});
  ASSERT_TRUE(score.has_value());
  EXPECT_NEAR(*score, ((s - h) + 1.0) / 2.0, 1e-12);
  EXPECT_GT(*score, 0.5);
  // 150 strong spam tokens saturate towards 1.
  for (uint64_t t = 1; t <= 400; ++t) m.tokens[t] = {50, 0};
  std::vector<uint64_t> all;
  for (uint64_t t = 1; t <= 400; ++t) all.push_back(t);
  EXPECT_GT(*m.classify(all), 0.999);
}

// ---------------------------------------------------------------------------------------
// The store.

class BayesStore : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("bayes_test_" + std::to_string(getpid()) + "_" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "bayes.sqlite").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<bayes_store> open() {
    auto s = bayes_store::open(path_);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? std::move(*s) : nullptr;
  }

  static std::shared_ptr<const bayes_model> load(bayes_store& s, std::string_view user) {
    auto m = s.load(user);
    EXPECT_TRUE(m.ok()) << m.status();
    return m.ok() ? *m : std::make_shared<const bayes_model>();
  }

  static token_counts counts(const bayes_model& m, uint64_t t) {
    auto it = m.tokens.find(t);
    return it == m.tokens.end() ? token_counts{} : it->second;
  }

  std::filesystem::path dir_;
  std::string path_;
};

TEST_F(BayesStore, RoundTripThroughTheFile) {
  corpus c;
  std::vector<std::vector<uint64_t>> spam, ham;
  {
    auto s = open();
    ASSERT_NE(s, nullptr);
    auto b = s->begin_batch();
    ASSERT_TRUE(b.ok()) << b.status();
    for (int i = 0; i < 250; ++i) {
      spam.push_back(c.message(true));
      ham.push_back(c.message(false));
      ASSERT_TRUE((*b)->learn("", "spam" + std::to_string(i), spam.back(), true).ok());
      ASSERT_TRUE((*b)->learn("", "ham" + std::to_string(i), ham.back(), false).ok());
    }
    ASSERT_TRUE((*b)->commit().ok());
    EXPECT_FALSE((*b)->commit().ok());  // only once
  }
  // The same model built in memory.
  bayes_model expected;
  for (const auto& m : spam) {
    for (uint64_t t : m) expected.tokens[t].spam++;
  }
  for (const auto& m : ham) {
    for (uint64_t t : m) expected.tokens[t].ham++;
  }
  auto s = open();
  ASSERT_NE(s, nullptr);
  auto m = load(*s, "");
  EXPECT_EQ(m->spam_messages, 250u);
  EXPECT_EQ(m->ham_messages, 250u);
  ASSERT_EQ(m->tokens.size(), expected.tokens.size());
  for (const auto& [t, want] : expected.tokens) {
    token_counts got = counts(*m, t);
    EXPECT_EQ(got.spam, want.spam);
    EXPECT_EQ(got.ham, want.ham);
  }
  EXPECT_TRUE(m->ready());
  EXPECT_GT(*m->classify(c.message(true)), 0.9);
}

TEST_F(BayesStore, RelearnMovesAndSameClassIsNoop) {
  auto s = open();
  ASSERT_NE(s, nullptr);
  std::vector<uint64_t> msg = {11, 22, 33};
  std::vector<uint64_t> other = {33, 44};
  ASSERT_TRUE(s->learn("", "m1", msg, true).ok());
  ASSERT_TRUE(s->learn("", "m2", other, true).ok());
  ASSERT_TRUE(s->learn("", "m1", msg, true).ok());  // no-op
  auto m = load(*s, "");
  EXPECT_EQ(m->spam_messages, 2u);
  EXPECT_EQ(m->ham_messages, 0u);
  EXPECT_EQ(counts(*m, 11).spam, 1u);
  EXPECT_EQ(counts(*m, 33).spam, 2u);

  ASSERT_TRUE(s->learn("", "m1", msg, false).ok());  // moves to ham
  m = load(*s, "");
  EXPECT_EQ(m->spam_messages, 1u);
  EXPECT_EQ(m->ham_messages, 1u);
  EXPECT_EQ(counts(*m, 11).spam, 0u);
  EXPECT_EQ(counts(*m, 11).ham, 1u);
  EXPECT_EQ(counts(*m, 33).spam, 1u);
  EXPECT_EQ(counts(*m, 33).ham, 1u);
  EXPECT_EQ(counts(*m, 44).spam, 1u);

  ASSERT_TRUE(s->learn("", "m1", msg, true).ok());  // and back
  m = load(*s, "");
  EXPECT_EQ(m->spam_messages, 2u);
  EXPECT_EQ(m->ham_messages, 0u);
  EXPECT_EQ(counts(*m, 11).spam, 1u);
  EXPECT_EQ(counts(*m, 11).ham, 0u);
  EXPECT_EQ(m->tokens.size(), 4u);  // no rows left at 0/0... and none lost

  // Within one batch: learned, then moved, then moved back.
  auto b = s->begin_batch();
  ASSERT_TRUE(b.ok());
  ASSERT_TRUE((*b)->learn("", "m3", {55}, false).ok());
  ASSERT_TRUE((*b)->learn("", "m3", {55}, true).ok());
  ASSERT_TRUE((*b)->learn("", "m3", {55}, true).ok());
  ASSERT_TRUE((*b)->commit().ok());
  m = load(*s, "");
  EXPECT_EQ(m->spam_messages, 3u);
  EXPECT_EQ(m->ham_messages, 0u);
  EXPECT_EQ(counts(*m, 55).spam, 1u);
  EXPECT_EQ(counts(*m, 55).ham, 0u);
}

TEST_F(BayesStore, UnlearnedTokenRowsAreDeletedAndCountsNeverGoNegative) {
  auto s = open();
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(s->learn("", "m1", {1, 2}, true).ok());
  // Relearned as ham with different tokens (as after a tokenizer change): token 3 was
  // never counted as spam, so its spam count stays 0 rather than -1.
  ASSERT_TRUE(s->learn("", "m1", {1, 3}, false).ok());
  auto m = load(*s, "");
  EXPECT_EQ(counts(*m, 1).ham, 1u);
  EXPECT_EQ(counts(*m, 1).spam, 0u);
  EXPECT_EQ(counts(*m, 2).spam, 1u);  // not in the relearned set: stays
  EXPECT_EQ(counts(*m, 3).spam, 0u);
  EXPECT_EQ(counts(*m, 3).ham, 1u);
  ASSERT_TRUE(s->learn("", "m2", {2}, false).ok());
  ASSERT_TRUE(s->learn("", "m2", {2}, true).ok());
  m = load(*s, "");
  EXPECT_EQ(counts(*m, 2).spam, 2u);
  EXPECT_EQ(counts(*m, 2).ham, 0u);
}

TEST_F(BayesStore, UsersAreSeparateFromGlobal) {
  auto s = open();
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(s->learn("", "m1", {1, 2}, true).ok());
  ASSERT_TRUE(s->learn("alice@example.org", "m1", {1, 3}, false).ok());
  ASSERT_TRUE(s->learn("bob@example.org", "m1", {4}, true).ok());
  auto global = load(*s, "");
  auto alice = load(*s, "alice@example.org");
  auto bob = load(*s, "bob@example.org");
  auto nobody = load(*s, "nobody@example.org");
  EXPECT_EQ(global->spam_messages, 1u);
  EXPECT_EQ(global->ham_messages, 0u);
  EXPECT_EQ(global->tokens.size(), 2u);
  EXPECT_EQ(counts(*global, 1).spam, 1u);
  EXPECT_EQ(counts(*global, 1).ham, 0u);
  EXPECT_EQ(alice->spam_messages, 0u);
  EXPECT_EQ(alice->ham_messages, 1u);
  EXPECT_EQ(counts(*alice, 1).ham, 1u);
  EXPECT_EQ(counts(*alice, 1).spam, 0u);
  EXPECT_EQ(counts(*alice, 2).spam, 0u);
  EXPECT_EQ(bob->tokens.size(), 1u);
  EXPECT_EQ(nobody->spam_messages + nobody->ham_messages, 0u);
  EXPECT_TRUE(nobody->tokens.empty());
  // The same msg_id was learned per user, independently: relearning for alice leaves the
  // global entry alone.
  ASSERT_TRUE(s->learn("alice@example.org", "m1", {1, 3}, true).ok());
  EXPECT_EQ(load(*s, "")->spam_messages, 1u);
  EXPECT_EQ(load(*s, "alice@example.org")->spam_messages, 1u);
  EXPECT_EQ(load(*s, "alice@example.org")->ham_messages, 0u);
}

TEST_F(BayesStore, UncommittedBatchRollsBack) {
  auto s = open();
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(s->learn("", "kept", {1}, true).ok());
  {
    auto b = s->begin_batch();
    ASSERT_TRUE(b.ok());
    ASSERT_TRUE((*b)->learn("", "dropped", {2}, true).ok());
    ASSERT_TRUE((*b)->learn("", "kept", {1}, false).ok());
  }
  auto m = load(*s, "");
  EXPECT_EQ(m->spam_messages, 1u);
  EXPECT_EQ(m->ham_messages, 0u);
  EXPECT_EQ(counts(*m, 2).spam, 0u);
  // The seen entry was rolled back too: "dropped" learns for real now.
  ASSERT_TRUE(s->learn("", "dropped", {2}, true).ok());
  EXPECT_EQ(load(*s, "")->spam_messages, 2u);
}

TEST_F(BayesStore, OpenFailsCleanly) {
  auto s = bayes_store::open((dir_ / "no" / "such" / "dir" / "bayes.sqlite").string());
  EXPECT_FALSE(s.ok());
  // Not a database.
  std::string junk = (dir_ / "junk.sqlite").string();
  FILE* f = std::fopen(junk.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs("this is not an sqlite database, not at all, definitely not one............", f);
  std::fclose(f);
  EXPECT_FALSE(bayes_store::open(junk).ok());
}

// ---------------------------------------------------------------------------------------
// learn_message.

TEST_F(BayesStore, LearnMessageParsesAndIsIdempotent) {
  auto s = open();
  ASSERT_NE(s, nullptr);
  const std::string message =
      "From spammer@example.com Mon Sep  2 13:05:10 2002\n"
      "From: \"Best Deals\" <deals@cheap-pills.example>\r\n"
      "To: victim@example.org\r\n"
      "Subject: =?utf-8?q?Cheap_pills?=\r\n"
      "Date: Mon, 2 Sep 2002 13:05:10 +0100\r\n"
      "Content-Type: text/html; charset=utf-8\r\n"
      "\r\n"
      "<html><body><p>Buy <b>viagra</b> now at <a href=\"http://pills.example/buy\">our shop</a></p></body></html>\r\n";
  ASSERT_TRUE(learn_message(*s, "", message, true).ok());
  ASSERT_TRUE(learn_message(*s, "", message, true).ok());  // same message: no-op
  auto m = load(*s, "");
  EXPECT_EQ(m->spam_messages, 1u);
  EXPECT_EQ(counts(*m, bayes_token_hash("viagra")).spam, 1u);
  EXPECT_EQ(counts(*m, bayes_token_hash("cheap")).spam, 1u);     // the Subject, decoded
  EXPECT_EQ(counts(*m, bayes_token_hash("UD:pills.example")).spam, 1u);  // the link
  EXPECT_EQ(counts(*m, bayes_token_hash("H*F:D*cheap-pills.example")).spam, 1u);
  ASSERT_TRUE(learn_message(*s, "", message, false).ok());  // moved to ham
  m = load(*s, "");
  EXPECT_EQ(m->spam_messages, 0u);
  EXPECT_EQ(m->ham_messages, 1u);
  EXPECT_EQ(counts(*m, bayes_token_hash("viagra")).ham, 1u);
  EXPECT_EQ(counts(*m, bayes_token_hash("viagra")).spam, 0u);
  // Another body is another message.
  ASSERT_TRUE(learn_message(*s, "", message + "more\r\n", false).ok());
  EXPECT_EQ(load(*s, "")->ham_messages, 2u);
  // Garbage still learns (as a message with few tokens) and does not crash.
  EXPECT_TRUE(learn_message(*s, "", std::string("\0\xff\r\n\r\n\x80", 7), true).ok());
  EXPECT_TRUE(learn_message(*s, "", "", true).ok());
}

TEST(BayesMessageId, DependsOnToDateAndBody) {
  auto a = text_with("", {{"To", "a@example.org"}, {"Date", "Mon, 2 Sep 2002"}});
  auto b = text_with("", {{"To", "b@example.org"}, {"Date", "Mon, 2 Sep 2002"}});
  EXPECT_EQ(bayes_message_id(a, "body"), bayes_message_id(a, "body"));
  EXPECT_NE(bayes_message_id(a, "body"), bayes_message_id(b, "body"));
  EXPECT_NE(bayes_message_id(a, "body"), bayes_message_id(a, "body2"));
  EXPECT_EQ(bayes_message_id(a, "body").size(), 16u + 13u);
  // Moving text from To into Date is a different message.
  auto c = text_with("", {{"To", "x"}, {"Date", "y"}});
  auto d = text_with("", {{"To", "xy"}, {"Date", ""}});
  EXPECT_NE(bayes_message_id(c, ""), bayes_message_id(d, ""));
}

}  // namespace
}  // namespace ringmail::spam
