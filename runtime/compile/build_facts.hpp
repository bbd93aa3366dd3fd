// What this binary is, in HAProxy's terms: the HAProxy version whose behaviour it
// implements and HAProxy's feature list as this build has it. One table serves `-vv`,
// `.if feature(…)` and `-cc`, so they never disagree.
#pragma once

#include <span>
#include <string_view>

#include "parser/directive_condition.hpp"
#include "runtime/config/version.hpp"

namespace sluice::compile {

struct Feature {
  std::string_view name;  // HAProxy's name in `-vv`'s "Feature list"
  bool present;
};

// Every name of HAProxy 2.6's feature list, in its order, with what this build provides.
std::span<const Feature> build_features();

// For conditions: config::kHaproxyVersion and the names present.
parser::BuildFacts build_facts();

}  // namespace sluice::compile
