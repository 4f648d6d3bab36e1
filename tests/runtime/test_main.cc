#include <signal.h>

#include "gtest/gtest.h"
#include "runtime/net.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  signal(SIGPIPE, SIG_IGN);
  ringmail::raise_fd_limit();  // the echo tests hold 2,000+ sockets
  return RUN_ALL_TESTS();
}
