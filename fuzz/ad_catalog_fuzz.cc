// Fuzzes the ad catalog (content/ad_catalog.h): ParseAdCatalog on the bytes.
// Properties: never crashes; an accepted catalog keeps its limits (at most kMaxAds ads, unique
// ids of a-z, 0-9 and '-', one-line text, links and image paths without spaces, quotes or
// control characters), so that the frame's markup and the click's Location header are safe.
#include <set>
#include <string>

#include "content/ad_catalog.h"
#include "fuzz_util.h"
#include "toml_guard.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = tieup::fuzz::AsText(data, size);
  if (tieup::fuzz::HitsTomlUnreachable(text)) return 0;
  auto catalog = tieup::content::ParseAdCatalog(text, "ads.toml");
  if (!catalog.ok()) {
    FUZZ_CHECK(!catalog.status().message().empty());
    return 0;
  }
  FUZZ_CHECK(catalog->ads.size() <= tieup::content::kMaxAds);
  std::set<std::string> ids;
  auto safe = [](const std::string& s) {
    for (unsigned char c : s) {
      if (c <= 0x20 || c == 0x7f || c == '"' || c == '\'' || c == '<' || c == '>') return false;
    }
    return true;
  };
  for (const auto& ad : catalog->ads) {
    FUZZ_CHECK(!ad.id.empty() && ad.id.size() <= 40);
    for (char c : ad.id) FUZZ_CHECK((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-');
    FUZZ_CHECK(ids.insert(ad.id).second);
    FUZZ_CHECK(!ad.text.empty());
    for (unsigned char c : ad.text) FUZZ_CHECK(c >= 0x20 && c != 0x7f);
    FUZZ_CHECK(!ad.link.empty() && safe(ad.link));
    FUZZ_CHECK(ad.image.empty() || (ad.image[0] == '/' && safe(ad.image)));
    FUZZ_CHECK(catalog->Find(ad.id) == &ad);
  }
  return 0;
}
