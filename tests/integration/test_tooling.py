"""HAProxy's configuration preprocessor and command line, through the real binary:
conditional blocks (.if/.elif/.else/.endif and their predicates), the .diag/.notice/
.warning/.alert directives, environment expansion in double quotes (defaults, [*], the
variables HAProxy defines, the .FILE/.LINE/.SECTION pseudo-variables), `-cc`, `-dW`, `-dD`,
`-vv` and the debug flags (configuration.txt 2.3 and 2.4, management.txt 3).

SLUICE_TEST_PROXY=haproxy runs every test against /usr/sbin/haproxy (the reference); the
few sluice-only assertions are skipped there. Messages are framed differently by the two
programs (`file:line:col: error: ...` against `[ALERT] ... parsing [file:line]: ...`), so
the tests look for the user's own text and the file:line it came from, never the framing."""
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess

import pytest

from serving import (DEADLINE, HAPROXY, UNDER_HAPROXY, HttpOrigin, LogReader, RawClient,
                     accepts, free_port, stop, stop_master, wait_until)

only_sluice = pytest.mark.skipif(UNDER_HAPROXY, reason="sluice names itself; HAProxy does not")


def binary(sluice_bin):
    """The program under test: HAProxy under SLUICE_TEST_PROXY=haproxy, else sluice."""
    return HAPROXY if UNDER_HAPROXY else str(sluice_bin)


def environment(env):
    """os.environ with env applied: a value of None removes that variable."""
    full = dict(os.environ)
    for name, value in (env or {}).items():
        if value is None:
            full.pop(name, None)
        else:
            full[name] = value
    return full


# Variables the tests set or leave unset explicitly, whatever the caller's environment.
CLEAN = {name: None for name in ("T_UNSET", "T_EMPTY", "T_ONE", "T_ZERO", "T_YES", "T_NO",
                                 "T_B", "T_LIST", "T_PICK", "T_SERVER", "T_ADDR", "A", "B",
                                 "C", "D", "HAPROXY_MWORKER", "HAPROXY_CFGFILES",
                                 "HAPROXY_LOCALPEER")}


@pytest.fixture
def proxy(sluice_bin, tmp_path):
    """proxy(*args, env=None) runs the program under test in tmp_path to completion."""
    def call(*args, env=None):
        return subprocess.run([binary(sluice_bin), *map(str, args)], cwd=tmp_path,
                              env=environment({**CLEAN, **(env or {})}), capture_output=True,
                              text=True, timeout=DEADLINE * 3, check=False)
    return call


def listener(port=None):
    """Sections that make a configuration valid for `-c` (exit 0, not 2: one listener)."""
    return ("defaults\n    mode http\n    timeout connect 1s\n    timeout client 1s\n"
            f"    timeout server 1s\nlisten web\n    bind 127.0.0.1:{port or free_port()}\n")


def write(tmp_path, name, text):
    (tmp_path / name).write_text(text)
    return name


def located(stderr, name, line, text):
    """True when one line of stderr holds `text` and says it comes from name:line, in
    either program's framing (`[t.cfg:2]` or `t.cfg:2:5:`)."""
    where = re.compile(rf"{re.escape(name)}:{line}(?!\d)")
    return any(text in l and where.search(l) for l in stderr.splitlines())


def markers(stderr):
    """The `took:...` markers the .notice directives of a test printed, in order: on the
    lines that say where they come from (a quoted source line echoes the marker too)."""
    return [m for l in stderr.splitlines() if re.search(r"\.cfg:\d", l)
            for m in re.findall(r"took:[\w.-]+", l)]


# ---------------------------------------------------------------------------------------------
# Conditional blocks
# ---------------------------------------------------------------------------------------------

