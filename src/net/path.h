// Request-target normalization: the one place where a URL path from the network becomes a
// path tieup looks things up with. Pure functions, thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "base/encoding.h"  // IsValidUtf8
#include "base/status.h"

namespace tieup {

// A request-target split into its normalized path and its raw query.
struct RequestTarget {
  std::string path;   // decoded and normalized; starts with '/'
  std::string query;  // raw (still percent-encoded), without '?'; empty when absent
};

// Normalizes the path of an HTTP request-target (origin-form "/a/b?q", or absolute-form
// "http://host/a/b?q", whose scheme and authority are dropped):
//  - the query (after the first '?') is split off and left alone;
//  - the path is percent-decoded exactly once ("%252e" becomes the literal "%2e");
//  - refused (kInvalidArgument, with the reason): an empty or non-'/' target, a fragment ('#'),
//    malformed percent-encoding, NUL and other control characters, a backslash (raw or
//    "%5c"), an encoded slash ("%2f"), invalid UTF-8 (overlong forms such as "%c0%ae",
//    surrogates, code points above U+10FFFF, truncated sequences);
//  - "." and ".." segments (also when encoded, "%2e%2e", ".%2e") are resolved; a ".." that
//    would climb above "/" is refused;
//  - empty segments ("//") collapse; a trailing slash is kept ("/a/" stays "/a/", "/a/.."
//    becomes "/").
Result<std::string> NormalizePath(std::string_view raw_target);

// NormalizePath plus the raw query.
Result<RequestTarget> ParseRequestTarget(std::string_view raw_target);

// The allocation-free form used by the server: writes the normalized path to *path (reusing
// its capacity) and points *query into `raw_target`. On error *path is unspecified.
Status NormalizePathTo(std::string_view raw_target, std::string* path, std::string_view* query);

}  // namespace tieup
