#include "spam/dkim/signer.h"

#include <ctime>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "mail/encoding.h"
#include "spam/dkim/canonical.h"

namespace ringmail::spam::dkim {

const std::vector<sign_header>& default_sign_headers() {
  static const std::vector<sign_header> list = [] {
    std::vector<sign_header> l;
    // rspamd's default sign_headers string, "(o)" and "(x)" prefixes as modes.
    constexpr std::string_view spec =
        "(o)from:(x)sender:(o)reply-to:(o)subject:(x)date:(x)message-id:"
        "(o)to:(o)cc:(x)mime-version:(x)content-type:(x)content-transfer-encoding:"
        "resent-to:resent-cc:resent-from:resent-sender:resent-message-id:"
        "(x)in-reply-to:(x)references:list-id:list-help:list-owner:list-unsubscribe:"
        "list-unsubscribe-post:list-subscribe:list-post:(x)openpgp:(x)autocrypt";
    std::string_view rest = spec;
    while (!rest.empty()) {
      size_t colon = rest.find(':');
      std::string_view one = rest.substr(0, colon);
      rest = colon == std::string_view::npos ? std::string_view() : rest.substr(colon + 1);
      sign_header h;
      if (one.starts_with("(o)")) {
        h.mode = oversign::always;
        one.remove_prefix(3);
      } else if (one.starts_with("(x)")) {
        h.mode = oversign::if_present;
        one.remove_prefix(3);
      }
      h.name = std::string(one);
      l.push_back(std::move(h));
    }
    return l;
  }();
  return list;
}

namespace {

std::vector<std::string> names_for(const mail::header_block& block, const std::vector<sign_header>& headers) {
  std::vector<std::string> names;
  for (const sign_header& h : headers) {
    size_t n = 0;
    for (const mail::header_field& f : block.fields) {
      if (mail::equals_ignore_case(f.name, h.name)) ++n;
    }
    if (h.mode == oversign::always || (h.mode == oversign::if_present && n > 0)) ++n;
    for (size_t i = 0; i < n; ++i) names.push_back(h.name);
  }
  return names;
}

}  // namespace

std::vector<std::string> names_to_sign(std::string_view message, const std::vector<sign_header>& headers) {
  prepared_message m(message);
  return names_for(m.headers(), headers);
}

std::string fold_tags(std::string_view prefix, const std::vector<std::string>& tags, size_t width) {
  std::string out(prefix);
  size_t column = prefix.size();
  for (size_t i = 0; i < tags.size(); ++i) {
    std::string piece = tags[i] + (i + 1 < tags.size() ? ";" : "");
    if (column + 1 + piece.size() <= width) {
      if (column != prefix.size()) {
        out += ' ';
        ++column;
      }
      out += piece;
      column += piece.size();
      continue;
    }
    // Start a new line; break a long piece: h= after colons, base64 anywhere.
    bool list = piece.starts_with("h=");
    std::string_view rest = piece;
    out += "\r\n\t";
    column = 8;
    while (column + rest.size() > width) {
      size_t room = width > column ? width - column : 1;
      size_t cut = room;
      if (list) {
        size_t colon = rest.substr(0, room).rfind(':');
        cut = colon == std::string_view::npos ? rest.find(':') : colon;
        if (cut == std::string_view::npos) break;
        ++cut;  // keep the colon on this line
      }
      if (cut >= rest.size()) break;
      out.append(rest.substr(0, cut));
      out += "\r\n\t";
      column = 8;
      rest.remove_prefix(cut);
    }
    out.append(rest);
    column += rest.size();
  }
  out += "\r\n";
  return out;
}

absl::StatusOr<std::string> sign_dkim(std::string_view raw, const dkim_sign_options& options) {
  if (options.key == nullptr || !options.key->pkey) return absl::InvalidArgumentError("no signing key");
  if (options.domain.empty() || options.selector.empty()) return absl::InvalidArgumentError("no d= or s=");
  prepared_message message(raw);
  std::vector<std::string> names = names_for(message.headers(), options.headers);
  bool from = false;
  for (const std::string& n : names) from = from || mail::equals_ignore_case(n, "from");
  if (!from) return absl::InvalidArgumentError("the header set does not sign From");

  algorithm algo = options.key->type == key_type::ed25519 ? algorithm::ed25519_sha256 : algorithm::rsa_sha256;
  body_hasher body(canonicalization::relaxed, std::nullopt);
  body.feed(message.body());
  std::string bh = body.finish();
  int64_t t = options.timestamp != 0 ? options.timestamp : static_cast<int64_t>(std::time(nullptr));

  std::vector<std::string> tags = {"v=1", absl::StrCat("a=", std::string(to_string(algo))), "c=relaxed/relaxed",
                                   absl::StrCat("d=", options.domain), absl::StrCat("s=", options.selector)};
  if (!options.identity.empty()) tags.push_back(absl::StrCat("i=", options.identity));
  tags.push_back(absl::StrCat("t=", t));
  if (options.expire_after) tags.push_back(absl::StrCat("x=", t + *options.expire_after));
  if (options.sign_body_length) tags.push_back(absl::StrCat("l=", body.canonical_length()));
  tags.push_back(absl::StrCat("h=", absl::StrJoin(names, ":")));
  tags.push_back(absl::StrCat("bh=", mail::encode_base64(bh)));
  tags.push_back("b=");
  std::string unsigned_field = fold_tags("DKIM-Signature: ", tags);
  // What the verifier hashes: the field with b= empty, without its final CRLF (§3.7).
  std::string_view without_crlf(unsigned_field.data(), unsigned_field.size() - 2);
  std::string data = header_hash_input(message.headers(), names, canonicalization::relaxed, without_crlf);
  auto sig = sign_data(*options.key, algo, data);
  if (!sig.ok()) return sig.status();
  tags.back() = absl::StrCat("b=", mail::encode_base64(*sig));
  return fold_tags("DKIM-Signature: ", tags);
}

}  // namespace ringmail::spam::dkim
