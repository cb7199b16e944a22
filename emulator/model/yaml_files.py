"""Reading and writing YAML: routes.yaml and infrastructure templates.

The only module that imports :mod:`yaml`. Every document is read with a
SafeLoader that also refuses duplicate keys (PyYAML would silently keep the
last); templates additionally load CloudFormation's ``!Tag`` short forms as
their long forms. Errors are :class:`~emulator.errors.ConfigError` naming the
file, line and column.
"""

from __future__ import annotations

import os
from collections.abc import Hashable
from pathlib import Path
from typing import Any

import yaml

from emulator.errors import ConfigError

__all__ = ["dump_yaml", "read_config_yaml", "read_template_yaml"]


def read_config_yaml(path: str | os.PathLike[str]) -> object:
    """Read a routes.yaml: YAML 1.1 as PyYAML reads it, duplicate keys refused.

    ``!Ref X`` and ``!GetAtt X.Attribute`` (a variable naming a resource of
    ``resources:``) load as their long forms, as in a template.
    """
    return _read_yaml(path, _ConfigLoader)


def read_template_yaml(path: str | os.PathLike[str]) -> object:
    """Read an infrastructure template written in YAML (SAM, CloudFormation, serverless.yml).

    CloudFormation's short forms load as their long forms: ``!Ref X`` as
    ``{"Ref": "X"}``, ``!GetAtt A.B`` as ``{"Fn::GetAtt": ["A", "B"]}``, ``!Sub s``
    as ``{"Fn::Sub": "s"}``, ``!Condition C`` as ``{"Condition": "C"}``. Nothing
    is resolved here. Errors are :class:`ConfigError` naming the file, as for
    :func:`load_config`.
    """
    return _read_yaml(path, _TemplateLoader)


def dump_yaml(document: object, *, short_forms: bool = False) -> str:
    """YAML text for plain dicts, lists and scalars, in insertion order.

    Block style, lists indented under their key, no anchors or aliases, long
    strings never folded; strings YAML would read as something else
    (``'yes'``, ``'2010-09-09'``) are quoted. With ``short_forms``, intrinsic
    functions are written as CloudFormation's tags: ``{"Ref": "X"}`` as
    ``!Ref X``, ``{"Fn::GetAtt": ["A", "B"]}`` as ``!GetAtt A.B``.
    """
    return yaml.dump(
        document,
        Dumper=_ShortFormDumper if short_forms else _TemplateDumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=1_000_000,
    )


def _read_yaml(path: str | os.PathLike[str], loader: type[_StrictLoader]) -> object:
    source = os.fspath(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise ConfigError("file not found", source=source) from None
    except OSError as exc:
        reason = (exc.strerror or type(exc).__name__).lower()
        raise ConfigError(f"cannot read the file ({reason})", source=source) from exc
    try:
        return yaml.load(raw, Loader=loader)  # a SafeLoader: no arbitrary objects
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = exc.problem or exc.context or "syntax error"
        raise ConfigError(f"invalid YAML{where}: {problem}", source=source) from exc
    except yaml.reader.ReaderError as exc:  # YAML files are UTF-8 or UTF-16 text
        problem = f"is not UTF-8 or UTF-16 text: {exc.reason} at byte {exc.position}"
        raise ConfigError(problem, source=source) from exc


class _DuplicateKeyError(yaml.constructor.ConstructorError):
    """A key given twice in one mapping: PyYAML would silently keep the last."""


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys instead of dropping all but the last."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        first_line: dict[object, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *base` then overriding a merged key is allowed
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, Hashable):
                continue  # the base class reports unhashable keys
            line = key_node.start_mark.line + 1
            if key in first_line:
                problem = f"duplicate key {key!r} (first defined at line {first_line[key]})"
                raise _DuplicateKeyError(problem=problem, problem_mark=key_node.start_mark)
            first_line[key] = line
        return super().construct_mapping(node, deep=deep)


