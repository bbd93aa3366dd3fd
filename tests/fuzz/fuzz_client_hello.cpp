// libFuzzer target: any bytes as a client's first flight for the TLS ClientHello reader.
// Input: two control bytes (a prefix length, a record size for re-framing), then the flight.
// Checks that views lie inside the input or the scratch and obey their limits, that a prefix
// never contradicts the whole (need_more, or the same answer), and that once the records hold
// a whole message the answer does not depend on how it was cut into records.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "runtime/tls/client_hello.hpp"

using namespace sluice::tls;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

bool inside(std::string_view v, const char* begin, std::size_t size) {
  return v.data() >= begin && v.data() + v.size() <= begin + size;
}

struct Result {
  HelloParse status = HelloParse::invalid;
  ClientHello hello;
  std::string sni;  // copies: the views die with the buffers
  std::string alpn;
};

// Parses an exactly sized heap copy, so that ASan sees any read past the input.
Result parse(std::string_view flight, std::size_t scratch_bytes) {
  auto input = std::make_unique<char[]>(flight.size());
  if (!flight.empty()) std::memcpy(input.get(), flight.data(), flight.size());
  auto scratch = std::make_unique<char[]>(scratch_bytes);
  Result r;
  r.status = parse_client_hello(std::span<const char>(input.get(), flight.size()), r.hello,
                                std::span<char>(scratch.get(), scratch_bytes));
  if (r.status != HelloParse::complete) {
    check(r.hello.handshake_type == 0 && !r.hello.has_sni && !r.hello.has_alpn);
    return r;
  }
  for (std::string_view v : {r.hello.sni, r.hello.alpn})
    check(v.empty() || inside(v, input.get(), flight.size()) ||
          inside(v, scratch.get(), scratch_bytes));
  check(r.hello.has_sni == !r.hello.sni.empty());
  check(r.hello.has_alpn == !r.hello.alpn.empty());
  check(!r.hello.has_sni || (r.hello.sni.size() <= 255 && r.hello.handshake_type == 1));
  check(r.hello.handshake_type == 1 || (r.hello.hello_version == 0 && !r.hello.has_alpn));
  // A validated ALPN list walks to its end in non-empty names.
  std::string_view list = r.hello.alpn;
  while (!list.empty())
    check(!next_alpn_protocol(list).empty());
  r.sni = r.hello.sni;
  r.alpn = r.hello.alpn;
  return r;
}

bool same(const Result& a, const Result& b) {
  return a.status == b.status && a.hello.handshake_type == b.hello.handshake_type &&
         a.hello.record_version == b.hello.record_version &&
         a.hello.hello_version == b.hello.hello_version && a.hello.has_sni == b.hello.has_sni &&
         a.hello.has_alpn == b.hello.has_alpn && a.sni == b.sni && a.alpn == b.alpn;
}

// An independent reading of the record layer: the first handshake message, if the records
// before any refusal carry all of it (header checks as the reader's: type 22, SSLv3 or later,
// 1 to 2^14 + 2048 bytes).
std::optional<std::string> first_message(std::string_view flight) {
  std::string stream;
  std::size_t pos = 0;
  while (flight.size() - pos >= 5) {
    const auto* h = reinterpret_cast<const unsigned char*>(flight.data() + pos);
    const std::size_t length = (std::size_t{h[3]} << 8) | h[4];
    if (h[0] != 22 || h[1] < 3 || length == 0 || length > (1u << 14) + 2048) break;
    const std::size_t arrived = std::min(length, flight.size() - pos - 5);
    stream.append(flight.substr(pos + 5, arrived));
    if (stream.size() >= 4) {
      const auto* m = reinterpret_cast<const unsigned char*>(stream.data());
      const std::size_t message_bytes =
          4 + ((std::size_t{m[1]} << 16) | (std::size_t{m[2]} << 8) | m[3]);
      if (stream.size() >= message_bytes) return stream.substr(0, message_bytes);
    }
    if (arrived < length) break;
    pos += 5 + length;
  }
  return std::nullopt;
}

std::string reframe(std::string_view message, std::size_t record_bytes, std::string_view header) {
  std::string out;
  for (std::size_t pos = 0; pos < message.size(); pos += record_bytes) {
    const std::size_t n = std::min(record_bytes, message.size() - pos);
    out.append(header.substr(0, 3));
    out.push_back(static_cast<char>(n >> 8));
    out.push_back(static_cast<char>(n & 0xff));
    out.append(message.substr(pos, n));
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::string_view flight(reinterpret_cast<const char*>(data + 2), size - 2);
  // A small scratch now and then reaches the "larger than scratch" edge with short inputs.
  const std::size_t scratch_bytes =
      (data[1] & 0x80) ? 64 + (data[1] & 0x7f) * 4 : kClientHelloScratchBytes;

  const Result whole = parse(flight, scratch_bytes);

  // A prefix never contradicts the whole: it needs more, or has already decided the same.
  const std::size_t cut = flight.empty() ? 0 : data[0] % (flight.size() + 1);
  const Result prefix = parse(flight.substr(0, cut), scratch_bytes);
  check(prefix.status == HelloParse::need_more || same(prefix, whole));

  // Records that hold a whole message decide; cut into other records, the same answer.
  const std::optional<std::string> message = first_message(flight);
  if (!message) return 0;
  check(whole.status != HelloParse::need_more);
  const std::size_t record_bytes = 1 + (data[1] & 0x7f) * 37;
  const Result reframed = parse(reframe(*message, record_bytes, flight), scratch_bytes);
  check(reframed.status == whole.status);
  if (whole.status == HelloParse::complete) check(same(reframed, whole));
  return 0;
}
