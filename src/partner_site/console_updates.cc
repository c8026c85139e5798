// The partner console's updates: review, approve or reject, history, roll back
// (partner_site/console_pages.h).
#include <algorithm>
#include <boost/json.hpp>
#include <set>

#include "commerce/form.h"
#include "partner_site/console_common.h"
#include "partner_site/update_review.h"
#include "site/main_areas.h"

namespace tieup::partner_console {

namespace {

std::string StateWords(const sync::ReceivedUpdate& u) {
  if (u.state == "pending") return "waiting for your review";
  if (u.state == "approved") return "approved; main activates it";
  if (u.state == "rejected") return "rejected: " + u.reason;
  if (u.state == "activated") return "live";
  if (u.state == "superseded") return "replaced by a newer update";
  if (u.state == "staged") return "received; not live (see the home page)";
  return u.state;
}

}  // namespace

json::object UpdateData(const ConsoleState& s, const sync::ReceivedUpdate& u) {
  return json::object{{"id", u.update_id},
                      {"version", u.version},
                      {"state", u.state},
                      {"state_words", StateWords(u)},
                      {"pending", u.state == "pending"},
                      {"received", s.Time(u.received * 1'000'000)},
                      {"added", u.added},
                      {"changed", u.changed},
                      {"removed", u.removed}};
}

// --- updates ---
namespace {

// The main whose updates a page shows: the site's first main, or a further main
// (site/main_areas.h) whose pages are under /mains/NAME/ in the console.
struct MainOfPage {
  PartnerDaemon* daemon = nullptr;
  std::string base;   // "" or "/mains/NAME": the prefix of the page's links
  std::string label;  // "the main site", or "main at URL (tie-up area ...)"
};

ConsolePage RollbackOf(ConsoleState& s, const ConsoleRequest& r, const MainOfPage& m);

// A further main's name: its directory's under SITE_DIR/mains.
std::string FurtherMainName(PartnerDaemon& d) {
  const std::string& dir = d.site().site_dir();
  return dir.substr(dir.rfind('/') + 1);
}

// The further main named `name`; null when there is none.
PartnerDaemon* FurtherMainNamed(ConsoleState& s, std::string_view name) {
  for (const auto& d : s.daemon->further_mains()) {
    if (FurtherMainName(*d) == name) return d.get();
  }
  return nullptr;
}

ConsolePage UpdatesOf(ConsoleState& s, const MainOfPage& m) {
  PartnerSync* sync = m.daemon->sync();
  if (sync == nullptr) {
    return Problem(409, "Not enrolled",
                   "This site is not enrolled with a main site yet, so no updates arrive. Ask "
                   "the main site's manager for an enrollment code.");
  }
  auto updates = sync->receiver().Updates(100);
  if (!updates.ok()) return Problem(500, "Updates unavailable", updates.status().message());
  json::array pending, history;
  for (const sync::ReceivedUpdate& u : *updates) {
    (u.state == "pending" ? pending : history).push_back(UpdateData(s, u));
  }
  json::object data{{"has_pending", !pending.empty()},
                    {"pending", std::move(pending)},
                    {"has_history", !history.empty()},
                    {"history", std::move(history)},
                    {"base", m.base},
                    {"first_main", m.base.empty()}};
  if (!m.base.empty()) data["main"] = m.label;
  // The first main's page lists the further mains, each with what waits for a review.
  json::array further;
  if (m.base.empty()) {
    for (const auto& d : s.daemon->further_mains()) {
      size_t waiting = 0;
      if (d->sync() != nullptr) {
        if (auto p = d->sync()->receiver().Pending(); p.ok()) waiting = p->size();
      }
      further.push_back(json::object{{"name", FurtherMainName(*d)},
                                     {"label", DescribeMain(d->site().config())},
                                     {"waiting", waiting},
                                     {"enrolled", d->sync() != nullptr}});
    }
  }
  data["has_further"] = !further.empty();
  data["further"] = std::move(further);
  ConsolePage p;
  p.title = m.base.empty() ? "Updates" : "Updates from " + m.label;
  p.template_name = "updates";
  p.data = std::move(data);
  return p;
}

ConsolePage ReviewOf(ConsoleState& s, const ConsoleRequest& r, const MainOfPage& m,
                     const std::string& id) {
  PartnerSync* sync = m.daemon->sync();
  const std::string updates_page = m.base + "/updates";
  if (sync == nullptr) return Problem(404, "No such update", "This site receives no updates.");
  auto pending = sync->receiver().Pending();
  if (!pending.ok()) return Problem(500, "Updates unavailable", pending.status().message());
  auto it = std::find_if(pending->begin(), pending->end(),
                         [&](const sync::ReceivedUpdate& u) { return u.update_id == id; });
  if (it == pending->end()) {
    return Redirect(updates_page, "Update " + id + " is no longer waiting for a review.");
  }
  const std::string whose = m.base.empty() ? "" : " of " + m.label;
  if (r.http.method() == "POST") {
    const std::string_view decision = r.form.Get("decision");
    if (decision == "approve") {
      Status st = sync->receiver().Approve(id);
      (void)s.console->Audit(r, "update.approve",
                             id + " (version " + std::to_string(it->version) + ")" + whose);
      if (!st.ok() && st.code() != StatusCode::kUnavailable) {
        return Problem(409, "Could not approve", st.message());
      }
      return Redirect(updates_page,
                      st.ok() ? "Update " + id + " approved: main has been told and activates it."
                              : "Update " + id +
                                    " approved. Main cannot be reached now; it is "
                                    "told as soon as it can be.");
    }
    if (decision == "reject") {
      const std::string reason(commerce::Trim(r.form.Get("reason")));
      if (reason.empty()) {
        return Redirect(updates_page + "/" + id,
                        "Say why you reject the update: main's manager reads it.");
      }
      Status st = sync->receiver().Reject(id, reason);
      (void)s.console->Audit(r, "update.reject", id + whose + ": " + reason);
      if (!st.ok() && st.code() != StatusCode::kUnavailable) {
        return Problem(409, "Could not reject", st.message());
      }
      return Redirect(updates_page, "Update " + id + " rejected; main has been told why.");
    }
    return Problem(400, "Unknown decision", "Choose Approve or Reject.");
  }
  auto review = ReviewPendingUpdate(m.daemon->site().content(), *it);
  // The preview: the first main's on this site's address; a further main's on its host name or
  // under its prefix (its preview is served by its own pages, mounted there).
  std::string preview;
  const SiteConfig& area = m.daemon->site().config();
  if (m.base.empty()) {
    preview = s.PreviewUrl(it->version);
  } else if (auto secret = LoadOrCreatePreviewSecret(m.daemon->env(), m.daemon->site().site_dir());
             secret.ok()) {
    const std::string path = PreviewPath(*secret, it->version);
    const std::string host =
        area.area_host.empty() ? s.config().public_address.host : area.area_host;
    preview = "http://" + HostPort{host, s.daemon->public_port()}.ToString() +
              (area.area_host.empty() ? area.area_prefix + path.substr(1) : path);
  }
  if (!review.ok()) return Problem(500, "Review unavailable", review.status().message());
  json::array files;
  for (const FileChange& f : review->files) {
    json::array rows;
    for (const DiffLine& d : f.diff) {
      const char* kind = d.kind == DiffLine::Kind::kSame      ? "same"
                         : d.kind == DiffLine::Kind::kRemoved ? "removed"
                         : d.kind == DiffLine::Kind::kAdded   ? "added"
                         : d.kind == DiffLine::Kind::kChanged ? "changed"
                                                              : "gap";
      rows.push_back(
          json::object{{"kind", kind},
                       {"gap", d.kind == DiffLine::Kind::kGap},
                       {"left_number", d.left_number ? std::to_string(d.left_number) : ""},
                       {"right_number", d.right_number ? std::to_string(d.right_number) : ""},
                       {"left", d.left},
                       {"right", d.right}});
    }
    const char* kind = f.kind == FileChange::Kind::kAdded     ? "added"
                       : f.kind == FileChange::Kind::kChanged ? "changed"
                                                              : "removed";
    // (Sections test presence: an empty text would still show one.)
    json::object file{{"path", f.path},
                      {"kind", kind},
                      {"bytes_before", f.bytes_before},
                      {"bytes_after", f.bytes_after},
                      {"has_diff", !rows.empty()},
                      {"diff", std::move(rows)},
                      {"truncated", f.diff_truncated}};
    if (!f.note.empty()) file["note"] = f.note;
    if (f.kind != FileChange::Kind::kRemoved && !preview.empty()) {
      file["preview"] = preview + f.path.substr(1);
    }
    files.push_back(std::move(file));
  }
  json::object data = UpdateData(s, *it);
  data["files"] = std::move(files);
  if (!preview.empty()) data["preview"] = preview;
  data["base"] = m.base;
  if (!m.base.empty()) data["main"] = m.label;
  ConsolePage p;
  p.title = "Review update " + id + whose;
  p.template_name = "update";
  p.data = std::move(data);
  return p;
}

ConsolePage Updates(ConsoleState& s, const ConsoleRequest&) {
  return UpdatesOf(s, MainOfPage{s.daemon, "", "the main site"});
}

ConsolePage Review(ConsoleState& s, const ConsoleRequest& r, const std::string& id) {
  return ReviewOf(s, r, MainOfPage{s.daemon, "", "the main site"}, id);
}

ConsolePage RollbackPage(ConsoleState& s, const ConsoleRequest& r) {
  return RollbackOf(s, r, MainOfPage{s.daemon, "", "the main site"});
}

// /mains/NAME/updates, /mains/NAME/updates/ID, /mains/NAME/rollback: a further main's updates.
ConsolePage FurtherMainPage(ConsoleState& s, const ConsoleRequest& r) {
  std::string_view rest = r.http.path().substr(std::string_view("/mains/").size());
  const size_t slash = rest.find('/');
  const std::string name(rest.substr(0, slash));
  PartnerDaemon* d = FurtherMainNamed(s, name);
  if (d == nullptr || slash == std::string_view::npos) {
    return Problem(404, "No such main site",
                   "This site trades with no further main site called '" + name +
                       "'. The main sites are listed on the Updates page.");
  }
  const MainOfPage m{d, "/mains/" + name, DescribeMain(d->site().config())};
  rest = rest.substr(slash);
  if (rest == "/updates") return UpdatesOf(s, m);
  if (rest.starts_with("/updates/")) return ReviewOf(s, r, m, std::string(rest.substr(9)));
  if (rest == "/rollback") return RollbackOf(s, r, m);
  return Problem(404, "No such page", "See the Updates page.");
}

// What a rollback would do now. Receiver::Rollback makes live the newest tie-up release kept on
// disk, older than the live one, that was live before and that the manager has not rolled back
// from; the plan reads the same facts from the receiver's record (every activation and rollback
// is an event), replaying it to find the versions rolled back from.
// TODO(receiver API): a Receiver::RollbackTarget() sharing Rollback's own choice would spare the
// replay, which takes a version made by an emergency edit (no event) for the one before it.
struct RollbackPlan {
  uint64_t active = 0;
  uint64_t target = 0;  // 0: nothing to roll back to (why_not says why)
  std::string why_not;
  const sync::SyncEvent* target_live = nullptr;  // the last time it became live
  int64_t target_live_until = 0;                 // when another version replaced it then
  std::string target_update;                     // the update that brought it
};

RollbackPlan PlanRollback(const sync::PartnerSyncStatus& status,
                          const std::vector<sync::SyncEvent>& events,
                          const std::vector<sync::ReceivedUpdate>& updates) {
  RollbackPlan plan;
  plan.active = status.active_version;
  if (plan.active == 0) {
    plan.why_not =
        "no tie-up pages from the main site are live yet, so there is nothing to go "
        "back from";
    return plan;
  }
  std::set<uint64_t> was_live, rolled_back;
  uint64_t live = 0;
  for (const sync::SyncEvent& e : events) {
    if (e.kind == "activated") {
      was_live.insert(e.version);
      live = e.version;
    } else if (e.kind == "rollback") {
      was_live.insert(e.version);
      if (live != 0) rolled_back.insert(live);
      live = e.version;
    }
  }
  bool older_kept = false, older_live = false;
  for (auto it = status.staged_versions.rbegin(); it != status.staged_versions.rend(); ++it) {
    if (*it >= plan.active) continue;
    older_kept = true;
    if (!was_live.contains(*it)) continue;
    older_live = true;
    if (rolled_back.contains(*it)) continue;
    plan.target = *it;
    break;
  }
  if (plan.target == 0) {
    plan.why_not =
        !older_kept ? "no earlier version of the tie-up pages is kept on this site: version " +
                          std::to_string(plan.active) +
                          " is the first one here, or the earlier ones were removed (the site "
                          "keeps the last few, [content] keep_releases in site.toml)"
        : !older_live ? "the earlier versions kept here were never live (rejected, or replaced "
                        "before they were approved), and a rollback only goes back to a version "
                        "that was live"
                      : "you have already rolled back from each earlier version that was live: "
                        "the main site has to send a newer one";
    return plan;
  }
  for (size_t i = events.size(); i-- > 0;) {
    const sync::SyncEvent& e = events[i];
    if (e.version != plan.target || (e.kind != "activated" && e.kind != "rollback")) continue;
    plan.target_live = &e;
    for (size_t j = i + 1; j < events.size(); ++j) {
      if (events[j].kind == "activated" || events[j].kind == "rollback") {
        plan.target_live_until = events[j].time;
        break;
      }
    }
    break;
  }
  for (const sync::SyncEvent& e : events) {
    if (e.version == plan.target && e.kind == "activated" && !e.update_id.empty()) {
      plan.target_update = e.update_id;
      break;
    }
  }
  if (plan.target_update.empty()) {
    for (const sync::ReceivedUpdate& u : updates) {
      if (u.version == plan.target && u.state == "activated") plan.target_update = u.update_id;
    }
  }
  return plan;
}

// The pages that change when tie-up release `to` replaces `from` (at most 100 of each kind).
json::object RollbackChanges(SiteContent& content, uint64_t from, uint64_t to) {
  json::object out;
  Status read = content.Read([&](content::ContentStore& store) -> Status {
    ASSIGN_OR_RETURN(auto live, store.Active(content::Area::kTieup));
    ASSIGN_OR_RETURN(content::ReleaseManifest target, store.ReadStaged(content::Area::kTieup, to));
    if (live->version != from) {
      return Status::FailedPrecondition("the live version changed meanwhile");
    }
    const content::ReleaseDiff diff = content::Diff(*live, target);
    auto list = [](const std::vector<content::DiffEntry>& entries) {
      json::array a;
      for (const content::DiffEntry& e : entries) {
        if (a.size() == 100) break;
        a.push_back(json::object{{"path", e.path},
                                 {"bytes_now", e.before ? e.before->length : 0},
                                 {"bytes_after", e.after ? e.after->length : 0}});
      }
      return a;
    };
    // "added" by the rollback: pages of the older version that the live one does not have.
    out["back"] = list(diff.added);
    out["changed"] = list(diff.changed);
    out["gone"] = list(diff.removed);
    out["back_count"] = diff.added.size();
    out["changed_count"] = diff.changed.size();
    out["gone_count"] = diff.removed.size();
    out["has_back"] = !diff.added.empty();
    out["has_changed"] = !diff.changed.empty();
    out["has_gone"] = !diff.removed.empty();
    out["same"] = diff.empty();
    out["more"] = diff.added.size() > 100 || diff.changed.size() > 100 || diff.removed.size() > 100;
    return Status::Ok();
  });
  if (!read.ok()) out["unreadable"] = read.message();
  return out;
}

ConsolePage RollbackOf(ConsoleState& s, const ConsoleRequest& r, const MainOfPage& m) {
  PartnerSync* sync = m.daemon->sync();
  const std::string updates_page = m.base + "/updates";
  if (sync == nullptr) return Problem(409, "Not enrolled", "This site has no tie-up pages.");
  auto status = sync->receiver().GetStatus();
  if (!status.ok()) return Problem(500, "Status unavailable", status.status().message());
  if (r.http.method() == "POST") {
    // The confirmation named what would happen; when the live version changed since (an update
    // arrived, another manager rolled back), the manager looks again first.
    const std::string from(r.form.Get("from"));
    if (!from.empty() && from != std::to_string(status->active_version)) {
      return Redirect(m.base + "/rollback",
                      "Nothing rolled back: the live version changed since you "
                      "opened the confirmation (it is version " +
                          std::to_string(status->active_version) +
                          " now). Look at what a rollback does now.");
    }
    auto version = sync->receiver().Rollback();
    const std::string whose = m.base.empty() ? "" : " of " + m.label;
    (void)s.console->Audit(r, "update.rollback",
                           (version.ok() ? "to version " + std::to_string(*version)
                                         : "refused: " + version.status().message()) +
                               whose);
    if (!version.ok()) return Problem(409, "Could not roll back", version.status().message());
    return Redirect(updates_page, "Rolled back: the tie-up pages of version " +
                                      std::to_string(*version) + " are live again.");
  }
  auto events = sync->receiver().Events(100'000);  // the whole record: a replay needs it all
  if (!events.ok()) return Problem(500, "Record unavailable", events.status().message());
  auto updates = sync->receiver().Updates(200);
  if (!updates.ok()) return Problem(500, "Updates unavailable", updates.status().message());
  const RollbackPlan plan = PlanRollback(*status, *events, *updates);
  json::object data{{"version", plan.active}, {"live_version", plan.active}, {"base", m.base}};
  if (!m.base.empty()) data["main"] = m.label;
  for (auto it = events->rbegin(); it != events->rend(); ++it) {
    if (it->version == plan.active && (it->kind == "activated" || it->kind == "rollback")) {
      data["live_since"] = s.Time(it->time * 1'000'000);
      break;
    }
  }
  if (plan.target == 0) {
    data["why_not"] = plan.why_not;
  } else {
    json::object target{{"version", plan.target}};
    if (plan.target_live != nullptr) {
      target["live_from"] = s.Time(plan.target_live->time * 1'000'000);
      if (plan.target_live_until != 0) {
        target["live_until"] = s.Time(plan.target_live_until * 1'000'000);
      }
    }
    if (!plan.target_update.empty()) target["update_id"] = plan.target_update;
    data["target"] = std::move(target);
    data["changes"] = RollbackChanges(m.daemon->site().content(), plan.active, plan.target);
  }
  ConsolePage p;
  p.title = m.base.empty() ? "Roll back" : "Roll back the pages of " + m.label;
  p.template_name = "rollback";
  p.data = std::move(data);
  return p;
}

// /updates/version/N: the review of the update that brings tie-up version N (the link of the
// preview's banner, which knows the version only), or the Updates page when it no longer waits.
ConsolePage ReviewOfVersion(ConsoleState& s, std::string_view number) {
  PartnerSync* sync = s.daemon->sync();
  if (sync == nullptr) return Redirect("/updates", "");
  auto pending = sync->receiver().Pending();
  if (pending.ok()) {
    for (const sync::ReceivedUpdate& u : *pending) {
      if (std::to_string(u.version) == number) return Redirect("/updates/" + u.update_id, "");
    }
  }
  return Redirect("/updates", "Version " + std::string(number) +
                                  " no longer waits for a review: its "
                                  "outcome is in the history below.");
}

}  // namespace

void AddUpdatePages(ConsoleState& s) {
  ConsoleState* p = &s;
  s.console->AddPage("/updates", [p](const ConsoleRequest& r) { return Updates(*p, r); });
  s.console->AddPage("/updates/", [p](const ConsoleRequest& r) {
    return Review(*p, r, std::string(r.http.path().substr(9)));
  });
  s.console->AddPage("/updates/version/", [p](const ConsoleRequest& r) {
    return ReviewOfVersion(*p, r.http.path().substr(17));
  });
  s.console->AddPage("/rollback", [p](const ConsoleRequest& r) { return RollbackPage(*p, r); });
  s.console->AddPage("/mains/", [p](const ConsoleRequest& r) { return FurtherMainPage(*p, r); });
}

}  // namespace tieup::partner_console
