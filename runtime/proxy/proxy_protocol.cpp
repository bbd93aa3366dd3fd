#include "runtime/proxy/proxy_protocol.hpp"

#include <arpa/inet.h>

#include <cstdio>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace sluice::proxy {

namespace {

constexpr std::string_view kV1Prefix = "PROXY ";
constexpr std::size_t kV1Max = 107;  // the longest v1 line, CRLF included
constexpr char kV2Signature[12] = {'\r', '\n', '\r', '\n', '\0', '\r',
                                   '\n', 'Q',  'U',  'I',  'T',  '\n'};

constexpr std::string_view kNotHeader =
    "Received something which does not look like a PROXY protocol header";
constexpr std::string_view kBadHeader = "Received an invalid PROXY protocol header";
constexpr std::string_view kBadProtocol =
    "Received an unhandled protocol in the PROXY protocol header";

ProxyParse invalid(ProxyHeader& out, std::string_view why) {
  out.error = why;
  return ProxyParse::invalid;
}

// A prefix of `whole`: more bytes may still complete it.
bool starts(std::span<const char> in, std::string_view whole) {
  const std::size_t n = std::min(in.size(), whole.size());
  return std::string_view(in.data(), n) == whole.substr(0, n);
}

// The next space-separated word of a v1 line.
std::string_view next_word(std::string_view& line) {
  const std::size_t space = line.find(' ');
  const std::string_view word = line.substr(0, space);
  line = space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
  return word;
}

bool parse_port(std::string_view text, std::uint16_t& port) {
  // Decimal 0..65535 without a sign or leading zero (the spec's canonical form).
  if (text.empty() || text.size() > 5 || (text.size() > 1 && text[0] == '0')) return false;
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value > 65535) return false;
  port = static_cast<std::uint16_t>(value);
  return true;
}

bool parse_address(std::string_view text, int family, std::uint16_t port, io::SocketAddress& out) {
  char buffer[INET6_ADDRSTRLEN];
  if (text.empty() || text.size() >= sizeof buffer) return false;
  text.copy(buffer, text.size());
  buffer[text.size()] = '\0';
  out = {};
  if (family == AF_INET) {
    out.storage.v4.sin_family = AF_INET;
    out.storage.v4.sin_port = htons(port);
    out.length = sizeof(sockaddr_in);
    return inet_pton(AF_INET, buffer, &out.storage.v4.sin_addr) == 1;
  }
  out.storage.v6.sin6_family = AF_INET6;
  out.storage.v6.sin6_port = htons(port);
  out.length = sizeof(sockaddr_in6);
  return inet_pton(AF_INET6, buffer, &out.storage.v6.sin6_addr) == 1;
}

ProxyParse parse_v1(std::span<const char> in, ProxyHeader& out) {
  const std::string_view text(in.data(), std::min(in.size(), kV1Max));
  const std::size_t crlf = text.find("\r\n");
  if (crlf == std::string_view::npos) {
    if (in.size() >= kV1Max || text.find('\n') != std::string_view::npos)
      return invalid(out, kBadHeader);
    return ProxyParse::incomplete;
  }
  // A bare LF inside the line is refused whole, however the bytes arrived.
  if (text.substr(0, crlf).find('\n') != std::string_view::npos) return invalid(out, kBadHeader);
  out.size = crlf + 2;
  std::string_view line = text.substr(kV1Prefix.size(), crlf - kV1Prefix.size());
  const std::string_view protocol = next_word(line);
  if (protocol == "UNKNOWN") return ProxyParse::done;  // the rest of the line is ignored
  int family = 0;
  if (protocol == "TCP4")
    family = AF_INET;
  else if (protocol == "TCP6")
    family = AF_INET6;
  else
    return invalid(out, kBadProtocol);
  const std::string_view source = next_word(line), destination = next_word(line);
  const std::string_view source_port = next_word(line), destination_port = line;
  std::uint16_t sport = 0, dport = 0;
  if (!parse_port(source_port, sport) || !parse_port(destination_port, dport) ||
      !parse_address(source, family, sport, out.source) ||
      !parse_address(destination, family, dport, out.destination))
    return invalid(out, kBadHeader);
  out.has_addresses = true;
  return ProxyParse::done;
}

// A v2 address from its network-order bytes (4 or 16) and port (2).
io::SocketAddress address_from(int family, const unsigned char* ip, const unsigned char* port) {
  io::SocketAddress out;
  if (family == AF_INET) {
    out.storage.v4.sin_family = AF_INET;
    std::memcpy(&out.storage.v4.sin_addr, ip, 4);
    std::memcpy(&out.storage.v4.sin_port, port, 2);
    out.length = sizeof(sockaddr_in);
  } else {
    out.storage.v6.sin6_family = AF_INET6;
    std::memcpy(&out.storage.v6.sin6_addr, ip, 16);
    std::memcpy(&out.storage.v6.sin6_port, port, 2);
    out.length = sizeof(sockaddr_in6);
  }
  return out;
}

