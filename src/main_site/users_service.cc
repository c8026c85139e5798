#include "main_site/users_service.h"

#include <algorithm>
#include <boost/json.hpp>
#include <map>

#include "base/encoding.h"
#include "base/money_format.h"
#include "commerce/mail.h"
#include "commerce/shop.h"
#include "commerce/shop_pages.h"
#include "commerce/wire.h"
#include "crypto/jose.h"
#include "main_site/customer_copies.h"
#include "main_site/ledger_service.h"
#include "main_site/main_daemon.h"
#include "main_site/main_sync.h"
#include "main_site/partner_orders.h"
#include "main_site/recommendation_feed.h"
#include "main_site/shop_service.h"
#include "main_site/signed_requests.h"
#include "site/browser_headers.h"
#include "sync/http_api.h"
#include "sync/partnership_terms.h"
#include "sync/publisher.h"
#include "users/account_pages.h"
#include "users/email_change.h"
#include "users/form_checks.h"
#include "users/oidc_provider.h"
#include "users/password_reset.h"
#include "users/recommendations.h"
#include "users/registration.h"
#include "users/wire.h"

namespace tieup {
namespace {

// The proof kept for every verified request: not its body, signature or digest (see the header).
constexpr std::string_view kKeptColumns =
    "  certificate TEXT NOT NULL,\n  email TEXT NOT NULL,\n  outcome TEXT NOT NULL";

// Main's own account pages: straight to the store.
Status MigrateMainUsers(Database& db) {
  return Migrate(
      db, "main_users",
      {{1, SignedRequestsTableSql("users_signed_requests", kKeptColumns)},
       // Customers who signed out everywhere, to tell each partner they signed in to
       // (DeliverLogoutNotices).
       {2,
        "CREATE TABLE sso_logout_notices (user_id TEXT NOT NULL, partner TEXT NOT "
        "NULL, created_at INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, "
        "PRIMARY KEY (user_id, partner))"},
       // The generation of each customer's last sign-out everywhere (QueueLogoutNotices),
       // told to partners in ID tokens and notices (users/wire.h LogoutNotice).
       {3,
        "CREATE TABLE sso_signed_out (user_id TEXT PRIMARY KEY, generation INTEGER NOT "
        "NULL)"}});
}

// The generation of `user_id`'s last sign-out everywhere; 0 when none (or unreadable: the ID
// token then leaves it out, and a late notice may end the new session, as before).
int64_t SignedOutGeneration(Database& db, const std::string& user_id) {
  auto rows = db.Query("SELECT generation FROM sso_signed_out WHERE user_id = ?", {user_id});
  return rows.ok() && !rows->empty() ? rows->front().Int(0) : 0;
}

// Records a new sign-out everywhere of `user_id` (its generation: main's clock in microseconds,
// above the last one even if the clock went back) and keeps a notice of it for each of `clients`
// (non-partners are dropped at delivery). A notice's created_at is that generation.
Status QueueLogoutNotices(Env& env, Database& db, const std::string& user_id,
                          const std::vector<std::string>& clients) {
  return db.Transaction([&](Database& tx) -> Status {
    const int64_t generation = std::max(env.NowMicros(), SignedOutGeneration(tx, user_id) + 1);
    RETURN_IF_ERROR(
        tx.Exec("INSERT INTO sso_signed_out (user_id, generation) VALUES (?, ?) "
                "ON CONFLICT (user_id) DO UPDATE SET generation = excluded.generation",
                {user_id, generation}));
    for (const std::string& client : clients) {
      RETURN_IF_ERROR(
          tx.Exec("INSERT INTO sso_logout_notices (user_id, partner, created_at) VALUES (?, ?, ?) "
                  "ON CONFLICT (user_id, partner) DO UPDATE SET created_at = excluded.created_at",
                  {user_id, client, generation}));
    }
    return Status::Ok();
  });
}

class LocalAccounts : public users::AccountBackend {
 public:
  // What managing an account needs besides the store (set before serving).
  struct Extras {
    // Told after a password change (signs the customer out everywhere).
    std::function<void(const users::User&)> password_changed;
    // Everything held about `user`, as JSON (ExportAccountJson).
    std::function<Result<std::string>(const users::User& user)> export_json;
    // Erases `user`'s account (EraseAccount).
    std::function<Status(const users::User& user)> erase;
    // Told when the customer withdraws the consent to user logs.
    std::function<void(const users::User&)> visits_withdrawn;
  };

  LocalAccounts(std::shared_ptr<users::UserStore> store, Extras extras)
      : store_(std::move(store)), extras_(std::move(extras)) {}

  Result<users::LoginReply> Login(const users::LoginRequest& r) override {
    ASSIGN_OR_RETURN(users::User user, store_->CheckLogin(r.email, r.password));
    return users::LoginReply{user.id, user.display_name};
  }

  Result<users::User> Account(std::string_view user_id) override { return store_->Get(user_id); }

  Result<users::User> Rename(std::string_view user_id, std::string_view name) override {
    return store_->SetDisplayName(user_id, name);
  }

  Result<users::User> SetAddress(std::string_view user_id,
                                 const users::PostalAddress& address) override {
    return store_->SetAddress(user_id, address);
  }

  Result<users::User> SetMarketingConsent(std::string_view user_id, bool consent) override {
    return store_->SetMarketingConsent(user_id, consent);
  }

  Result<users::User> SetVisitsConsent(std::string_view user_id, bool consent) override {
    ASSIGN_OR_RETURN(users::User before, store_->Get(user_id));
    ASSIGN_OR_RETURN(users::User after, store_->SetVisitsConsent(user_id, consent));
    // Withdrawn: the shops' sessions end, so that the next sign-in there carries the new answer.
    if (before.visits_consent_micros != 0 && !consent && extras_.visits_withdrawn) {
      extras_.visits_withdrawn(after);
    }
    return after;
  }

