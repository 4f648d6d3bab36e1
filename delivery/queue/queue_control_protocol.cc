#include "delivery/queue/queue_control_protocol.h"

#include <charconv>
#include <vector>

namespace ringmail::queue {
namespace {

// Plain appends, no absl::StrCat: the fuzz build (clang) sees absl::string_view and
// std::string_view as different types (as in queue_format.cc).
constexpr std::string_view kAll = "ALL";

absl::Status usage(std::string_view text) { return absl::InvalidArgumentError(std::string(text)); }

// A decimal number without sign or leading zero, the whole of `s`, at most `max`.
bool strict_number(std::string_view s, uint64_t max, uint64_t* out) {
  if (s.empty() || s.size() > 20 || (s.size() > 1 && s[0] == '0')) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v > max) return false;
  *out = v;
  return true;
}

// Splits "a b c" at single spaces; false on an empty field (two spaces, a leading or
// trailing one) or more than `max_fields` fields.
bool split_fields(std::string_view line, size_t max_fields, std::vector<std::string_view>* out) {
  out->clear();
  for (;;) {
    const size_t sp = line.find(' ');
    std::string_view field = line.substr(0, sp);
    if (field.empty() || out->size() == max_fields) return false;
    out->push_back(field);
    if (sp == std::string_view::npos) return true;
    line.remove_prefix(sp + 1);
  }
}

absl::Status malformed(std::string_view what) {
  return absl::DataLossError("queue control reply malformed: " + std::string(what));
}

}  // namespace

std::string_view control_verb_name(control_verb v) {
  switch (v) {
    case control_verb::list: return "list";
    case control_verb::show: return "show";
    case control_verb::flush: return "flush";
    case control_verb::remove: return "delete";
    case control_verb::hold: return "hold";
    case control_verb::release: return "release";
  }
  return "?";
}

absl::StatusOr<control_request> parse_control_request(std::string_view line) {
  if (line.ends_with('\n')) line.remove_suffix(1);
  if (line.ends_with('\r')) line.remove_suffix(1);
  if (line.size() > kMaxControlLine) return usage("command line too long");
  for (char c : line) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
      return usage("command contains a control character or non-ASCII byte");
    }
  }
  std::vector<std::string_view> f;
  if (!split_fields(line, 2, &f)) {
    return usage("expected one command and at most one argument, separated by one space");
  }
  control_request r;
  const std::string_view verb = f[0];
  const bool has_arg = f.size() == 2;
  const std::string_view arg = has_arg ? f[1] : std::string_view();
  if (verb == "list") {
    if (has_arg) return usage("usage: list");
    r.verb = control_verb::list;
    return r;
  }
  if (verb == "flush") {
    r.verb = control_verb::flush;
    if (!has_arg) return r;
    if (!valid_queue_id(arg) || arg == kAll) return usage("usage: flush [<queue id>]");
    r.id = std::string(arg);
    return r;
  }
  if (verb == "show") {
    if (!has_arg || !valid_queue_id(arg) || arg == kAll) return usage("usage: show <queue id>");
    r.verb = control_verb::show;
    r.id = std::string(arg);
    return r;
  }
  if (verb == "delete" || verb == "hold" || verb == "release") {
    r.verb = verb == "delete" ? control_verb::remove : verb == "hold" ? control_verb::hold : control_verb::release;
    // "ALL" is itself a valid queue id by shape, but never one new_id makes (those hold
    // two '-'): it always means every message.
    if (has_arg && arg == kAll) {
      r.all = true;
      return r;
    }
    if (!has_arg || !valid_queue_id(arg)) {
      return usage("usage: " + std::string(verb) + " <queue id>|ALL");
    }
    r.id = std::string(arg);
    return r;
  }
  return usage("unknown command (list, show, flush, delete, hold, release)");
}

std::string format_control_request(const control_request& request) {
  std::string out(control_verb_name(request.verb));
  if (request.all) {
    out.append(" ").append(kAll);
  } else if (!request.id.empty()) {
    out.append(" ").append(request.id);
  }
  out.append("\n");
  return out;
}

std::optional<unsigned> shard_of_queue_id(std::string_view id) {
  const size_t first = id.find('-');
  if (first == std::string_view::npos) return std::nullopt;
  const size_t second = id.find('-', first + 1);
  if (second == std::string_view::npos) return std::nullopt;
  uint64_t shard = 0;
  if (!strict_number(id.substr(first + 1, second - first - 1), kMaxControlShard, &shard)) return std::nullopt;
  return static_cast<unsigned>(shard);
}

