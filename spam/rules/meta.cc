#include "spam/rules/meta.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <deque>
#include <functional>
#include <limits>

#include "spam/rules/syntax.h"

namespace ringmail::spam {
namespace {

// Bounds that keep a hostile rule file from costing more than a small fixed stack.
constexpr size_t kMaxExpressionBytes = 64 * 1024;
constexpr size_t kMaxProgramOps = 16 * 1024;
constexpr size_t kMaxStack = 256;  // evaluation stack (doubles), checked at compile time
constexpr int kMaxNesting = 100;   // parentheses / unary chains

enum class opcode : uint8_t {
  constant,   // push value
  load,       // push hits[arg]
  logical_not, negate,
  add, sub, mul, div, bit_xor,
  lt, gt, le, ge, eq, ne,
  and_jump,   // Perl &&: top false -> jump to arg keeping it; else pop
  or_jump,    // Perl ||: top true -> jump keeping it; else pop
  jump_if_false,  // ?: pop; false -> jump
  jump,
};

struct instr {
  opcode code = opcode::constant;
  uint32_t arg = 0;
  double value = 0;
};

bool is_jump(opcode c) {
  return c == opcode::and_jump || c == opcode::or_jump || c == opcode::jump_if_false || c == opcode::jump;
}

bool is_word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

struct token {
  enum kind_t { number, name, op } kind;
  std::string text;
  double value = 0;
};

// Constants::ARITH_EXPRESSION_LEXER under m//g (characters that start no token are
// skipped, as Perl's global match skips them), then is_meta_valid's token check: a
// [-+\d.] run must be a plain number or one or two signs Perl reads as operators.
bool lex(std::string_view s, std::vector<token>& out, std::string* error) {
  auto fail = [&](std::string why) {
    if (error) *error = std::move(why);
    return false;
  };
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    auto number_char = [](char ch) { return (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '+'; };
    if (number_char(c)) {
      size_t j = i;
      while (j < s.size() && number_char(s[j])) ++j;
      std::string run(s.substr(i, j - i));
      i = j;
      if (run == "+" || run == "-") {
        out.push_back({token::op, run});
      } else if (run == "+-" || run == "-+") {
        out.push_back({token::op, run.substr(0, 1)});
        out.push_back({token::op, run.substr(1, 1)});
      } else {
        // \d+(?:\.\d+)?
        size_t k = 0;
        while (k < run.size() && run[k] >= '0' && run[k] <= '9') ++k;
        bool ok = k > 0;
        if (ok && k < run.size()) {
          ok = run[k] == '.' && k + 1 < run.size();
          for (size_t m = k + 1; ok && m < run.size(); ++m) ok = run[m] >= '0' && run[m] <= '9';
        }
        if (!ok) return fail("invalid token '" + run + "'");
        out.push_back({token::number, run, std::strtod(run.c_str(), nullptr)});
      }
      continue;
    }
    if (is_word_char(c)) {
      size_t j = i;
      while (j < s.size() && (is_word_char(s[j]) || s[j] == ':')) ++j;
      std::string word(s.substr(i, j - i));
      i = j;
      if (!is_rule_name(word)) return fail("invalid token '" + word + "'");
      out.push_back({token::name, std::move(word)});
      continue;
    }
    size_t len = 0;
    char next = i + 1 < s.size() ? s[i + 1] : '\0';
    switch (c) {
      case '(': case ')': case '^': case '*': case '/': case '?': case ':':
        len = 1;
        break;
      case '|': case '&':
        len = next == c ? 2 : 0;
        break;
      case '!': case '<': case '>':
        len = next == '=' ? 2 : 1;
        break;
      case '=':
        len = next == '=' ? 2 : 0;
        break;
      default:
        break;
    }
    if (len == 0) {
      ++i;
      continue;
    }
    out.push_back({token::op, std::string(s.substr(i, len))});
    i += len;
  }
  return true;
}

// Recursive descent over Perl's precedence (perlop): ?: < || < && < ^ < == != (chained)
// < relational (chained, Perl >= 5.32) < + - < * / < ! and unary -/+ < terms.
class compiler {
 public:
  using resolver = std::function<instr(const std::string& name)>;

