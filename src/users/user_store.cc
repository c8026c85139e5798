#include "users/user_store.h"

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>

#include "base/encoding.h"
#include "commerce/shop.h"
#include "users/sessions.h"

namespace tieup::users {
namespace {

constexpr std::string_view kSchemaV1 = R"(
CREATE TABLE users (
  id TEXT PRIMARY KEY,
  email TEXT NOT NULL,
  email_key TEXT NOT NULL UNIQUE,
  display_name TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  registered_at INTEGER NOT NULL,
  registered_via TEXT NOT NULL,
  area TEXT NOT NULL CHECK (area IN ('tieup', 'original'))
);
CREATE INDEX users_registered_via ON users(registered_via, registered_at);
)";

// A manager may disable an account (0: active).
constexpr std::string_view kSchemaV2 = R"(
ALTER TABLE users ADD COLUMN disabled_at INTEGER NOT NULL DEFAULT 0;
)";

// Consecutive wrong passwords per email address (known or not), until a success.
constexpr std::string_view kSchemaV3 = R"(
CREATE TABLE login_failures (
  email_key TEXT PRIMARY KEY,
  failures INTEGER NOT NULL,
  last_failure INTEGER NOT NULL
);
CREATE INDEX login_failures_last ON login_failures(last_failure);
)";
// When the address was confirmed by mail (users/registration.h); 0: never.
constexpr std::string_view kSchemaV4 = R"(
ALTER TABLE users ADD COLUMN email_confirmed_at INTEGER NOT NULL DEFAULT 0;
)";
// A postal address to pre-fill checkout (JSON, '' for none), the marketing consent, and when the
// fields partners may copy last changed (main_site/customer_copies.h).
constexpr std::string_view kSchemaV5 = R"(
ALTER TABLE users ADD COLUMN address TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN marketing_consent_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN changed_at INTEGER NOT NULL DEFAULT 0;
UPDATE users SET changed_at = registered_at;
CREATE INDEX users_changed ON users(changed_at);
)";
// The consent to user logs (main_site/ledger_service.h UserVisits).
constexpr std::string_view kSchemaV6 = R"(
ALTER TABLE users ADD COLUMN visits_consent_at INTEGER NOT NULL DEFAULT 0;
)";
// Rows of addresses with no failure for this long are swept out.
constexpr int64_t kForgetFailuresMicros = 24LL * 3600 * 1'000'000;

constexpr std::string_view kColumns =
    "id, email, display_name, registered_at, registered_via, area, disabled_at, "
    "email_confirmed_at, "
    "address, marketing_consent_at, changed_at, visits_consent_at";
// The column after kColumns in a query that adds one.
constexpr size_t kColumnCount = 12;
// Longer passwords are refused before any hashing (the policy allows far fewer bytes).
constexpr size_t kMaxPasswordBytes = kMaxPasswordChars * 4;

std::string_view TrimAscii(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || (s.front() >= '\t' && s.front() <= '\r'))) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || (s.back() >= '\t' && s.back() <= '\r'))) {
    s.remove_suffix(1);
  }
  return s;
}

// Code points in valid UTF-8.
size_t CountChars(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

bool HasControl(std::string_view s) {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return true;
  }
  return false;
}

Status CheckDomainLabel(std::string_view label, std::string_view email) {
  bool ok = !label.empty() && label.size() <= 63 && label.front() != '-' && label.back() != '-';
  for (char c : label) ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-');
  if (ok) return Status::Ok();
  return Status::InvalidArgument("the email address '" + std::string(email.substr(0, 80)) +
                                 "' has a bad domain: use letters, digits, hyphens and dots "
                                 "(an international domain in its xn-- form)");
}

// A partner id ([a-z0-9-], 1..63, not starting with '-') or "main".
bool IsSiteId(std::string_view id) {
  bool ok = !id.empty() && id.size() <= 63 && id.front() != '-';
  for (char c : id) ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-');
  return ok;
}

