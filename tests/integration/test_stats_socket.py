"""The runtime API on `stats socket` (HAProxy's CLI protocol) through the real binary: show
info, show version, help, an unknown command, the interactive prompt and quit, over a UNIX
socket, over an inherited descriptor (fd@N) and under the master across a reload. The
same tests run against HAProxy (SLUICE_TEST_PROXY=haproxy) except where marked."""
import contextlib
import os
import re
import signal
import socket
import subprocess
import time

import pytest

from serving import (DEADLINE, UNDER_HAPROXY, HttpOrigin, LogReader, free_port, proxy_argv,
                     stop, wait_until)

# HAProxy 2.6.12's `show info` fields, in its order.
INFO_FIELDS = [
    "Name", "Version", "Release_date", "Nbthread", "Nbproc", "Process_num", "Pid", "Uptime",
    "Uptime_sec", "Memmax_MB", "PoolAlloc_MB", "PoolUsed_MB", "PoolFailed", "Ulimit-n",
    "Maxsock", "Maxconn", "Hard_maxconn", "CurrConns", "CumConns", "CumReq", "MaxSslConns",
    "CurrSslConns", "CumSslConns", "Maxpipes", "PipesUsed", "PipesFree", "ConnRate",
    "ConnRateLimit", "MaxConnRate", "SessRate", "SessRateLimit", "MaxSessRate", "SslRate",
    "SslRateLimit", "MaxSslRate", "SslFrontendKeyRate", "SslFrontendMaxKeyRate",
    "SslFrontendSessionReuse_pct", "SslBackendKeyRate", "SslBackendMaxKeyRate",
    "SslCacheLookups", "SslCacheMisses", "CompressBpsIn", "CompressBpsOut",
    "CompressBpsRateLim", "Tasks", "Run_queue", "Idle_pct", "node", "Stopping", "Jobs",
    "Unstoppable Jobs", "Listeners", "ActivePeers", "ConnectedPeers", "DroppedLogs",
    "BusyPolling", "FailedResolutions", "TotalBytesOut", "TotalSplicdedBytesOut",
    "BytesOutRate", "DebugCommandsIssued", "CumRecvLogs", "Build info", "Memmax_bytes",
    "PoolAlloc_bytes", "PoolUsed_bytes", "Start_time_sec", "Tainted"]

QUIT_LINE = "  quit                                    : disconnect\n"


def connect(address):
    if isinstance(address, int):
        sock = socket.create_connection(("127.0.0.1", address), timeout=DEADLINE)
    else:
        sock = socket.socket(socket.AF_UNIX)
        sock.settimeout(DEADLINE)
        sock.connect(str(address))
    return sock


def ask(address, text):
    """Sends `text`, reads until the proxy closes; the answer as text."""
    with connect(address) as sock:
        sock.sendall(text.encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data.decode()


def read_until(sock, marker):
    data = b""
    while not data.endswith(marker):
        chunk = sock.recv(65536)
        assert chunk, f"closed before {marker!r}: {data!r}"
        data += chunk
    return data.decode()


def info(address):
    out = ask(address, "show info\n")
    assert out.endswith("\n\n"), out
    return dict(line.split(": ", 1) for line in out[:-2].split("\n"))


def answers(address):
    try:
        return ask(address, "show version\n") != ""
    except OSError:
        return False


def write_cfg(tmp_path, port, origin_port, stats_line, extra_global=()):
    cfg = tmp_path / "stats.cfg"
    cfg.write_text("\n".join([
        "global", "    nbthread 2", f"    {stats_line}", "    stats timeout 5s",
        *(f"    {l}" for l in extra_global),
        "defaults", "    mode http", "    timeout connect 2s", "    timeout client 10s",
        "    timeout server 10s",
        "frontend fe", f"    bind 127.0.0.1:{port}", "    default_backend be",
        "backend be", f"    server s1 127.0.0.1:{origin_port}"]) + "\n")
    return cfg


@contextlib.contextmanager
def proxy(sluice_bin, cfg, ready, pass_fds=(), env=None, args=()):
    argv = proxy_argv(sluice_bin, cfg)
    argv[1:1] = list(args)
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            pass_fds=pass_fds, env={**os.environ, **(env or {})})
    log = LogReader(proc, proc.stderr)
    try:
        wait_until(lambda: proc.poll() is not None or ready(), "the proxy to serve")
        assert proc.poll() is None, f"exited early: {log.lines}"
        yield proc, log
    finally:
        stop(proc)


@pytest.fixture
def unix_stats(sluice_bin, tmp_path):
    """A proxy with `stats socket PATH` and an HTTP origin; yields (proc, path, port)."""
    origin = HttpOrigin("s1")
    path = tmp_path / "admin.sock"
    port = free_port()
    cfg = write_cfg(tmp_path, port, origin.port, f"stats socket {path} mode 600 level admin")
    try:
        with proxy(sluice_bin, cfg, lambda: answers(path)) as (proc, _):
            yield proc, path, port
    finally:
        origin.close()


