"""The master process (-W) and hot reloads through the real binary: reloads under load lose
no request, an invalid configuration leaves the old worker serving, a renewed certificate
is served after a reload, a killed worker is replaced, binds come and go, and
hard-stop-after bounds an old worker. The master's messages are sluice's own: these run
against sluice only."""
import contextlib
import http.client
import os
import pathlib
import re
import signal
import socket
import ssl
import subprocess
import threading
import time

import pytest

from serving import (DEADLINE, UNDER_HAPROXY, HttpOrigin, LogReader, accepts, children,
                     free_port, reply, stall, stop_master, wait_until)
from test_health import self_signed

pytestmark = pytest.mark.skipif(UNDER_HAPROXY, reason="the master's messages are sluice's")


def write_cfg(path, port, origin_port, tls_port=None, pem=None, extra=(), header="v1"):
    lines = ["global", "    nbthread 2", "    hard-stop-after 5s",
             "defaults", "    mode http", "    timeout connect 1s", "    timeout client 5s",
             "    timeout server 5s", "    timeout http-keep-alive 5s",
             "frontend fe", f"    bind 127.0.0.1:{port}",
             *([f"    bind 127.0.0.1:{tls_port} ssl crt {pem}"] if tls_port else []),
             f"    http-response set-header X-Config {header}",
             "    default_backend be",
             "backend be", f"    server s1 127.0.0.1:{origin_port}", *extra]
    path.write_text("\n".join(lines) + "\n")


@contextlib.contextmanager
def master(sluice_bin, cfg, port, args=(), env=None):
    """`sluice -W -f cfg ARGS`, its stderr read by a LogReader; stopped with SIGTERM, which
    must end the master and its workers."""
    proc = subprocess.Popen([str(sluice_bin), "-W", "-f", str(cfg), *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})
    log = LogReader(proc, proc.stderr)
    try:
        log.wait_for(r"Loading success\.")
        wait_until(lambda: accepts(port), f"port {port}")
        yield proc, log
    finally:
        assert stop_master(proc) == 0


@contextlib.contextmanager
def served(sluice_bin, tmp_path, args=()):
    """An origin, `site.cfg` (write_cfg) in front of it, and the master serving it; yields
    (master process, its log, port, cfg, origin)."""
    origin = HttpOrigin("origin")
    port = free_port()
    cfg = tmp_path / "site.cfg"
    write_cfg(cfg, port, origin.port)
    try:
        with master(sluice_bin, cfg, port, args) as (proc, log):
            yield proc, log, port, cfg, origin
    finally:
        origin.close()


def reload(proc, log, outcome=r"Loading success\."):
    """SIGUSR2, then waits for one more line matching `outcome`."""
    before = len([l for l in log.lines if re.search(outcome, l)])
    proc.send_signal(signal.SIGUSR2)
    wait_until(lambda: len([l for l in log.lines if re.search(outcome, l)]) > before,
               f"one more {outcome!r}; the lines: {log.lines}")


