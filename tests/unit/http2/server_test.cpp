// runtime/http2's server side against an in-process nghttp2 client session: requests and
// bodies in, responses out, flow control, and the defences ending a connection with
// ENHANCE_YOUR_CALM. Both sides are sans-io: bytes go from one to the other in the test.
#include <doctest/doctest.h>
#include <nghttp2/nghttp2.h>

#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "runtime/http2/server.hpp"

using namespace sluice::http2;

namespace {

// What the server heard.
struct Heard final : Events {
  std::map<std::int32_t, RequestHead> heads;
  std::map<std::int32_t, bool> ended_with_head;
  std::map<std::int32_t, std::string> bodies;
  std::vector<std::int32_t> body_ends, writable;
  std::map<std::int32_t, std::uint32_t> closed;
  void on_request(std::int32_t s, RequestHead h, bool end) override {
    heads[s] = std::move(h);
    ended_with_head[s] = end;
  }
  void on_body(std::int32_t s, std::span<const char> d) override {
    bodies[s].append(d.data(), d.size());
  }
  void on_body_end(std::int32_t s) override { body_ends.push_back(s); }
  void on_closed(std::int32_t s, std::uint32_t e) override { closed[s] = e; }
  void on_writable(std::int32_t s) override { writable.push_back(s); }
};

// A client session and what it got back.
struct Client {
  nghttp2_session* session = nullptr;
  std::map<std::int32_t, std::string> status, body;
  std::map<std::int32_t, std::uint32_t> resets;
  std::uint32_t goaway_error = ~0u;
  std::int32_t goaway_last = -1;

  explicit Client(std::uint32_t window = 65535) {
    nghttp2_session_callbacks* cb = nullptr;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_header_callback(
        cb, [](nghttp2_session*, const nghttp2_frame* f, const std::uint8_t* n, std::size_t nl,
               const std::uint8_t* v, std::size_t vl, std::uint8_t, void* u) {
          if (std::string_view(reinterpret_cast<const char*>(n), nl) == ":status")
            static_cast<Client*>(u)->status[f->hd.stream_id] =
                std::string(reinterpret_cast<const char*>(v), vl);
          return 0;
        });
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
        cb, [](nghttp2_session*, std::uint8_t, std::int32_t s, const std::uint8_t* d, std::size_t l,
               void* u) {
          static_cast<Client*>(u)->body[s].append(reinterpret_cast<const char*>(d), l);
          return 0;
        });
    nghttp2_session_callbacks_set_on_frame_recv_callback(
        cb, [](nghttp2_session*, const nghttp2_frame* f, void* u) {
          auto* c = static_cast<Client*>(u);
          if (f->hd.type == NGHTTP2_RST_STREAM)
            c->resets[f->hd.stream_id] = f->rst_stream.error_code;
          if (f->hd.type == NGHTTP2_GOAWAY) {
            c->goaway_error = f->goaway.error_code;
            c->goaway_last = f->goaway.last_stream_id;
          }
          return 0;
        });
    nghttp2_session_client_new(&session, cb, this);
    nghttp2_session_callbacks_del(cb);
    const nghttp2_settings_entry s[] = {{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, window}};
    nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, s, 1);
  }
  ~Client() { nghttp2_session_del(session); }

  std::int32_t get(const std::string& path,
                   std::vector<std::pair<std::string, std::string>> extra = {}) {
    std::vector<std::pair<std::string, std::string>> h = {
        {":method", "GET"}, {":scheme", "https"}, {":authority", "example.com"}, {":path", path}};
    h.insert(h.end(), extra.begin(), extra.end());
    std::vector<nghttp2_nv> nva;
    for (auto& [n, v] : h)
      nva.push_back({reinterpret_cast<std::uint8_t*>(n.data()),
                     reinterpret_cast<std::uint8_t*>(v.data()), n.size(), v.size(),
                     NGHTTP2_NV_FLAG_NONE});
    return nghttp2_submit_request(session, nullptr, nva.data(), nva.size(), nullptr, nullptr);
  }

  std::string output() {
    std::string out;
    const std::uint8_t* d = nullptr;
    ssize_t n;
    while ((n = nghttp2_session_mem_send(session, &d)) > 0)
      out.append(reinterpret_cast<const char*>(d), static_cast<std::size_t>(n));
    return out;
  }
  void input(const std::string& bytes) {
    nghttp2_session_mem_recv(session, reinterpret_cast<const std::uint8_t*>(bytes.data()),
                             bytes.size());
  }
};

