"""Differential check: `sluice -c` and `haproxy -c` must agree on every case and example.

Verdicts compare exactly: 0 valid, 1 invalid, 2 valid but no listener. A case that sluice
rejects on purpose (a valid HAProxy keyword sluice does not implement) says so on its first
line, `# differs: REASON`; then sluice must exit 1 saying "not supported by sluice" while
HAProxy accepts the file (0, or 2 when it has no listener).
"""
import shutil

import pytest

from conftest import CASES_DIR, CONF_DIR, REPO_ROOT, run

HAPROXY = shutil.which("haproxy")
# The case files use "${SLUICE_CASE_PORT}"; the unit test sets it to 8080 too.
CASE_ENV = {"SLUICE_CASE_PORT": "8080", "SLUICE_CASE_BIND": "127.0.0.1:8080 name web"}

pytestmark = pytest.mark.skipif(HAPROXY is None, reason="haproxy is not on PATH")


def haproxy_verdict(code):
    # HAProxy exits 1 on alerts; anything else non-zero but 2 is also "invalid".
    return code if code in (0, 2) else 1


def differs_reason(cfg):
    first = cfg.read_text().split("\n", 1)[0]
    prefix = "# differs:"
    return first[len(prefix):].strip() if first.startswith(prefix) else None


def targets():
    for cfg in sorted(CASES_DIR.glob("*.cfg")):
        yield pytest.param(cfg, CASES_DIR, id=f"cases/{cfg.name}")
    for cfg in sorted(CONF_DIR.glob("*.cfg")):
        yield pytest.param(cfg, REPO_ROOT, id=f"conf/{cfg.name}")


@pytest.mark.parametrize("cfg,cwd", targets())
def test_same_verdict_as_haproxy(sluice_bin, cfg, cwd):
    name = str(cfg.relative_to(cwd))
    ours = run([sluice_bin, "-c", "-f", name], cwd=cwd, env=CASE_ENV)
    theirs = run([HAPROXY, "-c", "-f", name], cwd=cwd, env=CASE_ENV)
    assert ours.returncode in (0, 1, 2), ours.stderr
    haproxy = haproxy_verdict(theirs.returncode)
    reason = differs_reason(cfg)
    if reason is not None:
        assert reason, f"{name}: '# differs:' needs a reason"
        assert ours.returncode == 1, ours.stderr
        assert "not supported by sluice" in ours.stderr, ours.stderr
        assert haproxy in (0, 2), f"haproxy rejects {name}, so it does not differ:\n{theirs.stderr}"
        return
    assert ours.returncode == haproxy, (
        f"{name}: sluice exits {ours.returncode}, haproxy exits {theirs.returncode}\n"
        f"--- sluice:\n{ours.stderr}\n--- haproxy:\n{theirs.stderr}")
