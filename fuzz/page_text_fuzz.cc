// Fuzzes the site search's readers of untrusted text: the page reader (site/page_text.h) on any
// bytes a page may hold, and the search of a small index (search/site_index.h) with any words a
// visitor may type (the input's first part is a page, indexed; the second part the words).
//
// Properties: ReadPageText never fails and keeps its bounds (text within the limit, valid UTF-8
// when the page is; SKUs non-empty and at most 64 bytes, without repeats); Search answers every
// words (InvalidArgument only for words too long or not UTF-8), its snippets never carry the
// page's markup unescaped, and every hit is the indexed page.
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <set>
#include <string>

#include "base/encoding.h"
#include "fuzz_util.h"
#include "search/site_index.h"
#include "site/page_text.h"

namespace {

tieup::search::SiteIndex& Index() {
  static tieup::search::SiteIndex* index = [] {
    const std::string dir = std::filesystem::temp_directory_path().string() +
                            "/tieup-fuzz-search-" + std::to_string(::getpid());
    auto opened = tieup::search::SiteIndex::Recreate(dir);
    if (!opened.ok()) std::abort();
    static const std::string removed_at_exit = dir;
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(removed_at_exit, ec);
    });
    return opened->release();
  }();
  return *index;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tieup::fuzz::Parts parts(data, size);
  const std::string html(parts.Next());
  const std::string words(parts.Next());

  constexpr size_t kLimit = 4096;
  tieup::PageText page = tieup::ReadPageText(html, kLimit);
  FUZZ_CHECK(page.text.size() <= kLimit);
  std::set<std::string> skus;
  for (const std::string& sku : page.skus) {
    FUZZ_CHECK(!sku.empty() && sku.size() <= 64);
    FUZZ_CHECK(skus.insert(sku).second);
  }

  // Indexing runs a commit per input: only for small pages, to keep the fuzzer fast.
  tieup::search::SiteIndex& index = Index();
  if (html.size() < 2048 && tieup::IsValidUtf8(page.text) && tieup::IsValidUtf8(page.title)) {
    tieup::search::IndexedPage p;
    p.path = "/page.html";
    p.area = "tieup";
    p.version = "v";
    p.title = page.title;
    p.headings = page.headings;
    p.text = page.text;
    FUZZ_CHECK(index.Apply({p}, {}).ok());
  }
  tieup::search::SearchQuery q;
  q.words = words;
  auto answer = index.Search(q);
  if (!answer.ok()) {
    if (answer.status().code() != tieup::StatusCode::kInvalidArgument) {
      std::fprintf(stderr, "search failed: %s\n", answer.status().ToString().c_str());
    }
    FUZZ_CHECK(answer.status().code() == tieup::StatusCode::kInvalidArgument);
    FUZZ_CHECK(words.size() > tieup::search::kMaxQueryBytes || !tieup::IsValidUtf8(words));
    return 0;
  }
  for (const auto& hit : answer->hits) {
    FUZZ_CHECK(hit.path == "/page.html");
    // Xapian escapes the text; the only tags are the highlight's.
    std::string rest = hit.snippet_html;
    for (const char* tag : {"<mark>", "</mark>"}) {
      for (size_t at; (at = rest.find(tag)) != std::string::npos;) rest.erase(at, std::strlen(tag));
    }
    FUZZ_CHECK(rest.find('<') == std::string::npos);
  }
  return 0;
}
