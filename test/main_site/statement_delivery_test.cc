// Fee statements delivered from main to the partner they are for, in process: main's sync
// endpoints (the peer's id as mutual TLS would give it) and the partner's fetch over them; every
// refusal leaves nothing stored. test/integration/statements_test.cc runs the same between real
// daemons.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <boost/json.hpp>

#include "base/encoding.h"
#include "crypto/hash.h"
#include "fees/statement.h"
#include "ledger/records.h"
#include "ledger/verifier.h"
#include "main_site/ledger_service.h"
#include "partner_site/ledger_service.h"
#include "site/config.h"
#include "site/public_site.h"
#include "test_database.h"
#include "test_support.h"

namespace tieup {
namespace {

namespace json = boost::json;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;

constexpr char kPartner[] = "shop-b";

constexpr char kContract[] = R"(partner = "shop-b"
kind = "template"
currency = "JPY"
base_fee = 30000
[access_discount]
max_percent = 30
at_original_share_percent = 50
)";

int64_t Nov2026Micros(int day) { return DaysFromCivil(2026, 11, day) * 86'400'000'000; }

std::string Access(uint64_t i) {
  ledger::AccessRecord r;
  r.time_micros = Nov2026Micros(1 + static_cast<int>(i % 28)) + static_cast<int64_t>(i);
  r.area = i % 3 == 0 ? ledger::RecordArea::kOriginal : ledger::RecordArea::kTieup;
  r.method = "GET";
  r.path = "/page-" + std::to_string(i % 17) + ".html";
  r.status = 200;
  r.bytes = 1000 + i;
  return ledger::EncodeRecord(r);
}

// Permission bits of `path`.
uint32_t Mode(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 0777;
}

class StatementDeliveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    main_dir_ = dir_.Sub("main");
    partner_dir_ = dir_.Sub("partner");
    ASSERT_THAT(CreateDirs(env_, main_dir_), IsOk());
    auto mdb = ::tieup::testing::OpenTestDatabase(main_dir_ + "/tieup.db");
    ASSERT_THAT(mdb, IsOk());
    main_db_ = std::move(*mdb);
    auto c = LedgerCollector::Open(env_, main_dir_, *main_db_, nullptr);
    ASSERT_THAT(c, IsOk());
    collector_ = std::move(*c);

    SiteConfig config;
    config.role = SiteRole::kPartner;
    config.id = kPartner;
    config.name = "Shop B";
    ASSERT_THAT(CreateSiteDir(env_, partner_dir_, config), IsOk());
    auto pdb = OpenSqlite(SitePaths(partner_dir_).database());
    ASSERT_THAT(pdb, IsOk());
    partner_db_ = std::move(*pdb);
    auto signer = LoadLedgerSigner(env_, partner_dir_);
    ASSERT_THAT(signer, IsOk());
    signer_ = std::make_unique<ledger::NoteSigner>(std::move(*signer));
    auto log = ledger::Log::Open(env_, SitePaths(partner_dir_).ledger());
    ASSERT_THAT(log, IsOk());
    log_ = std::move(*log);
    auto verifier = ledger::NoteVerifier::Create(signer_->name(), signer_->public_key());
    ASSERT_THAT(verifier, IsOk());
    auto s = LedgerShipper::Open(
        env_, *partner_db_, *log_, *verifier, [this] { return log_->SignCheckpoint(*signer_); },
        nullptr);
    ASSERT_THAT(s, IsOk());
    shipper_ = std::move(*s);
    contract_ = main_dir_ + "/contracts/shop-b.toml";
    ASSERT_THAT(CreateDirs(env_, main_dir_ + "/contracts"), IsOk());
    ASSERT_THAT(WriteFileAtomic(env_, contract_, kContract), IsOk());
  }

