// `mode http` over HTTP/2 (ALPN h2): one client connection, many streams. The frames are
// http2::Server's; each stream becomes an HttpSession whose client side is an H2Stream, so
// that every rule, ACL, redirect, balancer and server connection of HTTP/1.1 serves it
// unchanged. A stream hands its session the request as HTTP/1.1 bytes (`connection:
// close`, the body chunked unless the client gave its length) and takes the session's
// HTTP/1.1 response back apart into a head and data frames.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "runtime/http/parser.hpp"
#include "runtime/http2/server.hpp"
#include "runtime/io/loop.hpp"
#include "runtime/proxy/client_side.hpp"
#include "runtime/proxy/connection_slot.hpp"
#include "runtime/proxy/http_session.hpp"

namespace sluice::proxy {

class H2Connection;

class H2Stream final : public ClientSide {
 public:
  H2Stream(H2Connection& connection, std::int32_t id) : connection_(connection), id_(id) {}

  Io receive(std::span<char> into, std::size_t& n, bool& drained) override;
  Io transmit(std::span<const char> from, std::size_t& n) override;
  void shutdown_write() override;
  bool pending() const override { return taken_ < in_.size(); }
  bool input_waiting() const override { return pending(); }
  std::uint32_t on_events(std::uint32_t events) override { return events; }
  const tls::Stream* tls() const override;
  void detach() override;
  bool lingers() const override { return false; }
  bool http2() const override { return true; }
  std::string_view uri_prefix() const override { return uri_prefix_; }

 private:
  friend class H2Connection;
  // The request head as HTTP/1.1 bytes; false when it cannot be one.
  bool write_request(const http2::RequestHead& head, bool end_stream);
  void add_body(std::span<const char> data);
  void end_body();
  // Response bytes from the session: its head, then its body as data frames.
  bool take_response(std::span<const char> bytes);

  H2Connection& connection_;
  std::int32_t id_;
  HttpSession* session_ = nullptr;  // until it detaches
  std::string in_;                  // the request as HTTP/1.1, read by the session
  std::string uri_prefix_;          // "scheme://authority"
  std::size_t taken_ = 0;
  std::size_t unconsumed_ = 0;  // request body bytes not yet given back to the window
  bool chunked_ = false;        // the body goes to the session chunked
  bool head_request_ = false;
  bool reset_ = false;   // the client (or a protocol error) ended the stream
  bool closed_ = false;  // http2::Server is done with the stream
  bool wake_in_ = false, wake_out_ = false;
  // The response, as the session writes it.
  std::string head_;
  http::HeadParser parser_;
  http::Message response_;
  http::BodyDecoder body_;
  std::string body_in_;  // response body bytes the decoder has not taken yet
  bool head_done_ = false;
  bool response_ended_ = false;
};

class H2Connection final : public io::Owned,
                           public StopListener,
                           private io::Timer,
                           private io::Deferred,
                           private http2::Events {
 public:
  // `tls`: the client's TLS, its handshake done (the handshake registered the socket with
  // the loop); empty on a plain `proto h2` bind (h2c with prior knowledge).
  static void start(HttpLoopShare& share, AcceptedClient client, ConnectionSlot slot,
                    const HttpFrontend& frontend, tls::Stream tls);
  ~H2Connection() override;
  void on_events(std::uint32_t events) override;
  // GOAWAY: no new stream; those in flight finish, then the connection closes.
  void on_soft_stop() override;

 private:
  friend class H2Stream;
  H2Connection(HttpLoopShare& share, AcceptedClient client, ConnectionSlot slot,
               const HttpFrontend& frontend, tls::Stream tls);
  void on_timer() override;
  void on_request(std::int32_t stream, http2::RequestHead head, bool end_stream) override;
  void on_body(std::int32_t stream, std::span<const char> data) override;
  void on_body_end(std::int32_t stream) override;
  void on_closed(std::int32_t stream, std::uint32_t error) override;
  void on_writable(std::int32_t stream) override;
  H2Stream* find(std::int32_t id);
  // Moves everything: frames in, streams woken, frames out; closes when all is said.
  void advance();
  bool read();
  bool flush();
  void wake_streams();
  void forget_finished();
  // From a stream, inside a session's step: the frames go out, and finished streams are
  // forgotten, once the loop's batch of events is done (one write for many streams).
  void advance_soon();
  void on_deferred() override { advance(); }
  void close();

  HttpLoopShare& share_;
  const HttpFrontend& frontend_;
  ConnectionSlot slot_;
  Link link_;
  io::SocketAddress peer_, local_;
  http2::Server codec_;
  std::vector<std::unique_ptr<H2Stream>> streams_;
  std::string out_;             // frames not yet written
  std::uint32_t requests_ = 0;  // streams started
  bool readable_ = true, writable_ = true, hangup_ = false;
  bool in_advance_ = false, again_ = false;
  // All said (a GOAWAY last): our FIN went out, and what the client still sends is read
  // and dropped until its own FIN or a second, so that it reads the GOAWAY, not a reset.
  bool lingering_ = false;
  // Soft stop: the notice went out at `stop_ms_`; the final GOAWAY when the streams are
  // done, or a second later.
  bool stopping_ = false, goaway_sent_ = false;
  std::int64_t stop_ms_ = 0;
  bool closed_ = false;
};

}  // namespace sluice::proxy