  Status ChangePassword(std::string_view user_id, std::string_view current,
                        std::string_view next) override {
    ASSIGN_OR_RETURN(users::User user, store_->Get(user_id));
    RETURN_IF_ERROR(users::CheckPasswordPolicy(next));
    RETURN_IF_ERROR(store_->CheckLogin(user.email, current).status());
    ASSIGN_OR_RETURN(user, store_->SetPassword(user.id, next));
    if (extras_.password_changed) extras_.password_changed(user);
    return Status::Ok();
  }

  Status DeleteAccount(std::string_view user_id, std::string_view current) override {
    if (!extras_.erase) return Status::Unimplemented("erasure is not set up");
    ASSIGN_OR_RETURN(users::User user, store_->Get(user_id));
    RETURN_IF_ERROR(store_->CheckLogin(user.email, current).status());
    return extras_.erase(user);
  }

  Result<std::string> ExportJson(std::string_view user_id) override {
    if (!extras_.export_json) return Status::Unimplemented("the data download is not set up");
    ASSIGN_OR_RETURN(users::User user, store_->Get(user_id));
    return extras_.export_json(user);
  }

 private:
  std::shared_ptr<users::UserStore> store_;
  const Extras extras_;
};

}  // namespace

Result<std::unique_ptr<users::UserStore>> OpenMainUserStore(
    Env& env, const SiteConfig& config, Database& db,
    std::function<void(const users::User&, int64_t)> throttled) {
  users::UserStoreOptions options;
  options.throttled = std::move(throttled);
  auto setting = config.variables.find("users.password_hashing");
  if (setting != config.variables.end()) {
    ASSIGN_OR_RETURN(options.cost, users::PasswordHashCost::FromName(setting->second));
  }
  return users::UserStore::Open(env, db, options);
}

Result<std::function<std::optional<commerce::Customer>(const HttpRequest&)>> MainKnownCustomer(
    Env& env, const SiteConfig& config, Database& db) {
  ASSIGN_OR_RETURN(std::shared_ptr<users::SessionStore> sessions,
                   users::OpenCustomerSessions(env, db));
  ASSIGN_OR_RETURN(std::shared_ptr<users::UserStore> accounts, OpenMainUserStore(env, config, db));
  const bool https = config.public_url.starts_with("https://");
  std::function<std::optional<commerce::Customer>(const HttpRequest&)> known =
      [sessions, accounts, https](const HttpRequest& request) -> std::optional<commerce::Customer> {
    std::optional<users::Session> session =
        users::SessionOf(sessions.get(), request, https, users::kMainSessionCookie);
    if (!session) return std::nullopt;
    Result<users::User> user = accounts->Get(session->subject);
    if (!user.ok()) return std::nullopt;
    const users::PostalAddress& a = user->address;
    return commerce::Customer{a.name.empty() ? user->display_name : a.name,
                              a.line1,
                              a.line2,
                              a.postal_code,
                              a.city,
                              a.country,
                              user->email,
                              a.phone};
  };
  return known;
}

class MainUsersEndpoints::Impl {
 public:
  Impl(Env& env, Database& db, std::unique_ptr<PartnerRequestVerifier> verifier,
       std::shared_ptr<Logger> logger, SsoRegistrar sso)
      : env_(env),
        db_(db),
        verifier_(std::move(verifier)),
        logger_(std::move(logger)),
        sso_(std::move(sso)) {}

  HttpResponse Handle(const HttpRequest& request) {
    if (request.path() != "/v1/users/sso-client") {
      return sync::ErrorResponse(
          Status::NotFound("no user endpoint " + std::string(request.path())));
    }
    if (request.method() != "POST") {
      return sync::ErrorResponse(
          Status::InvalidArgument(std::string(request.path()) + " takes POST"));
    }
    if (request.body().size() > users::kMaxUserJsonBytes) {
      return sync::ErrorResponse(Status::ResourceExhausted(
          "the body is larger than " + std::to_string(users::kMaxUserJsonBytes) + " bytes"));
    }
    Result<SignedPartnerRequest> proof = verifier_->Verify(request);
    if (!proof.ok()) {
      logger_->warn("refused a signed {} from '{}': {}", request.path(), request.peer_site_id(),
                    proof.status().message());
      return sync::ErrorResponse(proof.status());
    }
    return SsoClient(request, *proof);
  }

 private:
  HttpResponse SsoClient(const HttpRequest& request, const SignedPartnerRequest& proof) {
    if (!sso_) {
      return Kept(request, proof, "no single sign-on",
                  sync::ErrorResponse(Status::Unimplemented("main offers no single sign-on")));
    }
    Result<users::SsoClientGrant> grant = sso_(proof.partner);
    if (!grant.ok()) {
      logger_->warn("single sign-on for partner '{}': {}", proof.partner, grant.status().message());
      return Kept(request, proof, "sso refused: " + grant.status().message(),
                  sync::ErrorResponse(grant.status()));
    }
    logger_->info("partner '{}' registered for single sign-on (new client secret)", proof.partner);
    // The secret is in the reply only: the kept row says what happened, not the secret.
    return Kept(request, proof, "sso client registered",
                SyncJsonReply(200, users::SsoClientGrantToJson(*grant)));
  }

