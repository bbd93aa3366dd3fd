"""HTTP/2 to clients (ALPN h2 on TLS binds), HTTP/1.1 to servers, through the real binary:
curl --http2 and the Python `h2` library as clients, origins the tests start. The same
rules serve both protocols. SLUICE_TEST_PROXY=haproxy runs them against HAProxy 2.6."""
import socket
import contextlib
import re
import signal
import ssl
import subprocess
import threading
import time

import pytest

import h2.config
import h2.connection
import h2.events
import h2.errors

from serving import (DEADLINE, UNDER_HAPROXY, HttpOrigin, LogReader, accepts, echo_body,
                     free_port, gated, reply, sluice_serving, wait_until)
from test_health import self_signed


def write_cfg(tmp_path, port, origin_port, pem, extra_frontend=(), extra_global=(),
              tail=()):
    lines = ["global", "    nbthread 1", "    log stdout format raw local0",
             *(f"    {l}" for l in extra_global),
             "defaults", "    mode http", "    timeout connect 1s", "    timeout client 5s",
             "    timeout server 5s", "    log global", "    option httplog",
             "frontend fe", f"    bind 127.0.0.1:{port} ssl crt {pem} alpn h2,http/1.1",
             "    http-request set-header X-Seen-Alpn %[ssl_fc_alpn]",
             "    http-request set-header X-Version %HV",
             "    http-response set-header X-Proxy sluice-test",
             *(f"    {l}" for l in extra_frontend),
             "    default_backend be",
             "backend be", f"    server s1 127.0.0.1:{origin_port}", *tail]
    cfg = tmp_path / "h2.cfg"
    cfg.write_text("\n".join(lines) + "\n")
    return cfg


@contextlib.contextmanager
def h2_proxy(sluice_bin, tmp_path, handler, max_connections=32, **cfg):
    """An origin answering with `handler` and the proxy in front of it on a TLS bind with
    `alpn h2,http/1.1`; yields (proxy process, port, origin)."""
    origin = HttpOrigin("origin", handler, max_connections=max_connections)
    pem = self_signed(tmp_path, "h2.test")
    port = free_port()
    try:
        with sluice_serving(sluice_bin, write_cfg(tmp_path, port, origin.port, pem, **cfg),
                            port) as proc:
            yield proc, port, origin
    finally:
        origin.close()


class H2Client:
    """A Python h2 client connection over TLS (ALPN h2)."""

    def __init__(self, port):
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        context.set_alpn_protocols(["h2"])
        raw = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
        self.sock = context.wrap_socket(raw, server_hostname="h2.test")
        assert self.sock.selected_alpn_protocol() == "h2"
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        self.conn.initiate_connection()
        self.flush()
        self.responses = {}  # stream -> {"headers": …, "body": b"", "ended": bool}
        self.resets = {}
        self.goaway = None

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def request(self, path, method="GET", body=None, headers=()):
        stream = self.conn.get_next_available_stream_id()
        fields = [(":method", method), (":scheme", "https"), (":authority", "h2.test"),
                  (":path", path), *headers]
        self.conn.send_headers(stream, fields, end_stream=body is None)
        self.flush()
        if body is not None:
            self.send_body(stream, body)
        return stream

    def send_body(self, stream, body):
        """The body as the proxy's windows allow, then END_STREAM."""
        while body:
            room = min(self.conn.local_flow_control_window(stream),
                       self.conn.max_outbound_frame_size, len(body))
            if room == 0:
                self.receive_once()
                continue
            self.conn.send_data(stream, body[:room], end_stream=room == len(body))
            body = body[room:]
            self.flush()

    def receive_once(self):
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("closed by the proxy")
        for event in self.conn.receive_data(data):
            self.on_event(event)
        self.flush()

    def pump(self, until, what):
        deadline = time.monotonic() + DEADLINE
        while not until():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            self.receive_once()

    def on_event(self, event):
        if isinstance(event, h2.events.ResponseReceived):
            self.responses[event.stream_id] = {"headers": dict(event.headers), "body": b"",
                                               "ended": False}
        elif isinstance(event, h2.events.DataReceived):
            self.responses[event.stream_id]["body"] += event.data
            self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        elif isinstance(event, h2.events.StreamEnded):
            self.responses[event.stream_id]["ended"] = True
        elif isinstance(event, h2.events.StreamReset):
            self.resets[event.stream_id] = event.error_code
        elif isinstance(event, h2.events.ConnectionTerminated):
            self.goaway = event.error_code

    def response(self, stream):
        self.pump(lambda: stream in self.resets or self.responses.get(stream, {}).get("ended"),
                  f"stream {stream}")
        return self.responses[stream]

    def close(self):
        self.sock.close()


