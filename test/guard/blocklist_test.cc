// The network-wide blocklist (guard/blocklist.h, guard/blocklist_service.h): values are written
// one canonical way; the payload is parsed strictly; a list verifies only when signed by a key
// main's root certifies and newer than the one in effect; the matcher refuses exactly what an
// entry names (addresses and ranges of both families, agents case-insensitively, paths at a
// segment boundary) until the entry expires; main's issuer numbers and signs every change and
// keeps which partner has which list; a partner's keeper refuses forgeries and replays and keeps
// the list across a restart (real SQLite files).
#include "guard/blocklist.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "guard/blocklist_service.h"
#include "store/database.h"
#include "sync/main_keys.h"
#include "test_database.h"
#include "test_support.h"
#include "trust/signed_metadata.h"

namespace tieup::guard {
namespace {

using ::testing::HasSubstr;
using namespace ::tieup::testing;  // NOLINT

BlockEntry Entry(BlockKind kind, std::string value, uint64_t id = 1, int64_t expires = 0) {
  BlockEntry e;
  e.id = id;
  e.kind = kind;
  e.value = std::move(value);
  e.added = 1'790'000'000;
  e.expires = expires;
  e.reason = "scanning";
  e.by = "main manager";
  return e;
}

TEST(BlocklistValueTest, EachValueHasOneCanonicalForm) {
  EXPECT_EQ(*NormalizeBlockValue(BlockKind::kAddress, "203.0.113.9"), "203.0.113.9");
  EXPECT_EQ(*NormalizeBlockValue(BlockKind::kAddress, "203.0.113.9/32"), "203.0.113.9");
  EXPECT_EQ(*NormalizeBlockValue(BlockKind::kAddress, "203.0.113.77/24"), "203.0.113.0/24");
  EXPECT_EQ(*NormalizeBlockValue(BlockKind::kAddress, "0.0.0.0/0"), "0.0.0.0/0");
  EXPECT_EQ(*NormalizeBlockValue(BlockKind::kAddress, "2001:DB8:0:0::7"), "2001:db8::7");
  EXPECT_EQ(*NormalizeBlockValue(BlockKind::kAddress, "2001:db8:ffff::1/32"), "2001:db8::/32");
  EXPECT_EQ(*NormalizeBlockValue(BlockKind::kAddress, "::ffff:203.0.113.9"), "203.0.113.9");
  EXPECT_EQ(*NormalizeBlockValue(BlockKind::kAgent, "  sqlmap "), "sqlmap");
  EXPECT_EQ(*NormalizeBlockValue(BlockKind::kPath, "/wp-admin/"), "/wp-admin");
  for (const char* bad : {"", "203.0.113", "203.0.113.9/33", "203.0.113.9/", "203.0.113.9/x",
                          "2001:db8::/129", "example.com", "1.2.3.4 ", "1.2.3.4/8/8"}) {
    EXPECT_THAT(NormalizeBlockValue(BlockKind::kAddress, bad),
                StatusIs(StatusCode::kInvalidArgument, HasSubstr("203.0.113.0/24")))
        << bad;
  }
  for (const char* bad : {"", "ab", "bad\tagent"}) {
    EXPECT_THAT(NormalizeBlockValue(BlockKind::kAgent, bad),
                StatusIs(StatusCode::kInvalidArgument, HasSubstr("User-Agent")))
        << bad;
  }
  for (const char* bad : {"", "/", "wp-admin", "/a?b=1", "/a/../b", "/a//b", "/a/.", "/a\nb"}) {
    EXPECT_THAT(NormalizeBlockValue(BlockKind::kPath, bad),
                StatusIs(StatusCode::kInvalidArgument, HasSubstr("starts with '/'")))
        << bad;
  }
  EXPECT_THAT(ParseBlockKind("country"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("address, agent, path")));
}

TEST(BlocklistCodecTest, RoundTripsAndParsesStrictly) {
  Blocklist list;
  list.seq = 3;
  list.issued = 1'790'000'100;
  list.entries = {Entry(BlockKind::kAddress, "203.0.113.0/24", 1),
                  Entry(BlockKind::kAgent, "sqlmap", 2, 1'790'086'400),
                  Entry(BlockKind::kPath, "/wp-admin", 5)};
  const std::string payload = EncodeBlocklist(list);
  EXPECT_THAT(payload, HasSubstr("\"_type\":\"blocklist\""));
  auto parsed = ParseBlocklist(payload);
  ASSERT_THAT(parsed, IsOk());
  EXPECT_EQ(*parsed, list);

  auto with = [&](std::string from, std::string to) {
    std::string s = payload;
    s.replace(s.find(from), from.size(), to);
    return ParseBlocklist(s);
  };
  EXPECT_THAT(ParseBlocklist("{"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("not JSON")));
  EXPECT_THAT(ParseBlocklist("[]"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(with("\"seq\":3", "\"seq\":0"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("'seq'")));
  EXPECT_THAT(with("\"seq\":3", "\"seq\":3,\"more\":1"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("unknown field 'more'")));
  EXPECT_THAT(with("\"kind\":\"agent\"", "\"kind\":\"country\""),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("country")));
  EXPECT_THAT(with("\"value\":\"203.0.113.0/24\"", "\"value\":\"203.0.113.1/24\""),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("canonical form")));
  EXPECT_THAT(with("\"id\":5", "\"id\":2"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("two entries are numbered 2")));
  EXPECT_THAT(with("\"expires\":0", "\"expires\":-1"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("'expires'")));
  EXPECT_THAT(with("\"reason\":\"scanning\"", "\"reason\":\"a\\u0000b\""),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("control characters")));
  EXPECT_THAT(with("\"_type\":\"blocklist\"", "\"_type\":\"release\""),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("_type")));
  // More entries than a list may hold.
  Blocklist big;
  big.seq = 1;
  for (uint64_t i = 1; i <= kMaxBlocklistEntries + 1; ++i) {
    big.entries.push_back(Entry(BlockKind::kAgent, "agent-" + std::to_string(i), i));
  }
  EXPECT_THAT(ParseBlocklist(EncodeBlocklist(big)),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("more than 10000 entries")));
}

