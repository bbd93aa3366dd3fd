"""`option tcp-check` scripts through the real binary, against origins the tests start that
speak small line protocols (a Redis-like PING/info, a POP-like banner). Every verdict is
checked in HAProxy's words; SLUICE_TEST_PROXY=haproxy runs them against HAProxy 2.6."""
import socket
import ssl
import struct
import threading
import time

from serving import (DEADLINE, LogReader, free_port, listening_socket, serve_in_threads,
                     sluice_serving)
from test_health import closed_port, self_signed


class LineOrigin:
    """A TCP origin: `answer(line)` gives the reply to each line received (None: say
    nothing). `banner` is sent on accept. Records every byte received; a line `traffic`
    is answered `served-by-NAME` so tests see where client traffic went."""

    def __init__(self, name, answers=None, banner=b""):
        self.name = name
        self.answers = answers or {}
        self.banner = banner
        self.received = []
        self.sock = listening_socket(64)
        self.port = self.sock.getsockname()[1]
        serve_in_threads(self.sock, self._serve)

    def _serve(self, conn):
        with conn:
            conn.settimeout(DEADLINE)
            try:
                if self.banner:
                    conn.sendall(self.banner)
                data = b""
                while chunk := conn.recv(4096):
                    self.received.append(chunk)
                    data += chunk
                    while b"\n" in data:
                        line, data = data.split(b"\n", 1)
                        line = line.rstrip(b"\r")
                        if line == b"traffic":
                            conn.sendall(b"served-by-" + self.name.encode() + b"\n")
                        elif (answer := self.answers.get(line)) is not None:
                            conn.sendall(answer)
            except OSError:
                pass

    def close(self):
        self.sock.close()


def one_shot_origin(serve):
    """An origin whose every connection is `serve(conn)`."""
    sock = listening_socket(64)
    serve_in_threads(sock, serve)
    return sock, sock.getsockname()[1]


def traffic(port):
    with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as c:
        c.sendall(b"traffic\n")
        return c.recv(100)


def _cfg(tmp_path, port, backends, defaults=()):
    """mode tcp, every check logged (log-health-checks) on stdout; `backends`: name ->
    lines; the frontend uses the first."""
    lines = ["global", "    log stdout format raw local0",
             "defaults", "    mode tcp", "    log global", "    timeout connect 1s",
             "    timeout client 5s", "    timeout server 5s", "    timeout check 500ms",
             "    option log-health-checks", *(f"    {l}" for l in defaults),
             "frontend fe", f"    bind 127.0.0.1:{port}",
             f"    default_backend {next(iter(backends))}"]
    for name, body in backends.items():
        lines += [f"backend {name}", *(f"    {l}" for l in body)]
    cfg = tmp_path / "tcp-check.cfg"
    cfg.write_text("\n".join(lines) + "\n")
    return cfg


FAILED = r"^Health check for server {} failed, reason: {}, info: \"{}\", check duration: \d+ms"
PASSED = (r"^Health check for server {} succeeded, reason: {}, info: \"\(tcp-check\)\", "
          r"check duration: \d+ms, status: 2/2 UP\.$")
REDIS = ["option tcp-check",
         r"tcp-check comment PING\ phase",
         r"tcp-check send PING\r\n",
         "tcp-check expect string +PONG",
         r"tcp-check comment role\ check",
         r"tcp-check send info\ replication\r\n",
         "tcp-check expect string role:master",
         r"tcp-check send QUIT\r\n"]


def test_redis_script_finds_the_master_and_keeps_traffic_on_it(sluice_bin, tmp_path):
    """HAProxy's Redis example: the master passes ("Layer7 check passed, code: 0"); the
    replica's answer never holds role:master, so its check waits until `timeout check`:
    DOWN with the step and its comment. Only the master gets client connections."""
    master = LineOrigin("master", {b"PING": b"+PONG\r\n",
                                   b"info replication": b"# Replication\r\nrole:master\r\n"})
    replica = LineOrigin("replica", {b"PING": b"+PONG\r\n",
                                     b"info replication": b"role:slave\r\n"})
    port = free_port()
    cfg = _cfg(tmp_path, port, {"redis": REDIS + [
        f"server master 127.0.0.1:{master.port} check inter 300 fall 2",
        f"server replica 127.0.0.1:{replica.port} check inter 300 fall 2"]})
    try:
        with sluice_serving(sluice_bin, cfg, port) as proc:
            log = LogReader(proc)
            log.wait_for(r"^Health check for server redis/master succeeded, reason: Layer7 "
                         r"check passed, code: 0, info: \"\(tcp-check\)\", check duration: "
                         r"\d+ms, status: 2/2 UP\.$")
            log.wait_for(FAILED.format("redis/replica", "Layer7 timeout",
                                       r" at step 6 of tcp-check \(expect string "
                                       r"'role:master'\)")
                         + r", status: 0/2 DOWN\.$")
            log.wait_for(r"^Server redis/replica is DOWN\. 1 active and 0 backup servers left\.")
            for _ in range(6):
                assert traffic(port) == b"served-by-master\n"
            assert b"".join(master.received).startswith(
                b"PING\r\ninfo replication\r\nQUIT\r\n")
    finally:
        master.close()
        replica.close()


