// The shop: catalog, inventory, carts, checkout, orders, payment and delivery, on the SQL store
// (store/database.h). Used by main and by partners.
//
// Three ways to place an order (DESIGN.md "Requests on tie-up pages"):
//   local     the site's own shop pages: carts and Checkout() (commerce/shop_handler.h);
//   delegate  main calls PlaceOrder() with the partner's id as `channel` and the partner's
//             idempotency key: the same key placed twice returns the first order;
//   consult   main answers Quote() with a ConsultCommand (price, check inventory or not,
//             accept or refuse); the partner applies it with ApplyConsultCommand() and calls its
//             own PlaceOrder().
//
// Money is integer minor units (commerce/money.h). Stock is the number of units available to
// sell. Carts never take stock: a cart line only records what the customer wants (checked
// against the stock when added, and capped at max_units_per_line), so an abandoned cart cannot
// make a product "sold out" for anyone else. An order takes its units (Checkout, PlaceOrder)
// with a conditional UPDATE inside a BEGIN IMMEDIATE transaction, so stock never goes below
// zero however many buyers race: the first to place the order gets the last units, the others
// are told which product ran short, and nothing of their order is written.
//
// Thread safety: a Shop is thread-safe; every mutation is one transaction.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/env.h"
#include "base/log.h"
#include "base/status.h"
#include "commerce/mail.h"
#include "commerce/payment.h"
#include "store/database.h"

