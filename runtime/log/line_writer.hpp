// Appends text and numbers to a fixed caller buffer, as log lines are built: never
// allocates, never writes past the end (what does not fit is dropped and remembered).
// Internal to runtime/log; knows nothing of what the line means.
#pragma once

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace sluice::log {

class LineWriter {
 public:
  explicit LineWriter(std::span<char> out) : out_(out) {}

  void text(std::string_view s) {
    const std::size_t room = out_.size() - size_;
    const std::size_t n = s.size() < room ? s.size() : room;
    if (n < s.size()) overflowed_ = true;
    for (std::size_t i = 0; i < n; ++i)
      out_[size_ + i] = s[i];
    size_ += n;
  }
  void character(char c) {
    if (size_ == out_.size()) {
      overflowed_ = true;
      return;
    }
    out_[size_++] = c;
  }
  void number(std::int64_t value) {
    char digits[24] = {};
    auto [end, ec] = std::to_chars(digits, digits + sizeof digits, value);
    text({digits, static_cast<std::size_t>(end - digits)});
  }
  void number(std::uint64_t value) {
    char digits[24] = {};
    auto [end, ec] = std::to_chars(digits, digits + sizeof digits, value);
    text({digits, static_cast<std::size_t>(end - digits)});
  }
  void number(int value) { number(static_cast<std::int64_t>(value)); }
  // Zero-padded to `width` digits (dates): `value` must be non-negative.
  // "HH:MM:SS", as in every timestamp HAProxy writes.
  void clock(int hour, int minute, int second) {
    padded(hour, 2);
    character(':');
    padded(minute, 2);
    character(':');
    padded(second, 2);
  }
  void padded(std::int64_t value, int width, char pad = '0') {
    char digits[24] = {};
    auto [end, ec] = std::to_chars(digits, digits + sizeof digits, value);
    for (auto n = end - digits; n < width; ++n)
      character(pad);
    text({digits, static_cast<std::size_t>(end - digits)});
  }

  std::size_t size() const { return size_; }
  bool overflowed() const { return overflowed_; }

 private:
  std::span<char> out_;
  std::size_t size_ = 0;
  bool overflowed_ = false;
};

}  // namespace sluice::log
