// AuditLog: what managers did in the console, who, when and from where (schema component
// "console_audit", table console_audit). Shown in the console; never holds a secret.
//
// Thread-safe. The Env and Database must outlive the log.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/env.h"
#include "base/status.h"
#include "store/database.h"

namespace tieup::console {

struct AuditEntry {
  int64_t at_micros = 0;  // 0 when recording: now
  std::string actor;      // the manager's e-mail address
  std::string action;     // "sign-in", "approve update", ...
  std::string detail;     // plain text: what was acted on ("update u3 from main")
  std::string address;    // the client address the request came from
};

// Longest field kept, in bytes (longer text is cut at a character boundary).
inline constexpr size_t kMaxAuditActorBytes = 254;
inline constexpr size_t kMaxAuditActionBytes = 100;
inline constexpr size_t kMaxAuditDetailBytes = 2000;
inline constexpr size_t kMaxAuditAddressBytes = 100;

class AuditLog {
 public:
  // Migrates the schema in `db`.
  static Result<std::unique_ptr<AuditLog>> Open(Env& env, Database& db);
  ~AuditLog();

  // Appends `entry` (at_micros 0: now; invalid UTF-8 replaced; fields cut to the limits above).
  // InvalidArgument when the action is empty.
  Status Record(const AuditEntry& entry);

  // The `limit` (1..10000) newest entries, newest first.
  Result<std::vector<AuditEntry>> Recent(int limit = 100);

 private:
  class Impl;
  explicit AuditLog(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tieup::console
