#include "users/password_reset.h"

#include <boost/json.hpp>

#include "base/encoding.h"
#include "base/worker_pool.h"
#include "commerce/cart_limiter.h"
#include "commerce/form.h"
#include "commerce/shop_pages.h"
#include "crypto/hash.h"
#include "users/form_checks.h"

namespace tieup::users {

// Generated from src/users/templates/reset_*.mustache (tieup_embed_files).
const content::EmbeddedTemplates& EmbeddedResetTemplates();

const content::EmbeddedTemplates& PasswordResetTemplates() { return EmbeddedResetTemplates(); }

namespace {

namespace json = boost::json;

constexpr int64_t kMicros = 1'000'000;
constexpr size_t kMaxQueuedPosts = 64;

const std::vector<Migration>& ResetMigrations() {
  static const std::vector<Migration> kSteps = {
      {1,
       "CREATE TABLE password_resets ("
       "  token_hash TEXT PRIMARY KEY,"
       "  user_id TEXT NOT NULL,"
       "  created_at INTEGER NOT NULL,"
       "  expires_at INTEGER NOT NULL,"
       "  used_at INTEGER NOT NULL DEFAULT 0);"
       "CREATE INDEX password_resets_user ON password_resets(user_id, created_at);"},
  };
  return kSteps;
}

}  // namespace

Result<std::unique_ptr<PasswordResets>> PasswordResets::Open(Env& env, Database& db,
                                                             UserStore& users) {
  RETURN_IF_ERROR(Migrate(db, "password_resets", ResetMigrations()));
  return std::unique_ptr<PasswordResets>(new PasswordResets(env, db, users));
}

PasswordResets::~PasswordResets() = default;

Result<std::optional<PasswordResets::Issued>> PasswordResets::Request(std::string_view email) {
  ASSIGN_OR_RETURN(std::string normalized, NormalizeEmail(email));
  Result<User> user = users_.FindByEmail(normalized);
  if (!user.ok()) {
    if (user.status().code() == StatusCode::kNotFound) return std::optional<Issued>();
    return user.status();
  }
  if (user->disabled_micros != 0) return std::optional<Issued>();
  const int64_t now = env_.NowMicros();
  const std::string token = Base64UrlEncode(RandomString(env_, 32));
  bool too_many = false;
  RETURN_IF_ERROR(db_.Transaction([&](Database& db) -> Status {
    // Expired links go (used ones stay a day, as a record of the change).
    RETURN_IF_ERROR(
        db.Exec("DELETE FROM password_resets WHERE expires_at < ?", {now - 24 * 3600 * kMicros}));
    ASSIGN_OR_RETURN(auto rows,
                     db.Query("SELECT COUNT(*) FROM password_resets WHERE user_id = ? AND "
                              "created_at > ?",
                              {user->id, now - 3600 * kMicros}));
    if (!rows.empty() && rows[0].Int(0) >= kMaxResetsPerHour) {
      too_many = true;
      return Status::Ok();
    }
    return db.Exec(
        "INSERT INTO password_resets (token_hash, user_id, created_at, expires_at) VALUES (?, ?, "
        "?, ?)",
        {Sha256Hex(token), user->id, now, now + kResetSeconds * kMicros});
  }));
  if (too_many) return std::optional<Issued>();
  return std::optional<Issued>(Issued{std::move(*user), token});
}

bool PasswordResets::Usable(std::string_view token) {
  if (token.empty() || token.size() > 128) return false;
  auto rows = db_.Query(
      "SELECT 1 FROM password_resets WHERE token_hash = ? AND used_at = 0 AND expires_at >= ?",
      {Sha256Hex(token), env_.NowMicros()});
  return rows.ok() && !rows->empty();
}

Result<User> PasswordResets::Complete(std::string_view token, std::string_view new_password) {
  const Status gone =
      Status::NotFound("this link has expired or was already used: ask for a new one");
  if (token.empty() || token.size() > 128) return gone;
  RETURN_IF_ERROR(CheckPasswordPolicy(new_password));
  const std::string hash = Sha256Hex(token);
  const int64_t now = env_.NowMicros();
  // Used up first, in one transaction: two submissions at once change the password once.
  std::string user_id;
  RETURN_IF_ERROR(db_.Transaction([&](Database& db) -> Status {
    ASSIGN_OR_RETURN(auto rows, db.Query("SELECT user_id FROM password_resets WHERE token_hash = "
                                         "? AND used_at = 0 AND expires_at >= ?",
                                         {hash, now}));
    if (rows.empty()) return Status::Ok();
    user_id = rows[0].Text(0);
    return db.Exec("UPDATE password_resets SET used_at = ? WHERE token_hash = ?", {now, hash});
  }));
  if (user_id.empty()) return gone;
  Result<User> user = users_.SetPassword(user_id, new_password);
  if (!user.ok()) {
    // Not changed (busy, say): the link stays usable.
    (void)db_.Exec("UPDATE password_resets SET used_at = 0 WHERE token_hash = ?", {hash});
    return user.status();
  }
  // Every other link of the account goes too.
  RETURN_IF_ERROR(
      db_.Exec("UPDATE password_resets SET used_at = ? WHERE user_id = ? AND "
               "used_at = 0",
               {now, user->id}));
  return user;
}

Status PasswordResets::Forget(std::string_view user_id) {
  return db_.Exec("DELETE FROM password_resets WHERE user_id = ?", {std::string(user_id)});
}

class PasswordResetPages::Impl {
 public:
  Impl(std::shared_ptr<PasswordResets> resets, PasswordResetPagesOptions options)
      : resets_(std::move(resets)),
        options_(std::move(options)),
        templates_(PasswordResetTemplates(), options_.site),
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
    if (path == "/account/reset") return post ? Ask(request) : AskForm(request, "", "", 200);
    if (path == "/account/reset/confirm") return post ? Complete(request) : ConfirmForm(request);
    return Problem(request, 404, "Page not found", "There is no page at this address.");
  }

