#include "main_site/ledger_service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstring>

#include "base/encoding.h"
#include "fees/statement.h"
#include "ledger/records.h"
#include "ledger/verifier.h"
#include "partner_site/ledger_service.h"
#include "site/config.h"
#include "site/public_site.h"
#include "test_database.h"
#include "test_support.h"

namespace tieup {
namespace {

using ::testing::HasSubstr;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;

constexpr char kPartner[] = "shop-b";

int64_t Nov2026Micros(int day) { return DaysFromCivil(2026, 11, day) * 86'400'000'000; }

std::string Access(uint64_t i) {
  ledger::AccessRecord r;
  r.time_micros = Nov2026Micros(1 + static_cast<int>(i % 28)) + static_cast<int64_t>(i);
  r.area = i % 3 == 0 ? ledger::RecordArea::kOriginal : ledger::RecordArea::kTieup;
  r.method = "GET";
  r.path = "/page-" + std::to_string(i % 17) + ".html";
  r.status = i % 10 == 9 ? 404 : 200;
  r.bytes = 1000 + i;
  return ledger::EncodeRecord(r);
}

std::vector<std::string> Accesses(uint64_t begin, uint64_t end) {
  std::vector<std::string> out;
  for (uint64_t i = begin; i < end; ++i) out.push_back(Access(i));
  return out;
}

// Changes one byte of entry `index` in the segment file of `ledger_dir` and, when `fix_crc`,
// recomputes the record's checks as a deliberate forger would (so only the Merkle tree can
// tell).
void FlipByteInStoredRecord(Env& env, const std::string& ledger_dir, uint64_t index, bool fix_crc) {
  auto files = env.ListDir(ledger_dir);
  ASSERT_TRUE(files.ok());
  std::string path;
  for (const FileInfo& f : *files) {
    if (f.name.starts_with("entries-")) path = ledger_dir + "/" + f.name;
  }
  ASSERT_FALSE(path.empty());
  auto data = env.ReadFile(path);
  ASSERT_TRUE(data.ok());
  std::string d = *data;
  size_t off = 16;
  for (uint64_t i = 0; i < index; ++i) {
    uint32_t len;
    std::memcpy(&len, d.data() + off, 4);
    off += 12 + len;
  }
  uint32_t len;
  std::memcpy(&len, d.data() + off, 4);
  ASSERT_GT(len, 20u);
  d[off + 8 + 20] ^= 0x01;  // inside the JSON, keeps it a (different) byte string
  if (fix_crc) {
    std::string covered(12, '\0');
    std::memcpy(covered.data(), &index, 8);
    std::memcpy(covered.data() + 8, &len, 4);
    covered += d.substr(off + 8, len);
    uint32_t check = static_cast<uint32_t>(
        crc32_z(0, reinterpret_cast<const Bytef*>(covered.data()), covered.size()));
    std::memcpy(d.data() + off + 8 + len, &check, 4);
  }
  ASSERT_THAT(WriteFileAtomic(env, path, d), IsOk());
}

class LedgerShippingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    main_dir_ = dir_.Sub("main");
    partner_dir_ = dir_.Sub("partner");
    ASSERT_THAT(CreateDirs(env_, main_dir_), IsOk());
    auto mdb = ::tieup::testing::OpenTestDatabase(main_dir_ + "/tieup.db");
    ASSERT_TRUE(mdb.ok());
    main_db_ = std::move(*mdb);
    auto c = LedgerCollector::Open(env_, main_dir_, *main_db_, nullptr);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    collector_ = std::move(*c);

    SiteConfig config;
    config.role = SiteRole::kPartner;
    config.id = kPartner;
    config.name = "Shop B";
    ASSERT_THAT(CreateSiteDir(env_, partner_dir_, config), IsOk());
    auto pdb = OpenSqlite(SitePaths(partner_dir_).database());
    ASSERT_TRUE(pdb.ok());
    partner_db_ = std::move(*pdb);
    auto signer = LoadLedgerSigner(env_, partner_dir_);
    ASSERT_TRUE(signer.ok()) << signer.status().ToString();
    signer_ = std::make_unique<ledger::NoteSigner>(std::move(*signer));
    OpenPartnerLog(SitePaths(partner_dir_).ledger());
  }

  // (Re)opens the partner's ledger at `dir` and a shipper over it.
  void OpenPartnerLog(const std::string& dir, LedgerShipperOptions options = {}) {
    shipper_.reset();
    log_.reset();
    auto log = ledger::Log::Open(env_, dir);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    log_ = std::move(*log);
    MakeShipper(options);
  }

  void MakeShipper(LedgerShipperOptions options, LedgerShipper::CheckpointFn checkpoint = nullptr) {
    shipper_.reset();
    auto verifier = ledger::NoteVerifier::Create(signer_->name(), signer_->public_key());
    ASSERT_TRUE(verifier.ok());
    if (!checkpoint) checkpoint = [this] { return log_->SignCheckpoint(*signer_); };
    auto s = LedgerShipper::Open(env_, *partner_db_, *log_, *verifier, std::move(checkpoint),
                                 nullptr, options);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    shipper_ = std::move(*s);
  }

