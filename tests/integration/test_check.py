"""`sluice -c` and the command line, through the real binary."""
import re

import pytest

from conftest import CONF_DIR

VALID = """\
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s

frontend www
    bind 127.0.0.1:8080
    default_backend app

backend app
    server a 127.0.0.1:8081
"""

# Three distinct errors on lines 3, 8 and 12; the parser must not stop at the first.
THREE_ERRORS = """\
defaults
    mode http
    tiemout client 30s
    timeout connect 5s
    timeout server 30s

frontend www
    bind 127.0.0.1:99999
    default_backend app

backend app
    balance roundrobinn
    server a 127.0.0.1:8081
"""

NO_LISTENER = """\
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s

backend app
    server a 127.0.0.1:8081
"""

DIAGNOSTIC = re.compile(r"^(?P<file>[^\s:]+\.cfg):(?P<line>\d+):(?P<col>\d+): error: .+$",
                        re.MULTILINE)


def write(path, text):
    path.write_text(text)
    return path


def test_valid_file_prints_exactly_the_verdict(sluice, tmp_path):
    cfg = write(tmp_path / "site.cfg", VALID)
    r = sluice("-c", "-f", cfg)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "Configuration file is valid\n"
    assert "error" not in r.stderr


def test_invalid_file_reports_located_error_with_source_and_caret(sluice, tmp_path):
    cfg = write(tmp_path / "bad.cfg", VALID.replace("    mode http", "    mode htp"))
    r = sluice("-c", "-f", "bad.cfg", cwd=tmp_path)
    assert r.returncode == 1
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    first = next(i for i, line in enumerate(lines) if DIAGNOSTIC.match(line))
    assert lines[first].startswith("bad.cfg:2:10: error: ")
    assert "htp" in lines[first]
    # The source line, quoted behind a gutter, then a caret under the offending word.
    source = re.fullmatch(r"\s*2 \| (.*)", lines[first + 1])
    assert source and source.group(1) == "    mode htp", lines[first + 1]
    gutter = lines[first + 1].index("|")
    caret = lines[first + 2]
    assert caret[gutter] == "|"
    assert caret.index("^") == lines[first + 1].index("htp")
    assert caret[caret.index("^"):] == "^~~"


def test_caret_spans_exactly_the_word(sluice, tmp_path):
    cfg = write(tmp_path / "typo.cfg", VALID.replace("    timeout client 30s",
                                                     "    tiemout     client 30s"))
    r = sluice("-c", "-f", "typo.cfg", cwd=tmp_path)
    assert r.returncode == 1
    lines = r.stderr.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("typo.cfg:4:5: error: "))
    caret = lines[first + 2]
    assert caret[caret.index("^"):] == "^" + "~" * (len("tiemout") - 1)


def test_every_error_of_a_file_is_reported(sluice, tmp_path):
    cfg = write(tmp_path / "three.cfg", THREE_ERRORS)
    r = sluice("-c", "-f", cfg)
    assert r.returncode == 1
    lines = [m.group("line") for m in DIAGNOSTIC.finditer(r.stderr)]
    assert lines == ["3", "8", "12"], r.stderr


def test_no_listener_exits_2(sluice, tmp_path):
    cfg = write(tmp_path / "backend-only.cfg", NO_LISTENER)
    r = sluice("-c", "-f", cfg)
    assert r.returncode == 2, r.stderr
    assert "no listener" in r.stderr
    assert "Configuration file is valid" not in r.stdout


def test_missing_file_is_named(sluice, tmp_path):
    missing = tmp_path / "does-not-exist.cfg"
    r = sluice("-c", "-f", missing)
    assert r.returncode == 1
    assert str(missing) in r.stderr
    assert r.stdout == ""


def test_directory_loads_cfg_files_in_lexical_order(sluice, tmp_path):
    conf_d = tmp_path / "conf.d"
    conf_d.mkdir()
    # Written in reverse order so that creation order cannot pass for lexical order.
    # 20 uses the named defaults of 10 ('from' must name a defaults section declared above)
    # and a backend declared in 30; the section split over files only works in that order.
    write(conf_d / "30-backends.cfg", "backend app from base\n    server a 127.0.0.1:8081\n")
    write(conf_d / "20-frontend.cfg",
          "frontend www from base\n    bind 127.0.0.1:8080\n    default_backend app\n")
    write(conf_d / "10-defaults.cfg",
          "defaults base\n    mode http\n    timeout connect 5s\n"
          "    timeout client 30s\n    timeout server 30s\n")
    # Not a .cfg: must be ignored, or its garbage would be an error.
    write(conf_d / "README.txt", "this is not configuration\n")
    r = sluice("-c", "-f", conf_d)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "Configuration file is valid\n"


def test_directory_order_matters(sluice, tmp_path):
    # The same files with the defaults sorted last: 'from base' no longer finds it.
    conf_d = tmp_path / "conf.d"
    conf_d.mkdir()
    write(conf_d / "a-frontend.cfg",
          "frontend www from base\n    bind 127.0.0.1:8080\n    default_backend app\n"
          "backend app from base\n    server a 127.0.0.1:8081\n")
    write(conf_d / "z-defaults.cfg", "defaults base\n    mode http\n")
    r = sluice("-c", "-f", conf_d)
    assert r.returncode == 1
    assert "a-frontend.cfg:1:" in r.stderr
    assert "base" in r.stderr


def test_quiet_prints_nothing_on_success(sluice, tmp_path):
    cfg = write(tmp_path / "site.cfg", VALID)
    r = sluice("-c", "-q", "-f", cfg)
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    assert r.stderr == ""


def test_quiet_still_reports_errors(sluice, tmp_path):
    cfg = write(tmp_path / "three.cfg", THREE_ERRORS)
    r = sluice("-c", "-q", "-f", cfg)
    assert r.returncode == 1
    assert len(list(DIAGNOSTIC.finditer(r.stderr))) == 3, r.stderr


def test_version(sluice):
    r = sluice("-v")
    assert r.returncode == 0
    # HAProxy's first line, so that scripts parsing `haproxy -v` read the implemented release;
    # then sluice's own version.
    assert re.match(r"^HAProxy version 2\.6\.\d+-sluice-\d+\.\d+\.\d+ \d{4}/\d\d/\d\d - sluice ",
                    r.stdout), r.stdout


def test_help_prints_usage(sluice):
    r = sluice("-h")
    assert r.returncode == 0
    assert "Usage" in r.stdout
    assert "-f" in r.stdout and "-c" in r.stdout


@pytest.mark.parametrize("flag", ["--bogus", "-x"])
def test_unknown_flag_prints_usage_and_fails(sluice, flag):
    r = sluice(flag)
    assert r.returncode == 1
    assert flag in r.stderr
    assert "Usage" in r.stderr


def test_missing_flag_argument_fails(sluice):
    r = sluice("-c", "-f")
    assert r.returncode == 1
    assert "Usage" in r.stderr


@pytest.mark.parametrize("cfg", sorted(CONF_DIR.glob("*.cfg")), ids=lambda p: p.name)
def test_conf_examples_pass(sluice, repo_root, cfg):
    # The examples name their certificates relative to the repository root.
    r = sluice("-c", "-f", cfg.relative_to(repo_root), cwd=repo_root)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "Configuration file is valid\n"
    assert " error: " not in r.stderr
