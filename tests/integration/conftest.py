"""Shared fixtures for the integration tests: they drive the real sluice binary only.

Run from the repository root:
    SLUICE_BIN=$PWD/build/sluice /usr/bin/python3 -m pytest -q tests/integration

The serving tests can run against HAProxy instead, to check their expectations:
    SLUICE_TEST_PROXY=haproxy /usr/bin/python3 -m pytest -q tests/integration/test_http_mode.py
"""
import os
import pathlib
import subprocess

import pytest

from serving import UNDER_HAPROXY, HttpOrigin, http_cfg, sluice_serving

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
CASES_DIR = REPO_ROOT / "tests" / "unit" / "parser" / "cases"
CONF_DIR = REPO_ROOT / "conf"

# Every subprocess gets a deadline: a hung binary fails the test instead of the run.
TIMEOUT = 60


def _sluice_path():
    value = os.environ.get("SLUICE_BIN")
    if not value:
        pytest.fail("SLUICE_BIN is not set: run as "
                    "SLUICE_BIN=$PWD/build/sluice /usr/bin/python3 -m pytest -q tests/integration",
                    pytrace=False)
    path = pathlib.Path(value)
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"SLUICE_BIN={value} is not an executable file (build it with ninja -C build)",
                    pytrace=False)
    return path.resolve()


def pytest_sessionstart(session):
    # One clear failure up front rather than one error per test.
    value = os.environ.get("SLUICE_BIN")
    if not value and not UNDER_HAPROXY:
        pytest.exit("SLUICE_BIN is not set: run as "
                    "SLUICE_BIN=$PWD/build/sluice /usr/bin/python3 -m pytest -q tests/integration",
                    returncode=2)


@pytest.fixture(scope="session")
def sluice_bin():
    # Under SLUICE_TEST_PROXY=haproxy, sluice_serving starts HAProxy and ignores this path.
    if UNDER_HAPROXY and not os.environ.get("SLUICE_BIN"):
        return None
    return _sluice_path()


@pytest.fixture(scope="session")
def repo_root():
    return REPO_ROOT


def run(argv, cwd=None, env=None, timeout=TIMEOUT):
    """Runs argv to completion with a deadline; returns the CompletedProcess (text mode)."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    return subprocess.run([str(a) for a in argv], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=timeout, check=False)


@pytest.fixture
def sluice(sluice_bin, repo_root):
    """sluice(*args, cwd=repo root) -> CompletedProcess."""
    def call(*args, cwd=None, env=None):
        return run([sluice_bin, *args], cwd=cwd or repo_root, env=env)
    return call


@pytest.fixture
def origin():
    """origin(name="s1", handler=None) -> a started HttpOrigin, closed after the test."""
    made = []

    def make(name="s1", handler=None):
        o = HttpOrigin(name, handler)
        made.append(o)
        return o
    yield make
    for o in made:
        o.close()


@pytest.fixture
def serve(sluice_bin, tmp_path):
    """serve(port, servers, **http_cfg options) -> context manager serving that config."""
    def start(port, servers=(), cwd=None, **options):
        return sluice_serving(sluice_bin, http_cfg(tmp_path, port, servers, **options), port,
                              cwd=cwd)
    return start
