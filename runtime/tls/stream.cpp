#include "runtime/tls/stream.hpp"

#include <openssl/err.h>

#include <cerrno>

namespace sluice::tls {

Stream::Stream(SSL* ssl) : ssl_(ssl) {}

Stream& Stream::operator=(Stream&& other) noexcept {
  if (this != &other) {
    if (ssl_) SSL_free(ssl_);
    ssl_ = other.ssl_;
    other.ssl_ = nullptr;
  }
  return *this;
}

Stream::~Stream() {
  if (ssl_) SSL_free(ssl_);
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
      failure_ = "socket error";
      ERR_clear_error();
      return Status::failed;
    default: {
      const unsigned long e = ERR_get_error();
      if (ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        // OpenSSL 3 words a FIN without close_notify this way.
        ERR_clear_error();
        return Status::closed;
      }
      const char* reason = e ? ERR_reason_error_string(e) : nullptr;
      failure_ = reason ? reason : "TLS protocol error";
      ERR_clear_error();
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
  while (n < into.size()) {
    std::size_t got = 0;
    errno = 0;
    const int r = SSL_read_ex(ssl_, into.data() + n, into.size() - n, &got);
    if (r != 1) return classify(r);
    n += got;
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
