// HttpSession: lifetime, events, the client side, request processing, local replies and
// timeouts. The server side is in http_session_server.cpp, the traffic log in
// http_session_log.cpp, what every session of a loop shares in http_loop_share.cpp; what
// an exchange holds in http_exchange.hpp.
#include "runtime/proxy/http_session.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <chrono>

#include "runtime/proxy/http_exchange.hpp"

namespace sluice::proxy {

namespace {

// How long a closing connection waits for the client's FIN after ours (lingering, so the
// client reads our response rather than a reset).
constexpr std::int64_t kLingerMs = 1000;

}  // namespace

// ---- lifetime -------------------------------------------------------------------------

void HttpSession::start(HttpLoopShare& share, AcceptedClient client, ConnectionSlot slot,
                        const HttpFrontend& frontend, tls::Stream tls) {
  const bool registered = static_cast<bool>(tls);
  auto* session =
      new HttpSession(share, std::move(client), std::move(slot), frontend, std::move(tls));
  session->join(share);
  const int fd = session->own_client_.fd();
  if (!(registered ? share.loop().modify(fd, *session) : share.loop().add(fd, *session))) {
    session->close();
    return;
  }
  if (session->client_readable_) {
    session->advance();  // the handshake's last read brought request bytes along
    return;
  }
  session->rearm();
}

void HttpSession::join(HttpLoopShare& share) {
  share.loop().adopt(*this);
  share.listen_for_stop(*this);
}

HttpSession* HttpSession::start_stream(HttpLoopShare& share, ClientSide& client,
                                       const io::SocketAddress& peer,
                                       const io::SocketAddress& local, const HttpFrontend& frontend,
                                       std::uint32_t prior_requests) {
  AcceptedClient none;
  none.peer = peer;
  none.local = local;
  auto* session = new HttpSession(share, std::move(none), ConnectionSlot(), frontend, {});
  session->client_ = &client;
  session->requests_ = prior_requests;
  session->client_readable_ = client.pending();
  session->join(share);
  session->rearm();
  return session;
}

HttpSession::HttpSession(HttpLoopShare& share, AcceptedClient client, ConnectionSlot slot,
                         const HttpFrontend& frontend, tls::Stream tls)
    : share_(share),
      frontend_(frontend),
      slot_(std::move(slot)),
      own_client_(std::move(client.fd), std::move(tls)),
      client_address_(client.peer),
      local_address_(client.local) {
  client_readable_ = client_->pending();
  if (frontend_.log_kind != log::TrafficLog::connect) {
    logger_ = share_.logger(frontend_.index);
    if (logger_ && logger_->empty()) logger_ = nullptr;
  }
  // The first request has `timeout http-request` from the accept on (HAProxy: a client
  // that connects and sends nothing gets a 408). Without it, `timeout client` applies as
  // an inactivity timeout.
  const std::int64_t wait = frontend_.http_request_ms;
  head_deadline_ms_ = wait ? share_.loop().now_ms() + wait : 0;
}

HttpSession::~HttpSession() {
  if (backend_ && waiting()) backend_->state->stop_waiting(*this);
  // The loop deletes what is still open when it ends, server connections included (so
  // they are not touched here); the buffers go back to the share, which outlives the loop.
  if (x_) share_.release(x_);
}

void HttpSession::close() {
  if (closed_) return;
  closed_ = true;
  share_.forget(*this);
  share_.loop().cancel(*this);
  if (x_ && x_->log.start >= 0) {
    terminated(client_fin_ ? 'C' : 'S', request_state_ == RequestState::head ? 'R' : 'D');
    log_exchange();
  }
  drop_server(false);
  client_->detach();
  if (x_) {
    share_.release(x_);
    x_ = nullptr;
  }
  slot_.release();
  share_.loop().retire(*this);
}

void HttpSession::on_soft_stop() {
  const bool between_requests =
      request_state_ == RequestState::head && response_state_ == ResponseState::none &&
      (x_ == nullptr || (x_->client_in.empty() && x_->client_out.empty()));
  // A connection that has not sent its first request yet stays: the request may be on its
  // way, and a client does not retry a new connection's request (HAProxy keeps it too).
  // A kept-alive one gets a short grace: a busy client's next request, often on its way
  // already, is answered with a close rather than cut; an idle client's connection
  // closes when the grace ends.
  if (between_requests && requests_ > 0) {
    const std::int64_t grace = share_.loop().now_ms() + kSoftStopGraceMs;
    if (head_deadline_ms_ == 0 || head_deadline_ms_ > grace) head_deadline_ms_ = grace;
    rearm();
  }
  // Otherwise: finish_exchange sees share_.stopping() and closes after this exchange.
}

// ---- events -----------------------------------------------------------------------------

void HttpSession::on_events(std::uint32_t events) {
  if (closed_) return;
  events = client_->on_events(events);
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) client_readable_ = true;
  if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) client_hangup_ = true;
  if (events & EPOLLOUT) client_writable_ = true;
  advance();
}

