"""Tools on top of the emulator: the CLI, the pytest plugin, the pages, export.

:mod:`.cli` is ``apigw-ws``; :mod:`.testing` and :mod:`.pytest_plugin` run an
emulator per test; :mod:`.inspector` and :mod:`.feed` serve the chat page and
the live inspector; :mod:`.reload` swaps in edited handlers; :mod:`.export`
writes a deployable template; :mod:`.logs` formats what ``serve`` prints.
Importing this package imports nothing else.
"""

from __future__ import annotations

__all__: list[str] = []
