// The rule-file loader against the behaviour of Mail::SpamAssassin::Conf::Parser (4.0.1):
// each case is a small rule file and what SpamAssassin would make of it.
#include "spam/rules/loader.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "spam/rules/replace_tags.h"
#include "spam/rules/conditions.h"
#include "spam/rules/syntax.h"

namespace ringmail::spam {
namespace {

load_options test_options() {
  load_options o;
  o.plugins = {"Mail::SpamAssassin::Plugin::ReplaceTags", "Mail::SpamAssassin::Plugin::Bayes",
               "Mail::SpamAssassin::Plugin::BodyEval",    "Mail::SpamAssassin::Plugin::HeaderEval",
               "Mail::SpamAssassin::Plugin::MIMEEval",    "Mail::SpamAssassin::Plugin::HTMLEval"};
  o.eval_functions = {"check_bayes", "check_for_mime"};
  return o;
}

rule_set load(const std::string& text, const load_options& o = test_options()) {
  return load_rules_from_text(text, o, "test.cf");
}

const rule& get(const rule_set& set, const std::string& name) {
  const rule* r = set.find(name);
  EXPECT_NE(r, nullptr) << name;
  static const rule missing;
  return r ? *r : missing;
}

TEST(RuleLoader, RuleKindsAndTargets) {
  rule_set set = load(
      "header   SUBJ_FOO   Subject =~ /foo\\/bar/i\n"
      "header   FROM_ADDR  From:addr =~ m{^x@}\n"
      "header   NO_DATE    Date !~ /^\\w/ [if-unset: Mon, 1 Jan 2001]\n"
      "header   HAS_XM     exists:X-Mailer\n"
      "body     BODY_M     m!a/b!sm\n"
      "rawbody  RAW_P      m(<b>(?:x))i\n"
      "uri      URI_ANGLE  m<https?://x>\n"
      "full     FULL_RE    /^From: /m\n"
      "mimeheader MIME_CT  Content-Type:raw =~ /text\\/html/\n"
      "meta     META1      SUBJ_FOO && !BODY_M\n");
  EXPECT_EQ(set.stats.parse_errors, 0u) << (set.stats.error_samples.empty() ? "" : set.stats.error_samples[0]);
  ASSERT_EQ(set.rules.size(), 10u);

  const rule& subj = get(set, "SUBJ_FOO");
  EXPECT_EQ(subj.kind, rule_kind::regex);
  EXPECT_EQ(subj.target, rule_target::header);
  EXPECT_EQ(subj.header_name, "Subject");
  EXPECT_EQ(subj.pattern, "foo\\/bar");  // escapes kept as written
  EXPECT_EQ(subj.flags, "i");

  const rule& from = get(set, "FROM_ADDR");
  EXPECT_EQ(from.header_name, "From");
  EXPECT_EQ(from.header_modifier, ":addr");
  EXPECT_EQ(from.pattern, "^x@");

  const rule& date = get(set, "NO_DATE");
  EXPECT_TRUE(date.negate);
  EXPECT_TRUE(date.has_if_unset);
  EXPECT_EQ(date.if_unset, "Mon, 1 Jan 2001");
  EXPECT_EQ(date.pattern, "^\\w");

  const rule& xm = get(set, "HAS_XM");
  EXPECT_EQ(xm.kind, rule_kind::exists);
  EXPECT_EQ(xm.header_name, "X-Mailer");

  EXPECT_EQ(get(set, "BODY_M").target, rule_target::body);
  EXPECT_EQ(get(set, "BODY_M").pattern, "a/b");
  EXPECT_EQ(get(set, "BODY_M").flags, "ms");
  EXPECT_EQ(get(set, "RAW_P").target, rule_target::rawbody);
  EXPECT_EQ(get(set, "RAW_P").pattern, "<b>(?:x)");
  EXPECT_EQ(get(set, "URI_ANGLE").target, rule_target::uri);
  EXPECT_EQ(get(set, "URI_ANGLE").pattern, "https?://x");
  EXPECT_EQ(get(set, "FULL_RE").target, rule_target::full);
  EXPECT_EQ(get(set, "MIME_CT").target, rule_target::mimeheader);
  EXPECT_EQ(get(set, "MIME_CT").header_modifier, ":raw");
  EXPECT_EQ(get(set, "META1").kind, rule_kind::meta);
  EXPECT_EQ(get(set, "META1").meta_expression, "SUBJ_FOO && !BODY_M");
  // Load order is kept and indexed.
  EXPECT_EQ(set.index.at("SUBJ_FOO"), 0u);
  EXPECT_EQ(set.index.at("META1"), 9u);
  EXPECT_EQ(set.stats.rules, 10u);
}

TEST(RuleLoader, EvalRulesKeptOnlyWhenSupported) {
  rule_set set = load(
      "body BAYES_99 eval:check_bayes('0.99', '1.00')\n"
      "rawbody MIME_B64 eval:check_for_mime(\"mime_base64_encoded_text\")\n"
      "header MISSING_HEADERS eval:check_for_missing_to_header()\n"
      "header RCVD_IN_X eval:check_rbl('x-lastexternal', 'x.example.org.')\n"
      "header RBL_OLD rbleval:check_rbl_sub('x', '127.0.0.2')\n"
      "full DCC eval:check_dcc()\n"
      "meta USES_MISSING !MISSING_HEADERS\n");
  EXPECT_EQ(set.stats.unsupported_evals, 4u);
  EXPECT_EQ(set.find("MISSING_HEADERS"), nullptr);
  EXPECT_EQ(set.find("RCVD_IN_X"), nullptr);
  const rule& bayes = get(set, "BAYES_99");
  EXPECT_EQ(bayes.kind, rule_kind::eval);
  EXPECT_EQ(bayes.target, rule_target::body);
  EXPECT_EQ(bayes.eval_function, "check_bayes");
  EXPECT_EQ(bayes.eval_args, (std::vector<std::string>{"0.99", "1.00"}));
  EXPECT_EQ(get(set, "MIME_B64").eval_args, (std::vector<std::string>{"mime_base64_encoded_text"}));
  EXPECT_EQ(set.rules.size(), 3u);
}

TEST(RuleLoader, EvalArgumentSyntax) {
  auto ok = parse_eval_call("f(1, 'a b', \"c,d\", 127.0.0.2,x-y)");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->args, (std::vector<std::string>{"1", "a b", "c,d", "127.0.0.2", "x-y"}));
  EXPECT_TRUE(parse_eval_call("f()").ok());
  EXPECT_TRUE(parse_eval_call("f(  )")->args.empty());
  EXPECT_EQ(parse_eval_call("f('it's')")->args, (std::vector<std::string>{"it's"}));
  EXPECT_FALSE(parse_eval_call("f(a b)").ok());      // bare words cannot hold spaces
  EXPECT_FALSE(parse_eval_call("f(under_score)").ok());  // nor underscores (pack_eval_args)
  EXPECT_FALSE(parse_eval_call("f('open)").ok());
  EXPECT_FALSE(parse_eval_call("f (x)").ok());
  EXPECT_FALSE(parse_eval_call("f(x").ok());
  EXPECT_FALSE(parse_eval_call("(x)").ok());
}

TEST(RuleLoader, RegexDelimitersAsCompileRegexp) {
  EXPECT_EQ(parse_regex_literal("/a\\/b/imsxgo")->flags, "imsx");
  EXPECT_EQ(parse_regex_literal("m{a{1,2}}")->pattern, "a{1,2}");
  EXPECT_EQ(parse_regex_literal("m[a]]")->pattern, "a]");
  EXPECT_EQ(parse_regex_literal("m,a\\,b,i")->pattern, "a\\,b");
  EXPECT_EQ(parse_regex_literal("qr/x/")->pattern, "x");
  EXPECT_EQ(parse_regex_literal("/a\\\\/")->pattern, "a\\\\");
  EXPECT_FALSE(parse_regex_literal("!a!").ok());          // only / goes without m
  EXPECT_FALSE(parse_regex_literal("/a/b/").ok());        // unescaped delimiter
  EXPECT_FALSE(parse_regex_literal("/a\\\\/b/").ok());    // \\ does not escape the /
  EXPECT_FALSE(parse_regex_literal("m<a>b>").ok());       // > is checked too
  EXPECT_FALSE(parse_regex_literal("/a/e").ok());         // e modifier refused
  EXPECT_FALSE(parse_regex_literal("/a(?{ 1 })/").ok());  // code blocks refused
  EXPECT_FALSE(parse_regex_literal("m\\a\\").ok());
  EXPECT_FALSE(parse_regex_literal("/").ok());
  EXPECT_FALSE(parse_regex_literal("").ok());
  EXPECT_FALSE(parse_regex_literal("m").ok());
  EXPECT_FALSE(parse_regex_literal("max").ok());
}

TEST(RuleLoader, CommentsWhitespaceAndLanguages) {
  rule_set set = load(
      "# a comment\n"
      "   \n"
      "\t  body   INDENTED   /x/   # trailing comment\n"
      "body HASH /a\\#b/\n"
      "lang en describe INDENTED English text\n"
      "lang de describe INDENTED Deutscher Text\n"
      "lang de body GERMAN_ONLY /ja/\n"
      "lang en_US body US_ONLY /yes/\r\n"
      "BODY UPPER_KEY /k/\n");
  EXPECT_EQ(set.stats.parse_errors, 0u);
  EXPECT_EQ(get(set, "INDENTED").pattern, "x");
  EXPECT_EQ(get(set, "INDENTED").description, "English text");
  EXPECT_EQ(get(set, "HASH").pattern, "a#b");  // "\#" is a literal '#'
  EXPECT_EQ(set.find("GERMAN_ONLY"), nullptr);
  EXPECT_NE(set.find("US_ONLY"), nullptr);
  EXPECT_NE(set.find("UPPER_KEY"), nullptr);
  EXPECT_EQ(set.stats.lines, 9u);
  EXPECT_EQ(set.stats.unknown_directives, 0u);
}

TEST(RuleLoader, ScoresFollowSpamAssassinDefaults) {
  load_options o = test_options();
  o.score_set = 2;
  rule_set set = load(
      "score LATE_DEFINED 2.5\n"  // before the rule exists: applied at the end
      "body LATE_DEFINED /x/\n"
      "body PLAIN /x/\n"
      "body T_TESTING /x/\n"
      "body __SUB /x/\n"
      "body NICE /x/\n"
      "tflags NICE nice learn\n"
      "body T_NICE /x/\n"
      "tflags T_NICE nice\n"
      "body FOUR /x/\n"
      "score FOUR 1 2 3.5 4\n"
      "body ZERO /x/\n"
      "score ZERO 0\n"
      "body REL /x/\n"
      "score REL 1\n"
      "score REL (0.5)\n"
      "body __SCORED /x/\n"
      "score __SCORED 2\n"
      "score NEVER_DEFINED 3\n"
      "required_hits 6.5\n",
      o);
  EXPECT_EQ(set.stats.parse_errors, 0u) << set.stats.error_samples[0];
  EXPECT_DOUBLE_EQ(get(set, "LATE_DEFINED").score, 2.5);
  EXPECT_TRUE(get(set, "LATE_DEFINED").score_set);
  EXPECT_DOUBLE_EQ(get(set, "PLAIN").score, 1.0);
  EXPECT_FALSE(get(set, "PLAIN").score_set);
  EXPECT_DOUBLE_EQ(get(set, "T_TESTING").score, 0.01);
  EXPECT_DOUBLE_EQ(get(set, "__SUB").score, 0.0);
  EXPECT_DOUBLE_EQ(get(set, "NICE").score, -1.0);
  EXPECT_TRUE(get(set, "NICE").has_tflag("nice"));
  EXPECT_TRUE(get(set, "NICE").has_tflag("learn"));
  EXPECT_FALSE(get(set, "NICE").has_tflag("net"));
  EXPECT_DOUBLE_EQ(get(set, "T_NICE").score, -0.01);
  EXPECT_DOUBLE_EQ(get(set, "FOUR").score, 3.5);  // column 2
  EXPECT_DOUBLE_EQ(get(set, "ZERO").score, 0.0);
  EXPECT_TRUE(get(set, "ZERO").score_set);
  EXPECT_DOUBLE_EQ(get(set, "REL").score, 1.5);
  EXPECT_DOUBLE_EQ(get(set, "__SCORED").score, 0.0);  // __ rules never count
  EXPECT_TRUE(get(set, "__SCORED").score_set);
  EXPECT_EQ(set.stats.orphan_settings, 1u);
  EXPECT_DOUBLE_EQ(set.required_score, 6.5);

  o.score_set = 0;
  EXPECT_DOUBLE_EQ(get(load("body FOUR /x/\nscore FOUR 1 2 3.5 4\n", o), "FOUR").score, 1.0);
  o.score_set = 3;
  EXPECT_DOUBLE_EQ(get(load("body FOUR /x/\nscore FOUR 1 2 3.5 4\n", o), "FOUR").score, 4.0);
}

TEST(RuleLoader, SettingsByName) {
  rule_set set = load(
      "describe R first\n"
      "body R /x/\n"
      "describe R second wins\n"
      "tflags R multiple maxhits=3\n"
      "priority R -50\n"
      "body M /y/\n"
      "tflags M net\n"
      "meta N M && R\n"
      "meta N2 N || R\n");
  const rule& r = get(set, "R");
  EXPECT_EQ(r.description, "second wins");
  EXPECT_TRUE(r.has_tflag("multiple"));
  EXPECT_TRUE(r.has_tflag("maxhits"));
  EXPECT_EQ(r.tflags, (std::vector<std::string>{"multiple", "maxhits=3"}));
  EXPECT_EQ(r.priority, -50);
  // Parser::fix_tflags: metas over net rules are net rules, transitively.
  EXPECT_TRUE(get(set, "N").has_tflag("net"));
  EXPECT_TRUE(get(set, "N2").has_tflag("net"));
}

TEST(RuleLoader, RedefinitionReplacesInPlace) {
  rule_set set = load(
      "body A /one/\n"
      "score A 3\n"
      "describe A old\n"
      "body B /b/\n"
      "header A Subject =~ /two/\n"
      "body C /c/\n"
      "body C eval:check_unknown_thing()\n"  // unsupported: the rule goes away
      "body D /d/\n");
  ASSERT_EQ(set.rules.size(), 3u);
  EXPECT_EQ(set.index.at("A"), 0u);
  EXPECT_EQ(get(set, "A").target, rule_target::header);
  EXPECT_EQ(get(set, "A").pattern, "two");
  EXPECT_DOUBLE_EQ(get(set, "A").score, 3.0);
  EXPECT_EQ(get(set, "A").description, "old");
  EXPECT_EQ(set.find("C"), nullptr);
  EXPECT_EQ(set.index.at("D"), 2u);
  EXPECT_EQ(set.rules[set.index.at("D")].name, "D");

  // A broken redefinition keeps the old rule, as SpamAssassin's add_test does.
  rule_set kept = load("body A /one/\nbody A /unterminated\n");
  EXPECT_EQ(get(kept, "A").pattern, "one");
  EXPECT_EQ(kept.stats.parse_errors, 1u);
}

TEST(RuleLoader, LoadMoreRulesKeepsEarlierSettings) {
  load_options o = test_options();
  rule_set set = load("body A /a/\nscore A 4\nbody B /b/\n");
  load_more_rules(set, "body A /a2/\nscore B 2\nbody C /c/\n", o, "more.cf");
  EXPECT_EQ(get(set, "A").pattern, "a2");
  EXPECT_DOUBLE_EQ(get(set, "A").score, 4.0);
  EXPECT_DOUBLE_EQ(get(set, "B").score, 2.0);
  EXPECT_EQ(set.index.at("C"), 2u);
  EXPECT_EQ(set.stats.rules, 3u);
  // Relative scores may build on a score from the earlier load.
  load_more_rules(set, "score A (1)\n", o, "rel.cf");
  EXPECT_DOUBLE_EQ(get(set, "A").score, 5.0);
}

TEST(RuleLoader, Conditionals) {
  rule_set set = load(
      "ifplugin Mail::SpamAssassin::Plugin::Bayes\n"
      "  body IN_BAYES /x/\n"
      "endif\n"
      "ifplugin Mail::SpamAssassin::Plugin::DKIM\n"
      "  body IN_DKIM /x/\n"
      "  score IN_DKIM 3\n"
      "  if (version >= 3.004000)\n"
      "    body NESTED /x/\n"
      "  endif\n"
      "else\n"
      "  body NO_DKIM /x/\n"
      "endif\n"
      "if !plugin(Mail::SpamAssassin::Plugin::DKIM) && (version >= 4.000000)\n"
      "  body NOT_DKIM_V4 /x/\n"
      "endif\n"
      "if can(Mail::SpamAssassin::Conf::feature_bug6558_free)\n"
      "  body FEATURE /x/\n"
      "endif\n"
      "if can(Mail::SpamAssassin::Conf::compat_welcomelist_blocklist)\n"
      "  body NO_SUCH_FEATURE /x/\n"
      "endif\n"
      "if can(Mail::SpamAssassin::Plugin::BodyEval::has_check_body_length)\n"
      "  body PLUGIN_METHOD /x/\n"
      "endif\n"
      "if (version < 4.000000)\n"
      "  body OLD_VERSION /x/\n"
      "else\n"
      "  body NEW_VERSION /x/\n"
      "endif\n"
      "if perl_version >= 5.010000\n"
      "  body PERL_OK /x/\n"
      "endif\n");
  EXPECT_EQ(set.stats.parse_errors, 0u);
  for (const char* name : {"IN_BAYES", "NO_DKIM", "NOT_DKIM_V4", "FEATURE", "PLUGIN_METHOD", "NEW_VERSION", "PERL_OK"}) {
    EXPECT_NE(set.find(name), nullptr) << name;
  }
  for (const char* name : {"IN_DKIM", "NESTED", "NO_SUCH_FEATURE", "OLD_VERSION"}) {
    EXPECT_EQ(set.find(name), nullptr) << name;
  }
  EXPECT_EQ(set.stats.skipped_blocks, 3u);       // DKIM, compat_..., version < 4
  EXPECT_EQ(set.stats.skipped_block_lines, 5u);  // IN_DKIM, its score, NESTED, NO_SUCH_FEATURE, OLD_VERSION
  EXPECT_EQ(set.stats.orphan_settings, 0u);      // the skipped score line never counted as a setting
}

TEST(RuleLoader, ElseInsideSkippedBlockStaysSkipped) {
  rule_set set = load(
      "ifplugin Mail::SpamAssassin::Plugin::Nope\n"
      "  ifplugin Mail::SpamAssassin::Plugin::Bayes\n"
      "    body A /x/\n"
      "  else\n"
      "    body B /x/\n"  // bug 7848: still skipped
      "  endif\n"
      "endif\n"
      "body C /x/\n");
  EXPECT_EQ(set.find("A"), nullptr);
  EXPECT_EQ(set.find("B"), nullptr);
  EXPECT_NE(set.find("C"), nullptr);
  EXPECT_EQ(set.stats.skipped_blocks, 1u);
}

TEST(RuleLoader, ConditionEvaluation) {
  std::vector<std::string> plugins = {"Mail::SpamAssassin::Plugin::DMARC"};
  condition_context c;
  c.version = 4.0;
  c.plugins = &plugins;
  EXPECT_EQ(evaluate_condition("plugin(Mail::SpamAssassin::Plugin::Dmarc)", c), true);  // renamed
  EXPECT_EQ(evaluate_condition("plugin (Mail::SpamAssassin::Plugin::RaciallyCharged)", c), true);
  EXPECT_EQ(evaluate_condition("!(!plugin(Mail::SpamAssassin::Plugin::DMARC))", c), true);
  EXPECT_EQ(evaluate_condition("version >= 3.004002 && version < 4.000001", c), true);
  EXPECT_EQ(evaluate_condition("!((version >= 3.004000))", c), false);
  EXPECT_EQ(evaluate_condition("1 || 0 && 0", c), true);  // && binds tighter
  EXPECT_EQ(evaluate_condition("(1 || 0) && 0", c), false);
  EXPECT_EQ(evaluate_condition("has(Mail::SpamAssassin::Conf::feature_capture_rules)", c), false);
  EXPECT_EQ(evaluate_condition("can(Mail::SpamAssassin::Conf::perl_min_version_5010000)", c), true);
  EXPECT_EQ(evaluate_condition("Some::Bareword", c), false);
  EXPECT_EQ(evaluate_condition("1 / 0", c), std::nullopt);
  EXPECT_EQ(evaluate_condition("version >=", c), std::nullopt);
  EXPECT_EQ(evaluate_condition("plugin", c), std::nullopt);
  EXPECT_EQ(evaluate_condition("1.2.3", c), std::nullopt);
  EXPECT_EQ(evaluate_condition("", c), std::nullopt);
  EXPECT_EQ(evaluate_condition(std::string(500, '('), c), std::nullopt);
  // Perl's ^ saturates numbers outside 64 bits (found by the fuzzer: a UB cast).
  EXPECT_EQ(evaluate_condition("9999999999999999999999999 ^ 1", c), true);
  EXPECT_EQ(evaluate_condition("1 ^ 1", c), false);
  EXPECT_EQ(evaluate_condition("-1 ^ 0", c), true);
}

TEST(RuleLoader, MalformedLinesAreCountedNeverFatal) {
  std::string text =
      "body\n"                          // no name
      "body ONLY_NAME\n"                // no definition
      "body 9BAD /x/\n"                 // not a rule name
      "body BAD-NAME /x/\n"
      "body NO_DELIM abc\n"
      "body UNTERM /abc\n"
      "body UNESCAPED /a/b/\n"
      "uri URI_EVAL eval:check_x()\n"   // uri has no evals: a bad regex
      "header HDR_NO_OP Subject /x/\n"
      "header HDR_BAD_MOD Subject:foo =~ /x/\n"
      "header EX_BAD exists:Bad Header\n"
      "body EV eval:check_bayes(\n"
      "meta BAD_META A &&\n"
      "meta SIGIL $x\n"
      "meta POW A ** 2\n"
      "meta DIV A / B\n"                // division by zero possible (SA's check)
      "score\n"
      "score X 1 2\n"
      "score X abc\n"
      "score NEVER (1)\n"
      "priority X high\n"
      "tflags ONLY_NAME\n"
      "required_score many\n"
      "endif\n"
      "else\n"
      "if\n"
      "body OK /fine/\n";
  rule_set set = load(text);
  EXPECT_EQ(set.stats.parse_errors, 26u);
  EXPECT_EQ(set.stats.error_samples.size(), 10u);
  EXPECT_NE(set.stats.error_samples[0].find("test.cf:1:"), std::string::npos) << set.stats.error_samples[0];
  ASSERT_EQ(set.rules.size(), 1u);
  EXPECT_EQ(set.rules[0].name, "OK");
}

TEST(RuleLoader, UnknownDirectivesAreCountedByName) {
  rule_set set = load(
      "loadplugin Mail::SpamAssassin::Plugin::Foo\n"
      "report _SUMMARY_\n"
      "report more\n"
      "add_header all Status _YESNO_\n"
      "util_rb_tld com\n"
      "test SOME_RULE ok foo\n"
      "reuse SOME_RULE\n"
      "require_version @@VERSION@@\n");
  EXPECT_EQ(set.stats.unknown_directives, 5u);
  EXPECT_EQ(set.stats.unknown_by_directive.at("report"), 2u);
  EXPECT_EQ(set.stats.unknown_by_directive.at("loadplugin"), 1u);
  EXPECT_EQ(set.stats.unknown_by_directive.count("test"), 0u);
  EXPECT_EQ(set.stats.parse_errors, 0u);
}

TEST(RuleLoader, RequireVersionMismatchSkipsRestOfFile) {
  rule_set set = load("body A /a/\nrequire_version 3.001000\nbody B /b/\n");
  EXPECT_NE(set.find("A"), nullptr);
  EXPECT_EQ(set.find("B"), nullptr);
  EXPECT_EQ(set.stats.skipped_block_lines, 1u);
}

TEST(RuleLoader, ReplaceTags) {
  rule_set set = load(
      "ifplugin Mail::SpamAssassin::Plugin::ReplaceTags\n"
      "replace_tag   A   [a@]\n"
      "replace_tag   B   [b8]\n"
      "replace_tag   AB  <A><B>\n"
      "replace_inter W1  \\W?\n"
      "replace_post  P2  {1,2}\n"
      "replace_pre   Q   x\n"
      "endif\n"
      "body R_PLAIN /<A><B>c/i\n"
      "body R_INTER /<inter W1>z<A><B>/\n"
      "body R_POST  /<post P2><A>-<B>/\n"
      "body R_PRE   /<pre Q><A>/\n"
      "body R_NESTED /<AB>/\n"
      "body R_UNKNOWN /<NOPE>(?<name>x)/\n"
      "body R_NOT_LISTED /<A>/\n"
      "header R_HDR Subject =~ /<A>/\n"
      "replace_rules R_PLAIN R_INTER R_POST\n"
      "replace_rules R_PRE R_NESTED R_UNKNOWN R_HDR\n");
  EXPECT_EQ(set.stats.parse_errors, 0u);
  EXPECT_EQ(get(set, "R_PLAIN").pattern, "[a@][b8]c");
  EXPECT_EQ(get(set, "R_INTER").pattern, "z[a@]\\W?[b8]");
  EXPECT_EQ(get(set, "R_POST").pattern, "[a@]{1,2}-[b8]{1,2}");
  EXPECT_EQ(get(set, "R_PRE").pattern, "x[a@]");
  EXPECT_EQ(get(set, "R_NESTED").pattern, "[a@][b8]");
  EXPECT_EQ(get(set, "R_UNKNOWN").pattern, "<NOPE>(?<name>x)");
  EXPECT_EQ(get(set, "R_NOT_LISTED").pattern, "<A>");
  EXPECT_EQ(get(set, "R_HDR").pattern, "[a@]");

  // Without the plugin the directives are unknown and nothing is replaced.
  load_options o = test_options();
  o.plugins.erase(o.plugins.begin());
  rule_set plain = load("replace_tag A [a@]\nbody R /<A>/\nreplace_rules R\n", o);
  EXPECT_EQ(get(plain, "R").pattern, "<A>");
  EXPECT_EQ(plain.stats.unknown_by_directive.at("replace_tag"), 1u);
}

TEST(RuleLoader, ReplaceTagsCustomDelimitersAndLimits) {
  replace_tags_config c;
  c.start = "%{";
  c.end = "}";
  c.tags["X"] = "[xX]";
  EXPECT_EQ(apply_replace_tags("a%{X}b%{X}", c), "a[xX]b[xX]");
  // A tag that refers to itself stops after six passes instead of looping.
  replace_tags_config loop;
  loop.tags["L"] = "(<L>)";
  std::string out = apply_replace_tags("<L>", loop);
  EXPECT_EQ(out, "((((((<L>))))))");
  // A value of "0" is false in Perl: not replaced.
  replace_tags_config zero;
  zero.tags["Z"] = "0";
  EXPECT_EQ(apply_replace_tags("<Z>", zero), "<Z>");
}

class RuleFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/rule_loader_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void write(const std::string& name, const std::string& text) {
    std::filesystem::create_directories(std::filesystem::path(dir_ + "/" + name).parent_path());
    std::ofstream(dir_ + "/" + name) << text;
  }
  std::string dir_;
};

