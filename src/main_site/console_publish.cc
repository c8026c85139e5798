// /publish: publish to all partners or a selection, with live per-partner progress.
//
//   GET  /publish[?q=TEXT]          what to publish to (every partner, those in a state, a region,
//                                   chosen partners: up to kMatchesShown search matches as
//                                   checkboxes, or a typed list of ids) and the last runs
//   POST /publish                   starts the run (MainDaemon::Publish, what `tieup main publish`
//                                   runs) on this area's own thread, audited; 303 to its page
//   GET  /publish/runs/N[?page=P]   the run: its counts by state and one page of its partners,
//                                   updated live by "publish-progress" events (publish.js); the
//                                   current state on reload without JavaScript
//
// The console keeps the last kKeptRuns runs in memory (what a restart loses is in the partners'
// timelines). One run at a time: a second one is refused while the console's own runs; a run
// of the command line or the scheduler makes it wait (MainDaemon::Publish serializes them).
#include <fmt/format.h>

#include <algorithm>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "commerce/form.h"
#include "main_site/console_common.h"
#include "main_site/main_sync.h"
#include "main_site/publish_run.h"

namespace tieup::main_console {
namespace {

constexpr size_t kKeptRuns = 10;
constexpr size_t kRowsPerPage = 100;
constexpr size_t kMatchesShown = 50;
constexpr size_t kMaxTypedIds = 100'000;

// How the page groups a partner's step: its colour and the count it adds to.
std::string Category(const sync::PublishProgress& step) {
  if (!step.done) return step.stage == "queued" ? "queued" : "running";
  const std::string& s = step.stage;
  if (s == "activated" || s == "already_active") return "activated";
  if (s == "pending_approval" || s == "awaiting_approval") return "waiting";
  if (s == "up_to_date") return "up-to-date";
  if (s == "failed") return "failed";
  return "other";  // pull, rejected, suspended
}

// The counts the page shows, in this order.
constexpr std::pair<const char*, const char*> kCategories[] = {{"queued", "Queued"},
                                                               {"running", "In progress"},
                                                               {"activated", "Activated"},
                                                               {"waiting", "Waiting for approval"},
                                                               {"up-to-date", "Up to date"},
                                                               {"failed", "Failed"},
                                                               {"other", "Other"}};

struct Row {
  sync::PublishProgress step;  // the latest
  int64_t updated = 0;         // micros
};

struct Run {
  int id = 0;
  std::string by;     // the manager's email
  std::string scope;  // "every partner", "region north (12 partners)", "shop-a, shop-b"
  int64_t started = 0, finished = 0;  // micros
  bool running = true;
  std::string phase;      // what it does before and around the partners, in words
  std::string main_line;  // "activated release 4 (5 files)"
  std::vector<Row> rows;  // in the order the publisher queued them
  std::map<std::string, size_t, std::less<>> index;  // partner -> rows
  std::map<std::string, int> counts;                 // Category -> partners
  // Events sent so far; each carries its number, so that a page sees which it missed (it then
  // loads the run again) and which its own state already has.
  uint64_t seq = 0;
  std::string summary;  // at the end: SummarizePublish
  std::string error;    // at the end: why the run stopped, when it did not finish cleanly
};

json::object Counts(const Run& run) {
  json::object o;
  for (const auto& [key, label] : kCategories) {
    auto it = run.counts.find(key);
    o[key] = it == run.counts.end() ? 0 : it->second;
  }
  return o;
}

// The runs this console started, and the thread running the current one.
class PublishRuns {
 public:
  explicit PublishRuns(ConsoleState& s) : s_(s) {}
  ~PublishRuns() { Join(); }

  // Starts a run of `request` (by `by`, described as `scope`) and returns its id; when one is
  // running, returns that one's id and false.
  std::pair<int, bool> Start(std::string by, std::string scope, PublishRequest request) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!runs_.empty() && runs_.back()->running) return {runs_.back()->id, false};
    if (thread_.joinable()) thread_.join();  // finished: its last lines are recorded
    auto run = std::make_shared<Run>();
    run->id = next_id_++;
    run->by = std::move(by);
    run->scope = std::move(scope);
    run->started = s_.daemon->env().NowMicros();
    run->phase =
        "Building main's own pages (after any publish already running, from the command line "
        "or the schedule).";
    runs_.push_back(run);
    while (runs_.size() > kKeptRuns) runs_.pop_front();
    thread_ = std::thread([this, run, request = std::move(request)] { Execute(*run, request); });
    return {run->id, true};
  }