namespace tieup::commerce {

inline constexpr int64_t kMaxQuantity = 999;
inline constexpr int64_t kMaxStock = 1'000'000'000;

// A named tax rate in basis points (1900 = 19 %).
struct TaxClass {
  std::string name;
  int64_t rate_bp = 0;
};

// Per-site shop settings (from site.toml, wired by the daemon).
struct ShopConfig {
  std::string site_id = "main";    // this site's id; the default order channel
  std::string shop_name = "Shop";  // shown in mail and pages
  std::string currency = "EUR";    // every product is priced in it
  std::string locale = "en";       // how amounts and dates are written (BCP 47; ICU)
  std::string time_zone = "UTC";   // the site's time zone (IANA), for times in mail
  std::vector<TaxClass> tax_classes = {{"standard", 1900}, {"reduced", 700}, {"none", 0}};
  bool prices_include_tax = true;  // catalog prices are gross (EU style) or net (US style)
  int64_t shipping_fee_minor = 0;  // flat, per order, untaxed
  // Ignored: carts no longer hold stock (an order takes it when placed). Kept so that code
  // and configurations that set it still build and open.
  int64_t reservation_seconds = 15 * 60;
  int64_t cart_idle_seconds = 30 * 86400;  // idle carts are deleted after this (at least 60)
  int max_cart_lines = 50;
  // The most units of one product a cart line may hold (1..kMaxQuantity). Orders placed
  // without a cart (PlaceOrder) are bounded by kMaxQuantity only: a partner caps its own carts.
  int64_t max_units_per_line = 20;
  // Cart additions one client network (an IPv4 address, an IPv6 /64) may make per 10 minutes
  // through the shop pages (ShopHandler; commerce/cart_limiter.h); 0: no limit.
  int64_t cart_adds_per_10_minutes_per_client = 30;
  std::string order_prefix = "M";  // order numbers "M-000042"; 1..8 of [A-Z0-9]
  std::string public_base_url;     // "https://shop.example": links in mail; empty: none
  MailAddress mail_from;           // sender of order mail; empty address: no mail
  std::string manager_email;       // copy of every order confirmation; may be empty
};

struct Product {
  std::string sku;                  // 1..64 of [A-Za-z0-9._-], starting with a letter or digit
  std::string title;                // 1..200 bytes of one-line text
  std::string description;          // up to 10000 bytes
  std::vector<std::string> images;  // site paths ("/img/mug.jpg"), at most 10
  std::string page_path;       // the product's page on the site ("/products/mug.html"); optional
  int64_t price_minor = 0;     // 0..kMaxUnitPriceMinor
  std::string currency;        // must equal ShopConfig::currency
  std::string tax_class;       // one of ShopConfig::tax_classes
  std::string category;        // optional, up to 100 bytes
  int64_t stock = 0;           // units available to sell, 0..kMaxStock
  int64_t updated_micros = 0;  // read-only
};

// Changes to a product; unset fields are kept.
struct ProductUpdate {
  std::optional<std::string> title, description, page_path, tax_class, category;
  std::optional<std::vector<std::string>> images;
  std::optional<int64_t> price_minor;
};

// A buyer's details at checkout.
struct Customer {
  std::string name;
  std::string address_line1;
  std::string address_line2;  // optional
  std::string postal_code;
  std::string city;
  std::string country;
  std::string email;  // email and/or phone
  std::string phone;
};

// One field's problem, for forms: {"email", "E-mail address needs an '@'"}.
struct FieldError {
  std::string field;
  std::string message;
};

// Checks a customer; returns one entry per bad field (empty when all is well). Field names are
// those of Customer ("name", "address_line1", ..., "email", "phone"; "contact" when neither
// e-mail nor phone is given).
std::vector<FieldError> ValidateCustomer(const Customer& customer);

// Checks a SKU's syntax.
Status ValidateSku(std::string_view sku);

// A site id ("main", "shop-b"): 1..63 of [a-z0-9-], not starting or ending with '-'.
Status ValidateChannel(std::string_view channel);

// An idempotency key: 8..128 of [A-Za-z0-9._:-].
Status ValidateIdempotencyKey(std::string_view key);

// The content area an order line was sold through, for the per-transaction handling fee.
enum class Area { kTieup, kOriginal };
std::string_view AreaName(Area area);  // "tieup", "original"
Result<Area> ParseArea(std::string_view text);

struct CartLine {
  std::string sku;
  std::string title;
  std::string page_path;
  int64_t quantity = 0;
  int64_t unit_price_minor = 0;
  int64_t line_total_minor = 0;
  int64_t tax_minor = 0;
  std::string tax_class;
  int64_t tax_rate_bp = 0;
  Area area = Area::kOriginal;
  int64_t available = 0;  // the product's stock now (the line takes none of it before checkout)
};

struct Totals {
  int64_t subtotal_minor = 0;  // sum of line totals (gross when prices include tax)
  int64_t tax_minor = 0;       // tax contained in (or added to) the subtotal
  int64_t shipping_minor = 0;
  int64_t total_minor = 0;  // what the customer pays
};

struct Cart {
  std::string currency;
  std::vector<CartLine> lines;
  Totals totals;
  bool prices_include_tax = true;
};

enum class OrderStatus { kPlaced, kPaid, kShipped, kDelivered, kCancelled };
std::string_view OrderStatusName(OrderStatus status);  // "placed", "paid", ...
Result<OrderStatus> ParseOrderStatus(std::string_view text);

struct OrderLine {
  std::string sku;
  std::string title;
  int64_t quantity = 0;
  int64_t unit_price_minor = 0;
  int64_t line_total_minor = 0;
  std::string tax_class;
  int64_t tax_rate_bp = 0;
  int64_t tax_minor = 0;
  Area area = Area::kOriginal;
  bool stock_tracked = true;  // stock was taken for this line (and is returned on cancel)
};

// One recorded step in an order's life.
struct OrderEvent {
  int64_t at_micros = 0;
  std::string actor;        // "customer", "manager:alice", "partner:shop-b", "system"
  std::string from_status;  // empty for the first event
  std::string to_status;
  std::string note;
};

// Shipment states. "delivered" closes the order.
inline constexpr std::string_view kShipmentStates[] = {"shipped", "in_transit", "out_for_delivery",
                                                       "delivered", "delivery_failed"};

struct Shipment {
  std::string carrier;
  std::string tracking;
  std::string status;  // one of kShipmentStates
  int64_t updated_micros = 0;
};

struct Order {
  int64_t id = 0;
  std::string number;           // "M-000042"
  std::string channel;          // the site the order came through: "main" or a partner id
  Area area = Area::kOriginal;  // kTieup when any line was sold through a tie-up page
  std::string idempotency_key;
  std::string access_key;  // the secret in the customer's order-page link
  OrderStatus status = OrderStatus::kPlaced;
  bool paid = false;
  std::string payment_method;  // a PaymentProvider id
  std::string payment_reference;
  std::string payment_instructions;
  int64_t payment_due_micros = 0;
  std::string payment_redirect_url;
  int64_t paid_micros = 0;
  std::string paid_details;
  Customer customer;
  std::string currency;
  Totals totals;
  int64_t created_micros = 0;
  std::vector<OrderLine> lines;
  std::vector<OrderEvent> events;  // oldest first
  std::optional<Shipment> shipment;
};

// One line of an order placed through the API.
struct OrderLineRequest {
  std::string sku;
  int64_t quantity = 0;
  // Consult: the price main told the partner to charge; unset: the catalog price.
  std::optional<int64_t> unit_price_minor;
  // Consult without inventory check: the product may be unknown to this site's catalog;
  // then title and tax class come from here.
  std::optional<std::string> title;
  std::optional<std::string> tax_class;
  // The unit price the customer was shown for this line (delegate: the partner's page). When
  // the price charged would differ, the order is refused with kAborted and nothing is written:
  // the customer confirms the new price first. Unset: no check. Not part of the idempotency
  // comparison (a replay returns the first order whatever it says).
  std::optional<int64_t> expected_unit_price_minor;
};

// The unit prices a customer was shown, by SKU (Checkout: an ordered line whose current price
// differs is refused with kAborted, nothing written).
using ShownPrices = std::map<std::string, int64_t, std::less<>>;

// An order placed in one call (delegate, consult, tests, CLI).
struct OrderRequest {
  std::string channel;  // "main" or the partner's id (from its verified signature)
  Area area = Area::kOriginal;
  std::string idempotency_key;  // required; the same key on the same channel = the same order
  std::vector<OrderLineRequest> lines;
  Customer customer;
  std::string payment_method;   // a PaymentProvider id
  bool check_inventory = true;  // false: consult told us not to (stock is not touched)
  std::string actor = "customer";
};

// What the buyer gets back. `replayed` is true when the idempotency key had been used
// already and this is the first order again.
struct OrderReceipt {
  Order order;
  bool replayed = false;
};

// Consult: prices and stock of some lines.
struct QuoteLineRequest {
  std::string sku;
  int64_t quantity = 0;
};
struct QuotedLine {
  std::string sku;
  bool known = false;  // the SKU is in the catalog
  std::string title;
  int64_t quantity = 0;
  int64_t unit_price_minor = 0;
  std::string tax_class;
  int64_t tax_rate_bp = 0;
  int64_t line_total_minor = 0;
  int64_t tax_minor = 0;
  int64_t available = 0;
  bool in_stock = false;  // available >= quantity
};
struct PriceQuote {
  std::string currency;
  std::vector<QuotedLine> lines;
  Totals totals;  // over the known lines
  bool all_known = false;
  bool all_in_stock = false;
};

// Main's answer to a consulting partner.
struct ConsultCommand {
  bool accept = false;
  std::string reason;           // why refused; shown to the customer
  bool check_inventory = true;  // whether the partner must check and take its own stock
  struct LinePrice {
    std::string sku;
    int64_t unit_price_minor = 0;
    std::string title;
    std::string tax_class;
  };
  std::vector<LinePrice> prices;  // the price to charge per SKU
};

// Builds main's default command from a quote: refuse unknown SKUs (and, when
// `require_stock_at_main`, lines main has not enough stock for); otherwise accept at main's
// prices with `partner_checks_inventory`.
ConsultCommand CommandFromQuote(const PriceQuote& quote, bool require_stock_at_main,
                                bool partner_checks_inventory);

// Applies main's command to a request before the partner places it locally: kFailedPrecondition
// with main's reason when refused; kInvalidArgument when a line has no price in the command.
Status ApplyConsultCommand(const ConsultCommand& command, OrderRequest* request);

// The shop. Create with Open.
class Shop {
 public:
  // Migrates the "commerce" schema in `db` and returns a shop. `env`, `db` and `outbox` (may be
  // null: no mail) must outlive the shop. `payments` are the methods offered, in display order
  // (at least one). kInvalidArgument for a bad config (message names the setting).
  static Result<std::unique_ptr<Shop>> Open(Env& env, Database& db, ShopConfig config,
                                            std::vector<std::shared_ptr<PaymentProvider>> payments,
                                            MailOutbox* outbox = nullptr,
                                            std::shared_ptr<Logger> logger = nullptr);
  ~Shop();
  Shop(const Shop&) = delete;
  Shop& operator=(const Shop&) = delete;

