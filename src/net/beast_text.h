// Beast's string_view as std::string_view, for the server's and the client's parsers (internal
// to src/net).
#pragma once

#include <boost/beast/core/string.hpp>
#include <string_view>

namespace tieup::net_internal {

inline std::string_view ToStd(boost::beast::string_view s) { return {s.data(), s.size()}; }

}  // namespace tieup::net_internal
