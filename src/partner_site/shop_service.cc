#include "partner_site/shop_service.h"

#include <boost/json.hpp>
#include <charconv>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <set>

#include "base/encoding.h"
#include "base/worker_pool.h"
#include "commerce/catalog_records.h"
#include "commerce/form.h"
#include "commerce/money.h"
#include "commerce/routing.h"
#include "commerce/shop_handler.h"
#include "commerce/shop_pages.h"
#include "commerce/wire.h"
#include "content/page_templates.h"
#include "ledger/records.h"
#include "partner_site/main_client.h"
#include "partner_site/order_cancellations.h"
#include "partner_site/partner_daemon.h"
#include "partner_site/users_service.h"
#include "sync/http_api.h"

namespace tieup {
namespace {

namespace json = boost::json;
using commerce::Area;

constexpr int kDeliveriesPerTick = 1000;

constexpr std::string_view kPartnerShopSchema = R"(
CREATE TABLE shop_delegated_orders (
  idempotency_key TEXT PRIMARY KEY,
  request TEXT NOT NULL,
  state TEXT NOT NULL,
  created INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  order_number TEXT NOT NULL DEFAULT '',
  receipt TEXT NOT NULL DEFAULT '',
  finished INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX shop_delegated_orders_state ON shop_delegated_orders(state, created);
CREATE TABLE shop_mirror (
  sku TEXT PRIMARY KEY,
  synced INTEGER NOT NULL
);
)";

// The page a finished checkout showed, per checkout form (its idempotency key): the same form
// sent again (a double click, a reload) shows the same orders instead of ordering again.
// Version 3 keeps the page as its template and data (JSON) in `template` and `data`, so it is
// shown in the site's layout of the day; rows of version 2 have only `body` (HTML).
constexpr std::string_view kCheckoutsSchema = R"(
CREATE TABLE shop_checkouts (
  idempotency_key TEXT PRIMARY KEY,
  status INTEGER NOT NULL,
  title TEXT NOT NULL,
  body TEXT NOT NULL,
  created INTEGER NOT NULL
);
CREATE INDEX shop_checkouts_created ON shop_checkouts(created);
)";
constexpr std::string_view kCheckoutTemplatesSchema = R"(
ALTER TABLE shop_checkouts ADD COLUMN template TEXT NOT NULL DEFAULT '';
ALTER TABLE shop_checkouts ADD COLUMN data TEXT NOT NULL DEFAULT '';
)";

// The customer's reference of a delegated order: a random token in the link of its status page
// at the partner (/shop/received/REF), which says "waiting for confirmation" while the order is
// in the outbox and shows main's order once it is delivered. Never the idempotency key.
constexpr std::string_view kOrderReferencesSchema = R"(
ALTER TABLE shop_delegated_orders ADD COLUMN public_ref TEXT NOT NULL DEFAULT '';
CREATE INDEX shop_delegated_orders_ref ON shop_delegated_orders(public_ref);
)";

// How long a finished checkout's page is kept for a resubmitted form.
constexpr int64_t kCheckoutMemoryMicros = 7LL * 86400 * 1'000'000;

// "shop-b" -> "SHOPB" (the order number prefix: 1..8 of [A-Z0-9]).
std::string OrderPrefix(std::string_view id) {
  std::string out;
  for (char c : id) {
    if (out.size() == 8) break;
    if (c >= 'a' && c <= 'z') out += static_cast<char>(c - 'a' + 'A');
    if (c >= '0' && c <= '9') out += c;
  }
  return out.empty() ? "P" : out;
}

std::string_view UrlAuthority(std::string_view url) {
  size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return {};
  std::string_view rest = url.substr(scheme + 3);
  return rest.substr(0, rest.find_first_of("/?#"));
}

std::string_view UrlPath(std::string_view url) {
  size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return {};
  std::string_view rest = url.substr(scheme + 3);
  size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return "/";
  rest = rest.substr(slash);
  return rest.substr(0, rest.find_first_of("?#"));
}

bool SameOrigin(const HttpRequest& request) {
  std::string_view host = request.HeaderOr("Host");
  std::string_view from;
  if (auto origin = request.FindHeader("Origin")) {
    if (*origin == "null") return false;
    from = UrlAuthority(*origin);
  } else if (auto referer = request.FindHeader("Referer")) {
    from = UrlAuthority(*referer);
  } else {
    return true;
  }
  if (host.size() != from.size()) return false;
  for (size_t i = 0; i < host.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(host[i])) !=
        std::tolower(static_cast<unsigned char>(from[i]))) {
      return false;
    }
  }
  return true;
}

