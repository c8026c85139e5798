// Parsing a TOML file's text (toml++) into a table, with the error as the project says it:
// "FILE:LINE:COLUMN: what is wrong" (InvalidArgument). For site.toml, fee contracts and ad
// catalogs; each checks its own keys afterwards. Header-only: toml++ is.
#pragma once

#include <toml++/toml.h>

#include <exception>
#include <string>
#include <string_view>

#include "base/status.h"

namespace tieup {

inline Result<toml::table> ParseTomlText(std::string_view text, std::string_view file) {
  try {
    return toml::parse(text, file);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    return Status::InvalidArgument(std::string(file) + ":" + std::to_string(where.line) + ":" +
                                   std::to_string(where.column) + ": " +
                                   std::string(e.description()));
  } catch (const std::exception& e) {
    return Status::InvalidArgument(std::string(file) + ": cannot be read as TOML: " + e.what());
  }
}

}  // namespace tieup