def test_show_info_over_a_unix_socket_counts_connections(unix_stats):
    proc, path, port = unix_stats
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    first = info(path)
    assert list(first) == INFO_FIELDS
    assert first["Name"] == "HAProxy"
    assert first["Pid"] == str(proc.pid)
    assert first["Nbthread"] == "2"
    assert first["CurrConns"] == "0"  # the CLI's own connection is not counted here
    # One keep-alive HTTP connection held open: CurrConns 1; CumConns counts it and the CLI's.
    with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as client:
        client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        read_until(client, b"s1")
        held = info(path)
        assert held["CurrConns"] == "1"
        assert int(held["CumConns"]) == int(first["CumConns"]) + 2
        assert int(held["CumReq"]) >= int(first["CumReq"]) + 2  # the request and the CLI's
    wait_until(lambda: info(path)["CurrConns"] == "0", "the connection to be closed")


def test_show_version_help_and_unknown_commands(unix_stats):
    _, path, _ = unix_stats
    version = ask(path, "show version\n")
    if UNDER_HAPROXY:
        assert re.fullmatch(r"2\.6\.\d+\S*\n\n", version), version
    else:
        assert re.fullmatch(r"2\.6\.12-sluice-\d+\.\d+\.\d+\n\n", version), version
    assert info(path)["Version"] == version[:-2]

    help_text = ask(path, "help\n")
    assert help_text.startswith("The following commands are valid at this level:\n")
    assert help_text.endswith(QUIT_LINE + "\n")
    assert "  show version                            : show version of the current process\n" \
        in help_text
    assert re.search(r"\n  show info.{0,40}: report information about the running process\n",
                     help_text)

    unknown = ask(path, "show foo\n")
    assert unknown.startswith(
        "Unknown command, but maybe one of the following ones is a better match:\n")
    assert "\n  show info" in unknown and unknown.endswith(QUIT_LINE + "\n")
    empty = ask(path, "\n")
    assert empty.startswith("Unknown command. Please enter one of the following commands only:\n")
    assert empty.endswith(QUIT_LINE + "\n")


def test_prompt_keeps_the_session_until_quit(unix_stats):
    _, path, _ = unix_stats
    with connect(path) as sock:
        sock.sendall(b"prompt\n")
        assert read_until(sock, b"> ") == "\n> "
        sock.sendall(b"show version\n")
        answer = read_until(sock, b"> ")
        assert answer.endswith("\n\n> ") and answer.startswith("2.6.")
        # A prompt after each command of a line; quit closes without one.
        sock.sendall(b"show version;show version\nquit;show version\n")
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
        version = answer[:-2]
        assert data.decode() == version + "> " + version + "> "
    # Non-interactive: commands separated by ';', lines sent together, then it closes.
    assert ask(path, "show version;show version\nshow version\n").count("2.6.") == 3
    with connect(path) as sock:
        sock.sendall(b"show version\n")
        assert read_until(sock, b"\n\n").startswith("2.6.")
        assert sock.recv(4096) == b""  # closed after its line


def test_stats_socket_on_an_inherited_descriptor(sluice_bin, tmp_path):
    """`stats socket fd@N`: a TCP socket bound (not listening) by the test, passed as N."""
    origin = HttpOrigin("s1")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    cli_port = listener.getsockname()[1]
    port = free_port()
    cfg = write_cfg(tmp_path, port, origin.port, 'stats socket "fd@${CLI_FD}" level user')
    try:
        with proxy(sluice_bin, cfg, lambda: answers(cli_port), pass_fds=[listener.fileno()],
                   env={"CLI_FD": str(listener.fileno())}) as (proc, _):
            assert info(cli_port)["Pid"] == str(proc.pid)
            assert ask(cli_port, "show version\n").startswith("2.6.")
    finally:
        listener.close()
        origin.close()


@pytest.mark.skipif(UNDER_HAPROXY, reason="sluice's master")
def test_stats_socket_under_the_master_survives_reloads(sluice_bin, tmp_path):
    origin = HttpOrigin("s1")
    path = tmp_path / "admin.sock"
    port = free_port()
    cfg = write_cfg(tmp_path, port, origin.port, f"stats socket {path} level admin")
    try:
        with proxy(sluice_bin, cfg, lambda: answers(path), args=["-W"]) as (proc, log):
            log.wait_for(r"Loading success\.")
            first = info(path)["Pid"]
            assert first != str(proc.pid)  # the worker answers, not the master
            inode = os.stat(path).st_ino
            proc.send_signal(signal.SIGUSR2)
            wait_until(lambda: len([l for l in log.lines if "Loading success." in l]) == 2,
                       "the reload")
            wait_until(lambda: info(path)["Pid"] != first, "the new worker to answer")
            assert os.stat(path).st_ino == inode  # the same socket, kept by the master
    finally:
        origin.close()