Result<std::vector<commerce::Product>> CatalogFromJson(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_array()) return Status::InvalidArgument("main's catalog is not a JSON array");
  std::vector<commerce::Product> out;
  for (const json::value& e : v.as_array()) {
    const json::object* o = e.if_object();
    if (!o) return Status::InvalidArgument("main's catalog holds a non-object");
    commerce::Product p;
    auto str = [&](const char* k, std::string* dst) -> bool {
      const json::value* f = o->if_contains(k);
      if (!f || !f->is_string()) return false;
      *dst = std::string(f->as_string());
      return true;
    };
    auto num = [&](const char* k, int64_t* dst) -> bool {
      const json::value* f = o->if_contains(k);
      if (!f || !f->is_int64()) return false;
      *dst = f->as_int64();
      return true;
    };
    const json::value* images = o->if_contains("images");
    if (!str("sku", &p.sku) || !str("title", &p.title) || !str("description", &p.description) ||
        !str("page_path", &p.page_path) || !str("currency", &p.currency) ||
        !str("tax_class", &p.tax_class) || !str("category", &p.category) ||
        !num("price_minor", &p.price_minor) || !num("stock", &p.stock) || !images ||
        !images->is_array()) {
      return Status::InvalidArgument("main's catalog has a product with missing or bad fields");
    }
    for (const json::value& i : images->as_array()) {
      if (!i.is_string()) return Status::InvalidArgument("main's catalog: bad image path");
      p.images.emplace_back(i.as_string());
    }
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace

bool IsTransientMainError(const Status& status) {
  switch (status.code()) {
    case StatusCode::kUnavailable:
    case StatusCode::kDeadlineExceeded:
    case StatusCode::kInternal:
    case StatusCode::kResourceExhausted:
    case StatusCode::kUnauthenticated:  // e.g. clocks apart: retried, and logged
    case StatusCode::kAlreadyExists:    // a replayed nonce: a new attempt signs afresh
      return true;
    default:
      return false;
  }
}

Result<OpenedPartnerShop> OpenPartnerShop(Env& env, const std::string& site_dir,
                                          const SiteConfig& config, Database& db,
                                          std::shared_ptr<Logger> logger) {
  commerce::ShopSiteSettings settings;
  settings.site_id = config.id;
  settings.shop_name = config.name.empty() ? config.id : config.name;
  settings.order_prefix = OrderPrefix(config.id);
  settings.mail_dir = site_dir + "/mail";
  settings.locale = config.locale;
  settings.time_zone = config.time_zone;
  settings.variables = &config.variables;
  ASSIGN_OR_RETURN(OpenedPartnerShop opened,
                   commerce::OpenShopFromSettings(env, db, settings, std::move(logger)));
  RETURN_IF_ERROR(Migrate(db, "partner_shop",
                          {{1, std::string(kPartnerShopSchema)},
                           {2, std::string(kCheckoutsSchema)},
                           {3, std::string(kCheckoutTemplatesSchema)},
                           {4, std::string(kOrderReferencesSchema)}}));
  return opened;
}

// --- MainShopClient ---

MainShopClient::MainShopClient(std::unique_ptr<MainClient> main) : main_(std::move(main)) {}
MainShopClient::~MainShopClient() = default;

Result<std::unique_ptr<MainShopClient>> MainShopClient::Open(Env& env, const std::string& site_dir,
                                                             const SiteConfig& config) {
  ASSIGN_OR_RETURN(std::unique_ptr<MainClient> main, MainClient::Open(env, site_dir, config));
  return std::unique_ptr<MainShopClient>(new MainShopClient(std::move(main)));
}

Result<commerce::OrderReceipt> MainShopClient::PlaceOrder(const commerce::OrderRequest& request) {
  ASSIGN_OR_RETURN(HttpResponse r,
                   main_->Call("/v1/orders", commerce::OrderRequestToJson(request)));
  return commerce::OrderReceiptFromJson(r.body());
}

Result<commerce::ConsultCommand> MainShopClient::Quote(
    const std::vector<commerce::QuoteLineRequest>& lines) {
  ASSIGN_OR_RETURN(HttpResponse r, main_->Call("/v1/quote", commerce::QuoteRequestToJson(lines)));
  return commerce::ConsultCommandFromJson(r.body());
}

Result<std::vector<commerce::Product>> MainShopClient::Catalog() {
  ASSIGN_OR_RETURN(HttpResponse r, main_->Get("/v1/catalog"));
  return CatalogFromJson(r.body());
}

Result<HttpRequest> MainShopClient::SignedPost(std::string_view path, std::string body) {
  return main_->SignedPost(path, std::move(body));
}

Result<HttpResponse> MainShopClient::Send(const HttpRequest& request) {
  return main_->Send(request);
}

// --- the service ---
namespace {

// The status page of a delegated order at this partner ("" without a reference).
std::string StatusHref(std::string_view ref) {
  return ref.empty() ? std::string() : "/shop/received/" + std::string(ref);
}

// The lines of an order waiting for main, as its pages list them (titles from the catalog
// mirror; the SKU when the product is unknown here), with the prices the customer was shown and
// their sum ("" when a line has none: an order recorded before prices were kept).
json::object PendingLines(commerce::Shop& shop, const commerce::OrderRequest& order) {
  json::array lines;
  int64_t sum = 0;
  bool priced = true;
  const commerce::ShopConfig& config = shop.config();
  for (const commerce::OrderLineRequest& l : order.lines) {
    auto p = shop.GetProduct(l.sku);
    json::object line{
        {"title", p.ok() ? p->title : l.sku}, {"sku", l.sku}, {"quantity", l.quantity}};
    if (l.expected_unit_price_minor) {
      const int64_t total = *l.expected_unit_price_minor * l.quantity;  // both bounded
      line["unit_price"] =
          commerce::FormatMoney(*l.expected_unit_price_minor, config.currency, config.locale);
      line["line_total"] = commerce::FormatMoney(total, config.currency, config.locale);
      sum += total;
    } else {
      priced = false;
    }
    lines.push_back(std::move(line));
  }
  json::object out{{"lines", std::move(lines)}};
  if (priced && !order.lines.empty()) {
    out["goods_total"] = commerce::FormatMoney(sum, config.currency, config.locale);
  }
  return out;
}

// What the partner's shop routes and remembers. Thread-safe.
class PartnerShop {
 public:
  PartnerShop(Env& env, Database& db, OpenedPartnerShop opened, SiteContent& content,
              std::unique_ptr<MainShopClient> client, std::shared_ptr<Logger> logger)
      : env_(env),
        db_(db),
        opened_(std::move(opened)),
        shop_(*opened_.shop),
        content_(content),
        client_(std::move(client)),
        logger_(std::move(logger)) {}

  commerce::Shop& shop() { return shop_; }
  // Called for every order main placed for this partner (delegated); see AttachShop.
  void SetDelegatedOrderRecorder(std::function<void(const commerce::Order&)> record) {
    record_delegated_ = std::move(record);
  }
  OpenedPartnerShop& opened() { return opened_; }
  MainShopClient* client() { return client_.get(); }

  Status LoadMirrorSet() {
    ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT sku FROM shop_mirror"));
    std::lock_guard<std::mutex> lock(mu_);
    mirrored_.clear();
    for (const SqlRow& r : rows) mirrored_.insert(r.Text(0));
    return Status::Ok();
  }

  bool IsMirrored(std::string_view sku) {
    std::lock_guard<std::mutex> lock(mu_);
    return mirrored_.count(std::string(sku)) != 0;
  }

  // Brings the mirror of main's catalog up to date.
  Status SyncMirror() {
    if (!client_) return Status::Ok();
    ASSIGN_OR_RETURN(std::vector<commerce::Product> products, client_->Catalog());
    std::set<std::string> seen;
    for (const commerce::Product& p : products) {
      seen.insert(p.sku);
      if (p.currency != shop_.config().currency) continue;
      auto local = shop_.GetProduct(p.sku);
      if (local.ok()) {
        if (!IsMirrored(p.sku)) continue;  // the partner's own product
        if (local->title != p.title || local->description != p.description ||
            local->page_path != p.page_path || local->tax_class != p.tax_class ||
            local->category != p.category || local->images != p.images ||
            local->price_minor != p.price_minor) {
          commerce::ProductUpdate u;
          u.title = p.title;
          u.description = p.description;
          u.page_path = p.page_path;
          u.tax_class = p.tax_class;
          u.category = p.category;
          u.images = p.images;
          u.price_minor = p.price_minor;
          Status s = shop_.UpdateProduct(p.sku, u);
          if (!s.ok()) logger_->warn("mirroring {}: {}", p.sku, s.message());
        }
        if (local->stock != p.stock) {
          Status s = shop_.SetStock(p.sku, p.stock);
          if (!s.ok()) logger_->warn("mirroring the stock of {}: {}", p.sku, s.message());
        }
      } else if (local.status().code() == StatusCode::kNotFound) {
        Status s = shop_.AddProduct(p);
        if (s.ok()) {
          s = db_.Exec("INSERT OR REPLACE INTO shop_mirror(sku, synced) VALUES(?, ?)",
                       {p.sku, env_.NowSeconds()});
        }
        if (!s.ok()) logger_->warn("mirroring {}: {}", p.sku, s.message());
      }
    }
    ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT sku FROM shop_mirror"));
    for (const SqlRow& r : rows) {
      const std::string sku = r.Text(0);
      if (seen.count(sku)) continue;
      Status s = shop_.RemoveProduct(sku);
      if (s.ok() || s.code() == StatusCode::kNotFound) {
        s = db_.Exec("DELETE FROM shop_mirror WHERE sku = ?", {sku});
      }
      if (!s.ok()) logger_->warn("removing mirrored {}: {}", sku, s.message());
    }
    return LoadMirrorSet();
  }

  // The area of a line being added: the Referer page's area, else tie-up for main's goods.
  Area AreaOf(const HttpRequest& request, std::string_view sku) {
    if (auto referer = request.FindHeader("Referer")) {
      std::string_view path = UrlPath(*referer);
      auto view = content_.view();
      if (view && !path.empty()) {
        content::LookupResult found = view->Lookup(path);
        if (found.kind == content::LookupResult::Kind::kFound && found.file != nullptr) {
          return found.file->area == content::Area::kTieup ? Area::kTieup : Area::kOriginal;
        }
      }
    }
    return IsMirrored(sku) ? Area::kTieup : Area::kOriginal;
  }

  // The routing table of the active tie-up release (cached per version).
  std::shared_ptr<const commerce::RoutingTable> Table() {
    auto view = content_.view();
    if (!view) return std::make_shared<commerce::RoutingTable>();
    const uint64_t version = view->version(content::Area::kTieup);
    std::lock_guard<std::mutex> lock(mu_);
    if (table_ && table_version_ == version) return table_;
    auto table = std::make_shared<commerce::RoutingTable>();
    const content::ServedFile* f = view->Find(commerce::kRoutingTablePath);
    if (f != nullptr && f->area != content::Area::kTieup) {
      logger_->warn("{} is an original page: ignored (only main sets the routing table)",
                    commerce::kRoutingTablePath);
    } else if (f != nullptr) {
      auto body = view->ReadBody(*f);
      auto parsed = body.ok() ? commerce::RoutingTable::Parse(**body)
                              : Result<commerce::RoutingTable>(body.status());
      if (parsed.ok()) {
        *table = std::move(*parsed);
      } else {
        logger_->error(
            "tie-up release {}: {}; every request is processed locally until main "
            "ships a valid table",
            version, parsed.status().message());
      }
    }
    table_ = table;
    table_version_ = version;
    return table_;
  }

  // --- the delegated-order outbox ---

  struct OutboxEntry {
    bool existed = false;
    std::string state;  // pending, delivered, refused
    std::string public_ref;
    std::string request;
    std::string receipt;
    std::string last_error;
  };

  // What the outbox knows about `key` (existed = false when nothing).
  Result<OutboxEntry> Lookup(const std::string& key) { return LookupBy("idempotency_key", key); }
  // The same by the customer's reference (from a status link).
  Result<OutboxEntry> LookupRef(const std::string& ref) {
    if (ref.empty()) return OutboxEntry{};
    return LookupBy("public_ref", ref);
  }
  Result<OutboxEntry> LookupBy(std::string_view column, const std::string& value) {
    OutboxEntry entry;
    ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT state, receipt, last_error, public_ref, request "
                                          "FROM shop_delegated_orders WHERE " +
                                              std::string(column) + " = ?",
                                          {value}));
    if (!rows.empty()) {
      entry.existed = true;
      entry.state = rows[0].Text(0);
      entry.receipt = rows[0].Text(1);
      entry.last_error = rows[0].Text(2);
      entry.public_ref = rows[0].Text(3);
      entry.request = rows[0].Text(4);
    }
    return entry;
  }

  // A new customer reference for a delegated order.
  std::string NewReference() { return shop_.NewCartToken(); }

  // Records the order for later delivery (key unique) and runs `also` (taking the lines out of
  // the cart) in the same transaction: one commit, after which the order is never lost.
  Result<OutboxEntry> Enqueue(const commerce::OrderRequest& request,
                              const std::function<void()>& also = {}) {
    OutboxEntry entry;
    RETURN_IF_ERROR(db_.Transaction([&](Database& db) -> Status {
      ASSIGN_OR_RETURN(auto rows, db.Query("SELECT state, receipt, last_error, public_ref FROM "
                                           "shop_delegated_orders WHERE idempotency_key = ?",
                                           {request.idempotency_key}));
      if (!rows.empty()) {
        entry.existed = true;
        entry.state = rows[0].Text(0);
        entry.receipt = rows[0].Text(1);
        entry.last_error = rows[0].Text(2);
        entry.public_ref = rows[0].Text(3);
        return Status::Ok();
      }
      entry.state = "pending";
      entry.public_ref = NewReference();
      RETURN_IF_ERROR(
          db.Exec("INSERT INTO shop_delegated_orders(idempotency_key, request, state, created, "
                  "public_ref) VALUES(?, ?, 'pending', ?, ?)",
                  {request.idempotency_key, commerce::OrderRequestToJson(request), env_.NowMicros(),
                   entry.public_ref}));
      if (also) also();
      return Status::Ok();
    }));
    return entry;
  }

  // Keeps the partner's record of an order main placed at once (off the customer's path).
  void RecordDelivered(const commerce::OrderRequest& request,
                       const commerce::OrderReceipt& receipt) {
    if (record_delegated_ && !receipt.replayed) record_delegated_(receipt.order);
    Status s = db_.Exec(
        "INSERT INTO shop_delegated_orders(idempotency_key, request, state, created, attempts, "
        "order_number, receipt, finished, public_ref) VALUES(?, ?, 'delivered', ?, 1, ?, ?, ?, ?) "
        "ON CONFLICT(idempotency_key) DO UPDATE SET state = 'delivered', "
        "order_number = excluded.order_number, receipt = excluded.receipt, "
        "finished = excluded.finished",
        {request.idempotency_key, commerce::OrderRequestToJson(request), env_.NowMicros(),
         receipt.order.number, commerce::OrderReceiptToJson(receipt), env_.NowMicros(),
         NewReference()});
    if (!s.ok()) logger_->warn("recording order {}: {}", receipt.order.number, s.message());
  }

  // --- checkouts ---

  // Holds the lock of one cart's checkout: the same cart is checked out by one request at a
  // time (a double click waits for the first, then finds its page). Bounded: a lock lives
  // while someone holds it.
  class CartLock {
   public:
    CartLock(PartnerShop& shop, std::string token) : shop_(shop), token_(std::move(token)) {
      std::unique_lock<std::mutex> lock(shop_.mu_);
      shop_.cart_free_.wait(lock, [&] { return shop_.carts_checking_out_.count(token_) == 0; });
      shop_.carts_checking_out_.insert(token_);
    }
    ~CartLock() {
      {
        std::lock_guard<std::mutex> lock(shop_.mu_);
        shop_.carts_checking_out_.erase(token_);
      }
      shop_.cart_free_.notify_all();
    }
    CartLock(const CartLock&) = delete;
    CartLock& operator=(const CartLock&) = delete;

   private:
    PartnerShop& shop_;
    std::string token_;
  };

  // A finished checkout's page: its template and data (JSON), or (kept from before templates)
  // its HTML body.
  struct FinishedCheckout {
    int status = 200;
    std::string title, template_name, data, body;
  };

  // The page of the checkout finished with this form (`key`), if any.
  std::optional<FinishedCheckout> Finished(const std::string& key) {
    auto rows = db_.Query(
        "SELECT status, title, template, data, body FROM shop_checkouts WHERE idempotency_key = ?",
        {key});
    if (!rows.ok()) {
      logger_->warn("reading finished checkouts: {}", rows.status().message());
      return std::nullopt;
    }
    if (rows->empty()) return std::nullopt;
    const SqlRow& r = (*rows)[0];
    return FinishedCheckout{static_cast<int>(r.Int(0)), r.Text(1), r.Text(2), r.Text(3), r.Text(4)};
  }

  void RememberFinished(const std::string& key, const FinishedCheckout& page) {
    Status s = db_.Exec(
        "INSERT OR REPLACE INTO shop_checkouts(idempotency_key, status, title, template, data, "
        "body, created) VALUES(?, ?, ?, ?, ?, ?, ?)",
        {key, static_cast<int64_t>(page.status), page.title, page.template_name, page.data,
         page.body, env_.NowMicros()});
    if (!s.ok()) logger_->warn("remembering checkout {}: {}", key, s.message());
  }

  void ForgetOldCheckouts() {
    Status s = db_.Exec("DELETE FROM shop_checkouts WHERE created < ?",
                        {env_.NowMicros() - kCheckoutMemoryMicros});
    if (!s.ok()) logger_->warn("forgetting old checkouts: {}", s.message());
  }

  // Runs `fn` inside one database transaction (its statements commit together).
  Status InTransaction(const std::function<void()>& fn) {
    return db_.Transaction([&](Database&) -> Status {
      fn();
      return Status::Ok();
    });
  }

  // Takes ordered lines out of a cart (returning their held units).
  void TakeOut(const std::string& token, const std::vector<commerce::CartLine>& lines) {
    for (const commerce::CartLine& l : lines) {
      Status s = shop_.RemoveFromCart(token, l.sku);
      if (!s.ok() && s.code() != StatusCode::kNotFound) {
        logger_->warn("taking {} out of a cart: {}", l.sku, s.message());
      }
    }
  }

  // One delivery attempt of a recorded order. Returns main's receipt, or the error (transient
  // errors leave the order pending; permanent ones mark it refused).
  Result<commerce::OrderReceipt> Deliver(const commerce::OrderRequest& request) {
    Result<commerce::OrderReceipt> r = client_->PlaceOrder(request);
    Status s;
    if (r.ok()) {
      if (record_delegated_ && !r->replayed) record_delegated_(r->order);
      s = db_.Exec(
          "UPDATE shop_delegated_orders SET state = 'delivered', attempts = attempts + 1, "
          "order_number = ?, receipt = ?, finished = ?, last_error = '' "
          "WHERE idempotency_key = ?",
          {r->order.number, commerce::OrderReceiptToJson(*r), env_.NowMicros(),
           request.idempotency_key});
    } else if (IsTransientMainError(r.status())) {
      s = db_.Exec(
          "UPDATE shop_delegated_orders SET attempts = attempts + 1, last_error = ? "
          "WHERE idempotency_key = ? AND state = 'pending'",
          {r.status().message(), request.idempotency_key});
    } else {
      s = db_.Exec(
          "UPDATE shop_delegated_orders SET state = 'refused', attempts = attempts + 1, "
          "last_error = ?, finished = ? WHERE idempotency_key = ? AND state = 'pending'",
          {r.status().message(), env_.NowMicros(), request.idempotency_key});
    }
    if (!s.ok())
      logger_->error("recording delivery of {}: {}", request.idempotency_key, s.message());
    return r;
  }

  // The periodic task: delivers pending orders, oldest first, until main fails to answer.
  void DeliverPending() {
    if (!client_) return;
    auto rows = db_.Query(
        "SELECT request FROM shop_delegated_orders WHERE state = 'pending' ORDER BY created "
        "LIMIT ?",
        {static_cast<int64_t>(kDeliveriesPerTick)});
    if (!rows.ok()) {
      logger_->error("reading the delegated-order outbox: {}", rows.status().message());
      return;
    }
    int delivered = 0;
    for (const SqlRow& row : *rows) {
      auto request = commerce::OrderRequestFromJson(row.Text(0));
      if (!request.ok()) {
        logger_->error("a stored delegated order is unreadable: {}", request.status().message());
        continue;
      }
      auto r = Deliver(*request);
      if (r.ok()) {
        ++delivered;
      } else if (IsTransientMainError(r.status())) {
        logger_->warn("delegated orders wait for main ({} pending): {}", rows->size() - delivered,
                      r.status().message());
        break;
      } else {
        logger_->warn("main refused delegated order {}: {}", request->idempotency_key,
                      r.status().message());
      }
    }
    if (delivered > 0) logger_->info("delivered {} delegated order(s) to main", delivered);
  }

 private:
  Env& env_;
  Database& db_;
  OpenedPartnerShop opened_;
  commerce::Shop& shop_;
  SiteContent& content_;
  std::unique_ptr<MainShopClient> client_;
  std::function<void(const commerce::Order&)> record_delegated_;
  std::shared_ptr<Logger> logger_;
  std::mutex mu_;
  std::condition_variable cart_free_;
  std::set<std::string> carts_checking_out_;  // guarded by mu_
  std::set<std::string> mirrored_;
  std::shared_ptr<const commerce::RoutingTable> table_;
  uint64_t table_version_ = 0;
};

