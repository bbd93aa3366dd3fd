// Sans-io reading of a TLS client's first flight for SNI routing without termination
// (HAProxy's req.ssl_sni, req.ssl_hello_type, req.ssl_alpn under tcp-request inspect-delay):
// handshake records in, ClientHello fields out. Knows nothing of sockets, buffers' owners,
// OpenSSL or rules; never allocates, never throws on bad traffic.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace sluice::tls {

enum class HelloParse : std::uint8_t { need_more, complete, invalid };

// What the first handshake message says. Views point into the caller's input or scratch and
// live as long as they do.
struct ClientHello {
  // The first handshake message's type: 1 = ClientHello (req.ssl_hello_type). Another type
  // (HAProxy reports it too) is `complete` with every field below left empty.
  std::uint8_t handshake_type = 0;
  std::uint16_t record_version = 0;  // of the first record (req.ssl_ver style), e.g. 0x0301
  std::uint16_t hello_version = 0;   // legacy_version inside the ClientHello
  // host_name of the server_name extension, bytes as sent (no case folding: HAProxy matches
  // them as sent, `-i` is the rule's business); empty when absent.
  std::string_view sni;
  bool has_sni = false;
  // The ALPN extension's ProtocolNameList body: each protocol name preceded by its one-byte
  // length, in the client's order of preference (req.ssl_alpn); walk it with
  // next_alpn_protocol(). Empty when absent.
  std::string_view alpn;
  bool has_alpn = false;
};

// Scratch that reassembles any ClientHello up to 16 KiB (the handshake header's 4 bytes plus a
// body of at most 2^14 bytes): far above what browsers send, post-quantum key shares included.
inline constexpr std::size_t kClientHelloScratchBytes = 16 * 1024 + 4;

// Parses the client's first bytes as buffered (one or more TLS records, possibly followed by
// more), from the start each call. `scratch` reassembles a handshake message split over several
// records; a message (4-byte header included) larger than `scratch` is invalid however it is
// framed, so pass kClientHelloScratchBytes or more.
// need_more: a valid prefix, more bytes are needed (every prefix of a valid flight says so);
// invalid: not a TLS handshake record (first byte not 22; SSLv2 included), a record over
//   2^14 + 2048 bytes or of another type before the message ends, a malformed ClientHello,
//   or a message larger than `scratch`;
// complete: `out` filled. A ClientHello without SNI, or with a legacy_version below TLS 1.0
//   (where HAProxy's req.ssl_sni and req.ssl_alpn give no sample), is complete with
//   has_sni and has_alpn false.
// `out` is reset on entry and filled only when complete.
HelloParse parse_client_hello(std::span<const char> input, ClientHello& out,
                              std::span<char> scratch);

// Splits the first protocol name off `list` (a ClientHello::alpn, already validated), leaving
// the rest in `list`; returns an empty view once the list is exhausted.
std::string_view next_alpn_protocol(std::string_view& list);

}  // namespace sluice::tls
