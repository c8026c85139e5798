#include "commerce/shop.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "commerce/money.h"
#include "crypto/hash.h"
#include "test_database.h"
#include "test_support.h"

namespace tieup::commerce {
namespace {

using ::testing::HasSubstr;
using ::tieup::testing::FakeClockEnv;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;
using ::tieup::testing::TempDir;

Customer GoodCustomer() {
  return {"Ada Lovelace",    "1 Analytical Way", "", "10115", "Berlin", "Germany",
          "ada@example.org", "+49 30 1234567"};
}

std::vector<std::shared_ptr<PaymentProvider>> Payments() {
  BankDetails bank{"Shop GmbH", "DE89370400440532013000", "COBADEFFXXX", "Commerzbank"};
  return {NewBankTransferProvider(bank), NewCashOnDeliveryProvider(), NewInvoiceProvider(bank, 14)};
}

// The body of `message`, with quoted-printable soft breaks and =XX escapes undone.
std::string DecodeQuotedPrintable(std::string_view message) {
  std::string_view text = message.substr(message.find("\r\n\r\n") + 4);
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '=' && i + 2 < text.size() && text[i + 1] == '\r' && text[i + 2] == '\n') {
      i += 2;
    } else if (text[i] == '=' && i + 2 < text.size()) {
      out += static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

class ShopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = ::tieup::testing::OpenTestDatabase(dir_.Sub("tieup.db"));
    ASSERT_THAT(db, IsOk());
    db_ = std::move(db).value();
    outbox_ = std::make_unique<MailOutbox>(env_, dir_.Sub("outbox"));
    ASSERT_THAT(outbox_->Init(), IsOk());
    config_.mail_from = {"Mug Shop", "orders@shop.example"};
    config_.shop_name = "Mug Shop";
    config_.public_base_url = "https://shop.example";
    auto shop = Shop::Open(env_, *db_, config_, Payments(), outbox_.get());
    ASSERT_THAT(shop, IsOk());
    shop_ = std::move(shop).value();
    ASSERT_THAT(shop_->AddProduct(Mug(3)), IsOk());
  }

  static Product Mug(int64_t stock) {
    Product p;
    p.sku = "MUG-1";
    p.title = "Blue mug";
    p.description = "A blue mug.";
    p.images = {"/img/mug.jpg"};
    p.page_path = "/products/mug.html";
    p.price_minor = 1250;
    p.currency = "EUR";
    p.tax_class = "standard";
    p.category = "kitchen";
    p.stock = stock;
    return p;
  }

  OrderRequest Request(std::string key, int64_t qty = 1) {
    OrderRequest r;
    r.channel = "shop-b";
    r.area = Area::kTieup;
    r.idempotency_key = std::move(key);
    r.lines = {{"MUG-1", qty, std::nullopt, std::nullopt, std::nullopt, std::nullopt}};
    r.customer = GoodCustomer();
    r.payment_method = "bank_transfer";
    return r;
  }

  int64_t Stock(std::string_view sku = "MUG-1") {
    auto p = shop_->GetProduct(sku);
    EXPECT_THAT(p, IsOk());
    return p.ok() ? p->stock : -1;
  }

  int64_t CountRows(const std::string& table) {
    auto rows = db_->Query("SELECT count(*) FROM " + table);
    EXPECT_THAT(rows, IsOk());
    return rows.ok() ? (*rows)[0].Int(0) : -1;
  }

  TempDir dir_;
  FakeClockEnv env_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<MailOutbox> outbox_;
  ShopConfig config_;
  std::unique_ptr<Shop> shop_;
};

// --- catalog ---

TEST_F(ShopTest, AddsAndReadsProducts) {
  auto p = shop_->GetProduct("mug-1");  // SKUs are case-insensitive
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ(p->sku, "MUG-1");
  EXPECT_EQ(p->title, "Blue mug");
  EXPECT_EQ(p->images, std::vector<std::string>{"/img/mug.jpg"});
  EXPECT_EQ(p->price_minor, 1250);
  EXPECT_EQ(p->stock, 3);
  auto all = shop_->ListProducts();
  ASSERT_THAT(all, IsOk());
  EXPECT_EQ(all->size(), 1u);
  EXPECT_EQ(shop_->ListProducts("garden")->size(), 0u);
}

TEST_F(ShopTest, RefusesDuplicateSku) {
  Product p = Mug(1);
  p.sku = "mug-1";
  EXPECT_THAT(shop_->AddProduct(p),
              StatusIs(StatusCode::kAlreadyExists, HasSubstr("exists already")));
}

TEST_F(ShopTest, RefusesBadProductFields) {
  Product p = Mug(1);
  p.sku = "bad sku";
  EXPECT_THAT(shop_->AddProduct(p), StatusIs(StatusCode::kInvalidArgument, HasSubstr("SKU")));
  p = Mug(1);
  p.sku = "X1";
  p.title = "";
  EXPECT_THAT(shop_->AddProduct(p), StatusIs(StatusCode::kInvalidArgument, HasSubstr("title")));
  p = Mug(1);
  p.sku = "X2";
  p.currency = "USD";
  EXPECT_THAT(shop_->AddProduct(p), StatusIs(StatusCode::kInvalidArgument, HasSubstr("EUR")));
  p.currency = "eur";
  EXPECT_THAT(shop_->AddProduct(p), StatusIs(StatusCode::kInvalidArgument, HasSubstr("ISO 4217")));
  p = Mug(1);
  p.sku = "X3";
  p.tax_class = "luxury";
  EXPECT_THAT(shop_->AddProduct(p),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("standard, reduced, none")));
  p = Mug(1);
  p.sku = "X4";
  p.price_minor = -1;
  EXPECT_THAT(shop_->AddProduct(p), StatusIs(StatusCode::kOutOfRange));
  p.price_minor = kMaxUnitPriceMinor + 1;
  EXPECT_THAT(shop_->AddProduct(p), StatusIs(StatusCode::kOutOfRange));
  p = Mug(1);
  p.sku = "X5";
  p.images = {"/img/../etc/passwd"};
  EXPECT_THAT(shop_->AddProduct(p), StatusIs(StatusCode::kInvalidArgument, HasSubstr("'..'")));
  p.images = {"img/a.jpg"};
  EXPECT_THAT(shop_->AddProduct(p), StatusIs(StatusCode::kInvalidArgument, HasSubstr("'/'")));
  p = Mug(-1);
  p.sku = "X6";
  EXPECT_THAT(shop_->AddProduct(p), StatusIs(StatusCode::kOutOfRange));
  EXPECT_EQ(shop_->ListProducts()->size(), 1u);
}

