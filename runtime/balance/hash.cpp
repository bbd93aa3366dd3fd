#include "runtime/balance/hash.hpp"

#include <array>

namespace sluice::balance {

namespace {

constexpr std::array<std::uint32_t, 256> crc32_table() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k)
      c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
  return table;
}

constexpr auto crc_table = crc32_table();

}  // namespace

std::optional<HashType> parse_hash_type(std::span<const std::string> words) {
  if (words.empty()) return std::nullopt;
  HashType type;
  if (words[0] == "map-based")
    type.method = HashMethod::map_based;
  else if (words[0] == "consistent")
    type.method = HashMethod::consistent;
  else
    return std::nullopt;
  bool function_given = false;
  for (std::size_t i = 1; i < words.size(); ++i) {
    const std::string& w = words[i];
    if (w == "avalanche") {
      type.avalanche = true;
    } else if (w == "sdbm" || w == "wt6" || w == "none") {
      type.function = HashFunction::sdbm;
      function_given = true;
    } else if (w == "djb2") {
      type.function = HashFunction::djb2;
      function_given = true;
    } else if (w == "crc32") {
      type.function = HashFunction::crc32;
      function_given = true;
    } else {
      return std::nullopt;
    }
  }
  if (type.method == HashMethod::consistent && !function_given) type.avalanche = true;
  return type;
}

std::uint32_t hash_bytes(HashFunction function, std::string_view bytes) {
  std::uint32_t h = 0;
  switch (function) {
    case HashFunction::sdbm:
      for (unsigned char c : bytes)
        h = c + (h << 6) + (h << 16) - h;
      return h;
    case HashFunction::djb2:
      h = 5381;
      for (unsigned char c : bytes)
        h = (h << 5) + h + c;
      return h;
    case HashFunction::crc32:
      h = 0xFFFFFFFFu;
      for (unsigned char c : bytes)
        h = crc_table[(h ^ c) & 0xFF] ^ (h >> 8);
      return ~h;
  }
  return h;
}

std::uint32_t avalanche(std::uint32_t a) {
  // Bob Jenkins' public-domain 32-bit integer hash (six shifts): every input bit flips about
  // half of the output bits, which map-based tables need when keys differ in few bits.
  a = (a + 0x7ed55d16u) + (a << 12);
  a = (a ^ 0xc761c23cu) ^ (a >> 19);
  a = (a + 0x165667b1u) + (a << 5);
  a = (a + 0xd3a2646cu) ^ (a << 9);
  a = (a + 0xfd7046c5u) + (a << 3);
  a = (a ^ 0xb55a4f09u) ^ (a >> 16);
  return a;
}

std::uint32_t hash_key(const HashType& type, std::string_view bytes) {
  const std::uint32_t h = hash_bytes(type.function, bytes);
  return type.avalanche ? avalanche(h) : h;
}

std::uint32_t source_hash(std::span<const std::uint8_t> address) {
  std::uint32_t h = 0;
  for (std::size_t i = 0; i + 4 <= address.size(); i += 4)
    h ^= (std::uint32_t{address[i]} << 24) | (std::uint32_t{address[i + 1]} << 16) |
         (std::uint32_t{address[i + 2]} << 8) | std::uint32_t{address[i + 3]};
  return h;
}

std::string_view uri_key(std::string_view target, const UriOptions& options) {
  if (options.path_only && !target.starts_with('/')) {
    const auto scheme_end = target.find("://");
    const auto path = scheme_end == std::string_view::npos ? std::string_view::npos
                                                           : target.find('/', scheme_end + 3);
    target = path == std::string_view::npos ? std::string_view{} : target.substr(path);
  }
  std::size_t end = 0;
  std::uint32_t slashes = 0;
  for (; end < target.size(); ++end) {
    if (options.len != 0 && end >= options.len) break;
    const char c = target[end];
    if (c == '?' && !options.whole) break;
    if (c == '/' && options.depth != 0 && ++slashes > options.depth) break;
  }
  return target.substr(0, end);
}

std::string_view first_value(std::string_view field_value) {
  field_value = field_value.substr(0, field_value.find(','));
  const auto begin = field_value.find_first_not_of(" \t");
  if (begin == std::string_view::npos) return {};
  return field_value.substr(begin, field_value.find_last_not_of(" \t") + 1 - begin);
}

std::string_view domain_key(std::string_view host) {
  const auto last = host.rfind('.');
  if (last == std::string_view::npos || last == 0) return host;
  const auto before = host.rfind('.', last - 1);
  const std::size_t start = before == std::string_view::npos ? 0 : before + 1;
  return host.substr(start, last - start);
}

}  // namespace sluice::balance
