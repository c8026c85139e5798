#include "search/site_index.h"

#include <xapian.h>

#include <algorithm>
#include <boost/json.hpp>
#include <filesystem>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "base/encoding.h"
#include "crypto/hash.h"

namespace tieup::search {
namespace json = boost::json;
namespace {

// The format of the documents (terms, values, data). Another number: Open says DataLoss, and
// the caller builds the index again.
constexpr std::string_view kSchemaKey = "tieup.schema";
// 2: each page's text for snippets in a value slot, no longer in the document's data (Xapian
// compresses the data: reading it took a quarter of a search in bench/search); the text has the
// headings where they stand, which are weighed 1 apart (no longer 2).
constexpr std::string_view kSchema = "2";
constexpr std::string_view kStateKey = "tieup.state";

constexpr Xapian::valueno kPathSlot = 0;
constexpr Xapian::valueno kVersionSlot = 1;
constexpr Xapian::valueno kTextSlot = 2;  // the page's text (its first stored_text_bytes)

// Term prefixes (Xapian's conventions: Q for the unique id, X... for the caller's own).
constexpr std::string_view kIdPrefix = "Q";
constexpr std::string_view kTitlePrefix = "S";
constexpr std::string_view kAreaPrefix = "XA";
constexpr std::string_view kSkuPrefix = "XS";
constexpr std::string_view kBandPrefix = "XP";
constexpr std::string_view kKindPrefix = "XK";

// Xapian's terms hold at most 245 bytes: a long path is named by its hash instead.
std::string IdTerm(std::string_view path) {
  if (path.size() <= 200) return std::string(kIdPrefix) + std::string(path);
  return std::string(kIdPrefix) + "#" + Sha256Hex(path);
}

// `text` cut to at most `bytes`, at a UTF-8 character boundary.
std::string CutUtf8(std::string_view text, size_t bytes) {
  if (text.size() <= bytes) return std::string(text);
  size_t end = bytes;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return std::string(text.substr(0, end));
}

Xapian::Stem StemmerFor(const std::string& language) {
  if (language.empty() || language == "none") return Xapian::Stem();
  return Xapian::Stem(language);
}

std::string Lower(std::string_view s) { return LowerAscii(s); }

// The query a visitor's words make, and the words with misspellings corrected when asked for
// (`extra` has FLAG_SPELLING_CORRECTION; "" when nothing was corrected).
struct ParsedWords {
  Xapian::Query query;
  std::string corrected;
};

// `words` read with `rich` flags (operators, phrases, wildcards) or, when Xapian cannot read them
// so (a visitor's stray quote or operator), with `plain` flags.
//
// Xapian 1.4.22 (Debian 12; fixed in 1.4.25) fails with FLAG_CJK_NGRAM, whatever the other
// flags, on words where CJK text stands between a space and more words ("tea 和菓子 gift"), and
// then, when FLAG_BOOLEAN found an operator out of place too ("OR tea 和菓子 gift"), leaks 96
// bytes a search. So the words are first read as plain words, which fail only so (and do not
// leak); such words are read one by one (one word alone is never such), as plain words.
ParsedWords ParseLeniently(Xapian::QueryParser& parser, const std::string& words, unsigned rich,
                           unsigned plain, unsigned extra) {
  const bool spelling = (extra & Xapian::QueryParser::FLAG_SPELLING_CORRECTION) != 0;
  auto parse = [&](const std::string& text, unsigned flags) -> std::optional<ParsedWords> {
    try {
      ParsedWords out{parser.parse_query(text, flags | extra), ""};
      if (spelling) out.corrected = parser.get_corrected_query_string();
      return out;
    } catch (const Xapian::QueryParserError&) {
      return std::nullopt;
    }
  };
  if (std::optional<ParsedWords> as_plain = parse(words, plain)) {
    std::optional<ParsedWords> as_rich = parse(words, rich);
    return as_rich ? *as_rich : *as_plain;
  }
  // Split where Xapian itself sees white space (U+3000, the ideographic space, included).
  std::vector<std::string> split(1);
  for (Xapian::Utf8Iterator it(words); it != Xapian::Utf8Iterator(); ++it) {
    if (Xapian::Unicode::is_whitespace(*it)) {
      if (!split.back().empty()) split.emplace_back();
    } else {
      Xapian::Unicode::append_utf8(split.back(), *it);
    }
  }
  // Read so, the words lose their operators but one: "-tea" still leaves out pages with "tea".
  std::vector<Xapian::Query> required;
  std::vector<Xapian::Query> excluded;
  std::string corrected;
  bool any_corrected = false;
  for (const std::string& word : split) {
    if (word.empty()) continue;
    const bool exclude = word.size() > 1 && word.front() == '-';
    std::optional<ParsedWords> part = parse(exclude ? word.substr(1) : word, plain);
    if (!part) throw Xapian::QueryParserError("the word '" + word + "' cannot be read");
    // A word of no letters ("!!!") makes no query; in an AND it would match nothing.
    if (!part->query.empty()) (exclude ? excluded : required).push_back(part->query);
    any_corrected = any_corrected || !part->corrected.empty();
    const std::string shown = part->corrected.empty() ? word
                              : exclude               ? "-" + part->corrected
                                                      : part->corrected;
    corrected += (corrected.empty() ? "" : " ") + shown;
  }
  Xapian::Query query(Xapian::Query::OP_AND, required.begin(), required.end());
  if (!excluded.empty()) {
    query = Xapian::Query(Xapian::Query::OP_AND_NOT, query,
                          Xapian::Query(Xapian::Query::OP_OR, excluded.begin(), excluded.end()));
  }
  return {query, any_corrected ? corrected : ""};
}

Status FromXapian(const Xapian::Error& e, std::string_view doing, const std::string& dir) {
  const std::string what =
      std::string(doing) + " the search index " + dir + ": " + e.get_type() + ": " + e.get_msg();
  const std::string type = e.get_type();
  if (type == "DatabaseCorruptError" || type == "DatabaseVersionError" ||
      type == "DatabaseOpeningError" || type == "DatabaseNotFoundError") {
    return Status::DataLoss(what + " (it is rebuilt from the served pages)");
  }
  if (type == "DatabaseLockError") {
    return Status::Unavailable(what + " (another process of this site has it open)");
  }
  return Status::IOError(what);
}

}  // namespace

std::string PriceBand(int64_t price_minor, int currency_exponent) {
  if (price_minor < 0) return "";
  int64_t major = price_minor;
  for (int i = 0; i < currency_exponent && major > 0; ++i) major /= 10;
  if (major < 10) return "under-10";
  if (major < 50) return "10-50";
  if (major < 100) return "50-100";
  if (major < 500) return "100-500";
  if (major < 1000) return "500-1000";
  if (major < 5000) return "1000-5000";
  if (major < 10000) return "5000-10000";
  return "10000-and-over";
}

SiteIndex::SiteIndex(std::string dir, SiteIndexOptions options)
    : dir_(std::move(dir)), options_(std::move(options)) {}

SiteIndex::~SiteIndex() { Close(); }

void SiteIndex::Close() {
  if (!writer_) return;
  try {
    writer_->close();
  } catch (const Xapian::Error&) {
    // Closing an index whose last commit is on disk: nothing is lost.
  }
  writer_.reset();
}

Status CheckStemmingLanguage(const std::string& language) {
  try {
    StemmerFor(language);
  } catch (const Xapian::Error&) {
    return Status::InvalidArgument("search: there is no stemmer for the language '" + language +
                                   "' (use e.g. english, french, german, or none)");
  }
  return Status::Ok();
}

Result<std::unique_ptr<SiteIndex>> SiteIndex::Open(const std::string& dir,
                                                   SiteIndexOptions options) {
  // The stemmer's name is checked before anything is opened: a bad [search] language is the
  // manager's configuration error, not damage.
  RETURN_IF_ERROR(CheckStemmingLanguage(options.stemming_language));
  std::unique_ptr<SiteIndex> index(new SiteIndex(dir, std::move(options)));
  // Owner-only, as all site data (Xapian would make the folder with the umask's mode).
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (!ec) {
    std::filesystem::permissions(dir, std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::replace, ec);
  }
  if (ec) return Status::IOError("making the search index folder " + dir + ": " + ec.message());
  try {
    index->writer_ = std::make_unique<Xapian::WritableDatabase>(dir, Xapian::DB_CREATE_OR_OPEN);
    const std::string schema = index->writer_->get_metadata(std::string(kSchemaKey));
    if (schema.empty() && index->writer_->get_doccount() == 0) {
      index->writer_->set_metadata(std::string(kSchemaKey), std::string(kSchema));
      index->writer_->commit();
    } else if (schema != kSchema) {
      return Status::DataLoss("the search index " + dir + " has format '" + schema +
                              "', not this version's '" + std::string(kSchema) +
                              "' (it is rebuilt from the served pages)");
    }
  } catch (const Xapian::Error& e) {
    return FromXapian(e, "opening", dir);
  }
  RETURN_IF_ERROR(index->LoadVersions());
  return index;
}

Result<std::unique_ptr<SiteIndex>> SiteIndex::Recreate(const std::string& dir,
                                                       SiteIndexOptions options) {
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  if (ec) {
    return Status::IOError("removing the damaged search index " + dir + ": " + ec.message());
  }
  return Open(dir, std::move(options));
}

Status SiteIndex::LoadVersions() {
  // Every document's path and version, read from the value streams (no document is loaded):
  // also the check that the index can be read at all.
  try {
    std::map<Xapian::docid, std::string> paths;
    for (auto it = writer_->valuestream_begin(kPathSlot); it != writer_->valuestream_end(kPathSlot);
         ++it) {
      paths.emplace(it.get_docid(), *it);
    }
    versions_.clear();
    for (auto it = writer_->valuestream_begin(kVersionSlot);
         it != writer_->valuestream_end(kVersionSlot); ++it) {
      auto p = paths.find(it.get_docid());
      if (p != paths.end()) versions_[p->second] = *it;
    }
    documents_ = writer_->get_doccount();
    if (versions_.size() != documents_) {
      return Status::DataLoss("the search index " + dir_ + " has " +
                              std::to_string(documents_.load()) + " documents but " +
                              std::to_string(versions_.size()) +
                              " named pages (it is rebuilt from the served pages)");
    }
  } catch (const Xapian::Error& e) {
    return FromXapian(e, "reading", dir_);
  }
  return Status::Ok();
}

Status SiteIndex::Apply(const std::vector<IndexedPage>& pages,
                        const std::vector<std::string>& removed, std::string_view state) {
  if (!writer_) return Status::FailedPrecondition("the search index " + dir_ + " is closed");
  if (pages.empty() && removed.empty() && state == this->state()) return Status::Ok();
  const Xapian::Stem stemmer = StemmerFor(options_.stemming_language);
  try {
    writer_->begin_transaction();
    try {
      Xapian::TermGenerator terms;
      terms.set_stemmer(stemmer);
      terms.set_stemming_strategy(Xapian::TermGenerator::STEM_SOME);
      terms.set_flags(Xapian::TermGenerator::FLAG_CJK_NGRAM | Xapian::TermGenerator::FLAG_SPELLING);
      terms.set_database(*writer_);
      for (const IndexedPage& page : pages) {
        Xapian::Document doc;
        terms.set_document(doc);
        const std::string id = IdTerm(page.path);
        doc.add_boolean_term(id);
        doc.add_boolean_term(std::string(kAreaPrefix) + page.area);
        doc.add_value(kPathSlot, page.path);
        doc.add_value(kVersionSlot, page.version);
        doc.add_value(kTextSlot, CutUtf8(page.text, options_.stored_text_bytes));
        terms.index_text(page.title, 5);
        terms.index_text(page.title, 1, std::string(kTitlePrefix));
        terms.increase_termpos();
        // Headings weigh 2 as a word of the text: once here, once in the text where they stand.
        for (const std::string& h : page.headings) {
          terms.index_text(h, 1);
          terms.increase_termpos();
        }
        terms.index_text(page.text);
        json::array skus;
        for (const IndexedProduct& p : page.products) {
          terms.increase_termpos();
          terms.index_text(p.sku, 3);
          terms.index_text(p.title, 2);
          terms.index_text(p.category, 2);
          doc.add_boolean_term(std::string(kSkuPrefix) + Lower(p.sku));
          const std::string band = PriceBand(p.price_minor, p.currency_exponent);
          if (!band.empty()) doc.add_boolean_term(std::string(kBandPrefix) + band);
          skus.emplace_back(p.sku);
        }
        if (!page.products.empty()) doc.add_boolean_term(std::string(kKindPrefix) + "product");
        json::object data;
        data["p"] = page.path;
        data["a"] = page.area;
        data["t"] = page.title;
        data["s"] = std::move(skus);
        doc.set_data(json::serialize(data));
        writer_->replace_document(id, doc);
      }
      for (const std::string& path : removed) writer_->delete_document(IdTerm(path));
      writer_->set_metadata(std::string(kStateKey), std::string(state));
      writer_->commit_transaction();
    } catch (...) {
      writer_->cancel_transaction();
      throw;
    }
  } catch (const Xapian::Error& e) {
    return FromXapian(e, "writing", dir_);
  }
  for (const IndexedPage& page : pages) versions_[page.path] = page.version;
  for (const std::string& path : removed) versions_.erase(path);
  documents_ = writer_->get_doccount();
  generation_.fetch_add(1);
  return Status::Ok();
}

std::string SiteIndex::state() const {
  if (!writer_) return "";
  try {
    return writer_->get_metadata(std::string(kStateKey));
  } catch (const Xapian::Error&) {
    return "";
  }
}

uint64_t SiteIndex::document_count() const { return documents_.load(); }

uint64_t SiteIndex::disk_bytes() const {
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
    if (entry.is_regular_file(ec)) total += entry.file_size(ec);
  }
  return total;
}