void HttpSession::on_server_events(std::uint32_t events) {
  if (closed_ || server_ == nullptr) return;
  if (response_state_ == ResponseState::connecting) {
    switch (server_->establish(events)) {
      case ServerConnection::Progress::waiting:
        return;
      case ServerConnection::Progress::failed:
        if (!server_->tls_failure().empty())
          log_server_tls_failure(server_->tls_failure(), server_->certificate_rejected());
        server_failed(false);
        if (!closed_) advance();
        return;
      case ServerConnection::Progress::ready:
        break;
    }
    response_state_ = ResponseState::head;
    if (x_) x_->log.connected = share_.loop().now_ms();
    if (server_->link().tls()) {
      // The handshake's last event may have been a read: the socket has been writable
      // all along and edge-triggered epoll will not say so again.
      events |= EPOLLOUT;
    }
  }
  events = server_->link().translate(events);
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
    server_readable_ = true;
    server_->link().readable((events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0);
  }
  if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) server_hangup_ = true;
  if (events & EPOLLOUT) server_writable_ = true;
  advance();
}

void HttpSession::advance() {
  bool moved = true;
  while (moved && !closed_) {
    moved = read_client();
    if (closed_) return;
    moved |= step_request();
    if (closed_) return;
    moved |= write_server();
    if (closed_) return;
    moved |= read_server();
    if (closed_) return;
    moved |= step_response();
    if (closed_) return;
    moved |= write_client();
    if (closed_) return;
    if (request_state_ == RequestState::done && response_state_ == ResponseState::done) {
      finish_exchange();
      moved = true;
    }
  }
  if (closed_) return;
  if (tunnel_ && response_state_ == ResponseState::done && !closing_) {
    // The server ended its half of the tunnel: as HAProxy does, the whole connection
    // ends, the client getting the server's last bytes, then our FIN.
    drop_server(false);
    closing_ = true;
  }
  if (closing_ && x_ && x_->client_out.empty()) {
    // Everything said: our FIN, then wait briefly for the client's so that it reads the
    // response instead of a reset caused by request bytes we never read. Once: every
    // shutdown() wakes the socket again (a new EPOLLOUT edge).
    if (!client_fin_) {
      if (!client_shut_) {
        client_->shutdown_write();
        client_shut_ = true;
        if (!client_->lingers()) {
          close();
          return;
        }
        share_.loop().arm(*this, kLingerMs);
      }
      return;
    }
    close();
    return;
  }
  // Idle between requests: nothing buffered, so the exchange's memory goes back to the loop.
  if (x_ && !closing_ && request_state_ == RequestState::head &&
      response_state_ == ResponseState::none && x_->client_in.empty() && x_->client_out.empty() &&
      server_ == nullptr) {
    share_.release(x_);
    x_ = nullptr;
  }
  rearm();
}

