#include "partner_site/preview.h"

#include <charconv>

#include "base/encoding.h"
#include "content/release.h"
#include "crypto/hash.h"

namespace tieup {
namespace {

constexpr size_t kSecretBytes = 32;

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

}  // namespace

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
    response.AddHeader("Referrer-Policy", "no-referrer");  // the key is in the path
    // The staged pages as main made them (their own scripts and styles), but never framed.
    response.AddHeader("Content-Security-Policy", "frame-ancestors 'none'");
    if (request.method() != "HEAD") response.SetBody(std::move(body));
    return Status::Ok();
  });
  if (!s.ok()) return HttpResponse::Text(500, "Cannot read the preview: " + s.message() + "\n");
  return response;
}

}  // namespace tieup
