#include "guard/alerts.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>

#include "base/encoding.h"

namespace tieup::guard {
namespace {

namespace json = boost::json;

constexpr size_t kMaxMessageBytes = 2000;

const std::vector<Migration>& Migrations() {
  static const std::vector<Migration> steps = {
      {1,
       "CREATE TABLE guard_alerts(id INTEGER PRIMARY KEY, site TEXT NOT NULL, kind TEXT NOT "
       "NULL, severity INTEGER NOT NULL, message TEXT NOT NULL, first INTEGER NOT NULL, last "
       "INTEGER NOT NULL, count INTEGER NOT NULL DEFAULT 1, mailed INTEGER NOT NULL DEFAULT 0);"
       "CREATE INDEX guard_alerts_site_kind ON guard_alerts(site, kind, last);"
       "CREATE INDEX guard_alerts_last ON guard_alerts(last)"},
  };
  return steps;
}

Status EventError(std::string_view what) {
  return Status::InvalidArgument("security events: " + std::string(what));
}

Status CheckMessage(std::string_view m) {
  if (m.empty() || m.size() > kMaxMessageBytes) {
    return EventError("a message is 1 to " + std::to_string(kMaxMessageBytes) + " bytes");
  }
  for (char c : m) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return EventError("a message is one line without control characters");
    }
  }
  return Status::Ok();
}

constexpr std::string_view kColumns =
    "id, site, kind, severity, message, first, last, count, mailed";

SecurityAlert FromRow(const SqlRow& r) {
  SecurityAlert a;
  a.id = r.Int(0);
  a.site = r.Text(1);
  a.kind = r.Text(2);
  a.severity = static_cast<AlertSeverity>(std::clamp<int64_t>(r.Int(3), 0, 2));
  a.message = r.Text(4);
  a.first = r.Int(5);
  a.last = r.Int(6);
  a.count = r.Int(7);
  a.mailed = r.Int(8) != 0;
  return a;
}

}  // namespace

std::string_view AlertSeverityName(AlertSeverity severity) {
  switch (severity) {
    case AlertSeverity::kInfo:
      return "info";
    case AlertSeverity::kWarning:
      return "warning";
    case AlertSeverity::kCritical:
      return "critical";
  }
  return "";
}

Result<AlertSeverity> ParseAlertSeverity(std::string_view name) {
  for (AlertSeverity s :
       {AlertSeverity::kInfo, AlertSeverity::kWarning, AlertSeverity::kCritical}) {
    if (AlertSeverityName(s) == name) return s;
  }
  return EventError("severity '" + std::string(name.substr(0, 32)) +
                    "' is not one of info, warning, critical");
}

Status CheckAlertKind(std::string_view kind) {
  if (kind.empty() || kind.size() > 32 || !std::all_of(kind.begin(), kind.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || c == '-';
      })) {
    return EventError("a kind is 1 to 32 of a-z and '-'");
  }
  return Status::Ok();
}

std::string EncodeSecurityEvents(const std::vector<SecurityEvent>& events) {
  json::array a;
  for (const SecurityEvent& e : events) {
    json::object o;
    o["at"] = e.at;
    if (!e.clients.empty()) {
      json::array clients;
      for (const std::string& c : e.clients) clients.emplace_back(c);
      o["clients"] = std::move(clients);
    }
    o["kind"] = e.kind;
    o["message"] = e.message;
    o["severity"] = AlertSeverityName(e.severity);
    a.push_back(std::move(o));
  }
  json::object o;
  o["events"] = std::move(a);
  return json::serialize(o);
}