TEST_F(ShopTest, UpdatesAndRemovesProducts) {
  ProductUpdate u;
  u.price_minor = 990;
  u.title = "Big blue mug";
  ASSERT_THAT(shop_->UpdateProduct("MUG-1", u), IsOk());
  EXPECT_EQ(shop_->GetProduct("MUG-1")->price_minor, 990);
  u = {};
  u.tax_class = "luxury";
  EXPECT_THAT(shop_->UpdateProduct("MUG-1", u), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_EQ(shop_->GetProduct("MUG-1")->tax_class, "standard");
  EXPECT_THAT(shop_->UpdateProduct("NOPE", {}), StatusIs(StatusCode::kNotFound));
  ASSERT_THAT(shop_->SetStock("MUG-1", 7), IsOk());
  EXPECT_EQ(Stock(), 7);
  EXPECT_THAT(shop_->AdjustStock("MUG-1", -8), StatusIs(StatusCode::kFailedPrecondition));
  ASSERT_THAT(shop_->AdjustStock("MUG-1", -2), IsOk());
  EXPECT_EQ(Stock(), 5);
  EXPECT_THAT(shop_->SetStock("MUG-1", -1), StatusIs(StatusCode::kOutOfRange));
  ASSERT_THAT(shop_->RemoveProduct("MUG-1"), IsOk());
  EXPECT_THAT(shop_->GetProduct("MUG-1"), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(shop_->RemoveProduct("MUG-1"), StatusIs(StatusCode::kNotFound));
}

TEST_F(ShopTest, RefusesBadConfig) {
  ShopConfig c;
  c.currency = "euro";
  EXPECT_THAT(Shop::Open(env_, *db_, c, Payments()), StatusIs(StatusCode::kInvalidArgument));
  c = {};
  c.tax_classes = {{"standard", 20000}};
  EXPECT_THAT(Shop::Open(env_, *db_, c, Payments()),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("basis points")));
  c = {};
  EXPECT_THAT(Shop::Open(env_, *db_, c, {}),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("payment")));
  c.order_prefix = "m-";
  EXPECT_THAT(Shop::Open(env_, *db_, c, Payments()),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("order_prefix")));
}

// --- carts (they take no stock) ---

TEST_F(ShopTest, CartTakesNoStockAndComputesTotals) {
  std::string token = shop_->NewCartToken();
  ASSERT_THAT(shop_->AddToCart(token, "MUG-1", 2), IsOk());
  EXPECT_EQ(Stock(), 3);  // still there for everybody until an order is placed
  auto cart = shop_->GetCart(token);
  ASSERT_THAT(cart, IsOk());
  ASSERT_EQ(cart->lines.size(), 1u);
  EXPECT_EQ(cart->lines[0].quantity, 2);
  EXPECT_EQ(cart->lines[0].available, 3);
  EXPECT_EQ(cart->totals.subtotal_minor, 2500);
  // 19 % included in 25.00: 25.00 - round(25.00 / 1.19) = 25.00 - 21.01 = 3.99
  EXPECT_EQ(cart->totals.tax_minor, 399);
  EXPECT_EQ(cart->totals.total_minor, 2500);

  ASSERT_THAT(shop_->SetCartQuantity(token, "MUG-1", 1), IsOk());
  ASSERT_THAT(shop_->SetCartQuantity(token, "MUG-1", 3), IsOk());
  EXPECT_THAT(shop_->SetCartQuantity(token, "MUG-1", 4),
              StatusIs(StatusCode::kFailedPrecondition,
                       HasSubstr("only 3 of 'Blue mug' are left; please choose a smaller")));
  EXPECT_EQ(shop_->GetCart(token)->lines[0].quantity, 3);
  EXPECT_EQ(Stock(), 3);
  ASSERT_THAT(shop_->SetCartQuantity(token, "MUG-1", 0), IsOk());
  EXPECT_EQ(Stock(), 3);
  EXPECT_TRUE(shop_->GetCart(token)->lines.empty());
  EXPECT_THAT(shop_->RemoveFromCart(token, "MUG-1"), StatusIs(StatusCode::kNotFound));
}

TEST_F(ShopTest, AddingChecksWhatIsInStockNowCountingTheLine) {
  std::string token = shop_->NewCartToken();
  ASSERT_THAT(shop_->AddToCart(token, "MUG-1", 2), IsOk());
  EXPECT_THAT(shop_->AddToCart(token, "MUG-1", 2),
              StatusIs(StatusCode::kFailedPrecondition,
                       HasSubstr("only 3 of 'Blue mug' are left and your cart already holds 2")));
  ASSERT_THAT(shop_->AddToCart(token, "MUG-1", 1), IsOk());
  EXPECT_EQ(shop_->GetCart(token)->lines[0].quantity, 3);
  ASSERT_THAT(shop_->SetStock("MUG-1", 0), IsOk());
  std::string other = shop_->NewCartToken();
  EXPECT_THAT(shop_->AddToCart(other, "MUG-1", 1),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("'Blue mug' is sold out")));
  // A line whose product ran short may still be lowered (or removed), never raised.
  ASSERT_THAT(shop_->SetStock("MUG-1", 1), IsOk());
  ASSERT_THAT(shop_->SetCartQuantity(token, "MUG-1", 2), IsOk());
  EXPECT_THAT(shop_->SetCartQuantity(token, "MUG-1", 3),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("only 1 of 'Blue mug' is left")));
  auto cart = shop_->GetCart(token);
  EXPECT_EQ(cart->lines[0].quantity, 2);
  EXPECT_EQ(cart->lines[0].available, 1);  // the cart page says so
}

TEST_F(ShopTest, AbandonedCartsNeverSellOutAProduct) {
  // The reported attack: many anonymous carts fill up with every unit there is.
  for (int i = 0; i < 50; ++i) {
    ASSERT_THAT(shop_->AddToCart(shop_->NewCartToken(), "MUG-1", 3), IsOk());
  }
  EXPECT_EQ(Stock(), 3);
  auto q = shop_->Quote({{"MUG-1", 3}});  // what main tells consulting partners
  ASSERT_THAT(q, IsOk());
  EXPECT_EQ(q->lines[0].available, 3);
  EXPECT_TRUE(q->all_in_stock);
  std::string buyer = shop_->NewCartToken();
  ASSERT_THAT(shop_->AddToCart(buyer, "MUG-1", 3), IsOk());
  auto r = shop_->Checkout(buyer, GoodCustomer(), "bank_transfer", "");
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(Stock(), 0);
}

TEST_F(ShopTest, FirstToCheckOutWinsAndTheOtherIsToldWhatRanShort) {
  std::string hoarder = shop_->NewCartToken();
  std::string buyer = shop_->NewCartToken();
  std::string late = shop_->NewCartToken();
  ASSERT_THAT(shop_->AddToCart(hoarder, "MUG-1", 3), IsOk());  // all units
  ASSERT_THAT(shop_->AddToCart(buyer, "MUG-1", 2), IsOk());    // still possible
  ASSERT_THAT(shop_->AddToCart(late, "MUG-1", 1), IsOk());
  ASSERT_THAT(shop_->Checkout(buyer, GoodCustomer(), "bank_transfer", ""), IsOk());
  EXPECT_EQ(Stock(), 1);

  auto lost = shop_->Checkout(hoarder, GoodCustomer(), "bank_transfer", "hoarder-key-1");
  EXPECT_THAT(lost, StatusIs(StatusCode::kFailedPrecondition,
                             HasSubstr("only 1 of 'Blue mug' is left (your cart holds 3); please "
                                       "lower the quantity in your cart")));
  // Nothing of the failed checkout was written: no order, no stock taken, the cart as it was,
  // and the key is still free for the next attempt.
  EXPECT_EQ(CountRows("commerce_orders"), 1);
  EXPECT_EQ(CountRows("commerce_order_lines"), 1);
  EXPECT_EQ(Stock(), 1);
  EXPECT_EQ(outbox_->Pending()->size(), 1u);
  ASSERT_EQ(shop_->GetCart(hoarder)->lines.size(), 1u);
  EXPECT_EQ(shop_->GetCart(hoarder)->lines[0].quantity, 3);
  ASSERT_THAT(shop_->SetCartQuantity(hoarder, "MUG-1", 1), IsOk());
  ASSERT_THAT(shop_->Checkout(hoarder, GoodCustomer(), "bank_transfer", "hoarder-key-1"), IsOk());
  EXPECT_EQ(Stock(), 0);

  EXPECT_THAT(shop_->Checkout(late, GoodCustomer(), "bank_transfer", ""),
              StatusIs(StatusCode::kFailedPrecondition,
                       HasSubstr("'Blue mug' sold out before your order was placed; please "
                                 "remove it from your cart")));
  EXPECT_EQ(CountRows("commerce_orders"), 2);
}

