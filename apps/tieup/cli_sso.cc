// `tieup main sso-clients add|ls|rm`: the clients of main's OpenID Connect provider
// (users/oidc_provider.h) besides the partners (which register themselves over the sync channel
// at their first sign-in): another application of the operator that signs its users in with
// their network account. They open main's database directly: with or without the daemon.
#include <cstdio>

#include "cli.h"
#include "store/database.h"
#include "users/oidc_provider.h"

namespace tieup::cli {
namespace {

std::string Joined(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : " ") + s;
  return out.empty() ? "-" : out;
}

}  // namespace

void AddSsoCommands(CLI::App& app, Context& ctx) {
  CLI::App* main = app.get_subcommand("main");
  struct Args {
    std::string dir, id, name;
    std::vector<std::string> redirect_uris, post_logout_uris;
  };
  auto a = std::make_shared<Args>();
  CLI::App* clients = main->add_subcommand(
      "sso-clients",
      "Applications that sign customers in with their network account (OpenID Connect, at "
      "main's /.well-known/openid-configuration). Partners need no entry: they register at "
      "their first sign-in");
  clients->require_subcommand(1);

  CLI::App* add = clients->add_subcommand(
      "add", "Register a client (or replace one's URIs) and print its new secret, once");
  add->add_option("DIR", a->dir, "The main site's data directory")->required();
  add->add_option("--id", a->id, "The client id it will send (up to 128 characters, no ':')")
      ->required();
  add->add_option("--name", a->name, "Its name, shown on main's sign-in page (default: the id)");
  add->add_option("--redirect-uri", a->redirect_uris,
                  "Where main sends the customer back with a code (exact URL; repeatable)")
      ->required();
  add->add_option("--post-logout-uri", a->post_logout_uris,
                  "Where main may send the customer after signing out everywhere (repeatable)");
  add->callback([&ctx, a] {
    ctx.action = [&ctx, a]() -> Status {
      ASSIGN_OR_RETURN(auto db, OpenMainDb(*ctx.env, a->dir));
      ASSIGN_OR_RETURN(auto registry, users::OidcClients::Open(*ctx.env, *db));
      ASSIGN_OR_RETURN(std::string secret,
                       registry->Register({a->id, a->name, a->redirect_uris, a->post_logout_uris}));
      std::printf(
          "Registered client '%s'.\nClient secret (shown only now; `add` again makes a new "
          "one):\n%s\nAuthentication at the token endpoint: client_secret_basic or "
          "client_secret_post.\n",
          a->id.c_str(), secret.c_str());
      return Status::Ok();
    };
  });

  CLI::App* ls = clients->add_subcommand("ls", "List the clients (never their secrets)");
  ls->add_option("DIR", a->dir, "The main site's data directory")->required();
  ls->callback([&ctx, a] {
    ctx.action = [&ctx, a]() -> Status {
      ASSIGN_OR_RETURN(auto db, OpenMainDb(*ctx.env, a->dir));
      ASSIGN_OR_RETURN(auto registry, users::OidcClients::Open(*ctx.env, *db));
      ASSIGN_OR_RETURN(std::vector<users::OidcClient> list, registry->List());
      if (list.empty()) {
        std::printf("No single sign-on clients yet.\n");
        return Status::Ok();
      }
      for (const users::OidcClient& c : list) {
        std::printf("%s (%s)\n  redirect: %s\n  after sign-out: %s\n", c.id.c_str(), c.name.c_str(),
                    Joined(c.redirect_uris).c_str(), Joined(c.post_logout_redirect_uris).c_str());
      }
      return Status::Ok();
    };
  });

  CLI::App* rm = clients->add_subcommand(
      "rm", "Remove a client: its secret stops working (a partner registers again when asked)");
  rm->add_option("DIR", a->dir, "The main site's data directory")->required();
  rm->add_option("ID", a->id, "The client id")->required();
  rm->callback([&ctx, a] {
    ctx.action = [&ctx, a]() -> Status {
      ASSIGN_OR_RETURN(auto db, OpenMainDb(*ctx.env, a->dir));
      ASSIGN_OR_RETURN(auto registry, users::OidcClients::Open(*ctx.env, *db));
      RETURN_IF_ERROR(registry->Remove(a->id));
      std::printf("Removed client '%s'.\n", a->id.c_str());
      return Status::Ok();
    };
  });
}

}  // namespace tieup::cli
