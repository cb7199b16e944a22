"""Running a route's backend integration, I/O and all (spec §A.1).

:meth:`IntegrationRunner.run` takes the proxy event the route would give a
Lambda (so that ``$context`` holds the very same values), runs the pure
:func:`~.backend.prepare`, sends the request (:mod:`.http`, or :mod:`.aws`
for ``AWS`` integrations; nothing for ``MOCK``) within the integration's
timeout, and returns :func:`~.backend.finish`'s :class:`~.outcome.Outcome`
with an :class:`~emulator.runtime.invoke.Invocation` for observers and logs. It is a
task boundary: whatever goes wrong becomes ``Internal server error``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from emulator.gateway.events import trace_id
from emulator.gateway.integrations.aws import call_service
from emulator.gateway.integrations.backend import (
    BackendError,
    BackendResponse,
    Prepared,
    finish,
    prepare,
    request_data,
)
from emulator.gateway.integrations.http import HttpClient
from emulator.gateway.integrations.outcome import Failure, IntegrationResult, Outcome, failed
from emulator.gateway.integrations.vtl import check_template
from emulator.model.api import ApiConfig, RouteConfig
from emulator.model.integration import IntegrationConfig, IntegrationType
from emulator.runtime.invocation import Invocation, InvocationOutcome

__all__ = ["BackendIntegration", "IntegrationRunner"]

logger = logging.getLogger("emulator")


class IntegrationRunner:
    """Runs the integration routes of one API; owns the HTTP connection pool."""

    def __init__(
        self,
        config: ApiConfig,
        *,
        api_id: str,
        region: str,
        port: Callable[[], int],
        proto: str = "http",
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._config = config
        self._api_id = api_id
        self._region = region
        self._port = port
        self._proto = proto
        self._environ = environ if environ is not None else os.environ
        self._http = HttpClient()
        for route in config.routes.values():
            if isinstance(route.integration, IntegrationConfig):
                _warn_about(route, route.integration, config)

    async def run(
        self,
        route: RouteConfig,
        event: dict[str, Any],
        *,
        raw_query: str | None = None,
        now_ms: int = 0,
    ) -> IntegrationResult:
        """Run ``route``'s integration for ``event`` (CONNECT, MESSAGE or DISCONNECT)."""
        started = time.monotonic()
        integration = route.integration
        assert isinstance(integration, IntegrationConfig), "a backend integration"
        description: dict[str, Any] = {"type": integration.type.value}
        prepared: Prepared | None = None
        try:
            data = request_data(event, self._config.stage_variables)
            context = event["requestContext"]
            trace = _header(event, "x-amzn-trace-id") or trace_id(now_ms, context["requestId"])
            prepared = prepare(
                integration,
                data,
                api_id=self._api_id,
                port=self._port(),
                proto=self._proto,
                trace=trace,
                raw_query=raw_query,
            )
            outcome = await self._call(route, integration, prepared, data, description)
        except Exception as exc:  # a task boundary: AWS answers 500
            logger.error("%s (%s) failed", integration.describe(), route.route_key, exc_info=True)
            outcome = failed(Failure.INTERNAL, f"{type(exc).__name__}: {exc}")
        if outcome.reason:
            log = logger.error if outcome.failure is not None else logger.warning
            log("%s (%s): %s", integration.describe(), route.route_key, outcome.reason)
        return IntegrationResult(
            outcome,
            _invocation(outcome, (time.monotonic() - started) * 1000),
            {"requestContext": event["requestContext"], "integration": description},
        )

    async def _call(
        self,
        route: RouteConfig,
        integration: IntegrationConfig,
        prepared: Prepared,
        data: Any,
        description: dict[str, Any],
    ) -> Outcome:
        if prepared.failure is not None:
            return failed(prepared.failure, prepared.reason)
        if prepared.request is None:  # MOCK
            assert prepared.mock_status is not None
            description["statusCode"] = prepared.mock_status
            response = BackendResponse(prepared.mock_status)
        else:
            request = prepared.request
            description.update(
                method=request.method,
                url=request.url,
                headers=[list(h) for h in request.headers],
                body=request.body.decode("utf-8", "replace"),
            )
            try:
                async with asyncio.timeout(integration.timeout):
                    if integration.type is IntegrationType.AWS:
                        response = await call_service(
                            self._http,
                            request,
                            endpoints=self._config.aws_endpoints,
                            environ=self._environ,
                            default_region=self._region,
                        )
                    else:
                        response = await self._http.send(request)
            except TimeoutError:
                reason = f"no answer within {integration.timeout:g} s"
                return failed(Failure.TIMEOUT, reason)
            except BackendError as exc:
                if exc.timed_out:
                    return failed(Failure.TIMEOUT, str(exc))
                # AWS: "Execution failed due to configuration error" -> 500.
                return failed(Failure.INTERNAL, str(exc))
            description["statusCode"] = response.status
        return finish(integration, data, response, two_way=route.route_response)

    async def aclose(self) -> None:
        await self._http.aclose()