  // The partner's round trip to main, in process (the peer is what mTLS would say). After
  // `fail_after` calls every call fails as a cut connection would.
  sync::HttpRoundTrip ToMain(int fail_after = -1, std::string peer = kPartner) {
    auto calls = std::make_shared<int>(0);
    return [this, calls, fail_after, peer](const HttpRequest& r) -> Result<HttpResponse> {
      if (fail_after >= 0 && (*calls)++ >= fail_after) {
        return Status::Unavailable("connection to 127.0.0.1:9443 reset");
      }
      HttpRequest copy = r;
      copy.SetPeerSiteIdForTest(peer);
      return collector_->HandleSyncRequest(copy);
    };
  }
  // Main's round trip to the partner's sync port, in process.
  sync::HttpRoundTrip ToPartner() {
    return [this](const HttpRequest& r) -> Result<HttpResponse> {
      HttpRequest copy = r;
      copy.SetPeerSiteIdForTest("main");
      return shipper_->HandleSyncRequest(copy);
    };
  }

  void Append(uint64_t begin, uint64_t end) {
    ASSERT_TRUE(log_->Append(Accesses(begin, end)).ok());
  }

  // Ships entries [0, n) and checks main holds them.
  void ShipFirst(uint64_t n) {
    Append(0, n);
    auto r = shipper_->Push(ToMain());
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_TRUE(r->caught_up);
    ASSERT_EQ(r->main_entries, n);
  }

  // Replaces the partner's ledger with one holding `entries` (a rewritten history, signed with
  // the same key) and pushes it; returns the push.
  Result<LedgerPushSummary> PushRewritten(const std::vector<std::string>& entries) {
    const std::string dir = dir_.Sub("rewritten-" + std::to_string(++rewrites_));
    shipper_.reset();
    log_.reset();
    auto log = ledger::Log::Open(env_, dir);
    if (!log.ok()) return log.status();
    log_ = std::move(*log);
    if (!entries.empty()) RETURN_IF_ERROR(log_->Append(entries).status());
    MakeShipper({});
    return shipper_->Push(ToMain());
  }

  // Asserts one open alert of `kind` on both sides and that [begin, end) is excluded.
  void ExpectAlertOnBothSides(const std::string& kind, uint64_t begin, uint64_t end) {
    auto main_alerts = collector_->Alerts(kPartner, false);
    ASSERT_TRUE(main_alerts.ok());
    ASSERT_EQ(main_alerts->size(), 1u);
    EXPECT_EQ((*main_alerts)[0].kind, kind) << (*main_alerts)[0].message;
    auto partner_alerts = shipper_->Alerts();
    ASSERT_TRUE(partner_alerts.ok());
    ASSERT_EQ(partner_alerts->size(), 1u);
    EXPECT_EQ((*partner_alerts)[0].kind, kind);
    EXPECT_EQ((*partner_alerts)[0].source, "main");
    EXPECT_EQ((*partner_alerts)[0].message, (*main_alerts)[0].message);
    auto excluded = collector_->ExcludedRanges(kPartner);
    ASSERT_TRUE(excluded.ok());
    if (begin < end) {
      ASSERT_EQ(excluded->size(), 1u);
      EXPECT_EQ((*excluded)[0].begin, begin);
      EXPECT_EQ((*excluded)[0].end, end);
    } else {
      EXPECT_TRUE(excluded->empty());
    }
  }

  std::string MirrorRootHex(uint64_t size) {
    ledger::LogOpenOptions ro;
    ro.read_only = true;
    auto log = ledger::Log::Open(env_, collector_->MirrorDir(kPartner), ro);
    EXPECT_TRUE(log.ok());
    auto root = (*log)->Root(size);
    EXPECT_TRUE(root.ok());
    return HexEncode(ledger::HashView(*root));
  }

  ::tieup::testing::TempDir dir_;
  ::tieup::testing::FakeClockEnv env_;
  std::string main_dir_, partner_dir_;
  std::unique_ptr<Database> main_db_, partner_db_;
  std::unique_ptr<LedgerCollector> collector_;
  std::unique_ptr<ledger::NoteSigner> signer_;
  std::unique_ptr<ledger::Log> log_;
  std::unique_ptr<LedgerShipper> shipper_;
  int rewrites_ = 0;
};

TEST_F(LedgerShippingTest, PushesInBatchesAndResumesAfterACut) {
  LedgerShipperOptions o;
  o.max_batch_entries = 1000;
  OpenPartnerLog(SitePaths(partner_dir_).ledger(), o);
  Append(0, 4500);

  // The connection is cut after the state request and two batches.
  auto cut = shipper_->Push(ToMain(3));
  EXPECT_THAT(cut.status(), StatusIs(StatusCode::kUnavailable));
  auto state = collector_->State(kPartner);
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->entries, 2000u);
  EXPECT_EQ(state->accepted_size, 4500u);

  // The next push resumes where main stopped: three more batches, the last one short.
  auto resumed = shipper_->Push(ToMain());
  ASSERT_TRUE(resumed.ok()) << resumed.status().ToString();
  EXPECT_EQ(resumed->batches, 3u);
  EXPECT_EQ(resumed->entries_sent, 2500u);
  EXPECT_TRUE(resumed->caught_up);
  EXPECT_EQ(resumed->main_entries, 4500u);
  EXPECT_EQ(MirrorRootHex(4500), resumed->checkpoint_root_hex);

