#include "commerce/form.h"

#include <algorithm>

namespace tieup::commerce {

std::optional<std::string_view> FormFields::Find(std::string_view name) const {
  auto it = fields_.find(name);
  if (it == fields_.end()) return std::nullopt;
  return std::string_view(it->second);
}

std::string_view FormFields::Get(std::string_view name) const {
  auto v = Find(name);
  return v ? *v : std::string_view();
}

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool HasBadControl(std::string_view s, bool allow_newlines) {
  for (unsigned char c : s) {
    if (c == '\t' || ((c == '\r' || c == '\n') && allow_newlines)) continue;
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

}  // namespace

Result<std::string> PercentDecode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      int hi = -1, lo = -1;
      if (i + 2 < text.size()) {
        hi = HexValue(text[i + 1]);
        lo = HexValue(text[i + 2]);
      }
      if (hi < 0 || lo < 0) {
        return Status::InvalidArgument("bad percent-escape at byte " + std::to_string(i) +
                                       ": '%' must be followed by two hex digits");
      }
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::string PercentEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

Result<FormFields> ParseForm(std::string_view body, const FormLimits& limits) {
  if (body.size() > limits.max_body_bytes) {
    return Status::ResourceExhausted("the form is " + std::to_string(body.size()) +
                                     " bytes; at most " + std::to_string(limits.max_body_bytes) +
                                     " are accepted");
  }
  FormFields fields;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t amp = body.find('&', pos);
    if (amp == std::string_view::npos) amp = body.size();
    std::string_view pair = body.substr(pos, amp - pos);
    pos = amp + 1;
    if (pair.empty()) continue;  // "a=1&&b=2" and a trailing '&' are harmless
    size_t eq = pair.find('=');
    std::string_view raw_name = pair.substr(0, eq);
    std::string_view raw_value = eq == std::string_view::npos ? "" : pair.substr(eq + 1);
    auto name = PercentDecode(raw_name, true);
    if (!name.ok()) return name.status().Annotate("in a form field name");
    if (name->empty()) return Status::InvalidArgument("the form has a field without a name");
    if (!IsValidUtf8(*name) || HasBadControl(*name, false) || name->size() > 64) {
      return Status::InvalidArgument("the form has a field name that is not plain text");
    }
    auto value = PercentDecode(raw_value, true);
    if (!value.ok()) return value.status().Annotate("in form field '" + *name + "'");
    if (value->size() > limits.max_value_bytes) {
      return Status::ResourceExhausted("form field '" + *name + "' is longer than " +
                                       std::to_string(limits.max_value_bytes) + " bytes");
    }
    if (!IsValidUtf8(*value)) {
      return Status::InvalidArgument("form field '" + *name + "' is not valid UTF-8 text");
    }
    if (HasBadControl(*value, true)) {
      return Status::InvalidArgument("form field '" + *name + "' holds control characters");
    }
    if (fields.Has(*name)) {
      return Status::InvalidArgument("form field '" + *name +
                                     "' appears more than once; send each field once");
    }
    if (fields.size() >= limits.max_fields) {
      return Status::ResourceExhausted("the form has more than " +
                                       std::to_string(limits.max_fields) + " fields");
    }
    fields.Set(std::move(name).value(), std::move(value).value());
  }
  return fields;
}

std::string_view Trim(std::string_view text) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!text.empty() && space(text.front())) text.remove_prefix(1);
  while (!text.empty() && space(text.back())) text.remove_suffix(1);
  return text;
}

Status CheckTextField(std::string_view text, std::string_view label, size_t max_bytes,
                      bool required) {
  if (required && Trim(text).empty()) {
    return Status::InvalidArgument(std::string(label) + " is required");
  }
  if (text.size() > max_bytes) {
    return Status::InvalidArgument(std::string(label) + " is too long (at most " +
                                   std::to_string(max_bytes) + " bytes)");
  }
  if (!IsValidUtf8(text)) {
    return Status::InvalidArgument(std::string(label) + " is not valid UTF-8 text");
  }
  if (HasBadControl(text, false) || text.find('\t') != std::string_view::npos) {
    return Status::InvalidArgument(std::string(label) +
                                   " must be a single line without control characters");
  }
  return Status::Ok();
}

std::optional<int64_t> ParseDigits(std::string_view text, size_t max_digits) {
  if (text.empty() || text.size() > std::min<size_t>(max_digits, 18)) return std::nullopt;
  int64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

std::string CookieValue(std::string_view cookie_header, std::string_view name) {
  size_t pos = 0;
  while (pos < cookie_header.size()) {
    size_t semi = cookie_header.find(';', pos);
    if (semi == std::string_view::npos) semi = cookie_header.size();
    std::string_view pair = Trim(cookie_header.substr(pos, semi - pos));
    pos = semi + 1;
    size_t eq = pair.find('=');
    if (eq != std::string_view::npos && Trim(pair.substr(0, eq)) == name) {
      return std::string(Trim(pair.substr(eq + 1)));
    }
  }
  return "";
}

}  // namespace tieup::commerce
