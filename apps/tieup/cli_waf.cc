// `tieup main waf DIR` and `tieup partner waf DIR`: the web application firewall's settings in
// site.toml and what it refused (SITE_DIR/logs/waf.jsonl, guard/waf_events.h), to find the
// request behind a reference a customer quotes from the 403 page.
#include "base/encoding.h"
#include "cli.h"
#include "guard/waf_events.h"
#include "site/waf_gate.h"

namespace tieup::cli {
namespace {

struct WafArgs {
  std::string dir;
  std::string reference;
  size_t limit = 20;
  bool refused_only = false;
};

std::string Rules(const std::vector<int>& ids) {
  std::string out;
  for (int id : ids) out += (out.empty() ? "" : ",") + std::to_string(id);
  return out.empty() ? "-" : out;
}

Status ShowWaf(Env& env, const WafArgs& a, SiteRole role) {
  ASSIGN_OR_RETURN(SiteConfig c, LoadSiteConfigFor(env, a.dir, role));
  const sync::WafTerms terms = WafTermsOf(c);
  std::printf("Web application firewall of '%s' (site.toml [waf]): %s\n", c.id.c_str(),
              sync::DescribeWafTerms(terms).c_str());
  if (role == SiteRole::kPartner) {
    std::printf(
        "With main's security service, main's settings, signed in the tie-up release, replace "
        "these while that release is served (the daemon's log says which are in effect).\n");
  }
  const std::string log = SitePaths(a.dir).logs() + "/waf.jsonl";
  auto events = guard::ReadWafEvents(env, log, a.reference.empty() ? a.limit * 4 + 100 : 1u << 20);
  if (!events.ok() && events.status().code() == StatusCode::kNotFound) {
    std::printf("Nothing recorded yet (%s).\n", log.c_str());
    if (!a.reference.empty()) {
      return Status::NotFound("no request with reference '" + a.reference + "'");
    }
    return Status::Ok();
  }
  if (!events.ok()) return events.status();
  if (!a.reference.empty()) {
    for (const guard::WafEvent& e : *events) {
      if (e.reference != a.reference) continue;
      std::printf("Reference   %s\n", e.reference.c_str());
      std::printf("Time        %s\n", FormatRfc3339(e.time_micros / 1'000'000).c_str());
      std::printf("Outcome     %s\n", std::string(guard::WafOutcomeName(e.outcome)).c_str());
      std::printf("Client      %s\n", e.client_address.c_str());
      std::printf("Request     %s %s (Host: %s; the query and body are not kept)\n",
                  e.method.c_str(), e.path.c_str(), e.host.c_str());
      std::printf("Rules       %s (anomaly score %d)\n", Rules(e.rule_ids).c_str(),
                  e.anomaly_score);
      std::printf("Message     %s\n", e.message.c_str());
      std::printf(
          "A false positive on your own pages? Switch the rule off: exclude_rules in [waf] of "
          "%s/site.toml, then restart the daemon.\n",
          a.dir.c_str());
      return Status::Ok();
    }
    return Status::NotFound("no request with reference '" + a.reference + "' in " + log +
                            " (or its predecessor " + log + ".1)");
  }
  std::printf("%-20s %-16s %-11s %-15s %-6s %-30s %-5s %s\n", "TIME", "REFERENCE", "OUTCOME",
              "CLIENT", "METHOD", "PATH", "SCORE", "RULES");
  size_t shown = 0;
  for (const guard::WafEvent& e : *events) {
    if (a.refused_only && e.outcome != guard::WafOutcome::kBlocked &&
        e.outcome != guard::WafOutcome::kBlocklisted) {
      continue;
    }
    if (shown++ == a.limit) break;
    std::printf("%-20s %-16s %-11s %-15s %-6s %-30s %-5d %s\n",
                FormatRfc3339(e.time_micros / 1'000'000).c_str(), e.reference.c_str(),
                std::string(guard::WafOutcomeName(e.outcome)).c_str(), e.client_address.c_str(),
                e.method.c_str(), e.path.substr(0, 30).c_str(), e.anomaly_score,
                Rules(e.rule_ids).c_str());
  }
  if (shown == 0) std::printf("(nothing%s)\n", a.refused_only ? " refused" : "");
  return Status::Ok();
}

void AddWaf(CLI::App& site, Context& ctx, SiteRole role) {
  auto a = std::make_shared<WafArgs>();
  CLI::App* waf = site.add_subcommand(
      "waf",
      "The web application firewall: its settings and the newest requests it refused or "
      "recorded; --reference finds the one a customer quotes from the refusal page");
  waf->add_option("DIR", a->dir, "The site's data directory")->required();
  waf->add_option("--reference", a->reference, "The reference shown on the refusal page");
  waf->add_option("--limit", a->limit, "How many requests to list")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  waf->add_flag("--refused", a->refused_only, "Only the refused ones");
  waf->callback(
      [&ctx, a, role] { ctx.action = [&ctx, a, role] { return ShowWaf(*ctx.env, *a, role); }; });
}

}  // namespace

void AddWafCommands(CLI::App& app, Context& ctx) {
  AddWaf(*app.get_subcommand("main"), ctx, SiteRole::kMain);
  AddWaf(*app.get_subcommand("partner"), ctx, SiteRole::kPartner);
}

}  // namespace tieup::cli
