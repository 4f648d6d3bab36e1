// The Bayes token store in MariaDB (spam/bayes/backend.h), for installations whose user
// directory is MariaDB: the tokens live in the same database as the ISPmail tables, so
// every server of a cluster learns into and loads from one store.
//
//   bayes_totals(user, nspam, nham)          messages learned, per user ("" = global)
//   bayes_tokens(user, token, nspam, nham)   per-token message counts (token = the 64-bit
//                                            hash as a signed BIGINT)
//   bayes_seen(user, msgid, is_spam)         what was learned, for sa-learn semantics
//
// Blocking libmariadb calls: for the offload pool and tools.
#pragma once

#include <chrono>
#include <memory>

#include "absl/status/statusor.h"
#include "delivery/directory/mariadb_url.h"
#include "spam/bayes/backend.h"

namespace ringmail::spam_store {

struct mariadb_bayes_options {
  // How long begin() waits for another writer (another server or ringmail-admin learning)
  // before it fails with Unavailable; SQLite's busy timeout is the same 10 s.
  std::chrono::seconds writer_wait{10};
};

// Connects (failing with Unavailable when the server cannot be reached) and creates the
// tables if missing. After a connection error the next begin() or load() reconnects.
absl::StatusOr<std::unique_ptr<spam::bayes_backend>> open_mariadb_bayes_backend(
    const directory::mariadb_config& config, const mariadb_bayes_options& options = {});

}  // namespace ringmail::spam_store