// "usr_" + 16 base32 characters (80 random bits).
std::string NewUserId(Env& env) {
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
  unsigned char bytes[10];
  env.RandomBytes(bytes, sizeof(bytes));
  std::string id = "usr_";
  uint32_t buffer = 0;
  int bits = 0;
  for (unsigned char b : bytes) {
    buffer = (buffer << 8) | b;
    bits += 8;
    while (bits >= 5) {
      id += kAlphabet[(buffer >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return id;
}

namespace json = boost::json;

std::string AddressToJson(const PostalAddress& a) {
  if (a.empty()) return std::string();
  return json::serialize(json::object{{"name", a.name},
                                      {"line1", a.line1},
                                      {"line2", a.line2},
                                      {"postal_code", a.postal_code},
                                      {"city", a.city},
                                      {"country", a.country},
                                      {"phone", a.phone}});
}

// The stored form (written by AddressToJson only); a damaged one reads as no address.
PostalAddress AddressFromJson(const std::string& text) {
  PostalAddress a;
  if (text.empty()) return a;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return a;
  auto field = [&](const char* key) -> std::string {
    const json::value* f = v.as_object().if_contains(key);
    return f != nullptr && f->is_string() ? std::string(f->as_string()) : std::string();
  };
  return PostalAddress{field("name"), field("line1"),   field("line2"), field("postal_code"),
                       field("city"), field("country"), field("phone")};
}

// A row of kColumns.
Result<User> UserFromRow(const SqlRow& row) {
  ASSIGN_OR_RETURN(UserArea area, ParseUserArea(row.Text(5)));
  return User{row.Text(0), row.Text(1), row.Text(2),
              row.Int(3),  row.Text(4), area,
              row.Int(6),  row.Int(7),  AddressFromJson(row.Text(8)),
              row.Int(9),  row.Int(11), row.Int(10)};
}

}  // namespace

bool PostalAddress::empty() const {
  return name.empty() && line1.empty() && line2.empty() && postal_code.empty() && city.empty() &&
         country.empty() && phone.empty();
}

int64_t FailureDelaySeconds(int64_t over, int64_t max_seconds) {
  if (over <= 0) return 0;
  return over >= 20 ? max_seconds : std::min<int64_t>(int64_t{5} << (over - 1), max_seconds);
}

std::string_view UserAreaName(UserArea area) {
  return area == UserArea::kTieup ? "tieup" : "original";
}

Result<UserArea> ParseUserArea(std::string_view name) {
  if (name == "tieup") return UserArea::kTieup;
  if (name == "original") return UserArea::kOriginal;
  return Status::InvalidArgument("the area must be 'tieup' or 'original', not '" +
                                 std::string(name.substr(0, 40)) + "'");
}

Result<std::string> NormalizeEmail(std::string_view email) {
  const std::string_view e = TrimAscii(email);
  const std::string shown(e.substr(0, 80));
  if (e.empty()) return Status::InvalidArgument("the email address is required");
  if (e.size() > kMaxEmailBytes) {
    return Status::InvalidArgument("the email address is longer than " +
                                   std::to_string(kMaxEmailBytes) + " characters");
  }
  const size_t at = e.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == e.size()) {
    return Status::InvalidArgument("'" + shown + "' is not an email address (name@example.org)");
  }
  const std::string_view local = e.substr(0, at);
  if (local.size() > 64 || local.front() == '.' || local.back() == '.' ||
      local.find("..") != std::string_view::npos) {
    return Status::InvalidArgument("the part before '@' in '" + shown +
                                   "' is too long or has misplaced dots");
  }
  for (char c : local) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || std::string_view("\"(),:;<>@[\\]").find(c) != std::string::npos) {
      return Status::InvalidArgument("the email address '" + shown +
                                     "' holds a space, a quote, a bracket or another character "
                                     "not allowed before '@'");
    }
  }
  const std::string domain = LowerAscii(e.substr(at + 1));
  size_t start = 0, labels = 0;
  while (true) {
    const size_t dot = domain.find('.', start);
    RETURN_IF_ERROR(CheckDomainLabel(
        std::string_view(domain).substr(start, dot == std::string::npos ? dot : dot - start), e));
    ++labels;
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  if (labels < 2) {
    return Status::InvalidArgument("the domain of '" + shown +
                                   "' has no dot: write the full domain (name@example.org)");
  }
  return std::string(local) + "@" + domain;
}

Status CheckPasswordPolicy(std::string_view password) {
  if (!IsValidUtf8(password)) return Status::InvalidArgument("the password is not valid UTF-8");
  const size_t n = CountChars(password);
  if (n < kMinPasswordChars || n > kMaxPasswordChars) {
    return Status::InvalidArgument("the password must be " + std::to_string(kMinPasswordChars) +
                                   " to " + std::to_string(kMaxPasswordChars) +
                                   " characters long (it has " + std::to_string(n) +
                                   "); a few unrelated words make a good one");
  }
  return Status::Ok();
}

Result<std::string> NormalizeDisplayName(std::string_view name) {
  const std::string_view n = TrimAscii(name);
  if (n.empty()) return Status::InvalidArgument("the display name is required");
  if (!IsValidUtf8(n) || HasControl(n)) {
    return Status::InvalidArgument("the display name holds invalid or control characters");
  }
  if (CountChars(n) > kMaxDisplayNameChars) {
    return Status::InvalidArgument("the display name is longer than " +
                                   std::to_string(kMaxDisplayNameChars) + " characters");
  }
  return std::string(n);
}

class UserStore::Impl {
 public:
  Impl(Env& env, Database& db, UserStoreOptions options)
      : env_(env),
        db_(db),
        options_(std::move(options)),
        hasher_(env, options_.cost, options_.max_concurrent_hashes) {
    if (options_.hasher_observer_for_test) {
      hasher_.SetObserverForTest(options_.hasher_observer_for_test);
    }
  }

  // Holds one of the places of the hashing queue (UserStoreOptions::max_waiting_hashes) while
  // alive; false when there was none.
  class Admission {
   public:
    explicit Admission(Impl& impl) : impl_(impl) {
      const int limit = std::max(impl_.options_.max_concurrent_hashes, 1) +
                        std::max(impl_.options_.max_waiting_hashes, 0);
      admitted_ = impl_.in_flight_.fetch_add(1) < limit;
    }
    ~Admission() { impl_.in_flight_.fetch_sub(1); }
    Admission(const Admission&) = delete;
    Admission& operator=(const Admission&) = delete;
    explicit operator bool() const { return admitted_; }

   private:
    Impl& impl_;
    bool admitted_ = false;
  };

  static Status Busy() {
    return Status::Unavailable(
        "too many sign-ins and registrations at once: try again in a few seconds");
  }

  Result<User> Register(const NewUser& request) {
    ASSIGN_OR_RETURN(User user, Validate(request));
    // A cheap early answer for a taken address; the transaction of Insert decides.
    ASSIGN_OR_RETURN(bool taken, EmailTaken(db_, LowerAscii(user.email)));
    if (taken) return Taken();
    ASSIGN_OR_RETURN(std::string hash, HashNewPassword(request.password));
    return Insert(std::move(user), hash);
  }

  Result<User> RegisterHashed(const NewUser& request, std::string_view password_hash) {
    if (!password_hash.starts_with("$argon2id$")) {
      return Status::InvalidArgument("the password hash is not an Argon2id hash");
    }
    NewUser checked = request;
    checked.password = std::string(kMinPasswordChars, 'x');  // only the hash is kept
    ASSIGN_OR_RETURN(User user, Validate(checked));
    return Insert(std::move(user), std::string(password_hash));
  }

  Result<std::string> HashNewPassword(std::string_view password) {
    RETURN_IF_ERROR(CheckPasswordPolicy(password));
    Admission admitted(*this);
    if (!admitted) return Busy();
    return hasher_.Hash(password);
  }

  Result<User> CheckLogin(std::string_view email, std::string_view password) {
    const Status wrong = Status::Unauthenticated("wrong email address or password");
    if (password.size() > kMaxPasswordBytes) return wrong;
    auto normalized = NormalizeEmail(email);
    std::vector<SqlRow> rows;
    if (normalized.ok()) {
      ASSIGN_OR_RETURN(rows, db_.Query("SELECT " + std::string(kColumns) +
                                           ", password_hash FROM users WHERE email_key = ?",
                                       {LowerAscii(*normalized)}));
    }
    // Malformed addresses are keyed as typed: they fail, and count, all the same.
    const std::string key =
        LowerAscii(normalized.ok() ? *normalized : std::string(email.substr(0, 320)));
    RETURN_IF_ERROR(CheckLoginDelay(key));
    Admission admitted(*this);
    if (!admitted) return Busy();
    const std::string hash = rows.empty() ? hasher_.DummyHash() : rows[0].Text(kColumnCount);
    const bool match = hasher_.Verify(hash, password);
    if (rows.empty() || !match) {
      ASSIGN_OR_RETURN(const int64_t failures, CountLoginFailure(key));
      if (!rows.empty() && failures == options_.free_login_failures + 1 && options_.throttled) {
        auto user = UserFromRow(rows[0]);
        if (user.ok()) options_.throttled(*user, failures);
      }
      return wrong;
    }
    RETURN_IF_ERROR(db_.Exec("DELETE FROM login_failures WHERE email_key = ?", {key}));
    ASSIGN_OR_RETURN(User user, UserFromRow(rows[0]));
    if (user.disabled_micros != 0) {
      return Status::Unauthenticated("this account is disabled: ask the site's manager");
    }
    return user;
  }

  // OK, or ResourceExhausted while `key` must wait after its failures.
  Status CheckLoginDelay(const std::string& key) {
    ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT failures, last_failure FROM login_failures WHERE "
                                          "email_key = ?",
                                          {key}));
    if (rows.empty()) return Status::Ok();
    const int64_t delay_s = FailureDelaySeconds(rows[0].Int(0) - options_.free_login_failures,
                                                options_.max_login_delay_seconds);
    if (delay_s == 0) return Status::Ok();
    const int64_t wait_micros = rows[0].Int(1) + delay_s * 1'000'000 - env_.NowMicros();
    if (wait_micros <= 0) return Status::Ok();
    const int64_t wait_s = (wait_micros + 999'999) / 1'000'000;
    return Status::ResourceExhausted(
        "too many wrong passwords for this email address: try again in " + std::to_string(wait_s) +
        (wait_s == 1 ? " second" : " seconds"));
  }

  // Counts a wrong password for `key`; the address's count now.
  Result<int64_t> CountLoginFailure(const std::string& key) {
    const int64_t now = env_.NowMicros();
    int64_t failures = 0;
    RETURN_IF_ERROR(db_.Transaction([&](Database& db) -> Status {
      RETURN_IF_ERROR(db.Exec("DELETE FROM login_failures WHERE last_failure < ?",
                              {now - kForgetFailuresMicros}));
      RETURN_IF_ERROR(
          db.Exec("INSERT INTO login_failures(email_key, failures, last_failure) VALUES(?, 1, ?) "
                  "ON CONFLICT(email_key) DO UPDATE SET failures = login_failures.failures + 1, "
                  "last_failure = ?",
                  {key, now, now}));
      ASSIGN_OR_RETURN(auto rows,
                       db.Query("SELECT failures FROM login_failures WHERE email_key = ?", {key}));
      failures = rows.empty() ? 0 : rows[0].Int(0);
      return Status::Ok();
    }));
    return failures;
  }

  Result<User> Get(std::string_view user_id) {
    ASSIGN_OR_RETURN(auto rows,
                     db_.Query("SELECT " + std::string(kColumns) + " FROM users WHERE id = ?",
                               {std::string(user_id)}));
    if (rows.empty()) {
      return Status::NotFound("no user '" + std::string(user_id.substr(0, 80)) +
                              "' (see 'tieup main users ls')");
    }
    return UserFromRow(rows[0]);
  }

  // " WHERE ..." of `filter` (its limit and offset aside), with its parameters.
  static std::string Where(const UserFilter& filter, std::vector<SqlValue>& params) {
    std::string sql = " WHERE 1 = 1";
    if (filter.registered_via) {
      sql += " AND registered_via = ?";
      params.emplace_back(*filter.registered_via);
    }
    if (!filter.query.empty()) {
      sql +=
          " AND (email_key LIKE ? ESCAPE '\\' OR lower(display_name) LIKE ? ESCAPE '\\' OR "
          "id = ?)";
      const std::string q = LikeContainsPattern(LowerAscii(filter.query));
      params.emplace_back(q);
      params.emplace_back(q);
      params.emplace_back(filter.query);
    }
    return sql;
  }

  Result<int64_t> CountMatching(const UserFilter& filter) {
    std::vector<SqlValue> params;
    const std::string sql = "SELECT COUNT(*) FROM users" + Where(filter, params);
    ASSIGN_OR_RETURN(auto rows, db_.Query(sql, params));
    return rows.empty() ? 0 : rows[0].Int(0);
  }

  Result<User> SetDisabled(std::string_view user_id, bool disabled) {
    const std::string id(user_id);
    if (disabled) {
      RETURN_IF_ERROR(db_.Transaction([&](Database& db) -> Status {
        RETURN_IF_ERROR(db.Exec("UPDATE users SET disabled_at = ? WHERE id = ? AND disabled_at = 0",
                                {env_.NowMicros(), id}));
        // Signed out at once on this site (users/sessions.h keys them by user id).
        return db.Exec("DELETE FROM customer_sessions WHERE subject_key = ?", {id});
      }));
    } else {
      RETURN_IF_ERROR(db_.Exec("UPDATE users SET disabled_at = 0 WHERE id = ?", {id}));
    }
    return Get(user_id);
  }

  Result<User> SetDisplayName(std::string_view user_id, std::string_view name) {
    ASSIGN_OR_RETURN(std::string normalized, NormalizeDisplayName(name));
    RETURN_IF_ERROR(Get(user_id).status());
    RETURN_IF_ERROR(db_.Exec("UPDATE users SET display_name = ?, changed_at = ? WHERE id = ?",
                             {normalized, env_.NowMicros(), std::string(user_id)}));
    return Get(user_id);
  }

  Result<User> SetAddress(std::string_view user_id, const PostalAddress& address) {
    ASSIGN_OR_RETURN(User user, Get(user_id));
    PostalAddress a = address;
    for (std::string* f :
         {&a.name, &a.line1, &a.line2, &a.postal_code, &a.city, &a.country, &a.phone}) {
      *f = std::string(TrimAscii(*f));
    }
    if (!a.empty()) {
      // An order's checks (the e-mail being the account's).
      const commerce::Customer c{a.name, a.line1,   a.line2,    a.postal_code,
                                 a.city, a.country, user.email, a.phone};
      std::vector<commerce::FieldError> errors = commerce::ValidateCustomer(c);
      if (!errors.empty()) {
        std::string m;
        for (const commerce::FieldError& e : errors) m += (m.empty() ? "" : "; ") + e.message;
        return Status::InvalidArgument(m);
      }
    }
    RETURN_IF_ERROR(db_.Exec("UPDATE users SET address = ?, changed_at = ? WHERE id = ?",
                             {AddressToJson(a), env_.NowMicros(), user.id}));
    return Get(user_id);
  }

  Result<User> SetMarketingConsent(std::string_view user_id, bool consent) {
    return SetConsent(user_id, consent, "marketing_consent_at",
                      [](const User& u) { return u.marketing_consent_micros; });
  }

  Result<User> SetVisitsConsent(std::string_view user_id, bool consent) {
    return SetConsent(user_id, consent, "visits_consent_at",
                      [](const User& u) { return u.visits_consent_micros; });
  }

  // Sets `column` to now (given) or 0 (withdrawn) unless it already says so; a change moves
  // changed_at.
  Result<User> SetConsent(std::string_view user_id, bool consent, std::string_view column,
                          int64_t (*since)(const User&)) {
    ASSIGN_OR_RETURN(User user, Get(user_id));
    if ((since(user) != 0) == consent) return user;
    const int64_t now = env_.NowMicros();
    RETURN_IF_ERROR(
        db_.Exec("UPDATE users SET " + std::string(column) + " = ?, changed_at = ? WHERE id = ?",
                 {consent ? now : int64_t{0}, now, user.id}));
    return Get(user_id);
  }

  Result<User> SetEmail(std::string_view user_id, std::string_view email, int64_t confirmed) {
    ASSIGN_OR_RETURN(std::string normalized, NormalizeEmail(email));
    const std::string key = LowerAscii(normalized);
    ASSIGN_OR_RETURN(User user, Get(user_id));
    bool taken = false;
    RETURN_IF_ERROR(db_.Transaction([&](Database& db) -> Status {
      ASSIGN_OR_RETURN(auto rows, db.Query("SELECT id FROM users WHERE email_key = ?", {key}));
      if (!rows.empty() && rows[0].Text(0) != user.id) {
        taken = true;
        return Status::Ok();
      }
      return db.Exec(
          "UPDATE users SET email = ?, email_key = ?, email_confirmed_at = ?, changed_at = ? "
          "WHERE id = ?",
          {normalized, key, confirmed, env_.NowMicros(), user.id});
    }));
    if (taken) return Taken();
    user.email = normalized;
    user.email_confirmed_micros = confirmed;
    return user;
  }

  Result<User> Erase(std::string_view user_id) {
    ASSIGN_OR_RETURN(User user, Get(user_id));
    RETURN_IF_ERROR(db_.Transaction([&](Database& db) -> Status {
      RETURN_IF_ERROR(db.Exec("DELETE FROM users WHERE id = ?", {user.id}));
      RETURN_IF_ERROR(
          db.Exec("DELETE FROM login_failures WHERE email_key = ?", {LowerAscii(user.email)}));
      return db.Exec("DELETE FROM customer_sessions WHERE subject_key = ?", {user.id});
    }));
    return user;
  }

  Result<User> SetPassword(std::string_view user_id, std::string_view password) {
    RETURN_IF_ERROR(CheckPasswordPolicy(password));
    ASSIGN_OR_RETURN(User user, Get(user_id));
    Admission admitted(*this);
    if (!admitted) return Busy();
    ASSIGN_OR_RETURN(std::string hash, hasher_.Hash(password));
    RETURN_IF_ERROR(db_.Transaction([&](Database& db) -> Status {
      RETURN_IF_ERROR(db.Exec("UPDATE users SET password_hash = ? WHERE id = ?", {hash, user.id}));
      RETURN_IF_ERROR(
          db.Exec("DELETE FROM login_failures WHERE email_key = ?", {LowerAscii(user.email)}));
      return db.Exec("DELETE FROM customer_sessions WHERE subject_key = ?", {user.id});
    }));
    return user;
  }

  Result<User> FindByEmail(std::string_view email) {
    ASSIGN_OR_RETURN(std::string normalized, NormalizeEmail(email));
    ASSIGN_OR_RETURN(
        auto rows, db_.Query("SELECT " + std::string(kColumns) + " FROM users WHERE email_key = ?",
                             {LowerAscii(normalized)}));
    if (rows.empty()) {
      return Status::NotFound("no account with the email address '" + normalized +
                              "' (see 'tieup main users ls')");
    }
    return UserFromRow(rows[0]);
  }

  Result<std::vector<User>> List(const UserFilter& filter) {
    std::vector<SqlValue> params;
    std::string sql = "SELECT " + std::string(kColumns) + " FROM users" + Where(filter, params);
    sql += " ORDER BY registered_at DESC, id LIMIT ? OFFSET ?";
    params.emplace_back(filter.limit);
    params.emplace_back(std::max<int64_t>(filter.offset, 0));
    ASSIGN_OR_RETURN(auto rows, db_.Query(sql, params));
    std::vector<User> out;
    for (const SqlRow& r : rows) {
      ASSIGN_OR_RETURN(User u, UserFromRow(r));
      out.push_back(std::move(u));
    }
    return out;
  }

  Result<int64_t> Count(std::optional<std::string_view> via) {
    ASSIGN_OR_RETURN(
        auto rows,
        via ? db_.Query("SELECT COUNT(*) FROM users WHERE registered_via = ?", {std::string(*via)})
            : db_.Query("SELECT COUNT(*) FROM users"));
    return rows.empty() ? 0 : rows[0].Int(0);
  }

 private:
  // The account `request` describes, checked (without id, time or password).
  static Result<User> Validate(const NewUser& request) {
    User user;
    ASSIGN_OR_RETURN(user.email, NormalizeEmail(request.email));
    ASSIGN_OR_RETURN(user.display_name, NormalizeDisplayName(request.display_name));
    RETURN_IF_ERROR(CheckPasswordPolicy(request.password));
    if (request.registered_via != "main" && !IsSiteId(request.registered_via)) {
      return Status::InvalidArgument("registered_via must be a partner id or \"main\"");
    }
    user.registered_via = request.registered_via;
    user.area = request.area;
    user.email_confirmed_micros = request.email_confirmed_micros;
    return user;
  }

  // Stores `user` (a new id and time) with `hash`; AlreadyExists when the address is taken.
  Result<User> Insert(User user, const std::string& hash) {
    const std::string key = LowerAscii(user.email);
    user.id = NewUserId(env_);
    user.registered_at_micros = env_.NowMicros();
    user.changed_micros = user.registered_at_micros;
    bool raced = false;
    RETURN_IF_ERROR(db_.Transaction([&](Database& db) -> Status {
      ASSIGN_OR_RETURN(raced, EmailTaken(db, key));
      if (raced) return Status::Ok();
      return db.Exec(
          "INSERT INTO users(id, email, email_key, display_name, password_hash, registered_at, "
          "registered_via, area, email_confirmed_at, changed_at) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, "
          "?)",
          {user.id, user.email, key, user.display_name, hash, user.registered_at_micros,
           user.registered_via, std::string(UserAreaName(user.area)), user.email_confirmed_micros,
           user.changed_micros});
    }));
    if (raced) return Taken();
    return user;
  }

  static Status Taken() {
    return Status::AlreadyExists(
        "an account with this email address already exists: sign in, or use another address");
  }

  static Result<bool> EmailTaken(Database& db, const std::string& key) {
    ASSIGN_OR_RETURN(auto rows, db.Query("SELECT 1 FROM users WHERE email_key = ?", {key}));
    return !rows.empty();
  }

  Env& env_;
  Database& db_;
  const UserStoreOptions options_;
  PasswordHasher hasher_;
  std::atomic<int> in_flight_{0};  // sign-ins and registrations past their cheap checks
};

