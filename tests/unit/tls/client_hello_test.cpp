// TLS ClientHello reader: real hellos captured from OpenSSL's s_client, fed whole, by every
// prefix, and re-framed over several records (in place or reassembled in scratch); each
// length field truncated or overlong; what is not a TLS handshake; and HAProxy's
// no-sample cases (no SNI, SSLv3 hello, another handshake type) as complete.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/tls/client_hello.hpp"

using namespace sluice::tls;

namespace {

// Captured by a Python listener on 127.0.0.1 (port 0) recording the first bytes of
// a TLS client (openssl 3.0.22), then closing.
// `openssl s_client -servername example.com` (TLS 1.3 by default), 317 bytes.
constexpr unsigned char kTls13Hello[] = {
    0x16, 0x03, 0x01, 0x01, 0x38, 0x01, 0x00, 0x01, 0x34, 0x03, 0x03, 0xcb, 0xec, 0xe3, 0xfc, 0xb5,
    0xaf, 0xc2, 0x8e, 0x15, 0xbd, 0xa6, 0x8e, 0x63, 0x7b, 0x97, 0x04, 0x41, 0x31, 0x4d, 0x95, 0xd3,
    0xc1, 0x5d, 0xdb, 0xd2, 0x17, 0xbb, 0x53, 0x91, 0xf2, 0x6b, 0x20, 0x20, 0x76, 0x3b, 0x0d, 0x3f,
    0x86, 0xab, 0x8f, 0xa1, 0xae, 0x19, 0x8f, 0xcb, 0x9f, 0xf5, 0x2b, 0xdb, 0x81, 0xed, 0x1b, 0xc0,
    0xf3, 0x2f, 0x2c, 0x1b, 0x1c, 0x53, 0x05, 0x7e, 0x8f, 0xff, 0x97, 0x85, 0x00, 0x3e, 0x13, 0x02,
    0x13, 0x03, 0x13, 0x01, 0xc0, 0x2c, 0xc0, 0x30, 0x00, 0x9f, 0xcc, 0xa9, 0xcc, 0xa8, 0xcc, 0xaa,
    0xc0, 0x2b, 0xc0, 0x2f, 0x00, 0x9e, 0xc0, 0x24, 0xc0, 0x28, 0x00, 0x6b, 0xc0, 0x23, 0xc0, 0x27,
    0x00, 0x67, 0xc0, 0x0a, 0xc0, 0x14, 0x00, 0x39, 0xc0, 0x09, 0xc0, 0x13, 0x00, 0x33, 0x00, 0x9d,
    0x00, 0x9c, 0x00, 0x3d, 0x00, 0x3c, 0x00, 0x35, 0x00, 0x2f, 0x00, 0xff, 0x01, 0x00, 0x00, 0xad,
    0x00, 0x00, 0x00, 0x10, 0x00, 0x0e, 0x00, 0x00, 0x0b, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65,
    0x2e, 0x63, 0x6f, 0x6d, 0x00, 0x0b, 0x00, 0x04, 0x03, 0x00, 0x01, 0x02, 0x00, 0x0a, 0x00, 0x16,
    0x00, 0x14, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x1e, 0x00, 0x19, 0x00, 0x18, 0x01, 0x00, 0x01, 0x01,
    0x01, 0x02, 0x01, 0x03, 0x01, 0x04, 0x00, 0x23, 0x00, 0x00, 0x00, 0x16, 0x00, 0x00, 0x00, 0x17,
    0x00, 0x00, 0x00, 0x0d, 0x00, 0x2a, 0x00, 0x28, 0x04, 0x03, 0x05, 0x03, 0x06, 0x03, 0x08, 0x07,
    0x08, 0x08, 0x08, 0x09, 0x08, 0x0a, 0x08, 0x0b, 0x08, 0x04, 0x08, 0x05, 0x08, 0x06, 0x04, 0x01,
    0x05, 0x01, 0x06, 0x01, 0x03, 0x03, 0x03, 0x01, 0x03, 0x02, 0x04, 0x02, 0x05, 0x02, 0x06, 0x02,
    0x00, 0x2b, 0x00, 0x09, 0x08, 0x03, 0x04, 0x03, 0x03, 0x03, 0x02, 0x03, 0x01, 0x00, 0x2d, 0x00,
    0x02, 0x01, 0x01, 0x00, 0x33, 0x00, 0x26, 0x00, 0x24, 0x00, 0x1d, 0x00, 0x20, 0x41, 0x8f, 0x5d,
    0x06, 0x92, 0xac, 0x0b, 0x84, 0x84, 0xae, 0x25, 0x95, 0x63, 0x1c, 0x63, 0x2c, 0xa8, 0xc8, 0xe0,
    0xb9, 0x7d, 0x84, 0xcb, 0x2a, 0x19, 0x4d, 0xe6, 0xcc, 0xee, 0xc2, 0xfa, 0x2b};
// `openssl s_client -servername example.com -tls1_2`, 208 bytes.
constexpr unsigned char kTls12Hello[] = {
    0x16, 0x03, 0x01, 0x00, 0xcb, 0x01, 0x00, 0x00, 0xc7, 0x03, 0x03, 0xfc, 0xfb, 0x9c, 0x08, 0xb5,
    0x97, 0x52, 0x0a, 0x7d, 0xfa, 0x28, 0x52, 0x60, 0xfa, 0x09, 0x80, 0xd9, 0x39, 0x28, 0xfc, 0xc4,
    0x2d, 0x79, 0xdd, 0x64, 0x8a, 0xec, 0x4d, 0xc1, 0xd5, 0x61, 0xaa, 0x00, 0x00, 0x38, 0xc0, 0x2c,
    0xc0, 0x30, 0x00, 0x9f, 0xcc, 0xa9, 0xcc, 0xa8, 0xcc, 0xaa, 0xc0, 0x2b, 0xc0, 0x2f, 0x00, 0x9e,
    0xc0, 0x24, 0xc0, 0x28, 0x00, 0x6b, 0xc0, 0x23, 0xc0, 0x27, 0x00, 0x67, 0xc0, 0x0a, 0xc0, 0x14,
    0x00, 0x39, 0xc0, 0x09, 0xc0, 0x13, 0x00, 0x33, 0x00, 0x9d, 0x00, 0x9c, 0x00, 0x3d, 0x00, 0x3c,
    0x00, 0x35, 0x00, 0x2f, 0x00, 0xff, 0x01, 0x00, 0x00, 0x66, 0x00, 0x00, 0x00, 0x10, 0x00, 0x0e,
    0x00, 0x00, 0x0b, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x63, 0x6f, 0x6d, 0x00, 0x0b,
    0x00, 0x04, 0x03, 0x00, 0x01, 0x02, 0x00, 0x0a, 0x00, 0x0c, 0x00, 0x0a, 0x00, 0x1d, 0x00, 0x17,
    0x00, 0x1e, 0x00, 0x19, 0x00, 0x18, 0x00, 0x23, 0x00, 0x00, 0x00, 0x16, 0x00, 0x00, 0x00, 0x17,
    0x00, 0x00, 0x00, 0x0d, 0x00, 0x2a, 0x00, 0x28, 0x04, 0x03, 0x05, 0x03, 0x06, 0x03, 0x08, 0x07,
    0x08, 0x08, 0x08, 0x09, 0x08, 0x0a, 0x08, 0x0b, 0x08, 0x04, 0x08, 0x05, 0x08, 0x06, 0x04, 0x01,
    0x05, 0x01, 0x06, 0x01, 0x03, 0x03, 0x03, 0x01, 0x03, 0x02, 0x04, 0x02, 0x05, 0x02, 0x06, 0x02};
// `openssl s_client -servername example.com -alpn h2`, 326 bytes.
constexpr unsigned char kAlpnH2Hello[] = {
    0x16, 0x03, 0x01, 0x01, 0x41, 0x01, 0x00, 0x01, 0x3d, 0x03, 0x03, 0xf5, 0x07, 0x34, 0x13, 0x0f,
    0x17, 0x17, 0x7a, 0xb5, 0x34, 0xd3, 0x7b, 0x2d, 0xbe, 0x25, 0xbf, 0xab, 0xc2, 0x52, 0x4b, 0x15,
    0xaf, 0x3b, 0x2d, 0x1d, 0xf8, 0x9b, 0x36, 0xff, 0x45, 0x7f, 0xe7, 0x20, 0x7d, 0x43, 0xd4, 0xf4,
    0x5d, 0x66, 0xf9, 0x2f, 0x08, 0xfc, 0x76, 0xd0, 0x41, 0x46, 0x23, 0xe5, 0x72, 0xe0, 0x2b, 0x42,
    0xec, 0x8d, 0x80, 0x17, 0x9a, 0x2a, 0x32, 0xd1, 0xf3, 0x53, 0x8c, 0xfd, 0x00, 0x3e, 0x13, 0x02,
    0x13, 0x03, 0x13, 0x01, 0xc0, 0x2c, 0xc0, 0x30, 0x00, 0x9f, 0xcc, 0xa9, 0xcc, 0xa8, 0xcc, 0xaa,
    0xc0, 0x2b, 0xc0, 0x2f, 0x00, 0x9e, 0xc0, 0x24, 0xc0, 0x28, 0x00, 0x6b, 0xc0, 0x23, 0xc0, 0x27,
    0x00, 0x67, 0xc0, 0x0a, 0xc0, 0x14, 0x00, 0x39, 0xc0, 0x09, 0xc0, 0x13, 0x00, 0x33, 0x00, 0x9d,
    0x00, 0x9c, 0x00, 0x3d, 0x00, 0x3c, 0x00, 0x35, 0x00, 0x2f, 0x00, 0xff, 0x01, 0x00, 0x00, 0xb6,
    0x00, 0x00, 0x00, 0x10, 0x00, 0x0e, 0x00, 0x00, 0x0b, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65,
    0x2e, 0x63, 0x6f, 0x6d, 0x00, 0x0b, 0x00, 0x04, 0x03, 0x00, 0x01, 0x02, 0x00, 0x0a, 0x00, 0x16,
    0x00, 0x14, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x1e, 0x00, 0x19, 0x00, 0x18, 0x01, 0x00, 0x01, 0x01,
    0x01, 0x02, 0x01, 0x03, 0x01, 0x04, 0x00, 0x23, 0x00, 0x00, 0x00, 0x10, 0x00, 0x05, 0x00, 0x03,
    0x02, 0x68, 0x32, 0x00, 0x16, 0x00, 0x00, 0x00, 0x17, 0x00, 0x00, 0x00, 0x0d, 0x00, 0x2a, 0x00,
    0x28, 0x04, 0x03, 0x05, 0x03, 0x06, 0x03, 0x08, 0x07, 0x08, 0x08, 0x08, 0x09, 0x08, 0x0a, 0x08,
    0x0b, 0x08, 0x04, 0x08, 0x05, 0x08, 0x06, 0x04, 0x01, 0x05, 0x01, 0x06, 0x01, 0x03, 0x03, 0x03,
    0x01, 0x03, 0x02, 0x04, 0x02, 0x05, 0x02, 0x06, 0x02, 0x00, 0x2b, 0x00, 0x09, 0x08, 0x03, 0x04,
    0x03, 0x03, 0x03, 0x02, 0x03, 0x01, 0x00, 0x2d, 0x00, 0x02, 0x01, 0x01, 0x00, 0x33, 0x00, 0x26,
    0x00, 0x24, 0x00, 0x1d, 0x00, 0x20, 0x6c, 0xc3, 0xc6, 0xbb, 0xa0, 0xc7, 0x62, 0x2c, 0x86, 0xd7,
    0x87, 0x71, 0x9a, 0x19, 0x26, 0x78, 0x82, 0x89, 0xcb, 0x63, 0x17, 0x58, 0x8d, 0x6b, 0xf7, 0xfa,
    0xb2, 0x18, 0xd8, 0x95, 0x9f, 0x3d};
// `openssl s_client` without -servername (to an IP address: no SNI), 297 bytes.
constexpr unsigned char kNoServerNameHello[] = {
    0x16, 0x03, 0x01, 0x01, 0x24, 0x01, 0x00, 0x01, 0x20, 0x03, 0x03, 0xfb, 0xbb, 0x4b, 0xa2, 0x51,
    0x3b, 0x6e, 0x32, 0x20, 0x0b, 0x65, 0xec, 0xaa, 0x62, 0xbc, 0x6f, 0x80, 0x48, 0xcc, 0xb6, 0xf6,
    0x02, 0x8e, 0x3e, 0x14, 0x03, 0x9a, 0xb2, 0xcf, 0x77, 0xe8, 0xd9, 0x20, 0x90, 0xcf, 0xf0, 0xea,
    0xd3, 0x0d, 0x4b, 0xf6, 0x88, 0xa6, 0x74, 0x71, 0xed, 0xf1, 0xca, 0x3f, 0x66, 0x96, 0x76, 0x05,
    0xcb, 0x10, 0x53, 0x48, 0x15, 0x67, 0xc5, 0xd2, 0x24, 0x95, 0x1d, 0x07, 0x00, 0x3e, 0x13, 0x02,
    0x13, 0x03, 0x13, 0x01, 0xc0, 0x2c, 0xc0, 0x30, 0x00, 0x9f, 0xcc, 0xa9, 0xcc, 0xa8, 0xcc, 0xaa,
    0xc0, 0x2b, 0xc0, 0x2f, 0x00, 0x9e, 0xc0, 0x24, 0xc0, 0x28, 0x00, 0x6b, 0xc0, 0x23, 0xc0, 0x27,
    0x00, 0x67, 0xc0, 0x0a, 0xc0, 0x14, 0x00, 0x39, 0xc0, 0x09, 0xc0, 0x13, 0x00, 0x33, 0x00, 0x9d,
    0x00, 0x9c, 0x00, 0x3d, 0x00, 0x3c, 0x00, 0x35, 0x00, 0x2f, 0x00, 0xff, 0x01, 0x00, 0x00, 0x99,
    0x00, 0x0b, 0x00, 0x04, 0x03, 0x00, 0x01, 0x02, 0x00, 0x0a, 0x00, 0x16, 0x00, 0x14, 0x00, 0x1d,
    0x00, 0x17, 0x00, 0x1e, 0x00, 0x19, 0x00, 0x18, 0x01, 0x00, 0x01, 0x01, 0x01, 0x02, 0x01, 0x03,
    0x01, 0x04, 0x00, 0x23, 0x00, 0x00, 0x00, 0x16, 0x00, 0x00, 0x00, 0x17, 0x00, 0x00, 0x00, 0x0d,
    0x00, 0x2a, 0x00, 0x28, 0x04, 0x03, 0x05, 0x03, 0x06, 0x03, 0x08, 0x07, 0x08, 0x08, 0x08, 0x09,
    0x08, 0x0a, 0x08, 0x0b, 0x08, 0x04, 0x08, 0x05, 0x08, 0x06, 0x04, 0x01, 0x05, 0x01, 0x06, 0x01,
    0x03, 0x03, 0x03, 0x01, 0x03, 0x02, 0x04, 0x02, 0x05, 0x02, 0x06, 0x02, 0x00, 0x2b, 0x00, 0x09,
    0x08, 0x03, 0x04, 0x03, 0x03, 0x03, 0x02, 0x03, 0x01, 0x00, 0x2d, 0x00, 0x02, 0x01, 0x01, 0x00,
    0x33, 0x00, 0x26, 0x00, 0x24, 0x00, 0x1d, 0x00, 0x20, 0x5a, 0x6a, 0xe1, 0x8c, 0xc3, 0xd8, 0xe8,
    0x11, 0x24, 0x48, 0x89, 0xcc, 0x61, 0x28, 0x20, 0xea, 0xa1, 0x69, 0xb4, 0xdc, 0x1d, 0x5d, 0x2a,
    0x91, 0xf7, 0xe2, 0xdb, 0x8d, 0x8c, 0x81, 0xcc, 0x48};

std::string bytes_of(const unsigned char* data, std::size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}
template <std::size_t N>
std::string bytes_of(const unsigned char (&data)[N]) {
  return bytes_of(data, N);
}

// Parses a private, exactly sized heap copy of `input`, so that ASan catches any read past
// its end, with a scratch of `scratch_bytes`.
struct Parsed {
  HelloParse status = HelloParse::invalid;
  ClientHello hello;
  std::unique_ptr<char[]> input;
  std::unique_ptr<char[]> scratch;
  std::size_t input_bytes = 0;
  std::size_t scratch_bytes = 0;

