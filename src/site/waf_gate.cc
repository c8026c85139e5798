#include "site/waf_gate.h"

#include <algorithm>
#include <boost/json.hpp>
#include <mutex>
#include <optional>

#include "base/encoding.h"
#include "content/page_templates.h"
#include "guard/waf.h"
#include "site/browser_headers.h"

namespace tieup {

// The site's built-in page templates (templates/*.mustache; cmake/TieupEmbed.cmake).
const content::EmbeddedTemplates& EmbeddedSiteTemplates();

sync::WafTerms WafTermsOf(const SiteConfig& c) {
  sync::WafTerms t;
  t.mode = c.waf_mode;
  t.paranoia_level = c.waf_paranoia_level;
  t.anomaly_threshold = c.waf_anomaly_threshold;
  t.exclude_rules = c.waf_exclude_rules;
  std::sort(t.exclude_rules.begin(), t.exclude_rules.end());
  t.exclude_rules.erase(std::unique(t.exclude_rules.begin(), t.exclude_rules.end()),
                        t.exclude_rules.end());
  t.on_failure = c.waf_on_failure;
  return t;
}

namespace {

// The rules in use and the settings they were loaded with.
struct Engine {
  sync::WafTerms terms;
  std::string source;               // "site.toml" or "main's partnership"
  std::unique_ptr<guard::Waf> waf;  // null in mode "off"
};

Result<std::shared_ptr<const Engine>> Load(const sync::WafTerms& terms, std::string source,
                                           const WafGateOptions& options) {
  auto e = std::make_shared<Engine>();
  e->terms = terms;
  e->source = std::move(source);
  if (terms.mode != "off") {
    guard::WafOptions o;
    o.detection_only = terms.mode == "detect";
    o.paranoia_level = terms.paranoia_level;
    o.inbound_threshold = terms.anomaly_threshold;
    o.excluded_rules = terms.exclude_rules;
    o.fault = options.waf_fault;
    ASSIGN_OR_RETURN(e->waf, guard::Waf::Create(o));
  }
  return std::shared_ptr<const Engine>(std::move(e));
}

}  // namespace

class WafGate::Impl {
 public:
  Impl(Env& env, const SiteConfig& config, SiteContent& content, std::shared_ptr<Logger> logger,
       WafGateOptions options)
      : env_(env),
        options_(std::move(options)),
        content_(content),
        logger_(std::move(logger)),
        own_terms_(WafTermsOf(config)),
        partner_(config.role == SiteRole::kPartner),
        site_name_(config.name.empty() ? config.id : config.name),
        server_address_(config.public_address.host),
        server_port_(config.public_address.port),
        templates_(EmbeddedSiteTemplates(),
                   content::PageSite{[&content] { return content.view(); },
                                     partner_ ? content::Area::kTieup : content::Area::kOriginal,
                                     site_name_, nullptr}) {}

  Status Open(const std::string& site_dir) {
    const std::string logs = SitePaths(site_dir).logs();
    if (!env_.FileExists(logs)) {
      RETURN_IF_ERROR(env_.CreateDir(logs));
      RETURN_IF_ERROR(env_.SetPermissions(logs, 0700));
    }
    ASSIGN_OR_RETURN(events_, guard::WafEventLog::Open(env_, logs + "/waf.jsonl"));
    auto [terms, source] = Wanted();
    ASSIGN_OR_RETURN(auto engine, Load(terms, source, options_));
    Announce(*engine);
    std::lock_guard<std::mutex> lock(mu_);
    engine_ = std::move(engine);
    return Status::Ok();
  }

  // The settings the site should run with now, and their source.
  std::pair<sync::WafTerms, std::string> Wanted() {
    if (partner_) {
      auto view = content_.view();
      const content::ServedFile* f =
          view ? view->Find(sync::kWafTermsPath) : static_cast<const content::ServedFile*>(nullptr);
      if (f != nullptr && f->area == content::Area::kTieup) {
        auto body = view->ReadBody(*f);
        auto terms =
            body.ok() ? sync::ParseWafTerms(**body) : Result<sync::WafTerms>(body.status());
        if (terms.ok()) return {*terms, "main's partnership"};
        // Signed by main, so a bad file is main's mistake: the partner's own settings protect it.
        std::lock_guard<std::mutex> lock(mu_);
        if (f->hash != bad_file_) {  // said once per file
          bad_file_ = f->hash;
          logger_->error("the WAF settings main sent ({}) cannot be used: {}; using site.toml's",
                         sync::kWafTermsPath, terms.status().message());
        }
      }
    }
    return {own_terms_, "site.toml"};
  }