TEST_F(RuleFilesTest, DirectoryLoadsCfFilesInNameOrder) {
  write("20_b.cf", "body SHARED /second/\nscore SHARED 2\n");
  write("10_a.cf", "body SHARED /first/\nbody ONLY_A /a/\n");
  write("30_c.txt", "body IGNORED /x/\n");
  write("40_d.cf", "ifplugin Mail::SpamAssassin::Plugin::Bayes\nbody UNCLOSED /x/\n");  // closed at EOF
  write("50_e.cf", "body AFTER_UNCLOSED /x/\n");
  auto set = load_rules({dir_}, test_options());
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->stats.files, 4u);
  EXPECT_EQ(get(*set, "SHARED").pattern, "second");
  EXPECT_EQ(set->index.at("SHARED"), 0u);
  EXPECT_DOUBLE_EQ(get(*set, "SHARED").score, 2.0);
  EXPECT_EQ(set->find("IGNORED"), nullptr);
  EXPECT_NE(set->find("AFTER_UNCLOSED"), nullptr);
  EXPECT_EQ(set->stats.parse_errors, 1u);  // the unclosed block
}

TEST_F(RuleFilesTest, IncludeIsRelativeToTheIncludingFile) {
  write("main.cf", "include sub/inner.cf\nbody MAIN /m/\n");
  write("sub/inner.cf", "body INNER /i/\ninclude deeper.cf\n");
  write("sub/deeper.cf", "body DEEPER /d/\n");
  write("loop.cf", "body LOOP /l/\ninclude loop.cf\n");
  auto set = load_rules({dir_ + "/main.cf"}, test_options());
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_NE(set->find("INNER"), nullptr);
  EXPECT_NE(set->find("DEEPER"), nullptr);
  EXPECT_NE(set->find("MAIN"), nullptr);
  EXPECT_EQ(set->stats.files, 3u);
  EXPECT_EQ(set->stats.parse_errors, 0u);

  auto loop = load_rules({dir_ + "/loop.cf"}, test_options());
  ASSERT_TRUE(loop.ok());
  EXPECT_EQ(loop->stats.parse_errors, 1u);  // nesting bound, not a stack overflow
  EXPECT_NE(loop->find("LOOP"), nullptr);

  write("bad.cf", "include missing.cf\nbody STILL /s/\n");
  auto bad = load_rules({dir_ + "/bad.cf"}, test_options());
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(bad->stats.parse_errors, 1u);
  EXPECT_NE(bad->find("STILL"), nullptr);
}

TEST_F(RuleFilesTest, UnreadablePathIsAnError) {
  EXPECT_FALSE(load_rules({dir_ + "/nope.cf"}, test_options()).ok());
}

TEST(RuleLoader, HostileInput) {
  std::string text;
  for (int i = 0; i < 5000; ++i) text += "if (version >= 1)\n";  // deep nesting, never closed
  text += "body DEEP /x/\n";
  text += "body LONG /" + std::string(200000, 'a') + "/\n";
  text += std::string("\0\xff\x01 body \x80\n", 11);
  text += "meta NEST " + std::string(10000, '(') + "A" + std::string(10000, ')') + "\n";
  text += "header H " + std::string(5000, ':') + "\n";
  rule_set set = load(text);
  EXPECT_NE(set.find("DEEP"), nullptr);
  EXPECT_EQ(get(set, "LONG").pattern.size(), 200000u);
  EXPECT_EQ(set.find("NEST"), nullptr);  // nesting bound
  EXPECT_GT(set.stats.parse_errors, 0u);
}

}  // namespace
}  // namespace ringmail::spam
