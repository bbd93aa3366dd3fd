"""The syslog datagrams a `log ADDR` target receives, byte for byte in HAProxy 2.6's
formats: rfc3164 (the default: no hostname, the tag is the program's name, the pid the
serving process's), rfc5424, short, raw, priority, iso, `len` truncation, `log-tag` (global
and per proxy), `log-send-hostname`, facility and level. test_logging.py covers the log
lines themselves (httplog, tcplog, dontlognull); SLUICE_TEST_PROXY=haproxy runs the same
tests against HAProxy, where every expectation below was observed."""
import re
import socket
import time

import pytest

from serving import DEADLINE, HttpOrigin, RawClient, free_port, reply, sluice_serving

# The httplog line of `GET /path`, answered 200 by s1.
DATE = r"\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d\.\d{3}"
PATH = "/" + "p" * 60
HTTPLOG = (rf"127\.0\.0\.1:\d+ \[{DATE}\] web web/s1 \d+/\d+/\d+/\d+/\d+ 200 \d+ - - ---- "
           rf"\d+/\d+/\d+/\d+/0 0/0 \"GET {PATH} HTTP/1\.1\"")
TIMESTAMP_5424 = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d"


@pytest.fixture
def sink():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(DEADLINE)
    yield s
    s.close()


@pytest.fixture
def origin():
    o = HttpOrigin("s1", reply())
    yield o
    o.close()


def tag_of(sluice_bin):
    """The default log-tag: `haproxy`. (HAProxy takes the program's name as launched, which
    is haproxy here; sluice, a drop-in, keeps what log pipelines filter on.)"""
    return "haproxy"


