"""Helpers for tests that serve traffic: free ports, origin servers the test starts, the
sluice process started and stopped by PID, and waits with deadlines (never bare sleeps).

SLUICE_TEST_PROXY=haproxy runs the same serving tests against HAProxy (`haproxy -db -f cfg`)
instead of sluice: the reference every expectation is checked against."""
import base64
import contextlib
import hashlib
import os
import re
import shutil
import socket
import subprocess
import threading
import time

DEADLINE = 10.0  # seconds any single wait may take on a loaded 2-core machine

PROXY = os.environ.get("SLUICE_TEST_PROXY", "sluice")
if PROXY not in ("sluice", "haproxy"):
    raise RuntimeError(f"SLUICE_TEST_PROXY={PROXY}: expected sluice or haproxy")
UNDER_HAPROXY = PROXY == "haproxy"
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"


def proxy_argv(sluice_bin, cfg_path):
    """The command that serves cfg_path: sluice, or HAProxy in the foreground."""
    if UNDER_HAPROXY:
        return [HAPROXY, "-db", "-f", str(cfg_path)]
    return [str(sluice_bin), "-f", str(cfg_path)]


def free_port():
    """A loopback port nothing listens on now (the kernel picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, what, deadline=DEADLINE):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out after {deadline}s waiting for {what}")


def accepts(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def listening_socket(backlog, port=0):
    """A listening TCP socket on a loopback port (0: the kernel picks)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(backlog)
    return sock


# A WebSocket upgrade request (RFC 6455's sample key), for the tunnel tests.
WEBSOCKET_UPGRADE = (b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
                     b"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                     b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")


class Origin:
    """A TCP origin on 127.0.0.1: reads until the client's FIN, then answers
    b"<name>:<byte count>:<first 16 bytes>" and closes; or echoes when echo=True."""

    def __init__(self, name, echo=False):
        self.name = name.encode()
        self.echo = echo
        self.connections = 0
        self.sock = listening_socket(64)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        with conn:
            conn.settimeout(DEADLINE)
            data = b""
            try:
                while True:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    if self.echo:
                        conn.sendall(chunk)
                    else:
                        data += chunk
                if not self.echo:
                    conn.sendall(self.name + b":" + str(len(data)).encode() + b":" + data[:16])
            except OSError:
                pass

    def close(self):
        self.stopping = True
        self.sock.close()


def stop(proc, what=PROXY):
    """Stops a process a test started: SIGTERM by PID, which it must obey within the
    deadline. Returns its exit status."""
    if proc.poll() is None:
        proc.terminate()
    try:
        return proc.wait(timeout=DEADLINE)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError(f"{what} did not stop on SIGTERM")