def _header(event: Mapping[str, Any], name: str) -> str | None:
    for header, value in (event.get("headers") or {}).items():
        if header.lower() == name:
            return str(value)
    return None


def _invocation(outcome: Outcome, duration_ms: float) -> Invocation:
    if outcome.failure is Failure.TIMEOUT:
        return Invocation(InvocationOutcome.TIMEOUT, duration_ms=duration_ms)
    value: dict[str, Any] = {"statusCode": outcome.status}
    if isinstance(outcome.frame, str):
        value["body"] = outcome.frame
    if outcome.failure is not None:
        error = RuntimeError(f"{outcome.failure.value}: {outcome.reason}")
        return Invocation(InvocationOutcome.ERROR, value, error, duration_ms)
    return Invocation(InvocationOutcome.OK, value, None, duration_ms)


def _warn_about(route: RouteConfig, integration: IntegrationConfig, config: ApiConfig) -> None:
    """Load-time warnings: what AWS would refuse or fail at, said once."""
    where = f"routes.{route.route_key}.integration"
    templates = {
        **{f"requestTemplates.{k}": v for k, v in integration.request_templates.items()},
        **{
            f"responses[{i}].responseTemplates.{k}": v
            for i, response in enumerate(integration.responses)
            for k, v in response.response_templates.items()
        },
    }
    for key, text in templates.items():
        problem = check_template(text)
        if problem is not None:
            logger.warning("%s: %s.%s: %s", config.source, where, key, problem)
    declared = route.request.request_parameters
    for destination, source in integration.request_parameters.items():
        if (
            source.startswith(("route.request.header.", "route.request.querystring."))
            and source not in declared
        ):
            # AWS: "Invalid mapping expression parameter specified" (§A.2.2).
            logger.warning(
                "%s: %s.requestParameters.%s: %s is not declared in the route's"
                " requestParameters; AWS rejects the mapping",
                config.source,
                where,
                destination,
                source,
            )


class BackendIntegration:
    """A route's ``HTTP_PROXY``, ``HTTP``, ``AWS`` or ``MOCK`` integration, ready to
    start per event (the pipeline's view of :class:`IntegrationRunner`)."""

    def __init__(
        self,
        route: RouteConfig,
        runner: IntegrationRunner,
        spawn: Callable[[Coroutine[Any, Any, None]], object],
    ) -> None:
        self.route_key = route.route_key
        self.target = route.integration.describe()
        self._route = route
        self._runner = runner
        self._spawn = spawn

    def start(
        self,
        event: dict[str, Any],
        *,
        request_id: str,
        now_ms: int,
        on_done: Callable[[IntegrationResult], None],
        raw_query: str | None = None,
    ) -> None:
        """Run the integration in a task; ``on_done`` gets the result once, on the loop."""
        self._spawn(self._run(event, now_ms, raw_query, on_done))

    async def _run(
        self,
        event: dict[str, Any],
        now_ms: int,
        raw_query: str | None,
        on_done: Callable[[IntegrationResult], None],
    ) -> None:
        on_done(await self._runner.run(self._route, event, raw_query=raw_query, now_ms=now_ms))
