#include "runtime/tls/session_cache.hpp"

#include <ctime>

namespace sluice::tls {

namespace {

int cache_index() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

SessionCache* cache_of(SSL_CTX* ctx) {
  return static_cast<SessionCache*>(SSL_CTX_get_ex_data(ctx, cache_index()));
}

std::string id_of(const SSL_SESSION* session) {
  unsigned int length = 0;
  const unsigned char* id = SSL_SESSION_get_id(session, &length);
  return {reinterpret_cast<const char*>(id), length};
}

}  // namespace

int on_new_server_session(SSL* ssl, SSL_SESSION* session) {
  SessionCache* cache = cache_of(SSL_get_SSL_CTX(ssl));
  if (cache == nullptr || (cache->tickets_ && SSL_version(ssl) == TLS1_3_VERSION)) return 0;
  const int length = i2d_SSL_SESSION(session, nullptr);
  if (length <= 0) return 0;
  std::string der(static_cast<std::size_t>(length), '\0');
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  i2d_SSL_SESSION(session, &out);
  cache->store(id_of(session), std::move(der),
               static_cast<std::int64_t>(time(nullptr)) + cache->lifetime_s_);
  return 0;  // OpenSSL keeps its reference: the copy is ours
}

SSL_SESSION* on_get_server_session(SSL* ssl, const unsigned char* id, int length, int* copy) {
  *copy = 0;  // the session returned is the caller's to free
  SessionCache* cache = cache_of(SSL_get_SSL_CTX(ssl));
  if (cache == nullptr) return nullptr;
  const std::string der =
      cache->find({reinterpret_cast<const char*>(id), static_cast<std::size_t>(length)},
                  static_cast<std::int64_t>(time(nullptr)));
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  return der.empty() ? nullptr : d2i_SSL_SESSION(nullptr, &p, static_cast<long>(der.size()));
}

void on_remove_server_session(SSL_CTX* ctx, SSL_SESSION* session) {
  if (SessionCache* cache = cache_of(ctx)) cache->remove(id_of(session));
}

void SessionCache::attach(SSL_CTX* ctx) {
  SSL_CTX_set_ex_data(ctx, cache_index(), this);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER | SSL_SESS_CACHE_NO_INTERNAL);
  SSL_CTX_set_timeout(ctx, lifetime_s_);
  SSL_CTX_sess_set_new_cb(ctx, on_new_server_session);
  SSL_CTX_sess_set_get_cb(ctx, on_get_server_session);
  SSL_CTX_sess_set_remove_cb(ctx, on_remove_server_session);
}

std::size_t SessionCache::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

void SessionCache::store(std::string id, std::string der, std::int64_t expires) {
  if (capacity_ == 0 || id.empty()) return;
  std::lock_guard lock(mutex_);
  if (auto it = entries_.find(id); it != entries_.end()) {
    oldest_first_.erase(it->second.age);
    entries_.erase(it);
  }
  while (entries_.size() >= capacity_) {
    entries_.erase(oldest_first_.front());
    oldest_first_.pop_front();
  }
  oldest_first_.push_back(id);
  entries_.emplace(std::move(id), Entry{std::move(der), expires, std::prev(oldest_first_.end())});
}

std::string SessionCache::find(const std::string& id, std::int64_t now) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return {};
  if (it->second.expires <= now) {
    oldest_first_.erase(it->second.age);
    entries_.erase(it);
    return {};
  }
  return it->second.der;
}

void SessionCache::remove(const std::string& id) {
  std::lock_guard lock(mutex_);
  if (auto it = entries_.find(id); it != entries_.end()) {
    oldest_first_.erase(it->second.age);
    entries_.erase(it);
  }
}

}  // namespace sluice::tls