  // Nothing new: an empty push.
  auto again = shipper_->Push(ToMain());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->entries_sent, 0u);
  EXPECT_TRUE(again->caught_up);

  auto report = collector_->Verify(kPartner);
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok) << report->text;
  EXPECT_THAT(report->text, HasSubstr("4500 entries"));
  EXPECT_TRUE(collector_->Alerts(kPartner, true)->empty());
}

TEST_F(LedgerShippingTest, BatchesAreBoundedByBytes) {
  LedgerShipperOptions o;
  o.max_batch_bytes = 10 * Access(5).size();  // about ten entries per batch
  OpenPartnerLog(SitePaths(partner_dir_).ledger(), o);
  Append(0, 100);
  auto r = shipper_->Push(ToMain());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_GE(r->batches, 10u);
  EXPECT_LE(r->batches, 12u);
  EXPECT_EQ(r->main_entries, 100u);
}

TEST_F(LedgerShippingTest, MainPullsInBatches) {
  Append(0, 250);
  LedgerCollectorOptions co;
  co.pull_batch_entries = 100;
  auto c = LedgerCollector::Open(env_, main_dir_, *main_db_, nullptr, co);
  ASSERT_TRUE(c.ok());
  collector_ = std::move(*c);
  auto r = collector_->Pull(kPartner, ToPartner());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->batches, 3u);
  EXPECT_EQ(r->entries_received, 250u);
  EXPECT_EQ(r->state.entries, 250u);
  EXPECT_TRUE(r->alerts.empty());
  // New entries, pulled again; then a push finds main up to date.
  Append(250, 300);
  r = collector_->Pull(kPartner, ToPartner());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->entries_received, 50u);
  auto p = shipper_->Push(ToMain());
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->entries_sent, 0u);
  EXPECT_EQ(p->main_entries, 300u);
}

TEST_F(LedgerShippingTest, AlertOnAPullIsSentBackToThePartner) {
  ShipFirst(100);
  // The partner's history is rewritten (entry 40 changed) and main pulls.
  std::vector<std::string> entries = Accesses(0, 120);
  entries[40] = Access(1040);
  const std::string dir = dir_.Sub("rewritten-pull");
  shipper_.reset();
  log_.reset();
  log_ = std::move(*ledger::Log::Open(env_, dir));
  ASSERT_TRUE(log_->Append(entries).ok());
  MakeShipper({});
  auto r = collector_->Pull(kPartner, ToPartner());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->alerts.size(), 1u);
  ExpectAlertOnBothSides("rewrite", 0, 100);
}

TEST_F(LedgerShippingTest, FlippedByteInAStoredRecordIsDetectedByMain) {
  // Main holds [0, 100) under checkpoint 100; the partner has 200 entries under checkpoint
  // 200, then someone edits entry 150 on disk and fixes its checksums.
  ShipFirst(100);
  Append(100, 200);
  auto cp = log_->SignCheckpoint(*signer_);
  ASSERT_TRUE(cp.ok());
  FlipByteInStoredRecord(env_, SitePaths(partner_dir_).ledger(), 150, /*fix_crc=*/true);
  MakeShipper({}, [cp] { return Result<std::string>(*cp); });
  auto r = shipper_->Push(ToMain());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->caught_up);
  ASSERT_EQ(r->alerts.size(), 1u);
  ExpectAlertOnBothSides("entries", 100, 200);
  EXPECT_EQ(collector_->State(kPartner)->entries, 100u);  // nothing of the batch was stored
}

TEST_F(LedgerShippingTest, FlippedByteAfterRestartIsAFork) {
  // The same edit, then the partner restarts (its tree is rebuilt from the edited records)
  // and signs the same size again: two checkpoints of size 100 with different roots.
  ShipFirst(100);
  FlipByteInStoredRecord(env_, SitePaths(partner_dir_).ledger(), 30, /*fix_crc=*/true);
  OpenPartnerLog(SitePaths(partner_dir_).ledger());
  // The old checkpoint file for size 100 stands in the way of a new signature: a forger
  // removes it.
  char name[64];
  std::snprintf(name, sizeof(name), "/checkpoints/%020d.note", 100);
  ASSERT_THAT(env_.RemoveFile(SitePaths(partner_dir_).ledger() + name), IsOk());
  auto r = shipper_->Push(ToMain());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ExpectAlertOnBothSides("fork", 0, 100);
}

TEST_F(LedgerShippingTest, FlippedByteWithoutFixedChecksumIsRefusedLocally) {
  ShipFirst(100);
  Append(100, 150);
  FlipByteInStoredRecord(env_, SitePaths(partner_dir_).ledger(), 120, /*fix_crc=*/false);
  auto r = shipper_->Push(ToMain());
  EXPECT_THAT(r.status(), StatusIs(StatusCode::kDataLoss));
  auto alerts = shipper_->Alerts();
  ASSERT_TRUE(alerts.ok());
  ASSERT_EQ(alerts->size(), 1u);
  EXPECT_EQ((*alerts)[0].source, "local");
  EXPECT_EQ((*alerts)[0].kind, "damaged");
  auto report = VerifyOwnLedger(env_, partner_dir_);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_FALSE(report->ok);
  EXPECT_THAT(report->text, HasSubstr("FAILED"));
}

