"""Health checks through the real binary: TCP connect checks with inter/rise/fall, servers
leaving and rejoining the balancing, backups, all servers down, and the log lines in
HAProxy's words (stdout log target and stderr). SLUICE_TEST_PROXY=haproxy runs them against
HAProxy 2.6, the reference."""
import re
import socket
import ssl
import subprocess
import time

from serving import (DEADLINE, HttpOrigin, LogReader, free_port, listening_socket, raw, reply,
                     serve_in_threads, sluice_serving, stall, wait_until)

DOWN = (r"Server be/{} is DOWN, reason: Layer4 connection problem, info: \"Connection "
        r"refused\", check duration: \d+ms\. {} active and {} backup servers left\.{} 0 "
        r"sessions active, 0 requeued, 0 remaining in queue\.")
UP = (r"Server be/{} is UP, reason: Layer4 check passed, check duration: \d+ms\. {} active "
      r"and {} backup servers online\. 0 sessions requeued, 0 total in queue\.")


def closed_port():
    """A loopback port that refuses connections (bound, never listening)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock, sock.getsockname()[1]


def get(port):
    with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as c:
        c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := c.recv(65536):
            data += chunk
    status = int(data.split(b" ", 2)[1])
    return status, data.split(b"\r\n\r\n", 1)[1]


def _cfg(tmp_path, port, servers, backend=()):
    lines = ["global", "    nbthread 1", "    log stdout format raw local0",
             "defaults", "    mode http", "    log global", "    timeout connect 1s",
             "    timeout client 5s", "    timeout server 5s",
             "frontend fe", f"    bind 127.0.0.1:{port}", "    default_backend be",
             "backend be", *(f"    {l}" for l in backend),
             *(f"    server {line}" for line in servers)]
    cfg = tmp_path / "health.cfg"
    cfg.write_text("\n".join(lines) + "\n")
    return cfg


def test_unreachable_server_is_down_at_its_first_check(sluice_bin, tmp_path):
    """A server starts UP but falls at its first failed check (HAProxy); from then on it
    gets no request, and no request fails."""
    live = HttpOrigin("live")
    holder, dead = closed_port()
    port = free_port()
    cfg = _cfg(tmp_path, port, [f"s1 127.0.0.1:{dead} check inter 200 fall 3",
                                f"s2 127.0.0.1:{live.port} check inter 200"])
    try:
        with sluice_serving(sluice_bin, cfg, port) as proc:
            log = LogReader(proc)
            log.wait_for(DOWN.format("s1", 1, 0, ""))
            for _ in range(10):
                assert get(port) == (200, b"live")
    finally:
        live.close()
        holder.close()


def test_stopped_origin_leaves_and_comes_back(sluice_bin, tmp_path):
    """fall 2 / rise 2 at inter 200 ms: a stopped origin is DOWN within fall x inter and
    gets no request after; started again on its port it is UP after rise checks."""
    a = HttpOrigin("a")
    b = HttpOrigin("b")
    b_port = b.port
    port = free_port()
    cfg = _cfg(tmp_path, port, [f"a 127.0.0.1:{a.port} check inter 200 fall 2 rise 2",
                                f"b 127.0.0.1:{b_port} check inter 200 fall 2 rise 2"])
    try:
        with sluice_serving(sluice_bin, cfg, port) as proc:
            log = LogReader(proc)
            wait_until(lambda: {get(port)[1] for _ in range(4)} == {b"a", b"b"}, "both serve")
            b.close()
            stopped = time.monotonic()
            log.wait_for(DOWN.format("b", 1, 0, ""))
            assert time.monotonic() - stopped < 2 * 0.2 + 1.0
            for _ in range(10):
                assert get(port) == (200, b"a")
            b = HttpOrigin("b", port=b_port)
            log.wait_for(UP.format("b", 2, 0))
            wait_until(lambda: b"b" in {get(port)[1] for _ in range(4)}, "b serves again")
    finally:
        a.close()
        b.close()


def test_backup_only_when_no_primary_and_then_503(sluice_bin, tmp_path):
    backup = HttpOrigin("backup")
    primary = HttpOrigin("primary")
    port = free_port()
    cfg = _cfg(tmp_path, port, [f"p 127.0.0.1:{primary.port} check inter 200 fall 1",
                                f"bk 127.0.0.1:{backup.port} check inter 200 fall 1 backup"])
    try:
        with sluice_serving(sluice_bin, cfg, port) as proc:
            log = LogReader(proc)
            for _ in range(4):
                assert get(port) == (200, b"primary")
            primary.close()
            log.wait_for(DOWN.format("p", 0, 1, " Running on backup."))
            for _ in range(4):
                assert get(port) == (200, b"backup")
            backup.close()
            log.wait_for(r"Backup " + DOWN.format("bk", 0, 0, ""))
            log.wait_for(r"^backend be has no server available!$")
            assert get(port)[0] == 503
        assert re.search(r"\[ALERT\] +\(\d+\) : backend 'be' has no server available!",
                         proc.stderr.read())
    finally:
        primary.close()
        backup.close()


def health_route(check_handler, traffic_handler):
    """An origin handler: `check_handler` for the check's URI (/health), the other for the
    rest."""
    def handler(ex):
        return (check_handler if ex.request.target == "/health" else traffic_handler)(ex)
    return handler


def test_httpchk_wrong_status_keeps_a_reachable_server_out(sluice_bin, tmp_path):
    """An origin answering 500 on the check URI gets no client traffic although it is
    reachable; `http-check expect status 200`."""
    sick = HttpOrigin("sick", health_route(reply(500, b"no"), reply()))
    well = HttpOrigin("well", health_route(reply(200, b"ok"), reply()))
    port = free_port()
    cfg = _cfg(tmp_path, port, [f"sick 127.0.0.1:{sick.port} check inter 200 fall 1",
                                f"well 127.0.0.1:{well.port} check inter 200 fall 1"],
               backend=["option httpchk GET /health", "http-check expect status 200"])
    try:
        with sluice_serving(sluice_bin, cfg, port) as proc:
            log = LogReader(proc)
            log.wait_for(r"Server be/sick is DOWN, reason: Layer7 wrong status, code: 500, "
                         r"info: \"Whatever\", check duration: \d+ms\. 1 active and 0 backup "
                         r"servers left\.")
            for _ in range(10):
                assert get(port) == (200, b"well")
            checks = [r for r in sick.requests if r.target == "/health"]
            assert checks and checks[0].method == "GET" and checks[0].version == "HTTP/1.0"
    finally:
        sick.close()
        well.close()


def _expect_alive_cfg(tmp_path, port, origins, timeout_check, check_lines):
    """A backend per origin (name -> origin), each checked with `check_lines` and
    `http-check expect string alive`, every 500 ms, down at the first failure."""
    lines = ["global", "    log stdout format raw local0",
             "defaults", "    mode http", "    log global", "    timeout connect 1s",
             "    timeout client 5s", "    timeout server 5s", f"    timeout check {timeout_check}",
             "frontend fe", f"    bind 127.0.0.1:{port}",
             f"    default_backend {next(iter(origins))}"]
    for name, origin in origins.items():
        lines += [f"backend {name}", *(f"    {l}" for l in check_lines),
                  "    http-check expect string alive",
                  f"    server x 127.0.0.1:{origin.port} check inter 500 fall 1"]
    cfg = tmp_path / "health.cfg"
    cfg.write_text("\n".join(lines) + "\n")
    return cfg


def test_httpchk_bad_answers_have_precise_reasons(sluice_bin, tmp_path):
    """Garbage, a body that does not match `expect string`, and silence past `timeout check`
    each mark the check failed with HAProxy's reason."""
    garbage = HttpOrigin("garbage", raw(b"garbage\r\n\r\n"))
    dead = HttpOrigin("dead", reply(200, b"dead"))
    silent = HttpOrigin("silent", stall)
    port = free_port()
    cfg = _expect_alive_cfg(tmp_path, port, {"g": garbage, "d": dead, "s": silent}, "300ms",
                            ["option httpchk GET / HTTP/1.1",
                             "http-check send hdr Host example.com"])
    try:
        with sluice_serving(sluice_bin, cfg, port) as proc:
            log = LogReader(proc)
            log.wait_for(r"Server g/x is DOWN, reason: Layer7 invalid response, check "
                         r"duration: \d+ms\.")
            log.wait_for(r"Server d/x is DOWN, reason: Layer7 invalid response, info: \"HTTP "
                         r"content check did not match\", check duration: \d+ms\.")
            log.wait_for(r"Server s/x is DOWN, reason: Layer7 timeout, check duration: "
                         r"(29\d|3\d\d)ms\.")
        request = dead.requests[0]
        assert (request.method, request.target, request.version) == ("GET", "/", "HTTP/1.1")
        assert request.headers == [("host", "example.com"), ("connection", "close")]
    finally:
        garbage.close()
        dead.close()
        silent.close()


