#include "runtime/tls/client_hello.hpp"

#include <algorithm>
#include <array>
#include <cstring>

namespace sluice::tls {

namespace {

using Bytes = std::span<const unsigned char>;

// RFC 8446 5.1 and RFC 5246 6.2.
constexpr unsigned char kHandshakeContentType = 22;
constexpr std::size_t kRecordHeaderBytes = 5;  // type, legacy version, 16-bit length
// TLSPlaintext may not exceed 2^14, but TLS 1.2 allowed records up to 2^14 + 2048
// (TLSCiphertext): accepting that much costs nothing and refuses nothing a peer sends.
constexpr std::size_t kMaxRecordFragmentBytes = (1u << 14) + 2048;
constexpr std::uint8_t kMinRecordMajorVersion = 3;  // SSLv3 and every TLS

// RFC 8446 4 and 4.1.2.
constexpr std::size_t kHandshakeHeaderBytes = 4;  // type, 24-bit length
constexpr std::uint8_t kClientHelloType = 1;
constexpr std::size_t kRandomBytes = 32;
constexpr std::size_t kMaxSessionIdBytes = 32;
// HAProxy's fetches read extensions only from a ClientHello of TLS 1.0 or later.
constexpr std::uint16_t kTls10Version = 0x0301;

// RFC 6066 3 and RFC 7301 3.1.
constexpr std::uint16_t kServerNameExtension = 0;
constexpr std::uint16_t kAlpnExtension = 16;
constexpr std::uint8_t kHostNameType = 0;
constexpr std::size_t kMaxHostNameBytes = 255;  // a DNS name's limit

// Reads big-endian fields out of a bounded span; every read fails cleanly at the end, so a
// length field can never take the parse past its container.
class FieldReader {
 public:
  explicit FieldReader(Bytes bytes) : bytes_(bytes) {}

  bool empty() const { return bytes_.empty(); }

  bool read_u8(std::uint8_t& value) {
    if (bytes_.empty()) return false;
    value = bytes_[0];
    bytes_ = bytes_.subspan(1);
    return true;
  }

  bool read_u16(std::uint16_t& value) {
    if (bytes_.size() < 2) return false;
    value = static_cast<std::uint16_t>((bytes_[0] << 8) | bytes_[1]);
    bytes_ = bytes_.subspan(2);
    return true;
  }

  bool skip(std::size_t count) {
    if (bytes_.size() < count) return false;
    bytes_ = bytes_.subspan(count);
    return true;
  }

  // Takes the next `count` bytes as a reader of their own.
  bool read_nested(std::size_t count, FieldReader& nested) {
    if (bytes_.size() < count) return false;
    nested = FieldReader(bytes_.first(count));
    bytes_ = bytes_.subspan(count);
    return true;
  }

  std::string_view view() const {
    return {reinterpret_cast<const char*>(bytes_.data()), bytes_.size()};
  }