// ---- client side --------------------------------------------------------------------------

bool HttpSession::read_client() {
  if (!client_readable_ || client_fin_) return false;
  if (x_ == nullptr) {
    x_ = share_.acquire();
    x_->request_parser.start_request();
  }
  if (closing_) {
    // Lingering: read and forget until the client's FIN.
    char sink[4096];
    std::size_t n = 0;
    bool drained = false;
    Io r = client_->receive(sink, n, drained);
    if (r == Io::blocked) client_readable_ = false;
    if (r == Io::closed || r == Io::failed) client_fin_ = true;
    return r == Io::moved || client_fin_;
  }
  auto space = x_->client_in.space();
  if (space.empty()) return false;
  std::size_t n = 0;
  bool drained = false;
  switch (client_->receive(space, n, drained)) {
    case Io::moved:
      if (request_state_ == RequestState::head && x_->client_in.empty() && requests_ > 0 &&
          response_state_ == ResponseState::none) {
        // The next request's first byte: its head has `timeout http-request` from now
        // (else `timeout client` applies between bytes).
        const std::int64_t wait = frontend_.http_request_ms;
        head_deadline_ms_ = wait ? share_.loop().now_ms() + wait : 0;
      }
      if (logger_) {
        if (x_->log.start < 0 && request_state_ == RequestState::head &&
            response_state_ == ResponseState::none) {
          x_->log.start = share_.loop().now_ms();
          x_->log.date = std::chrono::system_clock::now();
        }
        x_->log.bytes_in += n;
      }
      x_->client_in.produced(n);
      // A short read drained the socket: edge-triggered epoll reports the next bytes, so
      // the recv that would only say EAGAIN is skipped (not when a FIN is pending).
      if (drained && !client_hangup_) client_readable_ = false;
      return true;
    case Io::blocked:
      client_readable_ = false;
      return false;
    case Io::closed:
      client_fin_ = true;
      return true;
    case Io::failed:
      close();
      return false;
  }
  return false;
}

bool HttpSession::write_client() {
  if (x_ == nullptr || x_->client_out.empty() || !client_writable_) return false;
  std::size_t n = 0;
  switch (client_->transmit(x_->client_out.view(), n)) {
    case Io::moved:
      // A short write filled the socket: EPOLLOUT says when there is room again.
      if (n < x_->client_out.size()) client_writable_ = false;
      x_->client_out.consumed(n);
      x_->log.bytes_out += n;
      return true;
    case Io::blocked:
      client_writable_ = false;
      return false;
    default:
      close();
      return false;
  }
}

bool HttpSession::step_request() {
  if (x_ == nullptr || closing_) return false;
  Exchange& x = *x_;
  bool moved = false;
  if (request_state_ == RequestState::head) {
    // One exchange at a time: the next request waits until the last response is out.
    if (response_state_ != ResponseState::none || !x.client_out.empty()) return false;
    if (x.client_in.empty()) {
      if (client_fin_) close();
      return false;
    }
    const http::ParseResult r = x.request_parser.parse(x.client_in.view(), x.request);
    if (r.status == http::ParseStatus::need_more) {
      if (client_fin_) close();  // gone mid-head: nothing to answer to
      return false;
    }
    if (r.status == http::ParseStatus::error) {
      reply_error(r.error.status, true);
      return true;
    }
    head_size_ = r.consumed;
    if (!buffered_body_is_valid()) return true;
    process_request_head();
    // Body bytes that came with the head follow it in the same write.
    if (closed_ || request_state_ != RequestState::body || replied_locally_) return true;
    moved = true;
  } else if (request_state_ != RequestState::body || replied_locally_) {
    return false;
  }
  // Body bytes go to the server as they came (the framing was checked by the decoder); an
  // HTTP/1.0 request cannot be chunked, so no re-framing is ever needed this way.
  const BodyMove m = move_body(x.request_body, x.client_in, x.server_out, false);
  moved |= m.moved;
  if (m.status == http::BodyStatus::error) {
    if (response_state_ == ResponseState::connecting || !server_answered_) {
      drop_server(false);
      reply_error(m.error_status, true);
    } else {
      close();
    }
    return true;
  }
  if (m.status == http::BodyStatus::done) {
    request_state_ = RequestState::done;
    return true;
  }
  if (client_fin_ && x.client_in.empty()) {
    const http::BodyResult r = x.request_body.finish();
    if (r.status == http::BodyStatus::done) {
      // The end of a tunnel's client half: pass the FIN on once everything is sent.
      request_state_ = RequestState::done;
      return true;
    }
    close();  // the client left in the middle of a framed body
    return false;
  }
  return moved;
}

