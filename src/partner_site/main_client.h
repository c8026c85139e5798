// Signed calls from a partner to main's sync endpoints (the shop's orders and quotes, the users
// service) over the mutual-TLS sync channel. Each POST is signed (RFC 9421, see
// main_site/signed_requests.h for what main checks) with the partner's sync key
// (keys/sync.key, the Ed25519 key of its certificate), key id = the partner id, valid 60 s,
// with a fresh nonce, and carries the partner's certificate in Tieup-Certificate so main can
// check the key. Connections are kept open and reused (at most 16 idle, each for at most 3 s: the
// sync port closes connections idle for 5 s, kSyncIdleTimeout). Thread-safe.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "base/env.h"
#include "base/status.h"
#include "net/http_message.h"
#include "site/config.h"

namespace tieup {

class MainClient {
 public:
  // Needs an enrolled site (keys/sync.key, sync.crt, ca.crt; main_sync_url in site.toml).
  static Result<std::unique_ptr<MainClient>> Open(Env& env, const std::string& site_dir,
                                                  const SiteConfig& config);
  ~MainClient();

  // Signs and POSTs `body` (JSON) to `path`; main's response, whatever its HTTP status. Kept
  // connections idle for 3 s are not reused; when main has closed a kept connection before
  // answering (nothing was processed), the call is sent once more on a new connection with a
  // new signature. Any other failure is returned, never repeated. Errors only when main cannot
  // be reached (kUnavailable, kDeadlineExceeded; the message names main's URL).
  Result<HttpResponse> Post(std::string_view path, const std::string& body);
  // As Post, then a non-200 answer becomes the Status it carries (sync/http_api.h).
  Result<HttpResponse> Call(std::string_view path, const std::string& body);
  // GET `path` (unsigned; the TLS peer is the partner); an answer outside 2xx becomes its Status.
  Result<HttpResponse> Get(std::string_view path);

  // A signed POST of `body` (JSON) to `path`, ready to send (tests: to replay or alter it).
  Result<HttpRequest> SignedPost(std::string_view path, std::string body);
  // Sends `request` as it is; any HTTP status is a response. When main has closed the kept
  // connection before answering (nothing was processed), it is sent once more on a new one.
  Result<HttpResponse> Send(const HttpRequest& request);

 private:
  class Impl;
  explicit MainClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tieup
