// libFuzzer target: any bytes as what a client sends first on an `accept-proxy` bind, for the
// PROXY protocol header reader (v1 and v2). Input: two control bytes (where to cut the input
// into a first segment), then the bytes. Checks the answer's invariants (a header done takes
// 8 to 2048 bytes of the input; incomplete only while shorter than the longest header; a
// refusal says why in one of HAProxy's words), that a prefix never contradicts the whole
// (sluice re-reads the header as more arrives, so the answer must not depend on how the
// header was cut into segments), that the header alone reads the same, and that the
// addresses read back through write_proxy_v1/v2. Every parse reads an exactly sized heap
// copy, so that ASan sees any read past the input.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>

#include "runtime/proxy/proxy_protocol.hpp"

using namespace sluice;
using namespace sluice::proxy;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

ProxyParse parse(std::string_view bytes, ProxyHeader& out) {
  auto copy = std::make_unique<char[]>(bytes.size());
  if (!bytes.empty()) std::memcpy(copy.get(), bytes.data(), bytes.size());
  return parse_proxy_header(std::span<const char>(copy.get(), bytes.size()), out);
}

bool same_address(const io::SocketAddress& a, const io::SocketAddress& b) {
  if (a.family() != b.family() || a.length != b.length) return false;
  if (a.family() == AF_INET)
    return std::memcmp(&a.storage.v4.sin_addr, &b.storage.v4.sin_addr, 4) == 0 &&
           a.storage.v4.sin_port == b.storage.v4.sin_port;
  if (a.family() == AF_INET6)
    return std::memcmp(&a.storage.v6.sin6_addr, &b.storage.v6.sin6_addr, 16) == 0 &&
           a.storage.v6.sin6_port == b.storage.v6.sin6_port;
  return true;
}

bool same(ProxyParse sa, const ProxyHeader& a, ProxyParse sb, const ProxyHeader& b) {
  if (sa != sb || a.error != b.error) return false;
  if (sa != ProxyParse::done) return true;
  return a.size == b.size && a.has_addresses == b.has_addresses &&
         (!a.has_addresses ||
          (same_address(a.source, b.source) && same_address(a.destination, b.destination)));
}

constexpr std::string_view kErrors[] = {
    "Received something which does not look like a PROXY protocol header",
    "Received an invalid PROXY protocol header",
    "Received an unhandled protocol in the PROXY protocol header",
};

void check_answer(std::string_view in, ProxyParse status, const ProxyHeader& h) {
  switch (status) {
    case ProxyParse::done:
      check(h.size >= 8 && h.size <= in.size() && h.size <= kProxyHeaderMax);
      check(h.error.empty());
      if (in[0] == 'P') check(h.size <= 107 && in.substr(h.size - 2, 2) == "\r\n");
      if (h.has_addresses) {
        const int family = h.source.family();
        check(family == AF_INET || family == AF_INET6);
        check(h.destination.family() == family);
        const socklen_t length = family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
        check(h.source.length == length && h.destination.length == length);
      }
      break;
    case ProxyParse::incomplete:
      check(in.size() < kProxyHeaderMax);
      if (!in.empty() && in[0] == 'P') check(in.size() < 107);
      check(h.size == 0 && !h.has_addresses && h.error.empty());
      break;
    case ProxyParse::invalid: {
      check(!in.empty());
      check(!h.has_addresses);
      bool known = false;
      for (std::string_view e : kErrors)
        known = known || h.error == e;
      check(known);
      break;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data + 2), size - 2);

  ProxyHeader whole;
  const ProxyParse status = parse(in, whole);
  check_answer(in, status, whole);

  // A first segment never contradicts the whole: it waits for more, or has decided the same.
  const std::size_t cut = (std::size_t{data[0]} << 8 | data[1]) % (in.size() + 1);
  ProxyHeader prefix;
  const ProxyParse prefix_status = parse(in.substr(0, cut), prefix);
  check_answer(in.substr(0, cut), prefix_status, prefix);
  check(prefix_status == ProxyParse::incomplete || same(prefix_status, prefix, status, whole));
  // Cut inside the header: still waiting; past it: the same header.
  if (status == ProxyParse::done) {
    if (cut < whole.size)
      check(prefix_status == ProxyParse::incomplete);
    else
      check(same(prefix_status, prefix, status, whole));
  }
  if (status != ProxyParse::done) return 0;

  // The header alone reads the same.
  ProxyHeader alone;
  const ProxyParse alone_status = parse(in.substr(0, whole.size), alone);
  check(same(alone_status, alone, status, whole));

  // Written again, either version, the addresses read back.
  if (!whole.has_addresses) return 0;
  for (int version : {1, 2}) {
    std::array<char, kProxyHeaderOut> out{};
    const std::size_t n = version == 1 ? write_proxy_v1(out, whole.source, whole.destination)
                                       : write_proxy_v2(out, whole.source, whole.destination);
    check(n >= 16 && n <= out.size());
    ProxyHeader again;
    check(parse({out.data(), n}, again) == ProxyParse::done);
    check(again.size == n && again.has_addresses);
    check(same_address(again.source, whole.source));
    check(same_address(again.destination, whole.destination));
  }
  return 0;
}