def test_banner_checks_fail_with_precise_reasons(sluice_bin, tmp_path):
    """Each bad answer to `expect string +OK` has HAProxy's reason and info: other bytes
    then a close, a close without a byte, silence, a refused connection, a reset; and a
    negated match that finds its pattern."""
    def garbage(conn):
        with conn:
            conn.sendall(b"\x00\x01-ERR busy\r\n")

    def silent(conn):
        with conn:
            conn.settimeout(DEADLINE)
            try:
                conn.recv(1)  # until sluice gives up and closes
            except OSError:
                pass

    def reset(conn):
        time.sleep(0.05)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()

    good = LineOrigin("good", banner=b"+OK POP3 ready\r\n")
    g_sock, g_port = one_shot_origin(garbage)
    e_sock, e_port = one_shot_origin(lambda conn: conn.close())
    s_sock, s_port = one_shot_origin(silent)
    r_sock, r_port = one_shot_origin(reset)
    holder, refused = closed_port()
    port = free_port()
    banner = ["option tcp-check", r"tcp-check expect string +OK\ POP3 comment pop\ banner"]
    cfg = _cfg(tmp_path, port, {
        "pop": banner + [f"server {name} 127.0.0.1:{p} check inter 300 fall 2"
                         for name, p in (("good", good.port), ("garbage", g_port),
                                         ("empty", e_port), ("silent", s_port),
                                         ("reset", r_port), ("refused", refused))],
        "neg": ["option tcp-check", "tcp-check expect ! string +OK",
                f"server good 127.0.0.1:{good.port} check inter 300 fall 2"]})
    try:
        with sluice_serving(sluice_bin, cfg, port) as proc:
            log = LogReader(proc)
            log.wait_for(PASSED.format("pop/good", "Layer7 check passed, code: 0"))
            invalid = "Layer7 invalid response"
            for server, reason, info in (
                    ("garbage", invalid,
                     r"TCPCHK did not match content '\+OK POP3' at step 1 comment: pop banner"),
                    ("empty", invalid, r"TCPCHK got an empty response at step 1 comment: "
                                       r"'pop banner'"),
                    ("silent", "Layer7 timeout", r" at step 1 of tcp-check \(expect string "
                                                 r"'\+OK POP3'\) comment: 'pop banner'"),
                    ("reset", "Socket error", r"Connection reset by peer at step 1 of "
                                              r"tcp-check \(expect string '\+OK POP3'\) "
                                              r"comment: 'pop banner'"),
                    ("refused", "Layer4 connection problem",
                     "Connection refused at initial connection step of tcp-check"),
                    ):
                log.wait_for(FAILED.format(f"pop/{server}", reason, info))
            log.wait_for(FAILED.format("neg/good", invalid,
                                       r"TCPCHK matched unwanted content '\+OK' at step 1"))
            silent_line = log.wait_for(r"server pop/silent failed")
            duration = int(silent_line.split("check duration: ")[1].split("ms")[0])
            assert 480 <= duration < 1500, silent_line
            assert not [l for l in log.lines if "pop/good" in l and "failed" in l], log.lines
    finally:
        good.close()
        for sock in (g_sock, e_sock, s_sock, r_sock, holder):
            sock.close()