TEST_F(ShopTest, AFailedCheckoutOfAMixedCartTakesNoStockAtAll) {
  Product cup = Mug(5);
  cup.sku = "CUP-2";
  cup.title = "Cup";
  ASSERT_THAT(shop_->AddProduct(cup), IsOk());
  std::string a = shop_->NewCartToken();
  // Lines are ordered (and their stock taken) by when they were added, then by SKU: the cup's
  // stock is taken before the mug is found short, and must be given back.
  ASSERT_THAT(shop_->AddToCart(a, "CUP-2", 2), IsOk());
  ASSERT_THAT(shop_->AddToCart(a, "MUG-1", 3), IsOk());
  ASSERT_THAT(shop_->PlaceOrder(Request("other-buyer-1")), IsOk());  // takes one mug
  EXPECT_THAT(shop_->Checkout(a, GoodCustomer(), "cash_on_delivery", ""),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("'Blue mug'")));
  EXPECT_EQ(Stock("CUP-2"), 5);
  EXPECT_EQ(Stock(), 2);
  EXPECT_EQ(CountRows("commerce_orders"), 1);
  EXPECT_EQ(CountRows("commerce_order_lines"), 1);
  EXPECT_EQ(shop_->GetCart(a)->lines.size(), 2u);
}

TEST_F(ShopTest, ExclusiveTaxAndShippingAreAdded) {
  ShopConfig c = config_;
  c.prices_include_tax = false;
  c.shipping_fee_minor = 490;
  c.order_prefix = "N";
  auto shop = Shop::Open(env_, *db_, c, Payments());
  ASSERT_THAT(shop, IsOk());
  std::string token = (*shop)->NewCartToken();
  ASSERT_THAT((*shop)->AddToCart(token, "MUG-1", 3), IsOk());
  auto cart = (*shop)->GetCart(token);
  ASSERT_THAT(cart, IsOk());
  EXPECT_EQ(cart->totals.subtotal_minor, 3750);
  EXPECT_EQ(cart->totals.tax_minor, 713);  // 37.50 * 19 % = 7.125 -> 7.13
  EXPECT_EQ(cart->totals.shipping_minor, 490);
  EXPECT_EQ(cart->totals.total_minor, 3750 + 713 + 490);
}

