// `tieup partner ...`: the partner site manager's commands.
#include <cstdlib>

#include "cli.h"
#include "content/release.h"
#include "partner_site/page_tools.h"
#include "partner_site/starter_pages.h"
#include "partner_site/users_service.h"
#include "site/public_site.h"
#include "store/database.h"

namespace tieup::cli {

namespace {

struct PartnerInitArgs {
  std::string dir, id, name, region, public_addr = "127.0.0.1:8081", sync_addr = "127.0.0.1:9081";
  std::string approval = "auto";
  std::string main_url, token;
  std::string currency = "EUR", time_zone = "UTC", locale = "en";
  std::string console_addr;  // empty: DefaultConsoleAddress
  std::string manager;       // empty: manager@<id>.localhost; "none": no manager
  bool no_starter_pages = false;
};

// Makes the starter pages (partner_site/starter_pages.h) and says where they are and how to edit
// them. A failure is only a warning: the site is whole without them.
void PrintStarterPages(Env& env, const std::string& dir, const SiteConfig& c) {
  auto made = WriteStarterPages(env, dir);
  if (!made.ok()) {
    std::fprintf(stderr, "warning: the starter pages were not made: %s\n",
                 made.status().message().c_str());
    return;
  }
  std::string served;
  for (const std::string& p : made->served_paths) served += (served.empty() ? "" : ", ") + p;
  std::printf(
      "  starter pages:      %s\n"
      "                      (about us, contact, local specials: replace each part in\n"
      "                      [square brackets]; delete a page you do not want)\n",
      served.c_str());
  std::printf(
      "  edit them:          in the console (http://%s/pages), or edit the Markdown in\n"
      "                      %s/ and put it again: tieup partner page put %s %s %s/\n",
      c.console_address.ToString().c_str(), made->source_dir.c_str(), dir.c_str(), kStarterPagesUrl,
      made->source_dir.c_str());
}

Status PartnerInit(Env& env, const PartnerInitArgs& a) {
  SiteConfig c;
  c.role = SiteRole::kPartner;
  c.id = a.id;
  c.name = a.name.empty() ? a.id : a.name;
  c.region = a.region;
  c.approval = a.approval;
  ASSIGN_OR_RETURN(c.public_address, ParseHostPort(a.public_addr));
  ASSIGN_OR_RETURN(c.sync_address, ParseHostPort(a.sync_addr));
  if (a.console_addr.empty()) {
    c.console_address = DefaultConsoleAddress(c.public_address);
  } else {
    ASSIGN_OR_RETURN(c.console_address, ParseHostPort(a.console_addr));
  }
  c.ops_address = DefaultOpsAddress(c.public_address);
  RETURN_IF_ERROR(
      CheckDistinctPorts(c.public_address, c.sync_address, c.console_address, c.ops_address));
  RETURN_IF_ERROR(ApplyShopLocale(a.currency, a.time_zone, a.locale, &c));
  if (a.main_url.empty() != a.token.empty()) {
    return Status::InvalidArgument("--main and --token go together (both, or neither)");
  }
  // A failed enrollment leaves no half-made site: a directory made here is removed again; in a
  // directory that was there before, the site is finished (valid, not enrolled) and the error
  // says how to enroll it.
  const bool dir_existed = env.FileExists(a.dir);
  if (Status created = CreateSiteDir(env, a.dir, c); !created.ok()) {
    if (!dir_existed) (void)RemoveTree(env, a.dir);
    return created;
  }
  Status enrolled = Status::Ok();
  if (!a.main_url.empty()) {
    enrolled = EnrollCommand(env, a.dir, a.main_url, a.token);
    if (!enrolled.ok() && !dir_existed && RemoveTree(env, a.dir).ok()) {
      return Status(enrolled.code(), enrolled.message() +
                                         "\nNo site was made (nothing is left in '" + a.dir +
                                         "'): fix this, then run 'tieup partner init' again.");
    }
  }
  std::printf("Created partner site '%s' (%s) in %s\n", c.id.c_str(), c.name.c_str(),
              a.dir.c_str());
  if (!a.no_starter_pages) PrintStarterPages(env, a.dir, c);
  std::printf("  add your own pages: tieup partner page put %s /local/ ./my-pages/\n",
              a.dir.c_str());
  std::printf("  start with:         tieup partner serve %s   (public http://%s/)\n", a.dir.c_str(),
              c.public_address.ToString().c_str());
  if (a.manager != "none") {
    RETURN_IF_ERROR(
        CreateFirstManager(env, a.dir, SiteRole::kPartner,
                           a.manager.empty() ? "manager@" + c.id + ".localhost" : a.manager));
  }
  if (!enrolled.ok()) {
    return Status(enrolled.code(), enrolled.message() + "\nThe site in '" + a.dir +
                                       "' was made but is not enrolled: when this is fixed, "
                                       "finish with 'tieup partner enroll " +
                                       a.dir + " --main " + a.main_url + " --token CODE'.");
  }
  return Status::Ok();
}

Result<std::unique_ptr<SiteContent>> OpenForTools(Env& env, const std::string& dir,
                                                  SiteConfig* config) {
  ASSIGN_OR_RETURN(*config, LoadSiteConfig(env, dir));
  SiteContentOptions o;
  o.site_id = config->id;
  o.keep_releases = static_cast<size_t>(config->keep_releases);
  o.serve = false;
  return SiteContent::Open(env, dir, o);
}

struct PageArgs {
  std::string dir, path, file, type;
  bool tieup = false;
};

// What an emergency edit's report says about main being told.
void PrintMainTold(const PagePutReport& r) {
  if (r.main_told) {
    std::printf("Main has been told.\n");
  } else if (!r.main_error.empty()) {
    std::printf(
        "Main could not be told now (%s): the running daemon ('tieup partner serve') "
        "tells it as soon as it can.\n",
        r.main_error.c_str());
  }
}

Status PagePut(Env& env, const PageArgs& a) {
  SiteConfig c;
  ASSIGN_OR_RETURN(auto content, OpenForTools(env, a.dir, &c));
  ASSIGN_OR_RETURN(PagePutReport r,
                   PutPages(env, c, *content, a.path, a.file, a.type, a.tieup, CommandLineUser()));
  if (!r.changed) {
    std::printf("No change: %zu page(s) already had these bytes.\n", r.paths.size());
  } else if (r.emergency_tieup_edit) {
    std::printf(
        "Put %s (%llu bytes) as an EMERGENCY EDIT of a tie-up page, over main's version %llu "
        "(recorded; main's next update keeps or replaces it as the partnership says).\n",
        r.paths[0].c_str(), static_cast<unsigned long long>(r.bytes),
        static_cast<unsigned long long>(r.version));
    PrintMainTold(r);
  } else if (r.paths.size() == 1) {
    std::printf("Put %s (%llu bytes); original release %llu is active.\n", r.paths[0].c_str(),
                static_cast<unsigned long long>(r.bytes),
                static_cast<unsigned long long>(r.version));
  } else {
    std::printf("Put %zu pages (%llu bytes) under %s; original release %llu is active.\n",
                r.paths.size(), static_cast<unsigned long long>(r.bytes), a.path.c_str(),
                static_cast<unsigned long long>(r.version));
  }
  // Pages written in Markdown (or as HTML fragments) are served rendered in the site's layout.
  for (const auto& [source, served] : r.rendered) {
    std::printf("%s is served at %s, in the site's layout.\n", source.c_str(), served.c_str());
  }
  for (const std::string& note : r.notes) std::printf("Note: %s\n", note.c_str());
  return Status::Ok();
}

Status PageRm(Env& env, const PageArgs& a) {
  SiteConfig c;
  ASSIGN_OR_RETURN(auto content, OpenForTools(env, a.dir, &c));
  ASSIGN_OR_RETURN(PagePutReport r,
                   RemovePage(env, c, *content, a.path, a.tieup, CommandLineUser()));
  if (!r.changed) {
    std::printf("No change.\n");
  } else if (r.emergency_tieup_edit) {
    std::printf(
        "Removed tie-up page %s as an EMERGENCY EDIT over main's version %llu (recorded).\n",
        a.path.c_str(), static_cast<unsigned long long>(r.version));
    PrintMainTold(r);
  } else {
    std::printf("Removed %s; original release %llu is active.\n", a.path.c_str(),
                static_cast<unsigned long long>(r.version));
  }
  return Status::Ok();
}

Status PageRevert(Env& env, const PageArgs& a) {
  SiteConfig c;
  ASSIGN_OR_RETURN(auto content, OpenForTools(env, a.dir, &c));
  ASSIGN_OR_RETURN(PagePutReport r,
                   RevertEmergencyEdit(env, c, *content, a.path, CommandLineUser()));
  if (!r.changed) {
    std::printf("%s has no emergency edit: main's page is served.\n", a.path.c_str());
    return Status::Ok();
  }
  std::printf("Ended the emergency edit of %s: main's version %llu of the page is served again.\n",
              a.path.c_str(), static_cast<unsigned long long>(r.version));
  PrintMainTold(r);
  return Status::Ok();
}

Status PageLs(Env& env, const PageArgs& a) {
  SiteConfig c;
  ASSIGN_OR_RETURN(auto content, OpenForTools(env, a.dir, &c));
  ASSIGN_OR_RETURN(auto pages, ListPages(*content));
  if (pages.empty()) {
    std::printf("No pages yet. Add one with: tieup partner page put %s /local/index.html FILE\n",
                a.dir.c_str());
    return Status::Ok();
  }
  std::printf("%-9s %10s  %-28s %s\n", "AREA", "BYTES", "TYPE", "PATH");
  for (const PageListing& p : pages) {
    std::printf("%-9s %10llu  %-28s %s%s\n", std::string(content::AreaName(p.area)).c_str(),
                static_cast<unsigned long long>(p.length), p.content_type.c_str(), p.path.c_str(),
                p.markdown_source.empty() ? "" : (" (from " + p.markdown_source + ")").c_str());
  }
  return Status::Ok();
}

// The customers main lets this site keep a copy of (partner_site/users_service.h).
Status Customers(Env& env, const std::string& dir) {
  ASSIGN_OR_RETURN(SiteConfig config, LoadSiteConfigFor(env, dir, SiteRole::kPartner));
  ASSIGN_OR_RETURN(std::unique_ptr<Database> db, OpenSqlite(SitePaths(dir).database()));
  ASSIGN_OR_RETURN(auto copies, OpenCustomerCopies(env, dir, config, *db));
  ASSIGN_OR_RETURN(auto contract, copies->Contract());
  ASSIGN_OR_RETURN(std::vector<users::CustomerCopy> list, copies->List());
  if (contract.second == 0) {
    std::printf(
        "Main has sent no customer data: your partnership lets you keep none (main's manager sets "
        "it with 'tieup main partner set MAIN_DIR %s --customer-copy name,email').\n",
        config.id.c_str());
    return Status::Ok();
  }
  std::string fields;
  for (const std::string& f : contract.first) fields += (fields.empty() ? "" : ", ") + f;
  std::printf("Your partnership lets you keep: %s (main's message %llu).\n",
              fields.empty() ? "nothing" : fields.c_str(),
              static_cast<unsigned long long>(contract.second));
  if (list.empty()) {
    std::printf("No customers yet.\n");
    return Status::Ok();
  }
  std::printf("%zu customer(s):\n", list.size());
  for (const users::CustomerCopy& c : list) {
    std::string line = "  " + c.user_id;
    if (c.name) line += "  " + *c.name;
    if (c.email) line += "  <" + *c.email + ">";
    if (c.marketing_consent) line += *c.marketing_consent ? "  news: yes" : "  news: no";
    if (c.address) {
      const users::PostalAddress& a = *c.address;
      line += a.empty() ? "  (no address)"
                        : "  " + a.name + ", " + a.line1 + (a.line2.empty() ? "" : ", " + a.line2) +
                              ", " + a.postal_code + " " + a.city + ", " + a.country +
                              (a.phone.empty() ? "" : ", " + a.phone);
    }
    std::printf("%s\n", line.c_str());
  }
  return Status::Ok();
}

}  // namespace

void AddPartnerCommands(CLI::App& app, Context& ctx) {
  CLI::App* partner = app.add_subcommand("partner", "Commands for a partner site's manager");
  partner->require_subcommand(1);

  auto ia = std::make_shared<PartnerInitArgs>();
  CLI::App* init = partner->add_subcommand(
      "init", "Create a partner site in DIR: configuration and keys (standalone until enrolled)");
  init->add_option("DIR", ia->dir, "The new site's data directory")->required();
  init->add_option("--id", ia->id, "The partner id, e.g. shop-a (lower-case, digits, '-')")
      ->required();
  init->add_option("--name", ia->name, "The shop's name, shown on its pages");
  init->add_option("--region", ia->region, "The shop's region, a template variable");
  init->add_option("--public", ia->public_addr, "host:port of the public HTTP port")
      ->capture_default_str();
  init->add_option("--sync", ia->sync_addr, "host:port of the sync port (mutual TLS)")
      ->capture_default_str();
  init->add_option("--approval", ia->approval,
                   "auto: updates activate at once; manager: they wait for your approval")
      ->check(CLI::IsMember({"auto", "manager"}))
      ->capture_default_str();
  AddShopLocaleOptions(*init, &ia->currency, &ia->time_zone, &ia->locale);
  init->add_option("--console", ia->console_addr,
                   "host:port of the manager's web console (default: 127.0.0.1, the public "
                   "port + 2000)");
  init->add_option("--manager", ia->manager,
                   "The first console manager's e-mail (a one-time link to set the password "
                   "is printed); default manager@ID.localhost; 'none': no manager yet");
  init->add_option("--main", ia->main_url, "Main's sync URL (https://HOST:PORT): enroll now");
  init->add_option("--token", ia->token, "The enrollment code from 'tieup main partner add'");
  init->add_flag("--no-starter-pages", ia->no_starter_pages,
                 "Do not make the starter pages (about us, contact, local specials under /local/)");
  init->footer(
      "Steps (the whole walk-through: docs/partner-guide.md):\n"
      "  1. The main site's manager adds the partnership and gives you the enrollment code it "
      "prints\n"
      "     (it works once, for 24 hours by default): tieup main partner add MAIN_DIR --id ID "
      "...\n"
      "  2. Make the site and enroll it in one go:\n"
      "       tieup partner init DIR --id ID --name \"Your shop\" --main https://MAIN:PORT "
      "--token CODE\n"
      "     (or make it now without --main/--token and enroll later: tieup partner enroll "
      "DIR ...)\n"
      "  3. Start it: tieup partner serve DIR; open the one-time link printed here to set your "
      "console\n"
      "     password. Replace the starter pages' words in [square brackets] (console: Your "
      "pages).\n"
      "If enrolling fails (a code that is wrong, expired or already used; main not reachable; "
      "another\n"
      "server answering at that address), no site is made: fix the cause (a new code comes from "
      "'tieup\n"
      "main partner token MAIN_DIR ID' on main) and run init again. In a folder that existed "
      "before, the\n"
      "site is made without enrolling: finish with 'tieup partner enroll'.");
  init->callback([&ctx, ia] { ctx.action = [&ctx, ia] { return PartnerInit(*ctx.env, *ia); }; });
  AddPartnerSyncCommands(*partner, ctx);
  AddManagerCommands(*partner, ctx, SiteRole::kPartner);

  auto dir = std::make_shared<std::string>();
  CLI::App* serve = partner->add_subcommand(
      "serve", "Run the partner site until Ctrl-C: public pages and, once enrolled, the sync port");
  serve->add_option("DIR", *dir, "The partner site's data directory")->required();
  serve->callback([&ctx, dir] {
    ctx.action = [&ctx, dir] { return ServeSite(*ctx.env, *dir, SiteRole::kPartner); };
  });

  CLI::App* customers = partner->add_subcommand(
      "customers",
      "List the customers whose data main lets this site keep, by the partnership's contract "
      "(main sends them and keeps them current; an erased account disappears)");
  customers->add_option("DIR", *dir, "The partner site's data directory")->required();
  customers->callback(
      [&ctx, dir] { ctx.action = [&ctx, dir] { return Customers(*ctx.env, *dir); }; });

  CLI::App* page = partner->add_subcommand(
      "page",
      "Manage original pages (works whether or not the daemon runs; a running daemon serves a "
      "change within a second)");
  page->require_subcommand(1);
  auto pa = std::make_shared<PageArgs>();
  CLI::App* put = page->add_subcommand(
      "put",
      "Put FILE at URL path PATH, or every file of a folder under PATH/ as one release (a .md "
      "file is Markdown, served at .html in the site's layout)");
  put->add_option("DIR", pa->dir, "The partner site's data directory")->required();
  put->add_option("PATH", pa->path, "URL path, e.g. /local/news.html (or /local/ for a folder)")
      ->required();
  put->add_option("FILE", pa->file, "A file, or a folder")->required();
  put->add_option("--type", pa->type, "Content-Type (default: from the file extension)");
  put->add_flag("--tieup", pa->tieup,
                "Emergency edit of one tie-up page: only when main grants it in the partnership "
                "('tieup main partner add --emergency-edit keep|overwrite'). An overlay over "
                "main's release, recorded and reported to main at once; main's next update "
                "keeps it (keep) or replaces it when it changes the page (overwrite)");
  put->callback([&ctx, pa] { ctx.action = [&ctx, pa] { return PagePut(*ctx.env, *pa); }; });

  CLI::App* rm = page->add_subcommand("rm", "Remove the original page at PATH");
  rm->add_option("DIR", pa->dir, "The partner site's data directory")->required();
  rm->add_option("PATH", pa->path, "URL path of the page")->required();
  rm->add_flag("--tieup", pa->tieup,
               "Emergency removal of a tie-up page: as 'page put --tieup' (granted by main, "
               "recorded, reported to main)");
  rm->callback([&ctx, pa] { ctx.action = [&ctx, pa] { return PageRm(*ctx.env, *pa); }; });

  CLI::App* revert = page->add_subcommand(
      "revert", "End the emergency edit of tie-up page PATH: main's page is served again");
  revert->add_option("DIR", pa->dir, "The partner site's data directory")->required();
  revert->add_option("PATH", pa->path, "URL path of the tie-up page")->required();
  revert->callback([&ctx, pa] { ctx.action = [&ctx, pa] { return PageRevert(*ctx.env, *pa); }; });

  CLI::App* ls = page->add_subcommand(
      "ls", "List every page served with its area (tieup or original; emergency edits included)");
  ls->add_option("DIR", pa->dir, "The partner site's data directory")->required();
  ls->callback([&ctx, pa] { ctx.action = [&ctx, pa] { return PageLs(*ctx.env, *pa); }; });
}

}  // namespace tieup::cli
