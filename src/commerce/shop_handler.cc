#include "commerce/shop_handler.h"

#include <boost/json.hpp>
#include <cctype>

#include "base/encoding.h"
#include "commerce/cart_limiter.h"
#include "commerce/money.h"
#include "commerce/shop_pages.h"
#include "crypto/hash.h"

namespace tieup::commerce {
namespace {

namespace json = boost::json;

constexpr std::string_view kCookieName = "tieup_cart";
constexpr int64_t kCookieMaxAgeSeconds = 30 * 86400;

// The request being answered on this thread (set by HandleRequest), so that every page, a
// problem page deep in a step included, shows the header's cart count from its cookie.
thread_local const HttpRequest* current_request = nullptr;

int HttpStatusFor(const Status& s) {
  switch (s.code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kOutOfRange:
      return 400;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kFailedPrecondition:
    case StatusCode::kAlreadyExists:
    case StatusCode::kAborted:
      return 409;
    case StatusCode::kResourceExhausted:
      return 413;
    case StatusCode::kPermissionDenied:
      return 403;
    case StatusCode::kUnavailable:
      return 503;
    default:
      return 500;
  }
}

// "host[:port]" of an absolute URL ("https://a.example:8080/x" -> "a.example:8080").
std::string_view UrlAuthority(std::string_view url) {
  size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return {};
  std::string_view rest = url.substr(scheme + 3);
  return rest.substr(0, rest.find_first_of("/?#"));
}

// Strict whole number for a quantity field.
Result<int64_t> ParseQuantity(std::string_view text, bool allow_zero) {
  const std::optional<int64_t> parsed = ParseDigits(Trim(text), 6);
  const int64_t v = parsed.value_or(0);
  if (!parsed || v > kMaxQuantity || (v == 0 && !allow_zero)) {
    return Status::InvalidArgument(
        "Quantity must be a whole number from " + std::string(allow_zero ? "0" : "1") + " to " +
        std::to_string(kMaxQuantity) + " (you sent '" + std::string(text.substr(0, 20)) + "')");
  }
  return v;
}

}  // namespace

class ShopHandler::Impl {
 public:
  Impl(Shop& shop, ShopHandlerOptions options)
      : shop_(shop),
        options_(std::move(options)),
        templates_(ShopPageTemplates(), SiteWithName(options_.site, shop.config().shop_name)),
        cart_limiter_(shop.env(),
                      {.adds_per_10_minutes = shop.config().cart_adds_per_10_minutes_per_client}) {}

  static content::PageSite SiteWithName(content::PageSite site, const std::string& shop_name) {
    if (site.site_name.empty()) site.site_name = shop_name;
    return site;
  }

  // The page of template `name` with `data` (plus "home"). `cart_count`: the header's count
  // when the page knows the cart; otherwise the request's count cookie.
  HttpResponse Page(int status, std::string_view title, std::string_view name, json::object data,
                    std::optional<int64_t> cart_count = {}) {
    data["home"] = options_.home_path;
    if (!cart_count && current_request != nullptr) {
      cart_count = CartCountFromRequest(*current_request);
    }
    auto html = templates_.Render(name, {std::string(title), cart_count}, data);
    if (!html.ok()) {
      // Only a broken built-in template gets here (the tests render each).
      if (options_.site.warn) options_.site.warn(html.status().message());
      status = 500;
      html = templates_.InShell(
          {"Something went wrong", cart_count},
          HtmlEscape("This page could not be shown; please try again in a moment."));
    }
    HttpResponse r = HttpResponse::Html(status, std::move(*html));
    r.AddHeader("Cache-Control", "no-store");
    r.AddHeader("X-Content-Type-Options", "nosniff");
    return r;
  }

  HttpResponse Problem(int status, std::string_view title, std::string_view message,
                       std::string_view back_href = {}, std::string_view back_text = {}) {
    return Page(status, title, "problem",
                ProblemData(title, message, options_.home_path, back_href, back_text));
  }

  void SetCartCountCookie(HttpResponse& r, int64_t count) {
    r.AddHeader("Set-Cookie", CartCountCookie(count, options_.secure_cookie));
  }

  // Sets the count cookie to what the cart behind `token` holds now.
  void SetCartCountCookieFor(HttpResponse& r, std::string_view token) {
    auto cart = shop_.GetCart(std::string(token));
    if (cart.ok()) SetCartCountCookie(r, CartItemCount(*cart));
  }

