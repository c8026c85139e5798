// `tieup main users ls|show|history|reset|export|disable|enable|delete`: the central user store
// (accounts registered at main, for main itself or through a partner). They open main's database
// directly: they work with or without the daemon.
#include <cstdio>

#include "base/encoding.h"
#include "cli.h"
#include "main_site/ledger_service.h"
#include "main_site/shop_service.h"
#include "main_site/users_service.h"
#include "store/database.h"

namespace tieup::cli {
namespace {

struct UsersSession {
  std::unique_ptr<Database> db;
  std::unique_ptr<users::UserStore> store;
};

Result<UsersSession> OpenUsers(Env& env, const std::string& dir) {
  // Accounts are kept by main only.
  ASSIGN_OR_RETURN(SiteConfig config, LoadSiteConfigFor(env, dir, SiteRole::kMain));
  UsersSession s;
  ASSIGN_OR_RETURN(s.db, OpenSiteDatabase(config, dir));
  ASSIGN_OR_RETURN(s.store, OpenMainUserStore(env, config, *s.db));
  return s;
}

std::string When(int64_t micros) { return FormatRfc3339(micros / 1'000'000); }

Status List(Env& env, const std::string& dir, const std::string& partner, int64_t limit) {
  ASSIGN_OR_RETURN(UsersSession s, OpenUsers(env, dir));
  users::UserFilter filter;
  if (!partner.empty()) filter.registered_via = partner;
  filter.limit = limit;
  ASSIGN_OR_RETURN(std::vector<users::User> list, s.store->List(filter));
  ASSIGN_OR_RETURN(
      int64_t total,
      s.store->Count(partner.empty() ? std::nullopt : std::optional<std::string_view>(partner)));
  if (list.empty()) {
    std::printf("No users%s.\n",
                partner.empty() ? "" : (" registered at '" + partner + "'").c_str());
    return Status::Ok();
  }
  std::printf("%-21s %-20s %-12s %-8s %s\n", "USER", "REGISTERED", "VIA", "AREA", "EMAIL (NAME)");
  for (const users::User& u : list) {
    std::printf("%-21s %-20s %-12s %-8s %s (%s)%s\n", u.id.c_str(),
                When(u.registered_at_micros).c_str(), u.registered_via.c_str(),
                std::string(users::UserAreaName(u.area)).c_str(), u.email.c_str(),
                u.display_name.c_str(), u.disabled_micros == 0 ? "" : " DISABLED");
  }
  std::printf("%zu of %lld user(s), newest first.\n", list.size(), static_cast<long long>(total));
  return Status::Ok();
}

Status Show(Env& env, const std::string& dir, const std::string& id) {
  ASSIGN_OR_RETURN(UsersSession s, OpenUsers(env, dir));
  ASSIGN_OR_RETURN(users::User u, s.store->Get(id));
  std::printf(
      "User:            %s\nEmail:           %s\nDisplay name:    %s\nRegistered:      %s\n"
      "Registered via:  %s\nArea:            %s\nState:           %s\n",
      u.id.c_str(), u.email.c_str(), u.display_name.c_str(), When(u.registered_at_micros).c_str(),
      u.registered_via.c_str(), std::string(users::UserAreaName(u.area)).c_str(),
      u.disabled_micros == 0 ? "active" : ("disabled since " + When(u.disabled_micros)).c_str());
  return Status::Ok();
}

// `users history DIR USER`: the user logs, the customer's visits across the network.
Status History(Env& env, const std::string& dir, const std::string& who, int64_t limit) {
  ASSIGN_OR_RETURN(UsersSession s, OpenUsers(env, dir));
  ASSIGN_OR_RETURN(users::User u,
                   who.starts_with("usr_") ? s.store->Get(who) : s.store->FindByEmail(who));
  ASSIGN_OR_RETURN(std::vector<LedgerVisit> visits, UserVisits(*s.db, u.id, limit));
  if (visits.empty()) {
    std::printf(
        "No visits of %s (%s) recorded: partners record them under the account only where the "
        "partnership allows it ('tieup main partner set DIR ID --user-logs') and, under "
        "'consent', the customer agreed on their account page; they reach main with the "
        "partners' ledgers.\n",
        u.email.c_str(), u.id.c_str());
    return Status::Ok();
  }
  std::printf("%-20s %-12s %-8s %-6s %s\n", "TIME", "PARTNER", "AREA", "STATUS", "REQUEST");
  for (const LedgerVisit& v : visits) {
    std::printf("%-20s %-12s %-8s %-6d %s %s\n", When(v.time_micros).c_str(), v.partner.c_str(),
                v.area.c_str(), v.status, v.method.c_str(), v.path.c_str());
  }
  std::printf("%zu visit(s) of %s, newest first.\n", visits.size(), u.email.c_str());
  return Status::Ok();
}

// `users disable|enable DIR USER`: USER is an email address or a user id (usr_...).
Status SetDisabled(Env& env, const std::string& dir, const std::string& who, bool disabled) {
  ASSIGN_OR_RETURN(UsersSession s, OpenUsers(env, dir));
  Result<users::User> found =
      who.starts_with("usr_") ? s.store->Get(who) : s.store->FindByEmail(who);
  if (!found.ok()) return found.status();
  ASSIGN_OR_RETURN(users::User u, s.store->SetDisabled(found->id, disabled));
  // Signed out at every partner too (the running daemon delivers the notices).
  if (disabled) RETURN_IF_ERROR(SignOutEverywhere(env, *s.db, u.id));
  std::printf(
      "%s %s (%s): %s\n", disabled ? "Disabled" : "Enabled", u.email.c_str(), u.id.c_str(),
      disabled ? "it can no longer sign in, at main or at any partner" : "it can sign in again");
  return Status::Ok();
}

// `users delete DIR USER --yes`: erasure on the customer's request (a letter, a call): as the
// customer's own "delete my account".
Status Delete(Env& env, const std::string& dir, const std::string& who, bool yes) {
  ASSIGN_OR_RETURN(SiteConfig config, LoadSiteConfigFor(env, dir, SiteRole::kMain));
  ASSIGN_OR_RETURN(UsersSession s, OpenUsers(env, dir));
  Result<users::User> found =
      who.starts_with("usr_") ? s.store->Get(who) : s.store->FindByEmail(who);
  if (!found.ok()) return found.status();
  if (!yes) {
    return Status::FailedPrecondition(
        "deleting " + found->email + " (" + found->id +
        ") cannot be undone: the account goes, it is signed out everywhere, and main's orders "
        "with its address lose the name, postal address, e-mail and phone. Add --yes to delete "
        "it");
  }
  ASSIGN_OR_RETURN(OpenedShop shop, OpenMainShop(env, dir, config, *s.db, NewNullLogger()));
  ASSIGN_OR_RETURN(int64_t orders, EraseAccount(env, *s.db, *s.store, *shop.shop, *found));
  std::printf(
      "Deleted %s (%s): signed out everywhere (partners are told by the running daemon), "
      "%lld order(s) at main without personal fields.\n",
      found->email.c_str(), found->id.c_str(), static_cast<long long>(orders));
  return Status::Ok();
}

// `users reset DIR USER`: the mail of "Forgot your password?", sent on the customer's request.
Status Reset(Env& env, const std::string& dir, const std::string& who) {
  ASSIGN_OR_RETURN(SiteConfig config, LoadSiteConfigFor(env, dir, SiteRole::kMain));
  ASSIGN_OR_RETURN(UsersSession s, OpenUsers(env, dir));
  ASSIGN_OR_RETURN(users::User u,
                   who.starts_with("usr_") ? s.store->Get(who) : s.store->FindByEmail(who));
  RETURN_IF_ERROR(MailPasswordReset(env, dir, config, *s.db, *s.store, u, *NewNullLogger()));
  std::printf(
      "Queued a mail to %s with a link to choose a new password (valid 30 minutes, works "
      "once); it leaves with main's other mail (%s/mail).\n",
      u.email.c_str(), dir.c_str());
  return Status::Ok();
}

// `users export DIR USER [--out FILE]`: the customer's "download my data", on their request.
Status Export(Env& env, const std::string& dir, const std::string& who, const std::string& out) {
  ASSIGN_OR_RETURN(SiteConfig config, LoadSiteConfigFor(env, dir, SiteRole::kMain));
  ASSIGN_OR_RETURN(UsersSession s, OpenUsers(env, dir));
  ASSIGN_OR_RETURN(users::User u,
                   who.starts_with("usr_") ? s.store->Get(who) : s.store->FindByEmail(who));
  ASSIGN_OR_RETURN(OpenedShop shop, OpenMainShop(env, dir, config, *s.db, NewNullLogger()));
  ASSIGN_OR_RETURN(std::string json, ExportAccountJson(env, *s.db, *shop.shop, u));
  if (out.empty()) {
    std::printf("%s\n", json.c_str());
    return Status::Ok();
  }
  // Personal data: owner-only.
  RETURN_IF_ERROR(WriteFileAtomic(env, out, json + "\n", 0600));
  std::printf("Wrote everything main holds about %s to %s (owner-only).\n", u.email.c_str(),
              out.c_str());
  return Status::Ok();
}

}  // namespace

void AddUsersCommands(CLI::App& app, Context& ctx) {
  CLI::App* main = app.get_subcommand("main");
  struct Args {
    std::string dir, partner, id, out;
    int64_t limit = 100;
    bool yes = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* users = main->add_subcommand(
      "users",
      "The central user store: every account of the network, registered on main's "
      "/account/register (for main itself or through a partner's \"Register\")");
  users->require_subcommand(1);
  CLI::App* ls = users->add_subcommand("ls", "List accounts, newest first");
  ls->add_option("DIR", a->dir, "The main site's data directory")->required();
  ls->add_option("--partner", a->partner,
                 "Only accounts registered at this partner (\"main\": on main's own pages)");
  ls->add_option("--limit", a->limit, "Show at most this many (default 100)")
      ->check(CLI::Range(int64_t{1}, int64_t{1000000}));
  ls->callback([&ctx, a] {
    ctx.action = [&ctx, a] { return List(*ctx.env, a->dir, a->partner, a->limit); };
  });
  CLI::App* show = users->add_subcommand("show", "Show one account (never its password)");
  show->add_option("DIR", a->dir, "The main site's data directory")->required();
  show->add_option("USER_ID", a->id, "The user id (usr_...), as 'users ls' lists it")->required();
  show->callback([&ctx, a] { ctx.action = [&ctx, a] { return Show(*ctx.env, a->dir, a->id); }; });
  CLI::App* reset = users->add_subcommand(
      "reset",
      "Mail the account a link to choose a new password (as \"Forgot your password?\"), on its "
      "owner's request");
  reset->add_option("DIR", a->dir, "The main site's data directory")->required();
  reset->add_option("USER", a->id, "The account's email address, or its id (usr_...)")->required();
  reset->callback([&ctx, a] { ctx.action = [&ctx, a] { return Reset(*ctx.env, a->dir, a->id); }; });
  CLI::App* exp = users->add_subcommand(
      "export",
      "Everything main holds about the account, as the JSON of its \"download my data\" (on its "
      "owner's request)");
  exp->add_option("DIR", a->dir, "The main site's data directory")->required();
  exp->add_option("USER", a->id, "The account's email address, or its id (usr_...)")->required();
  exp->add_option("--out", a->out, "Write it to this file (owner-only) instead of printing it");
  exp->callback(
      [&ctx, a] { ctx.action = [&ctx, a] { return Export(*ctx.env, a->dir, a->id, a->out); }; });
  CLI::App* history = users->add_subcommand(
      "history",
      "The account's visits across the network (the user logs), from the partners' verified "
      "ledgers, newest first");
  history->add_option("DIR", a->dir, "The main site's data directory")->required();
  history->add_option("USER", a->id, "The account's email address, or its id (usr_...)")
      ->required();
  history->add_option("--limit", a->limit, "Show at most this many (default 100)")
      ->check(CLI::Range(int64_t{1}, int64_t{10000}));
  history->callback(
      [&ctx, a] { ctx.action = [&ctx, a] { return History(*ctx.env, a->dir, a->id, a->limit); }; });
  for (bool disabled : {true, false}) {
    CLI::App* cmd = users->add_subcommand(
        disabled ? "disable" : "enable",
        disabled ? "Disable an account: it can no longer sign in (at main or at any partner)"
                 : "Enable a disabled account again");
    cmd->add_option("DIR", a->dir, "The main site's data directory")->required();
    cmd->add_option("USER", a->id, "The account's email address, or its id (usr_...)")->required();
    cmd->callback([&ctx, a, disabled] {
      ctx.action = [&ctx, a, disabled] { return SetDisabled(*ctx.env, a->dir, a->id, disabled); };
    });
  }
  CLI::App* del = users->add_subcommand(
      "delete",
      "Delete an account on its owner's request, as their own \"delete my account\": signed "
      "out everywhere, main's orders kept without the personal fields, the account gone");
  del->add_option("DIR", a->dir, "The main site's data directory")->required();
  del->add_option("USER", a->id, "The account's email address, or its id (usr_...)")->required();
  del->add_flag("--yes", a->yes, "Really delete (without it: what would happen, nothing done)");
  del->callback(
      [&ctx, a] { ctx.action = [&ctx, a] { return Delete(*ctx.env, a->dir, a->id, a->yes); }; });
}

}  // namespace tieup::cli
