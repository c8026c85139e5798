// Fuzzes site.toml (site/config.h): LoadSiteConfig on the bytes, in an in-memory Env.
// Properties: an accepted configuration has a valid site id and saves to a file that loads back
// to a configuration that saves to the same file (SaveSiteConfig writes what Load reads).
#include <memory>
#include <string>

#include "fuzz_util.h"
#include "mem_env.h"
#include "site/config.h"
#include "toml_guard.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (tieup::fuzz::HitsTomlUnreachable(tieup::fuzz::AsText(data, size))) return 0;
  tieup::testing::MemEnv env;
  const std::string dir = "/site";
  FUZZ_CHECK(env.CreateDir(dir).ok());
  FUZZ_CHECK(tieup::WriteFileAtomic(env, dir + "/site.toml", tieup::fuzz::AsText(data, size)).ok());
  auto config = tieup::LoadSiteConfig(env, dir);
  if (!config.ok()) return 0;
  FUZZ_CHECK(tieup::IsValidSiteId(config->id));

  FUZZ_CHECK(tieup::SaveSiteConfig(env, dir, *config).ok());
  auto saved = env.ReadFile(dir + "/site.toml");
  FUZZ_CHECK(saved.ok());
  auto reloaded = tieup::LoadSiteConfig(env, dir);
  FUZZ_CHECK(reloaded.ok());
  FUZZ_CHECK(reloaded->id == config->id);
  FUZZ_CHECK(reloaded->name == config->name);
  FUZZ_CHECK(reloaded->variables == config->variables);
  FUZZ_CHECK(reloaded->public_address.ToString() == config->public_address.ToString());
  FUZZ_CHECK(tieup::SaveSiteConfig(env, dir, *reloaded).ok());
  auto resaved = env.ReadFile(dir + "/site.toml");
  FUZZ_CHECK(resaved.ok());
  FUZZ_CHECK(*resaved == *saved);

  auto host_port = tieup::ParseHostPort(tieup::fuzz::AsText(data, std::min<size_t>(size, 300)));
  if (host_port.ok()) {
    auto again = tieup::ParseHostPort(host_port->ToString());
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(again->ToString() == host_port->ToString());
  }
  return 0;
}