  const ShopConfig& config() const;
  // The environment the shop was opened with (its clock, for the shop pages' limits).
  Env& env() const;
  const std::vector<std::shared_ptr<PaymentProvider>>& payment_providers() const;
  // The provider with `id`, or null.
  const PaymentProvider* FindPaymentProvider(std::string_view id) const;

  // --- catalog ---
  // kAlreadyExists for a taken SKU (case-insensitive); kInvalidArgument naming the bad field.
  Status AddProduct(const Product& product);
  Status UpdateProduct(std::string_view sku, const ProductUpdate& update);
  // Sets the available stock (0..kMaxStock).
  Status SetStock(std::string_view sku, int64_t stock);
  // Adds `delta` (may be negative) to the available stock; kFailedPrecondition when that would
  // go below zero.
  Status AdjustStock(std::string_view sku, int64_t delta);
  // Deletes a product (cart lines of it go too; orders keep their copy). kNotFound.
  Status RemoveProduct(std::string_view sku);
  Result<Product> GetProduct(std::string_view sku);
  // All products (optionally of one category), ordered by SKU.
  Result<std::vector<Product>> ListProducts(std::string_view category = {});

  // --- carts (identified by the opaque token in the customer's cookie) ---
  // A fresh random cart token (32 bytes from the Env, URL-safe base64). No row is written
  // until something is added.
  std::string NewCartToken();
  // The cart's lines with current prices; an unknown token gives an empty cart.
  Result<Cart> GetCart(std::string_view token);
  // Adds `quantity` of `sku` (merging with an existing line). Takes no stock: the line's new
  // quantity must only be in stock now. Errors: kNotFound (unknown SKU), kInvalidArgument
  // (quantity outside 1..999, or the line would exceed max_units_per_line: the message says
  // the cap), kFailedPrecondition (not enough stock: "sold out" or how many are left),
  // kResourceExhausted (too many lines). Nothing changes on error.
  Status AddToCart(std::string_view token, std::string_view sku, int64_t quantity,
                   Area area = Area::kOriginal);
  // Sets a line's quantity; 0 removes it. A higher quantity is checked as AddToCart checks it
  // (max_units_per_line, in stock now); a lower one is always accepted. kNotFound when the cart
  // has no such line.
  Status SetCartQuantity(std::string_view token, std::string_view sku, int64_t quantity);
  // Removes a line. kNotFound when the cart has no such line.
  Status RemoveFromCart(std::string_view token, std::string_view sku);

