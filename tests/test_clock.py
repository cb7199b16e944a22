"""Ids: AWS's shape, and drawn from the operating system's CSPRNG (spec §2.7).

A connection id is all @connections asks for, so ids must not be predictable
from the ones a client has seen. That cannot be shown by sampling; what can be
pinned is where the bytes come from.
"""

from __future__ import annotations

import base64
import os
import re

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
    drawn: list[int] = []

    def urandom(size: int) -> bytes:
        drawn.append(size)
        return bytes(range(size))

    monkeypatch.setattr(os, "urandom", urandom)
    assert new_id() == base64.urlsafe_b64encode(bytes(range(11))).decode()
    assert new_id() == base64.urlsafe_b64encode(bytes(range(11))).decode()
    # Every id costs one draw: nothing is derived from a seed kept in the process.
    assert drawn == [11, 11]


def test_no_seeded_generator_is_kept_in_the_module() -> None:
    import random

    assert not [v for v in vars(clock).values() if isinstance(v, random.Random)]


def test_an_api_id_is_10_lowercase_alphanumerics() -> None:
    assert re.fullmatch(r"[a-z0-9]{10}", new_api_id())
