// Console: the managers' web console of a daemon (DESIGN.md "Consoles"): its own HTTP(S)
// listener, sign-in, sessions, CSRF and origin checks, security headers, the layout and the
// live event stream. The daemon registers its pages (handlers returning a template name and
// its data) and their templates; this module owns everything around them.
//
// Built-in routes:
//   GET  /sign-in[?next=PATH]        the sign-in form (throttling messages shown there)
//   POST /sign-in                    on success a fresh session cookie ("tieup_console", or
//                                    "__Host-tieup_console" under HTTPS; HttpOnly,
//                                    SameSite=Strict, Path=/) and 303 to `next` or "/"
//   POST /sign-out                   ends the session, 303 to /sign-in
//   GET/POST /set-password?token=T   the one-time link of ManagerStore::Add and ::Reset
//   GET  /assets/console.css, /assets/console.js
//   GET  /events                     server-sent events (see Publish)
// Every other path needs a session: without one, 303 to /sign-in?next=PATH.
//
// Every answer carries a strict Content-Security-Policy (no inline script or style),
// X-Frame-Options DENY, Referrer-Policy no-referrer, X-Content-Type-Options nosniff and
// Cache-Control no-store; under HTTPS also Strict-Transport-Security.
//
// POSTs (pages, sign-in, sign-out, set-password) must be same-origin, urlencoded and at most
// kMaxConsoleFormBytes; those of signed-in pages must carry the session's CSRF token (field
// "csrf"). A page that opts in (PageOptions::max_upload_bytes) also takes multipart/form-data
// (a form with <input type="file">) of at most that size, parsed by console/multipart.h, with
// the CSRF token as one of its fields; every other page answers such a POST with 415.
// Same-origin: Sec-Fetch-Site, when the browser sends it, must be "same-origin"; an Origin
// header, when sent and not "null", must be this console's (scheme and Host); without Origin, a
// Referer must be on this console. (Referrer-Policy no-referrer makes browsers send
// "Origin: null" on form posts, hence Sec-Fetch-Site first.) A request with none of the three
// is not from a browser and is let through to the CSRF check. Refusals are 403, 415 and 413
// pages.
//
// A page may answer with a FramedDocument instead of a page in the layout (a preview of a web
// page, shown in an <iframe> of a console page). Its headers differ from the above only where
// they must: only the console's own pages may frame it (frame-ancestors 'self', X-Frame-Options
// SAMEORIGIN), and it is sandboxed (CSP `sandbox`: no script runs, and its origin is opaque, so
// it reaches neither the console's cookies nor its pages), with styles, images and fonts
// allowed from one other origin (the public site's) and nothing else.
//
// When the console listens on a loopback address it answers only requests whose Host is a
// loopback name (localhost, 127.x.x.x, [::1]), at any port (an SSH tunnel), which defeats DNS
// rebinding.
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/env.h"
#include "base/log.h"
#include "base/status.h"
#include "commerce/form.h"
#include "console/audit.h"
#include "console/manager_store.h"
#include "console/multipart.h"
#include "console/sessions.h"
#include "net/http_message.h"
#include "store/database.h"

namespace tieup::console {

// The largest POST body a console page accepts.
inline constexpr uint64_t kMaxConsoleFormBytes = 1024 * 1024;

struct ConsoleOptions {
  std::string title;  // "Tea House Asahi — partner console": the header and every <title>
  std::string address = "127.0.0.1";  // [console] listen
  uint16_t port = 0;                  // 0: the system picks one (see port())
  // Both set: HTTPS with this PEM certificate chain and PEM private key (read through the Env
  // at Open), HSTS, Secure cookies with the __Host- prefix. Neither: plain HTTP.
  std::string tls_certificate_file, tls_key_file;
  ManagerStoreOptions managers;
  SessionOptions sessions;
  // The session cookie's name (with the __Host- prefix under HTTPS). Cookies ignore ports: two
  // consoles on one host (a demo) need different names, or signing in to one signs out of the
  // other. [A-Za-z0-9_-] only.
  std::string cookie_name = "tieup_console";
  std::shared_ptr<Logger> logger;  // null: nowhere
  // How long GET /events holds a request when there is nothing new (then it ends, and the
  // browser reconnects after kEventRetryMillis).
  std::chrono::milliseconds events_hold{25'000};
  // Requests held by /events at once, at most; more are answered at once (and retry later).
  int max_event_waiters = 256;
  // Worker threads of the console's HTTP server (page handlers and password hashing run on
  // them).
  int threads = 2;
};

// What a page handler is given. Everything refers to the request being handled: valid only
// during the call.
struct ConsoleRequest {
  const HttpRequest& http;
  const Manager& manager;  // signed in
  const Session& session;
  // The POST form (urlencoded, or the text fields of a multipart upload; same origin and CSRF
  // already checked); empty for GET and HEAD.
  const commerce::FormFields& form;
  std::string_view client_address;
  // The files of a multipart POST to a page that takes uploads (PageOptions); empty otherwise.
  const std::vector<UploadedFile>& files;
};

// How a page takes POSTs.
struct PageOptions {
  // 0: urlencoded forms only. Above 0: multipart/form-data bodies (file uploads) of at most this
  // many bytes as well; a larger one gets a 413 page. The console's HTTP server reads bodies of
  // up to twice the largest page's limit (at least 2 * kMaxConsoleFormBytes); above that the
  // server itself answers 413 in plain text.
  uint64_t max_upload_bytes = 0;
};

// A whole HTML document answered as is, for a frame of the console's own pages (see the top of
// this file for its headers).
struct FramedDocument {
  std::string html;
  // "http://127.0.0.1:8081": the one origin its styles, images, fonts and media may come from
  // (with data: images), and the only one its <base href> may name. An empty or malformed one
  // ("scheme://host[:port]" with http or https) allows none.
  std::string resources_origin;
  // True: the console puts <base href="RESOURCES_ORIGIN/"> first in the document's head, so that
  // the page's own addresses (/assets/style.css, /local/images/tea.png) reach the public site
  // from the frame (the preview of a page written for that site).
  bool base_at_resources_origin = false;
};

// A file a page answers with instead of a page (a CSV export, say): sent with `status`,
// Content-Disposition: attachment (the browser saves it rather than showing it) and the
// console's security headers.
struct Download {
  std::string content_type;  // "text/csv; charset=utf-8"; empty: application/octet-stream
  // The name the browser offers to save it under: characters other than [A-Za-z0-9._-] become
  // '_' ("download" when empty).
  std::string file_name;
  std::string body;
};

// What a page handler returns.
struct ConsolePage {
  int status = 200;
  std::string title;          // plain text: the <title> and the page heading
  std::string template_name;  // a template given to AddTemplates (or "problem")
  // The template's data: plain text values (the template escapes them), lists and sections.
  // The console adds "csrf" (the session's token, for the page's forms) and, unless set,
  // "title".
  boost::json::object data;
  std::string redirect;  // non-empty: 303 to this local path instead (Post/Redirect/Get)
  std::string flash;     // a message shown once, on the next page rendered for this session
  // Set: the answer is this document with `status`, not a page in the layout (the rest but
  // `status` is ignored).
  std::optional<FramedDocument> framed;
  // Set: the answer is this file with `status`, not a page (the rest but `status` is ignored).
  std::optional<Download> download;
};

// An error page in the layout (template "problem"): `title` as its heading, `message` saying
// what to do.
ConsolePage ProblemPage(int status, std::string title, std::string message);
// 303 to the local `path`, with a flash message shown there once (Post/Redirect/Get).
ConsolePage RedirectPage(std::string path, std::string flash);

// The reconnection delay the event stream asks browsers for.
inline constexpr int kEventRetryMillis = 3000;

class Console {
 public:
  // Opens the stores in `db` (migrating their schemas) and reads the TLS files. `env` and `db`
  // must outlive the console. InvalidArgument for only one of the TLS files, or files that do
  // not hold a matching PEM certificate and key.
  static Result<std::unique_ptr<Console>> Open(Env& env, Database& db, ConsoleOptions options);
  ~Console();  // Stop()s

