// The headers a browser needs on the pages a site makes for a person (shop, checkout, account,
// previews): what they may load, that they are never framed, that their addresses are not sent
// on to other sites, that nothing is sniffed into another type.
#pragma once

#include <memory>

#include "net/http_server.h"

namespace tieup {

// The Content-Security-Policy of generated pages: everything from the site itself, no inline
// script, no plugins, no framing, forms post only to the site. (Inline style is allowed: the
// pages' layouts carry small style blocks.)
inline constexpr std::string_view kPageContentSecurityPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'";

// Adds Content-Security-Policy, X-Frame-Options (DENY), Referrer-Policy (same-origin) and
// X-Content-Type-Options (nosniff) to `response`, leaving any of them the handler set itself.
void AddBrowserSecurityHeaders(HttpResponse& response);

// A handler that answers as `inner` does, with AddBrowserSecurityHeaders on every response.
std::shared_ptr<HttpHandler> WithBrowserSecurityHeaders(std::shared_ptr<HttpHandler> inner);

}  // namespace tieup
