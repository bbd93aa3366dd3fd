// The PROXY protocol (versions 1 and 2, proxy-protocol.txt): reading the header a load
// balancer in front of sluice puts before a connection's bytes (`bind … accept-proxy`), and
// writing the one sluice puts before its own to a server (`send-proxy`, `send-proxy-v2`).
// Pure byte work, no socket.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "runtime/io/socket.hpp"

namespace sluice::proxy {

enum class ProxyParse : std::uint8_t { incomplete, done, invalid };

struct ProxyHeader {
  std::size_t size = 0;  // bytes the header takes, TLVs included
  // Addresses given (TCP over IPv4/IPv6); false for LOCAL, UNKNOWN and other families,
  // whose connections keep their own addresses.
  bool has_addresses = false;
  io::SocketAddress source, destination;
  // Why `invalid`, in HAProxy's words for its log.
  std::string_view error;
};

// The longest header read: v1's 107 bytes, v2's 16 plus its TLVs, up to HAProxy's default
// buffer size (tune.bufsize).
inline constexpr std::size_t kProxyHeaderMax = 16384;

// Reads a header at the start of `in`: `incomplete` while what came can still start one.
ProxyParse parse_proxy_header(std::span<const char> in, ProxyHeader& out);

// Room enough for either header sluice writes.
inline constexpr std::size_t kProxyHeaderOut = 128;

// "PROXY TCP4 src dst sport dport\r\n" (TCP6, or "PROXY UNKNOWN\r\n" when the families
// are not both IPv4 or both IPv6). Returns the size written.
std::size_t write_proxy_v1(std::span<char, kProxyHeaderOut> out, const io::SocketAddress& source,
                           const io::SocketAddress& destination);
// The binary header, command PROXY, no TLV (as HAProxy sends for a plain connection).
std::size_t write_proxy_v2(std::span<char, kProxyHeaderOut> out, const io::SocketAddress& source,
                           const io::SocketAddress& destination);

}  // namespace sluice::proxy