def path_origin(ex):
    """200 naming the path, so each stream's answer can be told apart."""
    return reply(200, ex.request.target.encode())(ex)


def test_curl_http2_get_runs_the_same_rules(sluice_bin, tmp_path):
    with h2_proxy(sluice_bin, tmp_path, path_origin) as (proc, port, origin):
        log = LogReader(proc)
        r = subprocess.run(["curl", "-sk", "--http2", "-D", "-",
                            f"https://127.0.0.1:{port}/index?x=1"],
                           capture_output=True, timeout=DEADLINE, check=True)
        head, body = r.stdout.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/2 200")
        assert b"x-proxy: sluice-test" in head
        assert body == b"/index?x=1"
        [seen] = origin.requests
        assert (seen.method, seen.target, seen.version) == ("GET", "/index?x=1", "HTTP/1.1")
        assert seen.header("host") == [f"127.0.0.1:{port}"]
        assert seen.header("x-seen-alpn") == ["h2"]
        assert seen.header("x-version") == ["HTTP/2.0"]
        # An HTTP/1.1 client of the same bind still gets HTTP/1.1.
        r = subprocess.run(["curl", "-sk", "--http1.1", "-o", "/dev/null", "-w",
                            "%{http_version}", f"https://127.0.0.1:{port}/"],
                           capture_output=True, timeout=DEADLINE, check=True)
        assert r.stdout == b"1.1"
        assert origin.requests[-1].header("x-version") == ["HTTP/1.1"]
        # The log names the client's protocol.
        log.wait_for(rf'"GET https://127\.0\.0\.1:{port}/index\?x=1 HTTP/2\.0"$')
        log.wait_for(r'"GET / HTTP/1\.1"$')


def test_many_concurrent_streams_on_one_connection(sluice_bin, tmp_path):
    with h2_proxy(sluice_bin, tmp_path, path_origin, 64) as (proc, port, origin):
        c = H2Client(port)
        streams = {c.request(f"/s{i}"): f"/s{i}".encode() for i in range(40)}
        for stream, path in streams.items():
            r = c.response(stream)
            assert r["headers"][b":status"] == b"200"
            assert r["headers"][b"x-proxy"] == b"sluice-test"
            assert r["body"] == path
        assert not c.resets
        c.close()


def test_request_bodies_with_and_without_a_length(sluice_bin, tmp_path):
    payload = bytes(range(256)) * 1200  # 300 KiB: past the stream's first window
    with h2_proxy(sluice_bin, tmp_path, echo_body) as (proc, port, origin):
        c = H2Client(port)
        chunked = c.request("/up", "POST", payload)
        assert c.response(chunked)["body"] == payload
        sized = c.request("/up", "POST", b"hello",
                          headers=[("content-length", "5")])
        assert c.response(sized)["body"] == b"hello"
        c.close()
        assert [r.body for r in origin.requests] == [payload, b"hello"]
        assert origin.requests[0].header("transfer-encoding") == ["chunked"]
        assert origin.requests[1].header("content-length") == ["5"]


def test_a_stream_reset_mid_body_leaves_the_others_served(sluice_bin, tmp_path):
    with h2_proxy(sluice_bin, tmp_path, echo_body) as (proc, port, origin):
        c = H2Client(port)
        cut = c.conn.get_next_available_stream_id()
        c.conn.send_headers(cut, [(":method", "POST"), (":scheme", "https"),
                                  (":authority", "h2.test"), (":path", "/cut")])
        c.conn.send_data(cut, b"x" * 1000)
        c.flush()
        wait_until(lambda: any(r.target == "/cut" for r in origin.requests),
                   "the cut request at the origin")
        c.conn.reset_stream(cut, h2.errors.ErrorCodes.CANCEL)
        c.flush()
        after = c.request("/after", "POST", b"still here")
        assert c.response(after)["body"] == b"still here"
        assert c.goaway is None
        c.close()


@pytest.mark.skipif(UNDER_HAPROXY, reason="HAProxy 2.6.12 lets the flood run until "
                    "`timeout client` ends both connections (GOAWAY NO_ERROR after 5 s)")
