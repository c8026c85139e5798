#include "site/site_search.h"

#include <algorithm>
#include <boost/json.hpp>
#include <boost/url.hpp>
#include <charconv>
#include <optional>

#include "base/encoding.h"
#include "base/money_format.h"
#include "ledger/records.h"
#include "site/page_text.h"

namespace tieup {

// The site's built-in page templates (templates/*.mustache; cmake/TieupEmbed.cmake).
const content::EmbeddedTemplates& EmbeddedSiteTemplates();

namespace {

namespace json = boost::json;

constexpr std::string_view kSearchPath = "/search";
constexpr std::string_view kGoPath = "/search/go";
constexpr size_t kMaxPage = 100;

// The index's note of the view it reflects (for people reading the index's metadata).
std::string StateOf(const content::SiteView& view) {
  return "tieup=" + std::to_string(view.version(content::Area::kTieup)) +
         " original=" + std::to_string(view.version(content::Area::kOriginal));
}

bool Indexable(const content::ServedFile& f, const content::SiteView& view) {
  return f.content_type.starts_with("text/html") && !f.unavailable &&
         f.method != content::UpdateMethod::kLink && !f.path.starts_with("/.tieup/") &&
         &f != view.not_found_page();
}

std::string Field(const content::PageProduct& p, const char* name) {
  auto it = p.find(name);
  return it == p.end() ? std::string() : it->second;
}

search::IndexedProduct ProductOf(const std::string& sku, const content::PageProduct& p) {
  search::IndexedProduct out;
  out.sku = sku;
  out.title = Field(p, "title");
  out.category = Field(p, "category");
  const std::string minor = Field(p, "price_minor");
  int64_t v = -1;
  if (!minor.empty()) {
    auto [end, ec] = std::from_chars(minor.data(), minor.data() + minor.size(), v);
    if (ec != std::errc() || end != minor.data() + minor.size()) v = -1;
  }
  out.price_minor = v;
  const std::string currency = Field(p, "currency");
  out.currency_exponent = currency.empty() ? 0 : CurrencyExponent(currency);
  return out;
}

// The query's parameters as an HTML form sends them ('+' is a space: "?q=matcha+latte"),
// decoded by Boost.URL; nullopt when the query is not valid. The view refers to `query`.
std::optional<boost::urls::params_view> FormParams(std::string_view query) {
  try {
    return boost::urls::params_view(query, boost::urls::encoding_opts(/*space_as_plus=*/true));
  } catch (const boost::system::system_error&) {
    return std::nullopt;
  }
}

// The query string's value of `name` (percent-decoded), or "".
std::string Param(const boost::urls::params_view& params, std::string_view name) {
  auto it = params.find(name);
  if (it == params.end()) return "";
  return std::string((*it).value);
}

std::string SearchUrl(std::string_view words, size_t page, std::string_view area,
                      std::string_view band) {
  boost::urls::url u(kSearchPath);
  u.params().append({"q", words});
  if (!area.empty()) u.params().append({"area", area});
  if (!band.empty()) u.params().append({"band", band});
  if (page > 1) u.params().append({"page", std::to_string(page)});
  return std::string(u.buffer());
}

std::string GoUrl(std::string_view path, std::string_view words) {
  boost::urls::url u(kGoPath);
  u.params().append({"to", path});
  u.params().append({"q", words});
  return std::string(u.buffer());
}

}  // namespace

// The search pages (GET /search, /search/go).
class SiteSearch::Pages : public HttpHandler {
 public:
  Pages(SiteSearch& search, content::PageSite layout)
      : search_(search), templates_(EmbeddedSiteTemplates(), std::move(layout)) {}

  std::string_view AllowedMethods() const override { return "GET, HEAD"; }

  void Handle(const HttpRequest& request, HttpResponder responder) override {
    HttpResponse r = request.path() == kGoPath ? Go(request) : Results(request);
    r.AddHeader("Cache-Control", "no-store");
    r.area = search_.response_area_;
    responder.Respond(std::move(r));
  }

 private:
  HttpResponse Page(int status, const std::string& title, json::object data) {
    auto page = templates_.Render("search", {title}, data);
    if (!page.ok()) return HttpResponse::Text(500, "The search page could not be shown.\n");
    return HttpResponse::Html(status, std::move(*page));
  }

