// What the users module's pages (the account pages, main's OpenID Connect provider) check of a
// browser's request: where a form comes from, how a form is read, and how many sign-ins a
// client network has failed. Thread-safe.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "base/env.h"
#include "base/status.h"
#include "base/worker_pool.h"
#include "commerce/form.h"
#include "content/page_templates.h"
#include "net/http_message.h"
#include "net/http_server.h"
#include "users/sessions.h"

namespace tieup::users {

// The path of `url` when it is an absolute URL whose host:port is `host`.
std::optional<std::string> PathOnHost(std::string_view url, std::string_view host);

// True when the browser tells us the form was sent from another site: Sec-Fetch-Site other
// than same-origin or none; or an Origin, else Referer, whose host:port is not the request's
// Host.
bool FromAnotherSite(const HttpRequest& request);

// The body of a POSTed form: Unimplemented unless application/x-www-form-urlencoded,
// ResourceExhausted above 8 KiB, InvalidArgument for bad syntax (commerce/form.h).
Result<commerce::FormFields> ReadPostedForm(const HttpRequest& request);

// The HTTP status for ReadPostedForm's error: 415, 413 or 400.
int FormErrorStatus(const Status& status);

// The Set-Cookie value of content::kCustomerCookie: the signed-in customer's display name for
// the layouts' scripts (Path=/, SameSite=Lax, Secure under HTTPS); an empty name deletes it.
std::string CustomerCookie(std::string_view name, bool https);

// The session named by `request`'s cookie SessionCookieName(https, cookie_base) in `sessions`
// (its last use moved to now), the cookie's value in *cookie_value when given; nullopt without
// a cookie, for an unknown or ended session, or a null store.
std::optional<Session> SessionOf(SessionStore* sessions, const HttpRequest& request, bool https,
                                 std::string_view cookie_base, std::string* cookie_value = nullptr);

// Whether `request` names a valid session of `sessions` (SessionOf without moving its last use:
// for a check on every request, such as PublicSite::SetSignedInCheck).
bool HasSession(SessionStore& sessions, const HttpRequest& request, bool https,
                std::string_view cookie_base);

// A page of the users module: template `name` of `templates` with `data` in the site's layout,
// titled `title`, the header's cart count from the shop's cookie and `customer` (when set) in
// its account link. A template that fails to render gives a 500 with a short page. Not cached,
// not sniffed, no Referer to other sites.
HttpResponse RenderUserPage(const content::PageTemplates& templates, const HttpRequest& request,
                            int status, std::string_view title, std::string_view name,
                            const boost::json::object& data,
                            std::optional<std::string> customer = std::nullopt);

// `policy` (a Content-Security-Policy with "form-action 'self'") with the origin of the absolute
// URL `uri` added to form-action: for a page whose form ends in a redirect to another site
// (browsers apply form-action to the redirects after a POST too). Unchanged when `uri` is not
// absolute or the policy has no such directive.
std::string PolicyAllowingFormTarget(std::string_view policy, std::string_view uri);

// "the password must ..." -> "The password must ....".
std::string Sentence(std::string message);

// Answers `request` with `handle`: a POST (password hashing, calls to main, database writes)
// on a thread of `pool`, not the I/O thread, unless `max_queued` POSTs wait already (then
// `busy` answers at once); any other method at once. `handle` and `busy` may be called after
// this returns, until the pool has run its queue: their targets must live as long as the pool.
void RespondOffIoThread(WorkerPool& pool, size_t max_queued, const HttpRequest& request,
                        HttpResponder responder,
                        std::function<HttpResponse(const HttpRequest&)> handle,
                        const std::function<HttpResponse(const HttpRequest&)>& busy);

// A plain 503 "try again in a few seconds" with Retry-After, for RespondOffIoThread's `busy`.
HttpResponse BusyResponse(const HttpRequest& request);

// Failed sign-ins per client network (commerce::CartLimiter::ClientNetwork): past
// `free_failures`, a client waits 5 s after one more failure, then 10, 20... (at most 15 min).
// Counted in memory, forgotten after an hour without a failure; at most 10,000 clients (the
// oldest go first). A null `env`: nothing is counted.
class ClientFailures {
 public:
  ClientFailures(Env* env, int free_failures) : env_(env), free_(free_failures) {}

  // Seconds `client` must still wait (0: none).
  int64_t WaitSeconds(const std::string& client);
  // Counts one failed sign-in of `client`.
  void Count(const std::string& client);

 private:
  struct Entry {
    int64_t failures = 0;
    int64_t last_micros = 0;
  };
  Env* const env_;
  const int free_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> clients_;
};

}  // namespace tieup::users