ProxyParse parse_v2(std::span<const char> in, ProxyHeader& out) {
  if (in.size() < 16) return ProxyParse::incomplete;
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  const std::size_t length = static_cast<std::size_t>(p[14] << 8 | p[15]);
  if ((p[12] & 0xF0) != 0x20) return invalid(out, kNotHeader);  // version 2 only, as HAProxy
  if (16 + length > kProxyHeaderMax) return invalid(out, kBadHeader);
  if (in.size() < 16 + length) return ProxyParse::incomplete;
  out.size = 16 + length;
  const unsigned command = p[12] & 0x0F;
  if (command == 0x0) return ProxyParse::done;  // LOCAL: the connection's own addresses
  if (command != 0x1) return invalid(out, kBadHeader);
  const unsigned char* a = p + 16;
  // UNSPEC, TCP over IPv4/IPv6, UNIX stream; UDP and the rest are refused, as HAProxy.
  const unsigned family = p[13];
  if (family != 0x00 && family != 0x11 && family != 0x21 && family != 0x31)
    return invalid(out, kBadProtocol);
  // The TLVs after the addresses must fit the header exactly.
  const std::size_t addresses = family == 0x11   ? 12
                                : family == 0x21 ? 36
                                : family == 0x31 ? 216
                                                 : 0;
  if (addresses > length) return invalid(out, kBadHeader);
  for (std::size_t at = addresses; at < length;) {
    if (length - at < 3) return invalid(out, kBadHeader);
    const std::size_t value = static_cast<std::size_t>(a[at + 1] << 8 | a[at + 2]);
    if (length - at - 3 < value) return invalid(out, kBadHeader);
    at += 3 + value;
  }
  switch (family) {
    case 0x11:  // TCP over IPv4: source, destination, then the two ports
      out.source = address_from(AF_INET, a, a + 8);
      out.destination = address_from(AF_INET, a + 4, a + 10);
      out.has_addresses = true;
      return ProxyParse::done;
    case 0x21:  // TCP over IPv6
      out.source = address_from(AF_INET6, a, a + 32);
      out.destination = address_from(AF_INET6, a + 16, a + 34);
      out.has_addresses = true;
      return ProxyParse::done;
    default:  // UNSPEC, UNIX: the connection keeps its own addresses (as the spec allows)
      return ProxyParse::done;
  }
}

// The two addresses' family when they share one sluice can write (IPv4 or IPv6), else 0.
int common_family(const io::SocketAddress& a, const io::SocketAddress& b) {
  const int family = a.family();
  return (family == AF_INET || family == AF_INET6) && b.family() == family ? family : 0;
}

}  // namespace

ProxyParse parse_proxy_header(std::span<const char> in, ProxyHeader& out) {
  out = {};
  if (in.empty()) return ProxyParse::incomplete;
  if (in[0] == 'P') {
    if (!starts(in, kV1Prefix)) return invalid(out, kNotHeader);
    return in.size() <= kV1Prefix.size() ? ProxyParse::incomplete : parse_v1(in, out);
  }
  if (!starts(in, {kV2Signature, sizeof kV2Signature})) return invalid(out, kNotHeader);
  return parse_v2(in, out);
}

std::size_t write_proxy_v1(std::span<char, kProxyHeaderOut> out, const io::SocketAddress& source,
                           const io::SocketAddress& destination) {
  const int family = common_family(source, destination);
  std::string_view text;
  if (family == 0) {
    text = "PROXY UNKNOWN\r\n";
    text.copy(out.data(), text.size());
    return text.size();
  }
  char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
  const void* sa = family == AF_INET ? static_cast<const void*>(&source.storage.v4.sin_addr)
                                     : &source.storage.v6.sin6_addr;
  const void* da = family == AF_INET ? static_cast<const void*>(&destination.storage.v4.sin_addr)
                                     : &destination.storage.v6.sin6_addr;
  inet_ntop(family, sa, s, sizeof s);
  inet_ntop(family, da, d, sizeof d);
  const int n =
      std::snprintf(out.data(), out.size(), "PROXY %s %s %s %u %u\r\n",
                    family == AF_INET ? "TCP4" : "TCP6", s, d, source.port(), destination.port());
  return n > 0 ? static_cast<std::size_t>(n) : 0;
}

std::size_t write_proxy_v2(std::span<char, kProxyHeaderOut> out, const io::SocketAddress& source,
                           const io::SocketAddress& destination) {
  std::memcpy(out.data(), kV2Signature, sizeof kV2Signature);
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  p[12] = 0x21;  // version 2, PROXY
  const int family = common_family(source, destination);
  std::size_t length = 0;
  unsigned char* a = p + 16;
  if (family == AF_INET) {
    p[13] = 0x11;
    length = 12;
    std::memcpy(a, &source.storage.v4.sin_addr, 4);
    std::memcpy(a + 4, &destination.storage.v4.sin_addr, 4);
    std::memcpy(a + 8, &source.storage.v4.sin_port, 2);
    std::memcpy(a + 10, &destination.storage.v4.sin_port, 2);
  } else if (family == AF_INET6) {
    p[13] = 0x21;
    length = 36;
    std::memcpy(a, &source.storage.v6.sin6_addr, 16);
    std::memcpy(a + 16, &destination.storage.v6.sin6_addr, 16);
    std::memcpy(a + 32, &source.storage.v6.sin6_port, 2);
    std::memcpy(a + 34, &destination.storage.v6.sin6_port, 2);
  } else {
    p[13] = 0x00;  // UNSPEC: the receiver keeps the connection's own addresses
  }
  p[14] = static_cast<unsigned char>(length >> 8);
  p[15] = static_cast<unsigned char>(length);
  return 16 + length;
}

}  // namespace sluice::proxy