UserStore::UserStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
UserStore::~UserStore() = default;

Result<std::unique_ptr<UserStore>> UserStore::Open(Env& env, Database& db,
                                                   UserStoreOptions options) {
  RETURN_IF_ERROR(PasswordHasher::CheckCost(options.cost));
  RETURN_IF_ERROR(Migrate(db, "users",
                          {{1, std::string(kSchemaV1)},
                           {2, std::string(kSchemaV2)},
                           {3, std::string(kSchemaV3)},
                           {4, std::string(kSchemaV4)},
                           {5, std::string(kSchemaV5)},
                           {6, std::string(kSchemaV6)}}));
  RETURN_IF_ERROR(MigrateCustomerSessions(db));  // SetDisabled ends an account's sessions
  return std::unique_ptr<UserStore>(new UserStore(std::make_unique<Impl>(env, db, options)));
}

Result<User> UserStore::Register(const NewUser& request) { return impl_->Register(request); }
Result<User> UserStore::RegisterHashed(const NewUser& request, std::string_view password_hash) {
  return impl_->RegisterHashed(request, password_hash);
}
Result<std::string> UserStore::HashNewPassword(std::string_view password) {
  return impl_->HashNewPassword(password);
}
Result<User> UserStore::CheckLogin(std::string_view email, std::string_view password) {
  return impl_->CheckLogin(email, password);
}
Result<User> UserStore::Get(std::string_view user_id) { return impl_->Get(user_id); }
Result<User> UserStore::FindByEmail(std::string_view email) { return impl_->FindByEmail(email); }
Result<std::vector<User>> UserStore::List(const UserFilter& filter) { return impl_->List(filter); }
Result<int64_t> UserStore::Count(std::optional<std::string_view> registered_via) {
  return impl_->Count(registered_via);
}
Result<int64_t> UserStore::CountMatching(const UserFilter& filter) {
  return impl_->CountMatching(filter);
}
Result<User> UserStore::SetDisplayName(std::string_view user_id, std::string_view name) {
  return impl_->SetDisplayName(user_id, name);
}
Result<User> UserStore::SetEmail(std::string_view user_id, std::string_view email,
                                 int64_t confirmed_micros) {
  return impl_->SetEmail(user_id, email, confirmed_micros);
}
Result<User> UserStore::SetAddress(std::string_view user_id, const PostalAddress& address) {
  return impl_->SetAddress(user_id, address);
}
Result<User> UserStore::SetMarketingConsent(std::string_view user_id, bool consent) {
  return impl_->SetMarketingConsent(user_id, consent);
}
Result<User> UserStore::SetVisitsConsent(std::string_view user_id, bool consent) {
  return impl_->SetVisitsConsent(user_id, consent);
}
Result<User> UserStore::Erase(std::string_view user_id) { return impl_->Erase(user_id); }
Result<User> UserStore::SetPassword(std::string_view user_id, std::string_view password) {
  return impl_->SetPassword(user_id, password);
}
Result<User> UserStore::SetDisabled(std::string_view user_id, bool disabled) {
  return impl_->SetDisabled(user_id, disabled);
}

}  // namespace tieup::users
