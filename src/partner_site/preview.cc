#include "partner_site/preview.h"

#include <algorithm>
#include <boost/json.hpp>
#include <boost/url.hpp>
#include <charconv>
#include <memory>
#include <mutex>
#include <optional>

#include "base/encoding.h"
#include "content/page_templates.h"
#include "content/release.h"
#include "crypto/hash.h"
#include "site/html_links.h"

namespace tieup {

// The partner console's templates (console_pages.cc): the preview's banner is one of them.
const std::vector<std::pair<std::string_view, std::string_view>>& EmbeddedPartnerConsoleTemplates();

namespace {

constexpr size_t kSecretBytes = 32;
// Larger HTML pages are served as they are (no banner): parsing them would cost more than a
// preview is worth, and no page of a site is that large.
constexpr size_t kMaxRewriteBytes = 16 << 20;

std::string PreviewKey(std::string_view secret, uint64_t version) {
  std::string mac =
      HmacSha256(secret, "tieup preview of tie-up version " + std::to_string(version));
  return Base64UrlEncode(std::string_view(mac).substr(0, 16));  // 128 bits
}

HttpResponse NoSuchPreview() {
  return HttpResponse::Text(404,
                            "There is no such preview. Use the link that 'tieup partner pending' "
                            "prints for the update.\n");
}

Result<std::string> RenderBanner(const PreviewPage& page) {
  for (const auto& [name, source] : EmbeddedPartnerConsoleTemplates()) {
    if (name != "preview_banner") continue;
    boost::json::object data{{"version", page.version},
                             {"has_live", page.live_version != 0},
                             {"live_version", page.live_version}};
    if (!page.review_url.empty()) data["review_url"] = page.review_url;
    return content::RenderMustacheJson(source, data, "preview_banner.mustache");
  }
  return Status::Internal("the template preview_banner is not compiled in");
}

}  // namespace

Result<std::string> RewritePreviewHtml(std::string_view html, std::string_view charset,
                                       const PreviewPage& page) {
  ASSIGN_OR_RETURN(std::string banner, RenderBanner(page));
  return RewriteHtmlLinks(html, charset,
                          HtmlLinkMap{.prefix = page.prefix,
                                      .path = page.path,
                                      .own_origins = page.own_origins,
                                      .body_start_html = std::move(banner)});
}

Result<std::string> LoadOrCreatePreviewSecret(Env& env, const std::string& site_dir) {
  const std::string path = site_dir + "/keys/preview.key";
  if (env.FileExists(path)) {
    ASSIGN_OR_RETURN(std::string secret, env.ReadFile(path));
    if (secret.size() == kSecretBytes) return secret;
    return Status::DataLoss("'" + path + "' is damaged (" + std::to_string(secret.size()) +
                            " bytes, expected " + std::to_string(kSecretBytes) +
                            "): delete it; a new one is made and old preview links stop working");
  }
  std::string secret(kSecretBytes, '\0');
  env.RandomBytes(secret.data(), secret.size());
  RETURN_IF_ERROR(CreateDirs(env, site_dir + "/keys"));
  RETURN_IF_ERROR(WriteFileAtomic(env, path, secret, 0600));
  return secret;
}

std::string PreviewPath(std::string_view secret, uint64_t version) {
  return std::string(kPreviewPrefix) + PreviewKey(secret, version) + "/" + std::to_string(version) +
         "/";
}

void PreviewHandler::Handle(const HttpRequest& request, HttpResponder responder) {
  responder.Respond(Serve(request));
}

HttpResponse PreviewHandler::Serve(const HttpRequest& request) {
  // KEY/VERSION/PATH
  std::string_view rest = request.path().substr(kPreviewPrefix.size());
  size_t key_end = rest.find('/');
  if (key_end == std::string_view::npos) return NoSuchPreview();
  std::string_view key = rest.substr(0, key_end);
  rest.remove_prefix(key_end + 1);
  size_t slash = rest.find('/');
  uint64_t version = 0;
  std::string_view number = rest.substr(0, slash);
  auto [p, ec] = std::from_chars(number.data(), number.data() + number.size(), version);
  if (ec != std::errc() || p != number.data() + number.size() || version == 0 ||
      !ConstantTimeEquals(key, PreviewKey(secret_, version))) {
    return NoSuchPreview();
  }
  if (slash == std::string_view::npos) {
    HttpResponse r(301);
    r.AddHeader("Location", PreviewPath(secret_, version));
    return r;
  }
  std::string path(rest.substr(slash));
  if (path.back() == '/') path += "index.html";

  HttpResponse response(200);
  std::string body, content_type;
  bool found = false;
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
    if (it->second.method == content::UpdateMethod::kLink) {
      // A link entry has no page of its own: say where the live site will send the visitor.
      response =
          HttpResponse::Text(200, "Release " + std::to_string(version) + " serves " + path +
                                      " as a link to " + it->second.link_url + " (" +
                                      std::string(content::LinkModeName(it->second.link_mode)) +
                                      "): a visitor lands on that page.\n");
      response.AddHeader("Cache-Control", "no-store");
      return Status::Ok();
    }
    ASSIGN_OR_RETURN(body, store.blobs().Get(it->second.hash, it->second.length));
    content_type = it->second.content_type;
    found = true;
    return Status::Ok();
  });
  if (!s.ok()) return HttpResponse::Text(500, "Cannot read the preview: " + s.message() + "\n");
  if (!found) return response;

  if (request.method() != "HEAD" && IsHtmlContentType(content_type) &&
      body.size() <= kMaxRewriteBytes) {
    PreviewPage page;
    page.prefix = PreviewPath(secret_, version);
    page.path = path;
    page.version = version;
    page.live_version = content_.view()->version(content::Area::kTieup);
    if (auto host = request.FindHeader("Host"))
      page.own_origins.push_back("http://" + std::string(*host));
    auto console = env_.ReadFile(content_.site_dir() + "/run/console.addr");
    if (console.ok()) {
      std::string url = *console;
      while (!url.empty() && (url.back() == '\n' || url.back() == ' ')) url.pop_back();
      if (!url.empty() && url.back() != '/') url += '/';
      if (url.starts_with("http://") || url.starts_with("https://")) {
        page.review_url = url + "updates/version/" + std::to_string(version);
      }
    }
    auto rewritten = RewritePreviewHtml(body, CharsetOf(content_type), page);
    if (rewritten.ok()) {
      body = std::move(*rewritten);
      content_type = "text/html; charset=utf-8";
    }
  }
  response.AddHeader("Content-Type", content_type);
  response.AddHeader("Cache-Control", "no-store");
  response.AddHeader("X-Robots-Tag", "noindex");
  response.AddHeader("Referrer-Policy", "no-referrer");  // the key is in the path
  // The staged pages as main made them (their own scripts and styles), but never framed.
  response.AddHeader("Content-Security-Policy", "frame-ancestors 'none'");
  if (request.method() != "HEAD") response.SetBody(std::move(body));
  return response;
}

}  // namespace tieup
