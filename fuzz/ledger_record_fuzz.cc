// Fuzzes ledger record parsing (ledger/records.h), which reads entries of a log written by
// another site. Property: parsing is exact, so an accepted entry is its own canonical encoding.
#include "fuzz_util.h"
#include "ledger/records.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view entry = tieup::fuzz::AsText(data, size);
  auto record = tieup::ledger::ParseRecord(entry);
  if (record.ok()) FUZZ_CHECK(tieup::ledger::EncodeRecord(*record) == entry);
  return 0;
}