class BlocklistSignatureTest : public ::testing::Test {
 protected:
  Blocklist Sample(uint64_t seq) {
    Blocklist list;
    list.seq = seq;
    list.issued = env_.NowSeconds();
    list.entries = {Entry(BlockKind::kAddress, "198.51.100.7")};
    return list;
  }
  Result<Blocklist> Verify(const std::string& envelope, uint64_t last_seq = 0) {
    return VerifyBlocklist(keys_.root.public_key(), keys_.root_envelope, envelope, last_seq,
                           env_.NowSeconds());
  }
  FakeClockEnv env_;
  MainKeys keys_{env_};
};

TEST_F(BlocklistSignatureTest, OnlyMainsNewerListsVerify) {
  auto ok = Verify(SignBlocklist(keys_.release, Sample(2)), 1);
  ASSERT_THAT(ok, IsOk());
  EXPECT_EQ(*ok, Sample(2));
  // A key main's root does not certify.
  EXPECT_THAT(Verify(SignBlocklist(Ed25519PrivateKey::Generate(env_), Sample(2))),
              StatusIs(StatusCode::kUnauthenticated));
  // Main's key, payload altered after signing (an entry removed on the way).
  SignedEnvelope env =
      SignEnvelope(keys_.release, kBlocklistPayloadType, EncodeBlocklist(Sample(2)));
  Blocklist emptied = Sample(2);
  emptied.entries.clear();
  env.payload = EncodeBlocklist(emptied);
  EXPECT_THAT(Verify(EncodeEnvelope(env)), StatusIs(StatusCode::kUnauthenticated));
  // Signed by main for something else: a release's payload type.
  EXPECT_THAT(Verify(EncodeEnvelope(SignRelease(keys_.release, EncodeBlocklist(Sample(2))))),
              StatusIs(StatusCode::kUnauthenticated));
  // A replay of the list in effect, or of an older one.
  EXPECT_THAT(Verify(SignBlocklist(keys_.release, Sample(2)), 2),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("replay")));
  EXPECT_THAT(Verify(SignBlocklist(keys_.release, Sample(1)), 2),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("replay")));
  // Issued two days in this site's future.
  Blocklist ahead = Sample(3);
  ahead.issued += 2 * 86400;
  EXPECT_THAT(Verify(SignBlocklist(keys_.release, ahead), 2),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("ahead")));
  EXPECT_THAT(Verify("not an envelope"), StatusIs(StatusCode::kInvalidArgument));
}