# (condition as written after .if, its value); run with CONDITION_ENV.
CONDITIONS = [
    ("1", True), ("0", False), ("2", True),
    ('"${T_UNSET}"', False),       # the empty condition
    ('"${T_ONE}"', True), ('"$T_ZERO"', False),
    ("defined(T_YES)", True), ("defined(T_EMPTY)", True), ("defined(T_UNSET)", False),
    ("feature(OPENSSL)", True), ("feature(NOSUCH)", False), ("feature(openssl)", False),
    ("streq(a,a)", True), ("streq(a,b)", False),
    ("strneq(a,b)", True), ("strneq(a,a)", False),
    ('streq("a b","a b")', True),
    ("version_atleast(2.6)", True), ("version_atleast(9.0)", False),
    ("version_before(2.5)", False), ("version_before(3.0)", True),
    ("!0", True), ("!1", False), ("!!1", True), ("!defined(T_UNSET)", True),
    ("1 && 1", True), ("1 && 0", False), ("0 && 1", False),
    ("0 || 1", True), ("1 || 0", True), ("0 || 0", False),
    ("1 || 0 && 0", True),          # && binds tighter than ||
    ("0 && 1 || 1", True),
    ("(1 || 0) && 0", False), ("!(1 && 0)", True), ("!(0 || 1)", False),
    ('streq("$T_YES",yes)', True), ('streq("${T_YES}",no)', False),
    ('strneq("$T_YES",yes)', False), ("streq($T_YES,yes)", False),  # no expansion unquoted
    ('streq("${T_UNSET-yes}",yes)', True),
    ('streq("${T_EMPTY-yes}",yes)', False),  # a default replaces unset, not empty
    ('feature(OPENSSL) && (streq("$T_YES",yes) || streq("$T_NO",yes))', True),
    ('feature(OPENSSL) && (streq("$T_NO",yes) || streq("$T_UNSET",yes))', False),
]
CONDITION_ENV = {"T_ONE": "1", "T_ZERO": "0", "T_YES": "yes", "T_NO": "no", "T_EMPTY": ""}


def test_every_predicate_true_and_false(proxy, tmp_path):
    """One .if/.else per condition, each printing which branch it took."""
    blocks = "".join(f".if {cond}\n    .notice \"took:{i}.if\"\n.else\n"
                     f"    .notice \"took:{i}.else\"\n.endif\n"
                     for i, (cond, _) in enumerate(CONDITIONS))
    name = write(tmp_path, "cond.cfg", "global\n" + blocks + listener())
    result = proxy("-c", "-f", name, env=CONDITION_ENV)
    assert result.returncode == 0, result.stderr
    taken = {int(m[5:].split(".")[0]): m.split(".")[1] for m in markers(result.stderr)}
    expected = {i: "if" if value else "else" for i, (_, value) in enumerate(CONDITIONS)}
    wrong = {CONDITIONS[i][0]: taken.get(i) for i in expected if taken.get(i) != expected[i]}
    assert not wrong, f"conditions that took the wrong branch: {wrong}\n{result.stderr}"
    assert len(markers(result.stderr)) == len(CONDITIONS), result.stderr


# configuration.txt 2.4's own example: .notice, .warning or .alert by A, B, C and D.
DOC_EXAMPLE = """global
.if "${A}"
  .if "${B}"
     .notice "A=1, B=1"
  .elif "${C}"
     .notice "A=1, B=0, C=1"
  .elif "${D}"
     .warning "A=1, B=0, C=0, D=1"
  .else
     .alert "A=1, B=0, C=0, D=0"
  .endif
.else
     .notice "A=0"
.endif
"""


@pytest.mark.parametrize("env,line,message,code", [
    ({"A": "1", "B": "1", "C": "1"}, 4, "A=1, B=1", 0),
    ({"A": "1", "B": "0", "C": "1", "D": "1"}, 6, "A=1, B=0, C=1", 0),  # the first .elif wins
    ({"A": "1", "C": "0", "D": "7"}, 8, "A=1, B=0, C=0, D=1", 0),
    ({"A": "1", "B": "", "D": "0"}, 10, "A=1, B=0, C=0, D=0", 1),       # .alert fails the load
    ({"B": "1", "C": "1"}, 13, "A=0", 0),
    ({"A": "0", "B": "1"}, 13, "A=0", 0),
], ids=["B", "C", "D", "alert", "A-unset", "A-zero"])
def test_nested_blocks_of_the_documented_example(proxy, tmp_path, env, line, message, code):
    name = write(tmp_path, "doc.cfg", DOC_EXAMPLE + listener())
    result = proxy("-c", "-f", name, env=env)
    assert result.returncode == code, result.stderr
    assert located(result.stderr, name, line, message), result.stderr
    others = {"A=1, B=1", "A=1, B=0, C=1", "A=1, B=0, C=0, D=1", "A=1, B=0, C=0, D=0", "A=0"}
    for other in others - {message}:
        assert not re.search(rf"{re.escape(other)}(?![,\w])", result.stderr), result.stderr


