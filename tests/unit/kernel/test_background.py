"""BackgroundLoop._repeat: a failing round is counted, logged without its message (unless the
exception is one whose messages are c360's own) and tried again."""

import logging

import pytest

from c360.kernel.background import BackgroundLoop


class Told(Exception):
    pass


class Flaky(BackgroundLoop):
    def __init__(self) -> None:
        super().__init__("test-flaky")
        self.rounds = 0

    def step(self) -> None:
        self.rounds += 1
        if self.rounds == 1:
            raise ValueError("row (somchai@example.co.th) violates ...")
        if self.rounds == 2:
            raise Told("pg_dump failed: connection refused")
        self._stop.set()

    def _run(self) -> None:
        self._repeat(self.step, 0.0, "the test job", told=(Told,))


def test_a_failed_round_is_counted_logged_by_type_and_tried_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    loop = Flaky()
    with caplog.at_level(logging.ERROR, logger="c360.kernel.background"):
        loop.run_forever()
    assert loop.rounds == 3 and loop.errors == 2
    assert caplog.messages == [
        "the test job failed (ValueError); trying again later",
        "the test job failed (pg_dump failed: connection refused); trying again later",
    ]
