// `tieup main partner ...`, `tieup main publish`, `tieup main status`: the main site manager's
// partnership commands.
#include <map>
#include <set>

#include "base/encoding.h"
#include "base/progress_meter.h"
#include "base/toml_text.h"
#include "cli.h"
#include "fees/billing.h"
#include "main_site/control.h"
#include "main_site/customer_copies.h"
#include "main_site/main_sync.h"
#include "main_site/publish_run.h"
#include "main_site/withdrawals.h"
#include "sync/partnership_terms.h"
#include "sync/schedule.h"

namespace tieup::cli {
namespace {

// Opens main's sync side for a one-shot command.
struct MainSession {
  SiteConfig config;
  std::unique_ptr<Database> db;
  std::unique_ptr<MainSync> sync;
};

Result<MainSession> OpenMain(Env& env, const std::string& dir) {
  MainSession s;
  ASSIGN_OR_RETURN(s.config, LoadSiteConfigFor(env, dir, SiteRole::kMain));
  ASSIGN_OR_RETURN(s.db, OpenSiteDatabase(s.config, dir));
  ASSIGN_OR_RETURN(s.sync, MainSync::Open(env, dir, s.config, *s.db, NewNullLogger()));
  return s;
}

struct AddArgs {
  std::string dir, id, name, region, public_url, sync_url, kind = "contents", approval = "auto";
  std::string schedule, retry = "backoff:30s..1h", overrides, ttl = "24h";
  std::string emergency_edit = "none";
  std::string link_mode = "redirect";
  std::vector<std::string> vars;
  std::string expiry_grace;  // "" : the default (main_site/withdrawals.h)
};

// Sets the partnership's expiry grace period (`--expiry-grace`); the change in words, "" when
// unchanged. Main signs it for the partner (main_site/withdrawals.h).
Result<std::string> SetExpiryGrace(Env& env, MainSession& s, const std::string& dir,
                                   const std::string& id, const std::string& text) {
  ASSIGN_OR_RETURN(int64_t seconds, sync::ParseDuration(text));
  ASSIGN_OR_RETURN(auto issuer, OpenWithdrawalIssuer(env, dir, s.config, *s.db));
  return issuer->SetExpiryGrace(id, seconds, CommandLineUser());
}

// The partnership `a` describes (its options checked).
Result<sync::Partnership> PartnershipFromArgs(const AddArgs& a) {
  sync::Partnership p;
  p.id = a.id;
  p.name = a.name.empty() ? a.id : a.name;
  p.region = a.region;
  p.public_url = a.public_url;
  p.sync_url = a.sync_url;
  ASSIGN_OR_RETURN(p.kind, sync::ParsePartnershipKind(a.kind));
  ASSIGN_OR_RETURN(p.approval, sync::ParseApprovalPolicy(a.approval));
  ASSIGN_OR_RETURN(p.emergency_edit, content::ParseEmergencyEditPolicy(a.emergency_edit));
  ASSIGN_OR_RETURN(p.link_mode, content::ParseLinkMode(a.link_mode));
  p.schedule = a.schedule;
  p.retry = a.retry;
  p.overrides_dir = a.overrides;
  for (const std::string& v : a.vars) {
    size_t eq = v.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Status::InvalidArgument("--var '" + v + "' must be NAME=VALUE");
    }
    p.variables[v.substr(0, eq)] = v.substr(eq + 1);
  }
  return p;
}

Status PartnerAdd(Env& env, const AddArgs& a) {
  ASSIGN_OR_RETURN(sync::Partnership p, PartnershipFromArgs(a));
  ASSIGN_OR_RETURN(MainSession s, OpenMain(env, a.dir));
  ASSIGN_OR_RETURN(int64_t ttl, sync::ParseDuration(a.ttl));
  if (!a.expiry_grace.empty()) RETURN_IF_ERROR(sync::ParseDuration(a.expiry_grace).status());
  ASSIGN_OR_RETURN(EnrollmentCode code, s.sync->AddPartner(p, ttl));
  if (!a.expiry_grace.empty()) {
    RETURN_IF_ERROR(SetExpiryGrace(env, s, a.dir, p.id, a.expiry_grace).status());
  }
  std::printf("Added partner '%s' (%s, approval %s, emergency edit %s%s%s).\n", p.id.c_str(),
              a.kind.c_str(), a.approval.c_str(), a.emergency_edit.c_str(),
              p.schedule.empty() ? "" : ", schedule ", p.schedule.c_str());
  std::printf("\nEnrollment code (one use, expires %s):\n  %s\n",
              FormatRfc3339(code.expires).c_str(), code.code.c_str());
  std::printf(
      "\nOn the partner's server, run:\n  tieup partner enroll PARTNER_DIR --main https://%s "
      "--token %s\n",
      s.config.sync_address.ToString().c_str(), code.code.c_str());
  std::printf(
      "(or 'tieup partner init PARTNER_DIR --id %s ... --main ... --token ...' for a new "
      "site)\n",
      p.id.c_str());
  return Status::Ok();
}

struct ImportArgs {
  std::string dir, file, codes, ttl = "7d";
};

// One [[partner]] entry of an import file as the options of 'partner add'; an unknown key or a
// value of the wrong type is an error naming the entry.
Result<AddArgs> ImportEntry(const toml::table& t, size_t index, const std::string& file) {
  AddArgs a;
  const std::string where = file + ": partner " + std::to_string(index + 1);
  std::map<std::string, std::string*> text = {
      {"id", &a.id},
      {"name", &a.name},
      {"region", &a.region},
      {"public_url", &a.public_url},
      {"sync_url", &a.sync_url},
      {"kind", &a.kind},
      {"approval", &a.approval},
      {"emergency_edit", &a.emergency_edit},
      {"link_mode", &a.link_mode},
      {"schedule", &a.schedule},
      {"retry", &a.retry},
      {"overrides", &a.overrides},
      {"expiry_grace", &a.expiry_grace},
  };
  for (const auto& [key, value] : t) {
    const std::string k(key.str());
    if (k == "variables") {
      const toml::table* vars = value.as_table();
      if (vars == nullptr) return Status::InvalidArgument(where + ": 'variables' must be a table");
      for (const auto& [name, v] : *vars) {
        const std::string* s = v.as_string() ? &v.as_string()->get() : nullptr;
        if (s == nullptr) {
          return Status::InvalidArgument(where + ": variable '" + std::string(name.str()) +
                                         "' must be a string");
        }
        a.vars.push_back(std::string(name.str()) + "=" + *s);
      }
      continue;
    }
    auto field = text.find(k);
    if (field == text.end()) {
      return Status::InvalidArgument(
          where + ": unknown key '" + k +
          "' (keys: id, name, region, public_url, sync_url, kind, approval, emergency_edit, "
          "link_mode, schedule, retry, overrides, expiry_grace, and a table 'variables')");
    }
    if (!value.is_string()) {
      return Status::InvalidArgument(where + ": '" + k + "' must be a string");
    }
    *field->second = value.as_string()->get();
  }
  if (a.id.empty() || a.public_url.empty()) {
    return Status::InvalidArgument(where + ": 'id' and 'public_url' are required");
  }
  return a;
}

// 'partner import': many partnerships at once (an operator with thousands of partners), every
// entry checked before any is added; the enrollment codes go to a file only the owner can read.
Status PartnerImport(Env& env, const ImportArgs& a) {
  ASSIGN_OR_RETURN(std::string text, env.ReadFile(a.file));
  ASSIGN_OR_RETURN(toml::table root, ParseTomlText(text, a.file));
  for (const auto& [key, value] : root) {
    if (key.str() != "partner") {
      return Status::InvalidArgument(a.file + ": unknown key '" + std::string(key.str()) +
                                     "': the file is a list of [[partner]] tables");
    }
  }
  const toml::array* list = root["partner"].as_array();
  if (list == nullptr || list->empty()) {
    return Status::InvalidArgument(a.file + ": no [[partner]] tables: nothing to import");
  }
  ASSIGN_OR_RETURN(int64_t ttl, sync::ParseDuration(a.ttl));
  std::vector<AddArgs> entries;
  std::vector<sync::Partnership> partnerships;
  std::set<std::string> ids;
  for (size_t i = 0; i < list->size(); ++i) {
    const toml::table* t = list->get(i)->as_table();
    if (t == nullptr) return Status::InvalidArgument(a.file + ": 'partner' must be tables");
    ASSIGN_OR_RETURN(AddArgs entry, ImportEntry(*t, i, a.file));
    auto p = PartnershipFromArgs(entry);
    if (!p.ok()) return p.status().Annotate(a.file + ": partner '" + entry.id + "'");
    if (!entry.expiry_grace.empty()) {
      RETURN_IF_ERROR(sync::ParseDuration(entry.expiry_grace)
                          .status()
                          .Annotate(a.file + ": partner '" + entry.id + "': expiry_grace"));
    }
    if (!ids.insert(entry.id).second) {
      return Status::InvalidArgument(a.file + ": partner '" + entry.id + "' is listed twice");
    }
    entries.push_back(std::move(entry));
    partnerships.push_back(std::move(*p));
  }
  ASSIGN_OR_RETURN(MainSession s, OpenMain(env, a.dir));
  for (const sync::Partnership& p : partnerships) {
    if (s.sync->publisher().GetPartnership(p.id).ok()) {
      return Status::AlreadyExists("partner '" + p.id +
                                   "' exists already: remove it from the file (nothing was added)");
    }
  }
  // The codes file is written as the partnerships are added, so that a failure half way leaves
  // the codes of those added. Made owner-only before the first code is in it.
  if (env.FileExists(a.codes)) {
    return Status::AlreadyExists(a.codes +
                                 " exists (it may hold codes not yet handed out): "
                                 "give another --codes file (nothing was added)");
  }
  ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> out, env.NewWritableFile(a.codes));
  RETURN_IF_ERROR(env.SetPermissions(a.codes, 0600));
  ProgressMeter meter(env, StderrMeterOptions("partners"));
  meter.SetTotal(partnerships.size());
  for (size_t i = 0; i < partnerships.size(); ++i) {
    const sync::Partnership& p = partnerships[i];
    auto code = s.sync->AddPartner(p, ttl);
    Status added = code.status();
    if (added.ok() && !entries[i].expiry_grace.empty()) {
      added = SetExpiryGrace(env, s, a.dir, p.id, entries[i].expiry_grace).status();
    }
    if (added.ok()) added = out->Append(p.id + "\t" + code->code + "\n");
    if (!added.ok()) {
      meter.Finish();
      (void)out->Close();
      return added.Annotate("partner '" + p.id + "' (" + std::to_string(i) +
                            " added before it; their codes are in " + a.codes +
                            "; remove them from the file and import the rest)");
    }
    meter.AddDone(1);
  }
  RETURN_IF_ERROR(out->Sync());
  RETURN_IF_ERROR(out->Close());
  meter.Finish();
  std::printf(
      "Added %zu partners. Their one-time enrollment codes (one line each: id, a tab, the code; "
      "valid until %s) are in %s, readable only by you: hand each partner its own, for "
      "'tieup partner enroll PARTNER_DIR --main https://%s --token CODE'.\n",
      partnerships.size(), FormatRfc3339(env.NowSeconds() + ttl).c_str(), a.codes.c_str(),
      s.config.sync_address.ToString().c_str());
  return Status::Ok();
}