  HttpResponse Problem(int status, std::string_view words, std::string message) {
    json::object data;
    data["query"] = IsValidUtf8(words) ? std::string(words) : SanitizeUtf8(words);
    data["problem"] = std::move(message);
    return Page(status, "Search", std::move(data));
  }

  HttpResponse Results(const HttpRequest& request) {
    if (request.path() != kSearchPath) {
      return Problem(404, "", "There is no page at this address. Search the shop instead.");
    }
    const std::optional<boost::urls::params_view> params = FormParams(request.query());
    if (!params) {
      return Problem(400, "",
                     "The search could not be read from this address. Type your words in the "
                     "search box instead.");
    }
    const std::string words = Param(*params, "q");
    const std::string area = Param(*params, "area");
    const std::string band = Param(*params, "band");
    if (!IsValidUtf8(words)) {
      return Problem(400, words,
                     "Your search has characters that could not be read. Type it again in the "
                     "search box.");
    }
    if (words.size() > search::kMaxQueryBytes) {
      return Problem(400, words.substr(0, search::kMaxQueryBytes / 2),
                     "Your search is too long: use at most " +
                         std::to_string(search::kMaxQueryBytes) +
                         " characters (a few words work best).");
    }
    if (!area.empty() && area != "tieup" && area != "original") {
      return Problem(400, words, "There is no such part of the site to search in.");
    }
    size_t page = 1;
    const std::string page_text = Param(*params, "page");
    if (!page_text.empty()) {
      auto [end, ec] = std::from_chars(page_text.data(), page_text.data() + page_text.size(), page);
      if (ec != std::errc() || end != page_text.data() + page_text.size() || page < 1 ||
          page > kMaxPage) {
        return Problem(400, words,
                       "There is no such page of results: pages go from 1 to " +
                           std::to_string(kMaxPage) + ".");
      }
    }
    json::object data;
    data["query"] = words;
    if (words.find_first_not_of(" \t\r\n") == std::string::npos) {
      data["empty"] = true;
      return Page(200, "Search", std::move(data));
    }
    search::SearchQuery q;
    q.words = words;
    q.area = area;
    q.price_band = band;
    q.limit = search_.options_.results_per_page;
    q.offset = (page - 1) * q.limit;
    std::shared_ptr<const search::SiteIndex> index = search_.index();
    if (index == nullptr) {
      HttpResponse r = Problem(503, words,
                               "Search is starting: the site's pages are being indexed. Please "
                               "try again in a minute.");
      r.AddHeader("Retry-After", "30");
      return r;
    }
    Result<search::SearchAnswer> answer = index->Search(q);
    if (!answer.ok()) {
      search_.logger_->warn("search: '{}': {}", SanitizeUtf8(words), answer.status().ToString());
      return Problem(503, words,
                     "Search is not available for a moment. Please try again in a minute.");
    }
    if (page == 1 && request.method() == "GET" && search_.access_log_ != nullptr) {
      ledger::SearchRecord record;
      record.time_micros = search_.env_.NowMicros();
      record.query = words;
      record.results = answer->total;
      search_.access_log_->Record(std::move(record));
    }
    std::shared_ptr<const content::PageProducts> catalog = search_.Catalog();
    json::array results;
    for (const search::SearchHit& hit : answer->hits) {
      json::object r;
      r["url"] = GoUrl(hit.path, words);
      r["path"] = hit.path;
      r["title"] = hit.title.empty() ? hit.path : hit.title;
      r["snippet"] = hit.snippet_html;  // escaped by Xapian (search/site_index.h)
      r["original"] = hit.area == "original";
      if (catalog != nullptr) {
        for (const std::string& sku : hit.skus) {
          auto p = catalog->find(sku);
          if (p == catalog->end()) continue;
          r["product"] = true;
          r["sku"] = sku;
          r["price"] = Field(p->second, "price");
          r["stock_state"] = Field(p->second, "stock_state");
          r["in_stock"] = !Field(p->second, "in_stock").empty();
          break;
        }
      }
      results.push_back(std::move(r));
    }
    const size_t per_page = q.limit;
    const size_t pages = std::min<size_t>(kMaxPage, (answer->total + per_page - 1) / per_page);
    data["total"] = answer->total;
    data["total_text"] = answer->total == 1 ? std::string("1 page found")
                                            : std::to_string(answer->total) + " pages found";
    data["has_results"] = !results.empty();
    data["none"] = answer->total == 0;
    data["beyond"] = answer->total > 0 && results.empty();
    data["first_url"] = SearchUrl(words, 1, area, band);
    data["results"] = std::move(results);
    data["first"] = q.offset + 1;
    data["last"] = q.offset + answer->hits.size();
    if (!answer->did_you_mean.empty()) {
      data["did_you_mean"] = answer->did_you_mean;
      data["did_you_mean_url"] = SearchUrl(answer->did_you_mean, 1, area, band);
    }
    if (pages > 1) {
      json::array links;
      for (size_t n = 1; n <= pages; ++n) {
        // The first, the last and those near this one; "..." marks the gaps.
        if (n != 1 && n != pages && (n + 3 < page || n > page + 3)) {
          if (links.empty() || !links.back().as_object().contains("gap")) {
            links.push_back(json::object{{"gap", true}});
          }
          continue;
        }
        links.push_back(json::object{{"link", true},
                                     {"number", n},
                                     {"url", SearchUrl(words, n, area, band)},
                                     {"current", n == page}});
      }
      data["pages"] = std::move(links);
      data["has_pages"] = true;
      if (page > 1) data["prev_url"] = SearchUrl(words, page - 1, area, band);
      if (page < pages) data["next_url"] = SearchUrl(words, page + 1, area, band);
    }
    if (!area.empty()) data[area == "tieup" ? "in_tieup" : "in_original"] = true;
    data["all_url"] = SearchUrl(words, 1, "", band);
    data["tieup_url"] = SearchUrl(words, 1, "tieup", band);
    data["original_url"] = SearchUrl(words, 1, "original", band);
    return Page(200, "Search: " + words, std::move(data));
  }

