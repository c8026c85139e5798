#include "site/withdrawn_pages.h"

#include <boost/json.hpp>

namespace tieup {

// The site's built-in page templates (templates/*.mustache; cmake/TieupEmbed.cmake).
const content::EmbeddedTemplates& EmbeddedSiteTemplates();

WithdrawnPages::WithdrawnPages(SiteContent& content, std::string site_name)
    : notices_(&content.tieup_notices()),
      site_name_(std::move(site_name)),
      templates_(EmbeddedSiteTemplates(),
                 content::PageSite{[&content] { return content.view(); }, content::Area::kOriginal,
                                   site_name_, nullptr}) {}

void WithdrawnPages::Apply(HttpResponse& response) const {
  if (response.area != "tieup") return;
  std::shared_ptr<const sync::Withdrawal> w = notices_->withdrawn();
  if (w == nullptr) {
    if (notices_->quarantined() == nullptr) return;
    // Stopped by the partner itself: its copy of the pages is being checked (never the reason,
    // which is for the managers).
    boost::json::object data;
    data["site_name"] = site_name_;
    data["main_name"] = "its partner";
    data["quarantined"] = true;
    auto page =
        templates_.Render("partnership_withdrawn", {"Temporarily unavailable", std::nullopt}, data);
    HttpResponse r = page.ok() ? HttpResponse::Html(503, std::move(*page))
                               : HttpResponse::Text(503, "Temporarily unavailable\n");
    r.AddHeader("Retry-After", "600");
    r.AddHeader("Cache-Control", "no-store");
    r.area = "tieup";
    response = std::move(r);
    return;
  }
  const bool ended = w->reason == sync::WithdrawalReason::kRevoked;
  const std::string main_name = w->main_name.empty() ? "the main site" : w->main_name;
  boost::json::object data;
  data["site_name"] = site_name_;
  data["main_name"] = main_name;
  data["ended"] = ended;
  data["suspended"] = w->reason == sync::WithdrawalReason::kSuspended;
  data["expired"] = w->reason == sync::WithdrawalReason::kExpired;
  const int status = ended ? 410 : 503;
  const std::string title = ended ? "Partnership ended" : "Temporarily unavailable";
  auto page = templates_.Render("partnership_withdrawn", {title, std::nullopt}, data);
  HttpResponse r = page.ok() ? HttpResponse::Html(status, std::move(*page))
                             : HttpResponse::Text(status, title + "\n");
  if (!ended) r.AddHeader("Retry-After", "3600");
  r.AddHeader("Cache-Control", "no-store");
  r.area = "tieup";
  response = std::move(r);
}

}  // namespace tieup
