#include "runtime/compile/build_facts.hpp"

#include <algorithm>
#include <array>

namespace sluice::compile {

namespace {

// `+` where sluice does what HAProxy's feature gives a configuration, `-` where it does not
// (the keywords behind a `-` are refused as "not supported by sluice").
constexpr Feature kFeatures[] = {
    {"51DEGREES", false},    {"ACCEPT4", true},       {"BACKTRACE", false},
    {"CLOSEFROM", false},    {"CPU_AFFINITY", false}, {"CRYPT_H", false},
    {"DEVICEATLAS", false},  {"DL", false},           {"ENGINE", false},
    {"EPOLL", true},         {"EVPORTS", false},      {"GETADDRINFO", true},
    {"KQUEUE", false},       {"LIBCRYPT", false},     {"LINUX_SPLICE", true},
    {"LINUX_TPROXY", false}, {"LUA", false},          {"MEMORY_PROFILING", false},
    {"NETFILTER", false},    {"NS", false},           {"OBSOLETE_LINKER", false},
    {"OPENSSL", true},       {"OT", false},           {"PCRE", false},
    {"PCRE2", true},         {"PCRE2_JIT", true},     {"PCRE_JIT", false},
    {"POLL", false},         {"PRCTL", true},         {"PROCCTL", false},
    {"PROMEX", false},       {"QUIC", false},         {"RT", true},
    {"SLZ", false},          {"STATIC_PCRE", false},  {"STATIC_PCRE2", false},
    {"SYSTEMD", true},       {"TFO", false},          {"THREAD", true},
    {"THREAD_DUMP", false},  {"TPROXY", false},       {"WURFL", false},
    {"ZLIB", false},
};

constexpr std::size_t kPresent = static_cast<std::size_t>(std::count_if(
    std::begin(kFeatures), std::end(kFeatures), [](const Feature& f) { return f.present; }));

constexpr auto kPresentNames = [] {
  std::array<std::string_view, kPresent> names{};
  std::size_t i = 0;
  for (const Feature& f : kFeatures)
    if (f.present) names[i++] = f.name;
  return names;
}();

}  // namespace

std::span<const Feature> build_features() {
  return kFeatures;
}

parser::BuildFacts build_facts() {
  return {config::kHaproxyVersion, kPresentNames};
}

}  // namespace sluice::compile
