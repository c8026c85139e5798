#include "main_site/campaigns.h"

#include <algorithm>
#include <boost/json.hpp>
#include <kainjow/mustache.hpp>
#include <mutex>

#include "base/encoding.h"
#include "commerce/form.h"
#include "content/builder.h"
#include "crypto/hash.h"
#include "net/http_server.h"
#include "users/form_checks.h"
#include "users/user_store.h"

namespace tieup {

// Generated from templates/*.mustache (CMakeLists.txt).
const content::EmbeddedTemplates& EmbeddedCampaignTemplates();

namespace {

namespace json = boost::json;
namespace mustache = kainjow::mustache;

constexpr int64_t kCampaignDayMicros = 86'400'000'000LL;
constexpr int64_t kCampaignMinuteMicros = 60'000'000LL;
// Personal suggestions offered to a mail's template.
constexpr size_t kRecommendedInMail = 4;

const std::vector<Migration>& CampaignMigrations() {
  static const std::vector<Migration> kMigrations = {
      {1,
       "CREATE TABLE marketing_campaigns ("
       "  name TEXT PRIMARY KEY,"
       "  segment TEXT NOT NULL,"
       "  segment_words TEXT NOT NULL DEFAULT '',"
       "  subject TEXT NOT NULL,"
       "  body TEXT NOT NULL,"
       "  state TEXT NOT NULL,"
       "  rate_per_minute INTEGER NOT NULL,"
       "  attribution_days INTEGER NOT NULL,"
       "  created INTEGER NOT NULL,"
       "  created_by TEXT NOT NULL,"
       "  started INTEGER NOT NULL DEFAULT 0,"
       "  finished INTEGER NOT NULL DEFAULT 0,"
       "  sender TEXT NOT NULL DEFAULT 'daemon');"
       // One row per recipient, frozen at Start. state: pending, sending (its mail may be in the
       // outbox: see SendSome), sent, refused (reason says why).
       "CREATE TABLE marketing_recipients ("
       "  campaign TEXT NOT NULL,"
       "  user_id TEXT NOT NULL,"
       "  state TEXT NOT NULL,"
       "  reason TEXT NOT NULL DEFAULT '',"
       "  email TEXT NOT NULL DEFAULT '',"
       "  site TEXT NOT NULL DEFAULT '',"
       "  token_sha256 TEXT NOT NULL DEFAULT '',"
       "  sent_at INTEGER NOT NULL DEFAULT 0,"
       "  clicked_at INTEGER NOT NULL DEFAULT 0,"
       "  unsubscribed_at INTEGER NOT NULL DEFAULT 0,"
       "  PRIMARY KEY (campaign, user_id));"
       "CREATE INDEX marketing_recipients_state ON marketing_recipients(campaign, state);"
       "CREATE INDEX marketing_recipients_token ON marketing_recipients(token_sha256);"},
  };
  return kMigrations;
}

Campaign CampaignFromRow(const SqlRow& row) {
  Campaign c;
  c.name = row.Text(0);
  c.segment = row.Text(1);
  c.segment_words = row.Text(2);
  c.subject = row.Text(3);
  c.body_markdown = row.Text(4);
  c.state = row.Text(5);
  c.rate_per_minute = row.Int(6);
  c.attribution_days = row.Int(7);
  c.created_micros = row.Int(8);
  c.created_by = row.Text(9);
  c.started_micros = row.Int(10);
  c.finished_micros = row.Int(11);
  c.sender = row.Text(12);
  return c;
}

constexpr std::string_view kCampaignColumns =
    "name, segment, segment_words, subject, body, state, rate_per_minute, attribution_days, "
    "created, created_by, started, finished, sender";

// Renders `source` with `data`; `escape` false: values as written (the text part, the subject).
Result<std::string> RenderCampaignTemplate(const std::string& source, const mustache::data& data,
                                           bool escape, const std::string& label) {
  mustache::mustache tmpl(source);
  if (!tmpl.is_valid()) {
    return Status::InvalidArgument(label + ": " + tmpl.error_message());
  }
  if (!escape) tmpl.set_custom_escape([](const std::string& s) { return s; });
  std::string out = tmpl.render(data);
  if (!tmpl.is_valid()) return Status::InvalidArgument(label + ": " + tmpl.error_message());
  return out;
}

// `text` with runs of blank lines (a section that rendered nothing leaves some) cut to one.
std::string WithoutExtraBlankLines(const std::string& text) {
  std::string out;
  int newlines = 0;
  for (char c : text) {
    if (c == '\n') {
      if (++newlines > 2) continue;
    } else if (c != ' ' && c != '\r' && c != '\t') {
      newlines = 0;
    }
    out += c;
  }
  return out;
}

// A subject as one line: line breaks become spaces.
std::string SubjectLine(std::string s) {
  for (char& c : s) {
    if (c == '\r' || c == '\n' || c == '\t') c = ' ';
  }
  return s;
}

}  // namespace

class Campaigns::Impl {
 public:
  Impl(Env& env, Database& db, Segments& segments, commerce::MailOutbox& outbox,
       std::unique_ptr<users::UserStore> users, CampaignOptions options)
      : env_(env),
        db_(db),
        segments_(segments),
        outbox_(outbox),
        users_(std::move(users)),
        options_(std::move(options)),
        templates_(CampaignTemplates(), options_.site) {}