Status PartnerToken(Env& env, const std::string& dir, const std::string& id,
                    const std::string& ttl_text) {
  ASSIGN_OR_RETURN(MainSession s, OpenMain(env, dir));
  ASSIGN_OR_RETURN(int64_t ttl, sync::ParseDuration(ttl_text));
  ASSIGN_OR_RETURN(EnrollmentCode code, s.sync->NewEnrollmentCode(id, ttl));
  std::printf("New enrollment code for '%s' (expires %s; any older code no longer works):\n  %s\n",
              id.c_str(), FormatRfc3339(code.expires).c_str(), code.code.c_str());
  return Status::Ok();
}

// Signs the withdrawal (or reinstatement) the partnership's new state calls for and tells a
// push-mode partner at once (main_site/withdrawals.h).
Status TellPartner(Env& env, MainSession& s, const std::string& dir, const std::string& id) {
  auto issuer = OpenWithdrawalIssuer(env, dir, s.config, *s.db);
  auto told = issuer.ok() ? TellPartnerNow(env, *s.sync, **issuer, id) : issuer.status();
  if (!told.ok()) {
    // The change itself is made; the running daemon signs and sends what it calls for.
    std::printf("The partner was not told now (%s): the running main daemon tells it.\n",
                told.status().message().c_str());
  } else if (!told->empty()) {
    std::printf("%s\n", told->c_str());
  }
  return Status::Ok();
}

