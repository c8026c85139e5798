// Byte and time encodings shared by every module: hex, base64 (standard and URL-safe), HTTP
// dates (RFC 9110 IMF-fixdate) and RFC 3339 timestamps. All functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace tieup {

// `s` with A-Z lowered (other bytes, UTF-8 included, as they are).
std::string LowerAscii(std::string_view s);

// Lower-case hex.
std::string HexEncode(std::string_view bytes);
// Accepts upper or lower case; fails on odd length or a non-hex character.
Result<std::string> HexDecode(std::string_view hex);

// RFC 4648 base64 with padding ("+/").
std::string Base64Encode(std::string_view bytes);
// Accepts padded input, and unpadded input whose length allows it.
Result<std::string> Base64Decode(std::string_view text);
// RFC 4648 section 5 ("-_"), without padding.
std::string Base64UrlEncode(std::string_view bytes);
Result<std::string> Base64UrlDecode(std::string_view text);

// "Sun, 06 Nov 1994 08:49:37 GMT" for seconds since the Unix epoch.
std::string FormatHttpDate(int64_t unix_seconds);
// Parses IMF-fixdate only (what tieup sends; RFC 9110 lets a recipient refuse the obsolete
// forms for conditional requests, which then are treated as absent).
Result<int64_t> ParseHttpDate(std::string_view text);

// "2026-11-24T08:49:37Z" (UTC, second precision).
std::string FormatRfc3339(int64_t unix_seconds);
// Parses "YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm)"; returns seconds since the epoch.
Result<int64_t> ParseRfc3339(std::string_view text);

// tieup's own binary formats (stored build inputs, compact manifests, blob batches): unsigned
// integers big-endian in `width` bytes (1..8; the value must fit).
void AppendBigEndian(std::string& out, uint64_t value, int width);

// Reads such a format front to back. A read past the end returns zero or empty and marks the
// reader failed (ok() false) rather than erroring at each call: check ok() once at the end.
class ByteReader {
 public:
  explicit ByteReader(std::string_view in) : in_(in) {}
  // A big-endian unsigned integer of `width` bytes (1..8).
  uint64_t BigEndian(int width);
  // The next `n` bytes (a view into the input).
  std::string_view Take(uint64_t n);
  bool ok() const { return ok_; }
  bool done() const { return in_.empty(); }
  size_t remaining() const { return in_.size(); }

 private:
  std::string_view in_;
  bool ok_ = true;
};

// Length of the valid UTF-8 sequence starting at s[i] (1-4), or 0 when the bytes there are not
// valid UTF-8: a continuation byte, a truncated or overlong sequence, a UTF-16 surrogate, or a
// code point above U+10FFFF. `i` must be < s.size().
size_t Utf8SequenceLength(std::string_view s, size_t i);
// True iff `bytes` is entirely valid UTF-8 (as above).
bool IsValidUtf8(std::string_view bytes);
// `s` with every byte that does not start a valid UTF-8 sequence replaced by U+FFFD.
std::string SanitizeUtf8(std::string_view s);

// Escapes &, <, >, " and ' so that `text` is safe in HTML text and in quoted attribute values.
std::string HtmlEscape(std::string_view text);

// Days since 1970-01-01 for a proleptic Gregorian date (no validation beyond ranges).
int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day);

}  // namespace tieup
