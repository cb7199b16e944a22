"""The pytest plugin, black-box: pytester runs test files that use it."""

from __future__ import annotations

import itertools
import shutil

import pytest

from tests.conftest import ROOT

_names = itertools.count()

HANDLERS = """
import json

def echo(event, context):
    return {"statusCode": 200, "body": event["body"]}

def hello(event, context):
    context.post_to_connection(event["requestContext"]["connectionId"], "posted")
    return {"statusCode": 200, "body": "hello"}

def refuse(event, context):
    return {"statusCode": 401}
"""


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest(
        "-p",
        "no:cacheprovider",
        "-o",
        "asyncio_default_fixture_loop_scope=function",
        # The plugin's package is imported before pytester's run starts.
        "-W",
        "ignore::pytest.PytestAssertRewriteWarning",
        *args,
    )


def handlers(pytester: pytest.Pytester) -> str:
    """Write the handler module under a name no other test used (imports are cached)."""
    name = f"plugin_app_{next(_names)}"
    pytester.makepyfile(**{name: HANDLERS})
    return name


def routes_yaml(pytester: pytest.Pytester, module: str, filename: str = "routes.yaml") -> None:
    pytester.makefile(
        ".yaml",
        **{
            filename.removesuffix(".yaml"): f"""
routes:
  $default:
    handler: {module}.echo
    routeResponse: true
  hello:
    handler: {module}.hello
    routeResponse: true
"""
        },
    )


def test_inline_routes_from_a_marker(pytester: pytest.Pytester) -> None:
    module = handlers(pytester)
    pytester.makepyfile(
        f"""
        import pytest

        ECHO = {{"handler": "{module}.echo", "routeResponse": True}}

        @pytest.mark.apigw(routes={{"$default": ECHO}})
        async def test_echo(apigw):
            client = await apigw.connect()
            await client.send_text("ping")
            assert await client.receive_text() == "ping"
            assert apigw.record.events("$default")[0]["body"] == "ping"
        """
    )
    run(pytester, "--asyncio-mode=auto").assert_outcomes(passed=1)


def test_routes_yaml_from_the_ini_setting(pytester: pytest.Pytester) -> None:
    module = handlers(pytester)
    routes_yaml(pytester, module)
    pytester.makeini("[pytest]\napigw_routes = routes.yaml\nasyncio_mode = auto\n")
    pytester.makepyfile(
        """
        async def test_hello(apigw):
            client = await apigw.connect()
            await client.send_json({"action": "hello"})
            assert await client.receive_text() == "posted"
            assert await client.receive_text() == "hello"
            sent = apigw.record.sent_to(client.connection_id)
            assert sent == ["posted", "hello"]
            assert [s.source for s in apigw.record.sent] == ["post", "route-response"]
            apigw.record.clear()
            assert apigw.record.sent == [] and apigw.record.invocations == []
        """
    )
    run(pytester).assert_outcomes(passed=1)


def test_precedence_argument_marker_option_ini(pytester: pytest.Pytester) -> None:
    module = handlers(pytester)
    for name in ("ini", "option", "marker", "argument"):
        pytester.makefile(
            ".yaml",
            **{
                name: f"""
stage: {name}
routes:
  $default: {module}.echo
"""
            },
        )
    pytester.makeini("[pytest]\napigw_routes = ini.yaml\nasyncio_mode = auto\n")
    pytester.makepyfile(
        """
        import pytest

        async def test_option(apigw):
            assert apigw.url.endswith("/option")

        @pytest.mark.apigw(routes="marker.yaml")
        async def test_marker(apigw):
            assert apigw.url.endswith("/marker")

        @pytest.mark.apigw(routes="marker.yaml")
        @pytest.mark.parametrize("apigw", ["argument.yaml"], indirect=True)
        async def test_argument(apigw):
            assert apigw.url.endswith("/argument")
        """
    )
    result = run(pytester, "--apigw-routes", "option.yaml")
    result.assert_outcomes(passed=3)
    pytester.makepyfile(
        test_ini="""
        async def test_ini(apigw):
            assert apigw.url.endswith("/ini")
        """
    )
    run(pytester, "test_ini.py").assert_outcomes(passed=1)


