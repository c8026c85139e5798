// `tieup main ledger ...`, `tieup main fees statement`, `tieup partner ledger ...` and
// `tieup partner fees verify`: shipping and checking partners' access ledgers, and the fee
// statements computed from them.
#include <cstdio>

#include "base/encoding.h"
#include "base/money_format.h"
#include "cli.h"
#include "main_site/ledger_service.h"
#include "main_site/main_sync.h"
#include "partner_site/ledger_service.h"
#include "store/database.h"

namespace tieup::cli {
namespace {

struct MainLedgerSession {
  SiteConfig config;
  std::unique_ptr<Database> db;
  std::unique_ptr<LedgerCollector> collector;
};

Result<MainLedgerSession> OpenMainLedger(Env& env, const std::string& dir) {
  MainLedgerSession s;
  ASSIGN_OR_RETURN(s.config, LoadSiteConfigFor(env, dir, SiteRole::kMain));
  ASSIGN_OR_RETURN(s.db, OpenSqlite(SitePaths(dir).database()));
  ASSIGN_OR_RETURN(s.collector, LedgerCollector::Open(env, dir, *s.db, NewNullLogger()));
  return s;
}

std::string Money(int64_t minor, const std::string& currency) {
  return FormatMoney(minor, currency);
}

void PrintAlert(const LedgerAlert& a) {
  std::printf("  #%lld %s %s %s: %s%s\n", static_cast<long long>(a.id),
              FormatRfc3339(a.time).c_str(), a.partner.c_str(), a.kind.c_str(), a.message.c_str(),
              a.begin < a.end ? (" [entries " + std::to_string(a.begin) + ".." +
                                 std::to_string(a.end) + " excluded from fees]")
                                    .c_str()
                              : "");
}

Status MainPull(Env& env, const std::string& dir, const std::string& partner) {
  ASSIGN_OR_RETURN(MainLedgerSession s, OpenMainLedger(env, dir));
  ASSIGN_OR_RETURN(auto sync, MainSync::Open(env, dir, s.config, *s.db, NewNullLogger()));
  ASSIGN_OR_RETURN(sync::Partnership p, sync->publisher().GetPartnership(partner));
  ASSIGN_OR_RETURN(sync::HttpRoundTrip rt, PartnerRoundTrip(env, dir, p.sync_url, partner));
  ASSIGN_OR_RETURN(LedgerPullSummary sum, s.collector->Pull(partner, rt));
  std::printf(
      "Pulled %llu entries from '%s' in %llu batch(es): main holds %llu verified entries; "
      "last accepted checkpoint size %llu root %s\n",
      static_cast<unsigned long long>(sum.entries_received), partner.c_str(),
      static_cast<unsigned long long>(sum.batches),
      static_cast<unsigned long long>(sum.state.entries),
      static_cast<unsigned long long>(sum.state.accepted_size),
      sum.state.accepted_root_hex.c_str());
  if (!sum.alerts.empty()) {
    std::printf("ALERTS (recorded here and sent to the partner):\n");
    for (const LedgerAlert& a : sum.alerts) PrintAlert(a);
    return Status::DataLoss("the ledger of '" + partner + "' did not check out (see the alerts)");
  }
  return Status::Ok();
}

Status MainVerify(Env& env, const std::string& dir, const std::string& partner) {
  ASSIGN_OR_RETURN(MainLedgerSession s, OpenMainLedger(env, dir));
  ASSIGN_OR_RETURN(LedgerReport r, s.collector->Verify(partner));
  std::printf("%s", r.text.c_str());
  if (!r.ok) return Status::DataLoss("the ledger of '" + partner + "' is not OK (see above)");
  return Status::Ok();
}

Status MainAlerts(Env& env, const std::string& dir, const std::string& partner, bool all) {
  ASSIGN_OR_RETURN(MainLedgerSession s, OpenMainLedger(env, dir));
  ASSIGN_OR_RETURN(auto alerts, s.collector->Alerts(partner, all));
  if (alerts.empty()) std::printf("No %sledger alerts.\n", all ? "" : "open ");
  for (const LedgerAlert& a : alerts) {
    PrintAlert(a);
    if (a.resolved) std::printf("    (resolved)\n");
  }
  return Status::Ok();
}

Status MainResolve(Env& env, const std::string& dir, int64_t id, const std::string& note) {
  ASSIGN_OR_RETURN(MainLedgerSession s, OpenMainLedger(env, dir));
  RETURN_IF_ERROR(s.collector->ResolveAlert(id, note));
  std::printf("Alert #%lld resolved: its range counts for fees again.\n",
              static_cast<long long>(id));
  return Status::Ok();
}

Status MainStatement(Env& env, const std::string& dir, const std::string& partner,
                     const std::string& period, std::string contract) {
  ASSIGN_OR_RETURN(MainLedgerSession s, OpenMainLedger(env, dir));
  if (contract.empty()) contract = dir + "/contracts/" + partner + ".toml";
  ASSIGN_OR_RETURN(StatementFiles f, s.collector->WriteStatement(partner, period, contract));
  std::printf(
      "Statement for '%s', %s, from ledger checkpoint %llu (root %s)%s:\n  %s\n  %s\n"
      "Total: %s\n",
      partner.c_str(), period.c_str(), static_cast<unsigned long long>(f.checkpoint_size),
      f.checkpoint_root_hex.c_str(),
      f.excluded_entries > 0
          ? (", " + std::to_string(f.excluded_entries) + " entries excluded by alerts").c_str()
          : "",
      f.csv_path.c_str(), f.html_path.c_str(), Money(f.total_minor, f.currency).c_str());
  return Status::Ok();
}

Status PartnerPush(Env& env, const std::string& dir) {
  ASSIGN_OR_RETURN(LedgerPushSummary sum, PushLedgerNow(env, dir));
  std::printf(
      "Pushed %llu entries in %llu batch(es) with checkpoint %llu (root %s); main holds "
      "%llu verified entries%s\n",
      static_cast<unsigned long long>(sum.entries_sent),
      static_cast<unsigned long long>(sum.batches),
      static_cast<unsigned long long>(sum.checkpoint_size), sum.checkpoint_root_hex.c_str(),
      static_cast<unsigned long long>(sum.main_entries), sum.caught_up ? " (up to date)" : "");
  if (!sum.alerts.empty()) {
    std::printf("ALERTS from main:\n");
    for (const PartnerLedgerAlert& a : sum.alerts) {
      std::printf("  %s: %s\n", a.kind.c_str(), a.message.c_str());
    }
    return Status::DataLoss("main refused the ledger (see the alerts)");
  }
  return Status::Ok();
}

Status PartnerVerify(Env& env, const std::string& dir) {
  ASSIGN_OR_RETURN(OwnLedgerReport r, VerifyOwnLedger(env, dir));
  std::printf("%s", r.text.c_str());
  if (!r.ok) return Status::DataLoss("the ledger in '" + dir + "' is not OK (see above)");
  return Status::Ok();
}

Status PartnerFeesVerify(Env& env, const std::string& dir, const std::string& statement,
                         std::string contract) {
  ASSIGN_OR_RETURN(SiteConfig c, LoadSiteConfig(env, dir));
  if (contract.empty()) contract = dir + "/contracts/" + c.id + ".toml";
  ASSIGN_OR_RETURN(std::string csv, env.ReadFile(statement));
  ASSIGN_OR_RETURN(fees::VerificationReport r,
                   VerifyStatementWithOwnLedger(env, dir, csv, contract));
  std::printf("%s\n", r.ToText().c_str());
  if (!r.agrees) {
    return Status::DataLoss("the statement " + statement + " does not agree with this ledger");
  }
  return Status::Ok();
}

}  // namespace

void AddLedgerCommands(CLI::App& app, Context& ctx) {
  CLI::App* main = app.get_subcommand("main");
  CLI::App* partner = app.get_subcommand("partner");

  struct Args {
    std::string dir, partner, period, contract, statement, note;
    int64_t alert = 0;
    bool all = false;
  };
  auto a = std::make_shared<Args>();

  CLI::App* ml = main->add_subcommand("ledger", "Partners' access ledgers: pull, verify, alerts");
  ml->require_subcommand(1);
  CLI::App* pull = ml->add_subcommand(
      "pull", "Fetch a partner's new ledger entries over the sync channel and verify them");
  pull->add_option("DIR", a->dir, "The main site's data directory")->required();
  pull->add_option("--partner", a->partner, "The partner id")->required();
  pull->callback(
      [&ctx, a] { ctx.action = [&ctx, a] { return MainPull(*ctx.env, a->dir, a->partner); }; });
  CLI::App* mv = ml->add_subcommand(
      "verify", "Check every stored entry and checkpoint of a partner's ledger, and its alerts");
  mv->add_option("DIR", a->dir, "The main site's data directory")->required();
  mv->add_option("--partner", a->partner, "The partner id")->required();
  mv->callback(
      [&ctx, a] { ctx.action = [&ctx, a] { return MainVerify(*ctx.env, a->dir, a->partner); }; });
  CLI::App* al = ml->add_subcommand("alerts", "List ledger alerts (tampering detected)");
  al->add_option("DIR", a->dir, "The main site's data directory")->required();
  al->add_option("--partner", a->partner, "Only this partner");
  al->add_flag("--all", a->all, "Include resolved alerts");
  al->callback([&ctx, a] {
    ctx.action = [&ctx, a] { return MainAlerts(*ctx.env, a->dir, a->partner, a->all); };
  });
  CLI::App* rs =
      ml->add_subcommand("resolve", "Mark an alert resolved: its range counts for fees again");
  rs->add_option("DIR", a->dir, "The main site's data directory")->required();
  rs->add_option("--alert", a->alert, "The alert number")->required();
  rs->add_option("--note", a->note, "How it was resolved")->required();
  rs->callback([&ctx, a] {
    ctx.action = [&ctx, a] { return MainResolve(*ctx.env, a->dir, a->alert, a->note); };
  });

  CLI::App* mf = main->add_subcommand("fees", "Partnership fees");
  mf->require_subcommand(1);
  CLI::App* st = mf->add_subcommand(
      "statement",
      "Write a partner's fee statement for a period (CSV and HTML) from its verified "
      "ledger");
  st->add_option("DIR", a->dir, "The main site's data directory")->required();
  st->add_option("--partner", a->partner, "The partner id")->required();
  st->add_option("--period", a->period, "YYYY-MM, or YYYY-MM-DD..YYYY-MM-DD (end exclusive)")
      ->required();
  st->add_option("--contract", a->contract,
                 "The contract TOML (default DIR/contracts/PARTNER.toml; see "
                 "docs/fee-contract-example.toml)");
  st->callback([&ctx, a] {
    ctx.action = [&ctx, a] {
      return MainStatement(*ctx.env, a->dir, a->partner, a->period, a->contract);
    };
  });

  CLI::App* pl = partner->add_subcommand("ledger", "This site's access ledger: push, verify");
  pl->require_subcommand(1);
  CLI::App* push = pl->add_subcommand("push", "Send new ledger entries to main now");
  push->add_option("DIR", a->dir, "The partner site's data directory")->required();
  push->callback([&ctx, a] { ctx.action = [&ctx, a] { return PartnerPush(*ctx.env, a->dir); }; });
  CLI::App* pv =
      pl->add_subcommand("verify", "Check every stored entry and checkpoint of this site's ledger");
  pv->add_option("DIR", a->dir, "The partner site's data directory")->required();
  pv->callback([&ctx, a] { ctx.action = [&ctx, a] { return PartnerVerify(*ctx.env, a->dir); }; });

  CLI::App* pf = partner->add_subcommand("fees", "Partnership fees");
  pf->require_subcommand(1);
  CLI::App* fv = pf->add_subcommand(
      "verify", "Recompute a statement from main with this site's own ledger and compare");
  fv->add_option("DIR", a->dir, "The partner site's data directory")->required();
  fv->add_option("STATEMENT", a->statement, "The statement CSV from main")->required();
  fv->add_option("--contract", a->contract,
                 "The contract TOML (default DIR/contracts/SITE_ID.toml)");
  fv->callback([&ctx, a] {
    ctx.action = [&ctx, a] {
      return PartnerFeesVerify(*ctx.env, a->dir, a->statement, a->contract);
    };
  });
}

}  // namespace tieup::cli
