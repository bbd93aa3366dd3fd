"""The PROXY protocol through the real binary: `bind … accept-proxy` reading v1 and v2
headers (the addresses they carry in samples, logs and X-Forwarded-For; the refusals and the
timeout, logged in HAProxy's words), `send-proxy` and `send-proxy-v2` towards a server that
reads the header it gets, in mode http and mode tcp, and a sluice `send-proxy-v2` backend
chained into its own `accept-proxy` frontend. SLUICE_TEST_PROXY=haproxy runs the same tests
against HAProxy 2.6 (but for the sluice-only ones: HAProxy refuses a header split over
segments)."""
import re
import socket
import struct
import threading
import time

import pytest

from serving import (DEADLINE, UNDER_HAPROXY, HttpOrigin, RawClient, accepts, free_port,
                     listening_socket, reply, serve_in_threads, sluice_serving, wait_until)

DATE = r"\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d\.\d{3}"
SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
REQUEST = b"GET /pp HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
ECHO_ADDRESSES = ('http-request return status 200 content-type text/plain '
                  'lf-string "src=%[src]:%[src_port] dst=%[dst]:%[dst_port]\\n"')
sluice_only = pytest.mark.skipif(
    UNDER_HAPROXY, reason="HAProxy 2.6 refuses a header split over segments "
    "(Truncated PROXY protocol header received)")


def haproxy_refuses(what):
    return pytest.mark.skipif(UNDER_HAPROXY, reason=f"HAProxy 2.6 refuses {what}")


def haproxy_accepts(what):
    return pytest.mark.skipif(UNDER_HAPROXY, reason=f"HAProxy 2.6 accepts {what}")


# ---------------------------------------------------------------------------------------------
# Headers as a load balancer in front of the proxy sends them
# ---------------------------------------------------------------------------------------------

def v1(protocol, src="", dst="", sport=0, dport=0):
    if protocol == "UNKNOWN" and not src:
        return b"PROXY UNKNOWN\r\n"
    return f"PROXY {protocol} {src} {dst} {sport} {dport}\r\n".encode()


def tlv(kind, value=b""):
    return bytes([kind]) + struct.pack("!H", len(value)) + value


def v2(command, family, body=b"", version=2):
    """command 0 LOCAL or 1 PROXY; family 0x11 TCP4, 0x21 TCP6, 0x00 UNSPEC."""
    return (SIGNATURE + bytes([version << 4 | command, family]) + struct.pack("!H", len(body)) +
            body)


def v2_tcp4(src, dst, sport, dport, tlvs=b""):
    return v2(1, 0x11, socket.inet_aton(src) + socket.inet_aton(dst) +
              struct.pack("!HH", sport, dport) + tlvs)


def v2_tcp6(src, dst, sport, dport, tlvs=b""):
    return v2(1, 0x21, socket.inet_pton(socket.AF_INET6, src) +
              socket.inet_pton(socket.AF_INET6, dst) + struct.pack("!HH", sport, dport) + tlvs)


def read_header(conn, buf=b""):
    """Reads one PROXY header from conn (v1 line or v2 binary): (header, bytes after it)."""
    def fill():
        chunk = conn.recv(65536)
        if not chunk:
            raise EOFError(f"closed after {buf!r}")
        return chunk
    while len(buf) < 5:
        buf += fill()
    if buf.startswith(b"PROXY"):
        while b"\r\n" not in buf:
            buf += fill()
        end = buf.index(b"\r\n") + 2
    else:
        while len(buf) < 16:
            buf += fill()
        end = 16 + struct.unpack("!H", buf[14:16])[0]
        while len(buf) < end:
            buf += fill()
    return buf[:end], buf[end:]


def describe(header):
    """A PROXY header as text: "v1 TCP4 src:sport dst:dport", "v2 PROXY TCP4 …", "v2 LOCAL"."""
    if header.startswith(b"PROXY "):
        words = header[6:-2].decode().split(" ")
        if words[0] in ("TCP4", "TCP6") and len(words) == 5:
            return f"v1 {words[0]} {words[1]}:{words[3]} {words[2]}:{words[4]}"
        return "v1 " + " ".join(words)
    assert header[:12] == SIGNATURE, header
    command = {0x20: "LOCAL", 0x21: "PROXY"}[header[12]]
    family, body = header[13], header[16:]
    if command == "PROXY" and family == 0x11:
        src, dst = socket.inet_ntoa(body[0:4]), socket.inet_ntoa(body[4:8])
        sport, dport = struct.unpack("!HH", body[8:12])
        return f"v2 PROXY TCP4 {src}:{sport} {dst}:{dport}"
    if command == "PROXY" and family == 0x21:
        src = socket.inet_ntop(socket.AF_INET6, body[0:16])
        dst = socket.inet_ntop(socket.AF_INET6, body[16:32])
        sport, dport = struct.unpack("!HH", body[32:36])
        return f"v2 PROXY TCP6 {src}:{sport} {dst}:{dport}"
    return f"v2 {command} family={family:#04x} length={len(body)}"


