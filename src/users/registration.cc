#include "users/registration.h"

#include <boost/json.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

#include "base/encoding.h"
#include "base/worker_pool.h"
#include "commerce/cart_limiter.h"
#include "commerce/form.h"
#include "commerce/shop_pages.h"
#include "crypto/hash.h"
#include "users/form_checks.h"

namespace tieup::users {

// Generated from src/users/templates/register*.mustache and welcome.mustache
// (tieup_embed_files).
const content::EmbeddedTemplates& EmbeddedRegistrationTemplates();

const content::EmbeddedTemplates& RegistrationTemplates() {
  return EmbeddedRegistrationTemplates();
}

namespace {

namespace json = boost::json;

constexpr int64_t kMicros = 1'000'000;
constexpr size_t kMaxQueuedPosts = 64;
constexpr size_t kMaxContinueBytes = 4096;
// Rows are kept this long after their link expired (the hourly mail count, and the notice for
// the client, which a customer who never came back to the site leaves untaken).
constexpr int64_t kKeepMicros = 30LL * 24 * 3600 * kMicros;

const std::vector<Migration>& RegistrationMigrations() {
  static const std::vector<Migration> kSteps = {
      {1,
       "CREATE TABLE registrations ("
       "  id INTEGER PRIMARY KEY,"
       // NULL for a mail to an address that has an account (counted, nothing to confirm).
       "  token_hash TEXT UNIQUE,"
       "  email_key TEXT NOT NULL,"
       "  email TEXT NOT NULL,"
       "  display_name TEXT NOT NULL,"
       // Until confirmed; emptied once the account exists.
       "  password_hash TEXT NOT NULL DEFAULT '',"
       "  client_id TEXT NOT NULL DEFAULT '',"
       "  continue_url TEXT NOT NULL DEFAULT '',"
       "  created_at INTEGER NOT NULL,"
       "  expires_at INTEGER NOT NULL,"
       "  confirmed_at INTEGER NOT NULL DEFAULT 0,"
       "  user_id TEXT NOT NULL DEFAULT '',"
       "  notice_taken INTEGER NOT NULL DEFAULT 0);"
       "CREATE INDEX registrations_email ON registrations(email_key, created_at);"
       "CREATE INDEX registrations_user ON registrations(user_id);"},
  };
  return kSteps;
}

std::string EmailKey(std::string_view email) {
  std::string key(email);
  for (char& c : key) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return key;
}

// The client of a continue URL ("/oidc/authorize?...&client_id=X&..."); "" when it is not one.
std::string ContinueClient(std::string_view url) {
  if (url.size() > kMaxContinueBytes || !url.starts_with("/oidc/authorize?")) return "";
  auto u = boost::urls::parse_origin_form(url);
  if (!u || u->path() != "/oidc/authorize") return "";
  auto it = u->params().find("client_id");
  if (it == u->params().end()) return "";
  return std::string((*it).value);
}

}  // namespace

Result<std::unique_ptr<PendingRegistrations>> PendingRegistrations::Open(Env& env, Database& db,
                                                                         UserStore& users) {
  RETURN_IF_ERROR(Migrate(db, "registrations", RegistrationMigrations()));
  return std::unique_ptr<PendingRegistrations>(new PendingRegistrations(env, db, users));
}

PendingRegistrations::~PendingRegistrations() = default;

Result<PendingRegistrations::Requested> PendingRegistrations::Request(
    const RegistrationForm& form) {
  Requested out;
  ASSIGN_OR_RETURN(out.email, NormalizeEmail(form.email));
  ASSIGN_OR_RETURN(out.display_name, NormalizeDisplayName(form.display_name));
  // Hashed whether or not the address is taken: the answer takes the same time.
  ASSIGN_OR_RETURN(std::string hash, users_.HashNewPassword(form.password));
  Result<User> existing = users_.FindByEmail(out.email);
  if (!existing.ok() && existing.status().code() != StatusCode::kNotFound) {
    return existing.status();
  }
  const bool taken = existing.ok();
  const std::string key = EmailKey(out.email);
  const int64_t now = env_.NowMicros();
  const std::string token = Base64UrlEncode(RandomString(env_, 32));
  out.kind = taken ? Requested::Kind::kAlreadyRegistered : Requested::Kind::kConfirm;
  RETURN_IF_ERROR(db_.Transaction([&](Database& db) -> Status {
    RETURN_IF_ERROR(db.Exec("DELETE FROM registrations WHERE expires_at < ?", {now - kKeepMicros}));
    ASSIGN_OR_RETURN(auto rows, db.Query("SELECT COUNT(*) FROM registrations WHERE email_key = ? "
                                         "AND created_at > ?",
                                         {key, now - 3600 * kMicros}));
    if (!rows.empty() && rows[0].Int(0) >= kMaxRegistrationMailsPerHour) {
      out.kind = Requested::Kind::kNoMail;
      return Status::Ok();
    }
    if (taken) {
      return db.Exec(
          "INSERT INTO registrations (email_key, email, display_name, created_at, expires_at) "
          "VALUES (?, ?, ?, ?, ?)",
          {key, out.email, existing->display_name, now, now});
    }
    return db.Exec(
        "INSERT INTO registrations (token_hash, email_key, email, display_name, password_hash, "
        "client_id, continue_url, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        {Sha256Hex(token), key, out.email, out.display_name, hash, form.client_id,
         form.continue_url, now, now + kConfirmSeconds * kMicros});
  }));
  if (out.kind == Requested::Kind::kConfirm) out.token = token;
  if (out.kind == Requested::Kind::kAlreadyRegistered) out.display_name = existing->display_name;
  return out;
}