TEST_F(ShopTest, CartRefusesBadQuantitiesAndUnknownSku) {
  std::string token = shop_->NewCartToken();
  EXPECT_THAT(shop_->AddToCart(token, "MUG-1", 0), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(shop_->AddToCart(token, "MUG-1", -5), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(shop_->AddToCart(token, "MUG-1", 1000), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(shop_->AddToCart(token, "MUG-1", INT64_MAX), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(shop_->AddToCart(token, "NOPE", 1), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(
      shop_->AddToCart(token, "MUG-1", 4),
      StatusIs(StatusCode::kFailedPrecondition, HasSubstr("only 3 of 'Blue mug' are left")));
  EXPECT_THAT(shop_->AddToCart("not-a-token", "MUG-1", 1), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_EQ(Stock(), 3);
  EXPECT_EQ(CountRows("commerce_cart_lines"), 0);
}

TEST_F(ShopTest, LineQuantityIsCappedAcrossAdds) {
  ASSERT_THAT(shop_->SetStock("MUG-1", 5000), IsOk());
  std::string token = shop_->NewCartToken();
  ASSERT_THAT(shop_->AddToCart(token, "MUG-1", 15), IsOk());
  EXPECT_THAT(shop_->AddToCart(token, "MUG-1", 6),
              StatusIs(StatusCode::kInvalidArgument,
                       HasSubstr("you can order at most 20 of 'Blue mug' at a time (your cart "
                                 "would hold 21)")));
  EXPECT_THAT(shop_->SetCartQuantity(token, "MUG-1", 21),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("at most 20")));
  EXPECT_THAT(shop_->AddToCart(shop_->NewCartToken(), "MUG-1", 50),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("at most 20")));
  ASSERT_THAT(shop_->AddToCart(token, "MUG-1", 5), IsOk());
  EXPECT_EQ(shop_->GetCart(token)->lines[0].quantity, 20);
  EXPECT_EQ(CountRows("commerce_cart_lines"), 1);
  // Orders placed without a cart (a partner's delegated order) are not capped by this shop's
  // carts: the partner capped its own.
  ASSERT_THAT(shop_->PlaceOrder(Request("large-order-1", 50)), IsOk());
  EXPECT_EQ(Stock(), 5000 - 50);

  ShopConfig c = config_;
  c.max_units_per_line = 2;
  auto small = Shop::Open(env_, *db_, c, Payments());
  ASSERT_THAT(small, IsOk());
  EXPECT_THAT((*small)->AddToCart((*small)->NewCartToken(), "MUG-1", 3),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("at most 2 of")));
  for (int64_t bad : {int64_t{0}, kMaxQuantity + 1}) {
    c.max_units_per_line = bad;
    EXPECT_THAT(Shop::Open(env_, *db_, c, Payments()),
                StatusIs(StatusCode::kInvalidArgument, HasSubstr("max_units_per_line")));
  }
}

TEST_F(ShopTest, IdleCartsAreDeleted) {
  std::string a = shop_->NewCartToken();
  std::string b = shop_->NewCartToken();
  ASSERT_THAT(shop_->AddToCart(a, "MUG-1", 1), IsOk());
  env_.AdvanceSeconds(29 * 86400);
  ASSERT_THAT(shop_->AddToCart(b, "MUG-1", 1), IsOk());
  env_.AdvanceSeconds(2 * 86400);
  auto deleted = shop_->ReleaseExpired(env_.NowMicros());
  ASSERT_THAT(deleted, IsOk());
  EXPECT_EQ(*deleted, 1);
  EXPECT_EQ(CountRows("commerce_carts"), 1);
  EXPECT_EQ(CountRows("commerce_cart_lines"), 1);
  EXPECT_TRUE(shop_->GetCart(a)->lines.empty());
  EXPECT_EQ(shop_->GetCart(b)->lines.size(), 1u);
  EXPECT_EQ(Stock(), 3);
}

// A site upgraded from a version whose carts held stock: the held units go back to stock once,
// and the lines stay in their carts.
TEST_F(ShopTest, StockHeldByOldCartLinesIsReturnedOnceOnUpgrade) {
  Product cup = Mug(4);
  cup.sku = "CUP-2";
  cup.title = "Cup";
  ASSERT_THAT(shop_->AddProduct(cup), IsOk());
  shop_.reset();
  // Schema version 1's cart lines, as an older tieup left them: cart a holds 2 mugs, cart b
  // holds the 4 cups (sold out for everybody else) and 1 mug whose hold had lapsed. Written as
  // a schema step is (on PostgreSQL, as Migrate rewrites it).
  auto as_step = [&](std::string_view sql) {
    return db_->Backend() == "postgres" ? PostgresSchemaSql(sql) : std::string(sql);
  };
  ASSERT_THAT(db_->Exec(as_step(R"sql(
DROP TABLE commerce_cart_lines;
CREATE TABLE commerce_cart_lines (
  cart_id TEXT NOT NULL REFERENCES commerce_carts (id) ON DELETE CASCADE,
  sku TEXT NOT NULL COLLATE NOCASE REFERENCES commerce_products (sku) ON DELETE CASCADE,
  quantity INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 999),
  held INTEGER NOT NULL CHECK (held >= 0),
  held_until_micros INTEGER NOT NULL,
  area TEXT NOT NULL,
  added_micros INTEGER NOT NULL,
  PRIMARY KEY (cart_id, sku));
CREATE INDEX commerce_cart_lines_sku ON commerce_cart_lines (sku);
CREATE INDEX commerce_cart_lines_hold ON commerce_cart_lines (held_until_micros) WHERE held > 0;
DELETE FROM schema_migrations WHERE component = 'commerce' AND version = 2;
UPDATE commerce_products SET stock = 1 WHERE sku = 'MUG-1';
UPDATE commerce_products SET stock = 0 WHERE sku = 'CUP-2';
)sql")),
              IsOk());
  std::string a = std::string(43, 'a'), b = std::string(43, 'b');
  const int64_t now = env_.NowMicros();
  for (const std::string& token : {a, b}) {
    ASSERT_THAT(db_->Exec("INSERT INTO commerce_carts (id, created_micros, updated_micros) "
                          "VALUES (?, ?, ?)",
                          {Sha256Hex(token), now, now}),
                IsOk());
  }
  auto line = [&](const std::string& token, std::string sku, int64_t qty, int64_t held) {
    return db_->Exec(
        "INSERT INTO commerce_cart_lines (cart_id, sku, quantity, held, held_until_micros, area, "
        "added_micros) VALUES (?, ?, ?, ?, ?, 'original', ?)",
        {Sha256Hex(token), std::move(sku), qty, held, held > 0 ? now + 600'000'000 : 0, now});
  };
  ASSERT_THAT(line(a, "MUG-1", 2, 2), IsOk());
  ASSERT_THAT(line(b, "cup-2", 4, 4), IsOk());  // SKUs compare without case
  ASSERT_THAT(line(b, "MUG-1", 1, 0), IsOk());

  for (int open = 0; open < 2; ++open) {  // the second opening returns nothing again
    auto shop = Shop::Open(env_, *db_, config_, Payments());
    ASSERT_THAT(shop, IsOk());
    EXPECT_EQ((*shop)->GetProduct("MUG-1")->stock, 3);
    EXPECT_EQ((*shop)->GetProduct("CUP-2")->stock, 4);
    auto cart = (*shop)->GetCart(b);
    ASSERT_THAT(cart, IsOk());
    ASSERT_EQ(cart->lines.size(), 2u);
    EXPECT_EQ(cart->lines[0].sku, "CUP-2");
    EXPECT_EQ(cart->lines[0].quantity, 4);
    EXPECT_EQ((*shop)->GetCart(a)->lines[0].quantity, 2);
  }
  EXPECT_FALSE(db_->Query("SELECT held FROM commerce_cart_lines").ok());  // the column is gone
  // The old carts check out as any other: stock is taken now.
  auto shop = Shop::Open(env_, *db_, config_, Payments());
  ASSERT_THAT(shop, IsOk());
  ASSERT_THAT((*shop)->Checkout(b, GoodCustomer(), "bank_transfer", ""), IsOk());
  EXPECT_EQ((*shop)->GetProduct("CUP-2")->stock, 0);
  EXPECT_EQ((*shop)->GetProduct("MUG-1")->stock, 2);
  // A line above today's cap (20) may still be lowered, not raised.
  ASSERT_THAT(db_->Exec("UPDATE commerce_cart_lines SET quantity = 30"), IsOk());
  ASSERT_THAT((*shop)->SetStock("MUG-1", 100), IsOk());
  EXPECT_THAT((*shop)->SetCartQuantity(a, "MUG-1", 31),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("at most 20")));
  ASSERT_THAT((*shop)->SetCartQuantity(a, "MUG-1", 25), IsOk());
}

// --- checkout and orders ---

TEST_F(ShopTest, CheckoutPlacesOrderAndEmptiesCart) {
  std::string token = shop_->NewCartToken();
  ASSERT_THAT(shop_->AddToCart(token, "MUG-1", 2, Area::kTieup), IsOk());
  auto r = shop_->Checkout(token, GoodCustomer(), "bank_transfer", "checkout-key-1");
  ASSERT_THAT(r, IsOk());
  const Order& o = r->order;
  EXPECT_FALSE(r->replayed);
  EXPECT_EQ(o.number, "M-000001");
  EXPECT_EQ(o.channel, "main");
  EXPECT_EQ(o.area, Area::kTieup);
  EXPECT_EQ(o.status, OrderStatus::kPlaced);
  EXPECT_EQ(o.totals.total_minor, 2500);
  ASSERT_EQ(o.lines.size(), 1u);
  EXPECT_EQ(o.lines[0].quantity, 2);
  EXPECT_EQ(o.payment_reference.substr(0, 2), "RF");
  EXPECT_EQ(o.payment_reference.back(), '1');  // the order id
  EXPECT_TRUE(IsValidCreditorReference(o.payment_reference));
  EXPECT_THAT(o.payment_instructions, HasSubstr("DE89370400440532013000"));
  EXPECT_THAT(o.payment_instructions, HasSubstr("€25.00"));
  ASSERT_EQ(o.events.size(), 1u);
  EXPECT_EQ(o.events[0].to_status, "placed");
  EXPECT_EQ(o.events[0].actor, "customer");
  EXPECT_EQ(Stock(), 1);
  EXPECT_TRUE(shop_->GetCart(token)->lines.empty());
  // Confirmation mail in the outbox.
  auto pending = outbox_->Pending();
  ASSERT_THAT(pending, IsOk());
  ASSERT_EQ(pending->size(), 1u);
  auto mail = outbox_->Read("pending", (*pending)[0]);
  ASSERT_THAT(mail, IsOk());
  EXPECT_THAT(*mail, HasSubstr("Subject: Your order M-000001 at Mug Shop\r\n"));
  EXPECT_THAT(*mail, HasSubstr("To: \"Ada Lovelace\" <ada@example.org>\r\n"));
  EXPECT_THAT(DecodeQuotedPrintable(*mail), HasSubstr("key=" + o.access_key));

  // Same key again: the first order, not a second.
  auto again = shop_->Checkout(token, GoodCustomer(), "bank_transfer", "checkout-key-1");
  ASSERT_THAT(again, IsOk());
  EXPECT_TRUE(again->replayed);
  EXPECT_EQ(again->order.number, "M-000001");
  EXPECT_EQ(CountRows("commerce_orders"), 1);
  EXPECT_EQ(outbox_->Pending()->size(), 1u);
}

TEST_F(ShopTest, CheckoutRefusesBadInputAndChangesNothing) {
  std::string token = shop_->NewCartToken();
  EXPECT_THAT(shop_->Checkout(token, GoodCustomer(), "bank_transfer", ""),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("cart is empty")));
  ASSERT_THAT(shop_->AddToCart(token, "MUG-1", 1), IsOk());
  Customer c = GoodCustomer();
  c.name = "";
  EXPECT_THAT(shop_->Checkout(token, c, "bank_transfer", ""),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("Name is required")));
  EXPECT_THAT(shop_->Checkout(token, GoodCustomer(), "bitcoin", ""),
              StatusIs(StatusCode::kNotFound, HasSubstr("bank_transfer, cash_on_delivery")));
  EXPECT_THAT(shop_->Checkout(token, GoodCustomer(), "bank_transfer", "short"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("idempotency key")));
  EXPECT_EQ(CountRows("commerce_orders"), 0);
  EXPECT_EQ(Stock(), 3);
  EXPECT_EQ(shop_->GetCart(token)->lines.size(), 1u);
}

