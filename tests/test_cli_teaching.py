"""The teaching commands: ``apigw-ws route`` and ``apigw-ws check``.

``main([...])`` in-process with capsys, and once each as users run them,
``python -m emulator ...`` in a subprocess.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.tools.cli import main

ROOT = Path(__file__).parent.parent
FIXTURE = Path(__file__).parent / "fixtures" / "teach_check" / "routes.yaml"
TIMEOUT = 10.0

# AWS's documented example body (spec §3.2.1).
BODY = '{"service":"chat","action":"join","data":{"room":"room1234"}}'
FORBIDDEN_FRAME = '{"message": "Forbidden", "connectionId":"...", "requestId":"..."}'


def _lines(text: str) -> list[str]:
    return [re.sub(r" {2,}", " ", line.strip()) for line in text.splitlines()]


def _rows(out: str) -> list[list[str]]:
    """The table ``check`` prints, one list of cells per row (header included)."""
    rows = []
    for line in out.splitlines()[1:]:
        cells = re.split(r" {2,}", line.strip())
        if cells[-1].endswith(" s") or cells[-1] == "TIMEOUT":
            rows.append(cells)
    return rows


@pytest.fixture
def restore_imports(tmp_path: Path) -> Iterator[None]:
    """``check`` imports handler modules; forget those it added, and its sys.path entries."""
    modules, path = set(sys.modules), list(sys.path)
    yield
    for name in set(sys.modules) - modules:
        file = getattr(sys.modules[name], "__file__", None) or ""
        if file.startswith((str(ROOT), str(tmp_path.resolve()))):
            del sys.modules[name]
    sys.path[:] = path


# apigw-ws route


# The six documented examples (spec §3.2.1): expression and result.
DOCUMENTED = [
    pytest.param("$request.body.action", "join", id="unbraced"),
    pytest.param("${request.body.action}", "join", id="braced"),
    pytest.param("${request.body.service}/${request.body.action}", "chat/join", id="two-variables"),
    pytest.param("${request.body.action}-${request.body.invalidPath}", "join-", id="missing-path"),
    pytest.param("action", "action", id="static"),
    pytest.param("\\$default", "$default", id="escaped-dollar"),
]


@pytest.mark.parametrize(("expression", "result"), DOCUMENTED)
def test_route_explains_a_documented_example(
    capsys: pytest.CaptureFixture[str], expression: str, result: str
) -> None:
    assert main(["route", expression, BODY]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    lines = _lines(out)
    assert lines[:2] == [f"expression: {expression}", f"message: {BODY}"]
    assert f"3. The expression evaluates to {result!r}." in lines
    assert f"→ the route whose key is exactly {result!r}, if the API has one;" in lines


@pytest.mark.parametrize(("expression", "result"), DOCUMENTED)
def test_route_with_routes_names_the_route(
    capsys: pytest.CaptureFixture[str], expression: str, result: str
) -> None:
    # Spaces around the commas are forgiven; $default is one of the keys.
    assert main(["route", expression, BODY, "--routes", "join, chat/join ,action,$default"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    lines = _lines(out)
    assert "4. Route keys of the API: $default, action, chat/join, join" in lines
    if result == "join-":
        expected = (
            "→ no route key equals 'join-' (keys are compared exactly, case included):"
            " route $default."
        )
    else:
        expected = f"→ {result!r} equals the route key exactly: route {result}."
    assert lines[-1] == expected


@pytest.mark.parametrize(
    ("message", "routes", "last"),
    [
        pytest.param("hello", "join,$default", "→ route $default.", id="not-json"),
        pytest.param(
            '{"action":"leave"}',
            "join",
            FORBIDDEN_FRAME + " and stays connected.",
            id="forbidden",
        ),
    ],
)
def test_route_tells_fallback_and_forbidden(
    capsys: pytest.CaptureFixture[str], message: str, routes: str, last: str
) -> None:
    assert main(["route", "$request.body.action", message, "--routes", routes]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert _lines(out)[-1] == last


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        pytest.param("", "selection expression is empty", id="empty"),
        pytest.param(
            "${request.body.action",
            "unterminated '${' at offset 0 in selection expression '${request.body.action'",
            id="unterminated",
        ),
        pytest.param("$request.foo", "unsupported variable '$request.foo'", id="not-request-body"),
        pytest.param(
            "${request.body..}", "invalid JSONPath '..' after request.body", id="bad-jsonpath"
        ),
    ],
)
def test_route_with_an_invalid_expression_exits_2(
    capsys: pytest.CaptureFixture[str], expression: str, problem: str
) -> None:
    assert main(["route", expression, BODY]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("apigw-ws: error: ")
    assert problem in err
    assert err.count("\n") == 1  # one line, no traceback


# apigw-ws check


@pytest.mark.usefixtures("restore_imports")
def test_check_lists_the_repos_routes(capsys: pytest.CaptureFixture[str]) -> None:
    path = ROOT / "routes.yaml"
    assert main(["check", str(path)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out.splitlines()[0] == f"{path}: ok, stage 'local', route selection $request.body.action"
    assert _rows(out) == [
        ["ROUTE", "HANDLER", "RESPONSE", "TIMEOUT"],
        ["$connect", "handlers.chat.on_connect", "-", "29 s"],
        ["$disconnect", "handlers.chat.on_disconnect", "-", "29 s"],
        ["sendmessage", "handlers.chat.send_message", "one-way", "29 s"],
        ["$default", "handlers.chat.default", "one-way", "29 s"],
    ]
    assert len(out.splitlines()) == 6


@pytest.mark.usefixtures("restore_imports")
def test_check_shows_two_way_routes_and_timeouts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(FIXTURE)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out.splitlines()[0] == (
        f"{FIXTURE}: ok, stage 'teach', route selection"
        " ${request.body.service}/${request.body.action}"
    )
    assert _rows(out) == [
        ["ROUTE", "HANDLER", "RESPONSE", "TIMEOUT"],
        ["$connect", "teach_check_handlers.on_connect", "-", "29 s"],
        ["chat/ask", "teach_check_handlers.ask", "two-way", "0.5 s"],
        ["chat/tell", "teach_check_handlers.tell", "one-way", "29 s"],
        ["$default", "teach_check_handlers.ask", "two-way", "29 s"],
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "routes:\n  $default: app.handler\nbogus: 1\n",
            "bogus: unknown key",
            id="top-level-key",
        ),
        pytest.param(
            "routes:\n  talk:\n    handler: app.handler\n    timout: 1\n",
            "routes.talk.timout: unknown key, did you mean 'timeout'?",
            id="route-key",
        ),
    ],
)
def test_check_rejects_a_bad_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    path = tmp_path / "routes.yaml"
    path.write_text(text, encoding="utf-8")
    assert main(["check", str(path)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"apigw-ws: error: {path}: ")
    assert expected in err
    assert err.count("\n") == 1


@pytest.mark.usefixtures("restore_imports")
def test_check_reports_every_handler_that_cannot_be_imported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    unique = re.sub(r"\W", "_", tmp_path.name)
    missing, broken = f"teach_missing_{unique}", f"teach_broken_{unique}"
    (tmp_path / f"{broken}.py").write_text("def handler(:\n", encoding="utf-8")
    path = tmp_path / "routes.yaml"
    path.write_text(
        f"routes:\n  join: {missing}.handler\n  $default: {broken}.handler\n", encoding="utf-8"
    )
    assert main(["check", str(path)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 2, err
    assert lines[0].startswith(
        f"apigw-ws: error: {path}: routes.join.handler: function '{missing}-handler':"
        f" Runtime.ImportModuleError: Unable to import module {missing!r}"
    )
    assert lines[1].startswith(
        f"apigw-ws: error: {path}: routes.$default.handler: function '{broken}-handler':"
        f" Runtime.UserCodeSyntaxError: Syntax error in module {broken!r}: invalid syntax"
        f" ({tmp_path.resolve() / (broken + '.py')}, line 1)"
    )


# The commands as users run them


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "emulator", *args],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


def test_python_m_emulator_route(tmp_path: Path) -> None:
    done = _run("route", "$request.body.action", BODY, "--routes", "join,$default", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    lines = _lines(done.stdout)
    assert "$request.body.action JSONPath $.action: found \"join\", stringified 'join'" in lines
    assert lines[-1] == "→ 'join' equals the route key exactly: route join."


def test_python_m_emulator_check(tmp_path: Path) -> None:
    done = _run("check", str(FIXTURE), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert ["chat/ask", "teach_check_handlers.ask", "two-way", "0.5 s"] in _rows(done.stdout)
    assert len(_rows(done.stdout)) == 5
