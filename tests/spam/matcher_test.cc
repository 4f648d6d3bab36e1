// compiled_rules: each SpamAssassin target sees what it should and nothing else, engine
// fallback (Hyperscan -> PCRE2 -> rejected), negation, [if-unset], exists:, multiple.
// Messages are built by hand as mail::message_text (no parser involved).
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "spam/match/matcher.h"
#include "spam/match/scan_targets.h"
#include "tests/spam/rule_builders.h"

// Counts C++ heap allocations, to check that match() makes none once its buffers grew.
// (Replaces the global operator new of the whole test binary; it only counts.)
static std::atomic<size_t> allocations{0};
__attribute__((noinline)) static void* counted_malloc(size_t n) noexcept {
  allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n ? n : 1);
}
void* operator new(size_t n) {
  if (void* p = counted_malloc(n)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t n) {
  if (void* p = counted_malloc(n)) return p;
  throw std::bad_alloc();
}
void* operator new(size_t n, const std::nothrow_t&) noexcept { return counted_malloc(n); }
void* operator new[](size_t n, const std::nothrow_t&) noexcept { return counted_malloc(n); }
__attribute__((noinline)) void operator delete(void* p) noexcept { std::free(p); }
__attribute__((noinline)) void operator delete[](void* p) noexcept { std::free(p); }
__attribute__((noinline)) void operator delete(void* p, size_t) noexcept { std::free(p); }
__attribute__((noinline)) void operator delete[](void* p, size_t) noexcept { std::free(p); }
__attribute__((noinline)) void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
__attribute__((noinline)) void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

namespace ringmail::spam {
namespace {

using testing_rules::content_rule;
using testing_rules::make_set;

rule header_rule(std::string name, std::string header, std::string pattern, std::string flags = "",
                 std::string modifier = "") {
  rule r;
  r.name = std::move(name);
  r.target = rule_target::header;
  r.header_name = std::move(header);
  r.header_modifier = std::move(modifier);
  r.pattern = std::move(pattern);
  r.flags = std::move(flags);
  return r;
}

rule exists_rule(std::string name, std::string header) {
  rule r;
  r.name = std::move(name);
  r.kind = rule_kind::exists;
  r.target = rule_target::header;
  r.header_name = std::move(header);
  return r;
}

// A small message: every view points at literals, as they would point into the message.
// Raw values as mail/header.h keeps them: leading whitespace skipped, folding kept.
mail::message_text sample_message() {
  mail::message_text t;
  t.headers = {
      {"Return-Path", "<bounce@lists.example.org>", "<bounce@lists.example.org>"},
      {"From", "\"Alice Smith\" <alice@example.com>", "\"Alice Smith\" <alice@example.com>"},
      {"To", "bob@example.net (Bob B)", "bob@example.net (Bob B)"},
      {"Cc", "carol@example.net", "carol@example.net"},
      {"Subject", "=?utf-8?q?Gr=C3=BC=C3=9Fe?= from\r\n Alice", "Grüße from Alice"},
      {"X-Message-Id", "<xmid-123@example.com>", "<xmid-123@example.com>"},
      {"X-Mailer", "FooMailer 1.0", "FooMailer 1.0"},
  };
  t.mime_headers = {
      {"Content-Type", "text/html; charset=utf-8", "text/html; charset=utf-8"},
  };
  t.body = "Grüße from Alice\nfirst paragraph here\nsecond line\nfoo\nbar\nclick here now";
  t.raw_body = "<p>first paragraph <b>here</b></p>\n<p>second line</p>\n";
  t.uris = {"http://evil.example.biz/path", "mailto:someone@example.com"};
  t.full = "Return-Path: <bounce@lists.example.org>\nFrom: alice\nSubject: hi\n\nbody text FULLMARK\n";
  return t;
}

class matcher_fixture : public ::testing::Test {
 protected:
  // Compiles `rules`, matches `text`, returns name -> hits.
  std::vector<uint32_t> run(std::vector<rule> rules, const mail::message_text& text) {
    set_ = make_set(std::move(rules));
    auto compiled = compiled_rules::compile(set_);
    EXPECT_TRUE(compiled.ok()) << compiled.status();
    if (!compiled.ok()) return {};
    compiled_ = *compiled;
    scratch_ = std::make_unique<match_scratch>(*compiled_);
    std::vector<uint32_t> hits;
    compiled_->match(text, *scratch_, hits);
    EXPECT_EQ(hits.size(), set_.rules.size());
    return hits;
  }
  uint32_t hit(const std::vector<uint32_t>& hits, const std::string& name) {
    auto it = set_.index.find(name);
    EXPECT_NE(it, set_.index.end()) << name;
    return it == set_.index.end() ? 0 : hits[it->second];
  }
  std::vector<uint32_t> again(const mail::message_text& text) {
    std::vector<uint32_t> hits;
    compiled_->match(text, *scratch_, hits);
    return hits;
  }

  rule_set set_;
  std::shared_ptr<const compiled_rules> compiled_;
  std::unique_ptr<match_scratch> scratch_;
};

TEST_F(matcher_fixture, EachTargetSeesOnlyItsText) {
  auto text = sample_message();
  auto hits = run(
      {
          content_rule("BODY_TEXT", rule_target::body, "click here"),
          content_rule("BODY_NO_HEADER", rule_target::body, "FooMailer"),
          content_rule("BODY_NO_TAGS", rule_target::body, "<b>"),
          content_rule("BODY_NO_URI", rule_target::body, "evil\\.example"),
          content_rule("RAW_TAGS", rule_target::rawbody, "<b>here</b>"),
          content_rule("RAW_NO_HEADER", rule_target::rawbody, "FooMailer"),
          content_rule("URI_EVIL", rule_target::uri, "^http://evil\\.example\\.biz/"),
          content_rule("URI_NO_BODY", rule_target::uri, "click"),
          content_rule("FULL_HEADER", rule_target::full, "^Return-Path:", "m"),
          content_rule("FULL_BODY", rule_target::full, "FULLMARK"),
          header_rule("SUBJ_ALICE", "Subject", "from Alice"),
          header_rule("SUBJ_NO_FROM", "Subject", "alice@example"),
          header_rule("FROM_ALICE", "From", "alice@example"),
          header_rule("FROM_NO_BODY", "From", "click"),
          content_rule("MIME_CT", rule_target::mimeheader, "text/html"),
      },
      text);
  EXPECT_EQ(hit(hits, "BODY_TEXT"), 1u);
  EXPECT_EQ(hit(hits, "BODY_NO_HEADER"), 0u);
  EXPECT_EQ(hit(hits, "BODY_NO_TAGS"), 0u);
  EXPECT_EQ(hit(hits, "BODY_NO_URI"), 0u);
  EXPECT_EQ(hit(hits, "RAW_TAGS"), 1u);
  EXPECT_EQ(hit(hits, "RAW_NO_HEADER"), 0u);
  EXPECT_EQ(hit(hits, "URI_EVIL"), 1u);
  EXPECT_EQ(hit(hits, "URI_NO_BODY"), 0u);
  EXPECT_EQ(hit(hits, "FULL_HEADER"), 1u);
  EXPECT_EQ(hit(hits, "FULL_BODY"), 1u);
  EXPECT_EQ(hit(hits, "SUBJ_ALICE"), 1u);
  EXPECT_EQ(hit(hits, "SUBJ_NO_FROM"), 0u);
  EXPECT_EQ(hit(hits, "FROM_ALICE"), 1u);
  EXPECT_EQ(hit(hits, "FROM_NO_BODY"), 0u);
  EXPECT_EQ(hit(hits, "MIME_CT"), 0u) << "mimeheader needs a header name";
}

TEST_F(matcher_fixture, MimeHeaderReadsPartHeadersOnly) {
  auto text = sample_message();
  rule part = content_rule("PART_HTML", rule_target::mimeheader, "^text/html");
  part.header_name = "Content-Type";
  rule top = content_rule("PART_MAILER", rule_target::mimeheader, "Foo");
  top.header_name = "X-Mailer";  // only a top-level header
  auto hits = run({part, top}, text);
  EXPECT_EQ(hit(hits, "PART_HTML"), 1u);
  EXPECT_EQ(hit(hits, "PART_MAILER"), 0u);
}

TEST_F(matcher_fixture, AnchorsMatchPerParagraphLineInBody) {
  auto text = sample_message();
  auto hits = run(
      {
          content_rule("LINE_ANCHORED", rule_target::body, "^second line$"),
          content_rule("LINE_A_Z", rule_target::body, "\\Asecond line\\z"),
          content_rule("NO_CROSS_SPACE", rule_target::body, "foo\\s+bar"),
          content_rule("NO_CROSS_DOT", rule_target::body, "foo.bar", "s"),
          content_rule("NO_CROSS_CLASS", rule_target::body, "foo[^x]bar"),
          content_rule("RAW_LINE", rule_target::rawbody, "^<p>second line</p>$"),
          content_rule("URI_END", rule_target::uri, "biz/path$"),
          // Headers are not line-split: ^ is the start of the value only.
          header_rule("SUBJ_MID_ANCHOR", "Subject", "^from"),
          header_rule("SUBJ_END", "Subject", "Alice$"),
      },
      text);
  EXPECT_EQ(hit(hits, "LINE_ANCHORED"), 1u);
  EXPECT_EQ(hit(hits, "LINE_A_Z"), 1u);
  EXPECT_EQ(hit(hits, "NO_CROSS_SPACE"), 0u);
  EXPECT_EQ(hit(hits, "NO_CROSS_DOT"), 0u);
  EXPECT_EQ(hit(hits, "NO_CROSS_CLASS"), 0u);
  EXPECT_EQ(hit(hits, "RAW_LINE"), 1u);
  EXPECT_EQ(hit(hits, "URI_END"), 1u);
  EXPECT_EQ(hit(hits, "SUBJ_MID_ANCHOR"), 0u);
  EXPECT_EQ(hit(hits, "SUBJ_END"), 1u);
}

TEST_F(matcher_fixture, CaseInsensitivity) {
  auto text = sample_message();
  auto hits = run({content_rule("CI", rule_target::body, "CLICK HERE", "i"),
                   content_rule("CS", rule_target::body, "CLICK HERE"),
                   header_rule("HDR_CI", "subject", "FROM ALICE", "i")},
                  text);
  EXPECT_EQ(hit(hits, "CI"), 1u);
  EXPECT_EQ(hit(hits, "CS"), 0u);
  EXPECT_EQ(hit(hits, "HDR_CI"), 1u) << "header names are case-insensitive";
}

TEST_F(matcher_fixture, NegationAndAbsentHeaders) {
  auto text = sample_message();
  rule not_spam = header_rule("SUBJ_NOT_SPAM", "Subject", "viagra", "i");
  not_spam.negate = true;
  rule not_alice = header_rule("SUBJ_NOT_ALICE", "Subject", "Alice");
  not_alice.negate = true;
  rule absent_neg = header_rule("ABSENT_NEG", "X-Nowhere", "anything");
  absent_neg.negate = true;
  rule absent = header_rule("ABSENT", "X-Nowhere", ".*");
  auto hits = run({not_spam, not_alice, absent_neg, absent}, text);
  EXPECT_EQ(hit(hits, "SUBJ_NOT_SPAM"), 1u);
  EXPECT_EQ(hit(hits, "SUBJ_NOT_ALICE"), 0u);
  EXPECT_EQ(hit(hits, "ABSENT_NEG"), 1u) << "!~ on an absent header is true";
  EXPECT_EQ(hit(hits, "ABSENT"), 0u) << "=~ on an absent header never hits, even .*";
}

TEST_F(matcher_fixture, IfUnset) {
  rule unset = header_rule("UNSET_MATCH", "X-Priority", "^UNSET$");
  unset.has_if_unset = true;
  unset.if_unset = "UNSET";
  rule unset_other = header_rule("UNSET_NO_MATCH", "X-Priority", "^1");
  unset_other.has_if_unset = true;
  unset_other.if_unset = "3";
  rule unset_neg = header_rule("UNSET_NEG", "X-Priority", "^3");
  unset_neg.has_if_unset = true;
  unset_neg.if_unset = "3";
  unset_neg.negate = true;
  auto text = sample_message();
  auto hits = run({unset, unset_other, unset_neg}, text);
  EXPECT_EQ(hit(hits, "UNSET_MATCH"), 1u);
  EXPECT_EQ(hit(hits, "UNSET_NO_MATCH"), 0u);
  EXPECT_EQ(hit(hits, "UNSET_NEG"), 0u);

  // Present: the header's value decides, not the if-unset text.
  text.headers.push_back({"X-Priority", "1", "1"});
  hits = again(text);
  EXPECT_EQ(hit(hits, "UNSET_MATCH"), 0u);
  EXPECT_EQ(hit(hits, "UNSET_NO_MATCH"), 1u);
  EXPECT_EQ(hit(hits, "UNSET_NEG"), 1u);
}

TEST_F(matcher_fixture, BackReferenceAndLookaroundGoToPcre) {
  auto text = sample_message();
  text.body = "nothing\nsaaaay\n";
  auto hits = run({content_rule("TRIPLE", rule_target::body, "(\\w)\\1\\1"),
                   content_rule("TRIPLE_NO", rule_target::rawbody, "(\\w)\\1\\1"),
                   content_rule("LOOKAHEAD", rule_target::body, "noth(?=ing)"),
                   content_rule("LOOKAHEAD_NO", rule_target::body, "noth(?!ing)"),
                   header_rule("LOOKBEHIND", "From", "(?<=Alice )Smith"),
                   content_rule("PLAIN", rule_target::body, "nothing")},
                  text);
  EXPECT_EQ(hit(hits, "TRIPLE"), 1u);
  EXPECT_EQ(hit(hits, "TRIPLE_NO"), 0u);
  EXPECT_EQ(hit(hits, "LOOKAHEAD"), 1u);
  EXPECT_EQ(hit(hits, "LOOKAHEAD_NO"), 0u);
  EXPECT_EQ(hit(hits, "LOOKBEHIND"), 1u);
  EXPECT_EQ(hit(hits, "PLAIN"), 1u);
  const auto& stats = compiled_->stats();
  EXPECT_EQ(stats.pcre_patterns, 5u);
  EXPECT_EQ(stats.hyperscan_patterns, 1u);
  EXPECT_EQ(stats.rejected_patterns, 0u);
  ASSERT_FALSE(stats.pcre_samples.empty());
  EXPECT_NE(stats.pcre_samples[0].find("TRIPLE"), std::string::npos);

  // The same scratch on another message: no candidate state leaks over.
  text.body = "abc\n";
  hits = again(text);
  EXPECT_EQ(hit(hits, "TRIPLE"), 0u);
  EXPECT_EQ(hit(hits, "LOOKAHEAD"), 0u);
}

TEST_F(matcher_fixture, PatternNeitherEngineTakesIsRejectedAndCounted) {
  auto text = sample_message();
  rule neg_bad = header_rule("NEG_BAD", "Subject", "(unclosed");
  neg_bad.negate = true;
  auto hits = run({content_rule("BAD_PAREN", rule_target::body, "(unclosed"),
                   content_rule("BAD_REPEAT", rule_target::body, "a{2,1}"),
                   neg_bad,
                   content_rule("GOOD", rule_target::body, "click")},
                  text);
  EXPECT_EQ(hit(hits, "BAD_PAREN"), 0u);
  EXPECT_EQ(hit(hits, "BAD_REPEAT"), 0u);
  EXPECT_EQ(hit(hits, "NEG_BAD"), 0u) << "a dropped negated rule must not hit";
  EXPECT_EQ(hit(hits, "GOOD"), 1u);
  EXPECT_EQ(compiled_->stats().rejected_patterns, 3u);
  ASSERT_EQ(compiled_->stats().rejected_samples.size(), 3u);
  EXPECT_NE(compiled_->stats().rejected_samples[0].find("BAD_PAREN"), std::string::npos);
}

TEST_F(matcher_fixture, RawVersusDecodedHeaders) {
  auto text = sample_message();
  auto hits = run({header_rule("RAW_ENCODED", "Subject", "=\\?utf-8\\?q\\?", "i", ":raw"),
                   header_rule("DECODED_ENCODED", "Subject", "=\\?utf-8\\?q\\?", "i"),
                   header_rule("DECODED_UMLAUT", "Subject", "Gr\\xc3\\xbc\\xc3\\x9fe"),
                   header_rule("RAW_FOLDED", "Subject", "from\\n Alice", "", ":raw"),
                   header_rule("RAW_NO_CR", "Subject", "\\r", "", ":raw")},
                  text);
  EXPECT_EQ(hit(hits, "RAW_ENCODED"), 1u);
  EXPECT_EQ(hit(hits, "DECODED_ENCODED"), 0u);
  EXPECT_EQ(hit(hits, "DECODED_UMLAUT"), 1u);
  EXPECT_EQ(hit(hits, "RAW_FOLDED"), 1u);
  EXPECT_EQ(hit(hits, "RAW_NO_CR"), 0u);
}

TEST_F(matcher_fixture, SpecialHeaderNames) {
  auto text = sample_message();
  auto hits = run(
      {
          header_rule("ALL_FROM", "ALL", "^From: \"Alice Smith\"", "m"),
          header_rule("ALL_SUBJ_DECODED", "ALL", "^Subject: Grüße from Alice$", "m"),
          header_rule("ALL_RAW", "ALL", "^Subject: =\\?utf-8", "m", ":raw"),
          header_rule("ALL_NO_BODY", "ALL", "click"),
          header_rule("TOCC_CAROL", "ToCc", "carol@"),
          header_rule("TOCC_BOB_FIRST", "ToCc", "^bob@"),
          header_rule("TOCC_NO_FROM", "ToCc", "alice"),
          header_rule("MSGID", "MESSAGEID", "xmid-123"),
          header_rule("ENVFROM", "EnvelopeFrom", "^bounce@lists\\.example\\.org$"),
      },
      text);
  EXPECT_EQ(hit(hits, "ALL_FROM"), 1u);
  EXPECT_EQ(hit(hits, "ALL_SUBJ_DECODED"), 1u);
  EXPECT_EQ(hit(hits, "ALL_RAW"), 1u);
  EXPECT_EQ(hit(hits, "ALL_NO_BODY"), 0u);
  EXPECT_EQ(hit(hits, "TOCC_CAROL"), 1u);
  EXPECT_EQ(hit(hits, "TOCC_BOB_FIRST"), 1u);
  EXPECT_EQ(hit(hits, "TOCC_NO_FROM"), 0u);
  EXPECT_EQ(hit(hits, "MSGID"), 1u);
  EXPECT_EQ(hit(hits, "ENVFROM"), 1u);
}

TEST_F(matcher_fixture, AddrAndNameModifiers) {
  auto text = sample_message();
  auto hits = run({header_rule("FROM_ADDR", "From", "^alice@example\\.com$", "", ":addr"),
                   header_rule("FROM_ADDR_NO_NAME", "From", "Smith", "", ":addr"),
                   header_rule("FROM_NAME", "From", "^Alice Smith$", "", ":name"),
                   header_rule("TO_ADDR", "To", "^bob@example\\.net$", "", ":addr"),
                   header_rule("TO_NAME", "To", "^Bob B$", "", ":name")},
                  text);
  EXPECT_EQ(hit(hits, "FROM_ADDR"), 1u);
  EXPECT_EQ(hit(hits, "FROM_ADDR_NO_NAME"), 0u);
  EXPECT_EQ(hit(hits, "FROM_NAME"), 1u);
  EXPECT_EQ(hit(hits, "TO_ADDR"), 1u);
  EXPECT_EQ(hit(hits, "TO_NAME"), 1u);
}

TEST_F(matcher_fixture, ExistsRules) {
  auto text = sample_message();
  auto hits = run({exists_rule("HAS_MAILER", "x-mailer"), exists_rule("HAS_NOTHING", "X-Nothing"),
                   exists_rule("HAS_MSGID", "MESSAGEID"), exists_rule("HAS_TOCC", "ToCc")},
                  text);
  EXPECT_EQ(hit(hits, "HAS_MAILER"), 1u);
  EXPECT_EQ(hit(hits, "HAS_NOTHING"), 0u);
  EXPECT_EQ(hit(hits, "HAS_MSGID"), 1u);
  EXPECT_EQ(hit(hits, "HAS_TOCC"), 1u);
}

TEST_F(matcher_fixture, MultipleAndMaxhits) {
  auto text = sample_message();
  text.body = "foo foo fooo\nfoo\nxx oo oo oo";
  rule single = content_rule("ONCE", rule_target::body, "fo+");
  rule multiple = content_rule("MANY", rule_target::body, "fo+");
  multiple.tflags = {"multiple"};
  rule capped = content_rule("CAPPED", rule_target::body, "fo+");
  capped.tflags = {"multiple", "maxhits=2"};
  rule pcre_many = content_rule("PCRE_MANY", rule_target::body, "(o)\\1");
  pcre_many.tflags = {"multiple"};
  rule pcre_capped = content_rule("PCRE_CAPPED", rule_target::body, "(o)\\1");
  pcre_capped.tflags = {"multiple", "maxhits=1"};
  rule empty_many = content_rule("EMPTY_MANY", rule_target::uri, "^");  // empty match, no SOM
  empty_many.tflags = {"multiple"};
  auto hits = run({single, multiple, capped, pcre_many, pcre_capped, empty_many}, text);
  EXPECT_EQ(hit(hits, "ONCE"), 1u);
  EXPECT_EQ(hit(hits, "MANY"), 4u) << "fooo is one match, not one per end offset";
  EXPECT_EQ(hit(hits, "CAPPED"), 2u);
  // "foo foo fooo" has oo, oo, oo (fooo: one, then a lone o); "foo"; "oo oo oo".
  EXPECT_EQ(hit(hits, "PCRE_MANY"), 7u);
  EXPECT_EQ(hit(hits, "PCRE_CAPPED"), 1u);
  EXPECT_EQ(hit(hits, "EMPTY_MANY"), 2u) << "once per URI line";

  // The span state is reset between messages.
  text.body = "fo";
  hits = again(text);
  EXPECT_EQ(hit(hits, "MANY"), 1u);
}

TEST_F(matcher_fixture, UriRulesNeedUris) {
  auto text = sample_message();
  text.uris.clear();
  auto hits = run({content_rule("ANY_URI", rule_target::uri, ".?"), content_rule("BODY_ANY", rule_target::body, ".?")},
                  text);
  EXPECT_EQ(hit(hits, "ANY_URI"), 0u);
  EXPECT_EQ(hit(hits, "BODY_ANY"), 1u);
}

TEST_F(matcher_fixture, MetaAndEvalEntriesStayZero) {
  rule meta;
  meta.name = "META";
  meta.kind = rule_kind::meta;
  meta.meta_expression = "BODY";
  rule eval;
  eval.name = "EVAL";
  eval.kind = rule_kind::eval;
  eval.eval_function = "check_foo";
  auto text = sample_message();
  auto hits = run({meta, content_rule("BODY", rule_target::body, "click"), eval}, text);
  EXPECT_EQ(hits, (std::vector<uint32_t>{0, 1, 0}));
}

TEST_F(matcher_fixture, EmptyMessageAndHugeBody) {
  mail::message_text empty;
  auto hits = run({content_rule("BODY_X", rule_target::body, "x"), header_rule("SUBJ", "Subject", "x"),
                   header_rule("ALL_ANY", "ALL", "."), content_rule("FULL_X", rule_target::full, "x"),
                   content_rule("URI_X", rule_target::uri, "x"), content_rule("RAW_X", rule_target::rawbody, "x")},
                  empty);
  EXPECT_EQ(hits, std::vector<uint32_t>(6, 0));

  // A mark past the body cap is not scanned; one inside it is.
  mail::message_text huge;
  huge.body.assign(max_body_target_bytes, 'a');
  huge.body += "x";
  hits = again(huge);
  EXPECT_EQ(hit(hits, "BODY_X"), 0u);
  huge.body[max_body_target_bytes - 1] = 'x';
  hits = again(huge);
  EXPECT_EQ(hit(hits, "BODY_X"), 1u);
}

TEST_F(matcher_fixture, HostilePatternsAndTextDoNotBreakMatching) {
  // A catastrophic-backtracking PCRE2 rule on a long line: bounded by the match limit.
  auto text = sample_message();
  text.body = std::string(60, 'a') + "c";  // ~fib(60) steps without a limit
  rule evil = content_rule("EVIL", rule_target::body, "^(a|aa)+(?=b)");
  auto hits = run({evil, content_rule("NUL", rule_target::body, "a\\x00b")}, text);
  EXPECT_EQ(hit(hits, "EVIL"), 0u);
  text.body = std::string("a\0b", 3);
  hits = again(text);
  EXPECT_EQ(hit(hits, "NUL"), 1u);
}

// SpamAssassin runs a body rule on each paragraph line separately. Reference: PCRE2 on
// each line alone, with the pattern translated for a single subject. The matcher scans all
// lines at once (Hyperscan, PCRE2, prefilters) and must agree on every rule.
bool per_line_reference(const rule& r, const std::string& body) {
  auto t = translate_perl_regex(r.pattern, r.flags);
  uint32_t options = PCRE2_NEVER_UTF;
  if (t.caseless) options |= PCRE2_CASELESS;
  if (t.dotall) options |= PCRE2_DOTALL;
  if (t.multiline) options |= PCRE2_MULTILINE;
  int error = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(t.pattern.data()), t.pattern.size(), options, &error,
                                   &offset, nullptr);
  EXPECT_NE(code, nullptr) << r.pattern;
  if (!code) return false;
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(code, nullptr);
  bool hit = false;
  size_t start = 0;
  while (!hit && start <= body.size()) {
    size_t end = body.find('\n', start);
    if (end == std::string::npos) end = body.size();
    hit = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(body.data() + start), end - start, 0, 0, md, nullptr) >= 0;
    start = end + 1;
  }
  pcre2_match_data_free(md);
  pcre2_code_free(code);
  return hit;
}

TEST_F(matcher_fixture, BodyRulesAgreeWithPerLineMatching) {
  const std::vector<std::pair<std::string, std::string>> patterns = {
      {"foo\\s+bar", ""},      {"^bar", ""},           {"baz$", ""},           {"foo.bar", "s"},
      {"[^a]{3}x", ""},         {"\\W\\W", ""},         {"(\\w)\\1", ""},       {"a(?=b)", ""},
      {"x{0,300}y", ""},        {"\\Aline", ""},        {"end\\z", ""},         {"\\bword\\b", "i"},
      {"q\\Dq", ""},            {"(?:ab|cd){2,250}", ""}, {"\\s$", ""},           {"^foo$", "m"},
      {"o\\s*b", ""},   {"[\\s\\S]{2}b", ""},     {"\\h+bar", ""},        {"foo\\v", ""},
  };
  std::vector<rule> rules;
  for (size_t i = 0; i < patterns.size(); ++i) {
    rules.push_back(content_rule("R" + std::to_string(i), rule_target::body, patterns[i].first, patterns[i].second));
  }
  const std::vector<std::string> bodies = {
      "foo\nbar",          "foo  bar",         "x baz\nbar",      "line one\nend",     "foo\nbar\nbaz",
      "a\nbcx",            "WORD here",        "q\nq",            "abcdab",            "trailing \nnext",
      "ab",                "xxy",              "end of line\nfoo", "q1q qxq",           "foo\tbar",
      "  foo\n\nbar  ",     "aab\nb",           "",                 "\n\n",              "a\n\nb x\nab",
  };
  mail::message_text text;
  auto first = run(rules, text);
  (void)first;
  for (const auto& body : bodies) {
    text.body = body;
    auto hits = again(text);
    for (size_t i = 0; i < rules.size(); ++i) {
      EXPECT_EQ(hits[i] != 0, per_line_reference(rules[i], body))
          << "/" << rules[i].pattern << "/" << rules[i].flags << " on \"" << body << "\"";
    }
  }
}

// PCRE2 rules behind a prefilter start at the line of the prefilter's first match; the
// counts must be those of running them on every line (a start too late loses matches).
TEST_F(matcher_fixture, PrefilteredRulesStartAtTheFirstPrefilterLine) {
  rule doubled = content_rule("DOUBLED_X", rule_target::body, "(\\w)\\1x");  // relaxed: (\w)[\s\S]*x
  doubled.tflags = {"multiple"};
  rule behind = content_rule("AFTER_A", rule_target::body, "(?<=a)b");  // relaxed: b
  behind.tflags = {"multiple"};
  rule single = content_rule("DOUBLED_ONCE", rule_target::body, "(\\w)\\1x");
  mail::message_text text;
  text.body = "aax bbx\nnothing here x\nccx\nzz\nab xb ab\n" + std::string(5000, 'q') + " ddx";
  auto hits = run({doubled, behind, single}, text);
  EXPECT_EQ(hit(hits, "DOUBLED_X"), 4u);  // aax bbx | ccx | ddx on the last line
  EXPECT_EQ(hit(hits, "AFTER_A"), 2u);
  EXPECT_EQ(hit(hits, "DOUBLED_ONCE"), 1u);

  text.body = "x only\nno pairs here x";  // the prefilters fire, the rules do not
  hits = again(text);
  EXPECT_EQ(hit(hits, "DOUBLED_X"), 0u);
  EXPECT_EQ(hit(hits, "DOUBLED_ONCE"), 0u);
  text.body = "first line\n\n\nzzx";  // the match on the last line, after empty lines
  hits = again(text);
  EXPECT_EQ(hit(hits, "DOUBLED_X"), 1u);
  text.body = "bb";  // no 'x': the prefilter does not fire; no stale lines from before
  hits = again(text);
  EXPECT_EQ(hit(hits, "DOUBLED_X"), 0u);
  EXPECT_EQ(hit(hits, "AFTER_A"), 0u);
}

// A ReplaceTags rule whose expansion is too long for a prefilter gets one from its short
// form (rule::prefilter_pattern), and PCRE2 runs it only where that fired.
TEST_F(matcher_fixture, ShortFormOfALongRuleIsItsPrefilter) {
  std::string letter_a = "(?:a";
  static constexpr char hex[] = "0123456789abcdef";
  for (int i = 0; i < 800; ++i) {  // a long list of two-byte look-alikes, over 5 kB
    const int second = 0x80 + i % 64;
    letter_a += std::string("|\\xc3\\x") + hex[second >> 4] + hex[second & 15];
  }
  letter_a += ")";
  rule fuzzy = content_rule("FUZZY_AB", rule_target::body, "(?!ab)" + letter_a + "b");
  fuzzy.prefilter_pattern = "(?!ab)(?:a|[\\xc0-\\xf7][\\x80-\\xbf]+)b";
  mail::message_text text;
  text.body = "xab\nx\xc3\x8a" "b";  // the second line: a look-alike then b
  auto hits = run({fuzzy}, text);
  EXPECT_EQ(compiled_->stats().pcre_prefiltered, 1u);
  EXPECT_EQ(compiled_->stats().pcre_always, 0u);
  EXPECT_EQ(hit(hits, "FUZZY_AB"), 1u);
  text.body = "nothing to see";
  EXPECT_EQ(hit(again(text), "FUZZY_AB"), 0u);
}

TEST_F(matcher_fixture, LargeRepeatsGoToPcreBehindAPrefilter) {
  auto text = sample_message();
  text.body = "start " + std::string(150, 'y') + " end\nstart x end";
  auto hits = run({content_rule("WIDE", rule_target::body, "start(?:[^\\n]{0,40}){0,10}end"),
                   content_rule("WIDE_NO", rule_target::body, "start\\s[a-x]{0,400}\\send"),
                   content_rule("NARROW", rule_target::body, "start y{0,3}")},
                  text);
  EXPECT_EQ(hit(hits, "WIDE"), 1u);
  EXPECT_EQ(hit(hits, "WIDE_NO"), 1u) << "the second line has it";
  EXPECT_EQ(hit(hits, "NARROW"), 1u);
  const auto& stats = compiled_->stats();
  EXPECT_EQ(stats.hyperscan_patterns, 1u);
  EXPECT_EQ(stats.pcre_patterns, 2u);
  EXPECT_EQ(stats.pcre_prefiltered, 2u);
  EXPECT_EQ(stats.pcre_always, 0u);

  text.body = "start " + std::string(401, 'x') + " end";
  hits = again(text);
  EXPECT_EQ(hit(hits, "WIDE_NO"), 0u);
  EXPECT_EQ(hit(hits, "WIDE"), 0u);
}

TEST_F(matcher_fixture, SmallChunksAndOneThreadGiveTheSameHits) {
  // Enough body rules for several databases; every third hits.
  std::vector<rule> rules;
  std::string body;
  for (int i = 0; i < 250; ++i) {
    rules.push_back(content_rule("W" + std::to_string(i), rule_target::body, "\\bword" + std::to_string(i) + "\\b"));
    if (i % 3 == 0) body += "word" + std::to_string(i) + " ";
  }
  set_ = make_set(rules);
  compiled_rules::compile_options one_thread;
  one_thread.threads = 1;
  auto serial = compiled_rules::compile(set_, one_thread);
  auto parallel = compiled_rules::compile(set_);
  ASSERT_TRUE(serial.ok() && parallel.ok());
  EXPECT_GE((*parallel)->stats().databases, 3u);
  mail::message_text text;
  text.body = body;
  match_scratch s1(**serial), s2(**parallel);
  std::vector<uint32_t> h1, h2;
  (*serial)->match(text, s1, h1);
  (*parallel)->match(text, s2, h2);
  EXPECT_EQ(h1, h2);
  for (int i = 0; i < 250; ++i) EXPECT_EQ(h1[i], i % 3 == 0 ? 1u : 0u) << i;
}

TEST_F(matcher_fixture, SteadyStateMatchAllocatesNothing) {
  auto text = sample_message();
  rule unset = header_rule("UNSET", "X-Nowhere", "x");
  unset.has_if_unset = true;
  unset.if_unset = "x";
  rule many = content_rule("MANY", rule_target::body, "o");
  many.tflags = {"multiple"};
  auto hits = run({content_rule("BODY", rule_target::body, "click"), header_rule("FROM", "From", "alice"),
                   header_rule("FROM_ADDR", "From", "example", "", ":addr"), header_rule("ALL", "ALL", "Subject"),
                   header_rule("TOCC", "ToCc", "bob"), content_rule("URI", rule_target::uri, "evil"),
                   content_rule("BACKREF", rule_target::body, "(e)\\1"), unset, many, exists_rule("HAS", "X-Mailer")},
                  text);
  hits = again(text);
  size_t before = allocations.load();
  compiled_->match(text, *scratch_, hits);
  EXPECT_EQ(allocations.load(), before);
  // The counter counts: a fresh scratch has buffers to grow.
  match_scratch fresh(*compiled_);
  before = allocations.load();
  compiled_->match(text, fresh, hits);
  EXPECT_GT(allocations.load(), before);
  EXPECT_EQ(hit(hits, "BODY"), 1u);
  EXPECT_EQ(hit(hits, "TOCC"), 1u);
}

TEST(ScanTargets, Addresses) {
  auto addr = [](std::string_view v) {
    std::string out;
    append_first_address(v, out);
    return out;
  };
  auto name = [](std::string_view v) {
    std::string out;
    append_display_name(v, out);
    return out;
  };
  EXPECT_EQ(addr("\"Alice <fake@x>\" <real@example.com>"), "real@example.com");
  EXPECT_EQ(addr("a@b.c (Comment <x@y>), d@e.f"), "a@b.c");
  EXPECT_EQ(addr("  plain@example.com  "), "plain@example.com");
  EXPECT_EQ(addr("undisclosed-recipients:;"), "");
  EXPECT_EQ(addr("friends: a@b.c, d@e.f;"), "a@b.c");
  EXPECT_EQ(addr("<unterminated@x"), "unterminated@x");
  EXPECT_EQ(addr(""), "");
  EXPECT_EQ(name("\"Alice \\\"A\\\" Smith\" <a@b.c>"), "Alice \"A\" Smith");
  EXPECT_EQ(name("Bob Jones <b@c.d>"), "Bob Jones");
  EXPECT_EQ(name("b@c.d (Bob Jones)"), "Bob Jones");
  EXPECT_EQ(name("b@c.d"), "");
  EXPECT_EQ(name("\"unterminated <a@b>"), "");
  EXPECT_EQ(name("a@b ((("), "((") << "an unterminated comment runs to the end";
}

}  // namespace
}  // namespace ringmail::spam
