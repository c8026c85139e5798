// The WAF's record of what it saw (issue 17 item 1): one JSON line per request that matched a
// rule, in SITE_DIR/logs/waf.jsonl, and counters for the summaries sent to main.
//
// A line holds when, the reference id shown on the 403 page (so a customer who quotes it can be
// found), the outcome, the client address, method, Host and path (never the query or the body:
// they may hold what a customer typed), the rule ids, the anomaly score and the first rule's
// message (the rule's own text, never the matched data):
//
//   {"time":"2026-12-04T17:40:00Z","time_micros":...,"reference":"3f9c0a1b2c3d4e5f",
//    "outcome":"blocked","client":"203.0.113.9","method":"GET","host":"shop.example",
//    "path":"/search","rules":[942100,949110],"score":5,"message":"SQL Injection ..."}
//
// The file is written before the response goes out, so whoever sees the 403 can find its line.
// It is bounded: past `max_bytes` it becomes waf.jsonl.1 (replacing the older one) and a new one
// starts. A line that cannot be written is counted (write_failures) and logged by the caller; it
// never holds up the request. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/env.h"
#include "base/status.h"

namespace tieup::guard {

enum class WafOutcome {
  kBlocked,      // answered 403
  kDetected,     // would have been blocked, in detection-only mode
  kMatched,      // rules matched, the score stayed under the threshold
  kFailed,       // the WAF could not inspect it (answered 503, or let through where the site says)
  kBlocklisted,  // refused by main's network-wide blocklist (guard/blocklist.h) before the WAF
};
std::string_view WafOutcomeName(WafOutcome outcome);

struct WafEvent {
  int64_t time_micros = 0;
  std::string reference;  // 16 hex characters
  WafOutcome outcome = WafOutcome::kMatched;
  std::string client_address;
  std::string method;
  std::string host;
  std::string path;
  std::vector<int> rule_ids;
  int anomaly_score = 0;
  std::string message;
};

// The line of `event` (no newline), and back. ParseWafEvent: InvalidArgument for anything but a
// line EncodeWafEvent could have written.
std::string EncodeWafEvent(const WafEvent& event);
Result<WafEvent> ParseWafEvent(std::string_view line);

// What the log has counted since it was opened (or since TakeSummary).
struct WafSummary {
  int64_t since_micros = 0;
  uint64_t blocked = 0;
  uint64_t detected = 0;
  uint64_t matched = 0;
  uint64_t failed = 0;
  uint64_t blocklisted = 0;
  uint64_t write_failures = 0;
  std::map<int, uint64_t> by_rule;            // blocked or detected requests per rule id
  std::map<std::string, uint64_t> by_client;  // blocked, detected or blocklisted, per address
};

// `s` in words for the site's record and main's ("3 requests refused, 1 recorded in detection
// mode since 2026-12-04T18:40:00Z; rules 942100 x3, 941100 x1; from 203.0.113.9 x3, ..."; the
// five most frequent rules and clients); "" when nothing was refused, detected or left
// uninspected.
std::string DescribeWafSummary(const WafSummary& s);

// The `n` client addresses of `s` with the most refused or recorded requests, most first
// ("other", the overflow count, left out).
std::vector<std::string> TopWafClients(const WafSummary& s, size_t n);

class WafEventLog {
 public:
  static constexpr uint64_t kDefaultMaxBytes = 16ull << 20;
  // Opens (creating) `path` for appending. The caller keeps `env` alive.
  static Result<std::unique_ptr<WafEventLog>> Open(Env& env, std::string path,
                                                   uint64_t max_bytes = kDefaultMaxBytes);

  // Appends the line and counts the event. The error (the file could not be written) is also
  // counted; the event is counted either way.
  Status Append(const WafEvent& event);

  // The counts so far; TakeSummary also starts new ones at `now_micros`.
  WafSummary Summary() const;
  WafSummary TakeSummary(int64_t now_micros);

  const std::string& path() const { return path_; }

 private:
  WafEventLog(Env& env, std::string path, uint64_t max_bytes);
  Status RotateLocked();

  Env& env_;
  const std::string path_;
  const uint64_t max_bytes_;
  mutable std::mutex mu_;
  std::unique_ptr<WritableFile> file_;
  uint64_t size_ = 0;
  WafSummary summary_;
};

// The newest `limit` events of the log at `path` (and its rotated predecessor), newest first;
// lines that do not parse are skipped. NotFound when there is no log.
Result<std::vector<WafEvent>> ReadWafEvents(Env& env, const std::string& path, size_t limit);

}  // namespace tieup::guard
