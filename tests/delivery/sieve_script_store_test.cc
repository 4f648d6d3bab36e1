// The Sieve script store (delivery/sieve/script_store.h) on real files through a shard:
// every ManageSieve operation and what it leaves on disk (Pigeonhole's layout: the
// scripts in <home>/sieve/NAME.sieve, .dovecot.sieve a symlink to "sieve/NAME.sieve"),
// the limits, the program cache noticing a file changed behind its back, a missing or
// dangling active link, a plain .dovecot.sieve file, includes (personal, global,
// :optional, loops, depth), the owner-shard hop and the home of an address.
#include "delivery/sieve/script_store.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "gtest/gtest.h"
#include "runtime/reactor.h"
#include "runtime/shard_set.h"
#include "tests/runtime/test_util.h"

namespace ringmail::sieve {
namespace {

namespace fs = std::filesystem;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

std::string read_link(const std::string& path) {
  std::error_code ec;
  fs::path p = fs::read_symlink(path, ec);
  return ec ? "" : p.string();
}

class ScriptStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string base = ::access("/dev/shm", W_OK | X_OK) == 0 ? "/dev/shm" : ::testing::TempDir();
    std::string tmpl = base + "/ringmail-sieve-store-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    top_ = tmpl;
    home_ = top_ + "/mail/example.org/john";
    global_ = top_ + "/global";
    fs::create_directories(global_);
    shards_ = testing::make_shards(2);
    ASSERT_NE(shards_, nullptr);
    make_stores({});
  }

  void TearDown() override {
    drop_stores();
    shards_.reset();
    std::error_code ec;
    fs::remove_all(top_, ec);
  }

  void drop_stores() {
    for (unsigned i = 0; i < stores_.size(); ++i) {
      testing::run_on(*shards_, i, [this, i]() -> task<void> {
        delete stores_[i];
        co_return;
      });
    }
    stores_.clear();
  }
  void make_stores(script_limits limits) {
    drop_stores();
    stores_.resize(shards_->size());
    for (unsigned i = 0; i < shards_->size(); ++i) {
      testing::run_on(*shards_, i, [this, i, limits]() -> task<void> {
        stores_[i] = new script_store(global_, limits, shards_->offload());
        co_return;
      });
    }
  }
  script_store& store() { return *stores_[0]; }

  // Each operation on shard 0 (the tests' user's home is a plain path: the owner rule is
  // with_scripts' business, tested on its own below).
  absl::Status put(const std::string& name, const std::string& text) {
    return testing::run_on(*shards_, 0, [&]() -> task<absl::Status> { co_return co_await store().put(home_, name, text); });
  }
  absl::StatusOr<std::vector<script_info>> list() {
    return testing::run_on(*shards_, 0, [&]() -> task<absl::StatusOr<std::vector<script_info>>> {
      co_return co_await store().list(home_);
    });
  }
  absl::StatusOr<std::string> get(const std::string& name) {
    return testing::run_on(*shards_, 0,
                           [&]() -> task<absl::StatusOr<std::string>> { co_return co_await store().get(home_, name); });
  }
  absl::Status remove(const std::string& name) {
    return testing::run_on(*shards_, 0, [&]() -> task<absl::Status> { co_return co_await store().remove(home_, name); });
  }
  absl::Status rename(const std::string& from, const std::string& to) {
    return testing::run_on(*shards_, 0,
                           [&]() -> task<absl::Status> { co_return co_await store().rename(home_, from, to); });
  }
  absl::Status set_active(const std::string& name) {
    return testing::run_on(*shards_, 0,
                           [&]() -> task<absl::Status> { co_return co_await store().set_active(home_, name); });
  }
  absl::Status have_space(const std::string& name, uint64_t bytes) {
    return testing::run_on(*shards_, 0,
                           [&]() -> task<absl::Status> { co_return co_await store().have_space(home_, name, bytes); });
  }
  loaded_scripts load_active() {
    return testing::run_on(*shards_, 0, [&]() -> task<loaded_scripts> { co_return co_await store().load_active(home_); });
  }
  absl::StatusOr<std::shared_ptr<const program>> load_file(const std::string& path) {
    return testing::run_on(*shards_, 0, [&]() -> task<absl::StatusOr<std::shared_ptr<const program>>> {
      co_return co_await store().load_file(path);
    });
  }
  size_t cached() {
    return testing::run_on(*shards_, 0, [&]() -> task<size_t> { co_return store().cached_programs(); });
  }

