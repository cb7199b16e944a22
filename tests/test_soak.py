"""The soak (bench/soak.py) in a short form, and the checks that judge it.

The full soak runs for minutes (``python -m bench.soak``); here 20 clients
send 10 messages a second for 5 seconds through the same two-way route, so
that CI sees every message routed once and every post and route response
delivered once, in order. The checks themselves are tested on made-up
outcomes, so that a soak that lost something cannot pass.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable

import pytest

from bench.soak import ClientRecord, Outcome, Sample, losses, memory_verdict, report
from emulator.runtime.workers import WorkerPool
from tests.conftest import ROOT


def test_a_short_soak_loses_nothing() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.soak", "--clients", "20", "--rate", "10", "--seconds", "5"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
    )
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    for line in [
        "routed: 1000 invocations, 1000 messages routed exactly once (of 1000)",
        "posts delivered: 1000 (of 1000); route responses delivered: 1000 (of 1000)",
        "error frames: 0; unexpected frames: 0; connections lost: 0",
        "losses: 0",
        "server exit status: 0",
        "result: OK, nothing lost",
    ]:
        assert line in out.splitlines(), out
    assert "server memory samples" in out
    assert ": flat" in out


# -- the checks, on made-up outcomes -----------------------------------------------------

SENT = 4
STATS_OK = {"invocations": SENT, "once": SENT, "more": 0, "highest": SENT - 1}


def clean() -> ClientRecord:
    return ClientRecord(0, sent=SENT, posts=list(range(SENT)), replies=list(range(SENT)))


def outcome(record: ClientRecord, stats: dict[str, int] | None = None) -> Outcome:
    server = {"k": "stats", "clients": {"0": stats or STATS_OK}, "connects": 1}
    samples = [Sample(t, 50.0, 4) for t in (0.0, 1.0, 2.0, 3.0)]
    return Outcome([record], server, samples, 3.0, [])


def changed(**fields: object) -> Callable[[], ClientRecord]:
    def make() -> ClientRecord:
        record = clean()
        for name, value in fields.items():
            setattr(record, name, value)
        return record

    return make


LOSSES = [
    pytest.param(
        changed(posts=[0, 1, 3]), None, "posts: 3 received of 4: 1 missing", id="post-lost"
    ),
    pytest.param(changed(posts=[0, 1, 1, 2, 3]), None, "1 duplicated", id="post-delivered-twice"),
    pytest.param(changed(posts=[0, 2, 1, 3]), None, "1 out of order", id="posts-out-of-order"),
    pytest.param(
        changed(replies=[0, 1, 2]), None, "route responses: 3 received of 4", id="reply-lost"
    ),
    pytest.param(changed(late_posts=1), None, "replies arrived before their post", id="late-post"),
    pytest.param(changed(timeouts=1), None, "unanswered", id="timeout"),
    pytest.param(
        changed(errors=['{"message": "Internal server error"}']), None, "error frame", id="error"
    ),
    pytest.param(changed(unexpected=["hello"]), None, "unexpected hello", id="unexpected"),
    pytest.param(changed(lost_connection=True), None, "connection lost", id="dropped"),
    pytest.param(
        clean,
        {**STATS_OK, "invocations": SENT + 1, "once": SENT - 1, "more": 1},
        "routed",
        id="routed-twice",
    ),
    pytest.param(
        clean, {**STATS_OK, "invocations": SENT - 1, "once": SENT - 1}, "routed", id="never-routed"
    ),
]


@pytest.mark.parametrize(("make", "stats", "words"), LOSSES)
def test_any_loss_fails_the_soak(
    make: Callable[[], ClientRecord], stats: dict[str, int] | None, words: str
) -> None:
    made = outcome(make(), stats)
    problems = losses(made)
    assert len(problems) == 1, problems
    assert words in problems[0]
    lines, passed = report(made, 1, 1.0, 3.0, 16.0)
    assert not passed
    assert lines[-1] == "result: FAILED"


def test_a_clean_outcome_passes() -> None:
    made = outcome(clean())
    assert losses(made) == []
    lines, passed = report(made, 1, 1.0, 3.0, 16.0)
    assert passed
    assert lines[-1] == "result: OK, nothing lost"


@pytest.mark.parametrize(
    ("rss", "seconds", "growth", "flat"),
    [
        pytest.param([50, 50, 51, 50, 50, 51], 6.0, 0.5, True, id="flat"),
        pytest.param([50, 50, 60, 70, 80, 80], 6.0, 30.0, False, id="growing"),
        # A spike between the windows is not growth.
        pytest.param([50, 50, 50, 90, 50, 50], 6.0, 0.0, True, id="mid-run-spike"),
        # Long runs compare the first minute with the last.
        pytest.param([50] * 60 + [60] * 60 + [70] * 60, 180.0, 20.0, False, id="minutes"),
    ],
)
def test_memory_is_judged_first_window_against_last(
    rss: list[float], seconds: float, growth: float, flat: bool
) -> None:
    step = seconds / (len(rss) - 1)
    samples = [Sample(n * step, value, 4) for n, value in enumerate(rss)]
    verdict = memory_verdict(samples, seconds, max_growth_mib=16.0)
    assert verdict.growth_mib == pytest.approx(growth)
    assert verdict.flat is flat


# -- what the soak's thread samples showed -------------------------------------------------


def test_one_job_at_a_time_needs_no_more_than_the_core_threads() -> None:
    # The pool's own contract: "a few at once, more when jobs wait". Here no job
    # ever waits for a worker: each is submitted after the previous one finished.
    checks: list[Callable[[], None]] = []
    pool = WorkerPool(64, core_threads=2, schedule=lambda _delay, check: checks.append(check))
    try:
        for _ in range(100):
            done = threading.Event()
            pool.submit(done.set)
            while checks:  # the loop's call_later, due now
                checks.pop()()
            assert done.wait(5)
        assert pool.threads <= 2
    finally:
        pool.shutdown()