class PartnerShopHandler : public HttpHandler {
 public:
  // `site`: main's layout in the tie-up release (content/page_templates.h).
  // `known_customer`: commerce::ShopHandlerOptions::known_customer (null: none).
  PartnerShopHandler(
      std::shared_ptr<PartnerShop> state, std::string partner_id, std::shared_ptr<Logger> logger,
      content::PageSite site,
      std::function<std::optional<commerce::Customer>(const HttpRequest&)> known_customer)
      : state_(std::move(state)),
        partner_id_(std::move(partner_id)),
        logger_(std::move(logger)),
        templates_(commerce::ShopPageTemplates(), site) {
    commerce::ShopHandlerOptions options;
    options.site = std::move(site);
    PartnerShop* s = state_.get();
    options.area_of = [s](const HttpRequest& r, std::string_view sku) { return s->AreaOf(r, sku); };
    // Behind HTTPS (shop.public_url is https://...), the cart's cookies are Secure.
    options.secure_cookie = state_->shop().config().public_base_url.starts_with("https://");
    options.known_customer = std::move(known_customer);
    handler_ = std::make_shared<commerce::ShopHandler>(state_->shop(), options);
    if (state_->client() != nullptr) pool_ = std::make_unique<WorkerPool>(8);
  }

  std::string_view AllowedMethods() const override { return "GET, HEAD, POST"; }

