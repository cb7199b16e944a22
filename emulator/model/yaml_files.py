"""Reading and writing YAML: routes.yaml and infrastructure templates.

The only module that imports :mod:`yaml`. Every document is read with a
SafeLoader that also refuses duplicate keys (PyYAML would silently keep the
last); templates additionally load CloudFormation's ``!Tag`` short forms as
their long forms. Errors are :class:`~emulator.errors.ConfigError` naming the
file, line and column.

Reading is bounded (:mod:`emulator.model.bounds`): the file's size, how deep
values nest (PyYAML composes recursively, so a deep document would end in a
``RecursionError``), and what the document holds once its aliases are
expanded, counted on the composed nodes before anything is built: a few lines
of aliases (a "billion laughs") expand to billions of values in whatever walks
them later. An alias may not refer to a node that contains it.
"""

from __future__ import annotations

import os
from collections.abc import Hashable
from pathlib import Path
from typing import Any

import yaml

from emulator.errors import ConfigError
from emulator.model.bounds import MAX_DEPTH, MAX_FILE_BYTES, MAX_TEXT, MAX_VALUES

__all__ = ["dump_yaml", "read_bounded", "read_config_yaml", "read_template_yaml"]


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


def read_bounded(path: str | os.PathLike[str]) -> bytes:
    """A configuration file's bytes; :class:`ConfigError` if it cannot be read or
    is over :data:`~emulator.model.bounds.MAX_FILE_BYTES`."""
    source = os.fspath(path)
    try:
        with Path(path).open("rb") as file:
            raw = file.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError("file not found", source=source) from None
    except OSError as exc:
        reason = (exc.strerror or type(exc).__name__).lower()
        raise ConfigError(f"cannot read the file ({reason})", source=source) from exc
    if len(raw) > MAX_FILE_BYTES:
        problem = f"the file is larger than {MAX_FILE_BYTES // (1 << 20)} MiB, the most read"
        raise ConfigError(problem, source=source)
    return raw


def _read_yaml(path: str | os.PathLike[str], loader: type[_StrictLoader]) -> object:
    source = os.fspath(path)
    raw = read_bounded(path)
    try:
        return yaml.load(raw, Loader=loader)  # a SafeLoader: no arbitrary objects
    except _BoundError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(f"{where}{exc.problem}", source=source) from None
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


class _BoundError(yaml.composer.ComposerError):
    """A document past :mod:`emulator.model.bounds`, at the place it went past."""

    def __init__(self, problem: str, mark: Any) -> None:
        super().__init__(problem=problem, problem_mark=mark)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_expansion(root: yaml.Node, aliases: list[tuple[Any, yaml.Node]]) -> None:
    """Refuse a document whose aliases expand it past the bounds, naming the alias.

    Each node's expanded size is computed once (the nodes form a graph in which
    an alias is a second edge to its anchor), depth first, without recursion.
    """
    sizes: dict[int, tuple[int, int, int]] = {}  # id -> values, text, depth, expanded
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            open_nodes.discard(key)
            children = [sizes[id(child)] for child in _children(node)]
            text = len(node.value) if isinstance(node, yaml.ScalarNode) else 0
            sizes[key] = (
                1 + sum(c[0] for c in children),
                text + sum(c[1] for c in children),
                1 + max((c[2] for c in children), default=0),
            )
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            mark = next((m for m, target in aliases if target is node), node.start_mark)
            raise _BoundError("an alias refers to a node that contains it", mark)
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)
    values, text, depth = sizes[id(root)]
    for total, limit, index, what in (
        (values, MAX_VALUES, 0, f"more than {MAX_VALUES} values"),
        (text, MAX_TEXT, 1, f"more than {MAX_TEXT} characters of text"),
        (depth, MAX_DEPTH, 2, f"values nested deeper than {MAX_DEPTH} levels"),
    ):
        if total > limit:
            mark, target = max(aliases, key=lambda alias: sizes[id(alias[1])][index])
            expands = sizes[id(target)][index]
            raise _BoundError(
                f"aliases expand the document to {what}; the alias here stands for "
                f"{expands} {('values', 'characters', 'levels')[index]}",
                mark,
            )


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys instead of dropping all but the last,
    and documents past the bounds."""

    def __init__(self, stream: bytes) -> None:
        super().__init__(stream)
        self._depth = 0
        self._values = 0
        self._aliases: list[tuple[Any, yaml.Node]] = []  # (where, which node)

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event: yaml.Event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent):
            node = super().compose_node(parent, index)
            if node is not None and event.start_mark is not None:
                self._aliases.append((event.start_mark, node))
            return node
        self._depth += 1
        self._values += 1
        if self._depth > MAX_DEPTH:
            raise _BoundError(f"nested deeper than {MAX_DEPTH} levels", event.start_mark)
        if self._values > MAX_VALUES:
            raise _BoundError(f"more than {MAX_VALUES} values in one document", event.start_mark)
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def compose_document(self) -> yaml.Node | None:
        node = super().compose_document()
        if self._aliases and node is not None:
            _check_expansion(node, self._aliases)
        self._aliases = []
        return node

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
