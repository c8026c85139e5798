// Preview of a staged (not yet active) tie-up release, so the partner manager can look at an
// update before approving it: /.tieup/preview/<key>/<version>/<path> on the public port.
//
// An update waiting for approval is not public. The address of a request says nothing about who
// sent it (a reverse proxy on the same host makes every visitor look local), so a preview is a
// capability: <key> is an HMAC of the version under a secret kept in SITE_DIR/keys/preview.key
// (0600), and only the manager's own tools (`tieup partner pending`, the console) print links.
#pragma once

#include <memory>
#include <string>

#include "base/env.h"
#include "base/status.h"
#include "net/http_server.h"
#include "site/site_content.h"

namespace tieup {

inline constexpr std::string_view kPreviewPrefix = "/.tieup/preview/";

// The site's preview secret (32 random bytes), made on first use. Owner-only.
Result<std::string> LoadOrCreatePreviewSecret(Env& env, const std::string& site_dir);

// The path of the preview of staged tie-up version `version`: "/.tieup/preview/KEY/VERSION/".
std::string PreviewPath(std::string_view secret, uint64_t version);

class PreviewHandler final : public HttpHandler {
 public:
  // `content` must outlive the handler; `secret` from LoadOrCreatePreviewSecret.
  PreviewHandler(SiteContent& content, std::string secret)
      : content_(content), secret_(std::move(secret)) {}
  void Handle(const HttpRequest& request, HttpResponder responder) override;
  std::string_view AllowedMethods() const override { return "GET, HEAD"; }
  // The response for `request` (exposed for tests). A path without the right key for its
  // version is answered 404, like a preview that does not exist.
  HttpResponse Serve(const HttpRequest& request);

 private:
  SiteContent& content_;
  const std::string secret_;
};

}  // namespace tieup
