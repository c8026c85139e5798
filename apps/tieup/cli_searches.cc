// `tieup main searches DIR`: what visitors searched for on the partners' search pages and did
// not find, from the search records of the partners' verified ledgers (main_site/ledger_service.h
// ZeroResultQueries and SearchSummaries). It opens main's database directly: it works with or
// without the daemon.
#include <cstdio>
#include <map>
#include <vector>

#include "base/encoding.h"
#include "cli.h"
#include "main_site/ledger_service.h"
#include "store/database.h"

namespace tieup::cli {
namespace {

struct SearchesArgs {
  std::string dir;
  std::string partner;  // empty: every partner
  int64_t days = 30;
  size_t limit = 20;
};

std::string SearchesTime(int64_t micros) { return FormatRfc3339(micros / 1'000'000); }

// A visitor's query as it is safe to print on a terminal: quoted, with quotes, backslashes and
// control characters escaped (a query is whatever a visitor typed, escape sequences included).
std::string ShownQuery(std::string_view query) {
  std::string out = "\"";
  for (char c : query) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (u < 0x20 || u == 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof(hex), "\\x%02x", u);
      out += hex;
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

// "1 search", "2 searches".
std::string SearchesCount(int64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

std::string SearchesPeriod(int64_t days) {
  return days == 1 ? "the last day" : "the last " + std::to_string(days) + " days";
}

Status ShowSearches(Env& env, const SearchesArgs& a) {
  ASSIGN_OR_RETURN(SiteConfig config, LoadSiteConfigFor(env, a.dir, SiteRole::kMain));
  ASSIGN_OR_RETURN(std::unique_ptr<Database> db, OpenSiteDatabase(config, a.dir));
  ASSIGN_OR_RETURN(std::unique_ptr<LedgerCollector> collector,
                   LedgerCollector::Open(env, a.dir, *db, NewNullLogger()));
  const int64_t since_micros = env.NowMicros() - a.days * 86'400'000'000;
  const std::string period = SearchesPeriod(a.days);
  ASSIGN_OR_RETURN(std::vector<SearchSummary> summaries,
                   collector->SearchSummaries(a.partner, since_micros));
  if (summaries.empty()) {
    if (!a.partner.empty()) {
      ASSIGN_OR_RETURN(LedgerMirrorState state, collector->State(a.partner));
      if (state.verifier_key.empty()) {
        std::printf(
            "No searches recorded at '%s': it has not shipped its ledger to main yet (see 'tieup "
            "main partner ls %s').\n",
            a.partner.c_str(), a.dir.c_str());
        return Status::Ok();
      }
    }
    std::printf(
        "No searches recorded%s in %s; partners' searches arrive with their ledger "
        "batches.\n",
        a.partner.empty() ? "" : (" at '" + a.partner + "'").c_str(), period.c_str());
    return Status::Ok();
  }
  ASSIGN_OR_RETURN(std::vector<ZeroResultQuery> queries,
                   collector->ZeroResultQueries(a.partner, since_micros, a.limit));
  std::printf("Searches on the partners' search pages in %s (since %s):\n", period.c_str(),
              SearchesTime(since_micros).c_str());
  std::map<std::string, std::vector<const ZeroResultQuery*>> by_partner;
  for (const ZeroResultQuery& q : queries) by_partner[q.partner].push_back(&q);
  for (const SearchSummary& s : summaries) {
    std::printf(
        "\n%s: %s, %lld found nothing; %s on results (%lld on tie-up pages, %lld on its "
        "own pages)\n",
        s.partner.c_str(), SearchesCount(s.searches, "search", "searches").c_str(),
        static_cast<long long>(s.zero_result),
        SearchesCount(s.tieup_clicks + s.original_clicks, "click", "clicks").c_str(),
        static_cast<long long>(s.tieup_clicks), static_cast<long long>(s.original_clicks));
    const std::vector<const ZeroResultQuery*>& found_nothing = by_partner[s.partner];
    if (!found_nothing.empty()) {
      std::printf("  %8s  %-20s  %s\n", "SEARCHES", "LAST", "QUERY (NOTHING FOUND)");
    } else if (s.searches > 0) {
      std::printf("  Every search found something.\n");
    }
    for (const ZeroResultQuery* q : found_nothing) {
      std::printf("  %8lld  %-20s  %s\n", static_cast<long long>(q->searches),
                  SearchesTime(q->last_micros).c_str(), ShownQuery(q->query).c_str());
    }
    if (found_nothing.size() == a.limit) {
      std::printf("  (the first %zu; --limit N shows more)\n", a.limit);
    }
  }
  return Status::Ok();
}

}  // namespace

void AddSearchesCommands(CLI::App& app, Context& ctx) {
  CLI::App* main = app.get_subcommand("main");
  auto a = std::make_shared<SearchesArgs>();
  CLI::App* c = main->add_subcommand(
      "searches",
      "What visitors searched for on the partners' search pages and did not find, per partner, "
      "the most frequent first");
  c->add_option("DIR", a->dir, "The main site's data directory")->required();
  c->add_option("--partner", a->partner, "Only this partner (its id)");
  c->add_option("--days", a->days, "How many days back")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{3660}));
  c->add_option("--limit", a->limit, "How many queries to show per partner")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, size_t{100000}));
  c->footer(
      "Each partner's /search page records every search (the words as typed and how many pages "
      "matched)\nand every click on a result in the partner's ledger; they reach main with the "
      "ledger batches\n(within a minute while both sites serve; at once with 'tieup partner "
      "ledger push PARTNER_DIR').\nPer partner, a header line counts the searches, those that "
      "found nothing and the clicks on\nresults (on tie-up pages and on its own). Below it, the "
      "queries that found nothing: queries\nthat differ only in upper and lower case are one, "
      "shown as last written. A query that keeps\ncoming back is a page worth writing, or a word "
      "the pages should use.\n"
      "  tieup main searches DIR\n"
      "  tieup main searches DIR --partner shop-b --days 7 --limit 50");
  c->callback([&ctx, a] { ctx.action = [&ctx, a] { return ShowSearches(*ctx.env, *a); }; });
}

}  // namespace tieup::cli