TEST_F(LedgerShippingTest, DeletedRecordIsDetected) {
  ShipFirst(100);
  std::vector<std::string> entries = Accesses(0, 110);
  entries.erase(entries.begin() + 50);
  auto r = PushRewritten(entries);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->alerts.size(), 1u);
  ExpectAlertOnBothSides("rewrite", 0, 100);
}

TEST_F(LedgerShippingTest, SwappedRecordsAreDetected) {
  ShipFirst(100);
  std::vector<std::string> entries = Accesses(0, 105);
  std::swap(entries[60], entries[61]);
  auto r = PushRewritten(entries);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->alerts.size(), 1u);
  ExpectAlertOnBothSides("rewrite", 0, 100);
}

TEST_F(LedgerShippingTest, TruncatedLogIsDetected) {
  ShipFirst(100);
  auto r = PushRewritten(Accesses(0, 80));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->alerts.size(), 1u);
  ExpectAlertOnBothSides("truncation", 80, 100);
}

TEST_F(LedgerShippingTest, TwoCheckpointsForOneSizeAreAFork) {
  ShipFirst(100);
  ledger::Checkpoint forged;
  forged.origin = signer_->name();
  forged.size = 100;
  forged.root = ledger::HashLeaf("another history");
  auto note = ledger::SignCheckpoint(forged, *signer_);
  ASSERT_TRUE(note.ok());
  MakeShipper({}, [note] { return Result<std::string>(*note); });
  auto r = shipper_->Push(ToMain());
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->alerts.size(), 1u);
  ExpectAlertOnBothSides("fork", 0, 100);
  // Pushing again raises nothing new on either side.
  ASSERT_TRUE(shipper_->Push(ToMain()).ok());
  EXPECT_EQ(collector_->Alerts(kPartner, true)->size(), 1u);
  EXPECT_EQ(shipper_->Alerts()->size(), 1u);
}

TEST_F(LedgerShippingTest, ResolvedAlertNoLongerExcludes) {
  ShipFirst(100);
  ASSERT_TRUE(PushRewritten(Accesses(0, 80)).ok());
  auto alerts = collector_->Alerts(kPartner, false);
  ASSERT_EQ(alerts->size(), 1u);
  ASSERT_THAT(collector_->ResolveAlert((*alerts)[0].id, "restored from backup"), IsOk());
  EXPECT_TRUE(collector_->ExcludedRanges(kPartner)->empty());
  EXPECT_THAT(collector_->ResolveAlert((*alerts)[0].id, "twice"), StatusIs(StatusCode::kNotFound));
}

TEST_F(LedgerShippingTest, AnotherKeyIsRefusedAfterPinning) {
  ShipFirst(10);
  auto other = ledger::NoteSigner::Create(signer_->name(), Ed25519PrivateKey::Generate(env_));
  ASSERT_TRUE(other.ok());
  signer_ = std::make_unique<ledger::NoteSigner>(std::move(*other));
  Append(10, 20);
  MakeShipper({});
  auto r = shipper_->Push(ToMain());
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->alerts.size(), 1u);
  EXPECT_EQ(r->alerts[0].kind, "key");
  EXPECT_EQ(collector_->State(kPartner)->entries, 10u);
}

TEST_F(LedgerShippingTest, RefusesMalformedAndMisdirectedBatches) {
  HttpRequest bad("POST", "/v1/ledger/push");
  bad.SetBody("{\"origin\": 3}");
  bad.SetPeerSiteIdForTest(kPartner);
  EXPECT_EQ(collector_->HandleSyncRequest(bad).status(), 400);
  HttpRequest anon("GET", "/v1/ledger/state");
  EXPECT_EQ(collector_->HandleSyncRequest(anon).status(), 401);
  // A partner cannot ship another partner's ledger: its batch names its own origin.
  Append(0, 5);
  auto r = shipper_->Push(ToMain(-1, "shop-c"));
  EXPECT_THAT(r.status(), StatusIs(StatusCode::kInvalidArgument, HasSubstr("tieup.ledger/shop-c")));
  HttpRequest pull("GET", "/v1/ledger/pull?from=x");
  pull.SetPeerSiteIdForTest("main");
  EXPECT_EQ(shipper_->HandleSyncRequest(pull).status(), 400);
}

TEST_F(LedgerShippingTest, MaybePushWaitsForTheInterval) {
  LedgerShipperOptions o;
  o.push_interval = std::chrono::seconds(60);
  OpenPartnerLog(SitePaths(partner_dir_).ledger(), o);
  Append(0, 10);
  shipper_->MaybePush(ToMain());
  EXPECT_EQ(collector_->State(kPartner)->entries, 10u);
  Append(10, 20);
  env_.AdvanceSeconds(30);
  shipper_->MaybePush(ToMain());
  EXPECT_EQ(collector_->State(kPartner)->entries, 10u);
  env_.AdvanceSeconds(31);
  shipper_->MaybePush(ToMain());
  EXPECT_EQ(collector_->State(kPartner)->entries, 20u);
}

constexpr char kContract[] = R"(partner = "shop-b"
kind = "template"
currency = "JPY"
base_fee = 30000
[access_discount]
max_percent = 30
at_original_share_percent = 50
[transactions]
percent_bp = 250
fixed_minor = 30
)";

