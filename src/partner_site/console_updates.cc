// The partner console's updates: review, approve or reject, history, roll back
// (partner_site/console_pages.h).
#include <algorithm>
#include <boost/json.hpp>
#include <set>

#include "commerce/form.h"
#include "partner_site/console_common.h"
#include "partner_site/update_review.h"

namespace tieup::partner_console {

namespace {

std::string StateWords(const sync::ReceivedUpdate& u) {
  if (u.state == "pending") return "waiting for your review";
  if (u.state == "approved") return "approved; main activates it";
  if (u.state == "rejected") return "rejected: " + u.reason;
  if (u.state == "activated") return "live";
  if (u.state == "superseded") return "replaced by a newer update";
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

// --- home ---
ConsolePage Home(ConsoleState& s, const ConsoleRequest&) {
  json::object data;
  PartnerSync* sync = s.daemon->sync();
  data["enrolled"] = sync != nullptr;
  if (sync != nullptr) {
    auto status = sync->receiver().GetStatus();
    if (status.ok()) {
      data["tieup_version"] = status->active_version;
      data["tieup_live"] = status->active_version > 0;
    }
    auto pending = sync->receiver().Pending();
    json::array waiting;
    if (pending.ok()) {
      for (const sync::ReceivedUpdate& u : *pending) waiting.push_back(UpdateData(s, u));
    }
    data["has_pending"] = !waiting.empty();
    data["pending"] = std::move(waiting);
  }
  commerce::Shop::OrderFilter filter;
  filter.limit = 5;
  auto orders = s.shop.shop->ListOrders(filter);
  json::array recent;
  if (orders.ok()) {
    for (const commerce::Order& o : *orders) {
      recent.push_back(json::object{{"number", o.number},
                                    {"status", std::string(commerce::OrderStatusName(o.status))},
                                    {"total", s.Money(o.totals.total_minor)},
                                    {"when", s.Time(o.created_micros)}});
    }
  }
  data["has_orders"] = !recent.empty();
  data["orders"] = std::move(recent);
  data["public_url"] =
      "http://" + HostPort{s.config().public_address.host, s.daemon->public_port()}.ToString() +
      "/";
  ConsolePage p;
  p.title = "Home";
  p.template_name = "home";
  p.data = std::move(data);
  return p;
}

// --- updates ---
namespace {

ConsolePage Updates(ConsoleState& s, const ConsoleRequest&) {
  PartnerSync* sync = s.daemon->sync();
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
                    {"history", std::move(history)}};
  ConsolePage p;
  p.title = "Updates";
  p.template_name = "updates";
  p.data = std::move(data);
  return p;
}

ConsolePage Review(ConsoleState& s, const ConsoleRequest& r, const std::string& id) {
  PartnerSync* sync = s.daemon->sync();
  if (sync == nullptr) return Problem(404, "No such update", "This site receives no updates.");
  auto pending = sync->receiver().Pending();
  if (!pending.ok()) return Problem(500, "Updates unavailable", pending.status().message());
  auto it = std::find_if(pending->begin(), pending->end(),
                         [&](const sync::ReceivedUpdate& u) { return u.update_id == id; });
  if (it == pending->end()) {
    return Redirect("/updates", "Update " + id + " is no longer waiting for a review.");
  }
  if (r.http.method() == "POST") {
    const std::string_view decision = r.form.Get("decision");
    if (decision == "approve") {
      Status st = sync->receiver().Approve(id);
      (void)s.console->Audit(r, "update.approve",
                             id + " (version " + std::to_string(it->version) + ")");
      if (!st.ok() && st.code() != StatusCode::kUnavailable) {
        return Problem(409, "Could not approve", st.message());
      }
      return Redirect("/updates",
                      st.ok() ? "Update " + id + " approved: main has been told and activates it."
                              : "Update " + id +
                                    " approved. Main cannot be reached now; it is "
                                    "told as soon as it can be.");
    }
    if (decision == "reject") {
      const std::string reason(commerce::Trim(r.form.Get("reason")));
      if (reason.empty()) {
        return Redirect("/updates/" + id,
                        "Say why you reject the update: main's manager reads it.");
      }
      Status st = sync->receiver().Reject(id, reason);
      (void)s.console->Audit(r, "update.reject", id + ": " + reason);
      if (!st.ok() && st.code() != StatusCode::kUnavailable) {
        return Problem(409, "Could not reject", st.message());
      }
      return Redirect("/updates", "Update " + id + " rejected; main has been told why.");
    }
    return Problem(400, "Unknown decision", "Choose Approve or Reject.");
  }
  auto review = ReviewPendingUpdate(s.daemon->site().content(), *it);
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
    if (f.kind != FileChange::Kind::kRemoved) {
      file["preview"] = s.PreviewUrl(it->version) + f.path.substr(1);
    }
    files.push_back(std::move(file));
  }
  json::object data = UpdateData(s, *it);
  data["files"] = std::move(files);
  data["preview"] = s.PreviewUrl(it->version);
  ConsolePage p;
  p.title = "Review update " + id;
  p.template_name = "update";
  p.data = std::move(data);
  return p;
}

ConsolePage RollbackPage(ConsoleState& s, const ConsoleRequest& r) {
  PartnerSync* sync = s.daemon->sync();
  if (sync == nullptr) return Problem(409, "Not enrolled", "This site has no tie-up pages.");
  auto status = sync->receiver().GetStatus();
  if (!status.ok()) return Problem(500, "Status unavailable", status.status().message());
  if (r.http.method() == "POST") {
    auto version = sync->receiver().Rollback();
    (void)s.console->Audit(r, "update.rollback",
                           version.ok() ? "to version " + std::to_string(*version)
                                        : "refused: " + version.status().message());
    if (!version.ok()) return Problem(409, "Could not roll back", version.status().message());
    return Redirect("/updates", "Rolled back: the tie-up pages of version " +
                                    std::to_string(*version) + " are live again.");
  }
  ConsolePage p;
  p.title = "Roll back";
  p.template_name = "rollback";
  p.data = json::object{{"version", status->active_version}};
  return p;
}

}  // namespace

void AddUpdatePages(ConsoleState& s) {
  ConsoleState* p = &s;
  s.console->AddPage("/updates", [p](const ConsoleRequest& r) { return Updates(*p, r); });
  s.console->AddPage("/updates/", [p](const ConsoleRequest& r) {
    return Review(*p, r, std::string(r.http.path().substr(9)));
  });
  s.console->AddPage("/rollback", [p](const ConsoleRequest& r) { return RollbackPage(*p, r); });
}

}  // namespace tieup::partner_console
