#include "site/ad_frames.h"

#include <algorithm>
#include <boost/json.hpp>
#include <boost/url.hpp>
#include <utility>

namespace tieup {

// The site's built-in page templates (templates/*.mustache; cmake/TieupEmbed.cmake).
const content::EmbeddedTemplates& EmbeddedSiteTemplates();

namespace {

// The frame is this site's page inside this site's pages: framed by its own origin only, and
// it loads nothing but the ad's image.
constexpr std::string_view kFramePolicy =
    "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'self'";
constexpr size_t kMaxRecordedPath = 300;

std::string_view OwnerName(ledger::AdOwner owner) { return ledger::AdOwnerName(owner); }

// A path of this site fit for the ledger: "/x", printable, not too long; else "".
std::string RecordablePath(std::string_view path) {
  if (path.empty() || path[0] != '/' || path.size() > kMaxRecordedPath) return "";
  for (unsigned char c : path) {
    if (c <= 0x20 || c >= 0x7f) return "";
  }
  return std::string(path);
}

// The path of the page that showed the frame: the Referer's, when it is a page of this site
// (same host as the request), else "".
std::string PageOf(const HttpRequest& request) {
  auto referer = request.FindHeader("Referer");
  if (!referer) return "";
  auto url = boost::urls::parse_absolute_uri(*referer);
  if (!url || std::string_view(url->encoded_host_and_port()) != request.HeaderOr("Host")) {
    return "";
  }
  return RecordablePath(std::string_view(url->encoded_path()));
}

// The value of `name` in the request's query (decoded), or "".
std::string QueryParam(const HttpRequest& request, std::string_view name) {
  auto params = boost::urls::parse_query(request.query());
  if (!params) return "";
  for (const auto& p : *params) {
    if (std::string_view(p.key) == name) return p.value.decode();
  }
  return "";
}

void NoStore(HttpResponse& r) {
  r.AddHeader("Cache-Control", "no-store");
  r.AddHeader("X-Content-Type-Options", "nosniff");
}

}  // namespace

AdFrames::AdFrames(Env& env, const SiteConfig& config, SiteContent& content,
                   ledger::AccessLogWriter* access_log, std::shared_ptr<Logger> logger)
    : env_(env),
      content_(content),
      access_log_(access_log),
      partner_(config.role == SiteRole::kPartner),
      logger_(std::move(logger)),
      templates_(EmbeddedSiteTemplates(),
                 content::PageSite{[&content] { return content.view(); },
                                   partner_ ? content::Area::kTieup : content::Area::kOriginal,
                                   config.name.empty() ? config.id : config.name, nullptr}) {}

void AdFrames::Handle(const HttpRequest& request, HttpResponder responder) {
  responder.Respond(Serve(request));
}

HttpResponse AdFrames::Serve(const HttpRequest& request) {
  std::string_view rest =
      request.path().substr(std::min(request.path().size(), kAdFramePrefix.size()));
  if (rest == "main") return Frame(request, ledger::AdOwner::kMain);
  if (rest == "partner" && partner_) return Frame(request, ledger::AdOwner::kPartner);
  if (rest == "click") return Click(request);
  HttpResponse r = HttpResponse::Text(404, "No such advertisement frame.\n");
  NoStore(r);
  return r;
}

HttpResponse AdFrames::Frame(const HttpRequest& request, ledger::AdOwner owner) {
  std::shared_ptr<const Catalogs> catalogs = Current();
  const bool main = owner == ledger::AdOwner::kMain;
  const content::AdCatalog& catalog = main ? catalogs->main : catalogs->partner;
  const content::Ad* ad = nullptr;
  if (!catalog.ads.empty() && !(main && MainWithdrawn())) {
    uint64_t turn = turn_[main ? 0 : 1].fetch_add(1, std::memory_order_relaxed);
    ad = &catalog.ads[turn % catalog.ads.size()];
  }
  boost::json::object data;
  const std::string page = PageOf(request);
  if (ad != nullptr) {
    boost::urls::url click("/tieup-ad/click");
    click.params().append({"owner", OwnerName(owner)});
    click.params().append({"ad", ad->id});
    if (!page.empty()) click.params().append({"on", page});
    data["ad"] =
        boost::json::object{{"id", ad->id},
                            {"text", ad->text},
                            {"image", ad->image},
                            {"click", std::string(click.buffer().data(), click.buffer().size())}};
  }
  auto body = templates_.RenderBody("ad_frame", data);
  if (!body.ok()) {
    if (logger_) logger_->warn("the ad frame could not be made: {}", body.status().ToString());
    body = std::string("<!doctype html><title>Advertisement</title>");
    ad = nullptr;
  }
  HttpResponse r = HttpResponse::Html(200, std::move(*body));
  r.AddHeader("Content-Security-Policy", kFramePolicy);
  r.AddHeader("X-Frame-Options", "SAMEORIGIN");
  r.AddHeader("Referrer-Policy", "same-origin");
  NoStore(r);
  r.area.assign(main && partner_ ? "tieup" : "original");
  if (ad != nullptr && request.method() == "GET" && access_log_ != nullptr) {
    ledger::AdRecord record;
    record.time_micros = env_.NowMicros();
    record.owner = owner;
    record.impressions = 1;
    record.path = page;
    record.ad = ad->id;
    access_log_->Record(std::move(record));
  }
  return r;
}

HttpResponse AdFrames::Click(const HttpRequest& request) {
  const std::string owner_name = QueryParam(request, "owner");
  const std::string id = QueryParam(request, "ad");
  std::shared_ptr<const Catalogs> catalogs = Current();
  const content::Ad* ad = nullptr;
  ledger::AdOwner owner = ledger::AdOwner::kMain;
  if (owner_name == "main" && !MainWithdrawn()) {
    ad = catalogs->main.Find(id);
  } else if (owner_name == "partner" && partner_) {
    owner = ledger::AdOwner::kPartner;
    ad = catalogs->partner.Find(id);
  }
  if (ad == nullptr) {
    auto page = templates_.Render("ad_gone", {"This advertisement has ended", std::nullopt},
                                  boost::json::object{});
    HttpResponse r = page.ok() ? HttpResponse::Html(404, std::move(*page))
                               : HttpResponse::Text(404, "This advertisement has ended.\n");
    NoStore(r);
    return r;
  }
  HttpResponse r = HttpResponse::Html(303, "");
  // The catalog refuses spaces, quotes and control characters in a link (content/ad_catalog.h).
  r.AddHeader("Location", ad->link);
  NoStore(r);
  r.area.assign(owner == ledger::AdOwner::kMain && partner_ ? "tieup" : "original");
  if (request.method() == "GET" && access_log_ != nullptr) {
    ledger::AdRecord record;
    record.time_micros = env_.NowMicros();
    record.owner = owner;
    record.clicks = 1;
    record.path = RecordablePath(QueryParam(request, "on"));
    record.ad = ad->id;
    access_log_->Record(std::move(record));
  }
  return r;
}

bool AdFrames::MainWithdrawn() const {
  return partner_ && content_.tieup_notices().withdrawn() != nullptr;
}

std::shared_ptr<const AdFrames::Catalogs> AdFrames::Current() {
  std::shared_ptr<const content::SiteView> view = content_.view();
  std::lock_guard<std::mutex> lock(mu_);
  if (catalogs_ && catalogs_->view == view) return catalogs_;
  auto c = std::make_shared<Catalogs>();
  c->view = view;
  if (view) {
    c->main = Load(*view, content::kAdCatalogPath,
                   partner_ ? content::Area::kTieup : content::Area::kOriginal);
    if (partner_)
      c->partner = Load(*view, content::kPartnerAdCatalogPath, content::Area::kOriginal);
  }
  catalogs_ = c;
  return c;
}

content::AdCatalog AdFrames::Load(const content::SiteView& view, std::string_view path,
                                  content::Area area) const {
  auto catalog = content::LoadAdCatalog(view, path, area);
  if (!catalog.ok() && logger_) {
    logger_->warn("no ads from {} of the {} release {}: {}", path, content::AreaName(area),
                  view.version(area), catalog.status().ToString());
  }
  return catalog.ok() ? std::move(*catalog) : content::AdCatalog{};
}

}  // namespace tieup
