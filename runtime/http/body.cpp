// BodyDecoder: Content-Length, chunked (with trailers), close-delimited and tunnel bodies.
#include <algorithm>

#include "runtime/http/parser.hpp"
#include "runtime/http/syntax.hpp"

namespace sluice::http {

using namespace syntax;

namespace {

constexpr std::uint32_t kMaxChunkDigits = 16;  // 2^64 - 1: more would overflow
constexpr std::uint32_t kMaxChunkLine = 4096;  // chunk-size line with its extensions

}  // namespace

void BodyDecoder::start(BodyKind kind, std::uint64_t content_length, bool is_request) {
  kind_ = kind;
  is_request_ = is_request;
  remaining_ = 0;
  digits_ = 0;
  line_bytes_ = 0;
  error_ = Error{};
  switch (kind) {
    case BodyKind::none:
      state_ = State::done;
      break;
    case BodyKind::content_length:
      remaining_ = content_length;
      state_ = content_length > 0 ? State::length : State::done;
      break;
    case BodyKind::chunked:
      state_ = State::chunk_size;
      break;
    case BodyKind::until_close:
    case BodyKind::tunnel:
      state_ = State::raw;
      break;
  }
}

BodyResult BodyDecoder::fail(ErrorCode code, std::size_t offset) {
  state_ = State::failed;
  error_ = Error{code, status_for(code, is_request_), offset};
  BodyResult r;
  r.status = BodyStatus::error;
  r.error = error_;
  return r;
}

BodyResult BodyDecoder::decode(std::span<const char> input, HeaderList* trailers) {
  switch (state_) {
    case State::done:
      return BodyResult{BodyStatus::done, 0, {}, {}};
    case State::failed:
      return BodyResult{BodyStatus::error, 0, {}, error_};
    case State::raw:
      return BodyResult{BodyStatus::need_more, input.size(), input, {}};
    case State::length: {
      std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, input.size()));
      remaining_ -= n;
      if (remaining_ == 0) {
        state_ = State::done;
        return BodyResult{BodyStatus::done, n, input.first(n), {}};
      }
      return BodyResult{BodyStatus::need_more, n, input.first(n), {}};
    }
    default:
      return decode_chunked(input, trailers);
  }
}

BodyResult BodyDecoder::decode_chunked(std::span<const char> input, HeaderList* trailers) {
  const char* const p = input.data();
  const std::size_t n = input.size();
  std::size_t i = 0;
  auto need_more = [&] { return BodyResult{BodyStatus::need_more, i, {}, {}}; };

  for (;;) {
    switch (state_) {
      case State::chunk_size:
        for (; i < n; ++i) {
          int h = hex_value(p[i]);
          if (h < 0) break;
          if (digits_ == kMaxChunkDigits) return fail(ErrorCode::chunk_size_too_long, i);
          remaining_ = remaining_ << 4 | static_cast<unsigned>(h);
          ++digits_;
          ++line_bytes_;
        }
        if (i >= n) return need_more();
        if (digits_ == 0) return fail(ErrorCode::bad_chunk_size, i);
        state_ = State::chunk_size_ws;
        continue;

      case State::chunk_size_ws:
        // BWS before ';' (RFC 9112 7.1.1); HAProxy also takes it before the CRLF. The
        // proxy writes its own chunk framing, so leniency here cannot split downstream.
        for (; i < n && is_ows(p[i]); ++i)
          if (++line_bytes_ > kMaxChunkLine) return fail(ErrorCode::chunk_line_too_long, i);
        if (i >= n) return need_more();
        if (p[i] == ';') {
          ++i;
          ++line_bytes_;
          state_ = State::chunk_ext;
        } else if (p[i] == '\r') {
          ++i;
          state_ = State::chunk_size_cr;
        } else if (p[i] == '\n') {
          ++i;
          goto size_line_done;
        } else {
          return fail(ErrorCode::bad_chunk_size, i);
        }
        continue;

      case State::chunk_ext:
        // Extensions are skipped, not interpreted; they still may not hide control bytes.
        for (; i < n; ++i) {
          char c = p[i];
          if (c == '\r' || c == '\n') break;
          if (!is(c, kValue)) return fail(ErrorCode::bad_chunk_extension, i);
          if (++line_bytes_ > kMaxChunkLine) return fail(ErrorCode::chunk_line_too_long, i);
        }
        if (i >= n) return need_more();
        if (p[i] == '\r') {
          ++i;
          state_ = State::chunk_size_cr;
          continue;
        }
        ++i;
        goto size_line_done;

      case State::chunk_size_cr:
        if (i >= n) return need_more();
        if (p[i] != '\n') return fail(ErrorCode::bare_cr, i);
        ++i;
      size_line_done:
        digits_ = 0;
        line_bytes_ = 0;
        if (remaining_ == 0) {
          trailer_parser_.start_trailers(is_request_);
          state_ = State::trailers;
        } else {
          state_ = State::chunk_data;
        }
        continue;

      case State::chunk_data: {
        if (i >= n) return need_more();
        std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, n - i));
        remaining_ -= take;
        std::span<const char> data = input.subspan(i, take);
        i += take;
        if (remaining_ == 0) state_ = State::chunk_data_end;
        return BodyResult{i < n ? BodyStatus::more : BodyStatus::need_more, i, data, {}};
      }

      case State::chunk_data_end:
        if (i >= n) return need_more();
        if (p[i] == '\n') {
          ++i;
          state_ = State::chunk_size;
        } else if (p[i] == '\r') {
          ++i;
          state_ = State::chunk_data_cr;
        } else {
          return fail(ErrorCode::missing_chunk_crlf, i);
        }
        continue;

      case State::chunk_data_cr:
        if (i >= n) return need_more();
        if (p[i] != '\n') return fail(ErrorCode::missing_chunk_crlf, i);
        ++i;
        state_ = State::chunk_size;
        continue;

      case State::trailers: {
        // Not consumed until complete: the trailer views must stay in the caller's bytes.
        ParseResult r = trailer_parser_.parse_trailers(input.subspan(i), trailers);
        if (r.status == ParseStatus::need_more) return need_more();
        if (r.status == ParseStatus::error) return fail(r.error.code, i + r.error.offset);
        state_ = State::done;
        return BodyResult{BodyStatus::done, i + r.consumed, {}, {}};
      }

      case State::raw:
      case State::length:
      case State::done:
      case State::failed:
        return BodyResult{};  // unreachable: decode() answers these
    }
  }
}

BodyResult BodyDecoder::finish() {
  switch (state_) {
    case State::raw:
      state_ = State::done;
      [[fallthrough]];
    case State::done:
      return BodyResult{BodyStatus::done, 0, {}, {}};
    case State::failed:
      return BodyResult{BodyStatus::error, 0, {}, error_};
    default:
      return fail(ErrorCode::incomplete_body, 0);
  }
}

}  // namespace sluice::http
