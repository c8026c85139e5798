#include "console/sessions.h"

#include "base/encoding.h"
#include "users/sessions.h"
#include "users/user_store.h"

namespace tieup::console {
namespace {

constexpr std::string_view kSchemaV1 = R"(
CREATE TABLE console_sessions (
  id_hash TEXT PRIMARY KEY,
  email TEXT NOT NULL,
  email_key TEXT NOT NULL,
  csrf_token TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  last_seen INTEGER NOT NULL
);
CREATE INDEX console_sessions_email ON console_sessions(email_key);
)";

// The columns of users::SessionStore (users/sessions.h), which keeps the sessions since.
constexpr std::string_view kSchemaV2 = R"(
ALTER TABLE console_sessions RENAME COLUMN email TO subject;
ALTER TABLE console_sessions RENAME COLUMN email_key TO subject_key;
ALTER TABLE console_sessions ADD COLUMN name TEXT NOT NULL DEFAULT '';
)";

// The key sessions are ended by: the normalized address, lower-cased (as ManagerStore keys).
std::string EmailKey(std::string_view email) {
  auto normalized = users::NormalizeEmail(email);
  return LowerAscii(normalized.ok() ? std::string_view(*normalized) : email);
}

}  // namespace

class SessionStore::Impl {
 public:
  explicit Impl(std::unique_ptr<users::SessionStore> store) : store_(std::move(store)) {}
  users::SessionStore& store() { return *store_; }

 private:
  std::unique_ptr<users::SessionStore> store_;
};

SessionStore::SessionStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SessionStore::~SessionStore() = default;

Result<std::unique_ptr<SessionStore>> SessionStore::Open(Env& env, Database& db,
                                                         SessionOptions options) {
  RETURN_IF_ERROR(Migrate(db, "console_sessions",
                          {{1, std::string(kSchemaV1)},
                           {2, std::string(kSchemaV2)},
                           {3, users::SessionGenerationSql("console_sessions")}}));
  ASSIGN_OR_RETURN(auto store, users::SessionStore::Open(env, db, "console_sessions", options));
  return std::unique_ptr<SessionStore>(new SessionStore(std::make_unique<Impl>(std::move(store))));
}

Result<SessionStore::Created> SessionStore::Create(std::string_view email) {
  return impl_->store().Create(email, EmailKey(email), "");
}
Result<Session> SessionStore::Find(std::string_view cookie_value) {
  return impl_->store().Find(cookie_value);
}
Result<Session> SessionStore::Peek(std::string_view cookie_value) {
  return impl_->store().Peek(cookie_value);
}
Status SessionStore::End(std::string_view cookie_value) { return impl_->store().End(cookie_value); }
Status SessionStore::EndAllFor(std::string_view email) {
  return impl_->store().EndAllFor(EmailKey(email));
}

}  // namespace tieup::console
