#include "console/console_tls.h"

#include <openssl/ssl.h>

#include <boost/asio/ssl/context.hpp>

namespace tieup::console {

Result<std::shared_ptr<boost::asio::ssl::context>> MakeConsoleTlsContext(
    Env& env, const std::string& certificate_file, const std::string& key_file) {
  namespace ssl = boost::asio::ssl;
  auto cert = env.ReadFile(certificate_file);
  if (!cert.ok()) {
    return Status::InvalidArgument("cannot read the console's TLS certificate: " +
                                   cert.status().message());
  }
  auto key = env.ReadFile(key_file);
  if (!key.ok()) {
    return Status::InvalidArgument("cannot read the console's TLS key: " + key.status().message());
  }
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                   ssl::context::single_dh_use);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  boost::system::error_code ec;
  ctx->use_certificate_chain(boost::asio::buffer(*cert), ec);
  if (ec) {
    return Status::InvalidArgument(certificate_file + " does not hold a PEM certificate chain (" +
                                   ec.message() + ")");
  }
  ctx->use_private_key(boost::asio::buffer(*key), ssl::context::pem, ec);
  if (ec) {
    return Status::InvalidArgument(key_file + " does not hold a PEM private key (" + ec.message() +
                                   ")");
  }
  if (SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
    return Status::InvalidArgument(key_file + " is not the key of the certificate in " +
                                   certificate_file);
  }
  return ctx;
}

}  // namespace tieup::console
