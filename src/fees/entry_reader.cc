#include "fees/entry_reader.h"

#include <cstring>
#include <variant>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace tieup::fees {
namespace {

// A cursor over the entry that only ever moves forward over what it accepted.
class Cursor {
 public:
  explicit Cursor(std::string_view s) : p_(s.data()), end_(s.data() + s.size()) {}

  bool AtEnd() const { return p_ == end_; }
  // Where the cursor is (just past what was consumed).
  const char* pos() const { return p_; }

  // Consumes the string literal `lit` when the input continues with it. The length is a
  // compile-time constant, so the comparison is inlined.
  template <size_t N>
  bool Literal(const char (&lit)[N]) {
    constexpr size_t n = N - 1;
    if (static_cast<size_t>(end_ - p_) < n) return false;
    if (std::memcmp(p_, lit, n) != 0) return false;
    p_ += n;
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

  // A canonical JSON signed integer (as std::to_string writes an int64_t: no "-0").
  bool Int(int64_t& value) {
    bool negative = p_ != end_ && *p_ == '-';
    if (negative) ++p_;
    uint64_t magnitude = 0;
    if (!Uint(negative ? uint64_t{1} << 63 : uint64_t{INT64_MAX}, magnitude)) return false;
    if (negative && magnitude == 0) return false;
    value = negative ? static_cast<int64_t>(0 - magnitude) : static_cast<int64_t>(magnitude);
    return true;
  }

  // A string of exactly three upper-case letters (an ISO 4217 code), copied to `out`.
  bool Currency(std::array<char, 3>& out) {
    if (end_ - p_ < 5 || p_[0] != '"' || p_[4] != '"') return false;
    for (int i = 0; i < 3; ++i) {
      if (p_[1 + i] < 'A' || p_[1 + i] > 'Z') return false;
      out[static_cast<size_t>(i)] = p_[1 + i];
    }
    p_ += 5;
    return true;
  }

  // "tieup" or "original" and the closing quote, after the opening quote.
  bool AreaName(ledger::RecordArea& area) {
    if (Literal("tieup\"")) {
      area = ledger::RecordArea::kTieup;
      return true;
    }
    if (Literal("original\"")) {
      area = ledger::RecordArea::kOriginal;
      return true;
    }
    return false;
  }

  // A JSON string of bytes 0x20..0x7F other than '"' and '\\' (so no escapes and no UTF-8
  // sequences: the encoder writes such a string unchanged). Returns its length via `length`.
  bool SimpleString(size_t& length) {
    if (p_ == end_ || *p_ != '"') return false;
    const char* start = ++p_;
#if defined(__SSE2__)
    // 16 bytes at a time: a signed compare with 0x20 flags bytes below 0x20 and, being
    // negative, bytes of 0x80 and above.
    const __m128i quote16 = _mm_set1_epi8('"');
    const __m128i backslash16 = _mm_set1_epi8('\\');
    const __m128i space16 = _mm_set1_epi8(0x20);
    while (end_ - p_ >= 16) {
      __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p_));
      __m128i special =
          _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote16), _mm_cmpeq_epi8(v, backslash16)),
                       _mm_cmplt_epi8(v, space16));
      int mask = _mm_movemask_epi8(special);
      if (mask == 0) {
        p_ += 16;
        continue;
      }
      p_ += __builtin_ctz(static_cast<unsigned>(mask));
      if (*p_ != '"') return false;
      length = static_cast<size_t>(p_ - start);
      ++p_;
      return true;
    }
#endif
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

