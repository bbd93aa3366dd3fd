// The TLS side of one `bind … ssl`: one OpenSSL context per certificate, built once when the
// worker starts and shared read-only by its loops, and the SNI choice among them at each
// ClientHello (exact name, then wildcard, then the default; ECDSA to the clients that take
// it, RSA to the rest). The first context made also holds the bind's session cache and
// ticket keys, whichever certificate a handshake ends up with.
#pragma once

#include <openssl/ssl.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "runtime/tls/context_setup.hpp"
#include "runtime/tls/stream.hpp"

namespace sluice::tls {

struct ServerSettings {
  // `crt` arguments in order: PEM files (chain and key, or the key in FILE.key), bundles
  // (FILE.ecdsa/.rsa/.dsa) or directories. The first certificate is the default.
  std::vector<std::string> certificates;
  // ALPN protocols the bind offers that may be selected, in the bind's order.
  std::vector<std::string> alpn;
  std::string ciphers;       // empty: Mozilla "intermediate"
  std::string ciphersuites;  // empty: OpenSSL's (the same three as Mozilla's)
  std::string curves;        // empty: OpenSSL's
  std::string dh_param_file;
  VersionRange versions;
  enum class Verify : std::uint8_t { none, optional, required };
  Verify verify = Verify::none;  // client certificates
  std::string ca_file;           // a file, a directory or "@system-ca"
  std::string crl_file;
  bool strict_sni = false;
  bool tickets = true;
  long cache_size = 20000;  // tune.ssl.cachesize
  long lifetime_s = 300;    // tune.ssl.lifetime
};

// Mozilla's "intermediate" TLS 1.2 list (v5.7): forward secrecy and AEAD only.
inline constexpr const char* kIntermediateCiphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305";

class ServerContexts {
 public:
  // Nullptr with `error` set (naming the file) when a certificate or setting cannot be used.
  static std::unique_ptr<ServerContexts> build(const ServerSettings& settings, std::string& error);
  ~ServerContexts();
  ServerContexts(const ServerContexts&) = delete;
  ServerContexts& operator=(const ServerContexts&) = delete;

  // A server-side TLS stream over an accepted socket; empty when OpenSSL is out of memory.
  Stream accept(int fd) const;

  // The certificate context for a ClientHello's server name (lower-case); nullptr with
  // strict-sni and no match.
  SSL_CTX* choose(std::string_view server_name, bool ecdsa_ok) const;

 private:
  struct Choice {
    SSL_CTX* ecdsa = nullptr;
    SSL_CTX* other = nullptr;  // RSA (or DSA)
    SSL_CTX* pick(bool ecdsa_ok) const;
  };
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using NameMap = std::unordered_map<std::string, Choice, Hash, std::equal_to<>>;

  ServerContexts() = default;
  bool add_certificate_file(const std::string& path, const ServerSettings& settings,
                            std::string& error);
  bool add_certificate(const std::string& path, const ServerSettings& settings, std::string& error);

  std::vector<SSL_CTX*> contexts_;  // owned; the first is every handshake's starting point
  NameMap exact_;
  NameMap wildcard_;  // by the suffix after "*" (".example.com")
  Choice default_;
  std::string default_name_;  // the default certificate's first name
  bool strict_sni_ = false;
  std::string alpn_wire_;  // the selectable protocols, length-prefixed
};

}  // namespace sluice::tls