  bool views_into_input(std::string_view v) const {
    return v.data() >= input.get() && v.data() + v.size() <= input.get() + input_bytes;
  }
  bool views_into_scratch(std::string_view v) const {
    return v.data() >= scratch.get() && v.data() + v.size() <= scratch.get() + scratch_bytes;
  }
};

Parsed parse(std::string_view input, std::size_t scratch_bytes = kClientHelloScratchBytes) {
  Parsed p;
  p.input_bytes = input.size();
  p.input = std::make_unique<char[]>(input.size());
  if (!input.empty()) std::memcpy(p.input.get(), input.data(), input.size());
  p.scratch_bytes = scratch_bytes;
  p.scratch = std::make_unique<char[]>(scratch_bytes);
  p.status = parse_client_hello(std::span<const char>(p.input.get(), input.size()), p.hello,
                                std::span<char>(p.scratch.get(), scratch_bytes));
  return p;
}

HelloParse status_of(std::string_view input, std::size_t scratch_bytes = kClientHelloScratchBytes) {
  return parse(input, scratch_bytes).status;
}

// Wire-format builders (RFC 8446 3): big-endian integers and length-prefixed vectors. They
// append into one string rather than add temporaries, which GCC 12 misreads (-Wrestrict).
std::string join(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (std::string_view part : parts)
    out.append(part);
  return out;
}
std::string u8(unsigned v) {
  return std::string(1, static_cast<char>(v & 0xff));
}
std::string u16(unsigned v) {
  return join({u8(v >> 8), u8(v)});
}
std::string u24(unsigned v) {
  return join({u8(v >> 16), u8(v >> 8), u8(v)});
}
std::string vec8(const std::string& body) {
  return join({u8(body.size()), body});
}
std::string vec16(const std::string& body) {
  return join({u16(body.size()), body});
}

std::string record(const std::string& fragment, unsigned content_type = 22,
                   unsigned version = 0x0301) {
  return join({u8(content_type), u16(version), vec16(fragment)});
}
std::string handshake(const std::string& body, unsigned type = 1) {
  return join({u8(type), u24(body.size()), body});
}
std::string extension(unsigned type, const std::string& body) {
  return join({u16(type), vec16(body)});
}
std::string host_name_entry(const std::string& name) {
  return join({u8(0), vec16(name)});
}
std::string server_name(const std::string& name) {
  return extension(0, vec16(host_name_entry(name)));
}

// The body of a ClientHello; each part already carries its length prefix, so that a test can
// put a wrong one.
struct HelloParts {
  std::string version = u16(0x0303);
  std::string random = std::string(32, 'r');
  std::string session_id = vec8(std::string(32, 's'));
  std::string cipher_suites = vec16(u16(0x1301) + u16(0x1302));
  std::string compression_methods = vec8(u8(0));
  std::string extensions = vec16(server_name("example.com") + extension(43, vec8(u16(0x0304))));