Status PartnerRevoke(Env& env, const std::string& dir, const std::string& id) {
  ASSIGN_OR_RETURN(MainSession s, OpenMain(env, dir));
  RETURN_IF_ERROR(s.sync->Revoke(id));
  std::printf("Revoked partner '%s': its certificate is refused and it gets no more updates.\n",
              id.c_str());
  return TellPartner(env, s, dir, id);
}

struct SetArgs {
  std::string dir, id;
  sync::PartnershipChanges changes;
  std::vector<std::string> vars;
  std::optional<std::string> options;       // fee options (sync/partnership_terms.h)
  std::optional<std::string> expiry_grace;  // main_site/withdrawals.h
  // Partner copies of customer data (sync/partnership_terms.h CustomerCopyTerms).
  std::optional<std::string> customer_copy;
  std::optional<std::string> customer_copy_for;
  std::optional<std::string> user_logs;  // sync/partnership_terms.h
  // The partner's WAF, with the security service (sync/partnership_terms.h WafTerms).
  std::optional<std::string> waf_mode, waf_exclude, waf_on_failure;
  std::optional<int> waf_paranoia, waf_threshold;
  bool waf() const {
    return waf_mode || waf_exclude || waf_on_failure || waf_paranoia || waf_threshold;
  }
};

Status PartnerSet(Env& env, SetArgs a) {
  for (const std::string& v : a.vars) {
    size_t eq = v.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Status::InvalidArgument("--var '" + v + "' must be NAME=VALUE");
    }
    a.changes.set_variables[v.substr(0, eq)] = v.substr(eq + 1);
  }
  const sync::PartnershipChanges& c = a.changes;
  if (!c.name && !c.region && !c.public_url && !c.sync_url && !c.kind && !c.approval &&
      !c.schedule && !c.retry && !c.overrides_dir && !c.emergency_edit && !c.link_mode &&
      c.set_variables.empty() && c.unset_variables.empty() && !a.options && !a.expiry_grace &&
      !a.customer_copy && !a.customer_copy_for && !a.user_logs && !a.waf()) {
    return Status::InvalidArgument(
        "nothing to change: give at least one of --options, --customer-copy, --user-logs, "
        "--waf, --waf-paranoia, --waf-threshold, --waf-exclude, --waf-on-failure, "
        "--schedule, "
        "--approval, --retry, "
        "--var, --unset-var, --overrides, --kind, --emergency-edit, --link-mode, --name, --region, "
        "--public-url, --sync-url (see 'tieup main partner set --help')");
  }
  std::vector<std::string> options;
  if (a.options) {
    ASSIGN_OR_RETURN(options, fees::ParseFeeOptions(*a.options));
  }
  ASSIGN_OR_RETURN(MainSession s, OpenMain(env, a.dir));
  ASSIGN_OR_RETURN(std::vector<std::string> changed,
                   s.sync->publisher().UpdatePartnership(a.id, c, CommandLineUser()));
  if (a.options) {  // a setting of the fees (sync/partnership_terms.h), recorded the same way
    ASSIGN_OR_RETURN(std::string words, sync::SetPartnershipOptions(*s.db, env.NowSeconds(), a.id,
                                                                    options, CommandLineUser()));
    if (!words.empty()) changed.push_back(words);
  }
  if (a.customer_copy || a.customer_copy_for) {  // main sends the copies in the background
    ASSIGN_OR_RETURN(sync::CustomerCopyTerms terms, sync::ReadCustomerCopyTerms(*s.db, a.id));
    std::string fields;
    for (const std::string& f : terms.fields) fields += (fields.empty() ? "" : ",") + f;
    ASSIGN_OR_RETURN(terms,
                     sync::ParseCustomerCopyTerms(a.customer_copy.value_or(fields),
                                                  a.customer_copy_for.value_or(terms.scope)));
    ASSIGN_OR_RETURN(std::string words, sync::SetCustomerCopyTerms(*s.db, env.NowSeconds(), a.id,
                                                                   terms, CommandLineUser()));
    if (!words.empty()) {
      changed.push_back(words +
                        " (the running daemon sends the copies, and drops what the "
                        "contract no longer allows, within seconds)");
    }
  }
  if (a.user_logs) {  // main says so in each ID token it gives the partner
    ASSIGN_OR_RETURN(std::string words, sync::SetUserLogTerms(*s.db, env.NowSeconds(), a.id,
                                                              *a.user_logs, CommandLineUser()));
    if (!words.empty()) changed.push_back(words + " (from each customer's next sign-in there)");
  }
  if (a.waf()) {  // signed in the partner's next tie-up release, with the security service
    ASSIGN_OR_RETURN(sync::WafTerms terms, sync::ReadWafTerms(*s.db, a.id));
    if (a.waf_mode) terms.mode = *a.waf_mode;
    if (a.waf_paranoia) terms.paranoia_level = *a.waf_paranoia;
    if (a.waf_threshold) terms.anomaly_threshold = *a.waf_threshold;
    if (a.waf_on_failure) terms.on_failure = *a.waf_on_failure;
    if (a.waf_exclude) {
      ASSIGN_OR_RETURN(terms.exclude_rules, sync::ParseRuleList(*a.waf_exclude));
    }
    ASSIGN_OR_RETURN(std::string words,
                     sync::SetWafTerms(*s.db, env.NowSeconds(), a.id, terms, CommandLineUser()));
    if (!words.empty()) {
      ASSIGN_OR_RETURN(auto life, sync::ReadPartnershipLife(*s.db, a.id));
      const bool on = life && std::find(life->options.begin(), life->options.end(), "security") !=
                                  life->options.end();
      changed.push_back(words + (on ? " (in its next release)"
                                    : " (kept until the security service is on: --options "
                                      "security; until then the partner's own site.toml "
                                      "settings apply)"));
    }
  }
  if (a.expiry_grace) {  // signed for the partner with its withdrawal standing
    ASSIGN_OR_RETURN(std::string words, SetExpiryGrace(env, s, a.dir, a.id, *a.expiry_grace));
    if (!words.empty()) {
      changed.push_back(words);
      RETURN_IF_ERROR(TellPartner(env, s, a.dir, a.id));
    }
  }
  if (changed.empty()) {
    std::printf("Partner '%s' unchanged: it already has these settings.\n", a.id.c_str());
    return Status::Ok();
  }
  std::printf("Changed partner '%s':\n", a.id.c_str());
  for (const std::string& line : changed) std::printf("  %s\n", line.c_str());
  std::printf("The next publish uses the new settings ('tieup main publish %s --partner %s').\n",
              a.dir.c_str(), a.id.c_str());
  return Status::Ok();
}

