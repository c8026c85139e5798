#include "console/request_checks.h"

#include <cctype>

#include "base/encoding.h"
#include "users/sessions.h"

namespace tieup::console {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// "scheme://host[:port]" of this console as the browser names it.
std::string OwnOrigin(const HttpRequest& request, bool https) {
  return (https ? "https://" : "http://") + LowerAscii(Trim(request.HeaderOr("Host")));
}

}  // namespace

void AddConsoleSecurityHeaders(HttpResponse& response, bool https) {
  response.AddHeader("Content-Security-Policy", kConsoleContentSecurityPolicy);
  response.AddHeader("X-Frame-Options", "DENY");
  response.AddHeader("Referrer-Policy", "no-referrer");
  response.AddHeader("X-Content-Type-Options", "nosniff");
  response.AddHeader("Cache-Control", "no-store");
  if (https) response.AddHeader("Strict-Transport-Security", "max-age=31536000");
}

std::string FramedDocumentPolicy(std::string_view resources_origin) {
  const std::string from = IsWebOrigin(resources_origin) ? std::string(resources_origin) : "";
  const std::string sources = from.empty() ? "'none'" : from;
  // No allow-scripts and no allow-same-origin: the document's scripts never run, and it has an
  // opaque origin of its own. Inline styles are the page's own look, harmless without scripts.
  return "sandbox; default-src 'none'; style-src " + (from.empty() ? "" : from + " ") +
         "'unsafe-inline'; img-src " + (from.empty() ? "" : from + " ") + "data:; font-src " +
         sources + "; media-src " + sources + "; base-uri " + sources +
         "; form-action 'none'; frame-ancestors 'self'";
}

void AddFramedDocumentHeaders(HttpResponse& response, bool https,
                              std::string_view resources_origin) {
  response.AddHeader("Content-Security-Policy", FramedDocumentPolicy(resources_origin));
  response.AddHeader("X-Frame-Options", "SAMEORIGIN");
  response.AddHeader("Referrer-Policy", "no-referrer");
  response.AddHeader("X-Content-Type-Options", "nosniff");
  response.AddHeader("Cache-Control", "no-store");
  if (https) response.AddHeader("Strict-Transport-Security", "max-age=31536000");
}

bool IsWebOrigin(std::string_view origin) {
  std::string_view rest;
  if (origin.starts_with("http://")) {
    rest = origin.substr(7);
  } else if (origin.starts_with("https://")) {
    rest = origin.substr(8);
  } else {
    return false;
  }
  std::string_view host = rest, port;
  if (rest.starts_with("[")) {
    const size_t close = rest.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    for (char c : rest.substr(1, close - 1)) {
      if (!(std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.')) return false;
    }
    host = rest.substr(0, close + 1);
    if (close + 1 < rest.size()) {
      if (rest[close + 1] != ':') return false;
      port = rest.substr(close + 2);
      if (port.empty()) return false;
    }
  } else {
    const size_t colon = rest.find(':');
    if (colon != std::string_view::npos) {
      host = rest.substr(0, colon);
      port = rest.substr(colon + 1);
      if (port.empty()) return false;
    }
    if (host.empty()) return false;
    for (char c : host) {
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-')) return false;
    }
  }
  if (port.size() > 5) return false;
  for (char c : port) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

bool IsSameOrigin(const HttpRequest& request, bool https) {
  if (Trim(request.HeaderOr("Host")).empty()) return false;
  const auto fetch_site = request.FindHeader("Sec-Fetch-Site");
  if (fetch_site && LowerAscii(Trim(*fetch_site)) != "same-origin") return false;
  const std::string own = OwnOrigin(request, https);
  if (const auto origin = request.FindHeader("Origin")) {
    const std::string o = LowerAscii(Trim(*origin));
    // Referrer-Policy no-referrer makes a browser send "null" on a same-origin form post; only
    // Sec-Fetch-Site can vouch for such a request then.
    if (o == "null") return fetch_site.has_value();
    return o == own;
  }
  if (const auto referer = request.FindHeader("Referer")) {
    const std::string r = LowerAscii(Trim(*referer));
    return r == own || r.starts_with(own + "/") || r.starts_with(own + "?");
  }
  return true;
}

bool IsLoopbackAddress(std::string_view address) {
  return address == "::1" || address == "localhost" || address.starts_with("127.");
}

bool HostIsLoopback(std::string_view host_header) {
  std::string host = LowerAscii(Trim(host_header));
  if (host.starts_with("[")) {
    const size_t close = host.find(']');
    if (close == std::string::npos) return false;
    return host.substr(0, close + 1) == "[::1]";
  }
  const size_t colon = host.find(':');
  if (colon != std::string::npos) host.resize(colon);
  if (host == "localhost") return true;
  if (!host.starts_with("127.")) return false;
  for (char c : host) {
    if (!(c == '.' || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

bool IsUrlencodedForm(const HttpRequest& request) {
  std::string_view type = request.HeaderOr("Content-Type");
  const size_t semi = type.find(';');
  if (semi != std::string_view::npos) type = type.substr(0, semi);
  return LowerAscii(Trim(type)) == "application/x-www-form-urlencoded";
}

bool IsMultipartForm(const HttpRequest& request) {
  std::string_view type = request.HeaderOr("Content-Type");
  const size_t semi = type.find(';');
  if (semi != std::string_view::npos) type = type.substr(0, semi);
  return LowerAscii(Trim(type)) == "multipart/form-data";
}

std::string SafeNextPath(std::string_view next) {
  if (next.empty() || next.front() != '/' || next.starts_with("//")) return "/";
  for (char c : next) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\\' || u <= 0x20 || u == 0x7f) return "/";
  }
  std::string_view path = next.substr(0, next.find_first_of("?#"));
  if (path == "/sign-in" || path == "/sign-out" || path == "/set-password" ||
      path.starts_with("/events") || path.starts_with("/assets/")) {
    return "/";
  }
  return std::string(next);
}

std::string SessionCookieName(bool https, std::string_view base) {
  return users::SessionCookieName(https, base);
}

std::string SessionCookie(std::string_view value, bool https, std::string_view base) {
  return users::SessionCookie(value, https, base, "Strict");
}

}  // namespace tieup::console
