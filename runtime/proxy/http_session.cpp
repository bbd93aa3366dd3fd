#include "runtime/proxy/http_session.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>

namespace sluice::proxy {

namespace {

// Bytes received and not yet used, or produced and not yet sent. Reading appends at the
// tail; the front is consumed; the bytes move to the front only when the tail is full.
class Buffer {
 public:
  explicit Buffer(std::size_t capacity) : data_(new char[capacity]), capacity_(capacity) {}
  const char* bytes() const { return data_.get() + head_; }
  std::size_t size() const { return tail_ - head_; }
  bool empty() const { return tail_ == head_; }
  std::span<const char> view() const { return {bytes(), size()}; }
  // Room at the tail, after moving the bytes to the front if that makes more.
  std::span<char> space() {
    if (tail_ == capacity_ && head_ > 0) {
      std::memmove(data_.get(), bytes(), size());
      tail_ -= head_;
      head_ = 0;
    }
    return {data_.get() + tail_, capacity_ - tail_};
  }
  std::size_t room() const { return capacity_ - size(); }
  void produced(std::size_t n) { tail_ += n; }
  void consumed(std::size_t n) {
    head_ += n;
    if (head_ == tail_) head_ = tail_ = 0;
  }
  bool append(std::span<const char> bytes) {
    if (bytes.size() > room()) return false;
    if (bytes.size() > capacity_ - tail_) {
      std::memmove(data_.get(), this->bytes(), size());
      tail_ -= head_;
      head_ = 0;
    }
    std::memcpy(data_.get() + tail_, bytes.data(), bytes.size());
    tail_ += bytes.size();
    return true;
  }
  void clear() { head_ = tail_ = 0; }

 private:
  std::unique_ptr<char[]> data_;
  std::size_t capacity_;
  std::size_t head_ = 0;
  std::size_t tail_ = 0;
};

// Room for rule edits beyond the fields a message may arrive with.
constexpr std::size_t kExtraHeaders = 32;
// How long a closing connection waits for the client's FIN after ours (lingering, so the
// client reads our response rather than a reset).
constexpr std::int64_t kLingerMs = 1000;
// Idle server connections older than this are closed (HAProxy's pool-purge-delay).
constexpr std::int64_t kPoolPurgeMs = 5000;
// Free exchanges kept per loop for the next requests.
constexpr std::size_t kSpareExchanges = 64;

http::ParseOptions parse_options(std::size_t bufsize, std::size_t max_headers) {
  http::ParseOptions o;
  o.limits.max_head_bytes = bufsize;
  o.limits.max_headers = max_headers;
  return o;
}

struct BodyMove {
  http::BodyStatus status = http::BodyStatus::need_more;
  bool moved = false;
  std::uint16_t error_status = 0;
};

// Feeds `from` to `decoder` while `to` has room, appending what it consumed as it came (or
// only the body data when `data_only`: de-chunking). Stops at the body's end, an error, or
// when the decoder needs more bytes than `from` holds.
BodyMove move_body(http::BodyDecoder& decoder, Buffer& from, Buffer& to, bool data_only) {
  BodyMove m;
  while (!from.empty()) {
    const std::size_t room = to.room();
    if (room == 0) break;
    auto input = from.view();
    if (input.size() > room) input = input.first(room);
    const http::BodyResult r = decoder.decode(input);
    m.status = r.status;
    if (r.status == http::BodyStatus::error) {
      m.error_status = r.error.status;
      return m;
    }
    if (r.consumed > 0) {
      to.append(data_only ? r.data : input.first(r.consumed));
      from.consumed(r.consumed);
      m.moved = true;
    }
    if (r.status != http::BodyStatus::more) return m;
  }
  m.status = http::BodyStatus::need_more;
  return m;
}

// A server's Content-Length beside Transfer-Encoding is dropped and the chunks read, as
// HAProxy does: the client never sees the conflict, and the server connection is not
// reused. A client's is refused with a 400 (the request-smuggling vector closed outright).
http::ParseOptions server_parse_options(http::ParseOptions client) {
  client.length_conflict = http::LengthConflict::ignore_content_length;
  return client;
}

// recv/send results folded into what the session does next.
enum class Io : std::uint8_t { moved, blocked, closed, failed };

Io receive(int fd, std::span<char> into, std::size_t& n) {
  const ssize_t r = recv(fd, into.data(), into.size(), 0);
  if (r > 0) {
    n = static_cast<std::size_t>(r);
    return Io::moved;
  }
  if (r == 0) return Io::closed;
  if (errno == EAGAIN || errno == EINTR) return Io::blocked;
  return Io::failed;
}

Io transmit(int fd, std::span<const char> from, std::size_t& n) {
  const ssize_t r = send(fd, from.data(), from.size(), MSG_NOSIGNAL);
  if (r >= 0) {
    n = static_cast<std::size_t>(r);
    return Io::moved;
  }
  if (errno == EAGAIN || errno == EINTR) return Io::blocked;
  return Io::failed;
}

}  // namespace

struct HttpLoopShare::Exchange {
  Exchange(std::size_t bufsize, std::size_t max_headers)
      : client_in(bufsize),
        client_out(bufsize),
        server_in(bufsize),
        server_out(bufsize),
        request(max_headers + kExtraHeaders),
        response(max_headers + kExtraHeaders),
        request_parser(
            parse_options(bufsize - std::min<std::size_t>(bufsize / 2, 1024), max_headers)),
        response_parser(server_parse_options(request_parser.options())),
        request_body(request_parser.options()),
        response_body(request_parser.options()),
        arena(bufsize),
        reply_headers(kExtraHeaders) {}