Status PartnerSuspend(Env& env, const std::string& dir, const std::string& id, bool suspend) {
  ASSIGN_OR_RETURN(MainSession s, OpenMain(env, dir));
  if (suspend) {
    RETURN_IF_ERROR(s.sync->publisher().SuspendPartnership(id, CommandLineUser()));
    std::printf(
        "Suspended partner '%s': it gets no updates (scheduled, 'publish --all', polls) until "
        "'tieup main partner resume %s %s'. Its certificate stays valid.\n",
        id.c_str(), dir.c_str(), id.c_str());
  } else {
    RETURN_IF_ERROR(s.sync->publisher().ResumePartnership(id, CommandLineUser()));
    std::printf(
        "Resumed partner '%s': it gets updates again at its next scheduled run or when you "
        "publish.\n",
        id.c_str());
  }
  return TellPartner(env, s, dir, id);
}

Status PartnerLs(Env& env, const std::string& dir) {
  ASSIGN_OR_RETURN(MainSession s, OpenMain(env, dir));
  ASSIGN_OR_RETURN(auto list, s.sync->publisher().ListPartnerships());
  if (list.empty()) {
    std::printf("No partners yet. Add one with 'tieup main partner add %s --id ...'.\n",
                dir.c_str());
    return Status::Ok();
  }
  std::printf("%-14s %-9s %-8s %-9s %-16s %-28s %s\n", "PARTNER", "KIND", "APPROVAL", "EMERGENCY",
              "SCHEDULE", "SYNC URL", "STATE");
  for (const sync::Partnership& p : list) {
    std::printf("%-14s %-9s %-8s %-9s %-16s %-28s %s\n", p.id.c_str(),
                std::string(sync::PartnershipKindName(p.kind)).c_str(),
                std::string(sync::ApprovalPolicyName(p.approval)).c_str(),
                std::string(content::EmergencyEditPolicyName(p.emergency_edit)).c_str(),
                p.schedule.empty() ? "(manual)" : p.schedule.c_str(),
                p.sync_url.empty() ? "(pulls)" : p.sync_url.c_str(),
                p.revoked     ? "REVOKED"
                : p.suspended ? "SUSPENDED"
                              : "active");
  }
  // Who may keep copies of customer data (main_site/customer_copies.h), and how far it got.
  bool heading = false;
  for (const sync::Partnership& p : list) {
    ASSIGN_OR_RETURN(sync::CustomerCopyTerms terms, sync::ReadCustomerCopyTerms(*s.db, p.id));
    ASSIGN_OR_RETURN(CopyStanding standing, CustomerCopyStanding(*s.db, p.id));
    if (terms.fields.empty() && standing.delivered == 0 && standing.erasures_waiting == 0) continue;
    if (!heading) std::printf("\nCustomer copies (--customer-copy):\n");
    heading = true;
    std::printf(
        "  %-14s %s: %lld delivered, %lld erasure(s) waiting%s\n", p.id.c_str(),
        sync::DescribeCustomerCopyTerms(terms).c_str(), static_cast<long long>(standing.delivered),
        static_cast<long long>(standing.erasures_waiting),
        p.sync_url.empty() ? " (it pulls: copies are sent only to partners with a sync URL)" : "");
  }
  return Status::Ok();
}