  // Waits for the running run to end (the daemon stops).
  void Join() {
    std::thread t;
    {
      std::lock_guard<std::mutex> lock(mu_);
      t = std::move(thread_);
    }
    if (t.joinable()) t.join();
  }

  // Calls `f(const Run*)` under the lock with run `id` (null when not kept).
  template <typename F>
  auto With(int id, F f) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& run : runs_) {
      if (run->id == id) return f(run.get());
    }
    return f(static_cast<const Run*>(nullptr));
  }
  // Calls `f(const Run&)` under the lock for each kept run, newest first.
  template <typename F>
  void ForEach(F f) {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = runs_.rbegin(); it != runs_.rend(); ++it) f(**it);
  }

 private:
  void Execute(Run& run, const PublishRequest& request) {
    PublishOutput output;
    output.out = [&](std::string_view line) {
      std::lock_guard<std::mutex> lock(mu_);
      if (line.starts_with("main: ")) run.main_line = std::string(line.substr(6));
    };
    output.err = [&](std::string_view line) {
      if (!line.starts_with("publishing to ")) return;  // the steps come through `progress`
      std::lock_guard<std::mutex> lock(mu_);
      run.phase = "Publishing to partners.";
    };
    output.progress = [&](const sync::PublishProgress& step) { OnProgress(run, step); };
    Status st = s_.daemon->Publish(request, output);

    json::object event;
    {
      std::lock_guard<std::mutex> lock(mu_);
      std::vector<std::string> states;
      for (const Row& row : run.rows) {
        if (row.step.done) states.push_back(row.step.stage);
      }
      run.summary = SummarizePublish(states);
      const bool partners_failed = run.counts["failed"] > 0;
      if (!st.ok() && !partners_failed) run.error = st.message();
      run.running = false;
      run.finished = s_.daemon->env().NowMicros();
      run.phase = run.error.empty() ? "Finished." : "Stopped.";
      ++run.seq;
      event = json::object{{"run", run.id},
                           {"seq", run.seq},
                           {"title", fmt::format("Publish run {} finished", run.id)},
                           {"message", run.error.empty() ? run.summary : "Stopped: " + run.error},
                           {"href", fmt::format("/publish/runs/{}", run.id)},
                           {"summary", run.summary},
                           {"error", run.error},
                           {"counts", Counts(run)}};
    }
    s_.console->Publish("publish-finished", std::move(event));
  }

  // Records a partner's step and tells the open pages (not "queued": every partner starts so,
  // and a run of thousands would flood the event stream).
  void OnProgress(Run& run, const sync::PublishProgress& step) {
    json::object event;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto [it, added] = run.index.try_emplace(step.partner, run.rows.size());
      if (added) {
        run.rows.push_back(Row{});
      } else {
        --run.counts[Category(run.rows[it->second].step)];
      }
      Row& row = run.rows[it->second];
      row.step = step;
      row.updated = s_.daemon->env().NowMicros();
      const std::string category = Category(step);
      ++run.counts[category];
      if (step.stage == "queued") return;
      ++run.seq;
      event = json::object{{"run", run.id},
                           {"seq", run.seq},
                           {"partner", step.partner},
                           {"stage", step.stage},
                           {"category", category},
                           {"done", step.done},
                           {"text", DescribePublishProgress(step)},
                           {"version", step.version == 0 ? "" : std::to_string(step.version)},
                           {"update", step.update_id},
                           {"time", s_.Time(row.updated)},
                           {"counts", Counts(run)}};
    }
    s_.console->Publish("publish-progress", std::move(event));
  }

  ConsoleState& s_;
  std::mutex mu_;
  std::deque<std::shared_ptr<Run>> runs_;  // oldest first; guarded by mu_
  int next_id_ = 1;                        // guarded by mu_
  std::thread thread_;                     // the current or last run; guarded by mu_
};

// Partner ids typed in a field: separated by spaces, commas or new lines.
std::vector<std::string> SplitIds(std::string_view text) {
  std::vector<std::string> ids;
  std::string current;
  for (char c : text) {
    if (c == ' ' || c == ',' || c == '\n' || c == '\r' || c == '\t' || c == ';') {
      if (!current.empty()) ids.push_back(std::move(current));
      current.clear();
    } else {
      current += c;
    }
  }
  if (!current.empty()) ids.push_back(std::move(current));
  return ids;
}

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string RunState(const Run& run) {
  if (run.running) {
    int done = 0;
    for (const Row& row : run.rows) done += row.step.done ? 1 : 0;
    return run.rows.empty() ? "running"
                            : fmt::format("running: {} of {} partners done", done, run.rows.size());
  }
  return run.error.empty() ? run.summary : "stopped: " + run.error;
}

