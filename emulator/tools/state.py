"""``apigw-ws state``: what the mocked AWS services of an emulator hold, printed.

It asks a running ``apigw-ws serve --mock-aws`` (``GET /_inspector/aws``,
which the inspector serves), or reads what a stopped one saved in its
``--state-dir``. Formatting is :mod:`emulator.tools.state_format`'s.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from emulator.errors import ConfigError
from emulator.tools.state_format import format_state

__all__ = ["AWS_STATE_PATH", "print_state"]

AWS_STATE_PATH = "/_inspector/aws"
_TIMEOUT = 10.0


def print_state(url: str, state_dir: str | None, *, as_json: bool, limit: int) -> int:
    """Print the state; the exit status (1: nothing to show, with why on stderr)."""
    try:
        if state_dir is not None:
            from emulator.runtime.aws_state import saved_view

            view = saved_view(state_dir, limit)
        else:
            view = _fetch(url, limit)
    except ConfigError as exc:
        print(f"apigw-ws: error: {exc}", file=sys.stderr)
        return 1
    if as_json:
        sys.stdout.write(json.dumps(view, indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(format_state(view))
    return 0


def _fetch(url: str, limit: int) -> dict[str, Any]:
    split = urlsplit(url if "//" in url else f"http://{url}")
    scheme = {"ws": "http", "wss": "https"}.get(split.scheme, split.scheme)
    target = f"{scheme}://{split.netloc}{AWS_STATE_PATH}?limit={limit}"
    try:
        with urllib.request.urlopen(target, timeout=_TIMEOUT) as response:
            body = response.read()
    except urllib.error.HTTPError as exc:
        raise ConfigError(_refusal(exc), source=url) from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ConfigError(
            f"nothing answers ({reason}); is `apigw-ws serve --mock-aws` running there?"
            " (--url names another emulator, --state-dir reads a stopped one's data)",
            source=url,
        ) from exc
    view: dict[str, Any] = json.loads(body)
    return view


def _refusal(error: urllib.error.HTTPError) -> str:
    try:
        message = json.loads(error.read()).get("message")
    except (ValueError, AttributeError):
        message = None
    if message:
        return str(message)
    if error.code == 426:
        return "the emulator there does not serve its state (started with --no-inspector?)"
    return f"the emulator answered HTTP {error.code}"
