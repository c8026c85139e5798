#include "fees/contract.h"

#include <gtest/gtest.h>

#include "crypto/hash.h"
#include "fees/money.h"
#include "test_support.h"

namespace tieup::fees {
namespace {

using ::testing::HasSubstr;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;
using ::tieup::testing::TempDir;

constexpr std::string_view kMinimal = R"(
partner = "shop-b"
kind = "link"
base_fee = 10000
currency = "USD"
)";

TEST(ContractTest, ParsesTheAnnotatedExample) {
  auto env = NewPosixEnv();
  std::string path = std::string(TIEUP_SOURCE_DIR) + "/docs/fee-contract-example.toml";
  auto c = LoadContract(*env, path);
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->partner, "shop-b");
  EXPECT_EQ(c->kind, PartnershipKind::kTemplate);
  EXPECT_EQ(c->base_fee_minor, 30000);
  EXPECT_EQ(c->currency, "JPY");
  EXPECT_EQ(c->rounding, RoundingRule::kHalfEven);
  EXPECT_EQ(c->security, (Service{true, 5000}));
  EXPECT_EQ(c->user_management, (Service{false, 3000}));
  ASSERT_EQ(c->content_tiers.size(), 5u);
  // Sorted by measure, then by `from`.
  EXPECT_EQ(c->content_tiers[0], (ContentTier{ContentMeasure::kTieupPages, 0, 0}));
  EXPECT_EQ(c->content_tiers[2], (ContentTier{ContentMeasure::kTieupPages, 1000, 8000}));
  EXPECT_EQ(c->content_tiers[4], (ContentTier{ContentMeasure::kOriginalPages, 200, 1000}));
  EXPECT_EQ(c->access_discount, (AccessDiscount{true, 30, 50}));
  ASSERT_EQ(c->volume_tiers.size(), 2u);
  EXPECT_EQ(c->volume_tiers[1], (VolumeTier{1000000, 10}));
  EXPECT_EQ(c->advertising, (Advertising{true, 20000}));
  EXPECT_EQ(c->transactions, (Transactions{true, 250, 30}));
  EXPECT_EQ(c->sha256_hex, Sha256Hex(*env->ReadFile(path)));
}

TEST(ContractTest, MinimalContractHasDefaultsAndNoOptionalRules) {
  auto c = ParseContract(kMinimal);
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->kind, PartnershipKind::kLink);
  EXPECT_EQ(c->base_fee_minor, 10000);
  EXPECT_EQ(c->rounding, RoundingRule::kHalfEven);
  EXPECT_FALSE(c->security.enabled);
  EXPECT_FALSE(c->user_management.enabled);
  EXPECT_TRUE(c->content_tiers.empty());
  EXPECT_FALSE(c->access_discount.enabled);
  EXPECT_TRUE(c->volume_tiers.empty());
  EXPECT_FALSE(c->advertising.enabled);
  EXPECT_FALSE(c->transactions.enabled);
  EXPECT_EQ(c->sha256_hex, Sha256Hex(kMinimal));
}

TEST(ContractTest, BaseFeesTableChargesTheContractsKindAndSingleVolumeTierWorks) {
  auto c = ParseContract(R"(
partner = "shop-b"
kind = "contents"
currency = "EUR"
rounding = "down"
base_fees = { link = 1, contents = 3 }
volume = { threshold_accesses = 500, discount_percent = 7 }
transactions = { fixed_minor = 5 }
)");
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->base_fee_minor, 3);
  EXPECT_EQ(c->rounding, RoundingRule::kDown);
  ASSERT_EQ(c->volume_tiers.size(), 1u);
  EXPECT_EQ(c->volume_tiers[0], (VolumeTier{500, 7}));
  EXPECT_EQ(c->transactions, (Transactions{true, 0, 5}));
}