std::string encode_message_item(const control_message& m) {
  const std::string state = encode_state(m.record);
  std::string out = "message ";
  out.append(std::to_string(m.shard)).append(" ").append(std::to_string(m.size));
  out.append(m.held ? " 1 " : " 0 ").append(std::to_string(state.size())).append("\n");
  out.append(state).append("\n");
  return out;
}

std::string encode_text_item(std::string_view text) {
  std::string out = "text ";
  out.append(std::to_string(text.size())).append("\n").append(text).append("\n");
  return out;
}

std::string encode_done_item(std::string_view id) {
  std::string out = "done ";
  out.append(id).append("\n");
  return out;
}

std::string encode_ok_item() { return "ok\n"; }

std::string encode_error_item(std::string_view text) {
  constexpr size_t kRoom = kMaxControlLine - 7;  // the whole item, "error " to "\n", fits
  if (text.empty()) text = "failed";
  std::string out = "error ";
  for (char c : text.substr(0, kRoom)) {
    const auto u = static_cast<unsigned char>(c);
    out.push_back(u < 0x20 || u >= 0x7f ? '?' : c);
  }
  out.append("\n");
  return out;
}

absl::StatusOr<std::optional<reply_item>> control_reply_reader::next() {
  std::string_view in = std::string_view(buffer_).substr(pos_);
  const size_t lf = in.substr(0, kMaxControlLine + 1).find('\n');
  if (lf == std::string_view::npos) {
    if (in.size() > kMaxControlLine) return malformed("item line too long");
    return std::optional<reply_item>();
  }
  const std::string_view line = in.substr(0, lf);
  size_t used = lf + 1;  // the line; a payload adds its length and "\n"
  reply_item item;
  std::vector<std::string_view> f;
  if (line.starts_with("error ")) {
    // Free text: the one item that is not split into fields.
    f.push_back("error");
    for (char c : line) {
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
        return malformed("error text");
      }
    }
  } else if (!split_fields(line, 5, &f)) {
    return malformed("item line");
  }
  // Where a length-prefixed payload starts and how long it is.
  uint64_t length = 0;
  bool has_payload = false;
  if (f[0] == "ok" && f.size() == 1) {
    item.kind = reply_kind::ok;
  } else if (f[0] == "error" && line.starts_with("error ")) {  // not a bare "error
    item.kind = reply_kind::error;
    item.text = std::string(line.substr(6));
  } else if (f[0] == "done" && f.size() == 2 && valid_queue_id(f[1])) {
    item.kind = reply_kind::done;
    item.text = std::string(f[1]);
  } else if (f[0] == "text" && f.size() == 2) {
    item.kind = reply_kind::text;
    if (!strict_number(f[1], kMaxControlTextBytes, &length)) return malformed("text length");
    has_payload = true;
  } else if (f[0] == "message" && f.size() == 5) {
    item.kind = reply_kind::message;
    uint64_t shard = 0, held = 0;
    if (!strict_number(f[1], kMaxControlShard, &shard) || !strict_number(f[2], UINT64_MAX, &item.message.size) ||
        !strict_number(f[3], 1, &held) || !strict_number(f[4], kMaxControlStateBytes, &length)) {
      return malformed("message fields");
    }
    item.message.shard = static_cast<unsigned>(shard);
    item.message.held = held == 1;
    has_payload = true;
  } else {
    return malformed("unknown item");
  }
  if (has_payload) {
    // Nothing is allocated for the payload beyond what has arrived (the limits above cap
    // how much the buffer may grow while it does).
    if (in.size() - used < length + 1) return std::optional<reply_item>();
    const std::string_view payload = in.substr(used, length);
    if (in[used + length] != '\n') return malformed("payload not followed by a line end");
    used += length + 1;
    if (item.kind == reply_kind::text) {
      item.text = std::string(payload);
    } else {
      auto record = decode_state(payload);
      if (!record.ok()) return malformed("message record: " + std::string(record.status().message()));
      item.message.record = std::move(*record);
    }
  }
  pos_ += used;
  // Keep the buffer from growing without end over a long reply.
  if (pos_ > 65536 && pos_ * 2 > buffer_.size()) {
    buffer_.erase(0, pos_);
    pos_ = 0;
  }
  return std::optional<reply_item>(std::move(item));
}

}  // namespace ringmail::queue
