// WafGate: the web application firewall in front of a public port (issue 17 item 1; DESIGN.md
// "Management on the partners' behalf", Security). Every request, request line, headers and
// body, goes through ModSecurity with the OWASP Core Rule Set (guard/waf.h) before any handler:
//
//   - blocked: 403, template "request_blocked" (site/templates/) in the site's layout, with a
//     reference id that is also in the request's line of SITE_DIR/logs/waf.jsonl
//     (guard/waf_events.h), so the manager can find what a customer quotes;
//   - detected (mode "detect"), or rules matched under the threshold: served, and recorded;
//   - the WAF could not inspect the request: 503 (same template) unless the settings say
//     on_failure "open"; recorded and logged either way. Never let through silently.
//
// The settings are the site's [waf] of site.toml, except on a partner whose partnership has
// main's security service: main's settings then come signed in the tie-up release
// (sync::kWafTermsPath) and replace them. Follow() rereads them when a release is activated; a
// new rule set is loaded beside the one in use, which serves until the new one is ready. Mode
// "off" leaves requests alone.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "base/env.h"
#include "base/log.h"
#include "base/status.h"
#include "guard/blocklist.h"
#include "guard/waf_events.h"
#include "net/http_message.h"
#include "net/http_server.h"
#include "site/config.h"
#include "site/site_content.h"
#include "sync/partnership_terms.h"

namespace tieup {

// The settings of site.toml's [waf].
sync::WafTerms WafTermsOf(const SiteConfig& config);

struct WafGateOptions {
  // Tests only (guard::WafOptions::fault): makes the WAF fail to inspect a request.
  std::function<Status(const HttpRequest&)> waf_fault;
};

class WafGate {
 public:
  // Loads the rules of `config`'s [waf] (or of main's terms in the active tie-up release, on a
  // partner) and opens SITE_DIR/logs/waf.jsonl. `content` and `env` outlive the gate. An error
  // says what to install or change (the daemon does not start without its WAF).
  static Result<std::shared_ptr<WafGate>> Create(Env& env, const std::string& site_dir,
                                                 const SiteConfig& config, SiteContent& content,
                                                 std::shared_ptr<Logger> logger,
                                                 WafGateOptions options = {});
  ~WafGate();

  // `inner` behind the WAF.
  std::shared_ptr<HttpHandler> Wrap(std::shared_ptr<HttpHandler> inner);

  // Rereads main's terms from the active tie-up release (a partner) and, when the settings in
  // effect change, loads the new rule set. Called after each activation; cheap otherwise.
  void Follow();

  // Main's network-wide blocklist (guard/blocklist.h), checked before the WAF, whatever its
  // mode: a request it names gets the 403 page and a "blocklisted" line in waf.jsonl. nullptr
  // (the default) checks nothing. Thread-safe; requests in flight finish with the list they had.
  void SetBlocklist(std::shared_ptr<const guard::BlocklistMatcher> blocklist);
  std::shared_ptr<const guard::BlocklistMatcher> blocklist() const;

  // The settings in effect and where they come from ("site.toml" or "main's partnership").
  sync::WafTerms terms() const;
  std::string terms_source() const;
  guard::WafEventLog& events();

 private:
  class Impl;
  class Handler;
  explicit WafGate(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace tieup
