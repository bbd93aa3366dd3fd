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
#include "runtime/tls/session_cache.hpp"
#include "runtime/tls/stream.hpp"
#include "runtime/tls/ticket_keys.hpp"

namespace sluice::tls {

struct ServerSettings;

// One `crt` argument, or one crt-list line.
struct CertificateSource {
  // A PEM file (chain and key, or the key in FILE.key), a bundle (FILE.ecdsa/.rsa/.dsa)
  // or a directory.
  std::string path;
  // SNI filters: with any (an exclusion too), only the positive ones (names and "*.x"
  // wildcards) select it, less the exclusions; without, the certificate's own names.
  std::vector<std::string> filters, exclusions;
  // A crt-list line's settings (its options over the bind's); nullptr: the bind's.
  std::shared_ptr<const ServerSettings> own;
};

struct ServerSettings {
  // In bind-line order; the first certificate is the default.
  std::vector<CertificateSource> certificates;
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
  bool no_ca_names = false;  // the CA names are not sent to the client
  bool strict_sni = false;
  bool tickets = true;
  std::string ticket_keys_file;  // empty: `ticket_keys`, else OpenSSL's own, made at startup
  // Keys the master made for this bind (kept across reloads); nullptr: none.
  const TicketKeys* ticket_keys = nullptr;
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

  // What was loaded but is not served as it stands (an OCSP response not stapled).
  const std::vector<std::string>& warnings() const { return warnings_; }

  // A server-side TLS stream over an accepted socket; empty when OpenSSL is out of memory.
  Stream accept(int fd) const;

  // The certificate context for a ClientHello's server name (lower-case); nullptr with
  // strict-sni and no match.
  SSL_CTX* choose(std::string_view server_name, bool ecdsa_ok) const;

  // What a certificate's context sets apart from the others of its bind: a crt-list
  // line's options, applied to a handshake when SNI picks that certificate (OpenSSL keeps
  // the first context's for the rest).
  struct Profile {
    const ServerSettings* settings = nullptr;
    std::string alpn_wire;  // the selectable protocols, length-prefixed
  };

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
  bool add_source(const CertificateSource& source, const ServerSettings& settings,
                  std::string& error);
  bool add_certificate_file(const std::string& path, const CertificateSource& source,
                            const Profile& profile, std::string& error);
  bool add_certificate(const std::string& path, const CertificateSource& source,
                       const Profile& profile, std::string& error);
  const Profile& profile_of(const ServerSettings& settings);

  std::vector<SSL_CTX*> contexts_;  // owned; the first is every handshake's starting point
  std::vector<std::unique_ptr<Profile>> profiles_;                           // the bind's first
  std::vector<std::shared_ptr<const ServerSettings>> line_settings_;         // kept for profiles_
  std::vector<std::unique_ptr<std::vector<unsigned char>>> ocsp_responses_;  // stapled
  std::vector<std::string> warnings_;
  std::unique_ptr<TicketKeys> ticket_keys_;
  std::unique_ptr<SessionCache> session_cache_;  // the bind's, whichever certificate  //
                                                 // tls-ticket-keys, shared by the bind's contexts
  NameMap exact_;
  NameMap wildcard_;  // by the suffix after "*" (".example.com")
  Choice default_;
  std::string default_name_;  // the default certificate's first name
  bool strict_sni_ = false;
};

}  // namespace sluice::tls
