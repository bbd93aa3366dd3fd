#include "runtime/tls/server_contexts.hpp"

#include "runtime/tls/certificate_files.hpp"
#include "runtime/tls/context_setup.hpp"
#include "runtime/tls/ocsp.hpp"
#include "runtime/tls/session_cache.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>

namespace sluice::tls {

namespace {

// A `crt DIR`'s certificates, in HAProxy's order: the listed files that are regular.
std::vector<std::string> directory_certificates(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& name : list_certificate_directory(dir).names) {
    std::string path = dir.back() == '/' ? dir + name : dir + "/" + name;
    if (is_regular_file(path)) out.push_back(std::move(path));
  }
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// DNS names in the subjectAltName extension, then the subject's common names (HAProxy
// indexes a certificate under both).
std::vector<std::string> certificate_names(X509* cert) {
  std::vector<std::string> names;
  auto* sans =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (sans) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
      const GENERAL_NAME* n = sk_GENERAL_NAME_value(sans, i);
      if (n->type != GEN_DNS) continue;
      const ASN1_STRING* s = n->d.dNSName;
      names.push_back(lower({reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                             static_cast<std::size_t>(ASN1_STRING_length(s))}));
    }
    GENERAL_NAMES_free(sans);
  }
  X509_NAME* subject = X509_get_subject_name(cert);
  for (int i = X509_NAME_get_index_by_NID(subject, NID_commonName, -1); i >= 0;
       i = X509_NAME_get_index_by_NID(subject, NID_commonName, i)) {
    const ASN1_STRING* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i));
    unsigned char* utf8 = nullptr;
    const int len = ASN1_STRING_to_UTF8(&utf8, s);
    if (len > 0)
      names.push_back(lower({reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(len)}));
    OPENSSL_free(utf8);
  }
  return names;
}

std::uint16_t u16(const unsigned char* p) {
  return static_cast<std::uint16_t>(p[0] << 8 | p[1]);
}

// The server_name extension's host_name, lower-cased into `out`; empty when absent.
std::string_view requested_name(SSL* ssl, std::array<char, 256>& out) {
  const unsigned char* p = nullptr;
  std::size_t len = 0;
  if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p, &len) != 1 || len < 5) return {};
  const std::size_t list = u16(p);
  if (list + 2 > len || p[2] != TLSEXT_NAMETYPE_host_name) return {};
  const std::size_t n = u16(p + 3);
  if (n + 5 > len || n > out.size()) return {};
  for (std::size_t i = 0; i < n; ++i)
    out[i] = static_cast<char>(std::tolower(p[5 + i]));
  return {out.data(), n};
}

bool offers_tls13(SSL* ssl) {
  const unsigned char* p = nullptr;
  std::size_t len = 0;
  if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_supported_versions, &p, &len) != 1 || len < 1)
    return false;
  for (std::size_t i = 1; i + 1 < len && i <= p[0]; i += 2)
    if (u16(p + i) == TLS1_3_VERSION) return true;
  return false;
}

// Whether an ECDSA certificate can serve this client: it signs with ECDSA and, before
// TLS 1.3, offers an ECDHE-ECDSA cipher suite.
bool client_takes_ecdsa(SSL* ssl) {
  const unsigned char* p = nullptr;
  std::size_t len = 0;
  if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_signature_algorithms, &p, &len) == 1) {
    bool ecdsa = false;
    for (std::size_t i = 2; i + 1 < len; i += 2)
      if (p[i + 1] == 0x03 && p[i] >= 0x02 && p[i] <= 0x06) ecdsa = true;
    if (!ecdsa) return false;
    if (offers_tls13(ssl)) return true;
  }
  const unsigned char* suites = nullptr;
  const std::size_t n = SSL_client_hello_get0_ciphers(ssl, &suites);
  for (std::size_t i = 0; i + 1 < n; i += 2) {
    const std::uint16_t id = u16(suites + i);
    if (id == 0xCCA9 || (id >= 0xC001 && id <= 0xC00A) || id == 0xC023 || id == 0xC024 ||
        id == 0xC02B || id == 0xC02C || (id >= 0xC0AC && id <= 0xC0AF))
      return true;
  }
  return false;
}