def test_ssl_hello_chk_tells_tls_servers_from_plain_ones(sluice_bin, tmp_path):
    """option ssl-hello-chk: a TLS server answers the ClientHello (UP); a plain HTTP one
    does not (DOWN, "Layer6 invalid response"); traffic only reaches the TLS one."""
    pem = tmp_path / "srv.pem"
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", pem, "-out", pem,
                        "-days", "2", "-subj", "/CN=check.test"], capture_output=True,
                       timeout=DEADLINE, check=False)
    assert r.returncode == 0, r.stderr
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pem)
    tls_sock = listening_socket(16)
    handshakes = []

    def serve_tls(conn):
        with conn:
            conn.settimeout(DEADLINE)
            try:
                with context.wrap_socket(conn, server_side=True) as t:
                    handshakes.append(t.version())
                    t.sendall(b"tls-server")
            except (ssl.SSLError, OSError):
                pass  # the checks' hellos end this way

    serve_in_threads(tls_sock, serve_tls)
    plain_sock = listening_socket(16)
    plain_checks = []

    def serve_plain(conn):  # an HTTP server refusing the hello as a bad request
        with conn:
            conn.settimeout(DEADLINE)
            try:
                plain_checks.append(conn.recv(4096))
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            except OSError:
                pass

    serve_in_threads(plain_sock, serve_plain)
    port = free_port()
    lines = ["global", "    log stdout format raw local0",
             "defaults", "    mode tcp", "    log global", "    timeout connect 1s",
             "    timeout client 5s", "    timeout server 5s",
             "frontend fe", f"    bind 127.0.0.1:{port}", "    default_backend be",
             "backend be", "    option ssl-hello-chk",
             f"    server tls 127.0.0.1:{tls_sock.getsockname()[1]} check inter 200 fall 1",
             f"    server plain 127.0.0.1:{plain_sock.getsockname()[1]} check inter 200 fall 1"]
    cfg = tmp_path / "health.cfg"
    cfg.write_text("\n".join(lines) + "\n")
    client = ssl.create_default_context()
    client.check_hostname = False
    client.verify_mode = ssl.CERT_NONE
    try:
        with sluice_serving(sluice_bin, cfg, port) as proc:
            log = LogReader(proc)
            log.wait_for(r"Server be/plain is DOWN, reason: Layer6 invalid response, check "
                         r"duration: \d+ms\. 1 active and 0 backup servers left\.")
            for _ in range(4):
                with client.wrap_socket(socket.create_connection(("127.0.0.1", port),
                                                                 timeout=DEADLINE)) as c:
                    assert c.recv(64) == b"tls-server"
            # The plain server saw TLS records (the checks' hellos), never the traffic.
            assert plain_checks and all(c.startswith(b"\x16\x03") for c in plain_checks)
            assert not [l for l in log.lines if "be/tls" in l and "DOWN" in l]
    finally:
        tls_sock.close()
        plain_sock.close()


