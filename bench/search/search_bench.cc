// Site search benchmark (issue 20, site/site_search.h): the costs of a site's search index at
// 10,000 pages, measured on the daemon's own path. Prints one table. Usage:
//   search_bench [--pages N] [--builds N] [--updates N] [--seconds S] [--dir PARENT] [--keep 1]
//   search_bench --site KEPT_SITE_DIR [--pages N] [--seconds S]    (the queries only)
// Defaults: 10,000 pages, the full build timed once (about a minute at 10,000 pages on a 2-core
// machine; --builds 3 for a median), 20 one-page updates, 4 seconds for each query run, $TMPDIR
// or /tmp for the site directory (removed at the end unless --keep 1). The whole run takes about
// 3 minutes, half of it putting the pages (the content store writes each blob durably).
//
// The site: a real site directory whose original area holds N generated HTML pages (fixed seed;
// 4 to 8 KB each: a layout header, nav and footer, an h1 title, 3 to 6 h2 sections of English
// prose drawn from a Zipf vocabulary of common words and 20,000 rarer ones, about one paragraph
// in three with a Japanese sentence, and a word of its own in the title), put as ONE original
// release through SiteContent::Mutate and ContentStore::PutOriginalPages, as
// `tieup partner page put SITE /p/ FOLDER` does. The served view is loaded (serve = true) and
// SiteSearch::Open indexes it into SITE_DIR/search, as every site daemon does.
//
// Figures:
//   - full build: SiteSearch::CatchUp() on an empty index (SITE_DIR/search removed and opened
//     again before each run): the walk of the view, ReadPageText of every page and an Apply (one
//     Xapian commit) per 1,000 documents. Median of --builds runs. Beside it, ReadPageText alone
//     over every body (one thread), to tell the HTML reading from Xapian's share.
//   - incremental: one page put again (a new original release activated through
//     SiteContent::Mutate, which reloads the served view, as `tieup partner page put` and the
//     daemon's RefreshIfChanged do), then CatchUp() timed; --updates times, a different page
//     each, and each checked (its new word finds that page). First edits (a sentence added at the
//     top: Xapian rewrites only the postings of the words whose counts changed), then rewrites
//     (the page's prose all new, the same size: every posting of the page changes; the worst
//     case). The activation is timed apart. And CatchUp() when nothing changed: the walk over
//     every page comparing content hashes.
//   - queries: SiteIndex::Search (first results page, 10 hits, snippets and "did you mean") of a
//     fixed mix of 200 queries (common words, rare words, two words, a phrase, misspellings,
//     Japanese words, words no page has), for --seconds each run:
//       saturated: 2 threads back to back (both cores busy with searches): the throughput;
//       over-subscribed: the same while 2 more threads burn CPU;
//       under load: searches arriving at random (Poisson) at 200, 400 and 800 a second (those
//         under 60% of the saturated throughput; at least 2,000 each) into a queue 2 threads
//         take them from, as a daemon's workers take requests; a search's latency counts from
//         its arrival. Beside each rate, the control: the same arrivals, each a fixed CPU job of
//         the saturated median instead of a search (the machine's own share of the latency);
//       beside other work: 200 a second arriving while 2 threads burn CPU.
//     p50, p99, max; p50 and p99 by kind of query. And how many queries of the mix find nothing,
//     get a "did you mean", or both find pages and get one.
//   - index size: SiteIndex::disk_bytes() after the build and after the updates; and this
//     process's peak RSS before and after the builds (getrusage).
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "base/env.h"
#include "base/log.h"
#include "content/builder.h"
#include "content/content_store.h"
#include "search/site_index.h"
#include "site/page_text.h"
#include "site/site_content.h"
#include "site/site_search.h"

namespace tieup {
namespace {

using Clock = std::chrono::steady_clock;

double MillisSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

void Row(const std::string& what, const std::string& value, const char* unit) {
  std::printf("| %-62s | %18s | %-10s |\n", what.c_str(), value.c_str(), unit);
  std::fflush(stdout);
}

std::string Num(double v, int decimals = 0) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

[[noreturn]] void Die(const std::string& what, const Status& s) {
  std::fprintf(stderr, "search_bench: %s: %s\n", what.c_str(), s.ToString().c_str());
  std::exit(1);
}

void Must(const Status& s, const std::string& what) {
  if (!s.ok()) Die(what, s);
}

template <typename T>
T Must(Result<T> r, const std::string& what) {
  if (!r.ok()) Die(what, r.status());
  return std::move(r).value();
}

// The value at quantile q (0..1) of sorted `v`.
double Quantile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  size_t i = static_cast<size_t>(q * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(i, sorted.size() - 1)];
}

// This process's peak resident set so far (MiB).
double PeakRssMiB() {
  struct rusage u {};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return Quantile(v, 0.5);
}

// splitmix64: the same pages on every machine and standard library.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t Next() {
    uint64_t z = (s_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  size_t Below(size_t n) { return static_cast<size_t>(Next() % n); }
  double Real() { return static_cast<double>(Next() >> 11) / 9007199254740992.0; }

 private:
  uint64_t s_;
};

// Ranks 0..n-1, rank r drawn with weight 1/(r+3) (Zipf-Mandelbrot: the few most common words
// less dominant than with 1/(r+1)).
class Zipf {
 public:
  explicit Zipf(size_t n) : cumulative_(n) {
    double sum = 0;
    for (size_t r = 0; r < n; ++r) cumulative_[r] = sum += 1.0 / static_cast<double>(r + 3);
  }
  size_t Sample(Rng& rng) const {
    const double x = rng.Real() * cumulative_.back();
    return static_cast<size_t>(std::lower_bound(cumulative_.begin(), cumulative_.end(), x) -
                               cumulative_.begin());
  }

