// Sans-io HTTP/1.1 output: writes a Message's head (after rule edits) and chunked framing
// into caller-provided buffers, and removes the hop-by-hop fields a proxy must not forward.
// Knows the Message model only: no sockets, no buffer ownership, no configuration.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "runtime/http/message.hpp"

namespace sluice::http {

struct WriteResult {
  bool fits = false;
  std::size_t size = 0;  // bytes written when it fits, bytes needed when it does not
};

// Method name for the start line when no raw token was kept (a message built by hand).
std::string_view method_name(Method method);
// RFC 9110's reason phrase for a status ("" for an unknown one), for generated responses.
std::string_view default_reason(std::uint16_t status);

// Bytes write_head needs for `message` as it stands.
std::size_t head_size(const Message& message);
// Request line or status line, the fields in order, and the empty line. Writes nothing
// when `out` is too small.
WriteResult write_head(const Message& message, std::span<char> out);

struct HopByHopOptions {
  // Switching to a tunnel (101, WebSocket): Upgrade goes through, and the caller sends
  // "Connection: upgrade" again.
  bool keep_upgrade = false;
  // The body is forwarded with its transfer codings (the proxy re-chunks it); false when
  // the proxy re-frames it another way and writes its own framing fields.
  bool keep_transfer_encoding = true;
};

// True for the fields that only concern one connection (RFC 9110 7.6.1 and the usual
// extras): Connection, Keep-Alive, Proxy-Connection, TE, Trailer, Transfer-Encoding,
// Upgrade. The ones Connection names are hop-by-hop too; remove_hop_by_hop drops them.
bool is_hop_by_hop(std::string_view name);

// Drops from `message.headers` the hop-by-hop fields and every field the Connection
// fields name, except Host, Content-Length and Transfer-Encoding: naming those would let a
// client strip the framing or routing a server relies on. Also drops Content-Length when
// the parser chose to ignore it (Message::content_length_ignored). Returns fields removed.
std::size_t remove_hop_by_hop(Message& message, HopByHopOptions options = {});

// Chunked encoding (RFC 9112 7.1): a chunk is write_chunk_header(n), the n data bytes
// (forwarded from wherever they are, e.g. in the same writev), then kChunkEnd.
inline constexpr std::size_t kMaxChunkHeader = 18;  // 16 hex digits + CRLF
inline constexpr std::string_view kChunkEnd = "\r\n";
// "<hex size>\r\n". A zero size is the last chunk: use write_last_chunk instead.
WriteResult write_chunk_header(std::uint64_t size, std::span<char> out);
// "0\r\n", the trailer fields, "\r\n".
WriteResult write_last_chunk(std::span<const Header> trailers, std::span<char> out);

}  // namespace sluice::http
