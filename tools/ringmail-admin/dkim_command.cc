#include "tools/ringmail-admin/dkim_command.h"

#include <cstdio>
#include <ctime>

#include "absl/flags/flag.h"
#include "spam/dkim/key_store.h"

ABSL_FLAG(std::string, selector, "", "dkim keygen: the selector (default rm<YYYYMMDD>, + 'e' for ed25519)");
ABSL_FLAG(std::string, type, "rsa", "dkim keygen: the key type, rsa or ed25519");
ABSL_FLAG(uint32_t, bits, 2048, "dkim keygen: RSA key size in bits (1024..4096)");
ABSL_FLAG(bool, activate, false, "dkim keygen: sign with the new key now even if the domain has one of its type");

namespace ringmail::tools {
namespace {

using spam::dkim::key_store;
using spam::dkim::stored_key;

int fail(const absl::Status& st) {
  std::fprintf(stderr, "ringmail-admin: %s\n", std::string(st.message()).c_str());
  return 1;
}

// Today in UTC as YYYYMMDD, for default selectors.
std::string today() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y%m%d", &tm);
  return buf;
}

// "; <domain> <selector> <type> <bits> <state>" then the record's zone-file line.
int print_record(const key_store& store, const stored_key& k) {
  auto record = store.record(k);
  if (!record.ok()) return fail(record.status());
  std::printf("; %s selector=%s type=%s bits=%u %s\n", k.domain.c_str(), k.selector.c_str(),
              std::string(to_string(k.type)).c_str(), k.bits, std::string(to_string(k.state)).c_str());
  std::printf("%s\n", spam::dkim::zone_file_record(spam::dkim::dns_record_name(k.selector, k.domain), *record).c_str());
  return 0;
}

constexpr const char* kReloadAdvice =
    "; Publish the record, wait until DNS serves it, then reload ringmail (SIGHUP) to sign with it.\n";

int keygen(key_store& store, const std::string& domain) {
  auto type = spam::dkim::parse_key_type(absl::GetFlag(FLAGS_type));
  if (!type) {
    std::fprintf(stderr, "ringmail-admin: --type must be rsa or ed25519\n");
    return 2;
  }
  std::string selector = absl::GetFlag(FLAGS_selector);
  if (selector.empty()) selector = spam::dkim::default_selector(*type, today());
  auto key = store.generate(domain, selector, *type, absl::GetFlag(FLAGS_bits), absl::GetFlag(FLAGS_activate));
  if (!key.ok()) return fail(key.status());
  if (int rc = print_record(store, *key); rc != 0) return rc;
  if (key->state == spam::dkim::key_state::signing) {
    std::printf("%s", kReloadAdvice);
  } else {
    std::printf("; Not signing yet (the domain signs with another %s key): `dkim rotate` or keygen --activate.\n",
                std::string(to_string(key->type)).c_str());
  }
  return 0;
}

int list(const key_store& store, const std::string& domain) {
  auto keys = store.list(domain);
  if (!keys.ok()) return fail(keys.status());
  for (const stored_key& k : *keys) {
    std::printf("%s\t%s\t%s\t%u\t%s\t%s\n", k.domain.c_str(), k.selector.c_str(),
                std::string(to_string(k.type)).c_str(), k.bits, std::string(to_string(k.state)).c_str(),
                spam::dkim::dns_record_name(k.selector, k.domain).c_str());
  }
  return 0;
}

int rotate(key_store& store, const std::string& domain) {
  auto rotated = store.rotate(domain, today());
  if (!rotated.ok()) return fail(rotated.status());
  std::printf("; New signing keys: publish these records now.\n");
  for (const auto& r : *rotated) {
    if (int rc = print_record(store, r.signing); rc != 0) return rc;
  }
  std::printf(
      "; Retired keys, kept: leave these records published for a few days (mail signed with them\n"
      "; may still be in transit or be verified again later), then remove them.\n");
  for (const auto& r : *rotated) {
    if (int rc = print_record(store, r.retired); rc != 0) return rc;
  }
  std::printf("%s", kReloadAdvice);
  return 0;
}

int show(const key_store& store, const std::string& domain) {
  auto keys = store.signing(domain);
  if (!keys.ok()) return fail(keys.status());
  if (keys->empty()) return fail(absl::NotFoundError("dkim: " + domain + " has no signing key (dkim keygen)"));
  for (const stored_key& k : *keys) {
    if (int rc = print_record(store, k); rc != 0) return rc;
  }
  return 0;
}

}  // namespace

int dkim_command(const std::string& data_dir, const std::vector<std::string>& args) {
  if (args.empty()) return 2;
  key_store store(data_dir);
  const std::string& sub = args[0];
  if (sub == "keygen" && args.size() == 2) return keygen(store, args[1]);
  if (sub == "list" && args.size() <= 2) return list(store, args.size() == 2 ? args[1] : "");
  if (sub == "rotate" && args.size() == 2) return rotate(store, args[1]);
  if (sub == "show" && args.size() == 2) return show(store, args[1]);
  return 2;
}

}  // namespace ringmail::tools