  void Follow() {
    auto [terms, source] = Wanted();
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (engine_ && engine_->terms == terms && engine_->source == source) return;
      if (failed_ && *failed_ == terms) return;  // said once already
    }
    auto engine = Load(terms, source, options_);
    if (!engine.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      failed_ = terms;
      logger_->error("the WAF settings from {} do not load ({}): still using the previous ones",
                     source, engine.status().message());
      return;
    }
    Announce(**engine);
    std::lock_guard<std::mutex> lock(mu_);
    engine_ = std::move(*engine);
    failed_.reset();
  }

  void Announce(const Engine& e) {
    if (e.waf == nullptr) {
      logger_->warn("the web application firewall is off ({}: [waf] mode = \"off\")", e.source);
      return;
    }
    logger_->info("web application firewall: {} (OWASP CRS, {} rules; settings from {})",
                  sync::DescribeWafTerms(e.terms), e.waf->rule_count(), e.source);
  }

  std::shared_ptr<const Engine> Current() const {
    std::lock_guard<std::mutex> lock(mu_);
    return engine_;
  }

  void SetBlocklist(std::shared_ptr<const guard::BlocklistMatcher> blocklist) {
    std::lock_guard<std::mutex> lock(mu_);
    blocklist_ = std::move(blocklist);
  }

  std::shared_ptr<const guard::BlocklistMatcher> Blocklist() const {
    std::lock_guard<std::mutex> lock(mu_);
    return blocklist_;
  }

  // Main's network-wide blocklist, before the WAF: true when `request` may go on.
  bool AdmitBlocklisted(const HttpRequest& request, const std::string& client,
                        HttpResponder& responder) {
    const std::shared_ptr<const guard::BlocklistMatcher> blocklist = Blocklist();
    if (blocklist == nullptr) return true;
    const guard::BlockEntry* hit =
        blocklist->Match(client, request.HeaderOr("User-Agent"), request.path(), env_.NowSeconds());
    if (hit == nullptr) return true;
    guard::WafEvent e = NewEvent(request, client);
    e.outcome = guard::WafOutcome::kBlocklisted;
    e.message = "network blocklist entry " + std::to_string(hit->id) + ": " +
                guard::DescribeBlockEntry(*hit);
    if (Status s = events_->Append(e); !s.ok()) {
      logger_->error("could not record request {}: {}", e.reference, s.message());
    }
    responder.Respond(Page(403, e.reference, false));
    return false;
  }

  // A record of `request` with a new reference id.
  guard::WafEvent NewEvent(const HttpRequest& request, const std::string& client) {
    guard::WafEvent e;
    e.time_micros = env_.NowMicros();
    uint8_t id[8];
    env_.RandomBytes(id, sizeof id);
    e.reference = HexEncode(std::string_view(reinterpret_cast<const char*>(id), sizeof id));
    e.client_address = client;
    e.method = std::string(request.method()).substr(0, 32);
    e.host = std::string(request.HeaderOr("Host")).substr(0, 256);
    e.path = std::string(request.path()).substr(0, 1024);
    return e;
  }

  // Inspects `request`; true when it may go on to the handlers, false when `responder` was used.
  bool Admit(const HttpRequest& request, HttpResponder& responder) {
    const std::string client =
        request.remote_address().empty() ? "0.0.0.0" : std::string(request.remote_address());
    if (!AdmitBlocklisted(request, client, responder)) return false;
    const std::shared_ptr<const Engine> engine = Current();
    if (engine == nullptr || engine->waf == nullptr) return true;
    guard::WafConnection c;
    c.client_address = client;
    c.server_address = server_address_;
    c.server_port = server_port_;
    auto verdict = engine->waf->Inspect(request, c);
    if (verdict.ok() && verdict->rule_ids.empty()) return true;
    guard::WafEvent e = NewEvent(request, client);
    if (!verdict.ok()) {
      e.outcome = guard::WafOutcome::kFailed;
      e.message = verdict.status().message();
    } else {
      e.outcome = verdict->blocked       ? guard::WafOutcome::kBlocked
                  : verdict->would_block ? guard::WafOutcome::kDetected
                                         : guard::WafOutcome::kMatched;
      e.rule_ids = verdict->rule_ids;
      e.anomaly_score = verdict->anomaly_score;
      e.message = verdict->message;
    }
    if (Status s = events_->Append(e); !s.ok()) {
      logger_->error("the WAF could not record request {}: {}", e.reference, s.message());
    }
    if (e.outcome == guard::WafOutcome::kFailed) {
      const bool open = engine->terms.on_failure == "open";
      logger_->error("the WAF could not inspect {} {} from {} (reference {}): {}; {}", e.method,
                     e.path, e.client_address, e.reference, e.message,
                     open ? "let through ([waf] on_failure = \"open\")"
                          : "answered 503 ([waf] on_failure = \"closed\")");
      if (open) return true;
      responder.Respond(Page(503, e.reference, true));
      return false;
    }
    if (e.outcome != guard::WafOutcome::kBlocked) return true;
    responder.Respond(Page(403, e.reference, false));
    return false;
  }

