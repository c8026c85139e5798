#include "users/oidc_provider.h"

#include <boost/json.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <boost/url/url.hpp>

#include "base/encoding.h"
#include "base/worker_pool.h"
#include "commerce/cart_limiter.h"
#include "commerce/shop_pages.h"
#include "crypto/hash.h"
#include "users/account_pages.h"
#include "users/form_checks.h"

namespace tieup::users {

// Generated from src/users/templates/oidc_*.mustache (tieup_embed_files).
const content::EmbeddedTemplates& EmbeddedOidcTemplates();

const content::EmbeddedTemplates& OidcPageTemplates() { return EmbeddedOidcTemplates(); }

namespace {

namespace json = boost::json;

constexpr int64_t kMicros = 1'000'000;
constexpr size_t kMaxParamBytes = 1024;
constexpr size_t kMaxQueuedPosts = 64;

const std::vector<Migration>& OidcMigrations() {
  static const std::vector<Migration> kSteps = {
      {1,
       "CREATE TABLE oidc_clients ("
       "  id TEXT PRIMARY KEY,"
       "  name TEXT NOT NULL,"
       "  secret_hash TEXT NOT NULL,"
       "  redirect_uris TEXT NOT NULL,"
       "  post_logout_redirect_uris TEXT NOT NULL,"
       // Unused (the registration page is main's own): kept for stores made before.
       "  register_uri TEXT NOT NULL DEFAULT '',"
       "  registered_at INTEGER NOT NULL);"
       "CREATE TABLE oidc_codes ("
       "  code_hash TEXT PRIMARY KEY,"
       "  client_id TEXT NOT NULL,"
       "  user_id TEXT NOT NULL,"
       "  redirect_uri TEXT NOT NULL,"
       "  scope TEXT NOT NULL,"
       "  nonce TEXT NOT NULL,"
       "  code_challenge TEXT NOT NULL,"
       "  auth_time INTEGER NOT NULL,"
       "  expires_at INTEGER NOT NULL,"
       "  used INTEGER NOT NULL DEFAULT 0);"
       "CREATE TABLE oidc_access_tokens ("
       "  token_hash TEXT PRIMARY KEY,"
       "  code_hash TEXT NOT NULL,"
       "  client_id TEXT NOT NULL,"
       "  user_id TEXT NOT NULL,"
       "  scope TEXT NOT NULL,"
       "  expires_at INTEGER NOT NULL);"
       // Which clients each customer signed in to: told when the customer signs out everywhere.
       "CREATE TABLE oidc_signins ("
       "  user_id TEXT NOT NULL,"
       "  client_id TEXT NOT NULL,"
       "  last_at INTEGER NOT NULL,"
       "  PRIMARY KEY (user_id, client_id));"},
      // Every client each customer ever signed in to, kept after signing out (the sites that may
      // hold the customer's data: their orders, an erasure); forgotten with the account.
      {2,
       "CREATE TABLE oidc_clients_known ("
       "  user_id TEXT NOT NULL,"
       "  client_id TEXT NOT NULL,"
       "  first_at INTEGER NOT NULL,"
       "  PRIMARY KEY (user_id, client_id));"
       "INSERT INTO oidc_clients_known (user_id, client_id, first_at) "
       "  SELECT user_id, client_id, last_at FROM oidc_signins;"},
  };
  return kSteps;
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) {
    if (!out.empty()) out += '\n';
    out += s;
  }
  return out;
}

std::vector<std::string> Split(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    out.emplace_back(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return out;
}

bool Contains(const std::vector<std::string>& items, std::string_view item) {
  for (const std::string& s : items) {
    if (s == item) return true;
  }
  return false;
}

Status CheckRedirectUri(std::string_view uri) {
  auto u = boost::urls::parse_absolute_uri(uri);
  if (!u || (u->scheme() != "https" && u->scheme() != "http") || !u->has_authority() ||
      u->host().empty()) {
    return Status::InvalidArgument("the redirect URI '" + std::string(uri) +
                                   "' is not an absolute http(s) URL");
  }
  return Status::Ok();
}

// `uri` with `params` added to its query.
std::string WithParams(std::string_view uri,
                       const std::vector<std::pair<std::string, std::string>>& params) {
  boost::urls::url u(uri);
  for (const auto& [k, v] : params) u.params().append({k, v});
  return std::string(u.buffer());
}

// Whether the space-separated `scope` holds `word`.
bool HasScope(std::string_view scope, std::string_view word) {
  while (!scope.empty()) {
    const size_t sp = scope.find(' ');
    if (scope.substr(0, sp) == word) return true;
    if (sp == std::string_view::npos) break;
    scope.remove_prefix(sp + 1);
  }
  return false;
}

// The decoded credentials of an "Authorization: Basic" header (RFC 6749 2.3.1: each part is
// form-urlencoded before base64).
bool BasicCredentials(std::string_view header, std::string* id, std::string* secret) {
  if (header.size() < 6 || !EqualsIgnoreCase(header.substr(0, 6), "Basic ")) return false;
  auto decoded = Base64Decode(commerce::Trim(header.substr(6)));
  if (!decoded.ok()) return false;
  const size_t colon = decoded->find(':');
  if (colon == std::string::npos) return false;
  auto i = commerce::PercentDecode(std::string_view(*decoded).substr(0, colon), true);
  auto s = commerce::PercentDecode(std::string_view(*decoded).substr(colon + 1), true);
  if (!i.ok() || !s.ok()) return false;
  *id = std::move(*i);
  *secret = std::move(*s);
  return true;
}

HttpResponse JsonResponse(int status, const json::value& body,
                          std::string_view type = "application/json",
                          std::string_view cache = "no-store") {
  HttpResponse r(status);
  r.AddHeader("Content-Type", type);
  r.AddHeader("Cache-Control", cache);
  r.SetBody(json::serialize(body));
  return r;
}

// An OAuth error answer (RFC 6749 5.2).
HttpResponse OAuthError(int status, std::string_view error, std::string_view description) {
  HttpResponse r =
      JsonResponse(status, json::object{{"error", error}, {"error_description", description}});
  if (status == 401) r.AddHeader("WWW-Authenticate", "Basic realm=\"tieup\"");
  return r;
}

// The parameters of an authorization request that the sign-in form carries along.
constexpr std::string_view kAuthParams[] = {
    "response_type", "client_id",      "redirect_uri",          "scope", "state",
    "nonce",         "code_challenge", "code_challenge_method", "prompt"};

struct AuthRequest {
  std::string response_type, client_id, redirect_uri, scope, state, nonce, code_challenge,
      code_challenge_method, prompt;

  std::string* Field(std::string_view name) {
    if (name == "response_type") return &response_type;
    if (name == "client_id") return &client_id;
    if (name == "redirect_uri") return &redirect_uri;
    if (name == "scope") return &scope;
    if (name == "state") return &state;
    if (name == "nonce") return &nonce;
    if (name == "code_challenge") return &code_challenge;
    if (name == "code_challenge_method") return &code_challenge_method;
    if (name == "prompt") return &prompt;
    return nullptr;
  }
};

}  // namespace

class OidcProvider::Impl {
 public:
  Impl(Env& env, Database& db, UserStore& users, std::unique_ptr<OidcClients> clients,
       OidcProviderOptions options)
      : env_(env),
        db_(db),
        users_(users),
        clients_(std::move(clients)),
        options_(std::move(options)),
        templates_(std::vector<const content::EmbeddedTemplates*>{&OidcPageTemplates()},
                   options_.site),
        failures_(options_.env, options_.failures_per_client),
        pool_(4) {}