  Buffer client_in, client_out, server_in, server_out;
  http::Message request, response;
  http::HeadParser request_parser, response_parser;
  http::BodyDecoder request_body, response_body;
  RewriteArena arena;
  http::HeaderList reply_headers;
  std::size_t server_sent = 0;  // bytes of server_out sent but kept for a resend
  bool hold = false;            // keep sent request bytes until the server answers

  // What the traffic log line of this exchange says (kept only when it is logged).
  struct Log {
    std::chrono::system_clock::time_point date;  // the request's first byte
    std::int64_t start = -1, head = -1, queued = -1, queue_ms = -1, connect = -1, connected = -1,
                 response = -1;
    std::uint64_t bytes_in = 0;
    // Sent to the client during this exchange; a response still buffered at the end is
    // counted then and taken off the next exchange's count.
    std::int64_t bytes_out = 0;
    int status = -1;
    int retries = 0;
    std::uint32_t server = balance::no_server;
    log::TerminationState termination;
    // The request line as received (cut to what HAProxy keeps).
    std::array<char, log::request_line_capture_limit> line{};
    std::uint16_t method_length = 0, target_length = 0, version_length = 0;

    // Ready for the next exchange (the line buffer is overwritten when used).
    void reset(std::int64_t pending_out) {
      start = head = queued = queue_ms = connect = connected = response = -1;
      bytes_in = 0;
      bytes_out = -pending_out;
      status = -1;
      retries = 0;
      server = balance::no_server;
      termination = {};
      method_length = target_length = version_length = 0;
    }
  } log;
};

using Exchange = HttpLoopShare::Exchange;

HttpLoopShare::HttpLoopShare(io::Loop& loop, std::size_t index,
                             const std::vector<std::uint32_t>& servers, std::size_t bufsize,
                             std::size_t max_headers)
    : loop_(loop),
      index_(index),
      pool_(loop, servers, kPoolPurgeMs),
      bufsize_(bufsize),
      max_headers_(max_headers),
      scratch_(new char[bufsize]) {}

HttpLoopShare::~HttpLoopShare() {
  for (Exchange* x : free_)
    delete x;
}

HttpLoopShare::Exchange* HttpLoopShare::acquire() {
  if (free_.empty()) return new Exchange(bufsize_, max_headers_);
  Exchange* x = free_.back();
  free_.pop_back();
  return x;
}

void HttpLoopShare::release(Exchange* x) {
  x->client_in.clear();
  x->client_out.clear();
  x->server_in.clear();
  x->server_out.clear();
  x->server_sent = 0;
  x->hold = false;
  x->log.reset(0);
  if (free_.size() < kSpareExchanges)
    free_.push_back(x);
  else
    delete x;
}

void HttpLoopShare::soft_stop() {
  stopping_ = true;
  pool_.close_all();
  for (HttpSession* s = sessions_; s != nullptr;) {
    HttpSession* next = s->next_session_;
    s->on_soft_stop();
    s = next;
  }
}

// ---- lifetime -------------------------------------------------------------------------

void HttpSession::start(HttpLoopShare& share, AcceptedClient client, ConnectionSlot slot,
                        const HttpFrontend& frontend) {
  auto* session = new HttpSession(share, std::move(client), std::move(slot), frontend);
  share.loop().adopt(*session);
  session->next_session_ = share.sessions_;
  if (share.sessions_) share.sessions_->prev_session_ = session;
  share.sessions_ = session;
  if (!share.loop().add(session->client_fd_.get(), *session)) {
    session->close();
    return;
  }
  session->rearm();
}

HttpSession::HttpSession(HttpLoopShare& share, AcceptedClient client, ConnectionSlot slot,
                         const HttpFrontend& frontend)
    : share_(share),
      frontend_(frontend),
      slot_(std::move(slot)),
      client_fd_(std::move(client.fd)),
      client_address_(client.peer),
      local_address_(client.local) {
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
  if (prev_session_)
    prev_session_->next_session_ = next_session_;
  else
    share_.sessions_ = next_session_;
  if (next_session_) next_session_->prev_session_ = prev_session_;
  share_.loop().cancel(*this);
  if (x_ && x_->log.start >= 0) {
    terminated(client_fin_ ? 'C' : 'S', request_state_ == RequestState::head ? 'R' : 'D');
    log_exchange();
  }
  drop_server(false);
  share_.loop().remove(client_fd_.get());
  client_fd_.reset();
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
  if (between_requests && requests_ > 0) close();
  // Otherwise: finish_exchange sees share_.stopping() and closes after this exchange.
}

// ---- events -----------------------------------------------------------------------------

void HttpSession::on_events(std::uint32_t events) {
  if (closed_) return;
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) client_readable_ = true;
  if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) client_hangup_ = true;
  if (events & EPOLLOUT) client_writable_ = true;
  advance();
}

