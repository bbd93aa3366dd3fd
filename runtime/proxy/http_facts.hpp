// What rules read during an HTTP exchange: the connection's addresses (ConnectionFacts),
// the request and, once it arrived, the response, and the backend chosen so far. The
// proxy points it at the messages it is working on; nothing is copied.
#pragma once

#include <span>
#include <string_view>

#include "runtime/http/message.hpp"
#include "runtime/proxy/connection_facts.hpp"

namespace sluice::proxy {

class HttpFacts final : public rules::Facts {
 public:
  // `http2`: the client speaks HTTP/2 (%HV says "HTTP/2.0").
  HttpFacts(const io::SocketAddress& client, const io::SocketAddress& local,
            const ConnectionFacts::ServerCount* usable_servers, ConnectionFacts::Tls tls = {},
            bool http2 = false)
      : connection_(client, local, usable_servers, tls),
        usable_servers_(usable_servers),
        http2_(http2) {}

  // nullptr: no such message (a response rule cannot read the request, as in HAProxy once
  // the request has been forwarded; no response before one arrived).
  void set_request(const http::Message* request) { request_ = request; }
  void set_response(const http::Message* response) { response_ = response; }
  // nbsrv() without an argument counts this backend's usable servers ("" before routing).
  void set_backend(std::string_view name) { backend_ = name; }

  rules::Value fetch(rules::FetchId id, std::span<const std::string_view> args) override;
  std::optional<std::size_t> header_count(rules::Message message) override;
  rules::HeaderField header(rules::Message message, std::size_t index) override;
  rules::Value log_var(rules::LogVar var) override;

 private:
  const http::Message* message(rules::Message which) const {
    return which == rules::Message::request ? request_ : response_;
  }

  ConnectionFacts connection_;
  const ConnectionFacts::ServerCount* usable_servers_;
  const http::Message* request_ = nullptr;
  const http::Message* response_ = nullptr;
  std::string_view backend_;
  bool http2_ = false;
};

}  // namespace sluice::proxy
