// "did you mean": the closest candidate by edit distance, when one is close enough.
#pragma once

#include <optional>
#include <span>
#include <string_view>

namespace sluice::parser {

// Optimal-string-alignment distance (insert, delete, substitute, swap neighbours).
std::size_t edit_distance(std::string_view a, std::string_view b);

// The best candidate within a distance that grows with the word's length
// (1 for words up to 4 bytes, 2 up to 8, 3 beyond); ties go to the earlier candidate.
std::optional<std::string_view> closest(std::string_view word,
                                        std::span<const std::string_view> candidates);

}  // namespace sluice::parser
