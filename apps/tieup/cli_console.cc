// `tieup partner manager add|ls|rm|reset DIR ...` (and the same under `tieup main`): the
// accounts of the people who sign in to the site's web console (console/manager_store.h). They
// open the site's database directly, so they work whether or not the daemon runs; a removed or
// reset manager's sessions end at once.
#include <cstdio>

#include "base/time_format.h"
#include "cli.h"
#include "console/manager_store.h"
#include "console/sessions.h"
#include "store/database.h"

namespace tieup::cli {
namespace {

struct ManagerArgs {
  std::string dir, email, name;
};

struct ManagerSession {
  SiteConfig config;
  std::unique_ptr<Database> db;
  std::unique_ptr<console::ManagerStore> managers;
  std::unique_ptr<console::SessionStore> sessions;
};

Result<ManagerSession> OpenManagers(Env& env, const std::string& dir, SiteRole role) {
  ManagerSession s;
  ASSIGN_OR_RETURN(s.config, LoadSiteConfigFor(env, dir, role));
  ASSIGN_OR_RETURN(s.db, OpenSiteDatabase(s.config, dir));
  ASSIGN_OR_RETURN(s.managers, console::ManagerStore::Open(env, *s.db));
  ASSIGN_OR_RETURN(s.sessions, console::SessionStore::Open(env, *s.db));
  return s;
}

void PrintSetupLink(const SiteConfig& config, SiteRole role, const std::string& dir,
                    const std::string& email, const std::string& token) {
  const std::string path = "/set-password?token=" + token;
  std::printf("One-time link for %s to set a password (valid 7 days, single use):\n",
              email.c_str());
  if (config.console_address.port != 0) {
    const bool https = !config.console_tls_certificate.empty();
    std::printf("  %s://%s%s\n", https ? "https" : "http",
                config.console_address.ToString().c_str(), path.c_str());
  } else {
    std::printf("  %s   (on the console's address, which 'tieup %s serve %s' prints)\n",
                path.c_str(), role == SiteRole::kMain ? "main" : "partner", dir.c_str());
  }
  std::printf("Give it only to %s; anyone holding it can set the password.\n", email.c_str());
}

Status ManagerAdd(Env& env, const ManagerArgs& a, SiteRole role) {
  ASSIGN_OR_RETURN(ManagerSession s, OpenManagers(env, a.dir, role));
  ASSIGN_OR_RETURN(std::string token, s.managers->Add(a.email, a.name));
  std::printf("Added console manager %s.\n", a.email.c_str());
  PrintSetupLink(s.config, role, a.dir, a.email, token);
  return Status::Ok();
}

Status ManagerList(Env& env, const ManagerArgs& a, SiteRole role) {
  ASSIGN_OR_RETURN(ManagerSession s, OpenManagers(env, a.dir, role));
  ASSIGN_OR_RETURN(auto list, s.managers->List());
  if (list.empty()) {
    std::printf("No console managers. Add one: tieup %s manager add %s --email YOU@EXAMPLE.COM\n",
                role == SiteRole::kMain ? "main" : "partner", a.dir.c_str());
    return Status::Ok();
  }
  std::printf("%-32s %-20s %-10s %s\n", "E-MAIL", "NAME", "PASSWORD", "LAST SIGN-IN");
  for (const console::Manager& m : list) {
    std::printf(
        "%-32s %-20s %-10s %s\n", m.email.c_str(), m.name.c_str(),
        m.password_set ? "set" : "not yet",
        m.last_login_micros == 0
            ? "never"
            : FormatDateTime(m.last_login_micros, s.config.time_zone, s.config.locale).c_str());
  }
  return Status::Ok();
}

Status ManagerRemove(Env& env, const ManagerArgs& a, SiteRole role) {
  ASSIGN_OR_RETURN(ManagerSession s, OpenManagers(env, a.dir, role));
  RETURN_IF_ERROR(s.managers->Remove(a.email));
  RETURN_IF_ERROR(s.sessions->EndAllFor(a.email));
  std::printf("Removed console manager %s; their sessions ended.\n", a.email.c_str());
  return Status::Ok();
}

Status ManagerReset(Env& env, const ManagerArgs& a, SiteRole role) {
  ASSIGN_OR_RETURN(ManagerSession s, OpenManagers(env, a.dir, role));
  ASSIGN_OR_RETURN(std::string token, s.managers->Reset(a.email));
  RETURN_IF_ERROR(s.sessions->EndAllFor(a.email));
  std::printf("The password of %s no longer works; their sessions ended.\n", a.email.c_str());
  PrintSetupLink(s.config, role, a.dir, a.email, token);
  return Status::Ok();
}

}  // namespace

Status CreateFirstManager(Env& env, const std::string& dir, SiteRole role,
                          const std::string& email) {
  ManagerArgs a;
  a.dir = dir;
  a.email = email;
  return ManagerAdd(env, a, role);
}

void AddManagerCommands(CLI::App& site, Context& ctx, SiteRole role) {
  const std::string who = role == SiteRole::kMain ? "main" : "partner";
  CLI::App* manager = site.add_subcommand(
      "manager", "The people who sign in to the site's web console (" + who + " manager)");
  manager->require_subcommand(1);
  auto a = std::make_shared<ManagerArgs>();
  auto bind = [&ctx, a, role](CLI::App* cmd, Status (*fn)(Env&, const ManagerArgs&, SiteRole)) {
    cmd->add_option("DIR", a->dir, "The site's data directory")->required();
    cmd->callback([&ctx, a, role, fn] {
      ctx.action = [&ctx, a, role, fn] { return fn(*ctx.env, *a, role); };
    });
  };
  CLI::App* add = manager->add_subcommand(
      "add", "Add a manager; prints a one-time link where they set their password");
  bind(add, ManagerAdd);
  add->add_option("--email", a->email, "Their e-mail address (they sign in with it)")->required();
  add->add_option("--name", a->name, "Their name, shown in the console's audit log");
  CLI::App* ls = manager->add_subcommand("ls", "List the managers and their last sign-in");
  bind(ls, ManagerList);
  CLI::App* rm = manager->add_subcommand("rm", "Remove a manager (ends their sessions)");
  bind(rm, ManagerRemove);
  rm->add_option("--email", a->email, "The manager to remove")->required();
  CLI::App* reset = manager->add_subcommand(
      "reset", "Void a manager's password and print a new one-time link to set one");
  bind(reset, ManagerReset);
  reset->add_option("--email", a->email, "The manager")->required();
}

}  // namespace tieup::cli
