// "did you mean": the closest candidate by edit distance, when one is close enough.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace sluice::parser {

// Optimal-string-alignment distance (insert, delete, substitute, swap neighbours).
std::size_t edit_distance(std::string_view a, std::string_view b);

// The best candidate within a distance that grows with the word's length
// (1 for words up to 4 bytes, 2 up to 8, 3 beyond); ties go to the earlier candidate.
std::optional<std::string_view> closest(std::string_view word,
                                        std::span<const std::string_view> candidates);

// "did you mean 'X'?" for the closest candidate, or `fallback` when none is close.
std::string did_you_mean(std::string_view word, std::span<const std::string_view> candidates,
                         std::string_view fallback = {});

}  // namespace sluice::parser
