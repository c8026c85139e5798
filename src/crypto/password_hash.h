// Password hashing with Argon2id (libsodium crypto_pwhash_str): the hashes kept for user
// accounts (users::UserStore) and console managers (console::ManagerStore).
//
// A hash is a self-describing string ("$argon2id$v=19$m=...,t=...,p=1$salt$hash") that carries
// its own cost and salt, so a hash made at one cost still verifies after the cost changes.
// Hashing is deliberately slow and memory-hard (each hash or verification takes
// PasswordHashCost::mem_limit bytes); a PasswordHasher bounds how many run at once so that a
// burst of sign-ins cannot exhaust memory.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>

#include "base/env.h"
#include "base/status.h"

namespace tieup {

// Argon2id cost (libsodium opslimit and memlimit).
struct PasswordHashCost {
  uint64_t ops_limit = 0;
  size_t mem_limit = 0;

  // libsodium's INTERACTIVE limits (2 passes, 64 MiB): the default.
  static PasswordHashCost Interactive();
  // libsodium's MODERATE limits (3 passes, 256 MiB).
  static PasswordHashCost Moderate();
  // libsodium's MIN limits (1 pass, 8 KiB): offers no protection; for tests only.
  static PasswordHashCost MinimumForTest();
  // "interactive", "moderate" or "min" (the site.toml setting users.password_hashing, which
  // the InvalidArgument message for any other name refers to).
  static Result<PasswordHashCost> FromName(std::string_view name);
};

// Hashes and verifies passwords at one cost, at most `max_concurrent` at a time: further callers
// wait (in no particular order) until one finishes. Thread-safe. The Env must outlive the hasher.
class PasswordHasher {
 public:
  // Internal when libsodium cannot be initialised; InvalidArgument when `cost` is below
  // libsodium's minimum. Call before constructing a hasher with that cost.
  static Status CheckCost(const PasswordHashCost& cost);

  // `env` gives the randomness of DummyHash. `cost` must have passed CheckCost; a
  // `max_concurrent` below 1 counts as 1.
  PasswordHasher(Env& env, PasswordHashCost cost, int max_concurrent);
  PasswordHasher(const PasswordHasher&) = delete;
  PasswordHasher& operator=(const PasswordHasher&) = delete;

  // A new hash of `password` with a fresh random salt. ResourceExhausted ("not enough memory to
  // hash the password: try again in a moment") when libsodium cannot allocate mem_limit bytes.
  Result<std::string> Hash(std::string_view password);

  // Returns true iff `hash` is a hash of `password` (made at any cost). False, at once, for an
  // empty hash; false for anything that is not a hash.
  bool Verify(const std::string& hash, std::string_view password);

  // A hash of a random password at this hasher's cost, made on first use and the same after.
  // Verifying an unknown account's attempt against it costs as much as against a real hash, so
  // the time taken does not tell whether the account exists; nothing verifies against it.
  // Empty (and so verifying at once) if the first attempt to make it ran out of memory.
  const std::string& DummyHash();

  // What the hasher reports to a test observer, on the calling thread and without holding its
  // lock: kWaiting when a caller finds every slot taken and starts to wait; kStarted and
  // kFinished around each hash or verification, while it holds its slot.
  enum class EventForTest { kWaiting, kStarted, kFinished };
  // Test hook. Set it before any call to Hash, Verify or DummyHash.
  void SetObserverForTest(std::function<void(EventForTest)> observer) {
    observer_ = std::move(observer);
  }

 private:
  class Slot;

  void Notify(EventForTest event) {
    if (observer_) observer_(event);
  }

  Env& env_;
  const PasswordHashCost cost_;
  const int max_concurrent_;
  std::mutex slots_mu_;
  std::condition_variable slots_cv_;
  int running_ = 0;  // guarded by slots_mu_
  std::once_flag dummy_once_;
  std::string dummy_hash_;
  std::function<void(EventForTest)> observer_;
};

}  // namespace tieup
