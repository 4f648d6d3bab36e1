#include "delivery/directory/mariadb_store.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "delivery/directory/address.h"
#include "delivery/directory/mariadb_common.h"

namespace ringmail::directory {
namespace {

int64_t to_int(const std::string& s) {
  int64_t v = 0;
  (void)absl::SimpleAtoi(s, &v);
  return v;
}

// "john@example.org" -> normalised address; "@example.org" (catch-all) -> "@example.org".
absl::StatusOr<std::pair<std::string, std::string>> normalise_source(std::string_view text) {
  if (!text.empty() && text.front() == '@') {
    auto a = parse_address(absl::StrCat("postmaster", std::string(text)));
    if (!a.ok()) return a.status();
    return std::make_pair(absl::StrCat("@", a->domain), a->domain);
  }
  auto a = parse_address(text);
  if (!a.ok()) return a.status();
  if (!a->detail.empty()) return absl::InvalidArgumentError("an alias source cannot carry a +detail");
  return std::make_pair(a->full(), a->domain);
}

}  // namespace

absl::StatusOr<std::unique_ptr<mariadb_store>> mariadb_store::open(mariadb_config config, lookup_queries queries) {
  std::unique_ptr<mariadb_store> s(new mariadb_store(std::move(config), std::move(queries)));
  absl::Status st = s->connect();
  if (!st.ok()) return st;
  return s;
}

mariadb_store::~mariadb_store() {
  if (mysql_ != nullptr) mysql_close(mysql_);
}

absl::Status mariadb_store::connect() {
  if (mysql_ != nullptr) {
    mysql_close(mysql_);
    mysql_ = nullptr;
  }
  MYSQL* m = mysql_init(nullptr);
  if (m == nullptr) return absl::ResourceExhaustedError("mysql_init failed");
  unsigned timeout = 5;
  mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
  mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &timeout);
  mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &timeout);
  mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  const char* socket = config_.socket.empty() ? nullptr : config_.socket.c_str();
  if (mysql_real_connect(m, config_.host.c_str(), config_.user.c_str(), config_.password.c_str(),
                         config_.database.c_str(), config_.port, socket, 0) == nullptr) {
    absl::Status st = absl::UnavailableError(
        absl::StrCat("cannot connect to ", describe(config_), ": ", mysql_error(m)));
    mysql_close(m);
    return st;
  }
  mysql_ = m;
  return absl::OkStatus();
}

std::string mariadb_store::quote(std::string_view value) {
  return mariadb::substitute(mysql_, "%s", value);
}

absl::StatusOr<std::vector<mariadb_store::row>> mariadb_store::run(const std::string& sql) {
  if (mysql_ == nullptr) {
    absl::Status st = connect();
    if (!st.ok()) return st;
  }
  if (mysql_real_query(mysql_, sql.data(), sql.size()) != 0) {
    absl::Status st = mariadb::status_of(mysql_, "query failed");
    if (mariadb::is_connection_error(mysql_errno(mysql_))) {
      mysql_close(mysql_);
      mysql_ = nullptr;
    }
    return st;
  }
  std::vector<row> rows;
  MYSQL_RES* res = mysql_store_result(mysql_);
  if (res == nullptr) {
    if (mysql_field_count(mysql_) != 0) return mariadb::status_of(mysql_, "reading result failed");
    return rows;
  }
  return mariadb::take_rows(res);
}

absl::StatusOr<uint64_t> mariadb_store::run_update(const std::string& sql) {
  auto r = run(sql);
  if (!r.ok()) return r.status();
  return mysql_affected_rows(mysql_);
}

