// The main console's partners page (/) with many partnerships: a real main site (site folder,
// SQLite store, MainDaemon with its console on a loopback port), N partnerships written into the
// publisher's own tables with a history (releases, attempts, events), a manager signed in over
// HTTP, then each view fetched K times over one kept-alive loopback connection. Prints, per view,
// the time to the whole answer (p50, p99: the server's time plus a loopback round trip), its size,
// and the database query alone (sync::QueryPartnerOverview) beside it. Usage:
//   main_console_bench [--partners N] [--requests K] [--dir PARENT]
// Defaults: 10000 partnerships, 200 requests per view, $TMPDIR or /tmp.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "base/env.h"
#include "base/log.h"
#include "console/manager_store.h"
#include "main_site/main_daemon.h"
#include "main_site/main_sync.h"
#include "main_site/own_site.h"
#include "net/http_client.h"
#include "site/config.h"
#include "site/public_site.h"
#include "store/database.h"
#include "sync/partner_overview.h"

namespace tieup {
namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void Die(const std::string& what, const Status& s) {
  std::fprintf(stderr, "main_console_bench: %s: %s\n", what.c_str(), s.ToString().c_str());
  std::exit(1);
}

template <typename T>
T Must(Result<T> r, const std::string& what) {
  if (!r.ok()) Die(what, r.status());
  return std::move(*r);
}

void Must(const Status& s, const std::string& what) {
  if (!s.ok()) Die(what, s);
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  if (v.empty()) return 0;
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  return v[i];
}

// `n` partnerships with a history, in the publisher's tables (one transaction): each has up to
// 10 releases, 5 attempts and 10 events; by i % 5 it is up to date, waiting for its manager,
// rejected, failed or behind; every 1000th is revoked.
// Every scheduled run and retry is in the future (`now` + a day or more): nothing is due while the
// bench runs, and a sync URL on 127.0.0.1 port 9 fails at once if anything were.
void InsertPartnerships(Database& db, int n, int64_t now) {
  static const char* kRegions[] = {"Osaka", "Kyoto", "Tokyo", "Sapporo", "Fukuoka", "Sendai"};
  static const char* kFinal[] = {"activated", "pending_approval", "rejected", "failed",
                                 "activated"};
  static const char* kReasons[] = {"", "", "partner manager rejected version 9: wrong prices",
                                   "cannot connect to https://p.example:8443: refused", ""};
  Must(db.Transaction([&](Database& t) -> Status {
    for (int i = 0; i < n; ++i) {
      char num[16];
      std::snprintf(num, sizeof num, "%05d", i);
      const std::string id = std::string("shop-") + num;
      const int state = i % 5;
      const int latest = state == 4 ? 10 : 9;
      const int64_t active = state == 0 || state == 4 ? 9 : 8;
      const int64_t t0 = now - 30 * 86400 + i;
      RETURN_IF_ERROR(t.Exec(
          "INSERT INTO sync_partnerships(id, name, region, public_url, sync_url, kind, "
          "approval, schedule, retry, variables, overrides_dir, revoked, created, "
          "active_version, failures, next_retry, next_scheduled, last_update) "
          "VALUES(?,?,?,?,?,?,?,?,'backoff:30s..1h','{\"shop.phone\":\"06-1234\"}','',?,?,?,?,"
          "?,?,?)",
          {id, std::string("Tea House ") + num, std::string(kRegions[i % 6]),
           "https://" + id + ".example", std::string("https://127.0.0.1:9"),
           std::string(i % 7 == 0 ? "template" : "contents"),
           std::string(i % 2 ? "manager" : "auto"), std::string(i % 3 ? "0 3 * * *" : "every 6h"),
           int64_t{i % 1000 == 999 ? 1 : 0}, t0, active, int64_t{state == 3 ? 2 : 0},
           int64_t{state == 3 ? now + 86400 : 0}, now + 30 * 86400 + i, int64_t{0}}));
      for (int v = latest - 9; v <= latest; ++v) {
        RETURN_IF_ERROR(t.Exec(
            "INSERT INTO sync_releases(partner, version, payload, envelope, created, expires) "
            "VALUES(?,?,'','',?,?)",
            {id, int64_t{v}, t0 + v, t0 + v + 7 * 86400}));
      }
      int64_t last = 0;
      for (int u = 0; u < 5; ++u) {
        const bool final = u == 4;
        RETURN_IF_ERROR(t.Exec(
            "INSERT INTO sync_updates(partner, version, mode, state, reason, offered, "
            "finished, fetched_blobs, fetched_bytes) VALUES(?,?,'push',?,?,?,?,3,4096)",
            {id, int64_t{final ? 9 : 5 + u}, std::string(final ? kFinal[state] : "activated"),
             std::string(final ? kReasons[state] : ""), t0 + 100 * u,
             int64_t{final && state == 1 ? 0 : t0 + 100 * u + 5}}));
        last = t.LastInsertId();
      }
      RETURN_IF_ERROR(
          t.Exec("UPDATE sync_partnerships SET last_update = ? WHERE id = ?", {last, id}));
      static const char* kKinds[] = {"offered", "staged", "activated", "offered", "failed"};
      for (int e = 0; e < 10; ++e) {
        RETURN_IF_ERROR(
            t.Exec("INSERT INTO sync_events(time, partner, update_id, version, kind, message) "
                   "VALUES(?,?,?,?,?,?)",
                   {t0 + 50 * e, id, "u" + std::to_string(last), int64_t{5 + e / 2},
                    std::string(kKinds[e % 5]), std::string("event ") + std::to_string(e)}));
      }
    }
    return Status::Ok();
  }),
       "inserting partnerships");
}

struct View {
  const char* label;
  std::string target;
  sync::PartnerOverviewQuery query;
};

}  // namespace
}  // namespace tieup

