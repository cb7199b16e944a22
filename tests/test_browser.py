"""The chat page and the inspector in a real headless Chromium.

Debian's ``chromium`` package, driven by Playwright for Python (``pip install
playwright``; never ``playwright install``, which downloads its own browser).
Without them these tests skip on a developer's machine and fail under CI
(``CI`` set), where they must run. Elements are found by their labels and
roles, as a screen reader or a keyboard user finds them, and every wait is
Playwright's (``expect``), never a sleep.

``APIGW_WS_SCREENSHOTS=1 pytest tests/test_browser.py`` also refreshes the
README's screenshots in ``emulator/tools/static/screenshots/``.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from emulator.tools import inspector as inspector_module
from emulator.tools.inspector import FEED_PATH, Inspector
from emulator.tools.testing import Harness
from tests.conftest import ROOT

CHROMIUM = Path(os.environ.get("APIGW_WS_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ROOT / "emulator" / "tools" / "static" / "screenshots"
LAPTOP = {"width": 1280, "height": 800}
WAIT_MS = 10_000

if importlib.util.find_spec("playwright") is not None:
    from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect


def missing_browser() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if importlib.util.find_spec("playwright") is None:
        return "Playwright for Python is not installed (.venv/bin/pip install playwright)"
    if not CHROMIUM.is_file():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium, or set APIGW_WS_CHROMIUM)"
    return None


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require_browser() -> None:
    """Skip without a browser, except under CI, where that is a failure."""
    reason = missing_browser()
    if reason is None:
        return
    if in_ci():
        pytest.fail(f"CI must run the browser tests: {reason}")
    pytest.skip(reason)


@pytest.mark.parametrize(
    ("ci", "outcome"),
    [("true", pytest.fail.Exception), ("", pytest.skip.Exception)],
    ids=["ci-fails", "developer-skips"],
)
def test_a_missing_browser_fails_in_ci_and_skips_elsewhere(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, ci: str, outcome: type[BaseException]
) -> None:
    monkeypatch.setattr(f"{__name__}.CHROMIUM", tmp_path / "no-chromium")
    monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match="no Chromium at"):
        require_browser()


@pytest.fixture
async def site(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Harness]:
    """The default application on port 0, with the pages; ``site.url`` is its API."""
    monkeypatch.delenv("TABLE_NAME", raising=False)  # the memory store, not DynamoDB
    harness = Harness.from_config(ROOT / "routes.yaml")
    Inspector(harness.emulator).install()
    async with harness:
        yield harness


def base_url(site: Harness) -> str:
    return f"http://127.0.0.1:{site.emulator.port}"


@pytest.fixture
async def browser() -> AsyncIterator[BrowserContext]:
    require_browser()
    expect.set_options(timeout=WAIT_MS)
    async with async_playwright() as playwright:
        chromium: Browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        context = await chromium.new_context(viewport=LAPTOP)  # type: ignore[arg-type]
        context.set_default_timeout(WAIT_MS)
        yield context
        await context.close()
        await chromium.close()


class Problems:
    """Console errors and uncaught exceptions of the pages it watches."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def watch(self, page: Page) -> Page:
        page.on(
            "console",
            lambda message: self.seen.append(message.text) if message.type == "error" else None,
        )
        page.on("pageerror", lambda error: self.seen.append(str(error)))
        return page


async def open_page(context: BrowserContext, url: str, problems: Problems) -> Page:
    page = problems.watch(await context.new_page())
    await page.goto(url)
    return page


async def join(page: Page, name: str) -> None:
    await page.get_by_label("Your name").fill(name)
    await page.get_by_label("Your name").press("Enter")  # the keyboard way
    await expect(page.get_by_role("status")).to_have_text(f"Connected as {name}.")


async def say(page: Page, text: str) -> None:
    box = page.get_by_label("Message", exact=True)
    await box.fill(text)
    await box.press("Enter")