  // A round trip to main's sync port as `peer` (the id mutual TLS proves).
  sync::HttpRoundTrip ToMain(std::string peer = kPartner) {
    return [this, peer](const HttpRequest& r) -> Result<HttpResponse> {
      HttpRequest copy = r;
      copy.SetPeerSiteIdForTest(peer);
      return collector_->HandleSyncRequest(copy);
    };
  }

  // As ToMain, with each answer passed through `alter` (a main, or a network, that damages
  // what it sends).
  sync::HttpRoundTrip Altered(std::function<void(const HttpRequest&, HttpResponse&)> alter) {
    return [this, alter](const HttpRequest& r) -> Result<HttpResponse> {
      ASSIGN_OR_RETURN(HttpResponse answer, ToMain()(r));
      alter(r, answer);
      return answer;
    };
  }

  HttpResponse Get(const std::string& target, const std::string& peer = kPartner) {
    HttpRequest r("GET", target);
    r.SetPeerSiteIdForTest(peer);
    return collector_->HandleSyncRequest(r);
  }

  // The partner ships `n` more accesses of November 2026; main writes its statement.
  StatementFiles ShipAndWrite(uint64_t n) {
    const uint64_t from = log_->size();
    std::vector<std::string> entries;
    for (uint64_t i = from; i < from + n; ++i) entries.push_back(Access(i));
    EXPECT_THAT(log_->Append(entries), IsOk());
    auto pushed = shipper_->Push(ToMain());
    EXPECT_THAT(pushed, IsOk());
    auto f = collector_->WriteStatement(kPartner, "2026-11", contract_);
    EXPECT_THAT(f, IsOk());
    return f.ok() ? *f : StatementFiles{};
  }

  Result<StatementFetchSummary> Fetch(const sync::HttpRoundTrip& main,
                                      StatementFetchOptions options = {}) {
    return FetchStatements(env_, partner_dir_, main, *NewNullLogger(), options);
  }

  // Every entry of the partner's statements folder (staging folders included).
  std::vector<std::string> StoredNames() {
    std::vector<std::string> names;
    auto list = env_.ListDir(partner_dir_ + "/statements");
    if (list.ok()) {
      for (const FileInfo& f : *list) names.push_back(f.name);
    }
    return names;
  }

  ::tieup::testing::TempDir dir_;
  ::tieup::testing::FakeClockEnv env_;
  std::string main_dir_, partner_dir_, contract_;
  std::unique_ptr<Database> main_db_, partner_db_;
  std::unique_ptr<LedgerCollector> collector_;
  std::unique_ptr<ledger::NoteSigner> signer_;
  std::unique_ptr<ledger::Log> log_;
  std::unique_ptr<LedgerShipper> shipper_;
};

TEST_F(StatementDeliveryTest, TheStatementArrivesWithItsContractOwnerOnlyAndAgrees) {
  const StatementFiles f = ShipAndWrite(300);
  // Main kept the exact contract bytes beside the statement.
  auto kept = env_.ReadFile(f.contract_path);
  ASSERT_THAT(kept, IsOk());
  EXPECT_EQ(*kept, kContract);

  auto fetched = Fetch(ToMain());
  ASSERT_THAT(fetched, IsOk());
  EXPECT_EQ(fetched->offered, 1u);
  EXPECT_EQ(fetched->received, 1u);
  EXPECT_THAT(fetched->refused, IsEmpty());

  auto list = ListReceivedStatements(env_, partner_dir_);
  ASSERT_THAT(list, IsOk());
  ASSERT_THAT(*list, SizeIs(1));
  const ReceivedStatement& r = (*list)[0];
  auto csv = env_.ReadFile(f.csv_path);
  ASSERT_THAT(csv, IsOk());
  EXPECT_EQ(r.period, "2026-11");
  EXPECT_EQ(r.id, "2026-11_" + Sha256Hex(*csv).substr(0, 12));
  EXPECT_EQ(r.total_minor, f.total_minor);
  EXPECT_EQ(r.currency, "JPY");
  EXPECT_EQ(r.received, env_.NowSeconds());
  EXPECT_FALSE(r.changed);
  EXPECT_EQ(*env_.ReadFile(r.csv_path), *csv);
  EXPECT_EQ(*env_.ReadFile(r.contract_path), kContract);
  EXPECT_EQ(Mode(partner_dir_ + "/statements"), 0700u);
  EXPECT_EQ(Mode(partner_dir_ + "/statements/" + r.id), 0700u);
  EXPECT_EQ(Mode(r.csv_path), 0600u);
  EXPECT_EQ(Mode(r.contract_path), 0600u);

  auto report = VerifyReceivedStatement(env_, partner_dir_, r.id);
  ASSERT_THAT(report, IsOk());
  EXPECT_TRUE(report->agrees) << report->ToText();

  // Fetching again changes nothing.
  env_.AdvanceSeconds(60);
  fetched = Fetch(ToMain());
  ASSERT_THAT(fetched, IsOk());
  EXPECT_EQ(fetched->received, 0u);
  EXPECT_EQ(fetched->held, 1u);
  EXPECT_THAT(StoredNames(), ElementsAre(r.id));
  EXPECT_EQ(ListReceivedStatements(env_, partner_dir_)->at(0).received, r.received);
}

