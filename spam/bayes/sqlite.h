// The SQLite Bayes backend: <data_dir>/bayes.sqlite by default (bayes_backend.h).
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "spam/bayes/backend.h"

namespace ringmail::spam {

// Opens (creating as needed) the store at `sqlite_path`. A busy database (another process
// learning) is waited for up to 10 s.
absl::StatusOr<std::unique_ptr<bayes_backend>> open_sqlite_bayes_backend(const std::string& sqlite_path);

}  // namespace ringmail::spam
