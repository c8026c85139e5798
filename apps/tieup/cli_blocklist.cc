// `tieup main blocklist list|add|remove` and `tieup partner blocklist DIR`: main's network-wide
// blocklist (guard/blocklist.h): what it refuses, on main's site and every partner with the
// security service, and which partner has the newest list.
#include <set>

#include "base/encoding.h"
#include "cli.h"
#include "guard/blocklist_service.h"
#include "main_site/blocklists.h"
#include "store/database.h"
#include "sync/partnership_terms.h"
#include "sync/publisher.h"
#include "sync/schedule.h"
#include "sync/schema.h"

namespace tieup::cli {
namespace {

struct AddArgs {
  std::string dir, address, agent, path, duration, reason;
};

struct ListArgs {
  std::string dir;
  bool expired = false;
};

struct RemoveArgs {
  std::string dir;
  uint64_t id = 0;
};

struct MainBlocklist {
  std::unique_ptr<Database> db;
  std::unique_ptr<guard::BlocklistIssuer> issuer;
};

Result<MainBlocklist> OpenMain(Env& env, const std::string& dir) {
  MainBlocklist m;
  ASSIGN_OR_RETURN(m.db, OpenMainDb(env, dir));
  ASSIGN_OR_RETURN(m.issuer, OpenBlocklistIssuer(env, dir, *m.db));
  return m;
}

std::string Until(int64_t expires) {
  return expires == 0 ? "until removed" : FormatRfc3339(expires);
}

// Where the newest list is going: how many partners have the security service.
Result<std::string> Reach(Database& db) {
  RETURN_IF_ERROR(sync::MigratePartnershipTerms(db));
  ASSIGN_OR_RETURN(std::set<std::string> partners, sync::PartnersWithOption(db, "security"));
  if (partners.empty()) {
    return std::string(
        "No partnership has the security service yet, so only main's own site applies it "
        "(tieup main partner set DIR ID --options security).");
  }
  return "The running main daemon applies it to main's site and gets it to the " +
         std::to_string(partners.size()) +
         " partner(s) with the security service within seconds (pull-mode partners at their "
         "next poll); `tieup main blocklist list DIR` shows who has it.";
}

Status Add(Env& env, const AddArgs& a) {
  const int given = !a.address.empty() + !a.agent.empty() + !a.path.empty();
  if (given != 1) {
    return Status::InvalidArgument(
        "say what to block with exactly one of --address (203.0.113.9 or 203.0.113.0/24), "
        "--agent (a piece of the User-Agent, e.g. sqlmap) or --path (e.g. /wp-admin)");
  }
  guard::BlockEntry e;
  e.kind = !a.address.empty() ? guard::BlockKind::kAddress
           : !a.agent.empty() ? guard::BlockKind::kAgent
                              : guard::BlockKind::kPath;
  e.value = !a.address.empty() ? a.address : !a.agent.empty() ? a.agent : a.path;
  e.reason = a.reason;
  e.by = CommandLineUser();
  if (!a.duration.empty()) {
    auto seconds = sync::ParseDuration(a.duration);
    if (!seconds.ok()) return seconds.status().Annotate("--for (e.g. 30m, 12h, 7d)");
    e.expires = env.NowSeconds() + *seconds;
  }
  ASSIGN_OR_RETURN(MainBlocklist m, OpenMain(env, a.dir));
  ASSIGN_OR_RETURN(guard::BlockEntry added, m.issuer->Add(std::move(e)));
  ASSIGN_OR_RETURN(std::optional<guard::SignedBlocklist> latest, m.issuer->Latest());
  std::printf("Added entry %llu: %s.\n", static_cast<unsigned long long>(added.id),
              guard::DescribeBlockEntry(added).c_str());
  std::printf("Signed blocklist number %llu (%zu entries).\n",
              static_cast<unsigned long long>(latest->list.seq), latest->list.entries.size());
  ASSIGN_OR_RETURN(std::string reach, Reach(*m.db));
  std::printf("%s\n", reach.c_str());
  return Status::Ok();
}

Status Remove(Env& env, const RemoveArgs& a) {
  ASSIGN_OR_RETURN(MainBlocklist m, OpenMain(env, a.dir));
  ASSIGN_OR_RETURN(guard::BlockEntry removed, m.issuer->Remove(a.id));
  ASSIGN_OR_RETURN(std::optional<guard::SignedBlocklist> latest, m.issuer->Latest());
  std::printf("Removed entry %llu: %s.\n", static_cast<unsigned long long>(removed.id),
              guard::DescribeBlockEntry(removed).c_str());
  std::printf("Signed blocklist number %llu (%zu entries).\n",
              static_cast<unsigned long long>(latest->list.seq), latest->list.entries.size());
  ASSIGN_OR_RETURN(std::string reach, Reach(*m.db));
  std::printf("%s\n", reach.c_str());
  return Status::Ok();
}

void PrintEntries(const std::vector<guard::BlockEntry>& entries, int64_t now) {
  if (entries.empty()) {
    std::printf("(no entries)\n");
    return;
  }
  std::printf("%-5s %-8s %-32s %-21s %-28s %s\n", "ID", "KIND", "VALUE", "EXPIRES", "BY", "REASON");
  for (const guard::BlockEntry& e : entries) {
    std::string until = Until(e.expires);
    if (e.expires != 0 && e.expires <= now) until += " (expired)";
    std::printf("%-5llu %-8s %-32s %-21s %-28s %s\n", static_cast<unsigned long long>(e.id),
                std::string(guard::BlockKindName(e.kind)).c_str(), e.value.c_str(), until.c_str(),
                e.by.substr(0, 28).c_str(), e.reason.empty() ? "-" : e.reason.c_str());
  }
}

Status List(Env& env, const ListArgs& a) {
  ASSIGN_OR_RETURN(MainBlocklist m, OpenMain(env, a.dir));
  ASSIGN_OR_RETURN(std::vector<guard::BlockEntry> entries, m.issuer->Entries(a.expired));
  PrintEntries(entries, env.NowSeconds());
  ASSIGN_OR_RETURN(std::optional<guard::SignedBlocklist> latest, m.issuer->Latest());
  if (!latest) {
    std::printf(
        "\nNothing signed yet: `tieup main blocklist add DIR --address ...` adds an "
        "entry and signs the list.\n");
    return Status::Ok();
  }
  const uint64_t seq = latest->list.seq;
  std::printf("\nNewest signed list: number %llu, issued %s, %zu entries.\n",
              static_cast<unsigned long long>(seq), FormatRfc3339(latest->list.issued).c_str(),
              latest->list.entries.size());
  RETURN_IF_ERROR(sync::MigratePartnershipTerms(*m.db));
  ASSIGN_OR_RETURN(std::set<std::string> partners, sync::PartnersWithOption(*m.db, "security"));
  if (partners.empty()) {
    std::printf("No partnership has the security service: only main's own site applies it.\n");
    return Status::Ok();
  }
  ASSIGN_OR_RETURN(std::vector<guard::BlocklistDelivery> deliveries, m.issuer->Deliveries());
  std::printf("\n%-24s %s\n", "PARTNER", "LIST");
  for (const std::string& p : partners) {
    const guard::BlocklistDelivery* d = nullptr;
    for (const auto& x : deliveries) {
      if (x.partner == p) d = &x;
    }
    std::string state;
    if (d != nullptr && d->seq >= seq) {
      state = "has the newest (number " + std::to_string(d->seq) + ")";
    } else {
      state = d == nullptr || d->seq == 0 ? "has none yet"
                                          : "has number " + std::to_string(d->seq) + ", older";
      if (d != nullptr && d->attempts > 0) {
        state += "; " + std::to_string(d->attempts) + " failed attempt(s), next at " +
                 FormatRfc3339(d->next_attempt) + ": " + d->last_error;
      } else {
        state += "; main sends it (a pull-mode partner gets it at its next poll)";
      }
    }
    std::printf("%-24s %s\n", p.c_str(), state.c_str());
  }
  return Status::Ok();
}

Status ShowPartner(Env& env, const std::string& dir) {
  ASSIGN_OR_RETURN(SiteConfig config, LoadSiteConfigFor(env, dir, SiteRole::kPartner));
  ASSIGN_OR_RETURN(std::unique_ptr<Database> db, OpenSqlite(SitePaths(dir).database()));
  ASSIGN_OR_RETURN(guard::Blocklist list, guard::ReadKeptBlocklist(*db));
  if (list.seq == 0) {
    std::printf(
        "'%s' has no blocklist from main: main sends one when the partnership has its "
        "security service and main's manager has blocked something.\n",
        config.id.c_str());
    return Status::Ok();
  }
  std::printf("Main's network blocklist number %llu (issued %s), applied before the WAF:\n",
              static_cast<unsigned long long>(list.seq), FormatRfc3339(list.issued).c_str());
  PrintEntries(list.entries, env.NowSeconds());
  std::printf(
      "Requests it refused are in `tieup partner waf %s --refused` (outcome "
      "blocklisted).\n",
      dir.c_str());
  return Status::Ok();
}

}  // namespace

void AddBlocklistCommands(CLI::App& app, Context& ctx) {
  CLI::App* main = app.get_subcommand("main");
  CLI::App* bl = main->add_subcommand(
      "blocklist",
      "The network-wide blocklist: addresses and ranges, user agents and paths refused on main's "
      "site and on every partner with the security service, before the WAF looks at a request");
  bl->require_subcommand(1);

  auto add = std::make_shared<AddArgs>();
  CLI::App* a = bl->add_subcommand(
      "add",
      "Block an address or range, a user agent or a path, for a while or until removed; signs "
      "a new list at once (e.g. tieup main blocklist add DIR --address 203.0.113.0/24 --for 7d "
      "--reason 'credential stuffing')");
  a->add_option("DIR", add->dir, "Main's data directory")->required();
  a->add_option("--address", add->address,
                "An address (203.0.113.9, 2001:db8::7) or a range (203.0.113.0/24, "
                "2001:db8::/32)");
  a->add_option("--agent", add->agent,
                "A piece of the User-Agent header, matched case-insensitively (sqlmap)");
  a->add_option("--path", add->path, "A path; everything under it is blocked too (/wp-admin)");
  a->add_option("--for", add->duration, "How long (30m, 12h, 7d); without it, until removed");
  a->add_option("--reason", add->reason, "Why, for the record (one line, at most 200 bytes)");
  a->callback([&ctx, add] { ctx.action = [&ctx, add] { return Add(*ctx.env, *add); }; });

  auto rm = std::make_shared<RemoveArgs>();
  CLI::App* r = bl->add_subcommand("remove", "Unblock entry ID; signs a new list at once");
  r->add_option("DIR", rm->dir, "Main's data directory")->required();
  r->add_option("ID", rm->id, "The entry's number (tieup main blocklist list DIR)")->required();
  r->callback([&ctx, rm] { ctx.action = [&ctx, rm] { return Remove(*ctx.env, *rm); }; });

  auto ls = std::make_shared<ListArgs>();
  CLI::App* l = bl->add_subcommand(
      "list", "The entries in force, the newest signed list, and which partner has it");
  l->add_option("DIR", ls->dir, "Main's data directory")->required();
  l->add_flag("--expired", ls->expired, "Show expired entries too (until the next change)");
  l->callback([&ctx, ls] { ctx.action = [&ctx, ls] { return List(*ctx.env, *ls); }; });

  auto dir = std::make_shared<std::string>();
  CLI::App* p = app.get_subcommand("partner")->add_subcommand(
      "blocklist", "Main's network blocklist as this site applies it, before its WAF");
  p->add_option("DIR", *dir, "The partner's data directory")->required();
  p->callback([&ctx, dir] { ctx.action = [&ctx, dir] { return ShowPartner(*ctx.env, *dir); }; });
}

}  // namespace tieup::cli
