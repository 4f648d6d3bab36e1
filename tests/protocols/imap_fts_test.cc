// SEARCH BODY/TEXT through the full-text index (protocols/imap/fts_plan.h over
// delivery/fts/text_index.h): which key trees the index may filter, and the CORRECTNESS
// RULE — on the SpamAssassin corpus, for chosen and random needles and key trees, the
// index path (candidates, then search_matches on them) gives exactly the linear scan's
// results. The corpus comes from scripts/fetch-corpus.sh (build/corpus); without it the
// corpus test is skipped (RINGMAIL_CORPUS names another directory).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "delivery/fts/text_index.h"
#include "mail/casefold.h"
#include "mail/charset.h"
#include "mail/message.h"
#include "protocols/imap/fts_plan.h"
#include "protocols/imap/message_render.h"
#include "protocols/imap/search.h"

#ifndef RINGMAIL_SOURCE_DIR
#define RINGMAIL_SOURCE_DIR "."
#endif

namespace ringmail::imap {
namespace {

using kind = search_key::kind;
using needle_map = absl::flat_hash_map<std::string, std::vector<uint32_t>>;

search_key leaf(kind k, std::string text = {}) {
  search_key s;
  s.k = k;
  s.text = std::move(text);
  return s;
}
search_key node(kind k, std::vector<search_key> children) {
  search_key s;
  s.k = k;
  s.children = std::move(children);
  return s;
}

TEST(FtsPlan, WhichTreesFilter) {
  EXPECT_EQ(fts_needles(leaf(kind::text, "Hello")), (std::vector<std::string>{"hello"}));
  EXPECT_EQ(fts_needles(leaf(kind::body, "ÄBC")), (std::vector<std::string>{mail::fold_case("ÄBC")}));
  EXPECT_TRUE(fts_needles(leaf(kind::text, "ab")).empty());  // shorter than a trigram
  EXPECT_TRUE(fts_needles(leaf(kind::subject, "hello")).empty());
  EXPECT_TRUE(fts_needles(node(kind::not_, {leaf(kind::text, "hello")})).empty());
  EXPECT_TRUE(fts_needles(node(kind::or_, {leaf(kind::text, "hello"), leaf(kind::seen)})).empty());
  EXPECT_EQ(fts_needles(node(kind::and_, {leaf(kind::seen), leaf(kind::body, "hello"), leaf(kind::text, "HELLO")})),
            (std::vector<std::string>{"hello"}));
  EXPECT_EQ(fts_needles(node(kind::or_, {leaf(kind::text, "abc"), leaf(kind::body, "xyz")})),
            (std::vector<std::string>{"abc", "xyz"}));
}

TEST(FtsPlan, CandidatesCombine) {
  needle_map m{{"abc", {1, 2, 3}}, {"xyz", {3, 4}}};
  EXPECT_EQ(fts_candidates(leaf(kind::text, "ABC"), m), (std::vector<uint32_t>{1, 2, 3}));
  EXPECT_EQ(fts_candidates(node(kind::and_, {leaf(kind::text, "abc"), leaf(kind::body, "xyz")}), m),
            (std::vector<uint32_t>{3}));
  EXPECT_EQ(fts_candidates(node(kind::and_, {leaf(kind::seen), leaf(kind::body, "xyz")}), m),
            (std::vector<uint32_t>{3, 4}));
  EXPECT_EQ(fts_candidates(node(kind::or_, {leaf(kind::text, "abc"), leaf(kind::body, "xyz")}), m),
            (std::vector<uint32_t>{1, 2, 3, 4}));
  EXPECT_EQ(fts_candidates(node(kind::or_, {leaf(kind::text, "abc"), leaf(kind::seen)}), m), std::nullopt);
  EXPECT_EQ(fts_candidates(node(kind::not_, {leaf(kind::text, "abc")}), m), std::nullopt);
  EXPECT_EQ(fts_candidates(leaf(kind::text, "ab"), m), std::nullopt);
  EXPECT_EQ(fts_candidates(leaf(kind::seen), m), std::nullopt);
}

// ---- the corpus equality test ------------------------------------------------------------

struct corpus_message {
  std::string bytes;
  mail::message parsed;
  mailstore::message_entry entry;
  std::unique_ptr<search_text_cache> cache = std::make_unique<search_text_cache>();
  std::string folded;  // headers + body texts, for picking needles that occur
};

search_message message_of(corpus_message& m) {
  search_message sm;
  sm.seq = m.entry.uid;
  sm.entry = &m.entry;
  sm.parsed = &m.parsed;
  return sm;
}

class FtsCorpus : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const char* env = std::getenv("RINGMAIL_CORPUS");
    std::filesystem::path dir = env != nullptr ? env : RINGMAIL_SOURCE_DIR "/build/corpus";
    if (!std::filesystem::is_directory(dir / "spam-1")) return;
    charsets_ = new mail::charset_converter();
    messages_ = new std::vector<corpus_message>();
    std::vector<std::filesystem::path> files;
    for (const char* set : {"easy-ham-1", "easy-ham-2", "hard-ham-1", "spam-1", "spam-2"}) {
      if (!std::filesystem::is_directory(dir / set)) continue;
      for (const auto& e : std::filesystem::directory_iterator(dir / set)) files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    messages_->reserve(files.size());
    index_ = new fts::text_index(1);
    search_context ctx;
    ctx.charsets = charsets_;
    for (const auto& p : files) {
      std::ifstream in(p, std::ios::binary);
      std::stringstream ss;
      ss << in.rdbuf();
      std::string raw = ss.str();
      if (raw.rfind("From ", 0) == 0) raw.erase(0, raw.find('\n') + 1);  // the mbox line
      corpus_message& m = messages_->emplace_back();
      m.bytes = to_crlf(raw);
      m.parsed = mail::parse_message(m.bytes, *charsets_, {.boundaries = mail::boundary_rule::rfc2046});
      m.entry.uid = static_cast<uint32_t>(messages_->size());
      search_message sm = message_of(m);
      search_texts t = search_texts_of(sm, ctx);
      std::vector<uint32_t> grams;
      fts::add_grams(t.headers, grams);
      fts::add_grams(t.body, grams);
      index_->add(m.entry.uid, grams);
      m.folded = t.headers + "\n" + t.body;
    }
  }
  static void TearDownTestSuite() {
    delete messages_;
    delete index_;
    delete charsets_;
    messages_ = nullptr;
  }

