// Drives the mail store's Dovecot-compatible format parsers (delivery/mailstore/) and
// checks their round trips. The first input byte picks the parser; the rest is its input.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "delivery/mailstore/dovecot_keywords.h"
#include "delivery/mailstore/dovecot_uidlist.h"
#include "delivery/mailstore/folder_name.h"
#include "delivery/mailstore/maildir_filename.h"
#include "delivery/mailstore/mutf7.h"
#include "delivery/mailstore/subscriptions.h"

using namespace ringmail::mailstore;

#define CHECK(cond) \
  do {              \
    if (!(cond)) abort(); \
  } while (0)

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 6) {
    case 0: {  // uidlist: parse -> format -> parse is stable
      auto a = parse_uidlist(in);
      if (!a.ok()) break;
      std::string text = format_uidlist(*a);
      auto b = parse_uidlist(text);
      CHECK(b.ok());
      CHECK(b->entries == a->entries);
      CHECK(b->uidvalidity == a->uidvalidity && b->next_uid == a->next_uid && b->guid == a->guid);
      CHECK(format_uidlist(*b) == text);
      break;
    }
    case 1: {  // modified UTF-7 both ways
      auto utf8 = mutf7_to_utf8(in);
      if (utf8.ok()) {
        auto back = utf8_to_mutf7(*utf8);
        CHECK(back.ok() && *back == in);
      }
      auto enc = utf8_to_mutf7(in);
      CHECK(enc.ok() == is_valid_utf8(in));
      if (enc.ok()) {
        auto dec = mutf7_to_utf8(*enc);
        CHECK(dec.ok() && *dec == in);
      }
      break;
    }
    case 2: {  // folder names: one component below the Maildir, and a bijection
      auto dir = folder_to_dir(in);
      if (dir.ok()) {
        CHECK(dir->size() <= max_folder_dir_bytes);
        CHECK(dir->find('/') == std::string::npos && *dir != "." && *dir != "..");
        CHECK(dir->empty() || (*dir)[0] == '.');
        auto name = dir_to_folder(*dir);
        CHECK(name.ok());
        CHECK(folder_to_dir(*name).value() == *dir);
      }
      auto name = dir_to_folder(in);
      if (name.ok()) {
        auto back = folder_to_dir(*name);
        CHECK(back.ok() && *back == in);
      }
      break;
    }
    case 3: {  // file names: parse -> format -> parse is equal
      maildir_name a = parse_maildir_name(in);
      std::string text = format_maildir_name(a.base, a.flags, a.keywords, a.other_flags);
      maildir_name b = parse_maildir_name(text);
      CHECK(b.base == a.base && b.flags == a.flags && b.keywords == a.keywords);
      CHECK(b.other_flags == a.other_flags && b.size == a.size && b.vsize == a.vsize);
      break;
    }
    case 4: {  // dovecot-keywords
      auto a = parse_keywords(in);
      if (!a.ok()) break;
      auto b = parse_keywords(format_keywords(*a));
      CHECK(b.ok() && *b == *a);
      break;
    }
    case 5: {  // subscriptions
      parsed_subscriptions a = parse_subscriptions(in);
      auto text = format_subscriptions(a.names);
      if (!text.ok()) break;  // e.g. a decoded NUL
      parsed_subscriptions b = parse_subscriptions(*text);
      CHECK(b.names == a.names && b.skipped == 0);
      break;
    }
  }
  return 0;
}
