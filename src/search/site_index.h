// SiteIndex: the full-text index of the pages one site serves (its search engine), a Xapian
// database in a folder of the site directory.
//
// The index knows pages, not HTML: the caller extracts each page's title, headings, text and the
// products it offers (site/site_search.h does, from the served view). Every page is one document
// named by its path, holding the page's `version` (what the caller uses to tell whether the page
// changed: a content hash); Apply replaces or removes documents and commits once, so a one-page
// change costs one document and one commit, whatever the site's size.
//
// Languages: words are stemmed in one language (English by default, Xapian's Snowball stemmers)
// and text in Chinese, Japanese or Korean, written without spaces, is indexed and searched as
// overlapping character n-grams (Xapian's CJK n-gram mode), so "玉露" finds a page that says
// "香り高い玉露です". Titles weigh five times the text and headings twice.
//
// Searching: the visitor's words are parsed leniently (phrases in quotes, +must and -must-not,
// a trailing * for a prefix, OR, AND and NOT in capitals; anything that does not parse is searched
// as plain words), every word must match (AND), results come with a snippet of the page's text
// around the matches (HTML-escaped by Xapian, matches in <mark>) and, when nothing was found and a
// word looks misspelled, a corrected query that does find pages ("did you mean"; from the words of
// the indexed pages).
//
// The database is opened by one writer (the thread that calls Apply) and any number of readers:
// Search may run on any thread, concurrently with Apply, and sees the last commit. Files are
// written by Xapian itself (not through Env): the index is derived data, rebuilt from the
// served content when it is missing or damaged (Open says DataLoss; Recreate starts afresh).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace Xapian {
class WritableDatabase;
class Database;
}  // namespace Xapian

namespace tieup::search {

// A product a page offers (the site's catalog).
struct IndexedProduct {
  std::string sku;
  std::string title;
  std::string category;
  int64_t price_minor = -1;   // -1: unknown
  int currency_exponent = 0;  // 2 for EUR: price bands are in major units
};

// One page as the index takes it.
struct IndexedPage {
  std::string path;     // "/products/gyokuro.html": the document's name
  std::string area;     // "tieup" or "original": filterable
  std::string version;  // the caller's identity of this content (a hash); kept, never parsed
  std::string title;
  std::vector<std::string> headings;  // weighed once more than the text, which has them too
  std::string text;  // the page's readable text (its headings where they stand, not its title)
  std::vector<IndexedProduct> products;
};

struct SiteIndexOptions {
  // A Snowball stemmer's name ("english", "french", ...; "none": no stemming).
  std::string stemming_language = "english";
  // How much of each page's text is kept in the index for snippets (bytes, cut at a character).
  size_t stored_text_bytes = 16 * 1024;
};

// Words longer than this (bytes) are refused by Search (the page says so).
inline constexpr size_t kMaxQueryBytes = 200;

struct SearchQuery {
  std::string words;       // as the visitor typed them (UTF-8)
  std::string area;        // "" for every area, or "tieup" / "original"
  std::string price_band;  // "" or a band of PriceBand()
  size_t offset = 0;       // results to skip (paging)
  size_t limit = 10;       // results to return (at most 100)
};

struct SearchHit {
  std::string path;
  std::string area;
  std::string title;
  std::string snippet_html;       // HTML-escaped text with the matches in <mark>...</mark>
  std::vector<std::string> skus;  // the products the page offers (as indexed)
  int percent = 0;                // Xapian's relevance, 0..100
};

struct SearchAnswer {
  uint64_t total = 0;           // pages matching (Xapian's estimate; exact below ~1,000)
  std::vector<SearchHit> hits;  // query.offset .. offset + limit of them, best first
  std::string did_you_mean;     // when nothing matched: a correction that finds pages, or ""
};

// OK when `language` names a stemmer ("english", "none", ...); InvalidArgument naming it otherwise.
Status CheckStemmingLanguage(const std::string& language);

// The price band of a price in major units, for filtering ("under-10", "10-50", "50-100",
// "100-500", "500-1000", "1000-5000", "5000-10000", "10000-and-over"); "" for an unknown price.
std::string PriceBand(int64_t price_minor, int currency_exponent);

class SiteIndex {
 public:
  // Opens the index in folder `dir`, creating it when it does not exist. DataLoss when what is
  // there cannot be read as an index of this format (damaged, or of another tieup version): the
  // caller then calls Recreate and indexes every page again. Unavailable when another process
  // holds the index open for writing.
  static Result<std::unique_ptr<SiteIndex>> Open(const std::string& dir,
                                                 SiteIndexOptions options = {});
  // Removes whatever is at `dir` and creates an empty index there.
  static Result<std::unique_ptr<SiteIndex>> Recreate(const std::string& dir,
                                                     SiteIndexOptions options = {});
  ~SiteIndex();
  SiteIndex(const SiteIndex&) = delete;
  SiteIndex& operator=(const SiteIndex&) = delete;

  // The version of every indexed page, by path (read at Open, kept current by Apply). Only for
  // the writer's thread.
  const std::map<std::string, std::string>& versions() const { return versions_; }

  // Adds (or replaces) `pages` and removes the documents at `removed`, in one commit. `state`
  // is stored with the commit (the caller's note of what the index now reflects; see state()).
  // Writer only. On an error nothing of the call is kept (the index is as before).
  Status Apply(const std::vector<IndexedPage>& pages, const std::vector<std::string>& removed,
               std::string_view state = {});
  // Closes the writer (releasing the index's lock, so that Recreate may replace it); Apply then
  // fails. Writer only.
  void Close();
  // The `state` of the last commit ("" for a new index).
  std::string state() const;

  // Searches the last committed index. InvalidArgument when the words are longer than
  // kMaxQueryBytes or not UTF-8; empty words give an empty answer. Thread-safe.
  Result<SearchAnswer> Search(const SearchQuery& query) const;

  // Documents in the last commit. Thread-safe.
  uint64_t document_count() const;
  // Bytes of the index's files on disk.
  uint64_t disk_bytes() const;
  const std::string& dir() const { return dir_; }

 private:
  SiteIndex(std::string dir, SiteIndexOptions options);
  Status LoadVersions();
  // A reader on the last commit, from the pool (opened or reopened as needed); `*generation`
  // is set to the commit count it reflects, to give back with it.
  std::unique_ptr<Xapian::Database> AcquireReader(uint64_t* generation) const;
  void ReleaseReader(uint64_t generation, std::unique_ptr<Xapian::Database> reader) const;

  const std::string dir_;
  const SiteIndexOptions options_;
  std::unique_ptr<Xapian::WritableDatabase> writer_;
  std::map<std::string, std::string> versions_;
  // Readers for Search (Xapian's database objects are not thread-safe: one per search at a
  // time). `generation_` counts commits; a reader older than it is reopened before use.
  mutable std::mutex readers_mu_;
  mutable std::vector<std::pair<uint64_t, std::unique_ptr<Xapian::Database>>> readers_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<uint64_t> documents_{0};
};

}  // namespace tieup::search
