// libFuzzer target: any bytes as an HTTP/1.1 request or response head plus body, fed in one
// piece and split at a fuzzer-chosen point (the buffer moving in between). Checks that
// consumed never passes the input, every view and body span lies inside its input, the
// split parse equals the one-feed parse, and a parsed head serializes to one that parses
// back to the same message.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "runtime/http/parser.hpp"
#include "runtime/http/serializer.hpp"

using namespace sluice::http;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

bool inside(std::string_view v, std::string_view buffer) {
  if (v.empty()) return true;  // an empty view's position does not matter
  return v.data() >= buffer.data() && v.data() + v.size() <= buffer.data() + buffer.size();
}

bool same_message(const Message& a, const Message& b) {
  bool same =
      a.is_request == b.is_request && a.method == b.method && a.method_token == b.method_token &&
      a.target == b.target && a.version == b.version && a.status == b.status &&
      a.reason == b.reason && a.body == b.body && a.content_length == b.content_length &&
      a.has_content_length == b.has_content_length &&
      a.content_length_ignored == b.content_length_ignored && a.keep_alive == b.keep_alive &&
      a.expect_continue == b.expect_continue && a.upgrade_requested == b.upgrade_requested &&
      a.host == b.host && a.upgrade == b.upgrade && a.headers.size() == b.headers.size();
  // The serializer writes field names in lower case, as HAProxy does.
  auto same_name = [](std::string_view x, std::string_view y) {
    if (x.size() != y.size()) return false;
    for (std::size_t i = 0; i < x.size(); ++i) {
      auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
      if (lower(x[i]) != lower(y[i])) return false;
    }
    return true;
  };
  for (std::size_t i = 0; same && i < a.headers.size(); ++i)
    same =
        same_name(a.headers[i].name, b.headers[i].name) && a.headers[i].value == b.headers[i].value;
  return same;
}

struct Setup {
  bool request;
  Method request_method;
  bool upgrade;
  ParseOptions options;
};

void start(HeadParser& p, const Setup& s) {
  if (s.request)
    p.start_request();
  else
    p.start_response(s.request_method, s.upgrade);
}

void check_views(const Message& m, std::string_view buffer) {
  check(inside(m.method_token, buffer) && inside(m.target, buffer) && inside(m.reason, buffer) &&
        inside(m.host, buffer) && inside(m.upgrade, buffer));
  for (const Header& h : m.headers)
    check(inside(h.name, buffer) && inside(h.value, buffer));
}

// Decodes `body` in two pieces split at `split`; returns the body bytes seen.
std::string decode(const Message& head, std::string_view body, std::size_t split,
                   BodyStatus* last) {
  BodyDecoder d;
  d.start(head);
  HeaderList trailers(8);
  std::string out;
  std::size_t pos = 0;
  std::size_t avail = std::min(split, body.size());
  for (int guard = 0; guard < 1 << 20; ++guard) {
    std::string_view in = body.substr(pos, avail - pos);
    BodyResult r = d.decode(std::span<const char>(in.data(), in.size()), &trailers);
    check(r.consumed <= in.size());
    check(r.data.empty() ||
          (r.data.data() >= in.data() && r.data.data() + r.data.size() <= in.data() + r.consumed));
    out.append(r.data.data(), r.data.size());
    pos += r.consumed;
    *last = r.status;
    if (r.status == BodyStatus::error) return out;
    if (r.status == BodyStatus::done) {
      for (const Header& h : trailers)
        check(inside(h.name, in) && inside(h.value, in));
      return out;
    }
    if (r.status == BodyStatus::need_more) {
      if (avail == body.size()) {
        *last = d.finish().status;
        return out;
      }
      avail = body.size();
    } else {
      check(r.consumed > 0);  // `more` must make progress
    }
  }
  check(false);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  const std::uint8_t mode = data[0];
  const std::size_t split = data[1] | (std::size_t{data[2]} << 8);
  const std::string_view input(reinterpret_cast<const char*>(data + 3), size - 3);

  static constexpr Method kMethods[4] = {Method::get, Method::head, Method::connect, Method::post};
  Setup s{(mode & 1) != 0, kMethods[(mode >> 1) & 3], (mode & 8) != 0, ParseOptions{}};
  if (mode & 16) s.options.length_conflict = LengthConflict::ignore_content_length;
  if (mode & 32) s.options.require_host = true;
  if (mode & 64) {
    // Small limits reach the boundaries with short inputs.
    s.options.limits.max_head_bytes = 64;
    s.options.limits.max_headers = 4;
  }

  // One feed.
  HeadParser one(s.options);
  start(one, s);
  Message whole(8);
  ParseResult a = one.parse(std::span<const char>(input.data(), input.size()), whole);
  check(a.consumed <= input.size());
  check(a.status != ParseStatus::error || a.error.status >= 400);
  if (a.status == ParseStatus::done) check_views(whole, input);

  // Split feed: a prefix in one buffer, then everything in another (the parser rebases).
  HeadParser inc(s.options);
  start(inc, s);
  Message parts(8);
  const std::size_t cut = std::min(split, input.size());
  std::string first(input.substr(0, cut));
  ParseResult b = inc.parse(std::span<const char>(first.data(), first.size()), parts);
  check(b.consumed <= first.size());
  if (b.status == ParseStatus::need_more) {
    std::string second(input);
    b = inc.parse(std::span<const char>(second.data(), second.size()), parts);
    check(b.status == a.status && b.consumed == a.consumed && b.error.code == a.error.code &&
          b.error.status == a.error.status);
    if (b.status == ParseStatus::done) {
      check_views(parts, second);
      check(same_message(whole, parts));
    }
  } else {
    // Ended within the prefix: the one-feed parse must have ended the same way there.
    check(b.status == a.status && b.consumed == a.consumed && b.error.code == a.error.code);
    if (b.status == ParseStatus::done) check(same_message(whole, parts));
  }

  if (a.status != ParseStatus::done) return 0;

  // What we accept, we must write so that we accept it again with the same meaning.
  std::string out(head_size(whole), '\0');
  WriteResult w = write_head(whole, std::span<char>(out.data(), out.size()));
  check(w.fits && w.size == out.size());
  Setup again = s;
  again.options.limits.max_head_bytes = out.size() + 1;
  HeadParser re(again.options);
  start(re, again);
  Message back(8);
  ParseResult c = re.parse(std::span<const char>(out.data(), out.size()), back);
  check(c.status == ParseStatus::done && c.consumed == out.size());
  check(same_message(whole, back));

  // The body: split anywhere must give the same bytes as one feed.
  std::string_view body = input.substr(a.consumed);
  BodyStatus last_whole, last_split;
  std::string all = decode(whole, body, body.size(), &last_whole);
  std::string pieces = decode(whole, body, split % (body.size() + 1), &last_split);
  check(last_whole == last_split);
  check(all == pieces);
  return 0;
}