class ProxyHeaderServer:
    """A server behind `send-proxy[-v2]`: reads the PROXY header first, then in mode http one
    request head, answered 200 with "<describe(header)>\\n<header hex>" as its body; in mode
    tcp the client's bytes to its FIN, answered the same with "\\n<bytes>" added, then closes.
    Keeps every header received in `headers`."""

    def __init__(self, mode, keep_alive=False):
        self.mode = mode
        self.keep_alive = keep_alive  # mode http: answer every request of a connection
        self.headers = []
        self.errors = []
        self.sock = listening_socket(16)
        self.port = self.sock.getsockname()[1]
        serve_in_threads(self.sock, self._serve)

    def _serve(self, conn):
        with conn:
            conn.settimeout(DEADLINE)
            try:
                header, rest = read_header(conn)
                self.headers.append(header)
                answer = describe(header).encode() + b"\n" + header.hex().encode()
                if self.mode == "http":
                    while True:
                        while b"\r\n\r\n" not in rest:
                            chunk = conn.recv(65536)
                            if not chunk:
                                if rest or not self.keep_alive:
                                    raise EOFError("request head cut")
                                return
                            rest += chunk
                        rest = rest[rest.index(b"\r\n\r\n") + 4:]  # requests without body
                        close = b"" if self.keep_alive else b"Connection: close\r\n"
                        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                                     b"Content-Length: %d\r\n%s\r\n"
                                     % (len(answer), close) + answer)
                        if not self.keep_alive:
                            return
                else:
                    while True:
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        rest += chunk
                    conn.sendall(answer + b"\n" + rest)
            except (OSError, EOFError, KeyError, AssertionError) as e:
                self.errors.append(repr(e))

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


# ---------------------------------------------------------------------------------------------
# Configurations and clients
# ---------------------------------------------------------------------------------------------

def write_cfg(tmp_path, lines, name="pp.cfg"):
    cfg = tmp_path / name
    cfg.write_text("\n".join(lines) + "\n")
    return cfg


def head(mode="http", client_timeout="10s", log_option=None):
    lines = ["global", "    nbthread 1", "    log stdout format raw local0",
             "defaults", f"    mode {mode}", "    log global", "    timeout connect 2s",
             f"    timeout client {client_timeout}", "    timeout server 10s"]
    if log_option:
        lines.append(f"    option {log_option}")
    return lines


def accept_proxy_cfg(tmp_path, port, client_timeout="10s", frontend=()):
    """Frontend `fe` on an accept-proxy bind, answering the addresses it sees."""
    return write_cfg(tmp_path, head("http", client_timeout, "httplog") + [
        "frontend fe", f"    bind 127.0.0.1:{port} accept-proxy",
        *(f"    {l}" for l in frontend), f"    {ECHO_ADDRESSES}"])


def addresses_seen(port, header, request=REQUEST):
    """Sends header + request on a new connection; returns (status, body, client port)."""
    with RawClient(port) as c:
        client_port = c.sock.getsockname()[1]
        c.send(header + request)
        r = c.response()
        return r.status, r.body.decode(), client_port


def log_lines(proc):
    """The traffic log sluice wrote on stdout (read once the process ended)."""
    return [l for l in proc.stdout.read().splitlines() if l]


def closed_without_answer(sock):
    """Reads until the peer closes: True when nothing came (a reset counts as closed)."""
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except ConnectionResetError:
        pass
    return data == b""


# ---------------------------------------------------------------------------------------------
# accept-proxy: the addresses a header gives
# ---------------------------------------------------------------------------------------------

