"""The loops that act on profiles, as ``c360 serve`` and ``c360 worker`` both run them: the
journey engine, the message dispatcher, two-way sync, the recommendation refresher and the
feedback loop."""

import os

from sqlalchemy import Engine

from c360.activation.dispatch import Dispatcher, DispatchLoop
from c360.activation.engine import EngineConfig, JourneyEngine
from c360.activation.policy import rules_from_config
from c360.activation.recommend import RecommendationRefresher
from c360.connectors.channels import build_channels
from c360.feedback.model import load_config
from c360.settings import Settings
from c360.workers.feedback import FeedbackLoop
from c360.workers.sync import SyncLoop, worker_for


class ActivationLoops:
    """Started together; ``notify`` after the log processor applied entries."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        channels = build_channels(settings.channels)
        self.dispatch = DispatchLoop(Dispatcher(engine, channels))
        self.journeys = JourneyEngine(
            engine,
            EngineConfig(
                default_tz=settings.timezone,
                channels=frozenset(channels),
                base_url=settings.link_base_url,
                rules=rules_from_config(settings.send_rules),
            ),
            poll_s=settings.activation_poll_s,
            on_queued=self.dispatch.notify,
        )
        self.sync = SyncLoop(worker_for(engine, settings, os.environ))
        self.recommender = RecommendationRefresher(engine, poll_s=5.0)
        self.feedback = FeedbackLoop(engine, load_config(settings.feedback_config))

    def start(self) -> "ActivationLoops":
        for loop in (self.dispatch, self.journeys, self.sync, self.recommender, self.feedback):
            loop.start()
        return self

    def notify(self) -> None:
        self.journeys.notify()
        self.sync.notify()
        self.feedback.notify()

    def stop(self) -> None:
        for loop in (self.journeys, self.dispatch, self.sync, self.recommender, self.feedback):
            loop.stop()
