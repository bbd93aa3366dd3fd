// Responses sluice writes itself, byte for byte as haproxy 2.6.12 sent them: the built-in
// error pages, errorfile overrides, redirects and `http-request return`, with the connection
// field each client version and keep-alive state gets.
#include <doctest/doctest.h>

#include <string>

#include "runtime/proxy/http_reply.hpp"

using namespace sluice;
using namespace sluice::proxy;

namespace {

const ReplyFraming kKeepAlive11{http::Version::http_1_1, true, false};
const ReplyFraming kClose11{http::Version::http_1_1, false, false};
const ReplyFraming kClose10{http::Version::http_1_0, false, false};
const ReplyFraming kKeepAlive10{http::Version::http_1_0, true, false};
const ReplyFraming kHead{http::Version::http_1_1, true, true};

template <class Write>
std::string written(Write&& write) {
  std::string out(8192, '\0');
  const http::WriteResult r = write(std::span<char>(out));
  REQUIRE(r.fits);
  out.resize(r.size);
  return out;
}

std::string page(const ErrorPages& pages, int status, const ReplyFraming& framing = kKeepAlive11) {
  return written([&](std::span<char> out) { return pages.write(status, framing, out); });
}

const std::string k403Body =
    "<html><body><h1>403 Forbidden</h1>\nRequest forbidden by administrative rules.\n"
    "</body></html>\n";
const std::string k403Head =
    "HTTP/1.1 403 Forbidden\r\ncontent-length: 93\r\ncache-control: no-cache\r\n"
    "content-type: text/html\r\n";

}  // namespace

TEST_CASE("the built-in 403 page and its connection field per client") {
  ErrorPages pages;
  CHECK(page(pages, 403) == k403Head + "\r\n" + k403Body);
  CHECK(page(pages, 403, kClose10) == k403Head + "connection: close\r\n\r\n" + k403Body);
  CHECK(page(pages, 403, kClose11) == k403Head + "connection: close\r\n\r\n" + k403Body);
  CHECK(page(pages, 403, kKeepAlive10) == k403Head + "connection: keep-alive\r\n\r\n" + k403Body);
  CHECK(page(pages, 403, kHead) == k403Head + "\r\n");
  CHECK(!pages.closes(403));
  CHECK(!pages.overrides(403));
}

TEST_CASE("every built-in page, with haproxy 2.6's exact texts") {
  struct Expected {
    int status;
    const char* status_line;
    const char* body;
  };
  const Expected all[] = {
      {200, "200 OK", "<h1>200 OK</h1>\nService ready.\n"},
      {400, "400 Bad request", "<h1>400 Bad request</h1>\nYour browser sent an invalid request.\n"},
      {401, "401 Unauthorized",
       "<h1>401 Unauthorized</h1>\nYou need a valid user and password to access this content.\n"},
      {403, "403 Forbidden",
       "<h1>403 Forbidden</h1>\nRequest forbidden by administrative rules.\n"},
      {404, "404 Not Found", "<h1>404 Not Found</h1>\nThe resource could not be found.\n"},
      {405, "405 Method Not Allowed",
       "<h1>405 Method Not Allowed</h1>\nA request was made of a resource using a request "
       "method not supported by that resource\n"},
      {407, "407 Unauthorized",
       "<h1>407 Unauthorized</h1>\nYou need a valid user and password to access this content.\n"},
      {408, "408 Request Time-out",
       "<h1>408 Request Time-out</h1>\nYour browser didn't send a complete request in time.\n"},
      {410, "410 Gone",
       "<h1>410 Gone</h1>\nThe resource is no longer available and will not be available "
       "again.\n"},
      {413, "413 Payload Too Large",
       "<h1>413 Payload Too Large</h1>\nThe request entity exceeds the maximum allowed.\n"},
      {425, "425 Too Early", "<h1>425 Too Early</h1>\nYour browser sent early data.\n"},
      {429, "429 Too Many Requests",
       "<h1>429 Too Many Requests</h1>\nYou have sent too many requests in a given amount of "
       "time.\n"},
      {500, "500 Internal Server Error",
       "<h1>500 Internal Server Error</h1>\nAn internal server error occurred.\n"},
      {501, "501 Not Implemented",
       "<h1>501 Not Implemented</h1>\n.The server does not support the functionality required "
       "to fulfill the request.\n"},
      {502, "502 Bad Gateway",
       "<h1>502 Bad Gateway</h1>\nThe server returned an invalid or incomplete response.\n"},
      {503, "503 Service Unavailable",
       "<h1>503 Service Unavailable</h1>\nNo server is available to handle this request.\n"},
      {504, "504 Gateway Time-out",
       "<h1>504 Gateway Time-out</h1>\nThe server didn't respond in time.\n"},
  };
  ErrorPages pages;
  for (const auto& e : all) {
    const std::string body = std::string("<html><body>") + e.body + "</body></html>\n";
    const bool closes = e.status == 400 || e.status == 408;
    CHECK_MESSAGE(
        page(pages, e.status) == std::string("HTTP/1.1 ") + e.status_line +
                                     "\r\ncontent-length: " + std::to_string(body.size()) +
                                     "\r\ncache-control: no-cache\r\ncontent-type: text/html\r\n" +
                                     (closes ? "connection: close\r\n" : "") + "\r\n" + body,
        e.status);
    CHECK(pages.closes(e.status) == closes);
  }
}

