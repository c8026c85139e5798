#include "partner_site/users_service.h"

#include <limits>

#include "commerce/form.h"
#include "commerce/shop.h"
#include "ledger/records.h"
#include "partner_site/main_client.h"
#include "partner_site/partner_daemon.h"
#include "partner_site/partner_sync.h"
#include "partner_site/shop_service.h"
#include "sync/http_api.h"
#include "users/account_pages.h"
#include "users/form_checks.h"
#include "users/wire.h"

namespace tieup {
namespace {

// The area of the page at `path` in the served releases; tie-up when unknown.
ledger::RecordArea AreaOf(SiteContent& content, std::string_view path) {
  auto view = content.view();
  if (view && !path.empty()) {
    content::LookupResult found = view->Lookup(path);
    if (found.kind == content::LookupResult::Kind::kFound && found.file != nullptr &&
        found.file->area == content::Area::kOriginal) {
      return ledger::RecordArea::kOriginal;
    }
  }
  return ledger::RecordArea::kTieup;
}

// Records in the ledger that `user_id` registered through this site, coming from `path`.
void RecordRegistration(Env& env, const std::string& partner_id, SiteContent& content,
                        ledger::Log& ledger, const std::shared_ptr<Logger>& logger,
                        const std::string& user_id, const std::string& path) {
  ledger::RegistrationRecord record;
  record.time_micros = env.NowMicros();
  record.partner = partner_id;
  record.user_id = user_id;
  record.area = AreaOf(content, path);
  ledger.AppendAsync(ledger::EncodeRecord(record), [logger, user_id](Result<uint64_t> at) {
    if (!at.ok()) {
      logger->error("ledger: recording the registration of {}: {}", user_id, at.status().message());
    }
  });
  logger->info("user {} registered through this site ({} page)", user_id,
               record.area == ledger::RecordArea::kTieup ? "tie-up" : "original");
}

// Single sign-on through main's OpenID Connect provider, over the sync channel.
users::SsoTransport SsoThroughMain(std::shared_ptr<MainClient> main) {
  users::SsoTransport t;
  t.register_client = [main]() -> Result<users::SsoClientGrant> {
    ASSIGN_OR_RETURN(HttpResponse r, main->Call("/v1/users/sso-client", "{}"));
    return users::SsoClientGrantFromJson(r.body());
  };
  t.send_token_request = [main](const HttpRequest& request) { return main->Send(request); };
  t.fetch_jwks = [main]() -> Result<std::string> {
    ASSIGN_OR_RETURN(HttpResponse r, main->Get("/oidc/jwks"));
    return std::string(r.body());
  };
  return t;
}

// Whether main lets this site record each customer's visits under the account's id, as main
// said at the customer's last sign-in here (table visit_recording).
// and the SHA-256 of the account's e-mail address, which finds the customer's own orders here
// without keeping the address (table visit_recording).
class VisitRecording {
 public:
  static Result<std::shared_ptr<VisitRecording>> Open(Env& env, Database& db) {
    RETURN_IF_ERROR(Migrate(db, "visit_recording",
                            {{1,
                              "CREATE TABLE visit_recording (user_id TEXT PRIMARY KEY, record "
                              "INTEGER NOT NULL, at INTEGER NOT NULL)"},
                             {2,
                              "ALTER TABLE visit_recording ADD COLUMN email_sha256 TEXT NOT NULL "
                              "DEFAULT ''"}}));
    return std::make_shared<VisitRecording>(env, db);
  }
  VisitRecording(Env& env, Database& db) : env_(env), db_(db) {}

