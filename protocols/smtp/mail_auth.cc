#include "protocols/smtp/mail_auth.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "mail/header.h"
#include "runtime/log.h"
#include "spam/arc/sealer.h"
#include "spam/dkim/signer.h"
#include "spam/evals/evals.h"

namespace ringmail::smtp {

task<inbound_auth> check_inbound(mail_auth_shard& shard, const inbound_request& in) {
  // Our own reference: a SIGHUP reload may replace shard.settings while the checks wait
  // on DNS, and they read the settings (suffixes, options) after that.
  const std::shared_ptr<const mail_auth_settings> held = shard.settings;
  const mail_auth_settings& settings = *held;
  inbound_auth out;
  out.forged = spam::remove_our_authentication_results(in.message, settings.authserv_id);
  spam::auth_request request;
  request.message = in.message;
  request.client_ip = in.client_ip;
  request.helo = in.helo;
  request.mail_from = in.mail_from;
  request.receiver = in.receiver;
  // The settings are every shard's; the key cache is this shard's: a copy of the options.
  spam::auth_options options = settings.check_options;
  options.dkim.key_cache = shard.key_cache;
  auto checking = spam::check_message_auth(*shard.dns, settings.suffixes.get(), request, options);
  out.auth = co_await std::move(checking);

  spam::ar_context context;
  context.mail_from = in.mail_from;
  context.helo = in.helo;
  out.header = spam::format_authentication_results(settings.authserv_id, out.auth, context);

  const spam::dmarc_check& dmarc = out.auth.dmarc;
  if (dmarc.result == spam::dmarc_result::fail) {
    if (dmarc.disposition == spam::dmarc_policy::reject) {
      switch (settings.on_reject) {
        case dmarc_reject_action::reject: out.action = dmarc_action::reject; break;
        case dmarc_reject_action::junk: out.action = dmarc_action::junk; break;
        case dmarc_reject_action::none: break;
      }
    } else if (dmarc.disposition == spam::dmarc_policy::quarantine && settings.quarantine_to_junk) {
      out.action = dmarc_action::junk;
    }
  }
  co_return out;
}

const std::vector<dkim_signing_key>* signing_keys_for(const mail_auth_settings& settings, std::string_view from_domain) {
  std::string domain = absl::AsciiStrToLower(std::string(from_domain));
  while (!domain.empty()) {
    if (auto it = settings.keys.find(domain); it != settings.keys.end() && !it->second.empty()) return &it->second;
    size_t dot = domain.find('.');
    if (dot == std::string::npos) break;
    domain.erase(0, dot + 1);
    if (domain.find('.') == std::string::npos) break;  // never a top-level domain's keys
  }
  return nullptr;
}

std::string from_domain_of(std::string_view message) {
  const mail::header_block headers = mail::parse_header_block(message);
  const mail::header_field* from = headers.find("From");
  if (from == nullptr) return "";
  std::vector<std::string> addresses = spam::evals::addresses_in(mail::unfold(from->value));
  if (addresses.empty()) return "";
  const std::string& a = addresses.front();
  size_t at = a.rfind('@');
  return at == std::string::npos ? "" : a.substr(at + 1);
}

std::string dkim_signatures_for(const mail_auth_settings& settings, std::string_view message,
                                std::string_view session_id) {
  if (!settings.dkim_sign) return "";
  const std::string from = from_domain_of(message);
  const std::vector<dkim_signing_key>* keys = signing_keys_for(settings, from);
  if (keys == nullptr) return "";
  // The d= is the domain whose keys these are (the From domain or its parent).
  std::string domain = absl::AsciiStrToLower(from);
  while (settings.keys.find(domain) == settings.keys.end()) domain.erase(0, domain.find('.') + 1);
  std::string fields;
  for (const dkim_signing_key& k : *keys) {
    spam::dkim::dkim_sign_options o;
    o.domain = domain;
    o.selector = k.selector;
    o.key = &k.key;
    absl::StatusOr<std::string> field = spam::dkim::sign_dkim(message, o);
    if (!field.ok()) {
      log::warn("dkim_sign_failed", {{"id", std::string(session_id)},
                                     {"domain", domain},
                                     {"selector", k.selector},
                                     {"reason", field.status().ToString()}});
      continue;
    }
    fields += *field;  // keys are RSA first: the RSA signature ends up on top
  }
  return fields;
}

namespace {

// The results of an Authentication-Results field: what follows "authserv-id;", unfolded,
// runs of white space made one space ("spf=pass smtp.mailfrom=... ; dkim=pass ...").
std::string results_of(std::string_view field) {
  size_t semicolon = field.find(';');
  if (semicolon == std::string_view::npos) return "";
  std::string out;
  bool space = false;
  for (char c : field.substr(semicolon + 1)) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

}  // namespace

std::string arc_seal_for_forward(const mail_auth_settings& settings, std::string_view forwarding_domain,
                                 std::string_view outgoing, std::string_view auth_header,
                                 const spam::message_auth& auth, std::string_view session_id) {
  if (!settings.arc_seal || !auth.checked) return "";
  const std::vector<dkim_signing_key>* keys = signing_keys_for(settings, forwarding_domain);
  if (keys == nullptr) return "";
  std::string domain = absl::AsciiStrToLower(std::string(forwarding_domain));
  while (settings.keys.find(domain) == settings.keys.end()) domain.erase(0, domain.find('.') + 1);
  // RSA when there is one: RFC 8617 names rsa-sha256 only, and receivers that check ARC
  // (Gmail, Microsoft) do not take Ed25519 seals.
  const dkim_signing_key& key = keys->front();
  spam::arc::arc_seal_options o;
  o.authserv_id = settings.authserv_id;
  o.auth_results = results_of(auth_header);
  o.chain = auth.arc.result;
  o.domain = domain;
  o.selector = key.selector;
  o.key = &key.key;
  absl::StatusOr<spam::arc::arc_seal_fields> fields = spam::arc::arc_seal(outgoing, o);
  if (!fields.ok()) {
    log::warn("arc_seal_failed", {{"id", std::string(session_id)},
                                  {"domain", domain},
                                  {"reason", fields.status().ToString()}});
    return "";
  }
  return fields->all();
}

}  // namespace ringmail::smtp
