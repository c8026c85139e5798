// Preview of a staged (not yet active) tie-up release, so the partner manager can look at an
// update before approving it: /.tieup/preview/<version>/<path> on the public port. Answered
// only to requests from this machine (loopback): an update waiting for approval is not public.
#pragma once

#include <memory>

#include "base/status.h"
#include "net/http_server.h"
#include "site/site_content.h"

namespace tieup {

inline constexpr std::string_view kPreviewPrefix = "/.tieup/preview/";

class PreviewHandler final : public HttpHandler {
 public:
  // `content` must outlive the handler.
  explicit PreviewHandler(SiteContent& content) : content_(content) {}
  void Handle(const HttpRequest& request, HttpResponder responder) override;
  std::string_view AllowedMethods() const override { return "GET, HEAD"; }
  // The response for `request` (exposed for tests).
  HttpResponse Serve(const HttpRequest& request);

 private:
  SiteContent& content_;
};

}  // namespace tieup
