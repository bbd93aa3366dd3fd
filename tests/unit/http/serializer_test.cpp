// HTTP/1.1 serializer: heads written from the model (after edits), exact-size buffers,
// hop-by-hop removal (and what Connection must not be able to remove), chunked framing,
// and parse → serialize → parse round trips.
#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

#include "runtime/http/parser.hpp"
#include "runtime/http/serializer.hpp"

using namespace sluice::http;

namespace {

std::string write(const Message& m) {
  std::string out(head_size(m), '\0');
  WriteResult r = write_head(m, std::span<char>(out.data(), out.size()));
  REQUIRE(r.fits);
  REQUIRE(r.size == out.size());
  return out;
}

Message parse_request(std::string_view text) {
  Message m;
  HeadParser p;
  p.start_request();
  REQUIRE(p.parse(text, m).status == ParseStatus::done);
  return m;
}

Message parse_response(std::string_view text, Method method = Method::get) {
  Message m;
  HeadParser p;
  p.start_response(method, false);
  REQUIRE(p.parse(text, m).status == ParseStatus::done);
  return m;
}

std::vector<std::string> names(const Message& m) {
  std::vector<std::string> out;
  for (const Header& h : m.headers)
    out.emplace_back(h.name);
  return out;
}

}  // namespace

TEST_SUITE("http serializer") {
  TEST_CASE("a request head is written from the model, bare LFs normalized to CRLF") {
    Message m = parse_request("GET  /a?b HTTP/1.1\nHost: x\nAccept:   */*  \n\n");
    CHECK(write(m) == "GET /a?b HTTP/1.1\r\nhost: x\r\naccept: */*\r\n\r\n");
  }

  TEST_CASE("a response head, with or without a reason") {
    CHECK(write(parse_response("HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")) ==
          "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n");
    CHECK(write(parse_response("HTTP/1.0 200\r\ncontent-length: 0\r\n\r\n")) ==
          "HTTP/1.0 200 \r\ncontent-length: 0\r\n\r\n");
  }

  TEST_CASE("header edits show in the output") {
    Message m =
        parse_request("POST /p HTTP/1.1\r\nhost: x\r\nx-drop: 1\r\ncontent-length: 3\r\n\r\n");
    m.headers.erase(m.headers.find("x-drop"));
    CHECK(m.headers.push_back("X-Forwarded-For", "10.0.0.1"));
    m.headers[m.headers.find("host")].value = "backend";
    m.target = "/rewritten";
    CHECK(write(m) ==
          "POST /rewritten HTTP/1.1\r\nhost: backend\r\ncontent-length: 3\r\n"
          "x-forwarded-for: 10.0.0.1\r\n\r\n");
  }

  TEST_CASE("a message built by hand uses the method name and a default reason") {
    Message req;
    req.method = Method::options;
    req.target = "*";
    CHECK(write(req) == "OPTIONS * HTTP/1.1\r\n\r\n");
    Message resp;
    resp.is_request = false;
    resp.status = 503;
    resp.reason = default_reason(503);
    resp.version = Version::http_1_0;
    CHECK(write(resp) == "HTTP/1.0 503 Service Unavailable\r\n\r\n");
    CHECK(default_reason(431) == "Request Header Fields Too Large");
    CHECK(default_reason(799).empty());
  }

  TEST_CASE("too small a buffer: nothing written, the size needed reported; exact fits") {
    Message m = parse_request("GET / HTTP/1.1\r\nhost: x\r\n\r\n");
    const std::size_t need = head_size(m);
    CHECK(need == 27);
    std::string out(need - 1, '#');
    WriteResult r = write_head(m, std::span<char>(out.data(), out.size()));
    CHECK_FALSE(r.fits);
    CHECK(r.size == need);
    CHECK(out == std::string(need - 1, '#'));
    out.assign(need, '#');
    CHECK(write_head(m, std::span<char>(out.data(), out.size())).fits);
  }

  TEST_CASE("hop-by-hop fields are dropped, end-to-end ones kept") {
    Message m = parse_request(
        "GET / HTTP/1.1\r\nhost: x\r\nconnection: keep-alive, X-Secret\r\nkeep-alive: 5\r\n"
        "proxy-connection: keep-alive\r\nte: trailers\r\ntrailer: X-Sum\r\nx-secret: s\r\n"
        "upgrade: h2c\r\naccept: */*\r\n\r\n");
    CHECK(remove_hop_by_hop(m) == 7);
    CHECK(names(m) == std::vector<std::string>{"host", "accept"});
  }

  TEST_CASE("Connection cannot remove Host, Content-Length or Transfer-Encoding") {
    Message m = parse_request(
        "POST / HTTP/1.1\r\nhost: x\r\nconnection: host, content-length, Transfer-Encoding\r\n"
        "content-length: 3\r\n\r\n");
    remove_hop_by_hop(m);
    CHECK(names(m) == std::vector<std::string>{"host", "content-length"});
    Message chunked = parse_request(
        "POST / HTTP/1.1\r\nconnection: transfer-encoding\r\ntransfer-encoding: chunked\r\n\r\n");
    remove_hop_by_hop(chunked);
    CHECK(names(chunked) == std::vector<std::string>{"transfer-encoding"});
  }

  TEST_CASE("Upgrade kept when tunneling; Transfer-Encoding dropped when re-framed") {
    Message m = parse_request(
        "POST / HTTP/1.1\r\nconnection: upgrade\r\nupgrade: websocket\r\n"
        "transfer-encoding: chunked\r\n\r\n");
    HopByHopOptions tunnel;
    tunnel.keep_upgrade = true;
    tunnel.keep_transfer_encoding = false;
    remove_hop_by_hop(m, tunnel);
    CHECK(names(m) == std::vector<std::string>{"upgrade"});
  }

  TEST_CASE("an ignored Content-Length (HAProxy's CL+TE policy) is dropped") {
    ParseOptions o;
    o.length_conflict = LengthConflict::ignore_content_length;
    HeadParser p(o);
    Message m;
    std::string_view text =
        "POST / HTTP/1.1\r\ncontent-length: 9\r\ntransfer-encoding: chunked\r\n\r\n";
    REQUIRE(p.parse(text, m).status == ParseStatus::done);
    remove_hop_by_hop(m);
    CHECK(names(m) == std::vector<std::string>{"transfer-encoding"});
  }

  TEST_CASE("is_hop_by_hop is case-insensitive and exact") {
    CHECK(is_hop_by_hop("CONNECTION"));
    CHECK(is_hop_by_hop("te"));
    CHECK_FALSE(is_hop_by_hop("tee"));
    CHECK_FALSE(is_hop_by_hop("Content-Length"));
  }

  TEST_CASE("chunk headers are lower-case hex with CRLF") {
    char buf[kMaxChunkHeader];
    auto text = [&](std::uint64_t n) {
      WriteResult r = write_chunk_header(n, buf);
      REQUIRE(r.fits);
      return std::string(buf, r.size);
    };
    CHECK(text(1) == "1\r\n");
    CHECK(text(0xabc) == "abc\r\n");
    CHECK(text(4096) == "1000\r\n");
    CHECK(text(~std::uint64_t{0}) == "ffffffffffffffff\r\n");
    char small[3];
    WriteResult r = write_chunk_header(0x100, small);
    CHECK_FALSE(r.fits);
    CHECK(r.size == 5);
  }

  TEST_CASE("the last chunk carries the trailers") {
    HeaderList trailers(2);
    trailers.push_back("X-Sum", "abc");
    std::string out(64, '\0');
    WriteResult r = write_last_chunk(trailers.fields(), std::span<char>(out.data(), out.size()));
    REQUIRE(r.fits);
    CHECK(out.substr(0, r.size) == "0\r\nx-sum: abc\r\n\r\n");
    CHECK(write_last_chunk({}, std::span<char>(out.data(), 4)).size == 5);
  }

  TEST_CASE("chunked encoding then decoding gives back the body and trailers") {
    std::string wire;
    char head[kMaxChunkHeader];
    for (std::string_view piece : {"hello ", "chunked ", "world"}) {
      WriteResult r = write_chunk_header(piece.size(), head);
      wire.append(head, r.size).append(piece).append(kChunkEnd);
    }
    HeaderList trailers(2);
    trailers.push_back("X-Sum", "1");
    std::string last(32, '\0');
    WriteResult r = write_last_chunk(trailers.fields(), std::span<char>(last.data(), last.size()));
    wire.append(last, 0, r.size);

    BodyDecoder d;
    d.start(BodyKind::chunked, 0, true);
    HeaderList got(4);
    std::string body;
    std::span<const char> in(wire.data(), wire.size());
    BodyResult br;
    do {
      br = d.decode(in, &got);
      body.append(br.data.data(), br.data.size());
      in = in.subspan(br.consumed);
    } while (br.status == BodyStatus::more);
    CHECK(br.status == BodyStatus::done);
    CHECK(in.empty());
    CHECK(body == "hello chunked world");
    REQUIRE(got.size() == 1);
    CHECK(got[0].value == "1");
  }

  TEST_CASE("round trip: parse, serialize, parse again gives the same message") {
    for (std::string_view text :
         {"GET /x HTTP/1.1\r\nhost: a\r\nx: 1\r\n\r\n",
          "POST /y HTTP/1.0\r\ncontent-length: 4\r\nconnection: keep-alive\r\n\r\n",
          "PURGE * HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n"}) {
      Message a = parse_request(text);
      std::string out = write(a);
      Message b = parse_request(out);
      CHECK(out == text);
      CHECK(b.body == a.body);
      CHECK(b.keep_alive == a.keep_alive);
    }
  }
}
