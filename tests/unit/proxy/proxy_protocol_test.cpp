// The PROXY protocol header (proxy-protocol.txt), read and written: v1 lines and v2 binary
// headers with their TLVs, every strict prefix of a valid header still incomplete, the
// refusals with HAProxy's log wording, the exact size consumed, and the headers sluice
// writes read back (byte for byte as HAProxy 2.6 writes them).
#include <doctest/doctest.h>

#include <arpa/inet.h>

#include <array>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "runtime/proxy/proxy_protocol.hpp"

using namespace sluice;
using namespace sluice::proxy;
using namespace std::string_literals;
using namespace std::string_view_literals;

namespace {

constexpr std::string_view kSignature = "\r\n\r\n\0\r\nQUIT\n"sv;
constexpr std::string_view kNotHeader =
    "Received something which does not look like a PROXY protocol header";
constexpr std::string_view kBadHeader = "Received an invalid PROXY protocol header";
constexpr std::string_view kBadProtocol =
    "Received an unhandled protocol in the PROXY protocol header";

// Parses an exactly sized heap copy, so that ASan sees any read past the input.
ProxyParse parse(std::string_view bytes, ProxyHeader& out) {
  auto copy = std::make_unique<char[]>(bytes.size() + 1);
  std::memcpy(copy.get(), bytes.data(), bytes.size());
  return parse_proxy_header(std::span<const char>(copy.get(), bytes.size()), out);
}

ProxyParse parse(std::string_view bytes) {
  ProxyHeader ignored;
  return parse(bytes, ignored);
}

io::SocketAddress v4(const char* ip, std::uint16_t port) {
  io::SocketAddress a;
  a.storage.v4.sin_family = AF_INET;
  a.storage.v4.sin_port = htons(port);
  REQUIRE(inet_pton(AF_INET, ip, &a.storage.v4.sin_addr) == 1);
  a.length = sizeof(sockaddr_in);
  return a;
}

io::SocketAddress v6(const char* ip, std::uint16_t port) {
  io::SocketAddress a;
  a.storage.v6.sin6_family = AF_INET6;
  a.storage.v6.sin6_port = htons(port);
  REQUIRE(inet_pton(AF_INET6, ip, &a.storage.v6.sin6_addr) == 1);
  a.length = sizeof(sockaddr_in6);
  return a;
}

io::SocketAddress unix_family() {
  io::SocketAddress a;
  a.storage.sa.sa_family = AF_UNIX;
  return a;
}

std::string be16(std::size_t n) {
  return {static_cast<char>((n >> 8) & 0xff), static_cast<char>(n & 0xff)};
}

// A v2 header: signature, version/command, family/protocol, length, then `body`.
std::string v2(unsigned char ver_cmd, unsigned char family, std::string_view body) {
  std::string out(kSignature);
  out.push_back(static_cast<char>(ver_cmd));
  out.push_back(static_cast<char>(family));
  out += be16(body.size());
  out += body;
  return out;
}

std::string tlv(unsigned char type, std::string_view value) {
  return std::string(1, static_cast<char>(type)) + be16(value.size()) + std::string(value);
}

std::string ipv4_bytes(const char* ip) {
  in_addr a{};
  REQUIRE(inet_pton(AF_INET, ip, &a) == 1);
  return {reinterpret_cast<const char*>(&a), 4};
}

std::string ipv6_bytes(const char* ip) {
  in6_addr a{};
  REQUIRE(inet_pton(AF_INET6, ip, &a) == 1);
  return {reinterpret_cast<const char*>(&a), 16};
}

std::string v4_block(const char* src, const char* dst, std::uint16_t sport, std::uint16_t dport) {
  return ipv4_bytes(src) + ipv4_bytes(dst) + be16(sport) + be16(dport);
}

std::string v6_block(const char* src, const char* dst, std::uint16_t sport, std::uint16_t dport) {
  return ipv6_bytes(src) + ipv6_bytes(dst) + be16(sport) + be16(dport);
}

const std::string kMaxUnknown =
    "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";

// Valid headers of every kind, for the prefix and size checks.
std::vector<std::string> valid_headers() {
  return {
      "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n",
      "PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n",
      "PROXY TCP6 2001:db8::1 ::1 0 8080\r\n",
      "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
      "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n",
      "PROXY UNKNOWN\r\n",
      "PROXY UNKNOWN 1.2.3.4 garbage\r\n",
      kMaxUnknown,
      v2(0x21, 0x11, v4_block("10.1.2.3", "10.0.0.1", 1234, 80)),
      v2(0x21, 0x11,
         v4_block("10.1.2.3", "10.0.0.1", 1234, 80) + tlv(0x01, "h2") + tlv(0x02, "example.com") +
             tlv(0x04, std::string(3, '\0'))),
      v2(0x21, 0x21, v6_block("2001:db8::7", "2001:db8::8", 40000, 443) + tlv(0x04, "")),
      v2(0x20, 0x00, ""),
      v2(0x20, 0x11, v4_block("1.2.3.4", "5.6.7.8", 1, 2)),
      v2(0x21, 0x00, ""),
      v2(0x21, 0x31, std::string(216, 'u')),
      // The longest header read: kProxyHeaderMax bytes.
      v2(0x21, 0x11, v4_block("1.2.3.4", "5.6.7.8", 1, 2) + tlv(0x04, std::string(16353, '\0'))),
  };
}

}  // namespace

