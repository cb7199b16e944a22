"""Bounded work on every input, through the real server.

* IAM wildcard matching in an authorizer's policy (spec §6.3): ``*`` matches any
  run of characters and ``?`` one; the policy comes from the authorizer, which
  may echo user input into it. A regular expression of ``.*`` runs backtracks
  exponentially in their number on a value that does not match: eight stars
  froze the event loop for 25 s, ten for ever.
* Route selection (spec §3.2): a path with two ``..`` visits the square of the
  message; the evaluation stops at a bound (tests/test_selection.py has the
  unit cases).
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from emulator.gateway.access.policy import glob_match
from tests.conftest import StartApi
from tests.serving import serving

STAGE = "a" * 60
# A methodArn with many of the character the pattern's pieces look for.
ARN = f"arn:aws:execute-api:us-east-1:000000000000:abcdefghij/{STAGE}/$connect"
PATHOLOGICAL = "arn:aws:execute-api:*" + "a*" * 40 + "b"
GUARD = 60.0  # seconds: generous, and only reached if matching backtracks

CASES = [
    pytest.param("*", ARN, True, id="star"),
    pytest.param(ARN, ARN, True, id="exact"),
    pytest.param(ARN + "x", ARN, False, id="longer"),
    pytest.param(ARN[:-1], ARN, False, id="shorter"),
    pytest.param("arn:aws:execute-api:*:*:abcdefghij/*/$connect", ARN, True, id="each-part"),
    pytest.param("arn:aws:execute-api:*/$disconnect", ARN, False, id="other-route"),
    pytest.param("arn:aws:execute-api:us-east-?:*", ARN, True, id="question-mark"),
    pytest.param("arn:aws:execute-api:us-east-??:*", ARN, False, id="question-mark-too-many"),
    pytest.param("arn:aws:execute-api:us-east-1?*", ARN, True, id="question-then-star"),
    pytest.param("?" * len(ARN), ARN, True, id="all-question-marks"),
    pytest.param("?" * (len(ARN) + 1), ARN, False, id="one-question-mark-too-many"),
    pytest.param("**arn**", "arn", True, id="stars-around"),
    pytest.param("a*a", "a", False, id="pieces-may-not-overlap"),
    pytest.param("a*a", "aa", True, id="pieces-side-by-side"),
    pytest.param("*$connect", ARN, True, id="suffix"),
    pytest.param("", "", True, id="empty"),
    pytest.param("", "x", False, id="empty-pattern"),
    pytest.param(PATHOLOGICAL, ARN, False, id="forty-stars-no-match"),
    pytest.param("arn:aws:execute-api:*" + "a*" * 40 + "$connect", ARN, True, id="forty-stars"),
]


@pytest.mark.parametrize(("pattern", "value", "matches"), CASES)
def test_glob_match(pattern: str, value: str, matches: bool) -> None:
    assert glob_match(pattern, value) is matches


def _reference(pattern: str, value: str) -> bool:
    """The old, backtracking definition: right, but exponential."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.DOTALL) is not None


@settings(max_examples=1000, database=None)
@given(
    pattern=st.text(alphabet="ab*?:/", max_size=12),
    value=st.text(alphabet="ab:/c", max_size=16),
)
def test_glob_match_agrees_with_the_regular_expression(pattern: str, value: str) -> None:
    assert glob_match(pattern, value) == _reference(pattern, value)


def test_brackets_are_not_wildcards_in_iam() -> None:
    # fnmatch would read [ab] as a class; IAM has only * and ?.
    assert fnmatch.fnmatchcase("a", "[ab]")
    assert not glob_match("[ab]", "a")
    assert glob_match("[ab]", "[ab]")


def test_many_stars_that_cannot_match_return_at_once() -> None:
    # In a fresh interpreter with a guard: a backtracking matcher never returns,
    # and would take the test run down with it.
    code = textwrap.dedent(
        f"""
        from emulator.gateway.access.policy import parse_statements, evaluate
        statements = parse_statements({{"Statement": {{
            "Effect": "Allow", "Action": "execute-api:*", "Resource": {PATHOLOGICAL!r}}}}})
        print(evaluate(statements, "execute-api:Invoke", {ARN!r}).value)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=GUARD, check=True
    )
    assert result.stdout.strip() == "implicit-deny"


async def test_an_authorizer_policy_with_many_stars_is_refused_not_hung(tmp_path: Path) -> None:
    # Through the real server, in its own process: a hung event loop there
    # cannot hang this test, which gives up after GUARD seconds.
    (tmp_path / "authz.py").write_text(
        textwrap.dedent(
            f"""
            def authorize(event, context):
                resource = {PATHOLOGICAL!r} if "stars" in event["queryStringParameters"] else "*"
                return {{"principalId": "me", "policyDocument": {{"Version": "2012-10-17",
                    "Statement": [{{"Action": "execute-api:Invoke", "Effect": "Allow",
                                    "Resource": resource}}]}}}}

            def ok(event, context):
                return {{"statusCode": 200}}
            """
        )
    )
    (tmp_path / "routes.yaml").write_text(
        f"stage: {STAGE}\nauthorizer: {{handler: authz.authorize}}\n"
        "routes: {$connect: authz.ok, $default: authz.ok}\n"
    )
    routes = str(tmp_path / "routes.yaml")
    args = ["--config", routes, "--port", "0", "--no-reload", "--no-inspector"]
    async with serving(args, cwd=tmp_path, timeout=GUARD) as server:
        with pytest.raises(InvalidStatus) as refused:
            await asyncio.wait_for(connect(f"{server.url}?stars=1", open_timeout=None), GUARD)
        assert refused.value.response.status_code == 403
        # And the server still answers.
        async with asyncio.timeout(GUARD), connect(f"{server.url}?plain=1") as client:
            await client.send("hello")
        await server.stop()


async def test_a_message_a_path_would_take_unbounded_work_on_goes_to_default(
    start_api: StartApi,
) -> None:
    api = await start_api(
        {
            "$default": {"handler": "probe.route_key", "routeResponse": True},
            "a": {"handler": "probe.route_key", "routeResponse": True},
        },
        routeSelectionExpression="${request.body..a..a}",
    )
    decisions: list[Any] = []
    api.emulator.observers.append(
        lambda kind, details: decisions.append(details["decision"]) if kind == "frame" else None
    )
    bystander = await api.connect()
    client = await api.connect()
    chain: dict[str, Any] = {}
    for _ in range(700):  # 4 KB of JSON, 700 levels deep
        chain = {"a": chain}
    await client.send_text(json.dumps(chain))
    assert await client.receive_text() == "$default"
    assert decisions[-1].reason.value == "not-json"
    await bystander.send_text("[]")
    assert await bystander.receive_text() == "$default"