 private:
  std::vector<double> cumulative_;
};

std::vector<std::string> Split(const char* text) {
  std::vector<std::string> out;
  std::string w;
  for (const char* p = text;; ++p) {
    if (*p == ' ' || *p == '\0') {
      if (!w.empty()) out.push_back(std::move(w));
      w.clear();
      if (*p == '\0') break;
    } else {
      w += *p;
    }
  }
  return out;
}

// Common words, most frequent first (function words, then from kTeaWordsFrom a tea shop's words).
const char* const kCommonWords =
    "the of and to a in is it you that for with on as are this be at or by from your our we "
    "can an not all more one have will has its into which when but their they than also each "
    "so if up out about what how them these two some there other most very after first new "
    "time just only well over any may like make such where through best every good way before "
    "tea leaves leaf green cup water brew steep flavour taste aroma sweet fresh spring harvest "
    "sencha gyokuro matcha hojicha genmaicha bancha kabusecha tencha kukicha shincha kyoto uji "
    "shizuoka kagoshima yame nara garden farm farmer field hill mist morning shade shaded "
    "roasted steamed rolled powdered stone mill whisk bowl pot teapot kyusu kettle temperature "
    "degrees minutes seconds grams spoon infusion second third umami grassy nutty floral "
    "mellow bitter astringent smooth rich deep light bright colour jade emerald golden cream "
    "texture finish body note notes hint seaweed chestnut vanilla honey citrus rice toasted "
    "caffeine antioxidant health calm focus ritual ceremony guest host season summer autumn "
    "winter year years family generation tradition craft hand handmade careful slowly gently "
    "cool warm hot cold iced pour pouring serve serving store storage airtight tin bag pouch "
    "fridge humidity order orders shipping delivery days week price gift box set sample "
    "tasting guide recipe dessert sweets wagashi mochi cake cookie latte milk sugar plain "
    "customer customers review reviews question answer recommend favourite choice selection "
    "quality grade premium ceremonial culinary organic pesticide soil rain sun slope altitude "
    "picked picking plucked processed processing oxidation enzyme blend blended single origin "
    "cultivar yabukita saemidori okumidori asatsuyu sakimidori gokou tsuyuhikari benifuki";

constexpr size_t kTeaWordsFrom = 78;  // "tea"

const char* const kHeadings[] = {
    "How to brew",        "Tasting notes",         "Where it grows",
    "Storing the leaves", "Shipping and returns",  "Pairing with food",
    "The harvest",        "About the farm",        "Questions from customers",
    "Our selection",      "Water and temperature", "A short history",
    "Cold brew",          "Caffeine and health",   "Choosing a teapot",
    "Gift sets"};

const char* const kTitleKinds[] = {"Gyokuro",   "Sencha",     "Matcha",  "Hojicha", "Genmaicha",
                                   "Bancha",    "Kabusecha",  "Kukicha", "Shincha", "Tencha",
                                   "Tea guide", "Farm visit", "Recipe",  "Teapot",  "Journal"};

const char* const kJapanese[] = {"香り高い玉露です。",
                                 "京都の宇治で育てた抹茶を使っています。",
                                 "お茶の淹れ方を丁寧にご紹介します。",
                                 "急須でゆっくりと蒸らしてください。",
                                 "新茶の季節がやってきました。",
                                 "静岡県産の深蒸し煎茶です。",
                                 "ほうじ茶は香ばしい風味が特徴です。",
                                 "冷たい水出し緑茶もおすすめです。",
                                 "茶葉は湿気を避けて保存してください。",
                                 "贈り物にも喜ばれる詰め合わせです。",
                                 "旨味と甘みのバランスが良いお茶です。",
                                 "毎朝一杯の煎茶で一日が始まります。",
                                 "茶畑は朝霧に包まれています。",
                                 "玄米茶は食事によく合います。",
                                 "茶道の心を大切にしています。",
                                 "ご注文は二営業日以内に発送します。",
                                 "和菓子と一緒にお楽しみください。",
                                 "八十八夜に摘んだ一番茶です。",
                                 "この抹茶はお菓子作りにも使えます。",
                                 "鹿児島の南の畑で摘まれました。"};

// Syllables for the rarer words (never "zo": the start of each page's own word).
const char* const kSyllables[] = {"ka", "ki",  "ku",  "ke", "ko", "sa", "shi", "su", "se", "so",
                                  "ta", "chi", "tsu", "te", "to", "na", "ni",  "nu", "ne", "no",
                                  "ha", "hi",  "fu",  "he", "ho", "ma", "mi",  "mu", "me", "mo",
                                  "ra", "ri",  "ru",  "re", "ro", "ya", "yu",  "yo", "wa", "ga",
                                  "gi", "gu",  "ge",  "go", "ba", "bi", "bu",  "be", "bo"};
constexpr size_t kSyllableCount = sizeof(kSyllables) / sizeof(kSyllables[0]);

// The word only page `i` has (in its title): "zo" and three syllables.
std::string PageWord(size_t i) {
  std::string w = "zo";
  for (int k = 0; k < 3; ++k) {
    w += kSyllables[i % kSyllableCount];
    i /= kSyllableCount;
  }
  return w;
}

std::string PagePath(size_t i) { return "/p/" + std::to_string(i) + ".html"; }

class SiteGenerator {
 public:
  SiteGenerator() : common_(Split(kCommonWords)), common_zipf_(common_.size()), rare_zipf_(20000) {
    Rng rng(7);
    for (size_t i = 0; i < 20000; ++i) {
      std::string w;
      const size_t n = 2 + rng.Below(3);
      for (size_t k = 0; k < n; ++k) w += kSyllables[rng.Below(kSyllableCount)];
      rare_.push_back(std::move(w));
    }
  }

