#include "users/email_change.h"

#include <boost/json.hpp>

#include "base/encoding.h"
#include "base/worker_pool.h"
#include "commerce/form.h"
#include "crypto/hash.h"
#include "users/form_checks.h"

namespace tieup::users {

// Generated from src/users/templates/email_change*.mustache (tieup_embed_files).
const content::EmbeddedTemplates& EmbeddedEmailChangeTemplates();

const content::EmbeddedTemplates& EmailChangeTemplates() { return EmbeddedEmailChangeTemplates(); }

namespace {

namespace json = boost::json;

constexpr int64_t kMicros = 1'000'000;
constexpr size_t kMaxQueuedPosts = 64;

const std::vector<Migration>& EmailChangeMigrations() {
  static const std::vector<Migration> kSteps = {
      {1,
       "CREATE TABLE email_changes ("
       "  id INTEGER PRIMARY KEY,"
       // NULL when nothing is to be confirmed (the new address has an account).
       "  token_hash TEXT UNIQUE,"
       "  user_id TEXT NOT NULL,"
       "  new_email TEXT NOT NULL,"
       "  created_at INTEGER NOT NULL,"
       "  expires_at INTEGER NOT NULL,"
       "  used_at INTEGER NOT NULL DEFAULT 0);"
       "CREATE INDEX email_changes_user ON email_changes(user_id, created_at);"},
  };
  return kSteps;
}

}  // namespace

Result<std::unique_ptr<EmailChanges>> EmailChanges::Open(Env& env, Database& db, UserStore& users) {
  RETURN_IF_ERROR(Migrate(db, "email_changes", EmailChangeMigrations()));
  return std::unique_ptr<EmailChanges>(new EmailChanges(env, db, users));
}

EmailChanges::~EmailChanges() = default;

Result<EmailChanges::Requested> EmailChanges::Request(std::string_view user_id,
                                                      std::string_view current_password,
                                                      std::string_view new_email) {
  Requested out;
  ASSIGN_OR_RETURN(out.user, users_.Get(user_id));
  ASSIGN_OR_RETURN(out.new_email, NormalizeEmail(new_email));
  // The password first: a session left open must not be enough to take the account.
  RETURN_IF_ERROR(users_.CheckLogin(out.user.email, current_password).status());
  Result<User> holder = users_.FindByEmail(out.new_email);
  if (holder.ok() && holder->id == out.user.id) {
    return Status::InvalidArgument("that is already your address");
  }
  if (!holder.ok() && holder.status().code() != StatusCode::kNotFound) return holder.status();
  const bool taken = holder.ok();
  const int64_t now = env_.NowMicros();
  const std::string token = Base64UrlEncode(RandomString(env_, 32));
  out.kind = taken ? Requested::Kind::kTaken : Requested::Kind::kConfirm;
  RETURN_IF_ERROR(db_.Transaction([&](Database& db) -> Status {
    RETURN_IF_ERROR(db.Exec("DELETE FROM email_changes WHERE expires_at < ?",
                            {now - 30LL * 24 * 3600 * kMicros}));
    ASSIGN_OR_RETURN(auto rows, db.Query("SELECT COUNT(*) FROM email_changes WHERE user_id = ? "
                                         "AND created_at > ?",
                                         {out.user.id, now - 3600 * kMicros}));
    if (!rows.empty() && rows[0].Int(0) >= kMaxEmailChangesPerHour) {
      out.kind = Requested::Kind::kNoMail;
      return Status::Ok();
    }
    return db.Exec(
        "INSERT INTO email_changes (token_hash, user_id, new_email, created_at, expires_at) "
        "VALUES (?, ?, ?, ?, ?)",
        {taken ? SqlValue() : SqlValue(Sha256Hex(token)), out.user.id, out.new_email, now,
         now + kEmailChangeSeconds * kMicros});
  }));
  if (out.kind == Requested::Kind::kConfirm) out.token = token;
  return out;
}

std::optional<EmailChanges::Waiting> EmailChanges::Find(std::string_view token) {
  if (token.empty() || token.size() > 128) return std::nullopt;
  auto rows = db_.Query(
      "SELECT user_id, new_email FROM email_changes WHERE token_hash = ? AND used_at = 0 AND "
      "expires_at >= ?",
      {Sha256Hex(token), env_.NowMicros()});
  if (!rows.ok() || rows->empty()) return std::nullopt;
  auto user = users_.Get((*rows)[0].Text(0));
  if (!user.ok()) return std::nullopt;
  return Waiting{user->id, user->email, (*rows)[0].Text(1)};
}

Result<User> EmailChanges::Confirm(std::string_view token) {
  const Status gone =
      Status::NotFound("this link has expired or was already used: ask for the change again");
  if (token.empty() || token.size() > 128) return gone;
  const std::string hash = Sha256Hex(token);
  const int64_t now = env_.NowMicros();
  // Used up first, in one transaction: two submissions at once change the address once.
  std::string user_id, new_email;
  RETURN_IF_ERROR(db_.Transaction([&](Database& db) -> Status {
    ASSIGN_OR_RETURN(auto rows, db.Query("SELECT user_id, new_email FROM email_changes WHERE "
                                         "token_hash = ? AND used_at = 0 AND expires_at >= ?",
                                         {hash, now}));
    if (rows.empty()) return Status::Ok();
    user_id = rows[0].Text(0);
    new_email = rows[0].Text(1);
    // Every link of the account goes with this one: one change per request, and two links used
    // at once change the address once.
    return db.Exec("UPDATE email_changes SET used_at = ? WHERE user_id = ? AND used_at = 0",
                   {now, user_id});
  }));
  if (user_id.empty()) return gone;
  Result<User> user = users_.SetEmail(user_id, new_email, now);
  if (!user.ok()) {
    if (user.status().code() != StatusCode::kAlreadyExists) {
      (void)db_.Exec("UPDATE email_changes SET used_at = 0 WHERE token_hash = ?", {hash});
    }
    return user.status();
  }
  return user;
}

Status EmailChanges::Forget(std::string_view user_id) {
  return db_.Exec("DELETE FROM email_changes WHERE user_id = ?", {std::string(user_id)});
}

class EmailChangePages::Impl {
 public:
  Impl(std::shared_ptr<EmailChanges> changes, EmailChangePagesOptions options)
      : changes_(std::move(changes)),
        options_(std::move(options)),
        templates_(EmailChangeTemplates(), options_.site),
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
    if (path == "/account/email") return post ? Ask(request) : FormPage(request);
    if (path == "/account/email/confirm") return post ? Confirm(request) : ConfirmPage(request);
    return Problem(request, 404, "Page not found", "There is no page at this address.");
  }