int on_client_hello(SSL* ssl, int* alert, void* arg) {
  const auto& contexts = *static_cast<const ServerContexts*>(arg);
  std::array<char, 256> name_buffer;
  SSL_CTX* chosen = contexts.choose(requested_name(ssl, name_buffer), client_takes_ecdsa(ssl));
  if (chosen == nullptr) {
    *alert = SSL_AD_UNRECOGNIZED_NAME;
    return SSL_CLIENT_HELLO_ERROR;
  }
  SSL_CTX* current = SSL_get_SSL_CTX(ssl);
  if (chosen == current) return SSL_CLIENT_HELLO_SUCCESS;
  SSL_set_SSL_CTX(ssl, chosen);
  const auto* profile = static_cast<const ServerContexts::Profile*>(SSL_CTX_get_app_data(chosen));
  if (profile != SSL_CTX_get_app_data(current)) {
    // A crt-list line's own options: OpenSSL took the first context's at SSL_new.
    const ServerSettings& s = *profile->settings;
    SSL_set_verify(ssl, SSL_CTX_get_verify_mode(chosen), SSL_CTX_get_verify_callback(chosen));
    if (STACK_OF(X509_NAME)* names = SSL_CTX_get_client_CA_list(chosen))
      SSL_set_client_CA_list(ssl, SSL_dup_CA_list(names));
    SSL_set_min_proto_version(ssl, SSL_CTX_get_min_proto_version(chosen));
    SSL_set_max_proto_version(ssl, SSL_CTX_get_max_proto_version(chosen));
    SSL_clear_options(ssl, SSL_OP_NO_SSL_MASK);
    SSL_set_options(ssl, SSL_CTX_get_options(chosen) & SSL_OP_NO_SSL_MASK);
    SSL_set_cipher_list(ssl, s.ciphers.empty() ? kIntermediateCiphers : s.ciphers.c_str());
    if (!s.ciphersuites.empty()) SSL_set_ciphersuites(ssl, s.ciphersuites.c_str());
    if (!s.curves.empty()) SSL_set1_groups_list(ssl, s.curves.c_str());
    ERR_clear_error();
  }
  return SSL_CLIENT_HELLO_SUCCESS;
}

