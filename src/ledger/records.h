// The typed records a partner writes to its ledger: accesses, user registrations, orders (and
// their cancellations and refunds), content amounts (on each release activation), advertisements
// shown, searches on the site's search page (and clicks on their results), and the requests that
// could not be recorded (a gap, so that fees are never silently under-counted).
//
// Each record encodes to one canonical byte form: compact JSON with its keys sorted, a "type"
// and a version "v". Parsing is strict: the input must be exactly the canonical encoding of a
// record (no extra or missing fields, no other spelling), and a version this build does not
// know is refused with a message saying so. Strings must be UTF-8: when encoding, invalid
// byte sequences (a broken User-Agent, say) are replaced with U+FFFD so that every record can
// be written. All functions are pure and thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "base/status.h"

namespace tieup::ledger {

// The content area a request or sale belongs to (DESIGN.md "Pages on a partner").
enum class RecordArea { kTieup, kOriginal };

// "tieup" or "original".
std::string_view RecordAreaName(RecordArea area);

// The User-Agent of main's probes of a partner's public pages (main_site/page_probes.h): an
// access record naming it is main checking what the partner serves, not a visitor, and fee
// statements leave it out (fees/inputs.h).
inline constexpr std::string_view kProbeUserAgent = "tieup-probe/1";

// One HTTP request served by a partner. type "access", v 1.
struct AccessRecord {
  static constexpr int kVersion = 1;
  int64_t time_micros = 0;  // when the request arrived, microseconds since the epoch (>= 0)
  RecordArea area = RecordArea::kTieup;
  std::string method;                 // "GET"
  std::string path;                   // request target path, without the query
  int32_t status = 0;                 // HTTP status sent, 0..999
  uint64_t bytes = 0;                 // response body bytes sent
  std::string referer;                // empty when absent
  std::string user_agent;             // empty when absent
  std::string user_id;                // empty for anonymous requests
  std::string session_id;             // an opaque id or hash, never the session secret itself
  std::optional<std::string> remote;  // client address, when the partnership records it

  friend bool operator==(const AccessRecord&, const AccessRecord&) = default;
};

// A user registering through a partner (on main's registration page, users/registration.h;
// recorded at the account's first sign-in there). type "registration", v 1.
struct RegistrationRecord {
  static constexpr int kVersion = 1;
  int64_t time_micros = 0;
  std::string partner;                   // site id of the partner where the user registered
  std::string user_id;                   // the id main's user store assigned
  RecordArea area = RecordArea::kTieup;  // area of the page the registration came from

  friend bool operator==(const RegistrationRecord&, const RegistrationRecord&) = default;
};

// An order placed through a partner. type "order", v 1.
struct OrderRecord {
  static constexpr int kVersion = 1;
  int64_t time_micros = 0;
  std::string order_id;
  std::string partner;
  RecordArea area = RecordArea::kTieup;
  int64_t amount_minor = 0;  // total in minor units (cents); negative for a refund
  std::string currency;      // ISO 4217, three upper-case letters
  uint32_t items = 0;        // number of items

  friend bool operator==(const OrderRecord&, const OrderRecord&) = default;
};

// The content of one area as a release of it was activated on a site, so that the amount of
// content a fee depends on can be reproduced from the ledger. type "content", v 1.
struct ContentRecord {
  static constexpr int kVersion = 1;
  int64_t time_micros = 0;  // when the release was activated (>= 0)
  RecordArea area = RecordArea::kTieup;
  uint64_t version = 0;  // the release version activated
  uint64_t pages = 0;    // pages (rendered documents) in the release
  uint64_t bytes = 0;    // total bytes of the release's files

  friend bool operator==(const ContentRecord&, const ContentRecord&) = default;
};

// An order taken back after it was recorded: cancelled (before or after payment) or refunded.
// It references the order's OrderRecord by order_id; the fee rules subtract it in the period
// of the cancellation (fees/inputs.h), so a statement already written never changes. type
// "order_cancel", v 1.
struct OrderCancelRecord {
  static constexpr int kVersion = 1;
  int64_t time_micros = 0;  // when the order was cancelled or refunded (>= 0)
  std::string order_id;     // the order, as its OrderRecord names it (non-empty)
  std::string partner;
  RecordArea area = RecordArea::kTieup;  // the area of the order
  int64_t amount_minor = 0;              // the amount taken back (>= 0)
  std::string currency;                  // ISO 4217, the order's
  std::string kind;                      // "cancelled" or "refunded"

