// meta rules evaluated with Perl's semantics, as SpamAssassin's compiled meta subs do
// (values checked against perl 5.36 running Mail::SpamAssassin 4.0.1's Conf::Parser).
#include "spam/rules/meta.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "spam/rules/loader.h"

namespace ringmail::spam {
namespace {

// Rule set with body rules A..E (the inputs) and the given metas.
rule_set make_set(const std::map<std::string, std::string>& metas, const std::string& extra = "") {
  std::string text = "body A /a/\nbody B /b/\nbody C /c/\nbody D /d/\nbody E /e/\n" + extra;
  for (const auto& [name, expr] : metas) text += "meta " + name + " " + expr + "\n";
  return load_rules_from_text(text, load_options{});
}

class meta_eval {
 public:
  explicit meta_eval(rule_set set) : set_(std::move(set)), program_(set_) {}
  // Evaluates with the named inputs set; returns every rule's value by name.
  uint32_t value(const std::string& meta, const std::map<std::string, uint32_t>& inputs) {
    std::vector<uint32_t> hits(set_.rules.size(), 0);
    for (const auto& [name, v] : inputs) hits[set_.index.at(name)] = v;
    program_.evaluate(hits);
    return hits[set_.index.at(meta)];
  }
  const meta_program& program() const { return program_; }
  const rule_set& set() const { return set_; }