  std::string sieve(const std::string& name) const { return home_ + "/sieve/" + name + ".sieve"; }
  std::string link() const { return home_ + "/.dovecot.sieve"; }

  std::string top_, home_, global_;
  std::unique_ptr<shard_set> shards_;
  std::vector<script_store*> stores_;
};

const std::string kKeep = "keep;\r\n";
const std::string kFileinto = "require \"fileinto\";\r\nif header :contains \"subject\" \"x\" { fileinto \"X\"; }\r\n";

TEST(ScriptStoreNames, Rfc5804Names) {
  EXPECT_TRUE(script_store::valid_name("vacation"));
  EXPECT_TRUE(script_store::valid_name("my filter 2"));
  EXPECT_TRUE(script_store::valid_name("Ferien\xc3\xa4"));        // UTF-8
  EXPECT_TRUE(script_store::valid_name(std::string(128, 'a')));  // 128 characters
  EXPECT_FALSE(script_store::valid_name(""));
  EXPECT_FALSE(script_store::valid_name(std::string(129, 'a')));
  EXPECT_FALSE(script_store::valid_name("a/b"));
  EXPECT_FALSE(script_store::valid_name(".hidden"));
  EXPECT_FALSE(script_store::valid_name(".."));
  EXPECT_FALSE(script_store::valid_name("tmp"));
  EXPECT_FALSE(script_store::valid_name("tab\there"));
  EXPECT_FALSE(script_store::valid_name("del\x7f"));
  EXPECT_FALSE(script_store::valid_name("c1\xc2\x85"));       // NEL, a C1 control
  EXPECT_FALSE(script_store::valid_name("ls\xe2\x80\xa8"));   // U+2028
  EXPECT_FALSE(script_store::valid_name("ps\xe2\x80\xa9"));   // U+2029
  EXPECT_FALSE(script_store::valid_name("bad\xff"));          // not UTF-8
  EXPECT_FALSE(script_store::valid_name(std::string("nul\0x", 5)));
  // 100 characters of 3 bytes: 300 bytes, too long for a file name with ".sieve".
  std::string wide;
  for (int i = 0; i < 100; ++i) wide += "\xe2\x82\xac";
  EXPECT_FALSE(script_store::valid_name(wide));
}

TEST_F(ScriptStoreTest, PutWritesPigeonholeLayoutAndListsAndGets) {
  ASSERT_TRUE(put("vacation", kKeep).ok());
  ASSERT_TRUE(put("spam", kFileinto).ok());
  EXPECT_EQ(slurp(sieve("vacation")), kKeep);
  EXPECT_EQ(slurp(sieve("spam")), kFileinto);
  EXPECT_TRUE(fs::is_directory(home_ + "/sieve/tmp"));
  EXPECT_TRUE(fs::is_empty(home_ + "/sieve/tmp"));  // uploads renamed away, none left
  EXPECT_FALSE(fs::exists(link()));                 // nothing active until SETACTIVE
  EXPECT_EQ(fs::status(sieve("spam")).permissions() & fs::perms::others_all, fs::perms::none);

  auto scripts = list();
  ASSERT_TRUE(scripts.ok()) << scripts.status();
  ASSERT_EQ(scripts->size(), 2u);
  EXPECT_EQ((*scripts)[0].name, "spam");  // sorted
  EXPECT_EQ((*scripts)[0].bytes, kFileinto.size());
  EXPECT_FALSE((*scripts)[0].active);
  EXPECT_EQ((*scripts)[1].name, "vacation");

  auto text = get("spam");
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, kFileinto);
  EXPECT_TRUE(absl::IsNotFound(get("nothere").status()));
  EXPECT_TRUE(absl::IsNotFound(get("../../etc/passwd").status()));

  // Replacing a script keeps one file with the new text.
  ASSERT_TRUE(put("spam", kKeep).ok());
  EXPECT_EQ(*get("spam"), kKeep);
  EXPECT_EQ(list()->size(), 2u);
}