  HttpResponse Page(int status, const std::string& reference, bool failed) const {
    boost::json::object data;
    data["site_name"] = site_name_;
    data["reference"] = reference;
    data["failed"] = failed;
    const std::string title = failed ? "Temporarily unavailable" : "Request refused";
    auto page = templates_.Render("request_blocked", {title, std::nullopt}, data);
    HttpResponse r = page.ok()
                         ? HttpResponse::Html(status, std::move(*page))
                         : HttpResponse::Text(status, title + " (reference " + reference + ")\n");
    r.AddHeader("Cache-Control", "no-store");
    if (failed) r.AddHeader("Retry-After", "10");
    // The page's URL is the refused request's: a link followed from it must not carry it on in
    // its Referer, or the next page would be refused for it too (the CRS reads the Referer).
    // The page has no form, which same-origin is for (site/browser_headers.h).
    r.AddHeader("Referrer-Policy", "no-referrer");
    AddBrowserSecurityHeaders(r);
    r.area = "waf";
    return r;
  }

  guard::WafEventLog& events() { return *events_; }

 private:
  Env& env_;
  const WafGateOptions options_;
  SiteContent& content_;
  std::shared_ptr<Logger> logger_;
  const sync::WafTerms own_terms_;
  const bool partner_;
  const std::string site_name_;
  const std::string server_address_;
  const uint16_t server_port_;
  content::PageTemplates templates_;
  std::unique_ptr<guard::WafEventLog> events_;
  mutable std::mutex mu_;
  std::shared_ptr<const Engine> engine_;
  std::shared_ptr<const guard::BlocklistMatcher> blocklist_;
  std::optional<sync::WafTerms> failed_;  // settings that did not load (not retried)
  std::string bad_file_;                  // the hash of main's last unusable settings file
};

class WafGate::Handler final : public HttpHandler {
 public:
  Handler(std::shared_ptr<WafGate::Impl> gate, std::shared_ptr<HttpHandler> inner)
      : gate_(std::move(gate)), inner_(std::move(inner)) {}
  void Handle(const HttpRequest& request, HttpResponder responder) override {
    if (gate_->Admit(request, responder)) inner_->Handle(request, std::move(responder));
  }
  std::string_view AllowedMethods() const override { return inner_->AllowedMethods(); }

 private:
  const std::shared_ptr<WafGate::Impl> gate_;
  const std::shared_ptr<HttpHandler> inner_;
};

Result<std::shared_ptr<WafGate>> WafGate::Create(Env& env, const std::string& site_dir,
                                                 const SiteConfig& config, SiteContent& content,
                                                 std::shared_ptr<Logger> logger,
                                                 WafGateOptions options) {
  RETURN_IF_ERROR(sync::CheckWafTerms(WafTermsOf(config)).Annotate("site.toml [waf]"));
  auto impl = std::make_shared<Impl>(env, config, content, std::move(logger), std::move(options));
  RETURN_IF_ERROR(impl->Open(site_dir));
  return std::shared_ptr<WafGate>(new WafGate(std::move(impl)));
}

WafGate::WafGate(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
WafGate::~WafGate() = default;

std::shared_ptr<HttpHandler> WafGate::Wrap(std::shared_ptr<HttpHandler> inner) {
  return std::make_shared<Handler>(impl_, std::move(inner));
}

void WafGate::Follow() { impl_->Follow(); }

void WafGate::SetBlocklist(std::shared_ptr<const guard::BlocklistMatcher> blocklist) {
  impl_->SetBlocklist(std::move(blocklist));
}

std::shared_ptr<const guard::BlocklistMatcher> WafGate::blocklist() const {
  return impl_->Blocklist();
}

sync::WafTerms WafGate::terms() const {
  auto e = impl_->Current();
  return e ? e->terms : sync::WafTerms{};
}

std::string WafGate::terms_source() const {
  auto e = impl_->Current();
  return e ? e->source : std::string();
}

guard::WafEventLog& WafGate::events() { return impl_->events(); }

}  // namespace tieup
