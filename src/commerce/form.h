// Strict application/x-www-form-urlencoded parsing, HTML escaping and text checks for the shop
// pages. Pure functions, thread-safe.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "base/encoding.h"
#include "base/status.h"

namespace tieup::commerce {

// Decoded form fields by name. Each name appears once (ParseForm refuses duplicates).
class FormFields {
 public:
  // The value of `name`, if present.
  std::optional<std::string_view> Find(std::string_view name) const;
  // The value of `name`, or "" when absent.
  std::string_view Get(std::string_view name) const;
  bool Has(std::string_view name) const { return fields_.count(std::string(name)) != 0; }
  size_t size() const { return fields_.size(); }
  const std::map<std::string, std::string, std::less<>>& all() const { return fields_; }
  // Sets `name` (for tests and for building forms); replaces an existing value.
  void Set(std::string name, std::string value) { fields_[std::move(name)] = std::move(value); }

 private:
  std::map<std::string, std::string, std::less<>> fields_;
};

struct FormLimits {
  size_t max_body_bytes = 16 * 1024;
  size_t max_fields = 32;
  size_t max_value_bytes = 4 * 1024;
};

// Parses an application/x-www-form-urlencoded body ("a=1&b=x+y%21"). '+' is a space.
// Refuses, with kInvalidArgument and a message naming the field: a bad percent-escape, a
// duplicate or empty field name, a name or value that is not valid UTF-8 or holds a control
// character other than tab, CR and LF (NUL always refused); kResourceExhausted: a body, a value
// or a field count above `limits`. An empty body gives no fields.
Result<FormFields> ParseForm(std::string_view body, const FormLimits& limits = {});

// Percent-decodes a query or form component ('+' becomes a space when `plus_is_space`).
Result<std::string> PercentDecode(std::string_view text, bool plus_is_space);

// Percent-encodes everything except unreserved characters (RFC 3986), for URLs and forms.
std::string PercentEncode(std::string_view text);

// HTML escaping and UTF-8 checks are base/encoding.h's; named here for the shop's callers.
using ::tieup::HtmlEscape;
using ::tieup::IsValidUtf8;

// Checks a single-line text field from a user: valid UTF-8, no control characters (tab
// neither), at most `max_chars` bytes, and (when `required`) not blank. `label` is the field's
// human name used in the message ("Name is required").
Status CheckTextField(std::string_view text, std::string_view label, size_t max_bytes,
                      bool required);

// Removes leading and trailing ASCII whitespace.
std::string_view Trim(std::string_view text);

// `text` as a whole number written with 1..max_digits ASCII digits (no sign, no spaces, at most
// 18 digits); nullopt otherwise.
std::optional<int64_t> ParseDigits(std::string_view text, size_t max_digits);

// The value of cookie `name` in a Cookie header ("a=1; tieup_cart=XYZ"), trimmed; "" when the
// header has no such cookie. The first one wins.
std::string CookieValue(std::string_view cookie_header, std::string_view name);

}  // namespace tieup::commerce
