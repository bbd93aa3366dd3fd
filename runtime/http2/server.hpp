// The server side of one HTTP/2 connection, sans-io, over libnghttp2 (framing, HPACK,
// flow control, the protocol's own errors): bytes from the client in, events out; responses
// in, bytes for the client out. It knows nothing of sockets or of what a request is for:
// the connection that owns it maps each stream onto the proxy's request/response model.
//
// Defences of its own on top of nghttp2's: a cap on streams opened and reset by the client
// in a window (rapid reset, CVE-2023-44487), on control frames that need an answer
// (SETTINGS/PING floods), and on header list size; CONTINUATION floods end at the header
// list limit. Each one ends the connection with GOAWAY ENHANCE_YOUR_CALM.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

struct nghttp2_session;

namespace sluice::http2 {

struct Settings {
  std::uint32_t max_concurrent_streams = 100;  // tune.h2.max-concurrent-streams
  std::uint32_t initial_window_size = 65535;   // tune.h2.initial-window-size
  std::uint32_t max_header_list_size = 65536;  // what a request head may take, decoded
  // Defences: per `window_ms`, at most this many streams reset by the client before their
  // response ended, and this many SETTINGS/PING frames.
  std::uint32_t max_resets_per_window = 200;
  std::uint32_t max_control_frames_per_window = 200;
  std::int64_t window_ms = 1000;
};

// A request head as HTTP/2 carried it.
struct RequestHead {
  std::string method, scheme, authority, path;
  std::vector<std::pair<std::string, std::string>> fields;  // names lower-case
};

using Fields = std::vector<std::pair<std::string, std::string>>;

// What the connection hears about its streams. Called from within receive() or send().
class Events {
 public:
  virtual ~Events() = default;
  // A complete request head; `end_stream`: no body follows.
  virtual void on_request(std::int32_t stream, RequestHead head, bool end_stream) = 0;
  // Request body bytes (consume() them to open the window again).
  virtual void on_body(std::int32_t stream, std::span<const char> data) = 0;
  // The request body is over.
  virtual void on_body_end(std::int32_t stream) = 0;
  // The stream is gone: `error` 0 when it completed, else the RST_STREAM/GOAWAY code.
  virtual void on_closed(std::int32_t stream, std::uint32_t error) = 0;
  // The client's flow-control window opened: response data may move again.
  virtual void on_writable(std::int32_t stream) = 0;
};

class Server {
 public:
  // `now_ms` is read when a defence counts frames.
  Server(Events& events, const Settings& settings, const std::int64_t& now_ms);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Bytes from the client (after the TLS layer). False once the connection is in error
  // (its GOAWAY is queued: send() it, then close).
  bool receive(std::span<const char> bytes);
  // Frames for the client, up to `room` bytes, appended to `out`; returns how many.
  std::size_t send(std::string& out, std::size_t room);
  // Whether the connection has anything to send, and whether it still reads.
  bool wants_write() const;
  bool wants_read() const;

  // The response head of `stream`. `has_body`: data() calls follow, the last with `end`.
  bool respond(std::int32_t stream, int status, const Fields& fields, bool has_body);
  // Queues response body bytes (copied) for `stream`; `end`: the body is over.
  void data(std::int32_t stream, std::span<const char> bytes, bool end);
  // Bytes of `stream` queued and not yet framed (what the client's window holds back).
  std::size_t queued(std::int32_t stream) const;
  // The request body bytes the connection is done with: the client may send that much more.
  void consume(std::int32_t stream, std::size_t n);
  // Ends `stream` with RST_STREAM `error`.
  void reset(std::int32_t stream, std::uint32_t error);
  // A soft stop's first GOAWAY (RFC 9113 6.8): last stream 2^31-1, so that streams the
  // client opened meanwhile still count; shutdown() follows.
  void shutdown_notice();
  // No new stream after the last one opened; those in flight finish.
  void shutdown();
  // Streams still open.
  std::size_t open_streams() const;

  struct Stream;  // per-stream response queue (internal)

 private:
  friend struct Callbacks;
  bool count(std::uint32_t& counter, std::uint32_t limit);
  void calm_down();

  Events& events_;
  Settings settings_;
  const std::int64_t& now_ms_;
  nghttp2_session* session_ = nullptr;
  std::vector<std::unique_ptr<Stream>> streams_;  // those with a response queued
  std::vector<std::int32_t> open_;                // streams whose request head came
  RequestHead building_;                          // the head being decoded
  std::int32_t building_stream_ = 0;
  std::int64_t window_start_ms_ = 0;
  std::uint32_t resets_ = 0, control_frames_ = 0;
  std::size_t header_bytes_ = 0;
  bool failed_ = false;
  Stream* find(std::int32_t stream) const;
};

// RFC 9113 error codes the proxy uses by name.
inline constexpr std::uint32_t kNoError = 0x0, kProtocolError = 0x1, kInternalError = 0x2,
                               kRefusedStream = 0x7, kCancel = 0x8, kEnhanceYourCalm = 0xb;

}  // namespace sluice::http2
