// `tieup main segments ...`, `tieup main campaigns ...`, `tieup main recommendations ...`: main's
// marketing on its partners' behalf (main_site/marketing.h). They open main's database directly:
// they work with or without the daemon (a running daemon also sends the campaigns being sent).
#include <chrono>
#include <cstdio>
#include <thread>

#include "base/encoding.h"
#include "base/money_format.h"
#include "cli.h"
#include "commerce/form.h"
#include "main_site/marketing.h"
#include "main_site/recommendation_feed.h"
#include "main_site/users_service.h"
#include "store/database.h"

namespace tieup::cli {
namespace {

struct MarketingSession {
  std::unique_ptr<Database> db;
  std::unique_ptr<MarketingServices> m;
};

Result<MarketingSession> OpenSession(Env& env, const std::string& dir) {
  ASSIGN_OR_RETURN(SiteConfig config, LoadSiteConfigFor(env, dir, SiteRole::kMain));
  MarketingSession s;
  ASSIGN_OR_RETURN(s.db, OpenSiteDatabase(config, dir));
  ASSIGN_OR_RETURN(s.m, OpenMarketing(env, dir, config, *s.db));
  return s;
}

std::string CampaignTime(int64_t micros) {
  return micros == 0 ? "-" : FormatRfc3339(micros / 1'000'000);
}

struct SegmentArgs {
  std::string dir, name;
  SegmentDefinition d;
  std::string countries;
  bool replace = false;
  int64_t members = 20;
};

void AddSegmentRuleOptions(CLI::App* cmd, SegmentArgs* a) {
  cmd->add_option("--registered-via", a->d.registered_via,
                  "Only customers registered at this partner (its id), or \"main\": a segment of "
                  "one partner's customers");
  cmd->add_option("--country", a->countries,
                  "Postal-address country, one or several separated by commas (as customers "
                  "wrote them: JP,Japan)");
  cmd->add_option("--city", a->d.city, "Postal-address city");
  cmd->add_option("--registered-within-days", a->d.registered_within_days,
                  "Registered in the last N days");
  cmd->add_flag("--consented", a->d.marketing_consent,
                "Only customers who asked for news by mail (campaigns send only to them anyway)");
  cmd->add_option("--bought-sku", a->d.bought_sku, "Ordered this product (its SKU)");
  cmd->add_option("--bought-category", a->d.bought_category, "Ordered a product of this category");
  cmd->add_option("--ordered-via", a->d.ordered_via,
                  "Ordered through this partner (its id), or \"main\"");
  cmd->add_option("--ordered-within-days", a->d.ordered_within_days,
                  "Counting only orders of the last N days");
  cmd->add_option("--min-orders", a->d.min_orders, "At least N such orders (default 1)");
  cmd->add_option("--min-spent", a->d.min_spent_minor,
                  "Spent at least this much in them, in minor units (cents, yen)");
  cmd->add_option("--visited", a->d.visited_path,
                  "Visited pages whose path starts with this (/products/gyokuro), as the user "
                  "logs record them");
  cmd->add_option("--min-visits", a->d.min_visits, "At least N such visits (default 1)");
  cmd->add_option("--visited-within-days", a->d.visited_within_days,
                  "Counting only visits of the last N days");
}

Status AddSegment(Env& env, SegmentArgs& a) {
  for (size_t i = 0; i < a.countries.size();) {
    size_t comma = a.countries.find(',', i);
    if (comma == std::string::npos) comma = a.countries.size();
    std::string c(commerce::Trim(std::string_view(a.countries).substr(i, comma - i)));
    if (!c.empty()) a.d.countries.push_back(c);
    i = comma + 1;
  }
  ASSIGN_OR_RETURN(MarketingSession s, OpenSession(env, a.dir));
  RETURN_IF_ERROR(s.m->segments->Save(a.name, a.d, "cli", a.replace));
  ASSIGN_OR_RETURN(int64_t count, s.m->segments->Count(a.d));
  std::printf(
      "Saved segment %s: %s.\n%lld member(s) now. See them: tieup main segments show %s "
      "%s\n",
      a.name.c_str(), DescribeSegment(a.d).c_str(), static_cast<long long>(count), a.dir.c_str(),
      a.name.c_str());
  return Status::Ok();
}

Status ListSegments(Env& env, const std::string& dir) {
  ASSIGN_OR_RETURN(MarketingSession s, OpenSession(env, dir));
  ASSIGN_OR_RETURN(std::vector<Segment> list, s.m->segments->List());
  if (list.empty()) {
    std::printf(
        "No segments yet. Define one: tieup main segments add %s NAME --registered-via "
        "PARTNER --consented\n",
        dir.c_str());
    return Status::Ok();
  }
  std::printf("%-24s %8s  %s\n", "SEGMENT", "MEMBERS", "RULES");
  for (const Segment& seg : list) {
    ASSIGN_OR_RETURN(int64_t count, s.m->segments->Count(seg.definition));
    std::printf("%-24s %8lld  %s\n", seg.name.c_str(), static_cast<long long>(count),
                DescribeSegment(seg.definition).c_str());
  }
  return Status::Ok();
}

Status ShowSegment(Env& env, const std::string& dir, const std::string& name, int64_t limit) {
  ASSIGN_OR_RETURN(MarketingSession s, OpenSession(env, dir));
  ASSIGN_OR_RETURN(Segment seg, s.m->segments->Get(name));
  ASSIGN_OR_RETURN(std::vector<SegmentMember> members, s.m->segments->Members(seg.definition));
  std::printf(
      "Segment %s: %s\n%zu member(s) now%s\n\n", seg.name.c_str(),
      DescribeSegment(seg.definition).c_str(), members.size(),
      static_cast<int64_t>(members.size()) > limit ? " (the first shown; --members N)" : "");
  std::printf("%-22s %-32s %-10s %-8s %6s %12s %6s\n", "ACCOUNT", "E-MAIL", "SITE", "CONSENT",
              "ORDERS", "SPENT", "VISITS");
  int64_t shown = 0;
  for (const SegmentMember& m : members) {
    if (shown++ >= limit) break;
    std::printf("%-22s %-32s %-10s %-8s %6lld %12lld %6lld\n", m.user_id.c_str(), m.email.c_str(),
                m.registered_via.c_str(), m.marketing_consent_micros ? "yes" : "no",
                static_cast<long long>(m.orders), static_cast<long long>(m.spent_minor),
                static_cast<long long>(m.visits));
  }
  return Status::Ok();
}

Status RemoveSegment(Env& env, const std::string& dir, const std::string& name) {
  ASSIGN_OR_RETURN(MarketingSession s, OpenSession(env, dir));
  RETURN_IF_ERROR(s.m->segments->Remove(name));
  std::printf("Removed segment %s (campaigns already sent keep their recipients).\n", name.c_str());
  return Status::Ok();
}

struct CampaignArgs {
  std::string dir, name, user, body_file;
  CampaignDraft draft;
  bool no_wait = false;
};

Status AddCampaign(Env& env, CampaignArgs& a) {
  ASSIGN_OR_RETURN(a.draft.body_markdown, env.ReadFile(a.body_file));
  a.draft.name = a.name;
  ASSIGN_OR_RETURN(MarketingSession s, OpenSession(env, a.dir));
  ASSIGN_OR_RETURN(Campaign c, s.m->campaigns->Create(a.draft, "cli"));
  std::printf(
      "Campaign %s is a draft for segment %s.\nLook at a customer's mail first: tieup "
      "main campaigns preview %s %s --user EMAIL\nThen send it: tieup main campaigns send "
      "%s %s\n",
      c.name.c_str(), c.segment.c_str(), a.dir.c_str(), c.name.c_str(), a.dir.c_str(),
      c.name.c_str());
  return Status::Ok();
}

Result<std::string> UserIdOf(Env& env, Database& db, const SiteConfig& config,
                             const std::string& user) {
  ASSIGN_OR_RETURN(auto store, OpenMainUserStore(env, config, db));
  if (user.starts_with("usr_")) return user;
  ASSIGN_OR_RETURN(users::User u, store->FindByEmail(user));
  return u.id;
}

Status PreviewCampaign(Env& env, const std::string& dir, const std::string& name,
                       const std::string& user) {
  ASSIGN_OR_RETURN(SiteConfig config, LoadSiteConfigFor(env, dir, SiteRole::kMain));
  ASSIGN_OR_RETURN(MarketingSession s, OpenSession(env, dir));
  ASSIGN_OR_RETURN(std::string id, UserIdOf(env, *s.db, config, user));
  ASSIGN_OR_RETURN(CampaignMail mail, s.m->campaigns->Preview(name, id));
  const commerce::MailMessage& m = mail.message;
  std::printf("From: %s <%s>\nTo: %s <%s>\nSubject: %s\nBrand: %s (%s)\n\n%s\n",
              m.from.name.c_str(), m.from.address.c_str(), m.to[0].name.c_str(),
              m.to[0].address.c_str(), m.subject.c_str(), mail.brand.name.c_str(),
              mail.brand.url.c_str(), m.body.c_str());
  if (!mail.brand.marketing) {
    std::printf(
        "Note: %s does not have the marketing option: this customer would not be sent "
        "the mail (tieup main partner set %s %s --options ...,marketing).\n",
        mail.brand.site.c_str(), dir.c_str(), mail.brand.site.c_str());
  }
  return Status::Ok();
}

Status SendCampaign(Env& env, const std::string& dir, const std::string& name, bool no_wait) {
  ASSIGN_OR_RETURN(MarketingSession s, OpenSession(env, dir));
  ASSIGN_OR_RETURN(Campaign c, s.m->campaigns->Get(name));
  if (c.state == "draft") {
    ASSIGN_OR_RETURN(int64_t recipients,
                     s.m->campaigns->Start(name, no_wait ? "daemon" : "command"));
    std::fprintf(stderr,
                 "campaign %s: %lld recipient(s) in segment %s, at most %lld mail(s) a "
                 "minute\n",
                 name.c_str(), static_cast<long long>(recipients), c.segment.c_str(),
                 static_cast<long long>(c.rate_per_minute));
    ASSIGN_OR_RETURN(c, s.m->campaigns->Get(name));
  } else if (c.state == "sending" && c.sender != (no_wait ? "daemon" : "command")) {
    // Resumed here (the daemon leaves it alone from now on), or left to the daemon.
    RETURN_IF_ERROR(s.m->campaigns->SetSender(name, no_wait ? "daemon" : "command"));
  }
  if (no_wait) {
    std::printf(
        "Campaign %s is being sent by the daemon (tieup main serve) at its rate; follow it "
        "with: tieup main campaigns report %s %s\n",
        name.c_str(), dir.c_str(), name.c_str());
    return Status::Ok();
  }
  int64_t sent = 0, refused = 0;
  while (true) {
    ASSIGN_OR_RETURN(SendProgress p, s.m->campaigns->SendSome(name, 1000));
    sent += p.sent;
    refused += p.refused;
    if (p.sent + p.refused > 0) {
      std::fprintf(stderr, "campaign %s: %lld sent, %lld refused, %lld left\n", name.c_str(),
                   static_cast<long long>(sent), static_cast<long long>(refused),
                   static_cast<long long>(p.left));
    }
    if (p.done) break;
    int64_t wait = 0;
    if (s.m->campaigns->AllowedNow(c, &wait) == 0) {
      // The rate's pace: a person runs this command; the daemon paces itself with its tick.
      std::this_thread::sleep_for(std::chrono::microseconds(std::max<int64_t>(wait, 1000)));
    }
  }
  std::printf(
      "Campaign %s is sent: %lld mail(s) written to the outbox (%s/mail), %lld refused.\n"
      "Report: tieup main campaigns report %s %s\n",
      name.c_str(), static_cast<long long>(sent), dir.c_str(), static_cast<long long>(refused),
      dir.c_str(), name.c_str());
  return Status::Ok();
}

Status ListCampaigns(Env& env, const std::string& dir) {
  ASSIGN_OR_RETURN(MarketingSession s, OpenSession(env, dir));
  ASSIGN_OR_RETURN(std::vector<Campaign> list, s.m->campaigns->List());
  if (list.empty()) {
    std::printf(
        "No campaigns yet. Write one: tieup main campaigns add %s NAME --segment SEGMENT "
        "--subject TEXT --body MAIL.md\n",
        dir.c_str());
    return Status::Ok();
  }
  std::printf("%-24s %-8s %-20s %6s %6s %6s  %s\n", "CAMPAIGN", "STATE", "SEGMENT", "SENT",
              "REFUSED", "LEFT", "SUBJECT");
  for (const Campaign& c : list) {
    ASSIGN_OR_RETURN(CampaignReport r, s.m->campaigns->Report(c.name));
    std::printf("%-24s %-8s %-20s %6lld %6lld %6lld  %s\n", c.name.c_str(), c.state.c_str(),
                c.segment.c_str(), static_cast<long long>(r.sent),
                static_cast<long long>(r.refused), static_cast<long long>(r.pending),
                c.subject.c_str());
  }
  return Status::Ok();
}

Status ReportCampaign(Env& env, const std::string& dir, const std::string& name) {
  ASSIGN_OR_RETURN(MarketingSession s, OpenSession(env, dir));
  ASSIGN_OR_RETURN(Campaign c, s.m->campaigns->Get(name));
  ASSIGN_OR_RETURN(CampaignReport r, s.m->campaigns->Report(name));
  std::printf(
      "Campaign %s (%s)\n  segment       %s: %s\n  subject       %s\n  started       %s\n"
      "  finished      %s\n  recipients    %lld\n  sent          %lld\n  refused       "
      "%lld\n",
      c.name.c_str(), c.state.c_str(), c.segment.c_str(),
      c.segment_words.empty() ? "(frozen when sent)" : c.segment_words.c_str(), c.subject.c_str(),
      CampaignTime(c.started_micros).c_str(), CampaignTime(c.finished_micros).c_str(),
      static_cast<long long>(r.recipients), static_cast<long long>(r.sent),
      static_cast<long long>(r.refused));
  for (const auto& [reason, n] : r.refused_by) {
    std::printf("    %-28s %lld\n", reason.c_str(), static_cast<long long>(n));
  }
  std::printf(
      "  left          %lld\n  unsubscribed  %lld\n  clicked       %lld\n  orders        "
      "%lld within %lld days of a click, %s\n",
      static_cast<long long>(r.pending), static_cast<long long>(r.unsubscribed),
      static_cast<long long>(r.clicked), static_cast<long long>(r.orders),
      static_cast<long long>(c.attribution_days),
      FormatMoney(r.revenue_minor, s.m->shop.shop->config().currency,
                  s.m->shop.shop->config().locale)
          .c_str());
  return Status::Ok();
}

Status UpdateRecommendations(Env& env, const std::string& dir) {
  ASSIGN_OR_RETURN(MarketingSession s, OpenSession(env, dir));
  int64_t orders = 0, visits = 0, ranked = 0;
  while (true) {
    ASSIGN_OR_RETURN(RecommendationFeedResult r, FeedRecommendations(*s.db, *s.m->recommender));
    orders += r.orders;
    visits += r.visits;
    ranked += r.update.products_ranked;
    if (r.orders + r.visits == 0) break;
    std::fprintf(stderr, "recommendations: %lld order(s), %lld visit(s) read\n",
                 static_cast<long long>(orders), static_cast<long long>(visits));
  }
  std::printf(
      "Recommendations are up to date: %lld new order(s) and %lld visit(s) read, %lld "
      "product(s) re-ranked. The catalog's pages show them at the next publish.\n",
      static_cast<long long>(orders), static_cast<long long>(visits),
      static_cast<long long>(ranked));
  return Status::Ok();
}

Status ShowRecommendations(Env& env, const std::string& dir, const std::string& sku,
                           const std::string& user) {
  ASSIGN_OR_RETURN(SiteConfig config, LoadSiteConfigFor(env, dir, SiteRole::kMain));
  ASSIGN_OR_RETURN(MarketingSession s, OpenSession(env, dir));
  ASSIGN_OR_RETURN(std::vector<commerce::Product> products, s.m->shop.shop->ListProducts());
  std::map<std::string, const commerce::Product*, std::less<>> by_sku;
  for (const commerce::Product& p : products) by_sku[p.sku] = &p;
  auto in_stock = [&](std::string_view k) {
    auto it = by_sku.find(k);
    return it != by_sku.end() && it->second->stock > 0;
  };
  std::vector<users::ScoredProduct> list;
  if (!sku.empty()) {
    ASSIGN_OR_RETURN(list, s.m->recommender->AlsoBought(sku, 10, in_stock));
    std::printf("Customers who bought %s also bought:\n", sku.c_str());
  } else {
    ASSIGN_OR_RETURN(std::string id, UserIdOf(env, *s.db, config, user));
    ASSIGN_OR_RETURN(list, s.m->recommender->ForCustomer(id, 10, in_stock));
    std::printf("Suggestions for %s:\n", user.c_str());
  }
  if (list.empty()) std::printf("  (nothing yet: no orders or visits name it)\n");
  for (const users::ScoredProduct& p : list) {
    auto it = by_sku.find(p.sku);
    std::printf("  %-16s %-40s %.3f\n", p.sku.c_str(),
                it == by_sku.end() ? "" : it->second->title.c_str(), p.score);
  }
  return Status::Ok();
}

}  // namespace

void AddMarketingCommands(CLI::App& app, Context& ctx) {
  CLI::App* main = app.get_subcommand("main");

  auto sa = std::make_shared<SegmentArgs>();
  CLI::App* segments = main->add_subcommand(
      "segments",
      "Customer segments for campaigns: rules over accounts (where registered, country, consent), "
      "orders (what, where, when, how much) and visits (the user logs), counted live");
  segments->require_subcommand(1);
  CLI::App* add = segments->add_subcommand("add", "Save a segment (every rule given must hold)");
  add->add_option("DIR", sa->dir, "The main site's data directory")->required();
  add->add_option("NAME", sa->name, "The segment's name (tea-lovers)")->required();
  AddSegmentRuleOptions(add, sa.get());
  add->add_flag("--replace", sa->replace, "Replace a segment of that name");
  add->callback([&ctx, sa] { ctx.action = [&ctx, sa] { return AddSegment(*ctx.env, *sa); }; });
  CLI::App* ls = segments->add_subcommand("list", "The segments, with their members counted now");
  ls->add_option("DIR", sa->dir, "The main site's data directory")->required();
  ls->callback([&ctx, sa] { ctx.action = [&ctx, sa] { return ListSegments(*ctx.env, sa->dir); }; });
  CLI::App* show = segments->add_subcommand("show", "A segment's rules and members now");
  show->add_option("DIR", sa->dir, "The main site's data directory")->required();
  show->add_option("NAME", sa->name, "The segment")->required();
  show->add_option("--members", sa->members, "Show at most this many members (default 20)")
      ->check(CLI::Range(int64_t{0}, int64_t{1000000}));
  show->callback([&ctx, sa] {
    ctx.action = [&ctx, sa] { return ShowSegment(*ctx.env, sa->dir, sa->name, sa->members); };
  });
  CLI::App* rm = segments->add_subcommand("remove", "Delete a segment");
  rm->add_option("DIR", sa->dir, "The main site's data directory")->required();
  rm->add_option("NAME", sa->name, "The segment")->required();
  rm->callback([&ctx, sa] {
    ctx.action = [&ctx, sa] { return RemoveSegment(*ctx.env, sa->dir, sa->name); };
  });

  auto ca = std::make_shared<CampaignArgs>();
  CLI::App* campaigns = main->add_subcommand(
      "campaigns",
      "Direct mail to a segment on the partners' behalf: each customer's mail in the brand of "
      "the partner they belong to, only with their consent, with one-click unsubscribe");
  campaigns->require_subcommand(1);
  CLI::App* cadd = campaigns->add_subcommand("add", "Write a campaign (a draft)");
  cadd->add_option("DIR", ca->dir, "The main site's data directory")->required();
  cadd->add_option("NAME", ca->name, "The campaign's name (spring-tea)")->required();
  cadd->add_option("--segment", ca->draft.segment, "The segment it goes to")->required();
  cadd->add_option("--subject", ca->draft.subject,
                   "The subject; may hold {{partner.name}} and {{customer.name}}")
      ->required();
  cadd->add_option("--body", ca->body_file,
                   "A Markdown file: the mail. Variables: {{customer.name}}, {{partner.name}}, "
                   "{{partner.region}}, {{partner.url}} (link to the customer's shop: "
                   "[teas]({{partner.url}}/products/)), {{#recommended}}{{title}} {{price}} "
                   "{{url}}{{/recommended}}, {{unsubscribe_url}}")
      ->required();
  cadd->add_option("--rate", ca->draft.rate_per_minute, "At most this many mails a minute (60)")
      ->check(CLI::Range(int64_t{1}, int64_t{100000}));
  cadd->add_option("--attribution-days", ca->draft.attribution_days,
                   "Orders up to this many days after a click count for the campaign (14)")
      ->check(CLI::Range(int64_t{1}, int64_t{365}));
  cadd->callback([&ctx, ca] { ctx.action = [&ctx, ca] { return AddCampaign(*ctx.env, *ca); }; });
  CLI::App* cls = campaigns->add_subcommand("list", "The campaigns, newest first");
  cls->add_option("DIR", ca->dir, "The main site's data directory")->required();
  cls->callback(
      [&ctx, ca] { ctx.action = [&ctx, ca] { return ListCampaigns(*ctx.env, ca->dir); }; });
  CLI::App* preview = campaigns->add_subcommand(
      "preview", "The mail one customer would get, in their partner's brand (nothing is sent)");
  preview->add_option("DIR", ca->dir, "The main site's data directory")->required();
  preview->add_option("NAME", ca->name, "The campaign")->required();
  preview->add_option("--user", ca->user, "The customer's e-mail address or account id")
      ->required();
  preview->callback([&ctx, ca] {
    ctx.action = [&ctx, ca] { return PreviewCampaign(*ctx.env, ca->dir, ca->name, ca->user); };
  });
  CLI::App* send = campaigns->add_subcommand(
      "send",
      "Send a campaign: its segment's members are frozen as recipients, and the mails go to the "
      "outbox at the campaign's rate. Run again after an interruption: it resumes, and no one "
      "gets the mail twice");
  send->add_option("DIR", ca->dir, "The main site's data directory")->required();
  send->add_option("NAME", ca->name, "The campaign")->required();
  send->add_flag("--no-wait", ca->no_wait,
                 "Only start it, or hand a campaign this command was sending over: the running "
                 "daemon sends it (tieup main serve). Without it, this command sends the campaign "
                 "and the daemon leaves it alone");
  send->callback([&ctx, ca] {
    ctx.action = [&ctx, ca] { return SendCampaign(*ctx.env, ca->dir, ca->name, ca->no_wait); };
  });
  CLI::App* report = campaigns->add_subcommand(
      "report", "Sent, refused (and why), unsubscribed, clicked, and the orders that followed");
  report->add_option("DIR", ca->dir, "The main site's data directory")->required();
  report->add_option("NAME", ca->name, "The campaign")->required();
  report->callback([&ctx, ca] {
    ctx.action = [&ctx, ca] { return ReportCampaign(*ctx.env, ca->dir, ca->name); };
  });

  auto ra = std::make_shared<CampaignArgs>();
  CLI::App* reco = main->add_subcommand(
      "recommendations",
      "Item-to-item recommendations from the network's orders and visits (the daemon keeps them "
      "up to date)");
  reco->require_subcommand(1);
  CLI::App* update = reco->add_subcommand("update", "Read the orders and visits not read yet");
  update->add_option("DIR", ra->dir, "The main site's data directory")->required();
  update->callback(
      [&ctx, ra] { ctx.action = [&ctx, ra] { return UpdateRecommendations(*ctx.env, ra->dir); }; });
  CLI::App* rshow = reco->add_subcommand(
      "show", "What is recommended beside a product (--sku) or to a customer (--user)");
  rshow->add_option("DIR", ra->dir, "The main site's data directory")->required();
  auto* sku_opt = rshow->add_option("--sku", ra->name, "A product's SKU");
  auto* user_opt = rshow->add_option("--user", ra->user, "A customer's e-mail address or id");
  sku_opt->excludes(user_opt);
  rshow->callback([&ctx, ra] {
    if (ra->name.empty() && ra->user.empty()) {
      throw CLI::ValidationError("recommendations show", "give --sku SKU or --user EMAIL");
    }
    ctx.action = [&ctx, ra] { return ShowRecommendations(*ctx.env, ra->dir, ra->name, ra->user); };
  });
}

}  // namespace tieup::cli
