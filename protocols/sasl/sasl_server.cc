#include "protocols/sasl/sasl_server.h"

#include <openssl/crypto.h>

#include <array>
#include <cstdint>
#include <utility>

namespace ringmail::sasl {
namespace {

// RFC 4616 section 2: "The client MUST NOT send, and the server MUST accept, up to 255
// octets" per field; we accept exactly that much and no more, so an attacker cannot make
// the directory lookup or hashing work on large inputs.
constexpr size_t kMaxFieldBytes = 255;

// draft-murchison-sasl-login-00 section 2: the server's prompts.
constexpr std::string_view kLoginUsernameChallenge = "VXNlcm5hbWU6";  // "Username:"
constexpr std::string_view kLoginPasswordChallenge = "UGFzc3dvcmQ6";  // "Password:"

// Overwrites the whole allocation, not just size() bytes: a string that shrank, or that
// gave its buffer back in a move (libstdc++ hands the target's old heap buffer to the
// source), still holds old bytes between size() and capacity(). resize() within the
// capacity never reallocates, so no unwiped copy is freed behind our back.
void wipe_string(std::string& s) noexcept {
  s.resize(s.capacity());
  OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

// Wipes a string when the scope ends, whichever way we leave it.
class wipe_guard {
 public:
  explicit wipe_guard(std::string& s) : s_(s) {}
  ~wipe_guard() { wipe_string(s_); }
  wipe_guard(const wipe_guard&) = delete;
  wipe_guard& operator=(const wipe_guard&) = delete;

 private:
  std::string& s_;
};

// RFC 4648 section 4 alphabet; -1 for everything else, "=" included (it is handled
// separately, only in the last group).
constexpr std::array<int8_t, 256> make_decode_table() {
  std::array<int8_t, 256> t{};
  for (auto& v : t) v = -1;
  constexpr std::string_view alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (size_t i = 0; i < alphabet.size(); ++i) {
    t[static_cast<uint8_t>(alphabet[i])] = static_cast<int8_t>(i);
  }
  return t;
}
constexpr std::array<int8_t, 256> kDecode = make_decode_table();
constexpr char kEncode[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Well-formed UTF-8 per RFC 3629 section 4: no overlong forms, no surrogates
// (U+D800..U+DFFF), nothing above U+10FFFF. RFC 4616 section 2 requires UTF-8 for all
// three PLAIN fields.
bool valid_utf8(std::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  auto cont = [&](size_t at, uint8_t lo, uint8_t hi) {
    if (at >= n) return false;
    auto b = static_cast<uint8_t>(s[at]);
    return b >= lo && b <= hi;
  };
  while (i < n) {
    auto b = static_cast<uint8_t>(s[i]);
    if (b < 0x80) {
      i += 1;
    } else if (b >= 0xC2 && b <= 0xDF) {
      if (!cont(i + 1, 0x80, 0xBF)) return false;
      i += 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
      uint8_t lo = b == 0xE0 ? 0xA0 : 0x80;  // E0: no overlongs
      uint8_t hi = b == 0xED ? 0x9F : 0xBF;  // ED: no surrogates
      if (!cont(i + 1, lo, hi) || !cont(i + 2, 0x80, 0xBF)) return false;
      i += 3;
    } else if (b >= 0xF0 && b <= 0xF4) {
      uint8_t lo = b == 0xF0 ? 0x90 : 0x80;  // F0: no overlongs
      uint8_t hi = b == 0xF4 ? 0x8F : 0xBF;  // F4: nothing above U+10FFFF
      if (!cont(i + 1, lo, hi) || !cont(i + 2, 0x80, 0xBF) || !cont(i + 3, 0x80, 0xBF)) {
        return false;
      }
      i += 4;
    } else {
      return false;  // stray continuation byte, C0/C1, F5..FF
    }
  }
  return true;
}

enum class field { authzid, authcid, password };

// Checks one field; returns the reason it is unacceptable, or "" if it is fine. The
// reasons name the field, never its content.
std::string_view field_problem(std::string_view value, field f) {
  static constexpr std::string_view kEmpty[] = {"", "empty authentication identity",
                                                "empty password"};
  static constexpr std::string_view kTooLong[] = {
      "authorization identity longer than 255 octets",
      "authentication identity longer than 255 octets", "password longer than 255 octets"};
  static constexpr std::string_view kNul[] = {"authorization identity contains NUL",
                                              "authentication identity contains NUL",
                                              "password contains NUL"};
  static constexpr std::string_view kUtf8[] = {"authorization identity is not valid UTF-8",
                                               "authentication identity is not valid UTF-8",
                                               "password is not valid UTF-8"};
  const auto i = static_cast<size_t>(f);
  // RFC 4616 section 2: authcid and passwd are 1*SAFE; authzid may be absent.
  if (value.empty() && f != field::authzid) return kEmpty[i];
  if (value.size() > kMaxFieldBytes) return kTooLong[i];
  // PLAIN fields cannot hold a NUL (it is the separator); LOGIN ones could, and a NUL in
  // a login name would only confuse whatever C string handling lies downstream.
  if (value.find('\0') != std::string_view::npos) return kNul[i];
  if (!valid_utf8(value)) return kUtf8[i];
  return {};
}

step make_challenge(std::string_view challenge) {
  step s;
  s.k = step::kind::challenge;
  s.challenge_base64 = std::string(challenge);
  return s;
}

}  // namespace

std::optional<mechanism> parse_mechanism(std::string_view name) {
  auto iequals = [](std::string_view a, std::string_view upper) {
    if (a.size() != upper.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      char c = a[i];
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
      if (c != upper[i]) return false;
    }
    return true;
  };
  if (iequals(name, "PLAIN")) return mechanism::plain;
  if (iequals(name, "LOGIN")) return mechanism::login;
  return std::nullopt;
}

std::string_view mechanism_name(mechanism m) {
  switch (m) {
    case mechanism::plain:
      return "PLAIN";
    case mechanism::login:
      return "LOGIN";
  }
  return "";
}

// --- credentials ---------------------------------------------------------------------

credentials::credentials(const credentials& o)
    : authzid(o.authzid), authcid(o.authcid), password(o.password) {}

credentials::credentials(credentials&& o) noexcept
    : authzid(std::move(o.authzid)),
      authcid(std::move(o.authcid)),
      password(std::move(o.password)) {
  o.wipe();
}

credentials& credentials::operator=(const credentials& o) {
  if (this != &o) {
    // Wipe first: assign() may reallocate and free our old buffer unwiped.
    wipe();
    authzid = o.authzid;
    authcid = o.authcid;
    password = o.password;
  }
  return *this;
}

credentials& credentials::operator=(credentials&& o) noexcept {
  if (this != &o) {
    wipe();
    authzid = std::move(o.authzid);
    authcid = std::move(o.authcid);
    password = std::move(o.password);
    o.wipe();
  }
  return *this;
}

credentials::~credentials() { wipe(); }

void credentials::wipe() noexcept {
  wipe_string(authzid);
  wipe_string(authcid);
  wipe_string(password);
}

step reject_unknown_mechanism() {
  step s;
  s.k = step::kind::error;
  s.error = "unknown mechanism";
  s.code = error_code::unknown_mechanism;
  return s;
}

// --- base64 --------------------------------------------------------------------------

std::optional<std::string> base64_decode(std::string_view in) {
  if (in.size() % 4 != 0) return std::nullopt;  // padding is mandatory (RFC 4648 3.2)
  if (in.empty()) return std::string();
  size_t pad = 0;
  if (in[in.size() - 1] == '=') pad = in[in.size() - 2] == '=' ? 2 : 1;

  // Sized once up front so the buffer never reallocates (which would free a partial,
  // unwiped copy of the secret).
  std::string out(in.size() / 4 * 3 - pad, '\0');
  size_t o = 0;
  for (size_t i = 0; i < in.size(); i += 4) {
    const bool last = i + 4 == in.size();
    const size_t data_chars = last ? 4 - pad : 4;
    uint32_t v[4] = {0, 0, 0, 0};
    for (size_t j = 0; j < data_chars; ++j) {
      int8_t d = kDecode[static_cast<uint8_t>(in[i + j])];
      if (d < 0) {  // bad character, whitespace, or "=" before the end
        wipe_string(out);
        return std::nullopt;
      }
      v[j] = static_cast<uint32_t>(d);
    }
    const uint32_t group = v[0] << 18 | v[1] << 12 | v[2] << 6 | v[3];
    // RFC 4648 section 3.5: the pad bits must be zero for the encoding to be canonical.
    if ((data_chars == 2 && (group & 0xFFFF) != 0) || (data_chars == 3 && (group & 0xFF) != 0)) {
      wipe_string(out);
      return std::nullopt;
    }
    out[o++] = static_cast<char>(group >> 16);
    if (data_chars >= 3) out[o++] = static_cast<char>(group >> 8 & 0xFF);
    if (data_chars == 4) out[o++] = static_cast<char>(group & 0xFF);
  }
  return out;
}

std::string base64_encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    uint32_t g = uint32_t{static_cast<uint8_t>(in[i])} << 16 |
                 uint32_t{static_cast<uint8_t>(in[i + 1])} << 8 |
                 uint32_t{static_cast<uint8_t>(in[i + 2])};
    out += kEncode[g >> 18 & 63];
    out += kEncode[g >> 12 & 63];
    out += kEncode[g >> 6 & 63];
    out += kEncode[g & 63];
  }
  const size_t rest = in.size() - i;
  if (rest > 0) {
    uint32_t g = uint32_t{static_cast<uint8_t>(in[i])} << 16;
    if (rest == 2) g |= uint32_t{static_cast<uint8_t>(in[i + 1])} << 8;
    out += kEncode[g >> 18 & 63];
    out += kEncode[g >> 12 & 63];
    out += rest == 2 ? kEncode[g >> 6 & 63] : '=';
    out += '=';
  }
  return out;
}

// --- server --------------------------------------------------------------------------

server::server(mechanism m, size_t max_response_bytes)
    : mechanism_(m), max_response_bytes_(max_response_bytes) {}

server::~server() { wipe_string(username_); }

server::server(server&& o) noexcept
    : mechanism_(o.mechanism_),
      max_response_bytes_(o.max_response_bytes_),
      state_(std::exchange(o.state_, state::finished)),
      username_(std::move(o.username_)) {
  wipe_string(o.username_);
}

server& server::operator=(server&& o) noexcept {
  if (this != &o) {
    wipe_string(username_);
    mechanism_ = o.mechanism_;
    max_response_bytes_ = o.max_response_bytes_;
    state_ = std::exchange(o.state_, state::finished);
    username_ = std::move(o.username_);
    wipe_string(o.username_);
  }
  return *this;
}

step server::fail(error_code code, std::string_view reason) {
  // Any failure ends the exchange (RFC 4422 section 3.6: the outcome is final).
  state_ = state::finished;
  wipe_string(username_);
  step s;
  s.k = step::kind::error;
  s.error = std::string(reason);
  s.code = code;
  return s;
}

step server::start(std::optional<std::string_view> initial_response_base64) {
  if (state_ == state::finished) {
    return fail(error_code::out_of_sequence, "authentication exchange already finished");
  }
  if (state_ != state::not_started) {
    return fail(error_code::out_of_sequence, "authentication exchange already started");
  }

  if (!initial_response_base64) {
    switch (mechanism_) {
      case mechanism::plain:
        // RFC 4616 section 2 / RFC 4422 section 5: with no initial response the server
        // sends an empty challenge and the whole message comes in the reply.
        state_ = state::awaiting_plain;
        return make_challenge("");
      case mechanism::login:
        state_ = state::awaiting_username;
        return make_challenge(kLoginUsernameChallenge);
    }
  }

  std::string_view ir = *initial_response_base64;
  if (ir.size() > max_response_bytes_) {
    return fail(error_code::line_too_long, "initial response too long");
  }
  if (ir.empty()) {
    // RFC 4954 section 4: "a zero-length initial response is sent as a single equals
    // sign"; a bare space after the mechanism name is a client bug, not "empty".
    return fail(error_code::malformed_base64, "empty initial response must be sent as \"=\"");
  }
  // The initial response is the first response, so the state is as if we had sent the
  // first challenge.
  state_ = mechanism_ == mechanism::plain ? state::awaiting_plain : state::awaiting_username;
  if (ir == "=") return on_response("");
  return on_response(ir);
}

step server::feed(std::string_view line_base64) {
  if (state_ == state::finished) {
    return fail(error_code::out_of_sequence, "authentication exchange already finished");
  }
  if (state_ == state::not_started) {
    return fail(error_code::out_of_sequence, "authentication exchange not started");
  }
  if (line_base64.size() > max_response_bytes_) {
    return fail(error_code::line_too_long, "response too long");
  }
  // RFC 4954 section 4, RFC 9051 section 6.2.2, RFC 5034 section 4: "*" cancels.
  if (line_base64 == "*") return fail(error_code::cancelled, "cancelled by client");
  return on_response(line_base64);
}

step server::on_response(std::string_view line_base64) {
  std::optional<std::string> decoded = base64_decode(line_base64);
  // RFC 4954 section 4: an undecodable response fails the exchange (501).
  if (!decoded) return fail(error_code::malformed_base64, "malformed base64");
  wipe_guard guard(*decoded);
  switch (state_) {
    case state::awaiting_plain:
      return on_plain(*decoded);
    case state::awaiting_username:
      return on_login_username(*decoded);
    case state::awaiting_password:
      return on_login_password(*decoded);
    case state::not_started:
    case state::finished:
      break;
  }
  return fail(error_code::out_of_sequence, "unexpected response");
}

// RFC 4616 section 2: message = [authzid] UTF8NUL authcid UTF8NUL passwd
step server::on_plain(std::string& message) {
  const std::string_view m = message;
  const size_t nul1 = m.find('\0');
  const size_t nul2 = nul1 == std::string_view::npos ? nul1 : m.find('\0', nul1 + 1);
  // A third NUL would land in passwd, which is 1*SAFE and so excludes NUL.
  if (nul2 == std::string_view::npos || m.find('\0', nul2 + 1) != std::string_view::npos) {
    return fail(error_code::malformed_message,
                "malformed PLAIN message: expected [authzid] NUL authcid NUL password");
  }
  const std::string_view authzid = m.substr(0, nul1);
  const std::string_view authcid = m.substr(nul1 + 1, nul2 - nul1 - 1);
  const std::string_view password = m.substr(nul2 + 1);
  for (auto [value, f] : {std::pair{authcid, field::authcid}, std::pair{password, field::password},
                          std::pair{authzid, field::authzid}}) {
    if (std::string_view why = field_problem(value, f); !why.empty()) {
      return fail(error_code::malformed_message, why);
    }
  }
  // RFC 4616 section 2: a non-empty authzid asks to act as someone else. We do not
  // support proxy authorization, so it is accepted only when it names the user himself.
  if (!authzid.empty() && authzid != authcid) {
    return fail(error_code::authzid_not_allowed, "authorization identity not allowed");
  }
  state_ = state::finished;
  step s;
  s.k = step::kind::done;
  // assign() into empty strings: one allocation each, nothing freed unwiped.
  s.creds.authzid.assign(authzid);
  s.creds.authcid.assign(authcid);
  s.creds.password.assign(password);
  return s;
}

step server::on_login_username(std::string& username) {
  if (std::string_view why = field_problem(username, field::authcid); !why.empty()) {
    return fail(error_code::malformed_message, why);
  }
  username_.assign(username);
  state_ = state::awaiting_password;
  return make_challenge(kLoginPasswordChallenge);
}

step server::on_login_password(std::string& password) {
  if (std::string_view why = field_problem(password, field::password); !why.empty()) {
    return fail(error_code::malformed_message, why);
  }
  state_ = state::finished;
  step s;
  s.k = step::kind::done;
  // LOGIN has no authorization identity (draft-murchison-sasl-login-00 section 2).
  s.creds.authcid.assign(username_);
  s.creds.password.assign(password);
  wipe_string(username_);
  return s;
}

}  // namespace ringmail::sasl