Result<std::vector<SecurityEvent>> ParseSecurityEvents(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return EventError("not JSON: " + ec.message());
  const json::object* o = v.if_object();
  if (o == nullptr || o->size() != 1 || !o->contains("events") || !o->at("events").is_array()) {
    return EventError("the body is {\"events\":[...]}");
  }
  const json::array& a = o->at("events").get_array();
  if (a.empty() || a.size() > kMaxSecurityEvents) {
    return EventError("1 to " + std::to_string(kMaxSecurityEvents) + " events at a time");
  }
  std::vector<SecurityEvent> out;
  for (size_t i = 0; i < a.size(); ++i) {
    const std::string where = "event " + std::to_string(i + 1) + ": ";
    const json::object* e = a[i].if_object();
    if (e == nullptr) return EventError(where + "not an object");
    for (const auto& kv : *e) {
      if (kv.key() != "at" && kv.key() != "clients" && kv.key() != "kind" &&
          kv.key() != "message" && kv.key() != "severity") {
        return EventError(where + "unknown field '" + std::string(kv.key()) + "'");
      }
    }
    const json::value* at = e->if_contains("at");
    const json::value* kind = e->if_contains("kind");
    const json::value* message = e->if_contains("message");
    const json::value* severity = e->if_contains("severity");
    if (at == nullptr || !at->is_int64() || at->get_int64() < 0) {
      return EventError(where + "'at' is a non-negative integer");
    }
    if (kind == nullptr || !kind->is_string() || message == nullptr || !message->is_string() ||
        severity == nullptr || !severity->is_string()) {
      return EventError(where + "'kind', 'message' and 'severity' are strings");
    }
    SecurityEvent ev;
    ev.at = at->get_int64();
    ev.kind = std::string(kind->get_string());
    RETURN_IF_ERROR(CheckAlertKind(ev.kind).Annotate(where));
    ASSIGN_OR_RETURN(ev.severity, ParseAlertSeverity(severity->get_string()));
    ev.message = std::string(message->get_string());
    RETURN_IF_ERROR(CheckMessage(ev.message).Annotate(where));
    if (const json::value* clients = e->if_contains("clients")) {
      if (!clients->is_array() || clients->get_array().empty() ||
          clients->get_array().size() > kMaxEventClients) {
        return EventError(where + "'clients' is 1 to " + std::to_string(kMaxEventClients) +
                          " addresses");
      }
      for (const json::value& c : clients->get_array()) {
        if (!c.is_string() || c.get_string().empty() || c.get_string().size() > 45 ||
            !std::all_of(c.get_string().begin(), c.get_string().end(), [](char ch) {
              return std::isxdigit(static_cast<unsigned char>(ch)) || ch == '.' || ch == ':';
            })) {
          return EventError(where + "'clients' holds addresses only");
        }
        ev.clients.emplace_back(c.get_string());
      }
    }
    out.push_back(std::move(ev));
  }
  return out;
}

Result<std::unique_ptr<AlertStore>> AlertStore::Open(Env& env, Database& db, Options options) {
  RETURN_IF_ERROR(Migrate(db, "alerts", Migrations()));
  return std::unique_ptr<AlertStore>(new AlertStore(env, db, options));
}

Result<SecurityAlert> AlertStore::Record(const std::string& site, const SecurityEvent& event) {
  RETURN_IF_ERROR(CheckAlertKind(event.kind));
  RETURN_IF_ERROR(CheckMessage(event.message));
  if (site.empty() || site.size() > 64) return EventError("a site id is 1 to 64 characters");
  const int64_t now = env_.NowSeconds();
  std::lock_guard<std::mutex> lock(mu_);
  int64_t id = 0;
  RETURN_IF_ERROR(db_.Transaction([&](Database& db) -> Status {
    auto fold_into = [&](const std::string& kind) -> Result<int64_t> {
      ASSIGN_OR_RETURN(auto rows,
                       db.Query("SELECT id FROM guard_alerts WHERE site = ? AND kind = ? AND "
                                "last >= ? ORDER BY last DESC LIMIT 1",
                                {site, kind, now - options_.aggregate_seconds}));
      return rows.empty() ? int64_t{0} : rows[0].Int(0);
    };
    const int severity = static_cast<int>(event.severity);
    ASSIGN_OR_RETURN(id, fold_into(event.kind));
    if (id != 0) {
      // A more severe occurrence raises the alert (and mails it again if it now qualifies).
      return db.Exec(
          "UPDATE guard_alerts SET count = count + 1, last = ?, message = ?, mailed = CASE WHEN "
          "? > severity THEN 0 ELSE mailed END, severity = CASE WHEN ? > severity THEN ? ELSE "
          "severity END WHERE id = ?",
          {now, event.message, static_cast<int64_t>(severity), static_cast<int64_t>(severity),
           static_cast<int64_t>(severity), id});
    }
    ASSIGN_OR_RETURN(auto recent, db.Query("SELECT COUNT(*) FROM guard_alerts WHERE site = ? AND "
                                           "first >= ? AND kind <> 'alerts-limited'",
                                           {site, now - 3600}));
    std::string kind = event.kind;
    std::string message = event.message;
    if (!recent.empty() && recent[0].Int(0) >= options_.max_new_per_hour) {
      kind = "alerts-limited";
      message = "more than " + std::to_string(options_.max_new_per_hour) +
                " alerts about this site in an hour: the rest are counted here; the newest (" +
                event.kind + "): " + event.message.substr(0, 1000);
      ASSIGN_OR_RETURN(id, fold_into(kind));
      if (id != 0) {
        return db.Exec(
            "UPDATE guard_alerts SET count = count + 1, last = ?, message = ?, severity = CASE "
            "WHEN ? > severity THEN ? ELSE severity END WHERE id = ?",
            {now, message, static_cast<int64_t>(severity), static_cast<int64_t>(severity), id});
      }
    }
    RETURN_IF_ERROR(
        db.Exec("INSERT INTO guard_alerts(site, kind, severity, message, first, last) "
                "VALUES(?, ?, ?, ?, ?, ?)",
                {site, kind, static_cast<int64_t>(severity), message, now, now}));
    id = db.LastInsertId();
    return Status::Ok();
  }));
  ASSIGN_OR_RETURN(
      auto rows,
      db_.Query("SELECT " + std::string(kColumns) + " FROM guard_alerts WHERE id = ?", {id}));
  if (rows.empty()) return Status::Internal("the alert just recorded is gone");
  return FromRow(rows[0]);
}