  HttpResponse Go(const HttpRequest& request) {
    std::string to, words;
    if (const std::optional<boost::urls::params_view> params = FormParams(request.query())) {
      to = Param(*params, "to");
      words = Param(*params, "q");
    }
    // Only a page this site serves: never a redirect elsewhere.
    std::shared_ptr<const content::SiteView> view = search_.content_.view();
    const content::ServedFile* file =
        view != nullptr && to.starts_with("/") && !to.starts_with("//") ? view->Find(to) : nullptr;
    if (file == nullptr || !Indexable(*file, *view)) {
      return Problem(404, "",
                     "That page is not on this site any more. Search again to find what "
                     "you were looking for.");
    }
    if (request.method() == "GET" && search_.access_log_ != nullptr &&
        words.size() <= search::kMaxQueryBytes && IsValidUtf8(words)) {
      ledger::SearchRecord record;
      record.time_micros = search_.env_.NowMicros();
      record.query = words;
      record.clicked_path = to;
      record.clicked_area = file->area == content::Area::kTieup ? ledger::RecordArea::kTieup
                                                                : ledger::RecordArea::kOriginal;
      search_.access_log_->Record(std::move(record));
    }
    HttpResponse r = HttpResponse::Text(303, "See " + to + "\n");
    r.AddHeader("Location", to);
    return r;
  }

