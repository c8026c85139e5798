#include "fees/entry_reader.h"

#include <cstring>
#include <variant>

namespace tieup::fees {
namespace {

// A cursor over the entry that only ever moves forward over what it accepted.
class Cursor {
 public:
  explicit Cursor(std::string_view s) : p_(s.data()), end_(s.data() + s.size()) {}

  bool AtEnd() const { return p_ == end_; }

  // Consumes `lit` when the input continues with it.
  bool Literal(std::string_view lit) {
    if (static_cast<size_t>(end_ - p_) < lit.size()) return false;
    if (std::memcmp(p_, lit.data(), lit.size()) != 0) return false;
    p_ += lit.size();
    return true;
  }

  // A canonical JSON unsigned integer (no sign, no leading zero) of at most `max`.
  bool Uint(uint64_t max, uint64_t& value) {
    if (p_ == end_ || *p_ < '0' || *p_ > '9') return false;
    if (*p_ == '0') {
      ++p_;
      value = 0;
      return p_ == end_ || *p_ < '0' || *p_ > '9';
    }
    uint64_t v = 0;
    while (p_ != end_ && *p_ >= '0' && *p_ <= '9') {
      uint64_t d = static_cast<uint64_t>(*p_ - '0');
      if (v > (max - d) / 10) return false;
      v = v * 10 + d;
      ++p_;
    }
    value = v;
    return true;
  }

  // A JSON string of bytes 0x20..0x7F other than '"' and '\\' (so no escapes and no UTF-8
  // sequences: the encoder writes such a string unchanged). Returns its length via `length`.
  bool SimpleString(size_t& length) {
    if (p_ == end_ || *p_ != '"') return false;
    const char* start = ++p_;
    constexpr uint64_t kOnes = 0x0101010101010101ull;
    constexpr uint64_t kHigh = 0x8080808080808080ull;
    while (end_ - p_ >= 8) {
      uint64_t w;
      std::memcpy(&w, p_, 8);
      // Flags a byte below 0x20, a '"', a '\\' or one with the high bit set (exact as to
      // whether any byte qualifies; the bytes are then looked at one by one).
      uint64_t below = (w - kOnes * 0x20) & ~w & kHigh;
      uint64_t q = w ^ (kOnes * '"');
      uint64_t quote = (q - kOnes) & ~q & kHigh;
      uint64_t b = w ^ (kOnes * '\\');
      uint64_t backslash = (b - kOnes) & ~b & kHigh;
      if (((below | quote | backslash) | (w & kHigh)) == 0) {
        p_ += 8;
        continue;
      }
      for (int i = 0; i < 8; ++i, ++p_) {
        unsigned char c = static_cast<unsigned char>(*p_);
        if (c == '"') {
          length = static_cast<size_t>(p_ - start);
          ++p_;
          return true;
        }
        if (c < 0x20 || c == '\\' || c >= 0x80) return false;
      }
    }
    for (; p_ != end_; ++p_) {
      unsigned char c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        length = static_cast<size_t>(p_ - start);
        ++p_;
        return true;
      }
      if (c < 0x20 || c == '\\' || c >= 0x80) return false;
    }
    return false;
  }

 private:
  const char* p_;
  const char* end_;
};

}  // namespace

bool ReadAccessFast(std::string_view entry, FeeEntry& out) {
  // The canonical layout, keys in sorted order (ledger/records.cc, EncodeRecord(AccessRecord)).
  Cursor c(entry);
  size_t len = 0;
  uint64_t bytes = 0, status = 0, time = 0;
  ledger::RecordArea area;
  if (!c.Literal("{\"area\":\"")) return false;
  if (c.Literal("tieup\"")) {
    area = ledger::RecordArea::kTieup;
  } else if (c.Literal("original\"")) {
    area = ledger::RecordArea::kOriginal;
  } else {
    return false;
  }
  if (!c.Literal(",\"bytes\":") || !c.Uint(UINT64_MAX, bytes)) return false;
  if (!c.Literal(",\"method\":") || !c.SimpleString(len) || len == 0) return false;
  if (!c.Literal(",\"path\":") || !c.SimpleString(len)) return false;
  if (!c.Literal(",\"referer\":") || !c.SimpleString(len)) return false;
  if (c.Literal(",\"remote\":") && !c.SimpleString(len)) return false;
  if (!c.Literal(",\"session_id\":") || !c.SimpleString(len)) return false;
  if (!c.Literal(",\"status\":") || !c.Uint(999, status)) return false;
  if (!c.Literal(",\"time_micros\":") || !c.Uint(INT64_MAX, time)) return false;
  if (!c.Literal(",\"type\":\"access\",\"user_agent\":") || !c.SimpleString(len)) return false;
  if (!c.Literal(",\"user_id\":") || !c.SimpleString(len)) return false;
  if (!c.Literal(",\"v\":1}") || !c.AtEnd()) return false;
  out = FeeEntry{};
  out.type = FeeEntry::Type::kAccess;
  out.time_micros = static_cast<int64_t>(time);
  out.area = area;
  out.status = static_cast<int32_t>(status);
  out.bytes = bytes;
  return true;
}

Result<FeeEntry> ReadFeeEntry(std::string_view entry) {
  FeeEntry out;
  if (ReadAccessFast(entry, out)) return out;
  ASSIGN_OR_RETURN(ledger::LedgerRecord record, ledger::ParseRecord(entry));
  if (const auto* a = std::get_if<ledger::AccessRecord>(&record)) {
    out.type = FeeEntry::Type::kAccess;
    out.time_micros = a->time_micros;
    out.area = a->area;
    out.status = a->status;
    out.bytes = a->bytes;
  } else if (const auto* o = std::get_if<ledger::OrderRecord>(&record)) {
    out.type = FeeEntry::Type::kOrder;
    out.time_micros = o->time_micros;
    out.area = o->area;
    out.amount_minor = o->amount_minor;
    std::memcpy(out.currency.data(), o->currency.data(), 3);  // ParseRecord checked: 3 letters
  } else if (const auto* k = std::get_if<ledger::ContentRecord>(&record)) {
    out.type = FeeEntry::Type::kContent;
    out.time_micros = k->time_micros;
    out.area = k->area;
    out.version = k->version;
    out.pages = k->pages;
    out.bytes = k->bytes;
  } else if (const auto* ad = std::get_if<ledger::AdRecord>(&record)) {
    out.type = FeeEntry::Type::kAd;
    out.time_micros = ad->time_micros;
    out.owner = ad->owner;
    out.impressions = ad->impressions;
  } else if (const auto* reg = std::get_if<ledger::RegistrationRecord>(&record)) {
    out.type = FeeEntry::Type::kUnused;
    out.time_micros = reg->time_micros;
  }
  return out;
}

}  // namespace tieup::fees
