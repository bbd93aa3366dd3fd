// Typed values of HAProxy's configuration language: times, sizes, integers and addresses.
// Each parser returns a value or a reason; the caller attaches the word's location.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace sluice::parser {

// Why a value was refused, and where inside the word (0-based byte offset).
struct ValueError {
  std::string message;
  std::uint32_t offset = 0;
  std::string hint;
};

template <typename T>
using Parsed = std::variant<T, ValueError>;

template <typename T>
const ValueError* error_of(const Parsed<T>& p) {
  return std::get_if<ValueError>(&p);
}
template <typename T>
ValueError* error_of(Parsed<T>& p) {
  return std::get_if<ValueError>(&p);
}
template <typename T>
bool is_valid(const Parsed<T>& p) {
  return std::holds_alternative<T>(p);
}

// `100`, `100ms`, `10s`, `1m`, `2h`, `1d`, `500us`; a bare number is milliseconds.
// Result in microseconds so `us` keeps its precision.
Parsed<std::uint64_t> parse_time_us(std::string_view text);

// `16384`, `16k`, `1m`, `1g` (powers of 1024).
Parsed<std::uint64_t> parse_size(std::string_view text);

// Decimal integer within [min, max].
Parsed<std::int64_t> parse_integer(std::string_view text, std::int64_t min, std::int64_t max);

enum class AddressFamily { unspecified, ipv4, ipv6, hostname, unix_path, abstract, fd };

// One `[prefix@]host[:port[-last]]` item.
struct Address {
  AddressFamily family = AddressFamily::unspecified;
  std::string host;  // literal address, hostname, path or fd number; empty = any
  bool has_port = false;
  bool port_offset = false;    // `+N` / `-N`: server port relative to the client's
  std::int32_t port = 0;       // first port, or the signed offset
  std::int32_t last_port = 0;  // == port unless a range `80-90`
  std::string prefix;          // as written: "ipv4", "ipv6", "unix", "fd", "abns", ...
  // ipv4@/ipv6@ (tcp4@, tcp6@): a host name resolves to that family only.
  AddressFamily resolve_as = AddressFamily::unspecified;
};

enum class AddressUse { bind, server };

// A comma-separated list for `bind`, a single address for `server`/`listen`.
Parsed<std::vector<Address>> parse_address_list(std::string_view text, AddressUse use);
Parsed<Address> parse_address(std::string_view text, AddressUse use);

}  // namespace sluice::parser
