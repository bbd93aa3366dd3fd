// Responses sluice writes itself: HAProxy's built-in error pages (or a proxy's `errorfile`
// override), redirects and `http-request return`, each written whole into a caller's
// buffer with the connection header the client needs. Knows no sockets.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/config/config.hpp"
#include "runtime/http/message.hpp"
#include "runtime/http/serializer.hpp"

namespace sluice::proxy {

// How the connection carrying the reply goes on, as HAProxy writes it: an HTTP/1.1 client
// kept alive gets no connection field, one being closed gets "connection: close"; an
// HTTP/1.0 client kept alive gets "connection: keep-alive".
struct ReplyFraming {
  http::Version client_version = http::Version::http_1_1;
  bool keep_alive = true;
  bool head_only = false;  // answering HEAD: the head says the body's length, no body follows
};

// A proxy's error pages: HAProxy's built-in ones for 200 400 401 403 404 405 407 408 410
// 413 425 429 500 501 502 503 504 (same status line, fields and HTML body), replaced by the
// proxy's `errorfile` responses. Built once per proxy at worker start; read-only after.
class ErrorPages {
 public:
  explicit ErrorPages(const std::vector<config::ErrorFile>& overrides = {});

  // The page for `status`; a status without a built-in page answers with the 500 page's
  // body under its own status line (HAProxy refuses such a deny_status at load time).
  // An errorfile is written as HAProxy sends it: its own status line, version, fields and
  // body, field names in lower case, its Connection field replaced by the one `framing`
  // calls for. The body is left out when answering HEAD.
  http::WriteResult write(int status, const ReplyFraming& framing, std::span<char> out) const;
  // The connection must close after this page: any errorfile (sluice does not keep a
  // connection alive after one), and the built-in 400 and 408 pages, which HAProxy always
  // sends with "connection: close".
  bool closes(int status) const;
  // An errorfile replaces the built-in page for `status`.
  bool overrides(int status) const;

 private:
  // An errorfile, parsed once: HAProxy re-frames it like any response it sends.
  struct Page {
    int status = 0;
    std::string head;  // status line and fields, each ending in CRLF, without Connection
    std::string body;
    bool http_1_0 = false;    // the status line says HTTP/1.0: closing needs no field
    bool keep_alive = false;  // Content-Length frames the body and no Connection: close
    bool verbatim = false;    // not parseable as a response: `head` is the whole file
  };
  std::vector<Page> overrides_;
};

// "HTTP/1.1 <code> <reason>", content-length: 0, location: <location>, and for codes
// browsers do not cache (302 303 307) "cache-control: no-cache", as HAProxy writes it.
http::WriteResult write_redirect(int code, std::string_view location, const ReplyFraming& framing,
                                 std::span<char> out);

// `http-request return`: status line, content-length, content-type when given, the
// rendered `hdr` fields, then the body (omitted for HEAD).
http::WriteResult write_return(int status, std::string_view content_type, std::string_view body,
                               std::span<const http::Header> headers, const ReplyFraming& framing,
                               std::span<char> out);

}  // namespace sluice::proxy
