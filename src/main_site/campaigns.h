// Direct-mail campaigns main sends on its partners' behalf (issue 19 item 2; DESIGN.md
// "Management on the partners' behalf", Users).
//
// A campaign is a mail written in Markdown with mustache variables, addressed to a saved segment
// (main_site/segments.h). Its life: Create (a draft) -> Start (the segment's members are frozen as
// the campaign's recipients) -> SendSome, again and again at the campaign's rate, until no
// recipient is pending (done).
//
// Each recipient's mail wears the brand of the partner the customer belongs to (the site the
// account was registered via; "main" for main's own customers): the partner's shop name as the
// sender's name, its region, and links to its own site. Variables of the body:
//   {{customer.name}}        the account's display name
//   {{partner.name}} {{partner.region}}   the partner's (main's own name for main's customers)
//   {{partner.url}}          the partner's site, through main's click link: write
//                            [our new teas]({{partner.url}}/products/) and the customer lands on
//                            the partner's /products/ with the campaign noted
//   {{#recommended}}{{title}} {{price}} {{url}}{{/recommended}}  personal suggestions
//                            (users/recommendations.h), never sold out, linked the same way
//   {{unsubscribe_url}}      the one-click unsubscribe page
// The text part is the rendered Markdown as written; the HTML part is the Markdown as HTML
// (customer values escaped) inside the template "campaign_mail" (main_site/templates; main may
// replace it by publishing /.tieup/templates/campaign_mail.mustache).
//
// Consent and unsubscribing: a mail goes only to an active account with marketing consent at the
// moment it is sent, of a site with the "marketing" option enabled (its fee line, fees/billing.h);
// others are "refused" with the reason. Every mail carries List-Unsubscribe (the HTTPS link with
// the recipient's own token) and List-Unsubscribe-Post: List-Unsubscribe=One-Click (RFC 8058):
// Unsubscribe withdraws the account's consent at once, so no later mail of any campaign reaches
// it.
//
// Never twice: a recipient's mail is written to the outbox under a name made of the campaign and
// the account (commerce::MailOutbox::EnqueueAs), after its state became "sending" in the
// database; a sender that crashes anywhere is resumed by SendSome, which finds a "sending"
// recipient's mail in the outbox (then only marks it sent) or writes it. One sender per
// campaign: each campaign names who sends it (Campaign::sender: the daemon's periodic task, or
// the command that started it, which resumes it when run again); on PostgreSQL a named database
// lock also keeps two processes apart (a second one is told it is busy).
//
// Report: recipients, sent, refused (by reason), pending, unsubscribed through the campaign,
// clicked, and orders that followed: orders in main's shop by a recipient who clicked, placed
// within the campaign's attribution days after the click (the click link's token names the
// campaign and the recipient).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/env.h"
#include "base/status.h"
#include "commerce/mail.h"
#include "content/page_templates.h"
#include "main_site/segments.h"
#include "net/http_server.h"
#include "store/database.h"

namespace tieup {

// Whom a customer's mail comes from: the site the account belongs to.
struct CampaignBrand {
  std::string site;        // a partner id, or "main"
  std::string name;        // the shop's name ("Sakura Tea Uji")
  std::string region;      // may be empty
  std::string url;         // the site's public URL, no trailing slash
  bool marketing = false;  // the "marketing" option is enabled for the partnership (main: true)
};

// A suggested product, as the mail shows it.
struct CampaignProduct {
  std::string title;
  std::string price;      // as customers read it ("¥1,800")
  std::string page_path;  // on the customer's site ("/products/gyokuro.html")
};

struct CampaignOptions {
  // Main's public URL (no trailing slash): the unsubscribe and click links are on main.
  std::string main_url;
  // The sender address of every campaign mail; the display name is the brand's name.
  std::string from_address;
  // The network's name (main's site name), which every partner trades under: the HTML part's
  // heading, above the partner's name.
  std::string network_name;
  // The brand of `site` (a partner id or "main"); NotFound for an unknown or revoked partner.
  std::function<Result<CampaignBrand>(std::string_view site)> brand;
  // Up to `n` personal suggestions for the account (in stock); null: none.
  std::function<Result<std::vector<CampaignProduct>>(std::string_view user_id, size_t n)> recommend;
  // The layout the HTML part is rendered in (main's own site's templates).
  content::PageSite site;
};

struct CampaignDraft {
  std::string name;     // 1..64 of [a-z0-9_-], as segments' names; the campaign's id
  std::string segment;  // a saved segment's name
  std::string subject;  // one line, may hold {{partner.name}} and {{customer.name}}
  std::string body_markdown;
  int64_t rate_per_minute = 60;   // 1..100000: mails written to the outbox per minute, at most
  int64_t attribution_days = 14;  // 1..365
};

struct Campaign {
  std::string name;
  std::string segment;
  std::string segment_words;  // DescribeSegment of the definition (frozen at Start)
  std::string subject;
  std::string body_markdown;
  std::string state;  // "draft", "sending" or "done"
  // Who sends it once started: "daemon" (its periodic task) or "command" (`campaigns send`).
  std::string sender;
  int64_t rate_per_minute = 0;
  int64_t attribution_days = 0;
  int64_t created_micros = 0;
  std::string created_by;
  int64_t started_micros = 0;
  int64_t finished_micros = 0;
};

struct CampaignReport {
  int64_t recipients = 0;
  int64_t pending = 0;  // not yet sent (or being sent)
  int64_t sent = 0;
  int64_t refused = 0;
  std::map<std::string, int64_t> refused_by;  // reason -> count
  int64_t unsubscribed = 0;                   // through this campaign's mails
  int64_t clicked = 0;                        // recipients who opened a link of it
  int64_t orders = 0;  // by clickers, within the attribution days after their click
  int64_t revenue_minor = 0;
};

// One recipient's mail, rendered (Preview; what SendSome writes).
struct CampaignMail {
  commerce::MailMessage message;
  std::string unsubscribe_url;
  CampaignBrand brand;
};

struct SendProgress {
  int64_t sent = 0;     // by this call
  int64_t refused = 0;  // by this call
  int64_t left = 0;     // pending after it
  bool done = false;    // the campaign has no pending recipient
};

// What a click link leads to.
struct CampaignClick {
  std::string location;  // the brand's URL + the path, with "tc=<campaign>" added to its query
};

// Thread-safe. `db`, `outbox` and `segments` must outlive the object.
class Campaigns {
 public:
  // Migrates the "marketing_campaigns" schema.
  static Result<std::unique_ptr<Campaigns>> Open(Env& env, Database& db, Segments& segments,
                                                 commerce::MailOutbox& outbox,
                                                 CampaignOptions options);
  ~Campaigns();

