#include "runtime/proxy/connection_facts.hpp"

#include <algorithm>
#include <charconv>

namespace sluice::proxy {

rules::IpAddress ip_of(const io::SocketAddress& address) {
  const auto bytes = address.ip_bytes();
  rules::IpAddress ip;
  ip.v6 = bytes.size() == 16;
  std::copy(bytes.begin(), bytes.end(), ip.bytes.begin());
  return ip;
}

// A TLS text fact; no sample without TLS or when the stream does not know it.
rules::Value ConnectionFacts::tls_text(std::string_view (tls::Stream::*fact)() const) const {
  if (tls_.stream == nullptr) return {};
  const std::string_view text = (tls_.stream->*fact)();
  return text.empty() ? rules::Value{} : rules::Value::text_of(text);
}

// ssl_c_s_dn / ssl_c_i_dn([entry[,occurrence[,format]]]).
rules::Value ConnectionFacts::client_name(bool subject, std::span<const std::string_view> args) {
  X509* cert = tls_.stream ? tls_.stream->peer_certificate() : nullptr;
  if (cert == nullptr) return {};
  const std::string_view entry = args.size() > 0 ? args[0] : std::string_view();
  int occurrence = 1;
  if (args.size() > 1 && !args[1].empty())
    std::from_chars(args[1].data(), args[1].data() + args[1].size(), occurrence);
  const bool rfc2253 = args.size() > 2 && args[2] == "rfc2253";
  auto& out = subject ? subject_scratch_ : issuer_scratch_;
  const std::string_view text =
      tls::format_name(subject ? X509_get_subject_name(cert) : X509_get_issuer_name(cert), out,
                       entry, occurrence, rfc2253);
  return text.empty() ? rules::Value{} : rules::Value::text_of(text);
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
      return Value::boolean_of(tls_.bind);
    case FetchId::ssl_c_used:
      return tls_.stream ? Value::boolean_of(tls_.stream->peer_certificate() != nullptr) : Value{};
    case FetchId::ssl_c_verify:
      return tls_.stream ? Value::integer_of(tls_.stream->verify_result()) : Value{};
    case FetchId::ssl_c_s_dn:
    case FetchId::ssl_c_i_dn:
      return client_name(id == FetchId::ssl_c_s_dn, args);
    case FetchId::ssl_c_serial:
    case FetchId::ssl_c_notafter: {
      X509* cert = tls_.stream ? tls_.stream->peer_certificate() : nullptr;
      if (cert == nullptr) return {};
      return id == FetchId::ssl_c_serial ? Value::binary_of(tls::serial(cert))
                                         : Value::text_of(tls::not_after(cert));
    }
    case FetchId::ssl_fc_sni:
      return tls_text(&tls::Stream::server_name);
    case FetchId::ssl_fc_protocol:
      return tls_text(&tls::Stream::protocol);
    case FetchId::ssl_fc_cipher:
      return tls_text(&tls::Stream::cipher);
    case FetchId::ssl_fc_alpn:
      return tls_text(&tls::Stream::alpn);
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