  HttpResponse Redirect(std::string_view location) {
    HttpResponse r(303);
    r.AddHeader("Location", location);
    r.AddHeader("Cache-Control", "no-store");
    r.SetBody("");
    return r;
  }

  void SetCartCookie(HttpResponse& r, std::string_view token) {
    std::string cookie = std::string(kCookieName) + "=" + std::string(token) +
                         "; Path=/; Max-Age=" + std::to_string(kCookieMaxAgeSeconds) +
                         "; HttpOnly; SameSite=Lax";
    if (options_.secure_cookie) cookie += "; Secure";
    r.AddHeader("Set-Cookie", cookie);
  }

  // The cart token from the cookie when it is well-formed; "" otherwise.
  static std::string CartToken(const HttpRequest& request) {
    std::string token = CookieValue(request.HeaderOr("Cookie"), kCookieName);
    bool ok = token.size() == 43;
    for (char c : token) {
      ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_');
    }
    return ok ? token : "";
  }

  // Refuses cross-site POSTs (see the header).
  std::optional<HttpResponse> CheckOrigin(const HttpRequest& request) {
    std::string_view host = request.HeaderOr("Host");
    auto origin = request.FindHeader("Origin");
    std::string_view from;
    if (origin) {
      if (*origin == "null") {
        return Problem(403, "Form refused",
                       "This form was sent from a page without an origin; for your safety it "
                       "was refused. Please use the shop's own pages.");
      }
      from = UrlAuthority(*origin);
    } else if (auto referer = request.FindHeader("Referer")) {
      from = UrlAuthority(*referer);
    } else {
      return std::nullopt;  // non-browser clients and old browsers; SameSite still applies
    }
    if (host.empty() || !EqualsIgnoreCase(from, host)) {
      return Problem(403, "Form refused",
                     "This form was sent from another site (" + std::string(from.substr(0, 100)) +
                         "); for your safety it was refused. Please use the shop's own pages.");
    }
    return std::nullopt;
  }

  // 429 when the request's client network made too many cart additions (commerce/cart_limiter.h).
  std::optional<HttpResponse> CheckCartLimit(const HttpRequest& request) {
    int retry_after = 0;
    if (cart_limiter_.TryAdd(request.remote_address(), &retry_after)) return std::nullopt;
    HttpResponse r = Problem(429, "Please wait a moment",
                             "Too many cart changes from your network; please wait a few minutes "
                             "and try again.");
    r.AddHeader("Retry-After", std::to_string(retry_after));
    return r;
  }

  // Parses a POST form: content type, size, strict syntax, required fields.
  Result<FormFields> ReadForm(const HttpRequest& request,
                              std::initializer_list<std::string_view> required) {
    std::string_view type = request.HeaderOr("Content-Type");
    std::string_view media = Trim(type.substr(0, type.find(';')));
    if (!EqualsIgnoreCase(media, "application/x-www-form-urlencoded")) {
      return Status(StatusCode::kUnimplemented,
                    "the form must be sent as application/x-www-form-urlencoded");
    }
    ASSIGN_OR_RETURN(FormFields form, ParseForm(request.body(), options_.form_limits));
    for (std::string_view f : required) {
      if (!form.Has(f)) {
        return Status::InvalidArgument("the form lacks the field '" + std::string(f) + "'");
      }
    }
    return form;
  }

  HttpResponse FormProblem(const Status& s) {
    int code = s.code() == StatusCode::kUnimplemented ? 415 : HttpStatusFor(s);
    return Problem(code, "The form could not be read",
                   "Your browser sent a form we could not read: " + s.message() +
                       ". Please go back and try again.");
  }

  bool CsrfOk(const FormFields& form, std::string_view token) {
    return !token.empty() && ConstantTimeEquals(form.Get("csrf"), ShopHandler::CsrfToken(token));
  }

  HttpResponse StaleSession() {
    return Problem(403, "Your session has changed",
                   "This form belongs to a cart session that is no longer active (perhaps cookies "
                   "were cleared, or it was opened in another browser). Please open your cart and "
                   "try again.");
  }

  std::string Money(int64_t minor) {
    return FormatMoney(minor, shop_.config().currency, shop_.config().locale);
  }

