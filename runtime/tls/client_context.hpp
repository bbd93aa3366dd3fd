// The TLS side of one `server … ssl` line: sluice as the TLS client of a server. One OpenSSL
// context, built once when the worker starts, shared read-only by its loops; each loop keeps
// the server's last session to resume the next handshake with (HAProxy's per-thread reuse),
// so no lock is taken and no loop waits for another.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/tls/context_setup.hpp"
#include "runtime/tls/stream.hpp"

namespace sluice::tls {

struct ClientSettings {
  bool verify = true;   // `verify required` (HAProxy's default) or `verify none`
  std::string ca_file;  // a file, a directory or "@system-ca"
  std::string crl_file;
  std::string verifyhost;   // checked against the certificate when no SNI is sent
  std::string certificate;  // `crt`: the certificate (and key) sluice presents, if asked
  std::vector<std::string> alpn;
  std::string ciphers;       // empty: OpenSSL's
  std::string ciphersuites;  // empty: OpenSSL's
  VersionRange versions;
  bool reuse = true;    // `no-ssl-reuse` turns resumption off
  bool tickets = true;  // `no-tls-tickets`
};

class ClientContext {
 public:
  // Nullptr with `error` set (naming the file) when a file or setting cannot be used.
  // `loops`: how many loops will call connect() (each resumes its own sessions).
  static std::unique_ptr<ClientContext> build(const ClientSettings& settings, std::size_t loops,
                                              std::string& error);
  ~ClientContext();
  ClientContext(const ClientContext&) = delete;
  ClientContext& operator=(const ClientContext&) = delete;

  // A client-side TLS stream over a connecting socket, sending `server_name` as SNI (and
  // verifying the certificate against it; without one, against verifyhost), resuming the
  // loop's last session with this server when the name matches. Empty when out of memory.
  Stream connect(int fd, std::string_view server_name, std::size_t loop) const;
  // The handshake failed: the loop's kept session is dropped, so the next one starts afresh.
  void forget_session(std::size_t loop) const;

 private:
  struct alignas(64) Session {
    SSL_SESSION* session = nullptr;
    std::string server_name;  // what it was negotiated for
  };
  friend int on_new_session(SSL* ssl, SSL_SESSION* session);
  ClientContext() = default;

  SSL_CTX* ctx_ = nullptr;
  std::string verifyhost_;
  bool verify_ = true;
  bool reuse_ = true;
  mutable std::vector<Session> sessions_;  // by loop; each loop touches only its own
};

}  // namespace sluice::tls
