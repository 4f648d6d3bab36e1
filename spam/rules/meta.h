// meta rules: boolean and arithmetic expressions over other rules' results, as
// SpamAssassin evaluates them (Perl semantics: a rule name is its hit count, 0 when it did
// not hit or does not exist; && || ! + - * / > < >= <= == != and parentheses; numbers).
// Compiled once per rule set into a small program; evaluated per message in topological
// order so metas over metas see their inputs.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "spam/rules/rule.h"

namespace ringmail::spam {

// Whether SpamAssassin would accept `expression` as a meta rule (Conf::Parser::is_meta_valid
// plus the `meta` directive's own check): no Perl sigils or "::" / "->", no "**", every
// token a rule name, a number or an operator, a well-formed expression, and no division
// by zero when every rule reads 0 (Perl dies on it; SA calls it "division by zero
// possible"). The loader drops invalid metas as parse errors.
bool is_valid_meta_expression(std::string_view expression, std::string* error = nullptr);

// Perl's numeric `^`: both sides as unsigned 64-bit integers (saturating, NaN as 0).
double perl_xor(double a, double b);

class meta_program {
 public:
  // Compiles every rule_kind::meta rule of `set`. Metas with a syntax error or a cycle
  // are dropped and counted (`dropped()`); references to unknown rules read as 0.
  explicit meta_program(const rule_set& set);

  // `hits[i]` is rule i's hit count (0 = no hit) for every non-meta rule; fills in the
  // meta rules' entries (1 or 0; or the value for arithmetic metas used in other metas:
  // a true result counts as in PerMsgStatus::got_hit — values below 1, negative ones
  // included, become 1, larger ones are truncated). `hits` is grown to the rule count
  // if shorter. No allocation otherwise; safe to call concurrently.
  void evaluate(std::vector<uint32_t>& hits) const;

  size_t dropped() const { return dropped_; }
  const std::vector<std::string>& errors() const { return errors_; }

 private:
  struct op;
  std::vector<uint32_t> order_;             // meta rule indices, inputs first
  std::vector<op> code_;                    // all programs, back to back (RPN with jumps)
  std::vector<uint32_t> code_start_;        // program of order_[i]: [start[i], start[i+1])
  std::vector<uint32_t> dropped_rules_;     // meta rules that never hit (reset to 0)
  size_t rule_count_ = 0;
  size_t dropped_ = 0;
  std::vector<std::string> errors_;
 public:
  ~meta_program();
  meta_program(meta_program&&) noexcept;
  meta_program& operator=(meta_program&&) noexcept;
};

}  // namespace ringmail::spam