TEST_F(ScriptStoreTest, ListingRemovesUploadsACrashLeftBehind) {
  ASSERT_TRUE(put("a", kKeep).ok());
  write_file(home_ + "/sieve/tmp/1234.1.put", "half a scr");
  write_file(home_ + "/sieve/tmp/1234.2.put", "being written now");
  fs::last_write_time(home_ + "/sieve/tmp/1234.1.put", fs::file_time_type::clock::now() - std::chrono::hours(37));
  ASSERT_EQ(list()->size(), 1u);
  EXPECT_FALSE(fs::exists(home_ + "/sieve/tmp/1234.1.put"));
  EXPECT_TRUE(fs::exists(home_ + "/sieve/tmp/1234.2.put"));  // recent: maybe still in use
}

TEST_F(ScriptStoreTest, NoHomeYetListsNothingAndPutCreatesIt) {
  auto scripts = list();
  ASSERT_TRUE(scripts.ok()) << scripts.status();
  EXPECT_TRUE(scripts->empty());
  ASSERT_FALSE(fs::exists(home_));
  ASSERT_TRUE(put("a", kKeep).ok());
  EXPECT_TRUE(fs::is_directory(home_ + "/Maildir/new"));  // as a first delivery makes it
  EXPECT_EQ(slurp(sieve("a")), kKeep);
}

TEST_F(ScriptStoreTest, PutRefusesBadScriptsAndNames) {
  absl::Status st = put("broken", "if true { keep;\r\n");
  EXPECT_TRUE(absl::IsInvalidArgument(st)) << st;
  EXPECT_NE(st.message().find("line "), std::string_view::npos) << st.message();
  st = put("unknown", "frobnicate;\r\n");
  EXPECT_TRUE(absl::IsInvalidArgument(st)) << st;
  EXPECT_NE(st.message().find("line 1"), std::string_view::npos) << st.message();
  EXPECT_FALSE(fs::exists(sieve("broken")));
  EXPECT_TRUE(absl::IsInvalidArgument(put("a/b", kKeep)));
  EXPECT_TRUE(absl::IsInvalidArgument(put(".dovecot", kKeep)));
  EXPECT_TRUE(absl::IsInvalidArgument(put("tmp", kKeep)));
  EXPECT_TRUE(list()->empty());
}

TEST_F(ScriptStoreTest, SetActiveWritesTheDovecotSymlink) {
  ASSERT_TRUE(put("one", kKeep).ok());
  ASSERT_TRUE(put("two", kFileinto).ok());
  ASSERT_TRUE(set_active("one").ok());
  // What Dovecot's managesieve leaves: a relative symlink into the sieve directory.
  EXPECT_TRUE(fs::is_symlink(link()));
  EXPECT_EQ(read_link(link()), "sieve/one.sieve");
  EXPECT_EQ(slurp(link()), kKeep);
  auto scripts = list();
  ASSERT_TRUE(scripts.ok());
  EXPECT_TRUE((*scripts)[0].active);
  EXPECT_FALSE((*scripts)[1].active);

  ASSERT_TRUE(set_active("two").ok());
  EXPECT_EQ(read_link(link()), "sieve/two.sieve");
  EXPECT_FALSE((*list())[0].active);
  EXPECT_TRUE((*list())[1].active);
  ASSERT_TRUE(set_active("two").ok());  // again: no change
  // No temporary links left next to it.
  size_t entries = 0;
  for (const auto& e : fs::directory_iterator(home_)) {
    (void)e;
    ++entries;
  }
  EXPECT_EQ(entries, 3u);  // sieve/, .dovecot.sieve, Maildir/

  EXPECT_TRUE(absl::IsNotFound(set_active("three")));
  EXPECT_EQ(read_link(link()), "sieve/two.sieve");

  ASSERT_TRUE(set_active("").ok());
  EXPECT_FALSE(fs::exists(fs::symlink_status(link())));
  EXPECT_FALSE((*list())[1].active);
  EXPECT_TRUE(set_active("").ok());  // nothing active: still fine
}