// The form; after a refused POST, with `error` and what the manager chose kept.
ConsolePage PublishForm(ConsoleState& s, PublishRuns& runs, const ConsoleRequest& r,
                        const std::string& error = "") {
  const bool posted = r.http.method() == "POST";
  std::string query;
  if (posted) {
    query = std::string(commerce::Trim(r.form.Get("q")));
  } else if (auto q = commerce::ParseForm(r.http.query()); q.ok()) {
    query = std::string(commerce::Trim(q->Get("q")));
  }
  const std::string scope =
      posted ? std::string(r.form.Get("scope")) : (query.empty() ? "all" : "chosen");
  auto partnerships = s.daemon->sync().publisher().ListPartnerships();
  if (!partnerships.ok()) {
    return Problem(500, "Partnerships unavailable", partnerships.status().message());
  }
  std::map<std::string, int> regions;
  std::vector<const sync::Partnership*> active;
  for (const sync::Partnership& p : *partnerships) {
    if (p.revoked) continue;
    active.push_back(&p);
    ++regions[p.region];
  }
  // The checkboxes: every partner when there are few, else the search's matches.
  json::array matches;
  size_t matched = 0;
  const std::string needle = Lower(query);
  const bool list_all = query.empty() && active.size() <= kMatchesShown;
  if (list_all || !query.empty()) {
    for (const sync::Partnership* p : active) {
      if (!list_all && Lower(p->id).find(needle) == std::string::npos &&
          Lower(p->name).find(needle) == std::string::npos &&
          Lower(p->region).find(needle) == std::string::npos) {
        continue;
      }
      if (++matched > kMatchesShown) continue;
      matches.push_back(json::object{{"id", p->id},
                                     {"name", p->name},
                                     {"region", p->region.empty() ? "no region" : p->region},
                                     {"checked", posted && r.form.Get("pick:" + p->id) == "1"}});
    }
  }
  json::array region_list;
  for (const auto& [name, n] : regions) {
    region_list.push_back(
        json::object{{"value", name},
                     {"selected", posted && r.form.Get("region") == name},
                     {"label", fmt::format("{} ({} partner{})", name.empty() ? "no region" : name,
                                           n, n == 1 ? "" : "s")}});
  }
  json::array recent;
  json::object running;
  runs.ForEach([&](const Run& run) {
    json::object o{{"id", run.id},           {"started", s.Time(run.started)},
                   {"by", run.by},           {"scope", run.scope},
                   {"state", RunState(run)}, {"running", run.running}};
    if (run.running) running = o;
    recent.push_back(std::move(o));
  });
  ConsolePage page;
  page.status = error.empty() ? 200 : 400;
  page.title = "Publish";
  page.template_name = "publish";
  page.data = json::object{
      {"error", error},
      {"has_error", !error.empty()},
      {"typed", posted ? std::string(r.form.Get("partners")) : ""},
      {"scope_all", scope == "all"},
      {"scope_region", scope == "region"},
      {"scope_state", scope == "state"},
      {"state_failed", posted && r.form.Get("state") == "failed"},
      {"scope_chosen", scope == "chosen"},
      {"partner_count", active.size()},
      {"partner_count_words",
       fmt::format("{} partner{}", active.size(), active.size() == 1 ? "" : "s")},
      {"query", query},
      {"searched", !query.empty()},
      {"matches", std::move(matches)},
      {"has_matches", matched > 0},
      {"more_matches", matched > kMatchesShown ? matched - kMatchesShown : 0},
      {"has_more", matched > kMatchesShown},
      {"no_matches", !query.empty() && matched == 0},
      {"regions", std::move(region_list)},
      {"has_regions", regions.size() > 1},
      {"has_runs", !recent.empty()},
      {"runs", std::move(recent)},
  };
  if (!running.empty()) page.data["running"] = std::move(running);
  return page;
}