def test_log_health_checks_reports_each_step(sluice_bin, tmp_path):
    """option log-health-checks: every check that moves the health is logged with its
    status N/M, and the server's own line drops the reason."""
    answers = iter([200, 503, 503] + [200] * 1000)
    origin = HttpOrigin("o", lambda ex: reply(next(answers))(ex) and False)
    port = free_port()
    cfg = _cfg(tmp_path, port, [f"s1 127.0.0.1:{origin.port} check inter 200 fall 2 rise 2"],
               backend=["option log-health-checks", "option httpchk"])
    try:
        with sluice_serving(sluice_bin, cfg, port) as proc:
            log = LogReader(proc)
            log.wait_for(r"^Health check for server be/s1 failed, reason: Layer7 wrong status, "
                         r"code: 503, info: \"Whatever\", check duration: \d+ms, status: 1/2 UP\.$")
            log.wait_for(r"^Health check for server be/s1 failed, .*, status: 0/2 DOWN\.$")
            log.wait_for(r"^Server be/s1 is DOWN\. 0 active and 0 backup servers left\. 0 "
                         r"sessions active, 0 requeued, 0 remaining in queue\.$")
            log.wait_for(r"^Health check for server be/s1 succeeded, reason: Layer7 check "
                         r"passed, code: 200, check duration: \d+ms, status: 1/2 DOWN\.$")
            log.wait_for(r"^Server be/s1 is UP\. 1 active and 0 backup servers online\.")
            # Fully UP at the first check, and again now; steady, checks change nothing and
            # are not logged.
            served = len(origin.requests)
            wait_until(lambda: len(origin.requests) >= served + 3, "three more checks")
            ups = [l for l in log.lines if "status: 2/2 UP" in l]
            assert len(ups) == 2, log.lines
    finally:
        origin.close()


