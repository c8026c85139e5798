#include "crypto/password_hash.h"

#include <sodium.h>

#include "base/encoding.h"

namespace tieup {

PasswordHashCost PasswordHashCost::Interactive() {
  return {crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE};
}
PasswordHashCost PasswordHashCost::Moderate() {
  return {crypto_pwhash_OPSLIMIT_MODERATE, crypto_pwhash_MEMLIMIT_MODERATE};
}
PasswordHashCost PasswordHashCost::MinimumForTest() {
  return {crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};
}

Result<PasswordHashCost> PasswordHashCost::FromName(std::string_view name) {
  if (name == "interactive") return Interactive();
  if (name == "moderate") return Moderate();
  if (name == "min") return MinimumForTest();
  return Status::InvalidArgument(
      "users.password_hashing must be \"interactive\" (the default), "
      "\"moderate\" or \"min\" (tests only), not \"" +
      std::string(name.substr(0, 40)) + "\"");
}

// Holds one of the hasher's max_concurrent slots while alive.
class PasswordHasher::Slot {
 public:
  explicit Slot(PasswordHasher& hasher) : hasher_(hasher) {
    std::unique_lock<std::mutex> lock(hasher_.slots_mu_);
    if (hasher_.running_ >= hasher_.max_concurrent_) {
      // The observer is told outside the lock; a slot freed meanwhile is seen by the wait.
      lock.unlock();
      hasher_.Notify(EventForTest::kWaiting);
      lock.lock();
      hasher_.slots_cv_.wait(lock, [&] { return hasher_.running_ < hasher_.max_concurrent_; });
    }
    ++hasher_.running_;
    lock.unlock();
    hasher_.Notify(EventForTest::kStarted);
  }
  ~Slot() {
    hasher_.Notify(EventForTest::kFinished);
    {
      std::lock_guard<std::mutex> lock(hasher_.slots_mu_);
      --hasher_.running_;
    }
    hasher_.slots_cv_.notify_one();
  }
  Slot(const Slot&) = delete;
  Slot& operator=(const Slot&) = delete;

 private:
  PasswordHasher& hasher_;
};

Status PasswordHasher::CheckCost(const PasswordHashCost& cost) {
  if (sodium_init() < 0) return Status::Internal("libsodium could not be initialised");
  if (cost.ops_limit < crypto_pwhash_OPSLIMIT_MIN || cost.mem_limit < crypto_pwhash_MEMLIMIT_MIN) {
    return Status::InvalidArgument("the password hashing cost is below libsodium's minimum");
  }
  return Status::Ok();
}

PasswordHasher::PasswordHasher(Env& env, PasswordHashCost cost, int max_concurrent)
    : env_(env), cost_(cost), max_concurrent_(max_concurrent < 1 ? 1 : max_concurrent) {}

Result<std::string> PasswordHasher::Hash(std::string_view password) {
  char out[crypto_pwhash_STRBYTES];
  Slot slot(*this);
  if (crypto_pwhash_str(out, password.data(), password.size(), cost_.ops_limit, cost_.mem_limit) !=
      0) {
    return Status::ResourceExhausted(
        "not enough memory to hash the password: try again in a moment");
  }
  return std::string(out);
}

bool PasswordHasher::Verify(const std::string& hash, std::string_view password) {
  if (hash.empty()) return false;
  Slot slot(*this);
  return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

const std::string& PasswordHasher::DummyHash() {
  std::call_once(dummy_once_, [&] {
    auto hash = Hash(HexEncode(RandomString(env_, 16)));
    dummy_hash_ = hash.ok() ? *hash : std::string();
  });
  return dummy_hash_;
}

}  // namespace tieup
