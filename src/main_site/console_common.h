// What the main console's pages share (main_site/console_pages.h): the daemon, the console, and
// the small helpers every page uses. Internal to main_site: each console_*.cc file registers the
// pages of one area with an Add...Pages function below; state an area needs beyond this lives in
// that file (an object its page handlers capture).
#pragma once

#include <boost/json.hpp>
#include <memory>
#include <string>

#include "base/time_format.h"
#include "console/console_server.h"
#include "main_site/ledger_service.h"
#include "main_site/main_daemon.h"

namespace tieup::main_console {

namespace json = boost::json;
using console::ConsolePage;
using console::ConsoleRequest;

struct ConsoleState {
  MainDaemon* daemon = nullptr;
  std::shared_ptr<console::Console> console;
  // Main's ledgers of the partners (as the command line opens them, on the daemon's database):
  // the partners table's ledger column and the Ledger & fees pages.
  std::shared_ptr<LedgerCollector> ledger;

  const SiteConfig& config() const { return daemon->site().config(); }
  // A moment (microseconds since the epoch) in main's time zone and locale.
  std::string Time(int64_t micros) const {
    return FormatDateTime(micros, config().time_zone, config().locale);
  }
};

// An error page: `title` as its heading, `message` saying what to do.
ConsolePage Problem(int status, std::string title, std::string message);
// 303 to `path` with a flash message shown there once.
ConsolePage Redirect(std::string path, std::string flash);

// The pages of each area, registered on s.console (before it starts).
// / : the partners at a glance (search, filter by state, sort, pages).
void AddPartnersPages(ConsoleState& s);
// /partners/ID: one partnership: timeline, publish now, retry, settings, enrollment code, suspend /
// resume / revoke, contract and statements, emergency edits.
void AddPartnerPages(ConsoleState& s);
// /publish: publish to all partners or a selection, with live per-partner progress.
void AddPublishPages(ConsoleState& s);
// /content: main's authoring tree; edit with a live preview, preview as a partner, uploads.
void AddContentPages(ConsoleState& s);
// /products, /orders: main's catalog and every channel's orders.
void AddShopPages(ConsoleState& s);
// /users: registered users, where each registered; disable an account.
void AddUsersPages(ConsoleState& s);
// /ledger: per-partner verification and alerts; fee statements.
void AddLedgerPages(ConsoleState& s);
// /security: security alerts about every site; the network blocklist (add, remove, who has it).
void AddSecurityPages(ConsoleState& s);
// /marketing: segments, campaigns and their reports, recommendations (console_marketing.cc).
void AddMarketingPages(ConsoleState& s);

}  // namespace tieup::main_console