  json::object Totals(const commerce::Totals& t) {
    return TotalsData(t, shop_.config().currency, shop_.config());
  }

  // --- GET /shop/cart ---
  HttpResponse CartPage(const HttpRequest& request) {
    std::string token = CartToken(request);
    auto query = ParseForm(request.query(), options_.form_limits);
    if (!query.ok()) return FormProblem(query.status());
    auto cart = shop_.GetCart(token);
    if (!cart.ok()) return Problem(500, "Cart unavailable", cart.status().message());
    json::object data;
    json::array added;
    if (auto sku = query->Find("added")) {
      for (const CartLine& l : cart->lines) {
        if (!EqualsIgnoreCase(l.sku, *sku)) continue;
        json::object a{{"title", l.title},
                       {"continue_href", l.page_path.empty() ? options_.home_path : l.page_path}};
        if (!l.page_path.empty()) a["page"] = l.page_path;
        added.push_back(std::move(a));
      }
    }
    data["added"] = std::move(added);
    data["empty"] = cart->lines.empty();
    const std::string csrf = ShopHandler::CsrfToken(token);
    json::array lines;
    for (const CartLine& l : cart->lines) {
      json::object line{{"title", l.title},
                        {"sku", l.sku},
                        {"unit_price", Money(l.unit_price_minor)},
                        {"quantity", l.quantity},
                        {"max_quantity", shop_.config().max_units_per_line},
                        {"line_total", Money(l.line_total_minor)},
                        {"csrf", csrf}};
      if (!l.page_path.empty()) line["page"] = l.page_path;
      if (l.available < l.quantity) {
        line["stock_note"] = l.available == 0 ? std::string("sold out")
                                              : "only " + std::to_string(l.available) + " left";
      }
      lines.push_back(std::move(line));
    }
    data["lines"] = std::move(lines);
    data["totals"] = Totals(cart->totals);
    const int64_t count = CartItemCount(*cart);
    HttpResponse r = Page(200, "Your cart", "cart", std::move(data), count);
    // The cookie follows the cart (an expired cart, another tab's change).
    if (CartCountFromRequest(request) != count) SetCartCountCookie(r, count);
    return r;
  }

  // --- POST /shop/cart/add ---
  HttpResponse Add(const HttpRequest& request, const ShopRequestContext& ctx) {
    if (auto refused = CheckOrigin(request)) return std::move(*refused);
    if (auto limited = CheckCartLimit(request)) return std::move(*limited);
    auto form = ReadForm(request, {"sku", "qty"});
    if (!form.ok()) return FormProblem(form.status());
    std::string token = CartToken(request);
    bool new_token = token.empty();
    if (form->Has("csrf") && !CsrfOk(*form, token)) return StaleSession();
    std::string sku(Trim(form->Get("sku")));
    auto qty = ParseQuantity(form->Get("qty"), false);
    auto product = shop_.GetProduct(sku);
    std::string back =
        product.ok() && !product->page_path.empty() ? product->page_path : options_.home_path;
    if (!qty.ok()) {
      return Problem(400, "Please check the quantity", qty.status().message(), back,
                     "Back to the product");
    }
    if (!product.ok()) {
      return Problem(HttpStatusFor(product.status()), "Product not found",
                     "We have no product '" + sku.substr(0, 64) +
                         "'. It may have been removed from the shop.");
    }
    if (new_token) token = shop_.NewCartToken();
    Area area = ctx.area           ? *ctx.area
                : options_.area_of ? options_.area_of(request, product->sku)
                                   : options_.default_area;
    Status s = shop_.AddToCart(token, product->sku, *qty, area);
    if (!s.ok()) {
      return Problem(HttpStatusFor(s), "Could not add to your cart", s.message(), back,
                     "Back to " + product->title);
    }
    HttpResponse r = Redirect("/shop/cart?added=" + PercentEncode(product->sku));
    if (new_token) SetCartCookie(r, token);
    SetCartCountCookieFor(r, token);
    return r;
  }