TEST_F(LedgerShippingTest, StatementFromTheMirrorIsVerifiedByThePartner) {
  Append(0, 1000);
  ledger::OrderRecord order;
  order.time_micros = Nov2026Micros(5);
  order.order_id = "o-1";
  order.partner = kPartner;
  order.amount_minor = 120000;
  order.currency = "JPY";
  order.items = 2;
  ASSERT_TRUE(log_->Append(ledger::EncodeRecord(order)).ok());
  ASSERT_TRUE(shipper_->Push(ToMain()).ok());
  const std::string contract = dir_.Sub("contract.toml");
  ASSERT_THAT(WriteFileAtomic(env_, contract, kContract), IsOk());

  auto f = collector_->WriteStatement(kPartner, "2026-11", contract);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->checkpoint_size, 1001u);
  EXPECT_GT(f->total_minor, 0);
  auto csv = env_.ReadFile(f->csv_path);
  ASSERT_TRUE(csv.ok());
  EXPECT_TRUE(env_.FileExists(f->html_path));
  EXPECT_THAT(*csv, HasSubstr("transactions.percent"));

  auto agrees = VerifyStatementWithOwnLedger(env_, partner_dir_, *csv, contract);
  ASSERT_TRUE(agrees.ok()) << agrees.status().ToString();
  EXPECT_TRUE(agrees->agrees) << agrees->ToText();

  // One byte changed in a daily count: the partner's recomputation disagrees.
  std::string altered = *csv;
  size_t day = altered.find(";original=");
  ASSERT_NE(day, std::string::npos);
  char& digit = altered[day - 1];
  digit = digit == '9' ? '8' : static_cast<char>(digit + 1);
  auto disagrees = VerifyStatementWithOwnLedger(env_, partner_dir_, altered, contract);
  ASSERT_TRUE(disagrees.ok()) << disagrees.status().ToString();
  EXPECT_FALSE(disagrees->agrees);
  EXPECT_FALSE(disagrees->differences.empty());
}

TEST_F(LedgerShippingTest, StatementLeavesOutExcludedRangesUntilResolved) {
  ShipFirst(100);
  ASSERT_TRUE(PushRewritten(Accesses(0, 80)).ok());  // truncation: [80, 100) excluded
  const std::string contract = dir_.Sub("contract.toml");
  ASSERT_THAT(WriteFileAtomic(env_, contract, kContract), IsOk());
  auto f = collector_->WriteStatement(kPartner, "2026-11", contract);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->checkpoint_size, 100u);
  EXPECT_EQ(f->excluded_entries, 20u);
  auto csv = env_.ReadFile(f->csv_path);
  EXPECT_THAT(*csv, HasSubstr("excluded,80..100,"));

  auto alerts = collector_->Alerts(kPartner, false);
  ASSERT_THAT(collector_->ResolveAlert((*alerts)[0].id, "checked by hand"), IsOk());
  f = collector_->WriteStatement(kPartner, "2026-11", contract);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->excluded_entries, 0u);
}

TEST_F(LedgerShippingTest, StatementNeedsAShippedLedgerAndTheRightContract) {
  const std::string contract = dir_.Sub("contract.toml");
  ASSERT_THAT(WriteFileAtomic(env_, contract, kContract), IsOk());
  EXPECT_THAT(collector_->WriteStatement(kPartner, "2026-11", contract).status(),
              StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_THAT(collector_->WriteStatement("shop-c", "2026-11", contract).status(),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("shop-b")));
  EXPECT_THAT(collector_->WriteStatement(kPartner, "2026-13", contract).status(),
              StatusIs(StatusCode::kInvalidArgument));
}

TEST_F(LedgerShippingTest, CheckpointSummariesAndTheDefaultContract) {
  auto before = collector_->CheckpointSummaries({kPartner});
  ASSERT_THAT(before, IsOk());
  ASSERT_EQ(before->size(), 1u);
  EXPECT_FALSE((*before)[0].shipped);
  EXPECT_EQ((*before)[0].accepted_size, 0u);
  EXPECT_EQ((*before)[0].last_received, 0);

  ShipFirst(100);
  auto after = collector_->CheckpointSummaries({"shop-c", kPartner});
  ASSERT_THAT(after, IsOk());
  ASSERT_EQ(after->size(), 2u);
  EXPECT_EQ((*after)[0].partner, "shop-c");
  EXPECT_FALSE((*after)[0].shipped);
  EXPECT_EQ((*after)[1].partner, kPartner);
  EXPECT_TRUE((*after)[1].shipped);
  EXPECT_EQ((*after)[1].accepted_size, 100u);
  EXPECT_EQ((*after)[1].accepted_root_hex, MirrorRootHex(100));
  EXPECT_EQ((*after)[1].last_received, env_.NowSeconds());

  // Without a contract file named, the statement is computed with SITE_DIR/contracts/ID.toml.
  const std::string contract = collector_->ContractPath(kPartner);
  EXPECT_EQ(contract, main_dir_ + "/contracts/shop-b.toml");
  auto missing = collector_->WriteStatement(kPartner, "2026-11", "");
  EXPECT_THAT(missing.status().message(), HasSubstr(contract));
  ASSERT_THAT(CreateDirs(env_, main_dir_ + "/contracts"), IsOk());
  ASSERT_THAT(WriteFileAtomic(env_, contract, kContract), IsOk());
  auto f = collector_->WriteStatement(kPartner, "2026-11", "");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  auto kept = env_.ReadFile(f->contract_path);
  ASSERT_THAT(kept, IsOk());
  EXPECT_EQ(*kept, kContract);
}

