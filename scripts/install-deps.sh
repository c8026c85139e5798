#!/usr/bin/env bash
# Installs, with apt-get, only the Debian 12 packages tieup needs that are missing.
# Usage: scripts/install-deps.sh [build|test|bench|demo]   (default: build)
set -euo pipefail
what=${1:-build}
pkgs=(build-essential cmake ninja-build pkg-config clang-format
  libboost1.81-dev libboost-system1.81-dev libboost-url1.81-dev libboost-json1.81-dev
  libssl-dev libsodium-dev libsqlite3-dev sqlite3 libspdlog-dev libfmt-dev libcli11-dev
  libtomlplusplus-dev libkainjow-mustache-dev libcmark-gfm-dev libcmark-gfm-extensions-dev
  zlib1g-dev libzstd-dev libgtest-dev libgmock-dev libbenchmark-dev curl openssl libicu-dev)
case "$what" in
  build|demo) ;;
  test) pkgs+=(curl clang libclang-rt-14-dev llvm) ;;
  bench) pkgs+=(nginx wrk rsync) ;;
  *) echo "install-deps: unknown set '$what' (use build, test, bench or demo)" >&2; exit 2 ;;
esac
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "install-deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
