"""Who may connect: API keys, IAM signatures and the Lambda REQUEST authorizer (spec §6, §A.8).

:mod:`.admit` runs the checks in API Gateway's order; :mod:`.apikeys`,
:mod:`.sigv4`, :mod:`.authorizer` and :mod:`.policy` decide each one.
Importing this package imports nothing else.
"""

from __future__ import annotations

__all__: list[str] = []
