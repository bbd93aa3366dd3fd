// "did you mean": optimal-string-alignment distance and the closest candidate.
#include "parser/suggest.hpp"

#include <algorithm>
#include <vector>

namespace sluice::parser {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  const std::size_t n = a.size();
  const std::size_t m = b.size();
  if (n == 0) return m;
  if (m == 0) return n;

  // Three rows of the (n+1) x (m+1) matrix in one buffer: row i-2 (for the swap of two
  // neighbours), row i-1 and row i, rotated as i advances.
  const std::size_t width = m + 1;
  std::vector<std::size_t> rows(3 * width);
  std::size_t* before = rows.data();        // row i-2
  std::size_t* previous = before + width;   // row i-1
  std::size_t* current = previous + width;  // row i

  for (std::size_t j = 0; j <= m; ++j)
    previous[j] = j;
  for (std::size_t i = 1; i <= n; ++i) {
    current[0] = i;
    for (std::size_t j = 1; j <= m; ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      std::size_t best = std::min({previous[j] + 1,           // delete a[i-1]
                                   current[j - 1] + 1,        // insert b[j-1]
                                   previous[j - 1] + cost});  // substitute or keep
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        best = std::min(best, before[j - 2] + 1);  // swap neighbours
      }
      current[j] = best;
    }
    std::size_t* recycled = before;
    before = previous;
    previous = current;
    current = recycled;
  }
  return previous[m];
}

std::optional<std::string_view> closest(std::string_view word,
                                        std::span<const std::string_view> candidates) {
  const std::size_t limit = word.size() <= 4 ? 1 : word.size() <= 8 ? 2 : 3;
  std::optional<std::string_view> best;
  std::size_t best_distance = limit + 1;
  for (const std::string_view candidate : candidates) {
    // The distance is at least the difference in length: skip hopeless candidates cheaply.
    const std::size_t length_gap = candidate.size() > word.size() ? candidate.size() - word.size()
                                                                  : word.size() - candidate.size();
    if (length_gap >= best_distance) continue;
    const std::size_t distance = edit_distance(word, candidate);
    if (distance < best_distance) {  // strict: a tie keeps the earlier candidate
      best = candidate;
      best_distance = distance;
      if (distance == 0) break;
    }
  }
  return best;
}

std::string did_you_mean(std::string_view word, std::span<const std::string_view> candidates,
                         std::string_view fallback) {
  auto hint = closest(word, candidates);
  if (!hint) return std::string(fallback);
  std::string out = "did you mean '";
  out += *hint;
  out += "'?";
  return out;
}

}  // namespace sluice::parser