  void Handle(const HttpRequest& request, HttpResponder responder) override {
    if ((request.method() == "GET" || request.method() == "HEAD") &&
        request.path().starts_with(kReceivedPrefix)) {
      responder.Respond(ReceivedPage(request));
      return;
    }
    if (pool_ && request.method() == "POST" && request.path() == "/shop/checkout") {
      // Routing may wait on main: off the I/O thread.
      auto shared = std::make_shared<HttpResponder>(std::move(responder));
      const HttpRequest* req = &request;
      if (pool_->Submit([this, req, shared] { shared->Respond(Checkout(*req)); })) return;
      responder = std::move(*shared);
    }
    handler_->Handle(request, std::move(responder));
  }

 private:
  HttpResponse Local(const HttpRequest& request) { return handler_->HandleRequest(request, {}); }

  // A checkout's page in the site's layout, with the cart's count in the header (and its
  // cookie, as the cart changed).
  HttpResponse Page(int status, const std::string& title, const std::string& template_name,
                    const std::string& data_json, const std::string& legacy_body,
                    const std::string& token) {
    std::optional<int64_t> count;
    auto cart = state_->shop().GetCart(token);
    if (cart.ok()) count = commerce::CartItemCount(*cart);
    const content::PageFrame frame{title, count};
    Result<std::string> html = Status::NotFound("no page");
    if (template_name.empty()) {
      html = templates_.InShell(frame, legacy_body);  // a page kept from before templates
    } else {
      boost::system::error_code ec;
      json::value data = json::parse(data_json, ec);
      if (ec || !data.is_object()) data = json::object();
      data.as_object()["home"] = "/";
      html = templates_.Render(template_name, frame, data);
    }
    if (!html.ok()) {
      logger_->error("shop page {}: {}", template_name, html.status().message());
      status = 500;
      html = templates_.InShell({"Something went wrong", count},
                                commerce::HtmlEscape("This page could not be shown."));
    }
    HttpResponse r = HttpResponse::Html(status, std::move(*html));
    r.AddHeader("Cache-Control", "no-store");
    r.AddHeader("X-Content-Type-Options", "nosniff");
    if (count) r.AddHeader("Set-Cookie", commerce::CartCountCookie(*count, false));
    return r;
  }

