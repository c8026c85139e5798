#include "sync/withdrawal.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "main_keys.h"
#include "store/database.h"
#include "sync/schema.h"
#include "sync/withdrawal_service.h"
#include "test_database.h"
#include "test_support.h"
#include "trust/signed_metadata.h"

namespace tieup::sync {
namespace {

using ::testing::HasSubstr;
using namespace ::tieup::testing;  // NOLINT

class WithdrawalTest : public ::testing::Test {
 protected:
  Withdrawal Sample(uint64_t seq = 1) {
    Withdrawal w;
    w.partner = "shop-b";
    w.action = WithdrawalAction::kWithdraw;
    w.reason = WithdrawalReason::kRevoked;
    w.main_name = "Example Shop";
    w.message = "Example Shop has ended its partnership with Shop B.";
    w.issued = env_.NowSeconds();
    w.seq = seq;
    return w;
  }

  Result<Withdrawal> Verify(const std::string& envelope, uint64_t last_seq = 0,
                            const std::string& partner = "shop-b") {
    return VerifyWithdrawal(keys_.root.public_key(), keys_.root_envelope, envelope, partner,
                            last_seq, env_.NowSeconds());
  }

  FakeClockEnv env_;
  MainKeys keys_{env_};
};

TEST_F(WithdrawalTest, EncodesParsesAndVerifies) {
  const Withdrawal w = Sample();
  EXPECT_EQ(EncodeWithdrawal(w),
            "{\"_type\":\"withdrawal\",\"action\":\"withdraw\",\"expiry_grace\":604800,"
            "\"issued\":" +
                std::to_string(w.issued) +
                ",\"main_name\":\"Example Shop\",\"message\":\"Example Shop has ended its "
                "partnership with Shop B.\",\"partner\":\"shop-b\",\"reason\":\"revoked\","
                "\"seq\":1}");
  auto parsed = ParseWithdrawal(EncodeWithdrawal(w));
  ASSERT_THAT(parsed, IsOk());
  EXPECT_EQ(*parsed, w);
  auto verified = Verify(SignWithdrawal(keys_.release, w));
  ASSERT_THAT(verified, IsOk());
  EXPECT_EQ(*verified, w);
}

TEST_F(WithdrawalTest, ParseIsStrict) {
  const std::string good = EncodeWithdrawal(Sample());
  auto with = [&](std::string from, std::string to) {
    std::string s = good;
    s.replace(s.find(from), from.size(), to);
    return ParseWithdrawal(s);
  };
  EXPECT_THAT(ParseWithdrawal("not json"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseWithdrawal("[]"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(with("\"seq\":1", "\"seq\":1,\"extra\":2"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("unknown field 'extra'")));
  EXPECT_THAT(with("\"seq\":1", "\"seq\":0"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("'seq'")));
  EXPECT_THAT(with("\"seq\":1", "\"seq\":\"1\""),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("'seq'")));
  EXPECT_THAT(with("\"reason\":\"revoked\"", "\"reason\":\"bored\""),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("bored")));
  EXPECT_THAT(with("\"reason\":\"revoked\"", "\"reason\":\"\""),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("needs a reason")));
  EXPECT_THAT(with("\"action\":\"withdraw\"", "\"action\":\"reinstate\""),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("has no reason")));
  EXPECT_THAT(with("\"partner\":\"shop-b\"", "\"partner\":\"\""),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("'partner'")));
  EXPECT_THAT(with("\"_type\":\"withdrawal\"", "\"_type\":\"release\""),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("_type")));
  EXPECT_THAT(with("\"issued\":", "\"issuedx\":"), StatusIs(StatusCode::kInvalidArgument));
}

TEST_F(WithdrawalTest, RefusesAForgedSignature) {
  // Signed by a key main's root does not certify.
  Ed25519PrivateKey other = Ed25519PrivateKey::Generate(env_);
  EXPECT_THAT(
      Verify(SignWithdrawal(other, Sample())),
      StatusIs(StatusCode::kUnauthenticated, HasSubstr("does not certify as a release key")));
  // Main's key, but the payload altered after signing.
  SignedEnvelope env =
      SignEnvelope(keys_.release, kWithdrawalPayloadType, EncodeWithdrawal(Sample()));
  Withdrawal altered = Sample();
  altered.reason = WithdrawalReason::kSuspended;
  env.payload = EncodeWithdrawal(altered);
  EXPECT_THAT(Verify(EncodeEnvelope(env)),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("altered or forged")));
  // No signature at all.
  env.signatures.clear();
  EXPECT_THAT(Verify(EncodeEnvelope(env)),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("no signature")));
  // A release envelope (another payload type) does not pass as a withdrawal.
  EXPECT_THAT(Verify(EncodeEnvelope(SignRelease(keys_.release, EncodeWithdrawal(Sample())))),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("not withdrawal message")));
  EXPECT_THAT(Verify("{}"), StatusIs(StatusCode::kInvalidArgument));
}

TEST_F(WithdrawalTest, RefusesAnotherPartnersWithdrawal) {
  EXPECT_THAT(Verify(SignWithdrawal(keys_.release, Sample()), 0, "shop-a"),
              StatusIs(StatusCode::kPermissionDenied,
                       HasSubstr("for partner 'shop-b', not for this site ('shop-a')")));
}

