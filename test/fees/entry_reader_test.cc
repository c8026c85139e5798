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
      ASSERT_TRUE(ReadAccessFast(ledger::EncodeRecord(r), e));
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
  ASSERT_TRUE(ReadAccessFast(ledger::EncodeRecord(extremes), e));
  EXPECT_EQ(e.time_micros, INT64_MAX);
  EXPECT_EQ(e.bytes, UINT64_MAX);
}

TEST(EntryReaderTest, EscapesAndNonAsciiGoToTheStrictParser) {
  ledger::AccessRecord r = Access(ledger::RecordArea::kOriginal, 200, 5);
  r.user_agent = "caf\xC3\xA9 \"quoted\"";
  std::string entry = ledger::EncodeRecord(r);
  FeeEntry fast;
  EXPECT_FALSE(ReadAccessFast(entry, fast));
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

  ledger::AdRecord a{9, ledger::AdOwner::kPartner, 12, "/"};
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

// The fast path must never accept what the strict parser refuses, nor read other fields: every
// single-byte change, deletion and insertion of a few access records is checked against
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
  const std::string replacements = std::string("\x00\x1f \"\\0159a{}:,-\x7f\x80\xC3", 17);
  size_t fast_accepted = 0, mutations = 0;
  auto check = [&](const std::string& entry) {
    ++mutations;
    FeeEntry fast;
    bool accepted = ReadAccessFast(entry, fast);
    auto strict = ledger::ParseRecord(entry);
    if (accepted) {
      ++fast_accepted;
      ASSERT_TRUE(strict.ok()) << "fast path accepted what ParseRecord refuses: " << entry;
      const auto* a = std::get_if<ledger::AccessRecord>(&*strict);
      ASSERT_NE(a, nullptr) << entry;
      EXPECT_EQ(fast.area, a->area) << entry;
      EXPECT_EQ(fast.status, a->status) << entry;
      EXPECT_EQ(fast.time_micros, a->time_micros) << entry;
      EXPECT_EQ(fast.bytes, a->bytes) << entry;
    } else if (strict.ok() && std::holds_alternative<ledger::AccessRecord>(*strict)) {
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
  EXPECT_GT(fast_accepted, 100u) << "of " << mutations;
}

}  // namespace
}  // namespace tieup::fees
