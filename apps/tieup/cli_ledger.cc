// `tieup main ledger ...`, `tieup main fees statement`, `tieup partner ledger ...`,
// `tieup partner fees statements` and `tieup partner fees verify`: shipping and checking
// partners' access ledgers, and the fee statements computed from them (delivered to the partner
// over the sync channel).
#include <fmt/format.h>

#include <cstdio>

#include "base/encoding.h"
#include "base/money_format.h"
#include "cli.h"
#include "fees/inputs.h"
#include "main_site/ledger_service.h"
#include "main_site/main_sync.h"
#include "partner_site/ledger_service.h"
#include "store/database.h"
#include "sync/partner_overview.h"

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
  ASSIGN_OR_RETURN(s.db, OpenSiteDatabase(s.config, dir));
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
                     const std::string& period, const std::string& contract) {
  ASSIGN_OR_RETURN(MainLedgerSession s, OpenMainLedger(env, dir));
  ASSIGN_OR_RETURN(StatementFiles f, s.collector->WriteStatement(partner, period, contract));
  std::printf(
      "Statement for '%s', %s, from ledger checkpoint %llu (root %s)%s:\n  %s\n  %s\n"
      "  %s (the contract it was computed with)\nTotal: %s\n",
      partner.c_str(), period.c_str(), static_cast<unsigned long long>(f.checkpoint_size),
      f.checkpoint_root_hex.c_str(),
      f.excluded_entries > 0
          ? (", " + std::to_string(f.excluded_entries) + " entries excluded by alerts").c_str()
          : "",
      f.csv_path.c_str(), f.html_path.c_str(), f.contract_path.c_str(),
      Money(f.total_minor, f.currency).c_str());
  std::printf(
      "The partner receives it with its contract over the sync channel (within a minute while "
      "it serves; at once with 'tieup partner fees statements PARTNER_DIR --fetch').\n");
  return Status::Ok();
}

