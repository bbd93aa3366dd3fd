"""Listening addresses beyond ip:port through the real binary: an inherited socket
(`fd@N`, plain and ssl, and across -W reloads), UNIX socket binds in both modes (the stale
file replaced, `mode` applied, HAProxy's `unix:N` log address, no X-Forwarded-For), and the
QUIC prefixes refused by name. Run against HAProxy too (SLUICE_TEST_PROXY=haproxy) except
where marked."""
import http.client
import os
import re
import signal
import socket
import ssl
import subprocess
import threading

import pytest

from serving import (DEADLINE, HAPROXY, UNDER_HAPROXY, HttpOrigin, LogReader, Origin,
                     free_port, proxy_argv, wait_until)
from test_health import self_signed
from test_stats_socket import proxy

DEFAULTS = ["defaults", "    timeout connect 2s", "    timeout client 10s",
            "    timeout server 10s"]


def inherited_socket(listening):
    """A TCP socket on a loopback port, bound (and listening when asked) by the test."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    if listening:
        sock.listen(64)
    return sock


def get(port, context=None, path="/"):
    conn = (http.client.HTTPSConnection("127.0.0.1", port, timeout=DEADLINE, context=context)
            if context else http.client.HTTPConnection("127.0.0.1", port, timeout=DEADLINE))
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def unix_get(path, request=b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"):
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(DEADLINE)
        sock.connect(str(path))
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data


def unix_accepts(path):
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(str(path))
        return True
    except OSError:
        return False


def client_context():
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def fd_cfg(tmp_path, pem, version="v1"):
    cfg = tmp_path / "fd.cfg"
    cfg.write_text("\n".join([
        "global", "    nbthread 2", *DEFAULTS, "    mode http",
        "frontend fe", '    bind "fd@${FE_FD}"', f'    bind "fd@${{FE_SSL_FD}}" ssl crt {pem}',
        f"    http-request return status 200 content-type text/plain string {version}"]) + "\n")
    return cfg


def test_fd_binds_serve_plain_and_ssl(sluice_bin, tmp_path):
    pem = self_signed(tmp_path, "fd.test")
    plain = inherited_socket(listening=True)
    secure = inherited_socket(listening=False)  # bound only: the proxy listens on it
    ports = plain.getsockname()[1], secure.getsockname()[1]
    env = {"FE_FD": str(plain.fileno()), "FE_SSL_FD": str(secure.fileno())}
    try:
        with proxy(sluice_bin, fd_cfg(tmp_path, pem), lambda: get(ports[0])[0] == 200,
                   pass_fds=[plain.fileno(), secure.fileno()], env=env):
            assert get(ports[0]) == (200, b"v1")
            assert get(ports[1], client_context()) == (200, b"v1")
    finally:
        plain.close()
        secure.close()


def test_fd_bind_that_is_not_a_socket_is_refused_at_its_line(sluice_bin, tmp_path):
    """As `haproxy -c` does, `-c` already refuses an `fd@N` that is not an open socket, with
    the system's words and the line."""
    read_end, write_end = os.pipe()
    cfg = tmp_path / "bad.cfg"
    cfg.write_text("\n".join([*DEFAULTS, "frontend fe", "    mode http",
                              f"    bind fd@{read_end}", "    bind fd@987",
                              "    http-request return status 200"]) + "\n")
    try:
        done = subprocess.run([HAPROXY if UNDER_HAPROXY else str(sluice_bin), "-c", "-f",
                               str(cfg)], capture_output=True, text=True, timeout=DEADLINE,
                              pass_fds=[read_end])
        assert done.returncode == 1, done.stderr
        line = re.search(r"bad\.cfg:(\d+).*\n?.*Socket operation on non-socket", done.stderr)
        assert line and line.group(1) == "7", done.stderr
        if not UNDER_HAPROXY:  # HAProxy stops at its first fatal bind error
            assert re.search(r"bad\.cfg:8:\d+: error: cannot use file descriptor '987': Bad file "
                             r"descriptor", done.stderr), done.stderr
    finally:
        os.close(read_end)
        os.close(write_end)