std::optional<PendingRegistrations::Waiting> PendingRegistrations::Find(std::string_view token) {
  if (token.empty() || token.size() > 128) return std::nullopt;
  auto rows = db_.Query(
      "SELECT email, display_name, continue_url FROM registrations WHERE "
      "token_hash = ? AND "
      "confirmed_at = 0 AND expires_at >= ?",
      {Sha256Hex(token), env_.NowMicros()});
  if (!rows.ok() || rows->empty()) return std::nullopt;
  const SqlRow& row = (*rows)[0];
  return Waiting{row.Text(0), row.Text(1), row.Text(2)};
}

Result<PendingRegistrations::Confirmed> PendingRegistrations::Confirm(std::string_view token) {
  const Status gone = Status::NotFound(
      "this link has expired or was already used: register again to get a new one");
  if (token.empty() || token.size() > 128) return gone;
  const std::string token_hash = Sha256Hex(token);
  const int64_t now = env_.NowMicros();
  // Used up first, in one transaction: two submissions at once make one account.
  std::string email, name, password_hash;
  Confirmed out;
  RETURN_IF_ERROR(db_.Transaction([&](Database& db) -> Status {
    ASSIGN_OR_RETURN(auto rows,
                     db.Query("SELECT email, display_name, password_hash, client_id, continue_url "
                              "FROM registrations WHERE token_hash = ? AND confirmed_at = 0 AND "
                              "expires_at >= ?",
                              {token_hash, now}));
    if (rows.empty()) return Status::Ok();
    email = rows[0].Text(0);
    name = rows[0].Text(1);
    password_hash = rows[0].Text(2);
    out.client_id = rows[0].Text(3);
    out.continue_url = rows[0].Text(4);
    return db.Exec("UPDATE registrations SET confirmed_at = ? WHERE token_hash = ?",
                   {now, token_hash});
  }));
  if (email.empty()) return gone;
  NewUser request;
  request.email = email;
  request.display_name = name;
  request.registered_via = out.client_id.empty() ? "main" : out.client_id;
  // Main's own pages are its original area; through a site, main's page stood in for that site's
  // tie-up page (the site's ledger records the area of the page the customer came from).
  request.area = out.client_id.empty() ? UserArea::kOriginal : UserArea::kTieup;
  request.email_confirmed_micros = now;
  Result<User> user = users_.RegisterHashed(request, password_hash);
  if (!user.ok()) {
    if (user.status().code() != StatusCode::kAlreadyExists) {
      // Not made (the store failed): the link stays usable.
      (void)db_.Exec("UPDATE registrations SET confirmed_at = 0 WHERE token_hash = ?",
                     {token_hash});
    }
    return user.status();
  }
  RETURN_IF_ERROR(
      db_.Exec("UPDATE registrations SET password_hash = '', user_id = ? WHERE token_hash = ?",
               {user->id, token_hash}));
  out.user = std::move(*user);
  return out;
}