TEST(ContractTest, EveryBadContractIsRefusedNamingTheKey) {
  const std::string head = "partner = \"shop-b\"\nkind = \"link\"\ncurrency = \"USD\"\n";
  const std::string ok = head + "base_fee = 100\n";
  struct Case {
    std::string name;
    std::string text;
    std::string message;
  };
  std::vector<Case> cases = {
      {"not TOML", "partner = \"shop-b\nkind", "contract:1:"},
      {"unknown top-level key", ok + "discount = 3\n", "discount: unknown key"},
      {"missing partner", "kind = \"link\"\ncurrency = \"USD\"\nbase_fee = 1\n",
       "partner: is missing"},
      {"bad partner id",
       "partner = \"Shop B\"\nkind = \"link\"\ncurrency = \"USD\"\nbase_fee = 1\n",
       "partner: must be the partner's site id"},
      {"missing kind", "partner = \"shop-b\"\ncurrency = \"USD\"\nbase_fee = 1\n",
       "kind: is missing"},
      {"unknown kind", "partner = \"shop-b\"\nkind = \"franchise\"\ncurrency = \"USD\"\n",
       "kind: must be \"link\", \"template\" or \"contents\", got \"franchise\""},
      {"kind not a string", "partner = \"shop-b\"\nkind = 1\n", "kind: must be a string"},
      {"missing base fee", head, "base_fee: is missing"},
      {"both base fee forms", head + "base_fee = 1\n[base_fees]\nlink = 1\n", "not both"},
      {"base fees without the kind", head + "[base_fees]\ntemplate = 1\n",
       "base_fees.link: is missing"},
      {"unknown kind in base fees", head + "[base_fees]\nlink = 1\nshop = 2\n",
       "base_fees.shop: unknown key"},
      {"negative base fee", head + "base_fee = -1\n", "base_fee: must be an integer from 0"},
      {"float base fee", head + "base_fee = 10.5\n", "not a floating-point number"},
      {"absurd base fee", head + "base_fee = 1000000000000001\n", "got 1000000000000001"},
      {"string base fee", head + "base_fee = \"100\"\n", "not a string"},
      {"missing currency", "partner = \"shop-b\"\nkind = \"link\"\nbase_fee = 1\n",
       "currency: is missing"},
      {"bad currency", "partner = \"shop-b\"\nkind = \"link\"\ncurrency = \"usd\"\nbase_fee = 1\n",
       "currency: must be an ISO 4217 code"},
      {"bad rounding", ok + "rounding = \"half-odd\"\n",
       "rounding: must be \"half-even\", \"half-up\" or \"down\""},
      {"services not a table", ok + "services = 3\n", "services: must be a table"},
      {"unknown service", ok + "[services.hosting]\nprice = 1\n", "services.hosting: unknown key"},
      {"service without price", ok + "[services.security]\nenabled = true\n",
       "services.security.price: is missing"},
      {"service enabled not boolean", ok + "[services.security]\nenabled = 1\nprice = 1\n",
       "services.security.enabled: must be true or false"},
      {"service unknown key", ok + "[services.user_management]\nprice = 1\ncost = 2\n",
       "services.user_management.cost: unknown key"},
      {"content tiers not an array", ok + "content_tiers = 1\n",
       "content_tiers: must be an array of tables"},
      {"content tier not a table", ok + "content_tiers = [1]\n",
       "content_tiers[0]: must be a table"},
      {"content tier bad measure",
       ok + "[[content_tiers]]\nmeasure = \"words\"\nfrom = 0\nfee = 1\n",
       "content_tiers[0].measure: must be"},
      {"content tier without fee", ok + "[[content_tiers]]\nmeasure = \"tieup_pages\"\nfrom = 0\n",
       "content_tiers[0].fee: is missing"},
      {"content tier negative from",
       ok + "[[content_tiers]]\nmeasure = \"tieup_pages\"\nfrom = -1\nfee = 1\n",
       "content_tiers[0].from: must be an integer from 0"},
      {"content tier twice",
       ok + "[[content_tiers]]\nmeasure = \"tieup_bytes\"\nfrom = 5\nfee = 1\n"
            "[[content_tiers]]\nmeasure = \"tieup_bytes\"\nfrom = 5\nfee = 2\n",
       "content_tiers[1].from: a tier of measure \"tieup_bytes\" from 5 is given twice"},
      {"access discount above 100",
       ok + "[access_discount]\nmax_percent = 101\n"
            "at_original_share_percent = 50\n",
       "access_discount.max_percent: must be an integer from 0 to 100"},
      {"access discount at zero share",
       ok + "[access_discount]\nmax_percent = 10\n"
            "at_original_share_percent = 0\n",
       "access_discount.at_original_share_percent: must be an integer from 1 to 100"},
      {"access discount missing cap", ok + "[access_discount]\nmax_percent = 10\n",
       "access_discount.at_original_share_percent: is missing"},
      {"discounts above 100 together",
       ok + "[access_discount]\nmax_percent = 60\nat_original_share_percent = 50\n"
            "[volume]\nthreshold_accesses = 1\ndiscount_percent = 50\n",
       "exceeds 100 (60 + 50)"},
      {"volume in both forms",
       ok + "[volume]\nthreshold_accesses = 1\ndiscount_percent = 5\n[[volume.tiers]]\n"
            "threshold_accesses = 2\ndiscount_percent = 6\n",
       "volume: give either"},
      {"empty volume", ok + "[volume]\n", "volume: give threshold_accesses"},
      {"volume without percent", ok + "[volume]\nthreshold_accesses = 1\n",
       "volume.discount_percent: is missing"},
      {"volume threshold twice",
       ok + "[[volume.tiers]]\nthreshold_accesses = 2\ndiscount_percent = 5\n[[volume.tiers]]\n"
            "threshold_accesses = 2\ndiscount_percent = 6\n",
       "volume.tiers[1].threshold_accesses: the threshold 2 is given twice"},
      {"volume tier unknown key",
       ok + "[[volume.tiers]]\nthreshold_accesses = 2\ndiscount_percent = 5\nuntil = 9\n",
       "volume.tiers[0].until: unknown key"},
      {"advertising without pool", ok + "[advertising]\nenabled = true\n",
       "advertising.pool_minor: is missing"},
      {"advertising rate per mille", ok + "[advertising]\npool_minor = 1\nrate = 2\n",
       "advertising.rate: unknown key"},
      {"transactions above 100%", ok + "[transactions]\npercent_bp = 10001\n",
       "transactions.percent_bp: must be an integer from 0 to 10000"},
      {"transactions with nothing", ok + "[transactions]\nenabled = true\n",
       "transactions: give percent_bp, fixed_minor or both"},
      {"transactions negative fixed", ok + "[transactions]\nfixed_minor = -3\n",
       "transactions.fixed_minor: must be an integer from 0"},
  };
  for (const Case& k : cases) {
    auto c = ParseContract(k.text);
    EXPECT_THAT(c, StatusIs(StatusCode::kInvalidArgument, HasSubstr(k.message))) << k.name;
  }
}

