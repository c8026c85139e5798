// Main's keys as tests need them: a root key, a release key the root certifies, and the signed
// root metadata envelope (valid for a year from the Env's clock) a partner pins at enrollment.
#pragma once

#include <string>

#include "base/env.h"
#include "crypto/ed25519.h"
#include "trust/signed_metadata.h"

namespace tieup::testing {

struct MainKeys {
  explicit MainKeys(Env& env)
      : root(Ed25519PrivateKey::Generate(env)), release(Ed25519PrivateKey::Generate(env)) {
    RootMetadata meta;
    meta.version = 1;
    meta.expires = env.NowSeconds() + 365 * 86400;
    meta.root_key = root.public_key();
    meta.release_keys = {release.public_key()};
    root_envelope = EncodeEnvelope(*SignRootMetadata(root, meta));
  }

  Ed25519PrivateKey root;
  Ed25519PrivateKey release;
  std::string root_envelope;
};

}  // namespace tieup::testing
