#include "main_site/shop_service.h"

#include <boost/json.hpp>
#include <charconv>

#include "base/encoding.h"
#include "commerce/catalog_records.h"
#include "commerce/shop_handler.h"
#include "commerce/wire.h"
#include "main_site/main_daemon.h"
#include "main_site/signed_requests.h"
#include "main_site/users_service.h"
#include "sync/http_api.h"

namespace tieup {
namespace {

namespace json = boost::json;

// The proof kept for every verified request: the whole request.
constexpr std::string_view kKeptColumns =
    "  signature_input TEXT NOT NULL,\n  signature TEXT NOT NULL,\n"
    "  certificate TEXT NOT NULL,\n  body TEXT NOT NULL";

std::string CatalogJson(const std::vector<commerce::Product>& products) {
  json::array out;
  for (const commerce::Product& p : products) {
    json::object o;
    o["sku"] = p.sku;
    o["title"] = p.title;
    o["description"] = p.description;
    json::array images;
    for (const std::string& i : p.images) images.emplace_back(i);
    o["images"] = std::move(images);
    o["page_path"] = p.page_path;
    o["price_minor"] = p.price_minor;
    o["currency"] = p.currency;
    o["tax_class"] = p.tax_class;
    o["category"] = p.category;
    o["stock"] = p.stock;
    out.emplace_back(std::move(o));
  }
  return json::serialize(out);
}

}  // namespace

Result<OpenedShop> OpenMainShop(Env& env, const std::string& site_dir, const SiteConfig& config,
                                Database& db, std::shared_ptr<Logger> logger) {
  commerce::ShopSiteSettings settings;
  settings.site_id = config.id;
  settings.shop_name = config.name.empty() ? config.id : config.name;
  settings.order_prefix = "M";
  settings.mail_dir = site_dir + "/mail";
  settings.locale = config.locale;
  settings.time_zone = config.time_zone;
  settings.variables = &config.variables;
  return commerce::OpenShopFromSettings(env, db, settings, std::move(logger));
}

class MainShopEndpoints::Impl {
 public:
  Impl(Env& env, commerce::Shop& shop, Database& db,
       std::unique_ptr<PartnerRequestVerifier> verifier, bool partner_checks,
       std::shared_ptr<Logger> logger)
      : env_(env),
        shop_(shop),
        db_(db),
        verifier_(std::move(verifier)),
        partner_checks_inventory_(partner_checks),
        logger_(std::move(logger)) {}

  HttpResponse Handle(const HttpRequest& request) {
    const std::string peer(request.peer_site_id());
    if (peer.empty() || peer == "main") {
      return sync::ErrorResponse(
          Status::Unauthenticated("shop endpoints are for enrolled partners only"));
    }
    if (request.path() == "/v1/catalog") {
      if (request.method() != "GET") {
        return sync::ErrorResponse(Status::InvalidArgument("/v1/catalog takes GET"));
      }
      auto products = shop_.ListProducts();
      if (!products.ok()) return sync::ErrorResponse(products.status());
      return SyncJsonReply(200, CatalogJson(*products));
    }
    if (request.method() != "POST") {
      return sync::ErrorResponse(
          Status::InvalidArgument(std::string(request.path()) + " takes POST"));
    }
    Result<Proof> proof = verifier_->Verify(request);
    if (!proof.ok()) {
      logger_->warn("refused a signed {} from partner '{}': {}", request.path(), peer,
                    proof.status().message());
      return sync::ErrorResponse(proof.status());
    }
    if (request.path() == "/v1/orders") return PlaceOrder(request, *proof);
    Status recorded = Record(db_, request, *proof);
    if (!recorded.ok()) return sync::ErrorResponse(recorded);
    if (request.path() == "/v1/quote") return Quote(request);
    return sync::ErrorResponse(Status::NotFound("no shop endpoint " + std::string(request.path())));
  }

 private:
  // The verified request, as kept in shop_signed_requests.
  using Proof = SignedPartnerRequest;

