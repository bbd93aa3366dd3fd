"""Traffic logs through the real binary: `log` targets (stdout, UDP syslog), `option
httplog`, `option tcplog`, the default "Connect from" line and `option dontlognull`, in
HAProxy 2.6's formats (SLUICE_TEST_PROXY=haproxy runs the same tests against it)."""
import re
import socket

import pytest

from serving import (DEADLINE, HttpOrigin, Origin, RawClient, exchange, free_port, reply,
                     sluice_serving, wait_until)

DATE = r"\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d\.\d{3}"


def write(tmp_path, lines):
    cfg = tmp_path / "log.cfg"
    cfg.write_text("\n".join(lines) + "\n")
    return cfg


def defaults(mode, *extra):
    return ["defaults", f"    mode {mode}", "    timeout connect 2s", "    timeout client 5s",
            "    timeout server 5s", "    log global", *(f"    {l}" for l in extra)]


def stdout_lines(proc):
    return [l for l in proc.stdout.read().splitlines() if l]


@pytest.fixture
def origin():
    o = HttpOrigin("s1", reply())
    yield o
    o.close()


def test_httplog_line_on_stdout(sluice_bin, tmp_path, origin):
    port = free_port()
    cfg = write(tmp_path, ["global", "    log stdout format raw local0",
                           *defaults("http", "option httplog"),
                           "frontend fe", f"    bind 127.0.0.1:{port}", "    default_backend be",
                           "backend be", f"    server s1 127.0.0.1:{origin.port}"])
    with sluice_serving(sluice_bin, cfg, port) as proc:
        with RawClient(port) as c:
            assert c.send(b"GET /a?b=1 HTTP/1.1\r\nHost: x\r\n\r\n").response().status == 200
            assert c.send(b"BAD\r\n\r\n").response().status == 400
    lines = [l for l in stdout_lines(proc) if " fe " in l]  # the readiness probe logs too
    assert re.fullmatch(
        rf"127\.0\.0\.1:\d+ \[{DATE}\] fe be/s1 \d+/\d+/\d+/\d+/\d+ 200 \d+ - - ---- "
        r"\d+/\d+/\d+/\d+/0 0/0 \"GET /a\?b=1 HTTP/1\.1\"", lines[-2]), lines
    assert re.fullmatch(
        rf"127\.0\.0\.1:\d+ \[{DATE}\] fe fe/<NOSRV> -1/-1/-1/-1/\d+ 400 \d+ - - PR-- "
        r"\d+/\d+/0/0/0 0/0 \"<BADREQ>\"", lines[-1]), lines


def test_tcplog_and_dontlognull_over_udp_syslog(sluice_bin, tmp_path):
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    sink.settimeout(DEADLINE)
    o = Origin("s1")
    port = free_port()
    cfg = write(tmp_path, ["global", f"    log 127.0.0.1:{sink.getsockname()[1]} local0",
                           *defaults("tcp", "option tcplog", "option dontlognull"),
                           "frontend fe", f"    bind 127.0.0.1:{port}", "    default_backend be",
                           "backend be", f"    server s1 127.0.0.1:{o.port}"])
    try:
        with sluice_serving(sluice_bin, cfg, port):
            # The readiness probe sent nothing: dontlognull keeps it out of the log.
            assert exchange(port, b"ping") == b"s1:4:ping"
            datagram = sink.recv(2048).decode()
    finally:
        sink.close()
        o.close()
    # rfc3164 without hostname, local0.info = <134>, then the tcplog format.
    assert re.fullmatch(
        r"<134>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \S+\[\d+\]: "
        rf"127\.0\.0\.1:\d+ \[{DATE}\] fe be/s1 \d+/\d+/\d+ 9 -- \d+/\d+/\d+/\d+/0 0/0\n",
        datagram), datagram


def test_connect_line_without_a_log_option(sluice_bin, tmp_path):
    o = Origin("s1")
    port = free_port()
    cfg = write(tmp_path, ["global", "    log stdout format raw local0", *defaults("tcp"),
                           "frontend fe", f"    bind 127.0.0.1:{port}", "    default_backend be",
                           "backend be", f"    server s1 127.0.0.1:{o.port}"])
    try:
        with sluice_serving(sluice_bin, cfg, port) as proc:
            assert exchange(port, b"ping") == b"s1:4:ping"
    finally:
        o.close()
    lines = stdout_lines(proc)
    assert len(lines) == 2  # the readiness probe, then our connection
    for line in lines:
        assert re.fullmatch(rf"Connect from 127\.0\.0\.1:\d+ to 127\.0\.0\.1:{port} \(fe/TCP\)",
                            line), line
