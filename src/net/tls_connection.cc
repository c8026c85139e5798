// The TLS instantiation of the server's connection (see server_connection.h).
#include "net/server_connection.h"

namespace tieup {
namespace net_internal {

std::string DescribeHandshakeError(const beast::error_code& ec, bool* refusal) {
  *refusal = false;
  if (ec == asio::error::eof || ec == ssl::error::stream_truncated ||
      ec == asio::error::connection_reset) {
    return "the peer closed the connection during the TLS handshake (it may have refused this "
           "site's certificate)";
  }
  if (ec.category() == asio::error::get_ssl_category()) {
    switch (ERR_GET_REASON(static_cast<unsigned long>(ec.value()))) {
      case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
        *refusal = true;
        return "the peer presented no certificate: a partner must connect with the certificate "
               "from its enrollment";
      case SSL_R_UNSUPPORTED_PROTOCOL:
      case SSL_R_NO_PROTOCOLS_AVAILABLE:
      case SSL_R_VERSION_TOO_LOW:
        *refusal = true;
        return "the peer does not offer TLS 1.3 (" + ec.message() + ")";
      case SSL_R_HTTP_REQUEST:
      case SSL_R_WRONG_VERSION_NUMBER:
        return "the peer does not speak TLS (plain HTTP on the TLS port?)";
      default:
        break;
    }
    const int reason = ERR_GET_REASON(static_cast<unsigned long>(ec.value()));
    if (reason >= SSL_AD_REASON_OFFSET) {
      return "the peer refused the handshake (" + ec.message() +
             "): it does not accept this site's certificate";
    }
  }
  return "TLS handshake failed: " + ec.message();
}

void StartTlsConnection(Worker* worker, Socket socket, std::string client_address,
                        ssl::context& context) {
  auto c = std::make_shared<Connection<TlsStream>>(worker, std::move(socket), context);
  worker->Add(c.get());
  c->Start(std::move(client_address));
}

}  // namespace net_internal
}  // namespace tieup