def test_a_skipped_block_is_not_parsed(proxy, tmp_path):
    """Nothing in a false branch is read: not an unknown keyword, not an .alert, not a
    nested .if whose condition is malformed. The nesting is still tracked."""
    name = write(tmp_path, "skip.cfg", """global
.if 0
    no-such-keyword here
    .alert "took:never-alerted"
    .if streq(a
        .alert "took:never-nested"
    .else
        .alert "took:never-nested-else"
    .endif
.elif 1
    .notice "took:elif"
.else
    .alert "took:never-else"
.endif
""" + listener())
    result = proxy("-c", "-f", name)
    assert result.returncode == 0, result.stderr
    assert markers(result.stderr) == ["took:elif"], result.stderr


def test_elif_after_a_taken_branch_is_not_evaluated(proxy, tmp_path):
    """Once a branch is taken the later .elif conditions are not even parsed (HAProxy)."""
    name = write(tmp_path, "elif.cfg", "global\n.if 1\n    .notice \"took:if\"\n"
                                       ".elif streq(a\n    .alert \"took:bad\"\n.endif\n"
                                       + listener())
    result = proxy("-c", "-f", name)
    assert result.returncode == 0, result.stderr
    assert markers(result.stderr) == ["took:if"], result.stderr


def test_comment_after_a_condition(proxy, tmp_path):
    name = write(tmp_path, "comment.cfg", "global\n.if 0 # not 1\n    .alert \"took:bad\"\n"
                                          ".else # otherwise\n    .notice \"took:good\"\n"
                                          ".endif # done\n" + listener())
    result = proxy("-c", "-f", name)
    assert result.returncode == 0, result.stderr
    assert markers(result.stderr) == ["took:good"], result.stderr


def test_alert_fails_the_load_with_its_message_file_and_line(proxy, tmp_path):
    name = write(tmp_path, "alert.cfg",
                 "global\n    .notice \"took:before\"\n    .alert \"TLS is mandatory here\"\n"
                 + listener())
    result = proxy("-c", "-f", name)
    assert result.returncode == 1, result.stderr
    assert located(result.stderr, name, 3, "TLS is mandatory here"), result.stderr
    assert "Configuration file is valid" not in result.stdout


def test_warning_and_notice_print_but_load(proxy, tmp_path):
    name = write(tmp_path, "warn.cfg",
                 "global\n    .warning \"consider nbthread\"\n    .notice \"just so you know\"\n"
                 + listener())
    result = proxy("-c", "-f", name)
    assert result.returncode == 0, result.stderr
    assert located(result.stderr, name, 2, "consider nbthread"), result.stderr
    assert located(result.stderr, name, 3, "just so you know"), result.stderr


@pytest.mark.parametrize("body,lines,fragment", [
    (".if 1\n    .notice \"x\"\n", None, ".if"),            # never terminated
    (".endif\n", [2], ".endif"),
    (".else\n", [2], ".else"),
    (".elif 1\n", [2], ".elif"),
    (".if 1\n.else\n.else\n.endif\n", [4], ".else"),
    (".if 1\n.else\n.elif 1\n.endif\n", [4], ".elif"),
    (".if streq(a\n.endif\n", [2], "streq"),
    (".if 0\n.elif streq(a,b\n.endif\n", [3], "streq"),
    (".if nosuch(1)\n.endif\n", [2], "nosuch"),
    (".if 1 &&\n.endif\n", [2], "&&"),
    (".if (1\n.endif\n", [2], "(1"),
    (".bogus\n", [2], ".bogus"),
    ('.notice "two" "words"\n', [2], "words"),
], ids=["unterminated-if", "stray-endif", "stray-else", "stray-elif", "else-else",
        "elif-after-else", "malformed", "malformed-elif", "unknown-predicate", "dangling-and",
        "unclosed-paren", "unknown-directive", "two-message-words"])
def test_malformed_blocks_are_errors_naming_the_line(proxy, tmp_path, body, lines, fragment):
    text = "global\n" + body + listener()
    name = write(tmp_path, "bad.cfg", text)
    result = proxy("-c", "-f", name)
    assert result.returncode == 1, result.stderr
    if lines is None:
        # HAProxy names the end of the file; the .if's own line would do as well.
        lines = [2, text.count("\n")]
    assert any(located(result.stderr, name, n, fragment) for n in lines), result.stderr


def test_blocks_choose_the_server_that_serves(sluice_bin, tmp_path):
    """A served configuration whose .if/.elif/.else picks the server by T_PICK."""
    origins = {n: HttpOrigin(n) for n in ("a", "b", "c")}
    port = free_port()
    name = write(tmp_path, "pick.cfg", f"""global
    nbthread 1
{listener(port)}.if streq("$T_PICK",a)
    server s 127.0.0.1:{origins["a"].port}
.elif streq("$T_PICK",b) && !defined(T_UNSET)
    server s 127.0.0.1:{origins["b"].port}
.else
    server s 127.0.0.1:{origins["c"].port}
.endif
""")
    try:
        for pick, body in (("a", b"a"), ("b", b"b"), ("zzz", b"c"), (None, b"c")):
            with serving(sluice_bin, tmp_path, ["-f", name], port, env={"T_PICK": pick}):
                assert get(port) == (200, body), pick
    finally:
        for o in origins.values():
            o.close()


