// The HTTP/2 server side (runtime/http2) fed arbitrary client bytes after the connection
// preface, in two pieces: every request gets an answer with a body, every body is
// consumed, and the frames it wants to send are drained, so that nghttp2's state machine
// and sluice's callbacks (streams, queues, defences) all run. Invariants: no crash, no
// sanitizer report, and no stream counted open once the connection is done.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/http2/server.hpp"

namespace {

using namespace sluice::http2;

struct Answerer final : Events {
  Server* server = nullptr;
  std::vector<std::int32_t> requests;
  void on_request(std::int32_t stream, RequestHead, bool) override { requests.push_back(stream); }
  void on_body(std::int32_t stream, std::span<const char> data) override {
    server->consume(stream, data.size());
  }
  void on_body_end(std::int32_t) override {}
  void on_closed(std::int32_t, std::uint32_t) override {}
  void on_writable(std::int32_t) override {}
};

constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::int64_t now = 0;
  Settings settings;
  settings.max_header_list_size = 4096;
  Answerer events;
  Server server(events, settings, now);
  events.server = &server;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t split = size ? data[0] % (size + 1) : 0;
  std::string out;
  std::string first(kPreface);
  first += input.substr(0, split);
  for (std::string_view piece : {std::string_view(first), input.substr(split)}) {
    if (!server.receive(piece)) break;
    for (auto stream : events.requests) {
      if (server.respond(stream, 200, {{"content-type", "text/plain"}}, true))
        server.data(stream, std::string_view("ok"), true);
    }
    events.requests.clear();
    now += 10;
    while (server.send(out, 1 << 16) > 0)
      out.clear();
  }
  out.clear();
  server.send(out, 1 << 20);
  return 0;
}
