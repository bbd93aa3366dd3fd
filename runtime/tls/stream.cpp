#include "runtime/tls/stream.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <sys/socket.h>

#include <openssl/x509.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>

namespace sluice::tls {

namespace {

// OpenSSL's socket BIO, minus the reads that can only say EAGAIN: a short read means the
// socket is drained (edge-triggered epoll announces the next bytes), so until the owner
// says it is readable again a read asks OpenSSL to retry without a syscall.
struct SocketState {
  int fd = -1;
  bool readable = true;
  bool hangup = false;  // a FIN is announced: read until recv says 0, short reads or not
};

SocketState* state_of(BIO* bio) {
  return static_cast<SocketState*>(BIO_get_data(bio));
}

int socket_read(BIO* bio, char* out, int size) {
  SocketState* s = state_of(bio);
  BIO_clear_retry_flags(bio);
  if (!s->readable) {
    BIO_set_retry_read(bio);
    return -1;
  }
  const ssize_t r = recv(s->fd, out, static_cast<std::size_t>(size), 0);
  if (r > 0) {
    if (r < size && !s->hangup) s->readable = false;
    return static_cast<int>(r);
  }
  if (r == 0) return 0;  // the client's FIN
  if (errno == EAGAIN || errno == EINTR) {
    s->readable = false;
    BIO_set_retry_read(bio);
  }
  return -1;
}

int socket_write(BIO* bio, const char* in, int size) {
  BIO_clear_retry_flags(bio);
  const ssize_t r = send(state_of(bio)->fd, in, static_cast<std::size_t>(size), MSG_NOSIGNAL);
  if (r >= 0) return static_cast<int>(r);
  if (errno == EAGAIN || errno == EINTR) BIO_set_retry_write(bio);
  return -1;
}

long socket_ctrl(BIO*, int command, long, void*) {
  return command == BIO_CTRL_FLUSH ? 1 : 0;
}

int socket_destroy(BIO* bio) {
  delete state_of(bio);
  BIO_set_data(bio, nullptr);
  return 1;
}

// Made once per process and never freed: OpenSSL keeps pointers to it in every BIO.
BIO_METHOD* socket_method() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "sluice socket");
    BIO_meth_set_read(m, socket_read);
    BIO_meth_set_write(m, socket_write);
    BIO_meth_set_ctrl(m, socket_ctrl);
    BIO_meth_set_destroy(m, socket_destroy);
    return m;
  }();
  return method;
}

}  // namespace

bool attach_socket(SSL* ssl, int fd) {
  BIO* bio = BIO_new(socket_method());
  if (bio == nullptr) return false;
  BIO_set_data(bio, new SocketState{fd, true, false});
  BIO_set_init(bio, 1);
  SSL_set_bio(ssl, bio, bio);
  return true;
}

std::string_view format_name(X509_NAME* name, std::span<char> out, std::string_view entry,
                             int occurrence, bool rfc2253) {
  if (name == nullptr) return {};
  if (entry.empty()) {
    if (rfc2253) {
      BIO* bio = BIO_new(BIO_s_mem());
      if (bio == nullptr) return {};
      X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253);
      const int n = BIO_read(bio, out.data(), static_cast<int>(out.size()));
      BIO_free(bio);
      return n > 0 ? std::string_view(out.data(), static_cast<std::size_t>(n)) : std::string_view();
    }
    std::size_t n = 0;
    for (int i = 0; i < X509_NAME_entry_count(name); ++i) {
      const X509_NAME_ENTRY* e = X509_NAME_get_entry(name, i);
      const char* key = OBJ_nid2sn(OBJ_obj2nid(X509_NAME_ENTRY_get_object(e)));
      const ASN1_STRING* v = X509_NAME_ENTRY_get_data(e);
      const std::size_t key_length = std::strlen(key);
      const auto value_length = static_cast<std::size_t>(ASN1_STRING_length(v));
      if (n + 2 + key_length + value_length > out.size()) return {};
      out[n++] = '/';
      std::memcpy(out.data() + n, key, key_length);
      n += key_length;
      out[n++] = '=';
      std::memcpy(out.data() + n, ASN1_STRING_get0_data(v), value_length);
      n += value_length;
    }
    return {out.data(), n};
  }
  // The occurrence-th entry of that name, counted from the start or (negative) the end.
  const int count = X509_NAME_entry_count(name);
  int seen = 0;
  const int wanted = occurrence == 0 ? 1 : (occurrence < 0 ? -occurrence : occurrence);
  for (int k = 0; k < count; ++k) {
    const int i = occurrence < 0 ? count - 1 - k : k;
    const X509_NAME_ENTRY* e = X509_NAME_get_entry(name, i);
    const char* key = OBJ_nid2sn(OBJ_obj2nid(X509_NAME_ENTRY_get_object(e)));
    if (entry != key || ++seen != wanted) continue;
    const ASN1_STRING* v = X509_NAME_ENTRY_get_data(e);
    return {reinterpret_cast<const char*>(ASN1_STRING_get0_data(v)),
            static_cast<std::size_t>(ASN1_STRING_length(v))};
  }
  return {};
}

std::string_view not_after(X509* certificate) {
  const ASN1_TIME* t = X509_get0_notAfter(certificate);
  std::string_view text(reinterpret_cast<const char*>(ASN1_STRING_get0_data(t)),
                        static_cast<std::size_t>(ASN1_STRING_length(t)));
  return ASN1_STRING_type(t) == V_ASN1_GENERALIZEDTIME && text.size() > 2 ? text.substr(2) : text;
}

