// The partner's shop service (DESIGN.md "Requests on tie-up pages").
//
// The partner's public port serves /shop/* (commerce/shop_handler.h) with a local Shop in the
// partner's tieup.db: the partner's own goods, plus a mirror of main's catalog (fetched from
// main's GET /v1/catalog over the sync channel every daemon tick and at start; table
// shop_mirror lists the mirrored SKUs; a SKU the partner manager added itself is never touched)
// so that a cart can hold main's goods added from tie-up product pages.
//
// The area of a cart line (tie-up or original) is the area of the page the add-to-cart form
// came from: the Referer's path looked up in the served releases. Without a usable Referer, a
// mirrored SKU counts as tie-up and any other as original. Requests on original pages are always
// local.
//
// Routing happens when an order is placed (POST /shop/checkout with a valid form, session and
// customer; anything else goes to the ShopHandler, which answers bad input with a 4xx and
// changes nothing). The tie-up lines of the cart are matched against the routing table that
// main shipped in the active tie-up release (commerce/routing.h, /.tieup/routing.json; no table
// = local) with the form fields plus these derived fields: amount_minor (total of the tie-up
// lines), quantity (their units), lines (their count), sku and category (one value per line).
//   local     the ShopHandler checks the whole cart out locally;
//   delegate  the tie-up lines become an OrderRequest (idempotency key = the checkout form's
//             `idem`) sent to main at once, signed (RFC 9421, see MainShopClient). When main
//             answers, its answer is the customer's: the receipt (main holds the order, so
//             nothing needs to be durable here; the partner's record and the cart clean-up
//             follow off the customer's path), or a refusal (unknown product, out of stock:
//             shown, the cart unchanged). When main cannot be reached, the order is written to
//             the durable outbox (table shop_delegated_orders, one commit together with taking
//             the lines out of the cart) and the customer sees "order received" (202); the
//             daemon's periodic task delivers it until main acknowledges; main applies each key
//             once (PlaceOrder is idempotent per partner and key), so a lost answer or a resent
//             form never doubles an order. Refused later, it is recorded as `refused` and logged.
//   consult   the partner asks main (POST /v1/quote) for a command; main refuses (shown, cart
//             unchanged) or accepts with the prices to charge and whether the partner checks
//             its own inventory; the partner then places the order in its own shop.
// Original lines in the same cart are checked out locally afterwards (key `idem` + "-local"),
// so a mixed cart gives two orders, both shown.
//
// Pages: every shop page wears main's layout with the partner's variables (the page shell and
// any template replacements of the active tie-up release; content/page_templates.h,
// commerce/shop_pages.h). A finished tie-up checkout keeps its page as template + data (table
// shop_checkouts), so a resubmitted form shows the same orders in the layout of the day.
//
// The routing table and every file under /.tieup/ are not served to browsers (404).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/env.h"
#include "base/log.h"
#include "base/status.h"
#include "commerce/shop.h"
#include "commerce/shop_settings.h"
#include "net/http_message.h"
#include "site/config.h"
#include "store/database.h"

namespace tieup {

class MainClient;
class PartnerDaemon;

// The partner's shop, opened with settings from site.toml [variables] shop.* (as on main:
// currency, shipping_fee_minor, prices_include_tax, account_holder, iban, bic, bank_name,
// mail_from, manager_email, public_url, smtp_host, smtp_port, max_units_per_line,
// cart_adds_per_10_minutes_per_client; see commerce/shop_settings.h). Order numbers start with the
// partner id in capitals ("SHOPB-000001"). For the daemon and the command line.
using OpenedPartnerShop = commerce::OpenedShop;
Result<OpenedPartnerShop> OpenPartnerShop(Env& env, const std::string& site_dir,
                                          const SiteConfig& config, Database& db,
                                          std::shared_ptr<Logger> logger = nullptr);

// Signed calls to main's shop endpoints over the mutual-TLS sync channel; MainClient
// (partner_site/main_client.h) signs and sends them. Thread-safe.
class MainShopClient {
 public:
  // Needs an enrolled site (keys/sync.key, sync.crt, ca.crt; main_sync_url in site.toml).
  static Result<std::unique_ptr<MainShopClient>> Open(Env& env, const std::string& site_dir,
                                                      const SiteConfig& config);
  ~MainShopClient();

  // Delegate: main's receipt. kUnavailable / kDeadlineExceeded when main cannot be reached
  // (retry later); any other error is main's answer (InvalidArgument, NotFound,
  // FailedPrecondition: a permanent refusal; Unauthenticated, AlreadyExists: the signature was
  // refused).
  Result<commerce::OrderReceipt> PlaceOrder(const commerce::OrderRequest& request);
  // Consult: main's command for these lines.
  Result<commerce::ConsultCommand> Quote(const std::vector<commerce::QuoteLineRequest>& lines);
  // Main's catalog (products as main sells them, with main's stock).
  Result<std::vector<commerce::Product>> Catalog();

  // A signed POST of `body` (JSON) to `path`, ready to send (tests: to replay or alter it).
  Result<HttpRequest> SignedPost(std::string_view path, std::string body);
  // Sends `request` as it is; any HTTP status is a response.
  Result<HttpResponse> Send(const HttpRequest& request);

 private:
  explicit MainShopClient(std::unique_ptr<MainClient> main);
  std::unique_ptr<MainClient> main_;
};

// True iff `status` from MainShopClient means "try again later" rather than main's answer.
bool IsTransientMainError(const Status& status);

// Wires the shop into the partner daemon: /shop/ and /.tieup/ on the public port, and
// periodic tasks (expired reservations, mail, delegated-order delivery, catalog mirror).
Status AttachShop(PartnerDaemon& daemon);

}  // namespace tieup
