// The PostgreSQL backend of the SQL store interface (store/database.h), through libpqxx
// (Debian's libpqxx-dev). One connection per Database, serialised like the SQLite backend;
// statements keep the interface's `?` placeholders, numbered here ($1, $2, ...).
#include <map>
#include <mutex>
#include <optional>
#include <pqxx/pqxx>

#include "base/encoding.h"
#include "store/database.h"

namespace tieup {
namespace {

// `sql` with each `?` outside quotes and comments replaced by $1, $2, ...; `count` gets their
// number.
std::string NumberPlaceholders(std::string_view sql, size_t* count) {
  std::string out;
  out.reserve(sql.size() + 8);
  size_t n = 0;
  for (size_t i = 0; i < sql.size(); ++i) {
    const char c = sql[i];
    if (c == '\'' || c == '"') {  // a literal or a quoted name: copied to its end
      const size_t end = sql.find(c, i + 1);
      const size_t stop = end == std::string_view::npos ? sql.size() : end + 1;
      out.append(sql.substr(i, stop - i));
      i = stop - 1;
    } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {  // a comment to the line end
      const size_t end = sql.find('\n', i);
      const size_t stop = end == std::string_view::npos ? sql.size() : end;
      out.append(sql.substr(i, stop - i));
      i = stop - 1;
    } else if (c == '?') {
      out += '$' + std::to_string(++n);
    } else {
      out += c;
    }
  }
  *count = n;
  return out;
}

// A PostgreSQL error as a Status, with the codes the SQLite backend gives for the same cases.
Status FromSqlError(const pqxx::sql_error& e) {
  const std::string state = e.sqlstate();
  std::string message = e.what();
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) {
    message.pop_back();
  }
  message = "postgres: " + message;
  if (state == "23505") return Status::AlreadyExists(message);                // unique_violation
  if (state.rfind("23", 0) == 0) return Status::FailedPrecondition(message);  // other constraints
  if (state.rfind("42", 0) == 0) return Status::InvalidArgument(message);     // syntax, names
  if (state == "40001" || state == "40P01") return Status::Aborted(message);  // retry the txn
  if (state.rfind("08", 0) == 0 || state.rfind("57", 0) == 0) return Status::Unavailable(message);
  if (state == "53100") return Status::ResourceExhausted(message);  // disk full
  return Status::Internal(message);
}

SqlValue ToValue(const pqxx::field& f) {
  if (f.is_null()) return std::monostate{};
  switch (f.type()) {
    case 16:  // bool
      return int64_t{f.as<bool>() ? 1 : 0};
    case 20:  // int8
    case 21:  // int2
    case 23:  // int4
      return f.as<int64_t>();
    case 700:  // float4
    case 701:  // float8
      return f.as<double>();
    case 1700: {  // numeric (SUM of bigints): an integer when it has no fraction
      const std::string text = f.c_str();
      if (text.find_first_of(".eE") == std::string::npos) return f.as<int64_t>();
      return f.as<double>();
    }
    case 17:  // bytea
      return pqxx::binarystring(f).str();
    default:
      return std::string(f.c_str(), f.size());
  }
}

class PostgresDatabase final : public Database {
 public:
  explicit PostgresDatabase(const std::string& url) : conn_(url) {}

  Status Exec(std::string_view sql, const std::vector<SqlValue>& params) override {
    return Run(sql, params).status();
  }

  Result<std::vector<SqlRow>> Query(std::string_view sql,
                                    const std::vector<SqlValue>& params) override {
    ASSIGN_OR_RETURN(pqxx::result r, Run(sql, params));
    std::vector<SqlRow> rows;
    rows.reserve(r.size());
    for (const pqxx::row& row : r) {
      std::vector<SqlValue> values;
      values.reserve(row.size());
      for (const pqxx::field& f : row) values.push_back(ToValue(f));
      rows.emplace_back(std::move(values));
    }
    return rows;
  }

