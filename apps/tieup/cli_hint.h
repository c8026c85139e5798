// What to say when the command line names no command, or one that does not exist: the command
// it stopped at, the nearest existing name ("did you mean 'publish'?") and the list to choose
// from. CLI11 alone says "A subcommand is required" for both.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace tieup::cli {

// The message for `argv` (as given to main) when it names an unknown command, or stops before a
// command where one is required; empty when neither (CLI11's own message is right then).
std::string CommandHint(const CLI::App& app, int argc, const char* const* argv);

}  // namespace tieup::cli
