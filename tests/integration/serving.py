"""Helpers for tests that serve traffic: free ports, origin servers the test starts, the
sluice process started and stopped by PID, and waits with deadlines (never bare sleeps)."""
import contextlib
import socket
import subprocess
import threading
import time

DEADLINE = 10.0  # seconds any single wait may take on a loaded 2-core machine


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


class Origin:
    """A TCP origin on 127.0.0.1: reads until the client's FIN, then answers
    b"<name>:<byte count>:<first 16 bytes>" and closes; or echoes when echo=True."""

    def __init__(self, name, echo=False):
        self.name = name.encode()
        self.echo = echo
        self.connections = 0
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
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


@contextlib.contextmanager
def sluice_serving(sluice_bin, cfg_path, port, cwd=None):
    """Starts `sluice -f cfg`, waits until `port` accepts, yields the Popen; stops it by PID
    (SIGTERM) and checks it exited cleanly."""
    proc = subprocess.Popen([str(sluice_bin), "-f", str(cfg_path)], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: proc.poll() is not None or accepts(port), f"sluice on port {port}")
        assert proc.poll() is None, f"sluice exited early: {proc.communicate()[1]}"
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
        try:
            proc.wait(timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError("sluice did not stop on SIGTERM")


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
