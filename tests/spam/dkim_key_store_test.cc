// The DKIM key store (spam/dkim/key_store.h): files and modes, the DNS record (parsed as
// a tag list and checked against the private key by signing and verifying), selectors,
// activation and rotation, load_signing_keys, and the errors for broken files.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "mail/encoding.h"
#include "spam/auth/tag_list.h"
#include "spam/dkim/crypto.h"
#include "spam/dkim/key_store.h"

namespace ringmail::spam::dkim {
namespace {

namespace fs = std::filesystem;

class KeyStore : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/dkim_key_store_test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  static unsigned mode_of(const std::string& path) {
    struct stat st;
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return st.st_mode & 0777;
  }
  static std::string read(const std::string& path) {
    std::ifstream in(path);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }
  static void write(const std::string& path, const std::string& text, mode_t mode = 0600) {
    std::ofstream(path) << text;
    ::chmod(path.c_str(), mode);
  }
  std::string dir_;
};

// The record's p= is the public half of `pem`: a signature made with the private key
// verifies with the key parsed from the record.
void expect_record_matches(const std::string& record, const std::string& pem, key_type type) {
  auto tags = parse_tag_list(record);
  ASSERT_TRUE(tags.ok()) << tags.status();
  ASSERT_FALSE(tags->empty());
  EXPECT_EQ(tags->front().name, "v");
  EXPECT_EQ(tags->front().value, "DKIM1");
  const tag* k = find_tag(*tags, "k");
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(k->value, to_string(type));
  const tag* p = find_tag(*tags, "p");
  ASSERT_NE(p, nullptr);
  auto der = decode_base64_strict(p->value, 4096);
  ASSERT_TRUE(der.ok()) << der.status();
  auto pub = parse_public_key(type, *der);
  ASSERT_TRUE(pub.ok()) << pub.status();
  auto priv = load_private_key(pem);
  ASSERT_TRUE(priv.ok()) << priv.status();
  const algorithm a = type == key_type::rsa ? algorithm::rsa_sha256 : algorithm::ed25519_sha256;
  auto sig = sign_data(*priv, a, "header hash input");
  ASSERT_TRUE(sig.ok()) << sig.status();
  EXPECT_TRUE(verify_data(*pub, a, "header hash input", *sig));
  EXPECT_FALSE(verify_data(*pub, a, "other input", *sig));
}

TEST_F(KeyStore, KeygenWritesPrivateFilesAndTheFirstKeySigns) {
  key_store store(dir_);
  auto key = store.generate("Example.ORG", "rm20261207", key_type::rsa, 2048);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->domain, "example.org");
  EXPECT_EQ(key->state, key_state::signing) << "the domain had no RSA key yet";
  EXPECT_EQ(key->path, dir_ + "/dkim/example.org/rm20261207.rsa.pem");
  EXPECT_EQ(mode_of(dir_ + "/dkim"), 0700u);
  EXPECT_EQ(mode_of(dir_ + "/dkim/example.org"), 0700u);
  EXPECT_EQ(mode_of(key->path), 0600u);
  EXPECT_EQ(mode_of(dir_ + "/dkim/example.org/signing"), 0600u);
  const std::string pem = read(key->path);
  EXPECT_TRUE(pem.starts_with("-----BEGIN PRIVATE KEY-----\n")) << "PKCS#8";
  EXPECT_NE(read(dir_ + "/dkim/example.org/signing").find("\nrsa rm20261207\n"), std::string::npos);
  auto priv = load_private_key(pem);
  ASSERT_TRUE(priv.ok());
  EXPECT_EQ(priv->bits, 2048u);

  auto record = store.record(*key);
  ASSERT_TRUE(record.ok()) << record.status();
  expect_record_matches(*record, pem, key_type::rsa);
  EXPECT_EQ(dns_record_name(key->selector, key->domain), "rm20261207._domainkey.example.org");
  for (const auto& entry : fs::directory_iterator(dir_ + "/dkim/example.org")) {
    EXPECT_EQ(entry.path().filename().string().find(".tmp."), std::string::npos) << "no temporary file left";
  }
}

