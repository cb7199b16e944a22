"""Ids: AWS's shape, and drawn from the operating system's CSPRNG (spec §2.7).

A connection id is all @connections asks for, so ids must not be predictable
from the ones a client has seen. That cannot be shown by sampling; what can be
pinned is where the bytes come from.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import uuid

import pytest

from emulator import clock
from emulator.clock import new_api_id, new_id

AWS_ID = re.compile(r"[A-Za-z0-9_-]{15}=")


def test_an_id_is_16_characters_of_url_safe_base64_of_11_bytes() -> None:
    for _ in range(200):
        connection_id = new_id()
        assert AWS_ID.fullmatch(connection_id), connection_id
        assert len(base64.urlsafe_b64decode(connection_id)) == 11


def test_ids_do_not_repeat() -> None:
    ids = {new_id() for _ in range(20000)}
    assert len(ids) == 20000


def test_each_id_is_11_fresh_bytes_from_the_os_csprng(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bytes are read from os.urandom a block at a time, and each byte
    makes one id only: nothing is derived from a seed kept in the process."""
    drawn: list[bytes] = []

    def urandom(size: int) -> bytes:
        block = bytes((len(drawn) * 7 + n) % 256 for n in range(size))
        drawn.append(block)
        return block

    monkeypatch.setattr(os, "urandom", urandom)
    monkeypatch.setattr(clock, "_entropy", clock._Entropy())
    ids = [new_id() for _ in range(1000)]
    handed_out = b"".join(base64.urlsafe_b64decode(i) for i in ids)
    # Consecutive slices of what the OS gave, no byte twice, a fresh block when one runs out.
    per_block = clock._Entropy._SIZE // 11 * 11
    expected = b"".join(block[:per_block] for block in drawn)
    assert handed_out == expected[: len(handed_out)]
    assert len(drawn) == -(-1000 * 11 // per_block)


def test_a_uuid_is_version_4_from_the_same_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "urandom", lambda size: bytes(255 for _ in range(size)))
    monkeypatch.setattr(clock, "_entropy", clock._Entropy())
    text = clock.new_uuid()
    assert text == str(uuid.UUID(bytes=bytes(255 for _ in range(16)), version=4))
    assert uuid.UUID(text).version == 4


def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    new_id()  # the parent holds a block with bytes not handed out yet
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child
        os.write(write, new_id().encode())
        os._exit(0)
    os.close(write)
    os.waitpid(child, 0)
    from_child = os.read(read, 64).decode()
    os.close(read)
    assert from_child != new_id()


def test_no_seeded_generator_is_kept_in_the_module() -> None:
    import random

    assert not [v for v in vars(clock).values() if isinstance(v, random.Random)]


def test_an_api_id_is_10_lowercase_alphanumerics() -> None:
    assert re.fullmatch(r"[a-z0-9]{10}", new_api_id())


def test_a_child_forked_while_the_lock_is_held_still_draws_ids() -> None:
    import select
    import signal

    read, write = os.pipe()
    with clock._entropy._lock:  # held by this thread at the fork, as by another
        child = os.fork()
        if child == 0:  # pragma: no cover - the child
            os.write(write, new_id().encode())
            os._exit(0)
    os.close(write)
    try:
        ready, _, _ = select.select([read], [], [], 5)
        assert ready, "the child hung on its first id"
        assert AWS_ID.fullmatch(os.read(read, 64).decode())
    finally:
        os.close(read)
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
