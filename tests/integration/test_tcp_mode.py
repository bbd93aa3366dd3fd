"""mode tcp through the real binary: byte-exact relay, half-close, rotation over servers,
retries on a refused server, and stopping on SIGTERM."""
import hashlib
import os
import socket
import threading
import time

import pytest

from serving import Origin, exchange, free_port, sluice_serving, wait_until, DEADLINE


def write_cfg(tmp_path, port, servers, extra_backend="", threads=2, before_servers=()):
    lines = [
        "global", f"    nbthread {threads}",
        "defaults", "    mode tcp", "    timeout connect 2s", "    timeout client 10s",
        "    timeout server 10s",
        "frontend fe", f"    bind 127.0.0.1:{port}", "    default_backend be",
        "backend be", *(f"    {l}" for l in before_servers),
    ]
    lines += [f"    server {name} 127.0.0.1:{p}" for name, p in servers]
    if extra_backend:
        lines.append(extra_backend)
    cfg = tmp_path / "tcp.cfg"
    cfg.write_text("\n".join(lines) + "\n")
    return cfg


@pytest.fixture
def origins():
    started = [Origin("s1"), Origin("s2")]
    yield started
    for o in started:
        o.close()


def test_relay_is_byte_exact_both_ways_with_half_close(sluice_bin, tmp_path):
    echo = Origin("echo", echo=True)
    port = free_port()
    try:
        with sluice_serving(sluice_bin, write_cfg(tmp_path, port, [("e", echo.port)]), port):
            payload = os.urandom(3 * 1024 * 1024)  # larger than any buffer on the way
            # The echo origin answers as it reads; only our FIN, carried through sluice,
            # lets it finish, and only its close, carried back, ends our read.
            got = exchange(port, payload)
            assert hashlib.sha256(got).hexdigest() == hashlib.sha256(payload).hexdigest()
    finally:
        echo.close()


def test_connections_alternate_over_servers(sluice_bin, tmp_path, origins):
    # One thread: connections are accepted in arrival order, so the rotation is exact
    # (the readiness probes of sluice_serving take their turns before ours).
    port = free_port()
    cfg = write_cfg(tmp_path, port, [("s1", origins[0].port), ("s2", origins[1].port)],
                    threads=1)
    with sluice_serving(sluice_bin, cfg, port):
        answers = [exchange(port, b"hello %d" % i).split(b":")[0] for i in range(6)]
    assert sorted(answers) == [b"s1"] * 3 + [b"s2"] * 3
    assert all(a != b for a, b in zip(answers, answers[1:])), answers


def test_refused_server_is_retried_on_another(sluice_bin, tmp_path, origins):
    port = free_port()
    dead = free_port()  # nothing listens there: connect() is refused
    cfg = write_cfg(tmp_path, port, [("dead", dead), ("s1", origins[0].port)],
                    extra_backend="    retries 3\n    option redispatch")
    with sluice_serving(sluice_bin, cfg, port):
        for i in range(4):
            assert exchange(port, b"ping").startswith(b"s1:4:ping"), i


def test_refused_server_without_redispatch_is_retried_after_a_pause(sluice_bin, tmp_path,
                                                                   origins):
    """HAProxy without `option redispatch`: the server that refused is tried again after
    min(timeout connect, 1 s), then the client is closed; the next connection goes on in turn."""
    port = free_port()
    cfg = write_cfg(tmp_path, port, [("dead", free_port()), ("s1", origins[0].port)],
                    extra_backend="    retries 2\n    timeout connect 300ms", threads=1)
    with sluice_serving(sluice_bin, cfg, port):
        outcomes = []
        for _ in range(2):  # one turn each (the readiness probe took one turn already)
            started = time.monotonic()
            got = exchange(port, b"ping")
            outcomes.append((got, time.monotonic() - started))
    outcomes.sort()
    assert outcomes[0][0] == b"" and outcomes[0][1] >= 0.55  # two pauses of 300 ms
    assert outcomes[1][0] == b"s1:4:ping"


def test_server_maxconn_queues_connections(sluice_bin, tmp_path, origins):
    port = free_port()
    s1 = origins[0]
    cfg = write_cfg(tmp_path, port, [("s1", s1.port)], before_servers=["default-server maxconn 1"])
    with sluice_serving(sluice_bin, cfg, port):
        # The readiness probe was relayed too: one connection already.
        wait_until(lambda: s1.connections == 1, "the probe's connection at the origin")
        with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as held:
            held.sendall(b"first")
            wait_until(lambda: s1.connections == 2, "the first connection at the origin")
            result = {}
            waiter = threading.Thread(target=lambda: result.update(got=exchange(port, b"second")))
            waiter.start()
            deadline = time.monotonic() + 0.3  # bounded check: the second one waits
            while time.monotonic() < deadline:
                assert s1.connections == 2
                time.sleep(0.02)
            held.shutdown(socket.SHUT_WR)
            assert held.recv(100) == b"s1:5:first"
            waiter.join(DEADLINE)
    assert result["got"] == b"s1:6:second"
    assert s1.connections == 3


