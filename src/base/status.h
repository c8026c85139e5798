// Status and Result<T>: how tieup reports errors across module boundaries.
//
// A Status is either OK (cheap: no allocation) or carries a code and a message. Messages say
// what was wrong and what to do ("partner 'shop-b' offered version 7, but 9 is active: refusing
// a rollback"). Result<T> holds either a value or a non-OK Status.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace tieup {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,     // the caller's input is malformed or out of range
  kNotFound,            // the thing named does not exist
  kAlreadyExists,       // creating something that is already there
  kPermissionDenied,    // the actor may not do this (rights, areas)
  kUnauthenticated,     // a signature, certificate or credential did not check out
  kFailedPrecondition,  // the system is not in a state that allows this
  kAborted,             // a concurrent change or a conflict; retrying may succeed
  kOutOfRange,          // a read or a number beyond its bounds
  kResourceExhausted,   // a size or rate limit
  kDeadlineExceeded,    // a timeout
  kUnavailable,         // a peer or service cannot be reached now; retry later
  kDataLoss,            // stored data is corrupt or tampered with
  kIOError,             // the operating system refused a file or socket operation
  kUnimplemented,
  kInternal,  // a bug in tieup
};

// Returns the stable lower-case name of `code` ("invalid_argument").
std::string_view StatusCodeName(StatusCode code);
// The code whose StatusCodeName is `name`; nullopt for any other text.
std::optional<StatusCode> StatusCodeFromName(std::string_view name);

class [[nodiscard]] Status {
 public:
  // An OK status.
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string m) {
    return {StatusCode::kInvalidArgument, std::move(m)};
  }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
  static Status PermissionDenied(std::string m) {
    return {StatusCode::kPermissionDenied, std::move(m)};
  }
  static Status Unauthenticated(std::string m) {
    return {StatusCode::kUnauthenticated, std::move(m)};
  }
  static Status FailedPrecondition(std::string m) {
    return {StatusCode::kFailedPrecondition, std::move(m)};
  }
  static Status Aborted(std::string m) { return {StatusCode::kAborted, std::move(m)}; }
  static Status OutOfRange(std::string m) { return {StatusCode::kOutOfRange, std::move(m)}; }
  static Status ResourceExhausted(std::string m) {
    return {StatusCode::kResourceExhausted, std::move(m)};
  }
  static Status DeadlineExceeded(std::string m) {
    return {StatusCode::kDeadlineExceeded, std::move(m)};
  }
  static Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status DataLoss(std::string m) { return {StatusCode::kDataLoss, std::move(m)}; }
  static Status IOError(std::string m) { return {StatusCode::kIOError, std::move(m)}; }
  static Status Unimplemented(std::string m) { return {StatusCode::kUnimplemented, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

  // Returns true iff the status indicates success.
  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "OK", or "<code name>: <message>".
  std::string ToString() const;

  // Returns a copy whose message is prefixed with `context` ("reading site.toml: ...").
  // An OK status is returned unchanged.
  Status Annotate(std::string_view context) const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Either a T or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  // Implicit on purpose, so a function returning Result<T> can `return value;` or
  // `return Status::NotFound(...)`.
  Result(T value) : value_(std::move(value)) {}         // NOLINT
  Result(Status status) : status_(std::move(status)) {  // NOLINT
    assert(!status_.ok() && "Result<T> built from an OK status has no value");
    if (status_.ok()) status_ = Status::Internal("Result built from an OK status without a value");
  }

  bool ok() const { return status_.ok(); }
  const Status& status() const& { return status_; }
  Status status() && { return std::move(status_); }

  // The value; only valid when ok().
  T& value() & {
    assert(ok());
    return *value_;
  }
  const T& value() const& {
    assert(ok());
    return *value_;
  }
  T&& value() && {
    assert(ok());
    return std::move(*value_);
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  // The value, or `fallback` when not ok().
  T value_or(T fallback) const& { return ok() ? *value_ : std::move(fallback); }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace tieup

#define TIEUP_CONCAT_INNER(a, b) a##b
#define TIEUP_CONCAT(a, b) TIEUP_CONCAT_INNER(a, b)

// Returns the Status of `expr` from the enclosing function when it is not OK.
#define RETURN_IF_ERROR(expr)                      \
  do {                                             \
    ::tieup::Status tieup_status_ = (expr);        \
    if (!tieup_status_.ok()) return tieup_status_; \
  } while (0)

// `ASSIGN_OR_RETURN(auto x, F());` declares x from F()'s value, or returns its Status.
#define ASSIGN_OR_RETURN(lhs, expr) \
  TIEUP_ASSIGN_OR_RETURN_IMPL(TIEUP_CONCAT(tieup_result_, __LINE__), lhs, expr)
#define TIEUP_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return std::move(tmp).status();    \
  lhs = std::move(tmp).value()