// The price charged is the price shown: a checkout or a delegated order whose price is not the
// one the customer saw is refused (kAborted, saying what changed) and nothing is written.
TEST_F(ShopTest, ADifferentPriceThanTheOneShownIsRefusedAndNothingIsWritten) {
  std::string token = shop_->NewCartToken();
  ASSERT_THAT(shop_->AddToCart(token, "MUG-1", 1), IsOk());
  const ShownPrices shown{{"MUG-1", 1250}};
  ProductUpdate dearer;
  dearer.price_minor = 1500;
  ASSERT_THAT(shop_->UpdateProduct("MUG-1", dearer), IsOk());
  EXPECT_THAT(shop_->Checkout(token, GoodCustomer(), "bank_transfer", "shown-key-1", {},
                              std::nullopt, &shown),
              StatusIs(StatusCode::kAborted, HasSubstr("changed from €12.50 to €15.00")));
  const ShownPrices nothing_shown;
  EXPECT_THAT(shop_->Checkout(token, GoodCustomer(), "bank_transfer", "shown-key-1", {},
                              std::nullopt, &nothing_shown),
              StatusIs(StatusCode::kAborted, HasSubstr("added to the cart after")));
  EXPECT_EQ(CountRows("commerce_orders"), 0);
  EXPECT_EQ(Stock(), 3);
  EXPECT_EQ(shop_->GetCart(token)->lines.size(), 1u);
  // The customer confirmed the new price: the same form key places the order at it.
  const ShownPrices confirmed{{"MUG-1", 1500}};
  auto placed = shop_->Checkout(token, GoodCustomer(), "bank_transfer", "shown-key-1", {},
                                std::nullopt, &confirmed);
  ASSERT_THAT(placed, IsOk());
  EXPECT_EQ(placed->order.totals.total_minor, 1500);

  // Delegated: the partner's page showed 1250.
  OrderRequest r = Request("delegated-shown-1");
  r.lines[0].expected_unit_price_minor = 1250;
  EXPECT_THAT(shop_->PlaceOrder(r),
              StatusIs(StatusCode::kAborted, HasSubstr("changed from €12.50 to €15.00")));
  EXPECT_EQ(CountRows("commerce_orders"), 1);
  EXPECT_EQ(Stock(), 2);
  r.lines[0].expected_unit_price_minor = 1500;
  auto delegated = shop_->PlaceOrder(r);
  ASSERT_THAT(delegated, IsOk());
  EXPECT_EQ(delegated->order.lines[0].unit_price_minor, 1500);
}

TEST_F(ShopTest, ValidatesCustomerFields) {
  Customer c;
  auto errors = ValidateCustomer(c);
  std::set<std::string> fields;
  for (const auto& e : errors) fields.insert(e.field);
  EXPECT_EQ(fields, (std::set<std::string>{"name", "address_line1", "postal_code", "city",
                                           "country", "contact"}));
  c = GoodCustomer();
  c.email = "ada@@example";
  c.phone = "12";
  c.postal_code = "10115<";
  errors = ValidateCustomer(c);
  fields.clear();
  for (const auto& e : errors) fields.insert(e.field);
  EXPECT_EQ(fields, (std::set<std::string>{"email", "phone", "postal_code"}));
  c = GoodCustomer();
  c.email = "";  // phone alone is enough
  EXPECT_TRUE(ValidateCustomer(c).empty());
  c.name = "Ada\nBcc: x@evil.example";
  EXPECT_FALSE(ValidateCustomer(c).empty());
}

TEST_F(ShopTest, PlaceOrderIsIdempotentPerChannel) {
  auto first = shop_->PlaceOrder(Request("delegated-0001"));
  ASSERT_THAT(first, IsOk());
  EXPECT_EQ(first->order.channel, "shop-b");
  EXPECT_EQ(first->order.area, Area::kTieup);
  auto second = shop_->PlaceOrder(Request("delegated-0001"));
  ASSERT_THAT(second, IsOk());
  EXPECT_TRUE(second->replayed);
  EXPECT_EQ(second->order.number, first->order.number);
  EXPECT_EQ(second->order.access_key, first->order.access_key);
  EXPECT_EQ(Stock(), 2);
  // Same key, different content: refused, not merged.
  EXPECT_THAT(shop_->PlaceOrder(Request("delegated-0001", 2)),
              StatusIs(StatusCode::kAlreadyExists, HasSubstr(first->order.number)));
  // Another partner may use the same key for its own order.
  OrderRequest other = Request("delegated-0001");
  other.channel = "shop-c";
  auto third = shop_->PlaceOrder(other);
  ASSERT_THAT(third, IsOk());
  EXPECT_FALSE(third->replayed);
  EXPECT_EQ(CountRows("commerce_orders"), 2);
  EXPECT_EQ(Stock(), 1);
}