bool PendingRegistrations::TakeNewAccountNotice(std::string_view user_id,
                                                std::string_view client_id) {
  if (user_id.empty() || client_id.empty()) return false;
  bool taken = false;
  Status s = db_.Transaction([&](Database& db) -> Status {
    ASSIGN_OR_RETURN(auto rows, db.Query("SELECT id FROM registrations WHERE user_id = ? AND "
                                         "client_id = ? AND notice_taken = 0",
                                         {std::string(user_id), std::string(client_id)}));
    if (rows.empty()) return Status::Ok();
    taken = true;
    return db.Exec("UPDATE registrations SET notice_taken = 1 WHERE id = ?", {rows[0].Int(0)});
  });
  return s.ok() && taken;
}

Status PendingRegistrations::Forget(std::string_view user_id, std::string_view email) {
  return db_.Exec("DELETE FROM registrations WHERE user_id = ? OR email_key = ?",
                  {std::string(user_id), EmailKey(email)});
}

class RegistrationPages::Impl {
 public:
  Impl(std::shared_ptr<PendingRegistrations> registrations, RegistrationPagesOptions options)
      : registrations_(std::move(registrations)),
        options_(std::move(options)),
        templates_(RegistrationTemplates(), options_.site),
        clients_(options_.env, options_.requests_per_client),
        pool_(2) {}

  WorkerPool& pool() { return pool_; }

  HttpResponse Handle(const HttpRequest& request) {
    try {
      return Route(request);
    } catch (const std::exception&) {
      return HttpResponse::Text(500, "The page failed; please try again.\n");
    }
  }

 private:
  HttpResponse Route(const HttpRequest& request) {
    const std::string_view path = request.path();
    const bool post = request.method() == "POST";
    if (post && FromAnotherSite(request)) {
      return Problem(request, 403, "Form refused",
                     "This form was sent from another site; for your safety it was refused.");
    }
    if (path == "/account/register") return post ? Ask(request) : FormPage(request);
    if (path == "/account/register/confirm") {
      return post ? Confirm(request) : ConfirmPage(request);
    }
    return Problem(request, 404, "Page not found", "There is no page at this address.");
  }

  HttpResponse Page(const HttpRequest& request, int status, std::string_view title,
                    std::string_view name, const json::object& data,
                    std::optional<std::string> customer = std::nullopt) {
    return RenderUserPage(templates_, request, status, title, name, data, std::move(customer));
  }

  HttpResponse Problem(const HttpRequest& request, int status, std::string_view heading,
                       std::string_view message) {
    return Page(request, status, heading, "register_problem",
                json::object{{"heading", heading}, {"message", message}});
  }

  // The continue URL and its client's name, when `url` is an authorization request of a known
  // client; both empty otherwise.
  std::pair<std::string, std::string> Continuation(std::string_view url) const {
    std::optional<OidcClient> client = ClientOf(url);
    if (!client) return {};
    return {std::string(url), client->name};
  }

  std::optional<OidcClient> ClientOf(std::string_view continue_url) const {
    const std::string id = ContinueClient(continue_url);
    if (id.empty() || !options_.client) return std::nullopt;
    return options_.client(id);
  }

  json::object FormData(std::string_view email, std::string_view display_name,
                        std::string_view continue_url) const {
    auto [url, client_name] = Continuation(continue_url);
    json::object data{{"email", email},
                      {"display_name", display_name},
                      {"continue", url},
                      {"min_password_chars", kMinPasswordChars}};
    if (!client_name.empty()) data["client_name"] = client_name;
    // "Already registered?": the sign-in of the same request, else main's sign-in page.
    data["sign_in_url"] = url.empty() ? std::string(content::kSignInUrl) : url;
    return data;
  }