def test_headers_of_every_kind_give_their_addresses(sluice_bin, tmp_path):
    port = free_port()
    with sluice_serving(sluice_bin, accept_proxy_cfg(tmp_path, port), port):
        status, body, _ = addresses_seen(port, v1("TCP4", "10.1.2.3", "10.0.0.1", 1234, 8443))
        assert (status, body) == (200, "src=10.1.2.3:1234 dst=10.0.0.1:8443\n")

        status, body, _ = addresses_seen(
            port, v1("TCP6", "2001:db8::7", "2001:db8::8", 40000, 443))
        assert (status, body) == (200, "src=2001:db8::7:40000 dst=2001:db8::8:443\n")

        # v2 with a NOOP TLV (padding, PP2_TYPE_NOOP) and an ALPN one: both skipped.
        status, body, _ = addresses_seen(
            port, v2_tcp4("192.0.2.10", "198.51.100.20", 65535, 80,
                          tlv(0x04, b"\x00" * 5) + tlv(0x01, b"h2")))
        assert (status, body) == (200, "src=192.0.2.10:65535 dst=198.51.100.20:80\n")

        status, body, _ = addresses_seen(
            port, v2_tcp6("2001:db8::1", "::1", 1, 2, tlv(0x04)))
        assert (status, body) == (200, "src=2001:db8::1:1 dst=::1:2\n")


@pytest.mark.parametrize("header", [
    pytest.param(v1("UNKNOWN"), id="v1-unknown"),
    # "the receiver must ignore anything presented before the CRLF is found"
    pytest.param(b"PROXY UNKNOWN 10.9.9.9 10.8.8.8 1 2\r\n", id="v1-unknown-fields",
                 marks=haproxy_refuses("anything after UNKNOWN (unhandled protocol)")),
    pytest.param(v2(0, 0x00), id="v2-local"),
    pytest.param(v2(0, 0x11, socket.inet_aton("10.9.9.9") * 2 + b"\x00\x01\x00\x02"),
                 id="v2-local-addresses"),
    pytest.param(v2(0, 0x11), id="v2-local-no-room-for-addresses"),
    # The spec leaves UNSPEC and UNIX under PROXY to the receiver: sluice keeps the
    # connection's own addresses.
    pytest.param(v2(1, 0x00), id="v2-unspec",
                 marks=haproxy_refuses("PROXY over UNSPEC (invalid PROXY protocol header)")),
    pytest.param(v2(1, 0x31, b"/" * 216), id="v2-unix",
                 marks=haproxy_refuses("PROXY over UNIX (invalid PROXY protocol header)")),
])
def test_headers_without_addresses_keep_the_connections_own(sluice_bin, tmp_path, header):
    port = free_port()
    with sluice_serving(sluice_bin, accept_proxy_cfg(tmp_path, port), port):
        status, body, client_port = addresses_seen(port, header)
        assert (status, body) == (200, f"src=127.0.0.1:{client_port} dst=127.0.0.1:{port}\n")


def test_every_request_of_a_connection_keeps_the_proxy_addresses(sluice_bin, tmp_path):
    port = free_port()
    keep_alive = b"GET /pp HTTP/1.1\r\nHost: x\r\n\r\n"
    with sluice_serving(sluice_bin, accept_proxy_cfg(tmp_path, port), port):
        with RawClient(port) as c:
            for sent in (v2_tcp4("10.1.2.3", "10.0.0.1", 1234, 8443) + keep_alive,
                         # A later request that starts like a header is only a request.
                         b"PROXY /pp HTTP/1.1\r\nHost: x\r\n\r\n",
                         keep_alive):
                r = c.send(sent).response()
                assert (r.status, r.body) == (200, b"src=10.1.2.3:1234 dst=10.0.0.1:8443\n"), sent


def test_httplog_shows_the_proxy_source(sluice_bin, tmp_path):
    port = free_port()
    with sluice_serving(sluice_bin, accept_proxy_cfg(tmp_path, port), port) as proc:
        status, _, _ = addresses_seen(port, v1("TCP4", "10.1.2.3", "10.0.0.1", 1234, 8443))
        assert status == 200
        status, _, _ = addresses_seen(
            port, v2_tcp6("2001:db8::7", "2001:db8::8", 40000, 443))
        assert status == 200
    lines = [l for l in log_lines(proc) if '"GET /pp' in l]
    assert len(lines) == 2, lines
    assert re.fullmatch(
        rf"10\.1\.2\.3:1234 \[{DATE}\] fe fe/<NOSRV> \d+/-1/-1/-1/\d+ 200 \d+ - - LR-- "
        r"\d+/\d+/0/0/0 0/0 \"GET /pp HTTP/1\.1\"", lines[0]), lines
    assert lines[1].startswith("2001:db8::7:40000 ["), lines