  // --- set-up, before Start (not thread-safe) ---

  // The daemon's page templates (name -> mustache source; copied), rendered inside the
  // console's layout, which has the header, the navigation and the flash, but no heading: a
  // page template starts with its own <h1> ({{title}} is the page's title). A later template
  // replaces one of the same name; templates whose name starts with '_' are partials
  // ({{> _name}}). Built-in: layout, sign_in, set_password, problem ({{title}}, {{message}}).
  void AddTemplates(const std::vector<std::pair<std::string_view, std::string_view>>& templates);
  // CSS appended to /assets/console.css, and JavaScript appended to /assets/console.js (run
  // after the console's own, on every page): the daemon's page styles and scripts, since the
  // Content-Security-Policy allows no inline style or script.
  void AddStyles(std::string_view css);
  void AddScript(std::string_view js);
  // A link in the navigation bar, in the order added.
  void AddNav(std::string label, std::string path);
  // A page for signed-in managers at exactly `path`, or at every path under it when it ends in
  // '/' (the longest registered match wins); "/" is the home page only, not a catch-all. GET, HEAD
  // and POST reach `handler` (see the top of this file for what a POST must be; `options` says
  // whether the page takes uploads). The handler runs on a console worker thread and may block
  // briefly (database, services); it may throw, which renders a 500 page.
  using PageHandler = std::function<ConsolePage(const ConsoleRequest&)>;
  void AddPage(std::string path, PageHandler handler, PageOptions options = {});

  // --- while running (thread-safe) ---

  // Records a manager's action in the audit log and the logger: `action` ("approve update")
  // and `detail` ("u3 from main"), never a secret.
  Status Audit(const ConsoleRequest& request, std::string action, std::string detail);

  // Sends an event to every open console page: GET /events answers `text/event-stream` with
  // every event newer than the browser's Last-Event-ID (or the page's own starting point) as
  //   id: N
  //   data: {"type": TYPE, "data": DATA}
  // and ends; a request with nothing newer is held until an event arrives or events_hold
  // passes. console.js shows a banner with TYPE and DATA.message (and a link to DATA.href when
  // it is a path on the console), a notification when permitted and, when the manager switched
  // it on, speaks DATA.message; an event with neither DATA.title nor DATA.message shows nothing
  // (live progress, table rows). Every event is also dispatched to the page's own scripts as a
  // DOM CustomEvent 'tieup-console-event' on document, with {type, data} as its detail. The last
  // 128 events are kept for browsers that reconnect.
  void Publish(std::string type, boost::json::object data);

  ManagerStore& managers();
  SessionStore& sessions();
  AuditLog& audit();

  // Listens on options.address:port. Errors as HttpServer::Start (kUnavailable for an
  // address in use; kFailedPrecondition when started twice).
  Status Start();
  // Answers every held event request, then stops the server gracefully. Idempotent.
  void Stop();
  // The bound port; 0 before Start.
  uint16_t port() const;
  // "http://127.0.0.1:PORT/" ("https://..." under TLS; a wildcard address shows as loopback).
  std::string url() const;

  // Waits until at least `n` /events requests are held, or `timeout` passes; returns whether
  // they are. For tests.
  bool WaitForEventWaitersForTest(size_t n, std::chrono::milliseconds timeout);

 private:
  class Impl;
  explicit Console(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tieup::console
