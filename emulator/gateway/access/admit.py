"""Who may connect: API keys, IAM, the Lambda REQUEST authorizer (spec §6, §A.8).

:func:`admit` runs the checks API Gateway makes before ``$connect``, in its
order, ending with ``$connect``'s required parameters (§A.7.2). Each step
either refuses the upgrade (an :class:`UpgradeAnswer`) or returns the
connection's :class:`ConnectionInfo` with what it learned: the API key, the
caller's IAM fields, or the authorizer's context, which ride on every later event.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from emulator.clock import Clock
from emulator.gateway.access.apikeys import (
    FORBIDDEN_BODY,
    check_api_key,
    presented_key,
    uses_authorizer,
    with_api_key,
)
from emulator.gateway.events import ConnectionInfo, connect_event
from emulator.gateway.log import EVENTS, log_connect
from emulator.gateway.validation import missing_parameters, missing_parameters_body
from emulator.model.api import ApiConfig, AuthorizerConfig
from emulator.model.identity import parse_identity_sources
from emulator.runtime.context import ACCOUNT_ID
from emulator.runtime.invocation import Invocation, InvocationOutcome, error_summary
from emulator.runtime.loader import AUTHORIZER, LoadedHandler
from emulator.wire.messages import UpgradeAnswer, UpgradeRequest

__all__ = ["admit", "check_signature", "run_authorizer"]

logger = logging.getLogger("emulator")

Invoke = Callable[[LoadedHandler, Any], Awaitable[Invocation]]


async def admit(
    config: ApiConfig,
    info: ConnectionInfo,
    request: UpgradeRequest,
    *,
    headers: Sequence[tuple[str, str]],
    query: Sequence[tuple[str, str]] | None,
    request_id: str,
    region: str,
    invoke: Invoke,
    handlers: Mapping[str, LoadedHandler],
    clock: Clock,
) -> UpgradeAnswer | ConnectionInfo:
    """Whether the connection may go on to ``$connect``: a refusal, or what it learned.

    ``headers`` are the upgrade's with API Gateway's additions, as ``$connect``
    gets them; ``handlers`` holds the authorizer's, if there is one.
    """
    connect_request = config.route_request("$connect")
    key_required = connect_request is not None and connect_request.api_key_required
    key_after_authorizer = uses_authorizer(config.api_key_selection_expression)
    # AWS: the API key, then IAM or the authorizer decide before $connect runs (spec §3.1).
    outcome: UpgradeAnswer | ConnectionInfo = info
    if key_required and not key_after_authorizer:
        outcome = _check_api_key(config, info, headers)
        if isinstance(outcome, UpgradeAnswer):
            return outcome
        info = outcome
    if config.authorization_type == "AWS_IAM":
        outcome = check_signature(info, request, config.iam_credentials, region)
    elif config.authorizer is not None:
        from emulator.gateway.access.authorizer import method_arn

        outcome = await run_authorizer(
            invoke,
            handlers[AUTHORIZER],
            config.authorizer,
            method_arn=method_arn(region, ACCOUNT_ID, info.api_id, config.stage),
            info=info,
            headers=headers,
            query=query,
            request_id=request_id,
            now_ms=clock.epoch_ms(),
        )
    if isinstance(outcome, UpgradeAnswer):
        return outcome
    if key_required and key_after_authorizer:
        # The key is the authorizer's usageIdentifierKey: checked after it (spec §A.8).
        outcome = _check_api_key(config, outcome, headers)
        if isinstance(outcome, UpgradeAnswer):
            return outcome
    if connect_request is not None and connect_request.request_parameters:
        missing = missing_parameters(connect_request, request.headers, query)
        if missing:
            # UNKNOWN on AWS; the spec recommends REST's 400 (§A.7.2).
            if EVENTS.isEnabledFor(logging.INFO):
                why = f"missing {', '.join(missing)}"
                log_connect(outcome.connection_id, outcome.source_ip, 400, None, None, why)
            return UpgradeAnswer(400, body=missing_parameters_body(missing))
    return outcome


def _check_api_key(
    config: ApiConfig, info: ConnectionInfo, headers: Sequence[tuple[str, str]]
) -> UpgradeAnswer | ConnectionInfo:
    expression = config.api_key_selection_expression
    presented = presented_key(expression, headers, info.authorizer)
    decision = check_api_key(config.api_keys, config.stage, presented)
    if decision.key is None:
        if EVENTS.isEnabledFor(logging.INFO):
            log_connect(info.connection_id, info.source_ip, 403, None, None, decision.reason)
        return UpgradeAnswer(decision.status or 403, body=FORBIDDEN_BODY)
    return with_api_key(info, decision.key)


def check_signature(
    info: ConnectionInfo,
    request: UpgradeRequest,
    credentials: Mapping[str, str],
    region: str,
) -> UpgradeAnswer | ConnectionInfo:
    """AWS_IAM: the upgrade must carry a valid SigV4 signature (spec §6.6).

    Without ``credentials``, the emulator's own environment's keys are the
    accepted ones.
    """
    # botocore's signer loads here, for an API that uses IAM: not at start-up.
    from emulator.gateway.access import sigv4
    from emulator.gateway.access.authorizer import rejection_body

    host = next((v for n, v in request.headers if n.lower() == "host"), "")
    accepted = dict(credentials)
    if not accepted:
        access_key = os.environ.get("AWS_ACCESS_KEY_ID")
        secret_key = os.environ.get("AWS_SECRET_ACCESS_KEY")
        if access_key and secret_key:
            accepted[access_key] = secret_key
    try:
        identity = sigv4.verify_sigv4(
            method="GET",
            host=host,
            target=request.target,
            headers=request.headers,
            credentials=accepted,
            now=datetime.datetime.now(datetime.UTC),
            region=region,
        )
    except sigv4.SignatureError as exc:
        if EVENTS.isEnabledFor(logging.INFO):
            log_connect(info.connection_id, info.source_ip, 403, None, None, str(exc))
        return UpgradeAnswer(403, body=rejection_body(403))
    # AWS: IAM-authorized events carry the caller (spec §2.1).
    return dataclasses.replace(
        info,
        iam={
            "accountId": identity.account_id,
            "caller": identity.caller,
            "user": identity.user,
            "userArn": identity.user_arn,
            "accessKey": identity.access_key,
            "principalOrgId": None,
        },
    )


async def run_authorizer(
    invoke: Invoke,
    handler: LoadedHandler,
    authorizer: AuthorizerConfig,
    *,
    method_arn: str,
    info: ConnectionInfo,
    headers: Sequence[tuple[str, str]],
    query: Sequence[tuple[str, str]] | None,
    request_id: str,
    now_ms: int,
) -> UpgradeAnswer | ConnectionInfo:
    """CUSTOM: the Lambda REQUEST authorizer decides, on every connect (spec §6)."""
    # Loaded here, for an API with an authorizer: not at start-up.
    from emulator.gateway.access.authorizer import (
        AuthorizerOutcome,
        authorizer_event,
        context_variables,
        decide,
        missing_identity,
        rejection_body,
    )

    request_context = connect_event(
        info, headers=headers, query=query, request_id=request_id, request_time_ms=now_ms
    )["requestContext"]
    sources = parse_identity_sources(authorizer.identity_source)
    missing = missing_identity(
        sources,
        headers,
        query or [],
        info.stage_variables or {},
        context_variables(request_context),
    )
    if missing is not None:
        # AWS: 401 without calling the authorizer.
        if EVENTS.isEnabledFor(logging.INFO):
            log_connect(info.connection_id, info.source_ip, 401, None, None, f"no {missing}")
        return UpgradeAnswer(401, body=rejection_body(401))
    event = authorizer_event(
        method_arn=method_arn,
        headers=headers,
        query=query,
        stage_variables=info.stage_variables or {},
        request_context=request_context,
    )
    invocation = await invoke(handler, event)
    raised = invocation.error
    if invocation.outcome is InvocationOutcome.TIMEOUT:
        raised = TimeoutError("the authorizer timed out")
    decision = decide(
        invocation.value,
        raised=raised,
        method_arn=method_arn,
        integration_latency_ms=int(invocation.duration_ms),
    )
    # Raising "Unauthorized" is an authorizer's way to answer; anything else is a bug.
    if decision.outcome is AuthorizerOutcome.FUNCTION_ERROR and invocation.error is not None:
        summary = error_summary(invocation.error)
        logger.error("%s (authorizer) raised %s", handler.config.handler, summary)
    if not decision.allowed:
        assert decision.status is not None
        if EVENTS.isEnabledFor(logging.INFO):
            log_connect(
                info.connection_id,
                info.source_ip,
                decision.status,
                handler.config.handler,
                invocation,
                decision.reason,
                step="authorizer",
            )
        return UpgradeAnswer(decision.status, body=rejection_body(decision.status))
    return dataclasses.replace(info, authorizer=decision.context)
