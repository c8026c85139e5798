#include "commerce/shop_handler.h"

#include <cctype>

#include "base/encoding.h"
#include "commerce/cart_limiter.h"
#include "commerce/money.h"
#include "crypto/hash.h"

namespace tieup::commerce {
namespace {

constexpr std::string_view kCookieName = "tieup_cart";
constexpr int64_t kCookieMaxAgeSeconds = 30 * 86400;

std::string E(std::string_view text) { return HtmlEscape(text); }

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

std::string DefaultPage(std::string_view shop_name, std::string_view title, std::string_view body) {
  return "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>" +
         E(title) + " · " + E(shop_name) +
         "</title><style>body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem "
         "auto;padding:0 1rem;line-height:1.5}table{border-collapse:collapse;width:100%}td,th{"
         "padding:.4rem;border-bottom:1px solid #ddd;text-align:left}.num{text-align:right}"
         ".error{color:#a00}.notice{background:#eef6ee;padding:.6rem}.problem{background:#fbeaea;"
         "padding:.6rem}label{display:block;margin-top:.6rem}input[type=text],input[type=email],"
         "input[type=tel]{width:100%;max-width:28rem;padding:.3rem}pre{white-space:pre-wrap;"
         "background:#f6f6f6;padding:.6rem}button{padding:.4rem .9rem}</style></head><body>"
         "<main>" +
         std::string(body) + "</main></body></html>\n";
}

std::string TimeText(int64_t micros) {
  std::string t = FormatRfc3339(micros / 1'000'000);
  return t.substr(0, 10) + " " + t.substr(11, 5) + " UTC";
}

// The value of cookie `name` in the request's first Cookie header.
std::string CookieValue(const HttpRequest& request, std::string_view name) {
  std::string_view header = request.HeaderOr("Cookie");
  size_t pos = 0;
  while (pos < header.size()) {
    size_t semi = header.find(';', pos);
    if (semi == std::string_view::npos) semi = header.size();
    std::string_view pair = Trim(header.substr(pos, semi - pos));
    pos = semi + 1;
    size_t eq = pair.find('=');
    if (eq != std::string_view::npos && Trim(pair.substr(0, eq)) == name) {
      return std::string(Trim(pair.substr(eq + 1)));
    }
  }
  return "";
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
  std::string_view t = Trim(text);
  bool ok = !t.empty() && t.size() <= 6;
  for (char c : t) ok = ok && c >= '0' && c <= '9';
  int64_t v = 0;
  if (ok) {
    for (char c : t) v = v * 10 + (c - '0');
  }
  if (!ok || v > kMaxQuantity || (v == 0 && !allow_zero)) {
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
        cart_limiter_(shop.env(),
                      {.adds_per_10_minutes = shop.config().cart_adds_per_10_minutes_per_client}) {}

  HttpResponse Page(int status, std::string_view title, const std::string& body) {
    std::string html = options_.render ? options_.render(title, body)
                                       : DefaultPage(shop_.config().shop_name, title, body);
    HttpResponse r = HttpResponse::Html(status, std::move(html));
    r.AddHeader("Cache-Control", "no-store");
    r.AddHeader("X-Content-Type-Options", "nosniff");
    return r;
  }

  HttpResponse Problem(int status, std::string_view title, std::string_view message,
                       std::string_view back_href = {}, std::string_view back_text = {}) {
    std::string body = "<h1>" + E(title) + "</h1><p class=\"problem\">" + E(message) + "</p><p>";
    if (!back_href.empty()) {
      body += "<a href=\"" + E(back_href) + "\">" + E(back_text) + "</a> · ";
    }
    body += "<a href=\"/shop/cart\">Your cart</a> · <a href=\"" + E(options_.home_path) +
            "\">Continue shopping</a></p>";
    return Page(status, title, body);
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
    std::string token = CookieValue(request, kCookieName);
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

  std::string Money(int64_t minor) { return E(FormatMoney(minor, shop_.config().currency)); }

  std::string TotalsHtml(const Totals& t) {
    std::string s = "<table class=\"totals\"><tr><th>Subtotal</th><td class=\"num\">" +
                    Money(t.subtotal_minor) + "</td></tr>";
    s += std::string("<tr><th>") + (shop_.config().prices_include_tax ? "Tax included" : "Tax") +
         "</th><td class=\"num\">" + Money(t.tax_minor) + "</td></tr>";
    s += "<tr><th>Shipping</th><td class=\"num\">" + Money(t.shipping_minor) + "</td></tr>";
    s += "<tr><th>Total</th><td class=\"num\"><strong>" + Money(t.total_minor) +
         "</strong></td></tr></table>";
    return s;
  }

  std::string ProductLink(std::string_view title, std::string_view page) {
    if (page.empty()) return E(title);
    return "<a href=\"" + E(page) + "\">" + E(title) + "</a>";
  }

  // --- GET /shop/cart ---
  HttpResponse CartPage(const HttpRequest& request) {
    std::string token = CartToken(request);
    auto query = ParseForm(request.query(), options_.form_limits);
    if (!query.ok()) return FormProblem(query.status());
    auto cart = shop_.GetCart(token);
    if (!cart.ok()) return Problem(500, "Cart unavailable", cart.status().message());
    std::string body = "<h1>Your cart</h1>";
    if (auto added = query->Find("added")) {
      for (const CartLine& l : cart->lines) {
        if (EqualsIgnoreCase(l.sku, *added)) {
          body += "<p class=\"notice\">Added " + ProductLink(l.title, l.page_path) +
                  " to your cart. <a href=\"" +
                  E(l.page_path.empty() ? options_.home_path : l.page_path) +
                  "\">Continue shopping</a></p>";
        }
      }
    }
    if (cart->lines.empty()) {
      body += "<p>Your cart is empty.</p><p><a href=\"" + E(options_.home_path) +
              "\">Continue shopping</a></p>";
      return Page(200, "Your cart", body);
    }
    std::string csrf = ShopHandler::CsrfToken(token);
    body +=
        "<table><tr><th>Product</th><th class=\"num\">Price</th><th>Quantity</th>"
        "<th class=\"num\">Total</th><th></th></tr>";
    for (const CartLine& l : cart->lines) {
      body += "<tr><td>" + ProductLink(l.title, l.page_path) + "<br><small>" + E(l.sku);
      if (l.available < l.quantity) {
        body += " · " + (l.available == 0 ? std::string("sold out")
                                          : "only " + std::to_string(l.available) + " left");
      }
      body += "</small></td><td class=\"num\">" + Money(l.unit_price_minor) + "</td><td>";
      body +=
          "<form method=\"post\" action=\"/shop/cart/update\"><input type=\"hidden\" "
          "name=\"csrf\" value=\"" +
          E(csrf) + "\"><input type=\"hidden\" name=\"sku\" value=\"" + E(l.sku) +
          "\"><input type=\"number\" name=\"qty\" min=\"0\" max=\"" +
          std::to_string(shop_.config().max_units_per_line) + "\" value=\"" +
          std::to_string(l.quantity) + "\" aria-label=\"Quantity of " + E(l.title) +
          "\"> <button>Update</button></form></td>";
      body += "<td class=\"num\">" + Money(l.line_total_minor) + "</td><td>";
      body +=
          "<form method=\"post\" action=\"/shop/cart/remove\"><input type=\"hidden\" "
          "name=\"csrf\" value=\"" +
          E(csrf) + "\"><input type=\"hidden\" name=\"sku\" value=\"" + E(l.sku) +
          "\"><button>Remove</button></form></td></tr>";
    }
    body += "</table>" + TotalsHtml(cart->totals);
    body += "<p><a href=\"/shop/checkout\"><strong>Proceed to checkout</strong></a> · <a href=\"" +
            E(options_.home_path) + "\">Continue shopping</a></p>";
    return Page(200, "Your cart", body);
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
    return Redirect("/shop/cart");
  }

  // --- checkout ---
  std::string CheckoutForm(const Cart& cart, std::string_view token, const FormFields& values,
                           const std::vector<FieldError>& errors, std::string_view idem) {
    auto error_for = [&](std::string_view field) {
      std::string s;
      for (const FieldError& e : errors) {
        if (e.field == field) s += "<span class=\"error\">" + E(e.message) + "</span><br>";
      }
      return s;
    };
    auto input = [&](std::string_view name, std::string_view label, std::string_view type,
                     std::string_view autocomplete, bool required) {
      return "<label for=\"" + std::string(name) + "\">" + E(label) +
             (required ? "" : " <small>(optional)</small>") + "</label>" + error_for(name) +
             "<input type=\"" + std::string(type) + "\" id=\"" + std::string(name) + "\" name=\"" +
             std::string(name) + "\" autocomplete=\"" + std::string(autocomplete) + "\" value=\"" +
             E(values.Get(name)) + "\"" + (required ? " required" : "") + ">";
    };
    std::string body = "<h1>Checkout</h1>";
    if (!errors.empty()) {
      body += "<p class=\"problem\">Please check the fields marked below.</p>";
    }
    body += "<table><tr><th>Product</th><th>Quantity</th><th class=\"num\">Total</th></tr>";
    for (const CartLine& l : cart.lines) {
      body += "<tr><td>" + E(l.title) + "</td><td>" + std::to_string(l.quantity) +
              "</td><td class=\"num\">" + Money(l.line_total_minor) + "</td></tr>";
    }
    body +=
        "</table>" + TotalsHtml(cart.totals) + "<p><a href=\"/shop/cart\">Change your cart</a></p>";
    body +=
        "<form method=\"post\" action=\"/shop/checkout\"><input type=\"hidden\" name=\"csrf\" "
        "value=\"" +
        E(ShopHandler::CsrfToken(token)) + "\"><input type=\"hidden\" name=\"idem\" value=\"" +
        E(idem) + "\">";
    body += "<h2>Delivery address</h2>";
    body += input("name", "Full name", "text", "name", true);
    body += input("address_line1", "Street and number", "text", "address-line1", true);
    body += input("address_line2", "Address line 2", "text", "address-line2", false);
    body += input("postal_code", "Postal code", "text", "postal-code", true);
    body += input("city", "City", "text", "address-level2", true);
    body += input("country", "Country", "text", "country-name", true);
    body += "<h2>Contact</h2><p><small>An e-mail address, a phone number, or both.</small></p>" +
            error_for("contact");
    body += input("email", "E-mail", "email", "email", false);
    body += input("phone", "Phone", "tel", "tel", false);
    body += "<h2>Payment</h2>" + error_for("payment");
    std::string chosen(values.Get("payment"));
    bool first = true;
    for (const auto& p : shop_.payment_providers()) {
      bool checked = chosen.empty() ? first : chosen == p->id();
      first = false;
      body += "<label><input type=\"radio\" name=\"payment\" value=\"" + E(p->id()) + "\"" +
              (checked ? " checked" : "") + "> <strong>" + E(p->title()) + "</strong> — " +
              E(p->summary()) + "</label>";
    }
    body += "<p><button type=\"submit\">Place order (" + Money(cart.totals.total_minor) +
            ")</button></p></form>";
    return body;
  }

  HttpResponse CheckoutPage(const HttpRequest& request) {
    std::string token = CartToken(request);
    auto cart = shop_.GetCart(token);
    if (!cart.ok()) return Problem(500, "Cart unavailable", cart.status().message());
    if (cart->lines.empty()) {
      return Problem(409, "Your cart is empty", "Add a product to your cart before checking out.");
    }
    std::string idem = "web:" + shop_.NewCartToken();  // a fresh random key per form
    return Page(200, "Checkout", CheckoutForm(*cart, token, FormFields(), {}, idem));
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
      return Page(422, "Checkout", CheckoutForm(*cart, token, *form, errors, idem));
    }
    auto receipt = shop_.Checkout(token, c, payment, idem, ctx.channel);
    if (!receipt.ok()) {
      const Status& s = receipt.status();
      if (s.code() == StatusCode::kFailedPrecondition && !cart->lines.empty()) {
        return Problem(409, "Your order could not be placed", s.message(), "/shop/cart",
                       "Back to your cart");
      }
      return Problem(HttpStatusFor(s), "Your order could not be placed", s.message(), "/shop/cart",
                     "Back to your cart");
    }
    return Confirmation(receipt->order);
  }

  std::string OrderHref(const Order& o) {
    return "/shop/orders/" + PercentEncode(o.number) + "?key=" + PercentEncode(o.access_key);
  }

  std::string LinesTable(const Order& o) {
    std::string s =
        "<table><tr><th>Product</th><th class=\"num\">Price</th><th>Quantity</th><th "
        "class=\"num\">Total</th></tr>";
    for (const OrderLine& l : o.lines) {
      s += "<tr><td>" + E(l.title) + "<br><small>" + E(l.sku) + "</small></td><td class=\"num\">" +
           Money(l.unit_price_minor) + "</td><td>" + std::to_string(l.quantity) +
           "</td><td class=\"num\">" + Money(l.line_total_minor) + "</td></tr>";
    }
    return s + "</table>" + TotalsHtml(o.totals);
  }

  std::string PaymentHtml(const Order& o) {
    const PaymentProvider* p = shop_.FindPaymentProvider(o.payment_method);
    std::string s = "<h2>Payment: " + E(p ? p->title() : o.payment_method) + "</h2>";
    if (o.paid) return s + "<p>Paid on " + E(TimeText(o.paid_micros)) + ". Thank you.</p>";
    if (o.status == OrderStatus::kCancelled) return s + "<p>This order was cancelled.</p>";
    s += "<pre>" + E(o.payment_instructions) + "</pre>";
    if (!o.payment_redirect_url.empty()) {
      s += "<p><a href=\"" + E(o.payment_redirect_url) + "\">Pay now</a></p>";
    }
    return s;
  }

  HttpResponse Confirmation(const Order& o) {
    std::string body =
        "<h1>Thank you for your order</h1><p class=\"notice\">Your order number is "
        "<strong>" +
        E(o.number) + "</strong>.";
    if (!o.customer.email.empty()) {
      body += " A confirmation is on its way to " + E(o.customer.email) + ".";
    }
    body += "</p>" + PaymentHtml(o) + "<h2>Your order</h2>" + LinesTable(o);
    body += "<p>Follow your order at any time: <a href=\"" + OrderHref(o) +
            "\">order status page</a> (keep this link; it is your key to the order).</p>";
    HttpResponse r = Page(200, "Order " + o.number, body);
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
    std::string body = "<h1>Order " + E(o.number) + "</h1><p>Placed " +
                       E(TimeText(o.created_micros)) + " · status: <strong>" +
                       E(OrderStatusName(o.status)) + "</strong></p>";
    if (o.shipment) {
      body += "<h2>Delivery</h2><p>Carrier: " + E(o.shipment->carrier) +
              "<br>Tracking number: " + E(o.shipment->tracking) +
              "<br>Shipment: " + E(o.shipment->status) + " (" +
              E(TimeText(o.shipment->updated_micros)) + ")</p>";
    }
    body += PaymentHtml(o) + "<h2>Items</h2>" + LinesTable(o);
    body += "<h2>History</h2><ul>";
    for (const OrderEvent& e : o.events) {
      std::string what = e.from_status == e.to_status
                             ? (e.note.rfind("shipment ", 0) == 0 ? e.note : "payment recorded")
                             : e.to_status;
      body += "<li>" + E(TimeText(e.at_micros)) + ": " + E(what) + "</li>";
    }
    body += "</ul><h2>Delivery address</h2><p>" + E(o.customer.name) + "<br>" +
            E(o.customer.address_line1) + "<br>" +
            (o.customer.address_line2.empty() ? "" : E(o.customer.address_line2) + "<br>") +
            E(o.customer.postal_code) + " " + E(o.customer.city) + "<br>" + E(o.customer.country) +
            "</p>";
    HttpResponse r = Page(200, "Order " + o.number, body);
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
  CartLimiter cart_limiter_;
};

ShopHandler::ShopHandler(Shop& shop, ShopHandlerOptions options)
    : impl_(std::make_shared<Impl>(shop, std::move(options))) {}

void ShopHandler::Handle(const HttpRequest& request, HttpResponder responder) {
  responder.Respond(HandleRequest(request, {}));
}

HttpResponse ShopHandler::HandleRequest(const HttpRequest& request,
                                        const ShopRequestContext& context) {
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
