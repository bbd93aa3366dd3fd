#include "runtime/proxy/h2_connection.hpp"

#include <fmt/format.h>
#include <sys/epoll.h>

#include <algorithm>

namespace sluice::proxy {

namespace {

// A stream's response bytes queued beyond this wait (the session's write comes back short)
// until the client's window takes them.
constexpr std::size_t kStreamQueueLimit = 256 * 1024;
// Frames gathered before writing to the socket.
constexpr std::size_t kOutLimit = 64 * 1024;
// A response head is small; one past this is a broken server's.
constexpr std::size_t kHeadLimit = 64 * 1024;
// At a soft stop, how long streams the client opened before seeing the first GOAWAY may
// still come (at least a round trip) before the final one.
constexpr std::int64_t kStopNoticeMs = 1000;

bool equals_lower(std::string_view a, std::string_view lower) {
  return a.size() == lower.size() &&
         std::equal(a.begin(), a.end(), lower.begin(),
                    [](char x, char y) { return http::ascii_lower(x) == y; });
}

// Fields HTTP/2 forbids (RFC 9113 8.2.2): they describe one HTTP/1.1 connection.
bool connection_specific(std::string_view name) {
  for (std::string_view n :
       {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"})
    if (equals_lower(name, n)) return true;
  return false;
}

}  // namespace

// ---- the stream: HTTP/1.1 to its session, frames to the connection ------------------------

bool H2Stream::write_request(const http2::RequestHead& head, bool end_stream) {
  if (head.method == "CONNECT") return false;  // no tunnel over HTTP/2 yet
  head_request_ = head.method == "HEAD";
  if (!head.authority.empty()) uri_prefix_ = fmt::format("{}://{}", head.scheme, head.authority);
  in_ = fmt::format("{} {} HTTP/1.1\r\n", head.method, head.path);
  std::string cookie;
  bool has_length = false, has_host = false;
  if (!head.authority.empty()) {
    in_ += fmt::format("host: {}\r\n", head.authority);
    has_host = true;
  }
  for (const auto& [name, value] : head.fields) {
    if (connection_specific(name) || name == "te") continue;
    if (name == "host" && has_host) continue;
    if (name == "cookie") {  // RFC 9113 8.2.3: one field again for HTTP/1.1
      cookie += cookie.empty() ? value : "; " + value;
      continue;
    }
    has_length = has_length || name == "content-length";
    in_ += fmt::format("{}: {}\r\n", name, value);
  }
  if (!cookie.empty()) in_ += fmt::format("cookie: {}\r\n", cookie);
  if (!end_stream && !has_length) {
    in_ += "transfer-encoding: chunked\r\n";
    chunked_ = true;
  } else if (end_stream && !has_length &&
             (head.method == "POST" || head.method == "PUT" || head.method == "PATCH")) {
    in_ += "content-length: 0\r\n";
  }
  // One exchange per stream: the session ends it (END_STREAM) with its response.
  in_ += "connection: close\r\n\r\n";
  return true;
}

void H2Stream::add_body(std::span<const char> data) {
  if (data.empty()) return;
  unconsumed_ += data.size();
  if (chunked_) in_ += fmt::format("{:x}\r\n", data.size());
  in_.append(data.data(), data.size());
  if (chunked_) in_ += "\r\n";
  wake_in_ = true;
}

void H2Stream::end_body() {
  if (chunked_) in_ += "0\r\n\r\n";
  wake_in_ = true;
}

Io H2Stream::receive(std::span<char> into, std::size_t& n, bool& drained) {
  n = 0;
  if (reset_) return Io::failed;
  const std::size_t available = in_.size() - taken_;
  if (available == 0) {
    drained = true;
    return Io::blocked;
  }
  n = std::min(available, into.size());
  std::copy_n(in_.data() + taken_, n, into.data());
  taken_ += n;
  // The client may send as much again: the body moves on at the session's pace (framing
  // bytes are counted as body, never more than came).
  const std::size_t body = std::min(n, unconsumed_);
  unconsumed_ -= body;
  if (body) connection_.codec_.consume(id_, body);
  if (taken_ == in_.size()) {
    in_.clear();
    taken_ = 0;
  }
  drained = taken_ == 0;
  return Io::moved;
}

Io H2Stream::transmit(std::span<const char> from, std::size_t& n) {
  n = 0;
  if (reset_ || closed_) return Io::failed;
  if (connection_.codec_.queued(id_) >= kStreamQueueLimit) return Io::blocked;
  if (!take_response(from)) {
    connection_.codec_.reset(id_, http2::kInternalError);
    return Io::failed;
  }
  n = from.size();
  connection_.advance_soon();  // frames out
  return Io::moved;
}

bool H2Stream::take_response(std::span<const char> bytes) {
  auto& codec = connection_.codec_;
  if (!head_done_) {
    if (head_.empty() && response_.status == 0)
      parser_.start_response(head_request_ ? http::Method::head : http::Method::get, false);
    head_.append(bytes.data(), bytes.size());
    bytes = {};
    for (;;) {
      if (head_.size() > kHeadLimit) return false;
      const auto r = parser_.parse(head_, response_);
      if (r.status == http::ParseStatus::need_more) return true;
      if (r.status == http::ParseStatus::error) return false;
      if (response_.status >= 100 && response_.status < 200) {
        // An interim response (100 Continue): HTTP/2 clients do without.
        head_.erase(0, r.consumed);
        response_ = http::Message();
        parser_.start_response(head_request_ ? http::Method::head : http::Method::get, false);
        continue;
      }
      http2::Fields fields;
      for (const auto& h : response_.headers) {
        if (connection_specific(h.name)) continue;
        std::string name(h.name);
        std::transform(name.begin(), name.end(), name.begin(), http::ascii_lower);
        fields.emplace_back(std::move(name), std::string(h.value));
      }
      const bool has_body = response_.body != http::BodyKind::none;
      if (!codec.respond(id_, response_.status, fields, has_body)) return false;
      head_done_ = true;
      response_ended_ = !has_body;
      if (has_body) body_.start(response_);
      body_in_ = head_.substr(r.consumed);  // body bytes that came with the head
      break;
    }
  }
  // Decoded where the bytes are; what the decoder could not take yet (a chunk size cut in
  // two) waits in body_in_ for the rest.
  std::span<const char> input = bytes;
  if (!body_in_.empty()) {
    body_in_.append(bytes.data(), bytes.size());
    input = body_in_;
  }
  std::size_t taken = 0;
  while (!response_ended_ && taken < input.size()) {
    const auto r = body_.decode(input.subspan(taken));
    if (r.status == http::BodyStatus::error) return false;
    if (!r.data.empty()) codec.data(id_, r.data, false);
    taken += r.consumed;
    if (r.status == http::BodyStatus::done) {
      codec.data(id_, {}, true);
      response_ended_ = true;
    }
    if (r.status == http::BodyStatus::need_more || r.consumed == 0) break;
  }
  const std::string rest(input.begin() + static_cast<std::ptrdiff_t>(taken), input.end());
  body_in_ = response_ended_ ? std::string() : rest;
  return true;
}

void H2Stream::shutdown_write() {
  if (closed_) return;
  if (!head_done_) {
    connection_.codec_.reset(id_, http2::kInternalError);
  } else if (!response_ended_) {
    connection_.codec_.data(id_, {}, true);  // a body delimited by the server's close
    response_ended_ = true;
  }
  connection_.advance_soon();
}

const tls::Stream* H2Stream::tls() const {
  return connection_.link_.tls();
}

void H2Stream::detach() {
  session_ = nullptr;
  if (!closed_ && !response_ended_) connection_.codec_.reset(id_, http2::kCancel);
  connection_.advance_soon();
}

// ---- the connection ---------------------------------------------------------------------

void H2Connection::start(HttpLoopShare& share, AcceptedClient client, ConnectionSlot slot,
                         const HttpFrontend& frontend, tls::Stream tls) {
  const bool registered = static_cast<bool>(tls);
  auto* c = new H2Connection(share, std::move(client), std::move(slot), frontend, std::move(tls));
  share.loop().adopt(*c);
  share.listen_for_stop(*c);
  const int fd = c->link_.fd();
  if (!(registered ? share.loop().modify(fd, *c) : share.loop().add(fd, *c))) {
    c->close();
    return;
  }
  c->advance();
}

H2Connection::H2Connection(HttpLoopShare& share, AcceptedClient client, ConnectionSlot slot,
                           const HttpFrontend& frontend, tls::Stream tls)
    : share_(share),
      frontend_(frontend),
      slot_(std::move(slot)),
      link_(std::move(client.fd), std::move(tls)),
      peer_(client.peer),
      local_(client.local),
      codec_(*this, frontend.h2, share.loop().now_ms_ref()) {}

H2Connection::~H2Connection() {
  share_.forget(*this);  // the loop deletes what is still open when it ends
}

void H2Connection::on_events(std::uint32_t events) {
  if (closed_) return;
  events = link_.translate(events);
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
    readable_ = true;
    link_.readable((events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0);
  }
  if (events & EPOLLOUT) writable_ = true;
  advance();
}

void H2Connection::advance() {
  if (closed_) return;
  if (in_advance_) {  // a stream's write, from inside a session woken below
    again_ = true;
    return;
  }
  in_advance_ = true;
  do {
    again_ = false;
    if (!read()) break;
    wake_streams();
    if (!flush()) break;
    forget_finished();
  } while (again_ && !closed_);
  in_advance_ = false;
  if (closed_) return;
  if (hangup_ && out_.empty() && (streams_.empty() || lingering_)) {
    close();
    return;
  }
  if (lingering_) return;
  if (stopping_ && !goaway_sent_ &&
      (streams_.empty() || share_.loop().now_ms() - stop_ms_ >= kStopNoticeMs)) {
    goaway_sent_ = true;
    codec_.shutdown();
    advance_soon();
    return;
  }
  if (!codec_.wants_read() && !codec_.wants_write() && out_.empty()) {
    lingering_ = true;
    link_.shutdown_write();
    share_.loop().arm(*this, 1000);
    advance_soon();  // what came meanwhile is dropped
    return;
  }
  // Idle (no stream): `timeout http-keep-alive`, else `timeout client`; busy: the client.
  std::int64_t ms =
      streams_.empty() && frontend_.keep_alive_ms ? frontend_.keep_alive_ms : frontend_.client_ms;
  if (stopping_ && !goaway_sent_)
    ms = std::max<std::int64_t>(1, stop_ms_ + kStopNoticeMs - share_.loop().now_ms());
  if (ms > 0) share_.loop().arm(*this, ms);
}

bool H2Connection::read() {
  auto scratch = share_.scratch();
  while (readable_ && !hangup_) {
    std::size_t n = 0;
    bool drained = false;
    switch (link_.receive(scratch, n, drained)) {
      case Io::moved:
        // A codec in error takes no more (its GOAWAY goes out), and lingering, the bytes
        // are dropped: either way the socket is read to its end.
        if (!lingering_) codec_.receive({scratch.data(), n});
        if (drained) readable_ = false;
        break;
      case Io::blocked:
        readable_ = false;
        break;
      case Io::closed:
        hangup_ = true;
        break;
      case Io::failed:
        close();
        return false;
    }
  }
  return true;
}

void H2Connection::wake_streams() {
  // Sessions woken here neither open nor forget streams (those happen in read() and
  // forget_finished()), so the list holds still.
  for (const auto& stream : streams_) {
    H2Stream* s = stream.get();
    if (s->session_ == nullptr || !(s->wake_in_ || s->wake_out_)) continue;
    std::uint32_t events = 0;
    if (s->wake_in_) events |= s->reset_ ? EPOLLIN | EPOLLERR : EPOLLIN;
    if (s->wake_out_) events |= EPOLLOUT;
    s->wake_in_ = s->wake_out_ = false;
    s->session_->on_events(events);
  }
}

bool H2Connection::flush() {
  while (true) {
    if (out_.size() < kOutLimit) codec_.send(out_, kOutLimit - out_.size());
    if (out_.empty() || !writable_) break;
    std::size_t n = 0;
    switch (link_.transmit(out_, n)) {
      case Io::moved:
        out_.erase(0, n);
        if (!out_.empty()) writable_ = false;
        break;
      case Io::blocked:
        writable_ = false;
        break;
      default:
        close();
        return false;
    }
    if (!writable_) break;
  }
  // Streams whose queue has room again take more from their sessions.
  for (const auto& s : streams_)
    if (s->session_ && s->head_done_ && !s->response_ended_ &&
        codec_.queued(s->id_) < kStreamQueueLimit / 2) {
      s->wake_out_ = true;
    }
  return true;
}

void H2Connection::forget_finished() {
  std::erase_if(streams_, [](const auto& s) { return s->closed_ && s->session_ == nullptr; });
}

H2Stream* H2Connection::find(std::int32_t id) {
  for (const auto& s : streams_)
    if (s->id_ == id) return s.get();
  return nullptr;
}

void H2Connection::on_request(std::int32_t stream, http2::RequestHead head, bool end_stream) {
  auto& s = *streams_.emplace_back(std::make_unique<H2Stream>(*this, stream));
  if (!s.write_request(head, end_stream)) {
    codec_.reset(stream, http2::kRefusedStream);
    s.closed_ = true;
    return;
  }
  if (end_stream) s.end_body();
  s.session_ = HttpSession::start_stream(share_, s, peer_, local_, frontend_, requests_++);
  s.wake_in_ = true;
  again_ = true;
}

void H2Connection::on_body(std::int32_t stream, std::span<const char> data) {
  if (H2Stream* s = find(stream)) s->add_body(data);
}

void H2Connection::on_body_end(std::int32_t stream) {
  if (H2Stream* s = find(stream)) s->end_body();
}

void H2Connection::on_closed(std::int32_t stream, std::uint32_t error) {
  H2Stream* s = find(stream);
  if (s == nullptr) return;
  s->closed_ = true;
  if (error != http2::kNoError || !s->response_ended_) {
    s->reset_ = true;
    s->wake_in_ = true;
  }
}

void H2Connection::on_writable(std::int32_t stream) {
  if (H2Stream* s = find(stream)) s->wake_out_ = true;
}

void H2Connection::on_timer() {
  if (lingering_) {
    close();
    return;
  }
  if (stopping_ && !goaway_sent_) {
    advance();  // the final GOAWAY
    return;
  }
  if (!streams_.empty()) {
    // `timeout client` with streams in flight: the client went quiet.
    close();
    return;
  }
  codec_.shutdown();  // idle: a GOAWAY, then the close
  flush();
  close();
}

void H2Connection::on_soft_stop() {
  if (closed_ || stopping_) return;
  stopping_ = true;
  stop_ms_ = share_.loop().now_ms();
  codec_.shutdown_notice();
  advance_soon();
}

void H2Connection::advance_soon() {
  if (in_advance_)
    again_ = true;
  else if (!closed_)
    share_.loop().defer(*this);
}

void H2Connection::close() {
  if (closed_) return;
  closed_ = true;
  share_.loop().cancel(static_cast<io::Timer&>(*this));
  share_.loop().cancel(static_cast<io::Deferred&>(*this));
  share_.forget(*this);
  for (const auto& s : streams_) {
    s->reset_ = true;
    s->closed_ = true;
    if (HttpSession* session = s->session_) session->abort();
  }
  streams_.clear();
  link_.reset();
  slot_.release();
  share_.loop().retire(*this);
}

}  // namespace sluice::proxy