 private:
  Bytes bytes_;
};

// Checks the record header at the start of `rest` with whatever part of it has arrived, so
// that garbage is refused from its first byte rather than after an inspect-delay.
HelloParse check_record_header(Bytes rest, std::size_t& fragment_bytes) {
  if (rest.empty()) return HelloParse::need_more;
  // Another content type first (application data, alert, an SSLv2 hello's 0x80) is not a
  // handshake; nor may one interleave with the fragments of the message (RFC 8446 5.1).
  if (rest[0] != kHandshakeContentType) return HelloParse::invalid;
  if (rest.size() < 2) return HelloParse::need_more;
  if (rest[1] < kMinRecordMajorVersion) return HelloParse::invalid;
  if (rest.size() < kRecordHeaderBytes) return HelloParse::need_more;
  fragment_bytes = (std::size_t{rest[3]} << 8) | rest[4];
  // Zero-length handshake fragments are forbidden (RFC 8446 5.1): they could stall us forever.
  if (fragment_bytes == 0 || fragment_bytes > kMaxRecordFragmentBytes) return HelloParse::invalid;
  return HelloParse::complete;
}

// Walks the handshake records at the start of `input`, passing `visit` the fragment bytes in
// order until `wanted` bytes of the handshake stream have been seen (complete), the input ends
// first (need_more), or a record header is refused (invalid).
template <class Visit>
HelloParse walk_fragments(Bytes input, std::size_t wanted, Visit&& visit) {
  std::size_t position = 0;
  std::size_t seen = 0;
  while (seen < wanted) {
    std::size_t fragment_bytes = 0;
    Bytes rest = input.subspan(position);
    HelloParse header = check_record_header(rest, fragment_bytes);
    if (header != HelloParse::complete) return header;
    const std::size_t arrived = std::min(fragment_bytes, rest.size() - kRecordHeaderBytes);
    const std::size_t taken = std::min(arrived, wanted - seen);
    if (taken > 0) visit(rest.subspan(kRecordHeaderBytes, taken));
    seen += taken;
    if (seen == wanted) break;
    if (arrived < fragment_bytes) return HelloParse::need_more;
    position += kRecordHeaderBytes + fragment_bytes;
  }
  return HelloParse::complete;
}

// server_name (RFC 6066 3): a non-empty list of (name_type, 16-bit length, name). Other name
// types are skipped, read with host_name's shape as RFC 3546 laid every type out.
bool read_server_name(FieldReader extension, std::string_view& host_name, bool& found) {
  std::uint16_t list_bytes = 0;
  FieldReader list(Bytes{});
  if (!extension.read_u16(list_bytes) || !extension.read_nested(list_bytes, list) ||
      !extension.empty() || list.empty())
    return false;
  while (!list.empty()) {
    std::uint8_t name_type = 0;
    std::uint16_t name_bytes = 0;
    FieldReader name(Bytes{});
    if (!list.read_u8(name_type) || !list.read_u16(name_bytes) ||
        !list.read_nested(name_bytes, name))
      return false;
    if (name_type != kHostNameType) continue;
    // Two host names would let the router and the server each pick a different one.
    if (found || name_bytes == 0 || name_bytes > kMaxHostNameBytes) return false;
    host_name = name.view();
    found = true;
  }
  return true;
}

// application_layer_protocol_negotiation (RFC 7301 3.1): a list of at least one non-empty
// name, each with a one-byte length, filling the extension exactly.
bool read_alpn(FieldReader extension, std::string_view& protocols) {
  std::uint16_t list_bytes = 0;
  FieldReader list(Bytes{});
  if (!extension.read_u16(list_bytes) || !extension.read_nested(list_bytes, list) ||
      !extension.empty() || list.empty())
    return false;
  protocols = list.view();
  while (!list.empty()) {
    std::uint8_t name_bytes = 0;
    if (!list.read_u8(name_bytes) || name_bytes == 0 || !list.skip(name_bytes)) return false;
  }
  return true;
}

// One whole handshake message (header included) into `hello`; false when malformed.
bool read_handshake_message(Bytes message, ClientHello& hello) {
  hello.handshake_type = message[0];
  // HAProxy's req.ssl_hello_type reports any handshake type; only a ClientHello has fields.
  if (hello.handshake_type != kClientHelloType) return true;

  FieldReader body(message.subspan(kHandshakeHeaderBytes));
  std::uint8_t session_id_bytes = 0;
  std::uint16_t cipher_suite_bytes = 0;
  std::uint8_t compression_method_count = 0;
  if (!body.read_u16(hello.hello_version) || !body.skip(kRandomBytes) ||
      !body.read_u8(session_id_bytes) || session_id_bytes > kMaxSessionIdBytes ||
      !body.skip(session_id_bytes) || !body.read_u16(cipher_suite_bytes) ||
      cipher_suite_bytes == 0 || cipher_suite_bytes % 2 != 0 || !body.skip(cipher_suite_bytes) ||
      !body.read_u8(compression_method_count) || compression_method_count == 0 ||
      !body.skip(compression_method_count))
    return false;
  // Up to TLS 1.2 a ClientHello may end here, without extensions (RFC 5246 7.4.1.2).
  if (body.empty()) return true;

  std::uint16_t extensions_bytes = 0;
  FieldReader extensions(Bytes{});
  if (!body.read_u16(extensions_bytes) || !body.read_nested(extensions_bytes, extensions) ||
      !body.empty())
    return false;
  std::string_view host_name;
  std::string_view alpn;
  bool has_host_name = false;
  bool has_server_name_extension = false;
  bool has_alpn = false;
  while (!extensions.empty()) {
    std::uint16_t type = 0;
    std::uint16_t bytes = 0;
    FieldReader extension(Bytes{});
    if (!extensions.read_u16(type) || !extensions.read_u16(bytes) ||
        !extensions.read_nested(bytes, extension))
      return false;
    // A repeated extension is forbidden (RFC 8446 4.2); for the two we route on it would
    // also let us and the server read different values.
    if (type == kServerNameExtension) {
      if (has_server_name_extension) return false;
      has_server_name_extension = true;
      if (!read_server_name(extension, host_name, has_host_name)) return false;
    } else if (type == kAlpnExtension) {
      if (has_alpn) return false;
      has_alpn = true;
      if (!read_alpn(extension, alpn)) return false;
    }
  }
  if (hello.hello_version < kTls10Version) return true;
  hello.sni = host_name;
  hello.has_sni = has_host_name;
  hello.alpn = alpn;
  hello.has_alpn = has_alpn;
  return true;
}

}  // namespace

HelloParse parse_client_hello(std::span<const char> input, ClientHello& out,
                              std::span<char> scratch) {
  out = ClientHello{};
  const Bytes bytes(reinterpret_cast<const unsigned char*>(input.data()), input.size());

  // The handshake header may itself straddle records: gather its four bytes first.
  std::array<unsigned char, kHandshakeHeaderBytes> header{};
  std::size_t header_filled = 0;
  HelloParse walked = walk_fragments(bytes, header.size(), [&](Bytes fragment) {
    std::memcpy(header.data() + header_filled, fragment.data(), fragment.size());
    header_filled += fragment.size();
  });
  if (walked != HelloParse::complete) return walked;
  const std::size_t message_bytes =
      kHandshakeHeaderBytes +
      ((std::size_t{header[1]} << 16) | (std::size_t{header[2]} << 8) | header[3]);
  // Checked whatever the framing, so that re-framing the same message never changes the answer.
  if (message_bytes > scratch.size()) return HelloParse::invalid;

  Bytes message;
  const std::size_t first_fragment_bytes = (std::size_t{bytes[3]} << 8) | bytes[4];
  if (first_fragment_bytes >= message_bytes) {
    // The usual case: one record holds the whole message, read it where it lies.
    if (bytes.size() - kRecordHeaderBytes < message_bytes) return HelloParse::need_more;
    message = bytes.subspan(kRecordHeaderBytes, message_bytes);
  } else {
    std::size_t copied = 0;
    walked = walk_fragments(bytes, message_bytes, [&](Bytes fragment) {
      std::memcpy(scratch.data() + copied, fragment.data(), fragment.size());
      copied += fragment.size();
    });
    if (walked != HelloParse::complete) return walked;
    message = Bytes(reinterpret_cast<const unsigned char*>(scratch.data()), message_bytes);
  }

  ClientHello hello;
  hello.record_version = static_cast<std::uint16_t>((bytes[1] << 8) | bytes[2]);
  if (!read_handshake_message(message, hello)) return HelloParse::invalid;
  out = hello;
  return HelloParse::complete;
}

std::string_view next_alpn_protocol(std::string_view& list) {
  if (list.empty()) return {};
  const std::size_t name_bytes = static_cast<unsigned char>(list[0]);
  // Defensive for a list that did not come from parse_client_hello: never read past it.
  if (name_bytes == 0 || name_bytes >= list.size()) {
    list = {};
    return {};
  }
  const std::string_view name = list.substr(1, name_bytes);
  list.remove_prefix(1 + name_bytes);
  return name;
}

}  // namespace sluice::tls