  compiler(const std::vector<token>& tokens, resolver resolve) : t_(tokens), resolve_(std::move(resolve)) {}

  bool compile(std::vector<instr>& out, std::string* error) {
    if (t_.empty()) return set_error(error, "empty expression");
    ternary(0);
    if (!failed_ && pos_ != t_.size()) fail("unexpected '" + t_[pos_].text + "'");
    if (!failed_ && code_.size() > kMaxProgramOps) fail("expression too large");
    if (failed_) return set_error(error, why_);
    out = std::move(code_);
    return true;
  }

 private:
  bool set_error(std::string* error, std::string why) {
    if (error) *error = std::move(why);
    return false;
  }
  void fail(std::string why) {
    if (!failed_) why_ = std::move(why);
    failed_ = true;
  }
  bool peek_op(std::string_view s) const { return pos_ < t_.size() && t_[pos_].kind == token::op && t_[pos_].text == s; }
  bool accept(std::string_view s) {
    if (!peek_op(s)) return false;
    ++pos_;
    return true;
  }
  size_t emit(opcode c, uint32_t arg = 0, double value = 0) {
    code_.push_back({c, arg, value});
    return code_.size() - 1;
  }
  void patch(size_t at) { code_[at].arg = static_cast<uint32_t>(code_.size()); }
  bool too_big() {
    if (code_.size() > kMaxProgramOps) fail("expression too large");
    return failed_;
  }

  void ternary(int depth) {
    if (depth > kMaxNesting) return fail("expression nested too deeply");
    logical_or(depth);
    if (failed_ || !accept("?")) return;
    size_t to_else = emit(opcode::jump_if_false);
    ternary(depth + 1);
    if (!accept(":")) return fail("'?' without ':'");
    size_t to_end = emit(opcode::jump);
    patch(to_else);
    ternary(depth + 1);
    patch(to_end);
  }
  void logical_or(int depth) {
    logical_and(depth);
    while (!failed_ && accept("||")) {
      size_t j = emit(opcode::or_jump);
      logical_and(depth);
      patch(j);
    }
  }
  void logical_and(int depth) {
    bit_xor(depth);
    while (!failed_ && accept("&&")) {
      size_t j = emit(opcode::and_jump);
      bit_xor(depth);
      patch(j);
    }
  }
  void bit_xor(int depth) {
    equality(depth);
    while (!failed_ && accept("^")) {
      equality(depth);
      emit(opcode::bit_xor);
    }
  }
  // a OP b OP c  ==  (a OP b) && (b OP c), b evaluated for both (it has no side effects).
  template <typename Operand>
  void chain(Operand operand, std::initializer_list<std::pair<std::string_view, opcode>> ops) {
    auto take = [&](opcode* code) {
      for (auto& [text, c] : ops) {
        if (accept(text)) {
          *code = c;
          return true;
        }
      }
      return false;
    };
    operand();
    opcode c;
    if (failed_ || !take(&c)) return;
    size_t right_start = code_.size();
    operand();
    std::vector<instr> right(code_.begin() + right_start, code_.end());
    emit(c);
    std::vector<size_t> jumps;
    while (!failed_ && take(&c)) {
      jumps.push_back(emit(opcode::and_jump));
      copy_relocated(right, right_start);
      right_start = code_.size();
      operand();
      if (too_big()) return;
      right.assign(code_.begin() + right_start, code_.end());
      emit(c);
    }
    for (size_t j : jumps) patch(j);
  }
  // Appends a copy of a code segment that was compiled at `from`, moving its (forward,
  // segment-internal) jump targets along with it.
  void copy_relocated(const std::vector<instr>& segment, size_t from) {
    size_t to = code_.size();
    for (instr in : segment) {
      if (is_jump(in.code)) in.arg = static_cast<uint32_t>(in.arg - from + to);
      code_.push_back(in);
    }
  }
  void equality(int depth) {
    chain([&] { relational(depth); }, {{"==", opcode::eq}, {"!=", opcode::ne}});
  }
  void relational(int depth) {
    chain([&] { additive(depth); },
          {{"<=", opcode::le}, {">=", opcode::ge}, {"<", opcode::lt}, {">", opcode::gt}});
  }
  void additive(int depth) {
    multiplicative(depth);
    while (!failed_) {
      if (accept("+")) {
        multiplicative(depth);
        emit(opcode::add);
      } else if (accept("-")) {
        multiplicative(depth);
        emit(opcode::sub);
      } else {
        break;
      }
    }
  }
  void multiplicative(int depth) {
    unary(depth);
    while (!failed_) {
      if (accept("*")) {
        unary(depth);
        emit(opcode::mul);
      } else if (accept("/")) {
        unary(depth);
        emit(opcode::div);
      } else {
        break;
      }
    }
  }
  void unary(int depth) {
    if (depth > kMaxNesting) return fail("expression nested too deeply");
    if (accept("!")) {
      unary(depth + 1);
      emit(opcode::logical_not);
    } else if (accept("-")) {
      unary(depth + 1);
      emit(opcode::negate);
    } else if (accept("+")) {
      unary(depth + 1);
    } else {
      primary(depth);
    }
  }
  void primary(int depth) {
    if (too_big()) return;
    if (pos_ >= t_.size()) return fail("unexpected end of expression");
    const token& tok = t_[pos_];
    if (tok.kind == token::number) {
      ++pos_;
      emit(opcode::constant, 0, tok.value);
    } else if (tok.kind == token::name) {
      ++pos_;
      code_.push_back(resolve_(tok.text));
    } else if (accept("(")) {
      if (accept(")")) {
        emit(opcode::constant, 0, 0);  // () is undef, 0 as a number
        return;
      }
      ternary(depth + 1);
      if (!failed_ && !accept(")")) fail("missing ')'");
    } else {
      fail("unexpected '" + tok.text + "'");
    }
  }