  // --- POST /shop/cart/update and /shop/cart/remove ---
  HttpResponse Update(const HttpRequest& request, bool remove) {
    if (auto refused = CheckOrigin(request)) return std::move(*refused);
    auto form =
        remove ? ReadForm(request, {"csrf", "sku"}) : ReadForm(request, {"csrf", "sku", "qty"});
    if (!form.ok()) return FormProblem(form.status());
    std::string token = CartToken(request);
    if (!CsrfOk(*form, token)) return StaleSession();
    std::string sku(Trim(form->Get("sku")));
    Status s;
    if (remove) {
      s = shop_.RemoveFromCart(token, sku);
    } else {
      auto qty = ParseQuantity(form->Get("qty"), true);
      if (!qty.ok()) {
        return Problem(400, "Please check the quantity", qty.status().message(), "/shop/cart",
                       "Back to your cart");
      }
      s = shop_.SetCartQuantity(token, sku, *qty);
    }
    if (!s.ok()) {
      return Problem(HttpStatusFor(s), "Could not change your cart", s.message(), "/shop/cart",
                     "Back to your cart");
    }
    HttpResponse r = Redirect("/shop/cart");
    SetCartCountCookieFor(r, token);
    return r;
  }

  // --- checkout ---
  json::object CheckoutForm(const Cart& cart, std::string_view token, const FormFields& values,
                            const std::vector<FieldError>& errors, std::string_view idem) {
    auto errors_for = [&](std::string_view field) {
      json::array out;
      for (const FieldError& e : errors) {
        if (e.field == field) out.push_back(json::object{{"message", e.message}});
      }
      return out;
    };
    auto field = [&](std::string_view name, std::string_view label, std::string_view type,
                     std::string_view autocomplete, bool required) {
      return json::object{{"name", name},
                          {"label", label},
                          {"type", type},
                          {"autocomplete", autocomplete},
                          {"required", required},
                          {"value", values.Get(name)},
                          {"errors", errors_for(name)}};
    };
    json::object data;
    data["has_errors"] = !errors.empty();
    json::array lines;
    for (const CartLine& l : cart.lines) {
      lines.push_back(json::object{{"title", l.title},
                                   {"unit_price", Money(l.unit_price_minor)},
                                   {"quantity", l.quantity},
                                   {"line_total", Money(l.line_total_minor)}});
    }
    data["lines"] = std::move(lines);
    data["totals"] = Totals(cart.totals);
    data["csrf"] = ShopHandler::CsrfToken(token);
    data["idem"] = idem;
    data["address_fields"] =
        json::array{field("name", "Full name", "text", "name", true),
                    field("address_line1", "Street and number", "text", "address-line1", true),
                    field("address_line2", "Address line 2", "text", "address-line2", false),
                    field("postal_code", "Postal code", "text", "postal-code", true),
                    field("city", "City", "text", "address-level2", true),
                    field("country", "Country", "text", "country-name", true)};
    data["contact_errors"] = errors_for("contact");
    data["contact_fields"] = json::array{field("email", "E-mail", "email", "email", false),
                                         field("phone", "Phone", "tel", "tel", false)};
    data["payment_errors"] = errors_for("payment");
    json::array options;
    std::string chosen(values.Get("payment"));
    bool first = true;
    for (const auto& p : shop_.payment_providers()) {
      bool checked = chosen.empty() ? first : chosen == p->id();
      first = false;
      options.push_back(json::object{
          {"id", p->id()}, {"title", p->title()}, {"summary", p->summary()}, {"checked", checked}});
    }
    data["payment_options"] = std::move(options);
    data["total"] = Money(cart.totals.total_minor);
    // What this page shows, sent back with the order: a different total then is shown again
    // for the customer to confirm (never a silent different charge).
    data["seen_total"] = cart.totals.total_minor;
    // And each line's unit price, so that a changed total can say which line changed.
    std::string prices;
    for (const CartLine& l : cart.lines) {
      prices += (prices.empty() ? "" : ",") + l.sku + ":" + std::to_string(l.unit_price_minor);
    }
    data["seen_prices"] = prices;
    return data;
  }