// `tieup main fees statement DIR --all`: every partnership's statement for `period`, counted on
// a progress meter; one result line per partner on standard output once the run is done.
Status MainStatementsForAll(Env& env, const std::string& dir, const std::string& period) {
  ASSIGN_OR_RETURN(MainLedgerSession s, OpenMainLedger(env, dir));
  RETURN_IF_ERROR(fees::ParsePeriod(period).status());
  sync::PartnerOverviewQuery query;
  query.page_size = 0;  // every partnership
  query.now = env.NowSeconds();
  ASSIGN_OR_RETURN(sync::PartnerOverviewPage all, sync::QueryPartnerOverview(*s.db, query));
  std::vector<std::string> partners;
  for (const sync::PartnerOverviewRow& row : all.rows) {
    if (!row.report.partnership.revoked) partners.push_back(row.report.partnership.id);
  }
  if (partners.empty()) {
    std::printf("No partnerships: add one with 'tieup main partner add %s --id ID'.\n",
                dir.c_str());
    return Status::Ok();
  }
  ProgressMeter meter(env, StderrMeterOptions("partners"));
  meter.SetTotal(partners.size());
  std::vector<std::string> results;
  size_t written = 0, skipped = 0, failed = 0;
  for (const std::string& partner : partners) {
    const std::string contract = s.collector->ContractPath(partner);
    std::string result;
    bool this_failed = false;
    if (!env.FileExists(contract)) {
      ++skipped;
      result = fmt::format("{:<14} not written: no contract ({})", partner, contract);
    } else if (auto f = s.collector->WriteStatement(partner, period, ""); f.ok()) {
      ++written;
      result = fmt::format("{:<14} {:>14}  {}", partner, Money(f->total_minor, f->currency),
                           f->csv_path);
    } else if (f.status().code() == StatusCode::kFailedPrecondition) {
      ++skipped;
      result = fmt::format("{:<14} not written: {}", partner, f.status().message());
    } else {
      ++failed;
      this_failed = true;
      result = fmt::format("{:<14} FAILED: {}", partner, f.status().message());
      meter.Note(result);
    }
    results.push_back(std::move(result));
    meter.AddDone(1, this_failed ? 1 : 0);
  }
  meter.Finish();
  for (const std::string& line : results) std::printf("%s\n", line.c_str());
  std::printf("Statements for %s: %zu written, %zu not written, %zu failed.\n", period.c_str(),
              written, skipped, failed);
  if (written > 0) {
    std::printf(
        "Each partner receives its statement with its contract over the sync channel (within a "
        "minute while it serves).\n");
  }
  if (failed > 0) {
    return Status::Unavailable(std::to_string(failed) +
                               " statement(s) could not be written (see above)");
  }
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

Status PartnerFeesStatements(Env& env, const std::string& dir, bool fetch) {
  ASSIGN_OR_RETURN(SiteConfig c, LoadSiteConfigFor(env, dir, SiteRole::kPartner));
  StatementFetchSummary fetched;
  if (fetch) {
    ASSIGN_OR_RETURN(fetched, FetchStatementsNow(env, dir, *NewNullLogger()));
    std::printf("Asked main: %zu statement(s) for '%s'; %zu received now, %zu held already.\n",
                fetched.offered, c.id.c_str(), fetched.received, fetched.held);
    for (const std::string& why : fetched.refused) std::printf("  REFUSED: %s\n", why.c_str());
  }
  ASSIGN_OR_RETURN(std::vector<ReceivedStatement> list, ListReceivedStatements(env, dir));
  if (list.empty()) {
    std::printf("No fee statement received from main yet.\n");
  } else {
    std::printf("Fee statements received from main, the latest first:\n");
    for (const ReceivedStatement& r : list) {
      std::printf("  %-28s period %-10s total %s  received %s%s\n", r.id.c_str(), r.period.c_str(),
                  Money(r.total_minor, r.currency).c_str(), FormatRfc3339(r.received).c_str(),
                  r.changed ? "  CHANGED on this disk since it was received" : "");
    }
    std::printf("Check one against your own ledger: tieup partner fees verify %s %s\n", dir.c_str(),
                list.front().period.c_str());
  }
  if (!fetched.refused.empty()) {
    return Status::DataLoss(std::to_string(fetched.refused.size()) +
                            " statement(s) from main refused (see above); nothing of them was "
                            "stored");
  }
  return Status::Ok();
}

// The received statement STATEMENT names (its id, or a period: the latest received for it).
Result<ReceivedStatement> ReceivedNamed(Env& env, const std::string& dir,
                                        const std::string& statement) {
  ASSIGN_OR_RETURN(std::vector<ReceivedStatement> list, ListReceivedStatements(env, dir));
  for (const ReceivedStatement& r : list) {
    if (r.id == statement || r.period == statement) return r;
  }
  return Status::NotFound("'" + statement +
                          "' is neither a file nor a statement received from main (see 'tieup "
                          "partner fees statements " +
                          dir + " --fetch')");
}

Status PartnerFeesVerify(Env& env, const std::string& dir, const std::string& statement,
                         std::string contract) {
  ASSIGN_OR_RETURN(SiteConfig c, LoadSiteConfig(env, dir));
  if (!env.FileExists(statement) && contract.empty()) {
    // A statement main delivered: verified with the contract delivered with it.
    ASSIGN_OR_RETURN(ReceivedStatement r, ReceivedNamed(env, dir, statement));
    ASSIGN_OR_RETURN(fees::VerificationReport report, VerifyReceivedStatement(env, dir, r.id));
    std::printf("%s\n", report.ToText().c_str());
    if (!report.agrees) {
      return Status::DataLoss("the statement " + r.id + " does not agree with this ledger");
    }
    return Status::Ok();
  }
  std::string path = statement;
  if (!env.FileExists(path)) {
    ASSIGN_OR_RETURN(ReceivedStatement r, ReceivedNamed(env, dir, statement));
    path = r.csv_path;
  }
  if (contract.empty()) contract = dir + "/contracts/" + c.id + ".toml";
  ASSIGN_OR_RETURN(std::string csv, env.ReadFile(path));
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
    bool fetch = false;
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
      "ledger, or every partner's with --all");
  st->add_option("DIR", a->dir, "The main site's data directory")->required();
  CLI::Option* one_partner = st->add_option("--partner", a->partner, "The partner id");
  st->add_flag("--all", a->all,
               "Every partnership (not revoked), with a progress bar; a partner without a "
               "contract is listed as not written")
      ->excludes(one_partner);
  st->add_option("--period", a->period, "YYYY-MM, or YYYY-MM-DD..YYYY-MM-DD (end exclusive)")
      ->required();
  st->add_option("--contract", a->contract,
                 "The contract TOML (default DIR/contracts/PARTNER.toml; see "
                 "docs/fee-contract-example.toml)");
  st->callback([&ctx, a] {
    ctx.action = [&ctx, a]() -> Status {
      if (a->all) {
        if (!a->contract.empty()) {
          return Status::InvalidArgument(
              "--contract names one partner's contract: with --all each partner's own is used "
              "(DIR/contracts/PARTNER.toml)");
        }
        return MainStatementsForAll(*ctx.env, a->dir, a->period);
      }
      if (a->partner.empty()) {
        return Status::InvalidArgument("name a partner with --partner ID, or add --all");
      }
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

  CLI::App* pf = partner->add_subcommand("fees", "Partnership fees: statements from main");
  pf->require_subcommand(1);
  CLI::App* fs = pf->add_subcommand(
      "statements", "List the fee statements main sent this site (--fetch: ask main first)");
  fs->add_option("DIR", a->dir, "The partner site's data directory")->required();
  fs->add_flag("--fetch", a->fetch,
               "Ask main now for statements this site does not hold yet (over the sync channel)");
  fs->footer(
      "Main's manager writes a statement with 'tieup main fees statement MAIN_DIR --partner ID "
      "--period 2026-11'.\nThis site fetches it, with the contract it was computed with, over "
      "the authenticated sync channel:\nby itself every minute while 'tieup partner serve' "
      "runs, or at once with --fetch. Main sends only\nthis site's own statements; one that "
      "arrives damaged is refused and nothing of it is stored.\nEach is kept in "
      "DIR/statements/PERIOD_DIGEST/ (statement.csv, contract.toml), readable by the site's\n"
      "owner only. Then check one against your own access ledger:\n"
      "  tieup partner fees verify DIR 2026-11\n"
      "The console's 'Ledger & fees' page shows the same statements, with a chart and a Verify "
      "button.");
  fs->callback([&ctx, a] {
    ctx.action = [&ctx, a] { return PartnerFeesStatements(*ctx.env, a->dir, a->fetch); };
  });
  CLI::App* fv = pf->add_subcommand(
      "verify", "Recompute a statement from main with this site's own ledger and compare");
  fv->add_option("DIR", a->dir, "The partner site's data directory")->required();
  fv->add_option("STATEMENT", a->statement,
                 "A statement received from main (its period, e.g. 2026-11, or its id from "
                 "'fees statements'), or a statement CSV file")
      ->required();
  fv->add_option("--contract", a->contract,
                 "The contract TOML (default: the one main sent with a received statement; for "
                 "a file, DIR/contracts/SITE_ID.toml)");
  fv->footer(
      "Recomputes every amount of the statement from this site's own access ledger (the same "
      "checkpoint\nsize and excluded ranges) and says \"agrees\" or lists each difference with "
      "both values.\nExits with an error when it does not agree.\n  tieup partner fees "
      "verify DIR 2026-11\n  tieup partner fees verify DIR statement.csv --contract "
      "contract.toml");
  fv->callback([&ctx, a] {
    ctx.action = [&ctx, a] {
      return PartnerFeesVerify(*ctx.env, a->dir, a->statement, a->contract);
    };
  });
}

}  // namespace tieup::cli