  static constexpr std::string_view kReceivedPrefix = "/shop/received/";

  // GET /shop/received/REF: a delegated order's status at this partner. While it waits in the
  // outbox: "waiting for confirmation" and its lines; once main has it: main's order.
  HttpResponse ReceivedPage(const HttpRequest& request) {
    const std::string ref(request.path().substr(kReceivedPrefix.size()));
    const std::string token = commerce::CookieValue(request.HeaderOr("Cookie"), "tieup_cart");
    commerce::Shop& shop = state_->shop();
    Outcome out;
    auto entry = state_->LookupRef(ref);
    if (!entry.ok()) {
      logger_->warn("order status page: {}", entry.status().message());
      out.Refuse(503, "Please try again", "Your order could not be looked up just now.");
    } else if (!entry->existed) {
      out.Refuse(404, "Order not found",
                 "We found no order for this link. Please use the link from your order page.");
    } else if (entry->state == "delivered") {
      auto receipt = commerce::OrderReceiptFromJson(entry->receipt);
      if (receipt.ok()) {
        out.title = "Your order";
        out.template_name = "thank_you";
        out.AddOrder(shop, receipt->order, "Confirmed by our main shop.", {});
      } else {
        out.Refuse(500, "Order unavailable", "Please try again in a moment.");
      }
    } else if (entry->state == "refused") {
      out.Refuse(409, "Order refused", entry->last_error, "Nothing was ordered.");
    } else {
      auto pending = commerce::OrderRequestFromJson(entry->request);
      out.Received(shop, entry->public_ref, pending.ok() ? *pending : commerce::OrderRequest{});
      out.status = 200;
      out.title = "Waiting for confirmation";
    }
    HttpResponse r =
        Page(out.status, out.title, out.template_name, json::serialize(out.data), "", token);
    r.AddHeader("Referrer-Policy", "no-referrer");  // the reference is in the path
    return r;
  }