async def screenshot(page: Page, name: str, tmp_path: Path) -> None:
    """Check the page renders; with APIGW_WS_SCREENSHOTS=1, refresh the README's copy."""
    path = tmp_path / name
    await page.screenshot(path=str(path))
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert (int.from_bytes(data[16:20]), int.from_bytes(data[20:24])) == (
        LAPTOP["width"],
        LAPTOP["height"],
    )
    if os.environ.get("APIGW_WS_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, SCREENSHOTS / name)


async def inspector_page(context: BrowserContext, site: Harness, problems: Problems) -> Page:
    page = await open_page(context, f"{base_url(site)}/_inspector", problems)
    await expect(page.locator("#feed-status")).to_have_text("live")
    return page


async def test_two_tabs_chat_with_each_other(
    site: Harness, browser: BrowserContext, tmp_path: Path
) -> None:
    problems = Problems()
    alice = await open_page(browser, base_url(site), problems)
    bob = await open_page(browser, base_url(site), problems)
    await join(alice, "alice")
    await join(bob, "bob")

    await say(alice, "hello bob")
    await expect(bob.get_by_role("log").locator("li").last).to_have_text("alice: hello bob")
    await expect(alice.get_by_role("log").locator("li").last).to_have_text("alice: hello bob")
    await say(bob, "hi alice, is this API Gateway?")
    await expect(alice.get_by_role("log").locator("li").last).to_have_text(
        "bob: hi alice, is this API Gateway?"
    )
    await say(alice, "a local emulator: same events, same handlers")
    await expect(bob.get_by_role("log").locator("li").last).to_have_text(
        "alice: a local emulator: same events, same handlers"
    )
    await screenshot(alice, "chat.png", tmp_path)
    await say(bob, "<b>not bold</b>")
    await expect(alice.get_by_role("log").locator("li").last).to_have_text(
        "bob: <b>not bold</b>"  # shown as text, never as markup
    )

    # Closed by the client: the code and reason come back in the server's close frame.
    await bob.get_by_role("button", name="Disconnect").click()
    await expect(bob.get_by_role("status")).to_have_text(
        'Connection closed: code 1000, reason "Bye".'
    )
    await expect(bob.get_by_label("Message", exact=True)).to_be_disabled()
    # Closed by the server: ten idle minutes, as API Gateway closes them.
    site.advance_time(600)
    await expect(alice.get_by_role("status")).to_have_text(
        'Connection closed: code 1001, reason "Going away".'
    )
    await expect(alice.get_by_role("log").locator("li").last).to_have_text(
        'Connection closed: code 1001, reason "Going away".'
    )
    await expect(alice.get_by_role("button", name="Connect", exact=True)).to_be_enabled()
    assert problems.seen == []


async def test_the_inspector_shows_a_frames_routing_decision(
    site: Harness, browser: BrowserContext, tmp_path: Path
) -> None:
    problems = Problems()
    inspector = await inspector_page(browser, site, problems)
    carol = await open_page(browser, base_url(site), problems)
    await join(carol, "carol")
    [carol_id] = site.emulator.connection_ids()
    await expect(inspector.locator("#connections")).to_contain_text(carol_id)

    await say(carol, "route me")
    frame = inspector.locator('#stream > li[data-kind="frame"]').first
    await expect(frame).to_contain_text(
        "→ route sendmessage: “sendmessage” matched a route key exactly"
    )
    await expect(frame).to_contain_text('$request.body.action found "sendmessage"')
    await expect(frame).to_contain_text(carol_id)
    handler = inspector.locator('#stream > li[data-kind="invoke"]').first
    await expect(handler).to_contain_text("sendmessage: ok in")
    await handler.get_by_text("Event delivered to the handler").click()
    await expect(handler.locator("pre")).to_contain_text('"routeKey": "sendmessage"')

    # A client that is not a browser, sending text that is not JSON.
    raw = await site.connect()
    await raw.send_text("just text")
    frame = inspector.locator('#stream > li[data-kind="frame"]').first
    await expect(frame).to_contain_text("→ route $default (fallback): the message is not JSON")
    await expect(frame).to_contain_text(raw.connection_id)
    await expect(inspector.locator("#connection-count")).to_have_text("2")
    await raw.close(4001, "bye")
    close = inspector.locator('#stream > li[data-kind="close"]').first
    await expect(close).to_contain_text(f"{raw.connection_id} code 4001")
    await expect(inspector.locator("#connection-count")).to_have_text("1")

    # Filters: only frames, then only this connection's entries.
    await inspector.get_by_label("Show").select_option("frame")
    await expect(inspector.locator("#stream > li:not([data-kind=frame])")).to_have_count(0)
    await inspector.get_by_label("Connection", exact=True).fill(carol_id)
    await expect(inspector.locator("#stream > li")).to_have_count(1)
    await inspector.get_by_label("Show").select_option("all")
    await inspector.get_by_label("Connection", exact=True).fill("")
    await say(carol, "hello, inspector")
    await expect(inspector.locator('#stream > li[data-kind="frame"]').first).to_contain_text(
        "matched"
    )
    await expect(inspector.locator('#stream > li[data-kind="invoke"]').first).to_contain_text(
        "1 post"
    )
    await inspector.evaluate("document.activeElement.blur()")
    await screenshot(inspector, "inspector.png", tmp_path)
    assert problems.seen == []


async def test_the_playground_shows_a_fallback_for_non_json(
    site: Harness, browser: BrowserContext
) -> None:
    problems = Problems()
    page = await inspector_page(browser, site, problems)
    decision = page.locator("#pg-decision")
    # Prefilled with the API's expression, its route keys and a sendmessage message.
    await expect(page.get_by_label("Route selection expression")).to_have_value(
        "$request.body.action"
    )
    await expect(decision).to_have_text(
        "→ route sendmessage: “sendmessage” matched a route key exactly"
    )
    await page.get_by_label("Message", exact=True).fill("this is not JSON")
    await expect(decision).to_have_text("→ route $default (fallback): the message is not JSON")
    await page.get_by_text("Step by step").click()
    await expect(page.locator("#pg-steps")).to_contain_text("The message is not JSON")

    # A JSON message no route key matches, routed by a template expression.
    await page.get_by_label("Route selection expression").fill(
        "${request.body.service}/${request.body.action}"
    )
    await page.get_by_label("Message", exact=True).fill('{"service": "chat", "action": "leave"}')
    await page.get_by_label("Route keys").fill("chat/join, $default")
    await page.get_by_role("button", name="Route it").press("Enter")
    await expect(decision).to_have_text(
        "→ route $default (fallback): no route key equals “chat/leave”"
    )
    await expect(page.locator("#pg-trace li")).to_have_text(
        [
            '${request.body.service} found "chat", giving “chat”',
            '${request.body.action} found "leave", giving “leave”',
        ]
    )
    await page.get_by_label("Route selection expression").fill("$request.header.x")
    await expect(decision).to_contain_text("Error: unsupported variable '$request.header.x'")
    assert problems.seen == []


async def test_the_inspector_stays_bounded_with_thousands_of_entries(
    site: Harness, browser: BrowserContext
) -> None:
    problems = Problems()
    page = await inspector_page(browser, site, problems)
    inspector = site.emulator.socket_routes[FEED_PATH]
    assert isinstance(inspector, Inspector)
    for number in range(3_000):
        inspector.observe(
            "send", {"connectionId": "AAAAAAAAAAAAAAA=", "data": f"m{number}", "source": "post"}
        )
    rows = page.locator("#stream > li")
    await expect(rows.first).to_contain_text("m2999")
    await expect(rows).to_have_count(400)
    await expect(rows.last).to_contain_text("m2600")
    # A page opened later gets the last 1,000 entries, and still renders 400.
    assert len(inspector.history) == 1_000
    late = await inspector_page(browser, site, problems)
    await expect(late.locator("#stream > li").first).to_contain_text("m2999")
    await expect(late.locator("#stream > li")).to_have_count(400)
    # Paused, the page holds new entries back until resumed.
    pause = late.get_by_role("button", name="Pause")
    await pause.click()
    await expect(pause).to_have_attribute("aria-pressed", "true")
    inspector.observe(
        "send", {"connectionId": "AAAAAAAAAAAAAAA=", "data": "m3000", "source": "post"}
    )
    await expect(late.locator("#stream-note")).to_have_text("Paused: 1 new entries waiting.")
    await expect(late.locator("#stream > li").first).to_contain_text("m2999")
    await pause.press("Enter")
    await expect(pause).to_have_attribute("aria-pressed", "false")
    await expect(late.locator("#stream > li").first).to_contain_text("m3000")
    assert problems.seen == []


async def test_the_inspector_reconnects_and_a_stale_page_is_told_to_reload(
    site: Harness, browser: BrowserContext
) -> None:
    problems = Problems()
    page = await inspector_page(browser, site, problems)
    inspector = site.emulator.socket_routes[FEED_PATH]
    assert isinstance(inspector, Inspector)
    status = page.locator("#feed-status")
    # The feed drops: the page says so and comes back by itself.
    for peer in tuple(inspector._subscribers):
        peer.close(1012, "service restart")
    await expect(status).to_have_text("disconnected, retrying in 1 s")
    await expect(status).to_have_text("live")
    # As after a restart of the emulator: the page's token is not the current one.
    inspector.token = "rotated"
    for peer in tuple(inspector._subscribers):
        peer.close(1012, "service restart")
    await expect(status).to_have_text("refused: the emulator restarted, reload this page")
    await page.reload()
    await expect(status).to_have_text("live")
    assert problems.seen == []


async def test_the_inspector_shows_where_a_page_that_fell_behind_lost_entries(
    site: Harness, browser: BrowserContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A smaller backlog, so that the gap falls among the rows the page shows.
    monkeypatch.setattr(inspector_module, "BACKLOG_BYTES", 100_000)
    problems = Problems()
    page = await inspector_page(browser, site, problems)
    inspector = site.emulator.socket_routes[FEED_PATH]
    assert isinstance(inspector, Inspector)
    (peer,) = tuple(inspector._subscribers)
    # As when the page's connection is a whole write buffer behind: entries wait
    # in its backlog, whose oldest are dropped past BACKLOG_BYTES.
    peer.writing_paused = True  # type: ignore[misc]
    for number in range(300):
        inspector.observe(
            "send",
            {
                "connectionId": "AAAAAAAAAAAAAAA=",
                "data": f"g{number} " + "x" * 2000,
                "source": "post",
            },
        )
    (subscriber,) = inspector._subscribers.values()
    dropped = subscriber.dropped_count
    assert dropped > 0
    peer.resume_writing()  # type: ignore[attr-defined]  # the client caught up
    rows = page.locator("#stream > li")
    await expect(rows.first).to_contain_text("g299 ")
    gap = page.locator('#stream > li[data-kind="gap"]')
    await expect(gap).to_have_count(1)
    await expect(gap).to_contain_text(f"{dropped} entries not shown")
    # The gap sits where the dropped entries would be (newest first): just below
    # the oldest entry kept, g{dropped}, the first not dropped.
    await expect(gap.locator("xpath=preceding-sibling::li[1]")).to_contain_text(f"g{dropped} ")
    await expect(gap.locator("xpath=following-sibling::li")).to_have_count(0)


@pytest.fixture
async def mocked_site() -> AsyncIterator[Harness]:
    """The default application on DynamoDB (``--mock-aws``), with the pages."""
    harness = Harness.from_config(ROOT / "routes.yaml", mock_aws=True)
    Inspector(harness.emulator).install()
    async with harness:
        yield harness


async def test_the_inspector_shows_the_mocked_table_live(
    mocked_site: Harness, browser: BrowserContext
) -> None:
    problems = Problems()
    inspector = await inspector_page(browser, mocked_site, problems)
    panel = inspector.get_by_role("region", name="AWS services (mocked)")
    await expect(panel).to_be_visible()
    table = panel.locator('[data-table="ConnectionsTable"]')
    await expect(table).to_contain_text("ConnectionsTable DynamoDB table, us-east-1")
    await expect(table).to_contain_text("key connectionId: 0 items")

    dora = await open_page(browser, base_url(mocked_site), problems)
    await join(dora, "dora")
    [dora_id] = mocked_site.emulator.connection_ids()
    # The $connect handler's put_item, on the page without a reload.
    await expect(table).to_contain_text("key connectionId: 1 item")
    row = table.get_by_role("row").filter(has_text=dora_id)
    await expect(row.get_by_role("cell")).to_have_text([dora_id, "dora"])
    await expect(table.get_by_role("columnheader")).to_have_text(["connectionId", "name"])

    await dora.get_by_role("button", name="Disconnect").click()
    await expect(table).to_contain_text("key connectionId: 0 items")
    await expect(table.get_by_role("row")).to_have_count(0)
    assert problems.seen == []
