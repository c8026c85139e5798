// The WAF's event log (guard/waf_events.h) on a real file: each line reads back as written, the
// newest first; lines that are not events (a torn write, a hand edit) are skipped; past its size
// the file rotates to waf.jsonl.1 and reading spans both; the summary counts outcomes, rules and
// clients, with a bounded number of clients.
#include "guard/waf_events.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "base/encoding.h"
#include "base/env.h"
#include "test_support.h"

namespace tieup::guard {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;
using ::tieup::testing::TempDir;

WafEvent Event(const std::string& reference, WafOutcome outcome, std::string client = "192.0.2.7") {
  WafEvent e;
  e.time_micros = 1'790'000'000'000'000;
  e.reference = reference;
  e.outcome = outcome;
  e.client_address = std::move(client);
  e.method = "GET";
  e.host = "shop.example";
  e.path = "/search";
  e.rule_ids = {942100, 949110};
  e.anomaly_score = 5;
  e.message = "SQL Injection Attack Detected via libinjection";
  return e;
}

TEST(WafEventsTest, ALineReadsBackAsWritten) {
  const WafEvent e = Event("0011223344556677", WafOutcome::kBlocked);
  const std::string line = EncodeWafEvent(e);
  EXPECT_THAT(line, HasSubstr("\"time\":\"2026-09-21T"));
  EXPECT_EQ(line.find('\n'), std::string::npos);
  auto back = ParseWafEvent(line);
  ASSERT_THAT(back, IsOk());
  EXPECT_EQ(back->reference, e.reference);
  EXPECT_EQ(back->outcome, WafOutcome::kBlocked);
  EXPECT_EQ(back->client_address, e.client_address);
  EXPECT_EQ(back->path, "/search");
  EXPECT_EQ(back->rule_ids, e.rule_ids);
  EXPECT_EQ(back->anomaly_score, 5);
  EXPECT_EQ(back->message, e.message);
  // Bytes that are not UTF-8 (a path as an attacker sent it) are written as valid JSON.
  WafEvent odd = e;
  odd.path = std::string("/a\xff\"\n", 5);
  auto odd_back = ParseWafEvent(EncodeWafEvent(odd));
  ASSERT_THAT(odd_back, IsOk());
  EXPECT_THAT(odd_back->path, HasSubstr("\"\n"));

  for (const char* bad : {"", "{}", "[1]", "{\"reference\":1}", "not json",
                          "{\"time_micros\":1,\"reference\":\"r\",\"outcome\":\"eaten\","
                          "\"client\":\"\",\"method\":\"\",\"host\":\"\",\"path\":\"\","
                          "\"rules\":[],\"score\":0,\"message\":\"\"}"}) {
    EXPECT_THAT(ParseWafEvent(bad), StatusIs(StatusCode::kInvalidArgument)) << bad;
  }
}

TEST(WafEventsTest, TheNewestComeFirstAndDamagedLinesAreSkipped) {
  TempDir dir;
  auto env = NewPosixEnv();
  const std::string path = dir.Sub("waf.jsonl");
  EXPECT_THAT(ReadWafEvents(*env, path, 10), StatusIs(StatusCode::kNotFound, HasSubstr(path)));
  auto log = WafEventLog::Open(*env, path);
  ASSERT_THAT(log, IsOk());
  ASSERT_THAT((*log)->Append(Event("a", WafOutcome::kBlocked)), IsOk());
  ASSERT_THAT((*log)->Append(Event("b", WafOutcome::kMatched)), IsOk());
  {
    auto f = env->NewAppendableFile(path);
    ASSERT_THAT(f, IsOk());
    ASSERT_THAT((*f)->Append("{\"torn\":\n"), IsOk());
    ASSERT_THAT((*f)->Close(), IsOk());
  }
  auto reopened = WafEventLog::Open(*env, path);
  ASSERT_THAT(reopened, IsOk());
  ASSERT_THAT((*reopened)->Append(Event("c", WafOutcome::kDetected)), IsOk());
  auto events = ReadWafEvents(*env, path, 10);
  ASSERT_THAT(events, IsOk());
  std::vector<std::string> refs;
  for (const WafEvent& e : *events) refs.push_back(e.reference);
  EXPECT_THAT(refs, ElementsAre("c", "b", "a"));
  auto two = ReadWafEvents(*env, path, 2);
  ASSERT_THAT(two, IsOk());
  EXPECT_EQ(two->size(), 2u);
}

TEST(WafEventsTest, TheFileRotatesPastItsSizeAndReadingSpansBoth) {
  TempDir dir;
  auto env = NewPosixEnv();
  const std::string path = dir.Sub("waf.jsonl");
  const size_t line = EncodeWafEvent(Event("0000000000000000", WafOutcome::kBlocked)).size() + 1;
  auto log = WafEventLog::Open(*env, path, line * 3);
  ASSERT_THAT(log, IsOk());
  for (int i = 0; i < 5; ++i) {
    ASSERT_THAT((*log)->Append(Event("000000000000000" + std::to_string(i), WafOutcome::kBlocked)),
                IsOk());
  }
  EXPECT_EQ(*env->FileSize(path), line * 2);
  EXPECT_EQ(*env->FileSize(path + ".1"), line * 3);
  auto events = ReadWafEvents(*env, path, 100);
  ASSERT_THAT(events, IsOk());
  ASSERT_EQ(events->size(), 5u);
  EXPECT_EQ(events->front().reference, "0000000000000004");
  EXPECT_EQ(events->back().reference, "0000000000000000");
  // Two more rotations keep one predecessor: the disk use stays bounded.
  for (int i = 5; i < 11; ++i) {
    ASSERT_THAT(
        (*log)->Append(Event("00000000000000" + std::to_string(10 + i), WafOutcome::kBlocked)),
        IsOk());
  }
  EXPECT_LE(*env->FileSize(path) + *env->FileSize(path + ".1"), line * 6);
  EXPECT_FALSE(env->FileExists(path + ".2"));
}

TEST(WafEventsTest, TheSummaryCountsOutcomesRulesAndABoundedNumberOfClients) {
  TempDir dir;
  auto env = NewPosixEnv();
  auto log = WafEventLog::Open(*env, dir.Sub("waf.jsonl"));
  ASSERT_THAT(log, IsOk());
  ASSERT_THAT((*log)->Append(Event("a", WafOutcome::kBlocked, "192.0.2.1")), IsOk());
  ASSERT_THAT((*log)->Append(Event("b", WafOutcome::kBlocked, "192.0.2.1")), IsOk());
  ASSERT_THAT((*log)->Append(Event("c", WafOutcome::kDetected, "192.0.2.2")), IsOk());
  ASSERT_THAT((*log)->Append(Event("d", WafOutcome::kMatched, "192.0.2.3")), IsOk());
  WafSummary s = (*log)->TakeSummary(5);
  EXPECT_EQ(s.blocked, 2u);
  EXPECT_EQ(s.detected, 1u);
  EXPECT_EQ(s.matched, 1u);
  EXPECT_EQ(s.by_rule.at(942100), 3u);
  EXPECT_EQ(s.by_client.at("192.0.2.1"), 2u);
  EXPECT_EQ(s.by_client.count("192.0.2.3"), 0u);  // a match under the threshold is no attack
  EXPECT_EQ(DescribeWafSummary(s), "2 requests refused, 1 recorded in detection mode since " +
                                       FormatRfc3339(s.since_micros / 1'000'000) +
                                       "; rules 942100 x3; from 192.0.2.1 x2, 192.0.2.2 x1");
  EXPECT_EQ(DescribeWafSummary(WafSummary{}), "");
  EXPECT_EQ((*log)->Summary().blocked, 0u);
  EXPECT_EQ((*log)->Summary().since_micros, 5);
  for (int i = 0; i < 1100; ++i) {
    ASSERT_THAT((*log)->Append(Event("e", WafOutcome::kBlocked, "10.0.0." + std::to_string(i))),
                IsOk());
  }
  s = (*log)->Summary();
  EXPECT_EQ(s.by_client.size(), 1001u);
  EXPECT_EQ(s.by_client.at("other"), 100u);
}

}  // namespace
}  // namespace tieup::guard