TEST_F(StatementDeliveryTest, AStatementWrittenAgainForThePeriodIsANewOneBesideTheOld) {
  ShipAndWrite(100);
  ASSERT_THAT(Fetch(ToMain()), IsOk());
  env_.AdvanceSeconds(3600);
  const StatementFiles again = ShipAndWrite(50);  // more entries reached main since
  auto fetched = Fetch(ToMain());
  ASSERT_THAT(fetched, IsOk());
  EXPECT_EQ(fetched->offered, 1u);  // main offers its latest for the period
  EXPECT_EQ(fetched->received, 1u);
  auto list = ListReceivedStatements(env_, partner_dir_);
  ASSERT_THAT(list, IsOk());
  ASSERT_THAT(*list, SizeIs(2));
  EXPECT_EQ((*list)[0].total_minor, again.total_minor);  // the latest received first
  EXPECT_GT((*list)[0].received, (*list)[1].received);
  for (const ReceivedStatement& r : *list) {
    auto report = VerifyReceivedStatement(env_, partner_dir_, r.id);
    ASSERT_THAT(report, IsOk());
    EXPECT_TRUE(report->agrees) << r.id << ": " << report->ToText();
  }
}

TEST_F(StatementDeliveryTest, MainAnswersOnlyThePartnersOwnStatements) {
  ShipAndWrite(100);
  // shop-b sees its statement...
  HttpResponse own = Get("/v1/ledger/statement?period=2026-11");
  ASSERT_EQ(own.status(), 200) << own.body();
  EXPECT_THAT(std::string(own.body()), HasSubstr("\"csv\""));
  EXPECT_THAT(std::string(Get("/v1/ledger/statements").body()), HasSubstr("2026-11"));
  // ...another partner never does, neither listed nor asked for by its period.
  HttpResponse other = Get("/v1/ledger/statement?period=2026-11", "shop-c");
  EXPECT_EQ(other.status(), 404);
  EXPECT_THAT(std::string(other.body()), Not(HasSubstr("csv")));
  EXPECT_THAT(std::string(other.body()), HasSubstr("shop-c"));
  EXPECT_EQ(json::parse(Get("/v1/ledger/statements", "shop-c").body()).at("statements"),
            json::array());
  auto fetched = Fetch(ToMain("shop-c"));
  ASSERT_THAT(fetched, IsOk());
  EXPECT_EQ(fetched->offered, 0u);
  EXPECT_THAT(StoredNames(), IsEmpty());
  // Without a partner's certificate: nobody's.
  EXPECT_EQ(Get("/v1/ledger/statements", "").status(), 401);
  EXPECT_EQ(Get("/v1/ledger/statement?period=2026-11", "main").status(), 401);
}