bool ReadFast(std::string_view entry, FeeEntry& out) {
  // The canonical layouts, keys in sorted order, as ledger/records.cc writes them.
  Cursor c(entry);
  size_t len = 0;
  FeeEntry e;
  uint64_t u = 0, time = 0;
  bool ad_v2 = false;  // an ad record with its id and clicks
  if (c.Literal("{\"area\":\"")) {
    if (!c.AreaName(e.area)) return false;
    if (c.Literal(",\"bytes\":")) {
      if (!c.Uint(UINT64_MAX, e.bytes)) return false;
      if (c.Literal(",\"method\":")) {  // access
        if (!c.SimpleString(len) || len == 0) return false;
        if (!c.Literal(",\"path\":") || !c.SimpleString(len)) return false;
        if (!c.Literal(",\"referer\":") || !c.SimpleString(len)) return false;
        if (c.Literal(",\"remote\":") && !c.SimpleString(len)) return false;
        if (!c.Literal(",\"session_id\":") || !c.SimpleString(len)) return false;
        if (!c.Literal(",\"status\":") || !c.Uint(999, u)) return false;
        if (!c.Literal(",\"time_micros\":") || !c.Uint(INT64_MAX, time)) return false;
        if (!c.Literal(",\"type\":\"access\",\"user_agent\":") || !c.SimpleString(len)) {
          return false;
        }
        e.probe = std::string_view(c.pos() - 1 - len, len) == ledger::kProbeUserAgent;
        if (!c.Literal(",\"user_id\":") || !c.SimpleString(len)) return false;
        if (!c.Literal(",\"v\":1}")) return false;
        e.type = FeeEntry::Type::kAccess;
        e.status = static_cast<int32_t>(u);
      } else {  // content
        if (!c.Literal(",\"pages\":") || !c.Uint(UINT64_MAX, e.pages)) return false;
        if (!c.Literal(",\"time_micros\":") || !c.Uint(INT64_MAX, time)) return false;
        if (!c.Literal(",\"type\":\"content\",\"v\":1,\"version\":")) return false;
        if (!c.Uint(UINT64_MAX, e.version) || !c.Literal("}")) return false;
        e.type = FeeEntry::Type::kContent;
      }
    } else {  // registration
      if (!c.Literal(",\"partner\":") || !c.SimpleString(len)) return false;
      if (!c.Literal(",\"time_micros\":") || !c.Uint(INT64_MAX, time)) return false;
      if (!c.Literal(",\"type\":\"registration\",\"user_id\":") || !c.SimpleString(len) ||
          len == 0) {
        return false;
      }
      if (!c.Literal(",\"v\":1}")) return false;
      e.type = FeeEntry::Type::kUnused;
    }
  } else if (c.Literal("{\"amount_minor\":")) {  // order
    if (!c.Int(e.amount_minor)) return false;
    if (!c.Literal(",\"area\":\"") || !c.AreaName(e.area)) return false;
    if (!c.Literal(",\"currency\":") || !c.Currency(e.currency)) return false;
    if (!c.Literal(",\"items\":") || !c.Uint(UINT32_MAX, u)) return false;
    if (!c.Literal(",\"order_id\":") || !c.SimpleString(len) || len == 0) return false;
    if (!c.Literal(",\"partner\":") || !c.SimpleString(len)) return false;
    if (!c.Literal(",\"time_micros\":") || !c.Uint(INT64_MAX, time)) return false;
    if (!c.Literal(",\"type\":\"order\",\"v\":1}")) return false;
    e.type = FeeEntry::Type::kOrder;
  } else if (c.Literal("{\"impressions\":") || c.Literal("{\"ad\":")) {  // ad, v 1 or v 2
    if (entry[2] == 'a') {  // v 2: the ad's id and clicks first
      if (!c.SimpleString(len) || !c.Literal(",\"clicks\":") || !c.Uint(UINT64_MAX, u))
        return false;
      if (!c.Literal(",\"impressions\":")) return false;
      ad_v2 = true;
    }
    if (!c.Uint(UINT64_MAX, e.impressions)) return false;
    if (c.Literal(",\"owner\":\"main\"")) {
      e.owner = ledger::AdOwner::kMain;
    } else if (c.Literal(",\"owner\":\"partner\"")) {
      e.owner = ledger::AdOwner::kPartner;
    } else {
      return false;
    }
    if (!c.Literal(",\"path\":") || !c.SimpleString(len)) return false;
    if (!c.Literal(",\"time_micros\":") || !c.Uint(INT64_MAX, time)) return false;
    if (!(ad_v2 ? c.Literal(",\"type\":\"ad\",\"v\":2}")
                : c.Literal(",\"type\":\"ad\",\"v\":1}"))) {
      return false;
    }
    e.type = FeeEntry::Type::kAd;
  } else {
    return false;
  }
  if (!c.AtEnd()) return false;
  e.time_micros = static_cast<int64_t>(time);
  out = e;
  return true;
}

Result<FeeEntry> ReadFeeEntry(std::string_view entry) {
  FeeEntry out;
  if (ReadFast(entry, out)) return out;
  ASSIGN_OR_RETURN(ledger::LedgerRecord record, ledger::ParseRecord(entry));
  if (const auto* a = std::get_if<ledger::AccessRecord>(&record)) {
    out.type = FeeEntry::Type::kAccess;
    out.time_micros = a->time_micros;
    out.area = a->area;
    out.status = a->status;
    out.bytes = a->bytes;
    out.probe = a->user_agent == ledger::kProbeUserAgent;
  } else if (const auto* o = std::get_if<ledger::OrderRecord>(&record)) {
    out.type = FeeEntry::Type::kOrder;
    out.time_micros = o->time_micros;
    out.area = o->area;
    out.amount_minor = o->amount_minor;
    std::memcpy(out.currency.data(), o->currency.data(), 3);  // ParseRecord checked: 3 letters
  } else if (const auto* x = std::get_if<ledger::OrderCancelRecord>(&record)) {
    out.type = FeeEntry::Type::kOrderCancel;
    out.time_micros = x->time_micros;
    out.area = x->area;
    out.amount_minor = x->amount_minor;
    std::memcpy(out.currency.data(), x->currency.data(), 3);  // ParseRecord checked: 3 letters
    out.order_id = x->order_id;
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
  } else if (const auto* search = std::get_if<ledger::SearchRecord>(&record)) {
    // A search, or a click on one of its results: no fee counts them (the fast path above
    // never takes one: it starts with "clicked_" or "query", which no layout there does).
    out.type = FeeEntry::Type::kUnused;
    out.time_micros = search->time_micros;
  }
  return out;
}

}  // namespace tieup::fees