  Status Record(Database& db, const HttpRequest& request, const Proof& proof) {
    return db.Exec(
        "INSERT INTO shop_signed_requests(at, partner, nonce, method, target, signature_input, "
        "signature, certificate, body) VALUES(?,?,?,?,?,?,?,?,?)",
        {env_.NowSeconds(), proof.partner, proof.nonce, std::string(request.method()),
         std::string(request.target()), std::string(request.HeaderOr("Signature-Input")),
         std::string(request.HeaderOr("Signature")), proof.certificate_b64,
         std::string(request.body())});
  }

  HttpResponse PlaceOrder(const HttpRequest& request, const Proof& proof) {
    const std::string& peer = proof.partner;
    auto order = commerce::OrderRequestFromJson(request.body());
    if (!order.ok()) {
      Status s = Record(db_, request, proof);
      return sync::ErrorResponse(s.ok() ? order.status() : s);
    }
    order->channel = peer;  // from the verified peer, never the body
    order->area = commerce::Area::kTieup;
    order->actor = "partner:" + peer;
    order->check_inventory = true;
    for (commerce::OrderLineRequest& l : order->lines) {
      // Main charges its own catalog prices for delegated orders; a line's
      // expected_unit_price_minor (what the partner's page showed) is kept: a different
      // price refuses the order (kAborted) and the partner asks its customer to confirm.
      l.unit_price_minor.reset();
      l.title.reset();
      l.tax_class.reset();
    }
    // The proof and the order in one transaction: one commit on the delegated path.
    Result<commerce::OrderReceipt> receipt = Status::Internal("not placed");
    Status s = db_.Transaction([&](Database& db) -> Status {
      RETURN_IF_ERROR(Record(db, request, proof));
      receipt = shop_.PlaceOrder(*order);
      return receipt.status();
    });
    if (!receipt.ok()) {
      Status recorded = Record(db_, request, proof);  // a refused order is kept too
      if (!recorded.ok()) logger_->error("keeping a signed request: {}", recorded.message());
      return sync::ErrorResponse(receipt.status());
    }
    if (!s.ok()) return sync::ErrorResponse(s);
    if (!receipt->replayed) {
      logger_->info("order {} delegated by partner '{}' (key {})", receipt->order.number, peer,
                    order->idempotency_key);
    }
    return SyncJsonReply(200, commerce::OrderReceiptToJson(*receipt));
  }

  HttpResponse Quote(const HttpRequest& request) {
    auto lines = commerce::QuoteRequestFromJson(request.body());
    if (!lines.ok()) return sync::ErrorResponse(lines.status());
    auto quote = shop_.Quote(*lines);
    if (!quote.ok()) return sync::ErrorResponse(quote.status());
    commerce::ConsultCommand command = commerce::CommandFromQuote(
        *quote, /*require_stock_at_main=*/true, partner_checks_inventory_);
    return SyncJsonReply(200, commerce::ConsultCommandToJson(command));
  }

