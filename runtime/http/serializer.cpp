#include "runtime/http/serializer.hpp"

#include <cstring>

#include "runtime/http/syntax.hpp"

namespace sluice::http {

using namespace syntax;

namespace {

// Appends without bounds checks: callers size the output first.
struct Writer {
  char* p;
  void put(std::string_view s) {
    std::memcpy(p, s.data(), s.size());
    p += s.size();
  }
  void put(char c) { *p++ = c; }
  // HAProxy emits every field name in lower case; operators' tooling and tests see the same.
  void put_lower(std::string_view s) {
    for (char c : s)
      *p++ = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c;
  }
};

std::string_view version_text(Version v) {
  return v == Version::http_1_0 ? std::string_view("HTTP/1.0") : std::string_view("HTTP/1.1");
}

std::string_view method_text(const Message& m) {
  return m.method_token.empty() ? method_name(m.method) : m.method_token;
}

std::size_t fields_size(std::span<const Header> fields) {
  std::size_t n = 0;
  for (const Header& h : fields)
    n += h.name.size() + 2 + h.value.size() + 2;
  return n;
}

void put_fields(Writer& w, std::span<const Header> fields) {
  for (const Header& h : fields) {
    w.put_lower(h.name);
    w.put(": ");
    w.put(h.value);
    w.put("\r\n");
  }
}

bool listed_in(std::string_view connection_value, std::string_view name) {
  bool listed = false;
  for_each_element(connection_value,
                   [&](std::string_view e) { listed = listed || equals_ignore_case(e, name); });
  return listed;
}

// Equal Content-Length values ("3, 3", or two fields; the parser checked they agree)
// become one field holding the first, as HAProxy sends them. Marks the others unnamed.
void collapse_content_length(HeaderList& headers) {
  bool kept = false;
  for (Header& h : headers) {
    if (!named(h.name, "content-length")) continue;
    if (kept) {
      h.name = std::string_view();
      continue;
    }
    kept = true;
    h.value = trim_ows(h.value.substr(0, h.value.find(',')));
  }
}

}  // namespace

std::string_view method_name(Method method) {
  switch (method) {
    case Method::get:
      return "GET";
    case Method::head:
      return "HEAD";
    case Method::post:
      return "POST";
    case Method::put:
      return "PUT";
    case Method::delete_:
      return "DELETE";
    case Method::connect:
      return "CONNECT";
    case Method::options:
      return "OPTIONS";
    case Method::trace:
      return "TRACE";
    case Method::patch:
      return "PATCH";
    case Method::other:
      break;
  }
  return "";
}

std::string_view default_reason(std::uint16_t status) {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 410:
      return "Gone";
    case 411:
      return "Length Required";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 417:
      return "Expectation Failed";
    case 421:
      return "Misdirected Request";
    case 425:
      return "Too Early";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
  }
  return "";
}

std::size_t head_size(const Message& m) {
  std::size_t n = 0;
  if (m.is_request)
    n = method_text(m).size() + 1 + m.target.size() + 1 + 8 + 2;
  else
    n = 8 + 1 + 3 + 1 + m.reason.size() + 2;
  return n + fields_size(m.headers.fields()) + 2;
}

WriteResult write_head(const Message& m, std::span<char> out) {
  const std::size_t need = head_size(m);
  if (need > out.size()) return WriteResult{false, need};
  Writer w{out.data()};
  if (m.is_request) {
    w.put(method_text(m));
    w.put(' ');
    w.put(m.target);
    w.put(' ');
    w.put(version_text(m.version));
  } else {
    // Three digits whatever the value: the parser only lets 100..599 through.
    unsigned s = m.status % 1000;
    w.put(version_text(m.version));
    w.put(' ');
    w.put(static_cast<char>('0' + s / 100));
    w.put(static_cast<char>('0' + s / 10 % 10));
    w.put(static_cast<char>('0' + s % 10));
    w.put(' ');
    w.put(m.reason);
  }
  w.put("\r\n");
  put_fields(w, m.headers.fields());
  w.put("\r\n");
  return WriteResult{true, need};
}

bool is_hop_by_hop(std::string_view name) {
  // Length mask first: nearly every field is end-to-end and leaves here at once.
  constexpr std::uint32_t kLengths = 1u << 2 | 1u << 7 | 1u << 10 | 1u << 16 | 1u << 17;
  if (name.size() > 17 || !((kLengths >> name.size()) & 1)) return false;
  return named(name, "te") || named(name, "trailer") || named(name, "upgrade") ||
         named(name, "connection") || named(name, "keep-alive") ||
         named(name, "proxy-connection") || named(name, "transfer-encoding");
}

std::size_t remove_hop_by_hop(Message& m, HopByHopOptions options) {
  HeaderList& headers = m.headers;
  // Connection nearly always names only close, keep-alive or upgrade, which the fixed
  // list covers: the pass over named fields runs only when it names something else.
  bool names_others = false;
  for (const Header& h : headers)
    if (named(h.name, "connection"))
      for_each_element(h.value, [&](std::string_view e) {
        names_others = names_others || !(equals_ignore_case(e, "close") || is_hop_by_hop(e));
      });
  if (names_others) {
    // Marks (empty name) the fields the Connection fields name; the Connection fields
    // themselves stay intact so every field is checked against all of them.
    for (Header& h : headers) {
      if (is_hop_by_hop(h.name) || named(h.name, "host") || named(h.name, "content-length"))
        continue;
      for (const Header& c : headers)
        if (named(c.name, "connection") && listed_in(c.value, h.name)) {
          h.name = std::string_view();
          break;
        }
    }
  }
  if (m.content_length_repeated && !m.content_length_ignored) collapse_content_length(headers);
  return headers.erase_if([&](const Header& h) {
    if (h.name.empty()) return true;
    if (m.content_length_ignored && named(h.name, "content-length")) return true;
    if (!is_hop_by_hop(h.name)) return false;
    if (options.keep_upgrade && named(h.name, "upgrade")) return false;
    if (options.keep_transfer_encoding && named(h.name, "transfer-encoding")) return false;
    return true;
  });
}

WriteResult write_chunk_header(std::uint64_t size, std::span<char> out) {
  char digits[16];
  std::size_t n = 0;
  do {
    digits[n++] = "0123456789abcdef"[size & 0xf];
    size >>= 4;
  } while (size != 0);
  const std::size_t need = n + 2;
  if (need > out.size()) return WriteResult{false, need};
  char* p = out.data();
  for (std::size_t i = 0; i < n; ++i)
    p[i] = digits[n - 1 - i];
  p[n] = '\r';
  p[n + 1] = '\n';
  return WriteResult{true, need};
}

WriteResult write_last_chunk(std::span<const Header> trailers, std::span<char> out) {
  const std::size_t need = 3 + fields_size(trailers) + 2;
  if (need > out.size()) return WriteResult{false, need};
  Writer w{out.data()};
  w.put("0\r\n");
  put_fields(w, trailers);
  w.put("\r\n");
  return WriteResult{true, need};
}

}  // namespace sluice::http