std::string Order(const std::string& id, int64_t amount_minor, ledger::RecordArea area, int day,
                  uint32_t items) {
  ledger::OrderRecord r;
  r.time_micros = Nov2026Micros(day);
  r.order_id = id;
  r.partner = kPartner;
  r.area = area;
  r.amount_minor = amount_minor;
  r.currency = "JPY";
  r.items = items;
  return ledger::EncodeRecord(r);
}

TEST_F(LedgerShippingTest, OrdersOfAcceptedBatchesAreListedOnce) {
  std::vector<std::string> entries = Accesses(0, 10);
  entries.push_back(Order("A-1001", 12000, ledger::RecordArea::kOriginal, 3, 2));  // entry 10
  entries.push_back(Access(11));
  entries.push_back(Order("A-1001", -4000, ledger::RecordArea::kOriginal, 5, 1));  // a refund
  entries.push_back(Order("T-2002", 5000, ledger::RecordArea::kTieup, 4, 1));      // entry 13
  ASSERT_TRUE(log_->Append(entries).ok());
  auto pushed = shipper_->Push(ToMain());
  ASSERT_TRUE(pushed.ok()) << pushed.status().ToString();
  ASSERT_TRUE(pushed->caught_up);

  auto expect_all = [&](const char* when) {
    auto page = collector_->Orders({});
    ASSERT_THAT(page, IsOk());
    EXPECT_EQ(page->total, 3) << when;
    ASSERT_EQ(page->orders.size(), 3u) << when;
    // Newest first: the refund (day 5), the tie-up order (day 4), the sale (day 3).
    const LedgerOrder& refund = page->orders[0];
    EXPECT_EQ(refund.partner, kPartner);
    EXPECT_EQ(refund.entry, 12u);
    EXPECT_EQ(refund.order_id, "A-1001");
    EXPECT_EQ(refund.amount_minor, -4000);
    EXPECT_EQ(refund.currency, "JPY");
    EXPECT_EQ(refund.items, 1u);
    EXPECT_EQ(refund.area, "original");
    EXPECT_EQ(refund.time_micros, Nov2026Micros(5));
    EXPECT_FALSE(refund.excluded);
    EXPECT_EQ(page->orders[1].order_id, "T-2002");
    EXPECT_EQ(page->orders[1].area, "tieup");
    EXPECT_EQ(page->orders[2].entry, 10u);
    EXPECT_EQ(page->orders[2].amount_minor, 12000);
    EXPECT_EQ(page->orders[2].items, 2u);
  };
  expect_all("after the push");

  // Filters and pages.
  LedgerOrderQuery q;
  q.area = "tieup";
  EXPECT_EQ(collector_->Orders(q)->total, 1);
  q = {};
  q.partner = "shop-c";
  EXPECT_EQ(collector_->Orders(q)->total, 0);
  q = {};
  q.limit = 1;
  q.offset = 1;
  auto second = collector_->Orders(q);
  ASSERT_THAT(second, IsOk());
  EXPECT_EQ(second->total, 3);
  ASSERT_EQ(second->orders.size(), 1u);
  EXPECT_EQ(second->orders[0].order_id, "T-2002");
  q.newest_first = false;
  q.offset = 0;
  EXPECT_EQ(collector_->Orders(q)->orders.at(0).entry, 10u);
  // An order the partner delegated to main is main's own: left out when asked.
  ASSERT_THAT(main_db_->Exec("CREATE TABLE commerce_orders (number TEXT NOT NULL UNIQUE);"
                             "INSERT INTO commerce_orders VALUES ('T-2002')"),
              IsOk());
  q = {};
  q.exclude_main_shop_orders = true;
  auto own = collector_->Orders(q);
  ASSERT_THAT(own, IsOk());
  EXPECT_EQ(own->total, 2);
  for (const LedgerOrder& o : own->orders) EXPECT_NE(o.order_id, "T-2002");

  // Nothing new: a push adds nothing; reopening does not index the entries again.
  ASSERT_TRUE(shipper_->Push(ToMain()).ok());
  auto c = LedgerCollector::Open(env_, main_dir_, *main_db_, nullptr);
  ASSERT_TRUE(c.ok());
  collector_ = std::move(*c);
  expect_all("after a push with nothing new and a reopen");

  // A mirror whose entries were never indexed (received before the table existed): Open
  // reads them once, and the same entries read again are not listed twice.
  ASSERT_THAT(main_db_->Exec("DELETE FROM ledger_orders WHERE entry <> 12"), IsOk());
  ASSERT_THAT(main_db_->Exec("UPDATE ledger_mirrors SET orders_indexed = 0"), IsOk());
  EXPECT_EQ(collector_->Orders({})->total, 1);
  c = LedgerCollector::Open(env_, main_dir_, *main_db_, nullptr);
  ASSERT_TRUE(c.ok());
  collector_ = std::move(*c);
  expect_all("after the backfill");
}