  // Keeps the verified request (never the secret: see the header) and returns `reply`. (The
  // table's email column is from the forwarded registrations of before: empty now.)
  HttpResponse Kept(const HttpRequest& request, const SignedPartnerRequest& proof,
                    std::string outcome, HttpResponse reply) {
    Status s = db_.Exec(
        "INSERT INTO users_signed_requests(at, partner, nonce, method, target, certificate, "
        "email, outcome) VALUES(?,?,?,?,?,?,?,?)",
        {env_.NowSeconds(), proof.partner, proof.nonce, std::string(request.method()),
         std::string(request.target()), proof.certificate_b64, std::string(), std::move(outcome)});
    if (!s.ok()) logger_->error("keeping a signed user request: {}", s.message());
    return reply;
  }

  Env& env_;
  Database& db_;
  const std::unique_ptr<PartnerRequestVerifier> verifier_;
  std::shared_ptr<Logger> logger_;
  const SsoRegistrar sso_;
};

MainUsersEndpoints::MainUsersEndpoints(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
MainUsersEndpoints::~MainUsersEndpoints() = default;

Result<std::unique_ptr<MainUsersEndpoints>> MainUsersEndpoints::Create(
    Env& env, const std::string& site_dir, Database& db, std::shared_ptr<Logger> logger,
    SsoRegistrar sso) {
  RETURN_IF_ERROR(MigrateMainUsers(db));
  ASSIGN_OR_RETURN(std::unique_ptr<PartnerRequestVerifier> verifier,
                   PartnerRequestVerifier::Create(env, site_dir, db));
  return std::unique_ptr<MainUsersEndpoints>(new MainUsersEndpoints(std::make_unique<Impl>(
      env, db, std::move(verifier), logger ? logger : NewNullLogger(), std::move(sso))));
}

HttpResponse MainUsersEndpoints::Handle(const HttpRequest& request) {
  return impl_->Handle(request);
}

std::string IssuerOf(const SiteConfig& config) {
  std::string issuer = config.public_url;
  if (issuer.empty()) issuer = "http://" + config.public_address.ToString();
  while (issuer.ends_with("/")) issuer.pop_back();
  return issuer;
}

Result<std::string> AccountMailSender(const SiteConfig& config) {
  for (const char* key : {"users.mail_from", "shop.mail_from"}) {
    auto it = config.variables.find(key);
    if (it != config.variables.end() && !it->second.empty()) {
      RETURN_IF_ERROR(commerce::ValidateEmailAddress(it->second)
                          .Annotate(std::string("site.toml [variables] ") + key));
      return it->second;
    }
  }
  return std::string("no-reply@localhost.localdomain");
}

namespace {

// Notices older than this are dropped undelivered: every partner session has ended by then
// (users/sessions.h: 12 hours at most).
constexpr int64_t kLogoutNoticeMaxAgeMicros = 13LL * 3600 * 1'000'000;

// Tells each partner with a waiting notice that the customer signed out everywhere (POST
// /v1/users/logout on its sync port). Delivered notices go; failed ones are tried again at the
// next tick, until they are too old. Runs on the daemon's background thread.
void DeliverLogoutNotices(MainDaemon& daemon) {
  Database& db = daemon.db();
  auto rows = db.Query(
      "SELECT user_id, partner, created_at FROM sso_logout_notices ORDER BY created_at LIMIT 100");
  if (!rows.ok() || rows->empty()) return;
  const int64_t now = daemon.env().NowMicros();
  for (const SqlRow& row : *rows) {
    const std::string user = row.Text(0), partner = row.Text(1);
    auto done = [&] {
      (void)db.Exec("DELETE FROM sso_logout_notices WHERE user_id = ? AND partner = ?",
                    {user, partner});
    };
    if (!daemon.sync().publisher().GetPartnership(partner).ok()) {
      done();  // another kind of client (tieup main sso-clients): no back channel
      continue;
    }
    if (now - row.Int(2) > kLogoutNoticeMaxAgeMicros) {
      daemon.logger()->warn("single sign-on: gave up telling '{}' that {} signed out", partner,
                            user);
      done();
      continue;
    }
    auto trip = daemon.sync().ConnectToPartner(partner, std::chrono::seconds(10));
    Status sent = trip.status();
    if (trip.ok()) {
      HttpRequest req("POST", "/v1/users/logout");
      req.AddHeader("Content-Type", "application/json");
      req.SetBody(users::LogoutNoticeToJson({user, row.Int(2)}));
      auto r = (*trip)(req);
      sent = r.ok() ? sync::StatusFromResponse(*r) : r.status();
    }
    if (sent.ok()) {
      done();
    } else {
      (void)db.Exec(
          "UPDATE sso_logout_notices SET attempts = attempts + 1 WHERE user_id = ? AND partner = ?",
          {user, partner});
      daemon.logger()->warn("single sign-on: telling '{}' that {} signed out: {}", partner, user,
                            sent.message());
    }
  }
}

// The sender of account mail: [variables] users.mail_from, else shop.mail_from, else a
// no-reply address (set one of them before relaying mail to the world).

// Queues `m` in main's outbox and logs that it did (`what`: never a secret such as a link).
Status QueueAccountMail(commerce::MailOutbox& outbox, Logger& logger, commerce::MailMessage m,
                        const std::string& what) {
  auto queued = outbox.Enqueue(std::move(m));
  if (!queued.ok()) {
    logger.error("users: the {} could not be queued: {}", what, queued.status().message());
    return queued.status();
  }
  logger.info("users: {} queued ({})", what, *queued);
  return Status::Ok();
}

// The password reset mail with `link` (a secret: never logged).
commerce::MailMessage ResetMail(const std::string& name, const std::string& sender,
                                const users::User& user, const std::string& link) {
  commerce::MailMessage m;
  m.from = {name, sender};
  m.to = {{user.display_name, user.email}};
  m.subject = "Choose a new password for " + name;
  m.body = "Hello " + user.display_name + ",\n\nsomeone (we hope you) asked to choose a new " +
           "password for your account at " + name + ". Open this link within 30 minutes:\n\n" +
           link + "\n\nThe link works once. If you did not ask, ignore this mail: your " +
           "password stays as it is.\n\n" + name + "\n";
  return m;
}

// A partnership's public URL without a trailing slash.
Result<std::string> PartnerBaseUrl(MainDaemon& daemon, const std::string& partner) {
  ASSIGN_OR_RETURN(sync::Partnership p, daemon.sync().publisher().GetPartnership(partner));
  std::string base = p.public_url;
  while (base.ends_with("/")) base.pop_back();
  if (base.empty()) {
    return Status::FailedPrecondition(
        "the partnership '" + partner +
        "' has no public URL, so main cannot send signed-in customers back to it; set it with "
        "`tieup main partners set " +
        partner + " --public-url URL`");
  }
  return base;
}

}  // namespace

Status SignOutEverywhere(Env& env, Database& db, std::string_view user_id) {
  RETURN_IF_ERROR(users::MigrateCustomerSessions(db));
  RETURN_IF_ERROR(users::OidcClients::Open(env, db).status());  // the provider's tables
  RETURN_IF_ERROR(MigrateMainUsers(db));
  const std::string id(user_id);
  return db.Transaction([&](Database& tx) -> Status {
    RETURN_IF_ERROR(tx.Exec("DELETE FROM customer_sessions WHERE subject_key = ?", {id}));
    ASSIGN_OR_RETURN(auto rows,
                     tx.Query("SELECT client_id FROM oidc_signins WHERE user_id = ?", {id}));
    std::vector<std::string> clients;
    for (const SqlRow& row : rows) clients.push_back(row.Text(0));
    RETURN_IF_ERROR(tx.Exec("DELETE FROM oidc_signins WHERE user_id = ?", {id}));
    RETURN_IF_ERROR(tx.Exec("DELETE FROM oidc_access_tokens WHERE user_id = ?", {id}));
    RETURN_IF_ERROR(tx.Exec("DELETE FROM oidc_codes WHERE user_id = ?", {id}));
    return QueueLogoutNotices(env, tx, id, clients);
  });
}

Status EndPartnerSessions(Env& env, Database& db, std::string_view user_id) {
  RETURN_IF_ERROR(users::OidcClients::Open(env, db).status());  // the provider's tables
  RETURN_IF_ERROR(MigrateMainUsers(db));
  const std::string id(user_id);
  ASSIGN_OR_RETURN(auto rows,
                   db.Query("SELECT client_id FROM oidc_signins WHERE user_id = ?", {id}));
  std::vector<std::string> clients;
  for (const SqlRow& row : rows) clients.push_back(row.Text(0));
  return QueueLogoutNotices(env, db, id, clients);
}

Status MailPasswordReset(Env& env, const std::string& site_dir, const SiteConfig& config,
                         Database& db, users::UserStore& store, const users::User& user,
                         Logger& logger) {
  ASSIGN_OR_RETURN(auto resets, users::PasswordResets::Open(env, db, store));
  ASSIGN_OR_RETURN(std::optional<users::PasswordResets::Issued> issued,
                   resets->Request(user.email));
  if (!issued) {
    return Status::FailedPrecondition(
        "no reset mail for " + user.email + ": the account is disabled, or it was sent " +
        std::to_string(users::kMaxResetsPerHour) + " links in the last hour (try again later)");
  }
  ASSIGN_OR_RETURN(std::string sender, AccountMailSender(config));
  commerce::MailOutbox outbox(env, site_dir + "/mail");
  RETURN_IF_ERROR(outbox.Init());
  const std::string name = config.name.empty() ? config.id : config.name;
  const std::string link = IssuerOf(config) + std::string(users::kPasswordResetPrefix) +
                           "/confirm?token=" + issued->token;
  return QueueAccountMail(outbox, logger, ResetMail(name, sender, issued->user, link),
                          "password reset mail for " + user.id + " (sent by a manager)");
}

Result<std::string> ExportAccountJson(Env& env, Database& db, commerce::Shop& shop,
                                      const users::User& u, const PartnerOrders* at_partners) {
  namespace json = boost::json;
  auto when = [](int64_t micros) { return FormatRfc3339(micros / 1'000'000); };
  json::object account{
      {"id", u.id},
      {"email", u.email},
      {"display_name", u.display_name},
      {"registered_at", when(u.registered_at_micros)},
      {"registered_via", u.registered_via},
      {"area", users::UserAreaName(u.area)},
      {"disabled_at",
       u.disabled_micros == 0 ? json::value(nullptr) : json::value(when(u.disabled_micros))},
      {"postal_address", u.address.empty()
                             ? json::value(nullptr)
                             : json::value(json::object{{"name", u.address.name},
                                                        {"line1", u.address.line1},
                                                        {"line2", u.address.line2},
                                                        {"postal_code", u.address.postal_code},
                                                        {"city", u.address.city},
                                                        {"country", u.address.country},
                                                        {"phone", u.address.phone}})},
      {"news_by_mail_since", u.marketing_consent_micros == 0
                                 ? json::value(nullptr)
                                 : json::value(when(u.marketing_consent_micros))},
      {"visits_recorded_since",
       u.visits_consent_micros == 0 ? json::value(nullptr)
                                    : json::value(when(u.visits_consent_micros))}};
  json::array sign_ins;
  {
    ASSIGN_OR_RETURN(std::unique_ptr<users::OidcClients> clients,
                     users::OidcClients::Open(env, db));
    ASSIGN_OR_RETURN(auto list, clients->SignIns(u.id));
    for (const auto& [client, at] : list) {
      sign_ins.push_back(json::object{{"site", client}, {"last_sign_in", when(at)}});
    }
  }
  json::array orders;
  {
    commerce::Shop::OrderFilter f;
    f.customer_email = u.email;
    f.limit = 10000;
    ASSIGN_OR_RETURN(std::vector<commerce::Order> list, shop.ListOrders(f));
    for (const commerce::Order& o : list) {
      json::array lines;
      for (const commerce::OrderLine& l : o.lines) {
        lines.push_back(json::object{{"sku", l.sku},
                                     {"title", l.title},
                                     {"quantity", l.quantity},
                                     {"line_total_minor", l.line_total_minor}});
      }
      orders.push_back(json::object{{"number", o.number},
                                    {"placed_at", when(o.created_micros)},
                                    {"through", o.channel},
                                    {"status", commerce::OrderStatusName(o.status)},
                                    {"currency", o.currency},
                                    {"total_minor", o.totals.total_minor},
                                    {"lines", std::move(lines)},
                                    {"customer", commerce::CustomerToJson(o.customer)}});
    }
  }
  json::array copies;
  {
    ASSIGN_OR_RETURN(auto list, CopiesOf(db, u.id));
    for (const auto& [partner, fields] : list) {
      json::array names;
      for (const std::string& f : fields) names.push_back(json::string(f));
      copies.push_back(json::object{{"site", partner}, {"fields", std::move(names)}});
    }
  }
  json::object out{{"exported_at", when(env.NowMicros())},
                   {"account", std::move(account)},
                   {"signed_in_through_main", std::move(sign_ins)},
                   {"orders_at_main", std::move(orders)},
                   {"copies_kept_by_partners", std::move(copies)}};
  if (at_partners != nullptr) {
    json::array list;
    for (const commerce::OrderSummary& o : at_partners->orders) {
      list.push_back(json::object{{"site", o.at},
                                  {"number", o.number},
                                  {"placed_at", when(o.placed_micros)},
                                  {"status", o.status},
                                  {"total", o.total},
                                  {"status_page", o.href}});
    }
    out["orders_at_partners"] = std::move(list);
    json::array missing;
    for (const std::string& name : at_partners->not_answered) missing.push_back(json::string(name));
    for (const auto& [name, url] : at_partners->elsewhere) missing.push_back(json::string(name));
    if (!missing.empty()) {
      out["orders_not_included_from"] = std::move(missing);
      out["not_included"] =
          "the orders at the sites in orders_not_included_from: they did not answer now, or "
          "main cannot reach them (see their own account pages); deleting the account removes "
          "your name and address from them too";
    }
  } else {
    out["not_included"] =
        "orders a partner handled on its own are kept by that partner (the account page and the "
        "download from it list them; deleting the account removes your name and address from "
        "them at every partner you signed in to)";
  }
  return json::serialize(out);
}

Result<int64_t> EraseAccount(Env& env, Database& db, users::UserStore& store, commerce::Shop& shop,
                             const users::User& user) {
  // The partners that may hold data of the account are told (before its sign-ins are forgotten).
  RETURN_IF_ERROR(QueueCopyErasures(db, user, env.NowSeconds()));
  RETURN_IF_ERROR(SignOutEverywhere(env, db, user.id));
  {
    ASSIGN_OR_RETURN(std::unique_ptr<users::OidcClients> clients,
                     users::OidcClients::Open(env, db));
    RETURN_IF_ERROR(clients->ForgetUser(user.id));
  }
  ASSIGN_OR_RETURN(int64_t orders, shop.EraseCustomer(user.email));
  ASSIGN_OR_RETURN(auto resets, users::PasswordResets::Open(env, db, store));
  RETURN_IF_ERROR(resets->Forget(user.id));
  ASSIGN_OR_RETURN(auto registrations, users::PendingRegistrations::Open(env, db, store));
  RETURN_IF_ERROR(registrations->Forget(user.id, user.email));
  ASSIGN_OR_RETURN(auto changes, users::EmailChanges::Open(env, db, store));
  RETURN_IF_ERROR(changes->Forget(user.id));
  RETURN_IF_ERROR(ForgetUserVisits(db, user.id));
  RETURN_IF_ERROR(store.Erase(user.id).status());
  return orders;
}

Status AttachUsers(MainDaemon& daemon) {
  const SiteConfig& config = daemon.site().config();
  const std::string site_name = config.name.empty() ? config.id : config.name;
  // Account mail goes through the site's mail outbox (SITE_DIR/mail, delivered with the shop's
  // mail when shop.smtp_host is set).
  auto outbox =
      std::make_shared<commerce::MailOutbox>(daemon.env(), daemon.site().site_dir() + "/mail");
  RETURN_IF_ERROR(outbox->Init());
  ASSIGN_OR_RETURN(std::string sender, AccountMailSender(config));
  // Wrong passwords past the free ones: the owner is told by mail, once per series.
  auto throttled = [outbox, sender, name = site_name, reset = IssuerOf(config) + "/account/reset",
                    logger = daemon.logger()](const users::User& user, int64_t failures) {
    commerce::MailMessage m;
    m.from = {name, sender};
    m.to = {{user.display_name, user.email}};
    m.subject = "Wrong passwords tried for your account at " + name;
    m.body = "Hello " + user.display_name + ",\n\nsomeone has tried to sign in to your account " +
             "at " + name + " with a wrong password " + std::to_string(failures) +
             " times in a row. From now on each further try must wait a little longer.\n\n" +
             "If it was you and you forgot the password, choose a new one here:\n\n" + reset +
             "\n\nIf it was not you, your password held; choosing a longer one makes it safer " +
             "still.\n\n" + name + "\n";
    (void)QueueAccountMail(*outbox, *logger, std::move(m), "wrong passwords notice for " + user.id);
  };
  ASSIGN_OR_RETURN(std::shared_ptr<users::UserStore> store,
                   OpenMainUserStore(daemon.env(), config, daemon.db(), throttled));
  auto hashing = config.variables.find("users.password_hashing");
  if (hashing != config.variables.end() && hashing->second == "min") {
    daemon.logger()->warn(
        "users.password_hashing = \"min\": password hashes are fast to guess (tests only)");
  }
  content::PageSite site;
  // The pages wear the site's layout (main's own site).
  site.view = [content = &daemon.site().content()] { return content->view(); };
  site.area = content::Area::kOriginal;
  site.site_name = site_name;
  site.warn = [logger = daemon.logger()](const std::string& message) {
    logger->warn("account pages: {}", message);
  };
  // Signed-in customers of this site (users/sessions.h), in its own database: also the network's
  // single sign-on sessions.
  ASSIGN_OR_RETURN(std::shared_ptr<users::SessionStore> sessions,
                   users::OpenCustomerSessions(daemon.env(), daemon.db()));
  const bool https = config.public_url.starts_with("https://");
  // "Signed in as NAME" on main's pages goes once the session has ended.
  RETURN_IF_ERROR(daemon.site().SetSignedInCheck(
      [sessions, https](const HttpRequest& request) {
        return users::HasSession(*sessions, request, https, users::kMainSessionCookie);
      },
      https));

  // Registrations wait for the customer's confirmation by mail (users/registration.h).
  ASSIGN_OR_RETURN(std::shared_ptr<users::PendingRegistrations> registrations,
                   users::PendingRegistrations::Open(daemon.env(), daemon.db(), *store));

  // The OpenID Connect provider.
  ASSIGN_OR_RETURN(JwtSigningKey key,
                   LoadOrCreateJwtSigningKey(
                       daemon.env(), SitePaths(daemon.site().site_dir()).keys() + "/oidc.jwk"));
  users::OidcProviderOptions po;
  po.issuer = IssuerOf(config);
  po.key = std::make_shared<const JwtSigningKey>(std::move(key));
  po.sessions = sessions;
  po.session_cookie = std::string(users::kMainSessionCookie);
  po.https = https;
  po.site = site;
  po.content_security_policy = std::string(kPageContentSecurityPolicy);
  po.env = &daemon.env();
  // Signed out everywhere: each partner the customer signed in to is told (in the background,
  // kept in the database until delivered). Other clients have no back channel.
  MainDaemon* self = &daemon;
  po.logged_out = [self](const std::string& user_id, const std::vector<std::string>& clients) {
    std::vector<std::string> partners;
    for (const std::string& client : clients) {
      if (self->sync().publisher().GetPartnership(client).ok()) partners.push_back(client);
    }
    Status s = QueueLogoutNotices(self->env(), self->db(), user_id, partners);
    self->logger()->info("user {} signed out everywhere ({} partner(s) to tell){}", user_id,
                         partners.size(), s.ok() ? "" : ": " + s.message());
  };
  // A revoked partner signs no one in any more (other clients are not partnerships).
  auto client_allowed = [self](const std::string& client_id) {
    auto p = self->sync().publisher().GetPartnership(client_id);
    return !p.ok() || !p->revoked;
  };
  po.client_allowed = client_allowed;
  po.new_account = [registrations](const std::string& user_id, const std::string& client_id) {
    return registrations->TakeNewAccountNotice(user_id, client_id);
  };
  // Whether a partner may record the customer's visits under the account's id: the
  // partnership's user-log terms and, under "consent", the customer's choice. Other clients: no.
  po.record_visits = [self, store](const std::string& user_id, const std::string& client_id) {
    auto terms = sync::ReadUserLogTerms(self->db(), client_id);
    if (!terms.ok() || *terms == "never") return false;
    if (*terms == "always") return true;
    auto user = store->Get(user_id);
    return user.ok() && user->visits_consent_micros != 0;
  };
  // The ID tokens say how far the customer's sign-outs everywhere have gone: a partner keeps it
  // with the session, and a notice of an earlier sign-out delivered late leaves that one alone.
  po.signed_out_at = [self](const std::string& user_id) {
    return SignedOutGeneration(self->db(), user_id);
  };
  ASSIGN_OR_RETURN(std::shared_ptr<users::OidcProvider> provider,
                   users::OidcProvider::Open(daemon.env(), daemon.db(), *store, std::move(po)));
  RETURN_IF_ERROR(daemon.site().AddPublicRoute("/oidc/", "GET, HEAD, POST", provider));
  RETURN_IF_ERROR(
      daemon.site().AddPublicRoute("/.well-known/openid-configuration", "GET, HEAD", provider));

  // Password reset by mail (users/password_reset.h).
  ASSIGN_OR_RETURN(std::shared_ptr<users::PasswordResets> resets,
                   users::PasswordResets::Open(daemon.env(), daemon.db(), *store));
  users::PasswordResetPagesOptions ro;
  ro.site = site;
  ro.base_url = provider->issuer();
  ro.env = &daemon.env();
  ro.send_mail = [outbox, sender, name = site.site_name, logger = daemon.logger()](
                     const users::User& user, const std::string& link) -> Status {
    // The link is a secret: only that a mail was queued is logged.
    return QueueAccountMail(*outbox, *logger, ResetMail(name, sender, user, link),
                            "password reset mail for " + user.id);
  };
  ro.password_changed = [provider, logger = daemon.logger()](const users::User& user) {
    Status s = provider->EndEverywhere(user.id);
    logger->info("users: {} chose a new password: signed out everywhere{}", user.id,
                 s.ok() ? "" : " (failed: " + s.message() + ")");
  };
  RETURN_IF_ERROR(daemon.site().AddPublicRoute(
      users::kPasswordResetPrefix, "GET, HEAD, POST",
      std::make_shared<users::PasswordResetPages>(resets, std::move(ro))));

  // Registration (users/registration.h): the form, its mails, the confirmation.
  users::RegistrationPagesOptions go;
  go.site = site;
  go.base_url = provider->issuer();
  go.env = &daemon.env();
  go.sessions = sessions;
  go.session_cookie = std::string(users::kMainSessionCookie);
  go.https = https;
  go.client = [provider,
               client_allowed](std::string_view client_id) -> std::optional<users::OidcClient> {
    auto client = provider->GetClient(client_id);
    if (!client.ok() || !client_allowed(client->id)) return std::nullopt;
    return std::move(*client);
  };
  go.content_security_policy = std::string(kPageContentSecurityPolicy);
  go.send_mail = [outbox, sender, name = site.site_name,
                  logger = daemon.logger()](const users::RegistrationMail& mail) -> Status {
    commerce::MailMessage m;
    m.from = {name, sender};
    m.to = {{mail.display_name, mail.email}};
    const std::string via = mail.client_name.empty() ? "" : " (through " + mail.client_name + ")";
    if (mail.kind == users::RegistrationMail::Kind::kConfirm) {
      m.subject = "Confirm your address to create your account at " + name;
      m.body = "Hello " + mail.display_name + ",\n\nto create your account at " + name + via +
               ", open this link within 24 hours and press \"Create my account\":\n\n" + mail.link +
               "\n\nIf you did not ask for an account, ignore this mail: " +
               "nothing is created without the link.\n\n" + name + "\n";
      return QueueAccountMail(*outbox, *logger, std::move(m), "registration confirmation mail");
    }
    m.subject = "You already have an account at " + name;
    m.body = "Hello " + mail.display_name + ",\n\nsomeone (we hope you) tried to create an " +
             "account at " + name + via + " with this address, which already has one. " +
             "Sign in here:\n\n" + mail.link + "\n\nForgot your password? Choose a new one " +
             "here:\n\n" + mail.reset_link +
             "\n\nIf it was not you, ignore this mail: " + "nothing has changed.\n\n" + name + "\n";
    return QueueAccountMail(*outbox, *logger, std::move(m), "\"already registered\" mail");
  };
  RETURN_IF_ERROR(daemon.site().AddPublicRoute(
      users::kRegistrationPrefix, "GET, HEAD, POST",
      std::make_shared<users::RegistrationPages>(registrations, std::move(go))));

  // A new address, confirmed by mail (users/email_change.h).
  ASSIGN_OR_RETURN(std::shared_ptr<users::EmailChanges> changes,
                   users::EmailChanges::Open(daemon.env(), daemon.db(), *store));
  users::EmailChangePagesOptions eo;
  eo.site = site;
  eo.base_url = provider->issuer();
  eo.sessions = sessions;
  eo.session_cookie = std::string(users::kMainSessionCookie);
  eo.https = https;
  eo.send_mail = [outbox, sender, name = site.site_name,
                  logger = daemon.logger()](const users::EmailChangeMail& mail) -> Status {
    commerce::MailMessage m;
    m.from = {name, sender};
    m.to = {{mail.display_name, mail.to}};
    const std::string hello = "Hello " + mail.display_name + ",\n\n";
    const std::string bye = "\n\n" + name + "\n";
    switch (mail.kind) {
      case users::EmailChangeMail::Kind::kConfirm:
        m.subject = "Confirm your new address at " + name;
        m.body = hello + "to make this the address of your account at " + name +
                 ", open this link within 24 hours and press \"Change my address\":\n\n" +
                 mail.link + "\n\nIf you did not ask, ignore this mail: nothing changes." + bye;
        return QueueAccountMail(*outbox, *logger, std::move(m), "address confirmation mail");
      case users::EmailChangeMail::Kind::kTaken:
        m.subject = "This address already has an account at " + name;
        m.body = hello + "someone asked to move their account at " + name +
                 " to this address, but it already has an account, so nothing changed. If "
                 "that was you, sign in with this address instead." +
                 bye;
        return QueueAccountMail(*outbox, *logger, std::move(m), "\"address taken\" mail");
      case users::EmailChangeMail::Kind::kNotice:
        m.subject = "Your address at " + name + " is being changed";
        m.body = hello + "someone signed in to your account at " + name +
                 " asked to change its address to " + mail.new_email +
                 ". It changes only once the link sent there is opened. If this was not you, "
                 "choose a new password now (every session ends):\n\n" +
                 mail.reset_link + bye;
        return QueueAccountMail(*outbox, *logger, std::move(m), "address change notice");
    }
    return Status::Internal("unknown mail");
  };
  RETURN_IF_ERROR(daemon.site().AddPublicRoute(
      users::kEmailChangePrefix, "GET, HEAD, POST",
      std::make_shared<users::EmailChangePages>(changes, std::move(eo))));

  MainDaemon* d = self;
  auto registrar = [d, provider](const std::string& partner) -> Result<users::SsoClientGrant> {
    ASSIGN_OR_RETURN(std::string base, PartnerBaseUrl(*d, partner));
    ASSIGN_OR_RETURN(sync::Partnership p, d->sync().publisher().GetPartnership(partner));
    users::SsoClientGrant grant;
    grant.client_id = partner;
    grant.issuer = provider->issuer();
    grant.redirect_uri = base + "/account/callback";
    grant.post_logout_redirect_uri = base + "/account/signed-out";
    ASSIGN_OR_RETURN(grant.client_secret,
                     provider->RegisterClient({partner,
                                               p.name.empty() ? partner : p.name,
                                               {grant.redirect_uri},
                                               {grant.post_logout_redirect_uri}}));
    return grant;
  };
  ASSIGN_OR_RETURN(std::shared_ptr<MainUsersEndpoints> endpoints,
                   MainUsersEndpoints::Create(daemon.env(), daemon.site().site_dir(), daemon.db(),
                                              daemon.logger(), registrar));
  // Managing an account at main: the provider's sign-ins, main's orders (a shop of its own on
  // the same database, read only here), signing out everywhere after a password change.
  LocalAccounts::Extras extras;
  extras.password_changed = [provider, logger = daemon.logger()](const users::User& user) {
    Status s = provider->EndEverywhere(user.id);
    logger->info("users: {} changed their password: signed out everywhere{}", user.id,
                 s.ok() ? "" : " (failed: " + s.message() + ")");
  };
  // A withdrawn consent to user logs takes effect at once: the customer's sessions at the
  // partners end (their next sign-in, instant through main, carries the new answer).
  extras.visits_withdrawn = [self](const users::User& user) {
    Status s = EndPartnerSessions(self->env(), self->db(), user.id);
    self->logger()->info("users: {} withdrew the consent to user logs: partner sessions end{}",
                         user.id, s.ok() ? "" : " (failed: " + s.message() + ")");
  };
  std::function<Result<users::AccountOrders>(const std::string&)> account_orders;
  std::function<Result<std::vector<users::AccountSuggestion>>(const std::string&)>
      account_suggestions;
  {
    auto shop = std::make_shared<OpenedShop>();
    ASSIGN_OR_RETURN(*shop, OpenMainShop(daemon.env(), daemon.site().site_dir(), config,
                                         daemon.db(), daemon.logger()));
    extras.export_json = [self, shop](const users::User& user) -> Result<std::string> {
      ASSIGN_OR_RETURN(PartnerOrders at_partners,
                       FetchPartnerOrders(self->sync(), self->db(), user, kPartnerOrdersTimeout));
      return ExportAccountJson(self->env(), self->db(), *shop->shop, user, &at_partners);
    };
    // The account page's orders: main's, with those placed through partners (delegated), and
    // those the partners processed themselves (asked for now).
    account_orders = [self, shop,
                      store](const std::string& user_id) -> Result<users::AccountOrders> {
      ASSIGN_OR_RETURN(users::User user, store->Get(user_id));
      ASSIGN_OR_RETURN(std::vector<users::AccountOrder> at_main,
                       commerce::OrdersOf(*shop->shop, user.email));
      // The partner as the customer knows it (one look-up per partner, not per order).
      std::map<std::string, std::string> names;
      for (users::AccountOrder& o : at_main) {
        if (o.through.empty()) continue;
        auto [it, added] = names.try_emplace(o.through, o.through);
        if (added) {
          auto p = self->sync().publisher().GetPartnership(o.through);
          if (p.ok() && !p->name.empty()) it->second = p->name;
        }
        o.through = it->second;
      }
      ASSIGN_OR_RETURN(PartnerOrders at_partners,
                       FetchPartnerOrders(self->sync(), self->db(), user, kPartnerOrdersTimeout));
      users::AccountOrders out;
      out.orders = MergeOrders(std::move(at_main), std::move(at_partners.orders));
      out.not_answered = std::move(at_partners.not_answered);
      out.elsewhere = std::move(at_partners.elsewhere);
      return out;
    };
    // "You may also like": main's recommendations for the account, in stock, linked to main's
    // own product pages.
    ASSIGN_OR_RETURN(std::unique_ptr<users::Recommender> opened,
                     users::Recommender::Open(daemon.env(), daemon.db()));
    std::shared_ptr<users::Recommender> recommender = std::move(opened);
    account_suggestions = [shop, recommender](const std::string& user_id) {
      return SuggestionsFor(*recommender, *shop->shop, user_id, 4);
    };
    // "Delete my account" (EraseAccount).
    extras.erase = [self, store, shop](const users::User& user) -> Status {
      ASSIGN_OR_RETURN(int64_t orders,
                       EraseAccount(self->env(), self->db(), *store, *shop->shop, user));
      self->logger()->info(
          "users: {} deleted their account: signed out everywhere, {} order(s) "
          "at main without personal fields",
          user.id, orders);
      return Status::Ok();
    };
  }
  users::AccountPagesOptions options;
  options.site_name = site.site_name;
  options.site = site;
  options.sessions = sessions;
  options.session_cookie = std::string(users::kMainSessionCookie);
  options.https = https;
  options.env = &daemon.env();  // the clock of the failed sign-ins per client address
  options.orders = std::move(account_orders);
  options.suggestions = std::move(account_suggestions);
  RETURN_IF_ERROR(
      daemon.site().AddPublicRoute(users::kAccountPrefix, "GET, HEAD, POST",
                                   std::make_shared<users::AccountPages>(
                                       std::make_shared<LocalAccounts>(store, extras), options)));
  auto route = [endpoints](const HttpRequest& r) { return endpoints->Handle(r); };
  daemon.sync().AddSyncRoute("/v1/users/", route);
  // Partners exchange their codes over the mutual-TLS sync channel (no public round trip).
  auto oidc = [provider](const HttpRequest& r) { return provider->HandleRequest(r); };
  daemon.sync().AddSyncRoute("/oidc/token", oidc);
  daemon.sync().AddSyncRoute("/oidc/jwks", oidc);
  daemon.AddPeriodicTask("single sign-on: sign-out notices",
                         [self] { DeliverLogoutNotices(*self); });
  // Partner copies of customer data, by contract (main_site/customer_copies.h).
  return AttachCustomerCopies(daemon, store);
}

}  // namespace tieup