struct PublishArgs {
  std::string dir;
  std::vector<std::string> partners;
  bool all = false;
  bool in_process = false;
};

Status Publish(Env& env, const PublishArgs& a) {
  PublishRequest request;
  request.all = a.all;
  request.partners = a.partners;
  // Progress: partners done (and failed) and the bytes sent, as a bar on a terminal (each step
  // line would scroll it away: only failures are printed above it), as the step lines and a
  // periodic "progress:" line otherwise.
  const ProgressMeterOptions meter_options = StderrMeterOptions("partners");
  ProgressMeter meter(env, meter_options);
  std::map<std::string, uint64_t> bytes_counted;  // by partner
  PublishOutput output;
  output.out = [&meter](std::string_view line) {
    if (meter.counts().total > 0) meter.Finish();  // the results follow the run: no bar after
    std::printf("%.*s\n", static_cast<int>(line.size()), line.data());
    std::fflush(stdout);
  };
  output.err = [&meter](std::string_view line) { meter.Note(line); };
  output.step_lines = !meter_options.terminal;
  output.progress = [&](const sync::PublishProgress& step) {
    if (step.stage == "queued") return meter.AddTotal(1);
    if (uint64_t& counted = bytes_counted[step.partner]; step.fetched_bytes > counted) {
      meter.AddBytes(step.fetched_bytes - counted);  // "fetching" counts up, then "staged"
      counted = step.fetched_bytes;
    }
    if (!step.done) return;
    const bool failed = step.stage == "failed";
    if (failed && meter_options.terminal) {
      meter.Note("  " + step.partner + ": " + DescribePublishProgress(step));
    }
    meter.AddDone(1, failed ? 1 : 0);
  };
  if (!a.in_process) {
    ASSIGN_OR_RETURN(SiteConfig config, LoadSiteConfigFor(env, a.dir, SiteRole::kMain));
    (void)config;  // checked only: a partner's directory gets the usual message
    // The running daemon has every partner's last release and main's manifest in memory, and
    // is the one process writing the database.
    ASSIGN_OR_RETURN(bool forwarded, ForwardToDaemon(a.dir, request, output, [](pid_t pid) {
                       std::fprintf(stderr, "publishing through the running daemon (pid %ld)\n",
                                    static_cast<long>(pid));
                     }));
    if (forwarded) return Status::Ok();
  }
  ASSIGN_OR_RETURN(MainSession s, OpenMain(env, a.dir));
  SiteContentOptions o;
  o.site_id = s.config.id;
  o.serve = false;
  ASSIGN_OR_RETURN(auto content, SiteContent::Open(env, a.dir, o));
  return RunPublish(env, s.config, *content, s.sync->publisher(), request, output);
}

