#include "runtime/io/loop.hpp"

#include <doctest/doctest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "runtime/io/socket.hpp"

using namespace sluice::io;

TEST_CASE("the loop dispatches readiness, fires timers and stops from another thread") {
  Loop loop;
  int pair[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, pair) == 0);
  Fd a(pair[0]), b(pair[1]);

  struct Reader final : Pollable {
    int fd = -1;
    std::string got;
    Loop* loop = nullptr;
    void on_events(std::uint32_t events) override {
      if ((events & EPOLLIN) == 0) return;
      char buf[64];
      ssize_t n;
      while ((n = read(fd, buf, sizeof buf)) > 0)
        got.append(buf, static_cast<std::size_t>(n));
      if (got == "ping") loop->stop();
    }
  } reader;
  reader.fd = b.get();
  reader.loop = &loop;
  REQUIRE(loop.add(b.get(), reader));

  struct Writer final : Timer {
    int fd = -1;
    void on_timer() override { REQUIRE(write(fd, "ping", 4) == 4); }
  } writer;
  writer.fd = a.get();
  loop.arm(writer, 20);

  // Bounded: if the loop never stops by itself, the watchdog stops it and the test fails.
  std::atomic<bool> done{false};
  std::thread watchdog([&] {
    for (int i = 0; i < 500 && !done.load(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (!done.load()) loop.stop();
  });
  loop.run();
  done.store(true);
  watchdog.join();
  CHECK(reader.got == "ping");
}

TEST_CASE("post runs a task on the loop's thread") {
  Loop loop;
  std::thread::id ran_on;
  std::thread other([&] {
    loop.post([&] {
      ran_on = std::this_thread::get_id();
      loop.stop();
    });
  });
  loop.run();
  other.join();
  CHECK(ran_on == std::this_thread::get_id());
}

TEST_CASE("listen, connect and resolve on loopback") {
  sluice::config::Endpoint endpoint;
  endpoint.family = sluice::config::Family::ipv4;
  endpoint.host = "127.0.0.1";
  endpoint.has_port = true;
  endpoint.port = endpoint.last_port = 0;  // port 0: the kernel picks
  std::string error;
  auto addresses = resolve(endpoint, error);
  REQUIRE(addresses.size() == 1);
  auto listener = listen_on(addresses[0], {}, error);
  REQUIRE(listener);
  SocketAddress bound;
  bound.length = sizeof bound.storage;
  REQUIRE(getsockname(listener->get(), reinterpret_cast<sockaddr*>(&bound.storage),
                      &bound.length) == 0);
  CHECK(bound.port() != 0);
  int err = -1;
  auto client = connect_to(bound, err);
  REQUIRE(client);
  CHECK(err == 0);
  CHECK(bound.to_string().starts_with("127.0.0.1:"));
}

TEST_CASE("deferred work runs once after the batch of events, before the loop sleeps") {
  Loop loop;
  int pair[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, pair) == 0);
  Fd a(pair[0]), b(pair[1]);

  struct Flush final : Deferred {
    int calls = 0;
    int again = 0;  // defers itself once more from inside
    Loop* loop = nullptr;
    void on_deferred() override {
      ++calls;
      if (again-- > 0)
        loop->defer(*this);
      else
        loop->stop();
    }
  } flush;
  flush.loop = &loop;
  flush.again = 1;

  struct Cancelled final : Deferred {
    bool ran = false;
    void on_deferred() override { ran = true; }
  } cancelled;

  struct Reader final : Pollable {
    Loop* loop = nullptr;
    Flush* flush = nullptr;
    Cancelled* cancelled = nullptr;
    void on_events(std::uint32_t events) override {
      if ((events & EPOLLIN) == 0) return;
      // Three defers in one batch: one call; a cancelled one: none.
      loop->defer(*flush);
      loop->defer(*flush);
      loop->defer(*cancelled);
      loop->defer(*flush);
      loop->cancel(*cancelled);
    }
  } reader;
  reader.loop = &loop;
  reader.flush = &flush;
  reader.cancelled = &cancelled;
  REQUIRE(loop.add(b.get(), reader));
  REQUIRE(write(a.get(), "x", 1) == 1);
  const auto start = std::chrono::steady_clock::now();
  loop.run();
  // Once for the batch, once more as it asked: no timer, no wait in between.
  CHECK(flush.calls == 2);
  CHECK_FALSE(cancelled.ran);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(1));
}