  int64_t LastInsertId() override {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    // The value the last INSERT took from a sequence (a BIGSERIAL or identity key) in this
    // session; 0 when there is none. Inside a transaction a savepoint keeps a failure from
    // aborting it.
    auto last = [](pqxx::transaction_base& t) -> int64_t {
      pqxx::result r = t.exec("SELECT lastval()");
      return r.empty() || r[0][0].is_null() ? 0 : r[0][0].as<int64_t>();
    };
    try {
      if (tx_) {
        pqxx::subtransaction sub(*tx_, "lastval");
        const int64_t id = last(sub);
        sub.commit();
        return id;
      }
      pqxx::nontransaction n(conn_);
      return last(n);
    } catch (const std::exception&) {
      return 0;
    }
  }

  int64_t ChangedRows() override {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    return changed_;
  }

  Status Transaction(const std::function<Status(Database&)>& body) override {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    if (tx_) return body(*this);  // nested: inside the outer transaction
    if (lost_leases_) return LeasesLost();
    try {
      tx_ = std::make_unique<pqxx::work>(conn_);
    } catch (const pqxx::broken_connection& e) {
      if (held_ > 0) lost_leases_ = true;
      return Status::Unavailable(std::string("postgres: ") + e.what());
    } catch (const pqxx::sql_error& e) {
      return FromSqlError(e);
    }
    Status s;
    try {
      s = body(*this);
    } catch (const std::exception& e) {
      s = Status::Internal(std::string("exception in transaction: ") + e.what());
    }
    if (!s.ok()) {
      Abort();
      return s;
    }
    try {
      tx_->commit();
    } catch (const pqxx::sql_error& e) {
      s = FromSqlError(e);
    } catch (const pqxx::broken_connection& e) {
      if (held_ > 0) lost_leases_ = true;
      s = Status::Unavailable(std::string("postgres: the connection broke at commit: ") + e.what());
    } catch (const pqxx::in_doubt_error& e) {
      s = Status::Unavailable(std::string("postgres: commit in doubt: ") + e.what());
    }
    tx_.reset();
    return s;
  }

  std::string_view Backend() const override { return "postgres"; }

  Result<bool> TryLockNameOnConnection(std::string_view name) override {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    if (lost_leases_) return LeasesLost();
    ASSIGN_OR_RETURN(pqxx::result r,
                     Run("SELECT pg_try_advisory_lock(hashtextextended(current_schema() || ':' "
                         "|| CAST(? AS TEXT), 0))",
                         {std::string(name)}));
    const bool taken = !r.empty() && r[0][0].as<bool>();
    if (taken && held_++ == 0) InhibitReconnection(true);
    return taken;
  }

  Status UnlockNameOnConnection(std::string_view name) override {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    if (held_ == 0) return Status::Ok();
    Status released = Status::Ok();
    if (!lost_leases_) {
      released = Run("SELECT pg_advisory_unlock(hashtextextended(current_schema() || ':' || "
                     "CAST(? AS TEXT), 0))",
                     {std::string(name)})
                     .status();
      // A connection that broke just now took the lock with it: released all the same.
      if (released.code() == StatusCode::kUnavailable) released = Status::Ok();
    }
    if (--held_ == 0) {
      lost_leases_ = false;
      InhibitReconnection(false);
    }
    return released;
  }

  // Makes `schema` (checked: a-z, 0-9, _) when missing and the search path of this connection,
  // also after libpqxx re-establishes a lost connection.
  Status UseSchema(const std::string& schema) {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    Status made = Run("CREATE SCHEMA IF NOT EXISTS " + schema, {}).status();
    // Two processes making it at once: the loser sees the winner's schema on a second try.
    if (made.code() == StatusCode::kAlreadyExists) {
      made = Run("CREATE SCHEMA IF NOT EXISTS " + schema, {}).status();
    }
    RETURN_IF_ERROR(made);
    try {
      conn_.set_variable("search_path", schema);
    } catch (const pqxx::sql_error& e) {
      return FromSqlError(e);
    } catch (const std::exception& e) {
      return Status::Unavailable(std::string("postgres: setting the schema: ") + e.what());
    }
    return Status::Ok();
  }

