// libFuzzer target: any bytes as a configuration file through lexing, parsing and compiling.
// Files and name resolution are off: the fuzzer must not touch the system.
#include <cstddef>
#include <cstdint>
#include <string>

#include "runtime/compile/compile.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  sluice::parser::ParseOptions options;
  options.env = [](std::string_view name) -> std::optional<std::string> {
    if (name == "FUZZ") return std::string("fuzz value");
    return std::nullopt;
  };
  auto result = sluice::compile::compile_text(
      "fuzz.cfg", std::string(reinterpret_cast<const char*>(data), size), options, false);
  // Rendering walks every location back into the source: it must never read out of bounds.
  for (const auto& d : result.diags.all())
    (void)sluice::parser::render(d, result.sources);
  return 0;
}