  const std::vector<std::string>& common() const { return common_; }
  const std::vector<std::string>& rare() const { return rare_; }

  // Page `i` (the same bytes for the same arguments). `revision` > 0 adds a first paragraph with
  // the word "revision<N>": an edit of one sentence, the rest of the page as it was; with
  // `rewrite`, the rest is new prose too (a page rewritten: every word changes).
  std::string Page(size_t i, int revision = 0, bool rewrite = false) const {
    Rng rng(1000003ull * (i + 1) + (rewrite ? 7777777ull * static_cast<uint64_t>(revision) : 0));
    const std::string title = std::string(kTitleKinds[rng.Below(std::size(kTitleKinds))]) + " " +
                              Capitalized(PageWord(i)) + ": " + TeaWord(rng) + " " + TeaWord(rng) +
                              " and " + TeaWord(rng);
    const size_t target = 4000 + rng.Below(4001);
    std::string html =
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>" + title +
        " | Bench Tea</title>\n<meta name=\"viewport\" content=\"width=device-width, "
        "initial-scale=1\">\n<link rel=\"stylesheet\" href=\"/style.css\"></head>\n<body>\n"
        "<header><a class=\"logo\" href=\"/\">Bench Tea</a>\n<nav><a href=\"/\">Home</a> <a "
        "href=\"/p/\">Teas</a> <a href=\"/about.html\">About us</a> <a "
        "href=\"/search\">Search</a></nav></header>\n<main>\n<h1>" +
        title + "</h1>\n";
    const std::string footer =
        "</main>\n<footer><p>Bench Tea, 12 Tea Street, Kyoto. Free shipping over 50 EUR. "
        "<a href=\"/contact.html\">Contact</a></p></footer>\n</body></html>\n";
    if (revision > 0) {
      Rng edit(static_cast<uint64_t>(revision));
      html += "<p>Updated: revision" + std::to_string(revision) + " " + Sentence(edit) + "</p>\n";
    }
    html += "<p>" + Sentence(rng) + " " + Sentence(rng) + "</p>\n";
    const size_t sections = 3 + rng.Below(4);
    const size_t per_section = target / sections;
    for (size_t s = 0; s < sections; ++s) {
      html += "<h2>" + std::string(kHeadings[rng.Below(std::size(kHeadings))]) + "</h2>\n";
      const size_t end = std::min(target, html.size() + per_section) - footer.size();
      while (html.size() < end) {
        std::string p = "<p>";
        const size_t sentences = 2 + rng.Below(4);
        for (size_t k = 0; k < sentences; ++k) p += (k ? " " : "") + Sentence(rng);
        if (rng.Below(3) == 0) p += " " + std::string(kJapanese[rng.Below(std::size(kJapanese))]);
        html += p + "</p>\n";
      }
    }
    return html + footer;
  }

 private:
  static std::string Capitalized(std::string w) {
    if (!w.empty() && w[0] >= 'a' && w[0] <= 'z') w[0] = static_cast<char>(w[0] - 'a' + 'A');
    return w;
  }

  // A word: common with probability 0.85, else a rarer one.
  const std::string& Word(Rng& rng) const {
    if (rng.Below(100) < 85) return common_[common_zipf_.Sample(rng)];
    return rare_[rare_zipf_.Sample(rng)];
  }