  // A new draft. InvalidArgument naming the field (bad name, empty subject or body, a template
  // that does not parse, rates out of range); NotFound for an unknown segment; AlreadyExists.
  Result<Campaign> Create(const CampaignDraft& draft, std::string_view by);
  Result<Campaign> Get(std::string_view name);
  // Newest first.
  Result<std::vector<Campaign>> List();

  // The mail the account `user` (its id, or its e-mail address) would get now (any account: a
  // preview does not check consent). NotFound for an unknown campaign or account.
  Result<CampaignMail> Preview(std::string_view name, std::string_view user);

  // Freezes the segment's members as recipients and starts sending; returns how many. `sender`:
  // who sends it, "daemon" or "command" (Campaign::sender). FailedPrecondition when the
  // campaign is not a draft.
  Result<int64_t> Start(std::string_view name, std::string_view sender = "daemon");
  // Hands a campaign being sent to `sender` ("daemon" or "command"): a command resuming what
  // the daemon was sending, or leaving the rest to it.
  Status SetSender(std::string_view name, std::string_view sender);

  // Writes the next mails, at most `max` (and no faster than the campaign's rate allows since
  // the last call: SendSome may write fewer), resuming any interrupted one first. Unavailable when
  // another sender holds the campaign.
  Result<SendProgress> SendSome(std::string_view name, int64_t max);
  // How many mails the rate allows now (for the caller's pacing), and the micros to wait before
  // one more is allowed when none is.
  int64_t AllowedNow(const Campaign& campaign, int64_t* wait_micros);

  Result<CampaignReport> Report(std::string_view name);

  // The recipient of `token` unsubscribes (RFC 8058 one-click, or the page's button): the
  // account's marketing consent is withdrawn now. Returns the account id. NotFound for an
  // unknown token (no oracle beyond that).
  Result<std::string> Unsubscribe(std::string_view token);
  // The brand of `token`'s recipient, for the unsubscribe page. NotFound as above.
  Result<CampaignBrand> BrandOfToken(std::string_view token);
  // A click on a link of the mail: recorded (the first click counts), and where to send the
  // browser. NotFound for an unknown token; InvalidArgument for a path that is not a plain
  // absolute path on the site.
  Result<CampaignClick> Click(std::string_view token, std::string_view path);

  // Called after a recipient's mail is in the outbox and before it is marked sent; an error stops
  // the sender there, as a crash would.
  void SetAfterEnqueueForTest(std::function<Status(const std::string& user_id)> hook);

 private:
  class Impl;
  explicit Campaigns(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The public pages of campaign links, on main's public site under kCampaignLinksPrefix:
//   GET  /marketing/unsubscribe?t=TOKEN   a page in main's layout with a button
//   POST /marketing/unsubscribe?t=TOKEN   (body "List-Unsubscribe=One-Click", RFC 8058, or the
//                                          button's form): unsubscribes; a page says so
//   GET  /marketing/c/TOKEN/PATH          records the click, redirects (303) to the brand's PATH
std::shared_ptr<HttpHandler> MakeCampaignLinkPages(std::shared_ptr<Campaigns> campaigns,
                                                   content::PageSite site);
inline constexpr std::string_view kCampaignLinksPrefix = "/marketing/";

// The built-in templates: campaign_mail (the HTML part), unsubscribe, unsubscribed,
// campaign_problem.
const content::EmbeddedTemplates& CampaignTemplates();

}  // namespace tieup