TEST_F(ShopTest, PlaceOrderIsAllOrNothing) {
  Product cup = Mug(10);
  cup.sku = "CUP-2";
  cup.title = "Cup";
  ASSERT_THAT(shop_->AddProduct(cup), IsOk());
  OrderRequest r = Request("all-or-nothing-1");
  r.lines = {{"CUP-2", 2, {}, {}, {}, {}}, {"MUG-1", 4, {}, {}, {}, {}}};
  EXPECT_THAT(shop_->PlaceOrder(r), StatusIs(StatusCode::kFailedPrecondition));
  r.lines = {{"CUP-2", 2, {}, {}, {}, {}}, {"NOPE", 1, {}, {}, {}, {}}};
  EXPECT_THAT(shop_->PlaceOrder(r), StatusIs(StatusCode::kNotFound, HasSubstr("NOPE")));
  r.lines = {{"CUP-2", 2, {}, {}, {}, {}}, {"cup-2", 1, {}, {}, {}, {}}};
  EXPECT_THAT(shop_->PlaceOrder(r), StatusIs(StatusCode::kInvalidArgument, HasSubstr("twice")));
  r.lines = {{"CUP-2", -1, {}, {}, {}, {}}};
  EXPECT_THAT(shop_->PlaceOrder(r), StatusIs(StatusCode::kInvalidArgument));
  r.lines = {};
  EXPECT_THAT(shop_->PlaceOrder(r), StatusIs(StatusCode::kInvalidArgument, HasSubstr("no lines")));
  r = Request("x");
  EXPECT_THAT(shop_->PlaceOrder(r), StatusIs(StatusCode::kInvalidArgument));
  r = Request("all-or-nothing-2");
  r.channel = "Shop B";
  EXPECT_THAT(shop_->PlaceOrder(r), StatusIs(StatusCode::kInvalidArgument, HasSubstr("site id")));
  EXPECT_EQ(Stock("CUP-2"), 10);
  EXPECT_EQ(Stock(), 3);
  EXPECT_EQ(CountRows("commerce_orders"), 0);
  EXPECT_EQ(CountRows("commerce_order_lines"), 0);
}

TEST_F(ShopTest, PriceOverflowIsRefused) {
  OrderRequest r = Request("overflow-0001", 999);
  r.check_inventory = false;
  r.lines[0].unit_price_minor = INT64_MAX / 2;
  EXPECT_THAT(shop_->PlaceOrder(r), StatusIs(StatusCode::kOutOfRange));
  // Within the per-unit limit, but many lines add up beyond what a total may be: still
  // computed exactly (no overflow), or refused; never wrapped.
  r.lines.clear();
  for (int i = 0; i < 50; ++i) {
    r.lines.push_back(
        {"EXT-" + std::to_string(i), 999, kMaxUnitPriceMinor, "Gold bar", "none", std::nullopt});
  }
  EXPECT_THAT(shop_->PlaceOrder(r), StatusIs(StatusCode::kOutOfRange, HasSubstr("total")));
  EXPECT_EQ(CountRows("commerce_orders"), 0);
  EXPECT_THAT(CheckedMul(INT64_MAX, 2, "x"), StatusIs(StatusCode::kOutOfRange));
  EXPECT_THAT(CheckedAdd(INT64_MAX, 1, "x"), StatusIs(StatusCode::kOutOfRange));
}

TEST_F(ShopTest, ConsultQuoteAndCommand) {
  auto q = shop_->Quote({{"MUG-1", 2}, {"NOPE", 1}});
  ASSERT_THAT(q, IsOk());
  EXPECT_FALSE(q->all_known);
  ASSERT_EQ(q->lines.size(), 2u);
  EXPECT_TRUE(q->lines[0].known);
  EXPECT_EQ(q->lines[0].available, 3);
  EXPECT_TRUE(q->lines[0].in_stock);
  EXPECT_EQ(q->lines[0].line_total_minor, 2500);
  EXPECT_FALSE(q->lines[1].known);
  ConsultCommand refuse = CommandFromQuote(*q, true, false);
  EXPECT_FALSE(refuse.accept);
  EXPECT_THAT(refuse.reason, HasSubstr("NOPE"));
  EXPECT_THAT(shop_->Quote({{"MUG-1", 0}}), StatusIs(StatusCode::kInvalidArgument));

  q = shop_->Quote({{"MUG-1", 2}});
  ASSERT_THAT(q, IsOk());
  ConsultCommand accept = CommandFromQuote(*q, true, false);
  ASSERT_TRUE(accept.accept);
  // The partner (here: another shop on its own database) applies main's command: main's price,
  // no inventory check, a product it does not stock itself.
  auto partner_db = OpenSqlite(dir_.Sub("partner.db"));
  ASSERT_THAT(partner_db, IsOk());
  ShopConfig pc;
  pc.site_id = "shop-b";
  pc.order_prefix = "B";
  auto partner = Shop::Open(env_, **partner_db, pc, Payments());
  ASSERT_THAT(partner, IsOk());
  OrderRequest r = Request("consult-0001", 2);
  r.channel = "shop-b";
  ASSERT_THAT(ApplyConsultCommand(accept, &r), IsOk());
  auto placed = (*partner)->PlaceOrder(r);
  ASSERT_THAT(placed, IsOk());
  EXPECT_EQ(placed->order.number, "B-000001");
  EXPECT_EQ(placed->order.lines[0].unit_price_minor, 1250);
  EXPECT_EQ(placed->order.lines[0].title, "Blue mug");
  EXPECT_FALSE(placed->order.lines[0].stock_tracked);
  EXPECT_EQ(Stock(), 3);  // main's stock untouched by the partner's local order

  OrderRequest refused = Request("consult-0002");
  EXPECT_THAT(ApplyConsultCommand(refuse, &refused),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("NOPE")));
  // Without main's command, an unknown product is refused when inventory is checked.
  EXPECT_THAT((*partner)->PlaceOrder(Request("consult-0003")), StatusIs(StatusCode::kNotFound));
}

TEST_F(ShopTest, StateMachineForPrepaidOrder) {
  auto r = shop_->PlaceOrder(Request("state-0001", 2));
  ASSERT_THAT(r, IsOk());
  std::string n = r->order.number;
  EXPECT_THAT(shop_->Ship(n, "DHL", "00340434161094042557", "manager:alice"),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("not paid yet")));
  EXPECT_THAT(shop_->MarkDelivered(n, "manager:alice"), StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_THAT(shop_->MarkPaid(n, "manager:alice", ""),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("note")));
  env_.AdvanceSeconds(3600);
  ASSERT_THAT(shop_->MarkPaid(n, "manager:alice", "statement 2026-09-14 line 4"), IsOk());
  EXPECT_THAT(shop_->MarkPaid(n, "manager:alice", "again"),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("already marked paid")));
  ASSERT_THAT(shop_->Ship(n, "DHL", "00340434161094042557", "manager:alice"), IsOk());
  EXPECT_THAT(shop_->Cancel(n, "manager:alice", "changed mind"),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("is shipped")));
  ASSERT_THAT(shop_->UpdateShipment(n, "in_transit", "carrier", "hub Leipzig"), IsOk());
  EXPECT_THAT(shop_->UpdateShipment(n, "teleported", "carrier"),
              StatusIs(StatusCode::kInvalidArgument));
  ASSERT_THAT(shop_->UpdateShipment(n, "delivered", "carrier"), IsOk());
  EXPECT_THAT(shop_->UpdateShipment(n, "in_transit", "carrier"),
              StatusIs(StatusCode::kFailedPrecondition));
  auto o = shop_->GetOrder(n);
  ASSERT_THAT(o, IsOk());
  EXPECT_EQ(o->status, OrderStatus::kDelivered);
  EXPECT_TRUE(o->paid);
  EXPECT_THAT(o->paid_details, HasSubstr("statement 2026-09-14 line 4"));
  ASSERT_TRUE(o->shipment.has_value());
  EXPECT_EQ(o->shipment->status, "delivered");
  EXPECT_EQ(o->shipment->tracking, "00340434161094042557");
  std::vector<std::string> steps;
  for (const auto& e : o->events) steps.push_back(e.from_status + ">" + e.to_status);
  EXPECT_EQ(steps, (std::vector<std::string>{">placed", "placed>paid", "paid>shipped",
                                             "shipped>shipped", "shipped>delivered"}));
  EXPECT_EQ(o->events[1].actor, "manager:alice");
  EXPECT_EQ(o->events[1].at_micros, o->events[0].at_micros + 3600 * 1'000'000LL);
  // Shipping notice mailed after the confirmation.
  auto pending = outbox_->Pending();
  ASSERT_EQ(pending->size(), 2u);
  EXPECT_THAT(*outbox_->Read("pending", (*pending)[1]), HasSubstr("has shipped"));
}