TEST_F(ScriptStoreTest, ActiveScriptCannotBeDeleted) {
  ASSERT_TRUE(put("one", kKeep).ok());
  ASSERT_TRUE(put("two", kKeep).ok());
  ASSERT_TRUE(set_active("one").ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(remove("one")));
  EXPECT_TRUE(fs::exists(sieve("one")));
  EXPECT_TRUE(remove("two").ok());
  EXPECT_FALSE(fs::exists(sieve("two")));
  EXPECT_TRUE(absl::IsNotFound(remove("two")));
  EXPECT_TRUE(absl::IsNotFound(remove("../one")));
  ASSERT_TRUE(set_active("").ok());
  EXPECT_TRUE(remove("one").ok());
  EXPECT_TRUE(list()->empty());
}

TEST_F(ScriptStoreTest, RenameKeepsActiveAndRefusesExistingName) {
  ASSERT_TRUE(put("one", kKeep).ok());
  ASSERT_TRUE(put("two", kFileinto).ok());
  ASSERT_TRUE(set_active("one").ok());
  EXPECT_TRUE(absl::IsAlreadyExists(rename("one", "two")));
  EXPECT_EQ(slurp(sieve("two")), kFileinto);  // untouched
  EXPECT_TRUE(absl::IsAlreadyExists(rename("one", "one")));
  EXPECT_TRUE(absl::IsNotFound(rename("three", "four")));
  EXPECT_TRUE(absl::IsInvalidArgument(rename("one", "a/b")));

  // RFC 5804 2.11.1: the renamed active script stays active.
  ASSERT_TRUE(rename("one", "uno").ok());
  EXPECT_FALSE(fs::exists(sieve("one")));
  EXPECT_EQ(slurp(sieve("uno")), kKeep);
  EXPECT_EQ(read_link(link()), "sieve/uno.sieve");
  auto scripts = list();
  ASSERT_EQ(scripts->size(), 2u);
  EXPECT_EQ((*scripts)[1].name, "uno");
  EXPECT_TRUE((*scripts)[1].active);

  ASSERT_TRUE(rename("two", "dos").ok());
  EXPECT_EQ(read_link(link()), "sieve/uno.sieve");
  EXPECT_EQ(slurp(sieve("dos")), kFileinto);
}

TEST_F(ScriptStoreTest, LimitsGiveResourceExhausted) {
  script_limits limits;
  limits.max_scripts = 2;
  limits.max_script_bytes = 100;
  limits.max_total_bytes = 150;
  make_stores(limits);
  const std::string eighty = "keep;" + std::string(73, ' ') + "\r\n";
  ASSERT_EQ(eighty.size(), 80u);
  ASSERT_TRUE(put("a", eighty).ok());
  EXPECT_TRUE(absl::IsResourceExhausted(put("big", "keep;" + std::string(200, ' '))));
  EXPECT_TRUE(absl::IsResourceExhausted(put("b", eighty)));  // 160 > 150 in all
  ASSERT_TRUE(put("b", kKeep).ok());
  EXPECT_TRUE(absl::IsResourceExhausted(put("c", kKeep)));  // a third script
  EXPECT_TRUE(put("a", eighty).ok());                       // replacing one: not a third
  EXPECT_TRUE(put("b", "discard;" + std::string(50, ' ')).ok());  // 80 + 58, b's old size not counted

  EXPECT_TRUE(have_space("a", 90).ok());
  EXPECT_TRUE(absl::IsResourceExhausted(have_space("a", 101)));  // one script over the limit
  EXPECT_TRUE(absl::IsResourceExhausted(have_space("c", 1)));    // a third
  EXPECT_TRUE(absl::IsResourceExhausted(have_space("b", 80)));   // 160 in all
  EXPECT_TRUE(absl::IsInvalidArgument(have_space("a/b", 1)));
  EXPECT_EQ(list()->size(), 2u);
}