std::unique_ptr<Xapian::Database> SiteIndex::AcquireReader(uint64_t* generation) const {
  // Read before reopening: a commit after this load makes the reader look old (reopened again
  // next time), never new.
  const uint64_t now = generation_.load();
  *generation = now;
  std::unique_ptr<Xapian::Database> reader;
  uint64_t seen = 0;
  {
    std::lock_guard<std::mutex> lock(readers_mu_);
    if (!readers_.empty()) {
      seen = readers_.back().first;
      reader = std::move(readers_.back().second);
      readers_.pop_back();
    }
  }
  if (!reader) {
    reader = std::make_unique<Xapian::Database>(dir_);
  } else if (seen != now) {
    reader->reopen();
  }
  return reader;
}

void SiteIndex::ReleaseReader(uint64_t generation, std::unique_ptr<Xapian::Database> reader) const {
  std::lock_guard<std::mutex> lock(readers_mu_);
  if (readers_.size() < 16) readers_.emplace_back(generation, std::move(reader));
}

Result<SearchAnswer> SiteIndex::Search(const SearchQuery& query) const {
  if (query.words.size() > kMaxQueryBytes) {
    return Status::InvalidArgument("the search words are longer than " +
                                   std::to_string(kMaxQueryBytes) + " bytes");
  }
  if (!IsValidUtf8(query.words)) {
    return Status::InvalidArgument("the search words are not UTF-8 text");
  }
  SearchAnswer answer;
  if (query.words.find_first_not_of(" \t\r\n") == std::string::npos) return answer;
  const Xapian::Stem stemmer = StemmerFor(options_.stemming_language);
  const size_t limit = std::min<size_t>(query.limit, 100);
  for (int attempt = 0;; ++attempt) {
    std::unique_ptr<Xapian::Database> db;
    uint64_t generation = 0;
    try {
      db = AcquireReader(&generation);
      // Every Xapian object made from the reader shares its (not thread-safe) internals: they
      // all live in this block, and are gone before the reader goes back to the pool.
      {
        Xapian::QueryParser parser;
        parser.set_stemmer(stemmer);
        parser.set_stemming_strategy(Xapian::QueryParser::STEM_SOME);
        parser.set_database(*db);
        parser.set_default_op(Xapian::Query::OP_AND);
        parser.set_max_expansion(64, Xapian::Query::WILDCARD_LIMIT_MOST_FREQUENT);
        // Spelling correction is asked for only when nothing matched (below): it costs, and
        // Xapian's get_spelling_suggestion is not safe to run on two threads at once.
        const unsigned plain = Xapian::QueryParser::FLAG_CJK_NGRAM;
        const unsigned rich =
            plain | Xapian::QueryParser::FLAG_BOOLEAN | Xapian::QueryParser::FLAG_PHRASE |
            Xapian::QueryParser::FLAG_LOVEHATE | Xapian::QueryParser::FLAG_WILDCARD;
        const Xapian::Query parsed = ParseLeniently(parser, query.words, rich, plain, 0).query;
        auto filtered = [&](Xapian::Query q) {
          if (!query.area.empty()) {
            q = Xapian::Query(Xapian::Query::OP_FILTER, q,
                              Xapian::Query(std::string(kAreaPrefix) + query.area));
          }
          if (!query.price_band.empty()) {
            q = Xapian::Query(Xapian::Query::OP_FILTER, q,
                              Xapian::Query(std::string(kBandPrefix) + query.price_band));
          }
          return q;
        };
        Xapian::Enquire enquire(*db);
        enquire.set_query(filtered(parsed));
        Xapian::MSet matches = enquire.get_mset(static_cast<Xapian::doccount>(query.offset),
                                                static_cast<Xapian::doccount>(limit), 100);
        answer.total = matches.get_matches_estimated();
        // The snippet stems every word of a text to match the query's stemmed terms ("Z..."):
        // a query of quoted phrases has none, and its snippets need no stemming (half their
        // cost in bench/search).
        bool stemmed_terms = false;
        for (auto t = parsed.get_terms_begin(); t != parsed.get_terms_end(); ++t) {
          if ((*t).starts_with('Z')) stemmed_terms = true;
        }
        const Xapian::Stem snippet_stemmer = stemmed_terms ? stemmer : Xapian::Stem();
        for (auto it = matches.begin(); it != matches.end(); ++it) {
          const Xapian::Document doc = it.get_document();
          const json::value data = json::parse(doc.get_data());
          const json::object& o = data.as_object();
          SearchHit hit;
          hit.path = json::value_to<std::string>(o.at("p"));
          hit.area = json::value_to<std::string>(o.at("a"));
          hit.title = json::value_to<std::string>(o.at("t"));
          for (const json::value& s : o.at("s").as_array()) {
            hit.skus.push_back(json::value_to<std::string>(s));
          }
          // Neither SNIPPET_EXHAUSTIVE (it weighs every candidate run of words: ten times the
          // rest of a search) nor SNIPPET_BACKGROUND_MODEL (it looks up every word of the text
          // in the index to favour rarer ones: three quarters of a search's time, p99 12 -> 6
          // ms in bench/search); the snippet is the run around the query's words.
          hit.snippet_html =
              matches.snippet(doc.get_value(kTextSlot), 240, snippet_stemmer,
                              Xapian::MSet::SNIPPET_CJK_NGRAM, "<mark>", "</mark>", "\u2026");
          // Xapian marks each character of a Japanese word apart ("<mark>和</mark><mark>菓
          // </mark>..."): one run. The text itself cannot hold a "<mark>" (it is escaped).
          for (size_t at; (at = hit.snippet_html.find("</mark><mark>")) != std::string::npos;) {
            hit.snippet_html.erase(at, 13);
          }
          hit.percent = it.get_percent();
          answer.hits.push_back(std::move(hit));
        }
        // Offered when nothing was found: Xapian proposes a more frequent neighbour even for a
        // word the pages have ("picked" -> "iced"), which would only distract from the results.
        std::string corrected;
        if (answer.total == 0) {
          corrected = ParseLeniently(parser, query.words, rich, plain,
                                     Xapian::QueryParser::FLAG_SPELLING_CORRECTION)
                          .corrected;
        }
        if (!corrected.empty() && corrected != query.words) {
          // Offered only when it finds something (a word may have left the pages since).
          Xapian::Enquire check(*db);
          check.set_query(filtered(ParseLeniently(parser, corrected, rich, plain, 0).query));
          if (!check.get_mset(0, 1).empty()) answer.did_you_mean = corrected;
        }
      }
      ReleaseReader(generation, std::move(db));
      return answer;
    } catch (const Xapian::DatabaseModifiedError& e) {
      // The writer committed twice while this reader read: read the newest revision again.
      if (attempt >= 20) return FromXapian(e, "searching", dir_);
      answer = SearchAnswer();  // the pooled reader is dropped; the next one is opened afresh
    } catch (const Xapian::Error& e) {
      return FromXapian(e, "searching", dir_);
    } catch (const std::exception& e) {
      return Status::DataLoss("the search index " + dir_ + " holds a document that cannot be " +
                              "read: " + e.what());
    }
  }
}

}  // namespace tieup::search
