// Reading the fields fees need out of ledger entries, fast (private to the fees module; tests
// use it).
//
// A statement for a busy partner reads hundreds of thousands of entries, nearly all of them
// access records. ReadFeeEntry first tries a fast path that accepts only the exact canonical
// encoding of a record (any of the five types) whose strings are printable ASCII without
// escapes: such an entry is, byte for byte, EncodeRecord() of the record it describes, so
// ledger::ParseRecord would accept it and return the same fields. Anything else (escapes,
// non-ASCII, unknown types or versions, anything malformed) goes to ledger::ParseRecord, which
// is the authority. The fast path can therefore only be sound or give way, never decide
// differently.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"
#include "ledger/records.h"

namespace tieup::fees {

// The fields of one entry the fee rules use.
struct FeeEntry {
  enum class Type { kAccess, kOrder, kContent, kAd, kUnused, kOrderCancel };
  Type type = Type::kUnused;
  int64_t time_micros = 0;
  ledger::RecordArea area = ledger::RecordArea::kTieup;  // access, order, content
  int32_t status = 0;                                    // access
  bool probe = false;              // access: main's probe (User-Agent ledger::kProbeUserAgent)
  int64_t amount_minor = 0;        // order, order cancel
  std::array<char, 3> currency{};  // order, order cancel
  uint64_t version = 0;            // content
  uint64_t pages = 0;              // content
  uint64_t bytes = 0;              // content
  ledger::AdOwner owner = ledger::AdOwner::kMain;  // ad
  uint64_t impressions = 0;                        // ad
  std::string order_id;                            // order cancel (the slow path only)
};

// Reads `entry` (see above). Errors are ledger::ParseRecord's.
Result<FeeEntry> ReadFeeEntry(std::string_view entry);

// The fast path alone: true, with `out` filled, only when `entry` is the canonical encoding of
// a record with simple strings; false means "not decided here".
bool ReadFast(std::string_view entry, FeeEntry& out);

}  // namespace tieup::fees
