// Fuzzes release metadata parsing (content/release.h): ReleaseManifest::Parse, ParseCanonical
// and ParseCompact (the compact form is read back from a site's own disk, where a damaged file
// must be refused, not crash the daemon).
//
// Properties: what Parse accepts validates, encodes to bytes ParseCanonical accepts and gives
// back the same manifest with the same Hash(), EncodeTo gives the same bytes as Encode, and the
// compact form round-trips; what ParseCanonical accepts is exactly its own encoding.
#include <string>

#include "content/release.h"
#include "fuzz_util.h"

using tieup::content::ReleaseManifest;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes = tieup::fuzz::AsText(data, size);

  auto parsed = ReleaseManifest::Parse(bytes);
  if (parsed.ok()) {
    const ReleaseManifest& m = *parsed;
    FUZZ_CHECK(m.Validate().ok());
    const std::string encoded = m.Encode();
    std::string streamed;
    FUZZ_CHECK(m.EncodeTo([&](std::string_view part) {
                  streamed.append(part);
                  return tieup::Status::Ok();
                }).ok());
    FUZZ_CHECK(streamed == encoded);
    auto canonical = ReleaseManifest::ParseCanonical(encoded);
    FUZZ_CHECK(canonical.ok());
    FUZZ_CHECK(*canonical == m);
    FUZZ_CHECK(canonical->Hash() == m.Hash());
    FUZZ_CHECK(tieup::content::Diff(m, *canonical).empty());
    auto compact = ReleaseManifest::ParseCompact(m.EncodeCompact());
    FUZZ_CHECK(compact.ok());
    FUZZ_CHECK(*compact == m);
  }

  auto canonical = ReleaseManifest::ParseCanonical(bytes);
  if (canonical.ok()) FUZZ_CHECK(canonical->Encode() == bytes);

  // Damaged compact bytes: refused or read, never a crash. What is read can be re-encoded.
  auto compact = ReleaseManifest::ParseCompact(bytes);
  if (compact.ok()) {
    (void)compact->EncodeCompact();
    (void)compact->Validate();
  }
  return 0;
}