def get(port):
    """GET / on a new connection: (status, X-Config header, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=DEADLINE)
    try:
        conn.request("GET", "/")
        response = conn.getresponse()
        return response.status, response.getheader("X-Config"), response.read()
    finally:
        conn.close()


def config_of(port):
    return get(port)[1]


class Load:
    """Clients in threads until stop(): keep-alive ones (plain and TLS) that retry once a
    request whose reused connection closed before any byte of answer, as RFC 9112 9.3.1
    lets idempotent requests be (browsers and curl do), and ones opening a connection per
    request, which never retry. Every answer must be a 200 from the origin."""

    def __init__(self, port, tls_port):
        self.port, self.tls_port = port, tls_port
        self.done = {}
        self.failures = []
        self.stopping = threading.Event()
        self.context = ssl.create_default_context()
        self.context.check_hostname = False
        self.context.verify_mode = ssl.CERT_NONE
        self.threads = [threading.Thread(target=f, args=(name,), daemon=True) for name, f in (
            ("keep-alive", self._keep_alive), ("keep-alive-tls", self._keep_alive),
            ("new-connection", self._new_connections), ("new-tls", self._new_connections))]
        for t in self.threads:
            t.start()

    def _connection(self, name):
        if "tls" in name:
            return http.client.HTTPSConnection("127.0.0.1", self.tls_port, timeout=DEADLINE,
                                               context=self.context)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=DEADLINE)

    def _check(self, name, response):
        body = response.read()
        if response.status != 200 or body != b"origin":
            self.failures.append(f"{name}: {response.status} {body[:80]!r}")
        self.done[name] = self.done.get(name, 0) + 1

    def _keep_alive(self, name):
        conn, used = self._connection(name), 0
        while not self.stopping.is_set():
            try:
                conn.request("GET", f"/{name}/{used}")
                response = conn.getresponse()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                    ssl.SSLEOFError) as e:
                conn.close()
                conn = self._connection(name)
                if used == 0:  # a new connection's request is never retried
                    self.failures.append(f"{name}: {e!r} on a new connection")
                    continue
                used = 0
                try:
                    conn.request("GET", f"/{name}/retry")
                    response = conn.getresponse()
                except OSError as e2:
                    self.failures.append(f"{name}: {e2!r} on the retry")
                    continue
            except OSError as e:
                self.failures.append(f"{name}: {e!r}")
                conn.close()
                conn, used = self._connection(name), 0
                continue
            self._check(name, response)
            used += 1
            if response.will_close:
                conn.close()
                conn, used = self._connection(name), 0
        conn.close()

    def _new_connections(self, name):
        while not self.stopping.is_set():
            conn = self._connection(name)
            try:
                conn.request("GET", f"/{name}", headers={"Connection": "close"})
                self._check(name, conn.getresponse())
            except OSError as e:
                self.failures.append(f"{name}: {e!r}")
            finally:
                conn.close()

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(DEADLINE)


def test_three_reloads_under_load_lose_no_request(sluice_bin, tmp_path):
    """SLUICE_TEST_RELOADS=N makes it N reloads (a longer local run)."""
    reloads = int(os.environ.get("SLUICE_TEST_RELOADS", "3"))
    origin = HttpOrigin("origin", max_connections=64)
    pem = self_signed(tmp_path)
    port, tls_port = free_port(), free_port()
    cfg = tmp_path / "site.cfg"
    write_cfg(cfg, port, origin.port, tls_port, pem)
    try:
        with master(sluice_bin, cfg, port) as (proc, log):
            load = Load(port, tls_port)
            try:
                for i in range(reloads):
                    wait_until(lambda: all(load.done.get(n, 0) >= 10 * (i + 1) for n in
                                           ("keep-alive", "keep-alive-tls", "new-connection",
                                            "new-tls")), "traffic on every client")
                    write_cfg(cfg, port, origin.port, tls_port, pem, header=f"v{i + 2}")
                    reload(proc, log)
                    wait_until(lambda: len([l for l in log.lines if "Former worker" in l])
                               >= i + 1, f"the old worker of reload {i + 1} gone")
            finally:
                load.stop()
            assert load.failures == [], load.failures
            assert config_of(port) == f"v{reloads + 1}"
            assert len(children(proc.pid)) == 1
    finally:
        origin.close()


def test_invalid_reload_keeps_the_old_worker_and_a_later_valid_one_works(sluice_bin, tmp_path):
    with served(sluice_bin, tmp_path) as (proc, log, port, cfg, origin):
        worker = children(proc.pid)
        assert config_of(port) == "v1"
        cfg.write_text(cfg.read_text() + "    server s2 127.0.0.1:bogus\n    balanec rr\n")
        reload(proc, log, r"Reload failed: the configuration is invalid; the current "
                          r"workers keep serving\.")
        errors = [l for l in log.lines if re.match(rf"{re.escape(str(cfg))}:\d+:\d+: error", l)]
        assert len(errors) == 2, log.lines
        assert any(":16:" in l and "invalid port 'bogus'" in l for l in errors), errors
        assert any(":17:5:" in l and "unknown keyword 'balanec'" in l for l in errors), errors
        assert proc.poll() is None and children(proc.pid) == worker
        assert config_of(port) == "v1"
        write_cfg(cfg, port, origin.port, header="v2")
        reload(proc, log)
        wait_until(lambda: config_of(port) == "v2", "the new configuration serving")
        wait_until(lambda: len(children(proc.pid)) == 1 and children(proc.pid) != worker,
                   "only the new worker left")


def test_renewed_certificate_is_served_after_a_reload(sluice_bin, tmp_path):
    """certbot's deploy hook: the PEM file is replaced, then SIGUSR2; every new connection
    sees the new certificate."""
    origin = HttpOrigin("origin")
    port, tls_port = free_port(), free_port()
    pem = tmp_path / "site.pem"
    old = self_signed(tmp_path, "old.test")
    new = self_signed(tmp_path, "new.test")
    pem.write_bytes(old.read_bytes())
    cfg = tmp_path / "site.cfg"
    write_cfg(cfg, port, origin.port, tls_port, pem)

    def served_name():
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        with context.wrap_socket(socket.create_connection(("127.0.0.1", tls_port),
                                                          timeout=DEADLINE)) as c:
            der = c.getpeercert(binary_form=True)
        return next(n for n in ("old.test", "new.test") if n.encode() in der)

    try:
        with master(sluice_bin, cfg, port) as (proc, log):
            assert served_name() == "old.test"
            pem.write_bytes(new.read_bytes())
            assert served_name() == "old.test"  # nothing re-reads it before the reload
            reload(proc, log)
            for _ in range(5):
                assert served_name() == "new.test"
    finally:
        origin.close()


def test_killed_worker_is_replaced(sluice_bin, tmp_path):
    with served(sluice_bin, tmp_path) as (proc, log, port, cfg, origin):
        [worker] = children(proc.pid)
        os.kill(worker, signal.SIGKILL)
        log.wait_for(rf"Current worker \({worker}\) exited with signal 9 \(Killed\); a new "
                     r"one starts in \d+ms\.")
        wait_until(lambda: len([l for l in log.lines if "Loading success." in l]) == 2,
                   "a new worker serving")
        assert get(port)[0] == 200
        assert children(proc.pid) not in ([], [worker])


def test_binds_added_and_removed_by_reloads(sluice_bin, tmp_path):
    """A bind a reload adds accepts once the new worker serves; one a reload removes
    refuses connections once the old worker has gone (the master closed it)."""
    origin = HttpOrigin("origin")
    port, added = free_port(), free_port()
    cfg = tmp_path / "site.cfg"
    write_cfg(cfg, port, origin.port)
    try:
        with master(sluice_bin, cfg, port) as (proc, log):
            assert not accepts(added)
            write_cfg(cfg, port, origin.port)
            cfg.write_text(cfg.read_text().replace(
                f"    bind 127.0.0.1:{port}\n",
                f"    bind 127.0.0.1:{port}\n    bind 127.0.0.1:{added}\n"))
            reload(proc, log)
            assert get(added)[0] == 200
            write_cfg(cfg, port, origin.port)
            reload(proc, log)
            wait_until(lambda: len([l for l in log.lines if "Former worker" in l]) == 2,
                       "both old workers gone")
            assert not accepts(added)
            assert accepts(port)
    finally:
        origin.close()


def test_reload_signals_in_a_row_are_not_lost(sluice_bin, tmp_path):
    """A second SIGUSR2 arriving while the first reload's worker is starting runs after it:
    the last configuration written is the one served."""
    with served(sluice_bin, tmp_path) as (proc, log, port, cfg, origin):
        write_cfg(cfg, port, origin.port, header="v2")
        proc.send_signal(signal.SIGUSR2)
        log.wait_for(r"Reloading sluice")
        write_cfg(cfg, port, origin.port, header="v3")
        proc.send_signal(signal.SIGUSR2)

        wait_until(lambda: config_of(port) == "v3", "v3 served")
        wait_until(lambda: len(children(proc.pid)) == 1, "one worker left")


def test_hard_stop_after_bounds_an_old_worker(sluice_bin, tmp_path):
    """An old worker with a request its origin never answers is stopped hard-stop-after
    (5s here) after the reload, not later."""
    origin = HttpOrigin("origin", stall)
    port = free_port()
    cfg = tmp_path / "site.cfg"
    write_cfg(cfg, port, origin.port)
    cfg.write_text(cfg.read_text().replace("timeout server 5s", "timeout server 60s"))
    try:
        with master(sluice_bin, cfg, port) as (proc, log):
            held = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
            held.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
            wait_until(lambda: origin.requests, "the request at the origin")
            [old] = children(proc.pid)
            reload(proc, log)
            reloaded = time.monotonic()
            log.wait_for(rf"Former worker \({old}\) exited")
            assert 4.0 <= time.monotonic() - reloaded < 8.0
            held.close()
    finally:
        origin.close()


def test_tls_sessions_resume_across_a_reload(sluice_bin, tmp_path):
    """Beyond HAProxy: the master makes the ticket keys of a bind without tls-ticket-keys,
    so a session from before a reload resumes after it (TLS 1.3 and 1.2)."""
    origin = HttpOrigin("origin")
    pem = self_signed(tmp_path)
    port, tls_port = free_port(), free_port()
    cfg = tmp_path / "site.cfg"
    write_cfg(cfg, port, origin.port, tls_port, pem)

    def fetch(context, session=None):
        with context.wrap_socket(socket.create_connection(("127.0.0.1", tls_port),
                                                          timeout=DEADLINE),
                                 session=session) as c:
            c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            while c.recv(4096):  # the TLS 1.3 ticket comes with the answer
                pass
            return c.session, c.session_reused

    try:
        with master(sluice_bin, cfg, port) as (proc, log):
            for version in (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2):
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
                context.minimum_version = context.maximum_version = version
                session, _ = fetch(context)
                assert fetch(context, session)[1], f"{version}: no resumption before a reload"
                [old] = children(proc.pid)
                reload(proc, log)
                log.wait_for(rf"Former worker \({old}\) exited")
                assert fetch(context, session)[1], f"{version}: not resumed after the reload"
    finally:
        origin.close()


def test_a_down_server_stays_down_across_a_reload(sluice_bin, tmp_path):
    """Beyond HAProxy: a server the checks took DOWN starts DOWN in the new worker (it needs
    `rise` checks to come back), so no request reaches it right after the reload."""
    def sick(ex):
        return (reply(500, b"sick") if ex.request.target == "/health" else reply(200, b"sick"))(ex)

    well = HttpOrigin("well")
    ill = HttpOrigin("sick", sick)
    port = free_port()
    cfg = tmp_path / "site.cfg"
    write_cfg(cfg, port, well.port, extra=[
        "option httpchk GET /health", f"server s2 127.0.0.1:{ill.port} check inter 2s fall 1",
        "option log-health-checks"])
    text = cfg.read_text().replace(f"server s1 127.0.0.1:{well.port}",
                                   f"server s1 127.0.0.1:{well.port} check inter 2s")
    cfg.write_text(text)

    def bodies(n):
        return [get(port)[2] for _ in range(n)]

    try:
        with master(sluice_bin, cfg, port) as (proc, log):
            log.wait_for(r"Server be/s2 is DOWN")
            assert set(bodies(4)) == {b"well"}
            reload(proc, log)
            # Before the new worker's first check of s2 (half a second in), every request
            # goes to s1: s2 starts DOWN.
            assert set(bodies(6)) == {b"well"}
    finally:
        well.close()
        ill.close()


def test_sf_hands_over_to_a_new_process_without_a_master(sluice_bin, tmp_path):
    """`sluice -f cfg -sf OLDPID`: the new process binds the same address (SO_REUSEPORT, as
    HAProxy), then tells the old one to soft-stop: its request in flight completes, and new
    connections get the new configuration. `-st` stops the old one at once."""
    gate = threading.Event()

    def slow_then_reply(ex):
        if ex.request.target == "/slow":
            gate.wait(DEADLINE)
        return reply()(ex)

    origin = HttpOrigin("origin", slow_then_reply)
    port = free_port()
    cfg = tmp_path / "site.cfg"
    write_cfg(cfg, port, origin.port)
    old = subprocess.Popen([str(sluice_bin), "-f", str(cfg)], stderr=subprocess.PIPE, text=True)
    new = None
    try:
        wait_until(lambda: accepts(port), "the old process")
        held = http.client.HTTPConnection("127.0.0.1", port, timeout=DEADLINE)
        held.request("GET", "/slow")
        wait_until(lambda: any(r.target == "/slow" for r in origin.requests), "/slow in flight")
        write_cfg(cfg, port, origin.port, header="v2")
        new = subprocess.Popen([str(sluice_bin), "-f", str(cfg), "-sf", str(old.pid)],
                               stderr=subprocess.PIPE, text=True)

        def new_config_serves():
            return config_of(port) == "v2"

        wait_until(new_config_serves, "the new process serving")
        assert old.poll() is None  # still finishing /slow
        gate.set()
        response = held.getresponse()
        assert (response.status, response.read()) == (200, b"origin")
        assert old.wait(timeout=DEADLINE) == 0
        newest = subprocess.Popen([str(sluice_bin), "-f", str(cfg), "-st", str(new.pid)],
                                  stderr=subprocess.PIPE, text=True)
        assert new.wait(timeout=DEADLINE) == 0
        new = newest
        assert new_config_serves()
    finally:
        gate.set()
        for proc in (old, new):
            if proc and proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=DEADLINE)
        origin.close()


def cli(path, command):
    """One command on the master CLI socket; the whole answer (the master closes)."""
    with socket.socket(socket.AF_UNIX) as c:
        c.settimeout(DEADLINE)
        c.connect(str(path))
        c.sendall(command.encode() + b"\n")
        data = b""
        while chunk := c.recv(4096):
            data += chunk
    return data.decode()


def test_master_cli_shows_processes_and_reloads_with_the_verdict(sluice_bin, tmp_path):
    origin = HttpOrigin("origin")
    port = free_port()
    cfg = tmp_path / "site.cfg"
    sock = tmp_path / "master.sock"
    write_cfg(cfg, port, origin.port)
    try:
        with master(sluice_bin, cfg, port, ["-S", str(sock)]) as (proc, log):
            [worker] = children(proc.pid)
            shown = cli(sock, "show proc").splitlines()
            assert shown[0].split() == ["#<PID>", "<type>", "<reloads>", "<uptime>", "<version>"]
            assert shown[1].split()[:5] == [str(proc.pid), "master", "0", "[failed:", "0]"]
            assert shown[2] == "# workers"
            assert shown[3].split()[:3] == [str(worker), "worker", "0"]
            assert re.fullmatch(r"\d+d\d\dh\d\dm\d\ds", shown[3].split()[3])

            write_cfg(cfg, port, origin.port, header="v2")
            answer = cli(sock, "reload")
            assert answer.startswith("Success=1\n--\n"), answer
            assert "Loading success." in answer
            shown = cli(sock, "show proc")
            assert re.search(rf"^{proc.pid} +master +1 \[failed: 0\]", shown, re.M), shown
            assert re.search(r"^# workers\n\d+ +worker +0 ", shown, re.M), shown

            cfg.write_text(cfg.read_text() + "    balanec rr\n")
            answer = cli(sock, "reload")
            assert answer.startswith("Success=0\n--\n"), answer
            assert re.search(rf"{re.escape(str(cfg))}:16:5: error: unknown keyword 'balanec'",
                             answer), answer
            assert "Reload failed: the configuration is invalid" in answer
            assert re.search(r"1 \[failed: 1\]", cli(sock, "show proc")) is None
            assert re.search(r"2 \[failed: 1\]", cli(sock, "show proc"))

            assert "show proc" in cli(sock, "help")
            assert cli(sock, "bogus") == ("Unknown command: 'bogus'. Type 'help' for the valid "
                                          "commands.\n")
        assert not sock.exists()  # the master removes its socket when it stops
    finally:
        origin.close()


def test_systemd_notifications(sluice_bin, tmp_path):
    """-Ws under systemd (Type=notify): READY=1 once the worker serves, RELOADING=1 then
    READY=1 around a reload, STOPPING=1 at the end."""
    origin = HttpOrigin("origin")
    port = free_port()
    cfg = tmp_path / "site.cfg"
    write_cfg(cfg, port, origin.port)
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify.sock"))
    notify.settimeout(DEADLINE)
    try:
        with master(sluice_bin, cfg, port, ["-Ws"],
                    env={"NOTIFY_SOCKET": str(tmp_path / "notify.sock")}) as (proc, log):
            ready = notify.recv(4096).decode()
            assert ready.startswith("READY=1\n") and f"MAINPID={proc.pid}" in ready, ready
            proc.send_signal(signal.SIGUSR2)
            reloading = notify.recv(4096).decode()
            assert re.fullmatch(r"RELOADING=1\nMONOTONIC_USEC=\d+\nSTATUS=Reloading\.", reloading)
            assert notify.recv(4096).decode() == "READY=1\nSTATUS=Reload succeeded."
        assert notify.recv(4096).decode() == "STOPPING=1"
    finally:
        notify.close()
        origin.close()


def test_the_shipped_systemd_unit_runs_sluice_commands_that_parse(sluice_bin, tmp_path):
    """conf/sluice.service: ExecStartPre, ExecStart and ExecReload's sluice command lines,
    with -c added, accept the example configuration (the unit stays true to the CLI)."""
    unit = (pathlib.Path(__file__).resolve().parents[2] / "conf" / "sluice.service").read_text()
    quickstart = pathlib.Path(__file__).resolve().parents[2] / "conf" / "quickstart.cfg"
    commands = [line.split("=", 1)[1] for line in unit.splitlines()
                if line.split("=", 1)[0] in ("ExecStartPre", "ExecStart", "ExecReload")
                and "/usr/sbin/sluice" in line]
    assert len(commands) == 3 and any("-Ws" in c for c in commands), commands
    assert "ExecReload=/bin/kill -USR2 $MAINPID" in unit and "Type=notify" in unit
    for command in commands:
        argv = command.replace("$CONFIG", str(quickstart)).replace(
            "$PIDFILE", str(tmp_path / "pid")).replace("/run/", f"{tmp_path}/").split()
        argv = [str(sluice_bin), *argv[1:], *([] if "-c" in argv else ["-c"])]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=DEADLINE)
        assert result.returncode == 0, (argv, result.stderr)