def test_a_flood_of_resets_is_cut_off_while_other_clients_are_served(sluice_bin, tmp_path):
    """CVE-2023-44487: a client opening and resetting streams at once gets GOAWAY
    ENHANCE_YOUR_CALM at once; a well-behaved client on another connection is served
    meanwhile."""
    with h2_proxy(sluice_bin, tmp_path, path_origin, 64) as (proc, port, origin):
        good = H2Client(port)
        flooder = H2Client(port)
        for _ in range(1000):
            s = flooder.conn.get_next_available_stream_id()
            flooder.conn.send_headers(s, [(":method", "GET"), (":scheme", "https"),
                                          (":authority", "h2.test"), (":path", "/flood")])
            flooder.conn.reset_stream(s, h2.errors.ErrorCodes.CANCEL)
        try:
            flooder.flush()
            flooder.pump(lambda: flooder.goaway is not None, "the GOAWAY")
        except (ConnectionError, OSError):
            pass
        assert flooder.goaway == h2.errors.ErrorCodes.ENHANCE_YOUR_CALM
        stream = good.request("/good")
        assert good.response(stream)["body"] == b"/good"
        good.close()
        flooder.close()


def test_soft_stop_sends_goaway_and_finishes_the_stream_in_flight(sluice_bin, tmp_path):
    """SIGUSR1: the h2 client gets a GOAWAY notice, its stream still completes, then the
    process exits. (nghttp shows the frames; Python h2 stops at a GOAWAY.)"""
    gate = threading.Event()
    try:
        late = gated(gate, reply(200, b"late"))
        with h2_proxy(sluice_bin, tmp_path, late) as (proc, port, origin):
            client = subprocess.Popen(["nghttp", "-v", f"https://127.0.0.1:{port}/slow"],
                                      stdout=subprocess.PIPE, text=True)
            try:
                wait_until(lambda: origin.requests, "the request at the origin")
                proc.send_signal(signal.SIGUSR1)
                wait_until(lambda: not accepts(port), "the soft stop under way")
                gate.set()  # the answer comes only now, after the GOAWAY
                out, _ = client.communicate(timeout=DEADLINE)
            finally:
                if client.poll() is None:
                    client.kill()
            # The first GOAWAY is the RFC 9113 notice (last stream 2^31-1), as HAProxy's.
            goaway = re.search(r"recv GOAWAY frame <length=8, flags=0x00, stream_id=0>\s+"
                               r"\(last_stream_id=2147483647, error_code=NO_ERROR\(0x00\)", out)
            status = re.search(r"recv \(stream_id=13\) :status: 200", out)
            assert goaway and status and goaway.start() < status.start(), out
            # nghttp prints the body before the DATA frame that carried it.
            assert re.search(r"\nlate\[[ .0-9]+\] recv DATA frame <length=4, flags=0x01, "
                             r"stream_id=13>", out), out
            assert proc.wait(timeout=DEADLINE) == 0
    finally:
        gate.set()


def test_tune_h2_settings_reach_the_client(sluice_bin, tmp_path):
    tune = ["tune.h2.max-concurrent-streams 5", "tune.h2.initial-window-size 1000"]
    with h2_proxy(sluice_bin, tmp_path, path_origin, extra_global=tune) as (proc, port, origin):
        c = H2Client(port)
        stream = c.request("/s")
        assert c.response(stream)["body"] == b"/s"
        assert c.conn.remote_settings.max_concurrent_streams == 5
        assert c.conn.remote_settings.initial_window_size == 1000
        c.close()


def test_h2c_with_prior_knowledge_on_a_proto_h2_bind(sluice_bin, tmp_path):
    """`bind … proto h2` on a plain bind: clients speak HTTP/2 from their first byte."""
    plain = free_port()
    with h2_proxy(sluice_bin, tmp_path, path_origin,
                  extra_frontend=[f"bind 127.0.0.1:{plain} proto h2"]) as (proc, port, origin):
        r = subprocess.run(["curl", "-s", "--http2-prior-knowledge", "-o", "-", "-w",
                            " %{http_version}", f"http://127.0.0.1:{plain}/clear"],
                           capture_output=True, timeout=DEADLINE, check=True)
        assert r.stdout == b"/clear 2"
        assert origin.requests[-1].header("x-seen-alpn") == [""]  # no TLS, no ALPN


