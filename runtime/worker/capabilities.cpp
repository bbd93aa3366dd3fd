#include "runtime/worker/capabilities.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace sluice::worker {

namespace {

class Report {
 public:
  void add(const config::Origin& where, std::string_view what) {
    lines.push_back(fmt::format("{}:{}: {} is not served by this build yet",
                                where.file ? *where.file : "?", where.line, what));
  }
  std::vector<std::string> lines;
};

bool speaks_h2(std::string_view alpn) {
  const auto protocols = alpn_list(alpn);
  return std::find(protocols.begin(), protocols.end(), "h2") != protocols.end();
}

void check_backend(const config::Backend& b, Report& r) {
  // Backend content rules run once, with what the frontend's inspection gathered.
  if (b.inspect_delay && b.inspect_delay->first.count() > 0)
    r.add(b.inspect_delay->second, "'tcp-request inspect-delay' in a backend");
  for (const auto& s : b.servers) {
    if (s.tls.enabled && speaks_h2(s.tls.alpn))
      r.add(s.origin, "HTTP/2 to servers (server 'alpn h2')");
  }
}

}  // namespace

std::vector<std::string> alpn_list(std::string_view alpn) {
  std::vector<std::string> out;
  while (!alpn.empty()) {
    const std::size_t comma = alpn.find(',');
    out.emplace_back(alpn.substr(0, comma));
    alpn = comma == std::string_view::npos ? std::string_view() : alpn.substr(comma + 1);
  }
  return out;
}

std::vector<std::string> unserved_features(const config::Config& config) {
  Report r;
  for (const auto& b : config.backends)
    check_backend(b, r);
  return r.lines;
}

}  // namespace sluice::worker