  // What changed between the unit prices the checkout page showed (form field `seen_prices`)
  // and `cart`, in words ("The price of 'Hojicha Roast' changed from ¥1,200 to ¥1,500."), as
  // Shop::Checkout says it; "" when the form does not say or nothing differs.
  std::string PriceChanges(const Cart& cart, const FormFields& form) {
    std::map<std::string, int64_t, std::less<>> seen;
    std::string_view list = Trim(form.Get("seen_prices"));
    while (!list.empty() && seen.size() < 500) {
      const size_t comma = list.find(',');
      std::string_view item = list.substr(0, comma);
      list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
      const size_t colon = item.rfind(':');
      if (colon == std::string_view::npos) continue;
      if (auto minor = ParseDigits(item.substr(colon + 1), 18)) {
        seen.emplace(std::string(item.substr(0, colon)), *minor);
      }
    }
    if (seen.empty()) return "";
    std::string words;
    for (const CartLine& l : cart.lines) {
      auto it = seen.find(l.sku);
      std::string change;
      if (it == seen.end()) {
        change = "'" + l.title + "' was added to the cart after the order's page was shown.";
      } else if (it->second != l.unit_price_minor) {
        change = "The price of '" + l.title + "' changed from " + Money(it->second) + " to " +
                 Money(l.unit_price_minor) + ".";
      }
      if (!change.empty()) words += (words.empty() ? "" : " ") + change;
    }
    return words;
  }

  // The checkout form again (409), filled in as sent, showing the cart's current total and
  // why the customer must confirm it: the total differs from `seen` (nullopt: the form did not
  // say what it showed), `detail` says what changed when known.
  HttpResponse ConfirmAgain(std::string_view token, const FormFields& form,
                            std::optional<int64_t> seen, std::string_view detail) {
    auto cart = shop_.GetCart(std::string(token));
    if (!cart.ok()) return Problem(500, "Cart unavailable", cart.status().message());
    if (cart->lines.empty()) {
      return Problem(409, "Your cart is empty", "Add a product to your cart before checking out.");
    }
    json::object data = CheckoutForm(*cart, token, form, {}, form.Get("idem"));
    json::object changed{{"now", Money(cart->totals.total_minor)}};
    if (seen && *seen != cart->totals.total_minor) changed["was"] = Money(*seen);
    // Without the checkout's own reason, the lines whose prices differ from the page's.
    const std::string lines = detail.empty() ? PriceChanges(*cart, form) : std::string();
    if (!detail.empty()) {
      changed["detail"] = UpperFirst(detail);
    } else if (!lines.empty()) {
      changed["detail"] = lines;
    }
    data["price_changed"] = std::move(changed);
    return Page(409, "Please confirm your order", "checkout", std::move(data),
                CartItemCount(*cart));
  }