  SiteSearch& search_;
  content::PageTemplates templates_;
};

SiteSearch::SiteSearch(Env& env, SiteContent& content, ledger::AccessLogWriter* access_log,
                       std::shared_ptr<Logger> logger, SiteSearchOptions options)
    : env_(env),
      content_(content),
      access_log_(access_log),
      logger_(logger ? std::move(logger) : NewNullLogger()),
      options_(std::move(options)) {}

SiteSearch::~SiteSearch() { Stop(); }

Result<std::unique_ptr<SiteSearch>> SiteSearch::Open(Env& env, const std::string& site_dir,
                                                     SiteContent& content,
                                                     ledger::AccessLogWriter* access_log,
                                                     std::shared_ptr<Logger> logger,
                                                     content::PageSite layout,
                                                     SiteSearchOptions options) {
  std::unique_ptr<SiteSearch> s(
      new SiteSearch(env, content, access_log, std::move(logger), std::move(options)));
  s->dir_ = site_dir + "/search";
  RETURN_IF_ERROR(search::CheckStemmingLanguage(s->options_.language));
  s->pages_ = std::make_shared<Pages>(*s, std::move(layout));
  return s;
}

void SiteSearch::SetCatalog(SearchCatalog catalog) { catalog_source_ = std::move(catalog); }

std::shared_ptr<HttpHandler> SiteSearch::handler() { return pages_; }

std::shared_ptr<const content::PageProducts> SiteSearch::Catalog() {
  if (!catalog_source_) return nullptr;
  std::lock_guard<std::mutex> lock(catalog_mu_);
  const int64_t now = env_.NowMicros();
  if (catalog_ == nullptr || now < catalog_read_micros_ ||
      now - catalog_read_micros_ >= options_.catalog_refresh_seconds * 1'000'000) {
    auto read = catalog_source_();
    if (read.ok()) {
      catalog_ = *read;
      catalog_read_micros_ = now;
    } else {
      logger_->warn("search: reading the catalog: {}", read.status().message());
    }
  }
  return catalog_;
}

Result<SearchIndexPass> SiteSearch::CatchUp() {
  std::lock_guard<std::mutex> lock(index_mu_);
  return CatchUpLocked();
}

Status SiteSearch::OpenIndexLocked() {
  if (index_ != nullptr) return Status::Ok();
  if (!index_lock_) {
    ASSIGN_OR_RETURN(SiteLock lock,
                     SiteLock::AcquireFile(dir_ + ".lock",
                                           "another process of this site keeps its search index "
                                           "(" +
                                               dir_ + ")",
                                           0));
    index_lock_.emplace(std::move(lock));
  }
  search::SiteIndexOptions io;
  io.stemming_language = options_.language;
  auto index = search::SiteIndex::Open(dir_, io);
  if (!index.ok() && index.status().code() == StatusCode::kDataLoss) {
    logger_->warn("search: {}; building it again", index.status().message());
    index = search::SiteIndex::Recreate(dir_, io);
  }
  if (!index.ok()) return index.status().Annotate("opening the site's search index");
  std::atomic_store(&index_, std::shared_ptr<search::SiteIndex>(std::move(*index)));
  return Status::Ok();
}

Result<SearchIndexPass> SiteSearch::CatchUpLocked() {
  RETURN_IF_ERROR(OpenIndexLocked());
  SearchIndexPass pass;
  const int64_t start = env_.NowMicros();
  std::shared_ptr<const content::SiteView> view = content_.view();
  if (view == nullptr) return pass;
  // What differs, by one walk over the view and the index's versions together (both ordered
  // by path): nothing is allocated for the pages that did not change.
  const std::map<std::string, std::string>& indexed = index_->versions();
  std::vector<const content::ServedFile*> changed;
  std::vector<std::string> removed;
  auto known = indexed.begin();
  for (const auto& [path, file] : view->files()) {
    if (!Indexable(file, *view)) continue;
    for (; known != indexed.end() && known->first < path; ++known) removed.push_back(known->first);
    const bool same = known != indexed.end() && known->first == path;
    if (same && known->second == file.hash) {
      ++known;
      continue;
    }
    if (same) ++known;
    // A page that asked not to be indexed is read again only when it changes.
    if (auto n = noindex_.find(path); n != noindex_.end() && n->second == file.hash) {
      if (same) removed.push_back(path);
      continue;
    }
    changed.push_back(&file);
  }
  for (; known != indexed.end(); ++known) removed.push_back(known->first);

  // The catalog only when pages are to be read (an idle pass, the common one, reads nothing).
  std::shared_ptr<const content::PageProducts> catalog = changed.empty() ? nullptr : Catalog();
  // Products by the page that presents them (a catalog product's page_path).
  std::map<std::string, std::vector<std::string>, std::less<>> skus_by_page;
  if (catalog != nullptr) {
    for (const auto& [sku, fields] : *catalog) {
      const std::string page = Field(fields, "page_path");
      if (!page.empty()) skus_by_page[page].push_back(sku);
    }
  }

  // Read and indexed in commits of kPagesPerCommit pages: Xapian holds a commit's changes in
  // memory, so a first build of a large site must not be one commit. A crash between commits
  // leaves pages that the next pass finds changed and indexes.
  constexpr size_t kPagesPerCommit = 1000;
  Status applied;
  size_t done = 0;
  uint64_t indexed_pages = 0;
  while (applied.ok() && (done < changed.size() || done == 0)) {
    const size_t end = std::min(changed.size(), done + kPagesPerCommit);
    std::vector<search::IndexedPage> pages;
    std::vector<std::string> also_removed;
    for (size_t i = done; i < end; ++i) {
      const content::ServedFile& file = *changed[i];
      auto body = view->ReadBody(file);
      if (!body.ok()) {
        // Answered 503 until repaired (then indexed again): out of the results meanwhile.
        if (indexed.count(file.path) != 0) also_removed.push_back(file.path);
        continue;
      }
      PageText text = ReadPageText(**body);
      if (text.noindex) {
        noindex_[file.path] = file.hash;
        if (indexed.count(file.path) != 0) also_removed.push_back(file.path);
        continue;
      }
      noindex_.erase(file.path);
      search::IndexedPage page;
      page.path = file.path;
      page.area = std::string(content::AreaName(file.area));
      page.version = file.hash;
      page.title = std::move(text.title);
      page.headings = std::move(text.headings);
      page.text = std::move(text.text);
      if (catalog != nullptr) {
        std::vector<std::string> skus = std::move(text.skus);
        if (auto it = skus_by_page.find(file.path); it != skus_by_page.end()) {
          for (const std::string& sku : it->second) {
            if (std::find(skus.begin(), skus.end(), sku) == skus.end()) skus.push_back(sku);
          }
        }
        for (const std::string& sku : skus) {
          auto p = catalog->find(sku);
          if (p != catalog->end()) page.products.push_back(ProductOf(sku, p->second));
        }
      }
      pages.push_back(std::move(page));
    }
    const bool last = end >= changed.size();
    if (last) also_removed.insert(also_removed.end(), removed.begin(), removed.end());
    applied = index_->Apply(pages, also_removed, last ? StateOf(*view) : index_->state());
    if (applied.ok()) {
      indexed_pages += pages.size();
      pass.removed += also_removed.size();
      if (!last) {
        logger_->info("search: indexing the site's pages: {} of {}", end, changed.size());
      }
    }
    done = end;
    if (last) break;
  }
  if (!applied.ok() && applied.code() == StatusCode::kDataLoss) {
    // Damaged while open (a file overwritten, say): start afresh; the next pass fills it.
    logger_->warn("search: {}; building it again", applied.message());
    search::SiteIndexOptions io;
    io.stemming_language = options_.language;
    index_->Close();  // its lock must go before the folder is made afresh
    ASSIGN_OR_RETURN(std::unique_ptr<search::SiteIndex> fresh,
                     search::SiteIndex::Recreate(dir_, io));
    std::atomic_store(&index_, std::shared_ptr<search::SiteIndex>(std::move(fresh)));
    ASSIGN_OR_RETURN(SearchIndexPass again, CatchUpLocked());
    again.rebuilt = true;
    return again;
  }
  RETURN_IF_ERROR(applied);
  pass.indexed = indexed_pages;
  pass.documents = index_->document_count();
  pass.micros = env_.NowMicros() - start;
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    indexed_view_ = view;
  }
  state_cv_.notify_all();
  return pass;
}

