// Library side of the managers' commands `tieup main product ...` / `tieup main order ...` (and
// the same under `partner` for original goods). Each function takes the command's arguments as
// the user typed them, does the work through Shop, and returns the text to print (a table or a
// one-line confirmation) or a Status whose message says what was wrong and what to do. The
// command line wiring (CLI11) lives in apps/tieup.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"
#include "commerce/shop.h"

namespace tieup::commerce {

// Arguments of `product add`, as typed.
struct ProductArgs {
  std::string sku;
  std::string title;
  std::string price;      // major units: "12.50"
  std::string tax_class;  // empty: "standard"
  std::string stock;      // empty: "0"
  std::string category;
  std::string description;
  std::string images;  // comma-separated site paths
  std::string page;    // the product page path
};

// `product add`: "added MUG-1 'Blue mug' at 12.50 EUR, stock 3".
Result<std::string> CliProductAdd(Shop& shop, const ProductArgs& args);
// `product ls [--category C]`: a table SKU, TITLE, PRICE, TAX, STOCK, CATEGORY.
Result<std::string> CliProductList(Shop& shop, std::string_view category = {});
// `product show SKU`: every field.
Result<std::string> CliProductShow(Shop& shop, std::string_view sku);
// `product set-stock SKU N|+N|-N`: absolute or relative.
Result<std::string> CliProductSetStock(Shop& shop, std::string_view sku, std::string_view stock);
// `product set-price SKU 12.50`.
Result<std::string> CliProductSetPrice(Shop& shop, std::string_view sku, std::string_view price);
// `product rm SKU`.
Result<std::string> CliProductRemove(Shop& shop, std::string_view sku);

// `order ls [--status S] [--channel C] [--limit N]`: a table NUMBER, DATE, STATUS, PAID,
// CHANNEL, AREA, TOTAL, CUSTOMER.
Result<std::string> CliOrderList(Shop& shop, std::string_view status = {},
                                 std::string_view channel = {}, int limit = 50);
// `order show NUMBER`: lines, totals, customer, payment, shipment and the full history.
Result<std::string> CliOrderShow(Shop& shop, std::string_view number);
// `order mark-paid NUMBER --note TEXT`.
Result<std::string> CliOrderMarkPaid(Shop& shop, std::string_view number, std::string_view actor,
                                     std::string_view note);
// `order ship NUMBER --carrier C --tracking T`.
Result<std::string> CliOrderShip(Shop& shop, std::string_view number, std::string_view carrier,
                                 std::string_view tracking, std::string_view actor);
// `order shipment NUMBER STATUS [--note]` (in_transit, out_for_delivery, delivered, ...).
Result<std::string> CliOrderShipment(Shop& shop, std::string_view number, std::string_view state,
                                     std::string_view actor, std::string_view note = {});
// `order deliver NUMBER`.
Result<std::string> CliOrderDeliver(Shop& shop, std::string_view number, std::string_view actor);
// `order cancel NUMBER --reason TEXT`.
Result<std::string> CliOrderCancel(Shop& shop, std::string_view number, std::string_view actor,
                                   std::string_view reason);

}  // namespace tieup::commerce