TEST(BlocklistMatcherTest, RefusesExactlyWhatAnEntryNames) {
  Blocklist list;
  list.seq = 1;
  list.entries = {Entry(BlockKind::kAddress, "203.0.113.9", 1),
                  Entry(BlockKind::kAddress, "198.51.100.0/24", 2),
                  Entry(BlockKind::kAddress, "2001:db8::/32", 3),
                  Entry(BlockKind::kAgent, "sqlmap", 4),
                  Entry(BlockKind::kPath, "/wp-admin", 5),
                  Entry(BlockKind::kAddress, "192.0.2.0/25", 6)};
  const BlocklistMatcher m(list);
  const int64_t now = 1'790'000'000;
  auto id = [&](std::string_view client, std::string_view agent, std::string_view path) {
    const BlockEntry* e = m.Match(client, agent, path, now);
    return e == nullptr ? uint64_t{0} : e->id;
  };
  EXPECT_EQ(id("203.0.113.9", "Mozilla/5.0", "/"), 1u);
  EXPECT_EQ(id("::ffff:203.0.113.9", "Mozilla/5.0", "/"), 1u);  // IPv4 on a dual-stack socket
  EXPECT_EQ(id("203.0.113.10", "Mozilla/5.0", "/"), 0u);
  EXPECT_EQ(id("198.51.100.0", "Mozilla/5.0", "/"), 2u);
  EXPECT_EQ(id("198.51.100.255", "Mozilla/5.0", "/"), 2u);
  EXPECT_EQ(id("198.51.101.0", "Mozilla/5.0", "/"), 0u);
  EXPECT_EQ(id("192.0.2.127", "Mozilla/5.0", "/"), 6u);
  EXPECT_EQ(id("192.0.2.128", "Mozilla/5.0", "/"), 0u);  // outside the /25
  EXPECT_EQ(id("2001:db8:1234::1", "Mozilla/5.0", "/"), 3u);
  EXPECT_EQ(id("2001:db9::1", "Mozilla/5.0", "/"), 0u);
  EXPECT_EQ(id("10.0.0.1", "sqlmap/1.7.2#stable (https://sqlmap.org)", "/"), 4u);
  EXPECT_EQ(id("10.0.0.1", "Mozilla/5.0 SQLMap", "/"), 4u);
  EXPECT_EQ(id("10.0.0.1", "Mozilla/5.0", "/wp-admin"), 5u);
  EXPECT_EQ(id("10.0.0.1", "Mozilla/5.0", "/wp-admin/setup.php"), 5u);
  EXPECT_EQ(id("10.0.0.1", "Mozilla/5.0", "/wp-admins"), 0u);
  EXPECT_EQ(id("10.0.0.1", "Mozilla/5.0", "/shop/wp-admin"), 0u);
  EXPECT_EQ(id("not an address", "", "/"), 0u);
  EXPECT_EQ(id("", "", ""), 0u);
}

