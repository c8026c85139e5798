// `tieup demo [DIR]`: a main site and two partner sites on loopback with sample content.
#include <cstdlib>

#include "cli.h"
#include "content/builder.h"
#include "demo_content.h"
#include "main_site/own_site.h"
#include "partner_site/page_tools.h"
#include "site/public_site.h"

namespace tieup::cli {
namespace {

struct DemoArgs {
  std::string dir;
  int base_port = 8080;
};

struct DemoPartner {
  std::string id, name, region, approval;
};

Status WriteFiles(Env& env, const std::string& root,
                  const std::vector<std::pair<std::string, std::string>>& files) {
  for (const auto& [rel, bytes] : files) {
    std::string path = JoinPath(root, rel);
    RETURN_IF_ERROR(CreateDirs(env, DirName(path)));
    RETURN_IF_ERROR(WriteFileAtomic(env, path, bytes));
  }
  return Status::Ok();
}

// Renders main's authoring directory for one partner (its name and region in the pages) and
// installs it as the partner's tie-up release.
// TODO(remote updating): replace with the publisher -> receiver path over mutual TLS once the
// sync module is wired into the daemons.
Status InstallTieupRelease(Env& env, const std::string& authoring, PublicSite& partner,
                           const DemoPartner& p) {
  return partner.content().Mutate([&](content::ContentStore& store) -> Status {
    auto active = store.Active(content::Area::kTieup);
    content::BuildOptions o;
    o.authoring_dir = authoring;
    o.area = content::Area::kTieup;
    o.site = p.id;
    o.version = active.ok() ? (*active)->version + 1 : 1;
    o.created = env.NowSeconds();
    o.variables = {{"site.name", "Sakura Tea"},
                   {"partner.id", p.id},
                   {"partner.name", p.name},
                   {"partner.region", p.region}};
    ASSIGN_OR_RETURN(content::ReleaseManifest m, content::BuildRelease(env, store.blobs(), o));
    RETURN_IF_ERROR(store.Stage(m));
    return store.Activate(content::Area::kTieup, m.version);
  });
}

Status RunDemo(Env& env, DemoArgs a) {
  if (a.dir.empty()) {
    std::string tmpl = "/tmp/tieup-demo-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) return Status::IOError("cannot make a temp directory");
    a.dir = tmpl;
  } else if (env.FileExists(a.dir + "/main/site.toml")) {
    return Status::AlreadyExists("'" + a.dir + "' already holds a demo; remove it or pick another");
  }
  const std::string main_dir = a.dir + "/main";
  auto port = [&](int i) { return std::to_string(a.base_port + i); };

  std::printf("tieup demo in %s\n", a.dir.c_str());
  SiteConfig mc;
  mc.role = SiteRole::kMain;
  mc.id = "main";
  mc.name = "Sakura Tea";
  mc.public_address = {"127.0.0.1", static_cast<uint16_t>(a.base_port)};
  mc.sync_address = {"127.0.0.1", static_cast<uint16_t>(a.base_port + 100)};
  RETURN_IF_ERROR(CreateSiteDir(env, main_dir, mc));
  const std::string authoring = AuthoringDir(mc, main_dir);
  RETURN_IF_ERROR(WriteFiles(env, authoring, demo::MainAuthoringFiles()));
  {
    SiteContentOptions o;
    o.site_id = "main";
    o.serve = false;
    ASSIGN_OR_RETURN(auto content, SiteContent::Open(env, main_dir, o));
    ASSIGN_OR_RETURN(OwnSiteBuild b, BuildOwnSite(env, mc, *content));
    std::printf("  main: built release %llu (%zu files)\n",
                static_cast<unsigned long long>(b.version), b.pages);
  }

  const DemoPartner partners[] = {{"shop-a", "Tea House Asahi", "Osaka", "auto"},
                                  {"shop-b", "Kyoto Leaf", "Kyoto", "manager"}};
  std::vector<std::unique_ptr<PublicSite>> sites;
  ASSIGN_OR_RETURN(auto main_site, PublicSite::Open(env, main_dir, NewLogger("main")));
  RETURN_IF_ERROR(main_site->Start());
  int i = 1;
  for (const DemoPartner& p : partners) {
    const std::string dir = a.dir + "/" + p.id;
    SiteConfig pc;
    pc.role = SiteRole::kPartner;
    pc.id = p.id;
    pc.name = p.name;
    pc.region = p.region;
    pc.approval = p.approval;
    pc.public_address = {"127.0.0.1", static_cast<uint16_t>(a.base_port + i)};
    pc.sync_address = {"127.0.0.1", static_cast<uint16_t>(a.base_port + 100 + i)};
    RETURN_IF_ERROR(CreateSiteDir(env, dir, pc));
    ASSIGN_OR_RETURN(auto site, PublicSite::Open(env, dir, NewLogger(p.id)));
    RETURN_IF_ERROR(InstallTieupRelease(env, authoring, *site, p));
    for (const auto& [path, html] : demo::PartnerOriginalPages(p.name, p.region)) {
      const std::string tmp = dir + "/logs/demo-page.html";
      RETURN_IF_ERROR(WriteFileAtomic(env, tmp, html));
      auto put = PutPages(env, site->config(), site->content(), path, tmp, "", false);
      RETURN_IF_ERROR(put.status());
      RETURN_IF_ERROR(env.RemoveFile(tmp));
    }
    RETURN_IF_ERROR(site->Start());
    sites.push_back(std::move(site));
    ++i;
  }

  std::printf("\nThe partnership is up:\n");
  std::printf("  main site          http://127.0.0.1:%s/\n", port(0).c_str());
  i = 1;
  for (const DemoPartner& p : partners) {
    std::printf(
        "  partner %-10s http://127.0.0.1:%s/  (tie-up pages)   "
        "http://127.0.0.1:%s/local/  (its original pages)\n",
        p.id.c_str(), port(i).c_str(), port(i).c_str());
    ++i;
  }
  std::printf("\nTry: tieup partner page ls %s/shop-a\n", a.dir.c_str());
  WaitForTermination();
  for (auto& s : sites) s->Stop();
  main_site->Stop();
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
