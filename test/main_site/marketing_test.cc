#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "base/log.h"
#include "commerce/mail.h"
#include "commerce/payment.h"
#include "commerce/shop.h"
#include "main_site/campaigns.h"
#include "main_site/catalog_pages.h"
#include "main_site/ledger_service.h"
#include "main_site/recommendation_feed.h"
#include "main_site/segments.h"
#include "test_database.h"
#include "test_support.h"
#include "users/recommendations.h"
#include "users/user_store.h"

// The segment definitions below are C++20 designated initializers, which leave the other members
// at their defaults. GCC 12 (Debian 12) still warns of the members left out under -Wextra (its
// bug 96868), and -Werror makes that an error in `make build`'s gcc tree; clang does not warn.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#endif

namespace tieup {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::UnorderedElementsAre;
using ::tieup::testing::FakeClockEnv;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;
using ::tieup::testing::TempDir;

constexpr int64_t kDay = 86'400'000'000LL;

// The message with its body's quoted-printable undone (soft line breaks and =XX escapes; the
// headers as they are), so that tests read what a mail reader shows.
std::string DecodeQuotedPrintable(std::string_view message) {
  const size_t body = message.find("\r\n\r\n");
  std::string out(message.substr(0, body));
  auto hex = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; };
  for (size_t i = body; i < message.size(); ++i) {
    if (message[i] == '=' && message.substr(i + 1, 2) == "\r\n") {
      i += 2;
    } else if (message[i] == '=' && i + 2 < message.size() && hex(message[i + 1]) &&
               hex(message[i + 2])) {
      out += static_cast<char>(std::stoi(std::string(message.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += message[i];
    }
  }
  return out;
}

class MarketingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = testing::OpenTestDatabase(dir_.Sub("main.db"));
    ASSERT_THAT(db, IsOk());
    db_ = std::move(*db);
    users::UserStoreOptions uo;
    uo.cost = PasswordHashCost::MinimumForTest();
    auto users = users::UserStore::Open(env_, *db_, uo);
    ASSERT_THAT(users, IsOk());
    users_ = std::move(*users);
    commerce::ShopConfig sc;
    sc.currency = "JPY";
    sc.locale = "ja";
    auto shop = commerce::Shop::Open(env_, *db_, sc, {commerce::NewCashOnDeliveryProvider()});
    ASSERT_THAT(shop, IsOk());
    shop_ = std::move(*shop);
    auto segments = Segments::Open(env_, *db_);
    ASSERT_THAT(segments, IsOk());
    segments_ = std::move(*segments);
    // The user logs' table, as main's ledger collector makes it.
    auto ledger = LedgerCollector::Open(env_, dir_.path(), *db_, NewNullLogger());
    ASSERT_THAT(ledger, IsOk());
    for (auto [sku, category, stock] : {std::tuple{"TEA-1", "tea", 50},
                                        {"TEA-2", "tea", 50},
                                        {"CUP-1", "cups", 50},
                                        {"GONE-1", "tea", 50}}) {
      commerce::Product p;
      p.sku = sku;
      p.title = std::string("Product ") + sku;
      p.page_path = "/products/" + std::string(sku) + ".html";
      p.price_minor = 1500;
      p.currency = "JPY";
      p.tax_class = "reduced";
      p.category = category;
      p.stock = stock;
      ASSERT_THAT(shop_->AddProduct(p), IsOk());
    }
  }

  std::string AddUser(const std::string& email, const std::string& name, const std::string& via,
                      bool consent, const std::string& country = "JP",
                      const std::string& city = "Kyoto") {
    users::NewUser n{email, name, "correct horse battery", via};
    auto u = users_->Register(n);
    EXPECT_THAT(u, IsOk());
    if (!u.ok()) return "";
    if (consent) {
      EXPECT_THAT(users_->SetMarketingConsent(u->id, true), IsOk());
    }
    users::PostalAddress a{name, "1-2 Uji", "", "611-0021", city, country, ""};
    EXPECT_THAT(users_->SetAddress(u->id, a), IsOk());
    return u->id;
  }

  void Order(const std::string& email, const std::string& channel, std::vector<std::string> skus,
             int64_t days_ago = 0) {
    const int64_t now = env_.NowMicros();
    env_.SetNowMicros(now - days_ago * kDay);
    commerce::OrderRequest r;
    r.channel = channel;
    r.idempotency_key = "order-key-" + std::to_string(++orders_);
    for (const std::string& sku : skus) {
      commerce::OrderLineRequest line;
      line.sku = sku;
      line.quantity = 1;
      r.lines.push_back(line);
    }
    r.customer = {"Buyer", "1-2 Uji", "", "611-0021", "Uji", "JP", email, ""};
    r.payment_method = "cash_on_delivery";
    EXPECT_THAT(shop_->PlaceOrder(r), IsOk());
    env_.SetNowMicros(now);
  }

  void Visit(const std::string& partner, const std::string& user_id, const std::string& path,
             int64_t days_ago = 0) {
    ASSERT_THAT(db_->Exec("INSERT INTO ledger_user_visits (partner, entry, user_id, time_micros, "
                          "area, method, path, status) VALUES (?, ?, ?, ?, 'tieup', 'GET', ?, 200)",
                          {partner, ++visits_, user_id, env_.NowMicros() - days_ago * kDay, path}),
                IsOk());
  }

  std::set<std::string> Members(const SegmentDefinition& d) {
    std::set<std::string> out;
    auto members = segments_->Members(d);
    EXPECT_THAT(members, IsOk());
    if (members.ok()) {
      for (const SegmentMember& m : *members) out.insert(m.email);
    }
    return out;
  }

  TempDir dir_;
  FakeClockEnv env_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<users::UserStore> users_;
  std::unique_ptr<commerce::Shop> shop_;
  std::unique_ptr<Segments> segments_;
  int orders_ = 0;
  int64_t visits_ = 0;
};

TEST_F(MarketingTest, SegmentRulesSelectTheirCustomers) {
  const std::string a1 = AddUser("ada@example.org", "Ada", "shop-a", true);
  const std::string a2 = AddUser("bob@example.org", "Bob", "shop-a", false, "Japan", "Tokyo");
  AddUser("cy@example.org", "Cy", "shop-b", true, "US", "Boston");
  const std::string m1 = AddUser("dee@example.org", "Dee", "main", true, "jp", "Osaka");
  const std::string off = AddUser("eve@example.org", "Eve", "shop-a", true);
  ASSERT_THAT(users_->SetDisabled(off, true), IsOk());
  Order("ada@example.org", "shop-a", {"TEA-1", "CUP-1"});
  Order("ADA@example.org", "shop-a", {"TEA-1"}, 10);
  Order("bob@example.org", "main", {"TEA-1"}, 100);
  Order("cy@example.org", "shop-b", {"CUP-1"});
  Order("eve@example.org", "shop-a", {"TEA-1"});  // disabled: never a member
  Visit("shop-a", a2, "/products/TEA-2.html", 1);
  Visit("shop-a", a2, "/products/TEA-2.html", 2);
  Visit("shop-a", a2, "/products/TEA-1.html", 3);
  Visit("shop-a", m1, "/products/TEA-1.html", 40);
  Visit("shop-a", a1, "/news/", 1);

  using Set = std::set<std::string>;
  EXPECT_EQ(Members({}),
            (Set{"ada@example.org", "bob@example.org", "cy@example.org", "dee@example.org"}));
  EXPECT_EQ(Members({.registered_via = "shop-a"}), (Set{"ada@example.org", "bob@example.org"}));
  EXPECT_EQ(Members({.registered_via = "shop-a", .marketing_consent = true}),
            Set{"ada@example.org"});
  EXPECT_EQ(Members({.countries = {"JP", "japan"}}),
            (Set{"ada@example.org", "bob@example.org", "dee@example.org"}));
  EXPECT_EQ(Members({.city = "kyoto"}), Set{"ada@example.org"});
  EXPECT_EQ(Members({.bought_sku = "TEA-1"}), (Set{"ada@example.org", "bob@example.org"}));
  EXPECT_EQ(Members({.bought_sku = "tea-1", .ordered_within_days = 30}), Set{"ada@example.org"});
  EXPECT_EQ(Members({.min_orders = 2}), Set{"ada@example.org"});
  EXPECT_EQ(Members({.bought_category = "cups"}), (Set{"ada@example.org", "cy@example.org"}));
  EXPECT_EQ(Members({.ordered_via = "shop-b"}), Set{"cy@example.org"});
  EXPECT_EQ(Members({.ordered_via = "main"}), Set{"bob@example.org"});
  EXPECT_EQ(Members({.visited_path = "/products/", .min_visits = 2}), Set{"bob@example.org"});
  EXPECT_EQ(Members({.visited_path = "/products/", .visited_within_days = 30}),
            Set{"bob@example.org"});
  EXPECT_EQ(Members({.visited_path = "/products/"}), (Set{"bob@example.org", "dee@example.org"}));
  // Rules together: all must hold.
  EXPECT_EQ(Members({.registered_via = "shop-a", .bought_sku = "TEA-1", .min_visits = 1}),
            (Set{"ada@example.org", "bob@example.org"}));
  EXPECT_EQ(
      Members({.registered_via = "shop-a", .bought_sku = "TEA-1", .visited_path = "/products/"}),
      Set{"bob@example.org"});

  // What made them members.
  auto members = segments_->Members({.bought_sku = "TEA-1", .min_orders = 2});
  ASSERT_THAT(members, IsOk());
  ASSERT_EQ(members->size(), 1u);
  EXPECT_EQ((*members)[0].user_id, a1);
  EXPECT_EQ((*members)[0].orders, 2);
  EXPECT_EQ((*members)[0].spent_minor, 3 * 1500);
  EXPECT_THAT(segments_->Count({.registered_via = "shop-a"}), IsOk());
  EXPECT_EQ(*segments_->Count({.registered_via = "shop-a"}), 2);
  // Counted live: a new customer counts at once.
  AddUser("fay@example.org", "Fay", "shop-a", true);
  EXPECT_EQ(*segments_->Count({.registered_via = "shop-a"}), 3);
}

TEST_F(MarketingTest, SegmentsAreSavedListedAndCheckedStrictly) {
  const SegmentDefinition d{.registered_via = "shop-a",
                            .countries = {"JP"},
                            .marketing_consent = true,
                            .bought_sku = "TEA-1",
                            .ordered_within_days = 90,
                            .min_visits = 3};
  ASSERT_THAT(segments_->Save("uji-tea", d, "alice"), IsOk());
  EXPECT_THAT(segments_->Save("uji-tea", d, "alice"), StatusIs(StatusCode::kAlreadyExists));
  EXPECT_THAT(segments_->Save("uji-tea", {}, "alice", /*replace=*/true), IsOk());
  ASSERT_THAT(segments_->Save("uji-tea", d, "alice", true), IsOk());
  auto got = segments_->Get("uji-tea");
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->definition, d);
  EXPECT_EQ(got->created_by, "alice");
  EXPECT_EQ(DescribeSegment(d),
            "registered via shop-a; living in JP; consented to marketing mail; 1+ orders of "
            "TEA-1 in the last 90 days; 3+ visits of any page");
  EXPECT_EQ(ParseSegmentDefinition(EncodeSegmentDefinition(d)).value(), d);
  EXPECT_EQ(segments_->List()->size(), 1u);
  EXPECT_THAT(segments_->Get("nope"), StatusIs(StatusCode::kNotFound, HasSubstr("segments list")));
  for (const std::string& bad :
       std::vector<std::string>{"", "Upper", "-dash", "a b", std::string(65, 'a')}) {
    EXPECT_THAT(segments_->Save(bad, d, "x"), StatusIs(StatusCode::kInvalidArgument)) << bad;
  }
  EXPECT_THAT(segments_->Save("x", {.visited_path = "products"}, "x"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("start with '/'")));
  EXPECT_THAT(segments_->Save("x", {.min_orders = -1}, "x"),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(segments_->Save("x", {.registered_via = "Shop A"}, "x"),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(segments_->Save("x", {.bought_sku = "bad sku"}, "x"),
              StatusIs(StatusCode::kInvalidArgument));
  for (std::string bad : {"[]", "{\"colour\":\"red\"}", "{\"min_orders\":\"2\"}",
                          "{\"countries\":\"JP\"}", "{\"min_orders\":-3}", "not json"}) {
    EXPECT_THAT(ParseSegmentDefinition(bad), StatusIs(StatusCode::kInvalidArgument)) << bad;
  }
  ASSERT_THAT(segments_->Remove("uji-tea"), IsOk());
  EXPECT_THAT(segments_->Remove("uji-tea"), StatusIs(StatusCode::kNotFound));
}

class CampaignsTest : public MarketingTest {
 protected:
  void SetUp() override {
    MarketingTest::SetUp();
    outbox_ = std::make_unique<commerce::MailOutbox>(env_, dir_.Sub("mail"));
    ASSERT_THAT(outbox_->Init(), IsOk());
    ASSERT_THAT(segments_->Save("everyone", {}, "test"), IsOk());
    OpenCampaigns();
  }

  void OpenCampaigns() {
    campaigns_.reset();
    CampaignOptions o;
    o.main_url = "https://main.example";
    o.from_address = "news@main.example";
    o.network_name = "Sakura Tea Co.";
    o.brand = [](std::string_view site) -> Result<CampaignBrand> {
      if (site == "shop-a")
        return CampaignBrand{"shop-a", "Sakura Tea Uji", "Kyoto", "https://uji.example", true};
      if (site == "shop-b")
        return CampaignBrand{"shop-b", "Tea Corner", "", "https://b.example", false};
      if (site == "main")
        return CampaignBrand{"main", "Sakura Tea Co.", "", "https://main.example", true};
      return Status::NotFound("no such partner");
    };
    o.recommend = [](std::string_view, size_t) -> Result<std::vector<CampaignProduct>> {
      return std::vector<CampaignProduct>{{"Gyokuro", "¥2,400", "/products/gyokuro.html"}};
    };
    o.site.site_name = "Sakura Tea Co.";
    auto c = Campaigns::Open(env_, *db_, *segments_, *outbox_, std::move(o));
    ASSERT_THAT(c, IsOk());
    campaigns_ = std::move(*c);
  }

  CampaignDraft Draft(std::string name, int64_t rate = 1000) {
    return CampaignDraft{
        std::move(name),
        "everyone",
        "New teas at {{partner.name}}",
        "Hello {{customer.name}},\n\nnew teas at [{{partner.name}}]({{partner.url}}/products/).\n\n"
        "{{#recommended}}- [{{title}}]({{url}}) {{price}}\n{{/recommended}}",
        rate,
        14};
  }

  // Sends until done; returns the calls' totals.
  SendProgress SendAll(const std::string& name) {
    SendProgress total;
    for (int i = 0; i < 100; ++i) {
      auto p = campaigns_->SendSome(name, 1000);
      EXPECT_THAT(p, IsOk());
      if (!p.ok()) break;
      total.sent += p->sent;
      total.refused += p->refused;
      if (p->done) {
        total.done = true;
        break;
      }
      env_.AdvanceSeconds(60);
    }
    return total;
  }

  // The stored messages of the outbox (pending), by recipient address.
  std::map<std::string, std::string> Mails() {
    std::map<std::string, std::string> out;
    auto names = outbox_->Pending();
    EXPECT_THAT(names, IsOk());
    for (const std::string& n : *names) {
      auto bytes = outbox_->Read("pending", n);
      EXPECT_THAT(bytes, IsOk());
      const size_t to = bytes->find("\r\nTo: ");
      const size_t lt = bytes->find('<', to);
      const std::string address = bytes->substr(lt + 1, bytes->find('>', lt) - lt - 1);
      EXPECT_FALSE(out.contains(address)) << "two mails to " << address;
      out[address] = DecodeQuotedPrintable(*bytes);
    }
    return out;
  }

  // The token of the mail's List-Unsubscribe link.
  static std::string TokenOf(const std::string& mail) {
    const std::string key = "unsubscribe?t=";
    const size_t at = mail.find("List-Unsubscribe: <https://main.example/marketing/" + key);
    if (at == std::string::npos) return "";
    const size_t start = mail.find(key, at) + key.size();
    return mail.substr(start, mail.find('>', start) - start);
  }

  std::unique_ptr<commerce::MailOutbox> outbox_;
  std::unique_ptr<Campaigns> campaigns_;
};

TEST_F(CampaignsTest, EachMailWearsItsCustomersBrandAndGoesOnlyWithConsent) {
  AddUser("ada@example.org", "Ada <b>Lovelace</b>", "shop-a", true);
  AddUser("bob@example.org", "Bob", "shop-a", false);  // no consent
  AddUser("cy@example.org", "Cy", "shop-b", true);     // shop-b has no marketing option
  AddUser("dee@example.org", "Dee", "main", true);
  AddUser("gus@example.org", "Gus", "shop-gone", true);  // a partnership that is gone
  ASSERT_THAT(campaigns_->Create(Draft("spring"), "alice"), IsOk());
  EXPECT_THAT(campaigns_->Create(Draft("spring"), "alice"), StatusIs(StatusCode::kAlreadyExists));
  EXPECT_THAT(campaigns_->SendSome("spring", 10),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("draft")));
  // A preview, by address or id, whatever the consent.
  auto preview = campaigns_->Preview("spring", "bob@example.org");
  ASSERT_THAT(preview, IsOk());
  EXPECT_EQ(preview->brand.name, "Sakura Tea Uji");
  EXPECT_EQ(preview->message.subject, "New teas at Sakura Tea Uji");
  EXPECT_THAT(preview->message.body, HasSubstr("Hello Bob,"));
  EXPECT_THAT(campaigns_->Preview("spring", "nobody@example.org"), StatusIs(StatusCode::kNotFound));
  auto recipients = campaigns_->Start("spring");
  ASSERT_THAT(recipients, IsOk());
  EXPECT_EQ(*recipients, 5);
  EXPECT_THAT(campaigns_->Start("spring"), StatusIs(StatusCode::kFailedPrecondition));
  const SendProgress p = SendAll("spring");
  EXPECT_TRUE(p.done);
  EXPECT_EQ(p.sent, 2);
  EXPECT_EQ(p.refused, 3);

  std::map<std::string, std::string> mails = Mails();
  ASSERT_EQ(mails.size(), 2u);
  ASSERT_TRUE(mails.contains("ada@example.org"));
  ASSERT_TRUE(mails.contains("dee@example.org"));
  const std::string& ada = mails["ada@example.org"];
  // From the customer's partner, to the customer, with RFC 8058's two headers.
  EXPECT_THAT(ada, HasSubstr("From: \"Sakura Tea Uji\" <news@main.example>\r\n"));
  EXPECT_THAT(ada, HasSubstr("Subject: New teas at Sakura Tea Uji\r\n"));
  EXPECT_THAT(ada, HasSubstr("\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"));
  const std::string token = TokenOf(ada);
  ASSERT_GE(token.size(), 30u);
  // The text part: values as written; the HTML part: escaped, in the brand's frame.
  EXPECT_THAT(ada, HasSubstr("Hello Ada <b>Lovelace</b>,"));
  EXPECT_THAT(ada, HasSubstr("Ada &lt;b&gt;Lovelace&lt;/b&gt;"));
  EXPECT_THAT(ada, Not(HasSubstr("Ada <b>Lovelace</b></p>")));
  EXPECT_THAT(ada, HasSubstr(">Sakura Tea Co.</a>"));  // the network's name heads the HTML part
  EXPECT_THAT(ada, HasSubstr("at Sakura Tea Uji, Kyoto</div>"));
  EXPECT_THAT(ada, HasSubstr("https://main.example/marketing/c/" + token + "/products/"));
  EXPECT_THAT(ada, HasSubstr("Gyokuro"));
  EXPECT_THAT(ada,
              HasSubstr("https://main.example/marketing/c/" + token + "/products/gyokuro.html"));
  const std::string& dee = mails["dee@example.org"];
  EXPECT_THAT(dee, HasSubstr("From: \"Sakura Tea Co.\" <news@main.example>\r\n"));
  EXPECT_THAT(dee, HasSubstr("Subject: New teas at Sakura Tea Co.\r\n"));
  EXPECT_NE(TokenOf(dee), token);

  auto report = campaigns_->Report("spring");
  ASSERT_THAT(report, IsOk());
  EXPECT_EQ(report->recipients, 5);
  EXPECT_EQ(report->sent, 2);
  EXPECT_EQ(report->refused, 3);
  EXPECT_EQ(report->pending, 0);
  EXPECT_EQ(report->refused_by,
            (std::map<std::string, int64_t>{{"marketing option off for shop-b", 1},
                                            {"no marketing consent", 1},
                                            {"site shop-gone unknown", 1}}));
  EXPECT_EQ(campaigns_->Get("spring")->state, "done");
}

TEST_F(CampaignsTest, ACrashInTheMiddleOfASendSendsNoOneTwice) {
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) {
    ids.push_back(
        AddUser("c" + std::to_string(i) + "@example.org", "C" + std::to_string(i), "shop-a", true));
  }
  ASSERT_THAT(campaigns_->Create(Draft("crash"), "alice"), IsOk());
  ASSERT_THAT(campaigns_->Start("crash"), IsOk());
  // The sender dies after the third mail is in the outbox, before it is marked sent.
  int written = 0;
  campaigns_->SetAfterEnqueueForTest([&](const std::string&) {
    return ++written == 3 ? Status::Internal("power lost") : Status::Ok();
  });
  EXPECT_THAT(campaigns_->SendSome("crash", 1000), StatusIs(StatusCode::kInternal));
  EXPECT_EQ(Mails().size(), 3u);
  // One recipient was caught before its mail was written (state 'sending', no mail yet).
  std::sort(ids.begin(), ids.end());
  ASSERT_THAT(db_->Exec("UPDATE marketing_recipients SET state = 'sending' WHERE user_id = ?",
                        {ids.back()}),
              IsOk());
  // A new process resumes.
  OpenCampaigns();
  const SendProgress p = SendAll("crash");
  EXPECT_TRUE(p.done);
  std::map<std::string, std::string> mails = Mails();  // fails on any address twice
  EXPECT_EQ(mails.size(), 6u);
  auto report = campaigns_->Report("crash");
  ASSERT_THAT(report, IsOk());
  EXPECT_EQ(report->sent, 6);
  EXPECT_EQ(report->pending, 0);
  // Sending again is a no-op.
  auto again = campaigns_->SendSome("crash", 1000);
  ASSERT_THAT(again, IsOk());
  EXPECT_TRUE(again->done);
  EXPECT_EQ(again->sent, 0);
  EXPECT_EQ(Mails().size(), 6u);
}

