"""testssl (Debian's testssl.sh, installed by tools/dev) grades sluice's TLS defaults: a bind
with nothing but `ssl crt` must show no finding of severity MEDIUM or above in the protocol
(-p) and vulnerability (-U) checks."""
import json
import shutil
import subprocess

from serving import free_port, sluice_serving


def test_testssl_finds_nothing_medium_or_worse_in_the_defaults(sluice_bin, tmp_path):
    testssl = shutil.which("testssl")
    assert testssl, "testssl is missing: tools/dev installs the testssl.sh package"
    pem = tmp_path / "site.pem"
    made = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                           "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(pem), "-out",
                           str(tmp_path / "cert.pem"), "-days", "30", "-subj", "/CN=example.com"],
                          capture_output=True, timeout=30, check=False)
    assert made.returncode == 0, made.stderr
    pem.write_text((tmp_path / "cert.pem").read_text() + pem.read_text())
    port = free_port()
    cfg = tmp_path / "scan.cfg"
    cfg.write_text("\n".join([
        "defaults", "    mode http", "    timeout connect 2s", "    timeout client 5s",
        "    timeout server 5s", "frontend fe", f"    bind 127.0.0.1:{port} ssl crt {pem}",
        "    http-request return status 200"]) + "\n")
    report = tmp_path / "testssl.json"
    with sluice_serving(sluice_bin, cfg, port):
        run = subprocess.run([testssl, "--quiet", "--color", "0", "--warnings", "off",
                              "--jsonfile", str(report), "-p", "-U", f"127.0.0.1:{port}"],
                             capture_output=True, text=True, timeout=600, check=False)
    findings = json.loads(report.read_text())
    assert len(findings) > 10, run.stdout  # the scan ran: protocols and vulnerabilities
    assert any(f["id"] == "TLS1_3" and f["severity"] == "OK" for f in findings), findings
    bad = [f for f in findings if f["severity"] in ("MEDIUM", "HIGH", "CRITICAL")]
    assert bad == [], bad
