"""Bad bytes on the wire: each gets a clear answer, and nobody else notices.

Raw sockets with hand-built requests and frames, because the ``websockets``
client would never send most of them. Every case asserts exactly what the
client receives (an HTTP status, or a close code), what ``$disconnect`` reports
where a connection was open, and that a *bystander*, a client connected before
the case started, still round-trips a message afterwards.

RFC 6455 decides what a malformed frame gets (§5.2, §5.4, §5.5, §7.4.1: the
connection fails with 1002, or 1007 for text that is not UTF-8); AWS
documents nothing of its own there. The @connections requests follow HTTP/1.1
(RFC 9112) where AWS's behaviour is not known.
"""

from __future__ import annotations

import asyncio
import json
import struct
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from emulator.tools.testing import Client, Harness
from emulator.wire.http1 import MAX_HTTP_BODY
from tests.conftest import StartApi
from tests.signing import raw_request

ROUTES: dict[str, Any] = {
    "$connect": "probe.ok",
    "$disconnect": "probe.ok",
    "$default": {"handler": "probe.echo", "routeResponse": True},
}
KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 §1.3's sample key
HANDSHAKE = (
    "GET /local HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    f"Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
).encode()
TIMEOUT = 5.0
MASK = b"\x37\xfa\x21\x3d"
TEXT, BINARY, CONT, CLOSE, PING, PONG = 0x1, 0x2, 0x0, 0x8, 0x9, 0xA


def frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    masked: bool = True,
    rsv: int = 0,
    length: int | None = None,
    mask: bytes = MASK,
) -> bytes:
    """One client frame, built by hand (RFC 6455 §5.2); ``length`` may lie."""
    size = len(payload) if length is None else length
    first = (0x80 if fin else 0) | rsv | opcode
    mask_bit = 0x80 if masked else 0
    if size < 126:
        head = bytes((first, mask_bit | size))
    elif size < 1 << 16:
        head = bytes((first, mask_bit | 126)) + struct.pack("!H", size)
    else:
        head = bytes((first, mask_bit | 127)) + struct.pack("!Q", size)
    if not masked:
        return head + payload
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def close_payload(code: int, reason: bytes = b"") -> bytes:
    return struct.pack("!H", code) + reason


@dataclass(frozen=True)
class ServerFrame:
    fin: bool
    opcode: int
    payload: bytes


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    headers: dict[str, str]  # names lowercased
    body: bytes


class RawClient(asyncio.Protocol):
    """A TCP connection that writes whatever the test says and keeps all it reads.

    A protocol rather than a StreamReader: what arrived before a reset stays
    readable (a server that refuses a body resets the connection under the
    client's writes, right after its answer).
    """

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.ended = False  # EOF or reset: nothing more will arrive
        self._changed = asyncio.Event()
        self._writable = asyncio.Event()
        self._writable.set()

    @classmethod
    async def open(cls, api: Harness) -> RawClient:
        loop = asyncio.get_running_loop()
        _, client = await loop.create_connection(cls, "127.0.0.1", api.emulator.port)
        return client

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._changed.set()

    def eof_received(self) -> bool:
        self.ended = True
        self._changed.set()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.ended = True
        self._changed.set()
        self._writable.set()

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    # the test's side

    @property
    def local(self) -> tuple[str, int]:
        assert self.transport is not None
        host, port = self.transport.get_extra_info("sockname")[:2]
        return str(host), int(port)

    def send(self, data: bytes) -> None:
        assert self.transport is not None
        if not self.transport.is_closing():
            self.transport.write(data)

    def send_eof(self) -> None:
        """Half-close: the client is done sending, and still reads."""
        assert self.transport is not None
        self.transport.write_eof()

    async def writable(self) -> None:
        await self._writable.wait()

    async def _wait(self, ready: Callable[[], bool], timeout: float) -> None:
        async with asyncio.timeout(timeout):
            while not ready():
                if self.ended:
                    raise AssertionError(f"connection ended; received {bytes(self.buffer)!r}")
                self._changed.clear()
                await self._changed.wait()

    async def read_until(self, separator: bytes, timeout: float = TIMEOUT) -> bytes:
        await self._wait(lambda: separator in self.buffer, timeout)
        end = self.buffer.index(separator) + len(separator)
        data = bytes(self.buffer[:end])
        del self.buffer[:end]
        return data

    async def read_exactly(self, size: int) -> bytes:
        await self._wait(lambda: len(self.buffer) >= size, TIMEOUT)
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    async def http_answer(self, timeout: float = TIMEOUT) -> HttpAnswer:
        """One HTTP response: status line, headers and a Content-Length body."""
        head = await self.read_until(b"\r\n\r\n", timeout)
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        body = await self.read_exactly(int(headers.get("content-length", "0")))
        return HttpAnswer(int(status_line.split()[1]), headers, body)

    async def upgrade(self) -> None:
        """A valid handshake; returns once the 101 arrived (RFC 6455 §4.1: not before)."""
        self.send(HANDSHAKE)
        answer = await self.http_answer()
        assert answer.status == 101, answer

    async def read_frame(self) -> ServerFrame:
        first, second = await self.read_exactly(2)
        assert not second & 0x80, "a server never masks its frames (RFC 6455 §5.1)"
        size = second & 0x7F
        if size == 126:
            (size,) = struct.unpack("!H", await self.read_exactly(2))
        elif size == 127:
            (size,) = struct.unpack("!Q", await self.read_exactly(8))
        return ServerFrame(bool(first & 0x80), first & 0x0F, await self.read_exactly(size))

    async def read_close(self) -> tuple[int, str]:
        """The server's close frame (skipping data frames before it), then its EOF."""
        while True:
            received = await self.read_frame()
            if received.opcode == CLOSE:
                break
        assert await self.at_eof(), "the server closes TCP right after its close frame"
        code = struct.unpack("!H", received.payload[:2])[0]
        return code, received.payload[2:].decode("utf-8")

    async def at_eof(self) -> bool:
        """Whether the server ends the connection with nothing more to read."""
        await self._wait(lambda: bool(self.buffer) or self.ended, TIMEOUT)
        return not self.buffer

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


