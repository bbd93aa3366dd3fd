#include "runtime/proxy/http_facts.hpp"

#include "runtime/http/serializer.hpp"

namespace sluice::proxy {

rules::Value HttpFacts::fetch(rules::FetchId id, std::span<const std::string_view> args) {
  using rules::FetchId;
  using rules::Value;
  switch (id) {
    case FetchId::src:
    case FetchId::src_port:
    case FetchId::dst:
    case FetchId::dst_port:
    case FetchId::ssl_fc:
    case FetchId::ssl_c_used:
    case FetchId::ssl_fc_sni:
    case FetchId::ssl_fc_protocol:
    case FetchId::ssl_fc_cipher:
    case FetchId::ssl_fc_alpn:
    case FetchId::ssl_c_verify:
    case FetchId::ssl_c_s_dn:
    case FetchId::ssl_c_i_dn:
    case FetchId::ssl_c_serial:
    case FetchId::ssl_c_notafter:
      return connection_.fetch(id, args);
    case FetchId::method:
      if (request_ == nullptr) return {};
      // A message built by hand may carry the enum only.
      return Value::text_of(request_->method_token.empty() ? http::method_name(request_->method)
                                                           : request_->method_token);
    case FetchId::url:
      return request_ == nullptr ? Value{} : Value::text_of(request_->target);
    case FetchId::status:
      return response_ == nullptr ? Value{} : Value::integer_of(response_->status);
    case FetchId::nbsrv: {
      if (usable_servers_ == nullptr) return {};
      const int n = (*usable_servers_)(args.empty() ? backend_ : args.front());
      return n < 0 ? Value{} : Value::integer_of(n);
    }
    default:
      return {};
  }
}

std::optional<std::size_t> HttpFacts::header_count(rules::Message which) {
  const http::Message* m = message(which);
  if (m == nullptr) return std::nullopt;
  return m->headers.size();
}

rules::HeaderField HttpFacts::header(rules::Message which, std::size_t index) {
  const http::Message* m = message(which);
  if (m == nullptr || index >= m->headers.size()) return {};
  const http::Header& h = m->headers[index];
  return {h.name, h.value};
}

rules::Value HttpFacts::log_var(rules::LogVar var) {
  if (var != rules::LogVar::http_version) return {};
  if (http2_) return rules::Value::text_of("HTTP/2.0");
  if (request_ == nullptr) return {};
  return rules::Value::text_of(request_->version == http::Version::http_1_0 ? "HTTP/1.0"
                                                                            : "HTTP/1.1");
}

}  // namespace sluice::proxy