TEST_F(WithdrawalTest, RefusesAReplayOfAnOlderMessage) {
  EXPECT_THAT(Verify(SignWithdrawal(keys_.release, Sample(2)), 3),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("replay")));
  EXPECT_THAT(Verify(SignWithdrawal(keys_.release, Sample(3)), 3),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("replay")));
  EXPECT_THAT(Verify(SignWithdrawal(keys_.release, Sample(4)), 3), IsOk());
}

TEST_F(WithdrawalTest, RefusesAMessageFarInTheFuture) {
  Withdrawal w = Sample();
  w.issued = env_.NowSeconds() + 3 * 86400;
  EXPECT_THAT(Verify(SignWithdrawal(keys_.release, w)),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("ahead of this site's clock")));
}

// Main signs what the partnership's state calls for; the partner applies it, and an old
// withdrawal replayed after a resume is refused.
class WithdrawalServiceTest : public WithdrawalTest {
 protected:
  void SetUp() override {
    main_db_ = *::tieup::testing::OpenTestDatabase(dir_.Sub("main.db"));
    partner_db_ = *OpenSqlite(dir_.Sub("partner.db"));
    issuer_ = *WithdrawalIssuer::Open(env_, *main_db_, keys_.release, "Example Shop");
    WithdrawalKeeper::Options o;
    o.site_id = "shop-b";
    o.board = &board_;
    o.pinned_root = keys_.root.public_key();
    o.root_envelope = keys_.root_envelope;
    keeper_ = *WithdrawalKeeper::Open(env_, *partner_db_, o);
    p_.id = "shop-b";
    p_.name = "Shop B";
    p_.sync_url = "https://127.0.0.1:1";
  }
  std::shared_ptr<const Withdrawal> Served() { return board_.withdrawn(); }

  TempDir dir_;
  TieupNotices board_;  // the partner's public port reads it
  std::unique_ptr<Database> main_db_, partner_db_;
  std::unique_ptr<WithdrawalIssuer> issuer_;
  std::unique_ptr<WithdrawalKeeper> keeper_;
  Partnership p_;
};

TEST_F(WithdrawalServiceTest, SuspendResumeAndAReplayAfterTheResume) {
  // Active and never withdrawn: nothing to say.
  EXPECT_FALSE(issuer_->Reconcile(p_)->has_value());
  p_.suspended = true;
  auto suspended = issuer_->Reconcile(p_);
  ASSERT_THAT(suspended, IsOk());
  ASSERT_TRUE(suspended->has_value());
  EXPECT_EQ((*suspended)->withdrawal.seq, 1u);
  EXPECT_EQ((*suspended)->withdrawal.reason, WithdrawalReason::kSuspended);
  EXPECT_FALSE(issuer_->Reconcile(p_)->has_value());  // said once
  ASSERT_THAT(keeper_->Accept((*suspended)->envelope), IsOk());
  ASSERT_NE(Served(), nullptr);
  EXPECT_EQ(Served()->reason, WithdrawalReason::kSuspended);
  EXPECT_THAT(keeper_->Current()->summary, HasSubstr("suspended"));
  // The same envelope again (main missed the answer): fine.
  EXPECT_THAT(keeper_->Accept((*suspended)->envelope), IsOk());

  p_.suspended = false;
  auto resumed = issuer_->Reconcile(p_);
  ASSERT_THAT(resumed, IsOk());
  ASSERT_TRUE(resumed->has_value());
  EXPECT_EQ((*resumed)->withdrawal.action, WithdrawalAction::kReinstate);
  EXPECT_EQ((*resumed)->withdrawal.seq, 2u);
  ASSERT_THAT(keeper_->Accept((*resumed)->envelope), IsOk());
  EXPECT_EQ(Served(), nullptr);

  // The old suspension, replayed: refused, and the pages stay served.
  EXPECT_THAT(keeper_->Accept((*suspended)->envelope),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("replay")));
  EXPECT_EQ(Served(), nullptr);
  auto events = internal::ListEvents(*partner_db_, "", 50);
  ASSERT_THAT(events, IsOk());
  ASSERT_FALSE(events->empty());
  EXPECT_EQ(events->back().kind, "refused");

  // Revoked: a withdrawal with reason revoked.
  p_.revoked = true;
  auto revoked = issuer_->Reconcile(p_);
  ASSERT_TRUE(revoked->has_value());
  ASSERT_THAT(keeper_->Accept((*revoked)->envelope), IsOk());
  EXPECT_EQ(Served()->reason, WithdrawalReason::kRevoked);
  EXPECT_THAT(keeper_->Current()->summary, HasSubstr("ended"));
}