  Result<Campaign> Create(const CampaignDraft& d, std::string_view by) {
    RETURN_IF_ERROR(ValidateSegmentName(d.name).Annotate("campaign name"));
    RETURN_IF_ERROR(segments_.Get(d.segment).status());
    if (commerce::Trim(d.subject).empty()) {
      return Status::InvalidArgument("the campaign needs a subject");
    }
    if (d.subject.size() > 300) return Status::InvalidArgument("the subject is over 300 bytes");
    if (commerce::Trim(d.body_markdown).empty()) {
      return Status::InvalidArgument("the campaign needs a body (Markdown)");
    }
    if (d.body_markdown.size() > 200'000) {
      return Status::InvalidArgument("the body is over 200,000 bytes");
    }
    if (!IsValidUtf8(d.subject) || !IsValidUtf8(d.body_markdown)) {
      return Status::InvalidArgument("the subject and body must be UTF-8 text");
    }
    if (d.rate_per_minute < 1 || d.rate_per_minute > 100'000) {
      return Status::InvalidArgument("the rate must be 1 to 100000 mails per minute");
    }
    if (d.attribution_days < 1 || d.attribution_days > 365) {
      return Status::InvalidArgument("orders are attributed for 1 to 365 days");
    }
    // Both templates must parse now, not at the first recipient.
    mustache::data empty{mustache::data::type::object};
    RETURN_IF_ERROR(RenderCampaignTemplate(d.subject, empty, false, "subject").status());
    RETURN_IF_ERROR(RenderCampaignTemplate(d.body_markdown, empty, false, "body").status());
    const int64_t now = env_.NowMicros();
    RETURN_IF_ERROR(db_.Transaction([&](Database& db) -> Status {
      ASSIGN_OR_RETURN(auto rows,
                       db.Query("SELECT 1 FROM marketing_campaigns WHERE name = ?", {d.name}));
      if (!rows.empty()) {
        return Status::AlreadyExists("campaign '" + d.name + "' exists; choose another name");
      }
      return db.Exec(
          "INSERT INTO marketing_campaigns (name, segment, subject, body, state, "
          "rate_per_minute, attribution_days, created, created_by) VALUES (?, ?, ?, ?, 'draft', "
          "?, ?, ?, ?)",
          {d.name, d.segment, d.subject, d.body_markdown, d.rate_per_minute, d.attribution_days,
           now, std::string(by)});
    }));
    return Get(d.name);
  }