  Status Set(const users::SingleSignOn::SignedIn& s) {
    return db_.Exec(
        "INSERT INTO visit_recording(user_id, record, at, email_sha256) VALUES(?, ?, ?, ?) ON "
        "CONFLICT (user_id) DO UPDATE SET record = excluded.record, at = excluded.at, "
        "email_sha256 = excluded.email_sha256",
        {s.user_id, int64_t{s.record_visits ? 1 : 0}, env_.NowMicros(),
         s.email.empty() ? std::string() : users::EmailSha256(s.email)});
  }
  bool Records(const std::string& user_id) {
    auto rows = db_.Query("SELECT record FROM visit_recording WHERE user_id = ?", {user_id});
    return rows.ok() && !rows->empty() && (*rows)[0].Int(0) != 0;
  }
  // The hash of the account's address as main last said it ("" when unknown).
  Result<std::string> EmailSha256Of(const std::string& user_id) {
    ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT email_sha256 FROM visit_recording WHERE "
                                          "user_id = ?",
                                          {user_id}));
    return rows.empty() ? std::string() : rows[0].Text(0);
  }

 private:
  Env& env_;
  Database& db_;
};

// The session cookie of this site's customers (named for the site: sites told apart only by
// port, as in the demo, share a browser's cookies).
std::string SessionCookieBase(const SiteConfig& config) {
  return std::string(users::kSessionCookie) + "_" + config.id;
}

}  // namespace

Result<std::unique_ptr<users::CustomerCopyKeeper>> OpenCustomerCopies(Env& env,
                                                                      const std::string& site_dir,
                                                                      const SiteConfig& config,
                                                                      Database& db) {
  users::CustomerCopyKeeper::Options o;
  o.site_id = config.id;
  if (IsEnrolled(env, site_dir)) {
    ASSIGN_OR_RETURN(PinnedMainRoot root, LoadPinnedRoot(env, site_dir));
    o.pinned_root = root.key;
    o.root_envelope = std::move(root.envelope);
  }
  return users::CustomerCopyKeeper::Open(env, db, std::move(o));
}

Result<std::function<std::optional<commerce::Customer>(const HttpRequest&)>> PartnerKnownCustomer(
    Env& env, const std::string& site_dir, const SiteConfig& config, Database& db) {
  ASSIGN_OR_RETURN(std::shared_ptr<users::SessionStore> sessions,
                   users::OpenCustomerSessions(env, db));
  ASSIGN_OR_RETURN(std::shared_ptr<users::CustomerCopyKeeper> copies,
                   OpenCustomerCopies(env, site_dir, config, db));
  const bool https = config.public_url.starts_with("https://");
  std::function<std::optional<commerce::Customer>(const HttpRequest&)> known =
      [sessions, copies, https, cookie = SessionCookieBase(config)](
          const HttpRequest& request) -> std::optional<commerce::Customer> {
    std::optional<users::Session> session =
        users::SessionOf(sessions.get(), request, https, cookie);
    if (!session) return std::nullopt;
    Result<std::optional<users::CustomerCopy>> copy = copies->Get(session->subject);
    if (!copy.ok() || !*copy) return std::nullopt;
    const users::CustomerCopy& c = **copy;
    const users::PostalAddress a = c.address.value_or(users::PostalAddress{});
    std::string name = a.name.empty() ? c.name.value_or("") : a.name;
    return commerce::Customer{std::move(name),      a.line1, a.line2,
                              a.postal_code,        a.city,  a.country,
                              c.email.value_or(""), a.phone};
  };
  return known;
}

