// Log lines: one line per event, key=value, hostile values quoted so they can never
// forge a second line or a field.
#include "runtime/log.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <string>

#include "gtest/gtest.h"

namespace ringmail {
namespace {

// Captures what log::write sends to stderr.
std::string capture(std::function<void()> f) {
  fflush(stderr);
  int saved = dup(STDERR_FILENO);
  int pipefd[2];
  EXPECT_EQ(pipe(pipefd), 0);
  dup2(pipefd[1], STDERR_FILENO);
  f();
  dup2(saved, STDERR_FILENO);
  close(saved);
  close(pipefd[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(pipefd[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  close(pipefd[0]);
  return out;
}

TEST(Log, OneLineKeyValueWithQuotingOfHostileValues) {
  log::set_level(log::level::info);
  std::string out = capture([] {
    log::info("smtp_command", {{"sid", log::session_id_string(0x0100000000000002)},
                               {"command", "MAIL FROM:<a@b>\r\nlevel=error event=forged"},
                               {"size", 1234}});
  });
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  EXPECT_NE(out.find(" level=info "), std::string::npos) << out;
  EXPECT_NE(out.find(" event=smtp_command sid=0100000000000002 "), std::string::npos) << out;
  EXPECT_NE(out.find("command=\"MAIL FROM:<a@b>\\x0d\\x0alevel=error event=forged\""), std::string::npos) << out;
  EXPECT_NE(out.find(" size=1234\n"), std::string::npos) << out;
}

TEST(Log, LevelFiltersAndParses) {
  log::level l;
  EXPECT_TRUE(log::parse_level("warn", l));
  EXPECT_EQ(l, log::level::warn);
  EXPECT_FALSE(log::parse_level("loud", l));
  log::set_level(log::level::warn);
  std::string out = capture([] {
    log::info("hidden");
    log::warn("shown");
  });
  log::set_level(log::level::info);
  EXPECT_EQ(out.find("hidden"), std::string::npos);
  EXPECT_NE(out.find("event=shown"), std::string::npos);
}

}  // namespace
}  // namespace ringmail