  Result<Campaign> Get(std::string_view name) {
    ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT " + std::string(kCampaignColumns) +
                                              " FROM marketing_campaigns WHERE name = ?",
                                          {std::string(name)}));
    if (rows.empty()) {
      return Status::NotFound("there is no campaign '" + std::string(name.substr(0, 64)) +
                              "' (tieup main campaigns list shows them)");
    }
    return CampaignFromRow(rows[0]);
  }

  Result<std::vector<Campaign>> List() {
    ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT " + std::string(kCampaignColumns) +
                                          " FROM marketing_campaigns ORDER BY created DESC, name"));
    std::vector<Campaign> out;
    for (const SqlRow& row : rows) out.push_back(CampaignFromRow(row));
    return out;
  }

  Result<CampaignMail> Preview(std::string_view name, std::string_view user_id) {
    ASSIGN_OR_RETURN(Campaign c, Get(name));
    ASSIGN_OR_RETURN(users::User user, user_id.find('@') == std::string_view::npos
                                           ? users_->Get(user_id)
                                           : users_->FindByEmail(user_id));
    ASSIGN_OR_RETURN(CampaignBrand brand, options_.brand(user.registered_via));
    return RenderMail(c, user, brand, "preview-token-not-valid");
  }

  static Status CheckSender(std::string_view sender) {
    if (sender != "daemon" && sender != "command") {
      return Status::InvalidArgument("a campaign's sender is \"daemon\" or \"command\"");
    }
    return Status::Ok();
  }

  Status SetSender(std::string_view name, std::string_view sender) {
    RETURN_IF_ERROR(CheckSender(sender));
    std::lock_guard<std::mutex> lock(mu_);
    ASSIGN_OR_RETURN(Campaign c, Get(name));
    return db_.Exec("UPDATE marketing_campaigns SET sender = ? WHERE name = ?",
                    {std::string(sender), c.name});
  }

  Result<int64_t> Start(std::string_view name, std::string_view sender) {
    RETURN_IF_ERROR(CheckSender(sender));
    std::lock_guard<std::mutex> lock(mu_);
    ASSIGN_OR_RETURN(Campaign c, Get(name));
    if (c.state != "draft") {
      return Status::FailedPrecondition("campaign '" + c.name + "' was started already (it is " +
                                        c.state + ")");
    }
    ASSIGN_OR_RETURN(Segment segment, segments_.Get(c.segment));
    ASSIGN_OR_RETURN(std::vector<SegmentMember> members, segments_.Members(segment.definition));
    const int64_t now = env_.NowMicros();
    RETURN_IF_ERROR(db_.Transaction([&](Database& db) -> Status {
      for (const SegmentMember& m : members) {
        RETURN_IF_ERROR(db.Exec(
            "INSERT INTO marketing_recipients (campaign, user_id, state, email, site) VALUES (?, "
            "?, 'pending', ?, ?)",
            {c.name, m.user_id, m.email, m.registered_via}));
      }
      return db.Exec(
          "UPDATE marketing_campaigns SET state = 'sending', started = ?, segment_words = ?, "
          "sender = ? WHERE name = ? AND state = 'draft'",
          {now, DescribeSegment(segment.definition), std::string(sender), c.name});
    }));
    return static_cast<int64_t>(members.size());
  }

  int64_t AllowedNow(const Campaign& c, int64_t* wait_micros) {
    std::lock_guard<std::mutex> lock(pace_mu_);
    return AllowedLocked(c, wait_micros);
  }

  Result<SendProgress> SendSome(std::string_view name, int64_t max) {
    std::lock_guard<std::mutex> lock(mu_);
    const std::string lock_name = "tieup.campaign." + std::string(name);
    ASSIGN_OR_RETURN(bool locked, TryLockName(db_, lock_name));
    if (!locked) {
      return Status::Unavailable("another process is sending campaign '" + std::string(name) +
                                 "'; it goes on there");
    }
    Result<SendProgress> progress = SendLocked(name, max);
    (void)UnlockName(db_, lock_name);
    return progress;
  }

  Result<CampaignReport> Report(std::string_view name) {
    ASSIGN_OR_RETURN(Campaign c, Get(name));
    CampaignReport r;
    ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT state, reason, COUNT(*) FROM "
                                          "marketing_recipients WHERE campaign = ? GROUP BY "
                                          "state, reason",
                                          {c.name}));
    for (const SqlRow& row : rows) {
      const std::string state = row.Text(0);
      const int64_t n = row.Int(2);
      r.recipients += n;
      if (state == "sent") {
        r.sent += n;
      } else if (state == "refused") {
        r.refused += n;
        r.refused_by[row.Text(1)] += n;
      } else {
        r.pending += n;
      }
    }
    ASSIGN_OR_RETURN(auto counts,
                     db_.Query("SELECT SUM(CASE WHEN unsubscribed_at > 0 THEN 1 ELSE 0 END), "
                               "SUM(CASE WHEN clicked_at > 0 THEN 1 ELSE 0 END) FROM "
                               "marketing_recipients WHERE campaign = ?",
                               {c.name}));
    if (!counts.empty()) {
      r.unsubscribed = counts[0].Int(0);
      r.clicked = counts[0].Int(1);
    }
    ASSIGN_OR_RETURN(bool has_orders, TableExists(db_, "commerce_orders"));
    if (has_orders && r.clicked > 0) {
      ASSIGN_OR_RETURN(
          auto orders,
          db_.Query("SELECT COUNT(o.id), SUM(o.total_minor) FROM marketing_recipients r JOIN "
                    "commerce_orders o ON lower(o.email) = lower(r.email) WHERE r.campaign = ? "
                    "AND r.clicked_at > 0 AND o.status <> 'cancelled' AND o.created_micros >= "
                    "r.clicked_at AND o.created_micros <= r.clicked_at + ?",
                    {c.name, c.attribution_days * kCampaignDayMicros}));
      if (!orders.empty()) {
        r.orders = orders[0].Int(0);
        r.revenue_minor = orders[0].Int(1);
      }
    }
    return r;
  }

  struct TokenRow {
    std::string campaign;
    std::string user_id;
    std::string site;
  };

  Result<TokenRow> FindToken(std::string_view token) {
    if (token.empty() || token.size() > 100) return Status::NotFound("unknown link");
    ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT campaign, user_id, site FROM "
                                          "marketing_recipients WHERE token_sha256 = ?",
                                          {Sha256Hex(token)}));
    if (rows.empty()) return Status::NotFound("unknown link");
    return TokenRow{rows[0].Text(0), rows[0].Text(1), rows[0].Text(2)};
  }

  Result<std::string> Unsubscribe(std::string_view token) {
    ASSIGN_OR_RETURN(TokenRow row, FindToken(token));
    Result<users::User> user = users_->SetMarketingConsent(row.user_id, false);
    // An erased account has nothing left to withdraw.
    if (!user.ok() && user.status().code() != StatusCode::kNotFound) return user.status();
    RETURN_IF_ERROR(
        db_.Exec("UPDATE marketing_recipients SET unsubscribed_at = ? WHERE token_sha256 = ? AND "
                 "unsubscribed_at = 0",
                 {env_.NowMicros(), Sha256Hex(token)}));
    return row.user_id;
  }

  Result<CampaignBrand> BrandOfToken(std::string_view token) {
    ASSIGN_OR_RETURN(TokenRow row, FindToken(token));
    return options_.brand(row.site);
  }

  Result<CampaignClick> Click(std::string_view token, std::string_view path) {
    ASSIGN_OR_RETURN(TokenRow row, FindToken(token));
    if (path.empty()) path = "/";
    const bool plain = path[0] == '/' && !path.starts_with("//") && path.size() <= 2000 &&
                       std::none_of(path.begin(), path.end(), [](char c) {
                         return static_cast<unsigned char>(c) <= 0x20 || c == '\\' || c == '?' ||
                                c == '#' || c == 0x7f;
                       });
    if (!plain) return Status::InvalidArgument("the link's path is not a page of the shop");
    ASSIGN_OR_RETURN(CampaignBrand brand, options_.brand(row.site));
    RETURN_IF_ERROR(db_.Exec(
        "UPDATE marketing_recipients SET clicked_at = ? WHERE token_sha256 = ? AND clicked_at = 0",
        {env_.NowMicros(), Sha256Hex(token)}));
    return CampaignClick{brand.url + std::string(path) + "?tc=" + row.campaign};
  }

  // Test hook: called after a recipient's mail is in the outbox, before it is marked sent; an
  // error stops the sender there (a crash).
  std::function<Status(const std::string& user_id)> after_enqueue_for_test;

 private:
  int64_t AllowedLocked(const Campaign& c, int64_t* wait_micros) {
    const int64_t now = env_.NowMicros();
    // A bucket of ten seconds' worth of mails (at least one), full at first.
    const double capacity = std::max(1.0, static_cast<double>(c.rate_per_minute) / 6.0);
    auto [it, fresh] = pace_.try_emplace(c.name, Pace{capacity, now});
    Pace& p = it->second;
    if (!fresh && now > p.at) {
      p.credit = std::min(capacity, p.credit + static_cast<double>(now - p.at) *
                                                   static_cast<double>(c.rate_per_minute) /
                                                   static_cast<double>(kCampaignMinuteMicros));
    }
    p.at = now;
    const int64_t allowed = static_cast<int64_t>(p.credit);
    if (wait_micros != nullptr) {
      *wait_micros = allowed > 0 ? 0
                                 : static_cast<int64_t>((1.0 - p.credit) * kCampaignMinuteMicros /
                                                        static_cast<double>(c.rate_per_minute)) +
                                       1;
    }
    return allowed;
  }

  void Spend(const std::string& name, int64_t n) {
    std::lock_guard<std::mutex> lock(pace_mu_);
    auto it = pace_.find(name);
    if (it != pace_.end()) it->second.credit = std::max(0.0, it->second.credit - n);
  }

  Result<SendProgress> SendLocked(std::string_view name, int64_t max) {
    ASSIGN_OR_RETURN(Campaign c, Get(name));
    SendProgress progress;
    if (c.state == "draft") {
      return Status::FailedPrecondition("campaign '" + c.name +
                                        "' is a draft: start it first (tieup main campaigns send)");
    }
    if (c.state == "done") {
      progress.done = true;
      return progress;
    }
    int64_t allowed = 0;
    {
      std::lock_guard<std::mutex> lock(pace_mu_);
      allowed = std::min(max, AllowedLocked(c, nullptr));
    }
    if (allowed > 0) {
      // Interrupted mails first ('sending' sorts after 'pending').
      ASSIGN_OR_RETURN(auto rows,
                       db_.Query("SELECT user_id, state, site FROM marketing_recipients WHERE "
                                 "campaign = ? AND state IN ('pending', 'sending') ORDER BY "
                                 "state DESC, user_id LIMIT ?",
                                 {c.name, allowed}));
      for (const SqlRow& row : rows) {
        ASSIGN_OR_RETURN(bool sent, SendOne(c, row.Text(0), row.Text(1) == "sending", &progress));
        if (sent) Spend(c.name, 1);
      }
    }
    ASSIGN_OR_RETURN(auto left, db_.Query("SELECT COUNT(*) FROM marketing_recipients WHERE "
                                          "campaign = ? AND state IN ('pending', 'sending')",
                                          {c.name}));
    progress.left = left.empty() ? 0 : left[0].Int(0);
    if (progress.left == 0) {
      RETURN_IF_ERROR(db_.Exec(
          "UPDATE marketing_campaigns SET state = 'done', finished = ? WHERE name = ? AND state "
          "= 'sending'",
          {env_.NowMicros(), c.name}));
      progress.done = true;
    }
    return progress;
  }

  Status Refuse(const Campaign& c, const std::string& user_id, const std::string& reason,
                SendProgress* progress) {
    ++progress->refused;
    return db_.Exec(
        "UPDATE marketing_recipients SET state = 'refused', reason = ? WHERE campaign = ? AND "
        "user_id = ?",
        {reason, c.name, user_id});
  }

  Status MarkSent(const Campaign& c, const std::string& user_id, SendProgress* progress) {
    ++progress->sent;
    return db_.Exec(
        "UPDATE marketing_recipients SET state = 'sent', sent_at = ? WHERE campaign = ? AND "
        "user_id = ?",
        {env_.NowMicros(), c.name, user_id});
  }

  // Sends (or finishes sending) one recipient's mail; true when a mail went to the outbox.
  Result<bool> SendOne(const Campaign& c, const std::string& user_id, bool interrupted,
                       SendProgress* progress) {
    const std::string message_name = "campaign-" + c.name + "-" + user_id;
    if (interrupted) {
      ASSIGN_OR_RETURN(bool held, outbox_.Holds(message_name));
      if (held) {
        RETURN_IF_ERROR(MarkSent(c, user_id, progress));
        return false;  // written before: not a new mail
      }
    }
    Result<users::User> user = users_->Get(user_id);
    if (!user.ok()) {
      if (user.status().code() != StatusCode::kNotFound) return user.status();
      RETURN_IF_ERROR(Refuse(c, user_id, "account erased", progress));
      return false;
    }
    if (user->disabled_micros != 0) {
      RETURN_IF_ERROR(Refuse(c, user_id, "account disabled", progress));
      return false;
    }
    if (user->marketing_consent_micros == 0) {
      RETURN_IF_ERROR(Refuse(c, user_id, "no marketing consent", progress));
      return false;
    }
    Result<CampaignBrand> brand = options_.brand(user->registered_via);
    if (!brand.ok()) {
      RETURN_IF_ERROR(Refuse(c, user_id, "site " + user->registered_via + " unknown", progress));
      return false;
    }
    if (!brand->marketing) {
      RETURN_IF_ERROR(
          Refuse(c, user_id, "marketing option off for " + user->registered_via, progress));
      return false;
    }
    const std::string token = Base64UrlEncode(RandomString(env_, 24));
    RETURN_IF_ERROR(db_.Exec(
        "UPDATE marketing_recipients SET state = 'sending', token_sha256 = ?, email = ? WHERE "
        "campaign = ? AND user_id = ?",
        {Sha256Hex(token), user->email, c.name, user_id}));
    ASSIGN_OR_RETURN(CampaignMail mail, RenderMail(c, *user, *brand, token));
    Result<std::string> queued = outbox_.EnqueueAs(message_name, std::move(mail.message));
    if (!queued.ok() && queued.status().code() != StatusCode::kAlreadyExists) {
      return queued.status();
    }
    if (after_enqueue_for_test) RETURN_IF_ERROR(after_enqueue_for_test(user_id));
    RETURN_IF_ERROR(MarkSent(c, user_id, progress));
    return queued.ok();
  }

  Result<CampaignMail> RenderMail(const Campaign& c, const users::User& user,
                                  const CampaignBrand& brand, const std::string& token) {
    const std::string click = options_.main_url + std::string(kCampaignLinksPrefix) + "c/" + token;
    const std::string unsubscribe =
        options_.main_url + std::string(kCampaignLinksPrefix) + "unsubscribe?t=" + token;
    mustache::data customer{mustache::data::type::object};
    customer.set("name", user.display_name);
    mustache::data partner{mustache::data::type::object};
    partner.set("name", brand.name);
    partner.set("region", brand.region);
    partner.set("url", click);
    mustache::data recommended{mustache::data::type::list};
    if (options_.recommend) {
      ASSIGN_OR_RETURN(auto products, options_.recommend(user.id, kRecommendedInMail));
      for (const CampaignProduct& p : products) {
        mustache::data item{mustache::data::type::object};
        item.set("title", p.title);
        item.set("price", p.price);
        item.set("url", click + p.page_path);
        recommended.push_back(item);
      }
    }
    mustache::data data{mustache::data::type::object};
    data.set("customer", customer);
    data.set("partner", partner);
    data.set("recommended", recommended);
    data.set("unsubscribe_url", unsubscribe);

    CampaignMail mail;
    mail.brand = brand;
    mail.unsubscribe_url = unsubscribe;
    commerce::MailMessage& m = mail.message;
    m.from = {brand.name, options_.from_address};
    m.to = {{user.display_name, user.email}};
    ASSIGN_OR_RETURN(std::string subject,
                     RenderCampaignTemplate(c.subject, data, false, "subject"));
    m.subject = SubjectLine(std::move(subject));
    ASSIGN_OR_RETURN(std::string text,
                     RenderCampaignTemplate(c.body_markdown, data, false, "body"));
    m.body = WithoutExtraBlankLines(text) + "\n\n-- \nYou receive this mail because you asked " +
             brand.name + " for news by mail. To receive no more, open:\n" + unsubscribe + "\n" +
             brand.url + "\n";
    ASSIGN_OR_RETURN(std::string escaped,
                     RenderCampaignTemplate(c.body_markdown, data, true, "body"));
    ASSIGN_OR_RETURN(std::string html, content::RenderMarkdown(escaped, "campaign " + c.name));
    ASSIGN_OR_RETURN(
        m.html_body,
        templates_.RenderBody(
            "campaign_mail",
            json::object{
                {"subject", m.subject},
                {"content", html},
                {"network", options_.network_name.empty() ? brand.name : options_.network_name},
                {"partner", brand.site != "main" && brand.name != options_.network_name},
                {"unsubscribe_url", unsubscribe},
                {"brand", json::object{{"name", brand.name},
                                       {"region", brand.region},
                                       {"url", brand.url},
                                       {"link", click}}}}));
    m.extra_headers = {{"List-Unsubscribe", "<" + unsubscribe + ">"},
                       {"List-Unsubscribe-Post", "List-Unsubscribe=One-Click"}};
    return mail;
  }

  struct Pace {
    double credit = 0;
    int64_t at = 0;
  };

  Env& env_;
  Database& db_;
  Segments& segments_;
  commerce::MailOutbox& outbox_;
  std::unique_ptr<users::UserStore> users_;
  const CampaignOptions options_;
  const content::PageTemplates templates_;
  std::mutex mu_;  // one sender per process
  std::mutex pace_mu_;
  std::map<std::string, Pace> pace_;  // guarded by pace_mu_
};