  std::optional<Session> CurrentSession(const HttpRequest& request) {
    return SessionOf(options_.sessions.get(), request, options_.https, options_.session_cookie);
  }

  HttpResponse Page(const HttpRequest& request, int status, std::string_view title,
                    std::string_view name, const json::object& data,
                    std::optional<std::string> customer = std::nullopt) {
    return RenderUserPage(templates_, request, status, title, name, data, std::move(customer));
  }

  HttpResponse Problem(const HttpRequest& request, int status, std::string_view heading,
                       std::string_view message) {
    return Page(request, status, heading, "email_change_problem",
                json::object{{"heading", heading}, {"message", message}});
  }

  static HttpResponse ToSignIn() {
    HttpResponse r = HttpResponse::Text(303, "Sign in to change your address.\n");
    r.AddHeader("Location", std::string(content::kSignInUrl));
    r.AddHeader("Cache-Control", "no-store");
    return r;
  }

  HttpResponse Form(const HttpRequest& request, const Session& session, int status,
                    std::string_view new_email, std::string_view problem) {
    json::object data{{"csrf", session.csrf_token}, {"new_email", new_email}};
    if (!problem.empty()) data["problem"] = problem;
    HttpResponse r =
        Page(request, status, "Change your email address", "email_change", data, session.name);
    r.user = session.subject;
    return r;
  }

  HttpResponse FormPage(const HttpRequest& request) {
    std::optional<Session> session = CurrentSession(request);
    if (!session) return ToSignIn();
    return Form(request, *session, 200, "", "");
  }