def test_binary_rules_and_a_second_connection(sluice_bin, tmp_path):
    """send-binary and expect binary/rbinary (over the upper-case hex of the answer); a
    second `connect port` after the first exchange, whose failure names its step."""
    first = LineOrigin("first", {b"PING": b"+PONG\r\n"})
    second = LineOrigin("second", banner=b"* OK IMAP4 ready\r\n")
    holder, refused = closed_port()
    port = free_port()
    script = ["option tcp-check",
              "tcp-check connect",
              "tcp-check send-binary 50494e470d0a",
              "tcp-check expect binary 2b504f4e47",
              "tcp-check expect rbinary ^2B50",
              "tcp-check connect port {} comment imap\\ port",
              r"tcp-check expect string *\ OK\ IMAP4"]
    script_ok = [l.format(second.port) for l in script]
    script_bad = [l.format(refused) for l in script]
    cfg = _cfg(tmp_path, port, {
        "ok": script_ok + [f"server s 127.0.0.1:{first.port} check inter 300 fall 2"],
        "bad": script_bad + [f"server s 127.0.0.1:{first.port} check inter 300 fall 2"]})
    try:
        with sluice_serving(sluice_bin, cfg, port) as proc:
            log = LogReader(proc)
            log.wait_for(PASSED.format("ok/s", "Layer7 check passed, code: 0"))
            log.wait_for(FAILED.format("bad/s", "Layer4 connection problem",
                                       rf"Connection refused at step 5 of tcp-check \(connect "
                                       rf"port {refused}\) comment: 'imap port'"))
            assert b"PING\r\n" in first.received
    finally:
        first.close()
        second.close()
        holder.close()


def test_connect_ssl_speaks_tls_to_the_server(sluice_bin, tmp_path):
    """`tcp-check connect port N ssl`: a TLS origin passes ("Layer6 check passed" for a
    connect-only script), then answers a request sent over TLS; a plain origin on that
    step fails with "SSL handshake failure at step 1"."""
    pem = self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pem)
    requests = []

    def serve_tls(conn):
        with conn:
            conn.settimeout(DEADLINE)
            try:
                with context.wrap_socket(conn, server_side=True) as t:
                    if (data := t.recv(100)):
                        requests.append(data)
                        t.sendall(b"+PONG\r\n")
            except (ssl.SSLError, OSError):
                pass

    tls_sock, tls_port = one_shot_origin(serve_tls)
    plain = LineOrigin("plain", banner=b"hello\r\n")
    holder, refused = closed_port()
    port = free_port()
    cfg = _cfg(tmp_path, port, {
        "hello": ["option tcp-check", f"tcp-check connect port {tls_port} ssl",
                  f"server s 127.0.0.1:{refused} check inter 300 fall 2 verify none"],
        "ping": ["option tcp-check", f"tcp-check connect port {tls_port} ssl sni check.test",
                 r"tcp-check send PING\r\n", "tcp-check expect string +PONG",
                 f"server s 127.0.0.1:{refused} check inter 300 fall 2 verify none"],
        "plain": ["option tcp-check", f"tcp-check connect port {plain.port} ssl",
                  f"server s 127.0.0.1:{refused} check inter 300 fall 2 verify none"]})
    try:
        with sluice_serving(sluice_bin, cfg, port) as proc:
            log = LogReader(proc)
            log.wait_for(PASSED.format("hello/s", "Layer6 check passed"))
            log.wait_for(PASSED.format("ping/s", "Layer7 check passed, code: 0"))
            log.wait_for(FAILED.format("plain/s", "Layer6 invalid response",
                                       rf"SSL handshake failure at step 1 of tcp-check "
                                       rf"\(connect port {plain.port}\)"))
            assert b"PING\r\n" in requests
    finally:
        tls_sock.close()
        plain.close()
        holder.close()


def test_defaults_script_is_inherited_unless_a_backend_has_its_own(sluice_bin, tmp_path):
    """tcp-check rules of a defaults section serve every backend without rules of its own;
    a backend's own rules replace them whole. A backend whose last check option is httpchk
    ignores them."""
    redis = LineOrigin("redis", {b"PING": b"+PONG\r\n"})
    port = free_port()
    cfg = _cfg(tmp_path, port, {
        "inherits": [f"server s 127.0.0.1:{redis.port} check inter 300 fall 2"],
        "own": ["tcp-check expect string nothing-comes",
                f"server s 127.0.0.1:{redis.port} check inter 300 fall 2"]},
        defaults=["option tcp-check", r"tcp-check send PING\r\n",
                  "tcp-check expect string +PONG"])
    try:
        with sluice_serving(sluice_bin, cfg, port) as proc:
            log = LogReader(proc)
            log.wait_for(PASSED.format("inherits/s", "Layer7 check passed, code: 0"))
            log.wait_for(FAILED.format("own/s", "Layer7 timeout",
                                       r" at step 1 of tcp-check \(expect string "
                                       r"'nothing-comes'\)"))
    finally:
        redis.close()