TEST_F(KeyStore, Ed25519RecordAndBothTypesSignSideBySide) {
  key_store store(dir_);
  ASSERT_TRUE(store.generate("example.org", "r1", key_type::rsa, 1024).ok());
  auto ed = store.generate("example.org", "e1", key_type::ed25519);
  ASSERT_TRUE(ed.ok()) << ed.status();
  EXPECT_EQ(ed->state, key_state::signing) << "the first Ed25519 key signs beside the RSA one";
  EXPECT_EQ(ed->bits, 256u);
  auto record = store.record(*ed);
  ASSERT_TRUE(record.ok());
  EXPECT_TRUE(record->starts_with("v=DKIM1; k=ed25519; p="));
  expect_record_matches(*record, read(ed->path), key_type::ed25519);
  auto signing = store.signing("example.org");
  ASSERT_TRUE(signing.ok());
  ASSERT_EQ(signing->size(), 2u);
  EXPECT_EQ((*signing)[0].selector, "r1");
  EXPECT_EQ((*signing)[1].selector, "e1");
}

TEST_F(KeyStore, SelectorsAreNeverOverwrittenAndActivationIsExplicit) {
  key_store store(dir_);
  auto first = store.generate("example.org", "s1", key_type::rsa, 1024);
  ASSERT_TRUE(first.ok());
  const std::string pem = read(first->path);
  auto again = store.generate("example.org", "s1", key_type::rsa, 1024);
  EXPECT_TRUE(absl::IsAlreadyExists(again.status())) << again.status();
  auto other_type = store.generate("example.org", "S1", key_type::ed25519);
  EXPECT_TRUE(absl::IsAlreadyExists(other_type.status())) << "one DNS record per selector";
  EXPECT_EQ(read(first->path), pem) << "the key is untouched";

  auto second = store.generate("example.org", "s2", key_type::rsa, 1024);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->state, key_state::retired) << "s1 still signs";
  auto third = store.generate("example.org", "s3", key_type::rsa, 1024, /*activate=*/true);
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->state, key_state::signing);
  auto all = store.list("example.org");
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u);
  for (const stored_key& k : *all) {
    EXPECT_EQ(k.state == key_state::signing, k.selector == "s3") << k.selector;
    EXPECT_EQ(k.bits, 1024u);
  }
  ASSERT_TRUE(store.activate("example.org", "s1").ok());
  auto signing = store.signing("example.org");
  ASSERT_TRUE(signing.ok());
  ASSERT_EQ(signing->size(), 1u);
  EXPECT_EQ((*signing)[0].selector, "s1");
  EXPECT_TRUE(absl::IsNotFound(store.activate("example.org", "nope")));
}

TEST_F(KeyStore, RotateMakesNewSigningKeysAndKeepsTheOld) {
  key_store store(dir_);
  ASSERT_TRUE(store.generate("example.org", "old", key_type::rsa, 1024).ok());
  ASSERT_TRUE(store.generate("example.org", "olde", key_type::ed25519).ok());
  auto rotated = store.rotate("example.org", "20261207");
  ASSERT_TRUE(rotated.ok()) << rotated.status();
  ASSERT_EQ(rotated->size(), 2u);
  EXPECT_EQ((*rotated)[0].retired.selector, "old");
  EXPECT_EQ((*rotated)[0].signing.selector, "rm20261207");
  EXPECT_EQ((*rotated)[0].signing.bits, 1024u) << "RSA keeps its size";
  EXPECT_EQ((*rotated)[1].retired.selector, "olde");
  EXPECT_EQ((*rotated)[1].signing.selector, "rm20261207e");
  EXPECT_TRUE(fs::exists((*rotated)[0].retired.path)) << "the old key stays for its published record";

  // A second rotation on the same day takes the next free selector.
  auto again = store.rotate("example.org", "20261207");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ((*again)[0].signing.selector, "rm20261207-2");
  EXPECT_EQ((*again)[1].signing.selector, "rm20261207e-2");
  auto all = store.list("example.org");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 6u);

  EXPECT_TRUE(absl::IsFailedPrecondition(store.rotate("nothing.example", "20261207").status()));
}