# ---------------------------------------------------------------------------------------------
# -cc
# ---------------------------------------------------------------------------------------------

# (expression, exit code) run with CC_ENV: 0 true, 1 false, 2 malformed.
CC_TABLE = [
    ("1", 0), ("0", 1), ("", 1), ("2", 0), ("!!1", 0), ("!1", 1),
    ("defined(T_YES)", 0), ("defined(T_EMPTY)", 0), ("defined(T_UNSET)", 1),
    ("feature(OPENSSL)", 0), ("feature(THREAD)", 0), ("feature(NOSUCH)", 1),
    ("streq(a,a)", 0), ("streq(a,b)", 1), ("strneq(a,b)", 0), ("strneq(a,a)", 1),
    ('streq("$T_YES",yes)', 0), ('streq("${T_YES}",yes)', 0), ("streq($T_YES,yes)", 1),
    ('streq("${T_UNSET-yes}",yes)', 0), ('streq("${T_EMPTY-yes}",yes)', 1),
    ('"$T_YES"', 2),  # expands to `yes`: not a condition
    ("version_atleast(2.6)", 0), ("version_atleast(9.0)", 1),
    ("version_before(2.5)", 1), ("version_before(3.0)", 0),
    ("1 && 0", 1), ("1 || 0", 0), ("0 || 0", 1), ("(0 || 1) && 1", 0), ("!(1 && 0)", 0),
    ("1 || 0 && 0", 0), ("0 && 1 || 1", 0),
    ("streq(a", 2), ("streq(a)", 2), ("streq(a,b,c)", 2), ("nosuch(a)", 2), ("abc", 2),
    ("1 &&", 2), ("&& 1", 2), ("(1", 2), ("1)", 2), ("1 0", 2), ("!", 2),
    ("1 # comment", 2),
]
CC_ENV = {"T_YES": "yes", "T_EMPTY": ""}


def cc(program, expression, env=CC_ENV):
    return subprocess.run([program, "-cc", expression], env=environment({**CLEAN, **env}),
                          capture_output=True, text=True, timeout=DEADLINE * 3, check=False)


@pytest.mark.parametrize("expression,code", CC_TABLE, ids=[e or "empty" for e, _ in CC_TABLE])
def test_cc_exit_codes(sluice_bin, expression, code):
    result = cc(binary(sluice_bin), expression)
    assert result.returncode == code, result.stderr
    assert result.stdout == ""
    if code == 2:
        assert result.stderr.strip(), "a malformed expression needs a message"
    else:
        assert result.stderr == ""


@pytest.mark.parametrize("expression,fragment", [
    ("streq(a", "streq"), ("nosuch(a)", "nosuch(a)"), ("1 0", "1 0")])
def test_cc_error_names_what_is_wrong(sluice_bin, expression, fragment):
    result = cc(binary(sluice_bin), expression)
    assert result.returncode == 2 and fragment in result.stderr, result.stderr


@pytest.mark.skipif(UNDER_HAPROXY or not shutil.which("haproxy"),
                    reason="compares sluice with haproxy: both are needed")
def test_cc_agrees_with_haproxy(sluice_bin):
    """The same table through both binaries, compared directly (not through the expected
    codes above)."""
    differ = {}
    for expression, _ in CC_TABLE:
        ours = cc(str(sluice_bin), expression).returncode
        theirs = cc(shutil.which("haproxy"), expression).returncode
        if ours != theirs:
            differ[expression] = (ours, theirs)
    assert not differ, f"expression: (sluice, haproxy) exit codes: {differ}"


def test_cc_feature_is_true_exactly_for_the_features_vv_lists(sluice_bin):
    """Every +NAME of -vv's Feature list is a true feature(NAME), every -NAME a false one."""
    program = binary(sluice_bin)
    vv = subprocess.run([program, "-vv"], capture_output=True, text=True, timeout=DEADLINE,
                        check=False)
    [features] = [l for l in vv.stdout.splitlines() if l.startswith("Feature list : ")]
    words = features[len("Feature list : "):].split()
    assert words and all(re.fullmatch(r"[+-][A-Z0-9_]+", w) for w in words), features
    wrong = {}
    for word in words:
        expected = 0 if word[0] == "+" else 1
        got = cc(program, f"feature({word[1:]})").returncode
        if got != expected:
            wrong[word] = got
    assert not wrong, f"feature(NAME) exit codes that contradict -vv: {wrong}"