Result<std::vector<SecurityAlert>> AlertStore::List(const AlertQuery& q) {
  ASSIGN_OR_RETURN(auto rows,
                   db_.Query("SELECT " + std::string(kColumns) +
                                 " FROM guard_alerts WHERE (? = '' OR site = ?) AND severity >= ? "
                                 "AND last >= ? ORDER BY last DESC, id DESC LIMIT ?",
                             {q.site, q.site, static_cast<int64_t>(q.min_severity), q.since,
                              static_cast<int64_t>(q.limit)}));
  std::vector<SecurityAlert> out;
  for (const SqlRow& r : rows) out.push_back(FromRow(r));
  return out;
}

Result<std::vector<SecurityAlert>> AlertStore::Unmailed(AlertSeverity min_severity) {
  ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT " + std::string(kColumns) +
                                            " FROM guard_alerts WHERE mailed = 0 AND severity >= "
                                            "? ORDER BY id LIMIT 100",
                                        {static_cast<int64_t>(min_severity)}));
  std::vector<SecurityAlert> out;
  for (const SqlRow& r : rows) out.push_back(FromRow(r));
  return out;
}

Result<std::array<int64_t, 3>> AlertStore::CountOccurrences() {
  ASSIGN_OR_RETURN(
      auto rows, db_.Query("SELECT severity, SUM(count) FROM guard_alerts GROUP BY severity", {}));
  std::array<int64_t, 3> out{};
  for (const SqlRow& r : rows) {
    const int64_t severity = r.Int(0);
    if (severity >= 0 && severity < static_cast<int64_t>(out.size())) out[severity] = r.Int(1);
  }
  return out;
}

Status AlertStore::MarkMailed(int64_t id) {
  return db_.Exec("UPDATE guard_alerts SET mailed = 1 WHERE id = ?", {id});
}

std::vector<std::pair<std::string, std::vector<std::string>>> AutoBlocker::Observe(
    const std::string& partner, const std::vector<std::string>& clients, int64_t now) {
  std::vector<std::pair<std::string, std::vector<std::string>>> out;
  if (partners_ <= 0) return out;
  // Forget what is older than the window (bounded memory under a spread attack).
  for (auto it = seen_.begin(); it != seen_.end();) {
    std::erase_if(it->second, [&](const auto& kv) { return kv.second <= now - window_; });
    it = it->second.empty() ? seen_.erase(it) : std::next(it);
  }
  std::erase_if(blocked_, [&](const auto& kv) { return kv.second <= now - window_; });
  for (const std::string& address : clients) {
    if (seen_.size() >= 100000 && seen_.count(address) == 0) break;
    auto& at = seen_[address];
    at[partner] = now;
    if (static_cast<int>(at.size()) < partners_ || blocked_.count(address) != 0) continue;
    blocked_[address] = now;
    std::vector<std::string> where;
    for (const auto& [p, t] : at) where.push_back(p);
    out.emplace_back(address, std::move(where));
  }
  return out;
}

std::string DescribeAlert(const SecurityAlert& a) {
  std::string s = std::string(AlertSeverityName(a.severity));
  s.resize(10, ' ');
  s += FormatRfc3339(a.last) + "  " + a.site + "  " + a.kind;
  if (a.count > 1) {
    s += " x" + std::to_string(a.count) + " (since " + FormatRfc3339(a.first) + ")";
  }
  return s + ": " + a.message;
}

}  // namespace tieup::guard
