// What one HTTP exchange holds while it runs (the session's buffers, messages, parsers
// and log record, lent by the loop's HttpLoopShare), and the socket and body helpers the
// session's files share. Private to runtime/proxy's HTTP session.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>

#include "runtime/http/parser.hpp"
#include "runtime/log/traffic_log.hpp"
#include "runtime/proxy/http_session.hpp"
#include "runtime/proxy/link.hpp"

namespace sluice::proxy {

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

struct BodyMove {
  http::BodyStatus status = http::BodyStatus::need_more;
  bool moved = false;
  std::uint16_t error_status = 0;
};

// Feeds `from` to `decoder` while `to` has room, appending what it consumed as it came (or
// only the body data when `data_only`: de-chunking). Stops at the body's end, an error, or
// when the decoder needs more bytes than `from` holds.
BodyMove move_body(http::BodyDecoder& decoder, Buffer& from, Buffer& to, bool data_only);

struct HttpLoopShare::Exchange {
  Exchange(std::size_t bufsize, std::size_t max_headers);

  Buffer client_in, client_out, server_in, server_out;
  http::Message request, response;
  http::HeadParser request_parser, response_parser;
  http::BodyDecoder request_body, response_body;
  RewriteArena arena;
  http::HeaderList reply_headers;
  std::size_t server_sent = 0;  // bytes of server_out sent but kept for a resend
  bool hold = false;            // keep sent request bytes until the server answers
  // The SNI `sni_format` gave for this request, rendered while its head was readable;
  // retries and queued connects reuse it.
  const rules::CompiledFormat* sni_format = nullptr;
  std::array<char, 256> sni{};
  std::size_t sni_length = 0;

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

}  // namespace sluice::proxy
