// Main's probes of its partners' public pages (issue 17 item 3; DESIGN.md "Management on the
// partners' behalf", Security): main fetches a rotating sample of each partner's tie-up pages
// every round, every page over a pass, and compares the bytes with what it signed. This catches
// what the partner's own integrity monitor cannot see: a proxy in front of the partner, or a
// patched process, changing what is served while the files on disk stay right.
//
// This file holds what needs no network: the plan of a round (which pages, in a rotation that
// survives restarts and new releases), the verdict on one fetched page, and the record of each
// partner's probing (table guard_probes in main's database). main_site/page_probes.h fetches.
//
// Thread-safe (the Database serialises).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/env.h"
#include "base/status.h"
#include "store/database.h"

namespace tieup::guard {

// One page to probe: its path in main's release, where to fetch it, and the bodies that are
// right for it.
struct ProbePage {
  std::string path;                   // the release's path ("/news/index.html")
  std::string url;                    // what to GET ("http://shop-a.example/news/index.html")
  std::vector<std::string> accepted;  // lower-case hex SHA-256 of each body that is right
};

// What a probe got back.
struct ProbeResponse {
  int status = 0;
  std::string body;
  std::string content_encoding;  // the Content-Encoding header ("" : none)
};

enum class ProbeVerdict {
  kMatch,        // 200 with a body that is right
  kMismatch,     // 200 with other bytes (or encoded though none was asked for)
  kWrongStatus,  // any other status, for a page the partner should serve
  kUnreachable,  // no answer (refused, reset, timed out)
};
// "match", "mismatch", "wrong-status", "unreachable".
std::string_view ProbeVerdictName(ProbeVerdict verdict);

struct ProbeResult {
  std::string path;
  ProbeVerdict verdict = ProbeVerdict::kMatch;
  std::string detail;  // one sentence for a person; empty for a match
};

// Judges one fetched page: the body's SHA-256 against page.accepted.
ProbeResult JudgeProbe(const ProbePage& page, const Result<ProbeResponse>& response);

// The next `count` of `paths` (sorted ascending, unique) after `cursor`, in order, wrapping
// around; each path at most once (all of them when count >= paths.size()). The rotation
// follows path names, so after a new release (pages added or removed) it goes on where it was.
std::vector<std::string> NextProbePaths(const std::vector<std::string>& paths,
                                        std::string_view cursor, size_t count);

// What main's probing of one partner has done.
struct ProbeProgress {
  std::string partner;
  std::string cursor;             // the last path probed ("" : none yet)
  int64_t pass_started = 0;       // unix seconds: when the current pass over the pages began
  uint64_t pass_probed = 0;       // pages probed in the current pass
  int64_t last_pass_seconds = 0;  // how long the last complete pass took (0: none complete)
  int64_t passes = 0;             // complete passes
  int64_t last_round = 0;         // unix seconds; 0: never probed
  uint64_t probed = 0;            // pages probed in all
  uint64_t problems = 0;          // of them, verdicts other than a match
  std::string last_problem;       // the newest, in words
  int64_t last_problem_at = 0;
};

class ProbeRecord {
 public:
  // Migrates its table in `db`. `env` and `db` outlive the record.
  static Result<std::unique_ptr<ProbeRecord>> Open(Env& env, Database& db);

  // The partner's progress (a fresh one, with only `partner` set, when never probed).
  Result<ProbeProgress> Get(const std::string& partner);
  // Every partner probed, by id.
  Result<std::vector<ProbeProgress>> List();

  // Records one round of `partner`: `results` in the order probed (the cursor moves to the
  // last one's path), of a site of `pages` pages (a pass is complete when it probed that many).
  // Returns the progress after it.
  Result<ProbeProgress> RecordRound(const std::string& partner,
                                    const std::vector<ProbeResult>& results, size_t pages);

 private:
  ProbeRecord(Env& env, Database& db) : env_(env), db_(db) {}
  Env& env_;
  Database& db_;
};

// "shop-a: 1,204 pages probed, pass 3 of 120 pages took 2m; last problem ..." for a terminal.
std::string DescribeProbeProgress(const ProbeProgress& progress);

}  // namespace tieup::guard
