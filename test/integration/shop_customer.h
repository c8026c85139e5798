// A browser with one cart cookie, for integration tests of the shop on a real daemon: adds to
// the cart from a page (with its Referer), fills in and sends the checkout form.
#pragma once

#include <string>
#include <vector>

#include "daemon_harness.h"

namespace tieup::testing {

class ShopCustomer {
 public:
  explicit ShopCustomer(int port) : port_(port) {}

  // Sends a POST; `referer_path` (when not empty) is sent as the Referer on this site.
  std::string Post(const std::string& path, const std::string& body,
                   const std::string& referer_path = {},
                   const std::string& type = "application/x-www-form-urlencoded") {
    std::string req = "POST " + path + " HTTP/1.1\r\nHost: " + Host() +
                      "\r\nConnection: close\r\nContent-Type: " + type +
                      "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
    if (!referer_path.empty()) req += "Referer: http://" + Host() + referer_path + "\r\n";
    if (!cookie_.empty()) req += "Cookie: tieup_cart=" + cookie_ + "\r\n";
    std::string resp = RawExchange(port_, req + "\r\n" + body, 60000);
    std::string set = FirstMatch(resp, "Set-Cookie: tieup_cart=([^;\\r]+)");
    if (!set.empty()) cookie_ = set;
    return resp;
  }
  std::string Get(const std::string& path) {
    std::vector<std::string> headers;
    if (!cookie_.empty()) headers.push_back("Cookie: tieup_cart=" + cookie_);
    return HttpGet(port_, path, headers);
  }
  // Adds `qty` of `sku` to the cart from the page `page`; returns the response's status.
  int Add(const std::string& sku, int qty, const std::string& page) {
    return StatusOf(Post("/shop/cart/add", "sku=" + sku + "&qty=" + std::to_string(qty), page));
  }
  // Opens the checkout page and fills in its form; returns the body to send.
  std::string CheckoutForm(const std::string& payment = "cash_on_delivery") {
    std::string page = Get("/shop/checkout");
    std::string csrf = FirstMatch(page, "name=\"csrf\" value=\"([^\"]+)\"");
    std::string idem = FirstMatch(page, "name=\"idem\" value=\"([^\"]+)\"");
    std::string seen = FirstMatch(page, "name=\"seen_total\" value=\"([^\"]+)\"");
    return "csrf=" + csrf + "&idem=" + idem + "&seen_total=" + seen +
           "&name=Ada+Lovelace&address_line1=1+Main+St&address_line2=&postal_code=10115"
           "&city=Berlin&country=DE&email=ada%40example.org&phone=&payment=" +
           payment;
  }
  // The Cookie header value this browser sends.
  std::string CookieHeader() const { return "tieup_cart=" + cookie_; }
  // Sends a filled-in checkout form; returns the raw response.
  std::string Submit(const std::string& form) {
    return Post("/shop/checkout", form, "/shop/checkout");
  }
  // Fills in the checkout form and sends it; returns the raw response.
  std::string Checkout(const std::string& payment = "cash_on_delivery") {
    return Submit(CheckoutForm(payment));
  }

 private:
  std::string Host() const { return "127.0.0.1:" + std::to_string(port_); }
  int port_;
  std::string cookie_;
};

}  // namespace tieup::testing