Result<std::unique_ptr<Campaigns>> Campaigns::Open(Env& env, Database& db, Segments& segments,
                                                   commerce::MailOutbox& outbox,
                                                   CampaignOptions options) {
  if (!options.brand) return Status::InvalidArgument("campaigns need a brand lookup");
  RETURN_IF_ERROR(Migrate(db, "marketing_campaigns", CampaignMigrations()));
  ASSIGN_OR_RETURN(auto users, users::UserStore::Open(env, db));
  return std::unique_ptr<Campaigns>(new Campaigns(
      std::make_unique<Impl>(env, db, segments, outbox, std::move(users), std::move(options))));
}

Campaigns::Campaigns(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Campaigns::~Campaigns() = default;

Result<Campaign> Campaigns::Create(const CampaignDraft& draft, std::string_view by) {
  return impl_->Create(draft, by);
}
Result<Campaign> Campaigns::Get(std::string_view name) { return impl_->Get(name); }
Result<std::vector<Campaign>> Campaigns::List() { return impl_->List(); }
Result<CampaignMail> Campaigns::Preview(std::string_view name, std::string_view user_id) {
  return impl_->Preview(name, user_id);
}
Result<int64_t> Campaigns::Start(std::string_view name, std::string_view sender) {
  return impl_->Start(name, sender);
}
Status Campaigns::SetSender(std::string_view name, std::string_view sender) {
  return impl_->SetSender(name, sender);
}
Result<SendProgress> Campaigns::SendSome(std::string_view name, int64_t max) {
  return impl_->SendSome(name, max);
}
int64_t Campaigns::AllowedNow(const Campaign& campaign, int64_t* wait_micros) {
  return impl_->AllowedNow(campaign, wait_micros);
}
Result<CampaignReport> Campaigns::Report(std::string_view name) { return impl_->Report(name); }
Result<std::string> Campaigns::Unsubscribe(std::string_view token) {
  return impl_->Unsubscribe(token);
}
Result<CampaignBrand> Campaigns::BrandOfToken(std::string_view token) {
  return impl_->BrandOfToken(token);
}
Result<CampaignClick> Campaigns::Click(std::string_view token, std::string_view path) {
  return impl_->Click(token, path);
}
void Campaigns::SetAfterEnqueueForTest(std::function<Status(const std::string&)> hook) {
  impl_->after_enqueue_for_test = std::move(hook);
}

const content::EmbeddedTemplates& CampaignTemplates() { return EmbeddedCampaignTemplates(); }

namespace {

class CampaignLinkPages : public HttpHandler {
 public:
  CampaignLinkPages(std::shared_ptr<Campaigns> campaigns, content::PageSite site)
      : campaigns_(std::move(campaigns)), templates_(CampaignTemplates(), std::move(site)) {}

  std::string_view AllowedMethods() const override { return "GET, HEAD, POST"; }

  void Handle(const HttpRequest& request, HttpResponder responder) override {
    responder.Respond(Respond(request));
  }

 private:
  HttpResponse Respond(const HttpRequest& request) {
    const std::string_view path = request.path();
    const std::string prefix(kCampaignLinksPrefix);
    if (path == prefix + "unsubscribe") return UnsubscribePage(request);
    if (path.starts_with(prefix + "c/") && request.method() != "POST") {
      std::string_view rest = path.substr(prefix.size() + 2);
      const size_t slash = rest.find('/');
      const std::string_view token = rest.substr(0, slash);
      const std::string_view target = slash == std::string_view::npos ? "/" : rest.substr(slash);
      Result<CampaignClick> click = campaigns_->Click(token, target);
      if (!click.ok()) {
        return Problem(request, click.status().code() == StatusCode::kNotFound ? 404 : 400,
                       "This link does not work",
                       "This link is not one of our mails' or was changed on its way. Visit the "
                       "shop from its home page instead.");
      }
      HttpResponse r = HttpResponse::Text(303, "See " + click->location + "\n");
      r.AddHeader("Location", click->location);
      r.AddHeader("Cache-Control", "no-store");
      r.AddHeader("Referrer-Policy", "no-referrer");
      return r;
    }
    return Problem(request, 404, "Page not found", "There is no page at this address.");
  }

  HttpResponse UnsubscribePage(const HttpRequest& request) {
    auto query = commerce::ParseForm(request.query());
    const std::string token(query.ok() ? query->Get("t") : "");
    Result<CampaignBrand> brand = campaigns_->BrandOfToken(token);
    if (!brand.ok()) {
      return Problem(request, 404, "This link does not work",
                     "This unsubscribe link is not one of our mails'. Your account page lets "
                     "you stop our mail at any time.");
    }
    if (request.method() != "POST") {
      return Page(request, 200, "Unsubscribe", "unsubscribe",
                  json::object{{"brand", brand->name}, {"token", token}});
    }
    // RFC 8058: the mail provider POSTs "List-Unsubscribe=One-Click" to the link, without
    // cookies; the page's button sends the same. The token is the only credential either needs.
    auto form = users::ReadPostedForm(request);
    if (!form.ok() || form->Get("List-Unsubscribe") != "One-Click") {
      return Problem(request, 400, "The request could not be read",
                     "Use the Unsubscribe button on the page this link opens.");
    }
    Result<std::string> done = campaigns_->Unsubscribe(token);
    if (!done.ok()) {
      return Problem(request, 503, "Please try again",
                     "Unsubscribing failed for a moment; press the button again in a minute.");
    }
    return Page(request, 200, "Unsubscribed", "unsubscribed", json::object{{"brand", brand->name}});
  }

  HttpResponse Page(const HttpRequest& request, int status, std::string_view title,
                    std::string_view name, const json::object& data) {
    HttpResponse r = users::RenderUserPage(templates_, request, status, title, name, data);
    // RenderUserPage's "same-origin" keeps the address (and its token) from other sites.
    return r;
  }

  HttpResponse Problem(const HttpRequest& request, int status, std::string_view heading,
                       std::string_view message) {
    return Page(request, status, heading, "campaign_problem",
                json::object{{"heading", heading}, {"message", message}});
  }

  std::shared_ptr<Campaigns> campaigns_;
  const content::PageTemplates templates_;
};

}  // namespace

std::shared_ptr<HttpHandler> MakeCampaignLinkPages(std::shared_ptr<Campaigns> campaigns,
                                                   content::PageSite site) {
  return std::make_shared<CampaignLinkPages>(std::move(campaigns), std::move(site));
}

}  // namespace tieup