TEST_F(ShopTest, CashOnDeliveryShipsBeforePayment) {
  OrderRequest req = Request("cod-000001");
  req.payment_method = "cash_on_delivery";
  auto r = shop_->PlaceOrder(req);
  ASSERT_THAT(r, IsOk());
  std::string n = r->order.number;
  ASSERT_THAT(shop_->Ship(n, "DPD", "DPD-123", "manager:bob"), IsOk());
  ASSERT_THAT(shop_->MarkDelivered(n, "manager:bob"), IsOk());
  ASSERT_THAT(shop_->MarkPaid(n, "manager:bob", "carrier remittance 77"), IsOk());
  auto o = shop_->GetOrder(n);
  EXPECT_EQ(o->status, OrderStatus::kDelivered);
  EXPECT_TRUE(o->paid);
  EXPECT_EQ(o->events.back().note,
            "payment received: cash of €12.50 collected on delivery: "
            "carrier remittance 77");
}

TEST_F(ShopTest, InvoiceHasDueDate) {
  OrderRequest req = Request("invoice-0001");
  req.payment_method = "invoice";
  auto r = shop_->PlaceOrder(req);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->order.payment_reference, "INV-" + r->order.number);
  EXPECT_EQ(r->order.payment_due_micros, env_.NowMicros() + 14LL * 86400 * 1'000'000);
}

TEST_F(ShopTest, CancelReturnsStockAndRecordsReason) {
  auto r = shop_->PlaceOrder(Request("cancel-0001", 2));
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(Stock(), 1);
  EXPECT_THAT(shop_->Cancel(r->order.number, "manager:alice", ""),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("reason")));
  ASSERT_THAT(shop_->MarkPaid(r->order.number, "manager:alice", "bank line 9"), IsOk());
  ASSERT_THAT(shop_->Cancel(r->order.number, "manager:alice", "customer asked"), IsOk());
  EXPECT_EQ(Stock(), 3);
  auto o = shop_->GetOrder(r->order.number);
  EXPECT_EQ(o->status, OrderStatus::kCancelled);
  EXPECT_THAT(o->events.back().note, HasSubstr("refund due"));
  EXPECT_THAT(shop_->Cancel(r->order.number, "manager:alice", "again"),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("cancelled")));
  EXPECT_THAT(shop_->MarkPaid(r->order.number, "manager:alice", "x"),
              StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_EQ(Stock(), 3);
}

TEST_F(ShopTest, CustomerSeesOrderOnlyWithKey) {
  auto r = shop_->PlaceOrder(Request("customer-key-1"));
  ASSERT_THAT(r, IsOk());
  EXPECT_THAT(shop_->GetOrderForCustomer(r->order.number, r->order.access_key), IsOk());
  EXPECT_THAT(shop_->GetOrderForCustomer(r->order.number, "wrong"),
              StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(shop_->GetOrderForCustomer(r->order.number, ""), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(shop_->GetOrderForCustomer("M-999999", r->order.access_key),
              StatusIs(StatusCode::kNotFound));
}

TEST_F(ShopTest, ListsOrdersByStatusAndChannel) {
  ASSERT_THAT(shop_->PlaceOrder(Request("list-00001")), IsOk());
  OrderRequest other = Request("list-00002");
  other.channel = "main";
  auto second = shop_->PlaceOrder(other);
  ASSERT_THAT(second, IsOk());
  ASSERT_THAT(shop_->MarkPaid(second->order.number, "m", "paid"), IsOk());
  auto all = shop_->ListOrders({});
  ASSERT_THAT(all, IsOk());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].number, "M-000002");  // newest first
  EXPECT_EQ(shop_->ListOrders({OrderStatus::kPaid, "", 100})->size(), 1u);
  EXPECT_EQ(shop_->ListOrders({std::nullopt, "shop-b", 100})->size(), 1u);
  // By the customer's email address, ignoring case (a customer's data export).
  Shop::OrderFilter mine;
  mine.customer_email = "ADA@example.org";
  EXPECT_EQ(shop_->ListOrders(mine)->size(), 2u);
  EXPECT_EQ(*shop_->CountOrders(mine), 2);
  mine.customer_email = "someone.else@example.org";
  EXPECT_TRUE(shop_->ListOrders(mine)->empty());
}

// A deleted account: the orders stay (amounts, lines, status, country), the person goes.
TEST_F(ShopTest, ErasingACustomerKeepsTheOrdersWithoutThePerson) {
  auto first = shop_->PlaceOrder(Request("erase-0001"));
  ASSERT_THAT(first, IsOk());
  OrderRequest other = Request("erase-0002");
  other.customer.email = "bob@example.org";
  other.customer.name = "Bob";
  ASSERT_THAT(shop_->PlaceOrder(other), IsOk());
  ASSERT_THAT(shop_->MarkPaid(first->order.number, "m", "paid"), IsOk());
  EXPECT_EQ(*shop_->EraseCustomer("ADA@example.org"), 1);
  auto erased = shop_->GetOrder(first->order.number);
  ASSERT_THAT(erased, IsOk());
  EXPECT_EQ(erased->customer.name, "");
  EXPECT_EQ(erased->customer.email, "");
  EXPECT_EQ(erased->customer.phone, "");
  EXPECT_EQ(erased->customer.address_line1, "");
  EXPECT_EQ(erased->customer.postal_code, "");
  EXPECT_EQ(erased->customer.city, "");
  EXPECT_EQ(erased->customer.country, first->order.customer.country);
  EXPECT_EQ(erased->totals.total_minor, first->order.totals.total_minor);
  EXPECT_EQ(erased->lines.size(), first->order.lines.size());
  EXPECT_EQ(erased->status, OrderStatus::kPaid);
  // Bob's order is untouched; nothing of Ada's is found by her address any more.
  Shop::OrderFilter bob;
  bob.customer_email = "bob@example.org";
  ASSERT_EQ(shop_->ListOrders(bob)->size(), 1u);
  EXPECT_EQ((*shop_->ListOrders(bob))[0].customer.name, "Bob");
  Shop::OrderFilter ada;
  ada.customer_email = "ada@example.org";
  EXPECT_TRUE(shop_->ListOrders(ada)->empty());
  EXPECT_EQ(*shop_->EraseCustomer("nobody@example.org"), 0);
  EXPECT_EQ(shop_->EraseCustomer("").status().code(), StatusCode::kInvalidArgument);
}