TEST_CASE("400 and 408 close whatever the client asked, as haproxy sends them") {
  ErrorPages pages;
  const std::string head =
      "HTTP/1.1 408 Request Time-out\r\ncontent-length: 110\r\ncache-control: no-cache\r\n"
      "content-type: text/html\r\nconnection: close\r\n\r\n";
  CHECK(page(pages, 408, kKeepAlive10).starts_with(head));
  CHECK(page(pages, 408, kHead) == head);
}

TEST_CASE("a status without a built-in page gets the 500 page under its own status line") {
  ErrorPages pages;
  CHECK(page(pages, 418) ==
        "HTTP/1.1 418 I'm a teapot\r\ncontent-length: 97\r\ncache-control: no-cache\r\n"
        "content-type: text/html\r\n\r\n<html><body><h1>500 Internal Server Error</h1>\n"
        "An internal server error occurred.\n</body></html>\n");
}

TEST_CASE("a buffer too small gets nothing and learns the size needed") {
  ErrorPages pages;
  std::string out(50, '\0');
  const auto r = pages.write(403, kKeepAlive11, out);
  CHECK(!r.fits);
  CHECK(r.size == k403Head.size() + 2 + k403Body.size());
  CHECK(!write_redirect(302, "/x", kKeepAlive11, std::span<char>(out.data(), 10)).fits);
}

TEST_CASE("errorfiles: re-framed as haproxy sends them, the connection closed after") {
  ErrorPages pages({
      {503,
       "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nX-Errorfile: yes\r\n"
       "Cache-Control: no-cache\r\nConnection: close\r\nContent-Length: 23\r\n\r\n"
       "Sorry, nobody is home.\n"},
      {403,
       "HTTP/1.0 403 Nope\r\nCache-Control: no-cache\r\nConnection: close\r\n"
       "Content-Type: text/plain\r\nX-Custom: Yes\r\n\r\ngo away\n"},
      {404, "HTTP/1.1 404 NF\nContent-Type: text/plain\nContent-Length: 5\n\nnope\n"},
      {410, "HTTP/1.0 410 G\r\nContent-Length: 3\r\nKeep-Alive: timeout=5\r\n\r\ng\n\n"},
  });
  for (int status : {503, 403, 404, 410}) {
    CHECK(pages.overrides(status));
    CHECK(pages.closes(status));
  }
  CHECK(!pages.overrides(500));
  // The Connection field goes, names are lower-cased, the connection field comes last.
  const std::string head503 =
      "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\nx-errorfile: yes\r\n"
      "cache-control: no-cache\r\ncontent-length: 23\r\nconnection: close\r\n\r\n";
  CHECK(page(pages, 503, kClose11) == head503 + "Sorry, nobody is home.\n");
  CHECK(page(pages, 503, kKeepAlive10) == head503 + "Sorry, nobody is home.\n");
  CHECK(page(pages, 503, kHead) == head503);
  // HTTP/1.0 says "close" by itself.
  CHECK(page(pages, 403, kClose11) ==
        "HTTP/1.0 403 Nope\r\ncache-control: no-cache\r\ncontent-type: text/plain\r\n"
        "x-custom: Yes\r\n\r\ngo away\n");
  // A framed page is written for keep-alive when a caller keeps the connection (haproxy
  // does; sluice's session closes after any errorfile, see closes()).
  CHECK(page(pages, 404, kKeepAlive11) ==
        "HTTP/1.1 404 NF\r\ncontent-type: text/plain\r\ncontent-length: 5\r\n\r\nnope\n");
  CHECK(page(pages, 404, kKeepAlive10) ==
        "HTTP/1.1 404 NF\r\ncontent-type: text/plain\r\ncontent-length: 5\r\n"
        "connection: keep-alive\r\n\r\nnope\n");
  CHECK(page(pages, 410, kKeepAlive11) ==
        "HTTP/1.0 410 G\r\ncontent-length: 3\r\nkeep-alive: timeout=5\r\n"
        "connection: keep-alive\r\n\r\ng\n\n");
  CHECK(page(pages, 410, kClose11) ==
        "HTTP/1.0 410 G\r\ncontent-length: 3\r\nkeep-alive: timeout=5\r\n\r\ng\n\n");
  // Other statuses keep their built-in page.
  CHECK(page(pages, 500).starts_with("HTTP/1.1 500 Internal Server Error\r\n"));
}

