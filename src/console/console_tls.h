// The console's HTTPS server context (private to the module): a browser-facing TLS server
// (TLS 1.2 and 1.3, no client certificates), unlike the sync port's mutual TLS (trust/tls.h).
#pragma once

#include <memory>
#include <string>

#include "base/env.h"
#include "base/status.h"

namespace boost::asio::ssl {
class context;
}  // namespace boost::asio::ssl

namespace tieup::console {

// A server context presenting the PEM certificate chain in `certificate_file` with the PEM
// private key in `key_file` (both read through `env`). InvalidArgument naming the file when one
// cannot be read or parsed, or when the key does not belong to the certificate.
Result<std::shared_ptr<boost::asio::ssl::context>> MakeConsoleTlsContext(
    Env& env, const std::string& certificate_file, const std::string& key_file);

}  // namespace tieup::console