TEST_F(StatementDeliveryTest, AnUnknownOrMalformedPeriodIsRefused) {
  ShipAndWrite(100);
  HttpResponse unknown = Get("/v1/ledger/statement?period=2026-10");
  EXPECT_EQ(unknown.status(), 404);
  EXPECT_THAT(std::string(unknown.body()), HasSubstr("no fee statement"));
  EXPECT_EQ(Get("/v1/ledger/statement?period=2026-13").status(), 400);
  EXPECT_EQ(Get("/v1/ledger/statement?period=../../keys").status(), 400);
  EXPECT_EQ(Get("/v1/ledger/statement").status(), 400);
  EXPECT_THAT(collector_->ReadStatement(kPartner, "2026-10"),
              StatusIs(StatusCode::kNotFound, HasSubstr("2026-10")));

  // Main lists a period it then cannot find (its index and files went apart): refused.
  auto fetched = Fetch(Altered([](const HttpRequest& r, HttpResponse& a) {
    if (r.path() == "/v1/ledger/statements") {
      std::string body(a.body());
      body.replace(body.find("2026-11"), 7, "2026-10");
      a.SetBody(body);
    }
  }));
  ASSERT_THAT(fetched, IsOk());
  EXPECT_EQ(fetched->received, 0u);
  ASSERT_THAT(fetched->refused, SizeIs(1));
  EXPECT_THAT(fetched->refused[0], HasSubstr("2026-10"));
  EXPECT_THAT(StoredNames(), IsEmpty());
}

TEST_F(StatementDeliveryTest, ADamagedStatementIsRefusedAndNothingIsStored) {
  ShipAndWrite(200);
  // One digit of a daily count changed on the way.
  auto flip = [](std::string& csv) {
    const size_t at = csv.find(";original=") - 1;
    csv[at] = csv[at] == '9' ? '8' : static_cast<char>(csv[at] + 1);
  };
  auto fetched = Fetch(Altered([&](const HttpRequest& r, HttpResponse& a) {
    if (r.path() != "/v1/ledger/statement") return;
    json::object o = json::parse(a.body()).as_object();
    std::string csv(o["csv"].as_string());
    flip(csv);
    o["csv"] = csv;
    a.SetBody(json::serialize(o));
  }));
  ASSERT_THAT(fetched, IsOk());
  ASSERT_THAT(fetched->refused, SizeIs(1));
  EXPECT_THAT(fetched->refused[0], HasSubstr("SHA-256"));
  EXPECT_THAT(StoredNames(), IsEmpty());

  // Damaged at main before it was listed (so its SHA-256 matches the list): the statement's
  // own digest gives it away.
  fetched = Fetch(Altered([&](const HttpRequest& r, HttpResponse& a) {
    json::object o = json::parse(a.body()).as_object();
    if (r.path() == "/v1/ledger/statement") {
      std::string csv(o["csv"].as_string());
      flip(csv);
      o["csv"] = csv;
      o["sha256"] = Sha256Hex(csv);
    } else {
      auto csv =
          json::parse(ToMain()(HttpRequest("GET", "/v1/ledger/statement?period=2026-11"))->body())
              .as_object()["csv"]
              .as_string();
      std::string damaged(csv);
      flip(damaged);
      o["statements"].as_array()[0].as_object()["sha256"] = Sha256Hex(damaged);
    }
    a.SetBody(json::serialize(o));
  }));
  ASSERT_THAT(fetched, IsOk());
  ASSERT_THAT(fetched->refused, SizeIs(1));
  EXPECT_THAT(fetched->refused[0], HasSubstr("damaged"));
  EXPECT_THAT(StoredNames(), IsEmpty());

  // Not JSON at all.
  fetched = Fetch(Altered([](const HttpRequest& r, HttpResponse& a) {
    if (r.path() == "/v1/ledger/statement") a.SetBody(std::string(a.body()).substr(0, 100));
  }));
  ASSERT_THAT(fetched, IsOk());
  ASSERT_THAT(fetched->refused, SizeIs(1));
  EXPECT_THAT(fetched->refused[0], HasSubstr("JSON"));
  EXPECT_THAT(StoredNames(), IsEmpty());

  // The next fetch, undamaged, stores it.
  fetched = Fetch(ToMain());
  ASSERT_THAT(fetched, IsOk());
  EXPECT_EQ(fetched->received, 1u);
}