 private:
  void Abort() {
    try {
      tx_->abort();
    } catch (const std::exception&) {
      // The connection is gone: the server rolls the transaction back.
    }
    tx_.reset();
  }

  Status LeasesLost() const {
    return Status::Unavailable(
        "postgres: the connection broke while it held " + std::to_string(held_) +
        " lease(s) (locks named with TryLockName), which ended with it; it is re-established "
        "once they are given up");
  }

  // libpqxx 6 re-establishes a broken connection at its next use; its session's advisory locks
  // are not restored, so that is inhibited while locks are held.
  void InhibitReconnection(bool inhibit) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    conn_.inhibit_reactivation(inhibit);
#pragma GCC diagnostic pop
  }

  Result<pqxx::result> Run(std::string_view sql, const std::vector<SqlValue>& params) {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    if (lost_leases_) return LeasesLost();
    size_t placeholders = 0;
    const std::string text = NumberPlaceholders(sql, &placeholders);
    if (placeholders != params.size()) {
      return Status::Internal("the statement has " + std::to_string(placeholders) +
                              " placeholders but " + std::to_string(params.size()) +
                              " values were given: " + std::string(sql.substr(0, 80)));
    }
    // Every value goes as text (NULL as a null pointer); the server converts it to the
    // column's type. A statement with values is prepared once per connection and run by name:
    // the server parses and plans it once (a statement without values may be several; run as
    // text).
    const Prepared* prepared = nullptr;
    if (!params.empty()) {
      auto p = Prepare(text);
      if (!p.ok()) return p.status();
      prepared = *p;
    }
    std::vector<std::string> texts(params.size());
    std::vector<const char*> pointers(params.size(), nullptr);
    for (size_t i = 0; i < params.size(); ++i) {
      if (const auto* v = std::get_if<int64_t>(&params[i])) {
        texts[i] = std::to_string(*v);
      } else if (const auto* d = std::get_if<double>(&params[i])) {
        texts[i] = pqxx::to_string(*d);
      } else if (const auto* s = std::get_if<std::string>(&params[i])) {
        if (i < prepared->bytea.size() && prepared->bytea[i]) {
          texts[i] = "\\x" + HexEncode(*s);  // bytea's text form: any bytes
        } else if (s->find('\0') != std::string::npos) {
          return Status::InvalidArgument(
              "postgres: value " + std::to_string(i + 1) +
              " holds a NUL byte but goes to a text column (binary data needs a BLOB column): " +
              std::string(sql.substr(0, 80)));
        } else {
          texts[i] = *s;
        }
      } else {
        continue;  // NULL
      }
      pointers[i] = texts[i].c_str();
    }
    try {
      const std::string name = prepared == nullptr ? "" : prepared->name;
      auto run = [&](pqxx::transaction_base& t) {
        return name.empty() ? t.exec(text)
                            : t.exec_prepared(name, pqxx::prepare::make_dynamic_params(pointers));
      };
      pqxx::result r;
      if (tx_) {
        r = run(*tx_);
      } else {
        pqxx::nontransaction n(conn_);
        r = run(n);
      }
      changed_ = static_cast<int64_t>(r.affected_rows());
      return r;
    } catch (const pqxx::sql_error& e) {
      return FromSqlError(e);
    } catch (const pqxx::broken_connection& e) {
      if (held_ > 0) lost_leases_ = true;
      return Status::Unavailable(std::string("postgres: the connection broke: ") + e.what());
    } catch (const std::exception& e) {
      return Status::Internal(std::string("postgres: ") + e.what());
    }
  }

