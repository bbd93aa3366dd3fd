#include "runtime/http/parser.hpp"

#include <algorithm>
#include <limits>

#include "runtime/http/syntax.hpp"

namespace sluice::http {

std::uint16_t syntax::status_for(ErrorCode code, bool is_request) {
  if (!is_request) return 502;  // whatever a server got wrong, the client gets a 502
  switch (code) {
    case ErrorCode::unknown_transfer_coding:
    case ErrorCode::unsupported_transfer_coding:
      return 422;  // HAProxy 2.6.12's answer to "gzip, chunked" and "foo, chunked"
    case ErrorCode::unsupported_version:
      return 505;
    default:
      // HAProxy answers 400 to every bad request, over-long ones and unknown codings
      // included (not 414/431/501), and clients and monitoring built on it expect that.
      return 400;
  }
}

using namespace syntax;

namespace {

// Content-Length as HAProxy reads it: a comma-separated list of decimal numbers, all
// equal to each other and to any previous Content-Length field ("5, 5" is 5).
ErrorCode merge_content_length(std::string_view v, Message& m) {
  std::size_t i = 0;
  const std::size_t n = v.size();
  for (;;) {
    while (i < n && is_ows(v[i]))
      ++i;
    const std::size_t start = i;
    std::uint64_t x = 0;
    for (; i < n && is_digit(v[i]); ++i) {
      unsigned d = static_cast<unsigned>(v[i] - '0');
      if (x > (std::numeric_limits<std::uint64_t>::max() - d) / 10)
        return ErrorCode::bad_content_length;
      x = x * 10 + d;
    }
    if (i == start) return ErrorCode::bad_content_length;  // empty element, sign, junk
    while (i < n && is_ows(v[i]))
      ++i;
    if (m.has_content_length) {
      if (m.content_length != x) return ErrorCode::conflicting_content_length;
      m.content_length_repeated = true;
    }
    m.has_content_length = true;
    m.content_length = x;
    if (i == n) return ErrorCode::none;
    if (v[i] != ',') return ErrorCode::bad_content_length;
    ++i;
  }
}

struct TransferCodings {
  bool malformed = false;
  bool unknown = false;  // not a registered coding
  bool other = false;    // any coding but chunked
  bool last_is_chunked = false;
  unsigned chunked = 0;
};

bool known_coding(std::string_view name) {
  return named(name, "gzip") || named(name, "x-gzip") || named(name, "deflate") ||
         named(name, "compress") || named(name, "x-compress");
}

// Transfer-Encoding fields add up to one list of codings (RFC 9110 5.3).
void merge_transfer_encoding(std::string_view v, TransferCodings& te) {
  bool any = false;
  for_each_element(v, [&](std::string_view element) {
    std::size_t semi = element.find(';');
    std::string_view name = trim_ows(element.substr(0, semi));
    bool token = !name.empty();
    for (char c : name)
      token = token && is(c, kToken);
    if (!token) {
      te.malformed = true;
      return;
    }
    any = true;
    if (named(name, "chunked")) {
      // chunked takes no parameters: one would make peers disagree on the framing.
      if (semi != std::string_view::npos) te.malformed = true;
      ++te.chunked;
      te.last_is_chunked = true;
    } else {
      te.last_is_chunked = false;
      te.other = true;
      if (!known_coding(name)) te.unknown = true;
    }
  });
  if (!any) te.malformed = true;
}

}  // namespace

std::string_view describe(ErrorCode code) {
  switch (code) {
    case ErrorCode::none:
      return "no error";
    case ErrorCode::bad_request_line:
      return "malformed request line";
    case ErrorCode::bad_method:
      return "invalid character in method";
    case ErrorCode::bad_target:
      return "invalid character in request target";
    case ErrorCode::bad_version:
      return "malformed HTTP version";
    case ErrorCode::unsupported_version:
      return "HTTP version not supported";
    case ErrorCode::request_line_too_long:
      return "request line too long";
    case ErrorCode::bad_status_line:
      return "malformed status line";
    case ErrorCode::bad_status_code:
      return "invalid status code";
    case ErrorCode::bad_reason:
      return "invalid character in reason phrase";
    case ErrorCode::unexpected_switch:
      return "101 Switching Protocols without Upgrade request";
    case ErrorCode::head_too_large:
      return "header block too large";
    case ErrorCode::too_many_headers:
      return "too many header fields";
    case ErrorCode::bad_header_name:
      return "invalid header field name";
    case ErrorCode::space_before_colon:
      return "whitespace before colon in header field";
    case ErrorCode::missing_colon:
      return "header field without colon";
    case ErrorCode::bad_header_value:
      return "invalid character in header field value";
    case ErrorCode::bare_cr:
      return "CR not followed by LF";
    case ErrorCode::obs_fold:
      return "obsolete line folding";
    case ErrorCode::space_after_start_line:
      return "whitespace after start line";
    case ErrorCode::bad_content_length:
      return "invalid Content-Length";
    case ErrorCode::conflicting_content_length:
      return "conflicting Content-Length values";
    case ErrorCode::content_length_with_transfer_encoding:
      return "both Content-Length and Transfer-Encoding";
    case ErrorCode::bad_transfer_encoding:
      return "invalid Transfer-Encoding";
    case ErrorCode::unknown_transfer_coding:
      return "unknown transfer coding";
    case ErrorCode::unsupported_transfer_coding:
      return "transfer coding other than chunked in a request";
    case ErrorCode::chunked_not_final:
      return "chunked missing, repeated or not final";
    case ErrorCode::transfer_encoding_in_http10:
      return "Transfer-Encoding in HTTP/1.0";
    case ErrorCode::conflicting_host:
      return "several different Host fields";
    case ErrorCode::missing_host:
      return "HTTP/1.1 request without Host";
    case ErrorCode::bad_chunk_size:
      return "invalid chunk size";
    case ErrorCode::chunk_size_too_long:
      return "chunk size has too many digits";
    case ErrorCode::bad_chunk_extension:
      return "invalid character in chunk extension";
    case ErrorCode::chunk_line_too_long:
      return "chunk size line too long";
    case ErrorCode::missing_chunk_crlf:
      return "chunk data not followed by CRLF";
    case ErrorCode::incomplete_body:
      return "connection closed before end of body";
  }
  return "unknown error";
}

// ---------------------------------------------------------------------------------------
// HeadParser

void HeadParser::start_request() {
  *this = HeadParser(options_);
  is_request_ = true;
}

void HeadParser::start_response(Method request_method, bool upgrade_requested) {
  *this = HeadParser(options_);
  is_request_ = false;
  request_method_ = request_method;
  request_upgrade_ = upgrade_requested;
}

void HeadParser::start_trailers(bool is_request) {
  *this = HeadParser(options_);
  is_request_ = is_request;
  trailers_ = true;
  state_ = State::field_start;
}

ParseResult HeadParser::fail(ErrorCode code, std::size_t offset) {
  state_ = State::failed;
  error_ = Error{code, status_for(code, is_request_), offset};
  return ParseResult{ParseStatus::error, 0, error_};
}

void HeadParser::rebase(const char* old_base, const char* new_base, Message* message,
                        HeaderList* list) {
  // Offsets are taken as integers: the old bytes may already be gone.
  const auto old_address = reinterpret_cast<std::uintptr_t>(old_base);
  auto move = [&](std::string_view& v) {
    if (v.data() == nullptr) return;
    std::size_t offset = reinterpret_cast<std::uintptr_t>(v.data()) - old_address;
    v = std::string_view(new_base + offset, v.size());
  };
  if (message != nullptr) {
    move(message->method_token);
    move(message->target);
    move(message->reason);
  }
  if (list != nullptr)
    for (Header& h : *list) {
      move(h.name);
      move(h.value);
    }
}

ParseResult HeadParser::parse(std::span<const char> buffer, Message& message) {
  if (state_ == State::failed) return ParseResult{ParseStatus::error, 0, error_};
  if (state_ == State::done) return ParseResult{ParseStatus::done, pos_, {}};
  if (fresh_) {
    message.reset();
    message.is_request = is_request_;
    fresh_ = false;
  } else if (buffer.data() != base_) {
    rebase(base_, buffer.data(), &message, &message.headers);
  }
  base_ = buffer.data();
  return run(buffer, &message, &message.headers);
}

ParseResult HeadParser::parse_trailers(std::span<const char> buffer, HeaderList* trailers) {
  if (state_ == State::failed) return ParseResult{ParseStatus::error, 0, error_};
  if (state_ == State::done) return ParseResult{ParseStatus::done, pos_, {}};
  if (fresh_) {
    if (trailers != nullptr) trailers->clear();
    fresh_ = false;
  } else if (buffer.data() != base_) {
    rebase(base_, buffer.data(), nullptr, trailers);
  }
  base_ = buffer.data();
  return run(buffer, nullptr, trailers);
}

ParseResult HeadParser::run(std::span<const char> buffer, Message* m, HeaderList* list) {
  const char* const p = buffer.data();
  const std::size_t size = buffer.size();
  const std::size_t limit = std::min(size, options_.limits.max_head_bytes);
  // tune.http.maxhdr counts the start line (HAProxy answers 100 fields, refuses 101).
  const std::size_t max_fields =
      options_.limits.max_headers > 0 ? options_.limits.max_headers - 1 : 0;
  std::size_t i = pos_;
  std::size_t end = 0;
  unsigned status = 0;
  char c = 0;

// Within one call, states follow each other by direct jumps: dispatching every token
// through the switch cost half the parse time in mispredicted indirect branches. The
// switch only resumes where the previous call ran out of bytes.
#define SLUICE_NEXT(state, label) \
  do {                            \
    state_ = State::state;        \
    goto label;                   \
  } while (0)

  switch (state_) {
    case State::skip_empty_lines:
      // RFC 9112 2.2: empty lines before a start line are skipped (HAProxy: any number).
      for (;;) {
        if (i >= limit) goto out_of_data;
        c = p[i];
        if (c == '\n') {
          ++i;
          continue;
        }
        if (c != '\r') break;
        if (i + 1 >= limit) goto out_of_data;
        if (p[i + 1] != '\n') return fail(ErrorCode::bare_cr, i);
        i += 2;
      }
      mark_ = i;
      if (!is_request_) SLUICE_NEXT(status_version, status_version);
      SLUICE_NEXT(method, method);

    case State::method:
    method:
      while (i < limit && is(p[i], kToken))
        ++i;
      if (i >= limit) goto out_of_data;
      c = p[i];
      if (c != ' ' || i == mark_) {
        bool garbage = i == mark_ || c == '\r' || c == '\n';  // nothing, or HTTP/0.9
        return fail(garbage ? ErrorCode::bad_request_line : ErrorCode::bad_method, i);
      }
      m->method_token = std::string_view(p + mark_, i - mark_);
      m->method = method_from_token(m->method_token);
      ++i;
      SLUICE_NEXT(target_start, target_start);

    case State::target_start:
    target_start:
      // HAProxy accepts several spaces between the parts; so does RFC 9112 3's lenient
      // reading. A tab is not accepted (HAProxy takes it; nothing sends it).
      while (i < limit && p[i] == ' ')
        ++i;
      if (i >= limit) goto out_of_data;
      mark_ = i;
      SLUICE_NEXT(target, target);

    case State::target:
    target:
      i = scan_target(p, i, limit);
      if (i >= limit) goto out_of_data;
      c = p[i];
      if (c != ' ' || i == mark_) {
        bool missing = c == '\r' || c == '\n';  // "GET /\r\n": HTTP/0.9, refused
        return fail(missing ? ErrorCode::bad_request_line : ErrorCode::bad_target, i);
      }
      m->target = std::string_view(p + mark_, i - mark_);
      ++i;
      SLUICE_NEXT(version_start, version_start);

    case State::version_start:
    version_start:
      while (i < limit && p[i] == ' ')
        ++i;
      if (i >= limit) goto out_of_data;
      mark_ = i;
      SLUICE_NEXT(request_version, request_version);

    case State::request_version:
    request_version:
      for (;;) {
        if (i >= limit) goto out_of_data;
        if (i - mark_ >= 8 || !version_byte_ok(p[i], i - mark_)) break;
        ++i;
      }
      // Nothing may follow the version, not even a space (HAProxy: 400).
      if (i - mark_ != 8 || (p[i] != '\r' && p[i] != '\n')) return fail(ErrorCode::bad_version, i);
      if (p[mark_ + 5] != '1') return fail(ErrorCode::unsupported_version, mark_ + 5);
      m->version = p[mark_ + 7] == '0' ? Version::http_1_0 : Version::http_1_1;
      SLUICE_NEXT(start_line_eol, eol);

    case State::status_version:
    status_version:
      for (;;) {
        if (i >= limit) goto out_of_data;
        if (i - mark_ >= 8 || !version_byte_ok(p[i], i - mark_)) break;
        ++i;
      }
      if (i - mark_ != 8 || p[i] != ' ') return fail(ErrorCode::bad_status_line, i);
      if (p[mark_ + 5] != '1') return fail(ErrorCode::unsupported_version, mark_ + 5);
      m->version = p[mark_ + 7] == '0' ? Version::http_1_0 : Version::http_1_1;
      ++i;
      SLUICE_NEXT(status_start, status_start);

    case State::status_start:
    status_start:
      while (i < limit && p[i] == ' ')
        ++i;
      if (i >= limit) goto out_of_data;
      mark_ = i;
      SLUICE_NEXT(status_code, status_code);

    case State::status_code:
    status_code:
      while (i < limit && i - mark_ < 3 && is_digit(p[i]))
        ++i;
      if (i >= limit) goto out_of_data;
      c = p[i];
      if (i - mark_ < 3 || (c != ' ' && c != '\r' && c != '\n'))
        return fail(ErrorCode::bad_status_code, i);
      status = (p[mark_] - '0') * 100u + (p[mark_ + 1] - '0') * 10u + (p[mark_ + 2] - '0');
      // RFC 9110 15: values outside 100..599 are invalid (HAProxy passes 600..999).
      if (status < 100 || status > 599) return fail(ErrorCode::bad_status_code, mark_);
      m->status = static_cast<std::uint16_t>(status);
      if (c == ' ') {
        ++i;
        mark_ = i;
        SLUICE_NEXT(reason, reason);
      }
      // "HTTP/1.1 200" without SP and reason: RFC 9112 4 wants the SP, HAProxy does not.
      m->reason = std::string_view(p + i, 0);
      SLUICE_NEXT(start_line_eol, eol);

    case State::reason:
    reason:
      i = scan_value(p, i, limit);
      if (i >= limit) goto out_of_data;
      c = p[i];
      if (c != '\r' && c != '\n') return fail(ErrorCode::bad_reason, i);
      m->reason = std::string_view(p + mark_, i - mark_);
      SLUICE_NEXT(start_line_eol, eol);

    case State::start_line_eol:
    case State::field_eol:
    eol:
      // At a CR or an LF. A bare LF ends a line as in HAProxy (RFC 9112 2.2 allows it);
      // a bare CR does not (RFC 9112 2.2: reject or replace; we reject).
      if (i >= limit) goto out_of_data;
      if (p[i] == '\n') {
        ++i;
      } else {
        if (i + 1 >= limit) goto out_of_data;
        if (p[i + 1] != '\n') return fail(ErrorCode::bare_cr, i);
        i += 2;
      }
      SLUICE_NEXT(field_start, field_start);

    case State::field_start:
    field_start:
      if (i >= limit) goto out_of_data;
      c = p[i];
      if (c == '\r' || c == '\n') {
        end = i + 1;
        if (c == '\r') {
          if (i + 1 >= limit) goto out_of_data;
          if (p[i + 1] != '\n') return fail(ErrorCode::bare_cr, i);
          end = i + 2;
        }
        pos_ = end;
        state_ = State::done;
        if (trailers_) return ParseResult{ParseStatus::done, end, {}};
        return finish_head(*m, end);
      }
      if (is_ows(c)) {
        // HAProxy unfolds obs-fold into spaces; RFC 9112 5.2 lets a proxy reject it, and
        // sluice does: folding is a classic way to make two parsers disagree.
        bool first = fields_ == 0 && !trailers_;
        return fail(first ? ErrorCode::space_after_start_line : ErrorCode::obs_fold, i);
      }
      if (fields_ >= max_fields || (list != nullptr && list->full()))
        return fail(ErrorCode::too_many_headers, i);
      mark_ = i;
      SLUICE_NEXT(name, name);

    case State::name:
    name:
      while (i < limit && is(p[i], kToken))
        ++i;
      if (i >= limit) goto out_of_data;
      c = p[i];
      if (c != ':') {
        ErrorCode code = is_ows(c)                ? ErrorCode::space_before_colon
                         : c == '\r' || c == '\n' ? ErrorCode::missing_colon
                                                  : ErrorCode::bad_header_name;
        return fail(code, i);
      }
      if (i == mark_) return fail(ErrorCode::bad_header_name, i);
      name_end_ = i;
      ++i;
      SLUICE_NEXT(value_start, value_start);

    case State::value_start:
    value_start:
      while (i < limit && is_ows(p[i]))
        ++i;
      if (i >= limit) goto out_of_data;
      value_start_ = i;
      SLUICE_NEXT(value, value);

    case State::value:
    value:
      i = scan_value(p, i, limit);
      if (i >= limit) goto out_of_data;
      c = p[i];
      // RFC 9110 5.5: CR, LF and NUL must be rejected; other controls are outside
      // field-vchar too and are refused as well (HAProxy forwards them).
      if (c != '\r' && c != '\n') return fail(ErrorCode::bad_header_value, i);
      end = i;
      while (end > value_start_ && is_ows(p[end - 1]))
        --end;
      if (list != nullptr)
        list->push_back(std::string_view(p + mark_, name_end_ - mark_),
                        std::string_view(p + value_start_, end - value_start_));
      ++fields_;
      state_ = State::field_eol;
      goto eol;

    case State::done:
    case State::failed:
      break;  // parse() answers these before calling run()
  }
#undef SLUICE_NEXT
  return ParseResult{};

out_of_data:
  pos_ = i;
  if (size >= options_.limits.max_head_bytes) {
    // The head cannot end within the limit. Which part overflowed decides the status.
    bool start_line = state_ < State::field_start && !trailers_;
    return fail(
        start_line && is_request_ ? ErrorCode::request_line_too_long : ErrorCode::head_too_large,
        i);
  }
  return ParseResult{ParseStatus::need_more, 0, {}};
}

ParseResult HeadParser::finish_head(Message& m, std::size_t end) {
  // One pass over the fields that frame or route the message.
  TransferCodings te;
  // Lengths of the names looked at below. Most fields are none of them: the mask test
  // predicts well, where a switch on the length cost a mispredicted jump per field.
  constexpr std::uint32_t kLengths = 1u << 4 | 1u << 6 | 1u << 7 | 1u << 10 | 1u << 14 | 1u << 17;
  for (const Header& h : m.headers) {
    const std::string_view n = h.name;
    if (n.size() > 17 || !((kLengths >> n.size()) & 1)) continue;
    if (named(n, "host")) {
      // RFC 9112 3.2 wants 400 for any second Host; HAProxy tolerates identical ones.
      if (m.host.data() == nullptr)
        m.host = h.value;
      else if (!equals_ignore_case(m.host, h.value))
        return fail(ErrorCode::conflicting_host, static_cast<std::size_t>(n.data() - base_));
    } else if (named(n, "connection")) {
      for_each_element(h.value, [&](std::string_view e) {
        if (equals_ignore_case(e, "close"))
          m.connection_close = true;
        else if (equals_ignore_case(e, "keep-alive"))
          m.connection_keep_alive = true;
        else if (equals_ignore_case(e, "upgrade"))
          m.connection_upgrade = true;
      });
    } else if (named(n, "content-length")) {
      ErrorCode code = merge_content_length(h.value, m);
      if (code != ErrorCode::none)
        return fail(code, static_cast<std::size_t>(h.value.data() - base_));
    } else if (named(n, "transfer-encoding")) {
      m.has_transfer_encoding = true;
      merge_transfer_encoding(h.value, te);
      if (te.malformed)
        return fail(ErrorCode::bad_transfer_encoding,
                    static_cast<std::size_t>(h.value.data() - base_));
    } else if (named(n, "expect")) {
      for_each_element(h.value, [&](std::string_view e) {
        if (equals_ignore_case(e, "100-continue")) m.expect_continue = true;
      });
    } else if (named(n, "upgrade")) {
      if (m.upgrade.data() == nullptr) m.upgrade = h.value;
    }
  }

  const bool http10 = m.version == Version::http_1_0;
  m.keep_alive = http10 ? m.connection_keep_alive && !m.connection_close : !m.connection_close;

  // Responses that cannot carry a body only get their framing fields checked for syntax.
  bool bodiless = false;
  if (!m.is_request) {
    if (m.status == 101 && !request_upgrade_) return fail(ErrorCode::unexpected_switch, 0);
    bodiless =
        m.status < 200 || m.status == 204 || m.status == 304 || request_method_ == Method::head;
  }

  if (m.has_transfer_encoding && !bodiless) {
    // RFC 9112 6.1: Transfer-Encoding in HTTP/1.0 means faulty framing.
    if (http10) return fail(ErrorCode::transfer_encoding_in_http10, 0);
    // Requests MUST end in chunked (RFC 9112 6.3 rule 4). A response could be read until
    // close instead, but HAProxy answers 502 and so does sluice.
    if (te.chunked != 1 || !te.last_is_chunked) return fail(ErrorCode::chunked_not_final, 0);
    if (te.unknown) return fail(ErrorCode::unknown_transfer_coding, 0);
    // "gzip, chunked" is valid, but a server that only knows "chunked" may fall back to
    // no body and read the chunks as a second request: requests get chunked alone
    // (HAProxy 2.6.12 refuses these too, with 422). Responses keep their codings.
    if (m.is_request && te.other) return fail(ErrorCode::unsupported_transfer_coding, 0);
    if (m.has_content_length) {
      if (options_.length_conflict == LengthConflict::reject)
        return fail(ErrorCode::content_length_with_transfer_encoding, 0);
      m.content_length_ignored = true;
      m.keep_alive = false;
    }
  }

  if (m.is_request) {
    if (options_.require_host && !http10 && m.host.data() == nullptr)
      return fail(ErrorCode::missing_host, 0);
    // RFC 9110 10.1.1 and 7.8: HTTP/1.0 requests' Expect and Upgrade are ignored.
    if (http10) m.expect_continue = false;
    m.upgrade_requested = !http10 && m.connection_upgrade && !m.upgrade.empty();
    if (m.method == Method::connect)
      m.body = BodyKind::none;  // RFC 9110 9.3.6: no content
    else if (m.has_transfer_encoding)
      m.body = BodyKind::chunked;
    else if (m.has_content_length && m.content_length > 0)
      m.body = BodyKind::content_length;
    else
      m.body = BodyKind::none;
  } else {
    m.expect_continue = false;
    m.upgrade_requested = false;
    if (m.status == 101 ||
        (request_method_ == Method::connect && m.status >= 200 && m.status < 300)) {
      m.body = BodyKind::tunnel;
      m.keep_alive = false;
    } else if (bodiless) {
      m.body = BodyKind::none;
    } else if (m.has_transfer_encoding) {
      m.body = BodyKind::chunked;
    } else if (m.has_content_length) {
      m.body = m.content_length > 0 ? BodyKind::content_length : BodyKind::none;
    } else {
      m.body = BodyKind::until_close;
      m.keep_alive = false;
    }
  }
  return ParseResult{ParseStatus::done, end, {}};
}

}  // namespace sluice::http
