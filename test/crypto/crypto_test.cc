#include <gtest/gtest.h>

#include "base/encoding.h"
#include "crypto/ed25519.h"
#include "crypto/hash.h"
#include "test_support.h"

namespace tieup {
namespace {

using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;
using ::tieup::testing::TempDir;

TEST(HashTest, Sha256KnownVectors) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256Hasher h;
  h.Update("a");
  h.Update("bc");
  EXPECT_EQ(HexEncode(h.Finish()), Sha256Hex("abc"));
  EXPECT_EQ(HexEncode(h.Finish()), Sha256Hex(""));  // starts over
}

TEST(HashTest, ConstantTimeEquals) {
  EXPECT_TRUE(ConstantTimeEquals("secret", "secret"));
  EXPECT_FALSE(ConstantTimeEquals("secret", "secreT"));
  EXPECT_FALSE(ConstantTimeEquals("secret", "secrets"));
}

TEST(Ed25519Test, Rfc8032TestVector1) {
  auto seed = HexDecode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
  auto key = Ed25519PrivateKey::FromSeed(*seed);
  ASSERT_THAT(key, IsOk());
  EXPECT_EQ(HexEncode(key->public_key().bytes()),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  std::string sig = key->Sign("");
  EXPECT_EQ(HexEncode(sig),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39"
            "701cf9b46bd25bf5f0595bbe24655141438e7a100b");
  EXPECT_TRUE(key->public_key().Verify("", sig));
  sig[0] ^= 1;
  EXPECT_FALSE(key->public_key().Verify("", sig));
  EXPECT_FALSE(key->public_key().Verify("x", key->Sign("")));
}

TEST(Ed25519Test, SaveLoadKeepsKeyPrivate) {
  TempDir dir;
  auto env = NewPosixEnv();
  auto key = Ed25519PrivateKey::Generate(*env);
  const std::string p = dir.Sub("release.key");
  ASSERT_THAT(SavePrivateKey(*env, p, key), IsOk());
  EXPECT_EQ(*env->GetPermissions(p), 0600u);
  auto loaded = LoadPrivateKey(*env, p);
  ASSERT_THAT(loaded, IsOk());
  EXPECT_EQ(loaded->public_key().bytes(), key.public_key().bytes());
  ASSERT_THAT(env->SetPermissions(p, 0644), IsOk());
  EXPECT_THAT(LoadPrivateKey(*env, p),
              StatusIs(StatusCode::kPermissionDenied, ::testing::HasSubstr("chmod 600")));
  ASSERT_THAT(env->SetPermissions(p, 0600), IsOk());
  ASSERT_THAT(WriteFileAtomic(*env, p, "garbage", 0600), IsOk());
  EXPECT_THAT(LoadPrivateKey(*env, p), StatusIs(StatusCode::kDataLoss));
}

}  // namespace
}  // namespace tieup
