// The console's checks on requests and the headers of its answers (private to the module).
// Pure functions, thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "net/http_message.h"

namespace tieup::console {

inline constexpr std::string_view kConsoleContentSecurityPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'";

// Content-Security-Policy, X-Frame-Options, Referrer-Policy, X-Content-Type-Options and
// Cache-Control on every answer; Strict-Transport-Security under HTTPS.
void AddConsoleSecurityHeaders(HttpResponse& response, bool https);

// The headers of a FramedDocument (console_server.h): a sandboxed Content-Security-Policy
// (FramedDocumentPolicy), X-Frame-Options SAMEORIGIN, and the rest as
// AddConsoleSecurityHeaders.
void AddFramedDocumentHeaders(HttpResponse& response, bool https,
                              std::string_view resources_origin);
// "sandbox; default-src 'none'; ... frame-ancestors 'self'", allowing styles, images, fonts and
// media (and <base href>) from `resources_origin` when IsWebOrigin, from nowhere otherwise.
std::string FramedDocumentPolicy(std::string_view resources_origin);
// Whether `origin` is "http://HOST[:PORT]" or "https://HOST[:PORT]" with HOST a name of
// letters, digits, dots and hyphens, or a bracketed IPv6 literal: safe to put in a policy.
bool IsWebOrigin(std::string_view origin);

// Whether a POST comes from a page of this console (see console_server.h for the rules).
// `https`: the scheme the console is served with.
bool IsSameOrigin(const HttpRequest& request, bool https);

// Whether `address` (the listen address) is a loopback one.
bool IsLoopbackAddress(std::string_view address);
// Whether the Host header names a loopback host (localhost, 127.x.x.x, [::1]), any port.
bool HostIsLoopback(std::string_view host_header);

// Whether the request's Content-Type is application/x-www-form-urlencoded (parameters allowed).
bool IsUrlencodedForm(const HttpRequest& request);
// Whether the request's Content-Type is multipart/form-data (its boundary is checked by the
// parser, console/multipart.h).
bool IsMultipartForm(const HttpRequest& request);

// `next` when it is a path on this console to return to after sign-in ("/orders?status=paid"),
// otherwise "/": it must start with one '/', hold no backslash, control character or space,
// and not lead back to the sign-in, sign-out or set-password pages.
std::string SafeNextPath(std::string_view next);

// The session cookie's name: "__Host-tieup_console" under HTTPS, "tieup_console" otherwise.
std::string SessionCookieName(bool https, std::string_view base = "tieup_console");
// The Set-Cookie value that stores `value` (HttpOnly, SameSite=Strict, Path=/, Secure under
// HTTPS), or, for an empty `value`, removes the cookie.
std::string SessionCookie(std::string_view value, bool https,
                          std::string_view base = "tieup_console");

}  // namespace tieup::console