@pytest.fixture
async def api(start_api: StartApi) -> Harness:
    return await start_api(ROUTES)


@pytest.fixture
async def bystander(api: Harness) -> AsyncIterator[Client]:
    """A client connected before the case starts; it must not notice anything."""
    client = await api.connect()
    yield client
    await client.send_text("still there?")
    assert await client.receive_text() == "still there?"
    # The server saw nothing else from it: no close, no $disconnect.
    assert client.connection_id in api.emulator.connection_ids()


def invoked(api: Harness, route_key: str) -> list[str]:
    """Connection ids of the invocations of ``route_key`` so far."""
    return [
        i.event["requestContext"]["connectionId"]
        for i in api.record.invocations
        if i.route_key == route_key
    ]


async def disconnect_of(api: Harness, connection_id: str) -> tuple[int, str]:
    """The code and reason of ``connection_id``'s one ``$disconnect``."""
    invocations = await api.record.wait_for_invocations("$disconnect")
    [context] = [
        i.event["requestContext"]
        for i in invocations
        if i.event["requestContext"]["connectionId"] == connection_id
    ]
    return context["disconnectStatusCode"], context["disconnectReason"]


async def opened(api: Harness) -> tuple[RawClient, str]:
    """A raw client past its handshake, and its connection id."""
    raw = await RawClient.open(api)
    await raw.upgrade()
    return raw, api.emulator.connection_id_for(*raw.local)


# -- upgrade requests that are not one ------------------------------------------------------


def _without(header: bytes) -> bytes:
    start = HANDSHAKE.index(header)
    return HANDSHAKE[:start] + HANDSHAKE[HANDSHAKE.index(b"\r\n", start) + 2 :]


BAD_UPGRADES = [
    pytest.param(b"GARBAGE\r\n\r\n", 400, id="bad-request-line"),
    pytest.param(b"GET /local\r\nHost: x\r\n\r\n", 400, id="request-line-without-version"),
    pytest.param(b"\x00\x01\xfe\xff\x16\x03\x01 not http\r\n\r\n", 400, id="garbage-bytes"),
    # A TLS ClientHello on the plain port: refused at once, without waiting
    # for a line end that would never come.
    pytest.param(b"\x16\x03\x01\x02\x00\x01" + b"\xab" * 500, 400, id="tls-client-hello"),
    pytest.param(HANDSHAKE.replace(b"Host: 127.0.0.1\r\n", b""), 400, id="missing-host"),
    pytest.param(_without(b"Sec-WebSocket-Key"), 400, id="missing-key"),
    pytest.param(HANDSHAKE.replace(KEY.encode(), b"not base64!"), 400, id="key-not-base64"),
    # RFC 6455 §4.2.1: the key is 16 random bytes, base64-encoded.
    pytest.param(HANDSHAKE.replace(KEY.encode(), b"c2hvcnQ="), 400, id="key-of-5-bytes"),
    pytest.param(_without(b"Sec-WebSocket-Version"), 400, id="missing-version"),
    pytest.param(HANDSHAKE.replace(b"HTTP/1.1\r\n", b"HTTP/1.0\r\n", 1), 505, id="http-1.0"),
    # Not a GET: an ordinary HTTP request, which AWS answers 426 (spec §1).
    pytest.param(HANDSHAKE.replace(b"GET ", b"POST ", 1), 426, id="post-with-upgrade-headers"),
]


@pytest.mark.parametrize(("request_bytes", "status"), BAD_UPGRADES)
async def test_a_bad_upgrade_gets_a_clear_http_error(
    api: Harness, bystander: Client, request_bytes: bytes, status: int
) -> None:
    raw = await RawClient.open(api)
    raw.send(request_bytes)
    answer = await raw.http_answer()
    raw.close()
    assert answer.status == status
    assert answer.body, "the answer says what was wrong"
    # Nothing ran: the request never reached $connect.
    assert invoked(api, "$connect") == [bystander.connection_id]


