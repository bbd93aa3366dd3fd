// HttpSession's server side: picking and connecting (queues, retries, pooled
// connections), forwarding the request head, reading and relaying the response.
#include <sys/socket.h>

#include <algorithm>

#include "runtime/proxy/http_exchange.hpp"
#include "runtime/proxy/http_session.hpp"

namespace sluice::proxy {

// ---- connecting -----------------------------------------------------------------------------

bool HttpSession::connect_server(std::uint32_t avoid, bool allow_reuse) {
  Exchange& x = *x_;
  BackendState& backend = *backend_->state;
  // `http-reuse safe`: the first request of a connection never rides on a connection
  // another client used (a server closing it would fail that request, not a retry).
  const bool may_reuse = allow_reuse && (backend_->reuse == ReuseMode::always ||
                                         (backend_->reuse == ReuseMode::safe && requests_ > 1));
  if (target_ != balance::no_server) {
    backend.release(target_, share_.index());
    target_ = balance::no_server;
  }
  balance::Request pick;
  pick.source = client_address_.ip_bytes();
  pick.avoid = avoid;
  if (request_state_ == RequestState::head) {  // the head's views are still valid
    pick.target = x.request.target;
    const std::string_view name = backend.balance_header();
    if (!name.empty()) {
      const std::size_t i = x.request.headers.find(name);
      if (i < x.request.headers.size()) pick.header = x.request.headers[i].value;
    }
  }
  const BackendState::Picked picked = backend.pick(pick);
  using balance::Outcome;
  if (picked.outcome == Outcome::server_full || picked.outcome == Outcome::all_full) {
    // Server maxconn: wait in the queue for a slot, `timeout queue` long.
    response_state_ = ResponseState::queued;
    if (x.log.queued < 0) x.log.queued = share_.loop().now_ms();
    queue_deadline_ms_ = backend_->queue_ms ? share_.loop().now_ms() + backend_->queue_ms : 0;
    queued_may_reuse_ = may_reuse && avoid == balance::no_server;
    backend.wait(*this, share_.index(),
                 picked.outcome == Outcome::server_full ? picked.target.index : balance::no_server);
    return true;
  }
  if (picked.outcome != Outcome::picked) return false;
  target_ = picked.target.index;
  return connect_to(picked.target, may_reuse && avoid == balance::no_server) ||
         retry(picked.target.index);
}

bool HttpSession::retry(std::uint32_t failed, bool after_error) {
  drop_server(false);
  if (retries_left_-- <= 0) return false;
  ++x_->log.retries;
  // `option redispatch`: another server at once, as HAProxy picks again.
  if (backend_->state->config().redispatch) return connect_server(failed, false);
  // Otherwise the same server, after HAProxy's pause when it failed (a timeout has waited
  // long enough).
  granted_ = backend_->state->claim(failed);
  slot_granted_ = true;
  queued_may_reuse_ = false;
  response_state_ = ResponseState::queued;
  share_.loop().arm(*this, after_error ? backend_->state->turnaround_ms() : 0);
  return true;
}

bool HttpSession::connect_to(const ServerTarget& server, bool may_reuse) {
  server_shut_ = false;
  connect_timed_out_ = false;
  auto& log = x_->log;
  log.server = server.index;
  const std::int64_t now = share_.loop().now_ms();
  if (log.queued >= 0 && log.queue_ms < 0) log.queue_ms = now - log.queued;
  if (log.connect < 0) log.connect = now;
  ConnectBuffers buffers;
  const ConnectSpec spec = connect_spec(server.index, buffers);
  if (may_reuse) {
    if (ServerConnection* idle =
            share_.pool().take(backend_->index, server.index, spec.reuse_key)) {
      server_ = idle;
      server_->attach(this);
      server_writable_ = true;  // it was; edge-triggered epoll will not say so again
      server_readable_ = false;
      server_fin_ = false;
      server_hangup_ = false;
      response_state_ = ResponseState::head;
      log.connected = now;  // an idle connection: connected already
      share_.pool().busy(backend_->index, server.index);
      return true;
    }
  }
  io::SocketAddress address = server.address;
  if (address.port() == 0) address.set_port(local_address_.port());
  int error = 0;
  server_ =
      ServerConnection::connect(share_.loop(), address, backend_->index, server.index, spec, error);
  if (!server_) return false;
  server_->attach(this);
  share_.pool().busy(backend_->index, server.index);
  server_writable_ = server_readable_ = server_fin_ = server_hangup_ = false;
  response_state_ = ResponseState::connecting;
  return true;
}

ConnectSpec HttpSession::connect_spec(std::uint32_t server, ConnectBuffers& buffers) {
  if (backend_->servers.empty()) return {};
  const ServerOptions& options = backend_->servers[server];
  ConnectSpec spec;
  Exchange& x = *x_;
  if (options.tls) {
    if (options.sni && x.sni_format != options.sni) {
      // Rendered while the head is readable; a later connect (retry, queue) to a server
      // with another expression renders without it (header fetches find nothing).
      HttpFacts facts = client_facts();
      if (request_state_ == RequestState::head) facts.set_request(&x.request);
      x.sni_length = options.sni->render(facts, x.sni).size;
      x.sni_format = options.sni;
    }
    spec.tls = options.tls;
    if (options.sni) spec.server_name = {x.sni.data(), x.sni_length};
    spec.loop = share_.index();
  }
  std::size_t key = spec.server_name.size();
  std::copy(spec.server_name.begin(), spec.server_name.end(), buffers.key.begin());
  if (options.send_proxy != 0) {
    spec.preamble = {buffers.preamble.data(),
                     options.send_proxy == 2
                         ? write_proxy_v2(buffers.preamble, client_address_, local_address_)
                         : write_proxy_v1(buffers.preamble, client_address_, local_address_)};
    buffers.key[key++] = '\0';
    for (const io::SocketAddress* a : {&client_address_, &local_address_}) {
      const auto* bytes = reinterpret_cast<const char*>(&a->storage);
      const std::size_t n = std::min<std::size_t>(a->length, sizeof(sockaddr_in6));
      std::copy(bytes, bytes + n, buffers.key.begin() + static_cast<std::ptrdiff_t>(key));
      key += n;
    }
  }
  spec.reuse_key = {buffers.key.data(), key};
  return spec;
}

void HttpSession::log_server_tls_failure(std::string_view why, bool certificate_rejected) {
  if (x_ == nullptr) return;
  const auto& backend = backend_->state->config();
  const std::uint32_t server = x_->log.server;
  proxy::log_server_tls_failure(share_.logger(frontend_.index), client_address_,
                                frontend_.config->name, backend.name,
                                server < backend.servers.size() ? backend.servers[server].name : "",
                                why, certificate_rejected);
}

void HttpSession::on_server_slot(const ServerTarget& server) {
  // Called from inside another connection's release: the work waits for the timer.
  granted_ = server;
  slot_granted_ = true;
  share_.loop().arm(*this, 0);
}

void HttpSession::leave_queue(bool granted) {
  if (!granted) {
    // `timeout queue`: HAProxy's 503.
    terminated('s', 'Q');
    backend_->state->stop_waiting(*this);
    response_state_ = ResponseState::none;
    reply_error(503);
    return;
  }
  slot_granted_ = false;
  target_ = granted_.index;
  if (connect_to(granted_, queued_may_reuse_) || retry(granted_.index)) return;
  reply_error(503);
}

bool HttpSession::start_forwarding() {
  Exchange& x = *x_;
  http::Message& request = x.request;
  const bool upgrade = request.upgrade_requested;
  http::remove_hop_by_hop(request, {.keep_upgrade = upgrade, .keep_transfer_encoding = true});
  bool fits = true;
  if (upgrade) {
    fits = request.headers.push_back("Connection", "upgrade");
  } else if (!server_keep_alive_ && request.version == http::Version::http_1_1) {
    fits = request.headers.push_back("Connection", "close");
  } else if (server_keep_alive_ && request.version == http::Version::http_1_0) {
    fits = request.headers.push_back("Connection", "keep-alive");
  }
  const http::WriteResult w =
      fits ? http::write_head(request, x.server_out.space()) : http::WriteResult{};
  if (!w.fits) {
    drop_server(false);
    reply_error(500, true);
    return false;
  }
  x.server_out.produced(w.size);
  x.client_in.consumed(head_size_);
  request_method_ = request.method;
  request_version_ = request.version;
  request_upgrade_ = upgrade;
  x.request_body.start(request);
  request_state_ = request.body == http::BodyKind::none ? RequestState::done : RequestState::body;
  // A bodiless request can be sent again on a new connection if a reused one turns out
  // closed before answering.
  x.hold = request_state_ == RequestState::done;
  x.server_sent = 0;
  x.response_parser.start_response(request_method_, request_upgrade_);
  return true;
}

// ---- server side --------------------------------------------------------------------------

bool HttpSession::write_server() {
  if (server_ == nullptr || response_state_ == ResponseState::connecting || !server_writable_)
    return false;
  Exchange& x = *x_;
  const std::size_t offset = x.hold ? x.server_sent : 0;
  if (x.server_out.size() <= offset) {
    // Tunnel: the client's FIN goes on once its bytes have.
    if (tunnel_ && request_state_ == RequestState::done && !server_shut_) {
      server_->link().shutdown_write();
      server_shut_ = true;
    }
    return false;
  }
  std::size_t n = 0;
  const auto pending = x.server_out.view().subspan(offset);
  switch (server_->link().transmit(pending, n)) {
    case Io::moved:
      if (n < pending.size()) server_writable_ = false;  // full: EPOLLOUT says when not
      if (x.hold)
        x.server_sent += n;
      else
        x.server_out.consumed(n);
      return true;
    case Io::blocked:
      server_writable_ = false;
      return false;
    default:
      server_failed(false);
      return true;
  }
}

bool HttpSession::read_server() {
  if (server_ == nullptr || response_state_ == ResponseState::connecting || !server_readable_ ||
      server_fin_)
    return false;
  Exchange& x = *x_;
  auto space = x.server_in.space();
  if (space.empty()) return false;
  std::size_t n = 0;
  bool drained = false;
  switch (server_->link().receive(space, n, drained)) {
    case Io::moved:
      x.server_in.produced(n);
      if (drained && !server_hangup_) server_readable_ = false;
      if (!server_answered_) {
        server_answered_ = true;
        if (x.hold) {
          x.server_out.consumed(x.server_sent);
          x.server_sent = 0;
          x.hold = false;
        }
      }
      return true;
    case Io::blocked:
      server_readable_ = false;
      return false;
    case Io::closed:
    case Io::failed:
      server_fin_ = true;
      return true;
  }
  return false;
}

bool HttpSession::step_response() {
  if (x_ == nullptr || server_ == nullptr) return false;
  Exchange& x = *x_;
  bool moved = false;
  if (response_state_ == ResponseState::head) {
    if (x.server_in.empty()) {
      if (server_fin_) server_failed(false);
      return server_fin_;
    }
    const http::ParseResult r = x.response_parser.parse(x.server_in.view(), x.response);
    if (r.status == http::ParseStatus::need_more) {
      if (server_fin_) {
        drop_server(false);
        reply_error(502);
        return true;
      }
      return false;
    }
    if (r.status == http::ParseStatus::error) {
      drop_server(false);
      reply_error(502);
      return true;
    }
    if (x.response.is_interim()) {
      // 100 Continue and friends go to the client as they are (not to HTTP/1.0 clients,
      // which do not know them); the final response follows on the same connection.
      if (request_version_ == http::Version::http_1_1) {
        const http::WriteResult w = http::write_head(x.response, x.client_out.space());
        if (w.fits) x.client_out.produced(w.size);
      }
      x.server_in.consumed(r.consumed);
      x.response_parser.start_response(request_method_, request_upgrade_);
      return true;
    }
    process_response_head(r.consumed);
    // Body bytes that came with the head go out with it: one send, not two.
    if (closed_ || x_ == nullptr || server_ == nullptr || response_state_ != ResponseState::body)
      return true;
    moved = true;
  } else if (response_state_ != ResponseState::body) {
    return false;
  }
  const BodyMove m = move_body(x.response_body, x.server_in, x.client_out, dechunk_);
  moved |= m.moved;
  if (m.status == http::BodyStatus::error) {
    abort_after_flush();  // the client has part of this response: only a close can tell
    return true;
  }
  if (m.status == http::BodyStatus::done) {
    response_state_ = ResponseState::done;
    return true;
  }
  if (server_fin_ && x.server_in.empty()) {
    const http::BodyResult r = x.response_body.finish();
    if (r.status != http::BodyStatus::done) {
      abort_after_flush();  // truncated framed body: what came, then the close
      return true;
    }
    server_keep_alive_ = false;
    response_state_ = ResponseState::done;
    if (tunnel_) {
      // The server's half of a tunnel ended: the client gets the FIN after the bytes.
      keep_alive_ = false;
    }
    return true;
  }
  return moved;
}

void HttpSession::process_response_head(std::size_t head_size) {
  Exchange& x = *x_;
  http::Message& response = x.response;
  x.log.response = share_.loop().now_ms();
  x.log.status = response.status;
  HttpFacts facts = client_facts();
  facts.set_response(&response);
  facts.set_backend(backend_->state->config().name);
  x.arena.reset();
  x.reply_headers.clear();
  RuleContext ctx{facts, x.arena, share_.scratch(), x.reply_headers};
  const HttpRuleSet* rule_sets[] = {&backend_->response_rules, &frontend_.response_rules};
  for (const HttpRuleSet* rules : rule_sets) {
    const RuleOutcome outcome = rules->run(response, ctx);
    if (outcome.kind == RuleOutcome::Kind::proceed) continue;
    drop_server(false);
    if (outcome.kind == RuleOutcome::Kind::failed)
      reply_error(500, true);
    else
      reply_rule(outcome);
    return;
  }

  tunnel_ = response.body == http::BodyKind::tunnel;
  if (!response.keep_alive || response.body == http::BodyKind::until_close)
    server_keep_alive_ = false;
  if (response.body == http::BodyKind::until_close) keep_alive_ = false;
  if (response.body == http::BodyKind::chunked && request_version_ == http::Version::http_1_0) {
    dechunk_ = true;  // HTTP/1.0 has no chunked coding: the data, then a close
    keep_alive_ = false;
  }
  if (request_state_ != RequestState::done) keep_alive_ = false;  // answered mid-body
  if (share_.stopping()) keep_alive_ = false;  // soft stop: the client is told to go
  if (tunnel_) keep_alive_ = false;

  http::remove_hop_by_hop(response, {.keep_upgrade = tunnel_, .keep_transfer_encoding = !dechunk_});
  bool fits = true;
  if (tunnel_ && response.status == 101) {
    fits = response.headers.push_back("Connection", "upgrade");
  } else if (!keep_alive_) {
    fits = response.headers.push_back("connection", "close");
  } else if (keep_alive_ && request_version_ == http::Version::http_1_0) {
    fits = response.headers.push_back("connection", "keep-alive");
  }
  response.version = http::Version::http_1_1;  // what sluice speaks, whatever the server did
  const http::WriteResult w =
      fits ? http::write_head(response, x.client_out.space()) : http::WriteResult{};
  if (!w.fits) {
    drop_server(false);
    reply_error(500, true);
    return;
  }
  x.client_out.produced(w.size);
  x.server_in.consumed(head_size);
  x.response_body.start(response);
  response_state_ =
      response.body == http::BodyKind::none ? ResponseState::done : ResponseState::body;
  if (tunnel_) {
    // Both halves become raw byte streams.
    x.request_body.start(http::BodyKind::tunnel, 0, true);
    request_state_ = RequestState::body;
  }
}

void HttpSession::abort_after_flush() {
  terminated('S', 'D');
  drop_server(false);
  keep_alive_ = false;
  closing_ = true;
}

void HttpSession::server_failed(bool timed_out) {
  if (x_ == nullptr) return;
  Exchange& x = *x_;
  const bool connecting = response_state_ == ResponseState::connecting;
  const bool reused = server_ && server_->reused();
  drop_server(false);
  if (connecting) {
    // Refused, or `timeout connect`: retried while retries last.
    connect_timed_out_ = timed_out;
    if (!retry(last_server_, !timed_out)) reply_error(503);
    return;
  }
  if (!server_answered_ && reused && x.hold) {
    // An idle connection the server had closed meanwhile: the same bytes on a fresh one.
    x.server_sent = 0;
    if (connect_server(balance::no_server, false)) return;
    reply_error(503, false);
    return;
  }
  if (!server_answered_) {
    reply_error(timed_out ? 504 : 502);
    return;
  }
  abort_after_flush();  // what the server said before failing still reaches the client
}

void HttpSession::drop_server(bool reusable) {
  if (target_ != balance::no_server && backend_) {
    last_server_ = target_;
    backend_->state->release(target_, share_.index());
    target_ = balance::no_server;
  }
  if (backend_ && waiting()) backend_->state->stop_waiting(*this);
  if (slot_granted_) {
    slot_granted_ = false;
    backend_->state->release(granted_.index, share_.index());
  }
  if (server_ == nullptr) return;
  ServerConnection* c = server_;
  server_ = nullptr;
  share_.pool().released(c->backend(), c->server());
  if (reusable && x_ && x_->server_in.empty() && backend_->reuse != ReuseMode::never &&
      !share_.stopping() && !(server_readable_ && c->has_pending_input())) {
    share_.pool().give(*c);
  } else {
    c->close();
  }
}

}  // namespace sluice::proxy