def self_signed(tmp_path, name="check.test"):
    pem = tmp_path / f"{name}.pem"
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", pem, "-out", pem,
                        "-days", "2", "-subj", f"/CN={name}", "-addext",
                        f"subjectAltName=DNS:{name}"], capture_output=True, timeout=DEADLINE,
                       check=False)
    assert r.returncode == 0, r.stderr
    return pem


def tls_http_server(pem, names):
    """An HTTPS origin answering 200 "ok" to anything; records the SNI of each handshake."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pem)
    context.sni_callback = lambda _s, name, _c: names.append(name)
    sock = listening_socket(16)

    def serve(conn):
        with conn:
            conn.settimeout(DEADLINE)
            try:
                with context.wrap_socket(conn, server_side=True) as t:
                    t.recv(4096)
                    t.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
            except (ssl.SSLError, OSError):
                pass

    serve_in_threads(sock, serve)
    return sock


def test_checks_of_ssl_servers_go_over_tls(sluice_bin, tmp_path):
    """An `ssl` server is checked over TLS (its httpchk inside); a plain server under `ssl`
    and an untrusted certificate fail with "Layer6 invalid response", info "SSL handshake
    failure"; `check-ssl check-sni` checks TLS on another port with that name."""
    pem = self_signed(tmp_path)
    names = []
    secure = tls_http_server(pem, names)
    other = self_signed(tmp_path, "other.test")
    plain_sock = listening_socket(16)
    serve_in_threads(plain_sock, lambda c: c.close())
    port = free_port()
    sp, pp = secure.getsockname()[1], plain_sock.getsockname()[1]
    cfg = _cfg(tmp_path, port, [
        f"good 127.0.0.1:{sp} ssl verify required ca-file {pem} check inter 200 fall 1",
        f"plain 127.0.0.1:{pp} ssl verify none check inter 200 fall 1",
        f"untrusted 127.0.0.1:{sp} ssl verify required ca-file {other} check inter 200 fall 1",
        f"viaport 127.0.0.1:{pp} check check-ssl verify none check-sni check.test port {sp} "
        "inter 200 fall 1"], backend=["option httpchk GET /"])
    try:
        with sluice_serving(sluice_bin, cfg, port) as proc:
            log = LogReader(proc)
            for name in ("plain", "untrusted"):
                log.wait_for(rf"Server be/{name} is DOWN, reason: Layer6 invalid response, "
                             r"info: \"SSL handshake failure\", check duration: \d+ms\.")
            wait_until(lambda: "check.test" in names, "a check with SNI check.test")
            # A few more rounds of checks of good and viaport (each a handshake here).
            seen = len(names)
            wait_until(lambda: len(names) >= seen + 6, "three more rounds of checks")
            assert not [l for l in log.lines if ("be/good " in l or "be/viaport " in l)
                        and "DOWN" in l], log.lines
    finally:
        secure.close()
        plain_sock.close()