TEST_F(WithdrawalServiceTest, TheGracePeriodIsMainsSignedWord) {
  ASSERT_THAT(issuer_->SetExpiryGrace("shop-b", 3 * 86400, "test"), IsOk());
  EXPECT_EQ(*issuer_->SetExpiryGrace("shop-b", 3 * 86400, "test"), "");  // unchanged
  auto terms = issuer_->Reconcile(p_);
  ASSERT_THAT(terms, IsOk());
  ASSERT_TRUE(terms->has_value());
  EXPECT_EQ((*terms)->withdrawal.action, WithdrawalAction::kReinstate);
  EXPECT_EQ((*terms)->withdrawal.expiry_grace, 3 * 86400);
  ASSERT_THAT(keeper_->Accept((*terms)->envelope), IsOk());
  EXPECT_EQ(Served(), nullptr);
  EXPECT_EQ(keeper_->Current()->grace_seconds, 3 * 86400);
  auto events = internal::ListEvents(*partner_db_, "", 50);
  ASSERT_THAT(events, IsOk());
  EXPECT_EQ(events->back().kind, "terms");
  // The default (7 days) gave way to main's 3: withdrawn after 3 days, not before.
  const int64_t expires = env_.NowSeconds();
  env_.AdvanceSeconds(2 * 86400 + 60);
  EXPECT_FALSE(keeper_->CheckExpiry(expires, env_.NowSeconds(), {})->effective.has_value());
  env_.AdvanceSeconds(86400);
  EXPECT_TRUE(keeper_->CheckExpiry(expires, env_.NowSeconds(), {})->effective.has_value());
}

TEST_F(WithdrawalServiceTest, KeepsAnUndeliveredMessageUntilThePartnerHasIt) {
  p_.revoked = true;
  ASSERT_TRUE(issuer_->Reconcile(p_)->has_value());
  int calls = 0;
  auto down = [&](const std::string&, const std::string&) {
    ++calls;
    return Status::Unavailable("shop-b cannot be reached");
  };
  EXPECT_EQ(issuer_->DeliverDue({p_}, env_.NowSeconds(), down), 0u);
  EXPECT_EQ(calls, 1);
  // Not again before its delay.
  EXPECT_EQ(issuer_->DeliverDue({p_}, env_.NowSeconds(), down), 0u);
  EXPECT_EQ(calls, 1);
  env_.AdvanceSeconds(10);
  std::string got;
  EXPECT_EQ(issuer_->DeliverDue({p_}, env_.NowSeconds(),
                                [&](const std::string&, const std::string& envelope) {
                                  got = envelope;
                                  return keeper_->Accept(envelope).status();
                                }),
            1u);
  EXPECT_EQ(Served()->reason, WithdrawalReason::kRevoked);
  // Delivered: never sent again.
  env_.AdvanceSeconds(3600);
  EXPECT_EQ(issuer_->DeliverDue({p_}, env_.NowSeconds(), down), 0u);
  EXPECT_EQ(calls, 1);
  auto events = internal::ListEvents(*main_db_, "shop-b", 50);
  ASSERT_THAT(events, IsOk());
  std::string kinds;
  for (const SyncEvent& e : *events) kinds += e.kind + " ";
  EXPECT_EQ(kinds, "withdrawn withdrawal-failed withdrawal-delivered ");
}

TEST_F(WithdrawalServiceTest, AnExpiredReleaseIsFlaggedThenWithdrawnAfterTheGrace) {
  const int64_t expires = env_.NowSeconds() + 3600;
  std::vector<std::string> told;  // the kinds main is told
  auto tell = [&](const std::string& kind, const std::string&) { told.push_back(kind); };
  auto s = keeper_->CheckExpiry(expires, env_.NowSeconds(), tell);
  ASSERT_THAT(s, IsOk());
  EXPECT_FALSE(s->expired);
  EXPECT_TRUE(told.empty());

  env_.AdvanceSeconds(7200);  // past expires, within the grace (7 days)
  s = keeper_->CheckExpiry(expires, env_.NowSeconds(), tell);
  EXPECT_TRUE(s->expired);
  EXPECT_FALSE(s->effective.has_value());
  EXPECT_EQ(Served(), nullptr);
  EXPECT_THAT(s->summary, HasSubstr("expired"));
  ASSERT_EQ(told, std::vector<std::string>{"expired"});
  (void)keeper_->CheckExpiry(expires, env_.NowSeconds(), tell);
  EXPECT_EQ(told.size(), 1u);  // said once

  env_.AdvanceSeconds(kDefaultExpiryGraceSeconds);  // past the grace
  s = keeper_->CheckExpiry(expires, env_.NowSeconds(), tell);
  ASSERT_TRUE(s->effective.has_value());
  EXPECT_EQ(s->effective->reason, WithdrawalReason::kExpired);
  ASSERT_NE(Served(), nullptr);
  EXPECT_EQ(Served()->reason, WithdrawalReason::kExpired);
  EXPECT_EQ(told, (std::vector<std::string>{"expired", "withdrawn"}));

  // A new release: served again.
  s = keeper_->CheckExpiry(env_.NowSeconds() + 7 * 86400, env_.NowSeconds(), tell);
  EXPECT_FALSE(s->effective.has_value());
  EXPECT_EQ(Served(), nullptr);
  EXPECT_EQ(told, (std::vector<std::string>{"expired", "withdrawn", "reinstated"}));
}

}  // namespace
}  // namespace tieup::sync
