// Main's enrollment tokens in its store (trust/enrollment.h TokenStore), so that every
// `tieup main serve` process sharing one PostgreSQL store redeems the codes any of them issued.
#pragma once

#include <memory>
#include <string>

#include "base/env.h"
#include "base/status.h"
#include "store/database.h"
#include "trust/enrollment.h"

namespace tieup {

// A TokenStore in the table main_enrollment_tokens of `db` (made when missing). Tokens an older
// tieup kept in SITE_DIR/keys/tokens.json are taken over once: those the store does not know yet
// are added, and the file is renamed tokens.json.imported (a copy of keys/ in another process's
// directory cannot bring back a token that was used since). MarkUsed compares the hash in
// constant time and marks the token in one statement that only succeeds while it is unused, so
// one redemption wins even across processes. `db` must outlive the store; thread-safe.
Result<std::unique_ptr<TokenStore>> OpenDatabaseTokenStore(Env& env, Database& db,
                                                           const std::string& site_dir);

}  // namespace tieup
