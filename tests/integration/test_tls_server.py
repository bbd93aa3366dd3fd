"""Re-encryption to servers in mode http (`server … ssl`) through the real binary: verified
connections (ca-file, sni, verifyhost), failed verifications as connect failures (503 SC--,
retries and their pause, sluice's line saying why), a stalled handshake as a connect timeout,
client certificates to servers, session resumption from one server connection to the next,
keep-alive, version and cipher settings, `verify none` and `ssl-server-verify none`, and the
configuration errors. The servers are
Python ssl servers (and `openssl s_server -www`) with certificates the tests make with the
openssl CLI. SLUICE_TEST_PROXY=haproxy runs them against HAProxy 2.6, the reference."""
import contextlib
import re
import socket
import ssl
import subprocess
import threading
import time

import pytest

from serving import (DEADLINE, HAPROXY, UNDER_HAPROXY, LogReader, RawClient, free_port,
                     http_response, listening_socket, sluice_serving, wait_until)

DATE = r"\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d\.\d{3}"


def openssl(*args, timeout=DEADLINE):
    return subprocess.run(["openssl", *map(str, args)], capture_output=True, timeout=timeout,
                          check=False)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """ca.pem (test CA); PEMs with certificate, chain and key: backend.pem (backend.test,
    signed by the CA), client.pem (CN alice, signed by the CA), rogue.pem (backend.test signed
    by rogue-ca.pem, a CA nobody trusts; without its CA in the chain), self.pem (backend.test,
    self-signed)."""
    d = tmp_path_factory.mktemp("pki")

    def run(*args):
        r = openssl(*args)
        assert r.returncode == 0, r.stderr.decode()

    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes")
    for ca, cn in (("ca", "test CA"), ("rogue-ca", "rogue CA")):
        run("req", "-x509", *ec, "-keyout", d / f"{ca}.key", "-out", d / f"{ca}.pem",
            "-days", "30", "-subj", f"/CN={cn}")

    def leaf(name, cn, san, ca="ca"):
        run("req", *ec, "-keyout", d / f"{name}.key", "-out", d / f"{name}.csr",
            "-subj", f"/CN={cn}")
        (d / f"{name}.ext").write_text(f"subjectAltName=DNS:{san}\n")
        run("x509", "-req", "-in", d / f"{name}.csr", "-CA", d / f"{ca}.pem", "-CAkey",
            d / f"{ca}.key", "-CAcreateserial", "-out", d / f"{name}.crt", "-days", "30",
            "-extfile", d / f"{name}.ext")
        chain = (d / f"{ca}.pem").read_text() if ca == "ca" else ""
        (d / f"{name}.pem").write_text((d / f"{name}.crt").read_text() + chain +
                                       (d / f"{name}.key").read_text())

    leaf("backend", "backend.test", "backend.test")
    leaf("client", "alice", "alice.clients")
    leaf("rogue", "backend.test", "backend.test", ca="rogue-ca")
    run("req", "-x509", *ec, "-keyout", d / "self.key", "-out", d / "self.crt", "-days", "30",
        "-subj", "/CN=backend.test", "-addext", "subjectAltName=DNS:backend.test")
    (d / "self.pem").write_text((d / "self.crt").read_text() + (d / "self.key").read_text())
    return d


# ---- a TLS HTTP/1.1 server ------------------------------------------------------------------