  std::string body() const {
    return join({version, random, session_id, cipher_suites, compression_methods, extensions});
  }
  std::string flight() const { return record(handshake(body())); }
};

// The handshake bytes of a one-record flight, re-framed into records cut at `cuts` (offsets
// into the handshake stream), each with the original record header's type and version.
std::string reframe(const std::string& flight, const std::vector<std::size_t>& cuts) {
  const std::string fragment = flight.substr(5);
  std::string out;
  std::size_t begin = 0;
  for (std::size_t i = 0; i <= cuts.size(); ++i) {
    const std::size_t end = i < cuts.size() ? cuts[i] : fragment.size();
    out += flight.substr(0, 3) + vec16(fragment.substr(begin, end - begin));
    begin = end;
  }
  return out;
}

// Every proper prefix needs more, the whole is complete with the same fields.
void check_every_prefix(const std::string& flight, std::string_view sni) {
  for (std::size_t n = 0; n < flight.size(); ++n) {
    CAPTURE(n);
    REQUIRE(status_of(std::string_view(flight).substr(0, n)) == HelloParse::need_more);
  }
  Parsed whole = parse(flight);
  REQUIRE(whole.status == HelloParse::complete);
  CHECK(whole.hello.sni == sni);
}

}  // namespace

TEST_SUITE("tls client hello") {
  TEST_CASE("captured TLS 1.3 hello: SNI, versions, handshake type, viewed in the input") {
    Parsed p = parse(bytes_of(kTls13Hello));
    REQUIRE(p.status == HelloParse::complete);
    CHECK(p.hello.handshake_type == 1);
    CHECK(p.hello.record_version == 0x0301);
    CHECK(p.hello.hello_version == 0x0303);
    CHECK(p.hello.has_sni);
    CHECK(p.hello.sni == "example.com");
    CHECK(p.views_into_input(p.hello.sni));
    CHECK_FALSE(p.hello.has_alpn);
    CHECK(p.hello.alpn.empty());
  }

  TEST_CASE("captured -tls1_2 hello") {
    Parsed p = parse(bytes_of(kTls12Hello));
    REQUIRE(p.status == HelloParse::complete);
    CHECK(p.hello.handshake_type == 1);
    CHECK(p.hello.record_version == 0x0301);
    CHECK(p.hello.hello_version == 0x0303);
    CHECK(p.hello.sni == "example.com");
  }

  TEST_CASE("captured -alpn h2 hello: the protocol list, walked in order") {
    Parsed p = parse(bytes_of(kAlpnH2Hello));
    REQUIRE(p.status == HelloParse::complete);
    CHECK(p.hello.sni == "example.com");
    REQUIRE(p.hello.has_alpn);
    CHECK(p.hello.alpn == std::string_view("\x02h2", 3));
    std::string_view list = p.hello.alpn;
    CHECK(next_alpn_protocol(list) == "h2");
    CHECK(next_alpn_protocol(list).empty());
    CHECK(list.empty());
  }

  TEST_CASE("captured hello without -servername: complete, no SNI (HAProxy: no sample)") {
    Parsed p = parse(bytes_of(kNoServerNameHello));
    REQUIRE(p.status == HelloParse::complete);
    CHECK(p.hello.handshake_type == 1);
    CHECK_FALSE(p.hello.has_sni);
    CHECK(p.hello.sni.empty());
  }

  TEST_CASE("upper-case SNI is returned as sent, as HAProxy does") {
    std::string flight = bytes_of(kTls13Hello);
    const std::size_t at = flight.find("example.com");
    REQUIRE(at != std::string::npos);
    flight.replace(at, 11, "Example.COM");
    Parsed p = parse(flight);
    REQUIRE(p.status == HelloParse::complete);
    CHECK(p.hello.sni == "Example.COM");
  }

  TEST_CASE("every prefix of each captured hello needs more, the whole is complete") {
    check_every_prefix(bytes_of(kTls13Hello), "example.com");
    check_every_prefix(bytes_of(kTls12Hello), "example.com");
    check_every_prefix(bytes_of(kAlpnH2Hello), "example.com");
    check_every_prefix(bytes_of(kNoServerNameHello), "");
  }

  TEST_CASE("bytes after the hello (early data, the next record) do not matter") {
    const std::string flight = bytes_of(kTls13Hello);
    CHECK(parse(flight + record("early", 23)).hello.sni == "example.com");
    CHECK(parse(flight + "\x17\x03").status == HelloParse::complete);
    // Within the same record too: only the first handshake message is read.
    const std::string message = flight.substr(5);
    CHECK(parse(record(message + handshake("xyz", 99))).hello.sni == "example.com");
  }

  TEST_CASE("the same hello over 2, 3 and one-byte records is reassembled in scratch") {
    for (const std::string& flight :
         {bytes_of(kTls13Hello), bytes_of(kTls12Hello), bytes_of(kAlpnH2Hello)}) {
      const std::size_t message_bytes = flight.size() - 5;
      const Parsed whole = parse(flight);
      REQUIRE(whole.status == HelloParse::complete);
      std::vector<std::vector<std::size_t>> framings = {
          {message_bytes / 2},  // two records
          {100, 200},           // three records, cutting inside the SNI
          {1, 3},               // the handshake header split itself
          {message_bytes - 1},  // the last byte alone
      };
      std::vector<std::size_t> bytewise;
      for (std::size_t i = 1; i < message_bytes; ++i)
        bytewise.push_back(i);
      framings.push_back(bytewise);
      for (const auto& cuts : framings) {
        CAPTURE(cuts.size());
        const std::string reframed = reframe(flight, cuts);
        Parsed p = parse(reframed);
        REQUIRE(p.status == HelloParse::complete);
        CHECK(p.hello.handshake_type == whole.hello.handshake_type);
        CHECK(p.hello.record_version == whole.hello.record_version);
        CHECK(p.hello.hello_version == whole.hello.hello_version);
        CHECK(p.hello.sni == whole.hello.sni);
        CHECK(p.hello.alpn == whole.hello.alpn);
        CHECK(p.views_into_scratch(p.hello.sni));
        if (cuts.size() < 4) check_every_prefix(reframed, whole.hello.sni);
      }
    }
  }

  TEST_CASE("scratch must hold the whole message, however it is framed") {
    const std::string flight = bytes_of(kTls13Hello);
    const std::size_t message_bytes = flight.size() - 5;
    CHECK(status_of(flight, message_bytes) == HelloParse::complete);
    CHECK(status_of(flight, message_bytes - 1) == HelloParse::invalid);
    const std::string split = reframe(flight, {message_bytes / 2});
    CHECK(status_of(split, message_bytes) == HelloParse::complete);
    CHECK(status_of(split, message_bytes - 1) == HelloParse::invalid);
    // Known from the header alone: no need to wait for the rest.
    CHECK(status_of(flight.substr(0, 9), message_bytes - 1) == HelloParse::invalid);
    // A 16 KiB hello fits the recommended scratch, one byte more does not.
    HelloParts big;
    big.extensions = vec16(server_name("example.com") + extension(21, std::string(100, '\0')));
    const std::size_t padding = kClientHelloScratchBytes - 4 - (big.body().size() - 100);
    big.extensions = vec16(server_name("example.com") + extension(21, std::string(padding, '\0')));
    const std::string big_message = handshake(big.body());
    REQUIRE(big_message.size() == kClientHelloScratchBytes);
    CHECK(parse(reframe(record(big_message), {10000})).hello.sni == "example.com");
    big.extensions =
        vec16(server_name("example.com") + extension(21, std::string(padding + 1, '\0')));
    CHECK(status_of(reframe(record(handshake(big.body())), {10000})) == HelloParse::invalid);
  }

  TEST_CASE("not a TLS handshake record: invalid from the first byte") {
    CHECK(status_of("") == HelloParse::need_more);
    CHECK(status_of("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n") == HelloParse::invalid);
    CHECK(status_of("G") == HelloParse::invalid);
    // SSLv2-style hello: two-byte header with the high bit set, then msg_type 1.
    CHECK(status_of(std::string("\x80\x2e\x01\x03\x01\x00\x15", 7)) == HelloParse::invalid);
    CHECK(status_of(std::string("\x80", 1)) == HelloParse::invalid);
    CHECK(status_of(record("data", 23)) == HelloParse::invalid);      // application data
    CHECK(status_of(record("\x02\x28", 21)) == HelloParse::invalid);  // alert
    CHECK(status_of(record("\x01", 20) + bytes_of(kTls13Hello)) == HelloParse::invalid);
  }

  TEST_CASE("record header: version below SSLv3, empty or oversized fragment") {
    const std::string message = bytes_of(kTls13Hello).substr(5);
    CHECK(status_of(record(message, 22, 0x0200)) == HelloParse::invalid);
    CHECK(status_of(std::string("\x16\x02", 2)) == HelloParse::invalid);
    CHECK(status_of(std::string("\x16\x03", 2)) == HelloParse::need_more);
    CHECK(parse(record(message, 22, 0x0303)).hello.record_version == 0x0303);
    CHECK(parse(record(message, 22, 0x0300)).status == HelloParse::complete);
    CHECK(status_of(record("")) == HelloParse::invalid);
    CHECK(status_of(std::string("\x16\x03\x01\x48\x00", 5)) == HelloParse::need_more);  // 2^14+2048
    CHECK(status_of(std::string("\x16\x03\x01\x48\x01", 5)) == HelloParse::invalid);
    CHECK(status_of(std::string("\x16\x03\x01\xff\xff", 5)) == HelloParse::invalid);
    // The same checks on a later record of the same message.
    const std::string first = record(message.substr(0, 50));
    CHECK(status_of(first + record("")) == HelloParse::invalid);
    CHECK(status_of(first + std::string("\x16\x03\x01\x48\x01", 5)) == HelloParse::invalid);
    CHECK(status_of(first + std::string("\x16\x02", 2)) == HelloParse::invalid);
    CHECK(status_of(first + record(message.substr(50), 22, 0x0303)) == HelloParse::complete);
  }

  TEST_CASE("another record type between the fragments of the hello is invalid") {
    const std::string message = bytes_of(kTls13Hello).substr(5);
    const std::string first = record(message.substr(0, 50));
    CHECK(status_of(first) == HelloParse::need_more);
    CHECK(status_of(first + "\x14") == HelloParse::invalid);
    CHECK(status_of(first + record("\x01", 20) + record(message.substr(50))) ==
          HelloParse::invalid);
    CHECK(status_of(first + record(message.substr(50), 23)) == HelloParse::invalid);
  }

  TEST_CASE("another handshake type first: complete with its type (req.ssl_hello_type)") {
    Parsed p = parse(record(handshake(std::string(40, 'x'), 2)));
    REQUIRE(p.status == HelloParse::complete);
    CHECK(p.hello.handshake_type == 2);
    CHECK_FALSE(p.hello.has_sni);
    CHECK(p.hello.hello_version == 0);
    // Still only once the whole message is there.
    CHECK(status_of(record(handshake(std::string(40, 'x'), 2)).substr(0, 20)) ==
          HelloParse::need_more);
  }

  TEST_CASE("a built hello parses, and each of its parts can be wrong") {
    HelloParts parts;
    Parsed good = parse(parts.flight());
    REQUIRE(good.status == HelloParse::complete);
    CHECK(good.hello.sni == "example.com");

    SUBCASE("session id: at most 32 bytes, within the message") {
      HelloParts p;
      p.session_id = vec8("");
      CHECK(status_of(p.flight()) == HelloParse::complete);
      p.session_id = vec8(std::string(33, 's'));
      CHECK(status_of(p.flight()) == HelloParse::invalid);
      p.session_id = u8(32) + std::string(10, 's');
      p.cipher_suites = p.compression_methods = p.extensions = "";
      CHECK(status_of(p.flight()) == HelloParse::invalid);
    }
    SUBCASE("cipher suites: even, non-empty, within the message") {
      HelloParts p;
      p.cipher_suites = vec16("\x13\x01\x13");
      CHECK(status_of(p.flight()) == HelloParse::invalid);
      p.cipher_suites = vec16("");
      CHECK(status_of(p.flight()) == HelloParse::invalid);
      p.cipher_suites = u16(0x4000) + u16(0x1301);
      CHECK(status_of(p.flight()) == HelloParse::invalid);
    }
    SUBCASE("compression methods: non-empty, within the message") {
      HelloParts p;
      p.compression_methods = vec8("");
      CHECK(status_of(p.flight()) == HelloParse::invalid);
      p.compression_methods = u8(200) + u8(0);
      CHECK(status_of(p.flight()) == HelloParse::invalid);
    }
    SUBCASE("no extensions at all (TLS 1.2 allows it): complete without SNI") {
      HelloParts p;
      p.extensions = "";
      Parsed r = parse(p.flight());
      REQUIRE(r.status == HelloParse::complete);
      CHECK_FALSE(r.hello.has_sni);
      CHECK(r.hello.hello_version == 0x0303);
    }
    SUBCASE("the extensions block must fill the rest of the message exactly") {
      HelloParts p;
      const std::string list = server_name("example.com");
      p.extensions = u16(list.size() + 1) + list;
      CHECK(status_of(p.flight()) == HelloParse::invalid);
      p.extensions = u16(list.size() - 1) + list;
      CHECK(status_of(p.flight()) == HelloParse::invalid);
      p.extensions = vec16(list) + u8(0);
      CHECK(status_of(p.flight()) == HelloParse::invalid);
      p.extensions = u8(0);  // half a length field
      CHECK(status_of(p.flight()) == HelloParse::invalid);
      for (std::size_t stray = 1; stray <= 3; ++stray) {
        p.extensions = vec16(list + std::string(stray, '\0'));
        CHECK(status_of(p.flight()) == HelloParse::invalid);
      }
      p.extensions = vec16(list + u16(43) + u16(5) + "ab");  // extension past the block
      CHECK(status_of(p.flight()) == HelloParse::invalid);
      p.extensions = vec16("");
      CHECK(status_of(p.flight()) == HelloParse::complete);
    }
    SUBCASE("the handshake length cutting the hello short is invalid, not need_more") {
      const std::string body = parts.body();
      for (std::size_t cut : {std::size_t{1}, std::size_t{34}, std::size_t{40}, body.size() - 1}) {
        CAPTURE(cut);
        CHECK(status_of(record(handshake(body.substr(0, cut)))) == HelloParse::invalid);
      }
      CHECK(status_of(record(handshake(""))) == HelloParse::invalid);
      // Longer than the record: the rest must come in the next record.
      const std::string overlong = u8(1) + u24(body.size() + 10) + body;
      CHECK(status_of(record(overlong)) == HelloParse::need_more);
      CHECK(status_of(record(overlong) + record(std::string(10, '\0'))) == HelloParse::invalid);
    }
    SUBCASE("server_name: a non-empty list filling the extension") {
      HelloParts p;
      p.extensions = vec16(extension(0, ""));
      CHECK(status_of(p.flight()) == HelloParse::invalid);
      p.extensions = vec16(extension(0, vec16("")));
      CHECK(status_of(p.flight()) == HelloParse::invalid);
      p.extensions = vec16(extension(0, vec16(host_name_entry("a.b")) + u8(0)));
      CHECK(status_of(p.flight()) == HelloParse::invalid);
      p.extensions = vec16(extension(0, u16(20) + host_name_entry("a.b")));
      CHECK(status_of(p.flight()) == HelloParse::invalid);
      p.extensions = vec16(extension(0, vec16(u8(0) + u16(10) + "a.b")));  // name past list
      CHECK(status_of(p.flight()) == HelloParse::invalid);
      p.extensions = vec16(extension(0, vec16(u8(0) + u8(3))));  // half a name length
      CHECK(status_of(p.flight()) == HelloParse::invalid);
    }
    SUBCASE("host_name: 1 to 255 bytes, only one") {
      HelloParts p;
      p.extensions = vec16(server_name(""));
      CHECK(status_of(p.flight()) == HelloParse::invalid);
      p.extensions = vec16(server_name("a"));
      CHECK(parse(p.flight()).hello.sni == "a");
      p.extensions = vec16(server_name(std::string(255, 'a')));
      CHECK(parse(p.flight()).hello.sni == std::string(255, 'a'));
      p.extensions = vec16(server_name(std::string(256, 'a')));
      CHECK(status_of(p.flight()) == HelloParse::invalid);
      p.extensions = vec16(extension(0, vec16(host_name_entry("a.b") + host_name_entry("c.d"))));
      CHECK(status_of(p.flight()) == HelloParse::invalid);
      p.extensions = vec16(server_name("a.b") + server_name("a.b"));  // extension repeated
      CHECK(status_of(p.flight()) == HelloParse::invalid);
    }
    SUBCASE("other name types are skipped") {
      HelloParts p;
      const std::string other = u8(7) + vec16("opaque");
      p.extensions = vec16(extension(0, vec16(other + host_name_entry("a.b") + other)));
      Parsed r = parse(p.flight());
      REQUIRE(r.status == HelloParse::complete);
      CHECK(r.hello.sni == "a.b");
      p.extensions = vec16(extension(0, vec16(other)));
      r = parse(p.flight());
      REQUIRE(r.status == HelloParse::complete);
      CHECK_FALSE(r.hello.has_sni);
      p.extensions = vec16(extension(0, vec16(u8(7) + u16(40) + "opaque")));
      CHECK(status_of(p.flight()) == HelloParse::invalid);
    }
    SUBCASE("ALPN: non-empty names filling a non-empty list") {
      HelloParts p;
      const std::string list = vec8("h2") + vec8("http/1.1");
      p.extensions = vec16(server_name("a.b") + extension(16, vec16(list)));
      Parsed r = parse(p.flight());
      REQUIRE(r.status == HelloParse::complete);
      CHECK(r.hello.alpn == list);
      std::string_view walk = r.hello.alpn;
      CHECK(next_alpn_protocol(walk) == "h2");
      CHECK(next_alpn_protocol(walk) == "http/1.1");
      CHECK(next_alpn_protocol(walk).empty());
      for (const std::string& bad :
           {extension(16, ""), extension(16, vec16("")), extension(16, vec16(vec8(""))),
            extension(16, vec16(u8(5) + "h2")), extension(16, u16(9) + list),
            extension(16, vec16(list) + "x"),
            extension(16, vec16(list)) + extension(16, vec16(list))}) {
        p.extensions = vec16(bad);
        CHECK(status_of(p.flight()) == HelloParse::invalid);
      }
    }
    SUBCASE("an SSLv3 hello is complete but shows no SNI, like HAProxy's TLSv1 minimum") {
      HelloParts p;
      p.version = u16(0x0300);
      p.extensions = vec16(server_name("a.b") + extension(16, vec16(vec8("h2"))));
      Parsed r = parse(record(handshake(p.body()), 22, 0x0300));
      REQUIRE(r.status == HelloParse::complete);
      CHECK(r.hello.hello_version == 0x0300);
      CHECK(r.hello.handshake_type == 1);
      CHECK_FALSE(r.hello.has_sni);
      CHECK_FALSE(r.hello.has_alpn);
    }
  }

  TEST_CASE("out is reset unless complete") {
    Parsed p = parse(bytes_of(kTls13Hello));
    REQUIRE(p.status == HelloParse::complete);
    ClientHello out = p.hello;
    char scratch[16];
    const std::string_view junk = "GET /";
    CHECK(parse_client_hello(std::span<const char>(junk.data(), junk.size()), out,
                             std::span<char>(scratch)) == HelloParse::invalid);
    CHECK_FALSE(out.has_sni);
    CHECK(out.handshake_type == 0);
    CHECK(out.sni.empty());
  }

  TEST_CASE("next_alpn_protocol never reads past a list it did not validate") {
    std::string_view list("\x05h2", 3);
    CHECK(next_alpn_protocol(list).empty());
    CHECK(list.empty());
    std::string_view zero("\x00h2", 3);
    CHECK(next_alpn_protocol(zero).empty());
    CHECK(zero.empty());
  }
}