TEST_CASE("the last errorfile for a status wins; one the codec refuses goes out verbatim") {
  const std::string odd = "HTTP/1.1 502 X\r\nBad Header\r\n\r\nbody";
  ErrorPages pages({{502, "HTTP/1.1 502 First\r\nContent-Length: 0\r\n\r\n"}, {502, odd}});
  CHECK(page(pages, 502, kKeepAlive11) == odd);
  CHECK(pages.closes(502));
}

TEST_CASE("redirects: cache-control for temporary codes, the connection field per client") {
  CHECK(written([](auto out) { return write_redirect(301, "https://h/r1", kKeepAlive11, out); }) ==
        "HTTP/1.1 301 Moved Permanently\r\ncontent-length: 0\r\nlocation: https://h/r1\r\n\r\n");
  CHECK(written([](auto out) { return write_redirect(302, "/x", kKeepAlive11, out); }) ==
        "HTTP/1.1 302 Found\r\ncontent-length: 0\r\nlocation: /x\r\n"
        "cache-control: no-cache\r\n\r\n");
  CHECK(written([](auto out) { return write_redirect(303, "/x", kHead, out); }) ==
        "HTTP/1.1 303 See Other\r\ncontent-length: 0\r\nlocation: /x\r\n"
        "cache-control: no-cache\r\n\r\n");
  CHECK(written([](auto out) { return write_redirect(307, "/x", kClose10, out); }) ==
        "HTTP/1.1 307 Temporary Redirect\r\ncontent-length: 0\r\nlocation: /x\r\n"
        "cache-control: no-cache\r\nconnection: close\r\n\r\n");
  CHECK(written([](auto out) { return write_redirect(308, "/x", kKeepAlive10, out); }) ==
        "HTTP/1.1 308 Permanent Redirect\r\ncontent-length: 0\r\nlocation: /x\r\n"
        "connection: keep-alive\r\n\r\n");
  CHECK(written([](auto out) { return write_redirect(301, "/x", kClose11, out); }) ==
        "HTTP/1.1 301 Moved Permanently\r\ncontent-length: 0\r\nlocation: /x\r\n"
        "connection: close\r\n\r\n");
}

TEST_CASE("return: hdr fields first, HAProxy's framing fields, reasons and HEAD") {
  auto ret = [](int status, std::string_view type, std::string_view body,
                std::vector<http::Header> headers, const ReplyFraming& framing = kKeepAlive11) {
    return written(
        [&](auto out) { return write_return(status, type, body, headers, framing, out); });
  };
  CHECK(ret(200, "text/plain", "hello", {}) ==
        "HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-type: text/plain\r\n\r\nhello");
  CHECK(ret(200, "", "", {}) == "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
  CHECK(ret(200, "text/plain", "hello", {}, kHead) ==
        "HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-type: text/plain\r\n\r\n");
  CHECK(ret(200, "text/plain", "hello", {}, kClose10) ==
        "HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-type: text/plain\r\n"
        "connection: close\r\n\r\nhello");
  CHECK(ret(200, "text/plain", "hello", {}, kKeepAlive10) ==
        "HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-type: text/plain\r\n"
        "connection: keep-alive\r\n\r\nhello");
  CHECK(ret(200, "", "", {}, kClose11) ==
        "HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
  CHECK(ret(204, "", "", {}) == "HTTP/1.1 204 No Content\r\n\r\n");
  CHECK(ret(304, "", "", {}) == "HTTP/1.1 304 Not Modified\r\ncontent-length: 0\r\n\r\n");
  CHECK(ret(418, "text/plain", "tea", {}) ==
        "HTTP/1.1 418 I'm a teapot\r\ncontent-length: 3\r\ncontent-type: text/plain\r\n\r\ntea");
  // haproxy's own wording, not RFC 9110's.
  CHECK(ret(302, "", "", {}).starts_with("HTTP/1.1 302 Moved Temporarily\r\n"));
  CHECK(ret(502, "", "", {}).starts_with("HTTP/1.1 502 Bad Gateway or Proxy Error\r\n"));
  CHECK(ret(299, "", "", {}).starts_with("HTTP/1.1 299 Success\r\n"));
  CHECK(ret(460, "", "", {}).starts_with("HTTP/1.1 460 Client Error\r\n"));
  CHECK(ret(200, "text/plain", "abc",
            {{"X-A", "1"},
             {"Content-Length", "99"},
             {"Connection", "keep-alive"},
             {"Transfer-Encoding", "x"},
             {"Content-Type", "y"},
             {"X-B", "b"}}) ==
        "HTTP/1.1 200 OK\r\nx-a: 1\r\nx-b: b\r\ncontent-length: 3\r\n"
        "content-type: text/plain\r\n\r\nabc");
}
