#include "spam/arc/sealer.h"

#include <ctime>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "mail/encoding.h"
#include "spam/arc/arc_set.h"
#include "spam/dkim/canonical.h"
#include "spam/dkim/signer.h"

namespace ringmail::spam::arc {
namespace {

const std::vector<dkim::sign_header>& ams_headers() {
  static const std::vector<dkim::sign_header> list = [] {
    std::vector<dkim::sign_header> l = dkim::default_sign_headers();
    l.push_back({"dkim-signature", dkim::oversign::none});
    return l;
  }();
  return list;
}

}  // namespace

absl::StatusOr<arc_seal_fields> arc_seal(std::string_view raw, const arc_seal_options& options) {
  if (options.key == nullptr || !options.key->pkey) return absl::InvalidArgumentError("no sealing key");
  if (options.domain.empty() || options.selector.empty()) return absl::InvalidArgumentError("no d= or s=");
  dkim::prepared_message message(raw);
  auto existing = collect_arc_sets(message.headers());
  if (!existing.ok()) {
    // Without whole sets there is no seal hash input (§5.1.1) to extend.
    return absl::FailedPreconditionError(
        absl::StrCat("cannot seal over malformed ARC fields: ", std::string(existing.status().message())));
  }
  const unsigned n = static_cast<unsigned>(existing->size());
  if (n != 0) {
    auto last = parse_seal(existing->back().seal->value);
    if (last.ok() && last->cv == arc_result::fail) {
      return absl::FailedPreconditionError("the chain was sealed cv=fail before");
    }
  }
  if (n >= max_arc_instances) return absl::FailedPreconditionError("the ARC chain has 50 instances");
  const unsigned i = n + 1;
  arc_result cv = n == 0 ? arc_result::none : options.chain;
  if (n != 0 && cv == arc_result::none) cv = arc_result::fail;  // §5.1.2: a chain must be pass or fail
  dkim::algorithm algo =
      options.key->type == dkim::key_type::ed25519 ? dkim::algorithm::ed25519_sha256 : dkim::algorithm::rsa_sha256;
  int64_t t = options.timestamp != 0 ? options.timestamp : static_cast<int64_t>(std::time(nullptr));

  arc_seal_fields out;
  out.instance = i;
  out.authentication_results =
      absl::StrCat("ARC-Authentication-Results: i=", i, "; ", options.authserv_id, ";",
                   options.auth_results.empty() ? " none" : absl::StrCat("\r\n\t", options.auth_results), "\r\n");

  // The AMS: a DKIM signature with i= the instance and no v= (§4.1.2).
  std::vector<std::string> names = dkim::names_to_sign(raw, ams_headers());
  dkim::body_hasher body(dkim::canonicalization::relaxed, std::nullopt);
  body.feed(message.body());
  std::vector<std::string> tags = {absl::StrCat("i=", i), absl::StrCat("a=", std::string(dkim::to_string(algo))),
                                   "c=relaxed/relaxed", absl::StrCat("d=", options.domain),
                                   absl::StrCat("s=", options.selector), absl::StrCat("t=", t),
                                   absl::StrCat("h=", absl::StrJoin(names, ":")),
                                   absl::StrCat("bh=", mail::encode_base64(body.finish())), "b="};
  std::string unsigned_ams = dkim::fold_tags("ARC-Message-Signature: ", tags);
  std::string data = dkim::header_hash_input(message.headers(), names, dkim::canonicalization::relaxed,
                                             std::string_view(unsigned_ams).substr(0, unsigned_ams.size() - 2));
  auto ams_sig = dkim::sign_data(*options.key, algo, data);
  if (!ams_sig.ok()) return ams_sig.status();
  tags.back() = absl::StrCat("b=", mail::encode_base64(*ams_sig));
  out.message_signature = dkim::fold_tags("ARC-Message-Signature: ", tags);

  // The AS over every set up to this one (§5.1.1), computed on the message with the new
  // set prepended and the seal's b= empty.
  std::vector<std::string> seal_tags = {absl::StrCat("i=", i), absl::StrCat("a=", std::string(dkim::to_string(algo))),
                                        absl::StrCat("cv=", std::string(to_string(cv))),
                                        absl::StrCat("d=", options.domain), absl::StrCat("s=", options.selector),
                                        absl::StrCat("t=", t), "b="};
  std::string unsigned_seal = dkim::fold_tags("ARC-Seal: ", seal_tags);
  dkim::prepared_message sealed(
      absl::StrCat(unsigned_seal, out.message_signature, out.authentication_results, std::string(message.text())));
  auto sets = collect_arc_sets(sealed.headers());
  if (!sets.ok() || sets->size() != i) {
    return absl::FailedPreconditionError("the existing ARC fields are malformed; cannot seal over them");
  }
  auto seal_sig = dkim::sign_data(*options.key, algo, seal_hash_input(*sets, i));
  if (!seal_sig.ok()) return seal_sig.status();
  seal_tags.back() = absl::StrCat("b=", mail::encode_base64(*seal_sig));
  out.seal = dkim::fold_tags("ARC-Seal: ", seal_tags);
  return out;
}

}  // namespace ringmail::spam::arc