  HttpResponse Page(const HttpRequest& request, int status, std::string_view title,
                    std::string_view name, const json::object& data) {
    return RenderUserPage(templates_, request, status, title, name, data);
  }

  HttpResponse Problem(const HttpRequest& request, int status, std::string_view heading,
                       std::string_view message) {
    return Page(request, status, heading, "reset_problem",
                json::object{{"heading", heading}, {"message", message}});
  }

  HttpResponse AskForm(const HttpRequest& request, std::string_view email, std::string_view problem,
                       int status) {
    json::object data{{"email", email}};
    if (!problem.empty()) data["problem"] = problem;
    return Page(request, status, "Forgot your password?", "reset_request", data);
  }

  HttpResponse Ask(const HttpRequest& request) {
    auto form = ReadPostedForm(request);
    if (!form.ok()) {
      return Problem(request, FormErrorStatus(form.status()), "The form could not be read",
                     "Your browser sent a form we could not read.");
    }
    const std::string email(commerce::Trim(form->Get("email")));
    const std::string client = commerce::CartLimiter::ClientNetwork(request.remote_address());
    if (const int64_t wait = clients_.WaitSeconds(client); wait > 0) {
      HttpResponse r = AskForm(
          request, email,
          "Too many requests from your network: try again in " + std::to_string(wait) + " seconds.",
          429);
      r.AddHeader("Retry-After", std::to_string(wait));
      return r;
    }
    clients_.Count(client);
    Result<std::optional<PasswordResets::Issued>> issued = resets_->Request(email);
    if (!issued.ok()) {
      if (issued.status().code() == StatusCode::kInvalidArgument) {
        return AskForm(request, email, Sentence(issued.status().message()), 400);
      }
      return Problem(request, 503, "Please try again later",
                     "Resetting passwords is not available right now; try again in a few "
                     "minutes.");
    }
    if (issued->has_value() && options_.send_mail) {
      const std::string link =
          options_.base_url + "/account/reset/confirm?token=" + (*issued)->token;
      // A failure is the sender's to log: the page must not tell whether the account exists.
      (void)options_.send_mail((*issued)->user, link);
    }
    auto normalized = NormalizeEmail(email);
    return Page(request, 200, "Check your mail", "reset_sent",
                json::object{{"email", normalized.ok() ? *normalized : email}});
  }

  HttpResponse ConfirmForm(const HttpRequest& request) {
    auto query = commerce::ParseForm(request.query());
    const std::string token(query.ok() ? query->Get("token") : "");
    if (!resets_->Usable(token)) {
      return Problem(request, 400, "This link no longer works",
                     "This link has expired or was already used. Ask for a new one: it works "
                     "for 30 minutes.");
    }
    return Page(request, 200, "Choose a new password", "reset_form",
                json::object{{"token", token}, {"min_password_chars", kMinPasswordChars}});
  }

  HttpResponse Complete(const HttpRequest& request) {
    auto form = ReadPostedForm(request);
    if (!form.ok()) {
      return Problem(request, FormErrorStatus(form.status()), "The form could not be read",
                     "Your browser sent a form we could not read.");
    }
    const std::string token(form->Get("token"));
    Result<User> user = resets_->Complete(token, form->Get("password"));
    if (user.ok()) {
      if (options_.password_changed) options_.password_changed(*user);
      HttpResponse r = Page(request, 200, "Password changed", "reset_done", json::object{});
      r.user = user->id;
      return r;
    }
    switch (user.status().code()) {
      case StatusCode::kInvalidArgument:
        return Page(request, 400, "Choose a new password", "reset_form",
                    json::object{{"token", token},
                                 {"min_password_chars", kMinPasswordChars},
                                 {"problem", Sentence(user.status().message())}});
      case StatusCode::kNotFound:
        return Problem(request, 400, "This link no longer works",
                       Sentence(user.status().message()));
      default:
        return Problem(request, 503, "Please try again later",
                       "Your password could not be changed right now; the link still works for "
                       "a while: try again in a few minutes.");
    }
  }

  std::shared_ptr<PasswordResets> resets_;
  const PasswordResetPagesOptions options_;
  const content::PageTemplates templates_;
  ClientFailures clients_;
  WorkerPool pool_;  // last: its destructor runs queued requests while the rest is alive
};

PasswordResetPages::PasswordResetPages(std::shared_ptr<PasswordResets> resets,
                                       PasswordResetPagesOptions options)
    : impl_(std::make_unique<Impl>(std::move(resets), std::move(options))) {}

PasswordResetPages::~PasswordResetPages() = default;

void PasswordResetPages::Handle(const HttpRequest& request, HttpResponder responder) {
  Impl* impl = impl_.get();
  RespondOffIoThread(
      impl->pool(), kMaxQueuedPosts, request, std::move(responder),
      [impl](const HttpRequest& r) { return impl->Handle(r); }, BusyResponse);
}

HttpResponse PasswordResetPages::HandleRequest(const HttpRequest& request) {
  return impl_->Handle(request);
}

}  // namespace tieup::users