  const std::string& issuer() const { return options_.issuer; }
  WorkerPool& pool() { return pool_; }

  OidcClients& clients() { return *clients_; }

  Result<std::vector<std::pair<std::string, int64_t>>> SignIns(const std::string& user_id) {
    return clients_->SignIns(user_id);
  }

  Status EndEverywhere(const std::string& user_id) {
    if (options_.sessions != nullptr) RETURN_IF_ERROR(options_.sessions->EndAllFor(user_id));
    std::vector<std::string> clients;
    ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT client_id FROM oidc_signins WHERE user_id = ? "
                                          "ORDER BY client_id",
                                          {user_id}));
    for (const SqlRow& row : rows) clients.push_back(row.Text(0));
    RETURN_IF_ERROR(db_.Exec("DELETE FROM oidc_signins WHERE user_id = ?", {user_id}));
    RETURN_IF_ERROR(db_.Exec("DELETE FROM oidc_access_tokens WHERE user_id = ?", {user_id}));
    // A code issued a moment ago is not exchanged any more either.
    RETURN_IF_ERROR(db_.Exec("DELETE FROM oidc_codes WHERE user_id = ?", {user_id}));
    if (options_.logged_out) options_.logged_out(user_id, clients);
    return Status::Ok();
  }

  HttpResponse Handle(const HttpRequest& request) {
    try {
      return Route(request);
    } catch (const std::exception&) {
      return HttpResponse::Text(500, "The sign-in service failed; please try again.\n");
    }
  }

 private:
  HttpResponse Route(const HttpRequest& request) {
    const std::string_view path = request.path();
    const bool post = request.method() == "POST";
    if (path == "/.well-known/openid-configuration") return Discovery();
    if (path == "/oidc/jwks") {
      return JsonResponse(200, json::parse(JwksJson(*options_.key)), "application/jwk-set+json",
                          "max-age=300");
    }
    if (path == "/oidc/authorize") return post ? AuthorizePost(request) : AuthorizeGet(request);
    if (path == "/oidc/token") {
      if (!post) return OAuthError(405, "invalid_request", "the token endpoint takes POST");
      return Token(request);
    }
    if (path == "/oidc/userinfo") return UserInfo(request);
    if (path == "/oidc/logout") return post ? LogoutPost(request) : LogoutGet(request);
    return Problem(request, 404, "Page not found", "There is no sign-in page at this address.");
  }

  HttpResponse Discovery() {
    const std::string& i = options_.issuer;
    json::object d{
        {"issuer", i},
        {"authorization_endpoint", i + "/oidc/authorize"},
        {"token_endpoint", i + "/oidc/token"},
        {"userinfo_endpoint", i + "/oidc/userinfo"},
        {"jwks_uri", i + "/oidc/jwks"},
        {"end_session_endpoint", i + "/oidc/logout"},
        {"response_types_supported", json::array{"code"}},
        {"response_modes_supported", json::array{"query"}},
        {"grant_types_supported", json::array{"authorization_code"}},
        {"subject_types_supported", json::array{"public"}},
        {"id_token_signing_alg_values_supported", json::array{"ES256"}},
        {"scopes_supported", json::array{"openid", "profile", "email"}},
        {"claims_supported",
         json::array{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "name", "email"}},
        {"token_endpoint_auth_methods_supported",
         json::array{"client_secret_basic", "client_secret_post"}},
        {"code_challenge_methods_supported", json::array{"S256"}},
        {"authorization_response_iss_parameter_supported", true},
        // "create": the registration form first (Initiating User Registration via OpenID
        // Connect 1.0).
        {"prompt_values_supported",
         json::array{"none", "login", "consent", "select_account", "create"}},
    };
    return JsonResponse(200, d, "application/json", "max-age=300");
  }

  // --- pages ---

  std::optional<Session> CurrentSession(const HttpRequest& request, std::string* cookie = nullptr) {
    return SessionOf(options_.sessions.get(), request, options_.https, options_.session_cookie,
                     cookie);
  }

  bool Allowed(const std::string& client_id) const {
    return !options_.client_allowed || options_.client_allowed(client_id);
  }

  HttpResponse Page(const HttpRequest& request, int status, std::string_view title,
                    std::string_view name, const json::object& data,
                    std::optional<std::string> customer) {
    return RenderUserPage(templates_, request, status, title, name, data, std::move(customer));
  }

  HttpResponse WithPolicyFor(HttpResponse r, std::string_view uri) const {
    if (!options_.content_security_policy.empty()) {
      r.AddHeader("Content-Security-Policy",
                  PolicyAllowingFormTarget(options_.content_security_policy, uri));
    }
    return r;
  }

  HttpResponse Problem(const HttpRequest& request, int status, std::string_view heading,
                       std::string_view message) {
    return Page(request, status, heading, "oidc_problem",
                json::object{{"heading", heading}, {"message", message}}, std::nullopt);
  }

  // --- authorization ---

  // Reads the request's parameters (query for GET, form for POST). False with `problem` set
  // when a parameter is repeated, too long or malformed.
  static bool ReadAuthRequest(const commerce::FormFields& fields, AuthRequest* out,
                              std::string* problem) {
    for (std::string_view name : kAuthParams) {
      auto v = fields.Find(name);
      if (!v) continue;
      if (v->size() > kMaxParamBytes || !IsValidUtf8(*v)) {
        *problem = "the parameter " + std::string(name) + " is too long or not UTF-8";
        return false;
      }
      *out->Field(name) = std::string(*v);
    }
    return true;
  }

  // Checks the client and redirect URI (an error page when wrong: never a redirect), then the
  // rest (a redirect with `error` to the client). Returns the response to send, or nullopt when
  // the request is good (`client` set).
  std::optional<HttpResponse> CheckAuthRequest(const HttpRequest& request, const AuthRequest& a,
                                               OidcClient* client) {
    auto c = clients_->Get(a.client_id);
    if (a.client_id.empty() || !c.ok() || !Allowed(a.client_id)) {
      return Problem(request, 400, "Unknown site",
                     "The site that sent you here is not registered with us, so we cannot sign "
                     "you in for it. Go back and try again from the shop's own page.");
    }
    if (!Contains(c->redirect_uris, a.redirect_uri)) {
      return Problem(request, 400, "Wrong return address",
                     "The site that sent you here gave a return address it has not registered. "
                     "For your safety we do not send you there.");
    }
    *client = std::move(*c);
    auto fail = [&](std::string_view error, std::string_view description) {
      return ErrorRedirect(a, error, description);
    };
    if (a.response_type != "code") {
      return fail("unsupported_response_type", "only response_type=code is supported");
    }
    if (!HasScope(a.scope, "openid")) return fail("invalid_scope", "scope must include openid");
    if (a.code_challenge_method != "S256" || a.code_challenge.size() != 43) {
      return fail("invalid_request", "PKCE with code_challenge_method=S256 is required");
    }
    if (!a.prompt.empty() && a.prompt != "none" && a.prompt != "login" && a.prompt != "consent" &&
        a.prompt != "select_account" && a.prompt != "create") {
      return fail("invalid_request", "unsupported prompt value");
    }
    return std::nullopt;
  }

  // ReadAuthRequest, then CheckAuthRequest: the answer to send when the request is bad.
  std::optional<HttpResponse> ReadAndCheck(const HttpRequest& request,
                                           const commerce::FormFields& fields, AuthRequest* a,
                                           OidcClient* client) {
    std::string problem;
    if (!ReadAuthRequest(fields, a, &problem)) {
      return Problem(request, 400, "Bad sign-in request", Sentence(problem));
    }
    return CheckAuthRequest(request, *a, client);
  }

  HttpResponse Redirect(std::string location) {
    HttpResponse r = HttpResponse::Text(303, "See " + location + "\n");
    r.AddHeader("Location", location);
    r.AddHeader("Cache-Control", "no-store");
    return r;
  }

  HttpResponse ErrorRedirect(const AuthRequest& a, std::string_view error,
                             std::string_view description) {
    std::vector<std::pair<std::string, std::string>> p{
        {"error", std::string(error)}, {"error_description", std::string(description)}};
    if (!a.state.empty()) p.emplace_back("state", a.state);
    p.emplace_back("iss", options_.issuer);
    return Redirect(WithParams(a.redirect_uri, p));
  }

  // Issues a code for `user_id` and sends the browser back to the client.
  HttpResponse IssueCode(const AuthRequest& a, const std::string& user_id, int64_t auth_time) {
    const std::string code = Base64UrlEncode(RandomString(env_, 32));
    const int64_t now = env_.NowMicros();
    Status s = db_.Transaction([&](Database& db) -> Status {
      RETURN_IF_ERROR(db.Exec("DELETE FROM oidc_codes WHERE expires_at < ?", {now}));
      RETURN_IF_ERROR(db.Exec("DELETE FROM oidc_access_tokens WHERE expires_at < ?", {now}));
      RETURN_IF_ERROR(db.Exec(
          "INSERT INTO oidc_codes (code_hash, client_id, user_id, redirect_uri, scope, nonce, "
          "code_challenge, auth_time, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
          {Sha256Hex(code), a.client_id, user_id, a.redirect_uri, a.scope, a.nonce,
           a.code_challenge, auth_time, now + kCodeSeconds * kMicros}));
      RETURN_IF_ERROR(
          db.Exec("INSERT INTO oidc_clients_known (user_id, client_id, first_at) VALUES (?, ?, ?) "
                  "ON CONFLICT (user_id, client_id) DO NOTHING",
                  {user_id, a.client_id, now}));
      return db.Exec(
          "INSERT INTO oidc_signins (user_id, client_id, last_at) VALUES (?, ?, ?) "
          "ON CONFLICT (user_id, client_id) DO UPDATE SET last_at = excluded.last_at",
          {user_id, a.client_id, now});
    });
    if (!s.ok()) return ErrorRedirect(a, "temporarily_unavailable", "try again in a minute");
    std::vector<std::pair<std::string, std::string>> p{{"code", code}};
    if (!a.state.empty()) p.emplace_back("state", a.state);
    p.emplace_back("iss", options_.issuer);
    return Redirect(WithParams(a.redirect_uri, p));
  }

  json::object FormData(const AuthRequest& a, const OidcClient& client, std::string_view email) {
    json::array params;
    AuthRequest copy = a;
    for (std::string_view name : kAuthParams) {
      const std::string& v = *copy.Field(name);
      if (!v.empty()) params.push_back(json::object{{"name", name}, {"value", v}});
    }
    // Back to the client's site without signing in: its home page (the redirect URI's origin).
    auto u = boost::urls::parse_absolute_uri(a.redirect_uri);
    const std::string home =
        u ? std::string(u->scheme()) + "://" + std::string(u->encoded_host_and_port()) + "/"
          : std::string("/");
    return json::object{{"client_name", client.name},
                        {"params", std::move(params)},
                        {"email", email},
                        {"register_url", RegistrationUrl(a)},
                        {"cancel_url", home}};
  }

  // Main's registration page (users/registration.h), going on with this request once the
  // account is confirmed (signed in by then: no prompt).
  static std::string RegistrationUrl(const AuthRequest& a) {
    boost::urls::url next("/oidc/authorize");
    AuthRequest copy = a;
    for (std::string_view name : kAuthParams) {
      const std::string& v = *copy.Field(name);
      if (!v.empty() && name != "prompt") next.params().append({name, v});
    }
    boost::urls::url page("/account/register");
    page.params().append({"continue", next.buffer()});
    return std::string(page.buffer());
  }

  HttpResponse AuthorizeGet(const HttpRequest& request) {
    auto fields = commerce::ParseForm(request.query());
    if (!fields.ok()) {
      return Problem(request, 400, "Bad sign-in request",
                     "The sign-in link is damaged: " + fields.status().message());
    }
    AuthRequest a;
    OidcClient client;
    if (auto bad = ReadAndCheck(request, *fields, &a, &client)) return std::move(*bad);
    if (a.prompt == "create") return Redirect(RegistrationUrl(a));
    std::optional<Session> session = CurrentSession(request);
    if (session && a.prompt != "login") {
      return IssueCode(a, session->subject, session->created_micros / kMicros);
    }
    if (a.prompt == "none")
      return ErrorRedirect(a, "login_required", "the customer is not signed in");
    return WithPolicyFor(Page(request, 200, "Sign in", "oidc_authorize", FormData(a, client, ""),
                              session ? std::optional<std::string>(session->name) : std::nullopt),
                         a.redirect_uri);
  }

  HttpResponse AuthorizePost(const HttpRequest& request) {
    if (FromAnotherSite(request)) {
      return Problem(request, 403, "Form refused",
                     "This form was sent from another site; for your safety it was refused.");
    }
    auto form = ReadPostedForm(request);
    if (!form.ok()) {
      return Problem(request, FormErrorStatus(form.status()), "The form could not be read",
                     "Your browser sent a form we could not read: " + form.status().message());
    }
    AuthRequest a;
    OidcClient client;
    if (auto bad = ReadAndCheck(request, *form, &a, &client)) return std::move(*bad);
    const std::string email(form->Get("email"));
    auto again = [&](int status, std::string message) {
      json::object data = FormData(a, client, email);
      data["problem"] = std::move(message);
      return WithPolicyFor(Page(request, status, "Sign in", "oidc_authorize", data, std::nullopt),
                           a.redirect_uri);
    };
    const std::string network = commerce::CartLimiter::ClientNetwork(request.remote_address());
    if (const int64_t wait = failures_.WaitSeconds(network); wait > 0) {
      HttpResponse r =
          again(429, "Too many failed sign-ins from your network: try again in " +
                         std::to_string(wait) + (wait == 1 ? " second." : " seconds."));
      r.AddHeader("Retry-After", std::to_string(wait));
      return r;
    }
    Result<User> user = users_.CheckLogin(email, form->Get("password"));
    if (!user.ok()) {
      switch (user.status().code()) {
        case StatusCode::kUnauthenticated:
          failures_.Count(network);
          return again(401, "Wrong email address or password.");
        case StatusCode::kInvalidArgument:
          return again(400, Sentence(user.status().message()));
        case StatusCode::kResourceExhausted: {
          HttpResponse r = again(429, Sentence(user.status().message()));
          r.AddHeader("Retry-After", "60");
          return r;
        }
        default:
          return again(503, "Signing in is not available right now; try again in a few minutes.");
      }
    }
    // A fresh session at main (the previous one, if any, ends).
    std::vector<std::string> cookies;
    if (options_.sessions != nullptr) {
      std::string old;
      if (CurrentSession(request, &old)) (void)options_.sessions->End(old);
      auto created = options_.sessions->Create(user->id, user->id, user->display_name);
      if (created.ok()) {
        cookies.push_back(
            SessionCookie(created->cookie_value, options_.https, options_.session_cookie, "Lax"));
      }
    }
    HttpResponse r = IssueCode(a, user->id, env_.NowSeconds());
    for (const std::string& c : cookies) r.AddHeader("Set-Cookie", c);
    r.user = user->id;
    return r;
  }

  // --- token ---

  // The client the request authenticates as (Basic, else client_id/client_secret in the form).
  std::optional<OidcClient> AuthenticateClient(const HttpRequest& request,
                                               const commerce::FormFields& form) {
    std::string id, secret;
    if (auto auth = request.FindHeader("Authorization")) {
      if (!BasicCredentials(*auth, &id, &secret)) return std::nullopt;
    } else {
      id = std::string(form.Get("client_id"));
      secret = std::string(form.Get("client_secret"));
    }
    std::optional<OidcClient> client = clients_->Authenticate(id, secret);
    if (client && !Allowed(client->id)) return std::nullopt;
    return client;
  }

  HttpResponse Token(const HttpRequest& request) {
    std::string_view type = request.HeaderOr("Content-Type");
    if (!EqualsIgnoreCase(commerce::Trim(type.substr(0, type.find(';'))),
                          "application/x-www-form-urlencoded")) {
      return OAuthError(400, "invalid_request",
                        "the body must be application/x-www-form-urlencoded");
    }
    commerce::FormLimits limits;
    limits.max_body_bytes = 8 * 1024;
    limits.max_fields = 8;
    limits.max_value_bytes = 2048;
    auto form = commerce::ParseForm(request.body(), limits);
    if (!form.ok()) return OAuthError(400, "invalid_request", form.status().message());
    std::optional<OidcClient> client = AuthenticateClient(request, *form);
    if (!client) return OAuthError(401, "invalid_client", "client authentication failed");
    if (auto id = form->Find("client_id"); id && *id != client->id) {
      return OAuthError(401, "invalid_client", "client_id does not match the credentials");
    }
    if (form->Get("grant_type") != "authorization_code") {
      return OAuthError(400, "unsupported_grant_type", "only authorization_code is supported");
    }
    const std::string code_hash = Sha256Hex(form->Get("code"));
    const int64_t now = env_.NowMicros();
    std::string user_id, scope, nonce, redirect_uri, challenge;
    int64_t auth_time = 0;
    std::string failure;
    Status s = db_.Transaction([&](Database& db) -> Status {
      ASSIGN_OR_RETURN(auto rows,
                       db.Query("SELECT client_id, user_id, redirect_uri, scope, nonce, "
                                "code_challenge, auth_time, expires_at, used FROM oidc_codes "
                                "WHERE code_hash = ?",
                                {code_hash}));
      if (rows.empty() || rows[0].Text(0) != client->id) {
        failure = "the code is not valid";
        return Status::Ok();
      }
      const SqlRow& row = rows[0];
      if (row.Int(8) != 0) {
        // A second use: revoke what the first one got (RFC 6749 4.1.2).
        failure = "the code was already used";
        return db.Exec("DELETE FROM oidc_access_tokens WHERE code_hash = ?", {code_hash});
      }
      if (row.Int(7) < now) {
        failure = "the code has expired";
        return Status::Ok();
      }
      RETURN_IF_ERROR(db.Exec("UPDATE oidc_codes SET used = 1 WHERE code_hash = ?", {code_hash}));
      user_id = row.Text(1);
      redirect_uri = row.Text(2);
      scope = row.Text(3);
      nonce = row.Text(4);
      challenge = row.Text(5);
      auth_time = row.Int(6);
      return Status::Ok();
    });
    if (!s.ok()) return OAuthError(503, "temporarily_unavailable", "try again in a minute");
    if (!failure.empty()) return OAuthError(400, "invalid_grant", failure);
    if (form->Get("redirect_uri") != redirect_uri) {
      return OAuthError(400, "invalid_grant", "redirect_uri does not match the authorization");
    }
    const std::string_view verifier = form->Get("code_verifier");
    if (verifier.size() < 43 || verifier.size() > 128 ||
        !ConstantTimeEquals(Base64UrlEncode(Sha256(verifier)), challenge)) {
      return OAuthError(400, "invalid_grant", "the code_verifier does not match (PKCE)");
    }
    auto user = users_.Get(user_id);
    if (!user.ok() || user->disabled_micros != 0) {
      return OAuthError(400, "invalid_grant", "the account cannot sign in");
    }
    const std::string access = Base64UrlEncode(RandomString(env_, 32));
    if (!db_.Exec("INSERT INTO oidc_access_tokens (token_hash, code_hash, client_id, user_id, "
                  "scope, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                  {Sha256Hex(access), code_hash, client->id, user_id, scope,
                   now + kIdTokenSeconds * kMicros})
             .ok()) {
      return OAuthError(503, "temporarily_unavailable", "try again in a minute");
    }
    const int64_t iat = now / kMicros;
    json::object claims{{"iss", options_.issuer},       {"sub", user_id}, {"aud", client->id},
                        {"exp", iat + kIdTokenSeconds}, {"iat", iat},     {"auth_time", auth_time}};
    if (!nonce.empty()) claims["nonce"] = nonce;
    AddClaims(claims, *user, scope);
    if (options_.new_account && options_.new_account(user_id, client->id)) {
      claims["tieup_new_account"] = true;
    }
    if (options_.record_visits) {
      claims["tieup_record_visits"] = options_.record_visits(user_id, client->id);
    }
    if (options_.signed_out_at) {
      if (const int64_t generation = options_.signed_out_at(user_id); generation > 0) {
        claims["tieup_signed_out_at"] = generation;
      }
    }
    auto id_token = options_.key->Sign(json::serialize(claims));
    if (!id_token.ok()) return OAuthError(500, "server_error", "the ID token could not be signed");
    HttpResponse r = JsonResponse(200, json::object{{"access_token", access},
                                                    {"token_type", "Bearer"},
                                                    {"expires_in", kIdTokenSeconds},
                                                    {"scope", scope},
                                                    {"id_token", *id_token}});
    r.AddHeader("Pragma", "no-cache");
    r.user = user_id;
    return r;
  }

  static void AddClaims(json::object& claims, const User& user, std::string_view scope) {
    if (HasScope(scope, "profile")) claims["name"] = user.display_name;
    if (HasScope(scope, "email")) {
      claims["email"] = user.email;
      // Confirmed by mail at registration (users/registration.h); older accounts were not.
      claims["email_verified"] = user.email_confirmed_micros != 0;
    }
  }

  HttpResponse UserInfo(const HttpRequest& request) {
    std::string_view auth = request.HeaderOr("Authorization");
    auto refuse = [](std::string_view error) {
      HttpResponse r = HttpResponse::Text(401, "A valid Bearer access token is needed.\n");
      r.AddHeader("WWW-Authenticate",
                  "Bearer realm=\"tieup\"" +
                      (error.empty() ? std::string() : ", error=\"" + std::string(error) + "\""));
      return r;
    };
    if (auth.size() < 8 || !EqualsIgnoreCase(auth.substr(0, 7), "Bearer ")) return refuse("");
    const std::string token(commerce::Trim(auth.substr(7)));
    auto rows = db_.Query(
        "SELECT user_id, scope FROM oidc_access_tokens WHERE token_hash = ? AND expires_at >= ?",
        {Sha256Hex(token), env_.NowMicros()});
    if (!rows.ok() || rows->empty()) return refuse("invalid_token");
    auto user = users_.Get((*rows)[0].Text(0));
    if (!user.ok() || user->disabled_micros != 0) return refuse("invalid_token");
    json::object claims{{"sub", user->id}};
    AddClaims(claims, *user, (*rows)[0].Text(1));
    return JsonResponse(200, claims);
  }

  // --- sign-out everywhere ---

  // The client and a post-logout URI it registered, from the request's parameters; the URI is
  // empty unless registered.
  void LogoutTarget(const commerce::FormFields& fields, OidcClient* client, std::string* uri) {
    auto c = clients_->Get(fields.Get("client_id"));
    if (!c.ok()) return;
    *client = std::move(*c);
    const std::string wanted(fields.Get("post_logout_redirect_uri"));
    if (!wanted.empty() && Contains(client->post_logout_redirect_uris, wanted)) *uri = wanted;
  }

  HttpResponse LogoutGet(const HttpRequest& request) {
    auto fields = commerce::ParseForm(request.query());
    if (!fields.ok()) {
      return Problem(request, 400, "Bad sign-out request", "The sign-out link is damaged.");
    }
    OidcClient client;
    std::string uri;
    LogoutTarget(*fields, &client, &uri);
    std::optional<Session> session = CurrentSession(request);
    if (!session) {
      if (!uri.empty()) return Redirect(LogoutReturn(uri, *fields));
      return Page(request, 200, "Signed out", "oidc_signed_out", json::object{}, std::nullopt);
    }
    json::array params;
    for (std::string_view name : {"client_id", "post_logout_redirect_uri", "state"}) {
      if (auto v = fields->Find(name); v && v->size() <= kMaxParamBytes) {
        params.push_back(json::object{{"name", name}, {"value", *v}});
      }
    }
    json::object data{{"name", session->name},
                      {"csrf", session->csrf_token},
                      {"params", std::move(params)},
                      {"client_name", client.name}};
    if (!uri.empty()) data["back_url"] = uri;
    return WithPolicyFor(
        Page(request, 200, "Sign out everywhere?", "oidc_logout", data, session->name), uri);
  }

  static std::string LogoutReturn(const std::string& uri, const commerce::FormFields& fields) {
    std::vector<std::pair<std::string, std::string>> p;
    if (auto state = fields.Find("state"); state && state->size() <= kMaxParamBytes) {
      p.emplace_back("state", std::string(*state));
    }
    return WithParams(uri, p);
  }

  HttpResponse LogoutPost(const HttpRequest& request) {
    if (FromAnotherSite(request)) {
      return Problem(request, 403, "Form refused",
                     "This form was sent from another site; for your safety it was refused.");
    }
    auto form = ReadPostedForm(request);
    if (!form.ok()) {
      return Problem(request, FormErrorStatus(form.status()), "The form could not be read",
                     "Your browser sent a form we could not read.");
    }
    std::string cookie;
    std::optional<Session> session = CurrentSession(request, &cookie);
    if (session && !CsrfMatches(*session, form->Get("csrf"))) {
      return Problem(request, 403, "Form refused",
                     "This form is out of date; go back, reload the page and try again.");
    }
    OidcClient client;
    std::string uri;
    LogoutTarget(*form, &client, &uri);
    if (session) (void)EndEverywhere(session->subject);
    HttpResponse r = uri.empty() ? Page(request, 200, "Signed out", "oidc_signed_out",
                                        json::object{}, std::nullopt)
                                 : Redirect(LogoutReturn(uri, *form));
    r.AddHeader("Set-Cookie", SessionCookie("", options_.https, options_.session_cookie, "Lax"));
    r.AddHeader("Set-Cookie", std::string(content::kCustomerCookie) + "=; Path=/; Max-Age=0");
    if (session) r.user = session->subject;
    return r;
  }

  Env& env_;
  Database& db_;
  UserStore& users_;
  const std::unique_ptr<OidcClients> clients_;
  const OidcProviderOptions options_;
  const content::PageTemplates templates_;
  ClientFailures failures_;
  WorkerPool pool_;  // last: its destructor runs queued requests while the rest is alive
};

