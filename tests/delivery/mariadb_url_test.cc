#include "delivery/directory/mariadb_url.h"

#include "gtest/gtest.h"

namespace ringmail::directory {
namespace {

TEST(MariadbUrl, TcpWithPort) {
  auto c = parse_mariadb_url("mariadb://mailuser:secret@127.0.0.1:3307/mailserver");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->user, "mailuser");
  EXPECT_EQ(c->password, "secret");
  EXPECT_EQ(c->host, "127.0.0.1");
  EXPECT_EQ(c->port, 3307);
  EXPECT_EQ(c->database, "mailserver");
  EXPECT_TRUE(c->socket.empty());
  EXPECT_EQ(describe(*c), "mariadb://mailuser:***@127.0.0.1:3307/mailserver") << "no password in logs";
}

TEST(MariadbUrl, SocketAndEscapedPassword) {
  auto c = parse_mariadb_url("mariadb://mailuser:p%40ss%2Fw@localhost/mailserver?socket=/run/mysqld/mysqld.sock");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->password, "p@ss/w");
  EXPECT_EQ(c->socket, "/run/mysqld/mysqld.sock");
  EXPECT_EQ(c->port, 3306);
}

TEST(MariadbUrl, Ipv6Host) {
  auto c = parse_mariadb_url("mariadb://u:p@[::1]:3306/db");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->host, "::1");
}

TEST(MariadbUrl, Rejects) {
  for (const char* bad : {"postgres://u:p@h/db", "mariadb://u:p@h:99999/db", "mariadb://u:p@h:3306/", "mariadb://u:p@h",
                          "mariadb://u:p%4@h/db", "mariadb://u:p@h/db?sslmode=x"}) {
    EXPECT_FALSE(parse_mariadb_url(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace ringmail::directory
