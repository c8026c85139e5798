// Fuzzes the WAF's inputs (issue 17): the settings main ships signed in a release
// (sync::ParseWafTerms), the lines of logs/waf.jsonl (guard::ParseWafEvent), and the WAF
// itself (guard::Waf with the real OWASP CRS) on a request built from the input: target, one
// header and a form body, as an attacker controls them.
//
// Properties: accepted terms are canonical (they encode to the input) and valid; an accepted
// event line survives a round trip; a verdict that blocks would block, names each rule once and
// asks for 403.
#include <algorithm>
#include <memory>
#include <set>
#include <string>

#include "fuzz_util.h"
#include "guard/waf.h"
#include "guard/waf_events.h"
#include "sync/partnership_terms.h"

using namespace tieup;

namespace {

guard::Waf* TheWaf() {
  static guard::Waf* waf = [] {
    auto w = guard::Waf::Create({});
    FUZZ_CHECK(w.ok());
    return w->release();
  }();
  return waf;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = tieup::fuzz::AsText(data, size);

  auto terms = sync::ParseWafTerms(text);
  if (terms.ok()) {
    FUZZ_CHECK(sync::EncodeWafTerms(*terms) == text);
    FUZZ_CHECK(sync::CheckWafTerms(*terms).ok());
    FUZZ_CHECK(!sync::DescribeWafTerms(*terms).empty());
  }
  (void)sync::ParseRuleList(text);

  auto event = guard::ParseWafEvent(text);
  if (event.ok()) {
    auto again = guard::ParseWafEvent(guard::EncodeWafEvent(*event));
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(again->reference == event->reference && again->rule_ids == event->rule_ids &&
               again->outcome == event->outcome && again->time_micros == event->time_micros);
  }

  // A request: the input's first line is the target (after "/"), its second a header value,
  // the rest a form body.
  if (size > 64 * 1024) return 0;
  const size_t a = text.find('\n');
  const std::string target =
      "/" + std::string(text.substr(0, std::min(a, text.size()))).substr(0, 4000);
  std::string header, body;
  if (a != std::string_view::npos) {
    const std::string_view rest = text.substr(a + 1);
    const size_t b = rest.find('\n');
    header = std::string(rest.substr(0, std::min(b, rest.size())));
    if (b != std::string_view::npos) body = std::string(rest.substr(b + 1));
  }
  HttpRequest request(body.empty() ? "GET" : "POST", target);
  request.AddHeader("Host", "shop.example");
  request.AddHeader("User-Agent", "Mozilla/5.0");
  request.AddHeader("Accept", "text/html");
  if (!header.empty()) request.AddHeader("X-Fuzz", header);
  if (!body.empty()) {
    request.AddHeader("Content-Type", "application/x-www-form-urlencoded");
    request.AddHeader("Content-Length", std::to_string(body.size()));
    request.SetBody(body);
  }
  auto verdict = TheWaf()->Inspect(request, guard::WafConnection{});
  if (verdict.ok()) {
    if (verdict->blocked) {
      FUZZ_CHECK(verdict->would_block);
      FUZZ_CHECK(verdict->status == 403);
    }
    std::set<int> ids(verdict->rule_ids.begin(), verdict->rule_ids.end());
    FUZZ_CHECK(ids.size() == verdict->rule_ids.size());
  }
  return 0;
}