struct Pair {
  std::int64_t now = 0;
  Heard heard;
  Settings settings;
  Server server{heard, settings, now};
  Client client;

  explicit Pair(Settings s = {}, std::uint32_t client_window = 65535)
      : settings(s), server(heard, settings, now), client(client_window) {}
  // Moves bytes both ways until neither side has any.
  bool exchange() {
    bool ok = true;
    for (int i = 0; i < 50; ++i) {
      const std::string up = client.output();
      if (!up.empty()) ok = server.receive(up) && ok;
      std::string down;
      server.send(down, 1 << 20);
      if (!down.empty()) client.input(down);
      if (up.empty() && down.empty()) break;
    }
    return ok;
  }
};

}  // namespace

TEST_CASE("a GET: its head reaches the connection, the response and body go back") {
  Pair p;
  const auto s = p.client.get("/index.html?x=1", {{"accept", "text/html"}});
  REQUIRE(p.exchange());
  REQUIRE(p.heard.heads.count(s));
  const auto& head = p.heard.heads[s];
  CHECK(head.method == "GET");
  CHECK(head.scheme == "https");
  CHECK(head.authority == "example.com");
  CHECK(head.path == "/index.html?x=1");
  CHECK(head.fields == Fields{{"accept", "text/html"}});
  CHECK(p.heard.ended_with_head[s]);
  REQUIRE(p.server.respond(s, 200, {{"content-type", "text/plain"}}, true));
  p.server.data(s, std::string_view("hello "), false);
  p.exchange();
  p.server.data(s, std::string_view("world"), true);
  p.exchange();
  CHECK(p.client.status[s] == "200");
  CHECK(p.client.body[s] == "hello world");
  CHECK(p.heard.closed.count(s));
  CHECK(p.heard.closed[s] == kNoError);
  CHECK(p.server.open_streams() == 0);
}

TEST_CASE("a request body comes in chunks, then its end; consume() opens the window") {
  Pair p;
  std::string payload(100000, 'x');
  std::size_t sent = 0;
  nghttp2_data_provider provider{};
  provider.source.ptr = &sent;
  provider.read_callback = [](nghttp2_session*, std::int32_t, std::uint8_t* buf, std::size_t len,
                              std::uint32_t* flags, nghttp2_data_source* src, void*) -> ssize_t {
    auto& sent = *static_cast<std::size_t*>(src->ptr);
    const std::size_t n = std::min<std::size_t>(len, 100000 - sent);
    std::memset(buf, 'x', n);
    sent += n;
    if (sent == 100000) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(n);
  };
  std::string m = ":method", mv = "POST", sch = ":scheme", schv = "http", pa = ":path", pav = "/up",
              au = ":authority", auv = "x";
  nghttp2_nv nva[] = {{reinterpret_cast<std::uint8_t*>(m.data()),
                       reinterpret_cast<std::uint8_t*>(mv.data()), m.size(), mv.size(), 0},
                      {reinterpret_cast<std::uint8_t*>(sch.data()),
                       reinterpret_cast<std::uint8_t*>(schv.data()), sch.size(), schv.size(), 0},
                      {reinterpret_cast<std::uint8_t*>(pa.data()),
                       reinterpret_cast<std::uint8_t*>(pav.data()), pa.size(), pav.size(), 0},
                      {reinterpret_cast<std::uint8_t*>(au.data()),
                       reinterpret_cast<std::uint8_t*>(auv.data()), au.size(), auv.size(), 0}};
  const auto s = nghttp2_submit_request(p.client.session, nullptr, nva, 4, &provider, nullptr);
  p.exchange();
  CHECK_FALSE(p.heard.ended_with_head[s]);
  // The stream's window (65535) holds the rest back until the proxy forwards the body.
  CHECK(p.heard.bodies[s].size() == 65535);
  CHECK(p.heard.body_ends.empty());
  p.server.consume(s, p.heard.bodies[s].size());
  p.exchange();
  CHECK(p.heard.bodies[s] == payload);
  CHECK(p.heard.body_ends == std::vector<std::int32_t>{s});
}