TEST_F(StatementDeliveryTest, AnOversizedAnswerIsRefused) {
  ShipAndWrite(100);
  StatementFetchOptions small;
  small.max_answer_bytes = 1000;
  auto fetched = Fetch(ToMain(), small);
  ASSERT_THAT(fetched, IsOk());
  ASSERT_THAT(fetched->refused, SizeIs(1));
  EXPECT_THAT(fetched->refused[0], HasSubstr("more than the 1000"));
  EXPECT_THAT(StoredNames(), IsEmpty());

  small = {};
  small.max_list_bytes = 10;
  EXPECT_THAT(Fetch(ToMain(), small), StatusIs(StatusCode::kResourceExhausted));
  EXPECT_THAT(StoredNames(), IsEmpty());
}

TEST_F(StatementDeliveryTest, AStatementForAnotherPeriodOrWithAnotherContractIsRefused) {
  ShipAndWrite(100);
  // Main lists October and answers it with November's statement.
  auto fetched = Fetch([this](const HttpRequest& r) -> Result<HttpResponse> {
    if (r.path() == "/v1/ledger/statements") {
      ASSIGN_OR_RETURN(HttpResponse a, ToMain()(r));
      std::string body(a.body());
      body.replace(body.find("2026-11"), 7, "2026-10");
      a.SetBody(body);
      return a;
    }
    return ToMain()(HttpRequest("GET", "/v1/ledger/statement?period=2026-11"));
  });
  ASSERT_THAT(fetched, IsOk());
  ASSERT_THAT(fetched->refused, SizeIs(1));
  EXPECT_THAT(fetched->refused[0], HasSubstr("not the 2026-10 asked for"));

  // Another contract than the one the statement names.
  fetched = Fetch(Altered([](const HttpRequest& r, HttpResponse& a) {
    if (r.path() != "/v1/ledger/statement") return;
    json::object o = json::parse(a.body()).as_object();
    std::string contract(o["contract"].as_string());
    contract.replace(contract.find("30000"), 5, "90000");
    o["contract"] = contract;
    a.SetBody(json::serialize(o));
  }));
  ASSERT_THAT(fetched, IsOk());
  ASSERT_THAT(fetched->refused, SizeIs(1));
  EXPECT_THAT(fetched->refused[0], HasSubstr("not the one the statement was computed with"));
  EXPECT_THAT(StoredNames(), IsEmpty());
}

TEST_F(StatementDeliveryTest, MainDoesNotDeliverAStatementChangedSinceItWasWritten) {
  const StatementFiles f = ShipAndWrite(100);
  std::string csv = *env_.ReadFile(f.csv_path);
  csv.back() = ' ';
  ASSERT_THAT(WriteFileAtomic(env_, f.csv_path, csv), IsOk());
  EXPECT_THAT(collector_->ReadStatement(kPartner, "2026-11"),
              StatusIs(StatusCode::kDataLoss, HasSubstr("changed since it was written")));
  auto fetched = Fetch(ToMain());
  ASSERT_THAT(fetched, IsOk());
  ASSERT_THAT(fetched->refused, SizeIs(1));
  EXPECT_THAT(StoredNames(), IsEmpty());
}