  // Places the cart's order for `customer`, atomically: every line's units are taken from stock
  // (or the checkout fails with kFailedPrecondition naming the product that ran short, and
  // nothing is written: no order, no stock moved, the cart unchanged), the order, its lines,
  // totals and payment set-up are written, the cart is emptied. `idempotency_key` (empty: a
  // new one) makes a repeated submission return the first order. Errors: kInvalidArgument (bad
  // customer data; see ValidateCustomer), kFailedPrecondition (empty cart, out of stock),
  // kNotFound (unknown payment method). `channel` empty means config().site_id.
  //
  // With `only_area`, only the cart's lines of that area are ordered and taken out of the cart;
  // the others stay (a partner orders its original goods itself while main takes the tie-up
  // ones). The cart "is empty" when it has no line of that area.
  //
  // With `shown` (the prices the customer's page showed, e.g. from the GetCart it compared with
  // what the customer saw), a line whose price is not the one shown, or that was not shown at
  // all, fails the checkout with kAborted ("the price of ... changed"), checked in the same
  // transaction that places the order: never a silent different charge.
  Result<OrderReceipt> Checkout(std::string_view token, const Customer& customer,
                                std::string_view payment_method, std::string_view idempotency_key,
                                std::string_view channel = {},
                                std::optional<Area> only_area = std::nullopt,
                                const ShownPrices* shown = nullptr);
  // Calls `observer` once for every new order placed by Checkout or PlaceOrder (never for an
  // idempotent replay), after it is committed. For the site's ledger. Set before the shop
  // serves; the observer runs on the caller's thread and must be cheap.
  void SetOrderObserver(std::function<void(const Order&)> observer) {
    order_observer_ = std::move(observer);
  }

