"""Importing a WebSocket API from a Terraform configuration.

:func:`load_terraform` reads a folder of ``.tf`` files (and the local modules
it calls) the way ``terraform plan`` reads it, evaluates what a local run can
(variables, locals, references between resources, functions, ``count`` and
``for_each``), and returns an :class:`~emulator.model.templates.ImportedApi`,
like a template's import. Modules: :mod:`.hcl` (reading HCL with
python-hcl2), :mod:`.syntax` (its expressions as values), :mod:`.evaluate`,
:mod:`.builtins` and :mod:`.constraints` (evaluating them),
:mod:`.configuration` (modules, variables, resources), :mod:`.importer` (the
API's resources reduced to routes and functions).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from emulator.errors import ConfigError
from emulator.model.bounds import parse_json
from emulator.model.templates.model import ImportedApi
from emulator.model.templates.terraform.configuration import Configuration, RawValue
from emulator.model.templates.terraform.evaluate import Evaluator, Scope
from emulator.model.templates.terraform.hcl import parse_file
from emulator.model.templates.terraform.importer import import_api
from emulator.model.templates.terraform.values import EvalError
from emulator.model.yaml_files import read_bounded

__all__ = ["load_terraform"]


def load_terraform(
    directory: str | os.PathLike[str],
    *,
    api: str | None = None,
    variables: Mapping[str, str] | None = None,
    var_files: Sequence[str | os.PathLike[str]] = (),
    environ: Mapping[str, str] | None = None,
    api_id: str | None = None,
) -> ImportedApi:
    """Import the WebSocket API of the Terraform configuration in ``directory``.

    Variables take their values as ``terraform plan`` does, each source over
    the ones before: the declared ``default``; ``TF_VAR_<name>`` in
    ``environ`` (None reads none); ``terraform.tfvars``, then
    ``*.auto.tfvars`` (and their ``.json`` forms) in ``directory``; the
    ``var_files``; ``variables`` (``--var NAME=VALUE``). ``api`` picks the
    API by address or name when there are several; ``api_id`` resolves
    references to the API's own id and URLs. Raises :class:`ConfigError`.
    """
    source = os.fspath(directory)
    root = Path(directory)
    if not root.is_dir():
        raise ConfigError("is not a folder of .tf files", source=source)
    if not any(root.glob("*.tf")):
        raise ConfigError("has no .tf file", source=source)
    warnings: list[str] = []
    given: dict[str, Any] = {}
    for name, value in (environ or {}).items():
        if name.startswith("TF_VAR_"):
            given[name[len("TF_VAR_") :]] = RawValue(value, f"environment variable {name}")
    automatic = [root / "terraform.tfvars", root / "terraform.tfvars.json"]
    automatic += sorted(root.glob("*.auto.tfvars")) + sorted(root.glob("*.auto.tfvars.json"))
    for path in [*(p for p in automatic if p.is_file()), *map(Path, var_files)]:
        given.update(_read_tfvars(path))
    for name, value in (variables or {}).items():
        given[name] = RawValue(value, f"--var {name}")
    configuration = Configuration(root, source, given, warnings)
    return import_api(configuration, api=api, api_id=api_id, source=source)


def _read_tfvars(path: Path) -> dict[str, Any]:
    source = str(path)
    if path.name.endswith(".json"):
        try:
            document = parse_json(read_bounded(path).decode("utf-8-sig"))
        except ValueError as exc:  # not UTF-8, not JSON, nested too deeply
            raise ConfigError(f"cannot read the variables ({exc})", source=source) from exc
        if not isinstance(document, dict):
            raise ConfigError("must be a JSON object of variable values", source=source)
        return document
    body = parse_file(path, source)
    if body.blocks:
        block = body.blocks[0]
        raise ConfigError(
            "a .tfvars file holds only NAME = VALUE lines", source=f"{source}:{block.line}"
        )
    evaluator, scope = Evaluator({}), Scope({})
    values = {}
    for name, attribute in body.attributes.items():
        try:
            values[name] = evaluator.evaluate(attribute.value, scope)
        except EvalError as exc:
            problem = f"{name}: {exc.problem} (a .tfvars value cannot refer to anything)"
            raise ConfigError(problem, source=f"{source}:{exc.line}") from exc
    return values