  // A statement prepared on this connection: its name, and which of its values go to a bytea.
  struct Prepared {
    std::string name;
    std::vector<bool> bytea;
  };

  // The statement `text` prepared (once per connection).
  Result<const Prepared*> Prepare(const std::string& text) {
    auto it = prepared_.find(text);
    if (it != prepared_.end()) return &it->second;
    Prepared p;
    p.name = "s" + std::to_string(prepared_.size() + 1);
    try {
      conn_.prepare(p.name, text);
      conn_.prepare_now(p.name);
      // The types the server gave the values: a bytea's value is sent in bytea's text form.
      auto types = [&](pqxx::transaction_base& t) {
        return t.exec_params(
            "SELECT array_length(parameter_types, 1), array_agg(i) FILTER (WHERE t = "
            "'bytea'::regtype) FROM pg_prepared_statements, unnest(parameter_types) WITH "
            "ORDINALITY AS u(t, i) WHERE name = $1 GROUP BY parameter_types",
            p.name);
      };
      pqxx::result r;
      if (tx_) {
        r = types(*tx_);
      } else {
        pqxx::nontransaction n(conn_);
        r = types(n);
      }
      if (!r.empty()) {
        p.bytea.assign(static_cast<size_t>(r[0][0].as<int64_t>(0)), false);
        if (!r[0][1].is_null()) {
          auto list = r[0][1].as_array();
          for (auto e = list.get_next(); e.first != pqxx::array_parser::juncture::done;
               e = list.get_next()) {
            if (e.first != pqxx::array_parser::juncture::string_value) continue;
            const size_t i = std::stoul(e.second);
            if (i >= 1 && i <= p.bytea.size()) p.bytea[i - 1] = true;
          }
        }
      }
    } catch (const pqxx::sql_error& e) {
      Unprepare(p.name);
      return FromSqlError(e);
    } catch (const pqxx::broken_connection& e) {
      if (held_ > 0) lost_leases_ = true;
      Unprepare(p.name);
      return Status::Unavailable(std::string("postgres: the connection broke: ") + e.what());
    }
    return &prepared_.emplace(text, std::move(p)).first->second;
  }

  void Unprepare(const std::string& name) {
    try {
      conn_.unprepare(name);
    } catch (const std::exception&) {
      // Nothing was prepared under the name.
    }
  }

  std::recursive_mutex mu_;
  pqxx::connection conn_;
  std::unique_ptr<pqxx::work> tx_;            // the open transaction, if any
  std::map<std::string, Prepared> prepared_;  // by statement text
  int64_t changed_ = 0;
  int held_ = 0;              // advisory locks this connection holds (TryLockName)
  bool lost_leases_ = false;  // the connection broke while holding some
};

}  // namespace

bool IsValidSchemaName(std::string_view name) {
  if (name.empty() || name.size() > 63 || (name[0] >= '0' && name[0] <= '9')) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

Result<std::unique_ptr<Database>> OpenPostgres(const std::string& url,
                                               const PostgresOptions& options) {
  if (!options.schema.empty() && !IsValidSchemaName(options.schema)) {
    return Status::InvalidArgument(
        "the schema name '" + options.schema.substr(0, 63) +
        "' is not 1 to 63 of a-z, 0-9 and _ (not starting with a digit)");
  }
  try {
    auto db = std::make_unique<PostgresDatabase>(url);
    if (!options.schema.empty()) RETURN_IF_ERROR(db->UseSchema(options.schema));
    return std::unique_ptr<Database>(std::move(db));
  } catch (const pqxx::broken_connection& e) {
    std::string why = e.what();
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
    return Status::Unavailable("cannot connect to PostgreSQL (" + why +
                               "): check the connection URL ([store] url) and that the server "
                               "runs and accepts this user");
  } catch (const std::exception& e) {
    return Status::InvalidArgument(std::string("the PostgreSQL connection URL: ") + e.what());
  }
}

}  // namespace tieup
