// X3 grammars for typed values; kept in this one translation unit for build speed.
#include "parser/values.hpp"

#include <arpa/inet.h>

#include <boost/spirit/home/x3.hpp>
#include <limits>

namespace sluice::parser {

namespace x3 = boost::spirit::x3;

namespace {

struct TimeUnits : x3::symbols<std::uint64_t> {
  TimeUnits() {
    add("us", 1)("ms", 1000)("s", 1000 * 1000)("m", 60ull * 1000 * 1000)(
        "h", 3600ull * 1000 * 1000)("d", 86400ull * 1000 * 1000);
  }
};
const TimeUnits time_units;

struct SizeUnits : x3::symbols<std::uint64_t> {
  SizeUnits() {
    add("k", 1024)("K", 1024)("m", 1024 * 1024)("M", 1024 * 1024)("g", 1024ull * 1024 * 1024)(
        "G", 1024ull * 1024 * 1024);
  }
};
const SizeUnits size_units;

// Parses `number[unit]` over the whole text; unit defaults to `fallback`.
template <typename Units>
Parsed<std::uint64_t> number_with_unit(std::string_view text, const Units& units,
                                       std::uint64_t fallback, const char* what,
                                       const char* unit_hint) {
  if (text.empty()) return ValueError{std::string("missing ") + what, 0, {}};
  std::uint64_t number = 0;
  std::uint64_t unit = fallback;
  auto first = text.begin();
  const auto last = text.end();
  if (!x3::parse(first, last, x3::ulong_long, number)) {
    return ValueError{std::string("expected a ") + what + ", found '" + std::string(text) + "'", 0,
                      unit_hint};
  }
  if (first != last) {
    auto unit_begin = first;
    if (!x3::parse(first, last, units, unit) || first != last) {
      return ValueError{"unknown unit '" + std::string(unit_begin, last) + "' in " + what,
                        static_cast<std::uint32_t>(unit_begin - text.begin()), unit_hint};
    }
  }
  if (number != 0 && unit > std::numeric_limits<std::uint64_t>::max() / number)
    return ValueError{std::string(what) + " '" + std::string(text) + "' is too large", 0, {}};
  return number * unit;
}

}  // namespace

Parsed<std::uint64_t> parse_time_us(std::string_view text) {
  auto parsed = number_with_unit(text, time_units, 1000, "time",
                                 "times take a unit: us, ms, s, m, h or d (bare numbers are ms)");
  if (auto* v = std::get_if<std::uint64_t>(&parsed)) {
    // HAProxy keeps times in milliseconds on 32 bits: about 24.8 days at most.
    if (*v / 1000 > static_cast<std::uint64_t>(std::numeric_limits<std::int32_t>::max()))
      return ValueError{
          "time '" + std::string(text) + "' is too large (at most 2147483647 ms)", 0, {}};
  }
  return parsed;
}

Parsed<std::uint64_t> parse_size(std::string_view text) {
  return number_with_unit(text, size_units, 1, "size", "sizes take k, m or g (powers of 1024)");
}

Parsed<std::int64_t> parse_integer(std::string_view text, std::int64_t min, std::int64_t max) {
  std::int64_t value = 0;
  auto first = text.begin();
  if (text.empty() || !x3::parse(first, text.end(), x3::long_long, value) || first != text.end())
    return ValueError{"expected an integer, found '" + std::string(text) + "'", 0, {}};
  if (value < min || value > max)
    return ValueError{"value " + std::string(text) + " is out of range [" + std::to_string(min) +
                          ", " + std::to_string(max) + "]",
                      0,
                      {}};
  return value;
}

namespace {

bool is_ipv4(const std::string& host) {
  in_addr a{};
  return inet_pton(AF_INET, host.c_str(), &a) == 1;
}
bool is_ipv6(const std::string& host) {
  in6_addr a{};
  return inet_pton(AF_INET6, host.c_str(), &a) == 1;
}
bool is_hostname(std::string_view host) {
  // Digits and dots only is a malformed IPv4 address, not a name.
  if (host.find_first_not_of("0123456789.") == std::string_view::npos) return false;
  auto first = host.begin();
  const auto label = +(x3::alnum | x3::char_("-_"));
  return x3::parse(first, host.end(), label % '.') && first == host.end();
}

// Port or port range after the last ':'; offsets `+N`/`-N` only for servers.
std::optional<ValueError> parse_port_part(std::string_view text, std::uint32_t offset,
                                          AddressUse use, Address& out) {
  if (text.empty()) {
    if (use == AddressUse::server) return std::nullopt;  // `host:` = keep the client's port
    return ValueError{"missing port after ':'", offset, "write a port such as :80"};
  }
  out.has_port = true;
  if (use == AddressUse::server && (text[0] == '+' || text[0] == '-')) {
    auto v = parse_integer(text.substr(1), 0, 65535);
    if (error_of(v))
      return ValueError{"invalid port offset '" + std::string(text) + "'", offset, {}};
    out.port_offset = true;
    out.port = text[0] == '-' ? -static_cast<std::int32_t>(std::get<std::int64_t>(v))
                              : static_cast<std::int32_t>(std::get<std::int64_t>(v));
    out.last_port = out.port;
    return std::nullopt;
  }
  std::uint32_t low = 0, high = 0;
  auto first = text.begin();
  bool ok = x3::parse(first, text.end(), x3::uint_, low);
  high = low;
  if (ok && first != text.end() && *first == '-') {
    ++first;
    ok = x3::parse(first, text.end(), x3::uint_, high);
    if (ok && use == AddressUse::server)
      return ValueError{"port ranges are not allowed for a server", offset, {}};
  }
  if (!ok || first != text.end())
    return ValueError{"invalid port '" + std::string(text) + "'", offset, {}};
  if (low > 65535 || high > 65535)
    return ValueError{
        "port " + std::to_string(std::max(low, high)) + " is out of range (1 to 65535)",
        offset,
        {}};
  if (use == AddressUse::bind && low == 0)
    return ValueError{"invalid port 0", offset, "ports go from 1 to 65535"};
  if (high < low)
    return ValueError{"port range " + std::string(text) + " ends before it starts", offset, {}};
  out.port = static_cast<std::int32_t>(low);
  out.last_port = static_cast<std::int32_t>(high);
  return std::nullopt;
}

}  // namespace

Parsed<Address> parse_address(std::string_view text, AddressUse use) {
  Address out;
  std::uint32_t offset = 0;
  AddressFamily forced = AddressFamily::unspecified;  // by ipv4@/ipv6@ (tcp4@, tcp6@)
  if (auto at = text.find('@'); at != std::string_view::npos) {
    out.prefix = std::string(text.substr(0, at));
    std::string_view rest = text.substr(at + 1);
    const std::uint32_t rest_offset = static_cast<std::uint32_t>(at + 1);
    // `stream+X@` names the stream flavour of X@, which is what a bind and a server use.
    std::string_view kind = out.prefix;
    const bool stream = kind.starts_with("stream+");
    if (stream) kind.remove_prefix(7);
    if (kind.starts_with("quic") &&
        (kind == "quic4" || kind == "quic6" || kind.starts_with("quic+")))
      return ValueError{"'" + out.prefix + "@': QUIC listeners are not supported by sluice", 0,
                        "sluice serves TCP and TLS over TCP; bind an ipv4@/ipv6@ address"};
    if (kind == "sockpair")
      return ValueError{"'sockpair@' (a socket pair from the master) is not supported by sluice", 0,
                        "pass a listening socket with fd@N instead"};
    if (!stream && (kind == "udp" || kind == "udp4" || kind == "udp6" || kind == "uxdg" ||
                    kind.starts_with("dgram+")))
      return ValueError{
          "'" + out.prefix + "@' is a datagram address; a stream address is needed here", 0,
          "known prefixes: ipv4@ ipv6@ unix@ abns@ fd@ (optionally stream+)"};
    if (kind == "unix" || kind == "uxst") {
      out.family = AddressFamily::unix_path;
      out.host = std::string(rest);
      if (out.host.empty())
        return ValueError{"'" + out.prefix + "@' expects a path", rest_offset, {}};
      return out;
    }
    if (kind == "abns") {
      out.family = AddressFamily::abstract;
      out.host = std::string(rest);
      if (out.host.empty()) return ValueError{"'abns@' expects a name", rest_offset, {}};
      return out;
    }
    if (kind == "fd") {
      auto n = parse_integer(rest, 0, std::numeric_limits<std::int32_t>::max());
      if (error_of(n))
        return ValueError{
            "'" + out.prefix + "@' expects a file descriptor number", rest_offset, {}};
      out.family = AddressFamily::fd;
      out.host = std::string(rest);
      return out;
    }
    if (kind == "ipv4" || kind == "ipv6" || kind == "tcp" || kind == "tcp4" || kind == "tcp6") {
      text = rest;
      offset = rest_offset;
      forced = kind == "ipv4" || kind == "tcp4"   ? AddressFamily::ipv4
               : kind == "ipv6" || kind == "tcp6" ? AddressFamily::ipv6
                                                  : AddressFamily::unspecified;
    } else {
      return ValueError{"unknown address prefix '" + out.prefix + "@'", 0,
                        "known prefixes: ipv4@ ipv6@ unix@ abns@ fd@ (optionally stream+)"};
    }
  } else if (!text.empty() && text[0] == '/') {
    out.family = AddressFamily::unix_path;
    out.host = std::string(text);
    return out;
  }

  std::string_view host;
  std::string_view port;
  bool has_colon = false;
  if (!text.empty() && text[0] == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos)
      return ValueError{"missing ']' after IPv6 address", offset, {}};
    host = text.substr(1, close - 1);
    std::string_view after = text.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':')
        return ValueError{
            "unexpected text after ']'", offset + static_cast<std::uint32_t>(close) + 1, {}};
      has_colon = true;
      port = after.substr(1);
    }
    out.family = AddressFamily::ipv6;
    if (!is_ipv6(std::string(host)))
      return ValueError{"invalid IPv6 address '" + std::string(host) + "'", offset + 1, {}};
  } else {
    auto colon = text.rfind(':');
    if (colon != std::string_view::npos) {
      has_colon = true;
      host = text.substr(0, colon);
      port = text.substr(colon + 1);
    } else {
      host = text;
    }
  }
  const auto port_offset = offset + static_cast<std::uint32_t>(text.size() - port.size());
  if (out.family != AddressFamily::ipv6) {
    std::string h(host);
    if (h.empty() || h == "*" || h == "::") {
      out.family = h == "::" ? AddressFamily::ipv6 : AddressFamily::unspecified;
    } else if (is_ipv4(h)) {
      out.family = AddressFamily::ipv4;
    } else if (is_ipv6(h)) {
      out.family = AddressFamily::ipv6;
    } else if (is_hostname(h)) {
      out.family = AddressFamily::hostname;
    } else {
      return ValueError{"invalid address '" + h + "'", offset, {}};
    }
    out.host = out.family == AddressFamily::unspecified ? std::string() : h;
  } else {
    out.host = std::string(host);
  }
  if (forced == AddressFamily::ipv4 && out.family == AddressFamily::ipv6)
    return ValueError{"'" + out.prefix + "@' given an IPv6 address", 0, {}};
  if (forced == AddressFamily::ipv6 && out.family == AddressFamily::ipv4)
    return ValueError{"'" + out.prefix + "@' given an IPv4 address", 0, {}};
  out.resolve_as = forced;
  // `ipv6@:80`: every IPv6 address, where a bare `:80` means every IPv4 one.
  if (out.family == AddressFamily::unspecified && forced == AddressFamily::ipv6) {
    out.family = AddressFamily::ipv6;
    out.host = "::";
  }

  if (!has_colon) {
    if (use == AddressUse::bind)
      return ValueError{"missing port in address '" + std::string(text) + "'",
                        offset + static_cast<std::uint32_t>(text.size()),
                        "a bind address needs a port, as in :80 or 127.0.0.1:8080"};
    return out;
  }
  if (auto err = parse_port_part(port, port_offset, use, out)) return *err;
  return out;
}

Parsed<std::vector<Address>> parse_address_list(std::string_view text, AddressUse use) {
  std::vector<Address> out;
  std::uint32_t offset = 0;
  while (true) {
    auto comma = text.find(',', offset);
    std::string_view item = text.substr(
        offset, comma == std::string_view::npos ? std::string_view::npos : comma - offset);
    auto parsed = parse_address(item, use);
    if (auto* err = error_of(parsed)) {
      err->offset += offset;
      return *err;
    }
    out.push_back(std::get<Address>(std::move(parsed)));
    if (comma == std::string_view::npos) break;
    offset = static_cast<std::uint32_t>(comma + 1);
  }
  return out;
}

}  // namespace sluice::parser