  const std::vector<token>& t_;
  resolver resolve_;
  std::vector<instr> code_;
  size_t pos_ = 0;
  bool failed_ = false;
  std::string why_;
};

// Verifies a program the way a bytecode verifier does: every jump goes forward and stays
// inside, every instruction finds the operands it pops, every path into an instruction
// arrives with the same stack depth, and the program leaves exactly one value. Returns
// the deepest the stack gets, or 0 when the program is not well-formed. evaluate()
// relies on this to run without bounds checks.
size_t verified_stack_depth(const std::vector<instr>& code) {
  const size_t n = code.size();
  std::vector<long> depth_at(n + 1, -1);
  depth_at[0] = 0;
  long max_depth = 0;
  auto arrive = [&](size_t at, long depth) {
    if (depth_at[at] == -1) depth_at[at] = depth;
    return depth_at[at] == depth;
  };
  for (size_t pc = 0; pc < n; ++pc) {
    long d = depth_at[pc];
    if (d < 0) return 0;  // unreachable: not something the compiler emits
    const instr& in = code[pc];
    if (is_jump(in.code) && (in.arg <= pc || in.arg > n)) return 0;
    long next = d;
    bool falls_through = true;
    switch (in.code) {
      case opcode::constant: case opcode::load: next = d + 1; break;
      case opcode::logical_not: case opcode::negate:
        if (d < 1) return 0;
        break;
      case opcode::and_jump: case opcode::or_jump:
        if (d < 1 || !arrive(in.arg, d)) return 0;
        next = d - 1;
        break;
      case opcode::jump_if_false:
        if (d < 1 || !arrive(in.arg, d - 1)) return 0;
        next = d - 1;
        break;
      case opcode::jump:
        if (!arrive(in.arg, d)) return 0;
        falls_through = false;
        break;
      default:  // binary operators
        if (d < 2) return 0;
        next = d - 1;
        break;
    }
    max_depth = std::max(max_depth, next);
    if (falls_through && !arrive(pc + 1, next)) return 0;
  }
  if (depth_at[n] != 1) return 0;
  return static_cast<size_t>(max_depth);
}

// Runs one program. `load` gives the value of a rule. Division by zero ends the program
// with 0 — where Perl's meta sub would die — and is reported through *divided_by_zero.
template <typename Instr, typename Load>
double run(const Instr* code, size_t n, Load load, bool* divided_by_zero) {
  double stack[kMaxStack];
  size_t sp = 0;
  for (size_t pc = 0; pc < n;) {
    const instr& in = code[pc++];  // Instr is instr or meta_program::op (derived from it)
    switch (in.code) {
      case opcode::constant: stack[sp++] = in.value; break;
      case opcode::load: stack[sp++] = load(in.arg); break;
      case opcode::logical_not: stack[sp - 1] = stack[sp - 1] == 0 ? 1 : 0; break;
      case opcode::negate: stack[sp - 1] = -stack[sp - 1]; break;
      case opcode::and_jump:
        if (stack[sp - 1] == 0) pc = in.arg; else --sp;
        break;
      case opcode::or_jump:
        if (stack[sp - 1] != 0) pc = in.arg; else --sp;
        break;
      case opcode::jump_if_false:
        if (stack[--sp] == 0) pc = in.arg;
        break;
      case opcode::jump: pc = in.arg; break;
      default: {
        double b = stack[--sp];
        double& a = stack[sp - 1];
        switch (in.code) {
          case opcode::add: a = a + b; break;
          case opcode::sub: a = a - b; break;
          case opcode::mul: a = a * b; break;
          case opcode::div:
            if (b == 0) {
              // Perl dies ("Illegal division by zero") and the meta does not hit.
              if (divided_by_zero) *divided_by_zero = true;
              return 0;
            }
            a = a / b;
            break;
          case opcode::bit_xor: a = perl_xor(a, b); break;
          case opcode::lt: a = a < b; break;
          case opcode::gt: a = a > b; break;
          case opcode::le: a = a <= b; break;
          case opcode::ge: a = a >= b; break;
          case opcode::eq: a = a == b; break;
          case opcode::ne: a = a != b; break;
          default: break;
        }
      }
    }
  }
  return sp > 0 ? stack[0] : 0;
}

// PerMsgStatus::got_hit stores a true meta's value, but at least 1.
uint32_t hit_value(double r) {
  if (r == 0 || std::isnan(r)) return 0;
  if (r < 1) return 1;
  if (r >= 4294967295.0) return std::numeric_limits<uint32_t>::max();
  return static_cast<uint32_t>(r);
}

// Shell-style glob (* and ?) over the whole name.
bool glob_match(std::string_view glob, std::string_view name) {
  size_t g = 0, n = 0, star = std::string_view::npos, star_n = 0;
  while (n < name.size()) {
    if (g < glob.size() && (glob[g] == '?' || glob[g] == name[n])) {
      ++g, ++n;
    } else if (g < glob.size() && glob[g] == '*') {
      star = g++;
      star_n = n;
    } else if (star != std::string_view::npos) {
      g = star + 1;
      n = ++star_n;
    } else {
      return false;
    }
  }
  while (g < glob.size() && glob[g] == '*') ++g;
  return g == glob.size();
}

// Conf::Parser's META_RULES_MATCHING_RE: rules_matching(GLOB) becomes `expand(GLOB)`.
std::string expand_rules_matching(std::string_view s, const std::function<std::string(std::string_view)>& expand) {
  std::string out;
  size_t i = 0;
  constexpr std::string_view kFn = "rules_matching(";
  for (size_t p = s.find(kFn); p != std::string_view::npos; p = s.find(kFn, p + 1)) {
    if (p > 0 && is_word_char(s[p - 1])) continue;
    size_t q = p + kFn.size();
    while (q < s.size() && (s[q] == ' ' || s[q] == '\t')) ++q;
    size_t g = q;
    auto glob_char = [](char c) { return is_word_char(c) || c == '*' || c == '?'; };
    if (g >= s.size() || !(glob_char(s[g]) && !(s[g] >= '0' && s[g] <= '9'))) continue;
    while (q < s.size() && glob_char(s[q])) ++q;
    if (q - g > 128) continue;
    std::string_view glob = s.substr(g, q - g);
    while (q < s.size() && (s[q] == ' ' || s[q] == '\t')) ++q;
    if (q >= s.size() || s[q] != ')') continue;
    out.append(s.substr(i, p - i));
    out += expand(glob);
    i = q + 1;
    p = q;
  }
  out.append(s.substr(i));
  return out;
}

bool compile_expression(std::string_view expression, const compiler::resolver& resolve,
                        const std::function<std::string(std::string_view)>& expand, std::vector<instr>& code,
                        std::string* error) {
  if (expression.size() > kMaxExpressionBytes) {
    if (error) *error = "expression too long";
    return false;
  }
  std::string text = expand_rules_matching(expression, expand);
  std::vector<token> tokens;
  if (!lex(text, tokens, error)) return false;
  if (!compiler(tokens, resolve).compile(code, error)) return false;
  size_t depth = verified_stack_depth(code);
  if (depth == 0 || depth > kMaxStack) {
    if (error) *error = depth == 0 ? "internal error: malformed program" : "expression too deep";
    return false;
  }
  return true;
}

}  // namespace

// Perl converts each side to an unsigned 64-bit integer, saturating out-of-range values
// (a double outside that range is undefined behaviour in a C++ cast).
double perl_xor(double a, double b) {
  auto uv = [](double x) -> uint64_t {
    if (std::isnan(x)) return 0;
    if (x < 0) return x <= -9.2e18 ? 0x8000000000000000ull : static_cast<uint64_t>(static_cast<int64_t>(x));
    return x >= 1.8e19 ? std::numeric_limits<uint64_t>::max() : static_cast<uint64_t>(x);
  };
  return static_cast<double>(uv(a) ^ uv(b));
}


struct meta_program::op : instr {};

bool is_valid_meta_expression(std::string_view expression, std::string* error) {
  // Bug 7557's paranoid check, and the `meta` directive's refusal of ** and * *.
  for (size_t i = 0; i < expression.size(); ++i) {
    char c = expression[i];
    char next = i + 1 < expression.size() ? expression[i + 1] : '\0';
    if (c == '$' || c == '@' || c == '%' || c == ';' || c == '{' || c == '}' || (c == ':' && next == ':') ||
        (c == '-' && next == '>')) {
      if (error) *error = "invalid character in meta expression";
      return false;
    }
    if (c == '*') {
      size_t j = i + 1;
      while (j < expression.size() && (expression[j] == ' ' || (expression[j] >= '\t' && expression[j] <= '\r'))) ++j;
      if (j < expression.size() && expression[j] == '*') {
        if (error) *error = "invalid '**' or '* *' operator";
        return false;
      }
    }
  }
  std::vector<instr> code;
  auto zero = [](const std::string&) { return instr{opcode::constant, 0, 0}; };
  auto zero_glob = [](std::string_view) { return std::string(" 0 "); };
  if (!compile_expression(expression, zero, zero_glob, code, error)) return false;
  bool divided_by_zero = false;
  run(code.data(), code.size(), [](uint32_t) { return 0.0; }, &divided_by_zero);
  if (divided_by_zero) {
    if (error) *error = "division by zero possible";
    return false;
  }
  return true;
}

meta_program::meta_program(const rule_set& set) {
  rule_count_ = set.rules.size();
  const size_t n = set.rules.size();
  std::vector<std::vector<instr>> programs(n);
  std::vector<bool> compiled(n, false);

  for (size_t i = 0; i < n; ++i) {
    const rule& r = set.rules[i];
    if (r.kind != rule_kind::meta) continue;
    auto resolve = [&](const std::string& name) {
      auto it = set.index.find(name);
      if (it == set.index.end() || it->second >= n) return instr{opcode::constant, 0, 0};
      return instr{opcode::load, it->second, 0};
    };
    // rules_matching(GLOB): the sum of every other rule whose name matches, as
    // Conf::Parser::expand_ruleglob builds it (sorted names joined by '+').
    auto expand = [&](std::string_view glob) {
      std::vector<std::string_view> names;
      for (const rule& other : set.rules) {
        if (other.name != r.name && glob_match(glob, other.name)) names.push_back(other.name);
      }
      std::sort(names.begin(), names.end());
      std::string sum = " (";
      for (size_t k = 0; k < names.size(); ++k) {
        if (k) sum += '+';
        sum += names[k];
      }
      sum += names.empty() ? "0) " : ") ";
      return sum;
    };
    std::string error;
    if (compile_expression(r.meta_expression, resolve, expand, programs[i], &error)) {
      compiled[i] = true;
    } else {
      ++dropped_;
      dropped_rules_.push_back(static_cast<uint32_t>(i));
      errors_.push_back(r.name + ": " + error);
    }
  }

  // A reference to a meta that did not compile reads 0, as if the rule did not exist.
  // Every other meta reference is an edge for the topological sort.
  std::vector<std::vector<uint32_t>> dependents(n);
  std::vector<uint32_t> pending_inputs(n, 0);
  for (size_t i = 0; i < n; ++i) {
    if (!compiled[i]) continue;
    std::vector<uint32_t> seen;
    for (instr& in : programs[i]) {
      if (in.code != opcode::load || set.rules[in.arg].kind != rule_kind::meta) continue;
      if (!compiled[in.arg]) {
        in = instr{opcode::constant, 0, 0};
        continue;
      }
      if (std::find(seen.begin(), seen.end(), in.arg) != seen.end()) continue;
      seen.push_back(in.arg);
      dependents[in.arg].push_back(static_cast<uint32_t>(i));
      ++pending_inputs[i];
    }
  }
  // Kahn's algorithm, in rule order for a deterministic result.
  std::deque<uint32_t> ready;
  for (size_t i = 0; i < n; ++i) {
    if (compiled[i] && pending_inputs[i] == 0) ready.push_back(static_cast<uint32_t>(i));
  }
  std::vector<bool> placed(n, false);
  while (!ready.empty()) {
    uint32_t i = ready.front();
    ready.pop_front();
    placed[i] = true;
    order_.push_back(i);
    for (uint32_t d : dependents[i]) {
      if (--pending_inputs[d] == 0) ready.push_back(d);
    }
  }
  // What is left is in a cycle or depends on one: SpamAssassin excludes those metas
  // ("unsolved meta dependencies") and so do we.
  for (size_t i = 0; i < n; ++i) {
    if (compiled[i] && !placed[i]) {
      ++dropped_;
      dropped_rules_.push_back(static_cast<uint32_t>(i));
      errors_.push_back(set.rules[i].name + ": unsolved meta dependencies (cycle)");
    }
  }

  code_start_.reserve(order_.size() + 1);
  for (uint32_t i : order_) {
    code_start_.push_back(static_cast<uint32_t>(code_.size()));
    for (const instr& in : programs[i]) code_.push_back(op{in});  // jump targets stay program-relative
  }
  code_start_.push_back(static_cast<uint32_t>(code_.size()));
}

void meta_program::evaluate(std::vector<uint32_t>& hits) const {
  if (hits.size() < rule_count_) hits.resize(rule_count_, 0);
  for (uint32_t i : dropped_rules_) hits[i] = 0;
  const uint32_t* values = hits.data();
  auto load = [values](uint32_t i) { return static_cast<double>(values[i]); };
  for (size_t k = 0; k < order_.size(); ++k) {
    uint32_t start = code_start_[k];
    double r = run(code_.data() + start, code_start_[k + 1] - start, load, nullptr);
    hits[order_[k]] = hit_value(r);
  }
}

meta_program::~meta_program() = default;
meta_program::meta_program(meta_program&&) noexcept = default;
meta_program& meta_program::operator=(meta_program&&) noexcept = default;

}  // namespace ringmail::spam