def children(pid):
    """The pids of a process's children (a master's workers)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def stop_master(proc):
    """stop() for a -W master, whose workers must be gone too. Returns its exit status."""
    workers = children(proc.pid)
    status = stop(proc, "the master")
    for pid in workers:
        wait_until(lambda: not os.path.exists(f"/proc/{pid}"), f"worker {pid} gone")
    return status


@contextlib.contextmanager
def sluice_serving(sluice_bin, cfg_path, port, cwd=None):
    """Starts `sluice -f cfg` (or HAProxy, see PROXY), waits until `port` accepts, yields the
    Popen; stops it by PID (SIGTERM) and checks it exited cleanly."""
    proc = subprocess.Popen(proxy_argv(sluice_bin, cfg_path), cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: proc.poll() is not None or accepts(port), f"sluice on port {port}")
        assert proc.poll() is None, f"{PROXY} exited early: {proc.communicate()[1]}"
        yield proc
    finally:
        stop(proc)


def exchange(port, payload, shut_write=True):
    """Sends payload, half-closes, reads until the server closes; returns the bytes read.
    A connection the proxy already closed (reset, or gone before our FIN) ends the read
    with what arrived: callers assert on the bytes."""
    with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as c:
        out = b""
        try:
            c.sendall(payload)
            if shut_write:
                c.shutdown(socket.SHUT_WR)
            while True:
                chunk = c.recv(65536)
                if not chunk:
                    return out
                out += chunk
        except (ConnectionResetError, BrokenPipeError, OSError) as e:
            if isinstance(e, socket.timeout):
                raise
            return out


# ---------------------------------------------------------------------------------------------
# HTTP/1.1 origin
# ---------------------------------------------------------------------------------------------

class OriginRequest:
    """One request as an HttpOrigin read it. headers keeps names and order as received;
    body is the decoded payload (chunked framing removed, trailers kept apart)."""

    def __init__(self, connection, method, target, version, headers, head):
        self.connection = connection  # index of the TCP connection it came on (0, 1, ...)
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.head = head  # the raw request line and headers, up to the empty line
        self.body = b""
        self.trailers = []
        self.complete = False  # the body was read to its end

    def header(self, name):
        """Values of the header called name (case-insensitive), in order."""
        return [v for n, v in self.headers if n.lower() == name.lower()]

    def names(self):
        return [n for n, _ in self.headers]

    def __repr__(self):
        return f"<{self.method} {self.target} {self.version} on #{self.connection}>"


class _Reader:
    """Buffered reads from a socket: lines, exact counts, and what is already buffered."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError
        self.buf += chunk

    def until(self, marker, limit):
        while marker not in self.buf:
            if len(self.buf) > limit:
                raise ValueError("head too large")
            self._fill()
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def exactly(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def some(self):
        """Whatever is buffered, or one recv (b"" at EOF)."""
        if self.buf:
            out, self.buf = self.buf, b""
            return out
        return self.sock.recv(65536)


class Exchange:
    """What a handler works with: the request (head read, body on demand), the socket."""

    def __init__(self, origin, sock, reader, request):
        self.origin = origin
        self.sock = sock
        self.reader = reader
        self.request = request
        self._body_read = False

    @property
    def keep_alive(self):
        tokens = {t.strip().lower() for v in self.request.header("connection")
                  for t in v.split(",")}
        if self.request.version == "HTTP/1.0":
            return "keep-alive" in tokens
        return "close" not in tokens

    def read_body(self):
        """Reads the request body (Content-Length or chunked, with trailers) once."""
        if self._body_read:
            return self.request.body
        self._body_read = True
        req = self.request
        te = req.header("transfer-encoding")
        if te and te[-1].lower().strip().endswith("chunked"):
            body = b""
            while True:
                size_line = self.reader.until(b"\r\n", 4096)
                size = int(size_line.split(b";")[0].strip(), 16)
                if size == 0:
                    break
                body += self.reader.exactly(size)
                assert self.reader.exactly(2) == b"\r\n", "bad chunk end"
            while True:
                line = self.reader.until(b"\r\n", 65536)
                if line == b"\r\n":
                    break
                name, _, value = line[:-2].decode("latin-1").partition(":")
                req.trailers.append((name, value.strip(" \t")))
            req.body = body
        elif req.header("content-length"):
            req.body = self.reader.exactly(int(req.header("content-length")[0]))
        req.complete = True
        return req.body

    def send(self, data):
        self.sock.sendall(data)


def http_response(status=200, body=b"", headers=(), reason=None, head_only=False,
                  length=True):
    """A response head (+ body): Content-Length framed unless length=False (or 1xx/204/304)."""
    reason = reason if reason is not None else REASONS.get(status, "Whatever")
    lines = [f"HTTP/1.1 {status} {reason}"] + [f"{n}: {v}" for n, v in headers]
    bodiless = status < 200 or status in (204, 304)
    if length and not bodiless:
        lines.append(f"Content-Length: {len(body)}")
    out = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return out if head_only or bodiless else out + body


REASONS = {100: "Continue", 101: "Switching Protocols", 200: "OK", 204: "No Content",
           304: "Not Modified", 404: "Not Found"}


# Handlers: handler(exchange) -> True to keep the connection for another request, False to
# close it. The origin reads any body the handler left unread before the next request.

def reply(status=200, body=None, headers=()):
    """A Content-Length framed answer (no body for HEAD, 204, 304); body defaults to the
    origin's name. Keeps the connection alive when the request allows it."""
    def handler(ex):
        ex.read_body()
        payload = ex.origin.name if body is None else body
        ex.send(http_response(status, payload, headers,
                              head_only=ex.request.method == "HEAD"))
        return ex.keep_alive
    return handler


def echo_body(ex):
    """200 whose body is the request body, Content-Length framed."""
    ex.send(http_response(200, ex.read_body(), [("Content-Type", "application/octet-stream")]))
    return ex.keep_alive


def reply_chunked(chunks, trailers=()):
    def handler(ex):
        ex.read_body()
        out = http_response(200, headers=[("Transfer-Encoding", "chunked")], length=False,
                            head_only=True)
        for c in chunks:
            out += b"%x\r\n" % len(c) + c + b"\r\n"
        out += b"0\r\n" + b"".join(f"{n}: {v}\r\n".encode() for n, v in trailers) + b"\r\n"
        ex.send(out)
        return ex.keep_alive
    return handler


def reply_close_delimited(body):
    """No Content-Length, no chunking: the body ends when the origin closes."""
    def handler(ex):
        ex.read_body()
        ex.send(http_response(200, headers=[("Content-Type", "text/plain")], length=False,
                              head_only=True) + body)
        return False
    return handler


def continue_then(final=None):
    """Sends `100 Continue` once the head is in, then reads the body, then answers final
    (default: echo the body)."""
    final = final or echo_body

    def handler(ex):
        ex.send(b"HTTP/1.1 100 Continue\r\n\r\n")
        return final(ex)
    return handler


def websocket_accept(key):
    """The Sec-WebSocket-Accept a request's Sec-WebSocket-Key calls for (RFC 6455 4.2.2)."""
    digest = hashlib.sha1(key.encode() + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest()
    return base64.b64encode(digest).decode()


def upgrade_echo(ex):
    """101 Switching Protocols (with the Sec-WebSocket-Accept the request's key calls for:
    HAProxy answers 502 without it), then echoes every byte until the peer closes."""
    head = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    key = ex.request.header("sec-websocket-key")
    if key:
        head += b"Sec-WebSocket-Accept: " + websocket_accept(key[0]).encode() + b"\r\n"
    ex.send(head + b"\r\n")
    while True:
        data = ex.reader.some()
        if not data:
            return False
        ex.send(data)


def raw(data, close=True):
    """Sends data as is (garbage, a bad status line, a truncated body...), then closes."""
    def handler(ex):
        ex.read_body()
        ex.send(data)
        return not close
    return handler


def stall(ex):
    """Reads the request and never answers (until the peer or the origin closes)."""
    ex.read_body()
    while ex.reader.some():
        pass
    return False


def gated(gate, inner=None):
    """Answers with inner (default reply()) only once the threading.Event gate is set."""
    inner = inner or reply()

    def handler(ex):
        ex.read_body()
        if not gate.wait(DEADLINE):
            return False
        return inner(ex)
    return handler


def close_after(announce=True):
    """Answers 200 naming the origin, then closes the connection. announce=False closes
    without saying `Connection: close` first: a proxy reusing the connection races the FIN."""
    def handler(ex):
        ex.read_body()
        headers = [("Connection", "close")] if announce else []
        ex.send(http_response(200, ex.origin.name, headers,
                              head_only=ex.request.method == "HEAD"))
        return False
    return handler


class HttpOrigin:
    """A threaded HTTP/1.1 origin on 127.0.0.1:0 written on raw sockets. It records every
    request (OriginRequest) and counts accepted TCP connections; handler(exchange) answers
    (default: reply(), 200 naming the origin, keep-alive honoured). At most max_connections
    are served at once (more are closed at accept); close() stops everything it started."""

    def __init__(self, name="origin", handler=None, max_connections=32, max_head=1 << 20,
                 port=0):
        self.name = name.encode() if isinstance(name, str) else name
        self.handler = handler or reply()
        self.max_head = max_head
        self.requests = []
        self.connections = 0
        self.errors = []  # what went wrong parsing requests (tests may assert it is empty)
        self._slots = threading.BoundedSemaphore(max_connections)
        self._open = set()
        self._threads = []
        self._lock = threading.Lock()
        self.sock = listening_socket(128, port)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()

    def _accept(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            if not self._slots.acquire(blocking=False):
                conn.close()
                continue
            with self._lock:
                index = self.connections
                self.connections += 1
                self._open.add(conn)
                t = threading.Thread(target=self._serve, args=(conn, index), daemon=True)
                self._threads.append(t)
            t.start()

    def _serve(self, conn, index):
        try:
            conn.settimeout(DEADLINE)
            reader = _Reader(conn)
            while not self.stopping:
                try:
                    head = reader.until(b"\r\n\r\n", self.max_head)
                except EOFError:
                    return
                request = self._parse(index, head)
                if request is None:
                    return
                self.requests.append(request)
                ex = Exchange(self, conn, reader, request)
                keep = self.handler(ex)
                if not keep:
                    return
                ex.read_body()
        except (OSError, EOFError, ValueError, AssertionError) as e:
            if not self.stopping:
                self.errors.append(repr(e))
        finally:
            with self._lock:
                self._open.discard(conn)
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()
            self._slots.release()

    def _parse(self, index, head):
        lines = head[:-4].decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3:
            self.errors.append(f"bad request line {lines[0]!r}")
            return None
        headers = []
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if not colon:
                self.errors.append(f"bad header line {line!r}")
                return None
            headers.append((name, value.strip(" \t")))
        return OriginRequest(index, parts[0], parts[1], parts[2], headers, head)

    def bodies(self):
        return [r.body for r in self.requests]

    def close(self):
        self.stopping = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        except OSError:
            pass
        self.sock.close()
        with self._lock:
            open_now = list(self._open)
        for conn in open_now:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._acceptor.join(DEADLINE)
        for t in list(self._threads):
            t.join(DEADLINE)


# ---------------------------------------------------------------------------------------------
# HTTP/1.1 client on a raw socket: exact bytes out, responses parsed as they come back
# ---------------------------------------------------------------------------------------------

class Response:
    def __init__(self, version, status, reason, headers, body, raw, trailers=()):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers  # [(name, value)] as received
        self.body = body
        self.raw = raw  # every byte of this response as received
        self.trailers = list(trailers)

    def header(self, name):
        return [v for n, v in self.headers if n.lower() == name.lower()]

    def __repr__(self):
        return f"<{self.status} {self.reason} {self.headers} {self.body[:80]!r}>"


class RawClient:
    """One client connection: send() exact bytes, response() parses the next response
    (Content-Length, chunked, or until close), closed() tells whether the peer closed."""

    def __init__(self, port, timeout=DEADLINE):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.reader = _Reader(self.sock)

    def send(self, data):
        self.sock.sendall(data)
        return self

    def response(self, method="GET"):
        head = self.reader.until(b"\r\n\r\n", 1 << 20)
        lines = head[:-4].decode("latin-1").split("\r\n")
        version, status, reason = (lines[0].split(" ", 2) + [""])[:3]
        headers = [(n, v.strip(" \t")) for n, _, v in (l.partition(":") for l in lines[1:])]
        status = int(status)
        names = {n.lower(): v for n, v in headers}
        raw_body = b""
        body = b""
        trailers = []
        if method == "HEAD" or status < 200 or status in (204, 304):
            pass
        elif "chunked" in names.get("transfer-encoding", "").lower():
            while True:
                line = self.reader.until(b"\r\n", 4096)
                raw_body += line
                size = int(line.split(b";")[0].strip(), 16)
                if size == 0:
                    break
                data = self.reader.exactly(size + 2)
                raw_body += data
                body += data[:-2]
            while True:
                line = self.reader.until(b"\r\n", 65536)
                raw_body += line
                if line == b"\r\n":
                    break
                n, _, v = line[:-2].decode("latin-1").partition(":")
                trailers.append((n, v.strip(" \t")))
        elif "content-length" in names:
            body = raw_body = self.reader.exactly(int(names["content-length"]))
        else:
            body = raw_body = self.rest()
        return Response(version, status, reason, headers, body, head + raw_body, trailers)

    def rest(self):
        """Every byte until the peer closes (a reset ends it too)."""
        out = b""
        try:
            while True:
                chunk = self.reader.some()
                if not chunk:
                    return out
                out += chunk
        except ConnectionResetError:
            return out

    def closed(self):
        """True when the peer closes with nothing more to read (a reset counts)."""
        return self.rest() == b""

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def http_cfg(tmp_path, port, servers=(), frontend=(), backend=(), defaults=(), tail=(),
             threads=1, client_timeout="10s"):
    """One frontend `fe` on port with default_backend `be` holding servers [(name, port)].
    frontend/backend/defaults/tail are extra lines (indented for the first three)."""
    lines = ["global", f"    nbthread {threads}",
             "defaults", "    mode http", "    timeout connect 2s",
             f"    timeout client {client_timeout}", "    timeout server 10s",
             *(f"    {l}" for l in defaults),
             "frontend fe", f"    bind 127.0.0.1:{port}", *(f"    {l}" for l in frontend),
             "    default_backend be",
             "backend be", *(f"    {l}" for l in backend),
             *(f"    server {n} 127.0.0.1:{p}" for n, p in servers), *tail]
    cfg = tmp_path / "http.cfg"
    cfg.write_text("\n".join(lines) + "\n")
    return cfg


class LogReader:
    """A proxy's stdout read line by line as it comes: a test waits for the lines it
    expects (a connection is logged when it ends) before stopping the proxy."""

    def __init__(self, proc, stream=None):
        """Reads `stream`, by default the proxy's stdout."""
        self.lines = []
        self._thread = threading.Thread(target=self._read, args=(stream or proc.stdout,),
                                        daemon=True)
        self._thread.start()

    def _read(self, stream):
        for line in stream:
            self.lines.append(line.rstrip("\n"))

    def finish(self):
        """Once the proxy has exited: every line it wrote is in `lines`."""
        self._thread.join(DEADLINE)

    def wait_for(self, pattern):
        """The first line matching the regex `pattern`, waited for."""
        found = []

        def seen():
            found[:] = [l for l in list(self.lines) if re.search(pattern, l)]
            return bool(found)

        try:
            wait_until(seen, f"a log line matching {pattern!r}")
        except AssertionError as e:
            raise AssertionError(f"{e}; the lines: {self.lines}") from None
        return found[0]


def serve_in_threads(sock, serve):
    """Accepts on `sock` in a thread until it is closed, each connection served by
    `serve(conn)` in its own thread."""
    def accept():
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