absl::Status mariadb_store::ensure_schema() {
  for (const std::string& statement : mariadb::schema_statements()) {
    auto r = run(statement);
    if (!r.ok()) return r.status();
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> mariadb_store::has_domain(std::string_view domain) {
  if (mysql_ == nullptr && !connect().ok()) return absl::UnavailableError("directory database unavailable");
  auto r = run(mariadb::substitute(mysql_, queries_.domain, domain));
  if (!r.ok()) return r.status();
  return !r->empty();
}

absl::StatusOr<std::optional<user_record>> mariadb_store::find_user(std::string_view email) {
  if (mysql_ == nullptr && !connect().ok()) return absl::UnavailableError("directory database unavailable");
  auto r = run(mariadb::substitute(mysql_, queries_.user, email));
  if (!r.ok()) return r.status();
  if (r->empty()) return std::optional<user_record>();
  const row& x = r->front();
  if (x.size() < 5) return absl::InternalError("user query must return id, domain_id, email, password, quota");
  return std::optional<user_record>(user_record{to_int(x[0]), to_int(x[1]), x[2], x[3], to_int(x[4])});
}

absl::StatusOr<std::vector<std::string>> mariadb_store::alias_destinations(std::string_view source) {
  if (mysql_ == nullptr && !connect().ok()) return absl::UnavailableError("directory database unavailable");
  auto r = run(mariadb::substitute(mysql_, queries_.alias, source));
  if (!r.ok()) return r.status();
  std::vector<std::string> out;
  for (const row& x : *r) out.push_back(x.empty() ? "" : x[0]);
  return out;
}

absl::StatusOr<std::vector<std::string>> mariadb_store::alias_sources_for(std::string_view destination) {
  if (mysql_ == nullptr && !connect().ok()) return absl::UnavailableError("directory database unavailable");
  auto r = run(mariadb::substitute(mysql_, queries_.sender, destination));
  if (!r.ok()) return r.status();
  std::vector<std::string> out;
  for (const row& x : *r) out.push_back(x.empty() ? "" : x[0]);
  return out;
}

absl::StatusOr<std::vector<domain_record>> mariadb_store::list_domains() {
  auto r = run("SELECT id, name FROM virtual_domains ORDER BY name");
  if (!r.ok()) return r.status();
  std::vector<domain_record> out;
  for (const row& x : *r) out.push_back({to_int(x[0]), x[1]});
  return out;
}

absl::StatusOr<int64_t> mariadb_store::domain_id(std::string_view domain) {
  auto r = run(absl::StrCat("SELECT id FROM virtual_domains WHERE name = ", quote(domain)));
  if (!r.ok()) return r.status();
  if (r->empty()) return absl::NotFoundError(absl::StrCat("domain ", std::string(domain), " not found"));
  return to_int(r->front()[0]);
}

absl::Status mariadb_store::add_domain(std::string_view name) {
  auto a = parse_address(absl::StrCat("postmaster@", std::string(name)));
  if (!a.ok()) return absl::InvalidArgumentError(absl::StrCat("invalid domain '", std::string(name), "': ", a.status().message()));
  if (mysql_ == nullptr && !connect().ok()) return absl::UnavailableError("directory database unavailable");
  auto r = run_update(absl::StrCat("INSERT INTO virtual_domains (name) VALUES (", quote(a->domain), ")"));
  if (r.status().code() == absl::StatusCode::kAlreadyExists) {
    return absl::AlreadyExistsError(absl::StrCat("domain ", a->domain, " already exists"));
  }
  return r.status();
}

absl::Status mariadb_store::delete_domain(std::string_view name) {
  std::string domain = absl::AsciiStrToLower(std::string(name));
  if (mysql_ == nullptr && !connect().ok()) return absl::UnavailableError("directory database unavailable");
  auto r = run_update(absl::StrCat("DELETE FROM virtual_domains WHERE name = ", quote(domain)));
  if (!r.ok()) return r.status();
  if (*r == 0) return absl::NotFoundError(absl::StrCat("domain ", domain, " not found"));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<user_record>> mariadb_store::list_users(std::string_view domain) {
  if (mysql_ == nullptr && !connect().ok()) return absl::UnavailableError("directory database unavailable");
  std::string sql = "SELECT u.id, u.domain_id, u.email, u.password, u.quota FROM virtual_users u";
  if (!domain.empty()) {
    absl::StrAppend(&sql, " JOIN virtual_domains d ON d.id = u.domain_id WHERE d.name = ",
                    quote(absl::AsciiStrToLower(std::string(domain))));
  }
  sql += " ORDER BY u.email";
  auto r = run(sql);
  if (!r.ok()) return r.status();
  std::vector<user_record> out;
  for (const row& x : *r) out.push_back({to_int(x[0]), to_int(x[1]), x[2], x[3], to_int(x[4])});
  return out;
}

absl::Status mariadb_store::add_user(std::string_view email, std::string_view password_hash, int64_t quota_bytes) {
  auto a = parse_address(email);
  if (!a.ok()) return a.status();
  if (!a->detail.empty()) return absl::InvalidArgumentError("a mailbox address cannot carry a +detail");
  if (quota_bytes < 0) return absl::InvalidArgumentError("quota must be >= 0 bytes");
  if (mysql_ == nullptr && !connect().ok()) return absl::UnavailableError("directory database unavailable");
  auto id = domain_id(a->domain);
  if (!id.ok()) return id.status();
  auto r = run_update(absl::StrCat("INSERT INTO virtual_users (domain_id, email, password, quota) VALUES (", *id, ", ",
                                   quote(a->full()), ", ", quote(password_hash), ", ", quota_bytes, ")"));
  if (r.status().code() == absl::StatusCode::kAlreadyExists) {
    return absl::AlreadyExistsError(absl::StrCat("user ", a->full(), " already exists"));
  }
  return r.status();
}

absl::Status mariadb_store::delete_user(std::string_view email) {
  auto a = parse_address(email);
  if (!a.ok()) return a.status();
  if (mysql_ == nullptr && !connect().ok()) return absl::UnavailableError("directory database unavailable");
  auto r = run_update(absl::StrCat("DELETE FROM virtual_users WHERE email = ", quote(a->full())));
  if (!r.ok()) return r.status();
  if (*r == 0) return absl::NotFoundError(absl::StrCat("user ", a->full(), " not found"));
  return absl::OkStatus();
}

absl::Status mariadb_store::set_password(std::string_view email, std::string_view password_hash) {
  auto a = parse_address(email);
  if (!a.ok()) return a.status();
  if (mysql_ == nullptr && !connect().ok()) return absl::UnavailableError("directory database unavailable");
  auto exists = find_user(a->full());
  if (!exists.ok()) return exists.status();
  if (!exists->has_value()) return absl::NotFoundError(absl::StrCat("user ", a->full(), " not found"));
  return run_update(absl::StrCat("UPDATE virtual_users SET password = ", quote(password_hash),
                                 " WHERE email = ", quote(a->full())))
      .status();
}

absl::Status mariadb_store::set_quota(std::string_view email, int64_t quota_bytes) {
  auto a = parse_address(email);
  if (!a.ok()) return a.status();
  if (quota_bytes < 0) return absl::InvalidArgumentError("quota must be >= 0 bytes");
  if (mysql_ == nullptr && !connect().ok()) return absl::UnavailableError("directory database unavailable");
  auto exists = find_user(a->full());
  if (!exists.ok()) return exists.status();
  if (!exists->has_value()) return absl::NotFoundError(absl::StrCat("user ", a->full(), " not found"));
  return run_update(absl::StrCat("UPDATE virtual_users SET quota = ", quota_bytes, " WHERE email = ", quote(a->full())))
      .status();
}

absl::StatusOr<std::vector<alias_record>> mariadb_store::list_aliases(std::string_view domain) {
  if (mysql_ == nullptr && !connect().ok()) return absl::UnavailableError("directory database unavailable");
  std::string sql = "SELECT a.id, a.domain_id, a.source, a.destination FROM virtual_aliases a";
  if (!domain.empty()) {
    absl::StrAppend(&sql, " JOIN virtual_domains d ON d.id = a.domain_id WHERE d.name = ",
                    quote(absl::AsciiStrToLower(std::string(domain))));
  }
  sql += " ORDER BY a.source, a.destination";
  auto r = run(sql);
  if (!r.ok()) return r.status();
  std::vector<alias_record> out;
  for (const row& x : *r) out.push_back({to_int(x[0]), to_int(x[1]), x[2], x[3]});
  return out;
}

absl::Status mariadb_store::add_alias(std::string_view source, std::string_view destination) {
  auto src = normalise_source(source);
  if (!src.ok()) return src.status();
  auto dst = parse_address(destination);
  if (!dst.ok()) return absl::InvalidArgumentError(absl::StrCat("invalid destination: ", dst.status().message()));
  if (mysql_ == nullptr && !connect().ok()) return absl::UnavailableError("directory database unavailable");
  auto id = domain_id(src->second);
  if (!id.ok()) return id.status();
  std::string dest = dst->detail.empty() ? dst->full() : absl::StrCat(dst->local, "+", dst->detail, "@", dst->domain);
  auto existing = run(absl::StrCat("SELECT id FROM virtual_aliases WHERE source = ", quote(src->first),
                                   " AND destination = ", quote(dest)));
  if (!existing.ok()) return existing.status();
  if (!existing->empty()) return absl::AlreadyExistsError(absl::StrCat("alias ", src->first, " -> ", dest, " already exists"));
  return run_update(absl::StrCat("INSERT INTO virtual_aliases (domain_id, source, destination) VALUES (", *id, ", ",
                                 quote(src->first), ", ", quote(dest), ")"))
      .status();
}

absl::Status mariadb_store::delete_alias(std::string_view source, std::string_view destination) {
  auto src = normalise_source(source);
  if (!src.ok()) return src.status();
  auto dst = parse_address(destination);
  if (!dst.ok()) return absl::InvalidArgumentError(absl::StrCat("invalid destination: ", dst.status().message()));
  if (mysql_ == nullptr && !connect().ok()) return absl::UnavailableError("directory database unavailable");
  std::string dest = dst->detail.empty() ? dst->full() : absl::StrCat(dst->local, "+", dst->detail, "@", dst->domain);
  auto r = run_update(absl::StrCat("DELETE FROM virtual_aliases WHERE source = ", quote(src->first),
                                   " AND destination = ", quote(dest)));
  if (!r.ok()) return r.status();
  if (*r == 0) return absl::NotFoundError(absl::StrCat("alias ", src->first, " -> ", dest, " not found"));
  return absl::OkStatus();
}

}  // namespace ringmail::directory