# CloudFormation's YAML short forms and the long form each stands for
# (CloudFormation User Guide, "Intrinsic function reference").
_SHORT_FORMS = {
    "Ref": "Ref",
    "Condition": "Condition",
    **{
        name: f"Fn::{name}"
        for name in (
            "And", "Base64", "Cidr", "Equals", "FindInMap", "GetAtt", "GetAZs", "If",
            "ImportValue", "Join", "Length", "Not", "Or", "Select", "Split", "Sub",
            "ToJsonString", "Transform",
        )
    },
}  # fmt: skip


class _TemplateLoader(_StrictLoader):
    """The strict loader, plus CloudFormation's ``!Tag`` short forms."""


def _construct_short_form(loader: _StrictLoader, suffix: str, node: yaml.Node) -> object:
    name = _SHORT_FORMS.get(suffix)
    if name is None:
        known = ", ".join(f"!{tag}" for tag in sorted(_SHORT_FORMS))
        raise yaml.constructor.ConstructorError(
            problem=f"unknown tag '!{suffix}' (CloudFormation's are {known})",
            problem_mark=node.start_mark,
        )
    value: object
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if name == "Fn::GetAtt" and isinstance(value, str):
            # AWS: "!GetAtt logicalName.attributeName"; the attribute may hold dots.
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        assert isinstance(node, yaml.MappingNode)  # the three kinds of YAML node
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_TemplateLoader.add_multi_constructor("!", _construct_short_form)


class _ConfigLoader(_StrictLoader):
    """The strict loader, plus the two short forms routes.yaml evaluates."""


def _construct_config_tag(loader: _StrictLoader, suffix: str, node: yaml.Node) -> object:
    if suffix not in ("Ref", "GetAtt"):
        raise yaml.constructor.ConstructorError(
            problem=f"unknown tag '!{suffix}' (routes.yaml reads !Ref and !GetAtt)",
            problem_mark=node.start_mark,
        )
    return _construct_short_form(loader, suffix, node)


_ConfigLoader.add_multi_constructor("!", _construct_config_tag)
# Dates stay strings: `AWSTemplateFormatVersion: 2010-09-09`, or an environment
# variable's value, is text to CloudFormation, not a datetime.date.
_TemplateLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _StrictLoader.yaml_implicit_resolvers.items()
}


class _TemplateDumper(yaml.SafeDumper):
    """Block-style YAML without aliases, lists indented under their key."""

    def ignore_aliases(self, data: Any) -> bool:
        return True

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


class _ShortFormDumper(_TemplateDumper):
    """Writes ``{"Fn::Sub": ...}`` as ``!Sub ...``: the inverse of :class:`_TemplateLoader`."""

    def choose_scalar_style(self) -> str:
        # `!Ref Api`, not `!Ref 'Api'`: an explicit tag means no implicit typing,
        # so any text that may be plain can stay plain.
        event = self.event
        if isinstance(event, yaml.ScalarEvent) and (event.tag or "").startswith("!"):
            analysis = self.analysis = self.analysis or self.analyze_scalar(event.value)
            if not event.style and analysis.allow_block_plain and not analysis.empty:
                return ""
        return str(super().choose_scalar_style())


def _represent_mapping(dumper: _TemplateDumper, data: dict[Any, Any]) -> yaml.Node:
    if len(data) == 1:
        ((key, value),) = data.items()
        name = key.removeprefix("Fn::") if isinstance(key, str) else None
        if name in _SHORT_FORMS and _SHORT_FORMS[name] == key:
            tag = f"!{name}"
            if (
                name == "GetAtt"
                and isinstance(value, list)
                and all(isinstance(v, str) for v in value)
            ):
                value = ".".join(value)
            if isinstance(value, list):
                return dumper.represent_sequence(tag, value)
            if isinstance(value, dict):
                return dumper.represent_mapping(tag, value)
            return dumper.represent_scalar(tag, str(value))
    return dumper.represent_dict(data)


_ShortFormDumper.add_representer(dict, _represent_mapping)
