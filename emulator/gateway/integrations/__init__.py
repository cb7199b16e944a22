"""Route integrations other than the Lambda proxy: ``HTTP_PROXY``, ``HTTP``, ``AWS``, ``MOCK``.

Implements addendum A of the spec (``shared/spec/integrations-spec.md``). The
pure core: :mod:`.settings` (the values routes.yaml's ``integration:`` becomes),
:mod:`.expressions` (template selection expressions), :mod:`.mapping`
(request parameter mapping, §A.2), :mod:`.vtl` (mapping templates, §A.5, the
only module importing the Velocity engine), :mod:`.select` (template and
integration response selection, §A.4), :mod:`.mock` (§A.6) and
:mod:`.pipeline` (one integration run, request and response side). The
adapters: :mod:`.http` (the HTTP client), :mod:`.aws` (SigV4-signed service
calls) and :mod:`.runner` (what :mod:`emulator.app` calls).

Importing this package imports nothing else: each module is imported by name.
"""

from __future__ import annotations

__all__: list[str] = []
