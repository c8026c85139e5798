#!/usr/bin/env bash
# Installs, with apt-get, only the Debian 12 packages tieup needs that are missing; for `test`,
# also the browser tests' npm packages (test/browser/package-lock.json) into
# test/browser/node_modules. Quick when everything is already there.
# Usage: scripts/install-deps.sh [build|test|bench|demo]   (default: build)
set -euo pipefail
what=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
pkgs=(build-essential cmake ninja-build pkg-config clang-format
  libboost1.81-dev libboost-system1.81-dev libboost-url1.81-dev libboost-json1.81-dev
  libssl-dev libsodium-dev libsqlite3-dev sqlite3 libspdlog-dev libfmt-dev libcli11-dev
  libtomlplusplus-dev libkainjow-mustache-dev libcmark-gfm-dev libcmark-gfm-extensions-dev libdtl-dev
  libgmime-3.0-dev zlib1g-dev libzstd-dev libgtest-dev libgmock-dev libbenchmark-dev curl openssl libicu-dev libxml2-dev
  libxapian-dev libcjose-dev libjansson-dev libmodsecurity-dev modsecurity-crs libjemalloc-dev prometheus-cpp-dev libpqxx-dev
  lld)
case "$what" in
  build|demo) ;;
  # The browser tests (test/browser/): Debian's Chromium, driven by playwright-core from npm; a
  # Japanese font, so that the screenshots of the demo's Japanese text can be read.
  # The store tests run against a throwaway PostgreSQL 15 cluster too (scripts/with-postgres.sh).
  test) pkgs+=(curl clang libclang-rt-14-dev llvm chromium fonts-ipafont-gothic python3 python3-yaml postgresql-15) ;;
  bench) pkgs+=(nginx libnginx-mod-http-modsecurity wrk rsync python3-yaml) ;;
  *) echo "install-deps: unknown set '$what' (use build, test, bench or demo)" >&2; exit 2 ;;
esac
missing=()
for p in "${pkgs[@]}"; do
  # dpkg-query exits 1 for a package it has never heard of: that is "missing" too.
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ "$what" = test ]; then
  # Node.js and npm by command, not by package: a machine may have them from another Debian
  # archive (whose nodejs bundles npm and conflicts with Debian's npm package).
  command -v node >/dev/null 2>&1 || missing+=(nodejs)
  command -v npm >/dev/null 2>&1 || missing+=(npm)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  # An unreachable extra archive makes `apt-get update` exit non-zero though Debian's own lists
  # were read: go on, and let the install say whether a package is really unavailable.
  $sudo apt-get update -qq || echo "install-deps: apt-get update reported errors; installing anyway" >&2
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
[ "$what" = test ] || exit 0

# --- Browser tests: checks, then the npm packages pinned by test/browser/package-lock.json ---
if [ ! -x /usr/bin/chromium ]; then
  echo "install-deps: /usr/bin/chromium is missing after installing Debian's chromium" >&2
  exit 1
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "install-deps: the browser tests' playwright-core needs Node.js 20 or newer; this is" \
    "$(node --version)" >&2
  exit 1
fi
browser="$root/test/browser"
stamp="$browser/node_modules/.tieup-installed"
want=$(sha256sum "$browser/package-lock.json" | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] &&
  [ -f "$browser/node_modules/playwright-core/package.json" ]; then
  exit 0
fi
echo "install-deps: npm ci in test/browser (playwright-core; no browser download)"
# Playwright must never fetch a browser of its own: the tests use Debian's /usr/bin/chromium.
(cd "$browser" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
echo "$want" >"$stamp"