def test_strict_mode(pytester: pytest.Pytester) -> None:
    module = handlers(pytester)
    pytester.makepyfile(
        f"""
        import pytest

        ECHO = {{"handler": "{module}.echo", "routeResponse": True}}

        @pytest.mark.asyncio
        @pytest.mark.apigw(routes={{"$default": ECHO}})
        async def test_echo(apigw):
            client = await apigw.connect()
            await client.send_text("strict")
            assert await client.receive_text() == "strict"
        """
    )
    run(pytester, "--asyncio-mode=strict").assert_outcomes(passed=1)


def test_disconnects_run_before_the_test_ends(pytester: pytest.Pytester) -> None:
    module = handlers(pytester)
    pytester.makepyfile(
        f"""
        import pytest

        seen = []

        @pytest.mark.apigw(routes={{"$default": "{module}.echo", "$disconnect": "{module}.echo"}})
        async def test_open(apigw):
            seen.append(apigw)
            await apigw.connect()
            await apigw.connect()

        def test_after():
            (api,) = seen
            events = api.record.events("$disconnect")
            codes = [e["requestContext"]["disconnectStatusCode"] for e in events]
            assert codes == [1001, 1001]
        """
    )
    run(pytester, "--asyncio-mode=auto").assert_outcomes(passed=2)


def test_factory_rejections_time_and_timeouts(pytester: pytest.Pytester) -> None:
    module = handlers(pytester)
    pytester.makepyfile(
        f"""
        import pytest

        async def test_factory(apigw_factory):
            api = await apigw_factory(
                {{"routes": {{"$connect": "{module}.refuse", "$default": "{module}.echo"}}}}
            )
            assert await api.connect_rejected() == 401

        async def test_idle_timeout_without_waiting(apigw_factory):
            api = await apigw_factory({{"$default": "{module}.echo"}})
            client = await api.connect()
            api.advance_time(600)
            assert await client.wait_closed() == (1001, "Going away")

        async def test_receive_times_out_clearly(apigw_factory):
            api = await apigw_factory({{"$default": "{module}.echo"}})
            client = await api.connect()
            with pytest.raises(AssertionError, match="received nothing within 0.05 s"):
                await client.receive_text(timeout=0.05)
        """
    )
    run(pytester, "--asyncio-mode=auto").assert_outcomes(passed=3)


def test_no_api_configured_is_a_clear_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        async def test_nothing(apigw):
            pass
        """
    )
    result = run(pytester, "--asyncio-mode=auto")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*the apigw fixture has no API to serve*"])


def test_the_marker_and_option_are_documented(pytester: pytest.Pytester) -> None:
    result = run(pytester, "--help")
    result.stdout.fnmatch_lines(["*--apigw-routes=PATH*", "*apigw_routes*"])
    result = run(pytester, "--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.apigw(routes, base_dir=None)*"])


def test_async_tests_that_use_the_fixtures_run_in_strict_mode(pytester: pytest.Pytester) -> None:
    """Strict mode, no marker: the tests that use the fixtures (directly or through
    another fixture) run on asyncio; an unrelated coroutine test is left alone."""
    module = handlers(pytester)
    pytester.makepyfile(
        f"""
        import pytest

        ECHO = {{"$default": {{"handler": "{module}.echo", "routeResponse": True}}}}
        pytestmark = pytest.mark.apigw(routes=ECHO)

        @pytest.fixture
        def chat(apigw):
            return apigw

        async def test_direct(apigw):
            client = await apigw.connect()
            await client.send_text("direct")
            assert await client.receive_text() == "direct"

        async def test_factory(apigw_factory):
            api = await apigw_factory(ECHO)
            client = await api.connect()
            await client.send_text("factory")
            assert await client.receive_text() == "factory"

        async def test_through_a_fixture(chat):
            client = await chat.connect()
            await client.send_text("through")
            assert await client.receive_text() == "through"

        class TestInAClass:
            async def test_method(self, apigw):
                assert (await apigw.connect()).connection_id

        async def test_unrelated():
            pass
        """
    )
    result = run(pytester, "--asyncio-mode=strict")
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines(
        ["*test_unrelated*", "*async def functions are not natively supported*"]
    )


def readme_project(pytester: pytest.Pytester) -> None:
    """A fresh project as the README describes it: the example, the chat
    application, and ``apigw_routes`` as the only setting."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Tests of your own API: the pytest plugin", 1)[1]
    example = section.split("```python\n", 1)[1].split("```", 1)[0]
    where = example.splitlines()[0]
    assert where.startswith("# tests/test_chat.py -- with `apigw_routes = routes.yaml` under")
    (pytester.path / "tests").mkdir()
    (pytester.path / "tests" / "test_chat.py").write_text(example, encoding="utf-8")
    shutil.copy(ROOT / "routes.yaml", pytester.path / "routes.yaml")
    shutil.copytree(ROOT / "handlers", pytester.path / "handlers")
    pytester.makepyprojecttoml('[tool.pytest.ini_options]\napigw_routes = "routes.yaml"\n')


