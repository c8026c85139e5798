#include "guard/page_probe.h"

#include <algorithm>

#include "base/encoding.h"
#include "crypto/hash.h"

namespace tieup::guard {
namespace {

const std::vector<Migration>& ProbeMigrations() {
  static const std::vector<Migration> steps = {
      {1,
       "CREATE TABLE guard_probes(partner TEXT PRIMARY KEY, cursor TEXT NOT NULL DEFAULT '', "
       "pass_started INTEGER NOT NULL DEFAULT 0, pass_probed INTEGER NOT NULL DEFAULT 0, "
       "last_pass_seconds INTEGER NOT NULL DEFAULT 0, passes INTEGER NOT NULL DEFAULT 0, "
       "last_round INTEGER NOT NULL DEFAULT 0, probed INTEGER NOT NULL DEFAULT 0, "
       "problems INTEGER NOT NULL DEFAULT 0, last_problem TEXT NOT NULL DEFAULT '', "
       "last_problem_at INTEGER NOT NULL DEFAULT 0)"},
  };
  return steps;
}

constexpr std::string_view kProbeColumns =
    "partner, cursor, pass_started, pass_probed, last_pass_seconds, passes, last_round, probed, "
    "problems, last_problem, last_problem_at";

ProbeProgress ProbeFromRow(const SqlRow& r) {
  ProbeProgress p;
  p.partner = r.Text(0);
  p.cursor = r.Text(1);
  p.pass_started = r.Int(2);
  p.pass_probed = static_cast<uint64_t>(r.Int(3));
  p.last_pass_seconds = r.Int(4);
  p.passes = r.Int(5);
  p.last_round = r.Int(6);
  p.probed = static_cast<uint64_t>(r.Int(7));
  p.problems = static_cast<uint64_t>(r.Int(8));
  p.last_problem = r.Text(9);
  p.last_problem_at = r.Int(10);
  return p;
}

std::string PassDuration(int64_t seconds) {
  if (seconds < 120) return std::to_string(seconds) + "s";
  if (seconds < 7200) return std::to_string(seconds / 60) + "m";
  return std::to_string(seconds / 3600) + "h" + std::to_string(seconds % 3600 / 60) + "m";
}

}  // namespace

std::string_view ProbeVerdictName(ProbeVerdict verdict) {
  switch (verdict) {
    case ProbeVerdict::kMatch:
      return "match";
    case ProbeVerdict::kMismatch:
      return "mismatch";
    case ProbeVerdict::kWrongStatus:
      return "wrong-status";
    case ProbeVerdict::kUnreachable:
      return "unreachable";
  }
  return "unknown";
}

ProbeResult JudgeProbe(const ProbePage& page, const Result<ProbeResponse>& response) {
  ProbeResult r;
  r.path = page.path;
  if (!response.ok()) {
    r.verdict = ProbeVerdict::kUnreachable;
    r.detail = "GET " + page.url + " got no answer: " + response.status().message();
    return r;
  }
  if (response->status != 200) {
    r.verdict = ProbeVerdict::kWrongStatus;
    r.detail = "GET " + page.url + " answered " + std::to_string(response->status) +
               " where main's release has the page";
    return r;
  }
  if (!response->content_encoding.empty()) {
    r.verdict = ProbeVerdict::kMismatch;
    r.detail = "GET " + page.url + " came with Content-Encoding '" +
               response->content_encoding.substr(0, 40) + "' though none was asked for";
    return r;
  }
  const std::string got = Sha256Hex(response->body);
  if (std::find(page.accepted.begin(), page.accepted.end(), got) != page.accepted.end()) {
    return r;
  }
  r.verdict = ProbeVerdict::kMismatch;
  r.detail = "GET " + page.url + " served " + std::to_string(response->body.size()) + " bytes" +
             " with SHA-256 " + got.substr(0, 16) + "..., not what main signed (" +
             (page.accepted.empty() ? std::string("none") : page.accepted[0].substr(0, 16)) +
             "...): changed on the way out (a proxy in front of the partner, or its process)";
  return r;
}

std::vector<std::string> NextProbePaths(const std::vector<std::string>& paths,
                                        std::string_view cursor, size_t count) {
  std::vector<std::string> out;
  if (paths.empty() || count == 0) return out;
  count = std::min(count, paths.size());
  out.reserve(count);
  // The first path after the cursor (the cursor's own path may be gone from a newer release).
  size_t i = static_cast<size_t>(std::upper_bound(paths.begin(), paths.end(), cursor,
                                                  [](std::string_view c, const std::string& p) {
                                                    return c < std::string_view(p);
                                                  }) -
                                 paths.begin());
  for (size_t n = 0; n < count; ++n, ++i) out.push_back(paths[i % paths.size()]);
  return out;
}

Result<std::unique_ptr<ProbeRecord>> ProbeRecord::Open(Env& env, Database& db) {
  RETURN_IF_ERROR(Migrate(db, "probes", ProbeMigrations()));
  return std::unique_ptr<ProbeRecord>(new ProbeRecord(env, db));
}

Result<ProbeProgress> ProbeRecord::Get(const std::string& partner) {
  ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT " + std::string(kProbeColumns) +
                                            " FROM guard_probes WHERE partner = ?",
                                        {partner}));
  if (rows.empty()) {
    ProbeProgress p;
    p.partner = partner;
    return p;
  }
  return ProbeFromRow(rows[0]);
}

