// Sans-io HTTP/1.1 parsing (RFC 9110/9112): an incremental head parser that fills a
// Message from a caller-owned buffer, and a body decoder (Content-Length, chunked with
// trailers, close-delimited, tunnel) that reports body bytes as spans of its input.
// Never touches a socket, never allocates per message, never throws on bad traffic: a
// rejection is a value carrying the status the proxy must answer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "runtime/http/message.hpp"

namespace sluice::http {

// Why a message was rejected. The status the proxy answers comes with it in Error.
enum class ErrorCode : std::uint8_t {
  none,
  // Start line.
  bad_request_line,       // 400 garbage, missing parts, HTTP/0.9, leading whitespace
  bad_method,             // 400 non-token character in the method
  bad_target,             // 400 control, space, non-ASCII or '#' in the request-target
  bad_version,            // 400 not "HTTP/" DIGIT "." DIGIT, or junk after it
  unsupported_version,    // 505 HTTP/0.x, HTTP/2.0 and up on an HTTP/1 connection
  request_line_too_long,  // 400 request line not finished within the head limit
  bad_status_line,        // 502 response does not start with "HTTP/x.y "
  bad_status_code,        // 502 not three digits in 100..599
  bad_reason,             // 502 control character in the reason phrase
  unexpected_switch,      // 502 101 Switching Protocols without an Upgrade request
  // Field lines (head and trailers).
  head_too_large,          // 400 head (or trailer section) beyond tune.bufsize - tune.maxrewrite
  too_many_headers,        // 400 more fields than tune.http.maxhdr (start line included)
  bad_header_name,         // 400 empty name or non-token character in it
  space_before_colon,      // 400 "Name : value" (RFC 9112 5.1 MUST reject)
  missing_colon,           // 400 a field line without ':'
  bad_header_value,        // 400 NUL or another control character in a value
  bare_cr,                 // 400 CR not followed by LF
  obs_fold,                // 400 line folding (RFC 9112 5.2)
  space_after_start_line,  // 400 whitespace before the first field (RFC 9112 2.2)
  // Framing and routing fields.
  bad_content_length,                     // 400 not a list of identical decimal numbers
  conflicting_content_length,             // 400 differing Content-Length values
  content_length_with_transfer_encoding,  // 400 both present (see ParseOptions)
  bad_transfer_encoding,                  // 400 empty or malformed Transfer-Encoding
  unknown_transfer_coding,                // 422 a coding sluice does not know
  unsupported_transfer_coding,            // 422 a request coded with more than chunked
  chunked_not_final,                      // 400 chunked missing, repeated or not last
  transfer_encoding_in_http10,            // 400 Transfer-Encoding in an HTTP/1.0 message
  conflicting_host,                       // 400 several Host fields with different values
  missing_host,                           // 400 HTTP/1.1 request without Host (opt-in)
  // Body.
  bad_chunk_size,       // 400 chunk size not hexadecimal, or junk after it
  chunk_size_too_long,  // 400 more than 16 hex digits
  bad_chunk_extension,  // 400 control character in a chunk extension
  chunk_line_too_long,  // 400 chunk-size line (with extensions) over 4096 bytes
  missing_chunk_crlf,   // 400 chunk data not followed by CRLF
  incomplete_body,      // 400 the peer closed before the end of a framed body
};

// Short text for logs and error pages.
std::string_view describe(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::none;
  // What the proxy answers: 400 (422, 505) for requests, as HAProxy; 502 for any bad response.
  std::uint16_t status = 0;
  std::size_t offset = 0;  // byte of the input where the problem was seen
};

// HAProxy's tune.* defaults.
struct Limits {
  std::size_t max_head_bytes = 16384 - 1024;  // tune.bufsize - tune.maxrewrite
  std::size_t max_headers = 101;              // tune.http.maxhdr; counts the start line
};

// A message with both Content-Length and Transfer-Encoding (RFC 9112 6.1).
enum class LengthConflict : std::uint8_t {
  reject,  // 400 / 502: sluice's default, the request smuggling vector closed outright
  // HAProxy 2.6's way: Transfer-Encoding wins, Message::content_length_ignored tells the
  // proxy to drop Content-Length, and the connection closes after the message.
  ignore_content_length,
};

struct ParseOptions {
  Limits limits;
  LengthConflict length_conflict = LengthConflict::reject;
  bool require_host = false;  // RFC 9112 3.2 says 400; HAProxy forwards, so off by default
};

enum class ParseStatus : std::uint8_t { need_more, done, error };

struct ParseResult {
  ParseStatus status = ParseStatus::need_more;
  std::size_t consumed = 0;  // on done: bytes of the head, leading empty lines included
  Error error;
};

// Parses one head. Feed it the buffer holding the head from its first byte to whatever has
// arrived, again after each read: it resumes where it stopped, so each byte is examined
// once. The buffer may move between calls (the views in the Message are rebased) but its
// bytes must stay. After done or error, start_request()/start_response() begin the next.
class HeadParser {
 public:
  explicit HeadParser(const ParseOptions& options = {}) : options_(options) {}

