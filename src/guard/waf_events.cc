#include "guard/waf_events.h"

#include <algorithm>
#include <boost/json.hpp>
#include <sstream>

#include "base/encoding.h"

namespace tieup::guard {
namespace {

namespace json = boost::json;

// A summary names at most this many client addresses (the rest are counted under "other"), so
// that an attack from many addresses cannot grow it without bound.
constexpr size_t kMaxClients = 1000;

const char* const kOutcomeNames[] = {"blocked", "detected", "matched", "failed", "blocklisted"};

}  // namespace

std::string_view WafOutcomeName(WafOutcome outcome) {
  return kOutcomeNames[static_cast<int>(outcome)];
}

std::string EncodeWafEvent(const WafEvent& e) {
  json::object o;
  o["time"] = FormatRfc3339(e.time_micros / 1'000'000);
  o["time_micros"] = e.time_micros;
  o["reference"] = e.reference;
  o["outcome"] = WafOutcomeName(e.outcome);
  o["client"] = e.client_address;
  o["method"] = SanitizeUtf8(e.method);
  o["host"] = SanitizeUtf8(e.host);
  o["path"] = SanitizeUtf8(e.path);
  json::array rules;
  for (int id : e.rule_ids) rules.push_back(id);
  o["rules"] = std::move(rules);
  o["score"] = e.anomaly_score;
  o["message"] = SanitizeUtf8(e.message);
  return json::serialize(o);
}

Result<WafEvent> ParseWafEvent(std::string_view line) {
  boost::system::error_code ec;
  json::value v = json::parse(line, ec);
  if (ec || !v.is_object()) return Status::InvalidArgument("not a WAF event line");
  const json::object& o = v.as_object();
  auto text = [&](std::string_view key) -> const json::string* {
    const json::value* f = o.if_contains(key);
    return f != nullptr && f->is_string() ? &f->as_string() : nullptr;
  };
  const json::value* micros = o.if_contains("time_micros");
  const json::value* rules = o.if_contains("rules");
  const json::value* score = o.if_contains("score");
  const json::string* outcome = text("outcome");
  if (micros == nullptr || !micros->is_int64() || rules == nullptr || !rules->is_array() ||
      score == nullptr || !score->is_int64() || outcome == nullptr || !text("reference") ||
      !text("client") || !text("method") || !text("host") || !text("path") || !text("message")) {
    return Status::InvalidArgument("a WAF event line lacks a field");
  }
  WafEvent e;
  e.time_micros = micros->as_int64();
  const auto* name =
      std::find(std::begin(kOutcomeNames), std::end(kOutcomeNames), std::string_view(*outcome));
  if (name == std::end(kOutcomeNames)) return Status::InvalidArgument("unknown WAF outcome");
  e.outcome = static_cast<WafOutcome>(name - std::begin(kOutcomeNames));
  e.reference = std::string(*text("reference"));
  e.client_address = std::string(*text("client"));
  e.method = std::string(*text("method"));
  e.host = std::string(*text("host"));
  e.path = std::string(*text("path"));
  e.message = std::string(*text("message"));
  e.anomaly_score = static_cast<int>(score->as_int64());
  for (const json::value& r : rules->as_array()) {
    if (!r.is_int64()) return Status::InvalidArgument("a WAF rule id is a number");
    e.rule_ids.push_back(static_cast<int>(r.as_int64()));
  }
  return e;
}

std::string DescribeWafSummary(const WafSummary& s) {
  if (s.blocked + s.detected + s.failed + s.blocklisted == 0) return "";
  std::string out;
  auto part = [&](uint64_t n, const std::string& what) {
    if (n == 0) return;
    out += (out.empty() ? "" : ", ") + std::to_string(n) + " " + what;
  };
  part(s.blocked, s.blocked == 1 ? "request refused" : "requests refused");
  part(s.detected, "recorded in detection mode");
  part(s.failed, "not inspected (the WAF failed)");
  part(s.blocklisted, "refused by the network blocklist");
  out += " since " + FormatRfc3339(s.since_micros / 1'000'000);
  // The five most frequent, leaving out the CRS's own scoring rules (949110, 980130).
  auto top = [](const auto& counts, auto skip) {
    std::vector<std::pair<uint64_t, std::string>> v;
    for (const auto& [key, n] : counts) {
      if (!skip(key)) {
        std::ostringstream k;
        k << key;
        v.emplace_back(n, k.str());
      }
    }
    std::stable_sort(v.begin(), v.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    std::string t;
    for (size_t i = 0; i < v.size() && i < 5; ++i) {
      t += (i ? ", " : "") + v[i].second + " x" + std::to_string(v[i].first);
    }
    if (v.size() > 5) t += ", ...";
    return t;
  };
  const std::string rules = top(s.by_rule, [](int id) { return id == 949110 || id == 980130; });
  const std::string clients = top(s.by_client, [](const std::string&) { return false; });
  if (!rules.empty()) out += "; rules " + rules;
  if (!clients.empty()) out += "; from " + clients;
  return out;
}

std::vector<std::string> TopWafClients(const WafSummary& s, size_t n) {
  std::vector<std::pair<uint64_t, std::string>> v;
  for (const auto& [client, count] : s.by_client) {
    if (client != "other") v.emplace_back(count, client);
  }
  std::stable_sort(v.begin(), v.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<std::string> out;
  for (size_t i = 0; i < v.size() && i < n; ++i) out.push_back(v[i].second);
  return out;
}

WafEventLog::WafEventLog(Env& env, std::string path, uint64_t max_bytes)
    : env_(env), path_(std::move(path)), max_bytes_(max_bytes) {}

Result<std::unique_ptr<WafEventLog>> WafEventLog::Open(Env& env, std::string path,
                                                       uint64_t max_bytes) {
  std::unique_ptr<WafEventLog> log(new WafEventLog(env, std::move(path), max_bytes));
  ASSIGN_OR_RETURN(log->file_, env.NewAppendableFile(log->path_));
  auto size = env.FileSize(log->path_);
  log->size_ = size.ok() ? *size : 0;
  log->summary_.since_micros = env.NowMicros();
  return log;
}

Status WafEventLog::RotateLocked() {
  if (file_ != nullptr) {
    (void)file_->Close();
    file_.reset();
  }
  RETURN_IF_ERROR(env_.Rename(path_, path_ + ".1"));
  ASSIGN_OR_RETURN(file_, env_.NewAppendableFile(path_));
  size_ = 0;
  return Status::Ok();
}

Status WafEventLog::Append(const WafEvent& e) {
  const std::string line = EncodeWafEvent(e) + "\n";
  std::lock_guard<std::mutex> lock(mu_);
  switch (e.outcome) {
    case WafOutcome::kBlocked:
      ++summary_.blocked;
      break;
    case WafOutcome::kDetected:
      ++summary_.detected;
      break;
    case WafOutcome::kMatched:
      ++summary_.matched;
      break;
    case WafOutcome::kFailed:
      ++summary_.failed;
      break;
    case WafOutcome::kBlocklisted:
      ++summary_.blocklisted;
      break;
  }
  if (e.outcome == WafOutcome::kBlocked || e.outcome == WafOutcome::kDetected ||
      e.outcome == WafOutcome::kBlocklisted) {
    for (int id : e.rule_ids) ++summary_.by_rule[id];
    auto it = summary_.by_client.find(e.client_address);
    if (it != summary_.by_client.end()) {
      ++it->second;
    } else if (summary_.by_client.size() < kMaxClients) {
      summary_.by_client.emplace(e.client_address, 1);
    } else {
      ++summary_.by_client["other"];
    }
  }
  Status s = Status::Ok();
  if (size_ + line.size() > max_bytes_ && size_ > 0) s = RotateLocked();
  if (s.ok() && file_ == nullptr) s = Status::Unavailable("the WAF log is not open");
  if (s.ok()) s = file_->Append(line);
  if (s.ok()) {
    size_ += line.size();
  } else {
    ++summary_.write_failures;
  }
  return s.Annotate("writing " + path_);
}

WafSummary WafEventLog::Summary() const {
  std::lock_guard<std::mutex> lock(mu_);
  return summary_;
}

WafSummary WafEventLog::TakeSummary(int64_t now_micros) {
  std::lock_guard<std::mutex> lock(mu_);
  WafSummary out = std::move(summary_);
  summary_ = WafSummary{};
  summary_.since_micros = now_micros;
  return out;
}

Result<std::vector<WafEvent>> ReadWafEvents(Env& env, const std::string& path, size_t limit) {
  std::vector<WafEvent> out;
  bool any = false;
  for (const std::string& file : {path, path + ".1"}) {
    if (out.size() >= limit) break;
    auto text = env.ReadFile(file);
    if (!text.ok()) {
      if (text.status().code() == StatusCode::kNotFound) continue;
      return text.status();
    }
    any = true;
    std::vector<WafEvent> events;
    size_t start = 0;
    while (start < text->size()) {
      size_t end = text->find('\n', start);
      if (end == std::string::npos) end = text->size();
      auto e = ParseWafEvent(std::string_view(*text).substr(start, end - start));
      if (e.ok()) events.push_back(std::move(*e));
      start = end + 1;
    }
    for (auto it = events.rbegin(); it != events.rend() && out.size() < limit; ++it) {
      out.push_back(std::move(*it));
    }
  }
  if (!any) return Status::NotFound("no WAF log at " + path + " (nothing has matched yet)");
  return out;
}

}  // namespace tieup::guard
