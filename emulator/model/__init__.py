"""The API model: routes.yaml and templates, turned into one immutable value.

:mod:`.config` reads a routes.yaml (one module of :mod:`.sections` per section,
YAML in :mod:`.yaml_files` only) into the values of :mod:`.api`,
:mod:`.integration` and :mod:`.function`; :mod:`.templates` reads SAM,
CloudFormation and serverless.yml into the same. Every module is pure: no I/O
but reading the file, no clock, no sockets. Importing this package imports
nothing else.
"""

from __future__ import annotations

__all__: list[str] = []
