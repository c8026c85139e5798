#include "test_support.h"

#include <cstdlib>
#include <filesystem>
#include <stdexcept>

namespace tieup::testing {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/tieup-test-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

FakeClockEnv::FakeClockEnv(int64_t start_micros) : base_(NewPosixEnv()), now_(start_micros) {}

}  // namespace tieup::testing
