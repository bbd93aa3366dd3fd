#include "runtime/proxy/connection_facts.hpp"

#include <algorithm>

namespace sluice::proxy {

rules::IpAddress ip_of(const io::SocketAddress& address) {
  const auto bytes = address.ip_bytes();
  rules::IpAddress ip;
  ip.v6 = bytes.size() == 16;
  std::copy(bytes.begin(), bytes.end(), ip.bytes.begin());
  return ip;
}

rules::Value ConnectionFacts::fetch(rules::FetchId id, std::span<const std::string_view> args) {
  using rules::FetchId;
  using rules::Value;
  switch (id) {
    case FetchId::src:
      return client_.ip_bytes().empty() ? Value{} : Value::address_of(ip_of(client_));
    case FetchId::src_port:
      return Value::integer_of(client_.port());
    case FetchId::dst:
      return local_.ip_bytes().empty() ? Value{} : Value::address_of(ip_of(local_));
    case FetchId::dst_port:
      return Value::integer_of(local_.port());
    case FetchId::ssl_fc:
      return Value::boolean_of(false);  // no TLS layer on this connection
    case FetchId::ssl_c_used:
      return Value::boolean_of(false);
    case FetchId::nbsrv: {
      if (usable_servers_ == nullptr) return {};
      const int n = (*usable_servers_)(args.empty() ? std::string_view() : args.front());
      return n < 0 ? Value{} : Value::integer_of(n);
    }
    default:
      return {};  // HTTP and TLS facts: not at this layer
  }
}

}  // namespace sluice::proxy
