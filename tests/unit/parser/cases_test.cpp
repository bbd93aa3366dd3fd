// Data-driven diagnostics: every cases/NAME.cfg is compiled and its rendered diagnostics,
// followed by "exit: N" (what `sluice -c` returns), must equal cases/NAME.expected exactly.
// SLUICE_UPDATE_CASES=1 rewrites the .expected files (review the diff before committing).
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "runtime/compile/compile.hpp"

namespace fs = std::filesystem;

namespace {

std::string read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string run_case(const fs::path& cfg) {
  sluice::parser::ParseOptions options;
  options.env = [](std::string_view name) -> std::optional<std::string> {
    if (name == "SLUICE_CASE_PORT") return "8080";
    if (name == "SLUICE_CASE_BIND") return "127.0.0.1:8080 name web";
    return std::nullopt;
  };
  // Relative paths inside a case resolve from the cases directory.
  const auto previous = fs::current_path();
  fs::current_path(cfg.parent_path());
  auto result = sluice::compile::compile_text(cfg.filename().string(), read(cfg), options);
  fs::current_path(previous);
  std::string out;
  for (const auto& d : result.diags.all())
    out += sluice::parser::render(d, result.sources);
  const int status = result.diags.has_errors() ? 1 : result.has_listener ? 0 : 2;
  out += "exit: " + std::to_string(status) + "\n";
  return out;
}

}  // namespace

TEST_CASE("diagnostic cases match their .expected files") {
  const fs::path dir = SLUICE_CASES_DIR;
  std::vector<fs::path> cases;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.path().extension() == ".cfg") cases.push_back(entry.path());
  std::sort(cases.begin(), cases.end());
  REQUIRE(!cases.empty());
  const bool update = std::getenv("SLUICE_UPDATE_CASES") != nullptr;
  for (const auto& cfg : cases) {
    CAPTURE(cfg.filename().string());
    const std::string actual = run_case(cfg);
    auto expected_path = cfg;
    expected_path.replace_extension(".expected");
    if (update) {
      std::ofstream(expected_path, std::ios::binary) << actual;
      continue;
    }
    REQUIRE_MESSAGE(fs::exists(expected_path), "missing " << expected_path.string());
    CHECK(actual == read(expected_path));
  }
}