std::string_view serial(X509* certificate) {
  const ASN1_INTEGER* s = X509_get0_serialNumber(certificate);
  return {reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
          static_cast<std::size_t>(ASN1_STRING_length(s))};
}

// The depth + 1 of the first failure, in the SSL's app data (nothing else uses it).
void note_certificate_failure(SSL* ssl, int depth) {
  SSL_set_app_data(ssl, reinterpret_cast<void*>(static_cast<std::intptr_t>(depth) + 1));
}

std::string_view Stream::handshake_failure() const {
  const auto noted = reinterpret_cast<std::intptr_t>(SSL_get_app_data(ssl_));
  if (noted == 1) return "SSL client certificate not trusted";
  if (noted > 1) return "SSL client CA chain cannot be verified";
  return "SSL handshake failure";
}

std::string_view Stream::failure_reason() const {
  const long verdict = SSL_get_verify_result(ssl_);
  if (verdict != X509_V_OK) return X509_verify_cert_error_string(verdict);
  const char* reason = error_ ? ERR_reason_error_string(error_) : nullptr;
  return reason ? reason : "connection closed during the handshake";
}

void Stream::readable(bool hangup) {
  SocketState* s = state_of(SSL_get_rbio(ssl_));
  s->readable = true;
  s->hangup |= hangup;
}

Stream::Stream(SSL* ssl) : ssl_(ssl) {}

namespace {

// A connection closed without our close_notify (the peer left first, or we close a
// server connection) would make OpenSSL drop its session from the cache (stateful on our
// side, tickets on the server side): marked shut quietly (no I/O), it stays resumable, as
// in HAProxy.
void free_connection(SSL* ssl) {
  if (SSL_is_init_finished(ssl) && (SSL_get_shutdown(ssl) & SSL_SENT_SHUTDOWN) == 0) {
    SSL_set_quiet_shutdown(ssl, 1);
    SSL_shutdown(ssl);
  }
  ERR_clear_error();
  SSL_free(ssl);
}

}  // namespace

Stream& Stream::operator=(Stream&& other) noexcept {
  if (this != &other) {
    if (ssl_) free_connection(ssl_);
    ssl_ = other.ssl_;
    error_ = other.error_;
    other.ssl_ = nullptr;
  }
  return *this;
}

Stream::~Stream() {
  if (ssl_) free_connection(ssl_);
}

Status Stream::classify(int result) {
  switch (SSL_get_error(ssl_, result)) {
    case SSL_ERROR_WANT_READ:
      return Status::want_read;
    case SSL_ERROR_WANT_WRITE:
      return Status::want_write;
    case SSL_ERROR_ZERO_RETURN:
      return Status::closed;
    case SSL_ERROR_SYSCALL:
      // A FIN without close_notify is how most clients end: a close, not a failure
      // (HAProxy reads it the same way). A socket error is a failure.
      if (ERR_peek_error() == 0 && (errno == 0 || errno == EAGAIN)) {
        ERR_clear_error();
        return Status::closed;
      }
      ERR_clear_error();
      return Status::failed;
    default: {
      const unsigned long e = ERR_get_error();
      ERR_clear_error();
      // OpenSSL 3 words a FIN without close_notify this way.
      if (ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING) return Status::closed;
      error_ = e;
      return Status::failed;
    }
  }
}

Status Stream::handshake() {
  errno = 0;
  const int r = SSL_do_handshake(ssl_);
  return r == 1 ? Status::ok : classify(r);
}

Status Stream::read(std::span<char> into, std::size_t& n) {
  n = 0;
  // OpenSSL hands out one record per call: go on until the buffer is full or the
  // socket is drained, so that a short read still means "wait for epoll".
  const SocketState* socket = state_of(SSL_get_rbio(ssl_));
  while (n < into.size()) {
    std::size_t got = 0;
    errno = 0;
    const int r = SSL_read_ex(ssl_, into.data() + n, into.size() - n, &got);
    if (r != 1) return classify(r);
    n += got;
    // Nothing left inside OpenSSL and the socket drained: another call could only say
    // "want read" (and would set up a read buffer to say it).
    if (n < into.size() && !socket->readable && SSL_has_pending(ssl_) == 0)
      return Status::want_read;
  }
  return Status::ok;
}

Status Stream::write(std::span<const char> from, std::size_t& n) {
  n = 0;
  while (n < from.size()) {
    std::size_t put = 0;
    errno = 0;
    const int r = SSL_write_ex(ssl_, from.data() + n, from.size() - n, &put);
    if (r != 1) return classify(r);
    n += put;
  }
  return Status::ok;
}

void Stream::close_notify() {
  // Only after a completed handshake; a failed one has nothing to close.
  if (SSL_is_init_finished(ssl_)) SSL_shutdown(ssl_);
  ERR_clear_error();
}

std::string_view Stream::server_name() const {
  const char* name = SSL_get_servername(ssl_, TLSEXT_NAMETYPE_host_name);
  return name ? name : "";
}

std::string_view Stream::protocol() const {
  return SSL_get_version(ssl_);
}

std::string_view Stream::cipher() const {
  const SSL_CIPHER* c = SSL_get_current_cipher(ssl_);
  return c ? SSL_CIPHER_get_name(c) : "";
}

std::string_view Stream::alpn() const {
  const unsigned char* p = nullptr;
  unsigned int len = 0;
  SSL_get0_alpn_selected(ssl_, &p, &len);
  return p ? std::string_view(reinterpret_cast<const char*>(p), len) : std::string_view();
}

}  // namespace sluice::tls
