#include "tools/common/directory_flags.h"

#include "absl/flags/flag.h"

ABSL_FLAG(std::string, directory, "",
          "Directory backend: empty for SQLite under --data_dir, or mariadb://user:pass@host:port/db "
          "(…@localhost/db?socket=/run/mysqld/mysqld.sock) for an ISPmail database in MariaDB");
ABSL_FLAG(std::string, directory_query_domain, ringmail::directory::lookup_queries{}.domain,
          "SQL that returns a row when %s is one of our domains");
ABSL_FLAG(std::string, directory_query_user, ringmail::directory::lookup_queries{}.user,
          "SQL returning id, domain_id, email, password, quota of user %s");
ABSL_FLAG(std::string, directory_query_alias, ringmail::directory::lookup_queries{}.alias,
          "SQL returning the destinations of alias %s");
ABSL_FLAG(std::string, directory_query_sender, ringmail::directory::lookup_queries{}.sender,
          "SQL returning the alias sources whose destination is %s (who may send as what)");

ABSL_FLAG(std::string, mail_root, "", "Root of the Maildirs: <mail_root>/<domain>/<user>/Maildir; default <data_dir>/vmail");

namespace ringmail::tools {

std::string mail_root_from_flags(const std::string& data_dir) {
  std::string root = absl::GetFlag(FLAGS_mail_root);
  return root.empty() ? data_dir + "/vmail" : root;
}

directory::directory_location directory_from_flags(const std::string& data_dir) {
  directory::directory_location where;
  where.data_dir = data_dir;
  where.directory = absl::GetFlag(FLAGS_directory);
  where.queries.domain = absl::GetFlag(FLAGS_directory_query_domain);
  where.queries.user = absl::GetFlag(FLAGS_directory_query_user);
  where.queries.alias = absl::GetFlag(FLAGS_directory_query_alias);
  where.queries.sender = absl::GetFlag(FLAGS_directory_query_sender);
  return where;
}

}  // namespace ringmail::tools