@pytest.mark.parametrize(
    "args",
    [[], ["--asyncio-mode=auto"], ["-n", "4"]],
    ids=["strict mode", "auto mode", "xdist"],
)
def test_the_readme_example_passes(pytester: pytest.Pytester, args: list[str]) -> None:
    """The README's complete test of the chat application, run as a user would:
    in a fresh project, in its own process, with no asyncio configuration."""
    readme_project(pytester)
    # -W error: no warning either, such as pytest-asyncio's unset loop scope.
    result = pytester.runpytest_subprocess("-W", "error", *args)
    result.assert_outcomes(passed=2)
    output = result.stdout.str() + result.stderr.str()
    assert "is unset" not in output
    assert "Warning" not in output


TABLE_APP = """
import os

import boto3

table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])


def connect(event, context):
    table.put_item(Item={"id": event["requestContext"]["connectionId"]})
    return {"statusCode": 200}
"""


def table_api(pytester: pytest.Pytester, *, mock_aws: bool | None = None) -> str:
    """A routes.yaml whose $connect writes to a table it declares; the module's name."""
    name = f"plugin_table_app_{next(_names)}"
    pytester.makepyfile(**{name: TABLE_APP})
    flag = "" if mock_aws is None else f"mockAws: {str(mock_aws).lower()}\n"
    pytester.makefile(
        ".yaml",
        routes=f"""
{flag}resources:
  Things:
    Type: AWS::Serverless::SimpleTable
environment:
  TABLE_NAME: !Ref Things
routes:
  $connect: {name}.connect
""",
    )
    return name


MOCKED_TEST = """
import pytest

{marker}
async def test_connect_writes_to_the_table(apigw):
    client = await apigw.connect()
    assert apigw.aws.items("Things") == [{{"id": client.connection_id}}]
"""


@pytest.mark.parametrize(
    ("marker", "args", "ini"),
    [
        ("@pytest.mark.apigw_mock_aws", [], ""),
        ("", ["--apigw-mock-aws"], ""),
        ("", [], "apigw_mock_aws = true\n"),
    ],
    ids=["marker", "option", "ini"],
)
def test_mock_aws_from_a_marker_an_option_or_the_ini(
    pytester: pytest.Pytester, marker: str, args: list[str], ini: str
) -> None:
    table_api(pytester)
    pytester.makeini(f"[pytest]\napigw_routes = routes.yaml\nasyncio_mode = auto\n{ini}")
    pytester.makepyfile(MOCKED_TEST.format(marker=marker))
    run(pytester, *args).assert_outcomes(passed=1)


def test_the_marker_turns_off_what_the_api_turns_on(pytester: pytest.Pytester) -> None:
    """``mockAws: true`` in the API, ``apigw_mock_aws(False)`` on a test: the table
    does not exist, its variable is not set, and the init says why."""
    table_api(pytester, mock_aws=True)
    pytester.makeini("[pytest]\napigw_routes = routes.yaml\nasyncio_mode = auto\n")
    pytester.makepyfile(
        MOCKED_TEST.format(marker="")
        + """

@pytest.mark.apigw_mock_aws(False)
async def test_without(apigw):
    pass
"""
    )
    result = run(pytester)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*KeyError: 'TABLE_NAME'*; TABLE_NAME names Ref Things of 'resources',"
            " which exists with --mock-aws*"
        ]
    )


def test_the_mock_aws_marker_and_option_are_documented(pytester: pytest.Pytester) -> None:
    result = run(pytester, "--help")
    result.stdout.fnmatch_lines(["*--apigw-mock-aws*", "*apigw_mock_aws*"])
    result = run(pytester, "--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.apigw_mock_aws(enabled=True)*"])