TEST_F(LedgerShippingTest, ForgedBatchAddsNoOrdersAndAlertsMarkTheirRange) {
  std::vector<std::string> entries = Accesses(0, 5);
  entries.push_back(Order("A-1", 12000, ledger::RecordArea::kOriginal, 3, 1));  // entry 5
  ASSERT_TRUE(log_->Append(entries).ok());
  ASSERT_TRUE(shipper_->Push(ToMain()).ok());
  ASSERT_EQ(collector_->Orders({})->total, 1);

  // Two more orders, signed, then entry 6 is changed on disk (its amount: 12000 -> 12001) with
  // its checksums fixed: main refuses the batch and lists none of it.
  ASSERT_TRUE(log_->Append({Order("A-2", 12000, ledger::RecordArea::kOriginal, 4, 1),
                            Order("A-3", 7000, ledger::RecordArea::kTieup, 4, 1)})
                  .ok());
  auto cp = log_->SignCheckpoint(*signer_);
  ASSERT_TRUE(cp.ok());
  FlipByteInStoredRecord(env_, SitePaths(partner_dir_).ledger(), 6, /*fix_crc=*/true);
  MakeShipper({}, [cp] { return Result<std::string>(*cp); });
  auto r = shipper_->Push(ToMain());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->alerts.size(), 1u);
  EXPECT_EQ(r->alerts[0].kind, "entries");
  auto page = collector_->Orders({});
  ASSERT_THAT(page, IsOk());
  ASSERT_EQ(page->total, 1);
  EXPECT_EQ(page->orders[0].order_id, "A-1");
  EXPECT_FALSE(page->orders[0].excluded);

  // The partner's history is then rewritten: the accepted entries [0, 6) are excluded from
  // fees; the order received in them stays listed, marked, until the alert is resolved.
  ASSERT_TRUE(PushRewritten(Accesses(0, 8)).ok());
  page = collector_->Orders({});
  ASSERT_EQ(page->total, 1);
  EXPECT_TRUE(page->orders[0].excluded);
  auto alerts = collector_->Alerts(kPartner, false);
  ASSERT_THAT(alerts, IsOk());
  for (const LedgerAlert& a : *alerts)
    ASSERT_THAT(collector_->ResolveAlert(a.id, "checked"), IsOk());
  EXPECT_FALSE(collector_->Orders({})->orders.at(0).excluded);
}

std::string SearchAt(int day, int64_t micros, std::string query, uint64_t results) {
  ledger::SearchRecord r;
  r.time_micros = Nov2026Micros(day) + micros;
  r.query = std::move(query);
  r.results = results;
  return ledger::EncodeRecord(r);
}

std::string ClickAt(int day, std::string query, std::string path, ledger::RecordArea area) {
  ledger::SearchRecord r;
  r.time_micros = Nov2026Micros(day);
  r.query = std::move(query);
  r.results = 4;
  r.clicked_path = std::move(path);
  r.clicked_area = area;
  return ledger::EncodeRecord(r);
}