  // The linear scan: search_matches on every message.
  static std::vector<uint32_t> scan(const search_key& k) {
    search_context ctx = context();
    std::vector<uint32_t> out;
    for (corpus_message& m : *messages_) {
      search_message sm = message_of(m);
      if (search_matches(k, sm, ctx, *m.cache)) out.push_back(m.entry.uid);
    }
    return out;
  }
  // The index path, as on_search takes it: candidates, then search_matches on them.
  static std::vector<uint32_t> indexed(const search_key& k, size_t* candidates = nullptr) {
    needle_map by;
    for (const std::string& n : fts_needles(k)) by[n] = index_->query(n).uids;
    std::optional<std::vector<uint32_t>> cand = fts_candidates(k, by);
    search_context ctx = context();
    std::vector<uint32_t> out;
    size_t looked = 0;
    for (corpus_message& m : *messages_) {
      if (cand && !std::binary_search(cand->begin(), cand->end(), m.entry.uid)) continue;
      ++looked;
      search_message sm = message_of(m);
      if (search_matches(k, sm, ctx, *m.cache)) out.push_back(m.entry.uid);
    }
    if (candidates != nullptr) *candidates = looked;
    return out;
  }
  static search_context context() {
    search_context ctx;
    ctx.max_seq = ctx.max_uid = static_cast<uint32_t>(messages_->size());
    ctx.charsets = charsets_;
    return ctx;
  }