void SiteSearch::Start() {
  std::lock_guard<std::mutex> lock(state_mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  wake_ = true;
  thread_ = std::thread([this] { Run(); });
}

void SiteSearch::Stop() {
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    stopping_ = true;
  }
  state_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void SiteSearch::ViewLoaded() {
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    wake_ = true;
  }
  state_cv_.notify_all();
}

void SiteSearch::Run() {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(state_mu_);
      state_cv_.wait(lock, [this] { return wake_ || stopping_; });
      if (stopping_) return;
      wake_ = false;
    }
    Result<SearchIndexPass> pass = CatchUp();
    if (!pass.ok()) {
      logger_->warn("search: indexing the served pages: {}", pass.status().ToString());
    } else if (pass->indexed + pass->removed > 0) {
      logger_->info("search: {} page(s) indexed, {} removed, {} in the index ({} ms){}",
                    pass->indexed, pass->removed, pass->documents, pass->micros / 1000,
                    pass->rebuilt ? " (rebuilt)" : "");
    }
  }
}

Status SiteSearch::WaitUntilCurrent(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(state_mu_);
  const bool current = state_cv_.wait_for(lock, timeout, [this] {
    std::shared_ptr<const content::SiteView> served = content_.view();
    return served == nullptr || indexed_view_ == served;
  });
  if (!current) {
    return Status::DeadlineExceeded("the search index does not reflect the served pages yet");
  }
  return Status::Ok();
}

}  // namespace tieup
