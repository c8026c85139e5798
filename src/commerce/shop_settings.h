// Opening a site's shop from its settings: the `shop.*` entries of site.toml's [variables]
// (currency, shipping_fee_minor, prices_include_tax, public_url, mail_from, manager_email,
// account_holder, iban, bic, bank_name, smtp_host, smtp_port, max_units_per_line,
// cart_adds_per_10_minutes_per_client). Main and partners share this; they differ only in the
// order number prefix.
//
// Limits on carts (carts take no stock; an order takes it when placed):
//   shop.max_units_per_line (20): the most units of one product in a cart, 1..999;
//   shop.cart_adds_per_10_minutes_per_client (30): cart additions one client network (an IPv4
//     address, an IPv6 /64) may make per 10 minutes on the shop pages, as a burst or spread
//     out; more are answered 429 with Retry-After. 0: no limit (a site behind a proxy that
//     hides its customers' addresses).
// There is no reservation setting: stock is taken at checkout, not held by carts.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "base/env.h"
#include "base/log.h"
#include "base/status.h"
#include "commerce/mail.h"
#include "commerce/shop.h"
#include "store/database.h"

namespace tieup::commerce {

struct ShopSiteSettings {
  std::string site_id;
  std::string shop_name;
  std::string order_prefix;       // "M" on main, from the partner id on a partner
  std::string mail_dir;           // the outbox (SITE_DIR/mail)
  std::string locale = "en";      // site.toml [site] locale
  std::string time_zone = "UTC";  // site.toml [site] time_zone
  const std::map<std::string, std::string>* variables = nullptr;  // site.toml [variables]
};

// A shop with its mail outbox and SMTP relay settings.
struct OpenedShop {
  std::unique_ptr<MailOutbox> outbox;  // before `shop`: the shop points into it
  std::unique_ptr<Shop> shop;
  std::string smtp_host;
  uint16_t smtp_port = 25;
};

// Opens the shop (migrating its tables in `db`). Bad settings are InvalidArgument naming the
// site.toml key. Payment methods: cash on delivery always; bank transfer and invoice when
// shop.iban is set. `db` must outlive the shop.
Result<OpenedShop> OpenShopFromSettings(Env& env, Database& db, const ShopSiteSettings& settings,
                                        std::shared_ptr<Logger> logger);

// The boolean setting shop.<name> ("true" or "false"); missing or empty: `fallback`.
Result<bool> ShopSettingBool(const std::map<std::string, std::string>& variables,
                             const std::string& name, bool fallback);

// The whole-number setting shop.<name>, within [min, max]; missing or empty: `fallback`.
// InvalidArgument naming the key otherwise.
Result<int64_t> ShopSettingInt(const std::map<std::string, std::string>& variables,
                               const std::string& name, int64_t fallback, int64_t min, int64_t max);

}  // namespace tieup::commerce
