// Server selection for one backend, as HAProxy 2.6's `balance` does it: built once at config
// time from the backend's servers (weights, backup, disabled, maxconn) and algorithm; pick() runs
// on every event loop at once, lock-free and allocation-free, reading up/down and connection
// counts from ServerStates. Knows nothing of sockets, HTTP parsing, queues or retries: it says
// why no server was picked and the caller queues, retries or answers 503.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/balance/hash.hpp"
#include "runtime/balance/ring.hpp"
#include "runtime/balance/rotation.hpp"
#include "runtime/balance/server_state.hpp"
#include "runtime/config/config.hpp"

namespace sluice::balance {

inline constexpr std::uint32_t no_server = UINT32_MAX;

// What the algorithms may look at. Unused fields are ignored.
struct Request {
  // The client's address in network byte order: 4 bytes (IPv4) or 16 (IPv6). Empty for other
  // families (unix sockets): `source` then rotates as for a missing key.
  std::span<const std::uint8_t> source{};
  // The request target, absolute-form without its default port (see uri_key).
  std::string_view target{};
  // The value of the first occurrence of the header named by header_name(); nullopt when
  // absent. Only its first comma-separated value counts; absent or empty: round robin, as in
  // HAProxy.
  std::optional<std::string_view> header{};
  // A server to stay off if any other is usable: the one that just refused (redispatch).
  // Map-based hashing ignores it: the key pins the server.
  std::uint32_t avoid = no_server;
};

enum class Outcome : std::uint8_t {
  picked,       // `server` chosen; its connection is already counted in ServerStates
  server_full,  // a hashing algorithm chose `server`, which is at maxconn: queue on it
  all_full,     // every usable server is at maxconn: queue in the backend
  no_server,    // nothing usable (down, disabled or weight 0): answer 503
};

struct Pick {
  Outcome outcome = Outcome::no_server;
  std::uint32_t server = no_server;  // index in config::Backend::servers
};

// What config::Backend does not carry yet.
struct SelectorOptions {
  HashType hash;                   // `hash-type`
  std::uint32_t random_draws = 2;  // `balance random(<draws>)`
};

// The tables are built once, over the servers that can ever serve (not `disabled`, weight > 0);
// nothing is rebuilt while serving, because that would allocate. What that changes from HAProxy,
// which rebuilds for the servers currently up:
// - From start-up with every server up, roundrobin, static-rr, leastconn, first and map-based
//   source/uri/hdr pick exactly as HAProxy 2.6 does (recorded in tests/unit/balance).
// - A server down at run time: roundrobin and static-rr skip its turns in the configured order
//   (same shares, the interleaving may differ from HAProxy's recomputed one); map-based
//   hashing splits hash % running weight over the running servers in declaration order
//   (HAProxy: its map of the running servers), so most keys move in both.
// - Weights are fixed: a runtime weight change means a new Selector.
class Selector {
 public:
  // `states` must hold one state per server of `backend` and outlive the selector.
  Selector(const config::Backend& backend, ServerStates& states, SelectorOptions options = {});

  // Chooses a server for a new connection. Backup servers only serve when no primary is
  // usable: the first usable one, or all of them with `option allbackups`. On Outcome::picked
  // the caller owns one connection on the server and ends it with
  // ServerStates::end_connection.
  Pick pick(const Request& request = {});

  config::Balance algorithm() const { return algorithm_; }
  // `balance hdr(<name>)`: the header the caller looks up for Request::header.
  std::string_view header_name() const { return header_name_; }

 private:
  struct Member {
    std::uint32_t server;
    std::uint32_t weight;
    std::uint32_t maxconn;
  };
  struct alignas(64) Cursor {
    std::atomic<std::uint64_t> next{0};
  };
  // Primaries or backups. The lookup structures exist only for the algorithms that use them.
  struct Group {
    std::vector<Member> members;      // declaration order
    std::vector<std::uint64_t> mask;  // members as a server bitmap (ServerStates::words)
    Rotation rotation;                // roundrobin order, else the static map
    Ring ring;                        // consistent hashing
    std::unique_ptr<Cursor> cursor;   // shared by all loops: one rotation per backend
  };

  void build_group(Group& group, const config::Backend& backend, bool backup);
  Pick pick_in(Group& group, const Request& request);
  Pick pick_first_backup();
  Pick rotate(Group& group, std::uint32_t avoid);
  Pick scan(const Group& group, std::size_t start, std::uint32_t avoid);
  Pick least_loaded(const Group& group, std::uint32_t avoid);
  Pick hashed(const Group& group, std::uint32_t hash, std::uint32_t avoid);
  std::uint32_t map_member(const Group& group, std::uint32_t hash) const;
  Pick random_draws(Group& group, std::uint32_t avoid);
  Pick take(const Member& member);
  bool hashing() const;

  ServerStates* states_;
  config::Balance algorithm_;
  SelectorOptions options_;
  bool allbackups_;
  UriOptions uri_;
  std::string header_name_;
  bool domain_only_ = false;
  Group primary_;
  Group backup_;
};

}  // namespace sluice::balance