TEST_CASE("v1 TCP4: both addresses and the line's exact size") {
  const std::string line = "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n";
  ProxyHeader h;
  REQUIRE(parse(line + "GET / HTTP/1.1\r\n\r\n", h) == ProxyParse::done);
  CHECK(h.size == line.size());
  CHECK(h.has_addresses);
  CHECK(h.source.family() == AF_INET);
  CHECK(h.destination.family() == AF_INET);
  CHECK(h.source.length == sizeof(sockaddr_in));
  CHECK(h.source.to_string() == "192.168.0.1:56324");
  CHECK(h.destination.to_string() == "192.168.0.11:443");
  CHECK(h.error.empty());

  // The extremes of every field (the spec's longest TCP4 line, 56 bytes).
  const std::string longest = "PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n";
  REQUIRE(longest.size() == 56);
  REQUIRE(parse(longest, h) == ProxyParse::done);
  CHECK(h.size == 56);
  CHECK(h.source.to_string() == "255.255.255.255:65535");
  REQUIRE(parse("PROXY TCP4 0.0.0.0 0.0.0.0 0 0\r\n", h) == ProxyParse::done);
  CHECK(h.source.to_string() == "0.0.0.0:0");
  CHECK(h.destination.to_string() == "0.0.0.0:0");
}