  Env& env_;
  commerce::Shop& shop_;
  Database& db_;
  const std::unique_ptr<PartnerRequestVerifier> verifier_;
  const bool partner_checks_inventory_;
  std::shared_ptr<Logger> logger_;
};

MainShopEndpoints::MainShopEndpoints(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
MainShopEndpoints::~MainShopEndpoints() = default;

Result<std::unique_ptr<MainShopEndpoints>> MainShopEndpoints::Create(
    Env& env, const std::string& site_dir, const SiteConfig& config, commerce::Shop& shop,
    Database& db, std::shared_ptr<Logger> logger) {
  RETURN_IF_ERROR(Migrate(db, "main_shop",
                          {{1, SignedRequestsTableSql("shop_signed_requests", kKeptColumns)}}));
  ASSIGN_OR_RETURN(std::unique_ptr<PartnerRequestVerifier> verifier,
                   PartnerRequestVerifier::Create(env, site_dir, db));
  ASSIGN_OR_RETURN(
      bool partner_checks,
      commerce::ShopSettingBool(config.variables, "consult_partner_checks_inventory", true));
  return std::unique_ptr<MainShopEndpoints>(new MainShopEndpoints(std::make_unique<Impl>(
      env, shop, db, std::move(verifier), partner_checks, logger ? logger : NewNullLogger())));
}

HttpResponse MainShopEndpoints::Handle(const HttpRequest& request) {
  return impl_->Handle(request);
}

Status AttachShop(MainDaemon& daemon) {
  const SiteConfig& config = daemon.site().config();
  const std::string site_dir = daemon.site().site_dir();
  ASSIGN_OR_RETURN(OpenedShop opened,
                   OpenMainShop(daemon.env(), site_dir, config, daemon.db(), daemon.logger()));
  auto state = std::make_shared<OpenedShop>(std::move(opened));
  ASSIGN_OR_RETURN(std::unique_ptr<MainShopEndpoints> endpoints,
                   MainShopEndpoints::Create(daemon.env(), site_dir, config, *state->shop,
                                             daemon.db(), daemon.logger()));
  std::shared_ptr<MainShopEndpoints> shared_endpoints = std::move(endpoints);

  commerce::ShopHandlerOptions options;
  // The shop's pages wear main's own layout (the shell and templates of its own site).
  options.site.view = [content = &daemon.site().content()] { return content->view(); };
  options.site.area = content::Area::kOriginal;
  options.site.site_name = state->shop->config().shop_name;
  options.site.warn = [logger = daemon.logger()](const std::string& message) {
    logger->warn("shop pages: {}", message);
  };
  // Behind HTTPS (shop.public_url is https://...), the cart's cookies are Secure.
  options.secure_cookie = state->shop->config().public_base_url.starts_with("https://");
  // A signed-in customer's checkout starts with the account's details.
  ASSIGN_OR_RETURN(options.known_customer, MainKnownCustomer(daemon.env(), config, daemon.db()));
  auto handler = std::make_shared<commerce::ShopHandler>(*state->shop, options);
  // The handler refers to the shop; keep the shop alive as long as the route.
  struct Holder : HttpHandler {
    std::shared_ptr<OpenedShop> state;
    std::shared_ptr<commerce::ShopHandler> handler;
    void Handle(const HttpRequest& r, HttpResponder responder) override {
      handler->Handle(r, std::move(responder));
    }
    std::string_view AllowedMethods() const override { return handler->AllowedMethods(); }
  };
  auto holder = std::make_shared<Holder>();
  holder->state = state;
  holder->handler = handler;
  // The site search shows each product's current price and stock.
  if (SiteSearch* search = daemon.site().search()) {
    ASSIGN_OR_RETURN(int64_t low, commerce::ShopSettingInt(config.variables, "low_stock_threshold",
                                                           5, 0, commerce::kMaxStock));
    search->SetCatalog([state, low] { return commerce::ReadCatalogRecords(*state->shop, low); });
  }
  RETURN_IF_ERROR(daemon.site().AddPublicRoute("/shop/", "GET, HEAD, POST", holder));
  // /.tieup/ holds machine files (the routing table, the page shell, page templates): main's
  // own site has them too, and browsers get none of them.
  struct HiddenFiles : HttpHandler {
    void Handle(const HttpRequest&, HttpResponder responder) override {
      responder.Respond(HttpResponse::Text(404, "Not found\n"));
    }
    std::string_view AllowedMethods() const override { return "GET, HEAD"; }
  };
  RETURN_IF_ERROR(
      daemon.site().AddPublicRoute("/.tieup/", "GET, HEAD", std::make_shared<HiddenFiles>()));

  auto route = [state, shared_endpoints](const HttpRequest& r) {
    return shared_endpoints->Handle(r);
  };
  daemon.sync().AddSyncRoute("/v1/orders", route);
  daemon.sync().AddSyncRoute("/v1/quote", route);
  daemon.sync().AddSyncRoute("/v1/catalog", route);

  Env* env = &daemon.env();
  std::shared_ptr<Logger> logger = daemon.logger();
  daemon.AddPeriodicTask("shop", [state, env, logger] {
    auto released = state->shop->ReleaseExpired(env->NowMicros());
    if (!released.ok()) logger->warn("shop: deleting idle carts: {}", released.status().message());
    if (!state->smtp_host.empty()) {
      commerce::SmtpOptions smtp;
      smtp.host = state->smtp_host;
      smtp.port = state->smtp_port;
      auto report = state->outbox->DeliverPending(smtp);
      if (report.retry_later > 0 || report.failed > 0) {
        logger->warn("shop mail: {} sent, {} to retry, {} failed: {}", report.sent,
                     report.retry_later, report.failed, report.last_error);
      }
    }
  });
  return Status::Ok();
}

}  // namespace tieup
