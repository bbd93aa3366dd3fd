// `-v` and `-vv` in HAProxy's layout, so that scripts reading `haproxy -vv` (its version
// line, "Feature list", OpenSSL lines, multiplexer protocols) read sluice the same way.
#pragma once

#include <string>

namespace sluice::version {

// level 1: -v; 2: -vv.
std::string report(int level);

}  // namespace sluice::version
