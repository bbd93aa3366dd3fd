#include "parser/suggest.hpp"

#include <doctest/doctest.h>

#include <string_view>

#include "parser/vocabulary.hpp"

using sluice::parser::closest;
using sluice::parser::edit_distance;

TEST_CASE("edit_distance: basic operations") {
  CHECK(edit_distance("", "") == 0);
  CHECK(edit_distance("timeout", "timeout") == 0);
  CHECK(edit_distance("", "abc") == 3);
  CHECK(edit_distance("abc", "") == 3);
  CHECK(edit_distance("chek", "check") == 1);   // insertion
  CHECK(edit_distance("check", "chek") == 1);   // deletion
  CHECK(edit_distance("check", "cheek") == 1);  // substitution
  CHECK(edit_distance("ab", "ba") == 1);        // swap of neighbours
  CHECK(edit_distance("tiemout", "timeout") == 1);
  CHECK(edit_distance("kitten", "sitting") == 3);
  CHECK(edit_distance("abc", "xyz") == 3);
}

TEST_CASE("edit_distance: optimal string alignment, not full Damerau") {
  // OSA may not edit a swapped pair again: "ca" -> "abc" is 3, not 2.
  CHECK(edit_distance("ca", "abc") == 3);
  CHECK(edit_distance("abcd", "badc") == 2);  // two independent swaps
}

TEST_CASE("edit_distance: symmetric") {
  CHECK(edit_distance("http-request", "http-reqeust") ==
        edit_distance("http-reqeust", "http-request"));
  CHECK(edit_distance("forwardfor", "forward") == edit_distance("forward", "forwardfor"));
}

TEST_CASE("closest: finds the intended keyword") {
  constexpr std::string_view candidates[] = {"client", "connect", "server", "timeout", "tunnel"};
  CHECK(closest("tiemout", candidates) == std::optional<std::string_view>("timeout"));
  CHECK(closest("sever", candidates) == std::optional<std::string_view>("server"));
  CHECK(closest("timeout", candidates) == std::optional<std::string_view>("timeout"));
}

TEST_CASE("closest: works over a vocabulary list") {
  namespace vocabulary = sluice::parser::vocabulary;
  CHECK(closest("forwardfro", vocabulary::proxy_options()) ==
        std::optional<std::string_view>("forwardfor"));
  CHECK(closest("http-reqeust", vocabulary::proxy_keywords()) ==
        std::optional<std::string_view>("http-request"));
}

TEST_CASE("closest: threshold is 1 up to 4 bytes") {
  constexpr std::string_view candidates[] = {"abcd"};
  CHECK(closest("abce", candidates) == std::optional<std::string_view>("abcd"));  // 4 bytes, d=1
  CHECK_FALSE(closest("abef", candidates).has_value());                           // 4 bytes, d=2
  constexpr std::string_view short_candidates[] = {"ab"};
  CHECK(closest("b", short_candidates) == std::optional<std::string_view>("ab"));  // d=1
}

TEST_CASE("closest: threshold is 2 from 5 up to 8 bytes") {
  constexpr std::string_view five[] = {"abcde"};
  CHECK(closest("abxye", five) == std::optional<std::string_view>("abcde"));  // 5 bytes, d=2
  constexpr std::string_view eight[] = {"abcdefgh"};
  CHECK(closest("abcdefxy", eight) == std::optional<std::string_view>("abcdefgh"));  // d=2
  CHECK_FALSE(closest("abcdexyz", eight).has_value());                               // d=3
}

TEST_CASE("closest: threshold is 3 beyond 8 bytes") {
  constexpr std::string_view nine[] = {"abcdefghi"};
  CHECK(closest("abcdefxyz", nine) == std::optional<std::string_view>("abcdefghi"));  // d=3
  CHECK_FALSE(closest("abcdewxyz", nine).has_value());                                // d=4
}

TEST_CASE("closest: threshold follows the word's length, not the candidate's") {
  // "abcd" (4 bytes) is 2 edits from "abcdef": too far for a 4-byte word.
  constexpr std::string_view candidates[] = {"abcdef"};
  CHECK_FALSE(closest("abcd", candidates).has_value());
  // ...but "abcdef" (6 bytes) is 2 edits from "abcd": close enough for a 6-byte word.
  constexpr std::string_view reverse[] = {"abcd"};
  CHECK(closest("abcdef", reverse) == std::optional<std::string_view>("abcd"));
}

TEST_CASE("closest: no suggestion for a far word or no candidates") {
  constexpr std::string_view candidates[] = {"client", "connect", "server", "timeout"};
  CHECK_FALSE(closest("balance", candidates).has_value());
  CHECK_FALSE(closest("xyzzy", candidates).has_value());
  CHECK_FALSE(closest("timeout", std::span<const std::string_view>{}).has_value());
}

TEST_CASE("closest: a tie goes to the earlier candidate") {
  constexpr std::string_view candidates[] = {"bat", "cat", "hat"};
  CHECK(closest("rat", candidates) == std::optional<std::string_view>("bat"));
  constexpr std::string_view reordered[] = {"hat", "cat", "bat"};
  CHECK(closest("rat", reordered) == std::optional<std::string_view>("hat"));
}

TEST_CASE("closest: a closer later candidate beats an earlier one") {
  constexpr std::string_view candidates[] = {"checks", "check"};  // d=2, then d=1
  CHECK(closest("chek", candidates) == std::optional<std::string_view>("check"));
}