  HttpResponse Checkout(const HttpRequest& request) {
    // Anything but a well-formed, same-origin checkout of a cart with tie-up lines is the
    // ShopHandler's (which answers bad input with a 4xx and changes nothing).
    if (!SameOrigin(request)) return Local(request);
    auto content_type = request.HeaderOr("Content-Type");
    if (!content_type.starts_with("application/x-www-form-urlencoded")) return Local(request);
    auto form = commerce::ParseForm(request.body());
    if (!form.ok()) return Local(request);
    const std::string token = commerce::CookieValue(request.HeaderOr("Cookie"), "tieup_cart");
    if (token.empty() || form->Get("csrf") != commerce::ShopHandler::CsrfToken(token)) {
      return Local(request);
    }
    const std::string key(commerce::Trim(form->Get("idem")));
    if (!commerce::ValidateIdempotencyKey(key).ok()) return Local(request);
    // One checkout of this cart at a time; a form sent again shows the page it got first.
    PartnerShop::CartLock cart_lock(*state_, token);
    if (auto done = state_->Finished(key)) {
      return Page(done->status, done->title, done->template_name, done->data, done->body, token);
    }
    commerce::Shop& shop = state_->shop();
    auto cart = shop.GetCart(token);
    if (!cart.ok()) return Local(request);
    std::vector<commerce::CartLine> tieup;
    bool has_original = false;
    for (const commerce::CartLine& l : cart->lines) {
      if (l.area == Area::kTieup) {
        tieup.push_back(l);
      } else {
        has_original = true;
      }
    }
    if (tieup.empty()) return Local(request);

    commerce::RouteRequest route;
    route.method = request.method();
    route.path = request.path();
    route.area = Area::kTieup;
    for (const auto& [k, v] : form->all()) route.fields.emplace(k, v);
    int64_t amount = 0, units = 0;
    for (const commerce::CartLine& l : tieup) {
      amount += l.line_total_minor;
      units += l.quantity;
      route.fields.emplace("sku", l.sku);
      auto p = shop.GetProduct(l.sku);
      if (p.ok() && !p->category.empty()) route.fields.emplace("category", p->category);
    }
    route.fields.emplace("amount_minor", std::to_string(amount));
    route.fields.emplace("quantity", std::to_string(units));
    route.fields.emplace("lines", std::to_string(tieup.size()));
    commerce::RouteDecision decision = state_->Table()->Decide(route);
    if (decision.mode == commerce::RouteMode::kLocal) return Local(request);
    // What the customer's page showed is what is charged: main is told each line's price (it
    // refuses a different one), and the original lines are checked out at these prices.
    if (commerce::SeenTotal(*form) != cart->totals.total_minor) {
      return handler_->ConfirmAgain(request, *form, {});
    }
    const commerce::ShownPrices shown = commerce::PricesShown(*cart);

    commerce::Customer customer;
    customer.name = commerce::Trim(form->Get("name"));
    customer.address_line1 = commerce::Trim(form->Get("address_line1"));
    customer.address_line2 = commerce::Trim(form->Get("address_line2"));
    customer.postal_code = commerce::Trim(form->Get("postal_code"));
    customer.city = commerce::Trim(form->Get("city"));
    customer.country = commerce::Trim(form->Get("country"));
    customer.email = commerce::Trim(form->Get("email"));
    customer.phone = commerce::Trim(form->Get("phone"));
    const std::string payment(commerce::Trim(form->Get("payment")));
    if (!commerce::ValidateCustomer(customer).empty() ||
        shop.FindPaymentProvider(payment) == nullptr) {
      return Local(request);  // the ShopHandler shows the form again with what to fix
    }

    commerce::OrderRequest order;
    order.channel = partner_id_;
    order.area = Area::kTieup;
    order.idempotency_key = key;
    order.customer = customer;
    order.payment_method = payment;
    for (const commerce::CartLine& l : tieup) {
      commerce::OrderLineRequest line;
      line.sku = l.sku;
      line.quantity = l.quantity;
      line.expected_unit_price_minor = l.unit_price_minor;
      order.lines.push_back(line);
    }
    logger_->info("checkout of {} tie-up line(s): {} ({})", tieup.size(),
                  commerce::RouteModeName(decision.mode), decision.why);
    Outcome out;
    if (!customer.email.empty()) out.data["email"] = customer.email;
    if (decision.mode == commerce::RouteMode::kDelegate) {
      Delegate(token, tieup, order, &out);
    } else {
      Consult(token, tieup, order, &out);
    }
    if (out.confirm_again) {
      // Main charges another price than the page showed: the mirror learns it now, and the
      // customer sees the new total before anything is ordered.
      Status mirrored = state_->SyncMirror();
      if (!mirrored.ok()) logger_->warn("mirroring main's catalog: {}", mirrored.message());
      return handler_->ConfirmAgain(request, *form, *out.confirm_again);
    }
    if (has_original && out.status < 300) {
      // Only the original lines: the tie-up ones are main's (or were just ordered above),
      // whatever the cart still shows.
      auto local =
          shop.Checkout(token, customer, payment, key + "-local", {}, Area::kOriginal, &shown);
      if (local.ok()) {
        out.AddOrder(shop, local->order, "Processed by " + shop.config().shop_name + ".",
                     commerce::OrderHref(local->order));
      } else {
        out.Problems().push_back(json::object{
            {"message", "Your other items could not be ordered: " + local.status().message()}});
      }
    }
    if (out.totals.size() > 1) {
      int64_t grand = 0;
      for (int64_t t : out.totals) grand += t;
      out.data["grand_total"] =
          commerce::FormatMoney(grand, shop.config().currency, shop.config().locale);
    }
    const std::string data = json::serialize(out.data);
    if (out.status < 300) {
      state_->RememberFinished(key, {out.status, out.title, out.template_name, data, ""});
    }
    return Page(out.status, out.title, out.template_name, data, "", token);
  }

  // What a tie-up checkout shows: the page (a template of commerce/shop_pages.h and its data),
  // and the total of each order it placed.
  struct Outcome {
    int status = 200;
    std::string title, template_name;
    json::object data;
    std::vector<int64_t> totals;
    // Set when a price is not the one the customer saw (what changed): nothing was ordered,
    // and the checkout form is shown again with the new total.
    std::optional<std::string> confirm_again;