int on_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
            unsigned int inlen, void* arg) {
  const auto& wire = *static_cast<const std::string*>(arg);
  unsigned char* selected = nullptr;
  if (wire.empty() ||
      SSL_select_next_proto(&selected, outlen, reinterpret_cast<const unsigned char*>(wire.data()),
                            static_cast<unsigned int>(wire.size()), in,
                            inlen) != OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_NOACK;  // no protocol in common: no ALPN, as HAProxy
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

bool load_dh_parameters(SSL_CTX* ctx, const std::string& path, std::string& error) {
  BIO* bio = BIO_new_file(path.c_str(), "r");
  EVP_PKEY* dh = bio ? PEM_read_bio_Parameters(bio, nullptr) : nullptr;
  BIO_free(bio);
  if (dh == nullptr || SSL_CTX_set0_tmp_dh_pkey(ctx, dh) != 1) {
    EVP_PKEY_free(dh);
    error = "unable to load the DH parameters in '" + path + "': " + openssl_reason();
    return false;
  }
  return true;
}

// Client certificates: asked for (and required) as `verify` says, checked against ca-file
// and, with a crl-file, against every CRL of the chain (HAProxy's CRL_CHECK_ALL). The CA
// names go to the client so that it can pick its certificate.
// Remembers where the first verification failure was (the log says which), then lets
// OpenSSL's verdict stand.
int on_verify(int ok, X509_STORE_CTX* store) {
  if (!ok) {
    auto* ssl =
        static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
    if (ssl && SSL_get_app_data(ssl) == nullptr)
      note_certificate_failure(ssl, X509_STORE_CTX_get_error_depth(store));
  }
  return ok;
}

bool configure_client_verify(SSL_CTX* ctx, const ServerSettings& settings, std::string& error) {
  using Verify = ServerSettings::Verify;
  if (settings.verify == Verify::none) return true;
  SSL_CTX_set_verify(
      ctx,
      SSL_VERIFY_PEER | (settings.verify == Verify::required ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
      on_verify);
  if (!load_trust(ctx, settings.ca_file, error)) return false;
  if (!settings.no_ca_names && !is_directory(settings.ca_file) &&
      settings.ca_file != "@system-ca") {
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(settings.ca_file.c_str()))
      SSL_CTX_set_client_CA_list(ctx, names);
    ERR_clear_error();
  }
  if (!settings.crl_file.empty() && !load_crl(ctx, settings.crl_file, error)) return false;
  ERR_clear_error();
  return true;
}

}  // namespace

SSL_CTX* ServerContexts::Choice::pick(bool ecdsa_ok) const {
  if (ecdsa && (ecdsa_ok || other == nullptr)) return ecdsa;
  return other;
}

SSL_CTX* ServerContexts::choose(std::string_view name, bool ecdsa_ok) const {
  if (!name.empty()) {
    if (auto it = exact_.find(name); it != exact_.end()) return it->second.pick(ecdsa_ok);
    const std::size_t dot = name.find('.');
    if (dot != std::string_view::npos && dot > 0) {
      if (auto it = wildcard_.find(name.substr(dot)); it != wildcard_.end())
        return it->second.pick(ecdsa_ok);
    }
  }
  return strict_sni_ ? nullptr : default_.pick(ecdsa_ok);
}

ServerContexts::~ServerContexts() {
  for (SSL_CTX* ctx : contexts_)
    SSL_CTX_free(ctx);
}

std::unique_ptr<ServerContexts> ServerContexts::build(const ServerSettings& settings,
                                                      std::string& error) {
  std::unique_ptr<ServerContexts> out(new ServerContexts);
  out->strict_sni_ = settings.strict_sni;
  out->session_cache_ =
      std::make_unique<SessionCache>(static_cast<std::size_t>(std::max(0L, settings.cache_size)),
                                     settings.lifetime_s, settings.tickets);
  if (!settings.ticket_keys_file.empty()) {
    out->ticket_keys_ = std::make_unique<TicketKeys>();
    if (!read_ticket_keys(settings.ticket_keys_file, *out->ticket_keys_, error)) return nullptr;
  } else if (settings.ticket_keys) {
    out->ticket_keys_ = std::make_unique<TicketKeys>(*settings.ticket_keys);
  }
  for (const auto& source : settings.certificates)
    if (!out->add_source(source, settings, error)) return nullptr;
  if (out->contexts_.empty()) {
    error = "no SSL certificate found in the bind's crt arguments";
    return nullptr;
  }
  return out;
}

const ServerContexts::Profile& ServerContexts::profile_of(const ServerSettings& settings) {
  for (const auto& p : profiles_)
    if (p->settings == &settings) return *p;
  auto& p = *profiles_.emplace_back(std::make_unique<Profile>());
  p.settings = &settings;
  p.alpn_wire = alpn_wire(settings.alpn);
  return p;
}

bool ServerContexts::add_source(const CertificateSource& source, const ServerSettings& bind,
                                std::string& error) {
  if (source.own) line_settings_.push_back(source.own);
  const Profile& profile = profile_of(source.own ? *source.own : bind);
  if (!is_directory(source.path)) return add_certificate_file(source.path, source, profile, error);
  for (const auto& file : directory_certificates(source.path))
    if (!add_certificate(file, source, profile, error)) return false;
  return true;
}

// A file, or the bundle PATH.{dsa,ecdsa,rsa} when PATH itself does not exist.
bool ServerContexts::add_certificate_file(const std::string& path, const CertificateSource& source,
                                          const Profile& profile, std::string& error) {
  if (is_regular_file(path)) return add_certificate(path, source, profile, error);
  bool any = false;
  for (const char* suffix : {".dsa", ".ecdsa", ".rsa"}) {
    const std::string member = path + suffix;
    if (!is_regular_file(member)) continue;
    if (!add_certificate(member, source, profile, error)) return false;
    any = true;
  }
  if (!any) error = "unable to load SSL certificate file '" + path + "': no such file";
  return any;
}

bool ServerContexts::add_certificate(const std::string& path, const CertificateSource& source,
                                     const Profile& profile, std::string& error) {
  const ServerSettings& settings = *profile.settings;
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) {
    error = "cannot create a TLS context: " + openssl_reason();
    return false;
  }
  contexts_.push_back(ctx);
  auto fail = [&](std::string what) {
    error = what + " '" + path + "': " + openssl_reason();
    return false;
  };
  if (!use_certificate_file(ctx, path, error)) return false;
  if (is_regular_file(path + ".ocsp")) {
    std::string warning;
    auto response = load_ocsp_response(ctx, path, warning);
    if (response.empty())
      warnings_.push_back(std::move(warning));
    else
      staple_ocsp_response(ctx,
                           *ocsp_responses_.emplace_back(
                               std::make_unique<std::vector<unsigned char>>(std::move(response))));
  }

  // What every certificate of the bind shares.
  apply_versions(ctx, settings.versions);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                               SSL_OP_CIPHER_SERVER_PREFERENCE |
                               (settings.tickets ? 0 : SSL_OP_NO_TICKET));
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                            SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // Whole records per recv instead of a header read then a body read.
  SSL_CTX_set_read_ahead(ctx, 1);
  const std::string& ciphers = settings.ciphers.empty() ? kIntermediateCiphers : settings.ciphers;
  if (SSL_CTX_set_cipher_list(ctx, ciphers.c_str()) != 1)
    return fail("invalid 'ciphers' for the bind of");
  if (!settings.ciphersuites.empty() &&
      SSL_CTX_set_ciphersuites(ctx, settings.ciphersuites.c_str()) != 1)
    return fail("invalid 'ciphersuites' for the bind of");
  if (!settings.curves.empty() && SSL_CTX_set1_groups_list(ctx, settings.curves.c_str()) != 1)
    return fail("invalid 'curves' for the bind of");
  if (settings.dh_param_file.empty())
    SSL_CTX_set_dh_auto(ctx, 1);
  else if (!load_dh_parameters(ctx, settings.dh_param_file, error))
    return false;
  // HAProxy's (SHCTX_APPNAME): a session is only resumed where it was made, and a fleet
  // sharing tls-ticket-keys may mix HAProxy and sluice while it migrates.
  static constexpr unsigned char kSessionContext[] = "haproxy";
  SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof kSessionContext - 1);
  session_cache_->attach(ctx);
  if (!configure_client_verify(ctx, settings, error)) return false;
  SSL_CTX_set_client_hello_cb(ctx, on_client_hello, this);
  SSL_CTX_set_alpn_select_cb(ctx, on_alpn, const_cast<std::string*>(&profile.alpn_wire));
  SSL_CTX_set_app_data(ctx, const_cast<Profile*>(&profile));
  if (ticket_keys_) use_ticket_keys(ctx, *ticket_keys_);

  X509* cert = SSL_CTX_get0_certificate(ctx);
  const bool ecdsa = EVP_PKEY_get_base_id(X509_get0_pubkey(cert)) == EVP_PKEY_EC;
  auto enter = [&](Choice& c) {
    SSL_CTX*& slot = ecdsa ? c.ecdsa : c.other;
    if (slot == nullptr) slot = ctx;  // the first certificate for a name wins, as HAProxy
  };
  const bool first = contexts_.size() == 1;
  std::vector<std::string> names = certificate_names(cert);
  // Any filter on a crt-list line (an exclusion too) replaces the certificate's own names,
  // as in HAProxy.
  const bool filtered = !source.filters.empty() || !source.exclusions.empty();
  const std::vector<std::string>& served = filtered ? source.filters : names;
  for (const auto& name : served) {
    if (std::find(source.exclusions.begin(), source.exclusions.end(), name) !=
        source.exclusions.end())
      continue;
    if (name.starts_with("*.") && name.size() > 2)
      enter(wildcard_[name.substr(1)]);
    else
      enter(exact_[name]);
  }
  // The default certificate, and its other key type: a later one with the same first name.
  if (first) {
    enter(default_);
    if (!names.empty()) default_name_ = names.front();
  } else if (!names.empty() && names.front() == default_name_) {
    enter(default_);
  }
  return true;
}

Stream ServerContexts::accept(int fd) const {
  SSL* ssl = SSL_new(contexts_.front());
  if (ssl == nullptr) return {};
  if (!attach_socket(ssl, fd)) {
    SSL_free(ssl);
    return {};
  }
  SSL_set_accept_state(ssl);
  return Stream(ssl);
}

}  // namespace sluice::tls
