#include "fees/entry_reader.h"

#include <gtest/gtest.h>

#include "test_support.h"

namespace tieup::fees {
namespace {

using ::tieup::testing::IsOk;

ledger::AccessRecord Access(ledger::RecordArea area, int32_t status, int64_t time) {
  ledger::AccessRecord r;
  r.time_micros = time;
  r.area = area;
  r.method = "GET";
  r.path = "/items/42";
  r.status = status;
  r.bytes = 5120;
  r.referer = "https://example.com/a,b";
  r.user_agent = "Mozilla/5.0 (X11; Linux x86_64)";
  r.user_id = "u-17";
  r.session_id = "s-9";
  return r;
}

TEST(EntryReaderTest, FastPathReadsCanonicalAccessRecords) {
  for (auto area : {ledger::RecordArea::kTieup, ledger::RecordArea::kOriginal}) {
    ledger::AccessRecord r = Access(area, 304, 1790000000123456);
    for (bool remote : {false, true}) {
      if (remote) r.remote = "192.0.2.1";
      FeeEntry e;
      ASSERT_TRUE(ReadFast(ledger::EncodeRecord(r), e));
      EXPECT_EQ(e.type, FeeEntry::Type::kAccess);
      EXPECT_EQ(e.area, area);
      EXPECT_EQ(e.status, 304);
      EXPECT_EQ(e.time_micros, 1790000000123456);
      EXPECT_EQ(e.bytes, 5120u);
    }
  }
  ledger::AccessRecord extremes = Access(ledger::RecordArea::kTieup, 0, INT64_MAX);
  extremes.bytes = UINT64_MAX;
  FeeEntry e;
  ASSERT_TRUE(ReadFast(ledger::EncodeRecord(extremes), e));
  EXPECT_EQ(e.time_micros, INT64_MAX);
  EXPECT_EQ(e.bytes, UINT64_MAX);
}

TEST(EntryReaderTest, MainsProbesAreToldApartOnBothPaths) {
  ledger::AccessRecord r = Access(ledger::RecordArea::kTieup, 200, 5);
  FeeEntry visit;
  ASSERT_TRUE(ReadFast(ledger::EncodeRecord(r), visit));
  EXPECT_FALSE(visit.probe);
  r.user_agent = std::string(ledger::kProbeUserAgent);
  FeeEntry probe;
  ASSERT_TRUE(ReadFast(ledger::EncodeRecord(r), probe));
  EXPECT_TRUE(probe.probe);
  // A User-Agent that only begins like the probe's is a visitor.
  r.user_agent += " (not really)";
  ASSERT_TRUE(ReadFast(ledger::EncodeRecord(r), probe));
  EXPECT_FALSE(probe.probe);
  // The strict parser (an entry the fast path leaves to it: a non-ASCII referer) agrees.
  r.user_agent = std::string(ledger::kProbeUserAgent);
  r.referer = "https://example.com/caf\xC3\xA9";
  FeeEntry unused;
  ASSERT_FALSE(ReadFast(ledger::EncodeRecord(r), unused));
  auto strict = ReadFeeEntry(ledger::EncodeRecord(r));
  ASSERT_THAT(strict, IsOk());
  EXPECT_TRUE(strict->probe);
}

TEST(EntryReaderTest, EscapesAndNonAsciiGoToTheStrictParser) {
  ledger::AccessRecord r = Access(ledger::RecordArea::kOriginal, 200, 5);
  r.user_agent = "caf\xC3\xA9 \"quoted\"";
  std::string entry = ledger::EncodeRecord(r);
  FeeEntry fast;
  EXPECT_FALSE(ReadFast(entry, fast));
  auto e = ReadFeeEntry(entry);
  ASSERT_THAT(e, IsOk());
  EXPECT_EQ(e->type, FeeEntry::Type::kAccess);
  EXPECT_EQ(e->area, ledger::RecordArea::kOriginal);
  EXPECT_EQ(e->status, 200);
}

TEST(EntryReaderTest, ReadsOrdersContentAdsAndIgnoresRegistrations) {
  ledger::OrderRecord o{7, "o-1", "shop-b", ledger::RecordArea::kTieup, -250, "EUR", 2};
  auto order = ReadFeeEntry(ledger::EncodeRecord(o));
  ASSERT_THAT(order, IsOk());
  EXPECT_EQ(order->type, FeeEntry::Type::kOrder);
  EXPECT_EQ(order->amount_minor, -250);
  EXPECT_EQ(std::string(order->currency.data(), 3), "EUR");

  ledger::ContentRecord c{8, ledger::RecordArea::kOriginal, 3, 40, 5000};
  auto content = ReadFeeEntry(ledger::EncodeRecord(c));
  ASSERT_THAT(content, IsOk());
  EXPECT_EQ(content->type, FeeEntry::Type::kContent);
  EXPECT_EQ(content->area, ledger::RecordArea::kOriginal);
  EXPECT_EQ(content->version, 3u);
  EXPECT_EQ(content->pages, 40u);
  EXPECT_EQ(content->bytes, 5000u);

  ledger::AdRecord a{9, ledger::AdOwner::kPartner, 12, "/", 0, ""};
  auto ad = ReadFeeEntry(ledger::EncodeRecord(a));
  ASSERT_THAT(ad, IsOk());
  EXPECT_EQ(ad->type, FeeEntry::Type::kAd);
  EXPECT_EQ(ad->owner, ledger::AdOwner::kPartner);
  EXPECT_EQ(ad->impressions, 12u);

  ledger::RegistrationRecord reg{10, "shop-b", "u-1", ledger::RecordArea::kTieup};
  auto unused = ReadFeeEntry(ledger::EncodeRecord(reg));
  ASSERT_THAT(unused, IsOk());
  EXPECT_EQ(unused->type, FeeEntry::Type::kUnused);

  EXPECT_FALSE(ReadFeeEntry("not a record").ok());
  EXPECT_FALSE(ReadFeeEntry("{\"type\":\"refund\",\"v\":1}").ok());
}

// A search on the partner's search page, or a click on a result: read (not an unreadable
// entry) and used by no fee.
TEST(EntryReaderTest, SearchRecordsAreReadAndUsedByNoFee) {
  ledger::SearchRecord search{11, "green tea", 0, "", std::nullopt};
  ledger::SearchRecord click{12, "green tea", 3, "/tea.html", ledger::RecordArea::kOriginal};
  for (const ledger::SearchRecord& r : {search, click}) {
    const std::string entry = ledger::EncodeRecord(r);
    FeeEntry fast;
    EXPECT_FALSE(ReadFast(entry, fast)) << entry;  // only the strict parser reads them
    auto read = ReadFeeEntry(entry);
    ASSERT_THAT(read, IsOk()) << entry;
    EXPECT_EQ(read->type, FeeEntry::Type::kUnused);
    EXPECT_EQ(read->time_micros, r.time_micros);
  }
}

TEST(EntryReaderTest, FastPathReadsEveryRecordTypeLikeTheStrictParser) {
  std::vector<ledger::LedgerRecord> records = {
      ledger::OrderRecord{7, "o-1", "shop-b", ledger::RecordArea::kOriginal, INT64_MIN, "EUR",
                          UINT32_MAX},
      ledger::OrderRecord{7, "o-2", "", ledger::RecordArea::kTieup, INT64_MAX, "JPY", 0},
      ledger::ContentRecord{8, ledger::RecordArea::kTieup, UINT64_MAX, 0, 12},
      ledger::AdRecord{9, ledger::AdOwner::kMain, 0, "", 0, ""},
      ledger::AdRecord{9, ledger::AdOwner::kPartner, 1, "/tea.html", 0, "first-flush"},
      ledger::AdRecord{9, ledger::AdOwner::kMain, 0, "/", UINT64_MAX, "a"},
      ledger::RegistrationRecord{10, "", "u-1", ledger::RecordArea::kOriginal}};
  for (const auto& r : records) {
    std::string entry = ledger::EncodeRecord(r);
    FeeEntry fast;
    ASSERT_TRUE(ReadFast(entry, fast)) << entry;
    EXPECT_NE(fast.type, FeeEntry::Type::kAccess);
  }
  FeeEntry e;
  ASSERT_TRUE(ReadFast(ledger::EncodeRecord(records[0]), e));
  EXPECT_EQ(e.amount_minor, INT64_MIN);
  EXPECT_EQ(e.area, ledger::RecordArea::kOriginal);
  ASSERT_TRUE(ReadFast(ledger::EncodeRecord(records[2]), e));
  EXPECT_EQ(e.version, UINT64_MAX);
  EXPECT_EQ(e.bytes, 12u);
}

// Compares what the fast path read with what ledger::ParseRecord read.
void ExpectSameFields(const FeeEntry& fast, const ledger::LedgerRecord& strict,
                      const std::string& entry) {
  if (const auto* a = std::get_if<ledger::AccessRecord>(&strict)) {
    EXPECT_EQ(fast.type, FeeEntry::Type::kAccess) << entry;
    EXPECT_EQ(fast.area, a->area) << entry;
    EXPECT_EQ(fast.status, a->status) << entry;
    EXPECT_EQ(fast.time_micros, a->time_micros) << entry;
    EXPECT_EQ(fast.bytes, a->bytes) << entry;
  } else if (const auto* o = std::get_if<ledger::OrderRecord>(&strict)) {
    EXPECT_EQ(fast.type, FeeEntry::Type::kOrder) << entry;
    EXPECT_EQ(fast.area, o->area) << entry;
    EXPECT_EQ(fast.amount_minor, o->amount_minor) << entry;
    EXPECT_EQ(std::string(fast.currency.data(), 3), o->currency) << entry;
    EXPECT_EQ(fast.time_micros, o->time_micros) << entry;
  } else if (const auto* c = std::get_if<ledger::ContentRecord>(&strict)) {
    EXPECT_EQ(fast.type, FeeEntry::Type::kContent) << entry;
    EXPECT_EQ(fast.area, c->area) << entry;
    EXPECT_EQ(fast.version, c->version) << entry;
    EXPECT_EQ(fast.pages, c->pages) << entry;
    EXPECT_EQ(fast.bytes, c->bytes) << entry;
    EXPECT_EQ(fast.time_micros, c->time_micros) << entry;
  } else if (const auto* ad = std::get_if<ledger::AdRecord>(&strict)) {
    EXPECT_EQ(fast.type, FeeEntry::Type::kAd) << entry;
    EXPECT_EQ(fast.owner, ad->owner) << entry;
    EXPECT_EQ(fast.impressions, ad->impressions) << entry;
    EXPECT_EQ(fast.time_micros, ad->time_micros) << entry;
  } else {
    EXPECT_EQ(fast.type, FeeEntry::Type::kUnused) << entry;
  }
}

// The fast path must never accept what the strict parser refuses, nor read other fields: every
// single-byte change, deletion and insertion of a sample of each record type is checked against
// ledger::ParseRecord. It must also take every simple ASCII record the strict parser accepts.
TEST(EntryReaderTest, FastPathAgreesWithTheStrictParserUnderEveryByteMutation) {
  std::vector<std::string> samples;
  samples.push_back(
      ledger::EncodeRecord(Access(ledger::RecordArea::kTieup, 200, 1790000000000000)));
  ledger::AccessRecord with_remote = Access(ledger::RecordArea::kOriginal, 404, 0);
  with_remote.remote = "2001:db8::1";
  with_remote.bytes = 0;
  with_remote.user_id = "";
  samples.push_back(ledger::EncodeRecord(with_remote));
  samples.push_back(ledger::EncodeRecord(ledger::OrderRecord{
      1790000000000000, "o-9", "shop-b", ledger::RecordArea::kTieup, -1205, "JPY", 3}));
  samples.push_back(ledger::EncodeRecord(
      ledger::ContentRecord{1790000000000000, ledger::RecordArea::kOriginal, 12, 340, 98765}));
  samples.push_back(ledger::EncodeRecord(
      ledger::AdRecord{1790000000000000, ledger::AdOwner::kPartner, 25, "/news/1", 0, ""}));
  samples.push_back(ledger::EncodeRecord(
      ledger::RegistrationRecord{1790000000000000, "shop-b", "u-5", ledger::RecordArea::kTieup}));
  const std::string replacements = std::string("\x00\x1f \"\\0159a{}:,-AZ\x7f\x80\xC3", 19);
  size_t fast_accepted = 0, mutations = 0;
  auto check = [&](const std::string& entry) {
    ++mutations;
    FeeEntry fast;
    bool accepted = ReadFast(entry, fast);
    auto strict = ledger::ParseRecord(entry);
    if (accepted) {
      ++fast_accepted;
      ASSERT_TRUE(strict.ok()) << "fast path accepted what ParseRecord refuses: " << entry;
      ExpectSameFields(fast, *strict, entry);
    } else if (strict.ok()) {
      bool simple = entry.find('\\') == std::string::npos;
      for (unsigned char ch : entry) simple = simple && ch >= 0x20 && ch < 0x80;
      EXPECT_FALSE(simple) << "fast path refused a simple canonical record: " << entry;
    }
  };
  for (const std::string& sample : samples) {
    check(sample);
    for (size_t i = 0; i < sample.size(); ++i) {
      for (char c : replacements) {
        if (sample[i] == c) continue;
        std::string m = sample;
        m[i] = c;
        check(m);
        std::string ins = sample;
        ins.insert(ins.begin() + static_cast<ptrdiff_t>(i), c);
        check(ins);
      }
      std::string del = sample;
      del.erase(i, 1);
      check(del);
    }
  }
  // Mutations inside string values keep the record valid: the fast path took those.
  EXPECT_GT(fast_accepted, 300u) << "of " << mutations;
}

}  // namespace
}  // namespace tieup::fees
