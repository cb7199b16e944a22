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
import threading
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


def _counting_urandom(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """os.urandom replaced by distinct, recorded blocks."""
    drawn: list[bytes] = []

    def urandom(size: int) -> bytes:
        block = bytes((len(drawn) * 7 + n) % 256 for n in range(size))
        drawn.append(block)
        return block

    monkeypatch.setattr(os, "urandom", urandom)
    return drawn


def test_each_id_is_11_fresh_bytes_from_the_os_csprng(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bytes are read from os.urandom a batch of ids at a time, and each
    byte makes one id only: nothing is derived from a seed kept in the process."""
    drawn = _counting_urandom(monkeypatch)
    monkeypatch.setattr(clock, "_ids", clock._Batches(clock._id_batch))
    ids = [new_id() for _ in range(1000)]
    assert all(AWS_ID.fullmatch(i) for i in ids)
    handed_out = [base64.urlsafe_b64decode(i) for i in ids]
    # Each id is the next 11 of every 12 bytes the OS gave, in order; a fresh
    # read when a batch runs out.
    read = b"".join(drawn)
    assert handed_out == [read[at : at + 11] for at in range(0, 12 * 1000, 12)]
    assert len(drawn) == -(-1000 // clock._BATCH)


def test_a_uuid_is_version_4_from_the_same_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "urandom", lambda size: bytes(255 for _ in range(size)))
    monkeypatch.setattr(clock, "_uuids", clock._Batches(clock._uuid_batch))
    text = clock.new_uuid()
    assert text == str(uuid.UUID(bytes=bytes(255 for _ in range(16)), version=4))
    assert uuid.UUID(text).version == 4


def test_each_uuid_is_the_next_16_bytes_read(monkeypatch: pytest.MonkeyPatch) -> None:
    drawn = _counting_urandom(monkeypatch)
    monkeypatch.setattr(clock, "_uuids", clock._Batches(clock._uuid_batch))
    texts = [clock.new_uuid() for _ in range(300)]
    read = b"".join(drawn)
    expected = [str(uuid.UUID(bytes=read[at : at + 16], version=4)) for at in range(0, 4800, 16)]
    assert texts == expected


def test_threads_drawing_at_once_never_get_the_same_id(monkeypatch: pytest.MonkeyPatch) -> None:
    real_urandom = os.urandom
    drawn: list[int] = []

    def urandom(size: int) -> bytes:
        drawn.append(size)
        return real_urandom(size)

    monkeypatch.setattr(os, "urandom", urandom)
    monkeypatch.setattr(clock, "_ids", clock._Batches(clock._id_batch))
    start = threading.Barrier(8)
    got: list[list[str]] = []

    def draw() -> None:
        start.wait()
        got.append([new_id() for _ in range(5000)])

    threads = [threading.Thread(target=draw) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everyone = [i for ids in got for i in ids]
    assert len(set(everyone)) == len(everyone) == 40000
    # No batch was read and thrown away: a read only when the last one ran out.
    assert len(drawn) == -(-40000 // clock._BATCH)


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
    with clock._ids._lock:  # held by this thread at the fork, as by another
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
