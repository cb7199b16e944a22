"""Bounds on the configuration a file may make the emulator build and walk.

A pure module. routes.yaml, templates and model schemas are read, resolved
and walked recursively; a hostile or broken file must get a clear
:class:`~emulator.errors.ConfigError`, never a hang, an exhausted memory or a
``RecursionError`` traceback:

* :data:`MAX_FILE_BYTES`: the size of a file that is read at all;
* :data:`MAX_DEPTH`: how deep values may nest, in YAML, in JSON, in HCL expressions and once YAML
  aliases are expanded;
* :data:`MAX_VALUES` and :data:`MAX_TEXT`: what a document holds once its YAML
  aliases are expanded (a "billion laughs" is a few lines of aliases);
* :class:`Budget`: the work of resolving CloudFormation's intrinsic functions
  and the Serverless Framework's variables, which can multiply values without
  any alias (a ``Fn::Join`` of references to names that are joins themselves).
"""

from __future__ import annotations

import json
from typing import Final

from emulator.errors import ConfigError

__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_RESOLVE_STEPS",
    "MAX_TEXT",
    "MAX_VALUES",
    "Budget",
    "json_too_deep",
    "parse_json",
]

# CloudFormation takes templates of up to 1 MB (S3; 51,200 bytes inline); INFER
# four times that for routes.yaml and serverless.yml, which hold templates inline.
MAX_FILE_BYTES: Final = 4 << 20
# Mappings and lists inside each other. CloudFormation templates and JSON
# schemas nest a few dozen levels at most.
MAX_DEPTH: Final = 100
# Values (scalars, mappings, lists) and characters of text of a document, with
# its aliases expanded: ten times a large template, and bounded work to walk.
MAX_VALUES: Final = 200_000
MAX_TEXT: Final = 16 << 20
# Steps, and characters made, resolving one template's intrinsic functions or
# variables: a step is a value visited (a variable costs ten). The templates
# of the suite take a few hundred; a second of work at most.
MAX_RESOLVE_STEPS: Final = 200_000


class Budget:
    """Counts the work of resolving a template; past the bounds, a :class:`ConfigError`."""

    def __init__(self, what: str, steps: int = MAX_RESOLVE_STEPS, text: int = MAX_TEXT) -> None:
        self.what = what  # "intrinsic functions", "variables"
        self.steps = steps
        self.text = text

    def spend(self, steps: int = 1, text: int = 0) -> None:
        self.steps -= steps
        self.text -= text
        if self.steps < 0:
            raise ConfigError(
                f"resolving the {self.what} takes more than {MAX_RESOLVE_STEPS} steps: "
                "references that repeat other references multiply the template"
            )
        if self.text < 0:
            raise ConfigError(
                f"resolving the {self.what} takes more than {MAX_TEXT} characters of text: "
                "references that repeat other references multiply the template"
            )


def json_too_deep(text: str, limit: int = MAX_DEPTH) -> tuple[int, int] | None:
    """Where (line, column, from 1) JSON ``text`` nests past ``limit``, or None.

    A scan of the text, before any parsing: Python's json module is recursive,
    and fails with a ``RecursionError`` on deep input.
    """
    depth = 0
    in_string = escaped = False
    line, line_start = 1, 0
    for index, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return line, index - line_start + 1
        elif char in "]}":
            depth -= 1
        if char == "\n":
            line, line_start = line + 1, index + 1
    return None


def parse_json(text: str) -> object:
    """``json.loads(text)``, refusing nesting past :data:`MAX_DEPTH` with a ValueError."""
    deep = json_too_deep(text)
    if deep is not None:
        line, column = deep
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels at line {line}, column {column}")
    return json.loads(text)