void HttpSession::on_server_events(std::uint32_t events) {
  if (closed_ || server_ == nullptr) return;
  if (response_state_ == ResponseState::connecting) {
    if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0) return;
    if (io::socket_error(server_->fd()) != 0) {
      server_failed(false);
      if (!closed_) advance();
      return;
    }
    response_state_ = ResponseState::head;
    if (x_) x_->log.connected = share_.loop().now_ms();
  }
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) server_readable_ = true;
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
        shutdown(client_fd_.get(), SHUT_WR);
        client_shut_ = true;
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
    Io r = receive(client_fd_.get(), sink, n);
    if (r == Io::blocked) client_readable_ = false;
    if (r == Io::closed || r == Io::failed) client_fin_ = true;
    return r == Io::moved || client_fin_;
  }
  auto space = x_->client_in.space();
  if (space.empty()) return false;
  std::size_t n = 0;
  switch (receive(client_fd_.get(), space, n)) {
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
      if (n < space.size() && !client_hangup_) client_readable_ = false;
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
  switch (transmit(client_fd_.get(), x_->client_out.view(), n)) {
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

  HttpFacts facts(client_address_, local_address_, frontend_.usable_servers);
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

  backend_ = frontend_.default_backend;
  for (const auto& route : frontend_.routes) {
    if (!route.condition || route.condition->matches(facts, share_.scratch())) {
      backend_ = route.backend;
      break;
    }
  }
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

bool HttpSession::retry(std::uint32_t failed) {
  drop_server(false);
  if (retries_left_-- <= 0) return false;
  ++x_->log.retries;
  // `option redispatch`: another server at once, as HAProxy picks again.
  if (backend_->state->config().redispatch) return connect_server(failed, false);
  // Otherwise the same server, after HAProxy's pause.
  granted_ = backend_->state->claim(failed);
  slot_granted_ = true;
  queued_may_reuse_ = false;
  response_state_ = ResponseState::queued;
  share_.loop().arm(*this, backend_->state->turnaround_ms());
  return true;
}

bool HttpSession::connect_to(const ServerTarget& server, bool may_reuse) {
  server_shut_ = false;
  auto& log = x_->log;
  log.server = server.index;
  const std::int64_t now = share_.loop().now_ms();
  if (log.queued >= 0 && log.queue_ms < 0) log.queue_ms = now - log.queued;
  if (log.connect < 0) log.connect = now;
  if (may_reuse) {
    if (ServerConnection* idle = share_.pool().take(backend_->index, server.index)) {
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
  server_ = ServerConnection::connect(share_.loop(), address, backend_->index, server.index, error);
  if (!server_) return false;
  server_->attach(this);
  share_.pool().busy(backend_->index, server.index);
  server_writable_ = server_readable_ = server_fin_ = server_hangup_ = false;
  response_state_ = ResponseState::connecting;
  return true;
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
      shutdown(server_->fd(), SHUT_WR);
      server_shut_ = true;
    }
    return false;
  }
  std::size_t n = 0;
  const auto pending = x.server_out.view().subspan(offset);
  switch (transmit(server_->fd(), pending, n)) {
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
  switch (receive(server_->fd(), space, n)) {
    case Io::moved:
      x.server_in.produced(n);
      if (n < space.size() && !server_hangup_) server_readable_ = false;
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
  HttpFacts facts(client_address_, local_address_, frontend_.usable_servers);
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
    if (!retry(last_server_)) reply_error(503);
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
      terminated('S', 'C');  // (a queue timeout said sQ first)
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

// ---- traffic log ---------------------------------------------------------------------------

void HttpSession::terminated(char cause, char phase) {
  if (x_ == nullptr || x_->log.termination.cause != '-') return;
  x_->log.termination.cause = cause;
  x_->log.termination.phase = phase;
}

void HttpSession::capture_request_line() {
  // Views into client_in do not outlive forwarding: the line is copied for the log.
  const http::Message& request = x_->request;
  auto& log = x_->log;
  log.head = share_.loop().now_ms();
  const std::string_view method =
      request.method_token.empty() ? http::method_name(request.method) : request.method_token;
  const std::string_view version =
      request.version == http::Version::http_1_0 ? "HTTP/1.0" : "HTTP/1.1";
  const std::size_t cap = log.line.size();
  const std::size_t m = std::min(method.size(), cap);
  const std::size_t t = std::min(request.target.size(), cap - m);
  const std::size_t v = std::min(version.size(), cap - m - t);
  std::copy_n(method.data(), m, log.line.data());
  std::copy_n(request.target.data(), t, log.line.data() + m);
  std::copy_n(version.data(), v, log.line.data() + m + t);
  log.method_length = static_cast<std::uint16_t>(m);
  log.target_length = static_cast<std::uint16_t>(t);
  log.version_length = static_cast<std::uint16_t>(v);
}

void HttpSession::log_exchange() {
  if (x_ == nullptr || logger_ == nullptr) return;
  auto& log = x_->log;
  const auto pending = static_cast<std::int64_t>(x_->client_out.size());
  if (log.start >= 0) {
    const std::int64_t now = share_.loop().now_ms();
    log::LogRecord r;
    r.client = client_address_;
    r.frontend_address = local_address_;
    r.accept_date = log.date;
    r.frontend = frontend_.config->name;
    r.mode = config::Mode::http;
    if (backend_) {
      r.backend = backend_->state->config().name;
      r.backend_connections = backend_->state->connections();
      if (log.server != balance::no_server) {
        r.server = backend_->state->config().servers[log.server].name;
        r.server_connections = backend_->state->server_connections(log.server);
      }
    }
    auto span = [](std::int64_t from, std::int64_t to) {
      return from >= 0 && to >= 0 ? to - from : -1;
    };
    r.request_ms = span(log.start, log.head);
    r.queue_ms = log.queue_ms >= 0 ? log.queue_ms : (log.connect >= 0 ? 0 : -1);
    r.connect_ms = span(log.connect, log.connected);
    r.response_ms = span(log.connected, log.response);
    r.active_ms = span(log.start, now);
    r.total_ms = r.active_ms;
    r.status = log.status;
    r.bytes_to_client =
        static_cast<std::uint64_t>(std::max<std::int64_t>(0, log.bytes_out + pending));
    r.bytes_from_client = log.bytes_in;
    r.termination = log.termination;
    r.active_connections = slot_.process_connections();
    r.frontend_connections = slot_.frontend_connections();
    r.retries = log.retries;
    r.redispatched = log.retries > 0 && backend_ && backend_->state->config().redispatch;
    const std::string_view line(log.line.data(),
                                log.method_length + log.target_length + log.version_length);
    r.method = line.substr(0, log.method_length);
    r.target = line.substr(log.method_length, log.target_length);
    r.version = line.substr(log.method_length + log.target_length);
    if (!log::suppressed_by_dontlognull(*frontend_.config, r)) {
      const auto out = logger_->message_buffer();
      const std::size_t n = log::write_traffic_log(out, frontend_.log_kind, r);
      logger_->emit(log::traffic_severity, {out.data(), n}, log.date);
    }
  }
  log.reset(pending);
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
