// /marketing: main's marketing on its partners' behalf (main_site/marketing.h): segments counted
// live, campaigns with their reports, and what the recommendations put beside each product.
// Saving a segment is Segments::Save and starting a campaign Campaigns::Start, as
// `tieup main segments add` and `tieup main campaigns send --no-wait` do; the daemon then sends
// the campaign at its rate (AttachMarketing).
#include <memory>
#include <string>
#include <string_view>

#include "base/money_format.h"
#include "commerce/form.h"
#include "main_site/console_common.h"
#include "main_site/main_daemon.h"
#include "main_site/marketing.h"

namespace tieup::main_console {
namespace {

constexpr int64_t kMembersShown = 50;

struct MarketingPages {
  ConsoleState* s = nullptr;
  std::unique_ptr<MarketingServices> m;
};

std::string Money(const MarketingPages& p, int64_t minor) {
  const commerce::ShopConfig& c = p.m->shop.shop->config();
  return FormatMoney(minor, c.currency, c.locale);
}

json::object SegmentData(MarketingPages& p, const Segment& seg) {
  auto count = p.m->segments->Count(seg.definition);
  return json::object{{"name", seg.name},
                      {"rules", DescribeSegment(seg.definition)},
                      {"members", count.ok() ? std::to_string(*count) : "?"},
                      {"by", seg.created_by},
                      {"when", p.s->Time(seg.created_micros)}};
}

json::object CampaignData(MarketingPages& p, const Campaign& c) {
  json::object o{{"name", c.name},
                 {"segment", c.segment},
                 {"subject", c.subject},
                 {"state", c.state},
                 {"draft", c.state == "draft"},
                 {"sending", c.state == "sending"},
                 {"rate", c.rate_per_minute},
                 {"when", p.s->Time(c.created_micros)}};
  if (auto r = p.m->campaigns->Report(c.name); r.ok()) {
    o["recipients"] = r->recipients;
    o["sent"] = r->sent;
    o["refused"] = r->refused;
    o["left"] = r->pending;
    o["unsubscribed"] = r->unsubscribed;
    o["clicked"] = r->clicked;
    o["orders"] = r->orders;
    o["revenue"] = Money(p, r->revenue_minor);
    json::array reasons;
    for (const auto& [reason, n] : r->refused_by) {
      reasons.push_back(json::object{{"reason", reason}, {"count", n}});
    }
    o["refused_by"] = std::move(reasons);
  }
  return o;
}

// A whole number from a form field ("" is 0); nullopt when it is not one.
std::optional<int64_t> Number(const commerce::FormFields& form, std::string_view name) {
  const std::string_view text = commerce::Trim(form.Get(name));
  if (text.empty()) return 0;
  auto n = commerce::ParseDigits(text, 15);
  if (!n) return std::nullopt;
  return *n;
}

Result<SegmentDefinition> DefinitionFromForm(const commerce::FormFields& form) {
  SegmentDefinition d;
  d.registered_via = std::string(commerce::Trim(form.Get("registered_via")));
  const std::string countries(form.Get("countries"));
  for (size_t i = 0; i < countries.size();) {
    size_t comma = countries.find(',', i);
    if (comma == std::string::npos) comma = countries.size();
    std::string c(commerce::Trim(std::string_view(countries).substr(i, comma - i)));
    if (!c.empty()) d.countries.push_back(c);
    i = comma + 1;
  }
  d.city = std::string(commerce::Trim(form.Get("city")));
  d.marketing_consent = form.Get("consented") == "yes";
  d.bought_sku = std::string(commerce::Trim(form.Get("bought_sku")));
  d.bought_category = std::string(commerce::Trim(form.Get("bought_category")));
  d.ordered_via = std::string(commerce::Trim(form.Get("ordered_via")));
  d.visited_path = std::string(commerce::Trim(form.Get("visited_path")));
  for (auto [field, target, words] :
       {std::tuple{"registered_within_days", &d.registered_within_days, "Registered within"},
        std::tuple{"ordered_within_days", &d.ordered_within_days, "Ordered within"},
        std::tuple{"min_orders", &d.min_orders, "At least … orders"},
        std::tuple{"min_spent", &d.min_spent_minor, "Spent at least"},
        std::tuple{"min_visits", &d.min_visits, "At least … visits"},
        std::tuple{"visited_within_days", &d.visited_within_days, "Visited within"}}) {
    auto n = Number(form, field);
    if (!n) return Status::InvalidArgument(std::string(words) + " must be a whole number");
    *target = *n;
  }
  RETURN_IF_ERROR(ValidateSegmentDefinition(d));
  return d;
}

ConsolePage Overview(MarketingPages& p, const ConsoleRequest& r) {
  if (r.http.method() == "POST") {
    const std::string what(r.form.Get("what"));
    if (what == "segment") {
      const std::string name(commerce::Trim(r.form.Get("name")));
      Status saved = [&]() -> Status {
        ASSIGN_OR_RETURN(SegmentDefinition d, DefinitionFromForm(r.form));
        return p.m->segments->Save(name, d, r.manager.email);
      }();
      (void)p.s->console->Audit(r, "segment.add",
                                name + (saved.ok() ? "" : " refused: " + saved.message()));
      if (!saved.ok()) return Redirect("/marketing", "Segment not saved: " + saved.message() + ".");
      return Redirect("/marketing/segments/" + name, "Saved segment " + name + ".");
    }
    if (what == "campaign") {
      CampaignDraft d;
      d.name = std::string(commerce::Trim(r.form.Get("name")));
      d.segment = std::string(commerce::Trim(r.form.Get("segment")));
      d.subject = std::string(commerce::Trim(r.form.Get("subject")));
      d.body_markdown = std::string(r.form.Get("body"));
      auto rate = Number(r.form, "rate");
      if (rate && *rate > 0) d.rate_per_minute = *rate;
      auto made = p.m->campaigns->Create(d, r.manager.email);
      (void)p.s->console->Audit(r, "campaign.add",
                                d.name + (made.ok() ? "" : " refused: " + made.status().message()));
      if (!made.ok()) {
        return Redirect("/marketing", "Campaign not saved: " + made.status().message() + ".");
      }
      return Redirect("/marketing/campaigns/" + d.name,
                      "Saved campaign " + d.name +
                          " as a draft: look at a customer's mail, then "
                          "send it.");
    }
    return Problem(400, "Choose an action", "Use the page's forms.");
  }
  json::array segments, names, campaigns;
  auto segs = p.m->segments->List();
  if (!segs.ok()) return Problem(500, "Marketing unavailable", segs.status().message());
  for (const Segment& seg : *segs) {
    segments.push_back(SegmentData(p, seg));
    names.push_back(json::string(seg.name));
  }
  auto list = p.m->campaigns->List();
  if (!list.ok()) return Problem(500, "Marketing unavailable", list.status().message());
  for (const Campaign& c : *list) campaigns.push_back(CampaignData(p, c));
  // What the product pages show beside each product.
  json::array also;
  auto products = p.m->shop.shop->ListProducts();
  if (products.ok()) {
    std::map<std::string, const commerce::Product*, std::less<>> by_sku;
    for (const commerce::Product& pr : *products) by_sku[pr.sku] = &pr;
    auto in_stock = [&](std::string_view sku) {
      auto it = by_sku.find(sku);
      return it != by_sku.end() && it->second->stock > 0;
    };
    auto all = p.m->recommender->AllAlsoBought(4, in_stock);
    if (all.ok()) {
      for (const auto& [sku, list] : *all) {
        auto it = by_sku.find(sku);
        if (it == by_sku.end() || list.empty()) continue;
        std::string words;
        for (const users::ScoredProduct& n : list) {
          auto o = by_sku.find(n.sku);
          words += (words.empty() ? "" : ", ") + (o == by_sku.end() ? n.sku : o->second->title);
        }
        also.push_back(json::object{{"sku", sku}, {"title", it->second->title}, {"with", words}});
      }
    }
  }
  ConsolePage out;
  out.title = "Marketing";
  out.template_name = "marketing";
  out.data = json::object{{"segments", std::move(segments)},   {"has_segments", !segs->empty()},
                          {"segment_names", std::move(names)}, {"campaigns", std::move(campaigns)},
                          {"has_campaigns", !list->empty()},   {"also", also},
                          {"has_also", !also.empty()}};
  return out;
}

// /marketing/segments/NAME (GET), /marketing/segments/NAME/remove (POST).
ConsolePage SegmentPage(MarketingPages& p, const ConsoleRequest& r) {
  std::string_view rest = r.http.path().substr(std::string_view("/marketing/segments/").size());
  const bool remove = rest.ends_with("/remove");
  if (remove) rest.remove_suffix(std::string_view("/remove").size());
  auto seg = p.m->segments->Get(rest);
  if (!seg.ok()) return Problem(404, "No such segment", seg.status().message() + ".");
  if (r.http.method() == "POST") {
    if (!remove) return Problem(400, "Choose an action", "Use the page's buttons.");
    Status done = p.m->segments->Remove(seg->name);
    (void)p.s->console->Audit(r, "segment.remove",
                              seg->name + (done.ok() ? "" : " refused: " + done.message()));
    return Redirect("/marketing", done.ok() ? "Removed segment " + seg->name + "."
                                            : "Not removed: " + done.message() + ".");
  }
  auto members = p.m->segments->Members(seg->definition);
  if (!members.ok()) return Problem(500, "Segment unavailable", members.status().message());
  json::array rows;
  for (const SegmentMember& m : *members) {
    if (static_cast<int64_t>(rows.size()) >= kMembersShown) break;
    rows.push_back(json::object{{"id", m.user_id},
                                {"email", m.email},
                                {"name", m.display_name},
                                {"site", m.registered_via},
                                {"news", m.marketing_consent_micros != 0},
                                {"orders", m.orders},
                                {"spent", Money(p, m.spent_minor)},
                                {"visits", m.visits}});
  }
  json::object data = SegmentData(p, *seg);
  data["count"] = static_cast<int64_t>(members->size());
  data["has_members"] = !rows.empty();
  data["more"] = static_cast<int64_t>(members->size()) > kMembersShown;
  data["rows"] = std::move(rows);
  ConsolePage out;
  out.title = "Segment " + seg->name;
  out.template_name = "marketing_segment";
  out.data = std::move(data);
  return out;
}

// /marketing/campaigns/NAME (GET, ?user= for the preview), /marketing/campaigns/NAME/send (POST).
ConsolePage CampaignPage(MarketingPages& p, const ConsoleRequest& r) {
  std::string_view rest = r.http.path().substr(std::string_view("/marketing/campaigns/").size());
  const bool send = rest.ends_with("/send");
  if (send) rest.remove_suffix(std::string_view("/send").size());
  auto c = p.m->campaigns->Get(rest);
  if (!c.ok()) return Problem(404, "No such campaign", c.status().message() + ".");
  if (r.http.method() == "POST") {
    if (!send) return Problem(400, "Choose an action", "Use the page's buttons.");
    auto started = p.m->campaigns->Start(c->name);
    (void)p.s->console->Audit(
        r, "campaign.send",
        c->name + (started.ok() ? " to " + std::to_string(*started) + " recipient(s)"
                                : " refused: " + started.status().message()));
    if (!started.ok())
      return Redirect("/marketing/campaigns/" + c->name,
                      "Not sent: " + started.status().message() + ".");
    return Redirect("/marketing/campaigns/" + c->name,
                    "Sending to " + std::to_string(*started) + " recipient(s) at " +
                        std::to_string(c->rate_per_minute) +
                        " a minute; those without consent are skipped.");
  }
  json::object data = CampaignData(p, *c);
  data["body"] = c->body_markdown;
  data["segment_words"] = c->segment_words;
  // The preview: the customer asked for, else the segment's first member.
  auto query = commerce::ParseForm(r.http.query());
  std::string user(query.ok() ? commerce::Trim(query->Get("user")) : "");
  if (user.empty()) {
    if (auto seg = p.m->segments->Get(c->segment); seg.ok()) {
      if (auto first = p.m->segments->Members(seg->definition, 1); first.ok() && !first->empty()) {
        user = first->front().user_id;
      }
    }
  }
  if (!user.empty()) {
    auto mail = p.m->campaigns->Preview(c->name, user);
    if (mail.ok()) {
      data["preview"] =
          json::object{{"user", user},
                       {"from", mail->message.from.name + " <" + mail->message.from.address + ">"},
                       {"to", mail->message.to.front().address},
                       {"subject", mail->message.subject},
                       {"text", mail->message.body},
                       {"brand", mail->brand.name},
                       {"marketing", mail->brand.marketing},
                       {"site", mail->brand.site}};
    } else {
      data["preview_problem"] = mail.status().message();
    }
  }
  ConsolePage out;
  out.title = "Campaign " + c->name;
  out.template_name = "marketing_campaign";
  out.data = std::move(data);
  return out;
}

}  // namespace

void AddMarketingPages(ConsoleState& s) {
  auto pages = std::make_shared<MarketingPages>();
  pages->s = &s;
  auto m = OpenMarketing(s.daemon->env(), s.daemon->site().site_dir(), s.config(), s.daemon->db());
  if (!m.ok()) {
    s.daemon->logger()->warn("console: marketing cannot be opened: {}", m.status().message());
    const std::string why = m.status().message();
    for (const char* path : {"/marketing", "/marketing/"}) {
      s.console->AddPage(path, [why](const ConsoleRequest&) {
        return Problem(500, "Marketing unavailable", why);
      });
    }
    return;
  }
  pages->m = std::move(*m);
  s.console->AddPage("/marketing",
                     [pages](const ConsoleRequest& r) { return Overview(*pages, r); });
  s.console->AddPage("/marketing/segments/",
                     [pages](const ConsoleRequest& r) { return SegmentPage(*pages, r); });
  s.console->AddPage("/marketing/campaigns/",
                     [pages](const ConsoleRequest& r) { return CampaignPage(*pages, r); });
}

}  // namespace tieup::main_console