Status StatusCmd(Env& env, const std::string& dir) {
  ASSIGN_OR_RETURN(MainSession s, OpenMain(env, dir));
  ASSIGN_OR_RETURN(auto reports, s.sync->publisher().StatusReport());
  if (reports.empty()) {
    std::printf("No partners yet.\n");
    return Status::Ok();
  }
  std::printf("%-14s %7s %7s %-20s %s\n", "PARTNER", "ACTIVE", "LATEST", "NEXT ATTEMPT", "STATE");
  for (const sync::PartnerStatusReport& r : reports) {
    std::printf("%-14s %7llu %7llu %-20s %s\n", r.partnership.id.c_str(),
                static_cast<unsigned long long>(r.active_version),
                static_cast<unsigned long long>(r.latest_version),
                r.next_attempt ? FormatRfc3339(r.next_attempt).c_str() : "-", r.summary.c_str());
  }
  return Status::Ok();
}

Status EventsCmd(Env& env, const std::string& dir, const std::string& partner) {
  ASSIGN_OR_RETURN(MainSession s, OpenMain(env, dir));
  ASSIGN_OR_RETURN(auto events, s.sync->publisher().Events(partner, 100));
  for (auto it = events.rbegin(); it != events.rend(); ++it) {
    std::printf("%s %-12s %-6s %-12s %s\n", FormatRfc3339(it->time).c_str(), it->partner.c_str(),
                it->update_id.c_str(), it->kind.c_str(), it->message.c_str());
  }
  return Status::Ok();
}

}  // namespace

