"""HAProxy's regression harness (VTest) drives the binary in one precise way; a drop-in must
run such a harness unchanged. This test does what VTest does, end to end: gate on `-cc`,
pre-bind the sockets and pass their numbers in the environment, write a `global` with
`stats socket PATH level admin mode 600` and `stats socket "fd@${cli}" level admin`, start
`-d -dM -dI -dW -f cfg`, then talk HTTP through `fd@${fe_1}` and the CLI through both
stats sockets. Runs against HAProxy too (SLUICE_TEST_PROXY=haproxy)."""
import os
import signal
import socket
import subprocess

from serving import DEADLINE, HttpOrigin, LogReader, proxy_argv, stop, wait_until
from test_addresses import get
from test_stats_socket import answers, ask, info
from test_tooling import binary


def vtest_cfg(tmp_path, origin_port):
    cfg = tmp_path / "h1.cfg"
    cfg.write_text(f"""global
    stats socket "{tmp_path}/stats.sock" level admin mode 600
    stats socket "fd@${{cli}}" level admin

defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s

.if feature(OPENSSL) && version_atleast(2.5-dev0)
frontend fe1
    bind "fd@${{fe_1}}"
    http-response set-header X-Harness "${{HARNESS_NAME-unset}}"
    default_backend be1
.else
    .alert "this harness needs OpenSSL and HAProxy 2.5 or later"
.endif

backend be1
    server s1 127.0.0.1:{origin_port}
""")
    return cfg


def test_a_vtest_style_harness_runs_unchanged(sluice_bin, tmp_path):
    program = binary(sluice_bin)
    # VTest's `feature cmd "$HAPROXY_PROGRAM -cc '…'"` gates.
    for condition, code in [("version_atleast(2.5-dev0)", 0), ("feature(OPENSSL)", 0),
                            ("feature(QUIC) || version_before(2.0)", 1)]:
        assert subprocess.run([str(program), "-cc", condition],
                              timeout=DEADLINE).returncode == code, condition

    origin = HttpOrigin("s1")
    fe = socket.socket()
    fe.bind(("127.0.0.1", 0))
    fe.listen(64)
    cli = socket.socket()
    cli.bind(("127.0.0.1", 0))
    cli.listen(64)
    fe_port, cli_port = fe.getsockname()[1], cli.getsockname()[1]
    env = {"fe_1": str(fe.fileno()), "cli": str(cli.fileno()), "HARNESS_NAME": "h1"}
    stats_path = tmp_path / "stats.sock"
    argv = proxy_argv(sluice_bin, vtest_cfg(tmp_path, origin.port))
    argv[1:1] = ["-d", "-dM", "-dI", "-dW"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            pass_fds=[fe.fileno(), cli.fileno()], env={**os.environ, **env})
    events = LogReader(proc)  # -d writes its events on stdout, as HAProxy does
    errors = LogReader(proc, proc.stderr)
    try:
        wait_until(lambda: proc.poll() is not None or answers(stats_path), "the proxy to serve")
        assert proc.poll() is None, f"exited early: {errors.lines}"
        conns_before = int(info(cli_port)["CumConns"])
        status, _ = get(fe_port)
        assert status == 200
        assert origin.requests, "the origin saw nothing"
        # Both stats sockets are the same process's runtime API.
        assert info(cli_port)["Pid"] == str(proc.pid)
        assert info(stats_path)["Pid"] == str(proc.pid)
        assert oct(os.stat(stats_path).st_mode & 0o777) == "0o600"
        assert int(info(cli_port)["CumConns"]) >= conns_before + 1
        assert ask(cli_port, "show version\n").startswith("2.6.")
        # -d: an accept line per connection, in HAProxy's layout.
        events.wait_for(r"^[0-9a-f]{8}:fe1\.accept\([0-9a-f]{4}\)=[0-9a-f]{4} "
                        r"from \[127\.0\.0\.1:\d+\] ALPN=<none>$")
        proc.send_signal(signal.SIGTERM)
        # HAProxy 2.6 dies of the signal, sluice exits 0: either way it stopped at once.
        assert proc.wait(timeout=DEADLINE) in (0, -signal.SIGTERM)
    finally:
        stop(proc)
        fe.close()
        cli.close()
        origin.close()


def test_the_harness_config_with_a_warning_is_refused_under_dW(sluice_bin, tmp_path):
    """VTest runs every test with -dW: a warning must fail the start, with exit 1."""
    origin = HttpOrigin("s1")
    cfg = vtest_cfg(tmp_path, origin.port)
    cfg.write_text(cfg.read_text().replace("    timeout client 10s\n", ""))  # a warning
    fe = socket.socket()
    fe.bind(("127.0.0.1", 0))
    cli = socket.socket()
    cli.bind(("127.0.0.1", 0))
    try:
        argv = proxy_argv(sluice_bin, cfg)
        argv[1:1] = ["-d", "-dM", "-dI", "-dW"]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=DEADLINE,
                              pass_fds=[fe.fileno(), cli.fileno()],
                              env={**os.environ, "fe_1": str(fe.fileno()),
                                   "cli": str(cli.fileno())})
        assert done.returncode == 1, done.stderr
        assert "timeout" in done.stderr
    finally:
        fe.close()
        cli.close()
        origin.close()
