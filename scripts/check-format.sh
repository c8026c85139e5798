#!/usr/bin/env bash
# Fails, listing the files, when any of the project's C++ files is not clang-formatted.
set -euo pipefail
cd "$(dirname "$0")/.."
bad=()
while IFS= read -r f; do
  clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done < <(git ls-files -co --exclude-standard -- '*.h' '*.cc')
if [ ${#bad[@]} -gt 0 ]; then
  echo "check-format: not clang-formatted (run 'make format'):" >&2
  printf '  %s\n' "${bad[@]}" >&2
  exit 1
fi
echo "check-format: all C++ files formatted"