class TlsOrigin:
    """A threaded HTTP/1.1-over-TLS server on 127.0.0.1:0. Every answer is 200 with a body of
    `key=value` facts about its TLS connection: conn (index of the TCP connection), sni,
    version, cipher, reused (session resumed), cn (the client certificate's CN, or -).
    Counts accepted TCP connections; keeps handshake and read errors in `failures`."""

    def __init__(self, pem, client_ca=None, max_version=None):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(str(pem))
        if client_ca:
            self.ctx.verify_mode = ssl.CERT_REQUIRED
            self.ctx.load_verify_locations(str(client_ca))
        if max_version:
            self.ctx.maximum_version = max_version
        self.ctx.sni_callback = self._on_sni
        self.connections = 0
        self.handshakes = []  # the facts of every completed handshake, in order
        self.failures = []
        self._lock = threading.Lock()
        self._open = []
        self._threads = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()

    @staticmethod
    def _on_sni(tls_socket, name, _ctx):
        tls_socket.sni_seen = name

    def _accept(self):
        while not self.stopping:
            try:
                raw, _ = self.sock.accept()
            except OSError:
                return
            with self._lock:
                index = self.connections
                self.connections += 1
                self._open.append(raw)
                t = threading.Thread(target=self._serve, args=(raw, index), daemon=True)
                self._threads.append(t)
            t.start()

    def _serve(self, raw, index):
        raw.settimeout(DEADLINE)
        try:
            conn = self.ctx.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError) as e:
            self.failures.append(f"handshake: {e}")
            raw.close()
            return
        with self._lock:
            self._open.append(conn)
        peer = conn.getpeercert() or {}
        cn = dict(x[0] for x in peer.get("subject", ())).get("commonName", "-")
        facts = {"conn": str(index), "sni": getattr(conn, "sni_seen", None) or "-",
                 "version": conn.version(), "cipher": conn.cipher()[0],
                 "reused": str(conn.session_reused), "cn": cn}
        self.handshakes.append(facts)
        body = " ".join(f"{k}={v}" for k, v in facts.items()).encode()
        buf = b""
        try:
            while not self.stopping:
                while b"\r\n\r\n" not in buf:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
                head, _, buf = buf.partition(b"\r\n\r\n")
                assert b"content-length" not in head.lower(), head  # GETs only
                close = re.search(rb"(?im)^connection:\s*close", head) is not None
                conn.sendall(http_response(200, body, [("Connection", "close")] if close else []))
                if close:
                    return
        except (OSError, AssertionError) as e:
            if not self.stopping:
                self.failures.append(f"serving: {e!r}")
        finally:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def close(self):
        self.stopping = True
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self.sock.close()
        with self._lock:
            open_now = list(self._open)
        for s in open_now:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
        self._acceptor.join(DEADLINE)
        for t in list(self._threads):
            t.join(DEADLINE)


def facts(body):
    return dict(item.split("=", 1) for item in body.decode().split())


@contextlib.contextmanager
def tls_origin(*args, **kw):
    origin = TlsOrigin(*args, **kw)
    try:
        yield origin
    finally:
        origin.close()


# ---- the proxy ------------------------------------------------------------------------------

def proxy_cfg(tmp_path, port, backends, global_lines=()):
    """Frontend fe on port; backends {name: [lines]}; a request for /NAME goes to backend
    NAME, anything else to the first. Logs (httplog) go to stdout."""
    first = next(iter(backends))
    lines = ["global", "    nbthread 1", "    log stdout format raw local0",
             *(f"    {l}" for l in global_lines),
             "defaults", "    mode http", "    log global", "    option httplog",
             "    timeout connect 2s", "    timeout client 5s", "    timeout server 5s",
             "frontend fe", f"    bind 127.0.0.1:{port}",
             *(f"    use_backend {name} if {{ path /{name} }}" for name in backends),
             f"    default_backend {first}"]
    for name, body in backends.items():
        lines += [f"backend {name}", *(f"    {l}" for l in body)]
    cfg = tmp_path / "server-tls.cfg"
    cfg.write_text("\n".join(lines) + "\n")
    return cfg


def get(port, path, host="backend.test", client=None):
    """One GET (Connection: close unless on a given client); returns the Response."""
    if client is not None:
        return client.send(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()).response()
    with RawClient(port) as c:
        return c.send(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
                      .encode()).response()


class ProxyLog(LogReader):
    """The proxy's stdout as it comes, read for httplog lines (HAProxy logs a request once
    its stream ends, after the client has the response)."""

    def about(self, backend):
        return [l for l in list(self.lines) if f" {backend}/" in l]

    def access(self, backend):
        """(status, termination state) of each httplog line about backend, in order."""
        return [httplog_state(l) for l in self.about(backend) if httplog_state(l)]

    def wait_access(self, backend, count):
        wait_until(lambda: len(self.access(backend)) >= count,
                   f"{count} log lines about {backend}")



@contextlib.contextmanager
def serving(sluice_bin, cfg, port):
    """sluice_serving, yielding a ProxyLog of its stdout (complete once the block ends)."""
    with sluice_serving(sluice_bin, cfg, port) as proc:
        log = ProxyLog(proc)
        yield log
    log.finish()


