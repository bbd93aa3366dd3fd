// HTTP/1.1 head parser and body decoder: every rejection with its exact status, framing
// and connection semantics, limits at the boundary, and incremental feeding (byte by byte,
// with the buffer moving between calls) giving the same result as one feed.
#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include "runtime/http/parser.hpp"

using namespace sluice::http;

namespace {

struct Side {
  bool request = true;
  Method request_method = Method::get;
  bool upgrade = false;
};
const Side kResponse{false, Method::get, false};

void start(HeadParser& p, const Side& side) {
  if (side.request)
    p.start_request();
  else
    p.start_response(side.request_method, side.upgrade);
}

bool same_message(const Message& a, const Message& b) {
  bool same = a.is_request == b.is_request && a.method == b.method &&
              a.method_token == b.method_token && a.target == b.target && a.version == b.version &&
              a.status == b.status && a.reason == b.reason && a.body == b.body &&
              a.content_length == b.content_length && a.keep_alive == b.keep_alive &&
              a.expect_continue == b.expect_continue &&
              a.upgrade_requested == b.upgrade_requested && a.host == b.host &&
              a.headers.size() == b.headers.size();
  for (std::size_t i = 0; same && i < a.headers.size(); ++i)
    same = a.headers[i].name == b.headers[i].name && a.headers[i].value == b.headers[i].value;
  return same;
}

// Parses `text` in one feed into `m`, and byte by byte (the buffer alternating between
// two strings so every call sees it moved) into a second message; both must agree.
ParseResult parse(std::string_view text, Message& m, Side side = {}, ParseOptions options = {}) {
  HeadParser one(options);
  start(one, side);
  ParseResult whole = one.parse(text, m);

  HeadParser inc(options);
  start(inc, side);
  Message m2(m.headers.capacity());
  std::string buffers[2];
  ParseResult split;
  for (std::size_t k = 0; k <= text.size(); ++k) {
    buffers[k % 2].assign(text.substr(0, k));
    split = inc.parse(buffers[k % 2], m2);
    if (split.status != ParseStatus::need_more) break;
  }
  CHECK(split.status == whole.status);
  CHECK(split.consumed == whole.consumed);
  CHECK(split.error.code == whole.error.code);
  if (whole.status == ParseStatus::done) CHECK(same_message(m, m2));
  return whole;
}

ParseResult parse(std::string_view text, Side side = {}, ParseOptions options = {}) {
  Message m;
  return parse(text, m, side, options);
}

void rejects(std::string_view text, std::uint16_t status, ErrorCode code, Side side = {},
             ParseOptions options = {}) {
  INFO(text.substr(0, 80));
  ParseResult r = parse(text, side, options);
  CHECK(r.status == ParseStatus::error);
  CHECK(r.error.status == status);
  CHECK(r.error.code == code);
}

void rejects_request(std::string_view text, std::uint16_t status, ErrorCode code,
                     ParseOptions options = {}) {
  rejects(text, status, code, Side{}, options);
}

void rejects_response(std::string_view text, ErrorCode code, Side side = kResponse) {
  rejects(text, 502, code, side);
}

Message parsed(std::string_view text, Side side = {}, ParseOptions options = {}) {
  Message m;
  ParseResult r = parse(text, m, side, options);
  REQUIRE(r.status == ParseStatus::done);
  CHECK(r.consumed == text.size());
  return m;
}

std::string with_fields(std::size_t n) {
  std::string s = "GET / HTTP/1.1\r\n";
  for (std::size_t i = 0; i < n; ++i)
    s += "X-" + std::to_string(i) + ": v\r\n";
  return s + "\r\n";
}

}  // namespace