def test_a_chunked_response_cut_anywhere_arrives_whole(sluice_bin, tmp_path):
    """The server's chunked body comes in pieces that cut a chunk's size line and its CRLF
    in two: the client gets the data, whole, in DATA frames."""
    pieces = [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1", b"0\r\n0123456789",
              b"abcdef\r", b"\n5\r\nhello\r\n0\r", b"\n\r\n"]

    def slow_chunks(ex):
        ex.read_body()
        for piece in pieces:
            ex.send(piece)
            time.sleep(0.05)  # each piece its own read at the proxy
        return False

    with h2_proxy(sluice_bin, tmp_path, slow_chunks) as (proc, port, origin):
        c = H2Client(port)
        stream = c.request("/chunks")
        r = c.response(stream)
        assert r["headers"][b":status"] == b"200"
        assert b"transfer-encoding" not in r["headers"]
        assert r["body"] == b"0123456789abcdefhello"
        c.close()


def test_a_large_response_follows_the_clients_window(sluice_bin, tmp_path):
    """1 MiB down each of two streams whose window is 64 KiB: the proxy sends as the client's
    WINDOW_UPDATEs allow and holds the rest back from the server (bounded queue)."""
    body = bytes(range(256)) * 4096
    with h2_proxy(sluice_bin, tmp_path, reply(200, body)) as (proc, port, origin):
        c = H2Client(port)
        streams = [c.request(f"/big{i}") for i in range(2)]
        for s in streams:
            r = c.response(s)
            assert len(r["body"]) == len(body) and r["body"] == body
        c.close()


def frame(kind, flags, stream, payload):
    """One HTTP/2 frame, for what the h2 library will not send."""
    return (len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big")
            + payload)


def literal(name, value):
    """An HPACK literal field without indexing, new name (RFC 7541 6.2.2), short strings."""
    return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value


def test_a_continuation_flood_ends_that_connection_only(sluice_bin, tmp_path):
    """A header block that never ends (HEADERS, then CONTINUATION after CONTINUATION) is
    cut off with a GOAWAY once past the header list limit; another client is served."""
    with h2_proxy(sluice_bin, tmp_path, path_origin) as (proc, port, origin):
        good = H2Client(port)
        flooder = H2Client(port)  # its h2 state is not used past the preface
        flooder.sock.sendall(frame(1, 0, 1, b"\x82\x87\x84" + literal(b":authority", b"x")))
        goaway = None
        try:
            for _ in range(400):
                flooder.sock.sendall(frame(9, 0, 1, literal(b"x-flood", b"a" * 100) * 8))
        except OSError:
            pass  # the proxy stopped reading: the GOAWAY is in our buffer
        data = b""
        flooder.sock.settimeout(DEADLINE)
        try:
            while chunk := flooder.sock.recv(65536):
                data += chunk
        except OSError:
            pass
        at = 0
        while at + 9 <= len(data):
            length, kind = int.from_bytes(data[at:at + 3], "big"), data[at + 3]
            if kind == 7:  # GOAWAY
                goaway = int.from_bytes(data[at + 13:at + 17], "big")
            at += 9 + length
        assert goaway is not None and goaway != 0, data[:200]
        stream = good.request("/good")
        assert good.response(stream)["body"] == b"/good"
        good.close()
        flooder.close()


def test_redirects_and_use_backend_route_h2_requests(sluice_bin, tmp_path):
    """ACLs on the path pick a redirect or another backend for HTTP/2 requests as for
    HTTP/1.1 ones."""
    other = HttpOrigin("other")
    try:
        routing = ["http-request redirect location /moved code 301 if { path /old }",
                   "use_backend two if { path_beg /two }"]
        tail = ["backend two", f"    server s2 127.0.0.1:{other.port}"]
        with h2_proxy(sluice_bin, tmp_path, path_origin, extra_frontend=routing,
                      tail=tail) as (proc, port, origin):
            c = H2Client(port)
            moved, two, one = c.request("/old"), c.request("/two/x"), c.request("/one")
            r = c.response(moved)
            assert (r["headers"][b":status"], r["headers"][b"location"]) == (b"301", b"/moved")
            assert c.response(two)["body"] == b"other"
            assert c.response(one)["body"] == b"/one"
            c.close()
            assert [r.target for r in origin.requests] == ["/one"]
    finally:
        other.close()