int main(int argc, char** argv) {
  using namespace tieup;
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  int partners = 10'000;
  int requests = 200;
  bool keep = false;  // --keep yes: leave the site folder (to look at its store)
  std::string parent = std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--partners") == 0) partners = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--requests") == 0) requests = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--dir") == 0) parent = argv[i + 1];
    if (std::strcmp(argv[i], "--keep") == 0) keep = std::strcmp(argv[i + 1], "yes") == 0;
  }
  auto env_owned = NewPosixEnv();
  Env& env = *env_owned;
  std::string dir = parent + "/tieup-main-console-bench-XXXXXX";
  if (::mkdtemp(dir.data()) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  const std::string site_dir = dir + "/main";

  SiteConfig c;
  c.role = SiteRole::kMain;
  c.id = "main";
  c.name = "Bench Tea";
  c.public_address = {"127.0.0.1", 0};
  c.sync_address = {"127.0.0.1", 0};
  c.console_address = {"127.0.0.1", 0};
  c.time_zone = "Asia/Tokyo";
  Must(CreateSiteDir(env, site_dir, c), "creating the site");
  Must(InitMainTrust(env, site_dir, c.name), "main's keys");
  const std::string authoring = AuthoringDir(c, site_dir);
  Must(CreateDirs(env, authoring + "/layouts"), "authoring dir");
  Must(CreateDirs(env, authoring + "/pages"), "authoring dir");
  Must(WriteFileAtomic(env, authoring + "/layouts/default.mustache",
                       "<html><body>{{{content}}}</body></html>"),
       "layout");
  Must(WriteFileAtomic(env, authoring + "/pages/index.md", "# Welcome\n"), "page");
  const std::string email = "bench@main.example", password = "bench-password-1";
  {
    auto db = Must(OpenSqlite(SitePaths(site_dir).database()), "opening the store");
    auto managers = Must(console::ManagerStore::Open(env, *db), "managers");
    auto token = Must(managers->Add(email, "Bench"), "adding a manager");
    Must(managers->SetPassword(token, password).status(), "setting the password");
  }
  auto daemon = Must(MainDaemon::Open(env, site_dir, NewNullLogger()), "opening main");
  auto t_insert = Clock::now();
  InsertPartnerships(daemon->db(), partners, env.NowSeconds());
  std::printf("%d partnerships written in %.1f s (site %s)\n", partners,
              std::chrono::duration<double>(Clock::now() - t_insert).count(), site_dir.c_str());
  Must(daemon->Start(), "starting main");
  std::string url = Must(env.ReadFile(site_dir + "/run/console.addr"), "console address");
  // "http://127.0.0.1:PORT/\n"
  const size_t colon = url.rfind(':');
  const uint16_t port = static_cast<uint16_t>(std::atoi(url.c_str() + colon + 1));

  HttpClient client("127.0.0.1", port);
  HttpRequest sign_in("POST", "/sign-in");
  sign_in.AddHeader("Content-Type", "application/x-www-form-urlencoded");
  sign_in.SetBody("email=bench%40main.example&password=" + std::string(password) + "&next=%2F");
  HttpResponse signed_in = Must(client.Fetch(sign_in), "signing in");
  std::string cookie(signed_in.FindHeader("Set-Cookie").value_or(""));
  cookie = cookie.substr(0, cookie.find(';'));
  if (signed_in.status() != 303 || cookie.empty()) {
    std::fprintf(stderr, "main_console_bench: sign-in answered %d\n", signed_in.status());
    return 1;
  }

  std::vector<View> views;
  views.push_back({"first page (/)", "/", {}});
  {
    sync::PartnerOverviewQuery q;
    q.search = "kyoto";
    q.state = sync::PartnerStateCategory::kWaiting;
    views.push_back(
        {"search + state filter (/?q=kyoto&state=waiting)", "/?q=kyoto&state=waiting", q});
  }
  {
    sync::PartnerOverviewQuery q;
    q.sort = sync::PartnerSortColumn::kState;
    q.descending = true;
    q.page = 120;
    views.push_back({"sorted by state, page 120 (/?sort=state&dir=desc&page=120)",
                     "/?sort=state&dir=desc&page=120", q});
  }
  {
    sync::PartnerOverviewQuery q;
    q.search = "House 0042";
    views.push_back({"search by name (/?q=House+0042)", "/?q=House+0042", q});
  }
  {
    sync::PartnerOverviewQuery q;
    q.sort = sync::PartnerSortColumn::kLastContact;
    q.descending = true;
    views.push_back(
        {"sorted by last contact (/?sort=contact&dir=desc)", "/?sort=contact&dir=desc", q});
  }

  std::printf("\n%d partnerships, %d requests per view, one kept-alive loopback connection\n\n",
              partners, requests);
  std::printf("| %-58s | %9s | %9s | %9s | %10s |\n", "view", "p50 ms", "p99 ms", "query ms",
              "bytes");
  std::printf("|%s|%s|%s|%s|%s|\n", std::string(60, '-').c_str(), std::string(11, '-').c_str(),
              std::string(11, '-').c_str(), std::string(11, '-').c_str(),
              std::string(12, '-').c_str());
  double first_ms = 0;  // the first page right after start: the derived table is built whole
  for (const View& v : views) {
    std::vector<double> times, query_times;
    size_t bytes = 0;
    for (int i = 0; i < requests + 3; ++i) {  // 3 warm-up requests
      HttpRequest get("GET", v.target);
      get.AddHeader("Cookie", cookie);
      const auto t = Clock::now();
      HttpResponse r = Must(client.Fetch(get), std::string("GET ") + v.target);
      const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t).count();
      if (r.status() != 200) {
        std::fprintf(stderr, "main_console_bench: GET %s answered %d\n", v.target.c_str(),
                     r.status());
        return 1;
      }
      bytes = r.body().size();
      if (i >= 3) times.push_back(ms);
      if (i == 0 && &v == &views.front()) first_ms = ms;
    }
    for (int i = 0; i < std::max(10, requests / 4); ++i) {
      const auto t = Clock::now();
      Must(sync::QueryPartnerOverview(daemon->db(), v.query).status(), "query");
      query_times.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t).count());
    }
    std::printf("| %-58s | %9.1f | %9.1f | %9.1f | %10zu |\n", v.label, Percentile(times, 0.5),
                Percentile(times, 0.99), Percentile(query_times, 0.5), bytes);
  }
  std::printf("\nThe first request after start (derives every partnership's state): %.1f ms\n",
              first_ms);
  daemon->Stop();
  daemon.reset();
  if (keep) return 0;
  std::string rm = "rm -rf '" + dir + "'";
  if (std::system(rm.c_str()) != 0) std::fprintf(stderr, "could not remove %s\n", dir.c_str());
  return 0;
}