def test_cc_version_predicates_agree_with_the_version_shown(sluice_bin):
    """version_atleast/version_before around the version -v prints, to the patch level."""
    program = binary(sluice_bin)
    first = subprocess.run([program, "-v"], capture_output=True, text=True, timeout=DEADLINE,
                           check=False).stdout.splitlines()[0]
    found = re.match(r"HAProxy version (\d+)\.(\d+)\.(\d+)", first)
    assert found, first
    major, minor, patch = map(int, found.groups())
    this, later = f"{major}.{minor}.{patch}", f"{major}.{minor}.{patch + 1}"
    earlier = f"{major}.{minor}.{patch - 1}" if patch else f"{major}.{minor - 1}.99"
    assert (major, minor) == (2, 6), first
    for expression, code in ((f"version_atleast({this})", 0), (f"version_before({this})", 1),
                             (f"version_atleast({later})", 1), (f"version_before({later})", 0),
                             (f"version_atleast({earlier})", 0),
                             (f"version_before({earlier})", 1),
                             (f"version_atleast({major}.{minor})", 0),
                             (f"version_before({major}.{minor + 1})", 0)):
        assert cc(program, expression).returncode == code, expression


# ---------------------------------------------------------------------------------------------
# Environment expansion and the variables HAProxy defines
# ---------------------------------------------------------------------------------------------

def test_expansion_forms_in_double_quotes_only(proxy, tmp_path):
    name = write(tmp_path, "env.cfg", """global
    .notice "v1=[${T_UNSET-dflt}] v2=[${T_EMPTY-dflt}] v3=[$T_B] v4=[${T_B}]"
    .notice "v5=[$T_UNSET] v6=[<$T_B.x>] v7=[${T_B-dflt}]"
    .notice 'single=[$T_B]'
    .notice bare=[$T_B]
    .notice "mixed=["'$T_B'"$T_B]"
""" + listener())
    result = proxy("-c", "-f", name, env={"T_EMPTY": "", "T_B": "bee"})
    assert result.returncode == 0, result.stderr
    assert located(result.stderr, name, 2, "v1=[dflt] v2=[] v3=[bee] v4=[bee]"), result.stderr
    assert located(result.stderr, name, 3, "v5=[] v6=[<bee.x>] v7=[bee]"), result.stderr
    assert located(result.stderr, name, 4, "single=[$T_B]"), result.stderr
    assert located(result.stderr, name, 5, "bare=[$T_B]"), result.stderr
    assert located(result.stderr, name, 6, "mixed=[$T_Bbee]"), result.stderr


def test_list_expansion_makes_several_words(proxy, tmp_path):
    """"${T_LIST[*]}" splits on spaces: two words where .notice takes one."""
    name = write(tmp_path, "list.cfg", "global\n    .notice \"${T_LIST[*]}\"\n" + listener())
    assert proxy("-c", "-f", name, env={"T_LIST": "solo"}).returncode == 0
    result = proxy("-c", "-f", name, env={"T_LIST": "first second"})
    assert result.returncode == 1, result.stderr
    assert located(result.stderr, name, 2, "second"), result.stderr
    # Without [*] the same value stays one word.
    name = write(tmp_path, "one.cfg", "global\n    .notice \"<${T_LIST}>\"\n" + listener())
    result = proxy("-c", "-f", name, env={"T_LIST": "first second"})
    assert result.returncode == 0 and located(result.stderr, name, 2, "<first second>"), \
        result.stderr


def test_server_line_from_expanded_variables(sluice_bin, tmp_path):
    """`server "${T_SERVER[*]}"` takes its name, address and options from one variable; an
    address "${T_ADDR-default}" falls back to the default only when T_ADDR is unset."""
    a, b = HttpOrigin("a"), HttpOrigin("b")
    port, other = free_port(), free_port()
    name = write(tmp_path, "srv.cfg", "global\n    nbthread 1\n" + listener(port)
                 + "    server \"${T_SERVER[*]}\"\n"
                 + f"listen fallback\n    bind 127.0.0.1:{other}\n"
                 + f"    server s1 \"${{T_ADDR-127.0.0.1:{a.port}}}\"\n")
    try:
        env = {"T_SERVER": f"chosen 127.0.0.1:{b.port} weight 10"}
        with serving(sluice_bin, tmp_path, ["-f", name], port, env=env):
            assert get(port) == (200, b"b")
            assert get(other) == (200, b"a")
        env = {"T_SERVER": f"chosen 127.0.0.1:{a.port}", "T_ADDR": f"127.0.0.1:{b.port}"}
        with serving(sluice_bin, tmp_path, ["-f", name], port, env=env):
            assert get(port) == (200, b"a")
            assert get(other) == (200, b"b")
    finally:
        a.close()
        b.close()