TEST_CASE("a response larger than the client's window waits for its WINDOW_UPDATE") {
  Pair p({}, 16384);
  const auto s = p.client.get("/big");
  p.exchange();
  p.server.respond(s, 200, {}, true);
  p.server.data(s, std::string(50000, 'b'), true);
  // The client's session sends WINDOW_UPDATEs as it receives, so exchange() moves it all;
  // the queue shrinks only as far as the window lets each round.
  std::string down;
  p.server.send(down, 1 << 20);
  CHECK(p.server.queued(s) == 50000 - 16384);
  p.client.input(down);
  p.exchange();
  CHECK(p.client.body[s].size() == 50000);
  CHECK_FALSE(p.heard.writable.empty());
}

TEST_CASE("rapid reset: a client resetting streams past the limit gets ENHANCE_YOUR_CALM") {
  Settings limits;
  limits.max_resets_per_window = 20;
  Pair p(limits);
  const auto first = p.client.get("/ok");
  p.exchange();
  // HEADERS then RST_STREAM at once, stream after stream: the attack's shape.
  bool ok = true;
  for (int i = 0; i < 30; ++i) {
    const auto s = p.client.get("/flood");
    ok = p.server.receive(p.client.output()) && ok;
    nghttp2_submit_rst_stream(p.client.session, NGHTTP2_FLAG_NONE, s, NGHTTP2_CANCEL);
    ok = p.server.receive(p.client.output()) && ok;
  }
  CHECK_FALSE(ok);
  p.exchange();
  CHECK(p.client.goaway_error == kEnhanceYourCalm);
  CHECK(p.heard.heads.count(first));
}

TEST_CASE("resets spread over time are not a flood") {
  Settings limits;
  limits.max_resets_per_window = 20;
  Pair p(limits);
  for (int round = 0; round < 5; ++round) {
    for (int i = 0; i < 15; ++i) {
      const auto s = p.client.get("/r");
      CHECK(p.server.receive(p.client.output()));
      nghttp2_submit_rst_stream(p.client.session, NGHTTP2_FLAG_NONE, s, NGHTTP2_CANCEL);
      CHECK(p.server.receive(p.client.output()));
    }
    CHECK(p.exchange());
    p.now += 1000;
  }
  CHECK(p.client.goaway_error == ~0u);
}

TEST_CASE("a PING flood ends the connection") {
  Settings limits;
  limits.max_control_frames_per_window = 10;
  Pair p(limits);
  for (int i = 0; i < 20; ++i)
    nghttp2_submit_ping(p.client.session, NGHTTP2_FLAG_NONE, nullptr);
  CHECK_FALSE(p.exchange());
  CHECK(p.client.goaway_error == kEnhanceYourCalm);
}

TEST_CASE("a header list past the limit resets that stream only") {
  Settings limits;
  limits.max_header_list_size = 1024;
  Pair p(limits);
  const auto big = p.client.get("/big", {{"x-big", std::string(2000, 'a')}});
  const auto small = p.client.get("/small");
  CHECK(p.exchange());
  CHECK_FALSE(p.heard.heads.count(big));
  CHECK(p.client.resets.count(big));
  CHECK(p.heard.heads.count(small));
}

TEST_CASE("a client that does not speak HTTP/2 is refused at its first bytes") {
  Pair p;
  CHECK_FALSE(p.server.receive(std::string_view("GET / HTTP/1.1\r\nHost: x\r\n\r\n")));
  CHECK_FALSE(p.server.wants_read());
}

TEST_CASE("shutdown: GOAWAY names the last stream; the one in flight still completes") {
  Pair p;
  const auto s = p.client.get("/slow");
  p.exchange();
  p.server.shutdown();
  p.exchange();
  CHECK(p.client.goaway_error == kNoError);
  CHECK(p.client.goaway_last == s);
  p.server.respond(s, 204, {}, false);
  p.exchange();
  CHECK(p.client.status[s] == "204");
}
