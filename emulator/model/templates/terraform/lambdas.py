"""A Terraform configuration's Lambda functions, resolved for the emulator.

A pure module but for checking that code folders exist. An
``aws_lambda_function`` becomes a
:class:`~emulator.model.templates.model.FunctionSpec`: its ``handler``,
``timeout``, ``memory_size`` and ``environment``, and its code folder: the
folder an ``archive_file`` data source zips (``source_dir``, or the folder of
its ``source_file``), since the zip only exists once ``terraform plan`` ran.
A function that cannot run here (another runtime, a container image, code in
S3 or in a zip built outside Terraform) gets the reason instead.
"""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType

from emulator.errors import ConfigError
from emulator.model.function import DEFAULT_TIMEOUT
from emulator.model.templates.functions import FUNCTION_ARN, local_folder
from emulator.model.templates.model import FunctionSpec, timeout_seconds, whole_number
from emulator.model.templates.terraform.configuration import Instance
from emulator.model.templates.terraform.reading import Reader, env_text, where
from emulator.model.templates.terraform.values import (
    EvalError,
    Unknown,
    has_references,
    printable,
    references,
)

__all__ = ["Functions"]


class Functions:
    """The functions of a configuration, each resolved once."""

    def __init__(self, reader: Reader) -> None:
        self.r = reader
        self.archives = {i.address: i for i in reader.c.instances("archive_file", mode="data")}
        self.functions: dict[str, FunctionSpec | str] = {}

    def invoked_by(self, via: Instance, name: str) -> FunctionSpec | str:
        """The function an integration's or authorizer's URI invokes, or why none runs."""
        uri = self.r.text(via, name, references_ok=True) or ""
        function = self.r.referenced(uri, "aws_lambda_function")
        for function_name in FUNCTION_ARN.findall(uri) if function is None else ():
            function = next(
                (
                    candidate
                    for candidate in self.r.by_address.values()
                    if candidate.type == "aws_lambda_function"
                    and self.r.plain(candidate, "function_name") == function_name
                ),
                None,
            )
        if function is None:
            return f"{via.address} invokes {printable(uri)!r}, not a function of this configuration"
        return self._function(function)

    def _function(self, function: Instance) -> FunctionSpec | str:
        if function.address not in self.functions:
            self.functions[function.address] = self._read_function(function)
        return self.functions[function.address]

    def _read_function(self, function: Instance) -> FunctionSpec | str:
        address = function.address
        if (self.r.text(function, "package_type") or "Zip") == "Image":
            return f"function {address} is a container image"
        runtime = self.r.text(function, "runtime")
        if runtime is None or not runtime.startswith("python"):
            return (
                f"function {address} has runtime {runtime!r}:"
                " only Python functions run in the emulator"
            )
        handler = self.r.text(function, "handler")
        if handler is None:
            raise self.r.error("is required for a Python function", function, "handler")
        code = self._code(function)
        if isinstance(code, str):
            return code
        timeout = self.r.value(function, "timeout")
        seconds = DEFAULT_TIMEOUT if timeout is None else timeout_seconds(timeout)
        if seconds is None:
            raise self.r.error(f"must be a number of seconds, got {timeout!r}", function, "timeout")
        memory = self.r.value(function, "memory_size")
        megabytes = None if memory is None else whole_number(memory)
        if memory is not None and megabytes is None:
            raise self.r.error(
                f"must be a whole number of MB, got {memory!r}", function, "memory_size"
            )
        return FunctionSpec(
            name=self.r.plain(function, "function_name") or address,
            handler=handler.replace("/", "."),
            location=where(function),
            handler_key=where(function, "handler"),
            environment_key=where(function, "environment"),
            code_uri=code,
            environment=MappingProxyType(self._environment(function)),
            timeout=seconds,
            memory_size=megabytes,
        )

    def _code(self, function: Instance) -> Path | str | None:
        address = function.address
        for remote in ("s3_bucket", "image_uri"):
            if function.attribute(remote) is not None:
                return f"function {address}'s code is not local ({remote})"
        filename = self.r.text(function, "filename", references_ok=True)
        if filename is None:
            return f"function {address} has no filename"
        archive = next(
            (self.archives[a] for a, _ in references(filename) if a in self.archives), None
        )
        if archive is None:
            archive = next(
                (
                    a
                    for a in self.archives.values()
                    if _same_path(self.r.plain(a, "output_path"), filename)
                ),
                None,
            )
        if archive is None:
            if has_references(filename):
                shown = printable(filename)
                return f"function {address}'s filename {shown!r} is only known once deployed"
            state = (
                "is a zip built outside Terraform"
                if (self.r.c.directory / filename).is_file()
                else "does not exist"
            )
            return (
                f"function {address}'s filename {filename!r} {state}: the emulator runs code from"
                " folders, such as an archive_file data source's source_dir"
            )
        folder = self.r.text(archive, "source_dir")
        if folder is not None:
            return local_folder(
                folder, self.r.c.directory, where(archive, "source_dir"), self.r.source
            )
        file = self.r.text(archive, "source_file")
        if file is None:
            return (
                f"{archive.address} zips inline content (source blocks), which is not run locally"
            )
        if not (self.r.c.directory / file).is_file():
            raise self.r.error(f"no file {file!r}", archive, "source_file")
        return local_folder(
            Path(file).parent.as_posix(),
            self.r.c.directory,
            where(archive, "source_file"),
            self.r.source,
        )

    def _environment(self, function: Instance) -> dict[str, str]:
        environment: dict[str, str] = {}
        for block in function.nested("environment"):
            attribute = block.body.attributes.get("variables")
            if attribute is None:
                continue
            location = f"{block.file}:{attribute.line}: {function.address}.environment.variables"
            try:
                variables = function.evaluate(attribute.value)
            except EvalError as exc:
                raise ConfigError(
                    exc.problem,
                    key=f"{function.address}.environment.variables",
                    source=f"{block.file}:{exc.line}",
                ) from exc
            if isinstance(variables, Unknown):
                self.r.warnings.append(
                    f"{location}: cannot be evaluated locally ({variables.reason});"
                    " no variable is set"
                )
                continue
            for name, raw in (variables or {}).items():
                text = env_text(raw)
                if isinstance(raw, Unknown):
                    self.r.warnings.append(
                        f"{location}.{name}: cannot be evaluated locally ({raw.reason});"
                        " it is not set"
                    )
                elif text is None:
                    self.r.warnings.append(
                        f"{location}.{name}: {raw!r} is not a string; it is not set"
                    )
                elif has_references(text):
                    self.r.warnings.append(
                        f"{location}.{name}: {printable(text)!r} is only known once deployed;"
                        " it is not set"
                    )
                else:
                    environment[str(name)] = text
        return environment


def _same_path(one: str | None, other: str) -> bool:
    return one is not None and Path(one.removeprefix("./")) == Path(other.removeprefix("./"))