  HttpResponse FormPage(const HttpRequest& request) {
    auto query = commerce::ParseForm(request.query());
    const std::string continue_url(query.ok() ? query->Get("continue") : "");
    return Page(request, 200, "Create an account", "register", FormData("", "", continue_url));
  }

  HttpResponse Ask(const HttpRequest& request) {
    auto form = ReadPostedForm(request);
    if (!form.ok()) {
      return Problem(request, FormErrorStatus(form.status()), "The form could not be read",
                     "Your browser sent a form we could not read: " + form.status().message() +
                         ". Please go back and try again.");
    }
    RegistrationForm r;
    r.email = std::string(commerce::Trim(form->Get("email")));
    r.display_name = std::string(form->Get("display_name"));
    r.password = std::string(form->Get("password"));
    auto [continue_url, client_name] = Continuation(form->Get("continue"));
    r.continue_url = continue_url;
    if (!continue_url.empty()) r.client_id = ContinueClient(continue_url);
    auto again = [&](int status, std::string problem) {
      json::object data = FormData(r.email, r.display_name, r.continue_url);
      data["problem"] = std::move(problem);
      return Page(request, status, "Create an account", "register", data);
    };
    const std::string network = commerce::CartLimiter::ClientNetwork(request.remote_address());
    if (const int64_t wait = clients_.WaitSeconds(network); wait > 0) {
      HttpResponse page = again(429, "Too many registrations from your network: try again in " +
                                         std::to_string(wait) + " seconds.");
      page.AddHeader("Retry-After", std::to_string(wait));
      return page;
    }
    Result<PendingRegistrations::Requested> done = registrations_->Request(r);
    if (!done.ok()) {
      if (done.status().code() == StatusCode::kInvalidArgument) {
        return again(400, Sentence(done.status().message()));
      }
      HttpResponse page = Problem(request, 503, "Please try again later",
                                  "Registration is not available right now; try again in a few "
                                  "minutes. Nothing was recorded.");
      page.AddHeader("Retry-After", "60");
      return page;
    }
    clients_.Count(network);
    if (done->kind != PendingRegistrations::Requested::Kind::kNoMail && options_.send_mail) {
      RegistrationMail mail;
      mail.email = done->email;
      mail.display_name = done->display_name;
      mail.client_name = client_name;
      mail.reset_link = options_.base_url + "/account/reset";
      if (done->kind == PendingRegistrations::Requested::Kind::kConfirm) {
        mail.kind = RegistrationMail::Kind::kConfirm;
        mail.link = options_.base_url + "/account/register/confirm?token=" + done->token;
      } else {
        mail.kind = RegistrationMail::Kind::kAlreadyRegistered;
        mail.link = options_.base_url + std::string(content::kSignInUrl);
      }
      // A failure is the sender's to log: the page must not tell whether the account exists.
      (void)options_.send_mail(mail);
    }
    return Page(request, 200, "Check your mail", "register_sent",
                json::object{{"email", done->email}});
  }

  HttpResponse Gone(const HttpRequest& request, std::string_view message) {
    return Problem(request, 400, "This link no longer works", message);
  }

  HttpResponse ConfirmPage(const HttpRequest& request) {
    auto query = commerce::ParseForm(request.query());
    const std::string token(query.ok() ? query->Get("token") : "");
    std::optional<PendingRegistrations::Waiting> waiting = registrations_->Find(token);
    if (!waiting) {
      return Gone(request,
                  "This link has expired or was already used. If you have not created your "
                  "account yet, register again: a link works for 24 hours.");
    }
    json::object data{
        {"token", token}, {"email", waiting->email}, {"display_name", waiting->display_name}};
    std::optional<OidcClient> client = ClientOf(waiting->continue_url);
    if (client) data["client_name"] = client->name;
    HttpResponse r = Page(request, 200, "Create your account", "register_confirm", data);
    // The confirmation ends at the client's redirect URI (through the provider): the form may
    // go there, if the client registered that address.
    if (!options_.content_security_policy.empty()) {
      std::string policy = options_.content_security_policy;
      auto u = boost::urls::parse_origin_form(waiting->continue_url);
      if (client && u) {
        auto redirect = u->params().find("redirect_uri");
        if (redirect != u->params().end()) {
          const std::string uri((*redirect).value);
          for (const std::string& registered : client->redirect_uris) {
            if (registered == uri) policy = PolicyAllowingFormTarget(policy, uri);
          }
        }
      }
      r.AddHeader("Content-Security-Policy", policy);
    }
    return r;
  }