  static std::string UpperFirst(std::string_view text) {
    std::string out(text);
    if (!out.empty()) out[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[0])));
    return out;
  }

  HttpResponse CheckoutPage(const HttpRequest& request) {
    std::string token = CartToken(request);
    auto cart = shop_.GetCart(token);
    if (!cart.ok()) return Problem(500, "Cart unavailable", cart.status().message());
    if (cart->lines.empty()) {
      return Problem(409, "Your cart is empty", "Add a product to your cart before checking out.");
    }
    std::string idem = "web:" + shop_.NewCartToken();  // a fresh random key per form
    FormFields start;
    if (options_.known_customer) {
      if (std::optional<Customer> c = options_.known_customer(request)) {
        for (auto [name, value] : {std::pair<const char*, const std::string*>{"name", &c->name},
                                   {"address_line1", &c->address_line1},
                                   {"address_line2", &c->address_line2},
                                   {"postal_code", &c->postal_code},
                                   {"city", &c->city},
                                   {"country", &c->country},
                                   {"email", &c->email},
                                   {"phone", &c->phone}}) {
          if (!value->empty()) start.Set(name, *value);
        }
      }
    }
    return Page(200, "Checkout", "checkout", CheckoutForm(*cart, token, start, {}, idem),
                CartItemCount(*cart));
  }

  HttpResponse PlaceOrder(const HttpRequest& request, const ShopRequestContext& ctx) {
    if (auto refused = CheckOrigin(request)) return std::move(*refused);
    auto form = ReadForm(request, {"csrf", "idem", "name", "address_line1", "postal_code", "city",
                                   "country", "payment"});
    if (!form.ok()) return FormProblem(form.status());
    std::string token = CartToken(request);
    if (!CsrfOk(*form, token)) return StaleSession();
    std::string idem(form->Get("idem"));
    if (!ValidateIdempotencyKey(idem).ok()) {
      return FormProblem(Status::InvalidArgument("the form's order key is malformed"));
    }
    Customer c;
    c.name = form->Get("name");
    c.address_line1 = form->Get("address_line1");
    c.address_line2 = form->Get("address_line2");
    c.postal_code = form->Get("postal_code");
    c.city = form->Get("city");
    c.country = form->Get("country");
    c.email = std::string(Trim(form->Get("email")));
    c.phone = std::string(Trim(form->Get("phone")));
    std::vector<FieldError> errors = ValidateCustomer(c);
    std::string_view payment = form->Get("payment");
    if (!shop_.FindPaymentProvider(payment)) {
      errors.push_back({"payment", "Please choose one of the payment methods"});
    }
    auto cart = shop_.GetCart(token);
    if (!cart.ok()) return Problem(500, "Cart unavailable", cart.status().message());
    if (!errors.empty()) {
      if (cart->lines.empty()) {
        return Problem(409, "Your cart is empty",
                       "Add a product to your cart before checking out.");
      }
      return Page(422, "Checkout", "checkout", CheckoutForm(*cart, token, *form, errors, idem),
                  CartItemCount(*cart));
    }
    // The total the customer's page showed must be the one charged. An empty cart skips the
    // check: the form sent again after its order was placed gets that order back (idem).
    ShownPrices shown;
    if (!cart->lines.empty()) {
      const std::optional<int64_t> seen = SeenTotal(*form);
      if (seen != cart->totals.total_minor) return ConfirmAgain(token, *form, seen, {});
      shown = PricesShown(*cart);
    }
    auto receipt = shop_.Checkout(token, c, payment, idem, ctx.channel, std::nullopt, &shown);
    if (!receipt.ok() && receipt.status().code() == StatusCode::kAborted) {
      return ConfirmAgain(token, *form, SeenTotal(*form), receipt.status().message());
    }
    if (!receipt.ok()) {
      const Status& s = receipt.status();
      if (s.code() == StatusCode::kFailedPrecondition && !cart->lines.empty()) {
        return Problem(409, "Your order could not be placed", s.message(), "/shop/cart",
                       "Back to your cart");
      }
      return Problem(HttpStatusFor(s), "Your order could not be placed", s.message(), "/shop/cart",
                     "Back to your cart");
    }
    HttpResponse r = Confirmation(receipt->order, token);
    return r;
  }

  // The thank-you page of an order just placed from the cart behind `token`.
  HttpResponse Confirmation(const Order& o, std::string_view token) {
    json::object data;
    data["one"] = json::object{{"number", o.number}};
    if (!o.customer.email.empty()) data["email"] = o.customer.email;
    data["orders"] = json::array{OrderData(shop_, o, {}, OrderHref(o))};
    auto cart = shop_.GetCart(std::string(token));
    std::optional<int64_t> count;
    if (cart.ok()) count = CartItemCount(*cart);
    HttpResponse r = Page(200, "Order " + o.number, "thank_you", std::move(data), count);
    if (count) SetCartCountCookie(r, *count);
    r.AddHeader("Referrer-Policy", "no-referrer");
    return r;
  }

  // --- GET /shop/orders/<number>?key= ---
  HttpResponse OrderPage(const HttpRequest& request, std::string_view number) {
    auto query = ParseForm(request.query(), options_.form_limits);
    if (!query.ok()) return FormProblem(query.status());
    auto order = shop_.GetOrderForCustomer(number, query->Get("key"));
    if (!order.ok()) {
      if (order.status().code() != StatusCode::kNotFound) {
        return Problem(500, "Order unavailable", "Please try again in a moment.");
      }
      return Problem(404, "Order not found",
                     "We found no order with this number and key. Please use the link from your "
                     "order confirmation.");
    }
    const Order& o = *order;
    json::object data = OrderData(shop_, o, {}, {});
    data["placed"] = PageTime(o.created_micros, shop_.config());
    data["status"] = OrderStatusName(o.status);
    if (o.shipment) {
      data["shipment"] =
          json::object{{"carrier", o.shipment->carrier},
                       {"tracking", o.shipment->tracking},
                       {"state", o.shipment->status},
                       {"updated", PageTime(o.shipment->updated_micros, shop_.config())}};
    }
    json::array history;
    for (const OrderEvent& e : o.events) {
      std::string what = e.from_status == e.to_status
                             ? (e.note.rfind("shipment ", 0) == 0 ? e.note : "payment recorded")
                             : e.to_status;
      history.push_back(
          json::object{{"at", PageTime(e.at_micros, shop_.config())}, {"what", what}});
    }
    data["history"] = std::move(history);
    json::object address{{"name", o.customer.name},
                         {"line1", o.customer.address_line1},
                         {"postal_code", o.customer.postal_code},
                         {"city", o.customer.city},
                         {"country", o.customer.country}};
    if (!o.customer.address_line2.empty()) address["line2"] = o.customer.address_line2;
    data["address"] = std::move(address);
    HttpResponse r = Page(200, "Order " + o.number, "order", std::move(data));
    r.AddHeader("Referrer-Policy", "no-referrer");
    return r;
  }

  HttpResponse MethodNotAllowed(std::string_view allow) {
    HttpResponse r = Problem(405, "Not allowed", "This address does not accept that request.");
    r.AddHeader("Allow", allow);
    return r;
  }

  HttpResponse Route(const HttpRequest& request, const ShopRequestContext& ctx) {
    std::string_view path = request.path();
    std::string_view method = request.method();
    bool get = method == "GET" || method == "HEAD";
    bool post = method == "POST";
    if (path == "/shop/cart" || path == "/shop/cart/") {
      return get ? CartPage(request) : MethodNotAllowed("GET, HEAD");
    }
    if (path == "/shop/cart/add") return post ? Add(request, ctx) : MethodNotAllowed("POST");
    if (path == "/shop/cart/update")
      return post ? Update(request, false) : MethodNotAllowed("POST");
    if (path == "/shop/cart/remove") return post ? Update(request, true) : MethodNotAllowed("POST");
    if (path == "/shop/checkout") {
      if (get) return CheckoutPage(request);
      if (post) return PlaceOrder(request, ctx);
      return MethodNotAllowed("GET, HEAD, POST");
    }
    constexpr std::string_view kOrders = "/shop/orders/";
    if (path.substr(0, kOrders.size()) == kOrders && path.size() > kOrders.size()) {
      std::string_view number = path.substr(kOrders.size());
      if (number.find('/') == std::string_view::npos) {
        return get ? OrderPage(request, number) : MethodNotAllowed("GET, HEAD");
      }
    }
    return Problem(404, "Page not found", "There is no shop page at this address.");
  }

  Shop& shop_;
  ShopHandlerOptions options_;
  content::PageTemplates templates_;
  CartLimiter cart_limiter_;
};

