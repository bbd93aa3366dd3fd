#include "runtime/tls/client_context.hpp"

#include <openssl/err.h>
#include <openssl/x509v3.h>

namespace sluice::tls {

namespace {

// The loop's Session slot a handshake stores its new session into.
int slot_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

}  // namespace

// TLS 1.3 sends sessions after the handshake (on a later read): kept whenever they come.
int on_new_session(SSL* ssl, SSL_SESSION* session) {
  auto* slot = static_cast<ClientContext::Session*>(SSL_get_ex_data(ssl, slot_index()));
  if (slot == nullptr) return 0;
  if (slot->session) SSL_SESSION_free(slot->session);
  slot->session = session;
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  slot->server_name = name ? name : "";
  return 1;  // the reference is ours now
}

std::unique_ptr<ClientContext> ClientContext::build(const ClientSettings& settings,
                                                    std::size_t loops, std::string& error) {
  std::unique_ptr<ClientContext> out(new ClientContext);
  ERR_clear_error();
  SSL_CTX* ctx = out->ctx_ = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) {
    error = "cannot create a TLS context: " + openssl_reason();
    return nullptr;
  }
  apply_versions(ctx, settings.versions);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                               (settings.tickets ? 0 : SSL_OP_NO_TICKET));
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                            SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_read_ahead(ctx, 1);
  if (!settings.ciphers.empty() && SSL_CTX_set_cipher_list(ctx, settings.ciphers.c_str()) != 1) {
    error = "invalid 'ciphers': " + openssl_reason();
    return nullptr;
  }
  if (!settings.ciphersuites.empty() &&
      SSL_CTX_set_ciphersuites(ctx, settings.ciphersuites.c_str()) != 1) {
    error = "invalid 'ciphersuites': " + openssl_reason();
    return nullptr;
  }
  if (!settings.certificate.empty() && !use_certificate_file(ctx, settings.certificate, error))
    return nullptr;
  if (settings.verify) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    if (!load_trust(ctx, settings.ca_file, error)) return nullptr;
    if (!settings.crl_file.empty() && !load_crl(ctx, settings.crl_file, error)) return nullptr;
  }
  const std::string wire = alpn_wire(settings.alpn);
  if (!wire.empty()) {
    SSL_CTX_set_alpn_protos(ctx, reinterpret_cast<const unsigned char*>(wire.data()),
                            static_cast<unsigned int>(wire.size()));
  }
  out->reuse_ = settings.reuse;
  if (settings.reuse) {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, on_new_session);
  } else {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  }
  out->verify_ = settings.verify;
  out->verifyhost_ = settings.verifyhost;
  out->sessions_.resize(loops);
  return out;
}

ClientContext::~ClientContext() {
  for (Session& s : sessions_)
    if (s.session) SSL_SESSION_free(s.session);
  SSL_CTX_free(ctx_);
}

Stream ClientContext::connect(int fd, std::string_view server_name, std::size_t loop) const {
  SSL* ssl = SSL_new(ctx_);
  if (ssl == nullptr) return {};
  SSL_set_connect_state(ssl);
  Stream stream(ssl);
  if (!attach_socket(ssl, fd)) return {};
  // Names come from the configuration or a request: at most a DNS name's length.
  char name[256];
  const std::size_t n = std::min(server_name.size(), sizeof name - 1);
  server_name.copy(name, n);
  name[n] = '\0';
  if (n > 0 && SSL_set_tlsext_host_name(ssl, name) != 1) return {};
  if (verify_) {
    const char* host = n > 0 ? name : (verifyhost_.empty() ? nullptr : verifyhost_.c_str());
    if (host) {
      SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      if (SSL_set1_host(ssl, host) != 1) return {};
    }
  }
  if (reuse_) {
    Session& slot = sessions_[loop];
    SSL_set_ex_data(ssl, slot_index(), &slot);
    if (slot.session && slot.server_name == std::string_view(name, n))
      SSL_set_session(ssl, slot.session);
  }
  ERR_clear_error();
  return stream;
}

void ClientContext::forget_session(std::size_t loop) const {
  Session& slot = sessions_[loop];
  if (slot.session) SSL_SESSION_free(slot.session);
  slot.session = nullptr;
}

}  // namespace sluice::tls