TEST_F(CampaignsTest, AnUnsubscribeIsHonouredBeforeTheNextMail) {
  const std::string ada = AddUser("ada@example.org", "Ada", "shop-a", true);
  AddUser("dee@example.org", "Dee", "main", true);
  ASSERT_THAT(campaigns_->Create(Draft("first"), "alice"), IsOk());
  ASSERT_THAT(campaigns_->Start("first"), IsOk());
  SendAll("first");
  const std::string token = TokenOf(Mails()["ada@example.org"]);
  ASSERT_FALSE(token.empty());

  // The mail provider's one-click POST (RFC 8058), through the public pages.
  auto pages = MakeCampaignLinkPages(
      std::shared_ptr<Campaigns>(campaigns_.get(), [](Campaigns*) {}), content::PageSite{});
  auto handle = [&](HttpRequest request) {
    HttpResponse out;
    pages->Handle(request,
                  HttpResponder::FromCallback([&](HttpResponse r) { out = std::move(r); }));
    return out;
  };
  HttpRequest get("GET", "/marketing/unsubscribe?t=" + token);
  HttpResponse page = handle(get);
  EXPECT_EQ(page.status(), 200);
  EXPECT_THAT(std::string(page.body()), HasSubstr("Unsubscribe from Sakura Tea Uji"));
  EXPECT_NE(users_->Get(ada)->marketing_consent_micros, 0);  // a GET changes nothing
  HttpRequest post("POST", "/marketing/unsubscribe?t=" + token);
  post.AddHeader("Content-Type", "application/x-www-form-urlencoded");
  post.SetBody("List-Unsubscribe=One-Click");
  HttpResponse done = handle(post);
  EXPECT_EQ(done.status(), 200);
  EXPECT_THAT(std::string(done.body()), HasSubstr("You are unsubscribed"));
  EXPECT_EQ(users_->Get(ada)->marketing_consent_micros, 0);
  // A forged token: the same "does not work" page, nothing changes.
  HttpRequest forged("POST", "/marketing/unsubscribe?t=AAAA" + token.substr(4));
  forged.AddHeader("Content-Type", "application/x-www-form-urlencoded");
  forged.SetBody("List-Unsubscribe=One-Click");
  EXPECT_EQ(handle(forged).status(), 404);
  HttpRequest no_body("POST", "/marketing/unsubscribe?t=" + token);
  EXPECT_EQ(handle(no_body).status(), 400);

  EXPECT_EQ(campaigns_->Report("first")->unsubscribed, 1);
  // The next campaign does not reach her.
  ASSERT_THAT(campaigns_->Create(Draft("second"), "alice"), IsOk());
  ASSERT_THAT(campaigns_->Start("second"), IsOk());
  const SendProgress p = SendAll("second");
  EXPECT_EQ(p.sent, 1);
  EXPECT_EQ(p.refused, 1);
  EXPECT_EQ(campaigns_->Report("second")->refused_by.at("no marketing consent"), 1);
}