Result<std::unique_ptr<OidcProvider>> OidcProvider::Open(Env& env, Database& db, UserStore& users,
                                                         OidcProviderOptions options) {
  if (options.key == nullptr) return Status::InvalidArgument("the provider needs a signing key");
  auto issuer = boost::urls::parse_absolute_uri(options.issuer);
  if (!issuer || (issuer->scheme() != "https" && issuer->scheme() != "http") ||
      !issuer->has_authority() || issuer->has_query() || issuer->has_fragment() ||
      options.issuer.ends_with("/")) {
    return Status::InvalidArgument("the issuer '" + options.issuer +
                                   "' must be an http(s) URL without a trailing slash, query or "
                                   "fragment (main's public_url)");
  }
  ASSIGN_OR_RETURN(std::unique_ptr<OidcClients> clients, OidcClients::Open(env, db));
  return std::unique_ptr<OidcProvider>(new OidcProvider(
      std::make_unique<Impl>(env, db, users, std::move(clients), std::move(options))));
}

OidcProvider::OidcProvider(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
OidcProvider::~OidcProvider() = default;

Result<std::string> OidcProvider::RegisterClient(const OidcClient& client) {
  return impl_->clients().Register(client);
}
Result<OidcClient> OidcProvider::GetClient(std::string_view client_id) {
  return impl_->clients().Get(client_id);
}
Status OidcProvider::RemoveClient(std::string_view client_id) {
  return impl_->clients().Remove(client_id);
}

// --- OidcClients ---

Result<std::unique_ptr<OidcClients>> OidcClients::Open(Env& env, Database& db) {
  RETURN_IF_ERROR(Migrate(db, "oidc", OidcMigrations()));
  return std::unique_ptr<OidcClients>(new OidcClients(env, db));
}

OidcClients::~OidcClients() = default;

Result<std::string> OidcClients::Register(const OidcClient& client) {
  if (client.id.empty() || client.id.size() > 128 || client.id.find(':') != std::string::npos ||
      !IsValidUtf8(client.id)) {
    return Status::InvalidArgument("a client id must be 1 to 128 characters without ':'");
  }
  if (client.redirect_uris.empty()) {
    return Status::InvalidArgument("a client needs at least one redirect URI");
  }
  for (const auto* list : {&client.redirect_uris, &client.post_logout_redirect_uris}) {
    for (const std::string& uri : *list) RETURN_IF_ERROR(CheckRedirectUri(uri));
  }
  const std::string secret = Base64UrlEncode(RandomString(env_, 32));
  RETURN_IF_ERROR(db_.Exec(
      "INSERT INTO oidc_clients (id, name, secret_hash, redirect_uris, "
      "post_logout_redirect_uris, registered_at) VALUES (?, ?, ?, ?, ?, ?) "
      "ON CONFLICT (id) DO UPDATE SET name = excluded.name, secret_hash = excluded.secret_hash, "
      "redirect_uris = excluded.redirect_uris, "
      "post_logout_redirect_uris = excluded.post_logout_redirect_uris, "
      "registered_at = excluded.registered_at",
      {client.id, client.name.empty() ? client.id : client.name, Sha256Hex(secret),
       Join(client.redirect_uris), Join(client.post_logout_redirect_uris), env_.NowMicros()}));
  return secret;
}

namespace {
OidcClient ClientOfRow(const SqlRow& row) {
  OidcClient c;
  c.id = row.Text(0);
  c.name = row.Text(1);
  c.redirect_uris = Split(row.Text(2));
  c.post_logout_redirect_uris = Split(row.Text(3));
  return c;
}
constexpr std::string_view kClientColumns =
    "SELECT id, name, redirect_uris, post_logout_redirect_uris, secret_hash FROM oidc_clients";
}  // namespace

Result<OidcClient> OidcClients::Get(std::string_view id) {
  ASSIGN_OR_RETURN(auto rows,
                   db_.Query(std::string(kClientColumns) + " WHERE id = ?", {std::string(id)}));
  if (rows.empty()) return Status::NotFound("no single sign-on client '" + std::string(id) + "'");
  return ClientOfRow(rows[0]);
}

Result<std::vector<OidcClient>> OidcClients::List() {
  ASSIGN_OR_RETURN(auto rows, db_.Query(std::string(kClientColumns) + " ORDER BY id"));
  std::vector<OidcClient> out;
  for (const SqlRow& row : rows) out.push_back(ClientOfRow(row));
  return out;
}

Status OidcClients::Remove(std::string_view id) {
  RETURN_IF_ERROR(db_.Exec("DELETE FROM oidc_clients WHERE id = ?", {std::string(id)}));
  if (db_.ChangedRows() == 0) {
    return Status::NotFound("no single sign-on client '" + std::string(id) + "'");
  }
  return Status::Ok();
}

Result<std::vector<std::pair<std::string, int64_t>>> OidcClients::SignIns(
    std::string_view user_id) {
  ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT client_id, last_at FROM oidc_signins WHERE "
                                        "user_id = ? ORDER BY last_at",
                                        {std::string(user_id)}));
  std::vector<std::pair<std::string, int64_t>> out;
  for (const SqlRow& row : rows) out.emplace_back(row.Text(0), row.Int(1));
  return out;
}

