"""TLS termination through the real binary with real clients (Python ssl, `openssl s_client`,
curl): certificates and SNI, protocol and cipher defaults, ALPN, resumption, TLS facts in
rules, the HTTP->HTTPS redirect and HSTS example, and bad input on a TLS port. Certificates
are made by the tests with the openssl CLI. SLUICE_TEST_PROXY=haproxy runs them against
HAProxy 2.6, the reference."""
import base64
import http.client
import os
import re
import socket
import ssl
import subprocess
import time

import pytest

from serving import (DEADLINE, UNDER_HAPROXY, HttpOrigin, LogReader, Origin, accepts, free_port,
                     proxy_argv, reply, serve_in_threads, sluice_serving, wait_until)

DATE = r"\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d\.\d{3}"


def openssl(*args, stdin=b"", timeout=DEADLINE):
    return subprocess.run(["openssl", *args], input=stdin, capture_output=True,
                          timeout=timeout, check=False)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA and leaf certificates it signed, each a PEM with chain and key:
    ecdsa.pem (example.com, www.example.com), rsa.pem (example.com, RSA),
    wild.pem (*.example.net), dir/{a-other.pem (other.org), b-third.pem (third.org)}."""
    d = tmp_path_factory.mktemp("pki")

    def run(*args):
        r = openssl(*args)
        assert r.returncode == 0, r.stderr.decode()

    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", d / "ca.key", "-out", d / "ca.pem", "-days", "30", "-subj", "/CN=test CA")

    def leaf(name, cn, sans, key=("ec", "-pkeyopt", "ec_paramgen_curve:P-256")):
        run("req", "-newkey", *key, "-nodes", "-keyout", d / f"{name}.key", "-out",
            d / f"{name}.csr", "-subj", f"/CN={cn}")
        ext = d / f"{name}.ext"
        ext.write_text("subjectAltName=" + ",".join(f"DNS:{s}" for s in sans) + "\n")
        run("x509", "-req", "-in", d / f"{name}.csr", "-CA", d / "ca.pem", "-CAkey",
            d / "ca.key", "-CAcreateserial", "-out", d / f"{name}.crt", "-days", "30",
            "-extfile", ext)
        return (d / f"{name}.crt").read_text() + (d / "ca.pem").read_text() + \
            (d / f"{name}.key").read_text()

    (d / "ecdsa.pem").write_text(leaf("ecdsa", "example.com", ["example.com", "www.example.com"]))
    (d / "rsa.pem").write_text(leaf("rsa", "example.com", ["example.com"], key=("rsa:2048",)))
    (d / "wild.pem").write_text(leaf("wild", "*.example.net", ["*.example.net"]))
    (d / "dir").mkdir()
    (d / "dir" / "a-other.pem").write_text(leaf("other", "other.org", ["other.org"]))
    (d / "dir" / "b-third.pem").write_text(leaf("third", "third.org", ["third.org"]))
    # Client certificates: one good, one revoked by crl.pem, one from a CA nobody trusts.
    for name, cn in (("client", "alice"), ("revoked", "mallory")):
        (d / f"{name}.pem").write_text(leaf(name, cn, [f"{cn}.clients"]))
    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", d / "rogue.key", "-out", d / "rogue.pem", "-days", "30", "-subj", "/CN=rogue")
    (d / "rogue.pem").write_text((d / "rogue.pem").read_text() + (d / "rogue.key").read_text())
    (d / "index.txt").write_text("")
    (d / "crlnumber").write_text("01\n")
    (d / "ca.cnf").write_text(f"[ca]\ndefault_ca=d\n[d]\ndatabase={d}/index.txt\n"
                              f"crlnumber={d}/crlnumber\ndefault_md=sha256\n"
                              f"default_crl_days=30\ncertificate={d}/ca.pem\n"
                              f"private_key={d}/ca.key\n")
    run("ca", "-config", d / "ca.cnf", "-revoke", d / "revoked.crt")
    run("ca", "-config", d / "ca.cnf", "-gencrl", "-out", d / "crl.pem")
    return d


def tls_cfg(tmp_path, port, bind_options, servers=(), frontend=(), global_lines=(),
            client_timeout="5s"):
    lines = ["global", "    nbthread 1", "    log stdout format raw local0", *global_lines,
             "defaults", "    mode http", "    log global", "    option httplog",
             "    timeout connect 2s", f"    timeout client {client_timeout}",
             "    timeout server 5s",
             "frontend fe", f"    bind 127.0.0.1:{port} ssl {bind_options}",
             *(f"    {l}" for l in frontend), "    default_backend be",
             "backend be", *(f"    server {n} 127.0.0.1:{p}" for n, p in servers)]
    cfg = tmp_path / "tls.cfg"
    cfg.write_text("\n".join(lines) + "\n")
    return cfg


def client_context(pki, **kw):
    ctx = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    for k, v in kw.items():
        setattr(ctx, k, v)
    return ctx


def https_get(port, ctx, host="example.com", path="/"):
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=DEADLINE)
    # SNI and the certificate check use the Host name, the socket goes to loopback.
    conn.host = host
    conn._create_connection = lambda addr, timeout, source: socket.create_connection(
        ("127.0.0.1", port), timeout)
    conn.request("GET", path, headers={"Host": host})
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r, body


def presented(port, servername=None, *extra):
    """The subject CN and key type of the certificate sluice presents, via s_client."""
    args = ["s_client", "-connect", f"127.0.0.1:{port}", *extra]
    if servername:
        args += ["-servername", servername]
    r = openssl(*args)
    out = r.stdout.decode(errors="replace")
    subject = re.search(r"subject=.*?CN\s*=\s*([^\n,/]+)", out)
    key = re.search(r"Server public key is (\d+) bit", out)
    peer = re.search(r"Peer signature type: (\S+)", out)
    return (subject.group(1).strip() if subject else None,
            key.group(1) if key else None, peer.group(1) if peer else None, out)


def test_https_request_reaches_origin_with_tls_facts(sluice_bin, tmp_path, pki):
    origin = HttpOrigin("s1", reply(body=b"hello"))
    port = free_port()
    cfg = tls_cfg(tmp_path, port, f"crt {pki}/ecdsa.pem", [("s1", origin.port)], frontend=[
        "http-request set-header X-Forwarded-Proto https if { ssl_fc }",
        "http-request set-header X-TLS %[ssl_fc_protocol]/%[ssl_fc_sni]/%[ssl_fc_cipher]"])
    try:
        with sluice_serving(sluice_bin, cfg, port):
            r, body = https_get(port, client_context(pki), "www.example.com")
            assert (r.status, body) == (200, b"hello")
            seen = origin.requests[-1]
            assert seen.header("x-forwarded-proto") == ["https"]
            proto, sni, cipher = seen.header("x-tls")[0].split("/")
            assert proto == "TLSv1.3" and sni == "www.example.com"
            assert cipher.startswith("TLS_AES_") or cipher.startswith("TLS_CHACHA20")
            # curl, checking the chain against the test CA.
            out = subprocess.run(["curl", "-sS", "--cacert", str(pki / "ca.pem"), "--resolve",
                                  f"example.com:{port}:127.0.0.1", f"https://example.com:{port}/"],
                                 capture_output=True, timeout=DEADLINE, check=False)
            assert out.returncode == 0 and out.stdout == b"hello", out.stderr
    finally:
        origin.close()


def test_redirect_to_https_and_hsts(sluice_bin, tmp_path, pki):
    origin = HttpOrigin("s1", reply(body=b"ok"))
    plain, secure = free_port(), free_port()
    cfg = tmp_path / "redirect.cfg"
    cfg.write_text("\n".join([
        "defaults", "    mode http", "    timeout connect 2s", "    timeout client 5s",
        "    timeout server 5s",
        "frontend fe", f"    bind 127.0.0.1:{plain}",
        f"    bind 127.0.0.1:{secure} ssl crt {pki}/ecdsa.pem alpn h2,http/1.1",
        "    http-request set-header X-Forwarded-Proto https if { ssl_fc }",
        "    redirect scheme https code 301 if !{ ssl_fc }",
        '    http-response set-header Strict-Transport-Security "max-age=63072000" if { ssl_fc }',
        "    default_backend be", "backend be", f"    server s1 127.0.0.1:{origin.port}"]) + "\n")
    try:
        with sluice_serving(sluice_bin, cfg, secure):
            conn = http.client.HTTPConnection("127.0.0.1", plain, timeout=DEADLINE)
            conn.request("GET", "/a?b=1", headers={"Host": "example.com"})
            r = conn.getresponse()
            assert r.status == 301
            assert r.getheader("location") == "https://example.com/a?b=1"
            assert r.getheader("strict-transport-security") is None
            conn.close()
            assert origin.requests == []
            r, body = https_get(secure, client_context(pki), "example.com", "/a?b=1")
            assert (r.status, body) == (200, b"ok")
            assert r.getheader("strict-transport-security") == "max-age=63072000"
            assert origin.requests[-1].header("x-forwarded-proto") == ["https"]
    finally:
        origin.close()


def test_sni_selects_exact_wildcard_then_default(sluice_bin, tmp_path, pki):
    port = free_port()
    cfg = tls_cfg(tmp_path, port,
                  f"crt {pki}/ecdsa.pem crt {pki}/wild.pem crt {pki}/dir",
                  frontend=["http-request return status 200"])
    with sluice_serving(sluice_bin, cfg, port):
        assert presented(port, "www.example.com")[0] == "example.com"
        assert presented(port, "WWW.Example.COM")[0] == "example.com"  # names are case-blind
        assert presented(port, "a.example.net")[0] == "*.example.net"
        assert presented(port, "a.b.example.net")[0] == "example.com"  # one label only
        assert presented(port, "other.org")[0] == "other.org"  # from the directory
        assert presented(port, "third.org")[0] == "third.org"
        assert presented(port, "unknown.test")[0] == "example.com"  # the first crt
        assert presented(port)[0] == "example.com"  # no SNI: the default


def test_crt_directory_default_is_first_in_lexical_order(sluice_bin, tmp_path, pki):
    port = free_port()
    cfg = tls_cfg(tmp_path, port, f"crt {pki}/dir", frontend=["http-request return status 200"])
    with sluice_serving(sluice_bin, cfg, port):
        assert presented(port, "nothing.test")[0] == "other.org"


def test_strict_sni_refuses_unknown_names(sluice_bin, tmp_path, pki):
    port = free_port()
    cfg = tls_cfg(tmp_path, port, f"strict-sni crt {pki}/ecdsa.pem",
                  frontend=["http-request return status 200"])
    with sluice_serving(sluice_bin, cfg, port) as proc:
        assert presented(port, "example.com")[0] == "example.com"
        with pytest.raises(ssl.SSLError):
            https_get(port, client_context(pki, check_hostname=False,
                                           verify_mode=ssl.CERT_NONE), "unknown.test")
        with pytest.raises(ssl.SSLError):  # no SNI at all
            ctx = client_context(pki, check_hostname=False, verify_mode=ssl.CERT_NONE)
            with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as s:
                ctx.wrap_socket(s).close()
        r, _ = https_get(port, client_context(pki), "example.com")
        assert r.status == 200
    assert "fe/1: SSL handshake failure" in proc.stdout.read()


@pytest.mark.skipif(UNDER_HAPROXY, reason="HAProxy 2.6 sends the ECDSA certificate to every "
                    "client naming it: an RSA-only client fails the handshake")
def test_ecdsa_to_clients_that_take_it_rsa_to_the_rest(sluice_bin, tmp_path, pki):
    port = free_port()
    cfg = tls_cfg(tmp_path, port, f"crt {pki}/rsa.pem crt {pki}/ecdsa.pem",
                  frontend=["http-request return status 200"])
    with sluice_serving(sluice_bin, cfg, port):
        _, bits, _, out = presented(port, "example.com")
        assert bits == "256", out  # TLS 1.3 with ECDSA signatures: the P-256 key
        _, bits, _, out = presented(port, "example.com", "-tls1_3", "-sigalgs",
                                    "rsa_pss_rsae_sha256")
        assert bits == "2048", out
        # A TLS 1.2 client that signs with ECDSA but offers only ECDHE-RSA suites.
        _, bits, _, out = presented(port, "example.com", "-tls1_2", "-cipher",
                                    "ECDHE-RSA-AES128-GCM-SHA256")
        assert bits == "2048", out
        _, bits, _, out = presented(port, "example.com", "-tls1_2", "-cipher",
                                    "ECDHE-ECDSA-AES128-GCM-SHA256")
        assert bits == "256", out
        _, bits, _, out = presented(port, None, "-tls1_2", "-sigalgs", "RSA+SHA256")
        assert bits == "2048", out  # the default name has both keys too


def negotiated(port, *args):
    r = openssl("s_client", "-connect", f"127.0.0.1:{port}", "-servername", "example.com", *args)
    out = r.stdout.decode(errors="replace")
    m = re.search(r"New, (\S+), Cipher is (\S+)", out)
    return (m.group(1), m.group(2)) if m and m.group(1) != "(NONE)" else None


def test_defaults_are_tls12_and_13_with_intermediate_ciphers(sluice_bin, tmp_path, pki):
    port = free_port()
    cfg = tls_cfg(tmp_path, port, f"crt {pki}/ecdsa.pem crt {pki}/rsa.pem",
                  frontend=["http-request return status 200"])
    with sluice_serving(sluice_bin, cfg, port):
        assert negotiated(port, "-tls1_3") == ("TLSv1.3", "TLS_AES_256_GCM_SHA384")
        # The server's order: Mozilla's list puts AES-128-GCM first (HAProxy takes OpenSSL's
        # default list, AES-256-GCM first).
        first = "ECDHE-ECDSA-AES256-GCM-SHA384" if UNDER_HAPROXY else "ECDHE-ECDSA-AES128-GCM-SHA256"
        assert negotiated(port, "-tls1_2") == ("TLSv1.2", first)
        assert negotiated(port, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0") is None
        assert negotiated(port, "-tls1", "-cipher", "DEFAULT@SECLEVEL=0") is None
        if not UNDER_HAPROXY:  # HAProxy takes OpenSSL's list, CBC suites included
            # Not in Mozilla's intermediate list: CBC, no forward secrecy.
            assert negotiated(port, "-tls1_2", "-cipher", "AES128-SHA") is None
            assert negotiated(port, "-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA") is None


def test_version_bounds_and_ciphers_from_the_bind(sluice_bin, tmp_path, pki):
    port = free_port()
    cfg = tls_cfg(tmp_path, port,
                  f"crt {pki}/ecdsa.pem ssl-max-ver TLSv1.2 ciphers ECDHE-ECDSA-CHACHA20-POLY1305",
                  frontend=["http-request return status 200"])
    with sluice_serving(sluice_bin, cfg, port):
        assert negotiated(port) == ("TLSv1.2", "ECDHE-ECDSA-CHACHA20-POLY1305")
        assert negotiated(port, "-tls1_3") is None
    port = free_port()
    cfg = tls_cfg(tmp_path, port, f"crt {pki}/ecdsa.pem ssl-min-ver TLSv1.3",
                  frontend=["http-request return status 200"],
                  global_lines=["    ssl-default-bind-ciphersuites TLS_CHACHA20_POLY1305_SHA256"])
    with sluice_serving(sluice_bin, cfg, port):
        assert negotiated(port) == ("TLSv1.3", "TLS_CHACHA20_POLY1305_SHA256")
        assert negotiated(port, "-tls1_2") is None


def alpn_of(port, offer):
    r = openssl("s_client", "-connect", f"127.0.0.1:{port}", "-servername", "example.com",
                "-alpn", offer)
    out = r.stdout.decode(errors="replace")
    m = re.search(r"ALPN protocol: (\S+)", out)
    return m.group(1) if m else None


@pytest.mark.skipif(UNDER_HAPROXY, reason="HAProxy serves h2: it selects it")
def test_alpn_selects_the_binds_protocols_in_its_order(sluice_bin, tmp_path, pki):
    """`alpn h2,http/1.1`: h2 for a client offering both (the bind's order wins), http/1.1
    for one offering only that; a bind saying `alpn http/1.1` gives an h2-only client
    none."""
    origin = HttpOrigin("s1", reply(body=b"ok"))
    port, plain_port = free_port(), free_port()
    cfg = tls_cfg(tmp_path, port, f"crt {pki}/ecdsa.pem alpn h2,http/1.1", [("s1", origin.port)],
                  frontend=["http-request set-header X-ALPN %[ssl_fc_alpn]",
                            f"bind 127.0.0.1:{plain_port} ssl crt {pki}/ecdsa.pem alpn http/1.1"])
    try:
        with sluice_serving(sluice_bin, cfg, port):
            assert alpn_of(port, "http/1.1,h2") == "h2"
            assert alpn_of(port, "h2") == "h2"
            assert alpn_of(port, "http/1.1") == "http/1.1"
            assert alpn_of(plain_port, "h2") is None
            ctx = client_context(pki)
            ctx.set_alpn_protocols(["http/1.1"])
            r, body = https_get(port, ctx)
            assert (r.status, body) == (200, b"ok")
            assert origin.requests[-1].header("x-alpn") == ["http/1.1"]
    finally:
        origin.close()


def resumed(port, tmp_path, *args):
    sess = tmp_path / "session.pem"
    base = ["s_client", "-connect", f"127.0.0.1:{port}", "-servername", "example.com", *args]
    # The request makes the client read the server's tickets before it saves the session.
    first = openssl(*base, "-sess_out", sess, "-ign_eof",
                    stdin=b"GET / HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n")
    assert b"200" in first.stdout, first.stdout
    second = openssl(*base, "-sess_in", sess, stdin=b"")
    return b"Reused," in second.stdout


def test_session_resumption_by_ticket_and_by_cache(sluice_bin, tmp_path, pki):
    port = free_port()
    cfg = tls_cfg(tmp_path, port, f"crt {pki}/ecdsa.pem",
                  frontend=["http-request return status 200"])
    with sluice_serving(sluice_bin, cfg, port):
        assert resumed(port, tmp_path, "-tls1_3")
        assert resumed(port, tmp_path, "-tls1_2")
    port = free_port()
    cfg = tls_cfg(tmp_path, port, f"crt {pki}/ecdsa.pem no-tls-tickets",
                  frontend=["http-request return status 200"])
    with sluice_serving(sluice_bin, cfg, port):
        assert resumed(port, tmp_path, "-tls1_2")  # the session cache, by session ID
        assert resumed(port, tmp_path, "-tls1_2", "-no_ticket")


def saved_session(port, path, *args):
    """A TLS 1.2 session by ID (no ticket) saved to `path`; whether it was itself resumed."""
    base = ["s_client", "-connect", f"127.0.0.1:{port}", "-servername", "example.com",
            "-tls1_2", "-no_ticket", *args]
    r = openssl(*base, "-ign_eof",
                stdin=b"GET / HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n")
    assert b"200" in r.stdout, r.stdout
    return b"Reused," in r.stdout


@pytest.mark.parametrize("tls13_tickets", [False, pytest.param(True, marks=pytest.mark.skipif(
    UNDER_HAPROXY, reason="HAProxy's cache also stores the TLS 1.3 sessions its tickets carry"))])
def test_session_cache_size_evicts_the_oldest(sluice_bin, tmp_path, pki, tls13_tickets):
    """tune.ssl.cachesize 2: a third session by ID pushes out the first; TLS 1.3 sessions
    carried by tickets take no room in the cache."""
    port = free_port()
    cfg = tls_cfg(tmp_path, port, f"crt {pki}/ecdsa.pem", global_lines=["    tune.ssl.cachesize 2"],
                  frontend=["http-request return status 200"])
    a, b, c = (tmp_path / f"{n}.pem" for n in "abc")
    with sluice_serving(sluice_bin, cfg, port):
        for session in (a, b):
            assert not saved_session(port, session, "-sess_out", session)
        if tls13_tickets:
            for _ in range(3):
                assert resumed(port, tmp_path, "-tls1_3")
        else:
            assert not saved_session(port, c, "-sess_out", c)
        assert saved_session(port, b, "-sess_in", b)
        assert saved_session(port, a, "-sess_in", a) == tls13_tickets


def ticket_keys(path, keys):
    path.write_text("".join(base64.b64encode(k).decode() + "\n" for k in keys))
    return path


def session_between(tmp_path, from_port, to_port, *args):
    """Whether a session (ticket) from one listener is resumed by another."""
    sess = tmp_path / "moved.pem"
    base = ["s_client", "-servername", "example.com", *args]
    first = openssl(*base, "-connect", f"127.0.0.1:{from_port}", "-sess_out", sess, "-ign_eof",
                    stdin=b"GET / HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n")
    assert b"200" in first.stdout, first.stdout
    second = openssl(*base, "-connect", f"127.0.0.1:{to_port}", "-sess_in", sess, stdin=b"")
    return b"Reused," in second.stdout


def test_tls_ticket_keys_rotate_by_appending(sluice_bin, tmp_path, pki):
    """The last three keys decrypt, the middle one encrypts: a listener whose file has one
    more key appended resumes the tickets of the one before; another key set does not."""
    keys = [os.urandom(80) for _ in range(4)]
    old = ticket_keys(tmp_path / "old.keys", keys[:3])
    new = ticket_keys(tmp_path / "new.keys", keys)
    other = ticket_keys(tmp_path / "other.keys", [os.urandom(80) for _ in range(3)])
    ports = [free_port() for _ in range(3)]
    cfg = tls_cfg(tmp_path, ports[0], f"crt {pki}/ecdsa.pem tls-ticket-keys {old}",
                  frontend=[f"bind 127.0.0.1:{ports[1]} ssl crt {pki}/ecdsa.pem "
                            f"tls-ticket-keys {new}",
                            f"bind 127.0.0.1:{ports[2]} ssl crt {pki}/ecdsa.pem "
                            f"tls-ticket-keys {other}",
                            "http-request return status 200"])
    with sluice_serving(sluice_bin, cfg, ports[0]):
        for version in ("-tls1_2", "-tls1_3"):
            assert session_between(tmp_path, ports[0], ports[1], version)
            assert not session_between(tmp_path, ports[0], ports[2], version)
            # Rotated twice more, the old encryption key is gone from `other`.
            assert not session_between(tmp_path, ports[1], ports[2], version)


@pytest.mark.skipif(UNDER_HAPROXY, reason="runs both proxies side by side")
def test_tls_ticket_keys_resume_haproxy_sessions(sluice_bin, tmp_path, pki):
    """A fleet sharing a key file may mix HAProxy and sluice: each resumes the other's."""
    keys = ticket_keys(tmp_path / "fleet.keys", [os.urandom(48) for _ in range(3)])
    ours, theirs = free_port(), free_port()
    cfg = tls_cfg(tmp_path, ours, f"crt {pki}/ecdsa.pem tls-ticket-keys {keys}",
                  frontend=["http-request return status 200"])
    haproxy_cfg = tmp_path / "haproxy.cfg"
    haproxy_cfg.write_text(cfg.read_text().replace(f"127.0.0.1:{ours}", f"127.0.0.1:{theirs}"))
    haproxy = subprocess.Popen(["haproxy", "-db", "-f", str(haproxy_cfg)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: accepts(theirs), "haproxy listening")
        with sluice_serving(sluice_bin, cfg, ours):
            for version in ("-tls1_2", "-tls1_3"):
                assert session_between(tmp_path, theirs, ours, version)
                assert session_between(tmp_path, ours, theirs, version)
    finally:
        haproxy.terminate()
        haproxy.wait(timeout=DEADLINE)


@pytest.mark.parametrize("content, said", [
    ("short\n", "line 1: not a base64 key of 48 or 80 bytes"),
    ("{k48}\n{k80}\n{k48}\n", "line 2: 48- and 80-byte keys cannot be mixed"),
    ("{k48}\n{k48}\n", "must hold at least 3 keys"),
])
def test_bad_tls_ticket_keys_file_is_a_check_error(sluice_bin, tmp_path, pki, content, said):
    k48, k80 = (base64.b64encode(os.urandom(n)).decode() for n in (48, 80))
    keys = tmp_path / "bad.keys"
    keys.write_text(content.format(k48=k48, k80=k80))
    cfg = tls_cfg(tmp_path, free_port(), f"crt {pki}/ecdsa.pem tls-ticket-keys {keys}")
    r = subprocess.run([*proxy_argv(sluice_bin, cfg), "-c"], capture_output=True, text=True,
                       timeout=DEADLINE, check=False)
    assert r.returncode != 0
    if not UNDER_HAPROXY:
        assert f"tls.cfg:12:" in r.stderr and said in r.stderr, r.stderr


def test_keep_alive_and_large_bodies_over_tls(sluice_bin, tmp_path, pki):
    big = bytes(range(256)) * 4096  # 1 MiB: many TLS records each way
    origin = HttpOrigin("s1", reply(body=big))
    port = free_port()
    cfg = tls_cfg(tmp_path, port, f"crt {pki}/ecdsa.pem", [("s1", origin.port)])
    try:
        with sluice_serving(sluice_bin, cfg, port):
            conn = http.client.HTTPSConnection("127.0.0.1", port, context=client_context(
                pki, check_hostname=False), timeout=DEADLINE)
            for _ in range(3):
                conn.request("POST", "/up", body=big, headers={"Host": "example.com"})
                r = conn.getresponse()
                assert (r.status, r.read()) == (200, big)
            conn.close()
            assert len(origin.requests) == 3
    finally:
        origin.close()


# ---- client certificates ----------------------------------------------------------------

def client_cert_get(port, pki, cert=None):
    """(status, body) of a GET presenting `cert` (a PEM in pki), or the SSL/socket error."""
    ctx = client_context(pki)
    if cert:
        ctx.load_cert_chain(str(pki / cert))
    try:
        r, body = https_get(port, ctx, "example.com")
        return r.status, body
    except (ssl.SSLError, ConnectionError) as e:
        return None, str(e)


def test_verify_required_with_ca_and_crl(sluice_bin, tmp_path, pki):
    origin = HttpOrigin("s1", reply(body=b"ok"))
    port = free_port()
    cfg = tls_cfg(tmp_path, port, f"crt {pki}/ecdsa.pem verify required ca-file {pki}/ca.pem "
                  f"crl-file {pki}/crl.pem", [("s1", origin.port)], frontend=[
                      "http-request set-header X-Client-DN %[ssl_c_s_dn]",
                      "http-request set-header X-Client-CN %[ssl_c_s_dn(CN)]",
                      "http-request set-header X-Issuer %[ssl_c_i_dn]",
                      "http-request set-header X-Verify %[ssl_c_verify]",
                      "http-request set-header X-Used %[ssl_c_used]",
                      "http-request set-header X-Not-After %[ssl_c_notafter]"])
    try:
        with sluice_serving(sluice_bin, cfg, port) as proc:
            assert client_cert_get(port, pki, "client.pem") == (200, b"ok")
            seen = origin.requests[-1]
            assert seen.header("x-client-dn") == ["/CN=alice"]
            assert seen.header("x-client-cn") == ["alice"]
            assert seen.header("x-issuer") == ["/CN=test CA"]
            assert seen.header("x-verify") == ["0"]
            assert seen.header("x-used") == ["1"]
            assert re.fullmatch(r"\d{12}Z", seen.header("x-not-after")[0])
            for cert in (None, "revoked.pem", "rogue.pem"):  # no cert, revoked, unknown CA
                status, error = client_cert_get(port, pki, cert)
                assert status is None, (cert, error)
            assert len(origin.requests) == 1
            assert client_cert_get(port, pki, "client.pem") == (200, b"ok")
        failures = [l.split(": ", 1)[1] for l in proc.stdout.read().splitlines() if "fe/1: " in l]
        # The readiness probe, no certificate, revoked, unknown CA.
        assert failures[-3:] == ["SSL handshake failure", "SSL client certificate not trusted",
                                 "SSL client certificate not trusted"], failures
    finally:
        origin.close()


def test_verify_optional_lets_clients_without_a_certificate_in(sluice_bin, tmp_path, pki):
    origin = HttpOrigin("s1", reply(body=b"ok"))
    port = free_port()
    cfg = tls_cfg(tmp_path, port, f"crt {pki}/ecdsa.pem verify optional ca-file {pki}/ca.pem",
                  [("s1", origin.port)], frontend=[
                      "http-request deny deny_status 403 if { ssl_c_used } !{ ssl_c_s_dn(CN) alice }",
                      "http-request set-header X-Used %[ssl_c_used]"])
    try:
        with sluice_serving(sluice_bin, cfg, port):
            assert client_cert_get(port, pki) == (200, b"ok")
            assert origin.requests[-1].header("x-used") == ["0"]
            assert client_cert_get(port, pki, "client.pem") == (200, b"ok")
            assert origin.requests[-1].header("x-used") == ["1"]
            # Presented and not trusted: the handshake fails even though it is optional.
            assert client_cert_get(port, pki, "rogue.pem")[0] is None
            assert len(origin.requests) == 2
    finally:
        origin.close()


# ---- bad input ------------------------------------------------------------------------------

def read_all(sock):
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


def served_afterwards(port, pki):
    r, _ = https_get(port, client_context(pki), "example.com")
    return r.status == 200


def handshake_log(proc):
    return [l for l in proc.stdout.read().splitlines() if "SSL handshake" in l]


def test_plaintext_http_on_a_tls_port_is_closed_and_logged(sluice_bin, tmp_path, pki):
    origin = HttpOrigin("s1", reply())
    port = free_port()
    cfg = tls_cfg(tmp_path, port, f"crt {pki}/ecdsa.pem", [("s1", origin.port)])
    try:
        with sluice_serving(sluice_bin, cfg, port) as proc:
            with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as s:
                s.sendall(b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n")
                data = read_all(s)
            assert b"HTTP/" not in data  # at most a TLS alert, never an HTTP answer
            assert origin.requests == []
            assert served_afterwards(port, pki)
        lines = handshake_log(proc)
        assert any(re.fullmatch(rf"127\.0\.0\.1:\d+ \[{DATE}\] fe/1: SSL handshake failure", l)
                   for l in lines), lines
    finally:
        origin.close()


def test_garbage_and_oversized_hellos_end_their_connection_only(sluice_bin, tmp_path, pki):
    origin = HttpOrigin("s1", reply())
    port = free_port()
    cfg = tls_cfg(tmp_path, port, f"crt {pki}/ecdsa.pem", [("s1", origin.port)])
    try:
        with sluice_serving(sluice_bin, cfg, port) as proc:
            # A handshake record whose length is over the protocol's limit.
            for junk in (b"\x16\x03\x01\xff\xff" + b"\x01" * 64,
                         b"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00",  # a ClientHello of 1 byte
                         bytes(range(256)) * 8):
                # A good client in the middle of the bad ones is served.
                good = client_context(pki).wrap_socket(
                    socket.create_connection(("127.0.0.1", port), timeout=DEADLINE),
                    server_hostname="example.com")
                with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as s:
                    s.sendall(junk)
                    data = read_all(s)
                assert data == b"" or data.startswith(b"\x15\x03"), data  # an alert, or nothing
                good.sendall(b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n")
                assert good.recv(100).startswith(b"HTTP/1.1 200")
                good.close()
            assert len(origin.requests) == 3
        assert len(handshake_log(proc)) >= 3
    finally:
        origin.close()


def test_truncated_handshake_ends_at_timeout_client(sluice_bin, tmp_path, pki):
    port = free_port()
    cfg = tls_cfg(tmp_path, port, f"crt {pki}/ecdsa.pem",
                  frontend=["http-request return status 200"], client_timeout="1s")
    with sluice_serving(sluice_bin, cfg, port) as proc:
        with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as s:
            s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")  # a hello cut short
            start = time.monotonic()
            assert read_all(s) == b""
            waited = time.monotonic() - start
        assert 0.8 < waited < 5, waited
        assert served_afterwards(port, pki)
    lines = handshake_log(proc)
    assert any(l.endswith("fe/1: Timeout during SSL handshake") for l in lines), lines


def test_client_renegotiation_is_refused(sluice_bin, tmp_path, pki):
    port = free_port()
    cfg = tls_cfg(tmp_path, port, f"crt {pki}/ecdsa.pem", frontend=["http-request return status 200"])
    with sluice_serving(sluice_bin, cfg, port):
        proc = subprocess.Popen(["openssl", "s_client", "-connect", f"127.0.0.1:{port}",
                                 "-servername", "example.com", "-tls1_2"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        out, _ = proc.communicate(b"R\n", timeout=DEADLINE)
        assert b"RENEGOTIATING" in out
        assert b"no renegotiation" in out, out
        assert served_afterwards(port, pki)


# ---- mode tcp ----------------------------------------------------------------------------

class TlsEcho:
    """A TLS echo server on 127.0.0.1 (certificate `pem`), for re-encryption in mode tcp."""

    def __init__(self, pem):
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(pem)
        self.names = []
        self.context.sni_callback = lambda _sock, name, _ctx: self.names.append(name)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        serve_in_threads(self.sock, self._serve)

    def _serve(self, conn):
        try:
            conn.settimeout(DEADLINE)
            tls = self.context.wrap_socket(conn, server_side=True)
            while chunk := tls.recv(65536):
                tls.sendall(chunk)
            tls.close()
        except (OSError, ssl.SSLError):
            conn.close()

    def close(self):
        self.sock.close()


def tls_echo_roundtrip(port, pki, name, size=300000):
    ctx = client_context(pki)
    with ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=DEADLINE),
                         server_hostname=name) as s:
        data = os.urandom(size)
        s.sendall(data)
        got = b""
        while len(got) < size:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
        return got == data


def test_mode_tcp_terminates_routes_by_sni_and_reencrypts(sluice_bin, tmp_path, pki):
    """bind ssl in mode tcp: decrypted bytes relayed byte-exact, use_backend on ssl_fc_sni,
    and `server ... ssl` re-encrypting to a verified server with the client's SNI."""
    plain = Origin("plain", echo=True)
    secure = TlsEcho(str(pki / "ecdsa.pem"))
    port = free_port()
    cfg = tmp_path / "tcp-tls.cfg"
    cfg.write_text("\n".join([
        "global", "    log stdout format raw local0",
        "defaults", "    mode tcp", "    log global", "    option tcplog",
        "    timeout connect 2s", "    timeout client 5s", "    timeout server 5s",
        "frontend term", f"    bind 127.0.0.1:{port} ssl crt {pki}/ecdsa.pem",
        "    use_backend reenc if { ssl_fc_sni -i www.example.com }",
        "    default_backend plain",
        "backend plain", f"    server e 127.0.0.1:{plain.port}",
        "backend reenc",
        f"    server e 127.0.0.1:{secure.port} ssl verify required ca-file {pki}/ca.pem "
        "sni ssl_fc_sni", ""]))
    try:
        with sluice_serving(sluice_bin, cfg, port) as proc:
            log = LogReader(proc)
            assert tls_echo_roundtrip(port, pki, "example.com")
            assert plain.connections == 1
            assert tls_echo_roundtrip(port, pki, "www.example.com")
            assert secure.names == ["www.example.com"]
            assert plain.connections == 1
            log.wait_for(r"\] term~ plain/e \d+/\d+/\d+ 300000 -- ")
            log.wait_for(r"\] term~ reenc/e \d+/\d+/\d+ 300000 -- ")
    finally:
        plain.close()
        secure.close()


def finished_with_data(port, pki, data):
    """A TLS 1.3 client whose Finished and first application record leave in one segment,
    so that the proxy's last handshake read takes the data too; returns what comes back."""
    ctx = client_context(pki)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing, server_hostname="example.com")
    with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as s:
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                s.sendall(outgoing.read())
                chunk = s.recv(65536)
                assert chunk, "closed during the handshake"
                incoming.write(chunk)
        tls.write(data)
        s.sendall(outgoing.read())  # Finished and the data together
        got = b""
        while len(got) < len(data):
            try:
                got += tls.read(65536)
                continue
            except ssl.SSLWantReadError:
                pass
            chunk = s.recv(65536)
            if not chunk:
                break
            incoming.write(chunk)
        return got


def test_data_arriving_with_the_handshake_is_relayed(sluice_bin, tmp_path, pki):
    """Bytes OpenSSL read along with the client's Finished are announced by no epoll event:
    the relay must take them at once (mode tcp; mode http likewise)."""
    plain = Origin("plain", echo=True)
    port = free_port()
    cfg = tmp_path / "tcp-tls.cfg"
    cfg.write_text("\n".join([
        "defaults", "    mode tcp", "    timeout connect 2s", "    timeout client 5s",
        "    timeout server 5s",
        "frontend term", f"    bind 127.0.0.1:{port} ssl crt {pki}/ecdsa.pem",
        "    default_backend plain",
        "backend plain", f"    server e 127.0.0.1:{plain.port}", ""]))
    try:
        with sluice_serving(sluice_bin, cfg, port):
            for _ in range(5):
                assert finished_with_data(port, pki, b"ping " * 100) == b"ping " * 100
    finally:
        plain.close()


def test_mode_tcp_server_certificate_rejected_is_sc(sluice_bin, tmp_path, pki):
    secure = TlsEcho(str(pki / "rogue.pem"))
    port = free_port()
    cfg = tmp_path / "tcp-tls.cfg"
    cfg.write_text("\n".join([
        "global", "    log stdout format raw local0",
        "defaults", "    mode tcp", "    log global", "    option tcplog", "    retries 0",
        "    timeout connect 2s", "    timeout client 5s", "    timeout server 5s",
        "frontend fe", f"    bind 127.0.0.1:{port}", "    default_backend be",
        "backend be",
        f"    server s 127.0.0.1:{secure.port} ssl verify required ca-file {pki}/ca.pem", ""]))
    try:
        with sluice_serving(sluice_bin, cfg, port) as proc:
            log = LogReader(proc)
            with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as c:
                c.sendall(b"hello")
                assert read_all(c) == b""  # closed, nothing relayed
            log.wait_for(r"\] fe be/s \d+/-1/\d+ 0 SC ")
            if not UNDER_HAPROXY:
                log.wait_for(r"fe be/s: server certificate rejected: self-signed certificate")
    finally:
        secure.close()


# ---- OCSP stapling -----------------------------------------------------------------------

def ocsp_response(pki, leaf, out, expired=False):
    """A DER OCSP response for pki/`leaf`.crt ("good"), signed by the test CA; `expired`: its
    nextUpdate passed an hour ago (made with python3-cryptography, openssl ocsp cannot)."""
    from datetime import datetime, timedelta
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509 import ocsp
    cert = x509.load_pem_x509_certificate((pki / f"{leaf}.crt").read_bytes())
    ca = x509.load_pem_x509_certificate((pki / "ca.pem").read_bytes())
    key = serialization.load_pem_private_key((pki / "ca.key").read_bytes(), None)
    now = datetime.utcnow()
    this, nxt = (now - timedelta(days=2), now - timedelta(hours=1)) if expired else \
        (now - timedelta(minutes=1), now + timedelta(days=1))
    builder = ocsp.OCSPResponseBuilder().add_response(
        cert=cert, issuer=ca, algorithm=hashes.SHA1(), cert_status=ocsp.OCSPCertStatus.GOOD,
        this_update=this, next_update=nxt, revocation_time=None, revocation_reason=None
    ).responder_id(ocsp.OCSPResponderEncoding.HASH, ca)
    out.write_bytes(builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER))


def stapled(port):
    out = openssl("s_client", "-connect", f"127.0.0.1:{port}", "-servername", "example.com",
                  "-status").stdout.decode(errors="replace")
    if "OCSP response: no response sent" in out:
        return None
    m = re.search(r"Cert Status: (\w+)", out)
    return m.group(1) if m else out


def test_ocsp_response_beside_the_certificate_is_stapled(sluice_bin, tmp_path, pki):
    d = tmp_path / "crt"
    d.mkdir()
    (d / "site.pem").write_text((pki / "ecdsa.pem").read_text())
    ocsp_response(pki, "ecdsa", d / "site.pem.ocsp")
    port = free_port()
    cfg = tls_cfg(tmp_path, port, f"crt {d}/site.pem", frontend=["http-request return status 200"])
    with sluice_serving(sluice_bin, cfg, port):
        assert stapled(port) == "good"
        assert https_get(port, client_context(pki))[0].status == 200


@pytest.mark.skipif(UNDER_HAPROXY, reason="sluice warns and serves without the staple")
@pytest.mark.parametrize("case, warned", [
    ("expired", "it is outside its validity period"),
    ("mismatched", "it does not answer for the certificate"),
    ("garbage", "it is not a DER-encoded OCSP response"),
])
def test_unusable_ocsp_response_is_warned_about_not_stapled(sluice_bin, tmp_path, pki, case,
                                                            warned):
    d = tmp_path / "crt"
    d.mkdir()
    (d / "site.pem").write_text((pki / "ecdsa.pem").read_text())
    if case == "garbage":
        (d / "site.pem.ocsp").write_bytes(b"not DER at all")
    else:
        # mismatched: a good response, but for another certificate of the same CA.
        ocsp_response(pki, "ecdsa" if case == "expired" else "rsa", d / "site.pem.ocsp",
                      expired=case == "expired")
    port = free_port()
    cfg = tls_cfg(tmp_path, port, f"crt {d}/site.pem", frontend=["http-request return status 200"])
    with sluice_serving(sluice_bin, cfg, port) as proc:
        assert stapled(port) is None
        assert https_get(port, client_context(pki))[0].status == 200
    err = proc.stderr.read()
    assert f"sluice: warning: {cfg}:12: OCSP response '{d}/site.pem.ocsp' is not stapled: " \
        f"{warned}" in err, err


# ---- crt-list ----------------------------------------------------------------------------

def test_crt_list_filters_options_and_default(sluice_bin, tmp_path, pki):
    """The first line is the default; a line with SNI filters serves those names only (an
    exclusion alone leaves none), with its own [options]; comments are skipped."""
    (pki / "list.txt").write_text(
        "# the default: the first certificate\n"
        f"{pki}/dir/a-other.pem\n"
        f"{pki}/ecdsa.pem [ssl-min-ver TLSv1.3 alpn http/1.1] shop.test *.shop.test\n"
        f"{pki}/wild.pem !x.example.net\n"
        f"{pki}/dir/b-third.pem\n")
    port = free_port()
    cfg = tls_cfg(tmp_path, port, f"crt-list {pki}/list.txt",
                  frontend=["http-request return status 200"])
    with sluice_serving(sluice_bin, cfg, port):
        assert presented(port)[0] == "other.org"
        assert presented(port, "shop.test")[0] == "example.com"
        assert presented(port, "a.shop.test")[0] == "example.com"
        assert presented(port, "example.com")[0] == "other.org"  # not among its filters
        assert presented(port, "y.example.net")[0] == "other.org"  # an exclusion alone
        assert presented(port, "third.org")[0] == "third.org"  # no filter: its own names
        # The line's ssl-min-ver: TLS 1.2 is refused for shop.test, not for the others.
        assert presented(port, "shop.test", "-tls1_2")[0] is None
        assert presented(port, "third.org", "-tls1_2")[0] == "third.org"
        assert alpn_of_sni(port, "shop.test", "http/1.1") == "http/1.1"


def alpn_of_sni(port, servername, offer):
    r = openssl("s_client", "-connect", f"127.0.0.1:{port}", "-servername", servername,
                "-alpn", offer)
    m = re.search(r"ALPN protocol: (\S+)", r.stdout.decode(errors="replace"))
    return m.group(1) if m else None
