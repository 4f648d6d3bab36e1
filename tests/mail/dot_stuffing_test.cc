// The one dot-stuffing encoder (mail/dot_stuffing.h) in both of its modes: table cases,
// then a differential test that feeds random messages, split at random chunk borders
// (empty pieces included), to the streaming encoder and to a straightforward whole-buffer
// reference of each mode (split into lines, cut for TOP, stuff, add the terminator).
#include "mail/dot_stuffing.h"

#include <gtest/gtest.h>

#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace ringmail::mail {
namespace {

std::string keep_stuff(std::string_view in, std::optional<uint32_t> top = std::nullopt) {
  return dot_stuff(in, {.cr = bare_cr::keep, .body_lines = top});
}

// The message's lines without their line ends, and how many of them had one.
// line_break: CRLF, bare CR and bare LF end a line. keep: only LF does, and a CR right
// before it (or at the very end of an unended last line) is the CR of that CRLF.
struct split_lines {
  std::vector<std::string> lines;
  size_t ended = 0;
};

split_lines reference_lines(std::string_view in, bare_cr mode) {
  split_lines r;
  std::string cur;
  bool pending = false;  // cur holds an unended line
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (mode == bare_cr::line_break && (c == '\r' || c == '\n')) {
      if (c == '\r' && i + 1 < in.size() && in[i + 1] == '\n') ++i;
    } else if (mode == bare_cr::keep && c == '\n') {
      if (!cur.empty() && cur.back() == '\r') cur.pop_back();
    } else {
      cur.push_back(c);
      pending = true;
      continue;
    }
    r.lines.push_back(cur);
    cur.clear();
    pending = false;
  }
  r.ended = r.lines.size();
  if (pending) {
    if (mode == bare_cr::keep && cur.back() == '\r') cur.pop_back();
    r.lines.push_back(cur);
  }
  return r;
}

struct reference_result {
  std::string out;
  bool done = false;  // TOP has seen the line end of the last line it sends
};

reference_result reference(std::string_view in, dot_stuffing_options o) {
  split_lines split = reference_lines(in, o.cr);
  std::vector<std::string>& lines = split.lines;
  reference_result r;
  if (o.body_lines) {
    // Headers end at the first line of nothing but CRs; then at most n body lines.
    for (size_t i = 0; i < lines.size(); ++i) {
      if (lines[i].find_first_not_of('\r') == std::string::npos) {
        size_t keep = i + 1 + *o.body_lines;
        r.done = keep <= split.ended;
        if (keep < lines.size()) lines.resize(keep);
        break;
      }
    }
  }
  for (const std::string& l : lines) {
    if (!l.empty() && l[0] == '.') r.out.push_back('.');
    r.out += l + "\r\n";
  }
  r.out += ".\r\n";
  return r;
}

TEST(DotStuffing, LineBreakModeCases) {
  EXPECT_EQ(dot_stuff(""), ".\r\n");
  EXPECT_EQ(dot_stuff("a"), "a\r\n.\r\n");
  EXPECT_EQ(dot_stuff(".a\r\n..b\nc.d\re"), "..a\r\n...b\r\nc.d\r\ne\r\n.\r\n");
  EXPECT_EQ(dot_stuff("a\r\r\n"), "a\r\n\r\n.\r\n");  // CR, then CRLF: two line ends
  EXPECT_EQ(dot_stuff("a\n\r"), "a\r\n\r\n.\r\n");    // LF then CR are two, not one
}

TEST(DotStuffing, KeepModeCases) {
  EXPECT_EQ(keep_stuff("bare\rcr\n"), "bare\rcr\r\n.\r\n");  // a lone CR is data
  EXPECT_EQ(keep_stuff("cr at end\r"), "cr at end\r\n.\r\n");
  EXPECT_EQ(keep_stuff("a\r\r\n.b"), "a\r\r\n..b\r\n.\r\n");
  EXPECT_EQ(keep_stuff("x\r.y\n"), "x\r.y\r\n.\r\n");  // not a line start: no stuffing
}

TEST(DotStuffing, TopInBothModes) {
  EXPECT_EQ(keep_stuff("H: a\n\r\nb1\nb2\n", 1), "H: a\r\n\r\nb1\r\n.\r\n");
  EXPECT_EQ(keep_stuff("H: a\n\r\r\nb1\n", 0), "H: a\r\n\r\r\n.\r\n");  // only CRs: blank
  EXPECT_EQ(dot_stuff("H: a\r\rb1\rb2\r", {.body_lines = 1}), "H: a\r\n\r\nb1\r\n.\r\n");
  dot_stuffer s({.cr = bare_cr::line_break, .body_lines = 0});
  std::string out;
  s.append("H: a\r\n\r", out);
  EXPECT_TRUE(s.done());
  s.append("\nmore", out);  // ignored after done()
  s.finish(out);
  EXPECT_EQ(out, "H: a\r\n\r\n.\r\n");
}

// A CR at the end of one piece and the LF at the start of a later one are one CRLF, with
// empty pieces between them (the relay's old dot_stuffer forgot the CR on an empty piece).
TEST(DotStuffing, EmptyPiecesKeepAPendingCr) {
  for (bare_cr mode : {bare_cr::line_break, bare_cr::keep}) {
    dot_stuffer s({.cr = mode, .body_lines = std::nullopt});
    std::string out;
    s.append("a\r", out);
    s.append("", out);
    s.append("", out);
    s.append("\n.b", out);
    s.finish(out);
    EXPECT_EQ(out, "a\r\n..b\r\n.\r\n");
  }
}

TEST(DotStuffing, FinishResetsButKeepsTheOptions) {
  dot_stuffer s({.cr = bare_cr::keep, .body_lines = 0});
  std::string out;
  s.append("H: x\n\nbody\n", out);
  EXPECT_TRUE(s.done());
  s.finish(out);
  EXPECT_FALSE(s.done());
  s.append("a\rb\n\nc\n", out);
  s.finish(out);
  EXPECT_EQ(out, "H: x\r\n\r\n.\r\na\rb\r\n\r\n.\r\n");
}

TEST(DotStuffing, RandomInputsSplitAnywhereMatchTheReference) {
  std::mt19937 rng(5321);
  const char alphabet[] = {'a', '.', '\n', '\r', ' ', 'H', ':', '.', '\n', '\r'};
  const std::optional<uint32_t> tops[] = {std::nullopt, 0, 1, 2, 5};
  for (int round = 0; round < 4000; ++round) {
    std::string in(rng() % 160, 'x');
    for (char& c : in) c = alphabet[rng() % sizeof alphabet];
    for (bare_cr mode : {bare_cr::line_break, bare_cr::keep}) {
      for (std::optional<uint32_t> top : tops) {
        const dot_stuffing_options o{.cr = mode, .body_lines = top};
        const reference_result want = reference(in, o);
        ASSERT_EQ(dot_stuff(in, o), want.out) << "round " << round << " mode " << int(mode);
        dot_stuffer s(o);
        std::string out;
        for (size_t at = 0; at <= in.size();) {
          size_t n = rng() % 9;  // 0: an empty piece
          s.append(std::string_view(in).substr(at, n), out);
          if (at == in.size()) break;
          at += std::min(n, in.size() - at);
        }
        ASSERT_EQ(s.done(), want.done) << "round " << round;
        s.finish(out);
        ASSERT_EQ(out, want.out) << "round " << round << " mode " << int(mode);
      }
    }
  }
}

}  // namespace
}  // namespace ringmail::mail