// ---- request processing -------------------------------------------------------------------

bool HttpSession::buffered_body_is_valid() {
  // Chunks that arrived with the head are checked before anything is connected or
  // forwarded, so that a broken request never reaches a server (as with HAProxy).
  Exchange& x = *x_;
  if (x.request.body != http::BodyKind::chunked || x.client_in.size() <= head_size_) return true;
  http::BodyDecoder& probe = x.request_body;
  probe.start(x.request);
  auto rest = x.client_in.view().subspan(head_size_);
  http::BodyResult r;
  do {
    r = probe.decode(rest);
    rest = rest.subspan(r.consumed);
  } while (r.status == http::BodyStatus::more && !rest.empty());
  if (r.status != http::BodyStatus::error) return true;
  reply_error(r.error.status, true);
  return false;
}

void HttpSession::process_request_head() {
  Exchange& x = *x_;
  http::Message& request = x.request;
  ++requests_;
  share_.count_request();
  head_deadline_ms_ = 0;
  if (logger_) capture_request_line();
  x.arena.reset();
  x.reply_headers.clear();
  // Stopping: this response tells the client to go ("connection: close").
  keep_alive_ = request.keep_alive && !share_.stopping();
  server_keep_alive_ = !share_.stopping();
  replied_locally_ = false;
  tunnel_ = false;
  dechunk_ = false;
  server_answered_ = false;

  HttpFacts facts = client_facts();
  facts.set_request(&request);
  RuleContext ctx{facts, x.arena, share_.scratch(), x.reply_headers};

  auto decided = [&](const RuleOutcome& outcome) {
    if (outcome.kind == RuleOutcome::Kind::proceed) return false;
    if (outcome.kind == RuleOutcome::Kind::failed)
      reply_error(500, true);
    else
      reply_rule(outcome);
    return true;
  };
  // `tcp-request content reject`: the connection closes without a word, as in HAProxy.
  if (run_tcp_rules(frontend_.content_rules, facts, share_.scratch(), true) == TcpVerdict::reject) {
    close();
    return;
  }
  if (decided(frontend_.request_rules.run(request, ctx))) return;
  if (decided(frontend_.redirect_rules.run(request, ctx))) return;

  backend_ = frontend_.backends.pick(facts, share_.scratch());
  if (backend_ == nullptr) {
    reply_error(503, false);
    return;
  }
  facts.set_backend(backend_->state->config().name);
  if (run_tcp_rules(backend_->content_rules, facts, share_.scratch(), true) == TcpVerdict::reject) {
    close();
    return;
  }
  if (decided(backend_->request_rules.run(request, ctx))) return;

  switch (frontend_.connection_mode[backend_->index]) {
    case config::HttpConnectionMode::close:
      keep_alive_ = false;
      server_keep_alive_ = false;
      break;
    case config::HttpConnectionMode::server_close:
      server_keep_alive_ = false;
      break;
    case config::HttpConnectionMode::keep_alive:
      break;
  }
  if (const auto& ff = frontend_.forwardfor[backend_->index]) {
    if (!ff->apply(request, client_address_, x.arena)) {
      reply_error(500, true);
      return;
    }
  }
  retries_left_ = backend_->state->config().retries;
  if (!connect_server(balance::no_server, true)) {
    reply_error(503, false);
    return;
  }
  if (!start_forwarding()) return;
}

