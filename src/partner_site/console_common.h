// What the partner console's pages share (partner_site/console_pages.h): the daemon, the shop,
// the console, and the small helpers every page uses. Internal to partner_site: each
// console_*.cc file registers the pages of one area with an Add...Pages function below.
#pragma once

#include <boost/json.hpp>
#include <memory>
#include <set>
#include <string>

#include "base/time_format.h"
#include "commerce/money.h"
#include "console/console_server.h"
#include "content/page_templates.h"
#include "partner_site/partner_daemon.h"
#include "partner_site/preview.h"
#include "partner_site/shop_service.h"
#include "store/database.h"
#include "sync/receiver.h"

namespace tieup::partner_console {

namespace json = boost::json;
using console::ConsolePage;
using console::ConsoleRequest;

struct ConsoleState {
  PartnerDaemon* daemon = nullptr;
  std::shared_ptr<console::Console> console;
  std::unique_ptr<Database> shop_db;  // the shop's own connection (as the command line's)
  OpenedPartnerShop shop;
  std::string preview_secret;
  std::set<std::string> announced;  // pending updates already announced (scheduler thread)
  std::unique_ptr<content::PageTemplates> templates;  // the tie-up release's shell, for pages

  const SiteConfig& config() const { return daemon->site().config(); }
  std::string Time(int64_t micros) const {
    return FormatDateTime(micros, config().time_zone, config().locale);
  }
  std::string Money(int64_t minor) const {
    const commerce::ShopConfig& c = shop.shop->config();
    return commerce::FormatMoney(minor, c.currency, c.locale);
  }
  // A link to the preview of staged version `version` on the public port.
  std::string PreviewUrl(uint64_t version) const {
    return "http://" + HostPort{config().public_address.host, daemon->public_port()}.ToString() +
           PreviewPath(preview_secret, version);
  }
};

// An error page: `title` as its heading, `message` saying what to do.
ConsolePage Problem(int status, std::string title, std::string message);
// 303 to `path` with a flash message shown there once.
ConsolePage Redirect(std::string path, std::string flash);

// A fresh name under SITE_DIR/run/ for one request's files (two managers may save at once).
std::string TempPath(ConsoleState& s, std::string_view what);

// An update's template data: id, version, state and state_words, pending, received, counts.
json::object UpdateData(const ConsoleState& s, const sync::ReceivedUpdate& u);

// The pages of each area, registered on s.console (before it starts).
void AddUpdatePages(ConsoleState& s);    // /updates, /updates/ID, /rollback
void AddShopPages(ConsoleState& s);      // /orders, /orders/N, /products
void AddOwnPages(ConsoleState& s);       // /pages, /pages/edit, /pages/delete
void AddLedgerPages(ConsoleState& s);    // /ledger
void AddSettingsPages(ConsoleState& s);  // /settings
void AddAdPages(ConsoleState& s);        // /ads
void AddCustomerPages(ConsoleState& s);  // /customers
void AddSecurityPages(ConsoleState& s);  // /security
// The home page's access records (console_ledger.cc): today's accesses in the site's time zone
// (today, today_tieup, today_original, today_total, today_partial) and the ledger's open alerts
// (has_alerts, alert_count, alerts: title, message, when, excluded).
json::object LedgerHomeData(ConsoleState& s);

}  // namespace tieup::partner_console
