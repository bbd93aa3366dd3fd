// runtime/balance hashing: the keys and functions, and the servers HAProxy 2.6 picks for the
// same keys. The recorded tables come from a running `haproxy` 2.6.12 (map-based, its default
// sdbm), one request per key; letters name servers in declaration order.
#include <doctest/doctest.h>

#include <arpa/inet.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/balance/hash.hpp"
#include "runtime/balance/selector.hpp"

namespace {

using namespace sluice::balance;
using sluice::config::Balance;

struct RecordedUri {
  std::vector<int> weights;
  std::string options;
  std::string servers;
};

struct RecordedKeys {
  std::vector<int> weights;
  std::vector<std::string> keys;
  std::string servers;
};

const std::vector<std::string> recorded_paths = {
    "/a?",
    "/?a",
    "/?x=1/2",
    "//ca?",
    "/",
    "/bb/a//?a",
    "/ba/bcc/b/cc?x=1/2",
    "//ca/bcb?",
    "/b/bc/?a",
    "/ccb///bab?",
    "/?x=1/2",
    "/b///aaa?",
    "/b/ca?",
    "/",
    "/c/c//?x=1/2",
    "//c/aab?x=1/2",
    "/cc/bca/ac/aa?x=1/2",
    "/ca/aa/cba/",
    "/ca?x=1/2",
    "/ba/a/ac/cab?a",
    "/?x=1/2",
    "/?x=1/2",
    "//a/cba?",
    "/aa//ac?x=1/2",
    "/aa?",
    "/ab",
    "//c?",
    "/cba?a",
    "/ca/cca?x=1/2",
    "/bc/ab/ca/cb?",
    "/b?",
    "//ccc?x=1/2",
    "/",
    "/aa/a/ca?a",
    "/",
    "////?x=1/2",
    "/bb/bc",
    "/cb",
    "/a",
    "/ab/",
};

// `balance uri <options>`: the server HAProxy chose for each of recorded_paths.
const std::vector<RecordedUri> recorded_uri = {
    {{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, "", "BIILIMEFLBIHCIAKJJCLIIEDABEKMHCJIEIAKDBC"},
    {{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, "whole", "FFMKILBAEJMBEIADGJAEMMHKEBDMJKGEIJIJKDBC"},
    {{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, "len 3", "BIIEICBEDEIDDIEEECCBIICAABEDCDCEIAIECDBB"},
    {{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
     "depth 2",
     "BIILIKLLDFIDCIAEGCCFIICBABEKMBCJIDIDKDBC"},
    {{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
     "len 4 depth 2",
     "BIILIHGLHMIDIIAEALCGIICBABEKLICAIBIDHDBC"},
    {{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
     "path-only",
     "BIILIMEFLBIHCIAKJJCLIIEDABEKMHCJIEIAKDBC"},
    {{5, 3, 2}, "", "AAABAAACBCAABABABBACAABCABACAAAAACAAACAC"},
    {{5, 3, 2}, "whole", "ACCAAAACCBCCAABBABABCCAABBCAABAAACABACAC"},
    {{5, 3, 2}, "len 3", "AAAAAACACAACCAAAAAACAAAAABACABAAAAAAACAB"},
    {{5, 3, 2}, "depth 2", "AAABAAABABACBABAABAAAAAAABACABAAAAAAACAC"},
    {{5, 3, 2}, "len 4 depth 2", "AAABACABBCACAABABAAAAAAAABACAAAAAAAACCAC"},
    {{5, 3, 2}, "path-only", "AAABAAACBCAABABABBACAABCABACAAAAACAAACAC"},
};

// `balance hdr(X-Key)`.
const std::vector<RecordedKeys> recorded_hdr = {
    {{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
     {
         "mlemjh-",
         "1lbo",
         ".-gce",
         "hj-eobihed-pkf",
         "mc3kgme30",
         "on2-bm3o3olgjac",
         "eo",
         "cg0p2i2eaf0j-",
         "0gkm",
         "-fm3o-ni",
         "ghh2.i3j0b1h1",
         "hlold0hln",
         "eeb-1.",
         "2de3.",
         "hmedl.2iaafo",
         "kfpf.1fdildpf",
         "c.3",
         "3o-ok",
         "0khf2b1dlca.",
         "n2kndhnib",
         "k1-iekm.da",
         "l-cfoao3mncl",
         "apmgjd1-fj",
         "dbogkmfohfc",
         "d",
         "in2p",
         "ij13liljc-p",
         "egnm",
         "cil",
         "ao.1.pgagejb",
         "apd-lhd2hlnfei",
         "h1p3ndleied",
         "jh3lli1c3j3m-",
         "hg2geekiec3hb0p",
         "0jddncaa321pon",
         "3e.hfkibk",
         "cb-",
         "h-..lhei",
         "k3b.c03aaj",
         ".mmdln..dldp1",
     },
     "GMEMIBEIBGDDBEKBHLDCBLFJJKBHGGAFAKIGBGJB"},
    {{5, 3, 2},
     {
         ".hd0fjjfi",
         "kb-nlmhj",
         "1m3ihj",
         "hbjj3c2e203eml.",
         "j..c1pe2-og",
         "bf.ad",
         ".1-0hicamj",
         "indf0ioj-0ckei2",
         "m",
         "mbd0.",
         "pck22j.f23e2g",
         "121gpbpnd0n1n",
         "fk.dhpmj-oh2j-.",
         "hnfpdnmhpp1a1",
         "n0-dh",
         "2h",
         ".nme1n",
         "-gkobj.3hpgkbf",
         "fbhm.2-.c.c",
         "ianlpl0",
         "jbn.f2f",
         "i..k2l2e3",
         "oado2mipdg.",
         ".gbef00f",
         "i",
         "lalal3d2bh3og1m",
         "ceidj.a3d.chhm",
         "c322f1ekp",
         "d-c-0aa3apjeaei",
         "3bla1ijo2o0bbga",
         "p1klho2",
         "3",
         "ejc",
         "lfop23.p.ikghf",
         "abkiheb",
         "am.j",
         "abpgmde3ia",
         "iologda3bkn2",
         "iehecf.d-l1jk31",
         "e0.-.",
     },
     "CACBACBCCACBCACCAACCBCBBABACABAABABBAACB"},
};

// `balance hdr(X-Key) use_domain_only`. Recorded on X-Key: on Host, HAProxy 2.6 once hashed
// a.b.c.d.e.f differently right after www.Example.COM (state-dependent; alone it agrees).
const std::vector<RecordedKeys> recorded_domain = {
    {{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
     {
         "haproxy.1wt.eu",
         "1wt.eu",
         "a.b.c.d",
         "nodots",
         "www.example.co.uk:8080",
         "x.y:80",
         "trail.",
         "www.Example.COM",
         "a.b.c.d.e.f",
         "x:8.0",
         "[::1]:80",
         ".a.b",
     },
     "MMIJCDGFKMKG"},
    {{5, 3, 2},
     {
         "haproxy.1wt.eu",
         "1wt.eu",
         "a.b.c.d",
         "nodots",
         "www.example.co.uk:8080",
         "x.y:80",
         "trail.",
         "www.Example.COM",
         "a.b.c.d.e.f",
         "x:8.0",
         "[::1]:80",
         ".a.b",
     },
     "BBCABABBABCA"},
};

// `balance source`, clients bound to these loopback addresses.
const std::vector<RecordedKeys> recorded_source = {
    {{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
     {
         "127.108.126.154", "127.70.48.254",   "127.151.28.154",  "127.196.166.209",
         "127.136.186.186", "127.62.139.87",   "127.187.138.212", "127.37.143.190",
         "127.177.160.204", "127.147.211.141", "127.88.50.127",   "127.80.121.200",
         "127.88.120.182",  "127.220.45.210",  "127.191.239.210", "127.248.228.135",
         "127.231.44.205",  "127.181.247.29",  "127.252.152.176", "127.142.72.206",
         "127.225.155.253", "127.226.202.104", "127.214.124.196", "127.243.190.128",
         "127.63.247.245",  "127.157.55.94",   "127.9.177.193",   "127.18.247.176",
         "127.143.198.3",   "127.127.207.89",  "127.239.109.13",  "127.195.92.252",
         "127.107.182.56",  "127.26.134.13",   "127.184.45.7",    "127.44.215.249",
         "127.66.66.131",   "127.39.61.221",   "127.159.19.222",  "127.200.170.49",
     },
     "KJLADAKMBIGFCLGDEKJDGKBDCEDGBDFLKHMMKAJF"},
    {{5, 3, 2},
     {
         "127.11.64.88",    "127.86.4.21",     "127.35.89.20",   "127.252.249.35",
         "127.152.136.122", "127.126.101.212", "127.251.81.126", "127.191.58.198",
         "127.78.10.21",    "127.151.58.168",  "127.148.8.54",   "127.79.224.81",
         "127.84.224.252",  "127.75.255.199",  "127.39.216.88",  "127.17.244.1",
         "127.120.215.190", "127.229.189.13",  "127.58.213.79",  "127.203.71.56",
         "127.198.230.15",  "127.1.14.197",    "127.145.197.38", "127.32.8.51",
         "127.208.237.142", "127.233.115.93",  "127.88.40.83",   "127.186.220.161",
         "127.31.39.115",   "127.106.233.168", "127.15.192.241", "127.51.60.167",
         "127.17.65.160",   "127.220.99.22",   "127.118.46.202", "127.161.120.207",
         "127.185.216.170", "127.165.145.185", "127.5.238.104",  "127.231.160.205",
     },
     "AABABBACACBABAACBAABACBACAACACAACBBABACA"},
};

sluice::config::Backend make_backend(Balance balance, const std::vector<int>& weights,
                                     std::vector<std::string> args = {}) {
  sluice::config::Backend b;
  b.balance = balance;
  b.balance_args = std::move(args);
  for (std::size_t i = 0; i < weights.size(); ++i) {
    sluice::config::Server s;
    s.name = std::string(1, static_cast<char>('A' + i));
    s.weight = weights[i];
    b.servers.push_back(s);
  }
  return b;
}

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> words;
  std::size_t at = 0;
  while (at < text.size()) {
    const auto end = text.find(' ', at);
    words.push_back(text.substr(at, end - at));
    at = end == std::string::npos ? text.size() : end + 1;
  }
  return words;
}

char letter(const Pick& p) {
  return p.outcome == Outcome::picked ? static_cast<char>('A' + p.server) : '?';
}

// Picks one server per key and releases it at once, so no maxconn or load interferes.
template <typename MakeRequest>
std::string servers_for(Selector& selector, ServerStates& states, std::size_t count,
                        MakeRequest make) {
  std::string out;
  for (std::size_t i = 0; i < count; ++i) {
    const Pick p = selector.pick(make(i));
    out += letter(p);
    if (p.outcome == Outcome::picked) states.end_connection(p.server);
  }
  return out;
}

}  // namespace

TEST_CASE("hash functions give the published values") {
  CHECK(hash_bytes(HashFunction::sdbm, "") == 0);
  CHECK(hash_bytes(HashFunction::sdbm, "a") == 97);
  CHECK(hash_bytes(HashFunction::sdbm, "ab") == 6363201u);  // 98 + 97 * 65599
  CHECK(hash_bytes(HashFunction::djb2, "") == 5381);
  CHECK(hash_bytes(HashFunction::djb2, "a") == 177670u);  // 5381 * 33 + 97
  CHECK(hash_bytes(HashFunction::crc32, "123456789") == 0xCBF43926u);
  CHECK(avalanche(0) != avalanche(1));
  const std::array<std::uint8_t, 4> v4 = {192, 168, 1, 2};
  CHECK(source_hash(v4) == 0xC0A80102u);
  std::array<std::uint8_t, 16> v6{};
  v6[15] = 1;  // ::1
  CHECK(source_hash(v6) == 1);
  v6[3] = 1;  // words XOR-folded
  CHECK(source_hash(v6) == 0);
}

TEST_CASE("hash-type words follow HAProxy's defaults") {
  auto parse = [](std::vector<std::string> words) { return parse_hash_type(words); };
  auto map = parse({"map-based"});
  REQUIRE(map);
  CHECK(map->method == HashMethod::map_based);
  CHECK(map->function == HashFunction::sdbm);
  CHECK_FALSE(map->avalanche);
  auto consistent = parse({"consistent"});
  REQUIRE(consistent);
  CHECK(consistent->avalanche);  // "consistent hash uses sdbm and avalanche" by default
  auto explicit_fn = parse({"consistent", "djb2"});
  REQUIRE(explicit_fn);
  CHECK(explicit_fn->function == HashFunction::djb2);
  CHECK_FALSE(explicit_fn->avalanche);
  auto with_avalanche = parse({"map-based", "crc32", "avalanche"});
  REQUIRE(with_avalanche);
  CHECK(with_avalanche->function == HashFunction::crc32);
  CHECK(with_avalanche->avalanche);
  CHECK_FALSE(parse({"ring"}));
  CHECK_FALSE(parse({"map-based", "md5"}));
  CHECK_FALSE(parse({}));
}

TEST_CASE("uri keys: whole, len, depth, path-only") {
  CHECK(uri_key("/a/b?x=1", {}) == "/a/b");
  CHECK(uri_key("/a/b?x=1", {.whole = true}) == "/a/b?x=1");
  CHECK(uri_key("/abcdef", {.len = 3}) == "/ab");
  CHECK(uri_key("/a/b/c/d", {.depth = 1}) == "/a");
  CHECK(uri_key("/a/b/c/d", {.depth = 2}) == "/a/b");
  CHECK(uri_key("/a/b/c/d", {.len = 4, .depth = 3}) == "/a/b");           // whichever comes first
  CHECK(uri_key("/a?x=/1/2", {.whole = true, .depth = 2}) == "/a?x=/1");  // query slashes count
  CHECK(uri_key("/", {.depth = 1}) == "/");
  // As observed: absolute-form hashes scheme and authority unless path-only.
  CHECK(uri_key("http://h.example/cb/a?a", {}) == "http://h.example/cb/a");
  CHECK(uri_key("http://h.example/cb/a?a", {.depth = 2}) == "http://h.example");
  CHECK(uri_key("http://h.example/cb/a?a", {.path_only = true}) == "/cb/a");
  CHECK(uri_key("http://h.example/cb/a", {.path_only = true, .depth = 1}) == "/cb");
  CHECK(uri_key("http://h.example", {.path_only = true}).empty());
  CHECK(uri_key("/p/q", {.path_only = true}) == "/p/q");
}

TEST_CASE("hdr hashes the first value of the first occurrence") {
  CHECK(first_value("alpha") == "alpha");
  CHECK(first_value("alpha, beta") == "alpha");
  CHECK(first_value("  gamma\t ") == "gamma");
  CHECK(first_value("x,y") == "x");
  CHECK(first_value(" , y").empty());
  CHECK(first_value("").empty());
  // Recorded: 23 servers of weight 1; first occurrences "alpha" (then "beta"), "alpha, beta",
  // "gamma", "x,y" (then "z").
  auto backend = make_backend(Balance::hdr, std::vector<int>(23, 1), {"X-Key"});
  ServerStates states(backend);
  Selector selector(backend, states);
  const std::vector<std::string> firsts = {"alpha", "alpha, beta", "  gamma  ", "x,y"};
  CHECK(servers_for(selector, states, firsts.size(),
                    [&](std::size_t i) { return Request{.header = firsts[i]}; }) == "SSUF");
}

TEST_CASE("use_domain_only keys, as HAProxy 2.6 was seen to cut them") {
  CHECK(domain_key("haproxy.1wt.eu") == "1wt");
  CHECK(domain_key("1wt.eu") == "1wt");
  CHECK(domain_key("a.b.c.d") == "c");
  CHECK(domain_key("nodots") == "nodots");
  CHECK(domain_key("www.example.co.uk:8080") == "co");
  CHECK(domain_key("x.y:80") == "x");
  CHECK(domain_key("trail.") == "trail");
  CHECK(domain_key(".lead") == ".lead");
  CHECK(domain_key(".a.b") == "a");
  CHECK(domain_key("x:8.0") == "x:8");
}

TEST_CASE("balance uri picks HAProxy's servers") {
  for (const RecordedUri& r : recorded_uri) {
    CAPTURE(r.options);
    CAPTURE(r.weights.size());
    auto backend = make_backend(Balance::uri, r.weights, split(r.options));
    ServerStates states(backend);
    Selector selector(backend, states);
    CHECK(servers_for(selector, states, recorded_paths.size(), [&](std::size_t i) {
            return Request{.target = recorded_paths[i]};
          }) == r.servers);
  }
}

TEST_CASE("balance hdr picks HAProxy's servers") {
  for (const auto* table : {&recorded_hdr, &recorded_domain}) {
    for (const RecordedKeys& r : *table) {
      const bool domain = table == &recorded_domain;
      CAPTURE(domain);
      auto backend = make_backend(Balance::hdr, r.weights,
                                  domain ? std::vector<std::string>{"X-Key", "use_domain_only"}
                                         : std::vector<std::string>{"X-Key"});
      ServerStates states(backend);
      Selector selector(backend, states);
      CHECK(selector.header_name() == "X-Key");
      CHECK(servers_for(selector, states, r.keys.size(),
                        [&](std::size_t i) { return Request{.header = r.keys[i]}; }) == r.servers);
    }
  }
}

TEST_CASE("balance source picks HAProxy's servers") {
  for (const RecordedKeys& r : recorded_source) {
    auto backend = make_backend(Balance::source, r.weights);
    ServerStates states(backend);
    Selector selector(backend, states);
    std::vector<std::array<std::uint8_t, 4>> addresses(r.keys.size());
    for (std::size_t i = 0; i < r.keys.size(); ++i)
      REQUIRE(inet_pton(AF_INET, r.keys[i].c_str(), addresses[i].data()) == 1);
    CHECK(servers_for(selector, states, r.keys.size(),
                      [&](std::size_t i) { return Request{.source = addresses[i]}; }) == r.servers);
  }
}

TEST_CASE("a missing key falls back to HAProxy's static rotation") {
  // Recorded: `balance hdr(X-Key)`, weights 5,3,2, no header sent.
  auto backend = make_backend(Balance::hdr, {5, 3, 2}, {"X-Key"});
  ServerStates states(backend);
  Selector selector(backend, states);
  CHECK(servers_for(selector, states, 20, [](std::size_t) { return Request{}; }) ==
        "AABACABABCAABACABABC");
  CHECK(servers_for(selector, states, 1,
                    [](std::size_t) { return Request{.header = std::string_view{}}; }) == "A");
  // `source` without an IP address (a unix socket client) rotates too.
  auto source_backend = make_backend(Balance::source, {1, 1});
  ServerStates source_states(source_backend);
  Selector source(source_backend, source_states);
  CHECK(servers_for(source, source_states, 4, [](std::size_t) { return Request{}; }) == "ABAB");
}
