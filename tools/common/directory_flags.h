// The directory flags shared by `ringmail serve` and `ringmail-admin`: --directory and the
// lookup-query overrides (as Postfix's and Dovecot's SQL maps allow), and --mail_root.
#pragma once

#include <string>

#include "delivery/directory/open_store.h"

namespace ringmail::tools {

directory::directory_location directory_from_flags(const std::string& data_dir);

// --mail_root, or <data_dir>/vmail when it is not given (serve and ringmail-admin agree).
std::string mail_root_from_flags(const std::string& data_dir);

}  // namespace ringmail::tools