TEST_F(ScriptStoreTest, ScriptsDovecotLeftArePickedUpInPlace) {
  // As an ISPmail user's home looks after Roundcube + Dovecot's managesieve.
  write_file(sieve("roundcube"), kFileinto);
  write_file(sieve("old"), kKeep);
  write_file(home_ + "/sieve/.hidden.sieve", kKeep);  // not a name ManageSieve shows
  write_file(home_ + "/sieve/notes.txt", "x");
  fs::create_directories(home_ + "/sieve/tmp");
  fs::create_symlink("sieve/roundcube.sieve", link());
  auto scripts = list();
  ASSERT_TRUE(scripts.ok()) << scripts.status();
  ASSERT_EQ(scripts->size(), 2u);
  EXPECT_EQ((*scripts)[0].name, "old");
  EXPECT_FALSE((*scripts)[0].active);
  EXPECT_EQ((*scripts)[1].name, "roundcube");
  EXPECT_TRUE((*scripts)[1].active);
  loaded_scripts loaded = load_active();
  EXPECT_FALSE(loaded.error) << *loaded.error;
  EXPECT_NE(loaded.active, nullptr);
  // An absolute link into the same directory counts as the same script.
  fs::remove(link());
  fs::create_symlink(sieve("old"), link());
  EXPECT_TRUE((*list())[0].active);
}

TEST_F(ScriptStoreTest, PlainDovecotSieveFileRunsButListsNoActive) {
  ASSERT_TRUE(put("mine", kKeep).ok());
  write_file(link(), kFileinto);
  loaded_scripts loaded = load_active();
  EXPECT_FALSE(loaded.error);
  EXPECT_NE(loaded.active, nullptr);
  auto shown = list();  // named: a range-for over *list() would outlive the StatusOr
  ASSERT_TRUE(shown.ok());
  for (const script_info& s : *shown) EXPECT_FALSE(s.active) << s.name;
  // Activating keeps the hand-made script in the store as "dovecot.orig" (Pigeonhole).
  ASSERT_TRUE(set_active("mine").ok());
  EXPECT_EQ(read_link(link()), "sieve/mine.sieve");
  EXPECT_EQ(slurp(sieve("dovecot.orig")), kFileinto);
  EXPECT_EQ(list()->size(), 2u);
  // Deactivating a plain file keeps it too.
  fs::remove(link());
  write_file(link(), kKeep);
  ASSERT_TRUE(remove("dovecot.orig").ok());
  ASSERT_TRUE(set_active("").ok());
  EXPECT_FALSE(fs::exists(fs::symlink_status(link())));
  EXPECT_EQ(slurp(sieve("dovecot.orig")), kKeep);
}

TEST_F(ScriptStoreTest, MissingOrDanglingActiveLinkIsNoScript) {
  loaded_scripts none = load_active();
  EXPECT_EQ(none.active, nullptr);
  EXPECT_FALSE(none.error);
  ASSERT_TRUE(put("gone", kKeep).ok());
  ASSERT_TRUE(set_active("gone").ok());
  fs::remove(sieve("gone"));  // behind our back
  loaded_scripts dangling = load_active();
  EXPECT_EQ(dangling.active, nullptr);
  EXPECT_FALSE(dangling.error);
  auto shown = list();
  ASSERT_TRUE(shown.ok());
  for (const script_info& s : *shown) EXPECT_FALSE(s.active);
  // Activating another one mends it.
  ASSERT_TRUE(put("new", kKeep).ok());
  ASSERT_TRUE(set_active("new").ok());
  EXPECT_NE(load_active().active, nullptr);
}

