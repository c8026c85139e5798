#include "partner_site/users_service.h"

#include "ledger/records.h"
#include "partner_site/main_client.h"
#include "partner_site/partner_daemon.h"
#include "sync/http_api.h"
#include "users/account_pages.h"
#include "users/wire.h"

namespace tieup {
namespace {

// Forwards to main; records registrations in the partner's ledger.
class ForwardedAccounts : public users::AccountBackend {
 public:
  ForwardedAccounts(Env& env, std::string partner_id, std::shared_ptr<MainClient> main,
                    SiteContent& content, ledger::Log& ledger, std::shared_ptr<Logger> logger)
      : env_(env),
        partner_id_(std::move(partner_id)),
        main_(std::move(main)),
        content_(content),
        ledger_(ledger),
        logger_(std::move(logger)) {}

  Result<std::string> Register(const users::RegistrationRequest& form,
                               std::string_view from_path) override {
    users::RegistrationRequest request = form;
    request.area = AreaOf(from_path);
    ASSIGN_OR_RETURN(HttpResponse r,
                     Ask("/v1/users/register", users::RegistrationRequestToJson(request)));
    Result<std::string> registered = users::RegistrationReplyFromJson(r.body());
    if (!registered.ok()) {
      logger_->error("users: main's answer to a registration: {}", registered.status().message());
      return Status::Unavailable(registered.status().message());
    }
    const std::string user_id = *registered;
    ledger::RegistrationRecord record;
    record.time_micros = env_.NowMicros();
    record.partner = partner_id_;
    record.user_id = user_id;
    record.area = request.area == users::UserArea::kTieup ? ledger::RecordArea::kTieup
                                                          : ledger::RecordArea::kOriginal;
    ledger_.AppendAsync(ledger::EncodeRecord(record),
                        [logger = logger_, user_id](Result<uint64_t> at) {
                          if (!at.ok()) {
                            logger->error("ledger: recording the registration of {}: {}", user_id,
                                          at.status().message());
                          }
                        });
    logger_->info("user {} registered through this site ({} page)", user_id,
                  users::UserAreaName(request.area));
    return user_id;
  }

  Result<users::LoginReply> Login(const users::LoginRequest& form) override {
    ASSIGN_OR_RETURN(HttpResponse r, Ask("/v1/users/login", users::LoginRequestToJson(form)));
    return users::LoginReplyFromJson(r.body());
  }

 private:
  // The area of the page at `path` in the served releases; tie-up when unknown.
  users::UserArea AreaOf(std::string_view path) {
    auto view = content_.view();
    if (view && !path.empty()) {
      content::LookupResult found = view->Lookup(path);
      if (found.kind == content::LookupResult::Kind::kFound && found.file != nullptr &&
          found.file->area == content::Area::kOriginal) {
        return users::UserArea::kOriginal;
      }
    }
    return users::UserArea::kTieup;
  }

  // Main's 200 answer; its refusal as the Status the account pages show; anything else as
  // Unavailable (logged).
  Result<HttpResponse> Ask(std::string_view path, const std::string& body) {
    if (!main_) {
      return Status::Unavailable("this site is not enrolled with main: accounts are main's");
    }
    Result<HttpResponse> r = main_->Post(path, body);
    if (!r.ok()) {
      logger_->warn("users: main cannot be reached: {}", r.status().message());
      return Status::Unavailable(r.status().message());
    }
    if (r->status() == 200) return r;
    const Status refused = sync::StatusFromResponse(*r);
    switch (users::RefusalFromJson(r->body())) {
      case users::Refusal::kEmailTaken:
      case users::Refusal::kInvalidInput:
      case users::Refusal::kWrongLogin:
        return refused;
      case users::Refusal::kTooManyFailures:
        return Status::ResourceExhausted(refused.message());
      case users::Refusal::kNone:
        break;
    }
    logger_->warn("users: main refused {}: {}", path, refused.message());
    return Status::Unavailable(refused.message());
  }

  Env& env_;
  const std::string partner_id_;
  const std::shared_ptr<MainClient> main_;
  SiteContent& content_;
  ledger::Log& ledger_;
  std::shared_ptr<Logger> logger_;
};

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

}  // namespace

Status AttachUsers(PartnerDaemon& daemon) {
  const SiteConfig& config = daemon.site().config();
  std::shared_ptr<MainClient> main;
  if (daemon.sync() != nullptr) {
    ASSIGN_OR_RETURN(main, MainClient::Open(daemon.env(), daemon.site().site_dir(), config));
  }
  auto backend =
      std::make_shared<ForwardedAccounts>(daemon.env(), config.id, main, daemon.site().content(),
                                          daemon.site().ledger(), daemon.logger());
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
  // Named for the site: sites told apart only by port (the demo) share a browser's cookies.
  options.session_cookie = std::string(users::kSessionCookie) + "_" + config.id;
  // Customers sign in once, at main, for every site of the network.
  if (main != nullptr) {
    options.sso = std::make_shared<users::SingleSignOn>(daemon.env(), SsoThroughMain(main));
  }
  options.env = &daemon.env();  // the clock of the failed sign-ins per client address
  if (daemon.sync() != nullptr) {
    // Main tells us when a customer signed out everywhere: their sessions here end too.
    daemon.sync()->AddSyncRoute(
        "/v1/users/logout",
        [sessions = options.sessions, logger = daemon.logger()](const HttpRequest& request) {
          if (request.method() != "POST") {
            return sync::ErrorResponse(Status::InvalidArgument("a sign-out notice is POSTed"));
          }
          auto user = users::LogoutNoticeFromJson(request.body());
          if (!user.ok()) return sync::ErrorResponse(user.status());
          Status ended = sessions->EndAllFor(*user);
          if (!ended.ok()) return sync::ErrorResponse(ended);
          logger->info("user {} signed out everywhere: their sessions here ended", *user);
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
