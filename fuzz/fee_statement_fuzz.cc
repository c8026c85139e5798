// Fuzzes what a partner reads of a fee statement main delivers (issue 15 item 8): the statement
// CSV (fees/statement.h, formats /1 and /2 with billed days and enabled options), its scope,
// and main's signature payload on it (sync/statement_signature.h).
//
// Properties: an accepted statement writes back to the very bytes it was read from (the CSV is
// canonical, its digest covers its body); its scope agrees with it; an accepted signature
// payload encodes back to the same bytes.
#include <string>

#include "fees/statement.h"
#include "fuzz_util.h"
#include "sync/statement_signature.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto statement = tieup::fees::ParseStatementCsv(text);
  if (statement.ok()) {
    FUZZ_CHECK(statement->ToCsv() == text);
    auto scope = tieup::fees::ReadStatementScope(text);
    FUZZ_CHECK(scope.ok());
    FUZZ_CHECK(scope->billing == statement->billing);
    FUZZ_CHECK(scope->partner == statement->partner);
  } else {
    (void)tieup::fees::ReadStatementScope(text);
  }
  auto attestation = tieup::sync::ParseStatementAttestation(text);
  if (attestation.ok()) {
    FUZZ_CHECK(tieup::sync::EncodeStatementAttestation(*attestation) == text);
  }
  return 0;
}