def test_no_request_fails_while_a_stopped_server_is_not_yet_down(sluice_bin, tmp_path):
    """Between an origin stopping and its check saying so (fall 3 x inter 500 ms), a request
    it refuses is retried on the other server (`option redispatch`): none fails."""
    a = HttpOrigin("a")
    b = HttpOrigin("b")
    port = free_port()
    cfg = _cfg(tmp_path, port, [f"a 127.0.0.1:{a.port} check inter 500 fall 3",
                                f"b 127.0.0.1:{b.port} check inter 500 fall 3"],
               backend=["option redispatch", "retries 2", "option log-health-checks"])
    try:
        with sluice_serving(sluice_bin, cfg, port) as proc:
            log = LogReader(proc)
            # b fully UP (a check passed): it now takes three failed checks to fall.
            log.wait_for(r"Health check for server be/b succeeded, .*status: 3/3 UP\.")
            wait_until(lambda: {get(port)[1] for _ in range(4)} == {b"a", b"b"}, "both serve")
            b.close()
            stopped = time.monotonic()
            answers = []
            while not [l for l in log.lines if "Server be/b is DOWN" in l]:
                answers.append(get(port))
                assert len(answers) < 10000
            assert time.monotonic() - stopped > 0.5  # the window was there
            assert answers and set(answers) == {(200, b"a")}
    finally:
        a.close()
        b.close()


def test_httpchk_truncated_and_oversized_answers(sluice_bin, tmp_path):
    """A status line cut short by a close is "Layer7 invalid response"; an answer past the
    16 KiB a check reads, its pattern beyond that and the connection left open, is judged on
    what was read at once ("HTTP content check did not match"), neither waited for to the
    timeout nor read further."""
    def oversized(ex):
        ex.read_body()
        ex.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100005\r\n\r\n" + b"a" * 100000 + b"alive")
        while ex.reader.some():
            pass
        return False

    truncated = HttpOrigin("truncated", raw(b"HTTP/1.1 2"))
    big = HttpOrigin("big", oversized)
    port = free_port()
    cfg = _expect_alive_cfg(tmp_path, port, {"t": truncated, "b": big}, "3s",
                            ["option httpchk GET /"])
    try:
        with sluice_serving(sluice_bin, cfg, port) as proc:
            log = LogReader(proc)
            log.wait_for(r"Server t/x is DOWN, reason: Layer7 invalid response, check "
                         r"duration: \d+ms\.")
            line = log.wait_for(r"Server b/x is DOWN, reason: Layer7 invalid response, info: "
                                r"\"HTTP content check did not match\", check duration: \d+ms\.")
            assert int(line.split("check duration: ")[1].split("ms")[0]) < 2000, line
    finally:
        truncated.close()
        big.close()
