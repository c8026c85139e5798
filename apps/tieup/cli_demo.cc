// `tieup demo [DIR]`: a main site and two partner sites on loopback with sample content.
#include <cstdlib>

#include "base/encoding.h"
#include "cli.h"
#include "console/manager_store.h"
#include "demo_content.h"
#include "main_site/main_daemon.h"
#include "main_site/main_sync.h"
#include "main_site/marketing.h"
#include "main_site/own_site.h"
#include "main_site/recommendation_feed.h"
#include "main_site/shop_service.h"
#include "main_site/users_service.h"
#include "partner_site/page_tools.h"
#include "partner_site/partner_daemon.h"
#include "partner_site/partner_sync.h"
#include "partner_site/shop_service.h"
#include "site/public_site.h"
#include "sync/partnership_terms.h"

namespace tieup::cli {
namespace {

struct DemoArgs {
  std::string dir;
  int base_port = 8080;
};

struct DemoPartner {
  std::string id, name, region, approval;
};

constexpr std::string_view kDemoManagerPassword = "sakura-demo-1";
// The demo customers' password (aiko@example.jp and the others, AddDemoCustomers).
constexpr std::string_view kDemoCustomerPassword = "sakura-customer-1";

std::string DemoManagerEmail(const std::string& partner_id) {
  return "manager@" + partner_id + ".example";
}

Status WriteFiles(Env& env, const std::string& root,
                  const std::vector<std::pair<std::string, std::string>>& files) {
  for (const auto& [rel, bytes] : files) {
    std::string path = JoinPath(root, rel);
    RETURN_IF_ERROR(CreateDirs(env, DirName(path)));
    RETURN_IF_ERROR(WriteFileAtomic(env, path, bytes));
  }
  return Status::Ok();
}

// The demo's customers: accounts registered through the partners (two of shop-a's asked for news
// by mail), and past orders through main's shop, from which main's recommendations learn which
// teas go together (the product pages show them).
Status AddDemoCustomers(Env& env, const SiteConfig& mc, Database& db, commerce::Shop& shop) {
  ASSIGN_OR_RETURN(auto store, OpenMainUserStore(env, mc, db));
  struct DemoCustomer {
    std::string email, name, via;
    bool consent;
    std::vector<std::vector<std::string>> orders;
  };
  const std::vector<DemoCustomer> customers = {
      {"aiko@example.jp",
       "Aiko Tanaka",
       "shop-a",
       true,
       {{"SENCHA-100", "GYOKURO-50"}, {"HOJICHA-100"}}},
      {"ren@example.jp", "Ren Sato", "shop-a", true, {{"SENCHA-100", "GYOKURO-50"}}},
      {"mei@example.jp", "Mei Ito", "shop-a", false, {{"SENCHA-100", "HOJICHA-100"}}},
      {"haruto@example.jp", "Haruto Mori", "shop-b", true, {{"GYOKURO-50", "SENCHA-100"}}},
      {"guest@example.jp", "", "", false, {{"GYOKURO-50", "SENCHA-100"}}},
  };
  int n = 0;
  for (const DemoCustomer& c : customers) {
    if (!c.via.empty()) {
      ASSIGN_OR_RETURN(users::User u,
                       store->Register({c.email, c.name, std::string(kDemoCustomerPassword), c.via,
                                        users::UserArea::kTieup, env.NowMicros()}));
      if (c.consent) RETURN_IF_ERROR(store->SetMarketingConsent(u.id, true).status());
    }
    for (const std::vector<std::string>& skus : c.orders) {
      commerce::OrderRequest r;
      r.channel = c.via.empty() ? "main" : c.via;
      r.area = commerce::Area::kTieup;
      r.idempotency_key = "demo-order-" + std::to_string(++n);
      for (const std::string& sku : skus) {
        commerce::OrderLineRequest line;
        line.sku = sku;
        line.quantity = 1;
        r.lines.push_back(line);
      }
      r.customer = {c.name.empty() ? "Guest" : c.name,
                    "1-2 Marunouchi",
                    "",
                    "100-0005",
                    "Tokyo",
                    "JP",
                    c.email,
                    ""};
      r.payment_method = shop.payment_providers().front()->id();
      // Past orders: the stock the demo starts with stays as the catalog says.
      r.check_inventory = false;
      RETURN_IF_ERROR(shop.PlaceOrder(r).status());
    }
  }
  ASSIGN_OR_RETURN(auto recommender, users::Recommender::Open(env, db));
  ASSIGN_OR_RETURN(RecommendationFeedResult fed, FeedRecommendations(db, *recommender));
  std::printf("  main: %zu customers, %lld past orders (recommendations learnt from them)\n",
              customers.size(), static_cast<long long>(fed.orders));
  return Status::Ok();
}

// Marketing for shop-a (its partnership's "marketing" option, priced in its contract): a segment
// of its customers who asked for news, and a campaign in its brand, left as a draft to send.
Status AddDemoCampaign(Env& env, const std::string& main_dir, const SiteConfig& mc, Database& db) {
  RETURN_IF_ERROR(
      sync::SetPartnershipOptions(db, env.NowSeconds(), "shop-a", {"marketing"}, "demo").status());
  ASSIGN_OR_RETURN(auto m, OpenMarketing(env, main_dir, mc, db));
  SegmentDefinition d;
  d.registered_via = "shop-a";
  d.marketing_consent = true;
  RETURN_IF_ERROR(m->segments->Save("shop-a-news", d, "demo"));
  CampaignDraft draft;
  draft.name = "new-season";
  draft.segment = "shop-a-news";
  draft.subject = "New season teas at {{partner.name}}";
  draft.body_markdown = demo::CampaignMail();
  RETURN_IF_ERROR(m->campaigns->Create(draft, "demo").status());
  std::printf("  main: segment shop-a-news and campaign new-season (a draft) for shop-a\n");
  return Status::Ok();
}

Status RunDemo(Env& env, DemoArgs a) {
  TerminationSignals signals;  // before anything announces itself (see WaitForTermination)
  if (a.dir.empty()) {
    std::string tmpl = "/tmp/tieup-demo-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) return Status::IOError("cannot make a temp directory");
    a.dir = tmpl;
  } else if (env.FileExists(a.dir + "/main/site.toml")) {
    return Status::AlreadyExists("'" + a.dir + "' already holds a demo; remove it or pick another");
  }
  // The ports a browser opens: each site's pages (P, P+1, P+2) and consoles (P+10..P+12).
  for (int offset : {0, 1, 2, 10, 11, 12}) {
    const int p = a.base_port + offset;
    if (BrowsersRefusePort(static_cast<uint16_t>(p))) {
      return Status::InvalidArgument("--base-port " + std::to_string(a.base_port) +
                                     " puts a site on port " + std::to_string(p) +
                                     ", which browsers refuse to open (a \"bad port\" of the Fetch "
                                     "standard); choose another base port");
    }
  }
  const std::string main_dir = a.dir + "/main";
  auto port = [&](int i) { return std::to_string(a.base_port + i); };
  // Each site's public pages on a loopback address of their own (main 127.0.0.1, the partners
  // 127.0.0.2 and 127.0.0.3): a browser keeps cookies per host name, not per port, so sites on
  // one address would share them, and single sign-on would look done when it is not.
  auto host = [](int i) { return "127.0.0." + std::to_string(1 + i); };
  auto site_url = [&](int i) { return "http://" + host(i) + ":" + port(i); };

  std::printf("tieup demo in %s\n", a.dir.c_str());
  SiteConfig mc;
  mc.role = SiteRole::kMain;
  mc.id = "main";
  mc.name = "Sakura Tea";
  mc.public_address = {"127.0.0.1", static_cast<uint16_t>(a.base_port)};
  mc.sync_address = {"127.0.0.1", static_cast<uint16_t>(a.base_port + 100)};
  mc.console_address = {"127.0.0.1", static_cast<uint16_t>(a.base_port + 10)};
  mc.ops_address = {"127.0.0.1", static_cast<uint16_t>(a.base_port + 30)};
  mc.variables["shop.currency"] = "JPY";
  mc.time_zone = "Asia/Tokyo";
  RETURN_IF_ERROR(CreateSiteDir(env, main_dir, mc));
  const std::string authoring = AuthoringDir(mc, main_dir);
  RETURN_IF_ERROR(WriteFiles(env, authoring, demo::MainAuthoringFiles()));
  // What the demo leaves out is the starter's: its header script (cart count, account link).
  RETURN_IF_ERROR(WriteStarterAuthoring(env, authoring));

  const DemoPartner partners[] = {{"shop-a", "Tea House Asahi", "Osaka", "auto"},
                                  {"shop-b", "Kyoto Leaf", "Kyoto", "manager"}};
  RETURN_IF_ERROR(InitMainTrust(env, main_dir, mc.name));
  {
    // Main's catalog: the teas on the tie-up product pages.
    ASSIGN_OR_RETURN(auto db, OpenSiteDatabase(mc, main_dir));
    ASSIGN_OR_RETURN(OpenedShop shop, OpenMainShop(env, main_dir, mc, *db));
    for (const auto& [sku, title, price, page] :
         std::vector<std::tuple<std::string, std::string, int64_t, std::string>>{
             {"SENCHA-100", "Sencha Asahi, 100 g", 1800, "/products/sencha.html"},
             {"GYOKURO-50", "Gyokuro Kin, 50 g", 3600, "/products/gyokuro.html"},
             {"HOJICHA-100", "Hojicha Roast, 100 g", 1200, "/products/hojicha.html"}}) {
      commerce::Product p;
      p.sku = sku;
      p.title = title;
      p.price_minor = price;
      p.currency = "JPY";
      p.tax_class = "reduced";
      p.category = "tea";
      p.page_path = page;
      p.stock = 100;
      RETURN_IF_ERROR(shop.shop->AddProduct(p));
    }
    std::printf("  main: 3 teas in the catalog\n");
    RETURN_IF_ERROR(AddDemoCustomers(env, mc, *db, *shop.shop));
    // The main manager's console login (a demo password, as the partners' below).
    ASSIGN_OR_RETURN(auto managers, console::ManagerStore::Open(env, *db));
    ASSIGN_OR_RETURN(std::string token, managers->Add(DemoManagerEmail(mc.id), mc.name));
    RETURN_IF_ERROR(managers->SetPassword(token, kDemoManagerPassword).status());
  }
  {
    // Main's own pages: the product pages show the catalog's titles, prices and stock.
    SiteContentOptions o;
    o.site_id = "main";
    o.serve = false;
    ASSIGN_OR_RETURN(auto content, SiteContent::Open(env, main_dir, o));
    ASSIGN_OR_RETURN(auto products, ReadCatalogPages(env, main_dir, mc));
    ASSIGN_OR_RETURN(OwnSiteBuild b, BuildOwnSite(env, mc, *content, products));
    std::printf("  main: built release %llu (%zu files)\n",
                static_cast<unsigned long long>(b.version), b.pages);
  }
  auto logger = NewLogger("demo");
  // Partnerships first (main must know them before they enroll), then main starts.
  std::vector<std::string> codes;
  {
    ASSIGN_OR_RETURN(auto db, OpenSiteDatabase(mc, main_dir));
    ASSIGN_OR_RETURN(auto sync, MainSync::Open(env, main_dir, mc, *db, logger));
    int i = 1;
    for (const DemoPartner& p : partners) {
      sync::Partnership sp;
      sp.id = p.id;
      sp.name = p.name;
      sp.region = p.region;
      sp.public_url = site_url(i);
      sp.sync_url = "https://127.0.0.1:" + port(100 + i);
      ASSIGN_OR_RETURN(sp.approval, sync::ParseApprovalPolicy(p.approval));
      sp.retry = "backoff:10s..5m";
      // shop-b's manager may edit a tie-up page in an emergency (the console shows how).
      if (p.id == "shop-b") sp.emergency_edit = content::EmergencyEditPolicy::kKeep;
      ASSIGN_OR_RETURN(EnrollmentCode code, sync->AddPartner(sp, 3600));
      codes.push_back(code.code);
      std::printf("  main: added partnership %s (approval %s)\n", p.id.c_str(), p.approval.c_str());
      ++i;
    }
    RETURN_IF_ERROR(AddDemoCampaign(env, main_dir, mc, *db));
  }
  // A partnership contract per partner, so fee statements can be made for the demo period.
  for (const DemoPartner& p : partners) {
    RETURN_IF_ERROR(CreateDirs(env, main_dir + "/contracts"));
    RETURN_IF_ERROR(WriteFileAtomic(env, main_dir + "/contracts/" + p.id + ".toml",
                                    demo::PartnerContract(p.id)));
  }
  ASSIGN_OR_RETURN(auto main_daemon, MainDaemon::Open(env, main_dir, NewLogger("main")));
  RETURN_IF_ERROR(main_daemon->Start());

  std::vector<std::unique_ptr<PartnerDaemon>> daemons;
  int i = 1;
  for (const DemoPartner& p : partners) {
    const std::string dir = a.dir + "/" + p.id;
    SiteConfig pc;
    pc.role = SiteRole::kPartner;
    pc.id = p.id;
    pc.name = p.name;
    pc.region = p.region;
    pc.approval = p.approval;
    pc.public_address = {host(i), static_cast<uint16_t>(a.base_port + i)};
    pc.sync_address = {"127.0.0.1", static_cast<uint16_t>(a.base_port + 100 + i)};
    pc.console_address = {"127.0.0.1", static_cast<uint16_t>(a.base_port + 10 + i)};
    pc.ops_address = {"127.0.0.1", static_cast<uint16_t>(a.base_port + 30 + i)};
    pc.variables["shop.currency"] = "JPY";
    pc.time_zone = "Asia/Tokyo";
    RETURN_IF_ERROR(CreateSiteDir(env, dir, pc));
    // Enrollment over the network, exactly as `tieup partner enroll` does it.
    RETURN_IF_ERROR(EnrollWithMain(env, dir, "https://127.0.0.1:" + port(100), codes[i - 1]));
    std::printf("  %s: enrolled with main (keys made here, main's CA pinned)\n", p.id.c_str());
    // The partner's own pages.
    {
      SiteContentOptions o;
      o.site_id = p.id;
      o.serve = false;
      ASSIGN_OR_RETURN(auto content, SiteContent::Open(env, dir, o));
      for (const auto& [path, html] : demo::PartnerOriginalPages(p.name, p.region)) {
        const std::string tmp = dir + "/logs/demo-page.html";
        RETURN_IF_ERROR(WriteFileAtomic(env, tmp, html));
        RETURN_IF_ERROR(PutPages(env, pc, *content, path, tmp, "", false).status());
        RETURN_IF_ERROR(env.RemoveFile(tmp));
      }
    }
    {
      // The partner's own goods, sold on its original pages and always processed locally.
      ASSIGN_OR_RETURN(auto db, OpenSqlite(SitePaths(dir).database()));
      ASSIGN_OR_RETURN(OpenedPartnerShop shop, OpenPartnerShop(env, dir, pc, *db));
      commerce::Product w;
      w.sku = "WAGASHI-BOX";
      w.title = "Wagashi of the season (box)";
      w.price_minor = 600;
      w.currency = "JPY";
      w.tax_class = "reduced";
      w.category = "sweets";
      w.page_path = "/local/wagashi.html";
      w.stock = 20;
      RETURN_IF_ERROR(shop.shop->AddProduct(w));
      // The partner manager's console login (a demo password: a real site prints a one-time
      // link instead, see 'tieup partner manager add').
      ASSIGN_OR_RETURN(auto managers, console::ManagerStore::Open(env, *db));
      ASSIGN_OR_RETURN(std::string token, managers->Add(DemoManagerEmail(p.id), p.name));
      RETURN_IF_ERROR(managers->SetPassword(token, kDemoManagerPassword).status());
    }
    ASSIGN_OR_RETURN(auto d, PartnerDaemon::Open(env, dir, NewLogger(p.id)));
    RETURN_IF_ERROR(d->Start());
    daemons.push_back(std::move(d));
    ++i;
  }

  // The real update path: signed release offered over mutual TLS, missing blobs fetched.
  std::printf("\nPublishing main's pages to both partners...\n");
  for (const sync::PublishOutcome& o : main_daemon->sync().publisher().PublishNow()) {
    std::printf("  %-7s version %llu: %s%s\n", o.partner.c_str(),
                static_cast<unsigned long long>(o.version),
                o.status.ok() ? o.state.c_str() : "FAILED: ",
                o.status.ok() ? "" : o.status.message().c_str());
  }

  std::printf("\nThe partnership is up:\n");
  std::printf("  main site          %s/\n", site_url(0).c_str());
  i = 1;
  for (const DemoPartner& p : partners) {
    std::printf("  partner %-10s %s/  (tie-up pages)   %s/local/  (its original pages)\n",
                p.id.c_str(), site_url(i).c_str(), site_url(i).c_str());
    ++i;
  }
  std::printf("\nThe managers' consoles (in a browser; password %s):\n",
              std::string(kDemoManagerPassword).c_str());
  std::printf("  main    http://127.0.0.1:%s/   sign in as %s   (every partner, publishing)\n",
              port(10).c_str(), DemoManagerEmail(mc.id).c_str());
  i = 1;
  for (const DemoPartner& p : partners) {
    std::printf("  %-7s http://127.0.0.1:%s/   sign in as %s\n", p.id.c_str(), port(10 + i).c_str(),
                DemoManagerEmail(p.id).c_str());
    ++i;
  }
  const std::string self = "tieup";
  std::printf(
      "\nBuy on a tie-up page (the order goes to main) and on an original page (it "
      "stays at the partner):\n  %s/products/sencha.html   %s/local/wagashi.html\n",
      site_url(1).c_str(), site_url(1).c_str());
  std::printf("  %s main order ls %s          %s partner order ls %s/shop-a\n", self.c_str(),
              main_dir.c_str(), self.c_str(), a.dir.c_str());
  std::printf(
      "\nRegister at a partner (the account is kept by main; the partner's ledger records the "
      "registration):\n  %s/account/register   then: %s main users ls %s "
      "--partner shop-a\n",
      site_url(1).c_str(), self.c_str(), main_dir.c_str());
  std::printf(
      "Then open %s/account/ : signed in at shop-b too, and at main, without the password "
      "(single sign-on through main)\n",
      site_url(2).c_str());
  std::printf(
      "\nMarketing for shop-a (main mails its customers who asked for news, in shop-a's "
      "brand):\n  %s main campaigns preview %s new-season --user aiko@example.jp\n  %s main "
      "campaigns send %s new-season      (the mails: %s/mail/pending/)\n  %s main campaigns "
      "report %s new-season\nCustomers who bought a tea also bought others: "
      "%s/products/sencha.html "
      "(customers sign in with %s)\n",
      self.c_str(), main_dir.c_str(), self.c_str(), main_dir.c_str(), main_dir.c_str(),
      self.c_str(), main_dir.c_str(), site_url(1).c_str(),
      std::string(kDemoCustomerPassword).c_str());
  const std::string period = FormatRfc3339(env.NowSeconds()).substr(0, 7);
  std::printf(
      "\nshop-b approves updates itself: in its console (Updates), or in another terminal:\n");
  std::printf("  %s partner pending %s/shop-b\n", self.c_str(), a.dir.c_str());
  std::printf("  %s partner approve %s/shop-b UPDATE\n", self.c_str(), a.dir.c_str());
  std::printf(
      "Change main's pages in main's console (Content, then Publish: shop-a updates at "
      "once, shop-b waits), or edit %s/pages/index.md, then:\n",
      authoring.c_str());
  std::printf("  %s main publish %s --all\n", self.c_str(), main_dir.c_str());
  std::printf("  %s main status %s\n", self.c_str(), main_dir.c_str());
  std::printf("Accesses reach main every minute (or now: %s partner ledger push %s/shop-a);\n",
              self.c_str(), a.dir.c_str());
  std::printf(
      "then fee statements (main's console: Ledger & fees), which each partner receives and "
      "checks\n(its console: Ledger & fees, Verify):\n");
  std::printf("  %s main fees statement %s --partner shop-a --period %s\n", self.c_str(),
              main_dir.c_str(), period.c_str());
  std::printf("  %s partner fees statements %s/shop-a --fetch\n", self.c_str(), a.dir.c_str());
  std::printf("  %s partner fees verify %s/shop-a %s\n", self.c_str(), a.dir.c_str(),
              period.c_str());
  WaitForTermination(signals);
  for (auto& d : daemons) d->Stop();
  main_daemon->Stop();
  return Status::Ok();
}

}  // namespace

void AddDemoCommand(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<DemoArgs>();
  CLI::App* demo = app.add_subcommand(
      "demo",
      "Create a main site and two partner sites with a sample tea shop under DIR (a temp "
      "directory by default), start them on loopback, print their URLs, run until Ctrl-C");
  demo->add_option("DIR", a->dir, "Where to create the sites (must not hold a demo already)");
  demo->add_option("--base-port", a->base_port,
                   "Main listens on this port, the partners on the next ones")
      ->capture_default_str()
      ->check(CLI::Range(1024, 65000));
  demo->callback([&ctx, a] { ctx.action = [&ctx, a] { return RunDemo(*ctx.env, *a); }; });
}

}  // namespace tieup::cli