def httplog_state(line):
    m = re.search(r" (\d{3}) \d+ - - (\S{4}) ", line)
    return (int(m.group(1)), m.group(2)) if m else None


def tls_failures(lines, backend, server="s1"):
    """The reasons of sluice's per-attempt lines about failed handshakes with a server."""
    out = []
    for l in lines:
        m = re.fullmatch(rf"127\.0\.0\.1:\d+ \[{DATE}\] fe {backend}/{server}: (.*)", l)
        if m:
            out.append(m.group(1))
    return out


def expected_failures(*reasons):
    """HAProxy logs nothing about a server's handshake: only sluice says why."""
    return [] if UNDER_HAPROXY else list(reasons)


def check(sluice_bin, cfg):
    argv = [HAPROXY, "-c", "-f", cfg] if UNDER_HAPROXY else [sluice_bin, "-c", "-f", cfg]
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True,
                          timeout=DEADLINE, check=False)


def server_line(port, pki, *options):
    return f"server s1 127.0.0.1:{port} ssl " + " ".join(
        o.format(pki=pki) for o in options)


VERIFY = "verify required ca-file {pki}/ca.pem"


def accepts(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


# ---- tests ----------------------------------------------------------------------------------

def test_verified_server_keeps_one_tls_connection_for_a_keep_alive_client(
        sluice_bin, tmp_path, pki):
    with tls_origin(pki / "backend.pem") as origin:
        port = free_port()
        cfg = proxy_cfg(tmp_path, port, {"be": [
            server_line(origin.port, pki, VERIFY, "sni str(backend.test)")]})
        with serving(sluice_bin, cfg, port) as log:
            with RawClient(port) as c:
                first = get(port, "/a", client=c)
                second = get(port, "/b", client=c)
            assert (first.status, second.status) == (200, 200)
            one, two = facts(first.body), facts(second.body)
            assert one == two, (one, two)  # the same server connection answered both
            assert one["conn"] == "0" and one["sni"] == "backend.test"
            assert one["version"] == "TLSv1.3" and one["cn"] == "-"
            assert origin.connections == 1
            log.wait_access("be", 2)
        assert log.access("be") == [(200, "----"), (200, "----")], log.lines
        assert tls_failures(log.lines, "be") == []
        assert origin.failures == []


@pytest.mark.parametrize("pem, why", [
    ("self.pem", "self-signed certificate"),
    ("rogue.pem", "unable to get local issuer certificate"),
])
def test_untrusted_server_certificate_is_a_503_sc(sluice_bin, tmp_path, pki, pem, why):
    with tls_origin(pki / pem) as origin:
        port = free_port()
        cfg = proxy_cfg(tmp_path, port, {"be": [
            "retries 0", server_line(origin.port, pki, VERIFY, "sni str(backend.test)")]})
        with serving(sluice_bin, cfg, port) as log:
            r = get(port, "/")
            assert r.status == 503
            assert b"503 Service Unavailable" in r.body
            wait_until(lambda: len(origin.failures) == 1, "the server's failed handshake")
            assert origin.handshakes == [] and origin.connections == 1
            log.wait_access("be", 1)
        assert log.access("be") == [(503, "SC--")], log.lines
        assert tls_failures(log.lines, "be") == expected_failures(
            f"server certificate rejected: {why}")


def test_retries_pause_then_503_with_one_line_per_attempt(sluice_bin, tmp_path, pki):
    with tls_origin(pki / "rogue.pem") as origin:
        port = free_port()
        cfg = proxy_cfg(tmp_path, port, {"be": [
            "retries 2", "timeout connect 400ms", server_line(origin.port, pki, VERIFY)]})
        with serving(sluice_bin, cfg, port) as log:
            start = time.monotonic()
            r = get(port, "/")
            waited = time.monotonic() - start
            assert r.status == 503
            assert origin.connections == 3  # the first attempt and two retries
            # Two pauses of min(1 s, timeout connect) between the attempts.
            assert 0.7 < waited < 3, waited
            log.wait_access("be", 1)
        assert tls_failures(log.lines, "be") == expected_failures(
            *["server certificate rejected: unable to get local issuer certificate"] * 3)
        assert log.access("be") == [(503, "SC--")], log.lines
        # The retries counter, last of the five connection counters.
        line = [l for l in log.about("be") if httplog_state(l)][0]
        assert re.search(r" \d+/\d+/\d+/\d+/2 \d+/\d+ \"GET / ", line), line


def test_a_stalled_handshake_is_a_connect_timeout(sluice_bin, tmp_path):
    mute = listening_socket(16)  # the kernel accepts; nobody ever reads the ClientHello
    try:
        port = free_port()
        cfg = proxy_cfg(tmp_path, port, {"be": [
            "retries 1", "timeout connect 300ms",
            f"server s1 127.0.0.1:{mute.getsockname()[1]} ssl verify none"]})
        with serving(sluice_bin, cfg, port) as log:
            start = time.monotonic()
            r = get(port, "/")
            waited = time.monotonic() - start
            assert r.status == 503
            log.wait_access("be", 1)
        assert log.access("be") == [(503, "sC--")], log.lines
        line = [l for l in log.about("be") if httplog_state(l)][0]
        assert re.search(r" \d+/\d+/\d+/\d+/1 \d+/\d+ \"GET / ", line), line
        # Two timeouts of 300 ms; no pause after a timeout (there is one after an error).
        assert 0.55 < waited < 0.85, waited
    finally:
        mute.close()


def test_hostname_checked_against_sni_then_verifyhost(sluice_bin, tmp_path, pki):
    with tls_origin(pki / "backend.pem") as origin:
        port = free_port()
        backends = {
            "plain": server_line(origin.port, pki, VERIFY),  # the chain only
            "vh_ok": server_line(origin.port, pki, VERIFY, "verifyhost backend.test"),
            "vh_bad": server_line(origin.port, pki, VERIFY, "verifyhost other.test"),
            "sni_bad": server_line(origin.port, pki, VERIFY, "sni str(other.test)"),
            # With an SNI, the SNI is what the certificate must match, not verifyhost.
            "sni_over_vh": server_line(origin.port, pki, VERIFY, "sni str(other.test)",
                                       "verifyhost backend.test"),
            "vh_unused": server_line(origin.port, pki, VERIFY, "sni str(backend.test)",
                                     "verifyhost other.test"),
        }
        cfg = proxy_cfg(tmp_path, port, {n: ["retries 0", l] for n, l in backends.items()})
        rejected = {"vh_bad", "sni_bad", "sni_over_vh"}
        with serving(sluice_bin, cfg, port) as log:
            answers = {name: get(port, f"/{name}") for name in backends}
            assert {n: r.status for n, r in answers.items()} == {
                n: 503 if n in rejected else 200 for n in backends}
            assert facts(answers["plain"].body)["sni"] == "-"  # no `sni`: none sent
            assert facts(answers["vh_ok"].body)["sni"] == "-"  # verifyhost is not sent
            assert facts(answers["vh_unused"].body)["sni"] == "backend.test"
            for name in backends:
                log.wait_access(name, 1)
        for name in backends:
            want = ["server certificate rejected: hostname mismatch"] if name in rejected else []
            assert tls_failures(log.lines, name) == expected_failures(*want), log.about(name)
            assert log.access(name) == [(503, "SC--") if name in rejected else (200, "----")]


def test_sni_from_the_host_header_is_sent_and_verified(sluice_bin, tmp_path, pki):
    with tls_origin(pki / "backend.pem") as origin:
        port = free_port()
        cfg = proxy_cfg(tmp_path, port, {"be": [
            "retries 0", "http-reuse never",
            server_line(origin.port, pki, VERIFY, "sni req.hdr(host)")]})
        with serving(sluice_bin, cfg, port) as log:
            r = get(port, "/", host="backend.test")
            assert r.status == 200 and facts(r.body)["sni"] == "backend.test"
            assert get(port, "/", host="other.test").status == 503
            r = get(port, "/", host="backend.test")
            assert r.status == 200 and facts(r.body)["sni"] == "backend.test"
            wait_until(lambda: len(origin.failures) == 1, "the server's failed handshake")
            log.wait_access("be", 3)
        # A failed handshake drops the kept session: the next one starts afresh.
        assert [(h["sni"], h["reused"]) for h in origin.handshakes] == [
            ("backend.test", "False"), ("backend.test", "False")]
        assert tls_failures(log.lines, "be") == expected_failures(
            "server certificate rejected: hostname mismatch")
        assert log.access("be") == [(200, "----"), (503, "SC--"), (200, "----")], log.lines


def test_sessions_resume_per_server_name(sluice_bin, tmp_path, pki):
    """http-reuse never: every request a new server connection, resuming the session of the
    last one when it was made for the same SNI; a keep-alive client keeps one connection per
    SNI."""
    with tls_origin(pki / "backend.pem") as origin:
        port = free_port()
        cfg = proxy_cfg(tmp_path, port, {
            "never": ["http-reuse never",
                      f"server s1 127.0.0.1:{origin.port} ssl verify none sni req.hdr(host)"],
            "kept": [f"server s1 127.0.0.1:{origin.port} ssl verify none sni req.hdr(host)"]})
        with serving(sluice_bin, cfg, port):
            seen = [facts(get(port, "/never", host=h).body)
                    for h in ("a.test", "a.test", "b.test", "b.test", "a.test")]
            assert [(f["conn"], f["sni"], f["reused"]) for f in seen] == [
                ("0", "a.test", "False"), ("1", "a.test", "True"), ("2", "b.test", "False"),
                ("3", "b.test", "True"), ("4", "a.test", "False")]
            with RawClient(port) as c:
                seen = [facts(get(port, "/kept", host=h, client=c).body)
                        for h in ("a.test", "b.test", "a.test")]
            # A connection made for one name never carries a request for another.
            assert [(f["conn"], f["sni"]) for f in seen] == [
                ("5", "a.test"), ("6", "b.test"), ("5", "a.test")]


def test_openssl_s_server_sees_resumption_unless_no_ssl_reuse(sluice_bin, tmp_path, pki):
    server_port = free_port()
    s_server = subprocess.Popen(
        ["openssl", "s_server", "-www", "-accept", f"127.0.0.1:{server_port}",
         "-cert", str(pki / "backend.pem"), "-key", str(pki / "backend.pem")],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: s_server.poll() is not None or accepts(server_port),
                   "openssl s_server")
        assert s_server.poll() is None
        port = free_port()
        server = f"server s1 127.0.0.1:{server_port} ssl {VERIFY.format(pki=pki)} " \
            "sni str(backend.test)"
        cfg = proxy_cfg(tmp_path, port, {"reuse": ["http-reuse never", server],
                                         "fresh": ["http-reuse never", server + " no-ssl-reuse"]})
        with serving(sluice_bin, cfg, port):
            def kinds(path):
                out = []
                for _ in range(3):
                    r = get(port, path)
                    assert r.status == 200, r
                    m = re.search(rb"\n(New|Reused), (TLSv[\d.]+)", r.body)
                    assert m, r.body[:500]
                    out.append((m.group(1).decode(), m.group(2).decode()))
                return out
            assert kinds("/reuse") == [("New", "TLSv1.3")] + [("Reused", "TLSv1.3")] * 2
            assert kinds("/fresh") == [("New", "TLSv1.3")] * 3
    finally:
        s_server.terminate()
        s_server.wait(DEADLINE)


def test_client_certificate_presented_to_a_server_requiring_one(sluice_bin, tmp_path, pki):
    with tls_origin(pki / "backend.pem", client_ca=pki / "ca.pem") as origin:
        port = free_port()
        cfg = proxy_cfg(tmp_path, port, {
            "with_crt": [server_line(origin.port, pki, VERIFY, "crt {pki}/client.pem")],
            # TLS 1.2: the server refuses within the handshake, a connect failure. (In TLS 1.3
            # the client's handshake is over before the server's refusal arrives: sluice
            # answers 502 SH--, HAProxy mostly too but 503 SC-- when the alert comes early
            # enough; not tested.)
            "tls12": ["retries 0", server_line(origin.port, pki, VERIFY, "ssl-max-ver TLSv1.2")]})
        with serving(sluice_bin, cfg, port) as log:
            r = get(port, "/with_crt")
            assert r.status == 200
            got = facts(r.body)
            assert (got["cn"], got["version"]) == ("alice", "TLSv1.3")
            assert get(port, "/tls12").status == 503
            wait_until(lambda: len(origin.failures) == 1, "the server's refusal")
            assert "PEER_DID_NOT_RETURN_A_CERTIFICATE" in origin.failures[0]
            for name in ("with_crt", "tls12"):
                log.wait_access(name, 1)
        assert log.access("with_crt") == [(200, "----")]
        assert log.access("tls12") == [(503, "SC--")], log.lines
        # OpenSSL's reason: the alert the server sent.
        assert tls_failures(log.lines, "tls12") == expected_failures(
            "SSL handshake with the server failed: sslv3 alert handshake failure")


def test_versions_and_ciphers_to_the_server(sluice_bin, tmp_path, pki):
    with tls_origin(pki / "backend.pem", max_version=ssl.TLSVersion.TLSv1_2) as origin:
        port = free_port()
        cfg = proxy_cfg(tmp_path, port, {
            "chacha": [server_line(origin.port, pki, VERIFY,
                                   "ciphers ECDHE-ECDSA-CHACHA20-POLY1305")],
            "aes": [server_line(origin.port, pki, VERIFY,
                                "ciphers ECDHE-ECDSA-AES128-GCM-SHA256")],
            "tls13": ["retries 0", server_line(origin.port, pki, VERIFY,
                                               "ssl-min-ver TLSv1.3")]})
        with serving(sluice_bin, cfg, port) as log:
            got = facts(get(port, "/chacha").body)
            assert (got["version"], got["cipher"]) == ("TLSv1.2", "ECDHE-ECDSA-CHACHA20-POLY1305")
            got = facts(get(port, "/aes").body)
            assert (got["version"], got["cipher"]) == ("TLSv1.2", "ECDHE-ECDSA-AES128-GCM-SHA256")
            assert get(port, "/tls13").status == 503
            log.wait_access("tls13", 1)
        assert log.access("tls13") == [(503, "SC--")], log.lines
        failures = tls_failures(log.lines, "tls13")
        if UNDER_HAPROXY:
            assert failures == []
        else:  # the server answers TLS 1.3 only hello with an alert
            assert failures == ["SSL handshake with the server failed: "
                                "tlsv1 alert protocol version"], log.lines


def test_verify_none_and_ssl_server_verify_none_accept_any_certificate(
        sluice_bin, tmp_path, pki):
    with tls_origin(pki / "rogue.pem") as origin:
        port = free_port()
        cfg = proxy_cfg(tmp_path, port, {
            "none": [f"server s1 127.0.0.1:{origin.port} ssl verify none"],
            "checked": ["retries 0", server_line(origin.port, pki, VERIFY)]})
        with serving(sluice_bin, cfg, port):
            assert get(port, "/none").status == 200
            assert get(port, "/checked").status == 503
        port = free_port()
        cfg = proxy_cfg(tmp_path, port, {"be": [f"server s1 127.0.0.1:{origin.port} ssl"]},
                        global_lines=["ssl-server-verify none"])
        with serving(sluice_bin, cfg, port):
            r = get(port, "/")
            assert r.status == 200 and facts(r.body)["version"] == "TLSv1.3"


def test_ssl_server_without_a_ca_file_is_a_configuration_error(sluice_bin, tmp_path):
    port = free_port()
    cfg = proxy_cfg(tmp_path, port, {"be": ["server s1 127.0.0.1:1 ssl"]})
    r = check(sluice_bin, cfg)
    assert r.returncode == 1, r
    assert "no CA file specified" in r.stdout + r.stderr
    cfg = proxy_cfg(tmp_path, port, {"be": ["server s1 127.0.0.1:1 ssl"]},
                    global_lines=["ssl-server-verify none"])
    r = check(sluice_bin, cfg)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.skipif(UNDER_HAPROXY, reason="HAProxy speaks HTTP/2 to servers; sluice does not "
                    "yet and refuses to start")
def test_alpn_h2_to_servers_is_refused(sluice_bin, tmp_path):
    port = free_port()
    cfg = proxy_cfg(tmp_path, port, {"be": ["server s1 127.0.0.1:1 ssl verify none alpn h2"]})
    r = subprocess.run([str(sluice_bin), "-f", str(cfg)], capture_output=True, text=True,
                       timeout=DEADLINE, check=False)
    assert r.returncode == 1
    assert "server-tls.cfg:16: HTTP/2 to servers (server 'alpn h2') is not served by this " \
        "build yet" in r.stderr, r.stderr
    assert not accepts(port)