@pytest.mark.parametrize("version", [b"8", b"14", b"thirteen"])
async def test_a_wrong_websocket_version_is_426_naming_version_13(
    api: Harness, bystander: Client, version: bytes
) -> None:
    # RFC 6455 §4.4: the server answers with an error such as 426 and a
    # Sec-WebSocket-Version header listing the versions it understands.
    raw = await RawClient.open(api)
    raw.send(HANDSHAKE.replace(b"Sec-WebSocket-Version: 13", b"Sec-WebSocket-Version: " + version))
    answer = await raw.http_answer()
    raw.close()
    assert (answer.status, answer.headers.get("sec-websocket-version")) == (426, "13")


CUTS = [
    pytest.param(5, id="mid-request-line"),
    pytest.param(HANDSHAKE.index(b"\r\n") + 2, id="after-request-line"),
    pytest.param(HANDSHAKE.index(b"Upgrade:") + 4, id="mid-header"),
    pytest.param(len(HANDSHAKE) - 2, id="before-the-blank-line"),
]


@pytest.mark.parametrize("cut", CUTS)
async def test_a_request_cut_off_then_closed_is_400_and_runs_nothing(
    api: Harness, bystander: Client, cut: int
) -> None:
    raw = await RawClient.open(api)
    raw.send(HANDSHAKE[:cut])
    raw.send_eof()  # the client is done sending: the head will never end
    answer = await raw.http_answer()
    assert await raw.at_eof()
    raw.close()
    assert answer.status == 400
    assert invoked(api, "$connect") == [bystander.connection_id]