def test_empty_variable_is_not_replaced_by_the_default(proxy, tmp_path):
    """T_ADDR set but empty: "${T_ADDR-127.0.0.1:1}" is the empty address, an error."""
    name = write(tmp_path, "empty.cfg", "global\n" + listener()
                 + "    server s1 \"${T_ADDR-127.0.0.1:1}\"\n")
    assert proxy("-c", "-f", name).returncode == 0
    result = proxy("-c", "-f", name, env={"T_ADDR": ""})
    assert result.returncode == 1, result.stderr
    server_line = (tmp_path / name).read_text().count("\n")
    assert located(result.stderr, name, server_line, ""), result.stderr
    # Without [*] the words stay one: "chosen 127.0.0.1:1" is no server name.
    name = write(tmp_path, "one.cfg", "global\n" + listener() + "    server \"${T_SERVER}\"\n")
    result = proxy("-c", "-f", name, env={"T_SERVER": "chosen 127.0.0.1:1"})
    assert result.returncode == 1, result.stderr


def test_pseudo_variables_file_line_section(proxy, tmp_path):
    first = write(tmp_path, "first.cfg", """.notice "took:top ${.FILE}:${.LINE} [${.SECTION}]"
global
    .notice "took:global ${.FILE}:${.LINE} [${.SECTION}]"
defaults
    .notice "took:defaults [${.SECTION}]"
    mode http
    timeout connect 1s
    timeout client 1s
    timeout server 1s
""")
    second = write(tmp_path, "second.cfg", f"""listen web
    bind 127.0.0.1:{free_port()}

    .notice "took:listen ${{.FILE}}:${{.LINE}} [${{.SECTION}}]"
.if streq("${{.SECTION}}",web)
    .notice "took:streq-section"
.endif
backend be-2
    .notice "took:backend [${{.SECTION}}]"
""")
    result = proxy("-c", "-f", first, "-f", second)
    assert result.returncode == 0, result.stderr
    for line in ("took:top first.cfg:1 []", "took:global first.cfg:3 [global]",
                 "took:defaults [defaults]", "took:listen second.cfg:4 [web]",
                 "took:streq-section", "took:backend [be-2]"):
        assert line in result.stderr, result.stderr


def test_localpeer_is_the_hostname_or_what_L_names(proxy, tmp_path):
    name = write(tmp_path, "peer.cfg",
                 "global\n    .notice \"peer=[${HAPROXY_LOCALPEER}]\"\n"
                 ".if streq(\"$HAPROXY_LOCALPEER\",edge-1)\n    .notice \"took:edge-1\"\n"
                 ".endif\n" + listener())
    result = proxy("-c", "-L", "edge-1", "-f", name)
    assert result.returncode == 0, result.stderr
    assert located(result.stderr, name, 2, "peer=[edge-1]"), result.stderr
    assert markers(result.stderr) == ["took:edge-1"]
    result = proxy("-c", "-f", name)
    assert result.returncode == 0, result.stderr
    assert located(result.stderr, name, 2, f"peer=[{socket.gethostname()}]"), result.stderr
    assert markers(result.stderr) == []


def test_mworker_is_not_defined_outside_master_worker_mode(proxy, tmp_path):
    name = write(tmp_path, "mw.cfg", ".if defined(HAPROXY_MWORKER)\n    .alert \"took:mw\"\n"
                                     ".endif\nglobal\n" + listener())
    result = proxy("-c", "-f", name)
    assert result.returncode == 0, result.stderr