TEST_F(ScriptStoreTest, BrokenActiveScriptIsAnErrorNotACrash) {
  write_file(sieve("bad"), "require \"fileinto\";\r\nfileinto;\r\n");
  fs::create_symlink("sieve/bad.sieve", link());
  loaded_scripts loaded = load_active();
  EXPECT_EQ(loaded.active, nullptr);
  ASSERT_TRUE(loaded.error);
  EXPECT_NE(loaded.error->find("line 2"), std::string::npos) << *loaded.error;
  // Cached as broken: the same answer again, and a fix is noticed.
  EXPECT_EQ(load_active().error, loaded.error);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  write_file(sieve("bad"), kKeep);
  loaded = load_active();
  EXPECT_FALSE(loaded.error) << *loaded.error;
  EXPECT_NE(loaded.active, nullptr);
}

TEST_F(ScriptStoreTest, OversizedHandMadeScriptIsAnError) {
  script_limits limits;
  limits.max_script_bytes = 64;
  make_stores(limits);
  write_file(sieve("huge"), "keep;" + std::string(100, ' '));
  fs::create_symlink("sieve/huge.sieve", link());
  loaded_scripts loaded = load_active();
  EXPECT_EQ(loaded.active, nullptr);
  ASSERT_TRUE(loaded.error);
  EXPECT_NE(loaded.error->find("limit"), std::string::npos) << *loaded.error;
}

TEST_F(ScriptStoreTest, CacheReusesProgramUntilTheFileChanges) {
  ASSERT_TRUE(put("one", kKeep).ok());
  ASSERT_TRUE(set_active("one").ok());
  loaded_scripts first = load_active();
  ASSERT_NE(first.active, nullptr);
  loaded_scripts again = load_active();
  EXPECT_EQ(again.active.get(), first.active.get());  // from the cache
  // The same file by name (load_file) is the same program: keyed by the file, not the path.
  auto by_path = load_file(sieve("one"));
  ASSERT_TRUE(by_path.ok());
  EXPECT_EQ(by_path->get(), first.active.get());

  // Edited in place behind our back (same inode; the kernel's clock is coarse: wait).
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  {
    std::ofstream out(sieve("one"), std::ios::binary | std::ios::in | std::ios::out);
    out << "stop;\r\n";  // same size as keep;\r\n
  }
  loaded_scripts edited = load_active();
  ASSERT_NE(edited.active, nullptr);
  EXPECT_NE(edited.active.get(), first.active.get());
  // Replaced through PUTSCRIPT (a new inode).
  ASSERT_TRUE(put("one", kFileinto).ok());
  loaded_scripts replaced = load_active();
  ASSERT_NE(replaced.active, nullptr);
  EXPECT_NE(replaced.active.get(), edited.active.get());
  // The link re-pointed: the other script.
  ASSERT_TRUE(put("two", kKeep).ok());
  ASSERT_TRUE(set_active("two").ok());
  EXPECT_EQ(load_active().active.get(), load_file(sieve("two"))->get());
}

TEST_F(ScriptStoreTest, CacheIsBounded) {
  script_limits limits;
  limits.max_cached_programs = 2;
  make_stores(limits);
  for (const char* name : {"a", "b", "c", "d"}) write_file(sieve(name), kKeep);
  auto a = load_file(sieve("a"));
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(load_file(sieve("a"))->get(), a->get());
  ASSERT_TRUE(load_file(sieve("b")).ok());
  ASSERT_TRUE(load_file(sieve("a")).ok());  // a is now the most recently used
  ASSERT_TRUE(load_file(sieve("c")).ok());  // evicts b
  EXPECT_EQ(cached(), 2u);
  EXPECT_EQ(load_file(sieve("a"))->get(), a->get());
  ASSERT_TRUE(load_file(sieve("d")).ok());
  EXPECT_EQ(cached(), 2u);
}

