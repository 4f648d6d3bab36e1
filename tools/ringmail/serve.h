// `ringmail serve`: starts the shards and every configured listener, runs until SIGTERM or
// SIGINT, then shuts down gracefully (stop accepting, let sessions finish within
// --shutdown_grace, cancel the rest) and exits 0.
#pragma once

namespace ringmail::tools {

int serve();

}  // namespace ringmail::tools