def served_datagram(sluice_bin, tmp_path, origin, sink, log, global_extra=(), proxy_extra=(),
                    path=PATH, wait=DEADLINE):
    """Serves one `GET path` through `listen web` (option httplog, dontlognull so the
    readiness probe logs nothing) whose `log` line is `log` (ADDR stands for the sink);
    returns (the one datagram received, the serving process's pid). No datagram within
    `wait` seconds raises socket.timeout."""
    port = free_port()
    where = f"127.0.0.1:{sink.getsockname()[1]}"
    lines = ["global", "    nbthread 1", *(f"    {l}" for l in global_extra),
             "defaults", "    mode http", "    timeout connect 2s", "    timeout client 5s",
             "    timeout server 5s",
             "listen web", f"    bind 127.0.0.1:{port}", "    option httplog",
             "    option dontlognull", f"    {log.replace('ADDR', where)}",
             *(f"    {l}" for l in proxy_extra), f"    server s1 127.0.0.1:{origin.port}"]
    cfg = tmp_path / "syslog.cfg"
    cfg.write_text("\n".join(lines) + "\n")
    sink.settimeout(wait)
    with sluice_serving(sluice_bin, cfg, port) as proc:
        with RawClient(port) as c:
            c.send(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            assert c.response().status == 200
        datagram = sink.recv(65536)
        pid = proc.pid
    sink.settimeout(0.3)  # nothing more: the probe was not logged
    try:
        extra = sink.recv(65536)
        raise AssertionError(f"a second datagram: {extra!r}")
    except socket.timeout:
        pass
    return datagram, pid


def near_now_3164(stamp):
    """An RFC 3164 `Mmm dd hh:mm:ss` (local time, no year) within a minute of now."""
    now = time.time()
    for year_shift in (0, -1, 1):
        year = time.localtime(now).tm_year + year_shift
        then = time.mktime(time.strptime(f"{year} {stamp}", "%Y %b %d %H:%M:%S"))
        if abs(then - now) < 60:
            return True
    return False


def test_rfc3164_without_hostname_by_default(sluice_bin, tmp_path, origin, sink):
    datagram, pid = served_datagram(sluice_bin, tmp_path, origin, sink, "log ADDR local0")
    text = datagram.decode()
    found = re.fullmatch(rf"<134>([A-Z][a-z]{{2}} [ \d]\d \d\d:\d\d:\d\d) "
                         rf"{re.escape(tag_of(sluice_bin))}\[{pid}\]: {HTTPLOG}\n", text)
    assert found, text
    assert near_now_3164(found.group(1)), found.group(1)
    # The day of month is padded with a space, not a zero ("Dec  5").
    assert not re.match(r"<134>[A-Z][a-z]{2} 0", text), text


def test_default_format_is_local_and_explicit_rfc3164_has_a_host(sluice_bin, tmp_path, origin,
                                                                 sink):
    """The default is `local` (rfc3164 without the hostname field); `format rfc3164`
    without log-send-hostname sends the host `localhost`."""
    tag = re.escape(tag_of(sluice_bin))
    datagram, pid = served_datagram(sluice_bin, tmp_path, origin, sink,
                                    "log ADDR format local local0")
    assert re.fullmatch(rf"<134>[A-Z][a-z]{{2}} [ \d]\d \d\d:\d\d:\d\d {tag}\[{pid}\]: "
                        rf"{HTTPLOG}\n", datagram.decode()), datagram
    datagram, pid = served_datagram(sluice_bin, tmp_path, origin, sink,
                                    "log ADDR format rfc3164 local0")
    assert re.fullmatch(rf"<134>[A-Z][a-z]{{2}} [ \d]\d \d\d:\d\d:\d\d localhost "
                        rf"{tag}\[{pid}\]: {HTTPLOG}\n", datagram.decode()), datagram


def test_log_send_hostname_adds_the_host_before_the_tag(sluice_bin, tmp_path, origin, sink):
    datagram, pid = served_datagram(sluice_bin, tmp_path, origin, sink, "log ADDR local0",
                                    global_extra=["log-send-hostname lb-7"])
    assert re.fullmatch(rf"<134>[A-Z][a-z]{{2}} [ \d]\d \d\d:\d\d:\d\d lb-7 "
                        rf"{re.escape(tag_of(sluice_bin))}\[{pid}\]: {HTTPLOG}\n",
                        datagram.decode()), datagram
    datagram, pid = served_datagram(sluice_bin, tmp_path, origin, sink, "log ADDR local0",
                                    global_extra=["log-send-hostname"])
    assert re.fullmatch(rf"<134>[A-Z][a-z]{{2}} [ \d]\d \d\d:\d\d:\d\d "
                        rf"{re.escape(socket.gethostname())} "
                        rf"{re.escape(tag_of(sluice_bin))}\[{pid}\]: {HTTPLOG}\n",
                        datagram.decode()), datagram


@pytest.mark.parametrize("where", ["global", "proxy", "both"])
def test_log_tag_replaces_the_program_name(sluice_bin, tmp_path, origin, sink, where):
    """log-tag in global, in the proxy, or both (the proxy's wins)."""
    global_extra = ["log-tag globaltag"] if where in ("global", "both") else []
    proxy_extra = ["log-tag pxtag"] if where in ("proxy", "both") else []
    datagram, pid = served_datagram(sluice_bin, tmp_path, origin, sink, "log ADDR local0",
                                    global_extra, proxy_extra)
    tag = "globaltag" if where == "global" else "pxtag"
    assert re.fullmatch(rf"<134>[A-Z][a-z]{{2}} [ \d]\d \d\d:\d\d:\d\d {tag}\[{pid}\]: "
                        rf"{HTTPLOG}\n", datagram.decode()), datagram


def test_rfc5424(sluice_bin, tmp_path, origin, sink):
    """`<PRI>1 TIMESTAMP HOST TAG PID - - msg`: no hostname sent is `-`."""
    datagram, pid = served_datagram(sluice_bin, tmp_path, origin, sink,
                                    "log ADDR format rfc5424 local0")
    assert re.fullmatch(rf"<134>1 {TIMESTAMP_5424} - {re.escape(tag_of(sluice_bin))} {pid} "
                        rf"- - {HTTPLOG}\n", datagram.decode()), datagram


def test_rfc5424_with_tag_and_hostname(sluice_bin, tmp_path, origin, sink):
    datagram, pid = served_datagram(sluice_bin, tmp_path, origin, sink,
                                    "log ADDR format rfc5424 local0",
                                    global_extra=["log-tag mytag", "log-send-hostname lb-7"])
    assert re.fullmatch(rf"<134>1 {TIMESTAMP_5424} lb-7 mytag {pid} - - {HTTPLOG}\n",
                        datagram.decode()), datagram


@pytest.mark.parametrize("fmt,head", [
    ("short", r"<6>"),                          # the level alone, no facility
    ("raw", r""),
    ("priority", r"<134>"),
    ("iso", rf"{TIMESTAMP_5424} "),
    ("timed", rf"<6>{TIMESTAMP_5424} "),
])
def test_short_raw_priority_iso_timed(sluice_bin, tmp_path, origin, sink, fmt, head):
    datagram, _ = served_datagram(sluice_bin, tmp_path, origin, sink,
                                  f"log ADDR format {fmt} local0")
    assert re.fullmatch(rf"{head}{HTTPLOG}\n", datagram.decode()), datagram


@pytest.mark.parametrize("facility,level,pri", [("local7", "debug", 190), ("local1", "info", 142),
                                                ("user", "", 14)])
def test_facility_makes_the_priority(sluice_bin, tmp_path, origin, sink, facility, level, pri):
    """PRI = facility * 8 + level; the traffic log is at info (6), under a max level."""
    datagram, _ = served_datagram(sluice_bin, tmp_path, origin, sink,
                                  f"log ADDR format priority {facility} {level}".rstrip())
    assert re.fullmatch(rf"<{pri}>{HTTPLOG}\n", datagram.decode()), datagram


def test_max_level_below_info_sends_nothing(sluice_bin, tmp_path, origin, sink):
    """`local0 notice`: the traffic log (info) is above the max level."""
    with pytest.raises(socket.timeout):
        served_datagram(sluice_bin, tmp_path, origin, sink, "log ADDR local0 notice", wait=1.0)


@pytest.mark.parametrize("fmt,length", [
    # A format with a header sends `len` characters then LF; raw sends len - 1 then LF.
    ("rfc3164", 81), ("rfc5424", 81), ("short", 81), ("priority", 81), ("iso", 81),
    ("raw", 80)])
def test_len_truncates_the_datagram(sluice_bin, tmp_path, origin, sink, fmt, length):
    full, _ = served_datagram(sluice_bin, tmp_path, origin, sink,
                              f"log ADDR format {fmt} local0")
    cut, _ = served_datagram(sluice_bin, tmp_path, origin, sink,
                             f"log ADDR len 80 format {fmt} local0")
    assert len(cut) == length, cut
    assert cut.endswith(b"\n") and cut.count(b"\n") == 1, cut
    # The whole datagram's start: the same bytes, numbers aside (clock, pid, port, timers).
    def shape(data):
        return re.sub(rb"\d+", b"0", data)
    assert shape(full).startswith(shape(cut[:-1])), (cut, full)
    assert len(full) > length


def test_default_len_is_1024(sluice_bin, tmp_path, origin, sink):
    datagram, _ = served_datagram(sluice_bin, tmp_path, origin, sink, "log ADDR local0",
                                  path="/" + "q" * 3000)
    assert len(datagram) == 1025 and datagram.endswith(b"q\n"), datagram[-40:]
    datagram, _ = served_datagram(sluice_bin, tmp_path, origin, sink,
                                  "log ADDR format raw local0", path="/" + "q" * 3000)
    assert len(datagram) == 1024 and datagram.endswith(b"q\n"), datagram[-40:]