def test_cfgfiles_and_mworker_in_the_master(sluice_bin, tmp_path):
    """HAPROXY_CFGFILES (the files as given, `;`-separated), HAPROXY_MWORKER=1, and the
    CLI addresses (HAPROXY_MASTER_CLI for -S, HAPROXY_CLI for the stats sockets), seen by
    the configuration the master re-reads on a reload. (HAProxy 2.6 sets them only once it
    has read the configuration: its first parse sees none, so that one is not checked.)"""
    origin = HttpOrigin("origin")
    port = free_port()
    stats = tmp_path / "stats.sock"
    first = write(tmp_path, "main.cfg", "global\n"
                  f"    stats socket {stats} level admin\n"
                  "    .notice \"took:files=[${HAPROXY_CFGFILES}] mw=[${HAPROXY_MWORKER}]\"\n"
                  "    .notice \"took:cli=[${HAPROXY_MASTER_CLI}] [${HAPROXY_CLI}]\"\n"
                  ".if defined(HAPROXY_MWORKER) && streq(\"$HAPROXY_MWORKER\",1)\n"
                  "    .notice \"took:mworker\"\n.endif\n" + listener(port)
                  + f"    server s1 127.0.0.1:{origin.port}\n")
    second = write(tmp_path, "extra.cfg", "backend be2\n")
    sock = tmp_path / "master.sock"
    proc = subprocess.Popen([binary(sluice_bin), "-W", "-S", sock, "-f", first,
                             "-f", f"./{second}"], cwd=tmp_path, env=environment(CLEAN),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    log = LogReader(proc, proc.stderr)
    try:
        log.wait_for(r"Loading success\.")
        wait_until(lambda: accepts(port), f"port {port}")
        # HAProxy's master says "Loading success." before it handles SIGUSR2 (one sent at
        # once is lost); its CLI answering means it does.
        wait_until(lambda: "# workers" in show_proc(sock), "the master CLI answering")
        loaded = len(log.lines)
        proc.send_signal(signal.SIGUSR2)
        try:
            wait_until(lambda: len([l for l in log.lines if "Loading success." in l]) == 2,
                       "the reload")
        except AssertionError as e:
            raise AssertionError(f"{e}; the lines: {log.lines}") from None
        reread = [m for l in log.lines[loaded:] if re.search(r"\.cfg:\d", l)
                  for m in re.findall(r"took:(?:files=\[[^]]*\] mw=\[[^]]*\]|mworker|cli=.*\])",
                                      l)]
        assert reread[0] == "took:files=[main.cfg;./extra.cfg] mw=[1]", log.lines
        assert reread[2] == "took:mworker", log.lines
        master_cli, cli = re.fullmatch(r"took:cli=\[(.*)\] \[(.*)\]", reread[1]).groups()
        assert master_cli == f"unix@{sock}"
        # HAProxy also lists its own master-to-worker socketpair ("sockpair@N").
        assert f"unix@{stats}" in cli.split(";"), cli
        assert get(port) == (200, b"origin")
    finally:
        stop_master(proc)
        origin.close()


# ---------------------------------------------------------------------------------------------
# Command-line flags
# ---------------------------------------------------------------------------------------------

WARNINGS = {
    "directive": "global\n    .warning \"mind the gap\"\n" + "{listener}",
    "missing-timeouts": "listen web\n    mode http\n    bind 127.0.0.1:{port}\n",
}
WARNING_TEXT = {"directive": (2, "mind the gap"), "missing-timeouts": (None, "missing timeouts")}


def warning_cfg(tmp_path, kind, port):
    return write(tmp_path, f"{kind}.cfg",
                 WARNINGS[kind].format(listener=listener(port), port=port))


@pytest.mark.parametrize("kind", WARNINGS)
def test_dW_turns_a_warning_into_a_failure(proxy, tmp_path, kind):
    port = free_port()
    name = warning_cfg(tmp_path, kind, port)
    line, text = WARNING_TEXT[kind]
    accepted = proxy("-c", "-f", name)
    assert accepted.returncode == 0, accepted.stderr
    assert text in accepted.stderr
    if line:
        assert located(accepted.stderr, name, line, text), accepted.stderr
    refused = proxy("-c", "-dW", "-f", name)
    assert refused.returncode == 1, refused.stderr
    assert text in refused.stderr
    assert "Configuration file is valid" not in refused.stdout


@pytest.mark.parametrize("kind", WARNINGS)
def test_dW_refuses_to_serve_and_without_it_the_file_serves(sluice_bin, tmp_path, kind):
    port = free_port()
    name = warning_cfg(tmp_path, kind, port)
    proc = subprocess.Popen([binary(sluice_bin), "-db", "-dW", "-f", name], cwd=tmp_path,
                            env=environment(CLEAN), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        _, err = proc.communicate(timeout=DEADLINE)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise AssertionError("-dW did not refuse a configuration with a warning")
    assert proc.returncode == 1, err
    assert WARNING_TEXT[kind][1] in err
    with serving(sluice_bin, tmp_path, ["-f", name], port):
        assert accepts(port)


def test_zero_warning_in_global_is_dW(proxy, tmp_path):
    name = write(tmp_path, "zw.cfg", "global\n    zero-warning\n    .warning \"mind the gap\"\n"
                 + listener())
    result = proxy("-c", "-f", name)
    assert result.returncode == 1, result.stderr
    assert located(result.stderr, name, 3, "mind the gap"), result.stderr


def test_dD_prints_diag_messages_and_never_fails(proxy, tmp_path):
    name = write(tmp_path, "diag.cfg", "global\n    .diag \"replace redirect after 2.8\"\n"
                 + listener())
    quiet = proxy("-c", "-f", name)
    assert quiet.returncode == 0, quiet.stderr
    assert "replace redirect after 2.8" not in quiet.stderr + quiet.stdout
    diag = proxy("-c", "-dD", "-f", name)
    assert diag.returncode == 0, diag.stderr
    assert located(diag.stderr, name, 2, "replace redirect after 2.8"), diag.stderr
    # A .diag is no warning: -dW still accepts the file.
    strict = proxy("-c", "-dD", "-dW", "-f", name)
    assert strict.returncode == 0, strict.stderr
    assert located(strict.stderr, name, 2, "replace redirect after 2.8"), strict.stderr


@pytest.mark.parametrize("flags", [["-d"], ["-db"], ["-dM"], ["-dI"], ["-L", "peer1"],
                                   ["-q"], ["-d", "-dM", "-dI", "-db", "-L", "peer1"]],
                         ids=lambda f: " ".join(f))
def test_debug_flags_are_accepted(proxy, tmp_path, flags):
    name = write(tmp_path, "ok.cfg", "global\n" + listener())
    result = proxy("-c", *flags, "-f", name)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("flag", ["-Z", "-Q", "--bogus"])
def test_unknown_flag_prints_usage_and_exits_1(proxy, tmp_path, flag):
    name = write(tmp_path, "ok.cfg", "global\n" + listener())
    result = proxy(flag, "-c", "-f", name)
    assert result.returncode == 1, result.stderr
    assert re.search(r"^Usage ?: ", result.stderr, re.M), result.stderr
    assert "-cc" in result.stderr  # the usage lists the condition check too


def test_vv_shows_version_features_and_libraries(sluice_bin):
    result = subprocess.run([binary(sluice_bin), "-vv"], capture_output=True, text=True,
                            timeout=DEADLINE, check=False)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("HAProxy version 2.6."), lines[0]
    [features] = [l for l in lines if l.startswith("Feature list : ")]
    assert {"+OPENSSL", "+THREAD"} <= set(features.split()), features
    for prefix in ("Built with OpenSSL version : OpenSSL ",
                   "Running on OpenSSL version : OpenSSL "):
        assert any(l.startswith(prefix) for l in lines), result.stdout
    assert "Available multiplexer protocols :" in lines, result.stdout


@only_sluice
def test_vv_names_sluice(sluice_bin):
    result = subprocess.run([binary(sluice_bin), "-vv"], capture_output=True, text=True,
                            timeout=DEADLINE, check=False)
    assert "sluice" in result.stdout.splitlines()[0], result.stdout


# ---------------------------------------------------------------------------------------------
# Helpers: a served configuration, a master stopped by PID
# ---------------------------------------------------------------------------------------------

@contextlib.contextmanager
def serving(sluice_bin, cwd, args, port, env=None):
    """The program under test in the foreground (`-db ARGS`) with env applied, until port
    accepts; stopped by PID (SIGTERM), which it must obey."""
    proc = subprocess.Popen([binary(sluice_bin), "-db", *args], cwd=cwd,
                            env=environment({**CLEAN, **(env or {})}),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: proc.poll() is not None or accepts(port), f"port {port}")
        assert proc.poll() is None, f"exited early: {proc.communicate()[1]}"
        yield proc
    finally:
        stop(proc)


def show_proc(path):
    """`show proc` on the master CLI, up to its workers' heading ("" while it cannot
    answer). HAProxy keeps the connection open after answering: no read to the end."""
    try:
        with socket.socket(socket.AF_UNIX) as c:
            c.settimeout(DEADLINE)
            c.connect(str(path))
            c.sendall(b"show proc\n")
            data = b""
            while b"# workers" not in data and (chunk := c.recv(4096)):
                data += chunk
        return data.decode()
    except OSError:
        return ""


def get(port):
    """GET / on a new connection: (status, body)."""
    with RawClient(port) as c:
        response = c.send(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").response()
    return response.status, response.body
