"""The feedback loop, as ``c360 serve`` and ``c360 worker`` run it: collect new feedback from
the log, raise SLA breach alerts, and follow the thank-you messages of resolved items."""

import logging

from sqlalchemy import Engine

from c360.feedback.model import FeedbackConfig
from c360.feedback.service import check_slas, collect_all, follow_notifications
from c360.kernel.background import BackgroundLoop

log = logging.getLogger(__name__)


def feedback_cycle(engine: Engine, config: FeedbackConfig, now_us: int | None = None) -> int:
    """One pass: collect until caught up, then SLAs and notifications; returns items created."""
    created = collect_all(engine, config, now_us=now_us)
    check_slas(engine, now_us=now_us)
    follow_notifications(engine, now_us=now_us)
    return created


class FeedbackLoop(BackgroundLoop):
    """Runs :func:`feedback_cycle` every ``poll_s`` seconds, or sooner when notified."""

    def __init__(self, engine: Engine, config: FeedbackConfig, *, poll_s: float = 1.0) -> None:
        self._engine = engine
        self._config = config
        self._poll_s = poll_s
        super().__init__("c360-feedback")

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                feedback_cycle(self._engine, self._config)
            except Exception as exc:
                self.errors += 1
                # the type only: errors may quote rows, which hold what customers wrote
                log.error("collecting feedback failed (%s); retrying", type(exc).__name__)
            self._wake.wait(self._poll_s)
            self._wake.clear()