def test_forwardfor_names_the_proxy_source(sluice_bin, tmp_path):
    origin = HttpOrigin("s1", reply())
    port = free_port()
    cfg = write_cfg(tmp_path, head("http") + [
        "frontend fe", f"    bind 127.0.0.1:{port} accept-proxy", "    option forwardfor",
        "    default_backend be",
        "backend be", f"    server s1 127.0.0.1:{origin.port}"])
    try:
        with sluice_serving(sluice_bin, cfg, port):
            with RawClient(port) as c:
                c.send(v1("TCP4", "10.1.2.3", "10.0.0.1", 1234, 80) + REQUEST)
                assert c.response().status == 200
            with RawClient(port) as c:
                c.send(v2_tcp6("2001:db8::7", "2001:db8::8", 40000, 443) + REQUEST)
                assert c.response().status == 200
        assert [r.header("x-forwarded-for") for r in origin.requests] == [
            ["10.1.2.3"], ["2001:db8::7"]]
    finally:
        origin.close()


def test_connection_rules_see_the_real_address_request_rules_the_proxied_one(sluice_bin,
                                                                            tmp_path):
    # `tcp-request connection` runs at accept, before the header is read: it sees the
    # load balancer (127.0.0.1), so a header claiming 10.1.2.3 passes it.
    port = free_port()
    with sluice_serving(sluice_bin, accept_proxy_cfg(tmp_path, port, frontend=[
            "tcp-request connection reject if { src 10.0.0.0/8 }"]), port):
        status, body, _ = addresses_seen(port, v1("TCP4", "10.1.2.3", "10.0.0.1", 1234, 80))
        assert (status, body) == (200, "src=10.1.2.3:1234 dst=10.0.0.1:80\n")
        status, body, _ = addresses_seen(port, v2_tcp4("10.1.2.3", "10.0.0.1", 1234, 80))
        assert (status, body) == (200, "src=10.1.2.3:1234 dst=10.0.0.1:80\n")
    # Rules that run once the header is read (here on the request) see the proxied address.
    port = free_port()
    with sluice_serving(sluice_bin, accept_proxy_cfg(tmp_path, port, frontend=[
            "http-request deny if { src 10.0.0.0/8 }"]), port):
        for header in (v1("TCP4", "10.1.2.3", "10.0.0.1", 1234, 80),
                       v2_tcp4("10.1.2.3", "10.0.0.1", 1234, 80)):
            assert addresses_seen(port, header)[0] == 403
        status, body, _ = addresses_seen(port, v1("TCP4", "192.0.2.1", "10.0.0.1", 1, 80))
        assert (status, body) == (200, "src=192.0.2.1:1 dst=10.0.0.1:80\n")
    # A rule on the real address does refuse the load balancer itself.
    port = free_port()
    cfg = accept_proxy_cfg(tmp_path, port, frontend=[
        "tcp-request connection reject if { src 127.0.0.2 }"])
    with sluice_serving(sluice_bin, cfg, port):
        with socket.socket() as s:
            s.settimeout(DEADLINE)
            s.bind(("127.0.0.2", 0))
            s.connect(("127.0.0.1", port))
            try:
                s.sendall(v1("TCP4", "192.0.2.1", "192.0.2.2", 1, 2) + REQUEST)
            except OSError:
                pass
            assert closed_without_answer(s)
        status, _, _ = addresses_seen(port, v1("TCP4", "192.0.2.1", "192.0.2.2", 1, 2))
        assert status == 200


# ---------------------------------------------------------------------------------------------
# accept-proxy: refusals, a header in two segments, the timeout
# ---------------------------------------------------------------------------------------------

def test_plain_http_without_a_header_is_refused_and_logged(sluice_bin, tmp_path):
    port = free_port()
    with sluice_serving(sluice_bin, accept_proxy_cfg(tmp_path, port), port) as proc:
        with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as c:
            client_port = c.getsockname()[1]
            c.sendall(REQUEST)
            assert closed_without_answer(c)
        # The proxy still serves the next client.
        assert addresses_seen(port, v1("UNKNOWN"))[0] == 200
    lines = log_lines(proc)
    assert any(re.fullmatch(
        rf"127\.0\.0\.1:{client_port} \[{DATE}\] fe/1: Received something which does not "
        r"look like a PROXY protocol header", l) for l in lines), lines


