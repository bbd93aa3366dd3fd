#include "runtime/proxy/http_exchange.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

namespace sluice::proxy {

namespace {

// Room for rule edits beyond the fields a message may arrive with.
constexpr std::size_t kExtraHeaders = 32;

http::ParseOptions parse_options(std::size_t bufsize, std::size_t max_headers) {
  http::ParseOptions o;
  o.limits.max_head_bytes = bufsize;
  o.limits.max_headers = max_headers;
  return o;
}

// A server's Content-Length beside Transfer-Encoding is dropped and the chunks read, as
// HAProxy does: the client never sees the conflict, and the server connection is not
// reused. A client's is refused with a 400 (the request-smuggling vector closed outright).
http::ParseOptions server_parse_options(http::ParseOptions client) {
  client.length_conflict = http::LengthConflict::ignore_content_length;
  return client;
}

}  // namespace

HttpLoopShare::Exchange::Exchange(std::size_t bufsize, std::size_t max_headers)
    : client_in(bufsize),
      client_out(bufsize),
      server_in(bufsize),
      server_out(bufsize),
      request(max_headers + kExtraHeaders),
      response(max_headers + kExtraHeaders),
      request_parser(
          parse_options(bufsize - std::min<std::size_t>(bufsize / 2, 1024), max_headers)),
      response_parser(server_parse_options(request_parser.options())),
      request_body(request_parser.options()),
      response_body(request_parser.options()),
      arena(bufsize),
      reply_headers(kExtraHeaders) {}

BodyMove move_body(http::BodyDecoder& decoder, Buffer& from, Buffer& to, bool data_only) {
  BodyMove m;
  while (!from.empty()) {
    const std::size_t room = to.room();
    if (room == 0) break;
    auto input = from.view();
    if (input.size() > room) input = input.first(room);
    const http::BodyResult r = decoder.decode(input);
    m.status = r.status;
    if (r.status == http::BodyStatus::error) {
      m.error_status = r.error.status;
      return m;
    }
    if (r.consumed > 0) {
      to.append(data_only ? r.data : input.first(r.consumed));
      from.consumed(r.consumed);
      m.moved = true;
    }
    if (r.status != http::BodyStatus::more) return m;
  }
  m.status = http::BodyStatus::need_more;
  return m;
}

}  // namespace sluice::proxy