// The searches of partners' search pages that found nothing, for main's manager: grouped per
// partner and case-folded query, most frequent first; clicks and searches that found something
// are not listed but counted in the summary.
TEST_F(LedgerShippingTest, ZeroResultSearchesAreListedPerPartner) {
  // Before any search arrived: nothing, and no error.
  auto none = collector_->ZeroResultQueries("", 0, 20);
  ASSERT_THAT(none, IsOk());
  EXPECT_TRUE(none->empty());

  std::vector<std::string> entries = Accesses(0, 3);
  entries.push_back(SearchAt(3, 0, "Green Tea", 0));
  entries.push_back(SearchAt(4, 0, "GREEN TEA", 0));
  entries.push_back(SearchAt(5, 0, "green tea", 0));  // the newest spelling
  entries.push_back(SearchAt(6, 0, "matcha", 4));     // found something
  entries.push_back(ClickAt(6, "matcha", "/matcha.html", ledger::RecordArea::kTieup));
  entries.push_back(ClickAt(6, "matcha", "/own/matcha.html", ledger::RecordArea::kOriginal));
  entries.push_back(SearchAt(2, 0, "oolong", 0));
  entries.push_back(SearchAt(7, 0, "hojicha", 0));
  entries.push_back(SearchAt(8, 0, "hojicha", 0));
  entries.push_back(SearchAt(1, 0, "kombucha", 0));  // before the 2nd
  entries.push_back(Access(20));
  ASSERT_TRUE(log_->Append(entries).ok());
  auto pushed = shipper_->Push(ToMain());
  ASSERT_TRUE(pushed.ok()) << pushed.status().ToString();
  ASSERT_TRUE(pushed->caught_up);

  // A second partner, with a search spelled like one of shop-b's: partners are never merged.
  const std::string other_dir = dir_.Sub("partner-c");
  SiteConfig config;
  config.role = SiteRole::kPartner;
  config.id = "shop-c";
  config.name = "Shop C";
  ASSERT_THAT(CreateSiteDir(env_, other_dir, config), IsOk());
  auto other_db = OpenSqlite(SitePaths(other_dir).database());
  ASSERT_THAT(other_db, IsOk());
  auto other_signer = LoadLedgerSigner(env_, other_dir);
  ASSERT_THAT(other_signer, IsOk());
  auto other_log = ledger::Log::Open(env_, SitePaths(other_dir).ledger());
  ASSERT_THAT(other_log, IsOk());
  ASSERT_TRUE((*other_log)
                  ->Append({SearchAt(3, 0, "Green tea", 0), SearchAt(4, 0, "yuzu", 0),
                            SearchAt(4, 1, "yuzu", 0)})
                  .ok());
  auto verifier = ledger::NoteVerifier::Create(other_signer->name(), other_signer->public_key());
  ASSERT_THAT(verifier, IsOk());
  ledger::Log& other = **other_log;
  ledger::NoteSigner& other_key = *other_signer;
  auto other_shipper = LedgerShipper::Open(
      env_, **other_db, other, *verifier, [&] { return other.SignCheckpoint(other_key); }, nullptr);
  ASSERT_THAT(other_shipper, IsOk());
  auto other_pushed = (*other_shipper)->Push(ToMain(-1, "shop-c"));
  ASSERT_TRUE(other_pushed.ok()) << other_pushed.status().ToString();
  ASSERT_TRUE(other_pushed->caught_up);

  auto describe = [](const std::vector<ZeroResultQuery>& list) {
    std::vector<std::string> out;
    for (const ZeroResultQuery& q : list) {
      out.push_back(q.partner + " " + q.query + " " + std::to_string(q.searches));
    }
    return out;
  };
  auto expect_all = [&](const char* when) {
    auto all = collector_->ZeroResultQueries("", Nov2026Micros(1), 20);
    ASSERT_THAT(all, IsOk());
    EXPECT_THAT(describe(*all),
                ::testing::ElementsAre("shop-b green tea 3", "shop-b hojicha 2", "shop-b oolong 1",
                                       "shop-b kombucha 1", "shop-c yuzu 2", "shop-c Green tea 1"))
        << when;
    ASSERT_EQ(all->size(), 6u);
    EXPECT_EQ((*all)[0].last_micros, Nov2026Micros(5));
    EXPECT_EQ((*all)[1].last_micros, Nov2026Micros(8));
    EXPECT_EQ((*all)[4].last_micros, Nov2026Micros(4) + 1);

    auto summaries = collector_->SearchSummaries("", Nov2026Micros(1));
    ASSERT_THAT(summaries, IsOk());
    ASSERT_EQ(summaries->size(), 2u) << when;
    const SearchSummary& b = (*summaries)[0];
    EXPECT_EQ(b.partner, kPartner);
    EXPECT_EQ(b.searches, 8);
    EXPECT_EQ(b.zero_result, 7);
    EXPECT_EQ(b.tieup_clicks, 1);
    EXPECT_EQ(b.original_clicks, 1);
    const SearchSummary& c = (*summaries)[1];
    EXPECT_EQ(c.partner, "shop-c");
    EXPECT_EQ(c.searches, 3);
    EXPECT_EQ(c.zero_result, 3);
    EXPECT_EQ(c.tieup_clicks + c.original_clicks, 0);
  };
  expect_all("after the pushes");

  // Since the 2nd: kombucha (the 1st) goes.
  auto since = collector_->ZeroResultQueries("", Nov2026Micros(2), 20);
  ASSERT_THAT(since, IsOk());
  EXPECT_THAT(describe(*since),
              ::testing::ElementsAre("shop-b green tea 3", "shop-b hojicha 2", "shop-b oolong 1",
                                     "shop-c yuzu 2", "shop-c Green tea 1"));
  // Since the 5th: "green tea" counts once (the 5th), hojicha twice.
  since = collector_->ZeroResultQueries(kPartner, Nov2026Micros(5), 20);
  ASSERT_THAT(since, IsOk());
  EXPECT_THAT(describe(*since), ::testing::ElementsAre("shop-b hojicha 2", "shop-b green tea 1"));
  auto summary = collector_->SearchSummaries(kPartner, Nov2026Micros(7));
  ASSERT_THAT(summary, IsOk());
  ASSERT_EQ(summary->size(), 1u);
  EXPECT_EQ((*summary)[0].searches, 2);
  EXPECT_EQ((*summary)[0].tieup_clicks, 0);
  EXPECT_THAT(collector_->SearchSummaries("", Nov2026Micros(9)), IsOk());
  EXPECT_TRUE(collector_->SearchSummaries("", Nov2026Micros(9))->empty());

  // One partner; at most `limit` per partner.
  auto only_c = collector_->ZeroResultQueries("shop-c", 0, 20);
  ASSERT_THAT(only_c, IsOk());
  EXPECT_THAT(describe(*only_c), ::testing::ElementsAre("shop-c yuzu 2", "shop-c Green tea 1"));
  auto top = collector_->ZeroResultQueries("", 0, 1);
  ASSERT_THAT(top, IsOk());
  EXPECT_THAT(describe(*top), ::testing::ElementsAre("shop-b green tea 3", "shop-c yuzu 2"));
  EXPECT_TRUE(collector_->ZeroResultQueries("shop-d", 0, 20)->empty());

  // Nothing new: a push adds nothing. Entries indexed again (a site upgraded to the table, or a
  // crash before the index was noted) are not counted twice.
  ASSERT_TRUE(shipper_->Push(ToMain()).ok());
  ASSERT_THAT(main_db_->Exec("DELETE FROM ledger_searches WHERE query = 'hojicha'"), IsOk());
  ASSERT_THAT(main_db_->Exec("UPDATE ledger_mirrors SET orders_indexed = 0"), IsOk());
  auto c = LedgerCollector::Open(env_, main_dir_, *main_db_, nullptr);
  ASSERT_TRUE(c.ok());
  collector_ = std::move(*c);
  expect_all("after the backfill");
}

}  // namespace
}  // namespace tieup
