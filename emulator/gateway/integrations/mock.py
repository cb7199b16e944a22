"""``MOCK`` integrations: the status a request template asks for (spec §A.6).

A pure module. The rendered request template must be JSON with an integer
``statusCode``: it is never sent anywhere, it sets the status that selects
the integration response (and, on ``$connect``, whether the handshake
succeeds). Like AWS (and CDK's output), the relaxed form ``{statusCode: 200}``
is accepted. No template at all means 200: "you can have a method of the mock
integration return the default integration response without defining the
integration request mapping template" (DG:how-to-mock-integration).
"""

from __future__ import annotations

import json
import re
from typing import Final

__all__ = ["DEFAULT_MOCK_STATUS", "mock_status"]

DEFAULT_MOCK_STATUS: Final = 200
_RELAXED: Final = re.compile(r"""\{\s*["']?statusCode["']?\s*:\s*(\d{3})\s*[,}]""")


def mock_status(rendered: str | None) -> int | None:
    """The status the template asks for; None when it cannot be read (AWS: 500)."""
    if rendered is None or not rendered.strip():
        return DEFAULT_MOCK_STATUS
    try:
        document = json.loads(rendered)
    except ValueError:
        match = _RELAXED.search(rendered)
        return int(match.group(1)) if match else None
    status = document.get("statusCode") if isinstance(document, dict) else None
    if isinstance(status, bool) or not isinstance(status, int):
        # AWS: "Unable to parse statusCode. It should be an integer that is
        # defined in the request template."
        return None
    return status
