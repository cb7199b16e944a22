"""Which HTTP requests the emulator answers at all: by their Host and Origin.

A pure module. A web page open in the developer's browser can send requests
to ``127.0.0.1``: with its own name pointed there (DNS rebinding) it can even
read the answers. So every HTTP request (@connections, the inspector's pages
and feed, the Lambda Invoke API) is refused:

* with **421 Misdirected Request** when its ``Host`` is not a loopback name or
  address (``localhost``, ``127.0.0.0/8``, ``::1``), the address the emulator
  listens on, or a name it was given (its own ``execute-api`` domain name,
  ``--domain``); a rebinding page's Host is its own name;
* with **403 Forbidden** when it carries an ``Origin`` other than the
  emulator's own pages' (``http(s)://`` one of those names, on its port): a
  page of another site, even one that cannot read the answer, must not act.

WebSocket upgrades to the API are not checked here: AWS accepts them from
any origin, and so does the emulator.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Collection, Sequence
from urllib.parse import urlsplit

from emulator.wire.messages import HttpResponse

__all__ = ["refusal", "trusted_name"]

# An address that means "every interface" names no host a client could use.
_ANY = frozenset({"0.0.0.0", "::", ""})


def _name(netloc: str) -> str | None:
    """The host of a ``Host`` header or an origin's netloc, lowercased; None if malformed."""
    try:
        name = urlsplit(f"//{netloc}").hostname
    except ValueError:
        return None
    return name.rstrip(".").lower() if name else None


def trusted_name(name: str, names: Collection[str]) -> bool:
    """Whether ``name`` (lowercase, no port) is loopback or one of ``names``."""
    if name == "localhost" or name in names:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def refusal(
    headers: Sequence[tuple[str, str]], *, names: Collection[str], port: int
) -> HttpResponse | None:
    """The answer refusing a request with these headers, or None when it may go on.

    ``names`` are the lowercase host names and addresses accepted besides the
    loopback ones; ``port`` is the one the emulator listens on.
    """
    names = {name.lower() for name in names if name not in _ANY}
    hosts = [value for key, value in headers if key.lower() == "host"]
    host = _name(hosts[0].strip()) if len(hosts) == 1 else None
    if host is None or not trusted_name(host, names):
        shown = hosts[0] if hosts else ""
        return _answer(
            421,
            f"this emulator answers HTTP requests for localhost, loopback addresses and "
            f"the names it was given (--domain), not for Host {shown!r}",
        )
    for key, value in headers:
        if key.lower() == "origin" and not _own_origin(value.strip(), names, port):
            return _answer(
                403,
                f"requests from other sites' pages are refused: Origin {value!r} "
                "is not one of the emulator's own pages",
            )
    return None


def _own_origin(origin: str, names: Collection[str], port: int) -> bool:
    try:
        split = urlsplit(origin)
        origin_port = split.port
    except ValueError:
        return False
    if split.scheme not in ("http", "https") or split.path or split.query:
        return False
    name = _name(split.netloc)
    if name is None or not trusted_name(name, names):
        return False
    default = 443 if split.scheme == "https" else 80
    return (origin_port or default) == port


def _answer(status: int, message: str) -> HttpResponse:
    body = json.dumps({"message": message}, separators=(",", ":")).encode()
    return HttpResponse(status, (("Content-Type", "application/json"),), body)
