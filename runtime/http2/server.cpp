#include "runtime/http2/server.hpp"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace sluice::http2 {

// A response body waiting for the client's window: bytes queued by data(), taken by
// nghttp2's read callback as the window allows.
struct Server::Stream {
  std::int32_t id = 0;
  std::string queue;
  std::size_t taken = 0;  // bytes of `queue` already framed
  bool ended = false;     // data(…, end = true) came
  bool deferred = false;  // the read callback ran dry: resume on the next data()
};

// nghttp2's C callbacks, back into the Server.
struct Callbacks {
  static Server& server(void* user) { return *static_cast<Server*>(user); }

  static int begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    Server& s = server(user);
    if (frame->hd.type != NGHTTP2_HEADERS) return 0;
    s.building_ = RequestHead{};
    s.building_stream_ = frame->hd.stream_id;
    s.header_bytes_ = 0;
    return 0;
  }

  static int header(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name,
                    std::size_t name_length, const std::uint8_t* value, std::size_t value_length,
                    std::uint8_t, void* user) {
    Server& s = server(user);
    if (frame->hd.type != NGHTTP2_HEADERS || frame->hd.stream_id != s.building_stream_) return 0;
    // RFC 9113 6.5.2: each field counts its name, its value and 32 bytes.
    s.header_bytes_ += name_length + value_length + 32;
    if (s.header_bytes_ > s.settings_.max_header_list_size)
      return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // this stream is reset
    const std::string_view n(reinterpret_cast<const char*>(name), name_length);
    std::string v(reinterpret_cast<const char*>(value), value_length);
    RequestHead& head = s.building_;
    if (n == ":method")
      head.method = std::move(v);
    else if (n == ":scheme")
      head.scheme = std::move(v);
    else if (n == ":authority")
      head.authority = std::move(v);
    else if (n == ":path")
      head.path = std::move(v);
    else if (!n.starts_with(':') && frame->headers.cat == NGHTTP2_HCAT_REQUEST)
      head.fields.emplace_back(std::string(n), std::move(v));
    // Trailers (a second HEADERS) are not passed on: HTTP/1.1 servers get none.
    return 0;
  }

  static int frame_received(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    Server& s = server(user);
    const bool end_stream = frame->hd.flags & NGHTTP2_FLAG_END_STREAM;
    switch (frame->hd.type) {
      case NGHTTP2_HEADERS:
        if (frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
          s.open_.push_back(frame->hd.stream_id);
          s.events_.on_request(frame->hd.stream_id, std::move(s.building_), end_stream);
          s.building_stream_ = 0;
        } else if (end_stream) {
          s.events_.on_body_end(frame->hd.stream_id);  // after trailers
        }
        break;
      case NGHTTP2_DATA:
        if (end_stream) s.events_.on_body_end(frame->hd.stream_id);
        break;
      case NGHTTP2_RST_STREAM:
        if (!s.count(s.resets_, s.settings_.max_resets_per_window)) s.calm_down();
        break;
      case NGHTTP2_SETTINGS:
      case NGHTTP2_PING:
        if (!(frame->hd.flags & NGHTTP2_FLAG_ACK) &&
            !s.count(s.control_frames_, s.settings_.max_control_frames_per_window))
          s.calm_down();
        break;
      case NGHTTP2_WINDOW_UPDATE:
        if (frame->hd.stream_id != 0) {
          s.events_.on_writable(frame->hd.stream_id);
        } else {
          for (const auto& stream : s.streams_)
            s.events_.on_writable(stream->id);
        }
        break;
      default:
        break;
    }
    return 0;
  }

  static int data_chunk(nghttp2_session*, std::uint8_t, std::int32_t stream,
                        const std::uint8_t* data, std::size_t length, void* user) {
    server(user).events_.on_body(stream, {reinterpret_cast<const char*>(data), length});
    return 0;
  }

  static int stream_closed(nghttp2_session*, std::int32_t stream, std::uint32_t error, void* user) {
    Server& s = server(user);
    std::erase_if(s.streams_, [&](const auto& q) { return q->id == stream; });
    const auto open = std::find(s.open_.begin(), s.open_.end(), stream);
    if (open == s.open_.end()) return 0;  // reset before its head was whole: nobody knew it
    s.open_.erase(open);
    s.events_.on_closed(stream, error);
    return 0;
  }

  static ssize_t read_body(nghttp2_session*, std::int32_t stream_id, std::uint8_t* buffer,
                           std::size_t length, std::uint32_t* flags, nghttp2_data_source*,
                           void* user) {
    Server::Stream* stream = server(user).find(stream_id);
    if (stream == nullptr) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    const std::size_t n = std::min(length, stream->queue.size() - stream->taken);
    std::memcpy(buffer, stream->queue.data() + stream->taken, n);
    stream->taken += n;
    if (stream->taken == stream->queue.size()) {
      stream->queue.clear();
      stream->taken = 0;
      if (stream->ended) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        return static_cast<ssize_t>(n);
      }
    }
    if (n == 0) {
      stream->deferred = true;
      return NGHTTP2_ERR_DEFERRED;
    }
    return static_cast<ssize_t>(n);
  }
};