Result<std::vector<ProbeProgress>> ProbeRecord::List() {
  ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT " + std::string(kProbeColumns) +
                                        " FROM guard_probes ORDER BY partner"));
  std::vector<ProbeProgress> out;
  out.reserve(rows.size());
  for (const SqlRow& r : rows) out.push_back(ProbeFromRow(r));
  return out;
}

Result<ProbeProgress> ProbeRecord::RecordRound(const std::string& partner,
                                               const std::vector<ProbeResult>& results,
                                               size_t pages) {
  ProbeProgress p;
  const int64_t now = env_.NowSeconds();
  RETURN_IF_ERROR(db_.Transaction([&](Database& db) -> Status {
    ASSIGN_OR_RETURN(auto rows, db.Query("SELECT " + std::string(kProbeColumns) +
                                             " FROM guard_probes WHERE partner = ?",
                                         {partner}));
    if (rows.empty()) {
      p.partner = partner;
      p.pass_started = now;
    } else {
      p = ProbeFromRow(rows[0]);
    }
    for (const ProbeResult& r : results) {
      ++p.probed;
      ++p.pass_probed;
      p.cursor = r.path;
      if (r.verdict != ProbeVerdict::kMatch) {
        ++p.problems;
        p.last_problem = r.detail;
        p.last_problem_at = now;
      }
      if (pages > 0 && p.pass_probed >= pages) {  // every page once: the pass is complete
        ++p.passes;
        p.last_pass_seconds = std::max<int64_t>(now - p.pass_started, 1);
        p.pass_started = now;
        p.pass_probed = 0;
      }
    }
    p.last_round = now;
    return db.Exec(
        "INSERT INTO guard_probes(" + std::string(kProbeColumns) +
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(partner) DO UPDATE SET "
            "cursor = excluded.cursor, pass_started = excluded.pass_started, pass_probed = "
            "excluded.pass_probed, last_pass_seconds = excluded.last_pass_seconds, passes = "
            "excluded.passes, last_round = excluded.last_round, probed = excluded.probed, "
            "problems = excluded.problems, last_problem = excluded.last_problem, "
            "last_problem_at = excluded.last_problem_at",
        {p.partner, p.cursor, p.pass_started, static_cast<int64_t>(p.pass_probed),
         p.last_pass_seconds, p.passes, p.last_round, static_cast<int64_t>(p.probed),
         static_cast<int64_t>(p.problems), p.last_problem, p.last_problem_at});
  }));
  return p;
}

std::string DescribeProbeProgress(const ProbeProgress& p) {
  if (p.last_round == 0) return p.partner + ": not probed yet";
  std::string s = p.partner + ": " + std::to_string(p.probed) + " pages probed, last at " +
                  FormatRfc3339(p.last_round);
  if (p.passes > 0) {
    s += "; " + std::to_string(p.passes) + " complete passes over every page, the last took " +
         PassDuration(p.last_pass_seconds);
  }
  s += "; " + std::to_string(p.pass_probed) + " pages into the current pass";
  if (p.problems == 0) return s + "; every page as main signed it";
  return s + "; " + std::to_string(p.problems) + " problems, the last at " +
         FormatRfc3339(p.last_problem_at) + ": " + p.last_problem;
}

}  // namespace tieup::guard