TEST(BlocklistMatcherTest, AnExpiredEntryRefusesNothing) {
  Blocklist list;
  list.seq = 1;
  list.entries = {Entry(BlockKind::kAddress, "203.0.113.9", 1, 1'790'000'100)};
  const BlocklistMatcher m(list);
  EXPECT_NE(m.Match("203.0.113.9", "", "/", 1'790'000'099), nullptr);
  EXPECT_EQ(m.Match("203.0.113.9", "", "/", 1'790'000'100), nullptr);
  EXPECT_THAT(DescribeBlockEntry(list.entries[0]),
              HasSubstr("address 203.0.113.9 (scanning; until 2026-"));
}

class BlocklistServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    main_db_ = *::tieup::testing::OpenTestDatabase(dir_.path() + "/main.db");
    partner_db_ = *OpenSqlite(dir_.path() + "/partner.db");
    issuer_ = *BlocklistIssuer::Open(env_, *main_db_, keys_.release);
    keeper_ = OpenKeeper();
  }
  std::unique_ptr<BlocklistKeeper> OpenKeeper() {
    return *BlocklistKeeper::Open(env_, *partner_db_,
                                  {keys_.root.public_key(), keys_.root_envelope});
  }
  std::string LatestEnvelope() { return (*issuer_->Latest())->envelope; }

  TempDir dir_;
  FakeClockEnv env_;
  MainKeys keys_{env_};
  std::unique_ptr<Database> main_db_, partner_db_;
  std::unique_ptr<BlocklistIssuer> issuer_;
  std::unique_ptr<BlocklistKeeper> keeper_;
};

TEST_F(BlocklistServiceTest, EveryChangeIsSignedAndReachesThePartner) {
  EXPECT_FALSE(*issuer_->Latest());
  EXPECT_EQ(keeper_->seq(), 0u);
  EXPECT_EQ(keeper_->matcher()->Match("203.0.113.9", "", "/", env_.NowSeconds()), nullptr);

  auto added = issuer_->Add(Entry(BlockKind::kAddress, "203.0.113.77/24"));
  ASSERT_THAT(added, IsOk());
  EXPECT_EQ(added->value, "203.0.113.0/24");
  EXPECT_EQ(added->added, env_.NowSeconds());
  ASSERT_THAT(issuer_->Add(Entry(BlockKind::kAgent, "sqlmap", 0, env_.NowSeconds() + 3600)),
              IsOk());
  EXPECT_EQ((*issuer_->Latest())->list.seq, 2u);
  EXPECT_EQ((*issuer_->Latest())->list.entries.size(), 2u);

  ASSERT_THAT(keeper_->Accept(LatestEnvelope()), IsOk());
  EXPECT_EQ(keeper_->seq(), 2u);
  ASSERT_NE(keeper_->matcher()->Match("203.0.113.9", "", "/", env_.NowSeconds()), nullptr);
  // The same envelope again (main missed the answer): accepted again, nothing changes.
  EXPECT_THAT(keeper_->Accept(LatestEnvelope()), IsOk());

  // Removing signs a list without it; the old list is a replay now.
  const std::string old = LatestEnvelope();
  ASSERT_THAT(issuer_->Remove(added->id), IsOk());
  EXPECT_THAT(issuer_->Remove(added->id), StatusIs(StatusCode::kNotFound));
  ASSERT_THAT(keeper_->Accept(LatestEnvelope()), IsOk());
  EXPECT_EQ(keeper_->matcher()->Match("203.0.113.9", "", "/", env_.NowSeconds()), nullptr);
  EXPECT_THAT(keeper_->Accept(old), StatusIs(StatusCode::kFailedPrecondition, HasSubstr("replay")));
  EXPECT_EQ(keeper_->seq(), 3u);

  // A restart keeps the list in effect.
  keeper_ = OpenKeeper();
  EXPECT_EQ(keeper_->seq(), 3u);
  EXPECT_NE(keeper_->matcher()->Match("10.0.0.1", "SQLMAP", "/", env_.NowSeconds()), nullptr);
  EXPECT_EQ((*ReadKeptBlocklist(*partner_db_)).seq, 3u);

  // The agent entry expires: it refuses nothing, and the next list leaves it out.
  env_.AdvanceSeconds(3600);
  EXPECT_EQ(keeper_->matcher()->Match("10.0.0.1", "sqlmap", "/", env_.NowSeconds()), nullptr);
  EXPECT_EQ(issuer_->Entries(false)->size(), 0u);
  EXPECT_EQ(issuer_->Entries(true)->size(), 1u);
  ASSERT_THAT(issuer_->Add(Entry(BlockKind::kPath, "/wp-admin")), IsOk());
  EXPECT_EQ((*issuer_->Latest())->list.entries.size(), 1u);
  EXPECT_EQ(issuer_->Entries(true)->size(), 1u);
}

TEST_F(BlocklistServiceTest, BadEntriesAreRefusedWithTheirReason) {
  EXPECT_THAT(issuer_->Add(Entry(BlockKind::kAddress, "example.com")),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("203.0.113.0/24")));
  BlockEntry past = Entry(BlockKind::kAgent, "nikto", 0, env_.NowSeconds());
  EXPECT_THAT(issuer_->Add(past),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("expired already")));
  BlockEntry two_lines = Entry(BlockKind::kAgent, "nikto");
  two_lines.reason = "a\nb";
  EXPECT_THAT(issuer_->Add(two_lines),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("one line")));
  EXPECT_FALSE(*issuer_->Latest());  // nothing was signed
  // The same kind and value again replaces the entry (a new expiry), it does not add one.
  ASSERT_THAT(issuer_->Add(Entry(BlockKind::kAgent, "nikto")), IsOk());
  ASSERT_THAT(issuer_->Add(Entry(BlockKind::kAgent, "nikto", 0, env_.NowSeconds() + 60)), IsOk());
  auto entries = issuer_->Entries(false);
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_EQ((*entries)[0].expires, env_.NowSeconds() + 60);
}

TEST_F(BlocklistServiceTest, DeliveryIsRetriedUntilEachPartnerHasTheNewest) {
  ASSERT_THAT(issuer_->Add(Entry(BlockKind::kAgent, "nikto")), IsOk());
  std::vector<std::string> sent;
  bool b_up = false;
  auto send = [&](const std::string& partner, const std::string& envelope) {
    sent.push_back(partner);
    if (partner == "shop-b" && !b_up) return Status::Unavailable("connection refused");
    return keeper_->Accept(envelope).status();
  };
  const int64_t now = env_.NowSeconds();
  EXPECT_EQ(issuer_->DeliverDue(**issuer_->Latest(), {"shop-a", "shop-b"}, now, send), 1u);
  EXPECT_EQ(sent, (std::vector<std::string>{"shop-a", "shop-b"}));
  // Nothing is due at once: shop-a has it, shop-b waits for its retry.
  sent.clear();
  EXPECT_EQ(issuer_->DeliverDue(**issuer_->Latest(), {"shop-a", "shop-b"}, now, send), 0u);
  EXPECT_TRUE(sent.empty());
  auto standing = issuer_->Deliveries();
  ASSERT_EQ(standing->size(), 2u);
  EXPECT_EQ((*standing)[0].seq, 1u);
  EXPECT_EQ((*standing)[1].seq, 0u);
  EXPECT_EQ((*standing)[1].attempts, 1);
  EXPECT_THAT((*standing)[1].last_error, HasSubstr("connection refused"));
  // Later, shop-b answers.
  b_up = true;
  EXPECT_EQ(issuer_->DeliverDue(**issuer_->Latest(), {"shop-a", "shop-b"}, now + 600, send), 1u);
  EXPECT_EQ(sent, (std::vector<std::string>{"shop-b"}));
  EXPECT_EQ((*issuer_->Deliveries())[1].attempts, 0);
  // A pull-mode partner's fetch is recorded as delivered.
  ASSERT_THAT(issuer_->MarkDelivered("shop-c", 1), IsOk());
  EXPECT_EQ((*issuer_->Deliveries())[2].seq, 1u);
}

}  // namespace
}  // namespace tieup::guard
