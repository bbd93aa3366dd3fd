#include "src/version.hpp"

#include <fmt/format.h>
#include <nghttp2/nghttp2.h>
#include <openssl/crypto.h>
#include <openssl/opensslv.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <sys/utsname.h>

#include <thread>

#include "runtime/compile/build_facts.hpp"
#include "runtime/config/version.hpp"

namespace sluice::version {

namespace {

#if defined(__clang__)
constexpr const char* kCompiler = "clang";
constexpr const char* kCompilerVersion = __clang_version__;
#else
constexpr const char* kCompiler = "gcc";
constexpr const char* kCompilerVersion = __VERSION__;
#endif

std::string running_on() {
  utsname u{};
  if (uname(&u) != 0) return "unknown";
  return fmt::format("{} {} {} {}", u.sysname, u.release, u.version, u.machine);
}

std::string pcre2_version() {
  char text[64] = {};
  pcre2_config(PCRE2_CONFIG_VERSION, text);
  return text;
}

bool pcre2_jit() {
  std::uint32_t jit = 0;
  pcre2_config(PCRE2_CONFIG_JIT, &jit);
  return jit != 0;
}

std::string feature_list() {
  std::string text;
  for (const auto& f : compile::build_features())
    text += fmt::format("{}{} ", f.present ? '+' : '-', f.name);
  if (!text.empty()) text.pop_back();
  return text;
}

}  // namespace

std::string report(int level) {
  std::string out = fmt::format(
      "HAProxy version {} {} - sluice {}, implementing HAProxy {}\n"
      "Status: sluice reads HAProxy {} configurations and command lines and behaves as it.\n"
      "Known bugs: http://www.haproxy.org/bugs/bugs-{}.html (where sluice shares them)\n"
      "Running on: {}\n",
      config::kVersionString, config::kReleaseDate, config::kSluiceVersion, config::kHaproxyVersion,
      config::kHaproxyVersion, config::kHaproxyVersion, running_on());
  if (level < 2) return out;
  out += fmt::format(
      "Build options :\n"
      "  TARGET  = linux-glibc\n"
      "  CXX     = {}\n"
      "  OPTIONS = USE_OPENSSL=1 USE_PCRE2=1 USE_PCRE2_JIT=1 USE_THREAD=1 USE_SYSTEMD=1 "
      "USE_NGHTTP2=1\n"
      "\n"
      "Feature list : {}\n"
      "\n"
      "Default settings :\n"
      "  bufsize = 16384, maxrewrite = 1024\n"
      "\n"
      "Built with multi-threading support (MAX_THREADS=64, default={}).\n"
      "Built with OpenSSL version : {}\n"
      "Running on OpenSSL version : {}\n"
      "OpenSSL library supports TLS extensions : yes\n"
      "OpenSSL library supports SNI : yes\n"
      "OpenSSL library supports : TLSv1.0 TLSv1.1 TLSv1.2 TLSv1.3\n"
      "Built with PCRE2 version : {}\n"
      "PCRE2 library supports JIT : {}\n"
      "Built with libnghttp2 version : {} (HTTP/2 to clients)\n"
      "Built with {} compiler version {}\n"
      "\n"
      "Available polling systems :\n"
      "      epoll : pref=300,  test result OK\n"
      "Total: 1 (1 usable), will use epoll.\n"
      "\n"
      "Available multiplexer protocols :\n"
      "(protocols marked as <default> cannot be specified using 'proto' keyword)\n"
      "         h2 : mode=HTTP  side=FE     mux=H2    flags=HTX|HOL_RISK|NO_UPG\n"
      "  <default> : mode=HTTP  side=FE|BE  mux=H1    flags=HTX\n"
      "  <default> : mode=TCP   side=FE|BE  mux=PASS  flags=\n"
      "\n"
      "Available services : none\n"
      "\n"
      "Available filters : none\n",
      kCompiler, feature_list(), std::thread::hardware_concurrency(), OPENSSL_VERSION_TEXT,
      OpenSSL_version(OPENSSL_VERSION), pcre2_version(), pcre2_jit() ? "yes" : "no",
      nghttp2_version(0)->version_str, kCompiler, kCompilerVersion);
  return out;
}

}  // namespace sluice::version
