// Main's shop service (DESIGN.md "Requests on tie-up pages"): main's own shop pages on its
// public port (/shop/*), and the sync endpoints partners use for tie-up orders:
//
//   POST /v1/orders   delegate: a partner's order (commerce/wire.h OrderRequest JSON), placed
//                     with PlaceOrder; answer: OrderReceipt JSON. Idempotent per (partner, key).
//   POST /v1/quote    consult: prices and stock of some lines; answer: ConsultCommand JSON.
//   GET  /v1/catalog  main's catalog (JSON array of products), which partners mirror so their
//                     carts can hold main's goods.
//
// The two POSTs must carry an RFC 9421 signature (trust/request_signature.h, label "tieup") made
// with the partner's sync key: keyid = the partner id, which must be the TLS-authenticated
// peer; the signature covers the request, its body digest, Content-Type and the header
// Tieup-Certificate (base64 of the partner's DER certificate). Main checks that the certificate
// was issued by its partnership CA for that partner, verifies the signature with the
// certificate's Ed25519 key, refuses a replayed nonce (ReplayCache) or an altered request
// (401/409 with what was wrong), and keeps every verified request in the table
// shop_signed_requests as proof of who asked for what. The order's channel is the verified
// peer, never the body's; the area is always `tieup`; the actor is "partner:<id>".
//
// Shop settings come from site.toml [variables] with the prefix "shop." (they are also
// template variables, so pages can show them): shop.currency (EUR), shop.shipping_fee_minor
// (0), shop.prices_include_tax (true), shop.account_holder, shop.iban, shop.bic,
// shop.bank_name (bank transfer and invoice are offered when shop.iban is set; cash on delivery
// always), shop.mail_from, shop.manager_email, shop.public_url, shop.smtp_host,
// shop.smtp_port (mail goes to SITE_DIR/mail; delivered over SMTP when a host is set),
// shop.consult_partner_checks_inventory (true), shop.max_units_per_line (20),
// shop.cart_adds_per_10_minutes_per_client (30; 0: no limit) (commerce/shop_settings.h).
#pragma once

#include <memory>
#include <string>

#include "base/env.h"
#include "base/log.h"
#include "base/status.h"
#include "commerce/shop.h"
#include "commerce/shop_settings.h"
#include "net/http_message.h"
#include "site/config.h"
#include "store/database.h"

namespace tieup {

class MainDaemon;

// Opens main's shop (migrating its tables in `db`) with the settings above and the mail outbox
// in SITE_DIR/mail. `db` must outlive the shop. For the daemon and the command line.
using OpenedShop = commerce::OpenedShop;
Result<OpenedShop> OpenMainShop(Env& env, const std::string& site_dir, const SiteConfig& config,
                                Database& db, std::shared_ptr<Logger> logger = nullptr);

// The sync endpoints above. Thread-safe.
class MainShopEndpoints {
 public:
  // `shop` and `db` must outlive the object. Reads main's CA certificate from SITE_DIR/keys.
  static Result<std::unique_ptr<MainShopEndpoints>> Create(Env& env, const std::string& site_dir,
                                                           const SiteConfig& config,
                                                           commerce::Shop& shop, Database& db,
                                                           std::shared_ptr<Logger> logger);
  ~MainShopEndpoints();

  // POST /v1/orders, POST /v1/quote, GET /v1/catalog. `request.peer_site_id()` must be the
  // TLS-authenticated partner.
  HttpResponse Handle(const HttpRequest& request);

 private:
  class Impl;
  explicit MainShopEndpoints(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Wires the shop into main's daemon: /shop/ on the public port, the endpoints above on the sync
// port, and periodic tasks (expired reservations, mail delivery).
Status AttachShop(MainDaemon& daemon);

}  // namespace tieup