  HttpResponse Ask(const HttpRequest& request) {
    std::optional<Session> session = CurrentSession(request);
    if (!session) return ToSignIn();
    auto form = ReadPostedForm(request);
    if (!form.ok()) {
      return Problem(request, FormErrorStatus(form.status()), "The form could not be read",
                     "Your browser sent a form we could not read.");
    }
    if (!CsrfMatches(*session, form->Get("csrf"))) {
      return Problem(request, 403, "Form refused",
                     "This form is out of date; go back, reload the page and try again.");
    }
    const std::string new_email(commerce::Trim(form->Get("new_email")));
    Result<EmailChanges::Requested> done =
        changes_->Request(session->subject, form->Get("current_password"), new_email);
    if (!done.ok()) {
      switch (done.status().code()) {
        case StatusCode::kUnauthenticated:
          return Form(request, *session, 401, new_email, "The current password is not right.");
        case StatusCode::kInvalidArgument:
          return Form(request, *session, 400, new_email, Sentence(done.status().message()));
        case StatusCode::kResourceExhausted: {
          HttpResponse r =
              Form(request, *session, 429, new_email, Sentence(done.status().message()));
          r.AddHeader("Retry-After", "60");
          return r;
        }
        default:
          return Problem(request, 503, "Please try again later",
                         "Your address cannot be changed right now; try again in a few minutes.");
      }
    }
    if (done->kind != EmailChanges::Requested::Kind::kNoMail && options_.send_mail) {
      EmailChangeMail mail;
      mail.display_name = done->user.display_name;
      mail.new_email = done->new_email;
      mail.reset_link = options_.base_url + "/account/reset";
      mail.to = done->new_email;
      if (done->kind == EmailChanges::Requested::Kind::kConfirm) {
        mail.kind = EmailChangeMail::Kind::kConfirm;
        mail.link = options_.base_url + "/account/email/confirm?token=" + done->token;
      } else {
        mail.kind = EmailChangeMail::Kind::kTaken;
      }
      // Failures are the sender's to log: the page does not tell whether NEW has an account.
      (void)options_.send_mail(mail);
      EmailChangeMail notice;
      notice.kind = EmailChangeMail::Kind::kNotice;
      notice.to = done->user.email;
      notice.display_name = done->user.display_name;
      notice.new_email = done->new_email;
      notice.reset_link = mail.reset_link;
      (void)options_.send_mail(notice);
    }
    HttpResponse r = Page(request, 200, "Check your mail", "email_change_sent",
                          json::object{{"new_email", done->new_email}}, session->name);
    r.user = session->subject;
    return r;
  }

  HttpResponse Gone(const HttpRequest& request, std::string_view message) {
    return Problem(request, 400, "This link no longer works", message);
  }

  HttpResponse ConfirmPage(const HttpRequest& request) {
    auto query = commerce::ParseForm(request.query());
    const std::string token(query.ok() ? query->Get("token") : "");
    std::optional<EmailChanges::Waiting> waiting = changes_->Find(token);
    if (!waiting) {
      return Gone(request,
                  "This link has expired or was already used. Ask for the change again on your "
                  "account page: a link works for 24 hours.");
    }
    return Page(request, 200, "Change your email address", "email_change_confirm",
                json::object{{"token", token},
                             {"old_email", waiting->old_email},
                             {"new_email", waiting->new_email}});
  }

  HttpResponse Confirm(const HttpRequest& request) {
    auto form = ReadPostedForm(request);
    if (!form.ok()) {
      return Problem(request, FormErrorStatus(form.status()), "The form could not be read",
                     "Your browser sent a form we could not read.");
    }
    Result<User> user = changes_->Confirm(form->Get("token"));
    if (user.ok()) {
      HttpResponse r = Page(request, 200, "Address changed", "email_change_done",
                            json::object{{"email", user->email}});
      r.user = user->id;
      return r;
    }
    switch (user.status().code()) {
      case StatusCode::kNotFound:
        return Gone(request, Sentence(user.status().message()));
      case StatusCode::kAlreadyExists:
        return Problem(request, 409, "Address taken",
                       "Another account has this address now, so yours keeps its address.");
      default:
        return Problem(request, 503, "Please try again later",
                       "Your address could not be changed right now; the link still works for "
                       "a while: try again in a few minutes.");
    }
  }

  std::shared_ptr<EmailChanges> changes_;
  const EmailChangePagesOptions options_;
  const content::PageTemplates templates_;
  WorkerPool pool_;  // last: its destructor runs queued requests while the rest is alive
};

EmailChangePages::EmailChangePages(std::shared_ptr<EmailChanges> changes,
                                   EmailChangePagesOptions options)
    : impl_(std::make_unique<Impl>(std::move(changes), std::move(options))) {}

EmailChangePages::~EmailChangePages() = default;

void EmailChangePages::Handle(const HttpRequest& request, HttpResponder responder) {
  Impl* impl = impl_.get();
  RespondOffIoThread(
      impl->pool(), kMaxQueuedPosts, request, std::move(responder),
      [impl](const HttpRequest& r) { return impl->Handle(r); }, BusyResponse);
}

HttpResponse EmailChangePages::HandleRequest(const HttpRequest& request) {
  return impl_->Handle(request);
}

}  // namespace tieup::users
