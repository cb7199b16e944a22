"""The integration step of the pipeline: what a route calls (spec §A).

Every integration ends in an :class:`~.outcome.Outcome` (:mod:`.outcome`).
``AWS_PROXY`` invokes a Lambda function in-process (:mod:`.lambda_proxy`).
The backends, ``HTTP_PROXY``, ``HTTP``, ``AWS`` and ``MOCK``, share a pure
core: :mod:`.backend` (the request API Gateway sends and what it does with the
answer), :mod:`.mapping` (request parameters, §A.2), :mod:`.vtl` (mapping
templates, §A.5, the only module importing the Velocity engine),
:mod:`.select` (template and integration response selection, §A.4) and
:mod:`.mock` (§A.6); and three adapters: :mod:`.http` (the HTTP client),
:mod:`.aws` (SigV4-signed service calls) and :mod:`.runner` (the I/O of one run).

Importing this package imports nothing else: each module is imported by name.
"""

from __future__ import annotations

__all__: list[str] = []
