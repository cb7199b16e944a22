from __future__ import annotations

from tests.conftest import StartApi


async def test_two_way_echo(start_api: StartApi) -> None:
    api = await start_api({"$default": {"handler": "probe.echo", "routeResponse": True}})
    client = await api.connect()
    await client.send_text("hello")
    assert await client.receive_text() == "hello"