TEST_CASE("v1 TCP6: both addresses, compressed or in full") {
  ProxyHeader h;
  const std::string line = "PROXY TCP6 2001:db8::1 ::1 0 8080\r\n";
  REQUIRE(parse(line + "x", h) == ProxyParse::done);
  CHECK(h.size == line.size());
  CHECK(h.has_addresses);
  CHECK(h.source.family() == AF_INET6);
  CHECK(h.source.length == sizeof(sockaddr_in6));
  CHECK(h.source.to_string() == "[2001:db8::1]:0");
  CHECK(h.destination.to_string() == "[::1]:8080");

  // The spec's longest TCP6 line: 104 bytes; upper case digits are as good.
  const std::string longest =
      "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
      "FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF 65535 65535\r\n";
  REQUIRE(longest.size() == 104);
  REQUIRE(parse(longest, h) == ProxyParse::done);
  CHECK(h.size == 104);
  CHECK(h.source.to_string() == "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
  CHECK(h.destination.to_string() == "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");

  // An IPv4-mapped IPv6 address is an IPv6 address.
  REQUIRE(parse("PROXY TCP6 ::ffff:10.0.0.1 ::1 1 2\r\n", h) == ProxyParse::done);
  CHECK(h.source.family() == AF_INET6);
  CHECK(h.source.to_string() == "[::ffff:10.0.0.1]:1");
}

TEST_CASE("v1 UNKNOWN: bare, or with anything before the CRLF, keeps no address") {
  ProxyHeader h;
  REQUIRE(parse("PROXY UNKNOWN\r\nGET / HTTP/1.1\r\n", h) == ProxyParse::done);
  CHECK(h.size == 15);
  CHECK(!h.has_addresses);
  CHECK(h.source.family() == AF_UNSPEC);

  // "the receiver must ignore anything presented before the CRLF is found"
  for (const std::string& line :
       {std::string("PROXY UNKNOWN 1.2.3.4 garbage\r\n"),
        std::string("PROXY UNKNOWN 192.168.0.1 192.168.0.11 56324 443\r\n"),
        std::string("PROXY UNKNOWN \r\n"), kMaxUnknown}) {
    CAPTURE(line);
    REQUIRE(parse(line + "payload", h) == ProxyParse::done);
    CHECK(h.size == line.size());
    CHECK(!h.has_addresses);
  }
  // The spec's worst case: 107 bytes, CRLF included.
  CHECK(kMaxUnknown.size() == 107);
  // UNKNOWN must be the whole word.
  CHECK(parse("PROXY UNKNOWNX\r\n", h) == ProxyParse::invalid);
  CHECK(h.error == kBadProtocol);
  CHECK(parse("PROXY unknown\r\n") == ProxyParse::invalid);
}

TEST_CASE("v1 TCP4 and TCP6 refuse trailing fields") {
  ProxyHeader h;
  for (const char* line : {
           "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",
           "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n",
           "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\t\r\n",
           "PROXY TCP6 ::1 ::2 1 2 extra\r\n",
           "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",  // a field short
           "PROXY TCP4 1.2.3.4 5.6.7.8\r\n",
           "PROXY TCP4\r\n",
           "PROXY TCP4 \r\n",
       }) {
    CAPTURE(line);
    CHECK(parse(line, h) == ProxyParse::invalid);
    CHECK(h.error == kBadHeader);
    CHECK(!h.has_addresses);
  }
}

TEST_CASE("v2 PROXY over TCP4 with TLVs: the TLVs are part of the size") {
  const std::string tlvs = tlv(0x01, "h2") + tlv(0x02, "example.com") + tlv(0x04, "abc") +
                           tlv(0x20, std::string("\x01\0\0\0\0", 5));
  const std::string header = v2(0x21, 0x11, v4_block("10.1.2.3", "10.0.0.1", 51234, 443) + tlvs);
  REQUIRE(header.size() == 16 + 12 + tlvs.size());
  ProxyHeader h;
  REQUIRE(parse(header + "GET / HTTP/1.1\r\n\r\n", h) == ProxyParse::done);
  CHECK(h.size == header.size());
  CHECK(h.has_addresses);
  CHECK(h.source.family() == AF_INET);
  CHECK(h.source.length == sizeof(sockaddr_in));
  CHECK(h.source.to_string() == "10.1.2.3:51234");
  CHECK(h.destination.to_string() == "10.0.0.1:443");

  // Without TLVs.
  const std::string bare = v2(0x21, 0x11, v4_block("127.0.0.2", "127.0.0.3", 1, 65535));
  REQUIRE(parse(bare, h) == ProxyParse::done);
  CHECK(h.size == 28);
  CHECK(h.source.to_string() == "127.0.0.2:1");
  CHECK(h.destination.to_string() == "127.0.0.3:65535");
}

TEST_CASE("v2 PROXY over TCP6 with TLVs") {
  const std::string tlvs = tlv(0x04, std::string(10, '\0')) + tlv(0x05, "unique-id");
  const std::string header =
      v2(0x21, 0x21, v6_block("2001:db8::7", "2001:db8::8", 40000, 443) + tlvs);
  ProxyHeader h;
  REQUIRE(parse(header + "\x16\x03\x01", h) == ProxyParse::done);
  CHECK(h.size == 16 + 36 + tlvs.size());
  CHECK(h.has_addresses);
  CHECK(h.source.family() == AF_INET6);
  CHECK(h.source.length == sizeof(sockaddr_in6));
  CHECK(h.source.to_string() == "[2001:db8::7]:40000");
  CHECK(h.destination.to_string() == "[2001:db8::8]:443");
}

TEST_CASE("v2 LOCAL: the connection keeps its own addresses, whatever the block says") {
  ProxyHeader h;
  REQUIRE(parse(v2(0x20, 0x00, "") + "GET /", h) == ProxyParse::done);
  CHECK(h.size == 16);
  CHECK(!h.has_addresses);
  // Addresses and TLVs under LOCAL: skipped, not used.
  const std::string with_block =
      v2(0x20, 0x11, v4_block("1.2.3.4", "5.6.7.8", 1, 2) + tlv(0x04, "xx"));
  REQUIRE(parse(with_block, h) == ProxyParse::done);
  CHECK(h.size == with_block.size());
  CHECK(!h.has_addresses);
  // LOCAL with a TCP4 family but no room for addresses: still fine.
  REQUIRE(parse(v2(0x20, 0x11, ""), h) == ProxyParse::done);
  CHECK(h.size == 16);
  CHECK(!h.has_addresses);
}

TEST_CASE("v2 PROXY over UNSPEC or UNIX: done, no addresses") {
  ProxyHeader h;
  REQUIRE(parse(v2(0x21, 0x00, ""), h) == ProxyParse::done);
  CHECK(h.size == 16);
  CHECK(!h.has_addresses);
  REQUIRE(parse(v2(0x21, 0x00, tlv(0x04, "pad")), h) == ProxyParse::done);
  CHECK(h.size == 22);
  CHECK(!h.has_addresses);
  const std::string unix_stream = v2(0x21, 0x31, std::string(216, '/'));
  REQUIRE(parse(unix_stream + "more", h) == ProxyParse::done);
  CHECK(h.size == 16 + 216);
  CHECK(!h.has_addresses);
}

TEST_CASE("v2 PROXY over UDP or UNIX datagram: refused, as HAProxy") {
  for (const unsigned char family : {0x12, 0x22, 0x32}) {
    CAPTURE(int(family));
    ProxyHeader h;
    CHECK(parse(v2(0x21, family, std::string(216, '\1')), h) == ProxyParse::invalid);
    CHECK(h.error == "Received an unhandled protocol in the PROXY protocol header");
  }
}

TEST_CASE("v2: TLVs must fit the header exactly") {
  const std::string addresses = v4_block("1.2.3.4", "5.6.7.8", 1, 2);
  ProxyHeader h;
  CHECK(parse(v2(0x21, 0x11, addresses + tlv(0x04, "abc")), h) == ProxyParse::done);
  // A value running past the header, a TLV cut in its type/length, a stray byte.
  CHECK(parse(v2(0x21, 0x11, addresses + std::string("\x04\x00\x09", 3)), h) ==
        ProxyParse::invalid);
  CHECK(parse(v2(0x21, 0x11, addresses + std::string("\x04\x00", 2)), h) == ProxyParse::invalid);
  CHECK(parse(v2(0x21, 0x11, addresses + "x"), h) == ProxyParse::invalid);
  CHECK(h.error == kBadHeader);
}

TEST_CASE("every strict prefix of a valid header is incomplete, never invalid") {
  for (const std::string& header : valid_headers()) {
    CAPTURE(header);
    for (std::size_t n = 0; n < header.size(); ++n) {
      CAPTURE(n);
      ProxyHeader h;
      const ProxyParse r = parse(std::string_view(header).substr(0, n), h);
      CHECK(r == ProxyParse::incomplete);
      CHECK(!h.has_addresses);
    }
    ProxyHeader h;
    CHECK(parse(header, h) == ProxyParse::done);
    CHECK(h.size == header.size());
    // Whatever follows stays out of the header.
    CHECK(parse(header + "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n", h) == ProxyParse::done);
    CHECK(h.size == header.size());
  }
}

TEST_CASE("a header cut anywhere: incomplete, then the same answer once whole") {
  // Prefixes of the v2 signature and of "PROXY " alone.
  for (std::size_t n = 0; n <= kSignature.size(); ++n)
    CHECK(parse(kSignature.substr(0, n)) == ProxyParse::incomplete);
  for (std::string_view p : {"P"sv, "PR"sv, "PRO"sv, "PROX"sv, "PROXY"sv, "PROXY "sv, "PROXY T"sv,
                             "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r"sv})
    CHECK(parse(p) == ProxyParse::incomplete);
  // A v1 line without its CRLF waits up to 106 bytes.
  CHECK(parse("PROXY UNKNOWN " + std::string(92, 'a')) == ProxyParse::incomplete);
  // v2: the 16 fixed bytes, then the announced length.
  const std::string body = v4_block("1.2.3.4", "5.6.7.8", 1, 2);
  CHECK(parse(v2(0x21, 0x11, body).substr(0, 15)) == ProxyParse::incomplete);
  CHECK(parse(v2(0x21, 0x11, body).substr(0, 16)) == ProxyParse::incomplete);
  CHECK(parse(v2(0x21, 0x11, body).substr(0, 27)) == ProxyParse::incomplete);
  // The longest length allowed: still waiting with only the fixed part in.
  CHECK(parse(v2(0x21, 0x11, std::string(2032, 'x')).substr(0, 16)) == ProxyParse::incomplete);
  CHECK(parse(v2(0x21, 0x11, std::string(2032, 'x')).substr(0, 2047)) == ProxyParse::incomplete);
}

TEST_CASE("what does not start a header is refused at once") {
  for (std::string_view in : {
           "GET / HTTP/1.1\r\n\r\n"sv,
           "G"sv,
           "\x16\x03\x01\x02\x00"sv,  // a TLS record
           "PROXX TCP4"sv,
           "PROXY\tTCP4"sv,
           "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n"sv,
           "PR0XY"sv,
           " PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n"sv,
           "\r\n\r\n\0\r\nQUIX\n!\x11\x00\x00"sv,  // the v2 signature, one byte off
           "\r\n\r\n\0X"sv,
           "\r\n\r\n\r\n"sv,
           "\r\nGET"sv,
           "\n"sv,
           "\0"sv,
       }) {
    CAPTURE(in);
    ProxyHeader h;
    CHECK(parse(in, h) == ProxyParse::invalid);
    CHECK(h.error == kNotHeader);
    CHECK(!h.has_addresses);
  }
}

TEST_CASE("v1: an unknown protocol") {
  for (std::string_view in :
       {"PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n"sv, "PROXY TCP 1.2.3.4 5.6.7.8 1 2\r\n"sv,
        "PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n"sv, "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n"sv,
        "PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n"sv, "PROXY \r\n"sv}) {
    CAPTURE(in);
    ProxyHeader h;
    CHECK(parse(in, h) == ProxyParse::invalid);
    CHECK(h.error == kBadProtocol);
    CHECK(!h.has_addresses);
  }
}

TEST_CASE("v1: ports out of range, signed, not decimal or with leading zeros") {
  for (const char* port : {"65536", "99999", "100000", "4294967296", "080", "00", "0443", "-1",
                           "+1", "1a", "0x10", " 1", "", "1.0", "１"}) {
    CAPTURE(port);
    CHECK(parse(std::string("PROXY TCP4 1.2.3.4 5.6.7.8 ") + port + " 80\r\n") ==
          ProxyParse::invalid);
    ProxyHeader h;
    CHECK(parse(std::string("PROXY TCP6 ::1 ::2 80 ") + port + "\r\n", h) == ProxyParse::invalid);
    CHECK(h.error == kBadHeader);
  }
  // The bounds themselves are fine.
  CHECK(parse("PROXY TCP4 1.2.3.4 5.6.7.8 0 65535\r\n") == ProxyParse::done);
}

TEST_CASE("v1: bad addresses, or of the other family") {
  for (const char* addresses : {
           "1.2.3.256 5.6.7.8",
           "1.2.3 5.6.7.8",
           "1.2.3.4.5 5.6.7.8",
           "01.2.3.4 5.6.7.8",  // leading zero
           "1.2.3.4 5.6.7.8x",
           "localhost 5.6.7.8",
           "::1 5.6.7.8",       // IPv6 under TCP4
           "1.2.3.4  5.6.7.8",  // two spaces
           "1.2.3.4",
       }) {
    CAPTURE(addresses);
    ProxyHeader h;
    CHECK(parse(std::string("PROXY TCP4 ") + addresses + " 1 2\r\n", h) == ProxyParse::invalid);
    CHECK(h.error == kBadHeader);
    CHECK(!h.has_addresses);
  }
  for (const char* addresses : {
           "1.2.3.4 ::1",  // IPv4 under TCP6
           "::1 1.2.3.4",
           "2001:db8:::1 ::1",
           "2001:db8::1::2 ::1",
           "1:2:3:4:5:6:7:8:9 ::1",
           "fe80::1%eth0 ::1",
           "[::1] ::1",
           "gggg::1 ::1",
       }) {
    CAPTURE(addresses);
    ProxyHeader h;
    CHECK(parse(std::string("PROXY TCP6 ") + addresses + " 1 2\r\n", h) == ProxyParse::invalid);
    CHECK(h.error == kBadHeader);
  }
}

TEST_CASE("v1: no CRLF within 107 bytes, or a bare LF") {
  ProxyHeader h;
  // 107 bytes and no CRLF: no longer a v1 line.
  const std::string long_line = "PROXY UNKNOWN " + std::string(93, 'a');
  REQUIRE(long_line.size() == 107);
  CHECK(parse(long_line, h) == ProxyParse::invalid);
  CHECK(h.error == kBadHeader);
  CHECK(parse(long_line + "\r\n") == ProxyParse::invalid);  // the CRLF comes too late
  CHECK(parse(std::string(long_line.substr(0, 106)) + "\r\n") == ProxyParse::invalid);
  CHECK(parse("PROXY UNKNOWN " + std::string(500, 'a') + "\r\n") == ProxyParse::invalid);
  // CRLF ending at byte 107 exactly: accepted.
  REQUIRE(parse(std::string(long_line.substr(0, 105)) + "\r\n", h) == ProxyParse::done);
  CHECK(h.size == 107);
  // A line ended by a bare LF, or holding one.
  CHECK(parse("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", h) == ProxyParse::invalid);
  CHECK(h.error == kBadHeader);
  CHECK(parse("PROXY UNKNOWN\n") == ProxyParse::invalid);
  CHECK(parse("PROXY UNKNOWN\nGET / HTTP/1.1\r\n") == ProxyParse::invalid);
  // However the bytes arrive: a bare LF before the CRLF is refused.
  CHECK(parse("PROXY UNKNOWN \nx\r\n") == ProxyParse::invalid);
  // A CR not followed by LF is just a byte of the line (the LF may still come).
  CHECK(parse("PROXY UNKNOWN\r") == ProxyParse::incomplete);
  CHECK(parse("PROXY TCP4 1.2.3.4\r5.6.7.8 1 2\r\n") == ProxyParse::invalid);
}

TEST_CASE("v2: a version other than 2") {
  const std::string body = v4_block("1.2.3.4", "5.6.7.8", 1, 2);
  for (unsigned char ver_cmd : {0x01, 0x11, 0x31, 0xF1, 0x00, 0x10}) {
    CAPTURE(int(ver_cmd));
    ProxyHeader h;
    CHECK(parse(v2(ver_cmd, 0x11, body), h) == ProxyParse::invalid);
    CHECK(h.error == "Received something which does not look like a PROXY protocol header");
    // Refused as soon as the fixed part is in.
    CHECK(parse(v2(ver_cmd, 0x11, body).substr(0, 16)) == ProxyParse::invalid);
    CHECK(!h.has_addresses);
  }
}

TEST_CASE("v2: a command other than LOCAL or PROXY") {
  const std::string body = v4_block("1.2.3.4", "5.6.7.8", 1, 2);
  for (unsigned char ver_cmd : {0x22, 0x23, 0x2F}) {
    CAPTURE(int(ver_cmd));
    ProxyHeader h;
    CHECK(parse(v2(ver_cmd, 0x11, body), h) == ProxyParse::invalid);
    CHECK(h.error == kBadHeader);
    CHECK(!h.has_addresses);
  }
}

TEST_CASE("v2: a length beyond kProxyHeaderMax - 16 bytes") {
  ProxyHeader h;
  for (std::size_t length : {16369u, 20000u, 65535u}) {
    CAPTURE(length);
    std::string header = v2(0x21, 0x11, "");
    header[14] = static_cast<char>(length >> 8);
    header[15] = static_cast<char>(length & 0xff);
    CHECK(parse(header, h) == ProxyParse::invalid);  // refused before the rest comes
    CHECK(h.error == kBadHeader);
    CHECK(parse(header + std::string(length, '\0'), h) == ProxyParse::invalid);
  }
  // 16368: the largest that fits.
  REQUIRE(parse(v2(0x21, 0x11,
                   v4_block("1.2.3.4", "5.6.7.8", 1, 2) + tlv(0x04, std::string(16353, '\0'))),
                h) == ProxyParse::done);
  CHECK(h.size == kProxyHeaderMax);
  CHECK(h.source.to_string() == "1.2.3.4:1");
}

TEST_CASE("v2: an address block too short for its family") {
  for (std::size_t length : {0u, 4u, 8u, 11u}) {
    CAPTURE(length);
    ProxyHeader h;
    CHECK(parse(v2(0x21, 0x11, std::string(length, '\1')), h) == ProxyParse::invalid);
    CHECK(h.error == kBadHeader);
    CHECK(!h.has_addresses);
  }
  for (std::size_t length : {0u, 12u, 32u, 35u}) {
    CAPTURE(length);
    ProxyHeader h;
    CHECK(parse(v2(0x21, 0x21, std::string(length, '\1')), h) == ProxyParse::invalid);
    CHECK(h.error == kBadHeader);
  }
  // Exactly enough is enough.
  CHECK(parse(v2(0x21, 0x11, std::string(12, '\1'))) == ProxyParse::done);
  CHECK(parse(v2(0x21, 0x21, std::string(36, '\1'))) == ProxyParse::done);
}

TEST_CASE("a result left over from an earlier parse is cleared") {
  ProxyHeader h;
  REQUIRE(parse("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n", h) == ProxyParse::done);
  REQUIRE(h.has_addresses);
  CHECK(parse("PROXY UNKNOWN\r\n", h) == ProxyParse::done);
  CHECK(!h.has_addresses);
  CHECK(h.size == 15);
  CHECK(parse("GET /", h) == ProxyParse::invalid);
  CHECK(h.error == kNotHeader);
  CHECK(parse("PROX", h) == ProxyParse::incomplete);
  CHECK(h.error.empty());
  CHECK(h.size == 0);
}

TEST_CASE("write_proxy_v1 and v2 read back: IPv4") {
  for (auto [src, sport, dst, dport] : {std::tuple{"127.0.0.1", 42096, "127.0.0.1", 19491},
                                        std::tuple{"10.1.2.3", 0, "192.168.255.254", 65535},
                                        std::tuple{"255.255.255.255", 65535, "0.0.0.0", 1}}) {
    const io::SocketAddress s = v4(src, static_cast<std::uint16_t>(sport));
    const io::SocketAddress d = v4(dst, static_cast<std::uint16_t>(dport));
    for (int version : {1, 2}) {
      CAPTURE(version);
      CAPTURE(src);
      std::array<char, kProxyHeaderOut> out{};
      const std::size_t n = version == 1 ? write_proxy_v1(out, s, d) : write_proxy_v2(out, s, d);
      REQUIRE(n > 0);
      REQUIRE(n <= out.size());
      ProxyHeader h;
      REQUIRE(parse({out.data(), n}, h) == ProxyParse::done);
      CHECK(h.size == n);
      CHECK(h.has_addresses);
      CHECK(h.source.to_string() == s.to_string());
      CHECK(h.destination.to_string() == d.to_string());
      CHECK(h.source.family() == AF_INET);
    }
  }
}

TEST_CASE("write_proxy_v1 and v2 read back: IPv6") {
  for (auto [src, sport, dst, dport] :
       {std::tuple{"::1", 42096, "::1", 19491},
        std::tuple{"2001:db8::7", 0, "2001:db8:1:2:3:4:5:6", 65535},
        std::tuple{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535,
                   "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535},
        std::tuple{"::ffff:10.0.0.1", 1, "::", 2}}) {
    const io::SocketAddress s = v6(src, static_cast<std::uint16_t>(sport));
    const io::SocketAddress d = v6(dst, static_cast<std::uint16_t>(dport));
    for (int version : {1, 2}) {
      CAPTURE(version);
      CAPTURE(src);
      std::array<char, kProxyHeaderOut> out{};
      const std::size_t n = version == 1 ? write_proxy_v1(out, s, d) : write_proxy_v2(out, s, d);
      REQUIRE(n > 0);
      REQUIRE(n <= (version == 1 ? 104u : 52u));
      ProxyHeader h;
      REQUIRE(parse({out.data(), n}, h) == ProxyParse::done);
      CHECK(h.size == n);
      CHECK(h.has_addresses);
      CHECK(h.source.family() == AF_INET6);
      CHECK(h.source.to_string() == s.to_string());
      CHECK(h.destination.to_string() == d.to_string());
    }
  }
}

TEST_CASE("write_proxy_v1 and v2 for mixed or other families: UNKNOWN and UNSPEC") {
  const io::SocketAddress a4 = v4("127.0.0.1", 1000), a6 = v6("::1", 2000);
  const io::SocketAddress other = unix_family();
  const std::string unspec = std::string(kSignature) + "\x21\x00\x00\x00"s;
  for (auto [s, d] :
       {std::pair{a4, a6}, std::pair{a6, a4}, std::pair{other, a4}, std::pair{a4, other},
        std::pair{other, other}, std::pair{io::SocketAddress{}, io::SocketAddress{}}}) {
    std::array<char, kProxyHeaderOut> out{};
    std::size_t n = write_proxy_v1(out, s, d);
    CHECK(std::string_view(out.data(), n) == "PROXY UNKNOWN\r\n");
    ProxyHeader h;
    CHECK(parse({out.data(), n}, h) == ProxyParse::done);
    CHECK(!h.has_addresses);
    n = write_proxy_v2(out, s, d);
    CHECK(std::string_view(out.data(), n) == unspec);
    CHECK(parse({out.data(), n}, h) == ProxyParse::done);
    CHECK(h.size == 16);
    CHECK(!h.has_addresses);
  }
}

TEST_CASE("the bytes HAProxy 2.6 writes for 127.0.0.1:42096 to 127.0.0.1:19491") {
  // 42096 = 0xA470, 19491 = 0x4C23.
  const std::string expected_v2 =
      "\r\n\r\n\x00\r\nQUIT\n!\x11\x00\x0c\x7f\x00\x00\x01\x7f\x00\x00\x01\xa4p\x4c\x23"s;
  REQUIRE(expected_v2.size() == 28);
  std::array<char, kProxyHeaderOut> out{};
  const std::size_t n = write_proxy_v2(out, v4("127.0.0.1", 42096), v4("127.0.0.1", 19491));
  CHECK(std::string(out.data(), n) == expected_v2);

  const std::size_t m = write_proxy_v1(out, v4("127.0.0.1", 42096), v4("127.0.0.1", 19490));
  CHECK(std::string(out.data(), m) == "PROXY TCP4 127.0.0.1 127.0.0.1 42096 19490\r\n");

  // And the IPv6 ones, as written by hand from the spec.
  const std::size_t k = write_proxy_v1(out, v6("2001:db8::1", 443), v6("::1", 80));
  CHECK(std::string(out.data(), k) == "PROXY TCP6 2001:db8::1 ::1 443 80\r\n");
  const std::size_t j = write_proxy_v2(out, v6("2001:db8::1", 443), v6("::1", 80));
  CHECK(std::string(out.data(), j) ==
        std::string(kSignature) + "\x21\x21\x00\x24"s + v6_block("2001:db8::1", "::1", 443, 80));
}
