// `ringmail-admin spam ...`: train the Bayes store and scan messages offline.
//
//   spam learn --spam|--ham [--user=EMAIL] PATH...   files, directories, Maildir folders
//   spam scan [--spam_threads=N] PATH...             one line per message:
//                                                     "<score>\t<Yes|No>\t<path>"
//   spam expire [--user=EMAIL]                       expire old Bayes tokens now (sa-learn
//                                                     --force-expire)
//   spam rules                                       what loaded: counts, fallbacks, skips
#pragma once

#include <string>
#include <vector>

namespace ringmail::tools {

int spam_command(const std::string& data_dir, const std::vector<std::string>& args);

}  // namespace ringmail::tools
