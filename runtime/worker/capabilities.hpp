// What this build serves, checked before serving: a configuration that `-c` accepts may
// still use a feature whose runtime has not landed yet. Serving it anyway would silently
// behave unlike HAProxy, so each such use is reported, located, and nothing starts.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "runtime/config/config.hpp"

namespace sluice::worker {

// "FILE:LINE: what" for every use of a feature this build cannot serve yet; empty when the
// configuration can be served as HAProxy would.
std::vector<std::string> unserved_features(const config::Config& config);

// An `alpn` setting's protocols, in order ("h2,http/1.1" -> h2, http/1.1).
std::vector<std::string> alpn_list(std::string_view alpn);

}  // namespace sluice::worker