Result<std::vector<std::string>> OidcClients::KnownTo(std::string_view user_id) {
  ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT client_id FROM oidc_clients_known WHERE "
                                        "user_id = ? ORDER BY client_id",
                                        {std::string(user_id)}));
  std::vector<std::string> out;
  for (const SqlRow& row : rows) out.push_back(row.Text(0));
  return out;
}

Status OidcClients::ForgetUser(std::string_view user_id) {
  return db_.Exec("DELETE FROM oidc_clients_known WHERE user_id = ?", {std::string(user_id)});
}

std::optional<OidcClient> OidcClients::Authenticate(std::string_view id, std::string_view secret) {
  if (id.empty() || secret.empty() || id.size() > 128 || secret.size() > 256) return std::nullopt;
  auto rows = db_.Query(std::string(kClientColumns) + " WHERE id = ?", {std::string(id)});
  // Hash either way, so an unknown id takes the time a known one does.
  const std::string given = Sha256Hex(secret);
  if (!rows.ok() || rows->empty() || !ConstantTimeEquals(given, (*rows)[0].Text(4))) {
    return std::nullopt;
  }
  return ClientOfRow((*rows)[0]);
}
void OidcProvider::Handle(const HttpRequest& request, HttpResponder responder) {
  // Password hashing and database writes: off the I/O thread.
  Impl* impl = impl_.get();
  RespondOffIoThread(
      impl->pool(), kMaxQueuedPosts, request, std::move(responder),
      [impl](const HttpRequest& r) { return impl->Handle(r); }, BusyResponse);
}

HttpResponse OidcProvider::HandleRequest(const HttpRequest& request) {
  return impl_->Handle(request);
}
const std::string& OidcProvider::issuer() const { return impl_->issuer(); }
Result<std::vector<std::pair<std::string, int64_t>>> OidcProvider::SignIns(
    std::string_view user_id) {
  return impl_->SignIns(std::string(user_id));
}
Status OidcProvider::EndEverywhere(std::string_view user_id) {
  return impl_->EndEverywhere(std::string(user_id));
}

}  // namespace tieup::users
