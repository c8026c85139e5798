// RetryPolicy: what main's publisher does after a failed or rejected update (DESIGN.md
// "Remote updating", step 4).
//
// Text forms:
//   manual                     never retry by itself; the main manager publishes again
//   backoff:30s..1h            exponential backoff from 30 s, capped at 1 h, no attempt limit
//   backoff:10s..10m,max=20    the same, giving up after 20 failed attempts
//   backoff:30s..1h,rejected=1d  a version the partner's manager rejected is offered again,
//                              unchanged, after one day (also "manual,rejected=1d")
// A rejection is not a failure: without `rejected=`, a version the partner's manager rejected
// is never offered again by itself; a changed version is, and the main manager may publish it
// again at any time.
// Delays use "full jitter": attempt n waits a uniformly random time in
// [1 s, min(cap, base * 2^(n-1))], so many partners failing together do not retry in lockstep.
//
// An immutable value: thread-safe (randomness comes from the Env passed in).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/env.h"
#include "base/status.h"

namespace tieup::sync {

class RetryPolicy {
 public:
  // Parses the text (see the file comment). InvalidArgument saying what is wrong and what is
  // expected.
  static Result<RetryPolicy> Parse(std::string_view text);

  // The default: backoff:30s..1h.
  RetryPolicy() = default;

  // When to make attempt number `failed_attempts + 1`, given that `failed_attempts` (>= 1)
  // consecutive attempts have failed, the last at `now` (unix seconds). nullopt when the policy
  // is manual or the attempt limit is reached.
  std::optional<int64_t> NextAttempt(int failed_attempts, int64_t now, Env& env) const;

  // The upper bound of the jittered delay after `failed_attempts` failures (for tests/status).
  int64_t MaxDelay(int failed_attempts) const;

  bool manual() const { return manual_; }
  int64_t base_seconds() const { return base_; }
  int64_t cap_seconds() const { return cap_; }
  int max_attempts() const { return max_attempts_; }  // 0 = unlimited
  // How long after a rejection the same version is offered again by itself; 0: never.
  int64_t rejected_seconds() const { return rejected_; }
  // The canonical text ("backoff:30s..1h", "manual").
  std::string ToString() const;

 private:
  bool manual_ = false;
  int64_t base_ = 30;
  int64_t cap_ = 3600;
  int max_attempts_ = 0;
  int64_t rejected_ = 0;
};

}  // namespace tieup::sync