Server::Server(Events& events, const Settings& settings, const std::int64_t& now_ms)
    : events_(events), settings_(settings), now_ms_(now_ms), window_start_ms_(now_ms) {
  nghttp2_session_callbacks* callbacks = nullptr;
  nghttp2_session_callbacks_new(&callbacks);
  nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, Callbacks::begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(callbacks, Callbacks::header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, Callbacks::frame_received);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, Callbacks::data_chunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, Callbacks::stream_closed);
  nghttp2_option* option = nullptr;
  nghttp2_option_new(&option);
  // The request body window opens as the proxy forwards the body (consume()), not as
  // nghttp2 reads it: a slow server slows the client instead of filling memory.
  nghttp2_option_set_no_auto_window_update(option, 1);
  nghttp2_option_set_max_deflate_dynamic_table_size(option, 4096);
  const int rc = nghttp2_session_server_new2(&session_, callbacks, this, option);
  nghttp2_option_del(option);
  nghttp2_session_callbacks_del(callbacks);
  if (rc != 0) throw std::runtime_error(nghttp2_strerror(rc));
  const nghttp2_settings_entry entries[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, settings_.max_concurrent_streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, settings_.initial_window_size},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, settings_.max_header_list_size},
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
  };
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, entries, std::size(entries));
}

Server::~Server() {
  nghttp2_session_del(session_);
}

bool Server::count(std::uint32_t& counter, std::uint32_t limit) {
  if (now_ms_ - window_start_ms_ >= settings_.window_ms) {
    window_start_ms_ = now_ms_;
    resets_ = control_frames_ = 0;
  }
  return ++counter <= limit;
}

void Server::calm_down() {
  if (failed_) return;
  failed_ = true;
  nghttp2_session_terminate_session(session_, kEnhanceYourCalm);
}

bool Server::receive(std::span<const char> bytes) {
  if (failed_) return false;
  const auto n = nghttp2_session_mem_recv(
      session_, reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  if (n < 0) {
    // nghttp2 has queued the GOAWAY for a connection error already (bad preface, frame
    // size, HPACK, flood): it goes out with the next send().
    failed_ = true;
    if (n != NGHTTP2_ERR_BAD_CLIENT_MAGIC)
      nghttp2_session_terminate_session(
          session_, n == NGHTTP2_ERR_FLOODED ? kEnhanceYourCalm : kProtocolError);
    return false;
  }
  return !failed_;
}

std::size_t Server::send(std::string& out, std::size_t room) {
  std::size_t total = 0;
  while (total < room) {
    const std::uint8_t* data = nullptr;
    const auto n = nghttp2_session_mem_send(session_, &data);
    if (n <= 0) break;
    out.append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(n));
    total += static_cast<std::size_t>(n);
  }
  return total;
}

bool Server::wants_write() const {
  return nghttp2_session_want_write(session_) != 0;
}

bool Server::wants_read() const {
  return !failed_ && nghttp2_session_want_read(session_) != 0;
}

Server::Stream* Server::find(std::int32_t stream) const {
  for (const auto& s : streams_)
    if (s->id == stream) return s.get();
  return nullptr;
}

bool Server::respond(std::int32_t stream, int status, const Fields& fields, bool has_body) {
  const std::string code = std::to_string(status);
  std::vector<nghttp2_nv> nva;
  nva.reserve(fields.size() + 1);
  const auto nv = [](std::string_view name, std::string_view value) {
    return nghttp2_nv{reinterpret_cast<std::uint8_t*>(const_cast<char*>(name.data())),
                      reinterpret_cast<std::uint8_t*>(const_cast<char*>(value.data())), name.size(),
                      value.size(), NGHTTP2_NV_FLAG_NONE};
  };
  nva.push_back(nv(":status", code));
  for (const auto& [name, value] : fields)
    nva.push_back(nv(name, value));
  nghttp2_data_provider provider{};
  if (has_body) {
    auto& s = streams_.emplace_back(std::make_unique<Stream>());
    s->id = stream;
    provider.read_callback = Callbacks::read_body;
  }
  // nghttp2 copies the name/value pairs.
  return nghttp2_submit_response(session_, stream, nva.data(), nva.size(),
                                 has_body ? &provider : nullptr) == 0;
}

void Server::data(std::int32_t stream, std::span<const char> bytes, bool end) {
  Stream* s = find(stream);
  if (s == nullptr) return;
  s->queue.append(bytes.data(), bytes.size());
  s->ended = s->ended || end;
  if (s->deferred && (!bytes.empty() || end)) {
    s->deferred = false;
    nghttp2_session_resume_data(session_, stream);
  }
}

std::size_t Server::queued(std::int32_t stream) const {
  const Stream* s = find(stream);
  return s ? s->queue.size() - s->taken : 0;
}

void Server::consume(std::int32_t stream, std::size_t n) {
  nghttp2_session_consume(session_, stream, n);
}

void Server::reset(std::int32_t stream, std::uint32_t error) {
  nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream, error);
}

void Server::shutdown_notice() {
  nghttp2_submit_shutdown_notice(session_);
}

void Server::shutdown() {
  nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE,
                        nghttp2_session_get_last_proc_stream_id(session_), kNoError, nullptr, 0);
}

std::size_t Server::open_streams() const {
  return open_.size();
}

}  // namespace sluice::http2