TEST_F(ScriptStoreTest, LoadFileErrors) {
  EXPECT_TRUE(absl::IsNotFound(load_file(top_ + "/nothing.sieve").status()));
  write_file(top_ + "/bad.sieve", "if {\r\n");
  auto bad = load_file(top_ + "/bad.sieve");
  EXPECT_TRUE(absl::IsInvalidArgument(bad.status())) << bad.status();
  EXPECT_NE(bad.status().message().find("line 1"), std::string_view::npos);
  fs::create_directories(top_ + "/dir.sieve");
  EXPECT_FALSE(load_file(top_ + "/dir.sieve").ok());
}

// ---- includes (RFC 6609) ----------------------------------------------------------------

std::string including(std::initializer_list<std::string> lines) {
  std::string s = "require [\"include\"];\r\n";
  for (const std::string& l : lines) s += l + "\r\n";
  return s;
}

const program* included(const loaded_scripts& l, std::string_view name, bool global) {
  for (const auto& [ref, p] : l.included) {
    if (ref.name == name && ref.global == global) return p.get();
  }
  return nullptr;
}

TEST_F(ScriptStoreTest, IncludesPersonalGlobalAndOptional) {
  write_file(sieve("main"), including({"include :personal \"helper\";", "include :global \"spam\";",
                                       "include :optional \"absent\";", "include :global :optional \"absent\";"}));
  write_file(sieve("helper"), including({"include \"shared\";"}));
  write_file(sieve("shared"), kKeep);
  write_file(global_ + "/spam.sieve", kFileinto);
  fs::create_symlink("sieve/main.sieve", link());
  loaded_scripts loaded = load_active();
  ASSERT_FALSE(loaded.error) << *loaded.error;
  ASSERT_NE(loaded.active, nullptr);
  EXPECT_EQ(loaded.included.size(), 3u);
  EXPECT_NE(included(loaded, "helper", false), nullptr);
  EXPECT_NE(included(loaded, "shared", false), nullptr);  // an include of an include
  EXPECT_NE(included(loaded, "spam", true), nullptr);
  EXPECT_EQ(included(loaded, "spam", false), nullptr);  // personal and global are apart
  EXPECT_EQ(included(loaded, "absent", false), nullptr);
  EXPECT_EQ(included(loaded, "helper", false), load_file(sieve("helper"))->get());
}

TEST_F(ScriptStoreTest, MissingIncludeIsAnError) {
  write_file(sieve("main"), including({"include \"nothere\";"}));
  fs::create_symlink("sieve/main.sieve", link());
  loaded_scripts loaded = load_active();
  ASSERT_TRUE(loaded.error);
  EXPECT_NE(loaded.error->find("nothere"), std::string::npos) << *loaded.error;
  EXPECT_EQ(loaded.active, nullptr);
  EXPECT_TRUE(loaded.included.empty());

  // Optional first and required later: still required.
  write_file(sieve("main"), including({"include :optional \"nothere\";", "include \"nothere\";"}));
  EXPECT_TRUE(load_active().error);

  // A :global include without a global directory does not exist.
  drop_stores();
  stores_.resize(shards_->size());
  for (unsigned i = 0; i < shards_->size(); ++i) {
    testing::run_on(*shards_, i, [this, i]() -> task<void> {
      stores_[i] = new script_store("", {}, shards_->offload());
      co_return;
    });
  }
  write_file(global_ + "/g.sieve", kKeep);
  write_file(sieve("main"), including({"include :global \"g\";"}));
  EXPECT_TRUE(load_active().error);

  // A broken included script names itself.
  write_file(sieve("main"), including({"include \"broken\";"}));
  write_file(sieve("broken"), "if {\r\n");
  loaded = load_active();
  ASSERT_TRUE(loaded.error);
  EXPECT_NE(loaded.error->find("broken"), std::string::npos) << *loaded.error;
}