// POST /publish: what to publish to, checked against the partnerships, then the run.
ConsolePage StartPublish(ConsoleState& s, PublishRuns& runs, const ConsoleRequest& r) {
  const std::string_view scope = r.form.Get("scope");
  PublishRequest request;
  std::string described;
  if (scope == "all") {
    request.all = true;
    described = "every partner";
  } else if (scope == "state") {
    // By their state now: the last update failed, or what is live is not the latest built.
    const std::string_view state = r.form.Get("state");
    if (state != "failed" && state != "behind") {
      return PublishForm(s, runs, r, "Choose the partners' state: failed, or not up to date.");
    }
    auto report = s.daemon->sync().publisher().StatusReport();
    if (!report.ok()) return Problem(500, "Partner states unavailable", report.status().message());
    for (const sync::PartnerStatusReport& p : *report) {
      if (p.partnership.revoked) continue;
      const bool failed = p.last_update && p.last_update->state == "failed";
      const bool behind = p.latest_version == 0 || p.active_version < p.latest_version;
      if (state == "failed" ? failed : behind) request.partners.push_back(p.partnership.id);
    }
    const char* words = state == "failed" ? "whose last update failed" : "not up to date";
    if (request.partners.empty()) {
      return PublishForm(
          s, runs, r,
          std::string("No partner is ") + (state == "failed" ? "in that state" : words) + ".");
    }
    described = fmt::format("{} partner{} {}", request.partners.size(),
                            request.partners.size() == 1 ? "" : "s", words);
  } else if (scope == "region" || scope == "chosen") {
    auto partnerships = s.daemon->sync().publisher().ListPartnerships();
    if (!partnerships.ok()) {
      return Problem(500, "Partnerships unavailable", partnerships.status().message());
    }
    std::map<std::string, const sync::Partnership*, std::less<>> known;
    for (const sync::Partnership& p : *partnerships) known[p.id] = &p;
    if (scope == "region") {
      const std::string_view region = r.form.Get("region");
      for (const sync::Partnership& p : *partnerships) {
        if (!p.revoked && p.region == region) request.partners.push_back(p.id);
      }
      if (request.partners.empty()) {
        return PublishForm(
            s, runs, r,
            "No active partner is in region '" + std::string(region) + "'. Choose another region.");
      }
      described = fmt::format("region {} ({} partner{})", region.empty() ? "(none)" : region,
                              request.partners.size(), request.partners.size() == 1 ? "" : "s");
    } else {
      std::set<std::string> chosen;
      for (const auto& [name, value] : r.form.all()) {
        if (name.starts_with("pick:") && value == "1") chosen.insert(name.substr(5));
      }
      std::vector<std::string> typed = SplitIds(r.form.Get("partners"));
      if (typed.size() > kMaxTypedIds) {
        return PublishForm(
            s, runs, r,
            fmt::format("At most {} ids at once: publish to every partner instead.", kMaxTypedIds));
      }
      chosen.insert(typed.begin(), typed.end());
      std::vector<std::string> unknown, revoked;
      for (const std::string& id : chosen) {
        auto it = known.find(id);
        if (it == known.end()) {
          unknown.push_back(id);
        } else if (it->second->revoked) {
          revoked.push_back(id);
        } else {
          request.partners.push_back(id);
        }
      }
      auto some = [](const std::vector<std::string>& ids) {
        std::string text;
        for (size_t i = 0; i < ids.size() && i < 10; ++i) text += (i ? ", " : "") + ids[i];
        if (ids.size() > 10) text += fmt::format(" and {} more", ids.size() - 10);
        return text;
      };
      if (!unknown.empty() || !revoked.empty()) {
        std::string message;
        if (!unknown.empty()) message += "No partnership has the id " + some(unknown) + ". ";
        if (!revoked.empty()) message += "Revoked, they get nothing: " + some(revoked) + ". ";
        return PublishForm(s, runs, r, message + "Correct the list, then publish.");
      }
      if (request.partners.empty()) {
        return PublishForm(
            s, runs, r, "Tick partners or type their ids (or choose every partner), then publish.");
      }
      described = request.partners.size() <= 5
                      ? some(request.partners)
                      : fmt::format("{} chosen partners", request.partners.size());
    }
  } else {
    return PublishForm(s, runs, r,
                       "Choose every partner, a region or chosen partners, then publish.");
  }
  auto [id, started] = runs.Start(r.manager.email, described, std::move(request));
  const std::string path = fmt::format("/publish/runs/{}", id);
  if (!started) {
    (void)s.console->Audit(
        r, "publish.start",
        "to " + described + " refused: run " + std::to_string(id) + " is in progress");
    return Redirect(path, fmt::format("Another publish run is in progress (run {}): nothing was "
                                      "started. Publish again when it has finished.",
                                      id));
  }
  (void)s.console->Audit(r, "publish.start", fmt::format("run {} to {}", id, described));
  return Redirect(path, fmt::format("Publishing to {}.", described));
}

