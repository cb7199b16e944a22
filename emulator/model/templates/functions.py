"""A CloudFormation/SAM template's resources, and its Lambda functions resolved.

:class:`Template` wraps one template document: it lists resources by type
(leaving out those whose ``Condition`` is false), resolves one property at a
time (so that an unresolvable property elsewhere never matters), turns what
cannot be resolved into a :class:`~emulator.errors.ConfigError` naming the
resource and property, and resolves ``AWS::Serverless::Function`` (with SAM's
``Globals``) and ``AWS::Lambda::Function`` resources into
:class:`~emulator.model.templates.model.FunctionSpec` values, or the reason a
function cannot run here.

A stack synthesized by the AWS CDK names each function's code by an S3 key
(``Code: {S3Bucket, S3Key}``) and says where the asset was staged in the
resource's metadata (``aws:asset:path``, a folder beside the template); that
folder is the code folder. A variable naming a table or bucket by ``Ref``
(``TABLE_NAME: !Ref ConnectionsTable``, the CDK's ``table.table_name``) gets a
stand-in: the resource's logical id, with a warning, so that the handler works
against a local endpoint holding a table of that name.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from emulator.errors import ConfigError
from emulator.model.function import DEFAULT_TIMEOUT
from emulator.model.templates.intrinsics import (
    NO_VALUE,
    REGION,
    STACK_NAME,
    OtherStacks,
    Reference,
    Resolver,
    Unresolvable,
    has_references,
    is_intrinsic,
    printable,
    references,
    substitute_references,
)
from emulator.model.templates.model import FunctionSpec, timeout_seconds, whole_number

__all__ = ["FUNCTION_ARN", "FUNCTION_TYPES", "Template", "environment_value", "local_folder"]

FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")
# A function's properties as routes.yaml names them.
_SETTINGS = {"Timeout": "timeout", "MemorySize": "memorySize", "LoggingConfig": "loggingConfig"}
# Lambda's default Timeout, in seconds (SAM's too).
# A literal function ARN, with an optional alias or version after the name.
FUNCTION_ARN = re.compile(r":function:([A-Za-z0-9_-]+)")  # a Lambda ARN's name
# Resources whose Ref is a name that a local endpoint can hold (each type's
# "Return values" in the CloudFormation User Guide): a stand-in is used for them.
_STAND_IN_TYPES = frozenset(
    {
        "AWS::DynamoDB::Table",
        "AWS::DynamoDB::GlobalTable",
        "AWS::Serverless::SimpleTable",
        "AWS::S3::Bucket",
        "AWS::Kinesis::Stream",
        "AWS::Events::EventBus",
    }
)


class Template:
    """One CloudFormation/SAM template document, resolved on demand."""

    def __init__(
        self,
        document: Mapping[str, Any],
        *,
        base_dir: Path,
        source: str,
        parameters: Mapping[str, str] | None = None,
        stack_name: str = STACK_NAME,
        other_stacks: OtherStacks | None = None,
        region: str = REGION,
    ) -> None:
        resources = document.get("Resources")
        if not isinstance(resources, Mapping):
            problem = "must be a mapping of logical ids to resources"
            raise ConfigError(problem, key="Resources", source=source)
        self.resources: dict[str, Mapping[str, Any]] = {
            str(lid): resource
            for lid, resource in resources.items()
            if isinstance(resource, Mapping)
        }
        self.base_dir = base_dir
        self.source = source
        self.resolver = Resolver(
            document, parameters, stack_name=stack_name, other_stacks=other_stacks, region=region
        )
        self.warnings: list[str] = []
        globals_ = document.get("Globals")
        function_globals = globals_.get("Function") if isinstance(globals_, Mapping) else None
        self._function_globals: Mapping[str, Any] = (
            function_globals if isinstance(function_globals, Mapping) else {}
        )
        self._functions: dict[str, FunctionSpec | str] = {}

    # Resources and their properties

    def type_of(self, logical_id: str) -> str | None:
        resource = self.resources.get(logical_id)
        return str(resource.get("Type")) if resource is not None else None

    def of_type(self, *types: str) -> list[str]:
        """Logical ids of the resources of these types that exist, in template order."""
        found = []
        for logical_id, resource in self.resources.items():
            if resource.get("Type") not in types:
                continue
            try:
                exists = self.resolver.resource_exists(logical_id)
            except Unresolvable as exc:
                raise self.error(f"cannot be evaluated locally: {exc}", logical_id, None) from exc
            if exists:
                found.append(logical_id)
        return found

    def error(self, problem: str, logical_id: str, name: str | None) -> ConfigError:
        key = f"Resources.{logical_id}.Properties.{name}" if name else f"Resources.{logical_id}"
        if name is None and "Condition" in self.resources.get(logical_id, {}):
            key += ".Condition"
        return ConfigError(problem, key=key, source=self.source)

    def raw(self, logical_id: str, name: str) -> Any:
        properties = self.resources[logical_id].get("Properties")
        return properties.get(name) if isinstance(properties, Mapping) else None

    def resolve(self, raw: Any, key: str) -> Any:
        """``raw`` resolved; None when absent or ``AWS::NoValue``; errors at ``key``."""
        if raw is None:
            return None
        try:
            value = self.resolver.resolve(raw)
        except Unresolvable as exc:
            raise ConfigError(
                f"cannot be resolved locally: {exc}", key=key, source=self.source
            ) from exc
        return None if value is NO_VALUE else value

    def text(self, raw: Any, key: str, *, references_ok: bool = False) -> str | None:
        """A string property: a number is written out, a resource reference refused
        unless ``references_ok`` (then it stays a token for :func:`references`)."""
        value = self.resolve(raw, key)
        if value is None:
            return None
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, int | float):
            value = str(value)
        if not isinstance(value, str):
            raise ConfigError(f"must be a string, got {value!r}", key=key, source=self.source)
        if has_references(value) and not references_ok:
            raise ConfigError(
                f"cannot be resolved locally: {printable(value)!r} is only known once deployed",
                key=key,
                source=self.source,
            )
        return value

    def prop(self, logical_id: str, name: str, *, references_ok: bool = False) -> str | None:
        """A string property of a resource."""
        key = f"Resources.{logical_id}.Properties.{name}"
        return self.text(self.raw(logical_id, name), key, references_ok=references_ok)

    def refers_to(self, value: str | None, logical_id: str) -> bool:
        """Whether a resolved ``ApiId``/``RouteId`` is ``!Ref logical_id`` (or what
        ``Ref logical_id`` was bound to, see :meth:`Resolver.bind`)."""
        if value is None:
            return False
        bound = self.resolver.bound(logical_id)
        if bound is not None and value == bound:
            return True
        return any(
            ref.logical_id == logical_id and ref.attribute is None for ref in references(value)
        )

    def referenced(self, value: str, *types: str) -> str | None:
        """The first resource of one of ``types`` that ``value`` refers to."""
        for ref in references(value):
            if self.type_of(ref.logical_id) in types:
                return ref.logical_id
        return None

    def globals_environment(self) -> dict[str, str]:
        """The variables of SAM's ``Globals.Function.Environment``, resolved."""
        where = "Globals.Function.Environment"
        block = self._whole(self._function_globals.get("Environment"), where)
        variables = self._whole(block.get("Variables"), f"{where}.Variables")
        values = {
            str(name): self.environment_value(raw, f"{where}.Variables.{name}")
            for name, raw in variables.items()
        }
        return {name: value for name, value in values.items() if value is not None}

    # Functions

    def bind_functions(self) -> None:
        """``Ref`` of a function is the name the emulator serves it under, and
        ``Fn::GetAtt Fn.Arn`` its ARN: a handler that invokes another function
        of the template by either reaches it (the emulator's Lambda API)."""
        region = self.resolver.resolve({"Ref": "AWS::Region"})
        account = self.resolver.resolve({"Ref": "AWS::AccountId"})
        for logical_id in self.of_type(*FUNCTION_TYPES):
            name = self.served_name(logical_id) or logical_id
            arn = f"arn:aws:lambda:{region}:{account}:function:{name}"
            self.resolver.bind(logical_id, name, {"Arn": arn})

    def function_for(self, value: str, depth: int = 0) -> str | None:
        """The logical id of the function an integration URI or ARN invokes."""
        for ref in references(value):
            kind = self.type_of(ref.logical_id)
            if kind in FUNCTION_TYPES:
                return ref.logical_id
            if kind in ("AWS::Lambda::Alias", "AWS::Lambda::Version") and depth < 2:
                target = self.prop(ref.logical_id, "FunctionName", references_ok=True)
                if target is not None:
                    return self.function_for(target, depth + 1)
        names = FUNCTION_ARN.findall(value) or [value]  # an ARN, or a bare name
        for name in names:
            for logical_id in self.of_type(*FUNCTION_TYPES):
                if name in (logical_id, self.prop(logical_id, "FunctionName", references_ok=True)):
                    return logical_id
        return None

    def function(self, logical_id: str) -> FunctionSpec | str:
        """The function, resolved, or why it cannot run here (a sentence)."""
        if logical_id not in self._functions:
            self._functions[logical_id] = self._function(logical_id)
        return self._functions[logical_id]

    def _function(self, logical_id: str) -> FunctionSpec | str:
        own = self.raw_properties(logical_id)
        location = f"Resources.{logical_id}.Properties"
        sam = self.type_of(logical_id) == "AWS::Serverless::Function"
        merged = {**self._function_globals, **own} if sam else dict(own)
        key_of = {
            name: f"Globals.Function.{name}" if sam and name not in own else f"{location}.{name}"
            for name in merged
        }

        def text(name: str) -> str | None:
            return self.text(merged.get(name), key_of.get(name, f"{location}.{name}"))

        if text("PackageType") == "Image":
            return f"function {logical_id} is a container image (PackageType: Image)"
        runtime = text("Runtime")
        if runtime is None:
            return f"function {logical_id} has no Runtime"
        if not runtime.startswith("python"):
            return (
                f"function {logical_id} has Runtime {runtime!r}:"
                " only Python functions run in the emulator"
            )
        handler = text("Handler")
        if handler is None:
            problem = "is required for a Python function"
            raise ConfigError(problem, key=f"{location}.Handler", source=self.source)
        code = self._code_folder(logical_id, merged, key_of, sam)
        if isinstance(code, str):
            return code
        timeout = DEFAULT_TIMEOUT
        if merged.get("Timeout") is not None:
            seconds = timeout_seconds(self.resolve(merged["Timeout"], key_of["Timeout"]))
            if seconds is None:
                problem = f"must be a number of seconds, got {merged['Timeout']!r}"
                raise ConfigError(problem, key=key_of["Timeout"], source=self.source)
            timeout = seconds
        return FunctionSpec(
            name=logical_id,
            # Lambda's Python runtime accepts "folder/module.function" as "folder.module".
            handler=handler.replace("/", "."),
            location=f"Resources.{logical_id}",
            handler_key=key_of.get("Handler", f"{location}.Handler"),
            environment_key=f"{location}.Environment.Variables",
            code_uri=code,
            environment=MappingProxyType(self._environment(logical_id, own, sam)),
            timeout=timeout,
            memory_size=self._memory_size(merged, key_of),
            logging=self._logging(merged, key_of),
            setting_keys=MappingProxyType(
                {inside: key_of[name] for name, inside in _SETTINGS.items() if name in key_of}
            ),
            function_name=self.served_name(logical_id),
        )

    def served_name(self, logical_id: str) -> str | None:
        """A function's FunctionName, when the template gives one resolvable here."""
        name = self.prop(logical_id, "FunctionName", references_ok=True)
        return None if name is None or has_references(name) else name

    def _memory_size(self, merged: Mapping[str, Any], key_of: Mapping[str, str]) -> int | None:
        if merged.get("MemorySize") is None:
            return None
        value = self.resolve(merged["MemorySize"], key_of["MemorySize"])
        megabytes = whole_number(value)
        if megabytes is None:
            problem = f"must be a whole number of MB, got {value!r}"
            raise ConfigError(problem, key=key_of["MemorySize"], source=self.source)
        return megabytes

    def _logging(self, merged: Mapping[str, Any], key_of: Mapping[str, str]) -> dict[str, str]:
        """LoggingConfig as routes.yaml's ``loggingConfig`` (its LogGroup is not needed here)."""
        if merged.get("LoggingConfig") is None:
            return {}
        key = key_of["LoggingConfig"]
        value = self._whole(merged["LoggingConfig"], key)
        names = {
            "LogFormat": "logFormat",
            "ApplicationLogLevel": "applicationLogLevel",
            "SystemLogLevel": "systemLogLevel",
        }
        return {
            names[name]: text
            for name, raw in value.items()
            if name in names and (text := self.text(raw, f"{key}.{name}")) is not None
        }

    def raw_properties(self, logical_id: str) -> Mapping[str, Any]:
        properties = self.resources[logical_id].get("Properties")
        return properties if isinstance(properties, Mapping) else {}

    def _code_folder(
        self, logical_id: str, merged: Mapping[str, Any], key_of: Mapping[str, str], sam: bool
    ) -> Path | str | None:
        name = "CodeUri" if sam else "Code"
        if sam and merged.get("InlineCode") is not None:
            return f"function {logical_id} has InlineCode, which is not run locally"
        raw = merged.get(name)
        if raw is None:
            if sam:
                return None  # SAM: the template's folder
            return f"function {logical_id} has no Code"
        key = key_of[name]
        value = self.resolve(raw, key)
        asset = self._asset_folder(logical_id, name)
        if asset is not None:
            return asset
        if isinstance(value, Mapping):
            what = "inline code (ZipFile)" if "ZipFile" in value else "not a local folder"
            return f"function {logical_id}'s {name} is {what}"
        if not isinstance(value, str) or has_references(value):
            shown = printable(value) if isinstance(value, str) else value
            return f"function {logical_id}'s {name} {shown!r} is not a local folder"
        if value.startswith("s3://") or value.lower().endswith((".zip", ".jar")):
            return f"function {logical_id}'s {name} {value!r} is not a local folder"
        return local_folder(value, self.base_dir, key, self.source)

    def _asset_folder(self, logical_id: str, name: str) -> Path | str | None:
        """The folder the CDK staged the code in (``aws:asset:path``), if it says so."""
        metadata = self.resources[logical_id].get("Metadata")
        if not isinstance(metadata, Mapping) or metadata.get("aws:asset:property") != name:
            return None
        path = metadata.get("aws:asset:path")
        if not isinstance(path, str):
            return None
        key = f"Resources.{logical_id}.Metadata.aws:asset:path"
        if not (self.base_dir / path).is_dir():
            if (self.base_dir / path).is_file():
                return f"function {logical_id}'s code asset {path!r} is a file, not a folder"
            folder = str(self.base_dir)
            problem = f"the code asset {path!r} is not in {folder!r}: run `cdk synth` again"
            raise ConfigError(problem, key=key, source=self.source)
        return local_folder(path, self.base_dir, key, self.source)

    def _environment(self, logical_id: str, own: Mapping[str, Any], sam: bool) -> dict[str, str]:
        """Environment.Variables (over SAM's Globals), one variable at a time."""
        layers = []
        if sam:
            layers.append(("Globals.Function.Environment", self._function_globals))
        layers.append((f"Resources.{logical_id}.Properties.Environment", own))
        environment: dict[str, str] = {}
        for where, properties in layers:
            block = self._whole(properties.get("Environment"), where)
            variables = self._whole(block.get("Variables"), f"{where}.Variables")
            for name, raw in variables.items():
                value = self.environment_value(raw, f"{where}.Variables.{name}")
                if value is not None:
                    environment[str(name)] = value
        return environment

    def _whole(self, raw: Any, key: str) -> Mapping[str, Any]:
        """A mapping property; resolved as a whole only if it is itself an intrinsic."""
        if raw is None:
            return {}
        if isinstance(raw, Mapping) and not is_intrinsic(raw):
            return raw
        value = self.resolve(raw, key)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise ConfigError(f"must be a mapping, got {value!r}", key=key, source=self.source)
        return value

    def environment_value(self, raw: Any, key: str) -> str | None:
        """A variable's value as Lambda sets it, or None (and a warning) if unknown here."""

        def resolve(value: Any) -> Any:
            return self.with_stand_ins(self.resolver.resolve(value), key)

        return environment_value(resolve, raw, key, self.warnings)

    def with_stand_ins(self, value: Any, key: str) -> Any:
        """``value`` with each ``Ref`` to a table or bucket replaced by its logical id."""
        if not isinstance(value, str) or not has_references(value):
            return value

        def stand_in(reference: Reference) -> str:
            kind = self.type_of(reference.logical_id)
            if reference.attribute is None and kind in _STAND_IN_TYPES:
                # The name --mock-aws creates it under (a bucket's is lower case).
                name = (
                    reference.logical_id.lower()
                    if kind == "AWS::S3::Bucket"
                    else reference.logical_id
                )
                self.warnings.append(
                    f"{key}: {reference} is only known once deployed;"
                    f" {name!r} stands for it locally"
                )
                return name
            return reference.token()

        return substitute_references(value, stand_in)


def environment_value(
    resolve: Callable[[Any], Any], raw: Any, key: str, warnings: list[str]
) -> str | None:
    """What Lambda sets a variable to for ``raw``, resolved by ``resolve``.

    None leaves the variable unset: ``AWS::NoValue``, or a value only known once
    deployed or not a string, which also add a warning naming ``key``.
    """
    try:
        value = resolve(raw)
    except Unresolvable as exc:
        warnings.append(f"{key}: cannot be resolved locally ({exc}); it is not set")
        return None
    if value is NO_VALUE:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if not isinstance(value, str):
        warnings.append(f"{key}: {value!r} is not a string; it is not set")
        return None
    if has_references(value):
        warnings.append(f"{key}: {printable(value)!r} is only known once deployed; it is not set")
        return None
    return value


def local_folder(value: str, base_dir: Path, key: str, source: str) -> Path | None:
    """A code folder relative to ``base_dir``: None for ``base_dir`` itself."""
    folder = (base_dir / value).resolve()
    if not folder.is_dir():
        problem = f"the code folder {str(folder)!r} does not exist or is not a folder"
        raise ConfigError(problem, key=key, source=source)
    if folder == base_dir.resolve():
        return None
    return Path(value)
