// Security alerts (issue 17 item 5; DESIGN.md "Management on the partners' behalf", Security):
// what main's manager (and each partner's, for its own site) must know about attacks and damage,
// kept in a store of its own, aggregated and rate-limited so that an attack fills neither the
// store nor the manager's mailbox.
//
// An alert names the site it is about ("main" or a partner id), a kind, a severity and a
// sentence. Kinds used: "waf" (what the WAF refused, summarised), "damaged" (a served file that
// changed or went missing), "restored" (served correctly again), "restore-failed" (a file that
// keeps being changed or cannot be restored: its area stops being served), "signin-surge"
// (failed sign-ins far above normal). The same site and kind within `aggregate_seconds` of the
// alert's last occurrence adds to it (count, last time, newest sentence) instead of making a new
// one; past `max_new_per_hour` new alerts for one site in an hour, further ones are folded into
// one alert of kind "alerts-limited" for that site.
//
// Partners send theirs to main signed (SecurityEventBatch, POST kSecurityEventsPath on main's
// sync port, with the request signature every partner request to main carries), so an alert at
// main is exactly what the partner said.
//
// Thread-safe (the Database serialises).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/env.h"
#include "base/status.h"
#include "store/database.h"

namespace tieup::guard {

inline constexpr std::string_view kSecurityEventsPath = "/v1/security-events";

enum class AlertSeverity { kInfo, kWarning, kCritical };
std::string_view AlertSeverityName(AlertSeverity severity);  // "info", "warning", "critical"
Result<AlertSeverity> ParseAlertSeverity(std::string_view name);

// One security event as a site reports it.
struct SecurityEvent {
  std::string kind;  // [a-z-], 1..32 characters
  AlertSeverity severity = AlertSeverity::kWarning;
  std::string message;  // one line, 1..2000 bytes
  int64_t at = 0;       // unix seconds, the reporting site's clock
  // For "waf": the client addresses the WAF refused most (at most kMaxEventClients; the wire
  // form leaves the field out when empty). Main's AutoBlocker counts them across partners.
  std::vector<std::string> clients;
  friend bool operator==(const SecurityEvent&, const SecurityEvent&) = default;
};
inline constexpr size_t kMaxEventClients = 20;

// The body of POST kSecurityEventsPath: {"events":[{"at":..,"clients":[".."],"kind":"..",
// "message":"..","severity":".."}]} ("clients" optional, addresses), 1..kMaxSecurityEvents
// events. Parse is strict (InvalidArgument naming the
// field).
inline constexpr size_t kMaxSecurityEvents = 50;
std::string EncodeSecurityEvents(const std::vector<SecurityEvent>& events);
Result<std::vector<SecurityEvent>> ParseSecurityEvents(std::string_view json);

struct SecurityAlert {
  int64_t id = 0;
  std::string site;  // "main" or the partner id
  std::string kind;
  AlertSeverity severity = AlertSeverity::kWarning;
  std::string message;  // the newest sentence
  int64_t first = 0;    // unix seconds
  int64_t last = 0;
  int64_t count = 1;  // occurrences folded into it
  bool mailed = false;
};

struct AlertQuery {
  std::string site;  // "" : every site
  AlertSeverity min_severity = AlertSeverity::kInfo;
  int64_t since = 0;  // alerts whose last occurrence is at or after this (unix seconds)
  size_t limit = 100;
};

class AlertStore {
 public:
  struct Options {
    int64_t aggregate_seconds = 600;
    int max_new_per_hour = 60;  // per site
  };
  // Migrates its table in `db`. `env` and `db` outlive the store.
  static Result<std::unique_ptr<AlertStore>> Open(Env& env, Database& db, Options options);
  static Result<std::unique_ptr<AlertStore>> Open(Env& env, Database& db) {
    return Open(env, db, Options{});
  }

  // Records `event` about `site` at this site's clock (the event's own time is kept in the
  // sentence's context only). Returns the alert it made or added to. InvalidArgument for a bad
  // kind or an empty message.
  Result<SecurityAlert> Record(const std::string& site, const SecurityEvent& event);

  // The newest alerts matching `query`, newest (by last occurrence) first.
  Result<std::vector<SecurityAlert>> List(const AlertQuery& query);

  // How many occurrences were recorded, by severity (indexed by the enum's value), every alert
  // folded in: it only grows (the operations port's counter).
  Result<std::array<int64_t, 3>> CountOccurrences();

  // Alerts of at least `min_severity` not mailed yet, oldest first; and marking one mailed.
  Result<std::vector<SecurityAlert>> Unmailed(AlertSeverity min_severity);
  Status MarkMailed(int64_t id);

 private:
  AlertStore(Env& env, Database& db, Options options) : env_(env), db_(db), options_(options) {}
  Env& env_;
  Database& db_;
  const Options options_;
  std::mutex mu_;
};

// Network-wide blocking of an address that trips the WAF at several partners (issue 17 item
// 6): Observe each partner's WAF summary; an address seen at `partners` different partners
// within `window_seconds` is returned once (then not again until `window_seconds` after). Not
// thread-safe: one caller.
class AutoBlocker {
 public:
  AutoBlocker(int partners, int64_t window_seconds)
      : partners_(partners), window_(window_seconds) {}
  // The addresses that reached the threshold with this summary, each with the partners.
  std::vector<std::pair<std::string, std::vector<std::string>>> Observe(
      const std::string& partner, const std::vector<std::string>& clients, int64_t now);

 private:
  const int partners_;
  const int64_t window_;
  std::map<std::string, std::map<std::string, int64_t>> seen_;  // address -> partner -> last
  std::map<std::string, int64_t> blocked_;                      // address -> when returned
};

// Checks a kind: [a-z-], 1..32 characters.
Status CheckAlertKind(std::string_view kind);

// "critical  2026-12-04T18:40:00Z  shop-a  damaged x3: ..." lines for a terminal.
std::string DescribeAlert(const SecurityAlert& alert);

}  // namespace tieup::guard