// ---- replies and the end of an exchange ----------------------------------------------------

const ErrorPages& HttpSession::pages_for(int status) const {
  // The backend's errorfile first, then the frontend's, then the built-in page.
  if (backend_ && backend_->error_pages.overrides(status)) return backend_->error_pages;
  return frontend_.error_pages;
}

void HttpSession::reply_error(int status, bool close_after) {
  x_->log.status = status;
  switch (status) {
    case 408:
      terminated('c', 'R');
      break;
    case 502:
      terminated('S', 'H');
      break;
    case 503:
      // (a queue timeout said sQ first)
      terminated(connect_timed_out_ ? 's' : 'S', 'C');
      break;
    case 504:
      terminated('s', 'H');
      break;
    default:
      terminated('P', 'R');  // refused by the proxy: a bad request, or a failed rewrite
  }
  const ErrorPages& pages = pages_for(status);
  if (close_after || pages.closes(status)) keep_alive_ = false;
  write_reply([&](const ReplyFraming& framing, std::span<char> out) {
    return pages.write(status, framing, out);
  });
}

void HttpSession::reply_rule(const RuleOutcome& outcome) {
  const config::HttpAction& action = *outcome.action;
  using K = config::HttpAction::Kind;
  x_->log.status = outcome.status;
  // HAProxy: a deny is the proxy's refusal; return and redirect are local answers.
  if (action.kind == K::deny)
    terminated('P', 'R');
  else
    terminated('L', 'R');
  switch (action.kind) {
    case K::deny: {
      const ErrorPages& pages = pages_for(outcome.status);
      if (pages.closes(outcome.status)) keep_alive_ = false;
      write_reply([&](const ReplyFraming& framing, std::span<char> out) {
        return pages.write(outcome.status, framing, out);
      });
      return;
    }
    case K::return_: {
      const Exchange& x = *x_;
      write_reply([&](const ReplyFraming& framing, std::span<char> out) {
        return write_return(outcome.status, action.content_type, outcome.body,
                            x.reply_headers.fields(), framing, out);
      });
      return;
    }
    default:
      write_reply([&](const ReplyFraming& framing, std::span<char> out) {
        return write_redirect(outcome.status, outcome.location, framing, out);
      });
      return;
  }
}

template <class Write>
void HttpSession::write_reply(Write&& write) {
  Exchange& x = *x_;
  // A request whose body was not read cannot be followed by another on this connection.
  const bool body_pending =
      request_state_ == RequestState::body ||
      (request_state_ == RequestState::head && x.request.body != http::BodyKind::none);
  if (body_pending) keep_alive_ = false;
  if (request_state_ == RequestState::head) {
    // Answered before forwarding: the head is used up here.
    if (head_size_ > 0) x.client_in.consumed(std::min(head_size_, x.client_in.size()));
    request_method_ = x.request.method;
    request_version_ = x.request.version;
  }
  head_size_ = 0;
  ReplyFraming framing;
  framing.client_version = request_version_;
  framing.keep_alive = keep_alive_;
  framing.head_only = request_method_ == http::Method::head;
  const http::WriteResult w = write(framing, x.client_out.space());
  if (w.fits) {
    x.client_out.produced(w.size);
  } else {
    keep_alive_ = false;  // nothing fits: close is all that is left to say
  }
  replied_locally_ = true;
  request_state_ = RequestState::done;
  response_state_ = ResponseState::done;
}

