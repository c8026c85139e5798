#include "console/audit.h"

#include <algorithm>

#include "base/encoding.h"

namespace tieup::console {
namespace {

constexpr std::string_view kSchemaV1 = R"(
CREATE TABLE console_audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  detail TEXT NOT NULL,
  address TEXT NOT NULL
);
)";

// `text` as valid UTF-8 of at most `max_bytes`, cut at a character boundary.
std::string Bounded(std::string_view text, size_t max_bytes) {
  std::string clean = SanitizeUtf8(text);
  if (clean.size() <= max_bytes) return clean;
  size_t end = max_bytes;
  while (end > 0 && (static_cast<unsigned char>(clean[end]) & 0xC0) == 0x80) --end;
  clean.resize(end);
  return clean;
}

}  // namespace

class AuditLog::Impl {
 public:
  Impl(Env& env, Database& db) : env_(env), db_(db) {}

  Status Record(const AuditEntry& e) {
    if (e.action.empty()) return Status::InvalidArgument("an audit entry needs an action");
    const int64_t at = e.at_micros != 0 ? e.at_micros : env_.NowMicros();
    return db_.Exec(
        "INSERT INTO console_audit(at, actor, action, detail, address) VALUES(?, ?, ?, ?, ?)",
        {at, Bounded(e.actor, kMaxAuditActorBytes), Bounded(e.action, kMaxAuditActionBytes),
         Bounded(e.detail, kMaxAuditDetailBytes), Bounded(e.address, kMaxAuditAddressBytes)});
  }

  Result<std::vector<AuditEntry>> Recent(int limit) {
    const int64_t n = std::clamp(limit, 1, 10000);
    ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT at, actor, action, detail, address FROM "
                                          "console_audit ORDER BY id DESC LIMIT ?",
                                          {n}));
    std::vector<AuditEntry> out;
    out.reserve(rows.size());
    for (const SqlRow& r : rows) {
      out.push_back({r.Int(0), r.Text(1), r.Text(2), r.Text(3), r.Text(4)});
    }
    return out;
  }

 private:
  Env& env_;
  Database& db_;
};

AuditLog::AuditLog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AuditLog::~AuditLog() = default;

Result<std::unique_ptr<AuditLog>> AuditLog::Open(Env& env, Database& db) {
  RETURN_IF_ERROR(Migrate(db, "console_audit", {{1, std::string(kSchemaV1)}}));
  return std::unique_ptr<AuditLog>(new AuditLog(std::make_unique<Impl>(env, db)));
}

Status AuditLog::Record(const AuditEntry& entry) { return impl_->Record(entry); }
Result<std::vector<AuditEntry>> AuditLog::Recent(int limit) { return impl_->Recent(limit); }

}  // namespace tieup::console