Status AttachUsers(PartnerDaemon& daemon) {
  const SiteConfig& config = daemon.site().config();
  std::shared_ptr<MainClient> main;
  if (daemon.sync() != nullptr) {
    ASSIGN_OR_RETURN(main, MainClient::Open(daemon.env(), daemon.site().site_dir(), config));
  }
  // Accounts are main's: this site keeps none (the backend's defaults say so).
  auto backend = std::make_shared<users::AccountBackend>();
  users::AccountPagesOptions options;
  options.site_name = config.name.empty() ? config.id : config.name;
  // The pages wear the site's layout (main's, from the tie-up release).
  options.site.view = [content = &daemon.site().content()] { return content->view(); };
  options.site.area = content::Area::kTieup;
  options.site.warn = [logger = daemon.logger()](const std::string& message) {
    logger->warn("account pages: {}", message);
  };
  // Signed-in customers of this site (users/sessions.h), in its own database.
  ASSIGN_OR_RETURN(options.sessions, users::OpenCustomerSessions(daemon.env(), daemon.db()));
  options.https = config.public_url.starts_with("https://");
  // Named for the site: sites told apart only by port share a browser's cookies.
  options.session_cookie = SessionCookieBase(config);
  // "Signed in as NAME" on this site's pages goes once the session has ended.
  RETURN_IF_ERROR(daemon.site().SetSignedInCheck(
      [sessions = options.sessions, https = options.https,
       base = options.session_cookie](const HttpRequest& request) {
        return users::HasSession(*sessions, request, https, base);
      },
      options.https));
  // Customers sign in once, at main, for every site of the network.
  if (main != nullptr) {
    options.sso = std::make_shared<users::SingleSignOn>(daemon.env(), SsoThroughMain(main));
    // Main tells us, at the account's first sign-in here, that it was registered through us.
    options.registered = [env = &daemon.env(), id = config.id, content = &daemon.site().content(),
                          ledger = &daemon.site().ledger(), logger = daemon.logger()](
                             const std::string& user_id, const std::string& path) {
      RecordRegistration(*env, id, *content, *ledger, logger, user_id, path);
    };
  }
  options.env = &daemon.env();  // the clock of the failed sign-ins per client address
  // This site's own shop on the same database: the account page's orders, and erasures.
  std::shared_ptr<OpenedPartnerShop> own_shop;
  if (main != nullptr) {
    ASSIGN_OR_RETURN(OpenedPartnerShop opened,
                     OpenPartnerShop(daemon.env(), daemon.site().site_dir(), config, daemon.db(),
                                     daemon.logger()));
    own_shop = std::make_shared<OpenedPartnerShop>(std::move(opened));
    // User logs: the access records name a signed-in customer only when main says so (the
    // partnership's terms and the customer's consent, told at each sign-in here).
    ASSIGN_OR_RETURN(std::shared_ptr<VisitRecording> recording,
                     VisitRecording::Open(daemon.env(), daemon.db()));
    options.signed_in = [recording,
                         logger = daemon.logger()](const users::SingleSignOn::SignedIn& in) {
      Status s = recording->Set(in);
      if (!s.ok()) {
        logger->error("user logs: keeping main's answer for {}: {}", in.user_id, s.message());
      }
    };
    // The account page lists the customer's own orders at this shop (found by the address's
    // hash).
    options.orders = [recording,
                      own_shop](const std::string& user_id) -> Result<users::AccountOrders> {
      users::AccountOrders out;
      ASSIGN_OR_RETURN(std::string hash, recording->EmailSha256Of(user_id));
      if (hash.empty()) return out;
      ASSIGN_OR_RETURN(std::optional<std::string> email, own_shop->shop->EmailWithSha256(hash));
      if (!email) return out;
      ASSIGN_OR_RETURN(out.orders, commerce::OrdersOf(*own_shop->shop, *email));
      return out;
    };
    const std::string cookie = users::SessionCookieName(options.https, options.session_cookie);
    RETURN_IF_ERROR(daemon.site().SetVisitor(
        cookie, [sessions = options.sessions, recording, cookie](const HttpRequest& request) {
          const std::string value = commerce::CookieValue(request.HeaderOr("Cookie"), cookie);
          if (value.empty()) return std::string();
          auto session = sessions->Peek(value);
          if (!session.ok() || !recording->Records(session->subject)) return std::string();
          return session->subject;
        }));
  }
  if (daemon.sync() != nullptr) {
    // Main tells us when a customer signed out everywhere: their sessions here end too.
    daemon.sync()->AddSyncRoute(
        "/v1/users/logout",
        [sessions = options.sessions, logger = daemon.logger()](const HttpRequest& request) {
          if (request.method() != "POST") {
            return sync::ErrorResponse(Status::InvalidArgument("a sign-out notice is POSTed"));
          }
          auto notice = users::LogoutNoticeFromJson(request.body());
          if (!notice.ok()) return sync::ErrorResponse(notice.status());
          // Sessions made since that sign-out (a sign-in at main after it) stay.
          auto ended = sessions->EndAllBefore(
              notice->user_id, notice->signed_out_at > 0 ? notice->signed_out_at
                                                         : std::numeric_limits<int64_t>::max());
          if (!ended.ok()) return sync::ErrorResponse(ended.status());
          logger->info("user {} signed out everywhere: their sessions here ended ({} session(s))",
                       notice->user_id, *ended);
          HttpResponse r(200);
          r.AddHeader("Content-Type", "application/json");
          r.SetBody("{}");
          return r;
        });
  }
  if (own_shop != nullptr) {
    // Main's copies of this site's customers, by contract; an erasure reaches this site's own
    // orders too (their personal fields go).
    auto shop = own_shop;
    users::CustomerCopyKeeper::Options o;
    o.site_id = config.id;
    ASSIGN_OR_RETURN(PinnedMainRoot root, LoadPinnedRoot(daemon.env(), daemon.site().site_dir()));
    o.pinned_root = root.key;
    o.root_envelope = std::move(root.envelope);
    o.erase_orders = [shop](const std::string& email_sha256) {
      return shop->shop->EraseCustomerWithEmailSha256(email_sha256);
    };
    // Main's account page lists the customer's orders here too: it asks by the address's hash
    // (the peer is main, checked for every request of this port: PartnerSync).
    daemon.sync()->AddSyncRoute(
        std::string(users::kPartnerOrdersPath), [shop](const HttpRequest& request) {
          if (request.method() != "POST") {
            return sync::ErrorResponse(Status::InvalidArgument("an orders query is POSTed"));
          }
          Result<std::vector<commerce::OrderSummary>> orders =
              [&]() -> Result<std::vector<commerce::OrderSummary>> {
            ASSIGN_OR_RETURN(std::string hash, users::PartnerOrdersQueryFromJson(request.body()));
            ASSIGN_OR_RETURN(std::optional<std::string> email, shop->shop->EmailWithSha256(hash));
            if (!email) return std::vector<commerce::OrderSummary>();
            return commerce::OrdersOf(*shop->shop, *email,
                                      static_cast<int>(users::kMaxPartnerOrders));
          }();
          if (!orders.ok()) return sync::ErrorResponse(orders.status());
          HttpResponse r(200);
          r.AddHeader("Content-Type", "application/json");
          r.AddHeader("Cache-Control", "no-store");
          r.SetBody(users::PartnerOrdersToJson(*orders));
          return r;
        });
    ASSIGN_OR_RETURN(std::shared_ptr<users::CustomerCopyKeeper> copies,
                     users::CustomerCopyKeeper::Open(daemon.env(), daemon.db(), std::move(o)));
    daemon.sync()->AddSyncRoute(
        std::string(users::kCustomerCopyPath),
        [copies, logger = daemon.logger()](const HttpRequest& request) {
          if (request.method() != "POST") {
            return sync::ErrorResponse(Status::InvalidArgument("customer copies are POSTed"));
          }
          Result<users::CustomerCopyKeeper::Applied> applied = copies->Accept(request.body());
          if (!applied.ok()) {
            logger->warn("customer copies: refused a message from main: {}",
                         applied.status().message());
            return sync::ErrorResponse(applied.status());
          }
          logger->info(
              "customer copies: message {} from main: {} copied, {} dropped, {} erased ({} of "
              "this site's orders lost their personal fields)",
              applied->seq, applied->upserted, applied->dropped, applied->erased,
              applied->orders_erased);
          HttpResponse r(200);
          r.AddHeader("Content-Type", "application/json");
          r.SetBody("{}");
          return r;
        });
  }
  return daemon.site().AddPublicRoute(users::kAccountPrefix, "GET, HEAD, POST",
                                      std::make_shared<users::AccountPages>(backend, options));
}

}  // namespace tieup