TEST_SUITE("http head parser") {
  TEST_CASE("a typical request") {
    Message m = parsed(
        "GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8\r\n"
        "Accept:  */*  \r\nX-Empty:\r\n\r\n");
    CHECK(m.is_request);
    CHECK(m.method == Method::get);
    CHECK(m.method_token == "GET");
    CHECK(m.target == "/index.html?q=1");
    CHECK(m.version == Version::http_1_1);
    REQUIRE(m.headers.size() == 4);
    CHECK(m.headers[0].name == "Host");
    CHECK(m.headers[2].value == "*/*");  // OWS trimmed both sides
    CHECK(m.headers[3].value.empty());
    CHECK(m.host == "example.com");
    CHECK(m.body == BodyKind::none);
    CHECK(m.keep_alive);
  }

  TEST_CASE("methods map to the enum, case-sensitively; unknown ones keep their token") {
    CHECK(parsed("DELETE / HTTP/1.1\r\n\r\n").method == Method::delete_);
    CHECK(parsed("CONNECT a:443 HTTP/1.1\r\n\r\n").method == Method::connect);
    Message m = parsed("PURGE / HTTP/1.1\r\n\r\n");
    CHECK(m.method == Method::other);
    CHECK(m.method_token == "PURGE");
    CHECK(parsed("get / HTTP/1.1\r\n\r\n").method == Method::other);
  }

  TEST_CASE("versions: 1.0, 1.1, and a higher 1.x read as 1.1; leading empty lines skipped") {
    CHECK(parsed("GET / HTTP/1.0\r\n\r\n").version == Version::http_1_0);
    CHECK(parsed("GET / HTTP/1.2\r\n\r\n").version == Version::http_1_1);
    CHECK(parsed("\r\n\n\r\nGET / HTTP/1.1\r\n\r\n").target == "/");  // consumed counts them
  }

  TEST_CASE("a bare LF ends lines, as HAProxy accepts") {
    Message m = parsed("GET / HTTP/1.1\nHost: a\r\nX: b\n\n");
    CHECK(m.headers.size() == 2);
    CHECK(m.headers[1].value == "b");
  }

  TEST_CASE("several spaces between request line parts are accepted") {
    CHECK(parsed("GET  /x   HTTP/1.1\r\n\r\n").target == "/x");
  }

  TEST_CASE("tabs and obs-text inside values are kept") {
    Message m = parsed("GET / HTTP/1.1\r\nX: a\tb \xC3\xA9\r\n\r\n");
    CHECK(m.headers[0].value == "a\tb \xC3\xA9");
  }

  TEST_CASE("pipelined requests: consumed stops at the end of each head") {
    std::string two = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n";
    HeadParser p;
    Message m;
    p.start_request();
    ParseResult r = p.parse(two, m);
    REQUIRE(r.status == ParseStatus::done);
    CHECK(m.target == "/1");
    p.start_request();
    std::string_view rest = std::string_view(two).substr(r.consumed);
    ParseResult r2 = p.parse(rest, m);
    REQUIRE(r2.status == ParseStatus::done);
    CHECK(m.target == "/2");
    CHECK(r.consumed + r2.consumed == two.size());
  }

  TEST_CASE("an incomplete head needs more and a done or failed parser stays so") {
    HeadParser p;
    Message m;
    CHECK(p.parse(std::string_view("GET / HTTP/1.1\r\nHost: a\r\n"), m).status ==
          ParseStatus::need_more);
    std::string_view full = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    CHECK(p.parse(full, m).status == ParseStatus::done);
    CHECK(p.parse(full, m).consumed == full.size());
    HeadParser bad;
    CHECK(bad.parse(std::string_view("G(T"), m).status == ParseStatus::error);
    CHECK(bad.parse(std::string_view("GET / HTTP/1.1\r\n\r\n"), m).error.status == 400);
  }

  // ---- request rejections ----------------------------------------------------------

  TEST_CASE("garbage is 400") {
    rejects_request("\x16\x03\x01\x00\xa5\x01", 400, ErrorCode::bad_request_line);
  }
  TEST_CASE("leading whitespace is 400") {
    rejects_request(" GET / HTTP/1.1\r\n\r\n", 400, ErrorCode::bad_request_line);
  }
  TEST_CASE("HTTP/0.9 (no version) is 400") {
    rejects_request("GET /\r\n\r\n", 400, ErrorCode::bad_request_line);
    rejects_request("GET\r\n\r\n", 400, ErrorCode::bad_request_line);
  }
  TEST_CASE("invalid token character in the method is 400") {
    rejects_request("G(T / HTTP/1.1\r\n\r\n", 400, ErrorCode::bad_method);
    rejects_request("GE\x01T / HTTP/1.1\r\n\r\n", 400, ErrorCode::bad_method);
  }
  TEST_CASE("invalid request-target bytes are 400") {
    rejects_request("GET /a\x01 HTTP/1.1\r\n\r\n", 400, ErrorCode::bad_target);
    rejects_request("GET /a\x7f HTTP/1.1\r\n\r\n", 400, ErrorCode::bad_target);
    rejects_request("GET /\xff HTTP/1.1\r\n\r\n", 400, ErrorCode::bad_target);
    rejects_request("GET /a#frag HTTP/1.1\r\n\r\n", 400, ErrorCode::bad_target);
    rejects_request("GET /a\tb HTTP/1.1\r\n\r\n", 400, ErrorCode::bad_target);
  }
  TEST_CASE("a malformed version is 400") {
    rejects_request("GET / HTTP/1.10\r\n\r\n", 400, ErrorCode::bad_version);
    rejects_request("GET / http/1.1\r\n\r\n", 400, ErrorCode::bad_version);
    rejects_request("GET / HTTP/1.1 \r\n\r\n", 400, ErrorCode::bad_version);
    rejects_request("GET / HTTP/1\r\n\r\n", 400, ErrorCode::bad_version);
    rejects_request("GET / FOO/1.1\r\n\r\n", 400, ErrorCode::bad_version);
  }
  TEST_CASE("another major version is 505") {
    rejects_request("GET / HTTP/2.0\r\n\r\n", 505, ErrorCode::unsupported_version);
    rejects_request("GET / HTTP/0.9\r\n\r\n", 505, ErrorCode::unsupported_version);
  }
  TEST_CASE("a bare CR is 400") {
    rejects_request("GET / HTTP/1.1\rHost: a\r\n\r\n", 400, ErrorCode::bare_cr);
    rejects_request("GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", 400, ErrorCode::bare_cr);
    rejects_request("GET / HTTP/1.1\r\nX: a\r\r\n\r\n", 400, ErrorCode::bare_cr);
    rejects_request("GET / HTTP/1.1\r\n\rX", 400, ErrorCode::bare_cr);
    rejects_request("\rGET / HTTP/1.1\r\n\r\n", 400, ErrorCode::bare_cr);
  }
  TEST_CASE("a bare LF inside a value ends it; what follows must be a field line") {
    rejects_request("GET / HTTP/1.1\r\nX: a\nb\r\n\r\n", 400, ErrorCode::missing_colon);
  }
  TEST_CASE("NUL and other controls in a value are 400") {
    rejects_request(std::string_view("GET / HTTP/1.1\r\nX: a\0b\r\n\r\n", 27), 400,
                    ErrorCode::bad_header_value);
    rejects_request("GET / HTTP/1.1\r\nX: a\x01\r\n\r\n", 400, ErrorCode::bad_header_value);
    rejects_request("GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n", 400, ErrorCode::bad_header_value);
    rejects_request("GET / HTTP/1.1\r\nX: 0123456789abcdef\x1b\r\n\r\n", 400,
                    ErrorCode::bad_header_value);
  }
  TEST_CASE("CR, NUL or a bad token character in a name is 400") {
    rejects_request("GET / HTTP/1.1\r\nX(y): a\r\n\r\n", 400, ErrorCode::bad_header_name);
    rejects_request(std::string_view("GET / HTTP/1.1\r\nX\0: a\r\n\r\n", 25), 400,
                    ErrorCode::bad_header_name);
    rejects_request("GET / HTTP/1.1\r\nX\rY: a\r\n\r\n", 400, ErrorCode::missing_colon);
    rejects_request("GET / HTTP/1.1\r\n\xc3\xa9: a\r\n\r\n", 400, ErrorCode::bad_header_name);
  }
  TEST_CASE("an empty field name is 400") {
    rejects_request("GET / HTTP/1.1\r\n: a\r\n\r\n", 400, ErrorCode::bad_header_name);
  }
  TEST_CASE("whitespace before the colon is 400") {
    rejects_request("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400, ErrorCode::space_before_colon);
    rejects_request("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", 400, ErrorCode::space_before_colon);
  }
  TEST_CASE("a field line without a colon is 400") {
    rejects_request("GET / HTTP/1.1\r\nHost\r\n\r\n", 400, ErrorCode::missing_colon);
  }
  TEST_CASE("obs-fold is 400") {
    rejects_request("GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", 400, ErrorCode::obs_fold);
    rejects_request("GET / HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n", 400, ErrorCode::obs_fold);
  }
  TEST_CASE("whitespace between the start line and the first field is 400") {
    rejects_request("GET / HTTP/1.1\r\n X: a\r\n\r\n", 400, ErrorCode::space_after_start_line);
  }

  TEST_CASE("request line too long: 400 one byte past the limit, accepted at it") {
    ParseOptions o;
    o.limits.max_head_bytes = 64;
    std::string head = "GET /" + std::string(64 - 18, 'a') + " HTTP/1.1\r\n\r\n";
    REQUIRE(head.size() == 64);
    CHECK(parse(head, Side{}, o).status == ParseStatus::done);
    std::string line = "GET /" + std::string(64, 'a');
    rejects_request(line, 400, ErrorCode::request_line_too_long, o);
    // The request line itself ends one byte past the limit.
    std::string past = "GET /" + std::string(64 - 15, 'a') + " HTTP/1.1\r\n";
    REQUIRE(past.size() == 65);
    rejects_request(past, 400, ErrorCode::request_line_too_long, o);
  }

  TEST_CASE("header block too large: 400 one byte past tune.bufsize - tune.maxrewrite") {
    ParseOptions o;  // defaults: 16384 - 1024
    const std::size_t limit = 16384 - 1024;
    std::string prefix = "GET / HTTP/1.1\r\nX: ";
    std::string at = prefix + std::string(limit - prefix.size() - 4, 'v') + "\r\n\r\n";
    REQUIRE(at.size() == limit);
    CHECK(parse(at, Side{}, o).status == ParseStatus::done);
    std::string past = prefix + std::string(limit - prefix.size() - 3, 'v') + "\r\n\r\n";
    rejects_request(past, 400, ErrorCode::head_too_large, o);
    // Only the final CR has arrived, at the last byte allowed: its LF cannot fit.
    rejects_request(std::string_view(past).substr(0, limit), 400, ErrorCode::head_too_large, o);
  }

  TEST_CASE("too many fields: tune.http.maxhdr counts the start line, like HAProxy") {
    Message m;  // capacity 101
    CHECK(parse(with_fields(100), m).status == ParseStatus::done);
    CHECK(m.headers.size() == 100);
    rejects_request(with_fields(101), 400, ErrorCode::too_many_headers);
    ParseOptions o;
    o.limits.max_headers = 3;
    CHECK(parse(with_fields(2), Side{}, o).status == ParseStatus::done);
    rejects_request(with_fields(3), 400, ErrorCode::too_many_headers, o);
  }

  TEST_CASE("a header list smaller than maxhdr is a limit too") {
    Message small(2);
    CHECK(parse(with_fields(2), small).status == ParseStatus::done);
    ParseResult r = parse(with_fields(3), small);
    CHECK(r.error.status == 400);
    CHECK(r.error.code == ErrorCode::too_many_headers);
  }

  // ---- framing fields ----------------------------------------------------------------

  TEST_CASE("Content-Length frames the body; identical duplicates merge") {
    Message m = parsed("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n");
    CHECK(m.body == BodyKind::content_length);
    CHECK(m.content_length == 5);
    CHECK(parsed("POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n").content_length == 5);
    CHECK(
        parsed("POST / HTTP/1.1\r\ncontent-length: 5\r\nCONTENT-LENGTH:5\r\n\r\n").content_length ==
        5);
    Message zero = parsed("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    CHECK(zero.body == BodyKind::none);
    CHECK(zero.has_content_length);
    CHECK(
        parsed("POST / HTTP/1.1\r\nContent-Length: 18446744073709551615\r\n\r\n").content_length ==
        18446744073709551615ull);
  }
  TEST_CASE("differing Content-Length values are 400") {
    rejects_request("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400,
                    ErrorCode::conflicting_content_length);
    rejects_request("POST / HTTP/1.1\r\nContent-Length: 5, 6\r\n\r\n", 400,
                    ErrorCode::conflicting_content_length);
  }
  TEST_CASE("a non-digit or overflowing Content-Length is 400") {
    for (const char* v : {"-1", "+5", "0x5", "5a", "5,", ",5", "5 6", "", "18446744073709551616",
                          "99999999999999999999999"}) {
      std::string req = std::string("POST / HTTP/1.1\r\nContent-Length: ") + v + "\r\n\r\n";
      rejects_request(req, 400, ErrorCode::bad_content_length);
    }
  }
  TEST_CASE("Transfer-Encoding: chunked in any case; response codings add up across fields") {
    CHECK(parsed("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n").body ==
          BodyKind::chunked);
    CHECK(parsed("POST / HTTP/1.1\r\nTransfer-Encoding: CHUNKED\r\n\r\n").body ==
          BodyKind::chunked);
    CHECK(parsed("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
                 kResponse)
              .body == BodyKind::chunked);
  }
  TEST_CASE("both Content-Length and Transfer-Encoding are 400 by default") {
    rejects_request("POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
                    400, ErrorCode::content_length_with_transfer_encoding);
  }
  TEST_CASE("both, with HAProxy's policy: chunked, Content-Length ignored, then close") {
    ParseOptions o;
    o.length_conflict = LengthConflict::ignore_content_length;
    Message m = parsed("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
                       Side{}, o);
    CHECK(m.body == BodyKind::chunked);
    CHECK(m.content_length_ignored);
    CHECK_FALSE(m.keep_alive);
  }
  TEST_CASE("an unknown transfer coding before chunked is 422, without chunked 400 (HAProxy)") {
    rejects_request("POST / HTTP/1.1\r\nTransfer-Encoding: foo, chunked\r\n\r\n", 422,
                    ErrorCode::unknown_transfer_coding);
    rejects_request("POST / HTTP/1.1\r\nTransfer-Encoding: identity\r\n\r\n", 400,
                    ErrorCode::chunked_not_final);
  }
  TEST_CASE("a request coding other than chunked is 422 (HAProxy 2.6.12)") {
    rejects_request("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 422,
                    ErrorCode::unsupported_transfer_coding);
  }
  TEST_CASE("chunked missing, repeated or not last is 400") {
    rejects_request("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 400,
                    ErrorCode::chunked_not_final);
    rejects_request("POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400,
                    ErrorCode::chunked_not_final);
    rejects_request("POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400,
                    ErrorCode::chunked_not_final);
  }
  TEST_CASE("an empty or malformed Transfer-Encoding is 400") {
    rejects_request("POST / HTTP/1.1\r\nTransfer-Encoding:\r\n\r\n", 400,
                    ErrorCode::bad_transfer_encoding);
    rejects_request("POST / HTTP/1.1\r\nTransfer-Encoding: , \r\n\r\n", 400,
                    ErrorCode::bad_transfer_encoding);
    rejects_request("POST / HTTP/1.1\r\nTransfer-Encoding: chunked;x=1\r\n\r\n", 400,
                    ErrorCode::bad_transfer_encoding);
    rejects_request("POST / HTTP/1.1\r\nTransfer-Encoding: \"chunked\"\r\n\r\n", 400,
                    ErrorCode::bad_transfer_encoding);
  }
  TEST_CASE("Transfer-Encoding in an HTTP/1.0 request is 400") {
    rejects_request("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
                    ErrorCode::transfer_encoding_in_http10);
  }
  TEST_CASE("Host: differing duplicates are 400, identical ones pass") {
    rejects_request("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400,
                    ErrorCode::conflicting_host);
    CHECK(parsed("GET / HTTP/1.1\r\nHost: a\r\nhost: A\r\n\r\n").host == "a");
  }
  TEST_CASE("a missing Host passes by default (HAProxy) and is 400 when required") {
    CHECK(parse("GET / HTTP/1.1\r\n\r\n").status == ParseStatus::done);
    ParseOptions o;
    o.require_host = true;
    rejects_request("GET / HTTP/1.1\r\n\r\n", 400, ErrorCode::missing_host, o);
    CHECK(parse("GET / HTTP/1.0\r\n\r\n", Side{}, o).status == ParseStatus::done);
  }

  // ---- connection semantics ----------------------------------------------------------

  TEST_CASE("keep-alive follows the version and the Connection tokens") {
    CHECK(parsed("GET / HTTP/1.1\r\n\r\n").keep_alive);
    CHECK_FALSE(parsed("GET / HTTP/1.1\r\nConnection: close\r\n\r\n").keep_alive);
    CHECK_FALSE(parsed("GET / HTTP/1.0\r\n\r\n").keep_alive);
    CHECK(parsed("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keep_alive);
    CHECK_FALSE(parsed("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n").keep_alive);
  }
  TEST_CASE("Expect: 100-continue on HTTP/1.1 only") {
    CHECK(parsed("PUT / HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n")
              .expect_continue);
    CHECK_FALSE(parsed("PUT / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n").expect_continue);
    CHECK_FALSE(parsed("PUT / HTTP/1.1\r\nExpect: something\r\n\r\n").expect_continue);
  }
  TEST_CASE("Upgrade needs Connection: upgrade and HTTP/1.1") {
    Message m =
        parsed("GET /ws HTTP/1.1\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n");
    CHECK(m.upgrade_requested);
    CHECK(m.upgrade == "websocket");
    CHECK_FALSE(parsed("GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n").upgrade_requested);
    CHECK_FALSE(parsed("GET / HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n")
                    .upgrade_requested);
  }
  TEST_CASE("CONNECT has no request body") {
    CHECK(parsed("CONNECT a:443 HTTP/1.1\r\nContent-Length: 4\r\n\r\n").body == BodyKind::none);
  }

  // ---- responses ---------------------------------------------------------------------

  TEST_CASE("a typical response, with and without a reason") {
    Message m = parsed("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", kResponse);
    CHECK_FALSE(m.is_request);
    CHECK(m.status == 200);
    CHECK(m.reason == "OK");
    CHECK(m.body == BodyKind::content_length);
    CHECK(parsed("HTTP/1.1 404 Not  Found\r\n\r\n", kResponse).reason == "Not  Found");
    CHECK(parsed("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", kResponse).reason.empty());
    CHECK(parsed("HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n", kResponse).reason.empty());
    CHECK(parsed("HTTP/1.1 200 O\tK\r\nContent-Length: 0\r\n\r\n", kResponse).reason == "O\tK");
  }
  TEST_CASE("a response without length is close-delimited") {
    Message m = parsed("HTTP/1.1 200 OK\r\n\r\n", kResponse);
    CHECK(m.body == BodyKind::until_close);
    CHECK_FALSE(m.keep_alive);
  }
  TEST_CASE("HEAD, 1xx, 204 and 304 responses have no body") {
    Side head{false, Method::head, false};
    CHECK(parsed("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", head).body == BodyKind::none);
    CHECK(parsed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", head).body ==
          BodyKind::none);
    CHECK(parsed("HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n", kResponse).body ==
          BodyKind::none);
    CHECK(parsed("HTTP/1.1 304 Not Modified\r\n\r\n", kResponse).body == BodyKind::none);
    CHECK(parsed("HTTP/1.1 304 Not Modified\r\n\r\n", kResponse).keep_alive);
    Message interim = parsed("HTTP/1.1 100 Continue\r\n\r\n", kResponse);
    CHECK(interim.body == BodyKind::none);
    CHECK(interim.is_interim());
    CHECK(parsed("HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n", kResponse).is_interim());
  }
  TEST_CASE("101 after an Upgrade request and 2xx to CONNECT become tunnels") {
    Side upgrade{false, Method::get, true};
    Message m = parsed("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", upgrade);
    CHECK(m.body == BodyKind::tunnel);
    CHECK_FALSE(m.is_interim());
    Side connect{false, Method::connect, false};
    CHECK(parsed("HTTP/1.1 200 OK\r\n\r\n", connect).body == BodyKind::tunnel);
    CHECK(parsed("HTTP/1.1 407 Auth\r\nContent-Length: 0\r\n\r\n", connect).body == BodyKind::none);
  }
  TEST_CASE("an HTTP/1.0 response closes unless keep-alive") {
    CHECK_FALSE(parsed("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", kResponse).keep_alive);
    CHECK(
        parsed("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", kResponse)
            .keep_alive);
  }

  TEST_CASE("bad responses are 502") {
    rejects_response("garbage\r\n\r\n", ErrorCode::bad_status_line);
    rejects_response("HTTP/1.1200 OK\r\n\r\n", ErrorCode::bad_status_line);
    rejects_response("HTTP/1.1\r\n\r\n", ErrorCode::bad_status_line);
    rejects_response("HTTP/2.0 200 OK\r\n\r\n", ErrorCode::unsupported_version);
  }
  TEST_CASE("a status code outside 100..599 or not three digits is 502") {
    for (const char* s : {"099", "600", "999", "2000", "20", "abc", "20x"}) {
      std::string resp = std::string("HTTP/1.1 ") + s + " X\r\n\r\n";
      rejects_response(resp, ErrorCode::bad_status_code);
    }
  }
  TEST_CASE("a control character in the reason is 502") {
    rejects_response("HTTP/1.1 200 O\x01K\r\n\r\n", ErrorCode::bad_reason);
  }
  TEST_CASE("101 without an Upgrade request is 502") {
    rejects_response("HTTP/1.1 101 Switching Protocols\r\n\r\n", ErrorCode::unexpected_switch);
  }
  TEST_CASE("field and framing errors in a response are 502") {
    rejects_response("HTTP/1.1 200 OK\r\nX : a\r\n\r\n", ErrorCode::space_before_colon);
    rejects_response("HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", ErrorCode::obs_fold);
    rejects_response("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n",
                     ErrorCode::conflicting_content_length);
    rejects_response("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n",
                     ErrorCode::content_length_with_transfer_encoding);
    rejects_response("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
                     ErrorCode::chunked_not_final);
    rejects_response("HTTP/1.1 200 OK\r\nTransfer-Encoding: foo\r\n\r\n",
                     ErrorCode::chunked_not_final);
    rejects_response("HTTP/1.1 200 OK\r\nTransfer-Encoding: foo, chunked\r\n\r\n",
                     ErrorCode::unknown_transfer_coding);
    rejects_response("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                     ErrorCode::transfer_encoding_in_http10);
    rejects_response("HTTP/1.1 200 OK\r\nX: \x01\r\n\r\n", ErrorCode::bad_header_value);
    ParseOptions o;
    o.limits.max_head_bytes = 32;
    CHECK(parse("HTTP/1.1 200 OK\r\nX: aaaaaaaaaaaaaaaaaaaa\r\n\r\n", kResponse, o).error.status ==
          502);
  }
}

namespace {

struct Decoded {
  BodyStatus status = BodyStatus::need_more;
  std::string data;
  std::size_t consumed = 0;
  Error error;
};

// Decodes `wire` arriving `step` bytes at a time into a buffer that keeps the bytes not
// consumed yet. Every data span must lie inside the consumed part of its input.
Decoded decode(std::string_view wire, BodyKind kind, std::uint64_t length = 0,
               std::size_t step = std::string_view::npos, HeaderList* trailers = nullptr,
               bool request = true) {
  BodyDecoder d;
  d.start(kind, length, request);
  Decoded out;
  std::size_t pos = 0;
  std::size_t avail = std::min(step, wire.size());
  for (int guard = 0; guard < 100000; ++guard) {
    std::span<const char> in(wire.data() + pos, avail - pos);
    BodyResult r = d.decode(in, trailers);
    REQUIRE(r.consumed <= in.size());
    if (!r.data.empty()) {
      REQUIRE(r.data.data() >= in.data());
      REQUIRE(r.data.data() + r.data.size() <= in.data() + r.consumed);
    }
    out.data.append(r.data.data(), r.data.size());
    pos += r.consumed;
    out.status = r.status;
    out.consumed = pos;
    if (r.status == BodyStatus::error) {
      out.error = r.error;
      return out;
    }
    if (r.status == BodyStatus::done) return out;
    if (r.status == BodyStatus::need_more) {
      if (avail == wire.size()) return out;
      avail = std::min(avail + step, wire.size());
    }
  }
  FAIL("decoder made no progress");
  return out;
}

// One feed, a few sizes and byte by byte must all decode alike.
Decoded decode_chunked(std::string_view wire, HeaderList* trailers = nullptr, bool request = true) {
  Decoded whole = decode(wire, BodyKind::chunked, 0, std::string_view::npos, trailers, request);
  for (std::size_t step : {1, 2, 3, 7}) {
    Decoded split = decode(wire, BodyKind::chunked, 0, step, nullptr, request);
    CHECK(split.status == whole.status);
    CHECK(split.data == whole.data);
    CHECK(split.error.code == whole.error.code);
    if (whole.status == BodyStatus::done) CHECK(split.consumed == whole.consumed);
  }
  return whole;
}

void rejects_chunked(std::string_view wire, ErrorCode code, std::uint16_t status = 400) {
  INFO(wire.substr(0, 80));
  Decoded d = decode_chunked(wire);
  CHECK(d.status == BodyStatus::error);
  CHECK(d.error.code == code);
  CHECK(d.error.status == status);
}

}  // namespace

TEST_SUITE("http body decoder") {
  TEST_CASE("Content-Length: exactly N bytes, the rest is the next message") {
    Decoded d = decode("helloGET", BodyKind::content_length, 5);
    CHECK(d.status == BodyStatus::done);
    CHECK(d.data == "hello");
    CHECK(d.consumed == 5);
    Decoded split = decode("helloGET", BodyKind::content_length, 5, 2);
    CHECK(split.data == "hello");
    CHECK(split.consumed == 5);
    CHECK(decode("hel", BodyKind::content_length, 5).status == BodyStatus::need_more);
    CHECK(decode("GET", BodyKind::none).status == BodyStatus::done);  // no body: done at once
    CHECK(decode("GET", BodyKind::none).consumed == 0);
  }

  TEST_CASE("chunked with extensions, bare LFs, upper-case hex and trailers") {
    std::string wire =
        "5;name=value;q=\"x y\"\r\nhello\r\nA\r\n0123456789\r\n3 ; ext\nabc\n0\r\n"
        "X-Sum: 1\r\nX-Other:  two \r\n\r\nNEXT";
    HeaderList trailers(8);
    Decoded d = decode_chunked(wire, &trailers);
    CHECK(d.status == BodyStatus::done);
    CHECK(d.data == "hello0123456789abc");
    CHECK(d.consumed == wire.size() - 4);
    REQUIRE(trailers.size() == 2);
    CHECK(trailers[0].name == "X-Sum");
    CHECK(trailers[1].value == "two");
    Decoded plain = decode_chunked("3\r\nabc\r\n1\r\nd\r\n0\r\n\r\n");
    CHECK(plain.status == BodyStatus::done);
    CHECK(plain.data == "abcd");
  }

  TEST_CASE("chunk sizes: 16 hex digits pass, 17 are 400") {
    Decoded d = decode("0000000000000003\r\nabc\r\n0\r\n\r\n", BodyKind::chunked);
    CHECK(d.status == BodyStatus::done);
    CHECK(d.data == "abc");
    rejects_chunked("00000000000000003\r\nabc\r\n0\r\n\r\n", ErrorCode::chunk_size_too_long);
    BodyDecoder big;
    big.start(BodyKind::chunked, 0, true);
    BodyResult r = big.decode(std::string_view("ffffffffffffffff\r\n"));
    CHECK(r.status == BodyStatus::need_more);
    CHECK(big.remaining() == 0xffffffffffffffffull);
  }
  TEST_CASE("a bad chunk size is 400") {
    rejects_chunked("zz\r\nabc\r\n0\r\n\r\n", ErrorCode::bad_chunk_size);
    rejects_chunked("-1\r\nabc\r\n0\r\n\r\n", ErrorCode::bad_chunk_size);
    rejects_chunked("\r\nabc\r\n0\r\n\r\n", ErrorCode::bad_chunk_size);
    rejects_chunked("0x3\r\nabc\r\n0\r\n\r\n", ErrorCode::bad_chunk_size);
    rejects_chunked("3 x\r\nabc\r\n0\r\n\r\n", ErrorCode::bad_chunk_size);
  }
  TEST_CASE("a bare CR after the chunk size is 400") {
    rejects_chunked("3\rabc\r\n0\r\n\r\n", ErrorCode::bare_cr);
  }
  TEST_CASE("a control character in a chunk extension is 400") {
    rejects_chunked(std::string_view("3;a\0b\r\nabc\r\n0\r\n\r\n", 17),
                    ErrorCode::bad_chunk_extension);
  }
  TEST_CASE("a chunk-size line of 4096 bytes passes, 4097 is 400") {
    std::string at = "3;" + std::string(4096 - 2, 'e') + "\r\nabc\r\n0\r\n\r\n";
    CHECK(decode(at, BodyKind::chunked).status == BodyStatus::done);
    std::string past = "3;" + std::string(4096 - 1, 'e') + "\r\nabc\r\n0\r\n\r\n";
    rejects_chunked(past, ErrorCode::chunk_line_too_long);
  }
  TEST_CASE("chunk data not followed by CRLF is 400") {
    rejects_chunked("3\r\nabcX\r\n0\r\n\r\n", ErrorCode::missing_chunk_crlf);
    rejects_chunked("3\r\nabc\rX0\r\n\r\n", ErrorCode::missing_chunk_crlf);
  }
  TEST_CASE("invalid trailers are rejected like header fields") {
    rejects_chunked("0\r\nX : 1\r\n\r\n", ErrorCode::space_before_colon);
    rejects_chunked("0\r\nX: 1\r\n folded\r\n\r\n", ErrorCode::obs_fold);
    rejects_chunked("0\r\nX: \x01\r\n\r\n", ErrorCode::bad_header_value);
    rejects_chunked("0\r\nbad trailer\r\n\r\n", ErrorCode::space_before_colon);
  }
  TEST_CASE("trailer limits: field count and section size are 400") {
    std::string many = "0\r\n";
    for (int i = 0; i < 101; ++i)
      many += "T: v\r\n";
    rejects_chunked(many + "\r\n", ErrorCode::too_many_headers, 400);
    std::string big = "0\r\nT: " + std::string(16384, 'v') + "\r\n\r\n";
    rejects_chunked(big, ErrorCode::head_too_large, 400);
  }
  TEST_CASE("errors in a response body are 502") {
    Decoded d = decode("zz\r\n", BodyKind::chunked, 0, std::string_view::npos, nullptr, false);
    CHECK(d.error.code == ErrorCode::bad_chunk_size);
    CHECK(d.error.status == 502);
  }

  TEST_CASE("close-delimited and tunnel bodies end when the peer closes") {
    BodyDecoder d;
    d.start(BodyKind::until_close, 0, false);
    BodyResult r = d.decode(std::string_view("abc"));
    CHECK(r.status == BodyStatus::need_more);
    CHECK(r.consumed == 3);
    CHECK(std::string_view(r.data.data(), r.data.size()) == "abc");
    CHECK(d.finish().status == BodyStatus::done);
    CHECK(d.done());
    d.start(BodyKind::tunnel, 0, false);
    CHECK(d.decode(std::string_view("x")).data.size() == 1);
    CHECK(d.finish().status == BodyStatus::done);
  }
  TEST_CASE("a framed body cut by the peer is an error: 400 for requests, 502 for responses") {
    BodyDecoder d;
    d.start(BodyKind::content_length, 10, true);
    d.decode(std::string_view("abc"));
    BodyResult r = d.finish();
    CHECK(r.error.code == ErrorCode::incomplete_body);
    CHECK(r.error.status == 400);
    d.start(BodyKind::chunked, 0, false);
    d.decode(std::string_view("3\r\nab"));
    CHECK(d.finish().error.status == 502);
    CHECK(d.decode(std::string_view("c")).status == BodyStatus::error);  // stays failed
  }
}
