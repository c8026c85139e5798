// SiteSearch: the search engine every site gives its visitors (main's and each partner's), over
// exactly the pages the site serves, tie-up and original.
//
// The index (search/site_index.h) lives in SITE_DIR/search/, outside the released files, so it
// is never served. It follows the served view: at start the indexer thread compares the index
// with the view (every page's content hash against the one indexed) and indexes what differs;
// after that, every load of a new view (an activation of either area: an update from main, a
// page the partner manager edited, an emergency edit) wakes it, and it indexes the pages whose
// hash changed and removes those that went, in one commit: a one-page change is one page of
// indexing, whatever the site's size. A missing index is built from the served view; a damaged
// one (it cannot be opened or read) is removed and built again, with a warning in the log.
//
// What is indexed: every HTML page of the view that is available, not under /.tieup/, not the
// not-found page, and not marked <meta name="robots" content="noindex">: its title, headings,
// readable text (site/page_text.h) and, for a page that offers products (its add-to-cart forms,
// or a catalog product whose page_path is the page), their SKU, title, category and price band.
//
// The pages (the site's layout; built-in templates replaceable by the release,
// content/page_templates.h, "search"):
//   GET /search?q=WORDS[&page=N][&area=tieup|original][&band=BAND]
//       results with highlighted snippets, ten a page, paging links, "did you mean" when a word
//       looks misspelled, and for product pages the current price and stock state (from the
//       catalog the daemon gives, read at most every catalog_refresh_seconds). Empty words: a
//       page that asks for some (200); more than kMaxQueryBytes, or not UTF-8: a page that says
//       so (400). The words are only ever shown escaped.
//   GET /search/go?to=PATH&q=WORDS   a click on a result: recorded, then 303 to PATH (only a
//       page the site serves; anything else is 404: never an open redirect).
// Each search (first results page) and each click is a ledger::SearchRecord in the site's access
// ledger; a partner's ledger goes to main, which lists the searches that found nothing
// (`tieup main searches`).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "base/env.h"
#include "base/log.h"
#include "base/status.h"
#include "content/builder.h"
#include "content/page_templates.h"
#include "ledger/access_log_writer.h"
#include "net/http_server.h"
#include "search/site_index.h"
#include "site/config.h"
#include "site/site_content.h"

namespace tieup {

// The site's catalog as pages show it (content::PageProducts: SKU -> sku, title, category,
// page_path, price, price_minor, currency, stock_state, in_stock...); null or empty when the site
// sells nothing. Called by the indexer and by the search page (at most once per
// catalog_refresh_seconds); must be thread-safe.
using SearchCatalog = std::function<Result<std::shared_ptr<const content::PageProducts>>()>;

struct SiteSearchOptions {
  // The stemming language (site.toml [variables] search.language; "none": no stemming).
  std::string language = "english";
  size_t results_per_page = 10;
  int64_t catalog_refresh_seconds = 2;
};

// What one pass of the indexer did.
struct SearchIndexPass {
  uint64_t indexed = 0;    // pages (re)indexed
  uint64_t removed = 0;    // pages taken out
  uint64_t documents = 0;  // pages in the index after it
  bool rebuilt = false;    // the index was missing or damaged and was made afresh
  int64_t micros = 0;      // how long it took (the Env's clock)
};

class SiteSearch {
 public:
  // Prepares the search of SITE_DIR/search (InvalidArgument for an unknown language). The index
  // itself is opened (made, or rebuilt) by the indexer's first pass, so that a second daemon of
  // the same site, refused at its Start, never touches it. `content`, `access_log` (may be null:
  // no records) and `env` must outlive the object. `layout`: the site whose layout the pages
  // wear.
  static Result<std::unique_ptr<SiteSearch>> Open(Env& env, const std::string& site_dir,
                                                  SiteContent& content,
                                                  ledger::AccessLogWriter* access_log,
                                                  std::shared_ptr<Logger> logger,
                                                  content::PageSite layout,
                                                  SiteSearchOptions options = {});
  ~SiteSearch();
  SiteSearch(const SiteSearch&) = delete;
  SiteSearch& operator=(const SiteSearch&) = delete;

  // The catalog (see SearchCatalog). Before Start.
  void SetCatalog(SearchCatalog catalog);
  // Whether the site's /search access records are of the tie-up area (a partner: the search is
  // main's utility in main's layout). Before Start.
  void SetResponseArea(std::string area) { response_area_ = std::move(area); }

  // Starts the indexer thread: it brings the index to the served view, then follows every new
  // view (ViewLoaded).
  void Start();
  // Stops the indexer thread (a pass in progress finishes). Idempotent.
  void Stop();
  // A new view is being served: wakes the indexer. Cheap; any thread.
  void ViewLoaded();

  // One indexer pass on the caller's thread: the index opened if it is not yet (Unavailable
  // while another process holds it), then brought to the view served now. Serialised with the
  // indexer thread. (The command line and tests.)
  Result<SearchIndexPass> CatchUp();
  // Waits until the index reflects the view served now (tests: a state, not a time), at most
  // `timeout`; DeadlineExceeded after that.
  Status WaitUntilCurrent(std::chrono::milliseconds timeout);

  // GET /search and /search/go (see above).
  std::shared_ptr<HttpHandler> handler();

  // The index, for reading (Search, counts); null until the first pass opened it. Thread-safe.
  std::shared_ptr<const search::SiteIndex> index() const { return std::atomic_load(&index_); }

 private:
  class Pages;
  SiteSearch(Env& env, SiteContent& content, ledger::AccessLogWriter* access_log,
             std::shared_ptr<Logger> logger, SiteSearchOptions options);
  Result<SearchIndexPass> CatchUpLocked();
  // Opens (or makes, or rebuilds) the index when it is not open yet. Under index_mu_.
  Status OpenIndexLocked();
  void Run();
  // The catalog, read again when older than catalog_refresh_seconds; null on failure.
  std::shared_ptr<const content::PageProducts> Catalog();

  Env& env_;
  SiteContent& content_;
  ledger::AccessLogWriter* access_log_;
  std::shared_ptr<Logger> logger_;
  const SiteSearchOptions options_;
  std::string dir_;
  std::string response_area_;
  SearchCatalog catalog_source_;
  // Held while the index is open (SITE_DIR/search.lock): a second process of the site finds it
  // taken and leaves the index alone, before Xapian is asked. Under index_mu_.
  std::optional<SiteLock> index_lock_;
  // Written under index_mu_ (atomic_store), read anywhere (atomic_load).
  std::shared_ptr<search::SiteIndex> index_;
  std::shared_ptr<Pages> pages_;

  std::mutex index_mu_;  // one writer pass at a time
  // Pages that asked not to be indexed (robots noindex), by path: the hash read (under index_mu_).
  std::map<std::string, std::string> noindex_;
  // The view the index reflects (guarded by state_mu_); compared by identity with the served one.
  std::shared_ptr<const content::SiteView> indexed_view_;
  std::mutex state_mu_;
  std::condition_variable state_cv_;
  bool wake_ = false;      // guarded by state_mu_
  bool stopping_ = false;  // guarded by state_mu_
  std::thread thread_;

  std::mutex catalog_mu_;
  std::shared_ptr<const content::PageProducts> catalog_;  // guarded by catalog_mu_
  int64_t catalog_read_micros_ = 0;                       // guarded by catalog_mu_
};

}  // namespace tieup
