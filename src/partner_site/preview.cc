#include "partner_site/preview.h"

#include <charconv>

#include "content/release.h"

namespace tieup {
namespace {

bool IsLoopback(std::string_view addr) {
  return addr.substr(0, 4) == "127." || addr == "::1" || addr.substr(0, 11) == "::ffff:127.";
}

}  // namespace

void PreviewHandler::Handle(const HttpRequest& request, HttpResponder responder) {
  responder.Respond(Serve(request));
}

HttpResponse PreviewHandler::Serve(const HttpRequest& request) {
  if (!IsLoopback(request.remote_address())) {
    return HttpResponse::Text(403,
                              "Previews of updates waiting for approval are shown only on the "
                              "partner's own machine.\n");
  }
  std::string_view rest = request.path().substr(kPreviewPrefix.size());
  size_t slash = rest.find('/');
  uint64_t version = 0;
  std::string_view number = rest.substr(0, slash);
  auto [p, ec] = std::from_chars(number.data(), number.data() + number.size(), version);
  if (ec != std::errc() || p != number.data() + number.size() || version == 0) {
    return HttpResponse::Text(404,
                              "Use /.tieup/preview/<version>/ with a version from "
                              "'tieup partner pending'.\n");
  }
  if (slash == std::string_view::npos) {
    HttpResponse r(301);
    r.AddHeader("Location", std::string(kPreviewPrefix) + std::string(number) + "/");
    return r;
  }
  std::string path(rest.substr(slash));
  if (path.back() == '/') path += "index.html";

  HttpResponse response(200);
  Status s = content_.Read([&](content::ContentStore& store) -> Status {
    auto staged = store.ReadStaged(content::Area::kTieup, version);
    if (!staged.ok()) {
      response = HttpResponse::Text(
          404, "There is no staged tie-up release " + std::to_string(version) + ".\n");
      return Status::Ok();
    }
    auto it = staged->files.find(path);
    if (it == staged->files.end()) {
      response = HttpResponse::Text(
          404, "Release " + std::to_string(version) + " has no page " + path + ".\n");
      return Status::Ok();
    }
    ASSIGN_OR_RETURN(std::string body, store.blobs().Get(it->second.hash, it->second.length));
    response.AddHeader("Content-Type", it->second.content_type);
    response.AddHeader("Cache-Control", "no-store");
    response.AddHeader("X-Robots-Tag", "noindex");
    if (request.method() != "HEAD") response.SetBody(std::move(body));
    return Status::Ok();
  });
  if (!s.ok()) return HttpResponse::Text(500, "Cannot read the preview: " + s.message() + "\n");
  return response;
}

}  // namespace tieup
