// Test helpers for per-user Bayes (rescore_test, scan_cache_test): messages of two
// classes, and a store whose global rows and user "a"'s rows learned them the opposite
// way round, so that the same message is spam for one model and ham for the other.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "spam/bayes/bayes.h"

namespace ringmail::spam::test_support {

// A message of one class: 40 words of its list, distinct per `i` (learning skips repeats).
inline std::string class_message(bool spam, int i) {
  static const char* spam_words[] = {"viagra", "casino", "winner", "prize", "cheap", "pills", "offer", "bonus"};
  static const char* ham_words[] = {"meeting", "agenda", "project", "review", "commit", "patch", "lunch", "notes"};
  const char* const* words = spam ? spam_words : ham_words;  // through a pointer: see scanner_test.cc
  std::string body;
  for (int k = 0; k < 40; ++k) absl::StrAppend(&body, words[(i + k * 3) % 8], " ");
  absl::StrAppend(&body, "ref", i);
  return absl::StrCat("Message-ID: <", spam ? "s" : "h", i, "@test>\r\nSubject: ", spam ? "free win" : "work", " ", i,
                      "\r\n\r\n", body, "\r\n");
}

// Trains the SQLite store at `path` on 220 messages of each class (the global rows as
// they are, user "a" the other way round) and returns user "a"'s model; nullptr (and a
// test failure) when the store fails.
inline std::shared_ptr<const bayes_model> train_opposite_models(const std::string& path) {
  auto store = bayes_store::open(path);
  if (!store.ok()) {
    ADD_FAILURE() << store.status();
    return nullptr;
  }
  auto batch = (*store)->begin_batch();
  if (!batch.ok()) {
    ADD_FAILURE() << batch.status();
    return nullptr;
  }
  for (int i = 0; i < 220; ++i) {
    for (bool spam : {true, false}) {
      if (!learn_message(**batch, "", class_message(spam, i), spam).ok() ||
          !learn_message(**batch, "a", class_message(spam, i), !spam).ok()) {
        ADD_FAILURE() << "learning message " << i;
        return nullptr;
      }
    }
  }
  if (!(*batch)->commit().ok()) {
    ADD_FAILURE() << "commit";
    return nullptr;
  }
  auto user = (*store)->load("a");
  if (!user.ok()) {
    ADD_FAILURE() << user.status();
    return nullptr;
  }
  return *user;
}

}  // namespace ringmail::spam::test_support