async def test_a_request_that_never_completes_holds_up_no_one(api: Harness) -> None:
    # Not the bystander fixture: this test ends with the server stopped.
    bystander = await api.connect()
    stuck = await RawClient.open(api)
    stuck.send(HANDSHAKE[: len(HANDSHAKE) // 2])
    # While it hangs, others connect and are answered.
    newcomer = await api.connect()
    await newcomer.send_text("hello")
    assert await newcomer.receive_text() == "hello"
    await bystander.send_text("and me")
    assert await bystander.receive_text() == "and me"
    assert invoked(api, "$connect") == [bystander.connection_id, newcomer.connection_id]
    # A shutdown does not wait for it: it is dropped, and nothing ran for it.
    loop = asyncio.get_running_loop()
    started = loop.time()
    stop = asyncio.ensure_future(api.stop())
    assert await bystander.wait_closed() == (1001, "Going away")
    await asyncio.wait_for(stop, TIMEOUT)
    assert loop.time() - started < 1.5  # every client answered its close: no grace spent
    assert await stuck.at_eof()
    stuck.close()
    assert sorted(invoked(api, "$disconnect")) == sorted(
        [bystander.connection_id, newcomer.connection_id]
    )


# -- heads over the cap (beyond tests/test_safety.py) -------------------------------------


def padding(count: int) -> list[bytes]:
    return [b"X-Padding-%d: %s\r\n" % (n, b"p" * 1000) for n in range(count)]


async def test_a_head_that_grows_past_the_cap_is_431_before_it_ends(
    api: Harness, bystander: Client
) -> None:
    raw = await RawClient.open(api)
    # 40 KB of headers, four times the cap, a line per write; the blank line
    # that would end the head never comes, so the 431 cannot wait for it.
    raw.send(HANDSHAKE[:-2])
    for line in padding(40):
        raw.send(line)
    answer = await raw.http_answer()
    raw.close()
    assert answer.status == 431
    assert invoked(api, "$connect") == [bystander.connection_id]


async def test_a_management_request_with_a_head_over_the_cap_is_431(
    api: Harness, bystander: Client
) -> None:
    raw = await RawClient.open(api)
    raw.send(
        f"POST /local/@connections/{bystander.connection_id} HTTP/1.1\r\nHost: x\r\n".encode()
        + b"".join(padding(12))
        + b"Content-Length: 5\r\n\r\nhello"
    )
    answer = await raw.http_answer()
    raw.close()
    assert answer.status == 431
    assert api.record.sent_to(bystander.connection_id) == []


# -- upgrade heads read without h11 --------------------------------------------------------


def _sized_head(size: int) -> bytes:
    """The handshake with headers ``aNNN:vvv`` (no space) up to ``size`` bytes."""
    lines = [b"a%03d:" % n + b"v" * 70 + b"\r\n" for n in range(120)]
    head = HANDSHAKE[:-2] + b"".join(lines)
    return head + b"X:" + b"v" * (size - len(head) - 6) + b"\r\n\r\n"


# The plainest upgrade heads go to the handshake without h11 (HttpFront._simple_upgrade);
# every other one takes h11's way (``simple`` says which). Either way, the client
# gets the same answer.
UPGRADE_VARIANTS = [
    pytest.param(HANDSHAKE, True, id="plain"),
    pytest.param(
        HANDSHAKE.replace(b"Host: 127.0.0.1", b"host:127.0.0.1"), True, id="host-no-space"
    ),
    pytest.param(
        HANDSHAKE.replace(b"Upgrade: websocket", b"UPGRADE:  \tWebSocket \t"),
        True,
        id="ows-and-case",
    ),
    pytest.param(HANDSHAKE.replace(b"Host: 127.0.0.1\r\n", b""), False, id="no-host"),
    pytest.param(
        HANDSHAKE.replace(b"Host: 127.0.0.1\r\n", b"Host: a\r\nHost: b\r\n"), False, id="two-hosts"
    ),
    pytest.param(
        HANDSHAKE.replace(b"\r\n\r\n", b"\r\nContent-Length: 0\r\n\r\n"), False, id="body"
    ),
    pytest.param(
        HANDSHAKE.replace(b"\r\n\r\n", b"\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
        False,
        id="chunked",
    ),
    pytest.param(
        HANDSHAKE.replace(b"\r\n\r\n", b"\r\nX-Odd: caf\xc3\xa9\r\n\r\n"), False, id="obs-text"
    ),
    pytest.param(HANDSHAKE.replace(b"\r\n\r\n", b"\r\nX-Tabs:\ta\tb\t\r\n\r\n"), True, id="tabs"),
    pytest.param(HANDSHAKE.replace(b"\r\n\r\n", b"\r\nX-Empty:\r\n\r\n"), True, id="empty-value"),
    pytest.param(
        HANDSHAKE.replace(b"\r\n\r\n", b"\r\nX-Fold: a\r\n b\r\n\r\n"), False, id="obs-fold"
    ),
    pytest.param(HANDSHAKE.replace(b"\r\n\r\n", b"\r\nX-Nul: a\x00b\r\n\r\n"), False, id="nul"),
    pytest.param(
        HANDSHAKE.replace(b"\r\n\r\n", b"\r\nBad Name: x\r\n\r\n"), False, id="space-in-name"
    ),
    pytest.param(HANDSHAKE.replace(b"\r\n", b"\n"), False, id="bare-lf"),
    pytest.param(HANDSHAKE.replace(b"HTTP/1.1\r\n", b"HTTP/1.0\r\n", 1), False, id="http-1.0"),
    pytest.param(HANDSHAKE.replace(b"GET ", b"get ", 1), False, id="lowercase-method"),
    pytest.param(
        HANDSHAKE.replace(b"GET /local", b"GET /local?q=" + b"a" * 5000), False, id="url-5000"
    ),
    pytest.param(
        HANDSHAKE.replace(b"\r\n\r\n", b"\r\nX-Pad: " + b"p" * 20000 + b"\r\n\r\n"),
        False,
        id="head-20k",
    ),
    pytest.param(
        HANDSHAKE.replace(b"Sec-WebSocket-Version: 13", b"Sec-WebSocket-Version: 8"),
        True,
        id="version-8",
    ),
    pytest.param(
        HANDSHAKE.replace(b"Upgrade: websocket", b"Upgrade: h2c"), False, id="upgrade-h2c"
    ),
    pytest.param(
        HANDSHAKE.replace(b"Connection: Upgrade", b"Connection: keep-alive"),
        True,
        id="no-connection",
    ),
    pytest.param(HANDSHAKE.replace(b"GET /local", b"GET /elsewhere"), True, id="unknown-stage"),
    pytest.param(HANDSHAKE + frame(TEXT, b"early"), True, id="frame-behind"),
    # 10,240 bytes on the wire, the header limit; more once h11 puts a space after
    # each colon, as the limit is counted (431 either way).
    pytest.param(_sized_head(10240), False, id="at-the-limit-without-spaces"),
    # A line within websockets' 8 KiB once h11 strips the spaces from its value.
    pytest.param(
        HANDSHAKE.replace(b"\r\n\r\n", b"\r\nX-Pad:" + b" " * 100 + b"v" * 8100 + b"\r\n\r\n"),
        False,
        id="long-line-of-spaces",
    ),
]


async def _upgrade_outcome(api: Harness, data: bytes) -> tuple[object, ...]:
    """What a client sending ``data`` first gets: the answer's status and headers
    (but its date), and for a 101 what the connection then does."""
    raw = await RawClient.open(api)
    raw.send(data)
    try:
        answer = await raw.http_answer()
    except AssertionError:  # the server ended the connection without an answer
        raw.close()
        return ("ended", bytes(raw.buffer))
    headers = {k: v for k, v in answer.headers.items() if k != "date"}
    if answer.status != 101:
        raw.close()
        return (answer.status, headers, answer.body)
    received = []
    if data.endswith(frame(TEXT, b"early")):
        received.append(await raw.read_frame())
    raw.send(frame(CLOSE, close_payload(1000)))
    closed = await raw.read_close()
    raw.close()
    return (101, headers, received, closed)


@pytest.mark.parametrize(("data", "simple"), UPGRADE_VARIANTS)
async def test_an_upgrade_head_gets_the_same_answer_with_or_without_h11(
    api: Harness, monkeypatch: pytest.MonkeyPatch, data: bytes, simple: bool
) -> None:
    from emulator.wire.http1 import HttpFront

    taken: list[bool] = []
    original = HttpFront._simple_upgrade

    def watched(self: HttpFront, data: bytes) -> bool:
        taken.append(original(self, data))
        return taken[-1]

    monkeypatch.setattr(HttpFront, "_simple_upgrade", watched)
    fast = await _upgrade_outcome(api, data)
    monkeypatch.setattr(HttpFront, "_simple_upgrade", lambda self, data: False)
    assert await _upgrade_outcome(api, data) == fast
    assert taken == [simple]  # which way the first read took


# -- frames RFC 6455 forbids, after a successful handshake ----------------------------------

PROTOCOL_ERRORS = [
    pytest.param(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 1002, id="http-after-the-handshake"),
    pytest.param(frame(TEXT, b"hello", masked=False), 1002, id="unmasked-text"),
    pytest.param(frame(PING, b"p", masked=False), 1002, id="unmasked-ping"),
    *(
        pytest.param(frame(opcode, b"x"), 1002, id=f"reserved-opcode-{opcode:#x}")
        for opcode in (0x3, 0x7, 0xB, 0xF)
    ),
    # No extension was negotiated, so no RSV bit may be set (§5.2).
    pytest.param(frame(TEXT, b"x", rsv=0x40), 1002, id="rsv1-without-extension"),
    pytest.param(frame(TEXT, b"x", rsv=0x10), 1002, id="rsv3"),
    # Control frames: at most 125 bytes and never fragmented (§5.5).
    pytest.param(frame(PING, b"p" * 126), 1002, id="ping-of-126-bytes"),
    pytest.param(frame(CLOSE, close_payload(1000, b"r" * 124)), 1002, id="close-of-126-bytes"),
    pytest.param(frame(PING, b"p", fin=False), 1002, id="fragmented-ping"),
    pytest.param(frame(CLOSE, close_payload(1000), fin=False), 1002, id="fragmented-close"),
    # Fragmentation (§5.4): a continuation needs a message to continue, and
    # a new message must wait for the unfinished one.
    pytest.param(frame(CONT, b"orphan"), 1002, id="continuation-without-a-message"),
    pytest.param(frame(CONT, b"orphan", fin=False), 1002, id="unfinished-continuation-first"),
    pytest.param(
        frame(TEXT, b"first", fin=False) + frame(TEXT, b"second"),
        1002,
        id="text-while-a-message-is-unfinished",
    ),
    pytest.param(frame(TEXT, b"one", fin=False) + frame(PING, b"p" * 126), 1002, id="mid-message"),
    # Close frames (§5.5.1, §7.4.1): a code of two bytes, from the valid ranges.
    pytest.param(frame(CLOSE, b"\x03"), 1002, id="close-of-one-byte"),
    *(
        pytest.param(frame(CLOSE, close_payload(code)), 1002, id=f"close-code-{code}")
        for code in (0, 999, 1004, 1005, 1006, 1015, 2999, 5000, 65535)
    ),
    pytest.param(
        frame(CLOSE, close_payload(1000, b"bad \xff\xfe utf-8")), 1007, id="close-reason-not-utf8"
    ),
    # A frame declared over the 32 KB frame limit is refused before its payload comes.
    pytest.param(frame(TEXT, length=1 << 20), 1009, id="declared-1MiB-frame-never-sent"),
]


@pytest.mark.parametrize(("data", "code"), PROTOCOL_ERRORS)
async def test_a_forbidden_frame_fails_the_connection(
    api: Harness, bystander: Client, data: bytes, code: int
) -> None:
    raw, connection_id = await opened(api)
    raw.send(data)
    received = await raw.read_close()
    raw.close()
    assert received[0] == code
    # $disconnect reports what the client was told (spec §3.3 recommends the same code).
    assert await disconnect_of(api, connection_id) == received
    assert invoked(api, "$default") == []


async def test_a_message_complete_before_a_bad_frame_is_routed(
    api: Harness, bystander: Client
) -> None:
    # It was received before the close, whether or not it shared a TCP segment
    # with the bad frame: AWS routes every message received before the close.
    raw, connection_id = await opened(api)
    raw.send(frame(TEXT, b"one") + frame(CONT, b"two"))
    received = await raw.read_close()
    raw.close()
    assert received[0] == 1002
    assert await disconnect_of(api, connection_id) == received
    (routed,) = await api.record.wait_for_invocations("$default")
    assert routed.event["requestContext"]["connectionId"] == connection_id
    assert routed.event["body"] == "one"


async def test_a_ping_inside_a_fragmented_message_is_answered_and_the_message_routed_whole(
    api: Harness, bystander: Client
) -> None:
    # RFC 6455 §5.4: control frames MAY be injected in the middle of a fragmented message.
    raw, connection_id = await opened(api)
    raw.send(
        frame(TEXT, b'{"part": "a', fin=False)
        + frame(PING, b"first ping")
        + frame(CONT, b"b", fin=False)
        + frame(PONG, b"unsolicited")  # §5.5.3: allowed, and needs no answer
        + frame(PING, b"second ping")
        + frame(CONT, b'c"}')
    )
    assert await raw.read_frame() == ServerFrame(True, PONG, b"first ping")
    assert await raw.read_frame() == ServerFrame(True, PONG, b"second ping")
    assert await raw.read_frame() == ServerFrame(True, TEXT, b'{"part": "abc"}')
    [event] = [
        e
        for e in api.record.events("$default")
        if e["requestContext"]["connectionId"] == connection_id
    ]
    assert event["body"] == '{"part": "abc"}'
    raw.send(frame(CLOSE, close_payload(1000, b"done")))
    assert await raw.read_close() == (1000, "done")
    raw.close()
    assert await disconnect_of(api, connection_id) == (1000, "done")


@pytest.mark.parametrize(
    ("code", "reason"),
    [pytest.param(1000, "", id="1000"), pytest.param(3000, "adiós", id="3000-utf8-reason")],
)
async def test_a_valid_close_is_echoed_with_its_code(
    api: Harness, bystander: Client, code: int, reason: str
) -> None:
    # RFC 6455 §5.5.1: the endpoint answers a close with a close, echoing the code.
    raw, connection_id = await opened(api)
    raw.send(frame(CLOSE, close_payload(code, reason.encode())))
    received_code, _ = await raw.read_close()
    raw.close()
    assert received_code == code
    assert await disconnect_of(api, connection_id) == (code, reason)


HALF_FRAMES = [
    pytest.param(frame(TEXT, b"hello")[:1], id="one-byte-of-header"),
    pytest.param(frame(TEXT, b"hello")[:4], id="header-and-half-the-mask"),
    pytest.param(frame(TEXT, b"hello")[:8], id="header-mask-and-part-of-the-payload"),
    pytest.param(frame(TEXT, b"x" * 300)[:3], id="half-an-extended-length"),
    pytest.param(frame(TEXT, b"a", fin=False) + frame(CONT, b"bc")[:5], id="mid-message"),
]


@pytest.mark.parametrize("data", HALF_FRAMES)
async def test_a_half_sent_frame_then_eof_is_a_1006_disconnect(
    api: Harness, bystander: Client, data: bytes
) -> None:
    # UNKNOWN on AWS for a TCP drop without a close frame; the spec recommends 1006.
    raw, connection_id = await opened(api)
    raw.send(data)
    raw.send_eof()
    assert await raw.at_eof()
    raw.close()
    assert await disconnect_of(api, connection_id) == (1006, "")
    assert invoked(api, "$default") == []


# -- a stream of frames, however TCP cuts it ------------------------------------------------


class Reads:
    """How many bytes the server's connections have read, each read as it happens."""

    def __init__(self) -> None:
        self.total = 0
        self.changed = asyncio.Event()

    async def reach(self, total: int) -> None:
        async with asyncio.timeout(TIMEOUT):
            while self.total < total:
                self.changed.clear()
                await self.changed.wait()


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Reads:
    from emulator.wire.connection import Connection

    seen = Reads()
    received = Connection.data_received

    def counted(self: Connection, data: bytes) -> None:
        received(self, data)
        seen.total += len(data)
        seen.changed.set()

    monkeypatch.setattr(Connection, "data_received", counted)
    return seen


# Every kind of frame a client sends in one stream: plain text frames of both
# length forms (RFC 6455 §5.2), a ping, a fragmented message with a ping inside it.
# The second frame's mask and payload, read on their own, look like a text frame.
STREAM = (
    frame(TEXT, b'{"n": 1}')
    + frame(TEXT, b"\x00\x00\x05\x06abc", mask=b"\x81\x82\x05\x06")
    + frame(TEXT, b"x" * 130)
    + frame(PING, b"p")
    + frame(TEXT, b"frag", fin=False)
    + frame(PING, b"q")
    + frame(CONT, b"ment")
    + frame(TEXT, "é".encode())
)
STREAM_TEXTS = ['{"n": 1}', "\x00\x00\x05\x06abc", "x" * 130, "fragment", "é"]


async def test_frames_cut_anywhere_by_tcp_are_each_routed_once_and_in_order(
    start_api: StartApi, reads: Reads
) -> None:
    """The server reads the stream in two parts, cut at each byte in turn: a
    frame cut in its header, its mask or its payload is routed whole, once, in order,
    and every ping is answered."""
    # An async handler: invocations end in the order they start, and so do the answers.
    api = await start_api(
        {**ROUTES, "$default": {"handler": "probe.async_echo", "routeResponse": True}}
    )
    raw, connection_id = await opened(api)
    for cut in range(1, len(STREAM)):
        before = reads.total
        raw.send(STREAM[:cut])
        await reads.reach(before + cut)  # the server read the first part on its own
        raw.send(STREAM[cut:])
        answers = [await raw.read_frame() for _ in range(len(STREAM_TEXTS) + 2)]
        texts = [a.payload.decode() for a in answers if a.opcode == TEXT]
        pongs = [a.payload for a in answers if a.opcode == PONG]
        assert (texts, sorted(pongs)) == (STREAM_TEXTS, [b"p", b"q"]), f"cut at {cut}"
    raw.send(frame(CLOSE, close_payload(1000)))
    assert await raw.read_close() == (1000, "")
    raw.close()
    bodies = [e["body"] for e in api.record.events("$default")]
    assert bodies == STREAM_TEXTS * (len(STREAM) - 1)
    assert await disconnect_of(api, connection_id) == (1000, "")


async def test_a_bad_frame_behind_good_ones_fails_the_connection_once_they_are_routed(
    api: Harness,
) -> None:
    raw, connection_id = await opened(api)
    raw.send(
        frame(TEXT, b"one")
        + frame(TEXT, b"two")
        + frame(TEXT, b"three", rsv=0x40)  # no extension was negotiated (§5.2)
        + frame(TEXT, b"never")
    )
    received = await raw.read_close()
    raw.close()
    assert received[0] == 1002
    assert await disconnect_of(api, connection_id) == received
    assert [e["body"] for e in api.record.events("$default")] == ["one", "two"]


async def test_text_that_is_not_utf8_fails_the_connection_and_what_follows_is_not_routed(
    api: Harness,
) -> None:
    raw, connection_id = await opened(api)
    raw.send(frame(TEXT, b"fine") + frame(TEXT, b"bad \xff") + frame(TEXT, b"after"))
    code, reason = await raw.read_close()
    raw.close()
    assert (code, reason) == (1007, "invalid UTF-8 at position 4")
    assert await disconnect_of(api, connection_id) == (code, reason)
    assert [e["body"] for e in api.record.events("$default")] == ["fine"]


# -- @connections requests on the wire (beyond tests/test_management_e2e.py) ----------------


def post(
    api: Harness,
    connection_id: str,
    headers: str,
    body: bytes = b"",
    *,
    signed_body: bytes | None = None,
) -> bytes:
    """A signed PostToConnection; ``signed_body`` is the body as decoded, if framed."""
    target = f"/local/@connections/{connection_id}"
    port = api.emulator.port
    return raw_request("POST", port, target, body, extra=headers, signed_body=signed_body)


ACCEPTED_BODIES = [
    pytest.param(
        "Transfer-Encoding: chunked\r\n",
        b"5\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\n\r\n",
        "hello world",
        id="chunked",
    ),
    pytest.param("Transfer-Encoding: chunked\r\n", b"0\r\n\r\n", "", id="chunked-empty"),
    # UNKNOWN on AWS for empty Data; the emulator delivers an empty message.
    pytest.param("Content-Length: 0\r\n", b"", "", id="empty-body"),
    # RFC 9112 §6.3: a request without Content-Length or Transfer-Encoding has no body.
    pytest.param("", b"", "", id="no-length-no-body"),
    # RFC 9112 §6.3: Transfer-Encoding overrides Content-Length.
    pytest.param(
        "Content-Length: 99\r\nTransfer-Encoding: chunked\r\n",
        b"3\r\nabc\r\n0\r\n\r\n",
        "abc",
        id="chunked-overrides-content-length",
    ),
]


@pytest.mark.parametrize(("headers", "body", "delivered"), ACCEPTED_BODIES)
async def test_post_bodies_http_allows_are_delivered(
    api: Harness, bystander: Client, headers: str, body: bytes, delivered: str
) -> None:
    raw = await RawClient.open(api)
    raw.send(post(api, bystander.connection_id, headers, body, signed_body=delivered.encode()))
    answer = await raw.http_answer()
    raw.close()
    assert (answer.status, answer.body) == (200, b"")
    assert await bystander.receive_text() == delivered


REFUSED_BODIES = [
    pytest.param("Content-Length: abc\r\n", b"abc", 400, id="content-length-not-a-number"),
    pytest.param("Content-Length: -1\r\n", b"abc", 400, id="negative-content-length"),
    pytest.param(
        "Content-Length: 3\r\nContent-Length: 4\r\n", b"abcd", 400, id="two-content-lengths"
    ),
    pytest.param("Transfer-Encoding: chunked\r\n", b"zz\r\nabc\r\n0\r\n\r\n", 400, id="bad-chunk"),
    pytest.param("Transfer-Encoding: gzip\r\n", b"abc", 501, id="unsupported-transfer-coding"),
]


@pytest.mark.parametrize(("headers", "body", "status"), REFUSED_BODIES)
async def test_a_malformed_post_is_refused_and_delivers_nothing(
    api: Harness, bystander: Client, headers: str, body: bytes, status: int
) -> None:
    raw = await RawClient.open(api)
    raw.send(post(api, bystander.connection_id, headers, body))
    answer = await raw.http_answer()
    # After a framing error the rest of the stream means nothing: the server hangs up.
    assert await raw.at_eof()
    raw.close()
    assert answer.status == status
    assert api.record.sent_to(bystander.connection_id) == []


@pytest.mark.parametrize("method", ["OPTIONS", "TRACE", "PURGE"])
async def test_a_method_that_names_no_operation_is_403_forbidden(
    api: Harness, bystander: Client, method: str
) -> None:
    # AWS: "No method found matching route ..." 403 ForbiddenException (spec §4.1).
    raw = await RawClient.open(api)
    target = f"/local/@connections/{bystander.connection_id}"
    raw.send(raw_request(method, api.emulator.port, target, b"x", extra="Content-Length: 1\r\n"))
    answer = await raw.http_answer()
    raw.close()
    assert (answer.status, answer.headers.get("x-amzn-errortype")) == (403, "ForbiddenException")
    assert json.loads(answer.body) == {
        "message": f"No method found matching route local/@connections/"
        f"{bystander.connection_id} for http method {method}."
    }
    assert api.record.sent_to(bystander.connection_id) == []


async def test_a_body_shorter_than_its_content_length_is_400(
    api: Harness, bystander: Client
) -> None:
    raw = await RawClient.open(api)
    raw.send(post(api, bystander.connection_id, "Content-Length: 10\r\n", b"abc"))
    raw.send_eof()
    answer = await raw.http_answer()
    raw.close()
    assert answer.status == 400
    assert api.record.sent_to(bystander.connection_id) == []


async def refused_while_sending(raw: RawClient, chunk: bytes, limit: int) -> tuple[HttpAnswer, int]:
    """Write ``chunk`` until the server answers (or ``limit`` bytes); its answer, bytes sent."""
    answer = asyncio.ensure_future(raw.http_answer(timeout=30))
    sent = 0
    while not answer.done() and not raw.ended and sent < limit:
        raw.send(chunk)
        sent += len(chunk)
        writable = asyncio.ensure_future(raw.writable())
        await asyncio.wait((answer, writable), return_when=asyncio.FIRST_COMPLETED)
        writable.cancel()
    return await answer, sent


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_a_body_over_1_mib_is_413_before_it_is_all_sent(
    api: Harness, bystander: Client, chunked: bool
) -> None:
    declared = 256 << 20
    raw = await RawClient.open(api)
    if chunked:
        raw.send(post(api, bystander.connection_id, "Transfer-Encoding: chunked\r\n"))
        piece = b"x" * 65536
        chunk = b"%x\r\n" % len(piece) + piece + b"\r\n"
    else:
        raw.send(post(api, bystander.connection_id, f"Content-Length: {declared}\r\n"))
        chunk = b"x" * 65536
    answer, sent = await refused_while_sending(raw, chunk, declared)
    raw.close()
    assert answer.status == 413
    # Answered once 1 MiB had arrived, not after 256 MiB: a few MiB may sit in
    # kernel buffers, the rest was never sent.
    assert MAX_HTTP_BODY < sent < 32 << 20
    assert api.record.sent_to(bystander.connection_id) == []


async def test_a_body_over_1_mib_is_refused_as_payload_too_large(
    api: Harness, bystander: Client
) -> None:
    # AWS: Data over 128 KB is 413 PayloadTooLargeException (spec §4.1, §4.4);
    # boto3 maps the error only by x-amzn-ErrorType (spec §4.2).
    raw = await RawClient.open(api)
    raw.send(post(api, bystander.connection_id, f"Content-Length: {2 << 20}\r\n"))
    refused, _ = await refused_while_sending(raw, b"x" * 65536, 2 << 20)
    raw.close()
    assert refused.status == 413
    assert refused.headers.get("x-amzn-errortype") == "PayloadTooLargeException"
    assert "message" in json.loads(refused.body)


@pytest.mark.parametrize(
    "path", ["/local/@connections/{id}", "/local"], ids=["management", "stage"]
)
async def test_head_gets_the_status_without_a_body(
    api: Harness, bystander: Client, path: str
) -> None:
    # RFC 9110 §9.3.2: HEAD is GET without the content; the connection stays usable.
    target = path.format(id=bystander.connection_id)
    raw = await RawClient.open(api)
    port = api.emulator.port
    raw.send(raw_request("HEAD", port, target))
    head = await raw.read_until(b"\r\n\r\n")
    raw.send(raw_request("GET", port, f"/local/@connections/{bystander.connection_id}"))
    after = await raw.http_answer()
    raw.close()
    assert head.split(b" ")[1] in (b"403", b"426")
    assert after.status == 200


async def test_expect_100_continue_is_answered_before_the_body(
    api: Harness, bystander: Client
) -> None:
    raw = await RawClient.open(api)
    headers = "Content-Length: 5\r\nExpect: 100-continue\r\n"
    raw.send(post(api, bystander.connection_id, headers, signed_body=b"hello"))
    interim = await raw.http_answer(timeout=1.5)  # curl waits 1 s, then sends anyway
    raw.send(b"hello")
    final = await raw.http_answer()
    raw.close()
    assert (interim.status, final.status) == (100, 200)
    assert await bystander.receive_text() == "hello"


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 200_000])
def test_a_sent_text_frame_is_the_frame_websockets_would_write(size: int) -> None:
    from websockets.frames import Frame, Opcode

    from emulator.wire.connection import _text_header

    payload = ("é" * size).encode()[:size]
    expected = Frame(Opcode.TEXT, payload).serialize(mask=False, extensions=[])
    assert _text_header(len(payload)) + payload == expected


@pytest.mark.parametrize("size", [125, 126, 65535, 65536, 100_000])
async def test_answers_of_every_length_class_arrive_whole(start_api: StartApi, size: int) -> None:
    """The frame header's three length forms (RFC 6455 §5.2), through the real client."""
    api = await start_api({"$default": {"handler": "probe.sized", "routeResponse": True}})
    client = await api.connect()
    await client.send_text(str(size))
    answer = await client.receive_text()
    assert len(answer.encode()) == size  # the length is in bytes
    assert answer == "y" * (size - 2) + "é"
