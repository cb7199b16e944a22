"""routes.yaml, one module per section: how each key is read and checked.

:mod:`.checks` holds the checks every section shares (a mapping, a number of
seconds, a did-you-mean for unknown keys); :mod:`.routes`, :mod:`.integrations`,
:mod:`.access` and :mod:`.models` read their sections into the values of
:mod:`emulator.model.api`. :mod:`emulator.model.config` puts them together.
"""

from __future__ import annotations

__all__: list[str] = []