TEST(ContractTest, LoadContractNamesTheFileInErrors) {
  TempDir dir;
  auto env = NewPosixEnv();
  EXPECT_THAT(LoadContract(*env, dir.Sub("missing.toml")),
              StatusIs(StatusCode::kNotFound, HasSubstr("missing.toml")));
  ASSERT_THAT(WriteFileAtomic(*env, dir.Sub("bad.toml"), "partner = 1\n"), IsOk());
  EXPECT_THAT(LoadContract(*env, dir.Sub("bad.toml")),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("bad.toml: partner:")));
}

TEST(MoneyTest, DivideRoundedAtHalvesUnderEachRule) {
  struct Case {
    uint64_t num, den;
    int64_t half_even, half_up, down;
  };
  const Case cases[] = {
      {1, 2, 0, 1, 0},   // 0.5
      {3, 2, 2, 2, 1},   // 1.5
      {5, 2, 2, 3, 2},   // 2.5
      {7, 2, 4, 4, 3},   // 3.5
      {1, 3, 0, 0, 0},   // 0.333
      {2, 3, 1, 1, 0},   // 0.667
      {0, 7, 0, 0, 0},   // 0
      {10, 5, 2, 2, 2},  // exact
      {2499, 1000, 2, 2, 2}, {2501, 1000, 3, 3, 2},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(*DivideRounded(c.num, c.den, RoundingRule::kHalfEven), c.half_even)
        << c.num << "/" << c.den;
    EXPECT_EQ(*DivideRounded(c.num, c.den, RoundingRule::kHalfUp), c.half_up)
        << c.num << "/" << c.den;
    EXPECT_EQ(*DivideRounded(c.num, c.den, RoundingRule::kDown), c.down) << c.num << "/" << c.den;
  }
  // Large operands: exact in 128 bits.
  Uint128 big = static_cast<Uint128>(kMaxMoneyMinor) * UINT64_MAX * 2 + UINT64_MAX;
  EXPECT_EQ(*DivideRounded(big, static_cast<Uint128>(UINT64_MAX) * 2, RoundingRule::kHalfEven),
            kMaxMoneyMinor);  // + 0.5 exactly, kMax is even
  EXPECT_THAT(DivideRounded(big, static_cast<Uint128>(UINT64_MAX) * 2, RoundingRule::kHalfUp),
              StatusIs(StatusCode::kOutOfRange, HasSubstr("absurd")));
  EXPECT_THAT(DivideRounded(1, 0, RoundingRule::kDown), StatusIs(StatusCode::kInternal));
}

}  // namespace
}  // namespace tieup::fees