  static inline mail::charset_converter* charsets_ = nullptr;
  static inline std::vector<corpus_message>* messages_ = nullptr;
  static inline fts::text_index* index_ = nullptr;
};

TEST_F(FtsCorpus, IndexEqualsLinearScan) {
  if (messages_ == nullptr) GTEST_SKIP() << "no corpus (scripts/fetch-corpus.sh build/corpus)";
  ASSERT_GT(messages_->size(), 1000u);
  std::vector<std::string> needles = {
      "the", "The", "viagra", "Subject: Re", "subject: re", "unsubscribe", "mortgage", "zzyzx-absent",
      "http://", "</table>", "<br>", "=20", "Content-Type: text/html", "filename=", ".exe", ".zip",
      "spamassassin", "Razor", "FREE", "click here", "€", "ä", "Ä", "ß", "СПАМ", "ab", "a", "",
      "perl", "@", "@example.com", "\xff\xfe", "  ", "\t", "gnu/linux", "XXXXXXXX",
  };
  // Random substrings of the messages' own folded text (present somewhere by
  // construction), of lengths around and above the trigram size, some upper-cased.
  std::mt19937 rng(20261207);
  for (int i = 0; i < 160; ++i) {
    const corpus_message& m = (*messages_)[rng() % messages_->size()];
    if (m.folded.size() < 16) continue;
    const size_t len = 2 + rng() % 14;
    std::string n = m.folded.substr(rng() % (m.folded.size() - len), len);
    if (i % 3 == 0) {
      for (char& c : n) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    needles.push_back(n);
  }
  // Random strings that mostly occur nowhere.
  for (int i = 0; i < 50; ++i) {
    std::string n;
    for (int j = 3 + i % 5; j > 0; --j) n.push_back(static_cast<char>('a' + rng() % 26));
    needles.push_back(n);
  }
  size_t filtered = 0, compared = 0;
  for (size_t i = 0; i < needles.size(); ++i) {
    const std::string& n = needles[i];
    std::vector<search_key> keys = {leaf(kind::text, n), leaf(kind::body, n)};
    const std::string& other = needles[(i * 7 + 3) % needles.size()];
    keys.push_back(node(kind::and_, {leaf(kind::text, n), leaf(kind::body, other)}));
    keys.push_back(node(kind::or_, {leaf(kind::body, n), leaf(kind::text, other)}));
    keys.push_back(node(kind::and_, {node(kind::not_, {leaf(kind::body, other)}), leaf(kind::text, n)}));
    for (const search_key& k : keys) {
      size_t looked = 0;
      std::vector<uint32_t> a = scan(k), b = indexed(k, &looked);
      ASSERT_EQ(a, b) << "needle \"" << n << "\" other \"" << other << "\" kind " << static_cast<int>(k.k);
      ++compared;
      if (looked < messages_->size()) ++filtered;
    }
  }
  // The index did prune: most keys were answered from fewer messages than the scan read.
  EXPECT_GT(filtered, compared / 2);
  std::cout << "fts corpus: " << messages_->size() << " messages, " << compared << " key trees, "
            << filtered << " filtered; index " << index_->gram_count() << " grams, "
            << index_->memory_bytes() / 1024 << " KiB, file " << index_->serialize().size() / 1024 << " KiB\n";
}

TEST_F(FtsCorpus, RareNeedleReadsFewMessages) {
  if (messages_ == nullptr) GTEST_SKIP() << "no corpus";
  size_t looked = 0;
  std::vector<uint32_t> hits = indexed(leaf(kind::text, "spamassassin-talk"), &looked);
  EXPECT_EQ(hits, scan(leaf(kind::text, "spamassassin-talk")));
  EXPECT_LT(looked, messages_->size() / 2);
  EXPECT_LE(hits.size(), looked);
}

}  // namespace
}  // namespace ringmail::imap