    // Adds an order to the thank-you (or "received") page.
    void AddOrder(const commerce::Shop& shop, const commerce::Order& o, std::string_view by,
                  std::string_view href) {
      json::value& orders = data["orders"];
      if (!orders.is_array()) orders = json::array();
      orders.as_array().push_back(commerce::OrderData(shop, o, by, href));
      totals.push_back(o.totals.total_minor);
      // "M-000002 and SHOPA-000001.", "A, B and C.": each number with what follows it.
      const json::array& all = orders.as_array();
      json::array numbers;
      for (size_t i = 0; i < all.size(); ++i) {
        const char* sep = i + 1 == all.size() ? "." : i + 2 == all.size() ? " and " : ", ";
        numbers.push_back(json::object{{"number", all[i].at("number")}, {"sep", sep}});
      }
      data["count"] = numbers.size();
      if (numbers.size() == 1) {
        data["one"] = json::object{{"number", all[0].at("number")}};
      } else {
        data.erase("one");
        data["several"] = json::object{{"numbers", numbers}};
      }
    }
    json::array& Problems() {
      json::value& p = data["problems"];
      if (!p.is_array()) p = json::array();
      return p.as_array();
    }
    // A problem page (nothing ordered).
    void Refuse(int code, std::string_view heading, std::string_view message,
                std::string_view note = {}) {
      status = code;
      title = heading;
      template_name = "problem";
      data = commerce::ProblemData(heading, message, "/", "/shop/cart", "Back to your cart");
      if (!note.empty()) data["note"] = note;
    }
    void ThankYou() {
      title = "Thank you";
      template_name = "thank_you";
    }
    // "Order received": the order waits in the outbox; `ref` links its status page.
    void Received(commerce::Shop& shop, std::string_view ref, const commerce::OrderRequest& order) {
      status = 202;
      title = "Order received";
      template_name = "received";
      data["waiting"] = true;
      if (!ref.empty()) data["status_href"] = "/shop/received/" + std::string(ref);
      json::object pending = PendingLines(shop, order);
      data["has_pending_lines"] = !pending["lines"].as_array().empty();
      data["pending_lines"] = std::move(pending["lines"]);
      if (pending.contains("goods_total")) data["goods_total"] = pending["goods_total"];
    }
  };

  void PutBack(const std::string& token, const std::vector<commerce::CartLine>& lines) {
    for (const commerce::CartLine& l : lines) {
      Status s = state_->shop().AddToCart(token, l.sku, l.quantity, Area::kTieup);
      if (!s.ok()) logger_->warn("putting {} back in a cart: {}", l.sku, s.message());
    }
  }

  void TakeOut(const std::string& token, const std::vector<commerce::CartLine>& lines) {
    state_->TakeOut(token, lines);
  }

  // Main is asked first: when it answers, its answer is the customer's and nothing needs to be
  // durable here (main holds the order; a lost answer is repaired by the idempotency key).
  // Only when main cannot be reached is the order written to the outbox ("order received").
  void Delegate(const std::string& token, const std::vector<commerce::CartLine>& tieup,
                const commerce::OrderRequest& order, Outcome* out) {
    auto entry = state_->Lookup(order.idempotency_key);
    if (entry.ok() && entry->existed) {  // the same checkout form sent again
      if (entry->state == "delivered") {
        auto receipt = commerce::OrderReceiptFromJson(entry->receipt);
        if (receipt.ok()) {
          out->ThankYou();
          out->AddOrder(state_->shop(), receipt->order, "Processed by our main shop.",
                        StatusHref(entry->public_ref));
          return;
        }
      }
      if (entry->state == "refused") {
        out->Refuse(409, "Order refused", entry->last_error);
        return;
      }
      out->Received(state_->shop(), entry->public_ref, order);
      return;
    }
    auto receipt = state_->client()->PlaceOrder(order);
    if (receipt.ok()) {
      // Before the answer, in one commit: the cart no longer shows what main now holds.
      PartnerShop* s = state_.get();
      Status done = s->InTransaction([&] {
        s->RecordDelivered(order, *receipt);
        s->TakeOut(token, tieup);
      });
      (void)done;  // each step logs its own failure
      auto recorded = state_->Lookup(order.idempotency_key);
      out->ThankYou();
      out->AddOrder(state_->shop(), receipt->order, "Processed by our main shop.",
                    recorded.ok() ? StatusHref(recorded->public_ref) : std::string());
      return;
    }
    if (receipt.status().code() == StatusCode::kAborted) {
      out->confirm_again = receipt.status().message();
      return;
    }
    if (!IsTransientMainError(receipt.status())) {
      out->Refuse(receipt.status().code() == StatusCode::kFailedPrecondition ? 409 : 422,
                  "Order refused", receipt.status().message(), "Your cart is unchanged.");
      return;
    }
    logger_->warn("main cannot be reached ({}): order {} waits in the outbox",
                  receipt.status().message(), order.idempotency_key);
    auto queued = state_->Enqueue(order, [&] { TakeOut(token, tieup); });
    if (!queued.ok()) {
      out->Refuse(503, "Please try again",
                  "Your order could not be recorded (" + queued.status().message() +
                      "). Nothing was ordered.");
      return;
    }
    out->Received(state_->shop(), queued->public_ref, order);
  }

  void Consult(const std::string& token, const std::vector<commerce::CartLine>& tieup,
               commerce::OrderRequest order, Outcome* out) {
    std::vector<commerce::QuoteLineRequest> lines;
    for (const commerce::CartLine& l : tieup) lines.push_back({l.sku, l.quantity});
    auto command = state_->client()->Quote(lines);
    if (!command.ok()) {
      const bool transient = IsTransientMainError(command.status());
      out->Refuse(transient ? 503 : 422, "Please try again",
                  transient ? "We could not confirm your order just now. Nothing was ordered; "
                              "your cart is unchanged."
                            : "Your order could not be confirmed: " + command.status().message() +
                                  " Nothing was ordered; your cart is unchanged.");
      return;
    }
    Status applied = commerce::ApplyConsultCommand(*command, &order);
    if (!applied.ok()) {
      out->Refuse(409, "Order refused", applied.message(), "Your cart is unchanged.");
      return;
    }
    // Main's price must be the one the customer saw (the partner's mirror may lag behind).
    for (commerce::OrderLineRequest& line : order.lines) {
      for (const commerce::CartLine& l : tieup) {
        if (l.sku == line.sku) line.expected_unit_price_minor = l.unit_price_minor;
      }
    }
    order.actor = "customer";
    TakeOut(token, tieup);
    auto receipt = state_->shop().PlaceOrder(order);
    if (!receipt.ok()) {
      PutBack(token, tieup);
      if (receipt.status().code() == StatusCode::kAborted) {
        out->confirm_again = receipt.status().message();
        return;
      }
      out->Refuse(receipt.status().code() == StatusCode::kFailedPrecondition ? 409 : 422,
                  "Order refused", receipt.status().message());
      return;
    }
    out->ThankYou();
    out->AddOrder(state_->shop(), receipt->order,
                  "Processed by " + state_->shop().config().shop_name + ".",
                  commerce::OrderHref(receipt->order));
  }

