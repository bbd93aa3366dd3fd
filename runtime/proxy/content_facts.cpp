#include "runtime/proxy/content_facts.hpp"

namespace sluice::proxy {

tls::HelloParse ContentFacts::hello() {
  if (!parsed_) parsed_ = tls::parse_client_hello(payload_, hello_, hello_scratch_);
  return *parsed_;
}

rules::Value ContentFacts::fetch(rules::FetchId id, std::span<const std::string_view> args) {
  using rules::FetchId;
  using rules::Value;
  switch (id) {
    case FetchId::req_ssl_hello_type:
      if (hello() != tls::HelloParse::complete) return {};
      return Value::integer_of(hello_.handshake_type);
    case FetchId::req_ssl_sni:
      if (hello() != tls::HelloParse::complete || !hello_.has_sni) return {};
      return Value::text_of(hello_.sni);
    default:
      return ConnectionFacts::fetch(id, args);
  }
}

bool ContentFacts::may_change(rules::FetchId id) {
  using rules::FetchId;
  if (id != FetchId::req_ssl_hello_type && id != FetchId::req_ssl_sni) return false;
  return hello() == tls::HelloParse::need_more;
}

}  // namespace sluice::proxy
