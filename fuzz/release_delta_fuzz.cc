// Fuzzes release delta parsing and application (content/release.h): ReleaseDelta::
// ParseCanonical, then ApplyDelta to a small base release of the delta's site, area and base
// version (with the delta's base_hash pointed at that base, so application runs).
//
// Properties: an accepted delta is exactly its own encoding and validates; an applied delta
// gives a valid release whose Hash() is the delta's result_hash.
#include <string>

#include "content/release.h"
#include "fuzz_util.h"

using tieup::content::FileEntry;
using tieup::content::ReleaseDelta;
using tieup::content::ReleaseManifest;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes = tieup::fuzz::AsText(data, size);
  auto delta = ReleaseDelta::ParseCanonical(bytes);
  if (!delta.ok()) return 0;
  FUZZ_CHECK(delta->Encode() == bytes);
  FUZZ_CHECK(delta->Validate().ok());

  ReleaseManifest base;
  base.site = delta->site;
  base.area = delta->area;
  base.version = delta->base_version;
  base.created = 1'700'000'000;
  FileEntry page;
  page.hash = std::string(64, 'a');
  page.length = 5;
  page.content_type = "text/html; charset=utf-8";
  base.files.try_emplace("/index.html", page);
  page.hash = std::string(64, 'b');
  base.files.try_emplace("/shop/tea.html", page);
  if (!base.Validate().ok()) return 0;

  ReleaseDelta d = *delta;
  d.base_hash = base.Hash();
  auto result = tieup::content::ApplyDelta(base, d);
  if (result.ok()) {
    FUZZ_CHECK(result->Validate().ok());
    FUZZ_CHECK(result->Hash() == d.result_hash);
    FUZZ_CHECK(result->version == d.version);
  }
  return 0;
}
