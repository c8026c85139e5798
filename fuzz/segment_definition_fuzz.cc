// Fuzzes a stored segment definition (main_site/segments.h ParseSegmentDefinition): JSON kept in
// main's database and read back for every count and campaign.
//
// Properties: an accepted definition is valid, re-encodes to text that parses back to the same
// definition, and encodes the same way again; its description never throws.
#include <string>

#include "fuzz_util.h"
#include "main_site/segments.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto d = tieup::ParseSegmentDefinition(text);
  if (!d.ok()) return 0;
  FUZZ_CHECK(tieup::ValidateSegmentDefinition(*d).ok());
  const std::string encoded = tieup::EncodeSegmentDefinition(*d);
  auto again = tieup::ParseSegmentDefinition(encoded);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(*again == *d);
  FUZZ_CHECK(tieup::EncodeSegmentDefinition(*again) == encoded);
  (void)tieup::DescribeSegment(*d);
  return 0;
}