def test_no_server_closes_the_client(sluice_bin, tmp_path):
    port = free_port()
    cfg = write_cfg(tmp_path, port, [("dead", free_port())], extra_backend="    retries 0")
    with sluice_serving(sluice_bin, cfg, port):
        assert exchange(port, b"anyone?") == b""


def test_sigterm_stops_with_open_connections(sluice_bin, tmp_path, origins):
    port = free_port()
    cfg = write_cfg(tmp_path, port, [("s1", origins[0].port)])
    with sluice_serving(sluice_bin, cfg, port) as proc:
        idle = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
        idle.sendall(b"not finished")
        proc.terminate()
        assert proc.wait(timeout=DEADLINE) == 0
        idle.settimeout(DEADLINE)
        # Closed by sluice as it stopped: a FIN, or a reset when our bytes were still unread.
        try:
            assert idle.recv(100) == b""
        except ConnectionResetError:
            pass
        idle.close()


def test_features_not_served_yet_refuse_to_start(sluice_bin, tmp_path, sluice):
    port = free_port()
    cfg = write_cfg(tmp_path, port, [("s1", 1), ("s2", 2)],
                    before_servers=["tcp-request inspect-delay 1s"])
    result = sluice("-f", cfg)
    assert result.returncode == 1
    assert f"{cfg}:12: 'tcp-request inspect-delay' in a backend is not served by this build " \
        "yet" in result.stderr
    assert "not starting" in result.stderr


def test_frontend_maxconn_queues_the_excess(sluice_bin, tmp_path):
    """maxconn 2: a third connection waits in the kernel's queue until one closes."""
    echo = Origin("echo", echo=True)
    port = free_port()
    cfg = write_cfg(tmp_path, port, [("e", echo.port)], threads=1)
    cfg.write_text(cfg.read_text().replace("    default_backend be", "    maxconn 2\n"
                                           "    default_backend be"))
    try:
        with sluice_serving(sluice_bin, cfg, port):
            # sluice_serving's readiness probes may still hold slots: let them drain.
            held = []
            for _ in range(2):
                c = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
                c.sendall(b"x")
                assert c.recv(1) == b"x"  # relayed: the connection holds a slot
                held.append(c)
            third = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
            third.sendall(b"y")
            third.settimeout(0.5)
            with pytest.raises(socket.timeout):
                third.recv(1)  # queued, not served
            held.pop().close()
            third.settimeout(DEADLINE)
            assert third.recv(1) == b"y"  # served once a slot is free
            third.close()
            for c in held:
                c.close()
    finally:
        echo.close()


def test_weighted_roundrobin_follows_haproxys_order(sluice_bin, tmp_path, origins):
    """Weights 3 and 1: HAProxy 2.6 sends A A A B (recorded; see tests/unit/balance)."""
    port = free_port()
    cfg = write_cfg(tmp_path, port, [("s1", origins[0].port), ("s2", origins[1].port)],
                    threads=1)
    cfg.write_text(cfg.read_text().replace(f"127.0.0.1:{origins[0].port}",
                                           f"127.0.0.1:{origins[0].port} weight 3"))
    with sluice_serving(sluice_bin, cfg, port):
        answers = [exchange(port, b"w").split(b":")[0] for _ in range(12)]
    # The readiness probes took some turns first: ours are the cycle from some offset.
    cycle = [b"s1", b"s1", b"s1", b"s2"]
    assert any(answers == [cycle[(r + k) % 4] for k in range(12)] for r in range(4)), answers