TEST_F(ScriptStoreTest, IncludeLoopsEndAndEachScriptLoadsOnce) {
  // main -> a -> b -> a, and main -> main: loaded once each; refusing the recursion is
  // the interpreter's job at run time (RFC 6609 3.2).
  write_file(sieve("main"), including({"include \"a\";", "include \"main\";"}));
  write_file(sieve("a"), including({"include \"b\";"}));
  write_file(sieve("b"), including({"include \"a\";"}));
  fs::create_symlink("sieve/main.sieve", link());
  loaded_scripts loaded = load_active();
  ASSERT_FALSE(loaded.error) << *loaded.error;
  EXPECT_EQ(loaded.included.size(), 3u);
  // "main" included by name is the active program itself (one cache entry per file).
  EXPECT_EQ(included(loaded, "main", false), loaded.active.get());
}

TEST_F(ScriptStoreTest, IncludeChainDeeperThanTenIsAnError) {
  for (int i = 0; i < 12; ++i) {
    write_file(sieve("s" + std::to_string(i)), including({"include \"s" + std::to_string(i + 1) + "\";"}));
  }
  write_file(sieve("s12"), kKeep);
  fs::create_symlink("sieve/s0.sieve", link());
  loaded_scripts loaded = load_active();
  ASSERT_TRUE(loaded.error);
  EXPECT_NE(loaded.error->find("deeper"), std::string::npos) << *loaded.error;
  // Ten levels are fine.
  fs::remove(link());
  fs::create_symlink("sieve/s2.sieve", link());
  loaded = load_active();
  EXPECT_FALSE(loaded.error) << *loaded.error;
  EXPECT_EQ(loaded.included.size(), 10u);
}

// ---- owner shard and home ----------------------------------------------------------------

TEST_F(ScriptStoreTest, WithScriptsRunsOnTheOwnerShard) {
  // Find addresses owned by each shard.
  std::string on[2];
  for (int i = 0; on[0].empty() || on[1].empty(); ++i) {
    std::string a = "user" + std::to_string(i) + "@example.org";
    on[mailstore::owner_of(a, 2)] = a;
  }
  for (unsigned owner = 0; owner < 2; ++owner) {
    struct seen {
      reactor* where;
      script_store* store;
      std::string home;
    };
    seen s = testing::run_on(*shards_, 1 - owner, [&]() -> task<seen> {
      script_store_set set(stores_.begin(), stores_.end());
      auto fn = [](script_store& st, std::string home) -> task<seen> {
        co_return seen{reactor::current(), &st, std::move(home)};
      };
      co_return co_await with_scripts(set, on[owner], home_, fn);
    });
    EXPECT_EQ(s.where, &shards_->at(owner));
    EXPECT_EQ(s.store, stores_[owner]);
    EXPECT_EQ(s.home, home_);
  }
  // And real work through it.
  absl::Status st = testing::run_on(*shards_, 0, [&]() -> task<absl::Status> {
    script_store_set set(stores_.begin(), stores_.end());
    auto fn = [](script_store& s, std::string home) -> task<absl::Status> {
      co_return co_await s.put(std::move(home), "hop", "keep;\r\n");
    };
    co_return co_await with_scripts(set, on[1], home_, fn);
  });
  EXPECT_TRUE(st.ok()) << st;
  EXPECT_TRUE(fs::exists(sieve("hop")));
}

TEST(ScriptStoreHome, HomeIsTheMaildirsParent) {
  auto home = user_home("/var/vmail", "John@Example.ORG");
  ASSERT_TRUE(home.ok()) << home.status();
  EXPECT_EQ(*home, "/var/vmail/example.org/john");
  EXPECT_FALSE(user_home("/var/vmail", "no-at-sign").ok());
  EXPECT_FALSE(user_home("/var/vmail", "../x@example.org").ok());
  EXPECT_FALSE(user_home("", "john@example.org").ok());
}

}  // namespace
}  // namespace ringmail::sieve