ConsolePage RunPage(ConsoleState& s, PublishRuns& runs, const ConsoleRequest& r) {
  const std::string_view rest = r.http.path().substr(std::string_view("/publish/runs/").size());
  const std::optional<int64_t> id = commerce::ParseDigits(rest, 9);
  if (!id) return Problem(404, "No such run", "Runs are numbered: open one from the Publish page.");
  size_t page_number = 1;
  if (auto q = commerce::ParseForm(r.http.query()); q.ok()) {
    if (auto n = commerce::ParseDigits(q->Get("page"), 6); n && *n > 0) {
      page_number = static_cast<size_t>(*n);
    }
  }
  return runs.With(static_cast<int>(*id), [&](const Run* run) -> ConsolePage {
    if (run == nullptr) {
      return Problem(404, "No such run",
                     fmt::format("The console keeps the last {} publish runs since main started; "
                                 "run {} is not one of them. Each partner's page has its "
                                 "timeline.",
                                 kKeptRuns, *id));
    }
    const size_t pages = std::max<size_t>(1, (run->rows.size() + kRowsPerPage - 1) / kRowsPerPage);
    page_number = std::min(page_number, pages);
    const size_t first = (page_number - 1) * kRowsPerPage;
    const size_t last = std::min(run->rows.size(), first + kRowsPerPage);
    json::array rows;
    for (size_t i = first; i < last; ++i) {
      const Row& row = run->rows[i];
      rows.push_back(
          json::object{{"partner", row.step.partner},
                       {"category", Category(row.step)},
                       {"text", DescribePublishProgress(row.step)},
                       {"version", row.step.version == 0 ? "" : std::to_string(row.step.version)},
                       {"update", row.step.update_id},
                       {"time", s.Time(row.updated)}});
    }
    json::array counts;
    auto count_values = Counts(*run);
    for (const auto& [key, label] : kCategories) {
      counts.push_back(json::object{{"key", key}, {"label", label}, {"n", count_values[key]}});
    }
    const std::string base = fmt::format("/publish/runs/{}", run->id);
    ConsolePage page;
    page.title = fmt::format("Publish run {}", run->id);
    page.template_name = "publish_run";
    page.data = json::object{
        {"id", run->id},
        {"seq", run->seq},
        {"by", run->by},
        {"scope", run->scope},
        {"started", s.Time(run->started)},
        {"finished", run->finished == 0 ? "" : s.Time(run->finished)},
        {"has_finished", run->finished != 0},
        {"running", run->running},
        {"phase", run->phase},
        {"main_line", run->main_line},
        {"has_main_line", !run->main_line.empty()},
        {"summary", run->running ? "" : run->summary},
        {"has_summary", !run->running},
        {"error", run->error},
        {"has_error", !run->error.empty()},
        {"total", run->rows.size()},
        {"counts", std::move(counts)},
        {"rows", std::move(rows)},
        {"has_rows", last > first},
        {"paged", pages > 1},
        {"range", fmt::format("Partners {}–{} of {}", first + 1, last, run->rows.size())},
        {"base", base},
    };
    if (page_number > 1) {
      page.data["previous"] = base + "?page=" + std::to_string(page_number - 1);
    }
    if (page_number < pages) page.data["next"] = base + "?page=" + std::to_string(page_number + 1);
    return page;
  });
}

}  // namespace

void AddPublishPages(ConsoleState& s) {
  auto runs = std::make_shared<PublishRuns>(s);
  s.console->AddPage("/publish", [&s, runs](const ConsoleRequest& r) {
    if (r.http.method() == "POST") return StartPublish(s, *runs, r);
    return PublishForm(s, *runs, r);
  });
  s.console->AddPage("/publish/runs/", [&s, runs](const ConsoleRequest& r) {
    if (r.http.method() == "POST") return Problem(405, "Nothing to post", "Reload the page.");
    return RunPage(s, *runs, r);
  });
  // A run still going when the daemon stops finishes first (the publisher is still there).
  s.daemon->AddServer([] { return Status::Ok(); }, [runs] { runs->Join(); });
}

}  // namespace tieup::main_console
