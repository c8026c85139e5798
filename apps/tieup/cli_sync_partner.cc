// `tieup partner enroll|pending|approve|reject|rollback|updates`: the partner manager's side
// of remote updating.
#include "base/byte_count.h"
#include "base/encoding.h"
#include "cli.h"
#include "partner_site/partner_daemon.h"
#include "partner_site/partner_sync.h"
#include "partner_site/preview.h"
#include "partner_site/tieup_quarantine.h"
#include "site/main_areas.h"
#include "site/public_site.h"
#include "sync/withdrawal_service.h"

namespace tieup::cli {
namespace {

struct PartnerSession {
  SiteConfig config;
  std::unique_ptr<Database> db;
  std::unique_ptr<SiteContent> content;
  std::unique_ptr<PartnerSync> sync;
};

Result<PartnerSession> OpenPartner(Env& env, const std::string& dir) {
  PartnerSession s;
  ASSIGN_OR_RETURN(s.config, LoadSiteConfigFor(env, dir, SiteRole::kPartner));
  SiteContentOptions o;
  o.site_id = s.config.id;
  o.keep_releases = static_cast<size_t>(s.config.keep_releases);
  o.serve = false;
  ASSIGN_OR_RETURN(s.content, SiteContent::Open(env, dir, o));
  ASSIGN_OR_RETURN(s.db, OpenSqlite(SitePaths(dir).database()));
  ASSIGN_OR_RETURN(s.sync,
                   PartnerSync::Open(env, dir, s.config, *s.db, *s.content, NewNullLogger()));
  return s;
}

void PrintPaths(const char* label, const std::vector<std::string>& paths) {
  const size_t kShow = 12;
  for (size_t i = 0; i < paths.size() && i < kShow; ++i) {
    std::printf("      %s %s\n", label, paths[i].c_str());
  }
  if (paths.size() > kShow) std::printf("      ... and %zu more\n", paths.size() - kShow);
}

Status Pending(Env& env, const std::string& dir) {
  ASSIGN_OR_RETURN(PartnerSession s, OpenPartner(env, dir));
  ASSIGN_OR_RETURN(auto pending, s.sync->receiver().Pending());
  // The latest decision, when it was a rejection: main does not offer that version again unless
  // it changes or main's manager publishes it again.
  ASSIGN_OR_RETURN(auto recent, s.sync->receiver().Updates(1));
  if (!recent.empty() && recent[0].state == "rejected") {
    std::printf("You rejected version %llu (update %s) on %s: %s\n",
                static_cast<unsigned long long>(recent[0].version), recent[0].update_id.c_str(),
                FormatRfc3339(recent[0].decided).c_str(), recent[0].reason.c_str());
  }
  if (pending.empty()) {
    std::printf("No update is waiting for approval.\n");
    return Status::Ok();
  }
  // The running daemon's public address (its port may be chosen at start); the configured one
  // when it names a port.
  // A further main's pages are served by the partner site two levels up, in its area.
  const bool further = !s.config.area_prefix.empty() || !s.config.area_host.empty();
  std::string public_addr;
  if (auto running = env.ReadFile(PublicAddressFile(further ? DirName(DirName(dir)) : dir));
      running.ok()) {
    public_addr = *running;
    while (!public_addr.empty() && (public_addr.back() == '\n' || public_addr.back() == '\r')) {
      public_addr.pop_back();
    }
  } else if (s.config.public_address.port != 0 && !further) {
    public_addr = s.config.public_address.ToString();
  }
  if (const size_t colon = public_addr.rfind(':');
      colon != std::string::npos && !s.config.area_host.empty()) {
    public_addr = s.config.area_host + public_addr.substr(colon);  // its host name, same port
  }
  const std::string area_prefix = s.config.area_prefix.empty() ? "/" : s.config.area_prefix;
  std::string preview_secret;
  if (!pending.empty()) {
    ASSIGN_OR_RETURN(preview_secret, LoadOrCreatePreviewSecret(env, dir));
  }
  for (const sync::ReceivedUpdate& u : pending) {
    std::printf("Update %s: tie-up version %llu, received %s\n", u.update_id.c_str(),
                static_cast<unsigned long long>(u.version), FormatRfc3339(u.received).c_str());
    std::printf(
        "  %llu added (%s), %llu changed (%s), %llu removed (%s)\n",
        static_cast<unsigned long long>(u.added), FormatByteCount(u.added_bytes).c_str(),
        static_cast<unsigned long long>(u.changed), FormatByteCount(u.changed_bytes).c_str(),
        static_cast<unsigned long long>(u.removed), FormatByteCount(u.removed_bytes).c_str());
    PrintPaths("+", u.added_paths);
    PrintPaths("~", u.changed_paths);
    PrintPaths("-", u.removed_paths);
    if (public_addr.empty()) {
      std::printf("  preview: start 'tieup partner serve %s', then run this again for the link\n",
                  dir.c_str());
    } else {
      std::printf(
          "  preview: http://%s%s   (a private link: share it only with who may see "
          "the update)\n",
          public_addr.c_str(),
          (area_prefix + PreviewPath(preview_secret, u.version).substr(1)).c_str());
    }
    std::printf("  approve: tieup partner approve %s %s\n", dir.c_str(), u.update_id.c_str());
    std::printf("  reject:  tieup partner reject %s %s --reason \"...\"\n\n", dir.c_str(),
                u.update_id.c_str());
  }
  return Status::Ok();
}

Status Approve(Env& env, const std::string& dir, const std::string& id) {
  ASSIGN_OR_RETURN(PartnerSession s, OpenPartner(env, dir));
  Status st = s.sync->receiver().Approve(id);
  if (st.code() == StatusCode::kUnavailable) {
    std::printf(
        "Approved %s. Main could not be reached now (%s); the answer is sent again "
        "while 'tieup partner serve' runs.\n",
        id.c_str(), st.message().c_str());
    return Status::Ok();
  }
  RETURN_IF_ERROR(st);
  std::printf("Approved %s: main has been told and commands the activation.\n", id.c_str());
  return Status::Ok();
}

Status Reject(Env& env, const std::string& dir, const std::string& id, const std::string& why) {
  if (why.empty()) {
    return Status::InvalidArgument("say why with --reason \"...\": main's manager reads it");
  }
  ASSIGN_OR_RETURN(PartnerSession s, OpenPartner(env, dir));
  Status st = s.sync->receiver().Reject(id, why);
  if (st.code() == StatusCode::kUnavailable) {
    std::printf(
        "Rejected %s. Main could not be reached now; the answer is sent again while "
        "'tieup partner serve' runs.\n",
        id.c_str());
    return Status::Ok();
  }
  RETURN_IF_ERROR(st);
  std::printf(
      "Rejected %s; main's manager sees your reason. Main offers this version again only when "
      "it changes or when its manager publishes it again.\n",
      id.c_str());
  return Status::Ok();
}

Status Rollback(Env& env, const std::string& dir) {
  ASSIGN_OR_RETURN(PartnerSession s, OpenPartner(env, dir));
  ASSIGN_OR_RETURN(uint64_t v, s.sync->receiver().Rollback());
  std::printf("Rolled back: tie-up release %llu is active again.\n",
              static_cast<unsigned long long>(v));
  return Status::Ok();
}

Status PollCmd(Env& env, const std::string& dir) {
  ASSIGN_OR_RETURN(PartnerSession s, OpenPartner(env, dir));
  // A new release's files as they are fetched (an initial sync: thousands).
  ProgressMeter meter(env, StderrMeterOptions("files"));
  sync::FetchProgress shown;
  auto progress = [&](const sync::FetchProgress& p) {
    if (p.files_done == 0) {
      meter.SetTotal(p.files_total);
      shown = p;
      return;
    }
    meter.AddDone(p.files_done - shown.files_done);
    meter.AddBytes(p.bytes_done - shown.bytes_done);
    shown = p;
  };
  Result<sync::PollResult> polled = s.sync->receiver().Poll(true, progress);
  meter.Finish();
  ASSIGN_OR_RETURN(sync::PollResult r, std::move(polled));
  if (r.repaired > 0) {
    std::printf(
        "Repaired %zu missing file%s of the active tie-up release: fetched again from main (or "
        "made again from main's template) and verified.\n",
        r.repaired, r.repaired == 1 ? "" : "s");
  }
  if (r.state == "up_to_date") {
    if (r.unrepaired == 0) {
      std::printf("Up to date: main has nothing newer than the active tie-up release.\n");
    }
  } else {
    std::printf("Version %llu %s%s%s.\n", static_cast<unsigned long long>(r.version),
                r.state.c_str(), r.update_id.empty() ? "" : " as update ", r.update_id.c_str());
  }
  if (r.unrepaired > 0) {
    return Status::Unavailable(
        std::to_string(r.unrepaired) +
        " files of the active tie-up release are missing and could not be fetched again from "
        "main (" +
        r.repair_error + "); they answer 503 until repaired: run 'tieup partner poll' again");
  }
  return Status::Ok();
}

// The withdrawal in effect, or the expiry of the tie-up release (partner_site/withdrawals.h).
void PrintWithdrawal(Env& env, Database& db) {
  auto w = sync::ReadWithdrawalStatus(db, env.NowSeconds());
  if (w.ok() && !w->summary.empty()) {
    std::printf("%s: %s\n\n", w->effective ? "TIE-UP PAGES WITHDRAWN" : "TIE-UP RELEASE EXPIRED",
                w->summary.c_str());
  }
}

// `tieup partner enroll` with a tie-up area: a further main (site/main_areas.h).
struct FurtherMainArgs {
  std::string area_prefix;
  std::string area_host;
  std::string sync_address;  // this site's sync port for that main
  std::string name;          // the directory under DIR/mains; made from the area when empty
  std::string id;            // this partner's id at that main; the site's own when empty
  std::string approval;      // "auto" or "manager"; the site's own when empty
  int poll_seconds = -1;     // -1: the site's own
  bool given() const {
    return !area_prefix.empty() || !area_host.empty() || !sync_address.empty() || !name.empty() ||
           !id.empty() || !approval.empty() || poll_seconds >= 0;
  }
};

Status EnrollFurtherMain(Env& env, const std::string& dir, const std::string& main_url,
                         const std::string& code, const FurtherMainArgs& a) {
  ASSIGN_OR_RETURN(SiteConfig site, LoadSiteConfigFor(env, dir, SiteRole::kPartner));
  if (!site.area_prefix.empty() || !site.area_host.empty()) {
    return Status::InvalidArgument("'" + dir +
                                   "' is a further main's directory: enroll the partner site "
                                   "itself (its parent's parent)");
  }
  if (!IsEnrolled(env, dir)) {
    return Status::FailedPrecondition(
        "'" + dir +
        "' has not enrolled with a main yet: the first main owns the whole tie-up area, so "
        "enroll without --area-prefix/--area-host first; a further main comes after it");
  }
  if (!a.area_prefix.empty()) RETURN_IF_ERROR(ValidateAreaPrefix(a.area_prefix));
  if (!a.area_host.empty()) RETURN_IF_ERROR(ValidateAreaHost(a.area_host));
  RETURN_IF_ERROR(CheckNewTieupArea(env, dir, a.area_prefix, a.area_host));
  SiteConfig c = site;
  c.main_sync_url.clear();
  c.area_prefix = a.area_prefix;
  c.area_host = a.area_host;
  if (!a.id.empty()) c.id = a.id;
  if (!a.approval.empty()) c.approval = a.approval;
  if (a.poll_seconds >= 0) c.poll_seconds = a.poll_seconds;
  if (c.approval != "auto" && c.approval != "manager") {
    return Status::InvalidArgument("--approval must be 'auto' or 'manager'");
  }
  if (c.poll_seconds != 0 && c.poll_seconds < 5) {
    return Status::InvalidArgument("--poll-seconds must be 0 (main pushes) or at least 5");
  }
  if (a.sync_address.empty()) {
    return Status::InvalidArgument(
        "say on which address this site takes that main's updates: --sync-address HOST:PORT "
        "(the partner sync address that main's manager gave in 'tieup main partner add'; one "
        "port per main, since each main has its own CA)");
  }
  ASSIGN_OR_RETURN(c.sync_address, ParseHostPort(a.sync_address));
  RETURN_IF_ERROR(CheckDistinctPorts(site.public_address, c.sync_address, site.console_address));
  // Each main has its own CA, so its own sync port: the first main's and every further one's.
  std::vector<std::pair<HostPort, std::string>> taken = {
      {site.sync_address, "the first main (" + site.sync_address.ToString() + ")"}};
  ASSIGN_OR_RETURN(std::vector<FurtherMain> others, LoadFurtherMains(env, dir));
  for (const FurtherMain& m : others)
    taken.emplace_back(m.config.sync_address, DescribeMain(m.config));
  for (const auto& [address, who] : taken) {
    if (c.sync_address.port != 0 && address.port == c.sync_address.port) {
      return Status::InvalidArgument("--sync-address " + c.sync_address.ToString() +
                                     " is the sync port of " + who + ": each main needs its own");
    }
  }
  // Never used to listen (the partner's public port serves the area), shown for information.
  c.console_address = {"127.0.0.1", 0};
  c.ops_address = {"", 0};  // the site's own operations port reports for every main
  const std::string name =
      a.name.empty() ? FurtherMainNameForArea(a.area_prefix, a.area_host) : a.name;
  if (!IsValidSiteId(name)) {
    return Status::InvalidArgument("--name '" + name +
                                   "' is not valid: 1-63 lower-case letters, digits or '-'");
  }
  const std::string mains = FurtherMainsDir(dir);
  const std::string sub = mains + "/" + name;
  if (env.FileExists(sub)) {
    return Status::AlreadyExists("'" + sub + "' exists: another main uses the name '" + name +
                                 "'; choose another with --name");
  }
  RETURN_IF_ERROR(CreateDirs(env, mains));
  RETURN_IF_ERROR(env.SetPermissions(mains, 0700));
  RETURN_IF_ERROR(CreateSiteDir(env, sub, c));
  std::fprintf(stderr, "enrolling with %s as a further main...\n", main_url.c_str());
  Status enrolled = EnrollWithMain(env, sub, main_url, code);
  if (!enrolled.ok()) {
    // Nothing half-made stays: the directory is what makes a main a further main.
    (void)RemoveTree(env, sub);
    return enrolled;
  }
  ASSIGN_OR_RETURN(c, LoadSiteConfig(env, sub));
  std::printf(
      "Enrolled with %s as a further main of this site: its tie-up area is %s.\n"
      "Its keys, pinned CA and root key, updates, approvals, access records and fees are kept "
      "apart in %s.\n"
      "Restart 'tieup partner serve %s' to serve its pages and take its updates on %s.\n"
      "Its updates: tieup partner pending|approve|updates|status %s\n",
      main_url.c_str(),
      c.area_prefix.empty()
          ? ("the host " + c.area_host).c_str()
          : (c.area_prefix + " (its /x.html is served at " + c.area_prefix + "x.html)").c_str(),
      sub.c_str(), dir.c_str(), c.sync_address.ToString().c_str(), sub.c_str());
  return Status::Ok();
}

void PrintFurtherMains(Env& env, const std::string& dir) {
  auto mains = LoadFurtherMains(env, dir);
  if (!mains.ok()) {
    std::printf("Further mains: %s\n", mains.status().message().c_str());
    return;
  }
  if (mains->empty()) return;
  std::printf("Further mains (each with its own tie-up area, updates and fees):\n");
  for (const FurtherMain& m : *mains) {
    std::printf("  %-16s %s, sync port %s\n    details: tieup partner status %s\n", m.name.c_str(),
                DescribeMain(m.config).c_str(), m.config.sync_address.ToString().c_str(),
                m.dir.c_str());
  }
}

Status StatusCmd(Env& env, const std::string& dir) {
  ASSIGN_OR_RETURN(PartnerSession s, OpenPartner(env, dir));
  ASSIGN_OR_RETURN(sync::PartnerSyncStatus st, s.sync->receiver().GetStatus());
  std::printf("Partner '%s', enrolled with main at %s (%s).\n", s.config.id.c_str(),
              s.config.main_sync_url.c_str(),
              s.config.poll_seconds > 0 ? "pull mode" : "main pushes updates");
  std::printf("Tie-up release: %s.\n", st.active_version == 0
                                           ? "none yet"
                                           : ("version " + std::to_string(st.active_version) +
                                              (st.overlay.empty() ? "" : " with emergency edits"))
                                                 .c_str());
  if (!s.config.area_prefix.empty() || !s.config.area_host.empty()) {
    std::printf("This main is a further main of the site: %s.\n", DescribeMain(s.config).c_str());
  }
  auto w = sync::ReadWithdrawalStatus(*s.db, env.NowSeconds());
  if (!w.ok()) return w.status();
  std::printf(
      "Expiry grace: main's pages are withdrawn %lld hour(s) after their release "
      "expires when main has sent nothing newer%s.\n",
      static_cast<long long>(w->grace_seconds / 3600),
      w->from_main ? " (main's signed terms)" : " (the default)");
  if (w->summary.empty()) {
    std::printf("Tie-up pages: served.\n");
  } else {
    std::printf("Tie-up pages: %s%s\n  %s\n",
                w->effective ? "WITHDRAWN since " : "EXPIRED (still served)",
                w->effective ? FormatRfc3339(w->since).c_str() : "", w->summary.c_str());
  }
  ASSIGN_OR_RETURN(std::optional<TieupStop> stop, ReadTieupStop(*s.db));
  if (stop) {
    std::printf(
        "Tie-up pages: STOPPED by this site since %s\n  %s\n  They answer 503 until "
        "'tieup partner resume %s'.\n",
        FormatRfc3339(stop->since).c_str(), stop->reason.c_str(), dir.c_str());
  }
  PrintFurtherMains(env, dir);
  return Status::Ok();
}

// `tieup partner resume DIR`: serves the tie-up pages again after this site stopped them.
Status ResumeCmd(Env& env, const std::string& dir) {
  ASSIGN_OR_RETURN(std::unique_ptr<Database> db, OpenSiteDb(env, dir, SiteRole::kPartner));
  ASSIGN_OR_RETURN(TieupStop stop, ResumeTieupArea(*db));
  std::printf(
      "The tie-up pages are served again (stopped since %s: %s).\n"
      "The running daemon serves them within a second and tells main. If their files are "
      "changed on disk again, it stops them again.\n",
      FormatRfc3339(stop.since).c_str(), stop.reason.c_str());
  return Status::Ok();
}

Status Updates(Env& env, const std::string& dir) {
  ASSIGN_OR_RETURN(PartnerSession s, OpenPartner(env, dir));
  PrintWithdrawal(env, *s.db);
  ASSIGN_OR_RETURN(auto events, s.sync->receiver().Events(100));
  if (events.empty()) std::printf("No update has been offered yet.\n");
  for (auto it = events.rbegin(); it != events.rend(); ++it) {
    std::printf("%s %-6s v%-4llu %-12s %s\n", FormatRfc3339(it->time).c_str(),
                it->update_id.c_str(), static_cast<unsigned long long>(it->version),
                it->kind.c_str(), it->message.c_str());
  }
  return Status::Ok();
}

}  // namespace

Status EnrollCommand(Env& env, const std::string& dir, const std::string& main_url,
                     const std::string& code) {
  std::fprintf(stderr, "enrolling with %s...\n", main_url.c_str());
  RETURN_IF_ERROR(EnrollWithMain(env, dir, main_url, code));
  std::printf(
      "Enrolled with %s: this site's key stays here (keys/sync.key, mode 0600); main's "
      "CA and root signing key are pinned.\n",
      main_url.c_str());
  return Status::Ok();
}

void AddPartnerSyncCommands(CLI::App& partner, Context& ctx) {
  auto e = std::make_shared<std::array<std::string, 3>>();
  auto f = std::make_shared<FurtherMainArgs>();
  CLI::App* enroll = partner.add_subcommand(
      "enroll", "Enroll this site with main using the code 'tieup main partner add' printed");
  enroll->add_option("DIR", (*e)[0], "The partner site's data directory")->required();
  enroll->add_option("--main", (*e)[1], "Main's sync URL, https://HOST:PORT")->required();
  enroll->add_option("--token", (*e)[2], "The enrollment code")->required();
  enroll->add_option("--area-prefix", f->area_prefix,
                     "A further main: its pages are served under this prefix (/brand2/: its "
                     "/x.html at /brand2/x.html)");
  enroll->add_option("--area-host", f->area_host,
                     "A further main: its tie-up area is this host name (brand2.shop.example)");
  enroll->add_option("--sync-address", f->sync_address,
                     "A further main: where this site takes its updates (HOST:PORT)");
  enroll->add_option("--name", f->name,
                     "A further main: its directory under DIR/mains (default: from the area)");
  enroll->add_option("--id", f->id,
                     "A further main: this partner's id there (default: this site's id)");
  enroll->add_option("--approval", f->approval,
                     "A further main: 'auto' or 'manager' (default: this site's setting)");
  enroll->add_option("--poll-seconds", f->poll_seconds,
                     "A further main: pull mode, ask it for updates this often (default: this "
                     "site's setting)");
  enroll->footer(
      "For a site made by 'tieup partner init' without --main/--token, or whose enrollment "
      "failed.\n"
      "  1. The main site's manager gives you the enrollment code (it works once, for 24 hours "
      "by\n"
      "     default): 'tieup main partner add' prints it, 'tieup main partner token MAIN_DIR ID' "
      "a new one.\n"
      "  2. tieup partner enroll DIR --main https://MAIN:PORT --token CODE\n"
      "     This site checks main's CA against the code before sending anything, makes its own "
      "key\n"
      "     (it never leaves DIR/keys) and pins main's CA and root signing key.\n"
      "  3. Start (or restart) 'tieup partner serve DIR': main's updates arrive on the sync port.\n"
      "Several main sites: once enrolled with one, the site can trade with another too. Each "
      "further main gets\n"
      "a tie-up area of its own, chosen now and fixed: a path prefix or a host name, and a sync "
      "port of its own:\n"
      "  tieup partner enroll DIR --main https://MAIN2:PORT --token CODE --area-host "
      "brand2.shop.example \\\n"
      "      --sync-address 0.0.0.0:9444\n"
      "Its pages are then served on this site's public port (for that host, or under that "
      "prefix), and a path\n"
      "outside its area, or in another main's, is refused when offered, naming both mains. Its "
      "keys, updates,\n"
      "approvals, access records and fees are kept apart in DIR/mains/NAME, which the other "
      "commands take as\n"
      "their DIR (tieup partner pending DIR/mains/NAME).\n"
      "A refused enrollment changes nothing in DIR: fix the cause and run it again. Manual: "
      "docs/partner-guide.md");
  enroll->callback([&ctx, e, f] {
    ctx.action = [&ctx, e, f] {
      if (f->given()) return EnrollFurtherMain(*ctx.env, (*e)[0], (*e)[1], (*e)[2], *f);
      return EnrollCommand(*ctx.env, (*e)[0], (*e)[1], (*e)[2]);
    };
  });

  auto a = std::make_shared<std::array<std::string, 3>>();
  CLI::App* pending = partner.add_subcommand(
      "pending", "Updates from main waiting for your approval, with what they change");
  pending->add_option("DIR", (*a)[0], "The partner site's data directory")->required();
  pending->callback([&ctx, a] { ctx.action = [&ctx, a] { return Pending(*ctx.env, (*a)[0]); }; });

  CLI::App* approve = partner.add_subcommand("approve", "Approve a pending update");
  approve->add_option("DIR", (*a)[0], "The partner site's data directory")->required();
  approve->add_option("UPDATE", (*a)[1], "The update id shown by 'pending' (u7)")->required();
  approve->callback(
      [&ctx, a] { ctx.action = [&ctx, a] { return Approve(*ctx.env, (*a)[0], (*a)[1]); }; });

  CLI::App* reject = partner.add_subcommand("reject", "Reject a pending update, saying why");
  reject->add_option("DIR", (*a)[0], "The partner site's data directory")->required();
  reject->add_option("UPDATE", (*a)[1], "The update id shown by 'pending'")->required();
  reject->add_option("--reason", (*a)[2], "Why (main's manager reads it)")->required();
  reject->callback([&ctx, a] {
    ctx.action = [&ctx, a] { return Reject(*ctx.env, (*a)[0], (*a)[1], (*a)[2]); };
  });

  CLI::App* rollback = partner.add_subcommand(
      "rollback", "Re-activate the previous tie-up release (one atomic switch)");
  rollback->add_option("DIR", (*a)[0], "The partner site's data directory")->required();
  rollback->callback([&ctx, a] { ctx.action = [&ctx, a] { return Rollback(*ctx.env, (*a)[0]); }; });

  CLI::App* poll = partner.add_subcommand(
      "poll",
      "Ask main for the latest signed release now (pull mode, for a site main cannot reach; "
      "'poll_seconds' in site.toml does it periodically)");
  poll->add_option("DIR", (*a)[0], "The partner site's data directory")->required();
  poll->callback([&ctx, a] { ctx.action = [&ctx, a] { return PollCmd(*ctx.env, (*a)[0]); }; });

  CLI::App* updates = partner.add_subcommand(
      "updates", "Every update main offered and what became of it (refusals say why)");
  updates->add_option("DIR", (*a)[0], "The partner site's data directory")->required();
  updates->callback([&ctx, a] { ctx.action = [&ctx, a] { return Updates(*ctx.env, (*a)[0]); }; });

  CLI::App* status = partner.add_subcommand(
      "status", "The tie-up release served, and whether main withdrew its pages (and why)");
  status->add_option("DIR", (*a)[0], "The partner site's data directory")->required();
  status->callback([&ctx, a] { ctx.action = [&ctx, a] { return StatusCmd(*ctx.env, (*a)[0]); }; });

  CLI::App* resume = partner.add_subcommand(
      "resume",
      "Serve the tie-up pages again after this site stopped them because their files kept being "
      "changed on disk (check the server first: tieup partner alerts DIR says what happened)");
  resume->add_option("DIR", (*a)[0], "The partner site's data directory")->required();
  resume->callback([&ctx, a] { ctx.action = [&ctx, a] { return ResumeCmd(*ctx.env, (*a)[0]); }; });
}

}  // namespace tieup::cli
