// A private MariaDB server for one test binary (tests/support/mariadb.sh), started once
// before the first test and stopped after the last, so the tests need nothing running
// beforehand. The binary must be compiled with RINGMAIL_SOURCE_DIR (the script's root).
//
//   // at namespace scope in the test file:
//   static ::testing::Environment* const g_mariadb = ringmail::test_support::mariadb_server::install();
//   // in a test:
//   ASSERT_EQ(mariadb_server::instance->start_error(), "");
//   auto config = directory::parse_mariadb_url(mariadb_server::instance->url());
#pragma once

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace ringmail::test_support {

// Runs tests/support/mariadb.sh with `args`: "" on success, else its output.
inline std::string run_mariadb_script(const std::string& args) {
  std::string cmd = absl::StrCat(RINGMAIL_SOURCE_DIR, "/tests/support/mariadb.sh ", args, " 2>&1");
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  char buf[512];
  while (p && fgets(buf, sizeof buf, p)) out += buf;
  int rc = p ? pclose(p) : -1;
  return rc == 0 ? "" : (out.empty() ? "failed" : out);
}

// A loopback port nobody listens on right now.
inline uint16_t free_loopback_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

// One private MariaDB server for the whole test binary.
class mariadb_server : public ::testing::Environment {
 public:
  static inline mariadb_server* instance = nullptr;

  // Registers the server with gtest (which then calls SetUp/TearDown around all tests);
  // call it before main() runs, from a namespace-scope initialiser.
  static ::testing::Environment* install() {
    instance = new mariadb_server();
    return ::testing::AddGlobalTestEnvironment(instance);
  }

  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "/ringmail-mariadb-XXXXXX";
    dir_ = mkdtemp(tmpl.data());
    port_ = free_loopback_port();
    start_error_ = start();
  }
  void TearDown() override {
    stop();
    std::filesystem::remove_all(dir_);
  }
  std::string start() { return run_mariadb_script(absl::StrCat("start ", dir_, " ", port_)); }
  void stop() { run_mariadb_script(absl::StrCat("stop ", dir_)); }
  const std::string& start_error() const { return start_error_; }
  std::string url() const { return absl::StrCat("mariadb://ringmail:ringmail-test-pw@127.0.0.1:", port_, "/ringmail"); }

 private:
  std::string dir_;
  uint16_t port_ = 0;
  std::string start_error_;
};

}  // namespace ringmail::test_support
