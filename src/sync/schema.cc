#include "sync/schema.h"

#include <vector>

namespace tieup::sync::internal {

Status MigrateSyncSchema(Database& db) {
  static const std::vector<Migration> kSteps = {
      {1, R"sql(
CREATE TABLE sync_events(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  time INTEGER NOT NULL,
  partner TEXT NOT NULL,
  update_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  kind TEXT NOT NULL,
  message TEXT NOT NULL);
CREATE INDEX sync_events_partner ON sync_events(partner, id);
-- main: partnerships and their update state
CREATE TABLE sync_partnerships(
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  region TEXT NOT NULL,
  public_url TEXT NOT NULL,
  sync_url TEXT NOT NULL,
  kind TEXT NOT NULL,
  approval TEXT NOT NULL,
  schedule TEXT NOT NULL,
  retry TEXT NOT NULL,
  variables TEXT NOT NULL,
  overrides_dir TEXT NOT NULL,
  revoked INTEGER NOT NULL DEFAULT 0,
  created INTEGER NOT NULL,
  active_version INTEGER NOT NULL DEFAULT 0,
  failures INTEGER NOT NULL DEFAULT 0,
  next_retry INTEGER NOT NULL DEFAULT 0,
  next_scheduled INTEGER NOT NULL DEFAULT 0,
  last_update INTEGER NOT NULL DEFAULT 0);
CREATE TABLE sync_releases(
  partner TEXT NOT NULL,
  version INTEGER NOT NULL,
  payload TEXT NOT NULL,
  envelope TEXT NOT NULL,
  created INTEGER NOT NULL,
  expires INTEGER NOT NULL,
  PRIMARY KEY(partner, version));
CREATE TABLE sync_blob_refs(
  partner TEXT NOT NULL,
  hash TEXT NOT NULL,
  PRIMARY KEY(partner, hash)) WITHOUT ROWID;
CREATE TABLE sync_updates(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  partner TEXT NOT NULL,
  version INTEGER NOT NULL,
  mode TEXT NOT NULL,
  state TEXT NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  offered INTEGER NOT NULL,
  finished INTEGER NOT NULL DEFAULT 0,
  fetched_blobs INTEGER NOT NULL DEFAULT 0,
  fetched_bytes INTEGER NOT NULL DEFAULT 0);
CREATE INDEX sync_updates_partner ON sync_updates(partner, id);
-- partner: updates received, and versions the manager rolled back from
CREATE TABLE sync_received(
  update_id TEXT PRIMARY KEY,
  version INTEGER NOT NULL,
  state TEXT NOT NULL,
  received INTEGER NOT NULL,
  decided INTEGER NOT NULL DEFAULT 0,
  reason TEXT NOT NULL DEFAULT '',
  added INTEGER NOT NULL DEFAULT 0,
  changed INTEGER NOT NULL DEFAULT 0,
  removed INTEGER NOT NULL DEFAULT 0,
  added_bytes INTEGER NOT NULL DEFAULT 0,
  changed_bytes INTEGER NOT NULL DEFAULT 0,
  removed_bytes INTEGER NOT NULL DEFAULT 0,
  paths TEXT NOT NULL DEFAULT '',
  response_unsent INTEGER NOT NULL DEFAULT 0);
CREATE TABLE sync_rolled_back(
  version INTEGER PRIMARY KEY,
  time INTEGER NOT NULL);
)sql"},
      // Incremental builds and delta metadata: what each release was built from, its signed
      // delta from the previous release, and the full envelope signed only when needed. (inputs
      // and snapshot hold bytes: declared BLOB since PostgreSQL came (issue 18), which needs it;
      // SQLite, which wrote them as TEXT before, stores the values the same either way.)
      {2, R"sql(
ALTER TABLE sync_releases ADD COLUMN inputs BLOB NOT NULL DEFAULT '';
ALTER TABLE sync_releases ADD COLUMN delta_base INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sync_releases ADD COLUMN delta_envelope TEXT NOT NULL DEFAULT '';
)sql"},
      // The manifest again in content's compact form, read back on the next build.
      {3, R"sql(
ALTER TABLE sync_releases ADD COLUMN snapshot BLOB NOT NULL DEFAULT '';
)sql"},
      // Releases are kept as the compact snapshot and the hash of their canonical JSON (the JSON
      // is rebuilt from the snapshot when a full envelope is signed); older rows keep payload.
      {4, R"sql(
ALTER TABLE sync_releases ADD COLUMN payload_hash TEXT NOT NULL DEFAULT '';
)sql"},
      // Snapshots and inputs are stored as chunked records (sync/chunk_store.h): the distinct
      // chunks of every stored release, by the hex SHA-256 of their bytes.
      {5, R"sql(
CREATE TABLE sync_chunks(
  hash TEXT PRIMARY KEY,
  data BLOB NOT NULL);
)sql"},
      // Releases are named by ReleaseManifest::Hash (over the hashes of their chunks), no longer
      // by the SHA-256 of their JSON: the stored hashes, and the deltas that carry them, go (a
      // hash is computed again when a stored release is read, a delta signed again when needed).
      {6, R"sql(
UPDATE sync_releases SET payload_hash = '', delta_envelope = '';
)sql"},
      // Emergency edits (issue 15): the right main grants each partnership, and what the partner
      // last reported it serves (main's release hash and the edits in effect, JSON) with the
      // number of its last recorded change.
      {7, R"sql(
ALTER TABLE sync_partnerships ADD COLUMN emergency_edit TEXT NOT NULL DEFAULT 'none';
ALTER TABLE sync_partnerships ADD COLUMN served_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE sync_partnerships ADD COLUMN served_overlay TEXT NOT NULL DEFAULT '[]';
ALTER TABLE sync_partnerships ADD COLUMN emergency_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sync_partnerships ADD COLUMN served_version INTEGER NOT NULL DEFAULT 0;
)sql"},
      // Suspension (issue 15 item 4): a temporary stop of a partnership's updates, and since
      // when.
      {8, R"sql(
ALTER TABLE sync_partnerships ADD COLUMN suspended INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sync_partnerships ADD COLUMN suspended_since INTEGER NOT NULL DEFAULT 0;
)sql"},
      // The partners at a glance (sync/partner_overview.h): each partnership's state category,
      // newest built version and last contact, derived from the tables above and brought up to
      // date from the events and attempts recorded since the mark, so that a page of 10,000
      // partnerships is filtered and sorted by index.
      {9, R"sql(
CREATE TABLE sync_overview(
  partner TEXT PRIMARY KEY,
  category INTEGER NOT NULL,
  latest INTEGER NOT NULL,
  contact INTEGER NOT NULL);
CREATE INDEX sync_overview_category ON sync_overview(category, partner);
CREATE TABLE sync_overview_mark(
  id INTEGER PRIMARY KEY CHECK (id = 1),
  event_id INTEGER NOT NULL,
  update_id INTEGER NOT NULL,
  partners INTEGER NOT NULL,
  rebuilt INTEGER NOT NULL);
)sql"},
      // Kind link (issue 15 item 2): how the partner serves a link entry (content::LinkMode
      // names: redirect, redirect-301, redirect-307, page), written into each link entry of
      // the partner's releases.
      {10, R"sql(
ALTER TABLE sync_partnerships ADD COLUMN link_mode TEXT NOT NULL DEFAULT 'redirect';
)sql"},
      // Fees (issue 15 item 8): the optional services enabled for the partnership (comma list of
      // fees::kFeeOptionNames); a service the contract prices is charged only when enabled.
      {11, R"sql(
ALTER TABLE sync_partnerships ADD COLUMN options TEXT NOT NULL DEFAULT '';
)sql"},
      // Partner copies of customer data (issue 16 item 5; sync/partnership_terms.h): the fields a
      // partner may keep (comma list, '' for none) and for which customers.
      {12, R"sql(
ALTER TABLE sync_partnerships ADD COLUMN copy_fields TEXT NOT NULL DEFAULT '';
ALTER TABLE sync_partnerships ADD COLUMN copy_for TEXT NOT NULL DEFAULT 'registered';
)sql"},
      // User logs (issue 16 item 6; sync/partnership_terms.h): whether the partner's access
      // records carry the signed-in customer's id: consent, always or never.
      {13, R"sql(
ALTER TABLE sync_partnerships ADD COLUMN user_logs TEXT NOT NULL DEFAULT 'consent';
)sql"},
      // The WAF settings main sets for a partner with the security service (issue 17;
      // sync/partnership_terms.h WafTerms): their canonical JSON, '' for the defaults.
      {14, R"sql(
ALTER TABLE sync_partnerships ADD COLUMN waf TEXT NOT NULL DEFAULT '';
)sql"},
      // When each optional service was switched on or off (issue 17 item 7: fee statements
      // charge a service for the days it was on; sync/partnership_terms.h).
      {15, R"sql(
CREATE TABLE sync_option_changes(partner TEXT NOT NULL, option TEXT NOT NULL,
  enabled INTEGER NOT NULL, at INTEGER NOT NULL);
CREATE INDEX sync_option_changes_partner ON sync_option_changes(partner, at);
)sql"},
      // Main's templates every partner may fetch (issue 18 item 4; content/template_vars.h):
      // recorded once, not once per partner in sync_blob_refs.
      {16, R"sql(
CREATE TABLE sync_shared_blobs(hash TEXT NOT NULL PRIMARY KEY) WITHOUT ROWID;
)sql"},
  };
  return Migrate(db, "sync", kSteps);
}

Status RecordEvent(Database& db, int64_t time, std::string_view partner, std::string_view update_id,
                   uint64_t version, std::string_view kind, std::string_view message) {
  return db.Exec(
      "INSERT INTO sync_events(time, partner, update_id, version, kind, message) "
      "VALUES(?,?,?,?,?,?)",
      {time, std::string(partner), std::string(update_id), static_cast<int64_t>(version),
       std::string(kind), std::string(message)});
}

}  // namespace tieup::sync::internal

namespace tieup::sync::internal {

Result<std::vector<SyncEvent>> ListEvents(Database& db, std::string_view partner, size_t limit) {
  std::string sql = "SELECT id, time, partner, update_id, version, kind, message FROM sync_events";
  std::vector<SqlValue> params;
  if (!partner.empty()) {
    sql += " WHERE partner = ?";
    params.emplace_back(std::string(partner));
  }
  sql += " ORDER BY id DESC LIMIT ?";
  params.emplace_back(static_cast<int64_t>(limit));
  ASSIGN_OR_RETURN(auto rows, db.Query(sql, params));
  std::vector<SyncEvent> out;
  for (auto it = rows.rbegin(); it != rows.rend(); ++it) {
    SyncEvent e;
    e.id = it->Int(0);
    e.time = it->Int(1);
    e.partner = it->Text(2);
    e.update_id = it->Text(3);
    e.version = static_cast<uint64_t>(it->Int(4));
    e.kind = it->Text(5);
    e.message = it->Text(6);
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace tieup::sync::internal
