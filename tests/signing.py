"""SigV4 for tests that call the HTTP APIs by hand, signed by botocore as SDKs sign.

On AWS, @connections requests need a SigV4 signature for ``execute-api``; so do
the emulator's. :func:`signed` gives the headers a signed request carries;
:func:`raw_request` a whole request as bytes, for tests that write to a socket.
"""

from __future__ import annotations

from collections.abc import Mapping

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

__all__ = ["KEY", "REGION", "SECRET", "raw_request", "signed"]

KEY = "AKIDEMULATORTESTS000"
SECRET = "emulator-tests-secret"
REGION = "us-east-1"


def signed(
    method: str,
    url: str,
    body: bytes = b"",
    *,
    key: str = KEY,
    secret: str = SECRET,
    region: str = REGION,
    service: str = "execute-api",
    headers: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The headers of ``method url`` with ``body`` signed, ``Host`` included.

    ``url`` is what the request goes to, path and query exactly as sent.
    """
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    SigV4Auth(Credentials(key, secret), service, region).add_auth(request)
    host = url.split("//", 1)[1].split("/", 1)[0]
    return {"Host": host, **dict(request.headers.items())}


def raw_request(
    method: str,
    port: int,
    target: str,
    body: bytes = b"",
    *,
    extra: str = "",
    signed_body: bytes | None = None,
    **signing: str,
) -> bytes:
    """A signed HTTP/1.1 request as bytes: ``extra`` header lines (each ending in CRLF)
    are added unsigned; ``signed_body`` is what was signed, when the body sent is
    framed otherwise (chunked)."""
    url = f"http://127.0.0.1:{port}{target}"
    headers = signed(method, url, body if signed_body is None else signed_body, **signing)
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return f"{method} {target} HTTP/1.1\r\n{head}{extra}\r\n".encode() + body
