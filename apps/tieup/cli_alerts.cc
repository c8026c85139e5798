// `tieup main alerts DIR` and `tieup partner alerts DIR`: the security alerts (guard/alerts.h):
// at main, about main and every partner; at a partner, about its own site. `tieup main probes
// DIR`: how main's probes of the partners' public pages are going (main_site/page_probes.h).
#include "cli.h"
#include "guard/alerts.h"
#include "guard/page_probe.h"
#include "store/database.h"
#include "sync/schedule.h"

namespace tieup::cli {
namespace {

struct AlertsArgs {
  std::string dir;
  std::string site;
  std::string severity = "info";
  std::string since = "7d";
  size_t limit = 50;
};

Status ShowAlerts(Env& env, const AlertsArgs& a, SiteRole role) {
  ASSIGN_OR_RETURN(SiteConfig config, LoadSiteConfigFor(env, a.dir, role));
  guard::AlertQuery q;
  q.site = role == SiteRole::kPartner ? config.id : a.site;
  q.limit = a.limit;
  auto severity = guard::ParseAlertSeverity(a.severity);
  if (!severity.ok()) return severity.status().Annotate("--severity");
  q.min_severity = *severity;
  auto since = sync::ParseDuration(a.since);
  if (!since.ok()) return since.status().Annotate("--since (e.g. 1h, 7d)");
  q.since = env.NowSeconds() - *since;
  ASSIGN_OR_RETURN(std::unique_ptr<Database> db, OpenSiteDatabase(config, a.dir));
  ASSIGN_OR_RETURN(std::unique_ptr<guard::AlertStore> store, guard::AlertStore::Open(env, *db));
  ASSIGN_OR_RETURN(std::vector<guard::SecurityAlert> alerts, store->List(q));
  if (alerts.empty()) {
    std::printf("No security alerts%s%s of severity %s or above in the last %s.\n",
                q.site.empty() ? "" : " about ", q.site.c_str(), a.severity.c_str(),
                a.since.c_str());
    return Status::Ok();
  }
  std::printf("Security alerts%s%s, newest first (severity %s or above, last %s):\n",
              q.site.empty() ? "" : " about ", q.site.c_str(), a.severity.c_str(), a.since.c_str());
  for (const guard::SecurityAlert& alert : alerts) {
    std::printf("%s\n", guard::DescribeAlert(alert).c_str());
  }
  if (alerts.size() == a.limit) std::printf("(the newest %zu; --limit N shows more)\n", a.limit);
  return Status::Ok();
}

void AddAlerts(CLI::App& site, Context& ctx, SiteRole role) {
  auto a = std::make_shared<AlertsArgs>();
  CLI::App* c = site.add_subcommand(
      "alerts", role == SiteRole::kMain
                    ? "Security alerts about main and every partner: what the WAFs refused, "
                      "files found changed or damaged, sign-in surges (critical ones are also "
                      "mailed to security.alert_email or shop.manager_email)"
                    : "Security alerts about this site: what its WAF refused, files found "
                      "changed or damaged (main has each of them too)");
  c->add_option("DIR", a->dir, "The site's data directory")->required();
  if (role == SiteRole::kMain) {
    c->add_option("--site", a->site, "Only alerts about this site (main or a partner id)");
  }
  c->add_option("--severity", a->severity, "The least severity shown: info, warning, critical")
      ->capture_default_str();
  c->add_option("--since", a->since, "How far back (1h, 2d)")->capture_default_str();
  c->add_option("--limit", a->limit, "How many to show")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  c->callback(
      [&ctx, a, role] { ctx.action = [&ctx, a, role] { return ShowAlerts(*ctx.env, *a, role); }; });
}

Status ShowProbes(Env& env, const std::string& dir, const std::string& partner) {
  ASSIGN_OR_RETURN(std::unique_ptr<Database> db, OpenMainDb(env, dir));
  ASSIGN_OR_RETURN(std::unique_ptr<guard::ProbeRecord> record, guard::ProbeRecord::Open(env, *db));
  std::vector<guard::ProbeProgress> all;
  if (!partner.empty()) {
    ASSIGN_OR_RETURN(guard::ProbeProgress one, record->Get(partner));
    all.push_back(std::move(one));
  } else {
    ASSIGN_OR_RETURN(all, record->List());
  }
  if (all.empty()) {
    std::printf(
        "No partner's pages probed yet. Main probes the public pages of every partner whose "
        "partnership has the security service (`tieup main partner set %s ID --options "
        "security`) while `tieup main serve` runs, at site.toml [variables] "
        "security.probe_pages_per_hour pages per partner per hour (default 3600).\n",
        dir.c_str());
    return Status::Ok();
  }
  for (const guard::ProbeProgress& p : all) {
    std::printf("%s\n", guard::DescribeProbeProgress(p).c_str());
  }
  return Status::Ok();
}

void AddProbes(CLI::App& main, Context& ctx) {
  auto dir = std::make_shared<std::string>();
  auto partner = std::make_shared<std::string>();
  CLI::App* c = main.add_subcommand(
      "probes",
      "How main's probes of the partners' public pages are going: pages fetched and compared "
      "with what main signed, complete passes, the last problem (each also a security alert)");
  c->add_option("DIR", *dir, "The main site's data directory")->required();
  c->add_option("--partner", *partner, "Only this partner");
  c->callback([&ctx, dir, partner] {
    ctx.action = [&ctx, dir, partner] { return ShowProbes(*ctx.env, *dir, *partner); };
  });
}

}  // namespace

void AddAlertsCommands(CLI::App& app, Context& ctx) {
  AddProbes(*app.get_subcommand("main"), ctx);
  AddAlerts(*app.get_subcommand("main"), ctx, SiteRole::kMain);
  AddAlerts(*app.get_subcommand("partner"), ctx, SiteRole::kPartner);
}

}  // namespace tieup::cli