TEST_F(CampaignsTest, ClicksLeadToTheCustomersShopAndOrdersAreAttributed) {
  AddUser("ada@example.org", "Ada", "shop-a", true);
  ASSERT_THAT(campaigns_->Create(Draft("autumn"), "alice"), IsOk());
  ASSERT_THAT(campaigns_->Start("autumn"), IsOk());
  SendAll("autumn");
  const std::string token = TokenOf(Mails()["ada@example.org"]);
  Order("ada@example.org", "shop-a", {"TEA-1"});  // before the click: not the campaign's
  env_.AdvanceSeconds(3600);
  auto click = campaigns_->Click(token, "/products/TEA-1.html");
  ASSERT_THAT(click, IsOk());
  EXPECT_EQ(click->location, "https://uji.example/products/TEA-1.html?tc=autumn");
  EXPECT_THAT(campaigns_->Click(token, "//evil.example/x"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(campaigns_->Click(token, "/a\\b"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(campaigns_->Click("nope", "/"), StatusIs(StatusCode::kNotFound));
  env_.AdvanceSeconds(3600);
  Order("ada@example.org", "shop-a", {"TEA-1", "CUP-1"});  // within the attribution days
  env_.AdvanceSeconds(20 * 86400);
  Order("ada@example.org", "shop-a", {"TEA-2"});  // too late
  auto report = campaigns_->Report("autumn");
  ASSERT_THAT(report, IsOk());
  EXPECT_EQ(report->clicked, 1);
  EXPECT_EQ(report->orders, 1);
  EXPECT_EQ(report->revenue_minor, 3000);

  // Through the public pages: a 303 to the shop.
  auto pages = MakeCampaignLinkPages(
      std::shared_ptr<Campaigns>(campaigns_.get(), [](Campaigns*) {}), content::PageSite{});
  HttpResponse out;
  pages->Handle(HttpRequest("GET", "/marketing/c/" + token + "/products/"),
                HttpResponder::FromCallback([&](HttpResponse r) { out = std::move(r); }));
  EXPECT_EQ(out.status(), 303);
  EXPECT_EQ(out.FindHeader("Location").value_or(""), "https://uji.example/products/?tc=autumn");
}

TEST_F(CampaignsTest, TheRateBoundsHowFastMailsGo) {
  for (int i = 0; i < 5; ++i) {
    AddUser("r" + std::to_string(i) + "@example.org", "R", "shop-a", true);
  }
  ASSERT_THAT(campaigns_->Create(Draft("slow", /*rate=*/6), "alice"), IsOk());
  EXPECT_THAT(campaigns_->Start("slow", "someone"), StatusIs(StatusCode::kInvalidArgument));
  ASSERT_THAT(campaigns_->Start("slow", "command"), IsOk());
  EXPECT_EQ(campaigns_->Get("slow")->sender, "command");
  ASSERT_THAT(campaigns_->SetSender("slow", "daemon"), IsOk());
  EXPECT_EQ(campaigns_->Get("slow")->sender, "daemon");
  EXPECT_THAT(campaigns_->SetSender("nope", "daemon"), StatusIs(StatusCode::kNotFound));
  // Six a minute: one now, then one every ten seconds.
  EXPECT_EQ(campaigns_->SendSome("slow", 100)->sent, 1);
  EXPECT_EQ(campaigns_->SendSome("slow", 100)->sent, 0);
  int64_t wait = 0;
  EXPECT_EQ(campaigns_->AllowedNow(*campaigns_->Get("slow"), &wait), 0);
  EXPECT_GT(wait, 9'000'000);
  EXPECT_LE(wait, 10'000'001);
  env_.AdvanceSeconds(10);
  EXPECT_EQ(campaigns_->SendSome("slow", 100)->sent, 1);
  env_.AdvanceSeconds(600);  // the bucket holds ten seconds' worth, no more
  EXPECT_EQ(campaigns_->SendSome("slow", 100)->sent, 1);
  EXPECT_EQ(Mails().size(), 3u);
  EXPECT_THAT(campaigns_->Create(Draft("bad", 0), "a"), StatusIs(StatusCode::kInvalidArgument));
  CampaignDraft broken = Draft("broken");
  broken.body_markdown = "Hello {{#customer}}";
  EXPECT_THAT(campaigns_->Create(broken, "a"), StatusIs(StatusCode::kInvalidArgument));
  CampaignDraft orphan = Draft("orphan");
  orphan.segment = "nobody";
  EXPECT_THAT(campaigns_->Create(orphan, "a"), StatusIs(StatusCode::kNotFound));
}

TEST_F(MarketingTest, TheFeedTeachesTheRecommenderOnceAndPagesShowOnlyGoodsInStock) {
  auto recommender = users::Recommender::Open(env_, *db_);
  ASSERT_THAT(recommender, IsOk());
  const std::string a = AddUser("ada@example.org", "Ada", "shop-a", true);
  // Tea and cups go together; the sold-out product was bought with tea too.
  Order("ada@example.org", "shop-a", {"TEA-1", "CUP-1"});
  Order("guest1@example.org", "main", {"TEA-1", "CUP-1"});
  Order("guest2@example.org", "main", {"TEA-1", "GONE-1"});
  ASSERT_THAT(db_->Exec("UPDATE commerce_products SET stock = 0 WHERE sku = 'GONE-1'"), IsOk());
  Visit("shop-a", a, "/products/TEA-2.html");
  Visit("shop-a", a, "/products/TEA-1.html");
  Visit("shop-a", a, "/news/");  // not a product's page

  auto fed = FeedRecommendations(*db_, **recommender);
  ASSERT_THAT(fed, IsOk());
  EXPECT_EQ(fed->orders, 3);
  EXPECT_EQ(fed->visits, 3);
  EXPECT_EQ(fed->update.purchases, 6);
  EXPECT_EQ(fed->update.views, 2);
  // Nothing new: nothing read again.
  auto again = FeedRecommendations(*db_, **recommender);
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->orders, 0);
  EXPECT_EQ(again->visits, 0);

  auto all = [](std::string_view) { return true; };
  auto also = (*recommender)->AlsoBought("TEA-1", 5, all);
  ASSERT_THAT(also, IsOk());
  ASSERT_FALSE(also->empty());
  EXPECT_EQ((*also)[0].sku, "CUP-1");  // two customers bought both

  // The pages: GONE-1 is sold out, so never beside TEA-1.
  auto products = shop_->ListProducts();
  ASSERT_THAT(products, IsOk());
  content::PageProducts pages = CatalogPageProducts(*products, shop_->config(), 5);
  auto neighbours = (*recommender)->AllAlsoBought(12, nullptr);
  ASSERT_THAT(neighbours, IsOk());
  AddAlsoBought(*neighbours, *products, 4, pages);
  ASSERT_TRUE(pages.at("TEA-1").contains("also_bought"));
  EXPECT_THAT(pages.at("TEA-1").at("also_bought"), HasSubstr("CUP-1"));
  EXPECT_THAT(pages.at("TEA-1").at("also_bought"), Not(HasSubstr("GONE-1")));
  EXPECT_THAT(pages.at("CUP-1").at("also_bought"), HasSubstr("TEA-1"));

  // A new order is read incrementally.
  Order("guest3@example.org", "main", {"TEA-2", "CUP-1"});
  auto more = FeedRecommendations(*db_, **recommender);
  ASSERT_THAT(more, IsOk());
  EXPECT_EQ(more->orders, 1);
}

}  // namespace
}  // namespace tieup
