"""The HTTP client side of integrations: sending a backend request (spec §A.3, §A.4.3).

An adapter, and the only module importing ``httpx``: an asyncio client with
typed annotations (it passes ``mypy --strict``), explicit timeouts and
connection pooling, without the C extensions aiohttp builds on. The client is
created on first use (on the running loop) and never reads proxy settings from
the environment: a backend on 127.0.0.1 must not be sent to ``HTTP_PROXY``.
Redirects are not followed, as API Gateway does not follow them.
"""

from __future__ import annotations

from typing import Final

import httpx

from emulator.gateway.integrations.backend import BackendError, BackendRequest, BackendResponse

__all__ = ["MAX_RESPONSE_BYTES", "HttpClient"]

# AWS: an integration response over 10 MB fails the request (spec §A.3.3).
MAX_RESPONSE_BYTES: Final = 10 * 1024 * 1024


class HttpClient:
    """Sends :class:`BackendRequest` values; one connection pool per emulator."""

    def __init__(self, *, max_response_bytes: int = MAX_RESPONSE_BYTES) -> None:
        self._client: httpx.AsyncClient | None = None
        self._max = max_response_bytes

    def _get(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(trust_env=False, follow_redirects=False, timeout=None)
            # Only the headers API Gateway sends: no python-httpx User-Agent or Accept.
            self._client.headers.clear()
        return self._client

    async def send(self, request: BackendRequest) -> BackendResponse:
        """Send ``request``; raises :class:`BackendError`. The caller bounds the time."""
        client = self._get()
        try:
            async with client.stream(
                request.method,
                request.url,
                headers=list(request.headers),
                content=request.body,
            ) as response:
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > self._max:
                        raise BackendError(f"the response is over {self._max} bytes")
                    chunks.append(chunk)
                return BackendResponse(
                    response.status_code, tuple(response.headers.multi_items()), b"".join(chunks)
                )
        except httpx.TimeoutException as exc:
            raise BackendError(f"{type(exc).__name__}: {exc}", timed_out=True) from exc
        except httpx.HTTPError as exc:
            raise BackendError(f"{type(exc).__name__}: {exc or 'no details'}") from exc

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()