  const std::string& TeaWord(Rng& rng) const {
    return common_[kTeaWordsFrom + rng.Below(common_.size() - kTeaWordsFrom)];
  }

  std::string Sentence(Rng& rng) const {
    const size_t n = 6 + rng.Below(14);
    std::string s = Capitalized(Word(rng));
    for (size_t k = 1; k < n; ++k) s += (k == n / 2 && rng.Below(2) ? ", " : " ") + Word(rng);
    return s + ".";
  }

  std::vector<std::string> common_;
  Zipf common_zipf_;
  std::vector<std::string> rare_;
  Zipf rare_zipf_;
};

struct Query {
  std::string kind;
  std::string words;
};

// 200 queries, shuffled: 60 common words, 30 rare words, 40 two words, 20 phrases, 20
// misspellings, 15 Japanese, 15 words no page has.
std::vector<Query> QueryMix(const SiteGenerator& gen, size_t pages) {
  Rng rng(99);
  const std::vector<std::string>& common = gen.common();
  // The tea words (past the function words), which people search for.
  auto tea = [&] { return common[kTeaWordsFrom + rng.Below(common.size() - kTeaWordsFrom)]; };
  std::vector<Query> q;
  for (int i = 0; i < 60; ++i) q.push_back({"common word", tea()});
  for (int i = 0; i < 30; ++i) {
    // Half a rare word of the shared vocabulary, half a page's own word (one page).
    q.push_back({"rare word", i % 2 ? gen.rare()[rng.Below(2000)] : PageWord(rng.Below(pages))});
  }
  for (int i = 0; i < 40; ++i) q.push_back({"two words", tea() + " " + tea()});
  const char* const phrases[] = {"\"green tea\"",      "\"how to brew\"",
                                 "\"tasting notes\"",  "\"spring harvest\"",
                                 "\"about the farm\"", "\"cold brew\"",
                                 "\"gift sets\"",      "\"a short history\"",
                                 "\"our selection\"",  "\"water and temperature\""};
  for (int i = 0; i < 20; ++i) q.push_back({"phrase", phrases[i % std::size(phrases)]});
  for (int i = 0; i < 20; ++i) {
    // A tea word with two letters swapped ("sencah"): "did you mean" looks for a correction.
    std::string w;
    do w = tea();
    while (w.size() < 5);
    const size_t at = 1 + rng.Below(w.size() - 2);
    std::swap(w[at], w[at + 1]);
    q.push_back({"misspelling", w});
  }
  const char* const japanese[] = {"玉露",     "抹茶",   "急須",   "煎茶",   "ほうじ茶",
                                  "和菓子",   "茶畑",   "宇治",   "新茶",   "宇治 抹茶",
                                  "香ばしい", "鹿児島", "玄米茶", "一番茶", "水出し"};
  for (const char* w : japanese) q.push_back({"japanese", w});
  for (int i = 0; i < 15; ++i) q.push_back({"no result", "xqzvy" + std::to_string(i) + "wj"});
  // Mixed (Fisher-Yates, fixed seed): any stretch of the run has every kind.
  for (size_t i = q.size() - 1; i > 0; --i) std::swap(q[i], q[rng.Below(i + 1)]);
  return q;
}

struct QueryRun {
  double seconds = 0;
  uint64_t errors = 0;
  std::vector<double> micros;                           // every query's latency
  std::vector<std::pair<std::string, double>> by_kind;  // (kind, micros)
};

// `rounds` rounds of arithmetic that the compiler cannot drop: CPU work and nothing else.
void Spin(int rounds) {
  volatile uint64_t x = 1;
  for (int k = 0; k < rounds; ++k) x = x * 6364136223846793005ull + 1442695040888963407ull;
}

// Spins for `us` microseconds of this thread's CPU time.
void CpuJob(double us) {
  auto cpu_us = [] {
    timespec t{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) * 1e6 + static_cast<double>(t.tv_nsec) / 1e3;
  };
  const double until = cpu_us() + us;
  while (cpu_us() < until) Spin(100);
}

// Runs `queries` from `threads` threads for `seconds`, while `burners` more threads spin. With
// `rate` 0 each thread runs them back to back (a closed loop: the cores busy with searches).
// With a rate, searches arrive at random (Poisson, `rate` a second in all, fixed seed) into one
// queue the threads take them from, as a daemon's workers take requests; a search's latency
// counts from its arrival, so the time it waited for a free thread (or for the scheduler) counts.
// With `job_us`, each "search" is that much CPU time of a loop instead (the control: what the
// machine alone adds to a job of that size arriving so).
QueryRun RunQueries(const search::SiteIndex& index, const std::vector<Query>& queries, int threads,
                    int burners, double seconds, double rate = 0, double job_us = 0) {
  std::atomic<bool> stop{false};
  std::vector<std::thread> burn;
  for (int b = 0; b < burners; ++b) {
    burn.emplace_back([&stop] {
      while (!stop.load(std::memory_order_relaxed)) Spin(10000);
    });
  }
  std::vector<QueryRun> runs(threads);
  std::vector<std::thread> workers;
  const Clock::time_point start = Clock::now();
  // The arrivals (offsets from `start`), drawn before the run; taken in turn by the threads.
  std::vector<Clock::duration> arrivals;
  if (rate > 0) {
    Rng rng(7);
    double at = 0;
    while (at < seconds) {
      at += -std::log(1.0 - rng.Real()) / rate;
      arrivals.push_back(
          std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(at)));
    }
  }
  std::atomic<size_t> next{0};
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      QueryRun& run = runs[t];
      size_t i = static_cast<size_t>(t) * queries.size() / threads;
      while (!stop.load(std::memory_order_relaxed)) {
        Clock::time_point s = Clock::now();
        const Query* q = &queries[i++ % queries.size()];
        if (rate > 0) {
          const size_t k = next.fetch_add(1);
          if (k >= arrivals.size()) break;
          q = &queries[k % queries.size()];
          s = start + arrivals[k];
          std::this_thread::sleep_until(s);
        }
        search::SearchQuery sq;
        sq.words = q->words;
        Status status = Status::Ok();
        if (job_us > 0) {
          CpuJob(job_us);
        } else {
          status = index.Search(sq).status();
        }
        const double us = std::chrono::duration<double, std::micro>(Clock::now() - s).count();
        if (!status.ok()) ++run.errors;
        run.micros.push_back(us);
        run.by_kind.emplace_back(q->kind, us);
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (std::thread& w : workers) w.join();
  QueryRun all;
  all.seconds = MillisSince(start) / 1000.0;
  for (std::thread& b : burn) b.join();
  for (QueryRun& r : runs) {
    all.errors += r.errors;
    all.micros.insert(all.micros.end(), r.micros.begin(), r.micros.end());
    all.by_kind.insert(all.by_kind.end(), r.by_kind.begin(), r.by_kind.end());
  }
  std::sort(all.micros.begin(), all.micros.end());
  return all;
}

// "p50 / p99 / max" of `run`, in ms; and how many searches failed, if any did.
std::string Latencies(const QueryRun& run) {
  return Num(Quantile(run.micros, 0.5) / 1000.0, 2) + " / " +
         Num(Quantile(run.micros, 0.99) / 1000.0, 2) + " / " +
         Num(run.micros.empty() ? 0 : run.micros.back() / 1000.0, 1) +
         (run.errors > 0 ? " (" + std::to_string(run.errors) + " ERRORS)" : "");
}

void PrintQueryRun(const std::string& label, const QueryRun& run) {
  Row(label + ": queries/s", Num(static_cast<double>(run.micros.size()) / run.seconds), "q/s");
  Row(label + ": p50", Num(Quantile(run.micros, 0.5) / 1000.0, 3), "ms");
  Row(label + ": p99", Num(Quantile(run.micros, 0.99) / 1000.0, 3), "ms");
  Row(label + ": max", Num(run.micros.empty() ? 0 : run.micros.back() / 1000.0, 3), "ms");
  if (run.errors > 0) Row(label + ": ERRORS", std::to_string(run.errors), "queries");
}

void PrintByKind(const std::string& label, const QueryRun& run) {
  std::vector<std::string> kinds;
  for (const auto& [kind, us] : run.by_kind) {
    if (std::find(kinds.begin(), kinds.end(), kind) == kinds.end()) kinds.push_back(kind);
  }
  for (const std::string& kind : kinds) {
    std::vector<double> v;
    for (const auto& [k, us] : run.by_kind) {
      if (k == kind) v.push_back(us);
    }
    std::sort(v.begin(), v.end());
    Row(label + ", " + kind + ": p50 / p99",
        Num(Quantile(v, 0.5) / 1000.0, 3) + " / " + Num(Quantile(v, 0.99) / 1000.0, 2), "ms");
  }
}

std::unique_ptr<SiteSearch> OpenSearch(Env& env, const std::string& site, SiteContent& content) {
  content::PageSite layout;
  layout.view = [&content] { return content.view(); };
  layout.area = content::Area::kOriginal;
  layout.site_name = "Bench Tea";
  return Must(SiteSearch::Open(env, site, content, nullptr, NewNullLogger(), std::move(layout)),
              "opening the site search");
}

// The query mix against `index`: what it finds, then its latency alone and under load.
void RunQueryMix(const SiteGenerator& gen, size_t pages, const search::SiteIndex& index,
                 double seconds) {
  const std::vector<Query> queries = QueryMix(gen, pages);
  uint64_t none = 0, corrected = 0, found_corrected = 0;
  std::vector<std::pair<std::string, int>> found_corrected_by_kind;
  std::string examples;
  for (const Query& q : queries) {
    search::SearchQuery sq;
    sq.words = q.words;
    search::SearchAnswer a = Must(index.Search(sq), "searching " + q.words);
    if (a.total == 0) ++none;
    if (!a.did_you_mean.empty()) ++corrected;
    if (a.total > 0 && !a.did_you_mean.empty()) {
      ++found_corrected;
      auto it = std::find_if(found_corrected_by_kind.begin(), found_corrected_by_kind.end(),
                             [&](const auto& k) { return k.first == q.kind; });
      if (it == found_corrected_by_kind.end()) {
        found_corrected_by_kind.emplace_back(q.kind, 1);
      } else {
        ++it->second;
      }
      if (found_corrected <= 2) {
        examples += (examples.empty() ? "" : ", ") + q.words + " -> " + a.did_you_mean;
      }
    }
  }
  Row("query mix: queries", std::to_string(queries.size()), "queries");
  Row("  finding nothing", std::to_string(none), "queries");
  Row("  with a \"did you mean\"", std::to_string(corrected), "queries");
  Row("  finding pages AND offering a \"did you mean\"", std::to_string(found_corrected),
      "queries");
  for (const auto& [kind, n] : found_corrected_by_kind) {
    Row("    of which " + kind, std::to_string(n), "queries");
  }
  if (!examples.empty()) Row("    e.g. " + examples, "", "");
  // Both cores busy with searches (2 threads back to back): the throughput, and the latency
  // at saturation.
  QueryRun alone = RunQueries(index, queries, 2, 0, seconds);
  PrintQueryRun("saturated: 2 threads back to back", alone);
  // Over-subscribed: 2 more threads burning CPU take half of each core; the searches still
  // run back to back, so each waits out the burners' time slices.
  QueryRun oversubscribed = RunQueries(index, queries, 2, 2, seconds);
  PrintQueryRun("over-subscribed: the same + 2 CPU-burning threads", oversubscribed);
  // Under load: searches arriving as requests do (at random, into 2 threads), at rising rates
  // up to half the saturated throughput; the time a search waits for a free thread counts. Each
  // rate runs at least 2,000 searches (a p99 of 20 of them), and beside it the control: the
  // same arrivals, each a fixed job of the saturated run's median CPU time instead of a search
  // (what this machine's scheduler, timers and hypervisor add to any such job).
  const double saturated = static_cast<double>(alone.micros.size()) / alone.seconds;
  const double job_us = Quantile(alone.micros, 0.5);
  QueryRun loaded;
  for (const double rate : {200.0, 400.0, 800.0}) {
    if (rate > saturated * 0.6) break;
    const double s = std::max(seconds, 2000 / rate);
    loaded = RunQueries(index, queries, 2, 0, s, rate);
    const QueryRun control = RunQueries(index, queries, 2, 0, s, rate, job_us);
    Row("under load: " + Num(rate) + " searches/s arriving (" + Num(100 * rate / saturated) +
            "% of saturated): p50 / p99 / max",
        Latencies(loaded), "ms");
    Row("  control: a " + Num(job_us / 1000, 2) + " ms CPU job instead of each search",
        Latencies(control), "ms");
  }
  // And beside other work: 200 searches/s arriving while 2 CPU-burning threads keep both cores
  // busy. The scheduler's share shows in the queries that find nothing (0.05 ms of work).
  QueryRun beside = RunQueries(index, queries, 2, 2, seconds, 200);
  PrintQueryRun("beside other work: 200 searches/s arriving + 2 CPU-burning threads", beside);
  PrintByKind("saturated", alone);
  PrintByKind("under load (the highest rate above)", loaded);
  PrintByKind("beside other work", beside);
}

// --site DIR: the queries alone, against the index of a site an earlier run kept (--keep 1; the
// same --pages), which its pass brings up to date first.
int QueriesOnly(const std::string& site, size_t pages, double seconds) {
  std::unique_ptr<Env> env = NewPosixEnv();
  SiteGenerator gen;
  SiteContentOptions co;
  co.site_id = "bench";
  co.serve = true;
  std::unique_ptr<SiteContent> content =
      Must(SiteContent::Open(*env, site, co), "opening the site's content in " + site);
  std::unique_ptr<SiteSearch> search = OpenSearch(*env, site, *content);
  Must(search->CatchUp(), "bringing the index up to date");
  std::shared_ptr<const search::SiteIndex> index = search->index();
  if (index == nullptr || index->document_count() < pages) {
    std::fprintf(stderr, "search_bench: %s has no index of %zu pages (kept by --keep 1?)\n",
                 site.c_str(), pages);
    return 1;
  }
  std::printf("search_bench: queries against %s\n\n", site.c_str());
  std::printf("| %-62s | %18s | %-10s |\n", "measure", "value", "unit");
  std::printf("|%s|%s|%s|\n", std::string(64, '-').c_str(), std::string(20, '-').c_str(),
              std::string(12, '-').c_str());
  RunQueryMix(gen, pages, *index, seconds);
  return 0;
}

constexpr const char* kUsage =
    "usage: search_bench [--pages N] [--builds N] [--updates N] [--seconds S] [--dir PARENT]\n"
    "                    [--keep 1]\n"
    "       search_bench --site KEPT_SITE_DIR [--pages N] [--seconds S]\n"
    "Builds a site of N generated pages (10,000) and its search index, then times the index's\n"
    "full build, one-page updates and a query mix (saturated, under load, beside other work).\n"
    "About 3 minutes. --keep 1 keeps the site; --site runs only the queries on such a site.\n";

int Main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--help" || std::string_view(argv[i]) == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
  }
  if (argc % 2 == 0) {  // a flag without its value
    std::fprintf(stderr, "search_bench: %s needs a value\n%s", argv[argc - 1], kUsage);
    return 2;
  }
  size_t pages = 10'000;
  int builds = 1, updates = 20;
  double seconds = 4;
  bool keep = false;
  std::string reuse;  // --site: a site kept by an earlier --keep 1 run; only the queries run
  std::string parent = std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const int n = std::max(1, std::atoi(argv[i + 1]));
    if (flag == "--pages") {
      pages = static_cast<size_t>(n);
    } else if (flag == "--builds") {
      builds = n;
    } else if (flag == "--updates") {
      updates = n;
    } else if (flag == "--seconds") {
      seconds = std::max(0.5, std::atof(argv[i + 1]));
    } else if (flag == "--keep") {
      keep = std::atoi(argv[i + 1]) != 0;
    } else if (flag == "--dir") {
      parent = argv[i + 1];
    } else if (flag == "--site") {
      reuse = argv[i + 1];
    } else {
      std::fprintf(stderr, "search_bench: unknown flag %s\n%s", argv[i], kUsage);
      return 2;
    }
  }
  if (!reuse.empty()) return QueriesOnly(reuse, pages, seconds);
  std::string work = parent + "/tieup-search-bench.XXXXXX";
  if (::mkdtemp(work.data()) == nullptr) {
    std::perror("search_bench: mkdtemp");
    return 1;
  }
  const std::string site = work + "/site";
  std::filesystem::create_directories(site);
  std::unique_ptr<Env> env = NewPosixEnv();
  SiteGenerator gen;

  std::printf("search_bench: %zu pages in %s\n\n", pages, site.c_str());
  std::printf("| %-62s | %18s | %-10s |\n", "measure", "value", "unit");
  std::printf("|%s|%s|%s|\n", std::string(64, '-').c_str(), std::string(20, '-').c_str(),
              std::string(12, '-').c_str());

  // The site: every page in one original release, as `tieup partner page put SITE /p/ DIR`.
  SiteContentOptions co;
  co.site_id = "bench";
  co.serve = true;
  std::unique_ptr<SiteContent> content =
      Must(SiteContent::Open(*env, site, co), "opening the site's content");
  {
    std::vector<content::ContentStore::PageWrite> writes;
    uint64_t bytes = 0;
    for (size_t i = 0; i < pages; ++i) {
      std::string html = gen.Page(i);
      bytes += html.size();
      writes.push_back({PagePath(i), std::move(html), content::ContentTypeForPath(".html")});
    }
    Row("pages", std::to_string(pages), "pages");
    Row("mean page size", Num(static_cast<double>(bytes) / static_cast<double>(pages) / 1024, 2),
        "KiB");
    const Clock::time_point start = Clock::now();
    Must(content->Mutate([&](content::ContentStore& store) -> Status {
      return store.PutOriginalPages(writes).status();
    }),
         "putting the pages");
    Row("put every page (one release, activation, view load)", Num(MillisSince(start) / 1000, 2),
        "s");
  }
  std::shared_ptr<const content::SiteView> view = content->view();
  if (view == nullptr || view->files().size() < pages) {
    std::fprintf(stderr, "search_bench: the served view does not have the %zu pages\n", pages);
    return 1;
  }

  // The HTML reading alone (what CatchUp does before Xapian).
  {
    size_t text_bytes = 0;
    const Clock::time_point start = Clock::now();
    for (const auto& [path, file] : view->files()) {
      auto body = Must(view->ReadBody(file), "reading " + path);
      text_bytes += ReadPageText(*body).text.size();
    }
    const double ms = MillisSince(start);
    Row("ReadPageText of every page alone (1 thread)", Num(ms / 1000, 2), "s");
    Row("  per page", Num(ms * 1000 / static_cast<double>(pages), 0), "us");
    Row("  readable text per page", Num(static_cast<double>(text_bytes) / pages / 1024, 2), "KiB");
  }
  view.reset();
  Row("peak RSS of this process before the builds", Num(PeakRssMiB()), "MiB");

  // Full builds.
  std::unique_ptr<SiteSearch> search;
  std::vector<double> build_ms;
  for (int b = 0; b < builds; ++b) {
    search.reset();
    std::filesystem::remove_all(site + "/search");
    search = OpenSearch(*env, site, *content);
    const Clock::time_point start = Clock::now();
    SearchIndexPass pass = Must(search->CatchUp(), "the full build");
    build_ms.push_back(MillisSince(start));
    if (pass.indexed != pages || pass.documents != pages) {
      std::fprintf(stderr, "search_bench: the build indexed %llu pages, %llu documents\n",
                   static_cast<unsigned long long>(pass.indexed),
                   static_cast<unsigned long long>(pass.documents));
      return 1;
    }
  }
  const double build = Median(build_ms);
  Row("full build: CatchUp on an empty index (median of " + std::to_string(builds) + ")",
      Num(build / 1000, 2), "s");
  std::string all_builds;
  for (double ms : build_ms) all_builds += (all_builds.empty() ? "" : " ") + Num(ms / 1000, 1);
  Row("  each run", all_builds, "s");
  Row("  pages/s", Num(static_cast<double>(pages) / (build / 1000)), "pages/s");
  Row("  peak RSS of this process after the builds (pages held too)", Num(PeakRssMiB()), "MiB");
  // The index the passes wrote (SiteSearch opens it on the first pass, and may replace it when
  // it finds it damaged: taken again after each pass).
  auto current_index = [&search] {
    std::shared_ptr<const search::SiteIndex> index = search->index();
    if (index == nullptr) {
      std::fprintf(stderr, "search_bench: the site search has no index after a pass\n");
      std::exit(1);
    }
    return index;
  };
  std::shared_ptr<const search::SiteIndex> index = current_index();
  const double built_bytes = static_cast<double>(index->disk_bytes());
  Row("index size after the build", Num(built_bytes / (1 << 20), 1), "MiB");
  Row("  per page", Num(built_bytes / static_cast<double>(pages)), "bytes");

  // Nothing changed: the walk over every page.
  {
    std::vector<double> ms;
    for (int k = 0; k < 5; ++k) {
      const Clock::time_point start = Clock::now();
      SearchIndexPass pass = Must(search->CatchUp(), "an idle pass");
      ms.push_back(MillisSince(start));
      if (pass.indexed != 0) std::fprintf(stderr, "search_bench: an idle pass indexed pages\n");
    }
    Row("CatchUp with nothing changed (median of 5)", Num(Median(ms), 2), "ms");
  }

  // One-page updates: first edits (a sentence added), then rewrites (every word new).
  for (const bool rewrite : {false, true}) {
    const std::string what = rewrite ? "one page rewritten" : "one page edited";
    std::vector<double> activate_ms, catch_up_ms;
    int wrong = 0;
    for (int n = 1; n <= updates; ++n) {
      const int revision = n + (rewrite ? updates : 0);
      const size_t i = (static_cast<size_t>(revision) * 7919) % pages;
      const std::string html = gen.Page(i, revision, rewrite);
      Clock::time_point start = Clock::now();
      Must(content->Mutate([&](content::ContentStore& store) -> Status {
        return store.PutOriginalPage(PagePath(i), html, content::ContentTypeForPath(".html"))
            .status();
      }),
           "putting page " + PagePath(i));
      Must(content->RefreshIfChanged(), "refreshing the view");
      activate_ms.push_back(MillisSince(start));
      start = Clock::now();
      SearchIndexPass pass = Must(search->CatchUp(), "an update's pass");
      catch_up_ms.push_back(MillisSince(start));
      index = current_index();
      search::SearchQuery q;
      q.words = "revision" + std::to_string(revision);
      search::SearchAnswer a = Must(index->Search(q), "searching " + q.words);
      if (pass.indexed != 1 || a.total != 1 || a.hits.empty() || a.hits[0].path != PagePath(i)) {
        ++wrong;
      }
    }
    std::sort(catch_up_ms.begin(), catch_up_ms.end());
    Row(what + ": CatchUp, median of " + std::to_string(updates), Num(Median(catch_up_ms), 2),
        "ms");
    Row("  max", Num(catch_up_ms.back(), 2), "ms");
    Row("  (before it: the put, activation and view reload, median)", Num(Median(activate_ms), 1),
        "ms");
    if (wrong > 0) Row("  UPDATES NOT FOUND BY THEIR NEW WORD", std::to_string(wrong), "updates");
    const double bytes = static_cast<double>(index->disk_bytes());
    Row("  index size after them", Num(bytes / (1 << 20), 1), "MiB");
  }

  RunQueryMix(gen, pages, *index, seconds);

  search.reset();
  content.reset();
  if (keep) {
    std::printf("\nkept %s\n", site.c_str());
  } else {
    std::filesystem::remove_all(work);
  }
  return 0;
}

}  // namespace
}  // namespace tieup

int main(int argc, char** argv) { return tieup::Main(argc, argv); }
