#include "sync/statement_signature.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "crypto/hash.h"
#include "main_keys.h"
#include "test_support.h"
#include "trust/signed_metadata.h"

namespace tieup::sync {
namespace {

using ::testing::HasSubstr;
using namespace ::tieup::testing;  // NOLINT

class StatementSignatureTest : public ::testing::Test {
 protected:
  StatementAttestation Sample() {
    return {"shop-b", "2026-11", Sha256Hex(csv_), Sha256Hex(contract_), env_.NowSeconds()};
  }

  Result<StatementAttestation> Verify(const std::string& envelope,
                                      const std::string& partner = "shop-b") {
    return VerifyStatementSignature(keys_.root.public_key(), keys_.root_envelope, envelope, partner,
                                    csv_, contract_, env_.NowSeconds());
  }

  FakeClockEnv env_;
  MainKeys keys_{env_};
  std::string csv_ = "section,item,value,inputs,amount_minor\n";
  std::string contract_ = "partner = \"shop-b\"\n";
};

TEST_F(StatementSignatureTest, MainsSignatureVerifies) {
  auto a = Verify(SignStatementAttestation(keys_.release, Sample()));
  ASSERT_THAT(a, IsOk());
  EXPECT_EQ(*a, Sample());
  auto parsed = ParseStatementAttestation(EncodeStatementAttestation(Sample()));
  ASSERT_THAT(parsed, IsOk());
  EXPECT_EQ(*parsed, Sample());
}

TEST_F(StatementSignatureTest, ForgedOtherPartnersOrChangedFilesAreRefused) {
  // Signed by a key main's root does not certify.
  Ed25519PrivateKey other = Ed25519PrivateKey::Generate(env_);
  EXPECT_THAT(
      Verify(SignStatementAttestation(other, Sample())),
      StatusIs(StatusCode::kUnauthenticated, HasSubstr("does not certify as a release key")));
  // Another partner's statement.
  EXPECT_THAT(Verify(SignStatementAttestation(keys_.release, Sample()), "shop-c"),
              StatusIs(StatusCode::kPermissionDenied, HasSubstr("for partner 'shop-b'")));
  // The statement or the contract changed after main signed them.
  const std::string envelope = SignStatementAttestation(keys_.release, Sample());
  csv_ += "x";
  EXPECT_THAT(Verify(envelope), StatusIs(StatusCode::kDataLoss, HasSubstr("not the one main")));
  csv_.pop_back();
  contract_ += "x";
  EXPECT_THAT(Verify(envelope), StatusIs(StatusCode::kDataLoss, HasSubstr("contract held")));
  contract_.pop_back();
  // Another payload type (a release envelope) is not a statement signature.
  EXPECT_THAT(
      Verify(EncodeEnvelope(SignRelease(keys_.release, EncodeStatementAttestation(Sample())))),
      StatusIs(StatusCode::kUnauthenticated));
}

TEST_F(StatementSignatureTest, MalformedPayloadsAreRefused) {
  const std::string good = EncodeStatementAttestation(Sample());
  for (std::string bad :
       {std::string("{}"), std::string("[]"), good + " ", good.substr(0, good.size() - 1)}) {
    EXPECT_THAT(ParseStatementAttestation(bad), StatusIs(StatusCode::kInvalidArgument)) << bad;
  }
  StatementAttestation a = Sample();
  a.statement_sha256 = "ABC";
  EXPECT_THAT(ParseStatementAttestation(EncodeStatementAttestation(a)),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("statement_sha256")));
}

}  // namespace
}  // namespace tieup::sync
