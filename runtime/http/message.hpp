// The neutral HTTP/1.x message model shared by the parser, the serializer and the rules:
// start line, header fields and the framing/connection facts derived from them.
// Every view points into the caller's parse buffer (or storage the caller owns after an
// edit); the model knows nothing of sockets, buffers' ownership or configuration files.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <utility>

namespace sluice::http {

// Methods the proxy has to treat specially (HEAD and CONNECT change framing) plus the
// common ones rules match on; anything else is `other` and only `method_token` tells.
enum class Method : std::uint8_t {
  other,
  get,
  head,
  post,
  put,
  delete_,
  connect,
  options,
  trace,
  patch
};

// "GET" → Method::get; methods are case-sensitive (RFC 9110 9.1), so "get" is `other`.
inline Method method_from_token(std::string_view token) {
  switch (token.size()) {
    case 3:
      if (token == "GET") return Method::get;
      if (token == "PUT") return Method::put;
      break;
    case 4:
      if (token == "POST") return Method::post;
      if (token == "HEAD") return Method::head;
      break;
    case 5:
      if (token == "PATCH") return Method::patch;
      if (token == "TRACE") return Method::trace;
      break;
    case 6:
      if (token == "DELETE") return Method::delete_;
      break;
    case 7:
      if (token == "OPTIONS") return Method::options;
      if (token == "CONNECT") return Method::connect;
      break;
  }
  return Method::other;
}

// HTTP/1.x only: higher 1.x minor versions are read as 1.1 (RFC 9112 2.5).
enum class Version : std::uint8_t { http_1_0, http_1_1 };

// How the body that follows the head is delimited (RFC 9112 6.3).
enum class BodyKind : std::uint8_t {
  none,            // no body: bodiless request, HEAD/1xx/204/304 response, Content-Length: 0
  content_length,  // exactly `content_length` bytes
  chunked,         // chunked transfer coding, then trailers
  until_close,     // response read until the server closes
  tunnel,          // raw bytes both ways: after 101 Switching Protocols or a 2xx to CONNECT
};

struct Header {
  std::string_view name;
  std::string_view value;  // without leading/trailing whitespace
};

inline constexpr char ascii_lower(char c) {
  return c >= 'A' && c <= 'Z' ? char(c + 32) : c;
}

// ASCII case-insensitive equality, as field names and most tokens compare.
inline constexpr bool equals_ignore_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}

// Header fields in arrival order. Capacity is fixed at construction (tune.http.maxhdr
// plus room for rule edits), so a message on the hot path never allocates.
class HeaderList {
 public:
  // Capacity 0 allocates nothing (Message::reset relies on it).
  explicit HeaderList(std::size_t capacity = 101)
      : items_(capacity ? std::make_unique<Header[]>(capacity) : nullptr), capacity_(capacity) {}
  HeaderList(HeaderList&&) noexcept = default;
  HeaderList& operator=(HeaderList&&) noexcept = default;

  std::size_t size() const { return size_; }
  std::size_t capacity() const { return capacity_; }
  bool empty() const { return size_ == 0; }
  bool full() const { return size_ == capacity_; }
  void clear() { size_ = 0; }

  Header& operator[](std::size_t i) { return items_[i]; }
  const Header& operator[](std::size_t i) const { return items_[i]; }
  Header* begin() { return items_.get(); }
  Header* end() { return items_.get() + size_; }
  const Header* begin() const { return items_.get(); }
  const Header* end() const { return items_.get() + size_; }
  std::span<const Header> fields() const { return {items_.get(), size_}; }

  // False (and nothing added) when the list is full.
  bool push_back(std::string_view name, std::string_view value) {
    if (size_ == capacity_) return false;
    items_[size_++] = Header{name, value};
    return true;
  }
  // Keeps the order of the remaining fields: order matters for repeated fields. An index
  // past the end (find() found nothing) removes nothing.
  void erase(std::size_t index) {
    if (index >= size_) return;
    for (std::size_t i = index + 1; i < size_; ++i)
      items_[i - 1] = items_[i];
    --size_;
  }
  // Removes every field `remove` accepts, keeping the others' order; returns how many went.
  template <class Predicate>
  std::size_t erase_if(Predicate remove) {
    std::size_t out = 0;
    for (std::size_t i = 0; i < size_; ++i)
      if (!remove(items_[i])) items_[out++] = items_[i];
    std::size_t removed = size_ - out;
    size_ = out;
    return removed;
  }
  std::size_t erase_all(std::string_view name) {
    return erase_if([name](const Header& h) { return equals_ignore_case(h.name, name); });
  }
  // Index of the first field named `name` at or after `from`, or size() when none.
  std::size_t find(std::string_view name, std::size_t from = 0) const {
    for (std::size_t i = from; i < size_; ++i)
      if (equals_ignore_case(items_[i].name, name)) return i;
    return size_;
  }
  std::size_t count(std::string_view name) const {
    std::size_t n = 0;
    for (std::size_t i = 0; i < size_; ++i)
      n += equals_ignore_case(items_[i].name, name);
    return n;
  }

 private:
  std::unique_ptr<Header[]> items_;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

// One request or response head and what the parser derived from it. Reused across the
// messages of a connection: reset() forgets the previous one without freeing anything.
struct Message {
  explicit Message(std::size_t max_headers = 101) : headers(max_headers) {}

  bool is_request = true;

  // Request line.
  Method method = Method::other;
  std::string_view method_token;  // raw, e.g. "PURGE" when method == other
  std::string_view target;        // request-target as received

  Version version = Version::http_1_1;

  // Status line.
  std::uint16_t status = 0;
  std::string_view reason;  // may be empty

  HeaderList headers;

  // Framing: what the body decoder must do next.
  BodyKind body = BodyKind::none;
  std::uint64_t content_length = 0;  // valid when has_content_length
  bool has_content_length = false;
  bool has_transfer_encoding = false;
  // Content-Length arrived with Transfer-Encoding and the parser was told to forward such
  // messages (HAProxy's way): the Content-Length fields must not be forwarded.
  bool content_length_ignored = false;
  // Several equal Content-Length values ("3, 3", or two fields): forwarded as one, as
  // HAProxy does.
  bool content_length_repeated = false;

  // Connection semantics.
  bool keep_alive = true;         // from the version and the Connection tokens (and framing)
  bool connection_close = false;  // "close" among the Connection tokens
  bool connection_keep_alive = false;
  bool connection_upgrade = false;
  bool expect_continue = false;    // request: Expect: 100-continue (HTTP/1.1 only)
  bool upgrade_requested = false;  // request: Upgrade + Connection: upgrade (HTTP/1.1 only)
  std::string_view upgrade;        // value of the first Upgrade field
  std::string_view host;           // value of the Host field (one distinct value at most)

  // 1xx other than 101: another response head follows for the same request.
  bool is_interim() const { return !is_request && status >= 100 && status < 200 && status != 101; }

  void reset() {
    Message fresh(0);
    fresh.headers = std::move(headers);
    fresh.headers.clear();
    *this = std::move(fresh);
  }
};

}  // namespace sluice::http