  HttpResponse Confirm(const HttpRequest& request) {
    auto form = ReadPostedForm(request);
    if (!form.ok()) {
      return Problem(request, FormErrorStatus(form.status()), "The form could not be read",
                     "Your browser sent a form we could not read.");
    }
    Result<PendingRegistrations::Confirmed> done = registrations_->Confirm(form->Get("token"));
    if (!done.ok()) {
      switch (done.status().code()) {
        case StatusCode::kNotFound:
          return Gone(request, Sentence(done.status().message()));
        case StatusCode::kAlreadyExists:
          return Page(request, 409, "You already have an account", "register_problem",
                      json::object{{"heading", "You already have an account"},
                                   {"message",
                                    "This address already has an account. Sign in with it, or "
                                    "choose a new password if you forgot yours."},
                                   {"sign_in", true}});
        default: {
          HttpResponse page = Problem(request, 503, "Please try again later",
                                      "Your account could not be created right now; the link "
                                      "still works: try again in a few minutes.");
          page.AddHeader("Retry-After", "60");
          return page;
        }
      }
    }
    const User& user = done->user;
    // Signed in at main: the continuation finds the session and answers the site at once.
    std::vector<std::string> cookies;
    if (options_.sessions != nullptr) {
      const std::string old = commerce::CookieValue(
          request.HeaderOr("Cookie"), SessionCookieName(options_.https, options_.session_cookie));
      if (!old.empty()) (void)options_.sessions->End(old);
      auto created = options_.sessions->Create(user.id, user.id, user.display_name);
      if (created.ok()) {
        cookies.push_back(
            SessionCookie(created->cookie_value, options_.https, options_.session_cookie, "Lax"));
        cookies.push_back(CustomerCookie(user.display_name, options_.https));
      }
    }
    HttpResponse r =
        !done->continue_url.empty() && !cookies.empty()
            ? SeeOther(done->continue_url)
            : Page(request, 200, "Welcome", "welcome",
                   json::object{{"name", user.display_name}, {"signed_in", !cookies.empty()}},
                   cookies.empty() ? std::nullopt : std::optional<std::string>(user.display_name));
    for (const std::string& c : cookies) r.AddHeader("Set-Cookie", c);
    r.user = user.id;
    return r;
  }

  static HttpResponse SeeOther(const std::string& location) {
    HttpResponse r = HttpResponse::Text(303, "See " + location + "\n");
    r.AddHeader("Location", location);
    r.AddHeader("Cache-Control", "no-store");
    return r;
  }

  std::shared_ptr<PendingRegistrations> registrations_;
  const RegistrationPagesOptions options_;
  const content::PageTemplates templates_;
  ClientFailures clients_;
  WorkerPool pool_;  // last: its destructor runs queued requests while the rest is alive
};

RegistrationPages::RegistrationPages(std::shared_ptr<PendingRegistrations> registrations,
                                     RegistrationPagesOptions options)
    : impl_(std::make_unique<Impl>(std::move(registrations), std::move(options))) {}

RegistrationPages::~RegistrationPages() = default;

void RegistrationPages::Handle(const HttpRequest& request, HttpResponder responder) {
  Impl* impl = impl_.get();
  RespondOffIoThread(
      impl->pool(), kMaxQueuedPosts, request, std::move(responder),
      [impl](const HttpRequest& r) { return impl->Handle(r); }, BusyResponse);
}

HttpResponse RegistrationPages::HandleRequest(const HttpRequest& request) {
  return impl_->Handle(request);
}

}  // namespace tieup::users