TEST_F(ShopTest, ListsOrdersOfOtherChannelsInPagesAndCountsThem) {
  ASSERT_THAT(shop_->SetStock("MUG-1", 10), IsOk());
  std::vector<std::string> partners;  // newest first
  for (int i = 0; i < 5; ++i) {
    OrderRequest r = Request("page-key-" + std::to_string(i));
    r.channel = i % 2 == 0 ? "shop-a" : "shop-b";
    auto placed = shop_->PlaceOrder(r);
    ASSERT_THAT(placed, IsOk());
    partners.insert(partners.begin(), placed->order.number);
  }
  OrderRequest own = Request("page-key-main");
  own.channel = "main";
  own.area = Area::kOriginal;
  auto mine = shop_->PlaceOrder(own);
  ASSERT_THAT(mine, IsOk());
  ASSERT_THAT(shop_->MarkPaid(partners[0], "m", "transfer of 3 May"), IsOk());

  auto numbers = [&](const Shop::OrderFilter& f) {
    std::vector<std::string> out;
    auto list = shop_->ListOrders(f);
    EXPECT_THAT(list, IsOk());
    if (list.ok()) {
      for (const Order& o : *list) out.push_back(o.number);
    }
    return out;
  };
  Shop::OrderFilter others;
  others.other_channels = true;
  EXPECT_EQ(numbers(others), partners);
  EXPECT_EQ(*shop_->CountOrders(others), 5);
  others.limit = 2;
  others.offset = 2;
  EXPECT_EQ(numbers(others), (std::vector<std::string>{partners[2], partners[3]}));
  others.offset = 4;
  EXPECT_EQ(numbers(others), std::vector<std::string>{partners[4]});
  others.offset = 6;
  EXPECT_TRUE(numbers(others).empty());
  // The counts ignore limit and offset and follow the other filters.
  EXPECT_EQ(*shop_->CountOrders(others), 5);
  others.status = OrderStatus::kPaid;
  EXPECT_EQ(*shop_->CountOrders(others), 1);
  EXPECT_EQ(*shop_->CountOrders({}), 6);
  EXPECT_EQ(*shop_->CountOrders({std::nullopt, "shop-a", 100}), 3);
  EXPECT_EQ(*shop_->CountOrders({std::nullopt, "main", 100}), 1);
  // A channel wins over other_channels.
  Shop::OrderFilter main_only;
  main_only.channel = "main";
  main_only.other_channels = true;
  EXPECT_EQ(numbers(main_only), std::vector<std::string>{mine->order.number});
}

// --- concurrency ---

TEST_F(ShopTest, FiftyBuyersForTheLastThreeUnitsOnOneConnection) {
  std::atomic<int> ok{0}, sold_out{0}, other{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 50; ++i) {
    threads.emplace_back([&, i] {
      auto r = shop_->PlaceOrder(Request("buyer-key-" + std::to_string(i)));
      if (r.ok()) {
        ++ok;
      } else if (r.status().code() == StatusCode::kFailedPrecondition) {
        ++sold_out;
      } else {
        ++other;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 3);
  EXPECT_EQ(sold_out.load(), 47);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(Stock(), 0);
  EXPECT_EQ(CountRows("commerce_orders"), 3);
}

TEST_F(ShopTest, FiftyBuyersOnSeparateConnectionsThroughCarts) {
  // Each buyer has its own connection (as separate processes would), so the guarantee comes
  // from the database's locking (SQLite's, or PostgreSQL's row locks) and the conditional
  // UPDATE, not from one mutex.
  std::vector<std::unique_ptr<Database>> dbs;
  std::vector<std::unique_ptr<Shop>> shops;
  for (int i = 0; i < 50; ++i) {
    SqliteOptions o;
    o.busy_timeout_ms = 60'000;
    auto db = ::tieup::testing::TestStoreIsPostgres()
                  ? ::tieup::testing::OpenTestDatabase(dir_.Sub("tieup.db"))
                  : OpenSqlite(dir_.Sub("tieup.db"), o);
    ASSERT_THAT(db, IsOk());
    auto shop = Shop::Open(env_, **db, config_, Payments());
    ASSERT_THAT(shop, IsOk());
    dbs.push_back(std::move(db).value());
    shops.push_back(std::move(shop).value());
  }
  std::atomic<int> ok{0}, refused{0}, other{0};
  std::atomic<int64_t> min_stock{INT64_MAX};
  std::vector<std::thread> threads;
  for (int i = 0; i < 50; ++i) {
    threads.emplace_back([&, i] {
      Shop& shop = *shops[static_cast<size_t>(i)];
      std::string token = shop.NewCartToken();
      Status s = shop.AddToCart(token, "MUG-1", 1);
      auto p = shop.GetProduct("MUG-1");
      if (p.ok()) {
        int64_t v = p->stock, cur = min_stock.load();
        while (v < cur && !min_stock.compare_exchange_weak(cur, v)) {
        }
      }
      if (!s.ok()) {  // the last units were ordered already
        (s.code() == StatusCode::kFailedPrecondition ? refused : other)++;
        return;
      }
      // Carts take no stock: many carts hold the last units; the first orders win.
      auto r = shop.Checkout(token, GoodCustomer(), "cash_on_delivery", "");
      if (r.ok()) {
        ++ok;
      } else {
        (r.status().code() == StatusCode::kFailedPrecondition ? refused : other)++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 3);
  EXPECT_EQ(refused.load(), 47);
  EXPECT_EQ(other.load(), 0);
  EXPECT_GE(min_stock.load(), 0);
  EXPECT_EQ(Stock(), 0);
  EXPECT_EQ(CountRows("commerce_orders"), 3);
}

TEST_F(ShopTest, SameKeyConcurrentlyGivesOneOrder) {
  ASSERT_THAT(shop_->SetStock("MUG-1", 100), IsOk());
  std::vector<std::thread> threads;
  std::atomic<int> ok{0}, replayed{0};
  std::mutex mu;
  std::set<std::string> numbers;
  for (int i = 0; i < 20; ++i) {
    threads.emplace_back([&] {
      auto r = shop_->PlaceOrder(Request("same-key-everywhere"));
      if (!r.ok()) return;
      ++ok;
      if (r->replayed) ++replayed;
      std::lock_guard<std::mutex> lock(mu);
      numbers.insert(r->order.number);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 20);
  EXPECT_EQ(replayed.load(), 19);
  EXPECT_EQ(numbers.size(), 1u);
  EXPECT_EQ(CountRows("commerce_orders"), 1);
  EXPECT_EQ(Stock(), 99);
}

TEST_F(ShopTest, ReopeningKeepsData) {
  ASSERT_THAT(shop_->PlaceOrder(Request("reopen-0001")), IsOk());
  shop_.reset();
  db_.reset();
  auto db = ::tieup::testing::OpenTestDatabase(dir_.Sub("tieup.db"));
  ASSERT_THAT(db, IsOk());
  auto shop = Shop::Open(env_, **db, config_, Payments());
  ASSERT_THAT(shop, IsOk());
  EXPECT_EQ((*shop)->GetProduct("MUG-1")->stock, 2);
  EXPECT_EQ((*shop)->ListOrders({})->size(), 1u);
}

}  // namespace
}  // namespace tieup::commerce
