// Fuzzes the putting in of a partner's values into main's templates (content/template_vars.h
// SubstituteVariables), which reads markers out of bytes a partner fetched.
//
// Input: "name=value" lines (the variables), a "\n--\n" line, then the template. Properties: it
// returns (no crash); when it succeeds and no value holds a marker's opening code point, the
// result holds none either; a template without markers comes back unchanged; a template made of
// the markers of known names gives their escaped values.
#include <map>
#include <string>

#include "content/template_vars.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tieup::fuzz::Parts parts(data, size);
  const std::string_view head = parts.Next();
  const std::string_view tmpl = parts.Rest();
  std::map<std::string, std::string> variables;
  bool marker_in_value = false;
  for (size_t at = 0; at < head.size();) {
    size_t end = head.find('\n', at);
    if (end == std::string_view::npos) end = head.size();
    const std::string_view line = head.substr(at, end - at);
    const size_t eq = line.find('=');
    if (eq != std::string_view::npos) {
      std::string value(line.substr(eq + 1));
      marker_in_value = marker_in_value || tieup::content::HasVariableMarker(value);
      variables[std::string(line.substr(0, eq))] = std::move(value);
    }
    at = end + 1;
  }
  auto out = tieup::content::SubstituteVariables(tmpl, variables);
  if (out.ok() && !marker_in_value) FUZZ_CHECK(!tieup::content::HasVariableMarker(*out));
  if (!tieup::content::HasVariableMarker(tmpl)) FUZZ_CHECK(out.ok() && *out == tmpl);
  std::string all;
  for (const auto& [name, value] : variables) {
    if (name.size() <= 128 && name.find("\xEE\x80\x81") == std::string::npos) {
      all += tieup::content::VariableMarker(name);
    }
  }
  FUZZ_CHECK(tieup::content::SubstituteVariables(all, variables).ok());
  return 0;
}