  // Places an order without a cart (delegate and consult paths). Idempotent per
  // (channel, idempotency_key): a second call returns the first order (replayed = true); the
  // same key with different content is kAlreadyExists. All or nothing: when any line fails
  // (unknown SKU: kNotFound; not enough stock: kFailedPrecondition; price overflow:
  // kOutOfRange; bad quantity: kInvalidArgument; a price that is not the expected one:
  // kAborted) no stock moves and nothing is written.
  Result<OrderReceipt> PlaceOrder(const OrderRequest& request);

  // Prices and availability of `lines` (consult). Unknown SKUs are reported, not errors;
  // kInvalidArgument for a quantity outside 1..999.
  Result<PriceQuote> Quote(const std::vector<QuoteLineRequest>& lines);

  // Deletes the carts (with their lines) not changed for cart_idle_seconds before
  // `now_micros`, and returns how many. Carts hold no stock, so nothing else is released. The
  // daemon calls it periodically (every minute is plenty).
  Result<int64_t> ReleaseExpired(int64_t now_micros);

  // --- orders ---
  Result<Order> GetOrder(std::string_view number);
  // The order iff `access_key` matches (constant time); kNotFound otherwise (no oracle).
  Result<Order> GetOrderForCustomer(std::string_view number, std::string_view access_key);
  struct OrderFilter {
    std::optional<OrderStatus> status;
    std::string channel;  // empty: all
    int limit = 100;
    int64_t offset = 0;  // skip this many of the newest (pages of a list)
    // Only orders through another site than this one (channel != config().site_id: main's
    // orders delegated by partners). Ignored when `channel` is set.
    bool other_channels = false;
    // Only the orders of this customer email address (ignoring ASCII case); empty: all.
    std::string customer_email = {};
  };
  // Newest first, without events.
  Result<std::vector<Order>> ListOrders(const OrderFilter& filter);
  // How many orders `filter` matches (its limit and offset ignored).
  Result<int64_t> CountOrders(const OrderFilter& filter);

  // Erasure of a customer (a deleted account): every order with this email address (ignoring
  // ASCII case) keeps its number, lines, amounts, country, status and events, as accounting law
  // requires, and loses the customer's name, street address, postal code, city, email and
  // phone. Returns how many orders were changed. InvalidArgument for an empty address.
  Result<int64_t> EraseCustomer(std::string_view email);
  // The same for the customer whose email address, ASCII lower-cased, has this SHA-256 (lower-case
  // hex): a partner told of an erasure by main without being told the address
  // (users/customer_copy.h). Returns how many orders were changed (0 when none match).
  Result<int64_t> EraseCustomerWithEmailSha256(std::string_view email_sha256);
  // The e-mail address (lower-cased) of this shop's orders whose SHA-256 is `email_sha256`;
  // nullopt when no order has it.
  Result<std::optional<std::string>> EmailWithSha256(std::string_view email_sha256);

  // State machine: placed -> paid -> shipped -> delivered; placed|paid -> cancelled; and, for
  // methods that ship before payment, placed -> shipped. Each transition is recorded with the
  // time, `actor` and `note`. Illegal transitions: kFailedPrecondition saying why.
  //
  // Records the payment (through the provider's RecordPayment). On a placed order the status
  // becomes paid; on a shipped or delivered order of a ship-first method only the payment is
  // recorded.
  Status MarkPaid(std::string_view number, std::string_view actor, std::string_view note);
  // Records the shipment (carrier and tracking number required) and moves to shipped; mails a
  // shipping notice.
  Status Ship(std::string_view number, std::string_view carrier, std::string_view tracking,
              std::string_view actor);
  // Updates the shipment status (one of kShipmentStates except "shipped"); "delivered" moves
  // the order to delivered.
  Status UpdateShipment(std::string_view number, std::string_view shipment_status,
                        std::string_view actor, std::string_view note = {});
  Status MarkDelivered(std::string_view number, std::string_view actor);
  // Cancels a placed or paid order and returns its tracked stock. `reason` is required.
  Status Cancel(std::string_view number, std::string_view actor, std::string_view reason);

  // The mail outbox (may be null).
  MailOutbox* outbox() const;

 private:
  class Impl;
  explicit Shop(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::function<void(const Order&)> order_observer_;
};

}  // namespace tieup::commerce
