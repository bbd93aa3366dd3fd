// Keys and hash functions of the hashing balance algorithms (source, uri, hdr) with the
// semantics HAProxy 2.6 was seen to apply: which bytes are hashed and by which function. Pure
// functions over bytes: no HTTP parsing, no sockets, no server state.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace sluice::balance {

// `hash-type <method> <function> [avalanche]`. sdbm, djb2 and crc32 give HAProxy's values, so
// map-based tables pick the servers HAProxy picks. `wt6` and `none` are parsed but hashed with
// sdbm: same stickiness and spread, different values. `avalanche` mixes with Bob Jenkins' 6-shift
// integer hash, which is not HAProxy's variant: with it, and with `consistent` (whose ring points
// are sluice's own), server choice is sticky and weight-proportional but not HAProxy's.
enum class HashMethod : std::uint8_t { map_based, consistent };
enum class HashFunction : std::uint8_t { sdbm, djb2, crc32 };

struct HashType {
  HashMethod method = HashMethod::map_based;
  HashFunction function = HashFunction::sdbm;
  bool avalanche = false;
};

// The words after `hash-type`, as written. HAProxy's defaults apply: `consistent` alone means
// sdbm with avalanche. nullopt on a word the parser would have rejected.
std::optional<HashType> parse_hash_type(std::span<const std::string> words);

std::uint32_t hash_bytes(HashFunction function, std::string_view bytes);
std::uint32_t avalanche(std::uint32_t value);
// The configured function, then avalanche when asked.
std::uint32_t hash_key(const HashType& type, std::string_view bytes);

// `balance source`: the address itself (network order, 4 or 16 bytes), its 32-bit words folded
// with XOR; HAProxy hashes no further. An IPv4 address is thus its own number.
std::uint32_t source_hash(std::span<const std::uint8_t> address);

// `balance uri [whole] [len N] [depth N] [path-only]` (0: no limit).
struct UriOptions {
  bool whole = false;
  bool path_only = false;
  std::uint32_t len = 0;
  std::uint32_t depth = 0;
};

// The part of a request target that `balance uri` hashes: up to the '?' unless `whole`; from
// the path's first '/' with `path_only` (absolute-form loses scheme and authority); at most
// `len` characters; stopping before the slash number depth + 1. HAProxy hashes absolute-form
// targets without their default port (http://h:80/p as http://h/p): the caller passes the
// target normalized that way.
std::string_view uri_key(std::string_view target, const UriOptions& options);

// `balance hdr(<name>)` hashes one value: of the header's first occurrence, the part before the
// first comma, without surrounding spaces or tabs (as HAProxy 2.6 was seen to do).
std::string_view first_value(std::string_view field_value);

// `hdr(<name>) use_domain_only`: the label before the last dot, ignoring a dot that starts the
// value ("haproxy.1wt.eu" -> "1wt", "www.example.co.uk:8080" -> "co", "nodots" -> itself).
// HAProxy reads outside the value on degenerate input such as "a..b" or "ab.."; here the key is
// then empty.
std::string_view domain_key(std::string_view host);

}  // namespace sluice::balance