std::optional<int64_t> SeenTotal(const FormFields& form) {
  return ParseDigits(Trim(form.Get("seen_total")), 18);
}

ShownPrices PricesShown(const Cart& cart) {
  ShownPrices prices;
  for (const CartLine& l : cart.lines) prices.emplace(l.sku, l.unit_price_minor);
  return prices;
}

HttpResponse ShopHandler::ConfirmAgain(const HttpRequest& request, const FormFields& form,
                                       std::string_view detail) {
  struct Current {
    explicit Current(const HttpRequest* r) : saved(current_request) { current_request = r; }
    ~Current() { current_request = saved; }
    const HttpRequest* saved;
  } current(&request);
  return impl_->ConfirmAgain(Impl::CartToken(request), form, SeenTotal(form), detail);
}

ShopHandler::ShopHandler(Shop& shop, ShopHandlerOptions options)
    : impl_(std::make_shared<Impl>(shop, std::move(options))) {}

void ShopHandler::Handle(const HttpRequest& request, HttpResponder responder) {
  responder.Respond(HandleRequest(request, {}));
}

HttpResponse ShopHandler::HandleRequest(const HttpRequest& request,
                                        const ShopRequestContext& context) {
  struct Current {
    explicit Current(const HttpRequest* r) : saved(current_request) { current_request = r; }
    ~Current() { current_request = saved; }
    const HttpRequest* saved;
  } current(&request);
  try {
    return impl_->Route(request, context);
  } catch (const std::exception& e) {
    return impl_->Problem(500, "Something went wrong",
                          "The shop could not handle this request; please try again.");
  }
}

bool ShopHandler::Serves(std::string_view path) {
  return path == "/shop" || path.substr(0, 6) == "/shop/";
}

std::string ShopHandler::CsrfToken(std::string_view cart_token) {
  if (cart_token.empty()) return "";
  return Base64UrlEncode(Sha256("tieup-csrf\n" + std::string(cart_token))).substr(0, 32);
}

}  // namespace tieup::commerce