@pytest.mark.skipif(UNDER_HAPROXY, reason="sluice's master")
def test_fd_bind_survives_reloads_without_refusing(sluice_bin, tmp_path):
    pem = self_signed(tmp_path, "fd.test")
    plain = inherited_socket(listening=True)
    secure = inherited_socket(listening=True)
    port = plain.getsockname()[1]
    env = {"FE_FD": str(plain.fileno()), "FE_SSL_FD": str(secure.fileno())}
    cfg = fd_cfg(tmp_path, pem)
    failures, served = [], []
    stop = threading.Event()

    def load():
        while not stop.is_set():
            try:
                served.append(get(port))
            except OSError as e:
                failures.append(repr(e))
    # The test's own descriptors go: only the master (and its workers) hold the sockets.
    try:
        with proxy(sluice_bin, cfg, lambda: get(port)[0] == 200, args=["-W"],
                   pass_fds=[plain.fileno(), secure.fileno()], env=env) as (proc, log):
            plain.close()
            secure.close()
            log.wait_for(r"Loading success\.")
            thread = threading.Thread(target=load, daemon=True)
            thread.start()
            for n, version in enumerate(["v2", "v3"], start=2):
                fd_cfg(tmp_path, pem, version)
                proc.send_signal(signal.SIGUSR2)
                wait_until(lambda: sum("Loading success." in l for l in log.lines) == n,
                           f"reload {n - 1}")
                wait_until(lambda v=version: get(port) == (200, v.encode()), f"{version} served")
            stop.set()
            thread.join(DEADLINE)
            assert failures == []
            assert len(served) > 0 and all(status == 200 for status, _ in served)
            assert get(port)[1] == b"v3"
    finally:
        stop.set()
        plain.close()
        secure.close()


def test_unix_socket_binds_serve_http_and_tcp(sluice_bin, tmp_path):
    origin = HttpOrigin("s1")
    tcp_origin = Origin("t1")
    http_path, tcp_path = tmp_path / "fe.sock", tmp_path / "ft.sock"
    # A socket file left by a process that is gone: replaced, as HAProxy does.
    with socket.socket(socket.AF_UNIX) as stale:
        stale.bind(str(http_path))
    cfg = tmp_path / "unix.cfg"
    cfg.write_text("\n".join([
        "global", "    nbthread 2", *DEFAULTS, "    log stdout format raw local0",
        "frontend fe", "    mode http", "    option httplog", "    option forwardfor",
        f"    bind 127.0.0.1:{free_port()}", f"    bind unix@{http_path} mode 600",
        "    default_backend be",
        "backend be", "    mode http", f"    server s1 127.0.0.1:{origin.port}",
        "frontend ft", "    mode tcp", "    option tcplog", f"    bind {tcp_path}",
        "    default_backend bt",
        "backend bt", "    mode tcp", f"    server t1 127.0.0.1:{tcp_origin.port}"]) + "\n")
    try:
        with proxy(sluice_bin, cfg, lambda: unix_accepts(http_path) and unix_accepts(tcp_path)):
            assert oct(os.stat(http_path).st_mode & 0o777) == "0o600"
            response = unix_get(http_path)
            assert response.startswith(b"HTTP/1.1 200"), response
            request = origin.requests[-1]
            assert request.header("x-forwarded-for") == []  # not an IP client: none added
            with socket.socket(socket.AF_UNIX) as sock:
                sock.settimeout(DEADLINE)
                sock.connect(str(tcp_path))
                sock.sendall(b"hello")
                sock.shutdown(socket.SHUT_WR)
                data = b""
                while chunk := sock.recv(4096):
                    data += chunk
            assert data == b"t1:5:hello"
    finally:
        origin.close()
        tcp_origin.close()


def test_unix_client_logs_as_unix_and_the_listener_id(sluice_bin, tmp_path):
    origin = HttpOrigin("s1")
    path = tmp_path / "fe.sock"
    cfg = tmp_path / "log.cfg"
    cfg.write_text("\n".join([
        "global", "    nbthread 1", *DEFAULTS, "    log stdout format raw local0",
        "frontend fe", "    mode http", "    option httplog",
        f"    bind 127.0.0.1:{free_port()}", f"    bind {path}",
        "    http-request return status 200 content-type text/plain lf-string "
        "\"src=%[src].\"",
        "    default_backend be", "backend be", "    mode http",
        f"    server s1 127.0.0.1:{origin.port}"]) + "\n")
    proc = subprocess.Popen(proxy_argv(sluice_bin, cfg), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    log = LogReader(proc)
    try:
        wait_until(lambda: proc.poll() is not None or unix_accepts(path), "the proxy")
        response = unix_get(path)
        assert response.endswith(b"src=."), response  # no IP address
        log.wait_for(r"^unix:2 \[")
    finally:
        proc.terminate()
        proc.wait(timeout=DEADLINE)
        origin.close()


@pytest.mark.skipif(UNDER_HAPROXY, reason="sluice's message (HAProxy: QUIC not compiled in)")
def test_quic_prefix_is_refused_by_name(sluice, tmp_path):
    cfg = tmp_path / "quic.cfg"
    cfg.write_text("\n".join([*DEFAULTS, "frontend fe", "    mode http",
                              "    bind quic4@:8443 ssl crt /nonexistent.pem",
                              "    http-request return status 200"]) + "\n")
    r = sluice("-c", "-f", cfg)
    assert r.returncode == 1
    assert "quic.cfg:7:10: error: bind: 'quic4@': QUIC listeners are not supported by sluice" \
        in r.stderr
    assert "unknown" not in r.stderr
