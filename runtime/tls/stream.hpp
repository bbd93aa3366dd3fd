// TLS over one non-blocking socket (a socket BIO that skips reads epoll says are vain): the
// handshake, then reads and writes that say what they wait for, and what a rule may ask about the
// connection. Knows nothing of HTTP, rules or the event loop; the caller waits for readiness.
#pragma once

#include <openssl/ssl.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace sluice::tls {

// What a handshake, read or write step ended on. `want_read`/`want_write`: blocked until
// the socket is readable/writable (either may follow a read or a write: TLS messages flow
// both ways under the application's data).
enum class Status : std::uint8_t { ok, want_read, want_write, closed, failed };

// The client certificate verification failed at `depth` (0: the certificate itself).
void note_certificate_failure(SSL* ssl, int depth);

// Puts `ssl` over the non-blocking socket `fd` (not owned); false when out of memory.
bool attach_socket(SSL* ssl, int fd);

// A distinguished name as HAProxy's ssl_c_s_dn/ssl_c_i_dn give it, written into `out`: the
// whole name ("/C=FR/CN=x", or RFC 2253 "CN=x,C=FR" when `rfc2253`), or with `entry` the
// value of its `occurrence`-th entry of that short name (1 the first, -1 the last).
// Empty when there is no such entry or it does not fit.
std::string_view format_name(X509_NAME* name, std::span<char> out, std::string_view entry,
                             int occurrence, bool rfc2253);
// ssl_c_notafter: "YYMMDDhhmmssZ" (a four-digit year loses its century, as in HAProxy).
std::string_view not_after(X509* certificate);
// ssl_c_serial: the serial number's bytes.
std::string_view serial(X509* certificate);

class Stream {
 public:
  Stream() = default;
  // Takes `ssl` (already attached to its socket).
  explicit Stream(SSL* ssl);
  Stream(Stream&& other) noexcept : ssl_(other.ssl_), error_(other.error_) { other.ssl_ = nullptr; }
  Stream& operator=(Stream&& other) noexcept;
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  ~Stream();

  explicit operator bool() const { return ssl_ != nullptr; }

  Status handshake();
  // Reads until `into` is full or the socket is drained (then want_read, with `n` > 0
  // possibly); `closed` at the client's close_notify or FIN. A drained socket is not read
  // again until readable().
  Status read(std::span<char> into, std::size_t& n);
  // Writes until everything is out (ok) or the socket is full (want_write, `n` short).
  Status write(std::span<const char> from, std::size_t& n);
  // epoll said the socket has bytes again: reads go to the socket once more. `hangup`: it
  // announced the peer's FIN (or an error), which no later event repeats.
  void readable(bool hangup);
  // Decrypted or raw bytes held inside OpenSSL: readable without a new epoll event.
  bool pending() const { return SSL_has_pending(ssl_) == 1; }
  // Our close_notify, best effort (the socket's FIN follows it).
  void close_notify();

  // Why the handshake failed, in HAProxy's words for its log.
  std::string_view handshake_failure() const;
  // Why a handshake with a server failed, for the log: the certificate check's verdict
  // ("hostname mismatch"), else OpenSSL's reason.
  std::string_view failure_reason() const;

  // Facts for rules (empty when not known).
  std::string_view server_name() const;
  std::string_view protocol() const;
  std::string_view cipher() const;
  std::string_view alpn() const;
  bool resumed() const { return SSL_session_reused(ssl_) == 1; }
  // The client's certificate (kept by a resumed session too); nullptr when none.
  X509* peer_certificate() const { return SSL_get0_peer_certificate(ssl_); }
  // X509_V_OK (0) or the verification's error code.
  long verify_result() const { return SSL_get_verify_result(ssl_); }

  SSL* native() const { return ssl_; }

 private:
  Status classify(int result);
  SSL* ssl_ = nullptr;
  unsigned long error_ = 0;  // OpenSSL's error behind the last `failed`
};

}  // namespace sluice::tls