TEST_F(StatementDeliveryTest, AStatementEditedOnThePartnersDiskNoLongerAgrees) {
  ShipAndWrite(300);
  ASSERT_THAT(Fetch(ToMain()), IsOk());
  ReceivedStatement r = ListReceivedStatements(env_, partner_dir_)->at(0);
  std::string csv = *env_.ReadFile(r.csv_path);
  const size_t at = csv.find(";original=") - 1;
  csv[at] = csv[at] == '9' ? '8' : static_cast<char>(csv[at] + 1);
  ASSERT_THAT(WriteFileAtomic(env_, r.csv_path, csv), IsOk());

  r = ListReceivedStatements(env_, partner_dir_)->at(0);
  EXPECT_TRUE(r.changed);
  auto report = VerifyReceivedStatement(env_, partner_dir_, r.id);
  ASSERT_THAT(report, IsOk());
  EXPECT_FALSE(report->agrees);
  std::vector<std::string> what;
  for (const fees::Difference& d : report->differences) what.push_back(d.what);
  EXPECT_THAT(what, Contains(HasSubstr("input tieup")));
  EXPECT_THAT(what, Contains("digest statement_sha256"));
  // Only a statement's own id names a folder.
  EXPECT_THAT(VerifyReceivedStatement(env_, partner_dir_, "../main"),
              StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(VerifyReceivedStatement(env_, partner_dir_, "2026-10_" + r.id.substr(8)),
              StatusIs(StatusCode::kNotFound));
}

TEST_F(StatementDeliveryTest, PushesAreRecordedAndResolvedAlertsAreNoLongerOpen) {
  ASSERT_THAT(LastLedgerPush(*partner_db_), IsOk());
  EXPECT_FALSE(LastLedgerPush(*partner_db_)->has_value());
  // An unrecorded gap: main raises an alert on an accepted batch (nothing excluded).
  ledger::UnrecordedRecord gap;
  gap.count = 7;
  gap.first_micros = Nov2026Micros(3);
  gap.last_micros = Nov2026Micros(3) + 1000;
  gap.reason = "no space left on device";
  ASSERT_THAT(log_->Append({Access(0), ledger::EncodeRecord(gap)}), IsOk());
  auto pushed = shipper_->Push(ToMain());
  ASSERT_THAT(pushed, IsOk());
  auto last = LastLedgerPush(*partner_db_);
  ASSERT_THAT(last, IsOk());
  ASSERT_TRUE(last->has_value());
  EXPECT_TRUE((*last)->ok);
  EXPECT_EQ((*last)->main_entries, 2u);
  EXPECT_EQ((*last)->time_micros, env_.NowMicros());
  auto open = PartnerLedgerAlerts(*partner_db_, false);
  ASSERT_THAT(open, IsOk());
  ASSERT_THAT(*open, SizeIs(1));
  EXPECT_EQ((*open)[0].kind, "unrecorded");

  // Main's manager resolves it; the next push learns so.
  auto main_alerts = collector_->Alerts(kPartner, false);
  ASSERT_THAT(*main_alerts, SizeIs(1));
  ASSERT_THAT(collector_->ResolveAlert((*main_alerts)[0].id, "disk replaced"), IsOk());
  env_.AdvanceSeconds(60);
  ASSERT_THAT(shipper_->Push(ToMain()), IsOk());
  EXPECT_THAT(*PartnerLedgerAlerts(*partner_db_, false), IsEmpty());
  auto all = PartnerLedgerAlerts(*partner_db_, true);
  ASSERT_THAT(*all, SizeIs(1));
  EXPECT_TRUE((*all)[0].resolved);

  // A push that cannot reach main is recorded with why.
  env_.AdvanceSeconds(60);
  auto cut = [](const HttpRequest&) -> Result<HttpResponse> {
    return Status::Unavailable("connection to 127.0.0.1:9443 refused");
  };
  EXPECT_THAT(shipper_->Push(cut), StatusIs(StatusCode::kUnavailable));
  last = LastLedgerPush(*partner_db_);
  EXPECT_FALSE((*last)->ok);
  EXPECT_THAT((*last)->error, HasSubstr("refused"));
  EXPECT_EQ((*last)->time_micros, env_.NowMicros());
}

}  // namespace
}  // namespace tieup
