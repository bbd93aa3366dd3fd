// Byte classes, word-at-a-time scans and list helpers shared by the HTTP/1.1 parser, body
// decoder and serializer (RFC 9110 5.5, 5.6). Internal to runtime/http: nothing outside
// the module includes it. Knows bytes and tokens only, never messages or sockets.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "runtime/http/message.hpp"
#include "runtime/http/parser.hpp"

namespace sluice::http::syntax {

// Character classes (RFC 9110 5.6.2 tchar; 5.5 field-vchar / obs-text / SP / HTAB;
// the request-target bytes HAProxy lets through by default).
inline constexpr std::uint8_t kToken = 1;
inline constexpr std::uint8_t kValue = 2;
inline constexpr std::uint8_t kTarget = 4;

constexpr std::array<std::uint8_t, 256> make_classes() {
  std::array<std::uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    bool tsym = c == '!' || c == '#' || c == '$' || c == '%' || c == '&' || c == '\'' || c == '*' ||
                c == '+' || c == '-' || c == '.' || c == '^' || c == '_' || c == '`' || c == '|' ||
                c == '~';
    std::uint8_t f = 0;
    if (alnum || tsym) f |= kToken;
    if (c == '\t' || (c >= 0x20 && c != 0x7f)) f |= kValue;
    // HAProxy always refuses 0..32, 127 and (by default) non-ASCII; '#' starts a fragment,
    // which a client must not send (RFC 9112 3.2) and HAProxy refuses.
    if (c > 0x20 && c < 0x7f && c != '#') f |= kTarget;
    t[c] = f;
  }
  return t;
}
inline constexpr std::array<std::uint8_t, 256> kClasses = make_classes();

inline bool is(char c, std::uint8_t cls) {
  return kClasses[static_cast<unsigned char>(c)] & cls;
}
inline bool is_ows(char c) {
  return c == ' ' || c == '\t';
}
inline bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Word-at-a-time scans: the value and target bytes are most of a head, and almost all of
// them are plain printable ASCII. A flagged word falls back to the byte loop.
inline constexpr std::uint64_t kOnes = 0x0101010101010101ull;
inline constexpr std::uint64_t kHigh = 0x8080808080808080ull;

inline std::uint64_t load8(const char* p) {
  std::uint64_t x;
  std::memcpy(&x, p, 8);
  return x;
}
// Exact for n <= 128: set iff some byte is below n.
inline std::uint64_t below(std::uint64_t x, unsigned n) {
  return (x - kOnes * n) & ~x & kHigh;
}
inline std::uint64_t equal(std::uint64_t x, unsigned b) {
  std::uint64_t y = x ^ (kOnes * b);
  return (y - kOnes) & ~y & kHigh;
}

template <std::uint8_t Class, class Stop>
[[gnu::always_inline]] inline std::size_t scan(const char* p, std::size_t i, std::size_t end,
                                               Stop stop_word) {
  if (i >= end) return i;  // also guards a caller that shrank the buffer
  for (;;) {
    while (i + 8 <= end && !stop_word(load8(p + i)))
      i += 8;
    std::size_t stop = std::min(i + 8, end);
    while (i < stop && is(p[i], Class))
      ++i;
    if (i < stop || i == end) return i;
  }
}

// Stops at the first byte that is not field-vchar / obs-text / SP / HTAB.
inline std::size_t scan_value(const char* p, std::size_t i, std::size_t end) {
  return scan<kValue>(p, i, end,
                      [](std::uint64_t x) { return (below(x, 0x20) | equal(x, 0x7f)) != 0; });
}

inline std::size_t scan_target(const char* p, std::size_t i, std::size_t end) {
  return scan<kTarget>(p, i, end, [](std::uint64_t x) {
    return (below(x, 0x21) | (x & kHigh) | equal(x, 0x7f) | equal(x, '#')) != 0;
  });
}

// "HTTP/" DIGIT "." DIGIT, checked one byte at a time so a split version resumes.
inline bool version_byte_ok(char c, std::size_t k) {
  if (k < 5) return c == "HTTP/"[k];
  if (k == 6) return c == '.';
  return is_digit(c);
}

// Field names compared against a lower-case literal.
inline bool named(std::string_view name, std::string_view lower) {
  if (name.size() != lower.size()) return false;
  for (std::size_t i = 0; i < name.size(); ++i)
    if (ascii_lower(name[i]) != lower[i]) return false;
  return true;
}

inline std::string_view trim_ows(std::string_view v) {
  while (!v.empty() && is_ows(v.front()))
    v.remove_prefix(1);
  while (!v.empty() && is_ows(v.back()))
    v.remove_suffix(1);
  return v;
}

// Calls `each` with every non-empty trimmed element of a comma-separated list
// (RFC 9110 5.6.1: empty elements are ignored).
template <class Each>
void for_each_element(std::string_view v, Each each) {
  while (!v.empty()) {
    std::size_t comma = v.find(',');
    std::string_view element = trim_ows(v.substr(0, comma));
    if (!element.empty()) each(element);
    if (comma == std::string_view::npos) break;
    v.remove_prefix(comma + 1);
  }
}

inline int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  char l = ascii_lower(c);
  if (l >= 'a' && l <= 'f') return l - 'a' + 10;
  return -1;
}

// The status a rejection answers: the request table (400/414/431/501/505), 502 for
// anything a server sent.
std::uint16_t status_for(ErrorCode code, bool is_request);

}  // namespace sluice::http::syntax
