#include "runtime/worker/tls_settings.hpp"

#include <openssl/ssl.h>

#include <memory>

#include "runtime/worker/capabilities.hpp"

namespace sluice::worker {

namespace {

int openssl_version(config::TlsVersion v) {
  switch (v) {
    case config::TlsVersion::ssl3:
      return SSL3_VERSION;
    case config::TlsVersion::tls1_0:
      return TLS1_VERSION;
    case config::TlsVersion::tls1_1:
      return TLS1_1_VERSION;
    case config::TlsVersion::tls1_2:
      return TLS1_2_VERSION;
    case config::TlsVersion::tls1_3:
      return TLS1_3_VERSION;
    case config::TlsVersion::unset:
      break;
  }
  return 0;
}

tls::VersionRange version_range(const config::TlsVersionRange& v) {
  tls::VersionRange r;
  r.min = openssl_version(v.min);
  r.max = openssl_version(v.max);
  r.disabled_options = (v.no_sslv3 ? SSL_OP_NO_SSLv3 : 0) | (v.no_tls1_0 ? SSL_OP_NO_TLSv1 : 0) |
                       (v.no_tls1_1 ? SSL_OP_NO_TLSv1_1 : 0) |
                       (v.no_tls1_2 ? SSL_OP_NO_TLSv1_2 : 0) |
                       (v.no_tls1_3 ? SSL_OP_NO_TLSv1_3 : 0);
  return r;
}

tls::ServerSettings::Verify verify_of(config::Verify v) {
  using Verify = tls::ServerSettings::Verify;
  return v == config::Verify::required   ? Verify::required
         : v == config::Verify::optional ? Verify::optional
                                         : Verify::none;
}

// A crt-list line's options over its bind's settings; nullptr when it has none.
std::shared_ptr<const tls::ServerSettings> line_settings(const config::CertificateEntry& e,
                                                         const tls::ServerSettings& bind) {
  const bool own = !e.alpn.empty() || !e.ciphers.empty() || !e.ciphersuites.empty() ||
                   !e.curves.empty() || !e.ca_file.empty() || !e.crl_file.empty() ||
                   e.verify != config::Verify::unset ||
                   e.min_version != config::TlsVersion::unset ||
                   e.max_version != config::TlsVersion::unset || e.no_ca_names;
  if (!own) return nullptr;
  auto s = std::make_shared<tls::ServerSettings>(bind);
  s->certificates.clear();
  if (!e.alpn.empty()) s->alpn = alpn_list(e.alpn);
  if (!e.ciphers.empty()) s->ciphers = e.ciphers;
  if (!e.ciphersuites.empty()) s->ciphersuites = e.ciphersuites;
  if (!e.curves.empty()) s->curves = e.curves;
  if (!e.ca_file.empty()) s->ca_file = e.ca_file;
  if (!e.crl_file.empty()) s->crl_file = e.crl_file;
  if (e.verify != config::Verify::unset) s->verify = verify_of(e.verify);
  if (e.min_version != config::TlsVersion::unset) s->versions.min = openssl_version(e.min_version);
  if (e.max_version != config::TlsVersion::unset) s->versions.max = openssl_version(e.max_version);
  s->no_ca_names = s->no_ca_names || e.no_ca_names;
  return s;
}

}  // namespace

tls::ServerSettings bind_tls_settings(const config::BindTls& bind, const config::Global& global) {
  tls::ServerSettings s;
  s.alpn = alpn_list(bind.alpn);
  s.ciphers = bind.ciphers;
  s.ciphersuites = bind.ciphersuites;
  s.curves = bind.curves;
  s.dh_param_file = global.dh_param_file;
  s.versions = version_range(bind.versions);
  s.verify = verify_of(bind.verify);
  s.ca_file = bind.ca_file;
  s.crl_file = bind.crl_file;
  s.strict_sni = bind.strict_sni;
  s.tickets = !bind.no_tls_tickets;
  s.ticket_keys_file = bind.ticket_keys_file;
  s.cache_size = global.ssl_cachesize;
  s.lifetime_s = std::max<long>(1, global.ssl_lifetime.count() / 1000);
  for (const auto& e : bind.entries)
    s.certificates.push_back({e.path, e.filters, e.exclusions, line_settings(e, s)});
  return s;
}

tls::ClientSettings server_tls_settings(const config::ServerTls& t) {
  tls::ClientSettings s;
  s.verify = t.verify != config::Verify::none;
  s.ca_file = t.ca_file;
  s.crl_file = t.crl_file;
  s.verifyhost = t.verifyhost;
  s.certificate = t.crt;
  s.alpn = alpn_list(t.alpn);
  s.ciphers = t.ciphers;
  s.ciphersuites = t.ciphersuites;
  s.versions = version_range(t.versions);
  s.reuse = t.reuse;
  s.tickets = t.tickets;
  return s;
}

}  // namespace sluice::worker
