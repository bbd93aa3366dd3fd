#include "runtime/proxy/http_reply.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>

#include "runtime/http/parser.hpp"
#include "runtime/http/serializer.hpp"

namespace sluice::proxy {

namespace {

// HAProxy 2.6's reason phrases for the responses it generates (`http-request return`,
// unlisted deny statuses), as its status lines show them: older wordings than RFC 9110's
// ("302 Moved Temporarily", "408 Request Time-out"), and one catch-all per class.
struct Reason {
  int status;
  std::string_view text;
};

constexpr auto reasons = std::to_array<Reason>({
    {200, "OK"},
    {201, "Created"},
    {202, "Accepted"},
    {203, "Non-Authoritative Information"},
    {204, "No Content"},
    {205, "Reset Content"},
    {206, "Partial Content"},
    {207, "Multi-Status"},
    {210, "Content Different"},
    {226, "IM Used"},
    {300, "Multiple Choices"},
    {301, "Moved Permanently"},
    {302, "Moved Temporarily"},
    {303, "See Other"},
    {304, "Not Modified"},
    {305, "Use Proxy"},
    {307, "Temporary Redirect"},
    {308, "Permanent Redirect"},
    {310, "Too many Redirects"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {402, "Payment Required"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {406, "Not Acceptable"},
    {407, "Proxy Authentication Required"},
    {408, "Request Time-out"},
    {409, "Conflict"},
    {410, "Gone"},
    {411, "Length Required"},
    {412, "Precondition Failed"},
    {413, "Request Entity Too Large"},
    {414, "Request-URI Too Long"},
    {415, "Unsupported Media Type"},
    {416, "Requested range unsatisfiable"},
    {417, "Expectation failed"},
    {418, "I'm a teapot"},
    {421, "Misdirected Request"},
    {422, "Unprocessable Content"},
    {423, "Locked"},
    {424, "Method failure"},
    {425, "Too Early"},
    {426, "Upgrade Required"},
    {428, "Precondition Required"},
    {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"},
    {449, "Retry With"},
    {450, "Blocked by Windows Parental Controls"},
    {451, "Unavailable For Legal Reasons"},
    {456, "Unrecoverable Error"},
    {499, "client has closed connection"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway or Proxy Error"},
    {503, "Service Unavailable"},
    {504, "Gateway Time-out"},
    {505, "HTTP Version not supported"},
    {506, "Variant also negotiate"},
    {507, "Insufficient storage"},
    {508, "Loop detected"},
    {509, "Bandwidth Limit Exceeded"},
    {510, "Not extended"},
    {511, "Network authentication required"},
    {520, "Web server is returning an unknown error"},
});

std::string_view haproxy_reason(int status) {
  for (const auto& r : reasons)
    if (r.status == status) return r.text;
  switch (status / 100) {
    case 1:
      return "Informational";
    case 2:
      return "Success";
    case 3:
      return "Redirection";
    case 4:
      return "Client Error";
    case 5:
      return "Server Error";
    default:
      return "Other";
  }
}

// Redirects use the standard wording (HAProxy writes "302 Found" there).
std::string_view redirect_reason(int code) {
  return code >= 301 && code <= 308 ? http::default_reason(static_cast<std::uint16_t>(code))
                                    : haproxy_reason(code);
}

// A built-in page: the reason of its status line (also its <h1> title) and its sentence.
struct BuiltinPage {
  int status;
  std::string_view reason;
  std::string_view text;
};

// HAProxy 2.6's texts, byte for byte (501's leading '.' included).
constexpr auto builtin_pages = std::to_array<BuiltinPage>({
    {200, "OK", "Service ready."},
    {400, "Bad request", "Your browser sent an invalid request."},
    {401, "Unauthorized", "You need a valid user and password to access this content."},
    {403, "Forbidden", "Request forbidden by administrative rules."},
    {404, "Not Found", "The resource could not be found."},
    {405, "Method Not Allowed",
     "A request was made of a resource using a request method not supported by that resource"},
    {407, "Unauthorized", "You need a valid user and password to access this content."},
    {408, "Request Time-out", "Your browser didn't send a complete request in time."},
    {410, "Gone", "The resource is no longer available and will not be available again."},
    {413, "Payload Too Large", "The request entity exceeds the maximum allowed."},
    {425, "Too Early", "Your browser sent early data."},
    {429, "Too Many Requests", "You have sent too many requests in a given amount of time."},
    {500, "Internal Server Error", "An internal server error occurred."},
    {501, "Not Implemented",
     ".The server does not support the functionality required to fulfill the request."},
    {502, "Bad Gateway", "The server returned an invalid or incomplete response."},
    {503, "Service Unavailable", "No server is available to handle this request."},
    {504, "Gateway Time-out", "The server didn't respond in time."},
});

const BuiltinPage* find_builtin(int status) {
  for (const auto& page : builtin_pages)
    if (page.status == status) return &page;
  return nullptr;
}

// HAProxy sends the 400 and 408 pages with "connection: close" whatever the client asked.
bool builtin_closes(int status) {
  return status == 400 || status == 408;
}

// Appends to `out` while it fits and counts what the whole reply needs, so a caller with a
// too small buffer learns the size (WriteResult's contract) and nothing partial is used.
class Writer {
 public:
  explicit Writer(std::span<char> out) : out_(out) {}
  void put(std::string_view s) {
    if (size_ + s.size() <= out_.size()) std::memcpy(out_.data() + size_, s.data(), s.size());
    size_ += s.size();
  }
  // Generated field names are lower case, as HAProxy's HTX stores them.
  void put_lower(std::string_view s) {
    if (size_ + s.size() <= out_.size())
      for (std::size_t i = 0; i < s.size(); ++i)
        out_[size_ + i] = http::ascii_lower(s[i]);
    size_ += s.size();
  }
  void put_number(std::uint64_t n) {
    char digits[24];
    auto [end, ec] = std::to_chars(digits, digits + sizeof digits, n);
    put({digits, static_cast<std::size_t>(end - digits)});
  }
  void put_field(std::string_view name, std::string_view value) {
    put_lower(name);
    put(": ");
    put(value);
    put("\r\n");
  }
  http::WriteResult result() const { return {size_ <= out_.size(), size_}; }

 private:
  std::span<char> out_;
  std::size_t size_ = 0;
};

void put_status_line(Writer& w, int status, std::string_view reason) {
  w.put("HTTP/1.1 ");
  w.put_number(static_cast<std::uint64_t>(status));
  w.put(" ");
  w.put(reason);
  w.put("\r\n");
}

// The connection field HAProxy's H1 output writes for a reply: none when the version
// already says it (HTTP/1.1 kept alive, HTTP/1.0 closed), otherwise the explicit one.
void put_connection(Writer& w, bool keep_alive, bool client_1_0, bool reply_1_0) {
  if (keep_alive) {
    if (client_1_0 || reply_1_0) w.put("connection: keep-alive\r\n");
  } else if (!reply_1_0) {
    w.put("connection: close\r\n");
  }
}

bool client_1_0(const ReplyFraming& framing) {
  return framing.client_version == http::Version::http_1_0;
}

}  // namespace

// ---- error pages ---------------------------------------------------------------------------

ErrorPages::ErrorPages(const std::vector<config::ErrorFile>& overrides) {
  for (const auto& file : overrides) {
    std::erase_if(overrides_, [&](const Page& p) { return p.status == file.status; });
    Page page;
    page.status = file.status;
    http::Message response;
    http::HeadParser parser;
    parser.start_response(http::Method::get, false);
    const auto parsed = parser.parse(file.response, response);
    if (parsed.status != http::ParseStatus::done || response.body == http::BodyKind::chunked ||
        response.body == http::BodyKind::tunnel) {
      // runtime/compile checked the file looks like a response; what the codec still
      // refuses goes out as it is, and the connection closes after it.
      page.head = file.response;
      page.verbatim = true;
      overrides_.push_back(std::move(page));
      continue;
    }
    page.http_1_0 = response.version == http::Version::http_1_0;
    page.head.append(page.http_1_0 ? "HTTP/1.0 " : "HTTP/1.1 ");
    page.head.append(std::to_string(response.status));
    page.head.push_back(' ');
    page.head.append(response.reason);
    page.head.append("\r\n");
    for (const auto& h : response.headers) {
      // HAProxy writes its own connection field for the reply it sends.
      if (http::equals_ignore_case(h.name, "connection")) continue;
      for (char c : h.name)
        page.head.push_back(http::ascii_lower(c));
      page.head.append(": ");
      page.head.append(h.value);
      page.head.append("\r\n");
    }
    std::string_view body = std::string_view(file.response).substr(parsed.consumed);
    const bool framed = response.has_content_length && body.size() >= response.content_length;
    if (response.has_content_length) body = body.substr(0, response.content_length);
    page.body = body;
    page.keep_alive = framed && !response.connection_close;
    overrides_.push_back(std::move(page));
  }
}

bool ErrorPages::overrides(int status) const {
  return std::any_of(overrides_.begin(), overrides_.end(),
                     [&](const Page& p) { return p.status == status; });
}

bool ErrorPages::closes(int status) const {
  return overrides(status) || builtin_closes(status);
}

http::WriteResult ErrorPages::write(int status, const ReplyFraming& framing,
                                    std::span<char> out) const {
  Writer w(out);
  for (const auto& page : overrides_) {
    if (page.status != status) continue;
    if (page.verbatim) {
      w.put(page.head);
      return w.result();
    }
    w.put(page.head);
    put_connection(w, framing.keep_alive && page.keep_alive, client_1_0(framing), page.http_1_0);
    w.put("\r\n");
    if (!framing.head_only) w.put(page.body);
    return w.result();
  }

  const BuiltinPage* builtin = find_builtin(status);
  const BuiltinPage& page = builtin ? *builtin : *find_builtin(500);
  // "<html><body><h1>" code " " reason "</h1>\n" text "\n</body></html>\n"
  char code[3];
  std::to_chars(code, code + 3, page.status);
  const std::string_view code_text(code, 3);
  constexpr std::string_view body_open = "<html><body><h1>", title_end = "</h1>\n",
                             body_close = "\n</body></html>\n";
  const std::size_t body_size = body_open.size() + code_text.size() + 1 + page.reason.size() +
                                title_end.size() + page.text.size() + body_close.size();
  put_status_line(w, status, builtin ? page.reason : haproxy_reason(status));
  w.put("content-length: ");
  w.put_number(body_size);
  w.put("\r\ncache-control: no-cache\r\ncontent-type: text/html\r\n");
  put_connection(w, framing.keep_alive && !builtin_closes(status), client_1_0(framing), false);
  w.put("\r\n");
  if (!framing.head_only) {
    w.put(body_open);
    w.put(code_text);
    w.put(" ");
    w.put(page.reason);
    w.put(title_end);
    w.put(page.text);
    w.put(body_close);
  }
  return w.result();
}

// ---- redirects and return ------------------------------------------------------------------

http::WriteResult write_redirect(int code, std::string_view location, const ReplyFraming& framing,
                                 std::span<char> out) {
  Writer w(out);
  put_status_line(w, code, redirect_reason(code));
  w.put("content-length: 0\r\n");
  w.put_field("location", location);
  if (code == 302 || code == 303 || code == 307) w.put("cache-control: no-cache\r\n");
  put_connection(w, framing.keep_alive, client_1_0(framing), false);
  w.put("\r\n");
  return w.result();
}

http::WriteResult write_return(int status, std::string_view content_type, std::string_view body,
                               std::span<const http::Header> headers, const ReplyFraming& framing,
                               std::span<char> out) {
  Writer w(out);
  put_status_line(w, status, haproxy_reason(status));
  // The `hdr` fields come first; the framing fields are HAProxy's own (it ignores a
  // Content-Length, Transfer-Encoding or Content-Type given with `hdr`, and writes the
  // connection field itself).
  for (const auto& h : headers) {
    if (http::equals_ignore_case(h.name, "content-length") ||
        http::equals_ignore_case(h.name, "transfer-encoding") ||
        http::equals_ignore_case(h.name, "content-type") ||
        http::equals_ignore_case(h.name, "connection"))
      continue;
    w.put_field(h.name, h.value);
  }
  // A 204 (or 1xx) cannot have a body, so HAProxy writes no length for it; 304 gets one.
  if (status != 204 && status >= 200) {
    w.put("content-length: ");
    w.put_number(body.size());
    w.put("\r\n");
  }
  if (!content_type.empty()) w.put_field("content-type", content_type);
  put_connection(w, framing.keep_alive, client_1_0(framing), false);
  w.put("\r\n");
  if (!framing.head_only) w.put(body);
  return w.result();
}

}  // namespace sluice::proxy