  void start_request();
  // A response's framing depends on the request it answers (HEAD, CONNECT, Upgrade).
  void start_response(Method request_method, bool upgrade_requested);
  ParseResult parse(std::span<const char> buffer, Message& message);

  // Trailer sections reuse the field-line rules; used by BodyDecoder.
  void start_trailers(bool is_request);
  ParseResult parse_trailers(std::span<const char> buffer, HeaderList* trailers);

  const ParseOptions& options() const { return options_; }

 private:
  enum class State : std::uint8_t {
    skip_empty_lines,
    method,
    target_start,
    target,
    version_start,
    request_version,
    status_version,
    status_start,
    status_code,
    reason,
    start_line_eol,
    field_start,  // every state from here on belongs to the field lines
    name,
    value_start,
    value,
    field_eol,
    done,
    failed,
  };

  ParseResult run(std::span<const char> buffer, Message* message, HeaderList* list);
  ParseResult finish_head(Message& message, std::size_t end);
  ParseResult fail(ErrorCode code, std::size_t offset);
  void rebase(const char* old_base, const char* new_base, Message* message, HeaderList* list);

  ParseOptions options_;
  State state_ = State::skip_empty_lines;
  bool is_request_ = true;
  bool trailers_ = false;
  bool fresh_ = true;  // nothing parsed yet: the message gets reset on the first call
  Method request_method_ = Method::other;
  bool request_upgrade_ = false;
  const char* base_ = nullptr;
  std::size_t pos_ = 0;          // first byte not examined yet
  std::size_t mark_ = 0;         // start of the token being read
  std::size_t name_end_ = 0;     // end of the current field name
  std::size_t value_start_ = 0;  // start of the current field value
  std::size_t fields_ = 0;       // field lines seen
  Error error_;                  // repeated by parse() once failed
};

enum class BodyStatus : std::uint8_t {
  more,       // call again with the rest of the input: more may be decodable now
  need_more,  // the rest of the input (if any) cannot be decoded without more bytes
  done,       // the body (and its trailers) ended at `consumed`
  error,
};

struct BodyResult {
  BodyStatus status = BodyStatus::need_more;
  std::size_t consumed = 0;    // drop these bytes from the front of the input
  std::span<const char> data;  // body bytes inside the consumed part; forward them
  Error error;
};

// Decodes one body. Each call consumes framing and returns at most one run of body bytes
// as a span of its input (never copied). Chunk framing is consumed as it arrives; a trailer
// section is consumed only once complete, so its views stay valid in the caller's bytes.
class BodyDecoder {
 public:
  explicit BodyDecoder(const ParseOptions& options = {}) : trailer_parser_(options) {}

  // Starts the body that follows `head` (its framing was decided by the HeadParser).
  void start(const Message& head) { start(head.body, head.content_length, head.is_request); }
  void start(BodyKind kind, std::uint64_t content_length, bool is_request);

  // `input` starts at the first byte not consumed yet. Trailer fields go to `trailers`
  // when given (views into `input`; more fields than it holds is too_many_headers);
  // otherwise they are only validated.
  BodyResult decode(std::span<const char> input, HeaderList* trailers = nullptr);
  // The peer closed: ends a close-delimited body or a tunnel, fails any framed body.
  BodyResult finish();

  bool done() const { return state_ == State::done; }
  BodyKind kind() const { return kind_; }
  std::uint64_t remaining() const { return remaining_; }  // Content-Length / chunk bytes

 private:
  enum class State : std::uint8_t {
    raw,            // until_close / tunnel: everything is data
    length,         // Content-Length data
    chunk_size,     // hex digits
    chunk_size_ws,  // BWS after the digits
    chunk_ext,      // skipping extensions up to the end of the line
    chunk_size_cr,  // CR seen, LF expected
    chunk_data,
    chunk_data_end,  // CRLF (or LF) after the data
    chunk_data_cr,
    trailers,
    done,
    failed,
  };

  BodyResult fail(ErrorCode code, std::size_t offset);
  BodyResult decode_chunked(std::span<const char> input, HeaderList* trailers);

  HeadParser trailer_parser_;
  BodyKind kind_ = BodyKind::none;
  State state_ = State::done;
  bool is_request_ = true;
  std::uint64_t remaining_ = 0;
  std::uint32_t digits_ = 0;      // chunk-size digits read
  std::uint32_t line_bytes_ = 0;  // bytes of the current chunk-size line
  Error error_;
};

}  // namespace sluice::http