  friend bool operator==(const OrderCancelRecord&, const OrderCancelRecord&) = default;
};

// Whose advertisement a page showed.
enum class AdOwner { kMain, kPartner };

// "main" or "partner".
std::string_view AdOwnerName(AdOwner owner);

// Advertisements shown on a partner's page, or clicked (one record may sum several impressions
// of one owner on one path). type "ad": v 1 without `ad` and `clicks` (the records of older
// builds, and any record with an empty `ad` and no clicks), v 2 with them.
struct AdRecord {
  static constexpr int kVersion = 2;
  int64_t time_micros = 0;  // when the ads were shown (>= 0)
  AdOwner owner = AdOwner::kMain;
  uint64_t impressions = 0;  // number of ads shown
  std::string path;          // the page they were shown on ("" when not known)
  uint64_t clicks = 0;       // number of clicks on the ad (v 2)
  std::string ad;            // the ad's id in its owner's catalog (content/ad_catalog.h; v 2)

  friend bool operator==(const AdRecord&, const AdRecord&) = default;
};

// Requests the partner served but could not record (its disk was full, or the writer's queue
// overflowed): written as soon as the ledger takes appends again, so the gap itself is in the
// tamper-evident log and main raises an alert when it receives it. type "unrecorded", v 1.
struct UnrecordedRecord {
  static constexpr int kVersion = 1;
  uint64_t count = 0;        // requests not recorded (>= 1)
  int64_t first_micros = 0;  // arrival time of the first of them (>= 0)
  int64_t last_micros = 0;   // arrival time of the last of them (>= first_micros)
  std::string reason;        // why, for people ("no space left on device ...")

  friend bool operator==(const UnrecordedRecord&, const UnrecordedRecord&) = default;
};

// The longest query a SearchRecord holds, in bytes.
inline constexpr size_t kMaxSearchQueryBytes = 400;

// A search on the site's /search page, or a click on one of its results. No fee counts it
// (fees/inputs.h): main lists the searches that found nothing, so that partners learn what their
// visitors look for in vain. type "search", v 1; `clicked_area` and `clicked_path` are written
// only for a click.
struct SearchRecord {
  static constexpr int kVersion = 1;
  int64_t time_micros = 0;  // when (>= 0)
  // The words searched, as the visitor typed them (at most kMaxSearchQueryBytes bytes).
  std::string query;
  uint64_t results = 0;      // how many pages matched (an estimate for large counts)
  std::string clicked_path;  // a click on a result: the result's path ('/...'); empty for a search
  std::optional<RecordArea> clicked_area;  // a click: the result's area; absent for a search

  friend bool operator==(const SearchRecord&, const SearchRecord&) = default;
};

using LedgerRecord = std::variant<AccessRecord, RegistrationRecord, OrderRecord, ContentRecord,
                                  AdRecord, UnrecordedRecord, OrderCancelRecord, SearchRecord>;

// The canonical encoding of a record.
std::string EncodeRecord(const AccessRecord& record);
std::string EncodeRecord(const RegistrationRecord& record);
std::string EncodeRecord(const OrderRecord& record);
std::string EncodeRecord(const ContentRecord& record);
std::string EncodeRecord(const AdRecord& record);
std::string EncodeRecord(const UnrecordedRecord& record);
std::string EncodeRecord(const OrderCancelRecord& record);
// A query longer than kMaxSearchQueryBytes, or a click that names only one of its path and area,
// is written as given, and ParseRecord refuses it: the access log writer cuts the query
// (access_log_writer.h).
std::string EncodeRecord(const SearchRecord& record);
std::string EncodeRecord(const LedgerRecord& record);

// Parses a ledger entry strictly (see above). InvalidArgument names the field at fault;
// Unimplemented says which type or version is unknown to this build.
Result<LedgerRecord> ParseRecord(std::string_view entry);

}  // namespace tieup::ledger
