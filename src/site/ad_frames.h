// AdFrames: the frames of the ad slot tags (content/ad_catalog.h), under kAdFramePrefix on every
// site's public port.
//   GET /tieup-ad/main, /tieup-ad/partner  the next ad of that owner's catalog (in turn), as a
//       small page for the slot's frame; the impression is recorded in the site's ledger
//       (ledger::AdRecord: owner, ad, the page that showed it, from the Referer when it is
//       this site's). No catalog, no ad in it, or main's pages withdrawn (a partner whose
//       partnership is revoked or suspended shows no ad of main's): an empty frame, nothing
//       recorded. Never cached, so every showing is asked for and counted.
//   GET /tieup-ad/click?owner=main&ad=ID&on=/page.html  records the click and answers 303 to
//       the ad's link, taken from the catalog (never from the request: no open redirect); an
//       ad no longer in the catalog gets 404 with a link to the front page.
// HEAD answers the same without recording. Main's catalog is the tie-up area's on a partner and
// the original area's on main; the partner's is its original area's (main has none). A
// catalog that does not parse is logged once per release and treated as empty. Thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "base/env.h"
#include "base/log.h"
#include "content/ad_catalog.h"
#include "content/page_templates.h"
#include "ledger/access_log_writer.h"
#include "net/http_server.h"
#include "site/config.h"
#include "site/site_content.h"

namespace tieup {

inline constexpr std::string_view kAdFramePrefix = "/tieup-ad/";

class AdFrames final : public HttpHandler {
 public:
  // `content` and `access_log` (null: nothing recorded) must outlive the handler. A partner's
  // `config` (its role) gives two catalogs, main's one (see above).
  AdFrames(Env& env, const SiteConfig& config, SiteContent& content,
           ledger::AccessLogWriter* access_log, std::shared_ptr<Logger> logger);

  void Handle(const HttpRequest& request, HttpResponder responder) override;
  std::string_view AllowedMethods() const override { return "GET, HEAD"; }

 private:
  struct Catalogs {
    std::shared_ptr<const content::SiteView> view;
    content::AdCatalog main, partner;
  };
  HttpResponse Serve(const HttpRequest& request);
  HttpResponse Frame(const HttpRequest& request, ledger::AdOwner owner);
  HttpResponse Click(const HttpRequest& request);
  // The catalogs of the served view (parsed once per view).
  std::shared_ptr<const Catalogs> Current();
  content::AdCatalog Load(const content::SiteView& view, std::string_view path,
                          content::Area area) const;
  bool MainWithdrawn() const;

  Env& env_;
  SiteContent& content_;
  ledger::AccessLogWriter* access_log_;
  const bool partner_;
  std::shared_ptr<Logger> logger_;
  const content::PageTemplates templates_;
  std::mutex mu_;
  std::shared_ptr<const Catalogs> catalogs_;     // guarded by mu_
  std::array<std::atomic<uint64_t>, 2> turn_{};  // per owner: the next ad to show
};

}  // namespace tieup
