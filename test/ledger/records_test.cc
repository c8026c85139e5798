#include "ledger/records.h"

#include <gtest/gtest.h>

#include "test_support.h"

namespace tieup::ledger {
namespace {

using ::testing::HasSubstr;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;

AccessRecord SampleAccess() {
  AccessRecord r;
  r.time_micros = 1790000000123456;
  r.area = RecordArea::kOriginal;
  r.method = "GET";
  r.path = "/shop/items/42";
  r.status = 200;
  r.bytes = 5120;
  r.referer = "https://example.com/";
  r.user_agent = "Mozilla/5.0 \"quoted\" \\ caf\xC3\xA9";
  r.user_id = "u-17";
  r.session_id = "s-hash-9";
  return r;
}

OrderRecord SampleOrder() {
  OrderRecord r;
  r.time_micros = 1790000000000000;
  r.order_id = "o-123";
  r.partner = "shop-b";
  r.area = RecordArea::kTieup;
  r.amount_minor = 129900;
  r.currency = "JPY";
  r.items = 3;
  return r;
}

TEST(RecordsTest, AccessRecordCanonicalFormAndRoundTrip) {
  AccessRecord r = SampleAccess();
  std::string e = EncodeRecord(r);
  EXPECT_EQ(e,
            "{\"area\":\"original\",\"bytes\":5120,\"method\":\"GET\",\"path\":\"/shop/items/42\","
            "\"referer\":\"https://example.com/\",\"session_id\":\"s-hash-9\",\"status\":200,"
            "\"time_micros\":1790000000123456,\"type\":\"access\",\"user_agent\":\"Mozilla/5.0 "
            "\\\"quoted\\\" \\\\ caf\xC3\xA9\",\"user_id\":\"u-17\",\"v\":1}");
  auto parsed = ParseRecord(e);
  ASSERT_THAT(parsed, IsOk());
  ASSERT_TRUE(std::holds_alternative<AccessRecord>(*parsed));
  EXPECT_EQ(std::get<AccessRecord>(*parsed), r);

  // Control characters survive the round trip (escaped in the JSON).
  r.path =
      "/a\nb\x01"
      "c\td\x1f"
      "\b\f\r\"\\";
  std::string escaped = EncodeRecord(r);
  EXPECT_NE(escaped.find(R"("path":"/a\nb\u0001c\td\u001f\b\f\r\"\\")"), std::string::npos)
      << escaped;
  auto parsed_escaped = ParseRecord(escaped);
  ASSERT_THAT(parsed_escaped, IsOk());
  EXPECT_EQ(std::get<AccessRecord>(*parsed_escaped).path, r.path);

  r.remote = "192.0.2.7";
  auto with_remote = ParseRecord(EncodeRecord(r));
  ASSERT_THAT(with_remote, IsOk());
  EXPECT_EQ(std::get<AccessRecord>(*with_remote), r);
}

TEST(RecordsTest, OrderAndRegistrationRoundTrip) {
  OrderRecord o = SampleOrder();
  auto parsed = ParseRecord(EncodeRecord(o));
  ASSERT_THAT(parsed, IsOk());
  EXPECT_EQ(std::get<OrderRecord>(*parsed), o);
  o.amount_minor = -500;  // a refund
  EXPECT_EQ(std::get<OrderRecord>(*ParseRecord(EncodeRecord(o))), o);

  RegistrationRecord reg{1790000000000000, "shop-b", "u-99", RecordArea::kOriginal};
  auto parsed_reg = ParseRecord(EncodeRecord(LedgerRecord(reg)));
  ASSERT_THAT(parsed_reg, IsOk());
  EXPECT_EQ(std::get<RegistrationRecord>(*parsed_reg), reg);
}

TEST(RecordsTest, InvalidUtf8IsReplacedSoEveryRecordCanBeWritten) {
  AccessRecord r = SampleAccess();
  r.user_agent = "bad \xFF\xC3 bytes";
  auto parsed = ParseRecord(EncodeRecord(r));
  ASSERT_THAT(parsed, IsOk());
  EXPECT_EQ(std::get<AccessRecord>(*parsed).user_agent, "bad \xEF\xBF\xBD\xEF\xBF\xBD bytes");
}

TEST(RecordsTest, UnknownVersionsAndTypesAreRefusedClearly) {
  std::string e = EncodeRecord(SampleAccess());
  std::string v2 = e;
  v2.replace(v2.find("\"v\":1"), 5, "\"v\":2");
  EXPECT_THAT(ParseRecord(v2),
              StatusIs(StatusCode::kUnimplemented, HasSubstr("access record version 2")));
  std::string order = EncodeRecord(SampleOrder());
  order.replace(order.find("\"v\":1"), 5, "\"v\":7");
  EXPECT_THAT(ParseRecord(order), StatusIs(StatusCode::kUnimplemented, HasSubstr("version 7")));
  EXPECT_THAT(ParseRecord("{\"type\":\"refund\",\"v\":1}"),
              StatusIs(StatusCode::kUnimplemented, HasSubstr("\"refund\"")));
}

TEST(RecordsTest, MalformedRecordsAreRefused) {
  std::string e = EncodeRecord(SampleAccess());
  auto replace = [&](std::string_view from, std::string_view to) {
    std::string s = e;
    size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    s.replace(at, from.size(), to);
    return s;
  };
  struct Case {
    std::string name;
    std::string entry;
    std::string message;
  };
  std::vector<Case> cases = {
      {"not JSON", "not json", "not valid JSON"},
      {"array", "[1,2]", "not a JSON object"},
      {"no type", "{\"v\":1}", "\"type\""},
      {"no version", "{\"type\":\"access\"}", "version"},
      {"string version", replace("\"v\":1", "\"v\":\"1\""), "version"},
      {"unknown field", replace("\"v\":1", "\"v\":1,\"zz\":0"), "unknown field \"zz\""},
      {"missing field", replace("\"bytes\":5120,", ""), "\"bytes\" is missing"},
      {"wrong area", replace("\"original\"", "\"elsewhere\""), "\"tieup\" or \"original\""},
      {"status out of range", replace("\"status\":200", "\"status\":1000"), "\"status\""},
      {"negative bytes", replace("\"bytes\":5120", "\"bytes\":-1"), "\"bytes\""},
      {"string status", replace("\"status\":200", "\"status\":\"200\""), "\"status\""},
      {"negative time", replace("1790000000123456", "-1"), "\"time_micros\""},
      {"whitespace", replace("\"bytes\":5120", "\"bytes\": 5120"), "canonical"},
      {"unsorted keys", "{\"bytes\":5120," + replace("\"bytes\":5120,", "").substr(1), "canonical"},
      {"other escape", replace("GET", "G\\u0045T"), "canonical"},
      {"duplicate key", replace("\"v\":1", "\"v\":1,\"v\":1"), ""},
  };
  std::string o = EncodeRecord(SampleOrder());
  std::string bad_currency = o;
  bad_currency.replace(bad_currency.find("JPY"), 3, "jpy");
  cases.push_back({"lower-case currency", bad_currency, "currency"});
  std::string no_order_id = o;
  no_order_id.replace(no_order_id.find("o-123"), 5, "");
  cases.push_back({"empty order id", no_order_id, "order_id"});
  for (const Case& c : cases) {
    auto r = ParseRecord(c.entry);
    EXPECT_FALSE(r.ok()) << c.name;
    if (!r.ok()) {
      EXPECT_THAT(r.status().message(), HasSubstr(c.message)) << c.name;
    }
  }
}

}  // namespace
}  // namespace tieup::ledger
