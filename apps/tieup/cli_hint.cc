#include "cli_hint.h"

#include <algorithm>
#include <string_view>
#include <vector>

namespace tieup::cli {
namespace {

// The optimal string alignment distance (Damerau-Levenshtein with adjacent transpositions):
// "pubish" -> "publish" is 1, "pbulish" -> "publish" is 1.
size_t Distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

std::string Names(const std::vector<const CLI::App*>& commands) {
  std::string out;
  for (const CLI::App* c : commands) out += (out.empty() ? "" : ", ") + c->get_name();
  return out;
}

}  // namespace

std::string CommandHint(const CLI::App& app, int argc, const char* const* argv) {
  const CLI::App* at = &app;
  std::string path = "tieup";
  for (int i = 1; i <= argc; ++i) {
    std::vector<const CLI::App*> commands =
        at->get_subcommands([](const CLI::App*) { return true; });
    // Positional arguments follow, or a command is optional here: CLI11's message is right.
    if (commands.empty() || at->get_require_subcommand_min() == 0) return "";
    if (i == argc) {
      return path + ": which command? One of: " + Names(commands) + " (see '" + path + " --help').";
    }
    const std::string_view word = argv[i];
    if (word.starts_with("-")) return "";  // an option (--help, --version, ...)
    const CLI::App* next = nullptr;
    for (const CLI::App* c : commands) {
      if (c->check_name(std::string(word))) next = c;
    }
    if (next != nullptr) {
      at = next;
      path += " " + next->get_name();
      continue;
    }
    const CLI::App* nearest = nullptr;
    size_t best = 0;
    for (const CLI::App* c : commands) {
      const size_t d = Distance(word, c->get_name());
      if (nearest == nullptr || d < best) {
        nearest = c;
        best = d;
      }
    }
    std::string out = path + ": there is no command '" + std::string(word) + "'";
    // Close enough to be a typo: at most a third of the name's letters off.
    if (nearest != nullptr && best * 3 <= std::max<size_t>(nearest->get_name().size(), 3)) {
      out += "; did you mean '" + nearest->get_name() + "'?";
    } else {
      out += ". The commands are: " + Names(commands) + ".";
    }
    return out + " (see '" + path + " --help')";
  }
  return "";
}

}  // namespace tieup::cli
