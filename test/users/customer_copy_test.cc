#include "users/customer_copy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "base/encoding.h"
#include "store/database.h"
#include "sync/main_keys.h"
#include "test_database.h"
#include "test_support.h"
#include "trust/signed_metadata.h"

namespace tieup::users {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::tieup::testing::FakeClockEnv;
using ::tieup::testing::IsOk;
using ::tieup::testing::MainKeys;
using ::tieup::testing::TempDir;

User Ada() {
  User u;
  u.id = "usr_abcdefghijklmnop";
  u.email = "Ada@Example.org";
  u.display_name = "Ada";
  u.address = {"Ada Lovelace", "1 Main St", "", "600-8216", "Kyoto", "Japan", "075-000"};
  u.marketing_consent_micros = 5;
  return u;
}

CustomerCopyMessage Sample(const std::vector<std::string>& fields, uint64_t seq = 1) {
  CustomerCopyMessage m;
  m.partner = "shop-b";
  m.seq = seq;
  m.issued = 1'700'000'000;
  m.fields = fields;
  m.upsert = {CopyOf(Ada(), fields)};
  return m;
}

TEST(CustomerCopyTest, ACopyHoldsOnlyTheContractsFields) {
  const CustomerCopy name_only = CopyOf(Ada(), {"name"});
  EXPECT_EQ(name_only.name, "Ada");
  EXPECT_FALSE(name_only.email);
  EXPECT_FALSE(name_only.address);
  EXPECT_FALSE(name_only.marketing_consent);
  // What goes on the wire: the message, signed; its payload holds nothing else of the account.
  FakeClockEnv env;
  MainKeys keys(env);
  const std::string envelope = SignCustomerCopyMessage(keys.release, Sample({"name"}));
  auto parsed = ParseEnvelope(envelope);
  ASSERT_THAT(parsed, IsOk());
  EXPECT_EQ(parsed->payload,
            "{\"_type\":\"customer_copy\",\"drop\":[],\"erase\":[],\"fields\":[\"name\"],"
            "\"issued\":1700000000,\"partner\":\"shop-b\",\"seq\":1,\"upsert\":[{\"name\":\"Ada\","
            "\"user_id\":\"usr_abcdefghijklmnop\"}]}");
  for (const char* secret : {"Example", "example", "Kyoto", "Lovelace", "075-000", "true"}) {
    EXPECT_THAT(parsed->payload, Not(HasSubstr(secret)));
  }
  // The envelope around it holds only the payload's base64, its type and the signature (whose
  // random bytes may spell anything short: only long words are looked for there).
  for (const char* secret : {"Example.org", "Kyoto", "Lovelace", "600-8216"}) {
    EXPECT_THAT(envelope, Not(HasSubstr(secret)));
  }
  const CustomerCopy all = CopyOf(Ada(), {"address", "email", "marketing_consent", "name"});
  EXPECT_EQ(all.email, "Ada@Example.org");
  EXPECT_EQ(all.address->city, "Kyoto");
  EXPECT_EQ(all.marketing_consent, true);
}

TEST(CustomerCopyTest, MessagesRoundTripAndParsingIsStrict) {
  CustomerCopyMessage m = Sample({"address", "email", "marketing_consent", "name"});
  User none = Ada();
  none.id = "usr_bbbbbbbbbbbbbbbb";
  none.address = {};
  m.upsert.push_back(CopyOf(none, m.fields));
  m.drop = {"usr_cccccccccccccccc"};
  m.erase = {{"usr_dddddddddddddddd", EmailSha256("Gone@Example.org")}};
  const std::string payload = EncodeCustomerCopyMessage(m);
  auto parsed = ParseCustomerCopyMessage(payload);
  ASSERT_THAT(parsed, IsOk());
  EXPECT_EQ(*parsed, m);
  EXPECT_THAT(payload, HasSubstr("\"address\":null"));
  EXPECT_EQ(EmailSha256("Gone@Example.org"), EmailSha256("gone@example.org"));

  auto refused = [](std::string text, std::string_view why) {
    auto r = ParseCustomerCopyMessage(text);
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(r.status().message(), HasSubstr(why)) << text;
  };
  auto with = [&](std::string from, std::string to) {
    std::string text = payload;
    const size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) text.replace(at, from.size(), to);
    return text;
  };
  refused("[]", "not a JSON object");
  refused("{", "not JSON");
  refused(with("\"seq\":1", "\"seq\":0"), "seq");
  refused(with("\"partner\":\"shop-b\"", "\"partner\":\"\""), "partner");
  // A field outside the list, or a copy with another set of fields.
  refused(with("\"fields\":[\"address\",", "\"fields\":[\"password\",\"address\","), "password");
  refused(with("\"marketing_consent\":true,", ""), "exactly the contract's fields");
  refused(with("\"user_id\":\"usr_abcdefghijklmnop\"", "\"user_id\":\"admin\""), "user id");
  refused(with("\"usr_cccccccccccccccc\"", "\"../etc\""), "user id");
  refused(with(EmailSha256("Gone@Example.org"), "abc"), "hash");
  // Anything but the canonical form: another spacing, an extra key.
  refused(with("\"seq\":1", "\"seq\": 1"), "canonical");
  refused(with("\"_type\":\"customer_copy\",", "\"_type\":\"customer_copy\",\"x\":1,"),
          "canonical");
  refused(with("\"_type\":\"customer_copy\"", "\"_type\":\"withdrawal\""), "_type");
}

class CustomerCopyKeeperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = ::tieup::testing::OpenTestDatabase(dir_.path() + "/tieup.db");
    ASSERT_THAT(db, IsOk());
    db_ = std::move(*db);
    CustomerCopyKeeper::Options o;
    o.site_id = "shop-b";
    o.pinned_root = keys_.root.public_key();
    o.root_envelope = keys_.root_envelope;
    o.erase_orders = [this](const std::string& hash) -> Result<int64_t> {
      erased_hashes_.push_back(hash);
      return int64_t{2};
    };
    auto keeper = CustomerCopyKeeper::Open(env_, *db_, o);
    ASSERT_THAT(keeper, IsOk());
    keeper_ = std::move(*keeper);
  }

  FakeClockEnv env_;
  MainKeys keys_{env_};
  TempDir dir_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<CustomerCopyKeeper> keeper_;
  std::vector<std::string> erased_hashes_;
};

TEST_F(CustomerCopyKeeperTest, AppliesSignedMessagesInOrderAndRefusesTheRest) {
  CustomerCopyMessage m = Sample({"email", "name"});
  m.issued = env_.NowSeconds();
  auto applied = keeper_->Accept(SignCustomerCopyMessage(keys_.release, m));
  ASSERT_THAT(applied, IsOk());
  EXPECT_EQ(applied->upserted, 1u);
  auto copy = keeper_->Get("usr_abcdefghijklmnop");
  ASSERT_THAT(copy, IsOk());
  ASSERT_TRUE(copy->has_value());
  EXPECT_EQ((*copy)->email, "Ada@Example.org");
  EXPECT_FALSE((*copy)->address);
  EXPECT_EQ(keeper_->Contract()->first, (std::vector<std::string>{"email", "name"}));

  // Refused, nothing changes: the same message again (a replay), another partner's, one signed
  // by a key the root does not certify, a damaged one.
  const std::string replay = SignCustomerCopyMessage(keys_.release, m);
  EXPECT_EQ(keeper_->Accept(replay).status().code(), StatusCode::kFailedPrecondition);
  CustomerCopyMessage other = m;
  other.seq = 2;
  other.partner = "shop-c";
  other.upsert[0].name = "Mallory";
  EXPECT_EQ(keeper_->Accept(SignCustomerCopyMessage(keys_.release, other)).status().code(),
            StatusCode::kPermissionDenied);
  other.partner = "shop-b";
  const Ed25519PrivateKey stranger = Ed25519PrivateKey::Generate(env_);
  EXPECT_EQ(keeper_->Accept(SignCustomerCopyMessage(stranger, other)).status().code(),
            StatusCode::kUnauthenticated);
  std::string damaged = SignCustomerCopyMessage(keys_.release, other);
  damaged[damaged.size() / 2] ^= 1;
  EXPECT_THAT(keeper_->Accept(damaged).status(), Not(IsOk()));
  EXPECT_THAT(keeper_->Accept("not json").status(), Not(IsOk()));
  EXPECT_EQ((*keeper_->Get("usr_abcdefghijklmnop"))->name, "Ada");

  // The contract shrinks to the name: the copy loses the address field at once.
  CustomerCopyMessage next = Sample({"name"}, 3);
  next.issued = env_.NowSeconds();
  ASSERT_THAT(keeper_->Accept(SignCustomerCopyMessage(keys_.release, next)), IsOk());
  EXPECT_FALSE((*keeper_->Get("usr_abcdefghijklmnop"))->email);
  std::string stored;
  auto rows = db_->Query("SELECT copy FROM customer_copies");
  ASSERT_THAT(rows, IsOk());
  for (const SqlRow& r : *rows) stored += r.Text(0);
  EXPECT_THAT(stored, Not(HasSubstr("Example")));

  // An erasure: the copy goes and this site's orders from that address lose their person.
  CustomerCopyMessage erase;
  erase.partner = "shop-b";
  erase.seq = 7;  // numbers may skip (attempts whose answer was lost)
  erase.issued = env_.NowSeconds();
  erase.fields = {"name"};
  erase.erase = {{"usr_abcdefghijklmnop", EmailSha256("ada@example.org")}};
  auto done = keeper_->Accept(SignCustomerCopyMessage(keys_.release, erase));
  ASSERT_THAT(done, IsOk());
  EXPECT_EQ(done->orders_erased, 2);
  EXPECT_EQ(erased_hashes_, std::vector<std::string>{EmailSha256("Ada@Example.org")});
  EXPECT_FALSE(keeper_->Get("usr_abcdefghijklmnop")->has_value());
  EXPECT_TRUE(keeper_->List()->empty());
  EXPECT_EQ(keeper_->Contract()->second, 7u);
}

TEST_F(CustomerCopyKeeperTest, AFailedOrderErasureLeavesTheMessageToComeAgain) {
  CustomerCopyKeeper::Options o;
  o.site_id = "shop-b";
  o.pinned_root = keys_.root.public_key();
  o.root_envelope = keys_.root_envelope;
  o.erase_orders = [](const std::string&) -> Result<int64_t> {
    return Status::Unavailable("database is locked");
  };
  auto keeper = CustomerCopyKeeper::Open(env_, *db_, o);
  ASSERT_THAT(keeper, IsOk());
  CustomerCopyMessage m = Sample({"name"});
  m.issued = env_.NowSeconds();
  m.erase = {{"usr_zzzzzzzzzzzzzzzz", EmailSha256("z@example.org")}};
  EXPECT_EQ((*keeper)->Accept(SignCustomerCopyMessage(keys_.release, m)).status().code(),
            StatusCode::kUnavailable);
  EXPECT_EQ((*keeper)->Contract()->second, 0u);  // the number is not used up
  EXPECT_TRUE((*keeper)->List()->empty());
}

}  // namespace
}  // namespace tieup::users