void AddMainSyncCommands(CLI::App& main, Context& ctx) {
  CLI::App* partner = main.add_subcommand(
      "partner", "Manage partnerships: add, change, suspend, resume, revoke, list");
  partner->require_subcommand(1);

  auto aa = std::make_shared<AddArgs>();
  CLI::App* add = partner->add_subcommand(
      "add", "Add a partnership and print the partner's one-time enrollment code");
  add->add_option("DIR", aa->dir, "The main site's data directory")->required();
  add->add_option("--id", aa->id, "The partner id, e.g. shop-a")->required();
  add->add_option("--name", aa->name, "The partner's shop name (a template variable)");
  add->add_option("--region", aa->region, "The partner's region (a template variable)");
  add->add_option("--public-url", aa->public_url, "The partner's public URL, for people")
      ->required();
  add->add_option("--sync-url", aa->sync_url,
                  "https://HOST:PORT of the partner's sync port; empty: the partner pulls");
  add->add_option("--kind", aa->kind, "contents | template | link")
      ->check(CLI::IsMember({"contents", "template", "link"}))
      ->capture_default_str();
  add->add_option("--approval", aa->approval,
                  "auto: updates activate at once; manager: the partner's manager approves each")
      ->check(CLI::IsMember({"auto", "manager"}))
      ->capture_default_str();
  add->add_option("--emergency-edit", aa->emergency_edit,
                  "May the partner manager edit tie-up pages in an emergency (an overlay on "
                  "main's release, reported to main at once)? none: no; keep: yes, and main's "
                  "updates keep the edit; overwrite: yes, and main's next version of an edited "
                  "page replaces the edit. Carried in the signed release metadata")
      ->check(CLI::IsMember({"none", "keep", "overwrite"}))
      ->capture_default_str();
  add->add_option("--link-mode", aa->link_mode,
                  "How the partner serves a link entry (every page of kind link, a page whose "
                  "front matter says 'method: link'): redirect: HTTP 302 to main's page; "
                  "redirect-301 or redirect-307: that status instead; page: a small page in "
                  "main's layout with the link. Carried in the signed release metadata")
      ->check(CLI::IsMember({"redirect", "redirect-301", "redirect-307", "page"}))
      ->capture_default_str();
  add->add_option("--schedule", aa->schedule,
                  "When to update: a 5-field cron expression ('0 3 * * *') or '@every 10m'; "
                  "empty: only on 'tieup main publish'");
  add->add_option("--retry", aa->retry,
                  "After a failure: 'backoff:30s..1h', 'backoff:10s..10m,max=20' or 'manual'; "
                  "add ',rejected=1d' to offer a version the partner's manager rejected again "
                  "after a day (without it: only when it changes or on 'tieup main publish')")
      ->capture_default_str();
  add->add_option("--overrides", aa->overrides, "A folder of files only this partner gets");
  add->add_option("--var", aa->vars, "NAME=VALUE template variable for this partner (repeat)");
  add->add_option("--ttl", aa->ttl, "How long the enrollment code stays valid")
      ->capture_default_str();
  add->add_option("--expiry-grace", aa->expiry_grace,
                  "How long after a release expires (main sent nothing newer) the partner "
                  "withdraws main's pages itself, e.g. 3d (default 7d)");
  add->callback([&ctx, aa] { ctx.action = [&ctx, aa] { return PartnerAdd(*ctx.env, *aa); }; });

  auto ia = std::make_shared<ImportArgs>();
  CLI::App* import = partner->add_subcommand(
      "import",
      "Add many partnerships from a TOML file (a [[partner]] table each, with the keys of "
      "'partner add': id, name, region, public_url, sync_url, kind, approval, emergency_edit, "
      "link_mode, schedule, retry, overrides, expiry_grace, and a table 'variables'); every "
      "entry is checked before any is added; the enrollment codes are written to a file");
  import->add_option("DIR", ia->dir, "The main site's data directory")->required();
  import->add_option("FILE", ia->file, "The partners, e.g. partners.toml")->required();
  import
      ->add_option("--codes", ia->codes,
                   "Where to write the enrollment codes (created owner-only; one line per "
                   "partner: id, a tab, the code)")
      ->required();
  import->add_option("--ttl", ia->ttl, "How long the enrollment codes stay valid")
      ->capture_default_str();
  import->callback(
      [&ctx, ia] { ctx.action = [&ctx, ia] { return PartnerImport(*ctx.env, *ia);
};
}  // namespace tieup::cli
);

auto one = std::make_shared<std::pair<std::string, std::string>>();
auto ttl = std::make_shared<std::string>("24h");
CLI::App* token = partner->add_subcommand(
    "token", "Issue a new enrollment code for a partner (the old one stops working)");
token->add_option("DIR", one->first, "The main site's data directory")->required();
token->add_option("ID", one->second, "The partner id")->required();
token->add_option("--ttl", *ttl, "How long the code stays valid")->capture_default_str();
token->callback([&ctx, one, ttl] {
  ctx.action = [&ctx, one, ttl] { return PartnerToken(*ctx.env, one->first, one->second, *ttl); };
});

CLI::App* revoke = partner->add_subcommand(
    "revoke", "Revoke a partner: its certificate is refused, it gets no more updates");
revoke->add_option("DIR", one->first, "The main site's data directory")->required();
revoke->add_option("ID", one->second, "The partner id")->required();
revoke->callback([&ctx, one] {
  ctx.action = [&ctx, one] { return PartnerRevoke(*ctx.env, one->first, one->second); };
});

auto sa = std::make_shared<SetArgs>();
CLI::App* set = partner->add_subcommand(
    "set",
    "Change a partnership's settings (each change is recorded with who and when; the next "
    "publish uses them, and builds the partner's release again when what it holds changed)");
set->add_option("DIR", sa->dir, "The main site's data directory")->required();
set->add_option("ID", sa->id, "The partner id")->required();
// Each option is checked by the same parser as for 'partner add' (the service says what is
// wrong); only the ones given change.
auto text = [set](const char* name, std::optional<std::string>& field, const char* help) {
  set->add_option_function<std::string>(
      name, [&field](const std::string& v) { field = v; }, help);
};
sync::PartnershipChanges& c = sa->changes;
text("--schedule", c.schedule,
     "When to update: a 5-field cron expression ('0 3 * * *') or '@every 10m'; '' : only on "
     "'tieup main publish'");
text("--approval", c.approval,
     "auto: updates activate at once; manager: the partner's manager approves each");
text("--retry", c.retry,
     "After a failure: 'backoff:30s..1h', 'backoff:10s..10m,max=20' or 'manual' (with "
     "',rejected=1d' to offer a rejected version again after a day)");
set->add_option("--var", sa->vars, "NAME=VALUE template variable for this partner (repeat)");
set->add_option("--unset-var", c.unset_variables, "Remove this partner's variable NAME (repeat)");
text("--overrides", c.overrides_dir, "A folder of files only this partner gets; '' : none");
text("--kind", c.kind, "contents | template | link");
set->add_option_function<std::string>(
    "--expiry-grace", [sa](const std::string& v) { sa->expiry_grace = v; },
    "How long after a release expires (main sent nothing newer) the partner withdraws main's "
    "pages itself, e.g. 3d (default 7d); signed and sent to the partner");
set->add_option_function<std::string>(
    "--options", [sa](const std::string& v) { sa->options = v; },
    "Optional services enabled for this partner, charged as its fee contract prices them: "
    "'security,user_management,marketing', or '' for none (a service the contract prices but "
    "the partnership does not enable is not charged; main's campaigns reach only the customers "
    "of partners with 'marketing')");
set->add_option_function<std::string>(
    "--customer-copy", [sa](const std::string& v) { sa->customer_copy = v; },
    "Customer data the partner may keep a copy of: a comma list of name, email, address, "
    "marketing_consent, or 'none' (the default). Main sends the copies signed over the sync "
    "channel and keeps them current; other fields never leave main");
set->add_option_function<std::string>(
    "--customer-copy-for", [sa](const std::string& v) { sa->customer_copy_for = v; },
    "Whose data: 'registered' (accounts registered through the partner; the default) or "
    "'customers' (those and accounts that bought through it)");
set->add_option_function<std::string>(
    "--user-logs", [sa](const std::string& v) { sa->user_logs = v; },
    "Whether the partner's access records carry the signed-in customer's id (main's user "
    "logs, for recommendations): consent (the default: only customers who agreed on their "
    "account page), always (the contract lets it), never");
set->add_option_function<std::string>(
    "--waf", [sa](const std::string& v) { sa->waf_mode = v; },
    "With the security service (--options security): the partner's web application firewall, "
    "block (refuse attacks; the default), detect (only record them) or off. Signed in its next "
    "release; replaces the partner's own [waf] settings");
set->add_option_function<int>(
    "--waf-paranoia", [sa](int v) { sa->waf_paranoia = v; },
    "The partner's WAF paranoia level: 1 (few false positives; the default) to 4 (strictest)");
set->add_option_function<int>(
    "--waf-threshold", [sa](int v) { sa->waf_threshold = v; },
    "The anomaly score at which the partner's WAF blocks (default 5: one critical match)");
set->add_option_function<std::string>(
    "--waf-exclude", [sa](const std::string& v) { sa->waf_exclude = v; },
    "OWASP CRS rule ids the partner's WAF skips (false positives on its pages): "
    "'942100,920350', or none");
set->add_option_function<std::string>(
    "--waf-on-failure", [sa](const std::string& v) { sa->waf_on_failure = v; },
    "closed (the default: answer 503 when the WAF cannot inspect a request) or open");
text("--emergency-edit", c.emergency_edit,
     "none | keep | overwrite: may the partner manager edit tie-up pages in an emergency (see "
     "'partner add --help')");
text("--link-mode", c.link_mode,
     "redirect | redirect-301 | redirect-307 | page: how the partner serves link entries (see "
     "'partner add --help')");
text("--name", c.name, "The partner's shop name (a template variable)");
text("--region", c.region, "The partner's region (a template variable)");
text("--public-url", c.public_url, "The partner's public URL, for people");
text("--sync-url", c.sync_url, "https://HOST:PORT of the partner's sync port; '' : it pulls");
set->callback([&ctx, sa] { ctx.action = [&ctx, sa] { return PartnerSet(*ctx.env, *sa); }; });

CLI::App* suspend = partner->add_subcommand(
    "suspend",
    "Stop a partner's updates for a while (no scheduled runs, 'publish --all' or polls); it "
    "keeps its certificate; 'resume' ends it");
suspend->add_option("DIR", one->first, "The main site's data directory")->required();
suspend->add_option("ID", one->second, "The partner id")->required();
suspend->callback([&ctx, one] {
  ctx.action = [&ctx, one] { return PartnerSuspend(*ctx.env, one->first, one->second, true); };
});
CLI::App* resume = partner->add_subcommand("resume", "End a partner's suspension: updates go on");
resume->add_option("DIR", one->first, "The main site's data directory")->required();
resume->add_option("ID", one->second, "The partner id")->required();
resume->callback([&ctx, one] {
  ctx.action = [&ctx, one] { return PartnerSuspend(*ctx.env, one->first, one->second, false); };
});

CLI::App* ls = partner->add_subcommand("ls", "List partnerships");
ls->add_option("DIR", one->first, "The main site's data directory")->required();
ls->callback([&ctx, one] { ctx.action = [&ctx, one] { return PartnerLs(*ctx.env, one->first); }; });

auto pa = std::make_shared<PublishArgs>();
CLI::App* publish = main.add_subcommand(
    "publish",
    "Rebuild main's pages from the authoring directory, then update partners now (each gets "
    "only the files it lacks); runs inside 'tieup main serve' when it runs for DIR");
publish->add_option("DIR", pa->dir, "The main site's data directory")->required();
publish->add_option("--partner", pa->partners, "A partner to update (repeat)");
publish->add_flag("--all", pa->all, "Update every active partner");
publish->add_flag(
    "--in-process", pa->in_process,
    "Publish from this process even when 'tieup main serve' runs for DIR (by default the "
    "running daemon does the work: it has every partner's last release in memory and is the "
    "only process writing the database). For a daemon that is stuck or does not answer");
publish->callback([&ctx, pa] { ctx.action = [&ctx, pa] { return Publish(*ctx.env, *pa); }; });

CLI::App* status = main.add_subcommand(
    "status",
    "Each partner's active version, pending or failed update and why, and what it actually "
    "serves (its emergency edits: 'emergency-edited: /path (when)')");
status->add_option("DIR", one->first, "The main site's data directory")->required();
status->callback([&ctx, one] {
  ctx.action = [&ctx, one] { return StatusCmd(*ctx.env, one->first); };
});

auto who = std::make_shared<std::string>();
CLI::App* events = main.add_subcommand(
    "events",
    "Every update attempt: offered, fetched, staged, approved or rejected, activated, "
    "failed and why");
events->add_option("DIR", one->first, "The main site's data directory")->required();
events->add_option("--partner", *who, "Only this partner");
events->callback([&ctx, one, who] {
  ctx.action = [&ctx, one, who] { return EventsCmd(*ctx.env, one->first, *who); };
});
}

}  // namespace tieup::cli