UNHANDLED = "Received an unhandled protocol in the PROXY protocol header"
INVALID = "Received an invalid PROXY protocol header"


@pytest.mark.parametrize("garbage, message", [
    pytest.param(b"PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", UNHANDLED, id="v1-tcp5"),
    pytest.param(b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", INVALID, id="v1-trailing-field"),
    pytest.param(b"PROXY TCP6 1.2.3.4 ::1 1 2\r\n", INVALID, id="v1-tcp6-ipv4-address"),
    pytest.param(b"PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n", INVALID, id="v1-port",
                 marks=haproxy_accepts("port 65536 (read as 0)")),
    pytest.param(b"PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n", INVALID, id="v1-port-leading-zero",
                 marks=haproxy_accepts("ports with leading zeros")),
    pytest.param(b"PROXY TCP4 1.2.3.400 5.6.7.8 1 2\r\n", INVALID, id="v1-address",
                 marks=haproxy_accepts("1.2.3.400 (read as 1.2.4.144)")),
    pytest.param(v2(1, 0x11, b"\x00" * 11), INVALID, id="v2-short-tcp4"),
    pytest.param(v2(2, 0x11, b"\x00" * 12), INVALID, id="v2-command-2"),
    # Refused by both; the wording differs (HAProxy: "Received something which does not
    # look like a PROXY protocol header"), so any reason will do here.
    pytest.param(v2(1, 0x11, b"\x0a\x01\x02\x03\x0a\x00\x00\x01\x00\x01\x00\x02", version=1),
                 None, id="v2-version-1"),
])
def test_invalid_headers_are_refused_and_logged(sluice_bin, tmp_path, garbage, message):
    port = free_port()
    with sluice_serving(sluice_bin, accept_proxy_cfg(tmp_path, port), port) as proc:
        with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as c:
            client_port = c.getsockname()[1]
            c.sendall(garbage + REQUEST)
            assert closed_without_answer(c)
    lines = [l for l in log_lines(proc) if l.startswith(f"127.0.0.1:{client_port} ")]
    assert len(lines) == 1 and " fe/1: " in lines[0], lines
    if message:
        assert lines[0].endswith(" fe/1: " + message), lines


@sluice_only
@pytest.mark.parametrize("header", [
    v1("TCP4", "10.1.2.3", "10.0.0.1", 1234, 8443),
    v2_tcp4("10.1.2.3", "10.0.0.1", 1234, 8443, tlv(0x04, b"\x00" * 8)),
], ids=["v1", "v2"])
def test_a_header_split_in_two_segments_is_waited_for(sluice_bin, tmp_path, header):
    port = free_port()
    with sluice_serving(sluice_bin, accept_proxy_cfg(tmp_path, port), port):
        with RawClient(port) as c:
            c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            c.send(header[:9])
            time.sleep(0.2)  # the test's point: a gap between the two segments
            c.send(header[9:] + REQUEST)
            r = c.response()
        assert (r.status, r.body) == (200, b"src=10.1.2.3:1234 dst=10.0.0.1:8443\n")


def test_a_connection_closed_before_its_header_is_logged(sluice_bin, tmp_path):
    port = free_port()
    with sluice_serving(sluice_bin, accept_proxy_cfg(tmp_path, port), port) as proc:
        with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as c:
            client_port = c.getsockname()[1]
        # One thread: a connection served after it means the close was seen before the stop.
        assert addresses_seen(port, v1("UNKNOWN"))[0] == 200
    lines = [l for l in log_lines(proc) if l.startswith(f"127.0.0.1:{client_port} ")]
    assert len(lines) == 1 and re.fullmatch(
        rf"127\.0\.0\.1:\d+ \[{DATE}\] fe/1: Connection closed while waiting for PROXY "
        r"protocol header", lines[0]), lines


def timeout_refusal(tmp_path, sluice_bin, first_bytes):
    """Sends first_bytes then nothing under `timeout client 1s`; returns how long the
    proxy took to close and the log lines."""
    port = free_port()
    cfg = accept_proxy_cfg(tmp_path, port, client_timeout="1s")
    with sluice_serving(sluice_bin, cfg, port) as proc:
        with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as c:
            client_port = c.getsockname()[1]
            if first_bytes:
                c.sendall(first_bytes)
            start = time.monotonic()
            assert closed_without_answer(c)
            waited = time.monotonic() - start
    lines = [l for l in log_lines(proc) if l.startswith(f"127.0.0.1:{client_port} ")]
    return waited, lines


def test_silence_is_closed_after_timeout_client(sluice_bin, tmp_path):
    waited, lines = timeout_refusal(tmp_path, sluice_bin, b"")
    assert 0.8 <= waited < DEADLINE, waited
    assert len(lines) == 1 and re.fullmatch(
        rf"127\.0\.0\.1:\d+ \[{DATE}\] fe/1: Timeout while waiting for PROXY protocol header",
        lines[0]), lines


@sluice_only
@pytest.mark.parametrize("partial", [b"PROXY TCP4 10.1.2.3 ", SIGNATURE + b"\x21\x11\x00\x0c"],
                         ids=["v1", "v2"])
def test_a_partial_header_is_closed_after_timeout_client(sluice_bin, tmp_path, partial):
    waited, lines = timeout_refusal(tmp_path, sluice_bin, partial)
    assert 0.8 <= waited < DEADLINE, waited
    assert len(lines) == 1 and lines[0].endswith(
        "fe/1: Timeout while waiting for PROXY protocol header"), lines


# ---------------------------------------------------------------------------------------------
# send-proxy and send-proxy-v2
# ---------------------------------------------------------------------------------------------

def expected_header(version, src, sport, dst, dport):
    if version == 1:
        return f"PROXY TCP4 {src} {dst} {sport} {dport}\r\n".encode()
    return v2_tcp4(src, dst, sport, dport)


@pytest.mark.parametrize("mode", ["http", "tcp"])
@pytest.mark.parametrize("version", [1, 2])
def test_send_proxy_gives_the_server_the_client_addresses(sluice_bin, tmp_path, mode, version):
    server = ProxyHeaderServer(mode)
    port = free_port()
    option = "send-proxy" if version == 1 else "send-proxy-v2"
    cfg = write_cfg(tmp_path, head(mode) + [
        "frontend fe", f"    bind 127.0.0.1:{port}", "    default_backend be",
        "backend be", f"    server s1 127.0.0.1:{server.port} {option}"])
    try:
        with sluice_serving(sluice_bin, cfg, port):
            with RawClient(port) as c:
                client_port = c.sock.getsockname()[1]
                if mode == "http":
                    c.send(REQUEST)
                    r = c.response()
                    assert r.status == 200, r
                    answer = r.body
                else:
                    c.send(b"ping")
                    c.sock.shutdown(socket.SHUT_WR)
                    answer = c.rest()
        expected = expected_header(version, "127.0.0.1", client_port, "127.0.0.1", port)
        # In mode tcp the readiness probe's connection reached the server too.
        assert expected in server.headers, (server.headers, server.errors)
        lines = answer.split(b"\n")
        tag = f"v{version} " + ("PROXY " if version == 2 else "")
        assert lines[0] == f"{tag}TCP4 127.0.0.1:{client_port} 127.0.0.1:{port}".encode()
        assert lines[1] == expected.hex().encode()
        if mode == "tcp":
            assert lines[2:] == [b"ping"]
    finally:
        server.close()


@pytest.mark.parametrize("mode", ["http", "tcp"])
@pytest.mark.parametrize("version", [1, 2])
def test_accept_proxy_then_send_proxy_passes_the_proxied_addresses(sluice_bin, tmp_path, mode,
                                                                   version):
    server = ProxyHeaderServer(mode)
    port = free_port()
    option = "send-proxy" if version == 1 else "send-proxy-v2"
    cfg = write_cfg(tmp_path, head(mode) + [
        "frontend fe", f"    bind 127.0.0.1:{port} accept-proxy", "    default_backend be",
        "backend be", f"    server s1 127.0.0.1:{server.port} {option}"])
    incoming = v2_tcp4("10.1.2.3", "10.0.0.1", 1234, 8443, tlv(0x04, b"\x00" * 3))
    try:
        with sluice_serving(sluice_bin, cfg, port):
            with RawClient(port) as c:
                if mode == "http":
                    c.send(incoming + REQUEST)
                    assert c.response().status == 200
                else:
                    c.send(incoming + b"ping")
                    c.sock.shutdown(socket.SHUT_WR)
                    # Only what followed the header reached the server.
                    assert c.rest().split(b"\n", 2)[2] == b"ping"
        assert server.headers == [expected_header(version, "10.1.2.3", 1234, "10.0.0.1", 8443)]
    finally:
        server.close()


@pytest.mark.parametrize("version", [1, 2])
def test_send_proxy_from_an_ipv6_client(sluice_bin, tmp_path, version):
    server = ProxyHeaderServer("http")
    ready, port = free_port(), free_port6()
    option = "send-proxy" if version == 1 else "send-proxy-v2"
    cfg = write_cfg(tmp_path, head("http") + [
        "frontend fe", f"    bind 127.0.0.1:{ready}", f"    bind [::1]:{port}",
        "    default_backend be",
        "backend be", f"    server s1 127.0.0.1:{server.port} {option}"])
    try:
        with sluice_serving(sluice_bin, cfg, ready):
            wait_until(lambda: accepts6(port), f"port {port} on ::1")
            with socket.create_connection(("::1", port), timeout=DEADLINE) as c:
                client_port = c.getsockname()[1]
                c.sendall(REQUEST)
                answer = read_all(c)
        assert answer.startswith(b"HTTP/1.1 200 "), answer
        expected = (f"PROXY TCP6 ::1 ::1 {client_port} {port}\r\n".encode() if version == 1
                    else v2_tcp6("::1", "::1", client_port, port))
        assert server.headers == [expected], server.errors
    finally:
        server.close()


@pytest.mark.parametrize("version", [1, 2])
def test_server_connections_with_a_header_serve_only_their_client(sluice_bin, tmp_path,
                                                                   version):
    # A PROXY header names one client: an idle server connection opened for one client
    # must not carry another client's requests (proxy-protocol.txt, section 2).
    server = ProxyHeaderServer("http", keep_alive=True)
    port = free_port()
    option = "send-proxy" if version == 1 else "send-proxy-v2"
    cfg = write_cfg(tmp_path, head("http") + [
        "frontend fe", f"    bind 127.0.0.1:{port}", "    default_backend be",
        "backend be", "    http-reuse always",
        f"    server s1 127.0.0.1:{server.port} {option}"])
    request = b"GET /pp HTTP/1.1\r\nHost: x\r\n\r\n"
    try:
        with sluice_serving(sluice_bin, cfg, port):
            seen = []
            for _ in range(2):  # two clients one after the other, two requests each
                with RawClient(port) as c:
                    client_port = c.sock.getsockname()[1]
                    for _ in range(2):
                        r = c.send(request).response()
                        assert r.status == 200, r
                        seen.append((client_port, r.body.split(b"\n")[0].decode()))
        tag = "v1 " if version == 1 else "v2 PROXY "
        assert seen == [(p, f"{tag}TCP4 127.0.0.1:{p} 127.0.0.1:{port}") for p, _ in seen]
    finally:
        server.close()


@pytest.mark.parametrize("mode", ["http", "tcp"])
def test_send_proxy_v2_chained_into_accept_proxy(sluice_bin, tmp_path, mode):
    # outer (plain bind) -> backend `chain` with send-proxy-v2 -> inner (accept-proxy bind),
    # which answers the addresses it sees: the client's, and the outer bind's.
    outer, inner = free_port(), free_port()
    cfg = write_cfg(tmp_path, head("http") + [
        "frontend outer", f"    mode {mode}", f"    bind 127.0.0.1:{outer}",
        "    default_backend chain",
        "backend chain", f"    mode {mode}", f"    server inner 127.0.0.1:{inner} send-proxy-v2",
        "frontend inner", f"    bind 127.0.0.1:{inner} accept-proxy", f"    {ECHO_ADDRESSES}"])
    with sluice_serving(sluice_bin, cfg, outer):
        wait_until(lambda: accepts(inner), f"inner frontend on port {inner}")
        for _ in range(2):
            with RawClient(outer) as c:
                client_port = c.sock.getsockname()[1]
                c.send(REQUEST)
                r = c.response()
            assert (r.status, r.body.decode()) == (
                200, f"src=127.0.0.1:{client_port} dst=127.0.0.1:{outer}\n")



def free_port6():
    with socket.socket(socket.AF_INET6) as s:
        s.bind(("::1", 0))
        return s.getsockname()[1]


def accepts6(port):
    try:
        with socket.create_connection(("::1", port), timeout=0.2):
            return True
    except OSError:
        return False


def read_all(sock):
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return data
            data += chunk
    except ConnectionResetError:
        return data