def test_client_fin_timeout_ends_a_relay_whose_client_does_not_close(sluice_bin, tmp_path):
    """The server answered and half-closed; its FIN went on to the client, which neither
    closes nor sends: `timeout client-fin` ends the relay instead of `timeout client`
    (HAProxy: the FIN_WAIT state bounded). The server sees the end as its EOF."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    ended_after = []

    def serve():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                try:
                    conn.sendall(b"bye")
                    conn.shutdown(socket.SHUT_WR)
                    shut_at = time.monotonic()
                    conn.settimeout(DEADLINE)
                    while conn.recv(100):
                        pass
                    ended_after.append(time.monotonic() - shut_at)
                except OSError:
                    pass

    threading.Thread(target=serve, daemon=True).start()
    port = free_port()
    cfg = write_cfg(tmp_path, port, [("s", server.getsockname()[1])], threads=1)
    cfg.write_text(cfg.read_text().replace("    timeout server 10s",
                                           "    timeout server 10s\n    timeout client-fin 300ms"))
    try:
        with sluice_serving(sluice_bin, cfg, port):
            wait_until(lambda: len(ended_after) == 1, "the readiness probe's relay to end")
            with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as c:
                assert c.recv(10) == b"bye"
                assert c.recv(10) == b""  # the server's FIN, passed on; we stay silent
                wait_until(lambda: len(ended_after) == 2, "client-fin to end the relay", 5)
    finally:
        server.close()
    assert 0.2 <= ended_after[1] < 3  # client-fin (300 ms), not timeout client (10 s)


def test_use_backend_and_tcp_request_connection_rules(sluice_bin, tmp_path, origins):
    """Layer-4 routing as HAProxy evaluates it: connection rules first (the first that
    applies decides), then use_backend in order, then default_backend."""
    port_a, port_b = free_port(), free_port()
    cfg = tmp_path / "route.cfg"
    cfg.write_text("\n".join([
        "defaults", "    mode tcp", "    timeout connect 2s", "    timeout client 10s",
        "    timeout server 10s",
        "frontend fe",
        f"    bind 127.0.0.1:{port_a},127.0.0.1:{port_b}",
        f"    acl to_b dst_port {port_b}",
        "    acl blocked src 127.0.0.0/8",
        f"    tcp-request connection reject if blocked {{ dst_port {port_b} }} FALSE",
        "    tcp-request connection accept if { src 127.0.0.1 }",
        "    tcp-request connection reject",
        "    use_backend be_b if to_b",
        "    use_backend be_none if { nbsrv(be_b) lt 1 }",
        "    default_backend be_a",
        "backend be_a", f"    server s1 127.0.0.1:{origins[0].port}",
        "backend be_b", f"    server s2 127.0.0.1:{origins[1].port}",
        "backend be_none", "    server x 127.0.0.1:1",
    ]) + "\n")
    with sluice_serving(sluice_bin, cfg, port_a):
        assert exchange(port_a, b"a").startswith(b"s1:1:a")
        assert exchange(port_b, b"b").startswith(b"s2:1:b")


def test_tcp_request_connection_reject_closes(sluice_bin, tmp_path, origins):
    port = free_port()
    cfg = write_cfg(tmp_path, port, [("s1", origins[0].port)], threads=1)
    cfg.write_text(cfg.read_text().replace(
        "    default_backend be",
        "    tcp-request connection reject if { src 127.0.0.1 }\n    default_backend be"))
    before = origins[0].connections
    with sluice_serving(sluice_bin, cfg, port):
        assert exchange(port, b"let me in") == b""
    assert origins[0].connections == before  # the origin never saw it


def test_sigusr1_soft_stop_finishes_connections_in_flight(sluice_bin, tmp_path):
    """SIGUSR1: new connections are refused, the one in flight keeps working until it
    ends, then sluice exits 0 by itself."""
    import signal
    echo = Origin("echo", echo=True)
    port = free_port()
    cfg = write_cfg(tmp_path, port, [("e", echo.port)])
    try:
        with sluice_serving(sluice_bin, cfg, port) as proc:
            c = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
            c.sendall(b"before")
            assert c.recv(6) == b"before"
            proc.send_signal(signal.SIGUSR1)
            # Refused once the listeners are closed (a bounded wait, not a sleep).
            from serving import wait_until, accepts
            wait_until(lambda: not accepts(port), "the listener to close")
            c.sendall(b"after")  # the connection in flight still works
            assert c.recv(5) == b"after"
            assert proc.poll() is None  # still draining it
            c.close()
            assert proc.wait(timeout=DEADLINE) == 0  # exits once it is done
    finally:
        echo.close()


def test_daemon_mode_detaches_and_writes_the_pidfile(sluice_bin, tmp_path, origins):
    import signal
    import subprocess
    from serving import wait_until, accepts
    port = free_port()
    cfg = write_cfg(tmp_path, port, [("s1", origins[0].port)])
    pidfile = tmp_path / "sluice.pid"
    started = subprocess.run([str(sluice_bin), "-D", "-p", str(pidfile), "-f", str(cfg)],
                             capture_output=True, text=True, timeout=DEADLINE)
    assert started.returncode == 0, started.stderr
    pid = int(pidfile.read_text())  # written before the parent exited
    try:
        wait_until(lambda: accepts(port), "the daemon to serve")
        assert exchange(port, b"hi").startswith(b"s1:2:hi")
    finally:
        os.kill(pid, signal.SIGTERM)
        def gone():
            # Reparented to whatever reaps orphans here: a zombie has exited too.
            try:
                with open(f"/proc/{pid}/stat") as stat:
                    return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
            except FileNotFoundError:
                return True
        wait_until(gone, "the daemon to exit")


def test_bulk_download_is_byte_exact_through_the_kernel_pipe(sluice_bin, tmp_path):
    """A stream that fills whole buffers moves by splice(2): the bytes and the close must
    arrive exactly as the server sent them."""
    payload = os.urandom(8 * 1024 * 1024)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)

    def serve_each():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return  # closed by the test
            with conn:
                try:
                    if conn.recv(16):  # the readiness probe sends nothing
                        conn.sendall(payload)
                except OSError:
                    pass

    threading.Thread(target=serve_each, daemon=True).start()
    port = free_port()
    cfg = write_cfg(tmp_path, port, [("bulk", server.getsockname()[1])], threads=1)
    try:
        with sluice_serving(sluice_bin, cfg, port):
            got = exchange(port, b"hello", shut_write=False)
    finally:
        server.close()
    assert len(got) == len(payload)
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(payload).hexdigest()