  std::shared_ptr<PartnerShop> state_;
  const std::string partner_id_;
  std::shared_ptr<Logger> logger_;
  content::PageTemplates templates_;
  std::shared_ptr<commerce::ShopHandler> handler_;
  std::unique_ptr<WorkerPool> pool_;  // last: its destructor runs queued checkouts first
};

// /.tieup/ holds the routing table and other machine files: not for browsers.
class HiddenFiles : public HttpHandler {
 public:
  void Handle(const HttpRequest&, HttpResponder responder) override {
    responder.Respond(HttpResponse::Text(404, "Not found\n"));
  }
  std::string_view AllowedMethods() const override { return "GET, HEAD"; }
};

}  // namespace

Status AttachShop(PartnerDaemon& daemon) {
  const SiteConfig& config = daemon.site().config();
  const std::string site_dir = daemon.site().site_dir();
  ASSIGN_OR_RETURN(OpenedPartnerShop opened,
                   OpenPartnerShop(daemon.env(), site_dir, config, daemon.db(), daemon.logger()));
  std::unique_ptr<MainShopClient> client;
  if (daemon.sync() != nullptr) {
    ASSIGN_OR_RETURN(client, MainShopClient::Open(daemon.env(), site_dir, config));
  }
  auto state =
      std::make_shared<PartnerShop>(daemon.env(), daemon.db(), std::move(opened),
                                    daemon.site().content(), std::move(client), daemon.logger());
  RETURN_IF_ERROR(state->LoadMirrorSet());
  std::shared_ptr<Logger> logger = daemon.logger();
  // Every order goes into the partner's ledger with its area: tie-up orders (the
  // per-transaction handling fee is computed from them: local and consult orders from this
  // shop, delegated ones from main's receipt) and the partner's own original-page orders
  // (counted apart, no fee: fees/contract.h; main's console lists them).
  auto record = [log = &daemon.site().ledger(), env = &daemon.env(), id = config.id,
                 logger](const commerce::Order& o) {
    ledger::OrderRecord r;
    r.time_micros = env->NowMicros();
    r.order_id = o.number;
    r.partner = id;
    r.area = o.area == commerce::Area::kTieup ? ledger::RecordArea::kTieup
                                              : ledger::RecordArea::kOriginal;
    r.amount_minor = o.totals.total_minor;
    r.currency = o.currency;
    for (const commerce::OrderLine& l : o.lines) r.items += static_cast<uint32_t>(l.quantity);
    log->AppendAsync(ledger::EncodeRecord(r), [logger, number = o.number](Result<uint64_t> at) {
      if (!at.ok()) {
        logger->warn("ledger: recording order {}: {}", number, at.status().message());
      }
    });
  };
  state->shop().SetOrderObserver(record);
  state->SetDelegatedOrderRecorder(record);
  // The durable outbox's depth on the operations port: orders for main not delivered yet.
  if (!daemon.further_main()) {
    prometheus::Gauge* depth =
        &daemon.site()
             .metrics()
             .AddGaugeFamily("tieup_outbox_depth",
                             "Messages waiting to be delivered, by outbox (mail: to the relay)")
             .Add({{"outbox", "delegated-orders"}});
    daemon.site().metrics().AddRefresh([db = &daemon.db(), depth] {
      auto rows =
          db->Query("SELECT COUNT(*) FROM shop_delegated_orders WHERE state = 'pending'", {});
      if (rows.ok() && !rows->empty()) depth->Set(static_cast<double>((*rows)[0].Int(0)));
    });
  }
  // Cancelled orders are taken back in the ledger (partner_site/order_cancellations.h), whoever
  // cancelled them (console, command line, this shop).
  RETURN_IF_ERROR(AttachOrderCancellationRecorder(daemon));
  if (state->client() != nullptr) {
    Status s = state->SyncMirror();
    if (!s.ok()) logger->warn("shop: main's catalog not mirrored yet: {}", s.message());
  }
  // The shop's pages wear main's layout: the shell and templates of the tie-up release.
  content::PageSite site;
  site.view = [content = &daemon.site().content()] { return content->view(); };
  site.area = content::Area::kTieup;
  site.site_name = state->shop().config().shop_name;
  site.warn = [logger](const std::string& message) { logger->warn("shop pages: {}", message); };
  // A signed-in customer's checkout starts with their copy's fields (partner_site/users_service.h).
  ASSIGN_OR_RETURN(auto known, PartnerKnownCustomer(daemon.env(), site_dir, config, daemon.db()));
  RETURN_IF_ERROR(daemon.site().AddPublicRoute(
      "/shop/", "GET, HEAD, POST",
      std::make_shared<PartnerShopHandler>(state, config.id, logger, site, std::move(known))));
  RETURN_IF_ERROR(
      daemon.site().AddPublicRoute("/.tieup/", "GET, HEAD", std::make_shared<HiddenFiles>()));
  // The site search shows each product's current price and stock (main's goods as mirrored).
  if (SiteSearch* search = daemon.site().search()) {
    ASSIGN_OR_RETURN(int64_t low, commerce::ShopSettingInt(config.variables, "low_stock_threshold",
                                                           5, 0, commerce::kMaxStock));
    search->SetCatalog([state, low] { return commerce::ReadCatalogRecords(state->shop(), low); });
  }

  Env* env = &daemon.env();
  daemon.AddPeriodicTask("shop", [state, env, logger] {
    auto released = state->shop().ReleaseExpired(env->NowMicros());
    if (!released.ok()) {
      logger->warn("shop: deleting idle carts: {}", released.status().message());
    }
    state->DeliverPending();
    state->ForgetOldCheckouts();
    if (state->client() != nullptr) {
      Status s = state->SyncMirror();
      if (!s.ok() && !IsTransientMainError(s)) {
        logger->warn("shop: mirroring main's catalog: {}", s.message());
      }
    }
    OpenedPartnerShop& o = state->opened();
    if (!o.smtp_host.empty()) {
      commerce::SmtpOptions smtp;
      smtp.host = o.smtp_host;
      smtp.port = o.smtp_port;
      auto report = o.outbox->DeliverPending(smtp);
      if (report.retry_later > 0 || report.failed > 0) {
        logger->warn("shop mail: {} sent, {} to retry, {} failed: {}", report.sent,
                     report.retry_later, report.failed, report.last_error);
      }
    }
  });
  return Status::Ok();
}

}  // namespace tieup
