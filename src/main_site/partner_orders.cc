#include "main_site/partner_orders.h"

#include <algorithm>
#include <future>
#include <optional>

#include "main_site/customer_copies.h"
#include "main_site/main_sync.h"
#include "store/database.h"
#include "sync/http_api.h"
#include "sync/publisher.h"
#include "users/customer_copy.h"
#include "users/wire.h"

namespace tieup {
namespace {

// Partners asked at once.
constexpr size_t kParallelAsks = 8;

// One partner's answer: its orders, or why there are none.
Result<std::vector<commerce::OrderSummary>> Ask(MainSync& sync, const std::string& partner,
                                                const std::string& email_sha256,
                                                std::chrono::milliseconds timeout) {
  ASSIGN_OR_RETURN(sync::HttpRoundTrip trip, sync.ConnectToPartner(partner, timeout));
  HttpRequest req("POST", std::string(users::kPartnerOrdersPath));
  req.AddHeader("Content-Type", "application/json");
  req.SetBody(users::PartnerOrdersQueryToJson(email_sha256));
  ASSIGN_OR_RETURN(HttpResponse r, trip(req));
  RETURN_IF_ERROR(sync::StatusFromResponse(r));
  return users::PartnerOrdersFromJson(r.body());
}

void SortNewestFirst(std::vector<commerce::OrderSummary>& orders) {
  std::stable_sort(orders.begin(), orders.end(),
                   [](const commerce::OrderSummary& x, const commerce::OrderSummary& y) {
                     return x.placed_micros > y.placed_micros;
                   });
}

// `public_url` without its trailing slashes, then `path`.
std::string OnSite(std::string_view public_url, std::string_view path) {
  while (!public_url.empty() && public_url.back() == '/') public_url.remove_suffix(1);
  return std::string(public_url) + std::string(path);
}

}  // namespace

Result<PartnerOrders> FetchPartnerOrders(MainSync& sync, Database& db, const users::User& user,
                                         std::chrono::milliseconds timeout) {
  ASSIGN_OR_RETURN(std::vector<std::string> ids, PartnersOfCustomer(db, user));
  PartnerOrders out;
  std::vector<sync::Partnership> asked;
  for (const std::string& id : ids) {
    Result<sync::Partnership> p = sync.publisher().GetPartnership(id);
    if (!p.ok() || p->revoked) continue;
    if (p->name.empty()) p->name = p->id;  // as the customer knows it
    if (p->sync_url.empty()) {
      if (!p->public_url.empty()) {
        out.elsewhere.emplace_back(p->name, OnSite(p->public_url, "/account/"));
      }
      continue;
    }
    asked.push_back(std::move(*p));
  }
  const std::string hash = users::EmailSha256(user.email);
  for (size_t begin = 0; begin < asked.size(); begin += kParallelAsks) {
    const size_t end = std::min(asked.size(), begin + kParallelAsks);
    std::vector<std::future<Result<std::vector<commerce::OrderSummary>>>> answers;
    for (size_t i = begin; i < end; ++i) {
      answers.push_back(std::async(std::launch::async, [&sync, &hash, timeout, id = asked[i].id] {
        return Ask(sync, id, hash, timeout);
      }));
    }
    for (size_t i = begin; i < end; ++i) {
      const sync::Partnership& p = asked[i];
      Result<std::vector<commerce::OrderSummary>> got = answers[i - begin].get();
      if (!got.ok()) {
        out.not_answered.push_back(p.name);
        continue;
      }
      for (commerce::OrderSummary& o : *got) {
        o.at = p.name;
        o.through.clear();
        o.href = OnSite(p.public_url, o.href);
        out.orders.push_back(std::move(o));
      }
    }
  }
  SortNewestFirst(out.orders);
  return out;
}

std::vector<commerce::OrderSummary> MergeOrders(std::vector<commerce::OrderSummary> a,
                                                std::vector<commerce::OrderSummary> b) {
  a.insert(a.end(), std::make_move_iterator(b.begin()), std::make_move_iterator(b.end()));
  SortNewestFirst(a);
  return a;
}

}  // namespace tieup
