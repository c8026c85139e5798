// The console's files compiled into the binary by tieup_embed_files (src/console/CMakeLists.txt):
// (name without extension, bytes). Private to the module.
#pragma once

#include <string_view>
#include <utility>
#include <vector>

namespace tieup::console {

// templates/*.mustache: layout, sign_in, set_password, problem.
const std::vector<std::pair<std::string_view, std::string_view>>& EmbeddedConsoleTemplates();
// assets/console.css (one entry).
const std::vector<std::pair<std::string_view, std::string_view>>& EmbeddedConsoleStyle();
// assets/console.js (one entry).
const std::vector<std::pair<std::string_view, std::string_view>>& EmbeddedConsoleScript();

}  // namespace tieup::console
