"""The pytest plugin: an emulator per test, registered through ``pytest11``.

Installing the package is enough. Where the API comes from, first match wins:

1. the fixture argument: ``@pytest.mark.parametrize("apigw", ["routes.yaml"], indirect=True)``;
2. a marker: ``@pytest.mark.apigw(routes="path/routes.yaml")`` or
   ``@pytest.mark.apigw(routes={"$default": "app.handler"}, base_dir="src")``;
3. the command-line option ``--apigw-routes PATH``;
4. the ini setting ``apigw_routes = PATH`` (relative to the rootdir).

``apigw`` is a started :class:`~emulator.tools.testing.Harness`; it is stopped after
the test, every ``$disconnect`` run. ``apigw_factory`` starts more, from any
source: ``await apigw_factory({"routes": {...}}, base_dir=...)``.

The AWS services handlers call run in-process (moto, the ``aws`` extra),
the API's tables, queues, topics and buckets created, when the first of these
says so: ``apigw_factory(..., mock_aws=True)``, the marker
``@pytest.mark.apigw_mock_aws`` (``apigw_mock_aws(False)`` turns it off), the
option ``--apigw-mock-aws``, the ini setting ``apigw_mock_aws = true``, the
API's own ``mockAws: true``. Each test starts from empty services;
``apigw.aws`` reaches them (``apigw.aws.items("connections")``).

A project needs no asyncio configuration: an ``async def`` test that uses these
fixtures runs as an asyncio test in pytest-asyncio's strict mode too, as if it
were marked ``@pytest.mark.asyncio``.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Mapping
from pathlib import Path
from typing import Any

import pytest

from emulator.tools.testing import Harness

__all__ = ["apigw", "apigw_factory"]

try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - pytest-asyncio is in the test extra
    pytest_asyncio = None  # type: ignore[assignment]

MARKER = "apigw"
OPTION = "--apigw-routes"
INI = "apigw_routes"
MOCK_AWS_MARKER = "apigw_mock_aws"
MOCK_AWS_OPTION = "--apigw-mock-aws"
MOCK_AWS_INI = "apigw_mock_aws"
FIXTURES = frozenset(__all__)
_LOOP_SCOPE_INI = "asyncio_default_fixture_loop_scope"

Source = str | Path | Mapping[str, Any]
Factory = Callable[..., Awaitable[Harness]]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("apigw", "API Gateway WebSocket emulator")
    group.addoption(
        OPTION,
        dest="apigw_routes",
        default=None,
        metavar="PATH",
        help="routes.yaml served by the apigw fixture when a test does not name one",
    )
    parser.addini(INI, "routes.yaml served by the apigw fixture (relative to the rootdir)")
    group.addoption(
        MOCK_AWS_OPTION,
        dest="apigw_mock_aws",
        action="store_true",
        default=None,
        help="run the AWS services handlers call in-process (moto) for every apigw emulator",
    )
    parser.addini(
        MOCK_AWS_INI,
        "run the AWS services handlers call in-process (moto) for every apigw emulator",
        type="bool",
        default=None,
    )


# Before pytest-asyncio's own pytest_configure, which warns when the option is unset.
@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(routes, base_dir=None): the API the apigw fixture serves for this test: "
        "a routes.yaml path or the routes.yaml document as a dict",
    )
    config.addinivalue_line(
        "markers",
        f"{MOCK_AWS_MARKER}(enabled=True): the AWS services handlers call run in-process"
        " (moto) for this test's apigw emulators, the API's resources created",
    )
    if pytest_asyncio is not None and not config.getini(_LOOP_SCOPE_INI):
        # pytest-asyncio reminds every project that has not chosen a default loop
        # scope for async fixtures; these fixtures work under any choice (they
        # are function-scoped, on the loop of the test that requests them), so
        # installing the emulator must not bring the reminder into a project
        # that never wrote an async fixture. Nothing else changes: the option
        # keeps pytest-asyncio's default.
        warnings.filterwarnings(
            "ignore",
            message=f'The configuration option "{_LOOP_SCOPE_INI}" is unset',
            category=pytest.PytestDeprecationWarning,
        )


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_pycollect_makeitem(
    collector: pytest.Module | pytest.Class, name: str, obj: object
) -> Generator[None, object, object]:
    """Mark ``async def`` tests that use the fixtures as asyncio tests.

    pytest-asyncio's strict mode runs a coroutine test only if it carries
    ``@pytest.mark.asyncio``; auto mode marks every one. pytest-asyncio turns
    marked coroutines into its own items in a wrapper of this same hook, after
    the items exist: as the innermost wrapper (``trylast``), this one marks them
    first.
    """
    collected = yield
    if pytest_asyncio is None or not inspect.iscoroutinefunction(obj):
        return collected
    items = collected if isinstance(collected, list) else [collected]
    for item in items:
        if (
            isinstance(item, pytest.Function)
            and FIXTURES & set(item.fixturenames)
            and item.get_closest_marker("asyncio") is None
        ):
            item.add_marker("asyncio")
    return collected


def _source(request: pytest.FixtureRequest) -> tuple[Source, Path | None]:
    param = getattr(request, "param", None)
    if param is not None:
        return param, None
    marker = request.node.get_closest_marker(MARKER)
    if marker is not None:
        routes = marker.kwargs.get("routes", marker.args[0] if marker.args else None)
        if routes is None:
            raise pytest.UsageError(f"@pytest.mark.{MARKER} needs routes=PATH or routes={{...}}")
        base_dir = marker.kwargs.get("base_dir")
        return routes, Path(base_dir) if base_dir is not None else None
    option = request.config.getoption("apigw_routes")
    if option:
        return Path(option), None
    ini = request.config.getini(INI)
    if ini:
        return request.config.rootpath / str(ini), None
    raise pytest.UsageError(
        f"the apigw fixture has no API to serve: give it one with indirect parametrization, "
        f"@pytest.mark.{MARKER}(routes=...), {OPTION} PATH or the ini setting {INI}"
    )


def _mock_aws(request: pytest.FixtureRequest) -> bool | None:
    """Whether to mock AWS: the marker, the option, the ini setting; None: as the API says."""
    marker = request.node.get_closest_marker(MOCK_AWS_MARKER)
    if marker is not None:
        return bool(marker.kwargs.get("enabled", marker.args[0] if marker.args else True))
    if request.config.getoption("apigw_mock_aws"):
        return True
    ini = request.config.getini(MOCK_AWS_INI)
    return None if ini is None else bool(ini)


async def _start(
    source: Source, base_dir: Path | None, rootpath: Path, mock_aws: bool | None = None
) -> Harness:
    if isinstance(source, Mapping):
        document = dict(source)
        if "routes" not in document:
            # Routes given bare: {"$default": "app.handler"}.
            document = {"routes": document}
        harness = Harness.from_config(document, base_dir=base_dir or rootpath, mock_aws=mock_aws)
    else:
        harness = Harness.from_config(Path(source), mock_aws=mock_aws)
    await harness.__aenter__()
    return harness


if pytest_asyncio is not None:

    @pytest_asyncio.fixture
    async def apigw(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
        """An emulator on 127.0.0.1 (port 0) serving this test's API."""
        source, base_dir = _source(request)
        harness = await _start(source, base_dir, request.config.rootpath, _mock_aws(request))
        try:
            yield harness
        finally:
            await harness.stop()

    @pytest_asyncio.fixture
    async def apigw_factory(request: pytest.FixtureRequest) -> AsyncIterator[Factory]:
        """Start emulators from a path or a dict; all are stopped after the test."""
        started: list[Harness] = []
        default_mock = _mock_aws(request)

        async def start(
            source: Source, *, base_dir: str | Path | None = None, mock_aws: bool | None = None
        ) -> Harness:
            harness = await _start(
                source,
                Path(base_dir) if base_dir is not None else None,
                request.config.rootpath,
                default_mock if mock_aws is None else mock_aws,
            )
            started.append(harness)
            return harness

        try:
            yield start
        finally:
            for harness in started:
                await harness.stop()

else:  # pragma: no cover
    _NEEDS_ASYNCIO = "the apigw fixtures need pytest-asyncio: pip install pytest-asyncio"

    @pytest.fixture
    def apigw() -> None:
        raise pytest.UsageError(_NEEDS_ASYNCIO)

    @pytest.fixture
    def apigw_factory() -> None:
        raise pytest.UsageError(_NEEDS_ASYNCIO)