 private:
  rule_set set_;
  meta_program program_;
};

TEST(Meta, BooleanPrecedence) {
  meta_eval m(make_set({{"M_OR_AND", "A || B && C"},
                        {"M_NOT", "!A && B"},
                        {"M_PAREN", "(A || B) && C"},
                        {"M_NOT_PAREN", "!(A || B)"},
                        {"M_DOUBLE_NOT", "!!A"}}));
  EXPECT_EQ(m.value("M_OR_AND", {{"A", 1}}), 1u);  // && binds tighter than ||
  EXPECT_EQ(m.value("M_OR_AND", {{"B", 1}}), 0u);
  EXPECT_EQ(m.value("M_OR_AND", {{"B", 1}, {"C", 1}}), 1u);
  EXPECT_EQ(m.value("M_NOT", {{"B", 1}}), 1u);  // ! binds tighter than &&
  EXPECT_EQ(m.value("M_NOT", {{"A", 1}, {"B", 1}}), 0u);
  EXPECT_EQ(m.value("M_PAREN", {{"A", 1}}), 0u);
  EXPECT_EQ(m.value("M_PAREN", {{"A", 1}, {"C", 1}}), 1u);
  EXPECT_EQ(m.value("M_NOT_PAREN", {}), 1u);
  EXPECT_EQ(m.value("M_NOT_PAREN", {{"B", 1}}), 0u);
  EXPECT_EQ(m.value("M_DOUBLE_NOT", {{"A", 7}}), 1u);
  EXPECT_EQ(m.program().dropped(), 0u);
}

TEST(Meta, ArithmeticAndComparisons) {
  meta_eval m(make_set({{"SUM_GT_1", "(A + B + C) > 1"},
                        {"WEIGHTED", "(3 * A - 2 * B) > 0"},
                        {"MUL_BEFORE_ADD", "A + B * C >= 3"},
                        {"COUNT_EQ", "A == 2"},
                        {"COUNT_NE", "A != 2"},
                        {"LE", "A <= 1"},
                        {"LT", "A < 1"},
                        {"FRACTION", "A / 4"},
                        {"NEGATIVE", "A - 5"},
                        {"VALUE", "A + B"},
                        {"TERNARY", "A ? B : C"},
                        {"CHAINED", "1 < A < 4"},
                        {"XOR", "A ^ B"}}));
  EXPECT_EQ(m.value("SUM_GT_1", {{"A", 1}}), 0u);
  EXPECT_EQ(m.value("SUM_GT_1", {{"A", 1}, {"C", 1}}), 1u);
  EXPECT_EQ(m.value("WEIGHTED", {{"A", 1}, {"B", 1}}), 1u);
  EXPECT_EQ(m.value("WEIGHTED", {{"A", 2}, {"B", 3}}), 0u);
  EXPECT_EQ(m.value("MUL_BEFORE_ADD", {{"A", 1}, {"B", 1}, {"C", 1}}), 0u);
  EXPECT_EQ(m.value("MUL_BEFORE_ADD", {{"A", 1}, {"B", 2}, {"C", 1}}), 1u);
  EXPECT_EQ(m.value("COUNT_EQ", {{"A", 2}}), 1u);
  EXPECT_EQ(m.value("COUNT_NE", {{"A", 2}}), 0u);
  EXPECT_EQ(m.value("LE", {}), 1u);
  EXPECT_EQ(m.value("LT", {{"A", 1}}), 0u);
  EXPECT_EQ(m.value("FRACTION", {{"A", 1}}), 1u);  // 0.25 is true: a hit worth at least 1
  EXPECT_EQ(m.value("FRACTION", {{"A", 10}}), 2u); // 2.5, truncated
  EXPECT_EQ(m.value("NEGATIVE", {{"A", 1}}), 1u);  // -4 is true in Perl
  EXPECT_EQ(m.value("NEGATIVE", {{"A", 5}}), 0u);
  EXPECT_EQ(m.value("VALUE", {{"A", 2}, {"B", 3}}), 5u);
  EXPECT_EQ(m.value("TERNARY", {{"A", 1}, {"B", 4}, {"C", 9}}), 4u);
  EXPECT_EQ(m.value("TERNARY", {{"B", 4}, {"C", 9}}), 9u);
  EXPECT_EQ(m.value("CHAINED", {{"A", 2}}), 1u);
  EXPECT_EQ(m.value("CHAINED", {{"A", 5}}), 0u);
  EXPECT_EQ(m.value("CHAINED", {{"A", 1}}), 0u);
  EXPECT_EQ(m.value("XOR", {{"A", 3}, {"B", 1}}), 2u);
}

TEST(Meta, PerlAndOrReturnTheDecidingOperand) {
  meta_eval m(make_set({{"AND_VALUE", "A && B"}, {"OR_VALUE", "A || B"}, {"USE", "(A && B) + (A || B)"}}));
  EXPECT_EQ(m.value("AND_VALUE", {{"A", 2}, {"B", 3}}), 3u);
  EXPECT_EQ(m.value("OR_VALUE", {{"A", 2}, {"B", 3}}), 2u);
  EXPECT_EQ(m.value("OR_VALUE", {{"B", 3}}), 3u);
  EXPECT_EQ(m.value("USE", {{"A", 2}, {"B", 3}}), 5u);
}

TEST(Meta, MetasOverMetasInAnyDefinitionOrder) {
  // TOP is defined before the metas it uses; evaluation still sees their values.
  rule_set set = load_rules_from_text(
      "meta TOP MID1 && MID2\n"
      "meta MID1 __SUB_A || __SUB_B\n"
      "meta MID2 (__SUB_A + __SUB_B + C) > 1\n"
      "body __SUB_A /a/\n"
      "body __SUB_B /b/\n"
      "body C /c/\n"
      "meta COUNTS MID2 + MID2\n",
      load_options{});
  meta_eval m(std::move(set));
  EXPECT_EQ(m.value("TOP", {{"__SUB_A", 1}, {"C", 1}}), 1u);
  EXPECT_EQ(m.value("TOP", {{"__SUB_A", 1}}), 0u);
  EXPECT_EQ(m.value("COUNTS", {{"__SUB_A", 1}, {"__SUB_B", 1}}), 2u);
  EXPECT_EQ(m.program().dropped(), 0u);
}

TEST(Meta, CyclesAreDroppedWithTheirDependents) {
  rule_set set = make_set({{"CYC_A", "CYC_B || A"},
                           {"CYC_B", "CYC_A && B"},
                           {"SELF", "SELF || A"},
                           {"USES_CYCLE", "CYC_A || C"},
                           {"FINE", "A || C"}});
  meta_eval m(std::move(set));
  EXPECT_EQ(m.program().dropped(), 4u);
  ASSERT_EQ(m.program().errors().size(), 4u);
  EXPECT_NE(m.program().errors()[0].find("cycle"), std::string::npos);
  EXPECT_EQ(m.value("CYC_A", {{"A", 1}, {"B", 1}}), 0u);
  EXPECT_EQ(m.value("SELF", {{"A", 1}}), 0u);
  EXPECT_EQ(m.value("USES_CYCLE", {{"C", 1}}), 0u);
  EXPECT_EQ(m.value("FINE", {{"C", 1}}), 1u);
}

TEST(Meta, UnknownNamesReadZero) {
  meta_eval m(make_set({{"UNKNOWN", "NO_SUCH_RULE || A"}, {"NOT_UNKNOWN", "!NO_SUCH_RULE"}, {"ONLY", "NO_SUCH_RULE"}}));
  EXPECT_EQ(m.value("UNKNOWN", {}), 0u);
  EXPECT_EQ(m.value("UNKNOWN", {{"A", 1}}), 1u);
  EXPECT_EQ(m.value("NOT_UNKNOWN", {}), 1u);
  EXPECT_EQ(m.value("ONLY", {}), 0u);
  EXPECT_EQ(m.program().dropped(), 0u);
}

TEST(Meta, DivisionByZeroMakesTheMetaFalse) {
  // Perl dies in the meta sub; the meta does not hit.
  meta_eval m(make_set({{"RATIO", "A && (B / C) > 1"}, {"NOT_RATIO", "A && !(B / C)"}}));
  EXPECT_EQ(m.value("RATIO", {{"A", 1}, {"B", 4}, {"C", 2}}), 1u);
  EXPECT_EQ(m.value("RATIO", {{"A", 1}, {"B", 4}}), 0u);
  EXPECT_EQ(m.value("NOT_RATIO", {{"A", 1}, {"B", 4}}), 0u);
}

TEST(Meta, RulesMatching) {
  rule_set set = load_rules_from_text(
      "body __FOO_1 /1/\nbody __FOO_2 /2/\nbody __FOO_3 /3/\nbody __BAR /b/\n"
      "meta FOO_META rules_matching(__FOO_*) >= 2\n"
      "meta FOO_NONE rules_matching(__NOPE_?)\n",
      load_options{});
  meta_eval m(std::move(set));
  EXPECT_EQ(m.value("FOO_META", {{"__FOO_1", 1}, {"__BAR", 1}}), 0u);
  EXPECT_EQ(m.value("FOO_META", {{"__FOO_1", 1}, {"__FOO_3", 1}}), 1u);
  EXPECT_EQ(m.value("FOO_NONE", {{"__FOO_1", 1}}), 0u);
}

TEST(Meta, StaleValuesAreOverwrittenAndHitsGrown) {
  meta_eval m(make_set({{"M", "A && B"}}));
  std::vector<uint32_t> hits(m.set().rules.size(), 0);
  hits[m.set().index.at("M")] = 9;  // left over from a previous message
  hits[m.set().index.at("A")] = 1;
  m.program().evaluate(hits);
  EXPECT_EQ(hits[m.set().index.at("M")], 0u);
  std::vector<uint32_t> short_hits;
  m.program().evaluate(short_hits);
  EXPECT_EQ(short_hits.size(), m.set().rules.size());
}

TEST(Meta, ValidityAsSpamAssassinChecksIt) {
  for (const char* ok : {"A", "A && B", "(0)", "( )", "!A", "-A + +B", "A +- B", "1 < A < 3", "A ? B : C",
                         "A && (B / 2)", "A && (B / C)", "A ,", "rules_matching(FOO_*) > 1", "A == 1 != B",
                         "__A_B9 || _x"}) {
    std::string why;
    EXPECT_TRUE(is_valid_meta_expression(ok, &why)) << ok << ": " << why;
  }
  for (const char* bad : {"", "A &&", "&& A", "A B", "(A", "A)", "A ** 2", "A * * 2", "$A", "A; B", "A::B",
                          "A->B", "{A}", "A -- B", "A ++ B", "1.2.3", "A / B", "A || B / C", "A ? B", "A : B",
                          "A(B)", "9A", "%A", "@A", "A:B"}) {
    EXPECT_FALSE(is_valid_meta_expression(bad)) << bad;
  }
  EXPECT_FALSE(is_valid_meta_expression(std::string(300, '(') + "A" + std::string(300, ')')));
  EXPECT_FALSE(is_valid_meta_expression(std::string(200000, 'A')));
  std::string long_sum = "A";
  for (int i = 0; i < 2000; ++i) long_sum += " + A";
  EXPECT_TRUE(is_valid_meta_expression(long_sum));  // long but shallow
}

TEST(Meta, InvalidMetaInSetIsDroppedNotFatal) {
  // The loader refuses invalid metas; one built by hand is dropped by meta_program.
  rule_set set = make_set({{"GOOD", "A"}});
  rule bad;
  bad.name = "BAD";
  bad.kind = rule_kind::meta;
  bad.meta_expression = "A &&";
  set.index[bad.name] = static_cast<uint32_t>(set.rules.size());
  set.rules.push_back(bad);
  rule uses_bad;
  uses_bad.name = "USES_BAD";
  uses_bad.kind = rule_kind::meta;
  uses_bad.meta_expression = "!BAD";
  set.index[uses_bad.name] = static_cast<uint32_t>(set.rules.size());
  set.rules.push_back(uses_bad);
  meta_eval m(std::move(set));
  EXPECT_EQ(m.program().dropped(), 1u);
  EXPECT_EQ(m.value("BAD", {{"A", 1}}), 0u);
  EXPECT_EQ(m.value("USES_BAD", {}), 1u);  // reads the dropped meta as 0
  EXPECT_EQ(m.value("GOOD", {{"A", 1}}), 1u);
}

TEST(Meta, MovedProgramStillEvaluates) {
  rule_set set = make_set({{"M", "A || B"}});
  meta_program p(set);
  meta_program moved(std::move(p));
  std::vector<uint32_t> hits(set.rules.size(), 0);
  hits[set.index.at("B")] = 1;
  moved.evaluate(hits);
  EXPECT_EQ(hits[set.index.at("M")], 1u);
}

}  // namespace
}  // namespace ringmail::spam