TEST_F(KeyStore, LoadSigningKeysPicksTheSigningOnes) {
  auto empty = load_signing_keys(dir_);
  ASSERT_TRUE(empty.ok()) << "no dkim directory: nothing signs";
  EXPECT_TRUE(empty->empty());

  key_store store(dir_);
  auto a = store.generate("example.org", "a", key_type::rsa, 1024);
  auto b = store.generate("example.org", "b", key_type::rsa, 1024);  // retired
  auto e = store.generate("example.org", "e", key_type::ed25519);
  auto n = store.generate("Example.NET", "n", key_type::rsa, 1024);
  ASSERT_TRUE(a.ok() && b.ok() && e.ok() && n.ok());
  auto table = load_signing_keys(dir_);
  ASSERT_TRUE(table.ok()) << table.status();
  ASSERT_EQ(table->size(), 2u);
  const auto& org = table->at("example.org");
  ASSERT_EQ(org.size(), 2u);
  EXPECT_EQ(org[0].selector, "a");
  EXPECT_EQ(org[0].type, key_type::rsa);
  EXPECT_EQ(org[0].pem, read(a->path));
  EXPECT_EQ(org[1].selector, "e");
  EXPECT_EQ(org[1].type, key_type::ed25519);
  EXPECT_EQ(table->at("example.net").at(0).selector, "n");
}

TEST_F(KeyStore, BrokenFilesGiveClearErrors) {
  key_store store(dir_);
  auto a = store.generate("example.org", "a", key_type::rsa, 1024);
  ASSERT_TRUE(a.ok());
  const std::string domain_dir = dir_ + "/dkim/example.org";
  auto message = [&] { return std::string(load_signing_keys(dir_).status().message()); };

  write(domain_dir + "/signing", "rsa missing\n");
  EXPECT_NE(message().find("missing.rsa.pem"), std::string::npos) << message();

  write(domain_dir + "/signing", "dsa a\n");
  EXPECT_NE(message().find("signing:1: unknown key type 'dsa'"), std::string::npos) << message();

  write(domain_dir + "/signing", "# comment\n\nrsa a\nrsa a\n");
  EXPECT_NE(message().find("signing:4: a second rsa key"), std::string::npos) << message();

  write(domain_dir + "/signing", "rsa ../../etc\n");
  EXPECT_NE(message().find("bad selector"), std::string::npos) << message();

  write(domain_dir + "/x.ed25519.pem", read(a->path));  // an RSA key under an Ed25519 name
  write(domain_dir + "/signing", "ed25519 x\n");
  EXPECT_NE(message().find("x.ed25519.pem: not an ed25519 key"), std::string::npos) << message();
  fs::remove(domain_dir + "/x.ed25519.pem");

  write(domain_dir + "/signing", "rsa a\n");
  ASSERT_TRUE(load_signing_keys(dir_).ok());
  ::chmod(a->path.c_str(), 0644);
  auto open = load_signing_keys(dir_);
  EXPECT_TRUE(absl::IsPermissionDenied(open.status())) << open.status();
  EXPECT_NE(message().find("mode 644"), std::string::npos) << message();

  write(a->path, "-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n");
  EXPECT_NE(message().find("a.rsa.pem: no private key"), std::string::npos) << message();

  EXPECT_FALSE(store.generate("../evil", "s", key_type::rsa, 1024).ok());
  EXPECT_FALSE(store.generate("example.org", "a/b", key_type::rsa, 1024).ok());
  EXPECT_FALSE(store.generate("example..org", "s", key_type::rsa, 1024).ok());
  EXPECT_FALSE(store.generate("example.org", "s", key_type::rsa, 512).ok()) << "RFC 8301: 1024 at least";
  EXPECT_FALSE(fs::exists(dir_ + "/dkim/evil"));
}

TEST(KeyStoreText, TxtStringsAndZoneFileRecord) {
  EXPECT_EQ(txt_strings("").size(), 1u);
  const std::string value(600, 'x');
  auto parts = txt_strings(value);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[0].size(), 255u);
  EXPECT_EQ(parts[1].size(), 255u);
  EXPECT_EQ(parts[2].size(), 90u);
  EXPECT_EQ(parts[0] + parts[1] + parts[2], value);
  EXPECT_EQ(zone_file_record("s._domainkey.example.org", "v=DKIM1; p=AB"),
            "s._domainkey.example.org. IN TXT ( \"v=DKIM1; p=AB\" )");
  EXPECT_EQ(default_selector(key_type::rsa, "20261207"), "rm20261207");
  EXPECT_EQ(default_selector(key_type::ed25519, "20261207"), "rm20261207e");
  EXPECT_EQ(parse_key_type("ed25519"), key_type::ed25519);
  EXPECT_FALSE(parse_key_type("dsa").has_value());
}

}  // namespace
}  // namespace ringmail::spam::dkim