void HttpSession::finish_exchange() {
  Exchange& x = *x_;
  // A server that answered before it read the whole request (bytes still unsent) cannot
  // take another request: the rest would be read as its start.
  const bool request_sent = x.server_out.empty();
  drop_server(server_keep_alive_ && !server_fin_ && !tunnel_ && !replied_locally_ && request_sent);
  log_exchange();  // after the server connection is released, as HAProxy counts it
  x.server_out.clear();
  x.server_sent = 0;
  x.hold = false;
  x.sni_format = nullptr;
  backend_ = nullptr;
  request_state_ = RequestState::head;
  response_state_ = ResponseState::none;
  if (!keep_alive_ || tunnel_ || client_fin_ || share_.stopping()) {
    closing_ = true;
    return;
  }
  x.request_parser.start_request();
  x.response.reset();
  // The next request's wait: `timeout http-keep-alive`, else http-request, else client.
  const std::int64_t wait = frontend_.keep_alive_ms     ? frontend_.keep_alive_ms
                            : frontend_.http_request_ms ? frontend_.http_request_ms
                                                        : frontend_.client_ms;
  head_deadline_ms_ = wait ? share_.loop().now_ms() + wait : 0;
}

// ---- timeouts -------------------------------------------------------------------------------

void HttpSession::rearm() {
  io::Loop& loop = share_.loop();
  if (closing_) return;  // the linger timer, armed when our FIN went out
  std::int64_t ms = 0;
  if (tunnel_) {
    ms = half_closed_ms(tunnel_idle_ms(frontend_.client_ms, backend_ ? backend_->server_ms : 0,
                                       backend_ ? backend_->tunnel_ms : 0),
                        client_shut_, frontend_.client_fin_ms, server_shut_,
                        backend_ ? backend_->server_fin_ms : 0);
  } else if (request_state_ == RequestState::head && response_state_ == ResponseState::none) {
    if (head_deadline_ms_ > 0) {
      ms = std::max<std::int64_t>(1, head_deadline_ms_ - loop.now_ms());
    } else {
      ms = frontend_.client_ms;
    }
  } else if (response_state_ == ResponseState::connecting) {
    ms = backend_->connect_ms;
  } else if (response_state_ == ResponseState::queued) {
    if (slot_granted_) return;  // the timer is due (a slot granted, or a retry's pause)
    if (queue_deadline_ms_ > 0) ms = std::max<std::int64_t>(1, queue_deadline_ms_ - loop.now_ms());
  } else if (x_ && !x_->client_out.empty() && !client_writable_) {
    ms = frontend_.client_ms;  // waiting for the client to read
  } else if (request_state_ == RequestState::body && x_ && x_->client_in.empty()) {
    ms = frontend_.client_ms;  // waiting for the client's body
  } else if (backend_) {
    ms = backend_->server_ms;
  } else {
    ms = frontend_.client_ms;
  }
  if (ms > 0)
    loop.arm(*this, ms);
  else
    loop.cancel(*this);
}

void HttpSession::on_timer() {
  if (closed_) return;
  if (closing_) {
    close();
    return;
  }
  if (tunnel_) {
    close();
    return;
  }
  if (request_state_ == RequestState::head && response_state_ == ResponseState::none) {
    const bool idle = requests_ > 0 && (x_ == nullptr || x_->client_in.empty());
    if (idle && client_->input_waiting()) {
      // The next request came with this very timeout: its event follows, not a reset.
      share_.loop().arm(*this, 1);
      return;
    }
    if (idle) {
      close();  // a kept-alive connection nobody used again
      return;
    }
    if (x_ == nullptr) {
      x_ = share_.acquire();
      x_->request_parser.start_request();
    }
    head_size_ = 0;
    x_->request.reset();
    reply_error(408, true);
    advance();
    return;
  }
  if (response_state_ == ResponseState::queued) {
    leave_queue(slot_granted_);
  } else if (response_state_ == ResponseState::connecting) {
    server_failed(true);
  } else if (response_state_ == ResponseState::head && x_ && x_->client_out.empty()) {
    drop_server(false);
    reply_error(504);
  } else {
    close();
    return;
  }
  if (!closed_) advance();
}

}  // namespace sluice::proxy
