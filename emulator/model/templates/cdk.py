"""Importing the WebSocket API of a synthesized AWS CDK app (a cloud assembly).

``cdk synth`` writes a cloud assembly, ``cdk.out/``: a ``manifest.json``
listing artifacts, among them one ``aws:cloudformation:stack`` per stack with
its template file. A stack's template is a CloudFormation template, so the
API is read by :mod:`.cloudformation`; this module adds what only the
assembly knows:

* which stack holds the WebSocket API (an ``AWS::ApiGatewayV2::Api`` with
  ``ProtocolType: WEBSOCKET``), or the one named by stack name, construct path
  (``displayName``) or artifact id;
* the other stacks' outputs, for the cross-stack references the CDK writes:
  ``Fn::GetStackOutput`` (weak references, the default of new apps) and
  ``Fn::ImportValue`` of an ``Export`` (strong references);
* nested assemblies (``cdk:cloud-assembly`` artifacts, from ``cdk.Stage``),
  whose paths are relative to their own manifest's folder.

Lambda code is in the asset folders the template's metadata names
(``aws:asset:path``); see :mod:`.functions`. Artifacts of other types (asset
manifests, the construct tree, feature-flag reports) are ignored: the CDK
keeps adding new ones. Reference: the cloud assembly schema
(``@aws-cdk/cloud-assembly-schema``, ``manifest.json``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emulator.errors import ConfigError
from emulator.model.templates.cloudformation import import_cloudformation
from emulator.model.templates.documents import read_json
from emulator.model.templates.functions import Template
from emulator.model.templates.intrinsics import Unresolvable, has_references, printable
from emulator.model.templates.model import ImportedApi

__all__ = ["CdkStack", "import_stack_template", "load_cdk_out", "read_assembly"]

_STACK = "aws:cloudformation:stack"
_NESTED = "cdk:cloud-assembly"
_WEBSOCKET_TYPES = ("AWS::ApiGatewayV2::Api", "AWS::Serverless::WebSocketApi")


@dataclass(frozen=True)
class CdkStack:
    """One stack of a cloud assembly.

    ``stack_name`` is the name it deploys under (``properties.stackName``, else
    the artifact id); ``display_name`` its construct path, which ``cdk deploy``
    takes; ``template`` the path of its template file.
    """

    artifact_id: str
    stack_name: str
    display_name: str
    template: Path

    def is_named(self, name: str) -> bool:
        return name in (self.artifact_id, self.stack_name, self.display_name)


def read_assembly(directory: Path, *, _depth: int = 0) -> list[CdkStack]:
    """The stacks of the cloud assembly in ``directory``, nested assemblies included."""
    source = str(directory / "manifest.json")
    if not (directory / "manifest.json").is_file():
        problem = (
            "no manifest.json: not a synthesized CDK app (run `cdk synth`, which writes cdk.out)"
        )
        raise ConfigError(problem, source=str(directory))
    manifest = read_json(directory / "manifest.json", source)
    artifacts = manifest.get("artifacts") if isinstance(manifest, Mapping) else None
    if not isinstance(artifacts, Mapping):
        raise ConfigError("must be a mapping of artifacts", key="artifacts", source=source)
    stacks = []
    for artifact_id, artifact in artifacts.items():
        if not isinstance(artifact, Mapping):
            continue
        properties = artifact.get("properties")
        properties = properties if isinstance(properties, Mapping) else {}
        if artifact.get("type") == _STACK and isinstance(properties.get("templateFile"), str):
            stacks.append(
                CdkStack(
                    artifact_id=str(artifact_id),
                    stack_name=str(properties.get("stackName") or artifact_id),
                    display_name=str(artifact.get("displayName") or artifact_id),
                    template=directory / properties["templateFile"],
                )
            )
        elif artifact.get("type") == _NESTED and _depth < 8:
            nested = properties.get("directoryName")
            if isinstance(nested, str):
                stacks.extend(read_assembly(directory / nested, _depth=_depth + 1))
    return stacks


def load_cdk_out(
    directory: Path,
    *,
    stack: str | None = None,
    api: str | None = None,
    parameters: Mapping[str, str] | None = None,
    api_id: str | None = None,
    region: str | None = None,
) -> ImportedApi:
    """Import the WebSocket API of the cloud assembly in ``directory`` (``cdk.out``).

    ``stack`` names the stack (stack name, construct path or artifact id);
    without it, the one stack that declares a WebSocket API. The other options
    are :func:`~emulator.model.templates.load_template`'s.
    """
    stacks = read_assembly(directory)
    assembly = _Assembly(stacks)
    chosen = _choose(stacks, stack, assembly, str(directory))
    return assembly.import_api(chosen, api=api, parameters=parameters, api_id=api_id, region=region)


def import_stack_template(
    path: Path,
    *,
    document: Mapping[str, Any] | None = None,
    api: str | None = None,
    parameters: Mapping[str, str] | None = None,
    api_id: str | None = None,
    region: str | None = None,
) -> ImportedApi | None:
    """The API of a template that belongs to a cloud assembly (a manifest.json
    beside it lists it), with its sibling stacks at hand; None if it does not.

    ``document`` is the template as the caller read it already (JSON, as a cloud
    assembly's are): not read again."""
    if not (path.parent / "manifest.json").is_file():
        return None
    try:
        stacks = read_assembly(path.parent)
    except ConfigError:
        return None  # not a cloud assembly's manifest after all: a plain template
    for candidate in stacks:
        if candidate.template.resolve() == path.resolve():
            chosen = dataclasses.replace(candidate, template=path)
            assembly = _Assembly([chosen if s == candidate else s for s in stacks])
            if document is not None and path.suffix.lower() == ".json":
                assembly.seed(path, document)
            return assembly.import_api(
                chosen, api=api, parameters=parameters, api_id=api_id, region=region
            )
    return None


def _choose(
    stacks: list[CdkStack], wanted: str | None, assembly: _Assembly, where: str
) -> CdkStack:
    listed = ", ".join(s.display_name for s in stacks) or "none"
    if wanted is not None:
        for candidate in stacks:
            if candidate.is_named(wanted):
                return candidate
        problem = f"no stack {wanted!r} in the cloud assembly (its stacks: {listed})"
        raise ConfigError(problem, source=where)
    with_api = [s for s in stacks if assembly.has_websocket_api(s)]
    if not with_api:
        problem = f"no stack of the cloud assembly declares a WebSocket API (its stacks: {listed})"
        raise ConfigError(problem, source=where)
    if len(with_api) > 1:
        names = ", ".join(s.display_name for s in with_api)
        problem = (
            f"{len(with_api)} stacks declare a WebSocket API ({names}); choose one with --stack"
        )
        raise ConfigError(problem, source=where)
    return with_api[0]


class _Assembly:
    """The stacks of one cloud assembly, read on demand; resolves their outputs."""

    def __init__(self, stacks: list[CdkStack]) -> None:
        self.stacks = stacks
        self._documents: dict[Path, Mapping[str, Any]] = {}
        self._resolving: list[str] = []
        self.warnings: list[str] = []

    def seed(self, template: Path, document: Mapping[str, Any]) -> None:
        """A stack template's document, already read."""
        self._documents[template] = document

    def document(self, stack: CdkStack) -> Mapping[str, Any]:
        if stack.template not in self._documents:
            document = read_json(stack.template, str(stack.template))
            if not isinstance(document, Mapping):
                problem = f"must be a mapping, got {type(document).__name__}"
                raise ConfigError(problem, source=str(stack.template))
            self._documents[stack.template] = document
        return self._documents[stack.template]

    def has_websocket_api(self, stack: CdkStack) -> bool:
        resources = self.document(stack).get("Resources")
        for resource in resources.values() if isinstance(resources, Mapping) else ():
            if not isinstance(resource, Mapping) or resource.get("Type") not in _WEBSOCKET_TYPES:
                continue
            properties = resource.get("Properties")
            protocol = properties.get("ProtocolType") if isinstance(properties, Mapping) else None
            if resource.get("Type") != _WEBSOCKET_TYPES[0] or protocol == "WEBSOCKET":
                return True
        return False

    def import_api(
        self,
        stack: CdkStack,
        *,
        api: str | None,
        parameters: Mapping[str, str] | None,
        api_id: str | None,
        region: str | None = None,
    ) -> ImportedApi:
        imported = import_cloudformation(
            self.document(stack),
            base_dir=stack.template.absolute().parent,
            source=str(stack.template),
            api=api,
            parameters=parameters,
            api_id=api_id,
            region=region,
            stack_name=stack.stack_name,
            other_stacks=self,
        )
        warnings = tuple(dict.fromkeys((*imported.warnings, *self.warnings)))
        return dataclasses.replace(imported, warnings=warnings)

    # OtherStacks

    def output(self, stack_name: str, output_name: str) -> Any:
        for stack in self.stacks:
            if stack.stack_name == stack_name or stack.artifact_id == stack_name:
                outputs = self.document(stack).get("Outputs")
                if isinstance(outputs, Mapping) and isinstance(outputs.get(output_name), Mapping):
                    return self._value(stack, output_name, outputs[output_name])
                raise Unresolvable(f"stack {stack_name!r} has no output {output_name!r}")
        raise Unresolvable(f"no stack named {stack_name!r} in the cloud assembly")

    def export(self, name: str) -> Any:
        for stack in self.stacks:
            outputs = self.document(stack).get("Outputs")
            for output_name, output in outputs.items() if isinstance(outputs, Mapping) else ():
                export = output.get("Export") if isinstance(output, Mapping) else None
                if isinstance(export, Mapping) and self._export_name(stack, export) == name:
                    return self._value(stack, str(output_name), output)
        raise Unresolvable(f"no stack of the cloud assembly exports {name!r}")

    def _template(self, stack: CdkStack) -> Template:
        return Template(
            self.document(stack),
            base_dir=stack.template.absolute().parent,
            source=str(stack.template),
            stack_name=stack.stack_name,
            other_stacks=self,
        )

    def _export_name(self, stack: CdkStack, export: Mapping[str, Any]) -> Any:
        try:
            return self._template(stack).resolver.resolve(export.get("Name"))
        except Unresolvable:
            return None

    def _value(self, stack: CdkStack, output_name: str, output: Mapping[str, Any]) -> Any:
        where = f"{stack.template.name}: Outputs.{output_name}.Value"
        if where in self._resolving:
            raise Unresolvable(f"the stacks' outputs refer to each other: {where}")
        self._resolving.append(where)
        try:
            template = self._template(stack)
            value = template.with_stand_ins(template.resolver.resolve(output.get("Value")), where)
        finally:
            self._resolving.pop()
        self.warnings.extend(template.warnings)
        if has_references(value):
            shown = printable(value) if isinstance(value, str) else value
            raise Unresolvable(f"{where} is {shown!r}, only known once deployed")
        return value
