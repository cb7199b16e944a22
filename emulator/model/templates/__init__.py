"""Serving a WebSocket API described by an infrastructure template.

:func:`load_template` reads an AWS SAM or CloudFormation template (YAML or
JSON) or a Serverless Framework ``serverless.yml``, :func:`load_cdk` a
synthesized CDK app and :func:`load_terraform` a Terraform configuration;
each returns an
:class:`ImportedApi`: an :class:`~emulator.model.config.ApiConfig` for
:class:`~emulator.app.Emulator`, plus what could not be imported (routes whose
function is not Python, values only known once deployed), so that nothing is
dropped silently. Pure: the only I/O is reading the template (and checking
that code folders exist); the process environment is passed in.

Modules: :mod:`.cloudformation` and :mod:`.serverless` (the two formats),
:mod:`.cdk` (a CDK cloud assembly's stacks), :mod:`.terraform` (HCL, a
package of its own), :mod:`.functions` (a template's Lambda functions),
:mod:`.intrinsics` (CloudFormation's functions), :mod:`.variables` (the
framework's ``${...}``), :mod:`.documents` (reading files), :mod:`.model`
(the values, and the routes.yaml document they become).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from emulator.errors import ConfigError
from emulator.model.templates.cdk import import_stack_template, load_cdk_out
from emulator.model.templates.cloudformation import import_cloudformation
from emulator.model.templates.documents import read_document
from emulator.model.templates.model import AuthorizerSpec, ImportedApi
from emulator.model.templates.serverless import import_serverless
from emulator.model.templates.terraform import load_terraform

__all__ = ["AuthorizerSpec", "ImportedApi", "load_cdk", "load_template", "load_terraform"]


def load_template(
    path: str | os.PathLike[str],
    *,
    api: str | None = None,
    parameters: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    api_id: str | None = None,
    region: str | None = None,
) -> ImportedApi:
    """Import the WebSocket API of a template; its code folders resolve from its folder.

    ``api`` picks one API by logical id (required when the template has more
    than one). ``parameters`` are CloudFormation parameter values (over each
    parameter's ``Default``), or for a serverless.yml the CLI options
    ``${opt:...}`` reads (``stage``, ``region``). ``environ`` is what
    ``${env:...}`` reads: pass ``os.environ`` to behave like the framework's
    CLI; None reads nothing. ``api_id`` is the id the emulator will serve the
    API under (``Emulator(api_id=...)``): references to the API itself
    (``!Ref Api``, ``${Api}`` in a ``CALLBACK_URL``, ``!GetAtt Api.ApiId``)
    resolve to it; without it they are only known once deployed. ``region``
    is the region it is served in (``AWS::Region``; a serverless.yml's
    ``--region`` option); None: us-east-1, or the serverless.yml's own.
    Raises :class:`ConfigError`.
    """
    source = os.fspath(path)
    try:
        return _load(Path(path), source, api, parameters, environ, api_id, region)
    except ConfigError as exc:
        if exc.source:
            raise
        raise exc.at("", source) from exc.__cause__


def load_cdk(
    cdk_out: str | os.PathLike[str],
    *,
    stack: str | None = None,
    api: str | None = None,
    parameters: Mapping[str, str] | None = None,
    api_id: str | None = None,
    region: str | None = None,
) -> ImportedApi:
    """Import the WebSocket API of a synthesized AWS CDK app (``cdk.out``).

    ``stack`` names the stack that holds it (its stack name, construct path
    or artifact id), required when several do. Each function's code is its
    asset folder in ``cdk.out``; references to the app's other stacks
    (``Fn::GetStackOutput``, ``Fn::ImportValue``) resolve to their outputs. The
    other options are :func:`load_template`'s. Raises :class:`ConfigError`.
    """
    source = os.fspath(cdk_out)
    try:
        return load_cdk_out(
            Path(cdk_out),
            stack=stack,
            api=api,
            parameters=parameters,
            api_id=api_id,
            region=region,
        )
    except ConfigError as exc:
        if exc.source:
            raise
        raise exc.at("", source) from exc.__cause__


def _load(
    path: Path,
    source: str,
    api: str | None,
    parameters: Mapping[str, str] | None,
    environ: Mapping[str, str] | None,
    api_id: str | None = None,
    region: str | None = None,
) -> ImportedApi:
    base_dir = path.absolute().parent
    document = read_document(path, source)
    if not isinstance(document, Mapping):
        raise ConfigError(f"must be a mapping, got {type(document).__name__}", source=source)
    if "Resources" in document:
        in_assembly = import_stack_template(
            path, document=document, api=api, parameters=parameters, api_id=api_id, region=region
        )
        if in_assembly is not None:
            return in_assembly  # a stack of a synthesized CDK app, beside its siblings
        return import_cloudformation(
            document,
            base_dir=base_dir,
            source=source,
            api=api,
            parameters=parameters,
            api_id=api_id,
            region=region,
        )
    if "service" in document or "functions" in document:
        options = dict(parameters or {})
        if region and "region" not in options:
            options["region"] = region  # the framework's --region
        return import_serverless(
            document,
            base_dir=base_dir,
            source=source,
            api=api,
            options=options,
            environ=environ,
            api_id=api_id,
        )
    problem = (
        "is neither a CloudFormation or SAM template (no 'Resources')"
        " nor a serverless.yml (no 'service')"
    )
    raise ConfigError(problem, source=source)
