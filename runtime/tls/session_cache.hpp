// The server-side session cache of one bind (tune.ssl.cachesize entries, tune.ssl.lifetime),
// shared by the worker's threads, for clients that resume by session ID (TLS 1.2, and
// TLS 1.3 under `no-tls-tickets`). It keeps each session serialized (a few hundred bytes)
// instead of OpenSSL's live objects, and nothing for TLS 1.3 sessions carried whole by
// their tickets, which OpenSSL's own cache would store (about 8 KB per connection, never
// looked up) until it fills.
#pragma once

#include <openssl/ssl.h>

#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>

namespace sluice::tls {

class SessionCache {
 public:
  // `tickets`: TLS 1.3 sessions travel in tickets and are not kept here.
  SessionCache(std::size_t capacity, long lifetime_s, bool tickets)
      : capacity_(capacity), lifetime_s_(lifetime_s), tickets_(tickets) {}
  SessionCache(const SessionCache&) = delete;
  SessionCache& operator=(const SessionCache&) = delete;

  // Makes `ctx` store and find its sessions here (this cache must outlive it).
  void attach(SSL_CTX* ctx);

  std::size_t size() const;

 private:
  struct Entry {
    std::string der;
    std::int64_t expires = 0;  // seconds (time())
    std::list<std::string>::iterator age;
  };
  friend int on_new_server_session(SSL* ssl, SSL_SESSION* session);
  friend SSL_SESSION* on_get_server_session(SSL* ssl, const unsigned char* id, int length,
                                            int* copy);
  friend void on_remove_server_session(SSL_CTX* ctx, SSL_SESSION* session);
  void store(std::string id, std::string der, std::int64_t expires);
  std::string find(const std::string& id, std::int64_t now);
  void remove(const std::string& id);

  const std::size_t capacity_;
  const long lifetime_s_;
  const bool tickets_;
  mutable std::mutex mutex_;  // handshakes of every loop; never held across OpenSSL calls
  std::unordered_map<std::string, Entry> entries_;
  std::list<std::string> oldest_first_;
};

}  // namespace sluice::tls
