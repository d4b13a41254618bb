"""Builds the ASGI application: tracking API, management API, health, web app."""

import logging
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, SecretStr
from sqlalchemy import Engine, text

from c360 import __version__
from c360.activation.policy import rules_from_config
from c360.api import errors
from c360.api.audit_trail import AuditTrail
from c360.api.auth import MaskResponses, SessionAuth, build_auth_router
from c360.api.changes import FeedBell
from c360.api.hardening import Hardening
from c360.api.journeys import build_public_router
from c360.api.management import build_router
from c360.api.openapi import SECURITY_SCHEMES, tracking_paths
from c360.api.personalize import build_personalize_router
from c360.api.tracking import TrackingAPI
from c360.api.webhooks import WebhookIntake
from c360.changes.delivery import DeliveryThread
from c360.compliance.backup import start_backup_loops
from c360.compliance.register import configure_transfers
from c360.compliance.requests import configure_deadlines
from c360.compliance.retention import start_retention_loop
from c360.connectors.channels import configured_channels
from c360.eventlog import GroupCommitWriter
from c360.feedback.model import load_config as load_feedback_config
from c360.ingest import Limits
from c360.ingest.ratelimit import RateLimiter
from c360.kernel.background import BackgroundLoop
from c360.kernel.clock import Clock, system_clock
from c360.privacy import suppression
from c360.privacy.keys import KeyCache
from c360.privacy.purposes import configure_purposes
from c360.privacy.users import SessionPolicy
from c360.settings import Settings
from c360.storage import DurabilityReport, check_durability
from c360.storage.engine import reader
from c360.storage.maintenance import WalCheckpointer
from c360.storage.sealing import configure_sealing
from c360.workers.activation import ActivationLoops
from c360.workers.backlog import Backlog
from c360.workers.processor import Processor, lag
from c360.workers.retention import RetentionLoop

log = logging.getLogger(__name__)


if TYPE_CHECKING:
    from c360.eventlog.bus import LogPublisher


class Health(BaseModel):
    status: str
    version: str
    durable: bool
    unsafe_durability: bool


class Readiness(BaseModel):
    status: str
    store: str
    durability: dict[str, Any]
    unsafe_durability: bool
    worker_lag: int | None
    checkpoint: int | None
    worker_running: bool
    event_bus: str | None
    max_worker_lag: int
    backpressure: bool


class Runtime:
    """What one server process runs besides request handlers."""

    def __init__(self, engine: Engine, settings: Settings, run_worker: bool) -> None:
        self.engine = engine
        self.settings = settings
        self.run_worker = run_worker
        self.durability: DurabilityReport = check_durability(engine)
        self.writer: GroupCommitWriter | None = None
        self.processor: Processor | None = None
        self.delivery: DeliveryThread | None = None
        self.bell = FeedBell()
        self.checkpointer: WalCheckpointer | None = None
        self.webhooks: WebhookIntake | None = None
        self.activation: ActivationLoops | None = None
        self.retention: RetentionLoop | None = None
        self.backups: list[BackgroundLoop] = []
        self.bus: LogPublisher | None = None
        self.backlog: Backlog | None = None

    def _applied(self) -> None:
        # the change feed may have grown: wake webhook delivery and the open streams
        if self.delivery is not None:
            self.delivery.notify()
        if self.activation is not None:
            self.activation.notify()
        self.bell.ring()

    @property
    def accepts_writes(self) -> bool:
        return self.durability.ok or self.settings.unsafe_durability

    def start(self) -> None:
        if not self.durability.ok:
            log.warning(
                "store durability check failed (%s)%s",
                "; ".join(self.durability.problems),
                "; serving anyway because unsafe_durability is set"
                if self.settings.unsafe_durability
                else "; /v1 answers 503",
            )
        if self.run_worker:
            # webhook subscriptions follow the change feed the processor writes
            self.delivery = DeliveryThread(
                self.engine,
                retry_window_s=self.settings.webhook_retry_window_s,
                base_delay_s=self.settings.webhook_retry_base_delay_s,
                max_delay_s=self.settings.webhook_retry_max_delay_s,
                allowed_hosts=self.settings.webhook_allowed_hosts,
            ).start()
            self.activation = ActivationLoops(self.engine, self.settings).start()
            self.retention = start_retention_loop(self.engine, self.settings.retention_config)
            self.backups = start_backup_loops(
                self.engine,
                self.settings.backup_dir,
                self.settings.backup_keys,
                every_h=self.settings.backup_every_hours,
                keep_days=self.settings.backup_keep_days,
            )
            self.processor = Processor(
                self.engine,
                batch_size=self.settings.worker_batch_size,
                poll_s=self.settings.worker_poll_s,
                on_applied=self._applied,
            ).start()
        if self.settings.event_bus is not None:
            # production mode: workers in other processes are woken by a notice on the bus
            from c360.eventlog.bus import BusNames, LogPublisher  # NATS only when configured

            self.bus = LogPublisher(
                self.settings.event_bus,
                self.engine,
                BusNames(
                    stream=self.settings.event_bus_stream,
                    subject=self.settings.event_bus_subject,
                    consumer=self.settings.event_bus_consumer,
                ),
            ).start()
        wakes = [loop.notify for loop in (self.processor, self.bus) if loop is not None]

        def committed() -> None:
            for wake in wakes:
                wake()

        self.writer = GroupCommitWriter(
            self.engine,
            max_rows=self.settings.commit_batch_max_rows,
            on_commit=committed if wakes else None,
            screen=suppression.screen_events,
        )
        self.webhooks = WebhookIntake(self.engine, committed if wakes else None)
        self.checkpointer = WalCheckpointer(self.engine).start()
        if self.settings.max_worker_lag:
            self.backlog = Backlog(self.engine, max_lag=self.settings.max_worker_lag).start()

    def read_lag(self) -> tuple[int, int]:
        """(entries not yet processed, checkpoint), read now; /v1 sees the same reading."""
        if self.backlog is not None:
            reading = self.backlog.refresh()
            return reading.lag, reading.checkpoint
        return lag(self.engine)

    def stop(self) -> None:
        if self.writer is not None:
            self.writer.close()
        if self.bus is not None:
            self.bus.stop()
        if self.processor is not None:
            self.processor.stop()
        if self.delivery is not None:
            self.delivery.stop()
        if self.activation is not None:
            self.activation.stop()
        if self.retention is not None:
            self.retention.stop()
        for loop in self.backups:
            loop.stop()
        if self.checkpointer is not None:
            self.checkpointer.stop()
        if self.backlog is not None:
            self.backlog.stop()


def build_app(
    settings: Settings,
    engine: Engine,
    *,
    clock: Clock = system_clock,
    run_worker: bool = True,
) -> Any:
    """The whole server as one ASGI callable (the store must already be migrated)."""
    send_rules = rules_from_config(settings.send_rules)  # refused here, before serving
    suppression.configure_key(_secret(settings.privacy_key))  # ingest screens with it
    configure_sealing(settings.keyring())  # personal data sealed at rest
    configure_deadlines(settings.privacy_deadlines)  # refused here, before serving
    configure_purposes(settings.consent_purposes)  # the consent purposes stated and named
    configure_transfers(settings, os.environ)  # the register; erasure's destination secrets
    runtime = Runtime(engine, settings, run_worker)
    keys = KeyCache(engine, settings.key_cache_ttl_s, clock)
    sessions = SessionAuth(
        engine,
        SessionPolicy(
            idle_s=settings.session_idle_timeout_s,
            absolute_s=settings.session_max_age_s,
            max_failures=settings.sign_in_max_failures,
            max_client_failures=settings.sign_in_max_client_failures,
            window_s=settings.sign_in_window_s,
        ),
        clock=clock,
        cookie_secure=settings.session_cookie_secure,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        runtime.start()
        try:
            yield
        finally:
            runtime.stop()

    api = FastAPI(
        title="c360",
        version=__version__,
        description="Customer Data Platform: Segment-compatible tracking API under /v1, "
        "management API under /api.",
        lifespan=lifespan,
    )
    errors.install(api)
    api.add_middleware(MaskResponses)  # personal data masked by role in /api answers
    api.include_router(build_auth_router(sessions, keys))
    api.include_router(
        build_router(
            engine,
            keys,
            runtime.bell,
            settings.timezone,
            settings.webhook_allowed_hosts,
            send_rules,
            load_feedback_config(settings.feedback_config),
            frozenset(configured_channels(settings.channels)),
            sessions=sessions,
        )
    )
    api.include_router(
        build_public_router(
            engine,
            line_secret=_secret(settings.line_channel_secret),
            zalo_app_id=settings.zalo_app_id,
            zalo_secret=_secret(settings.zalo_oa_secret_key),
            twilio_token=_secret(settings.channels.sms.auth_token)
            if settings.channels.sms
            else None,
            public_url=settings.link_base_url,
        )
    )
    api.include_router(
        build_personalize_router(
            engine,
            keys,
            allowed_origins=[
                o.strip() for o in settings.personalize_origins.split(",") if o.strip()
            ],
            default_timezone=settings.timezone,
        )
    )

    @api.get("/healthz", response_model=Health, tags=["operations"])
    def healthz() -> Health:
        """The process is alive."""
        return Health(
            status="ok",
            version=__version__,
            durable=runtime.durability.ok,
            unsafe_durability=settings.unsafe_durability,
        )

    @api.get(
        "/readyz",
        response_model=Readiness,
        responses={503: {"model": Readiness, "description": "Not ready"}},
        tags=["operations"],
    )
    def readyz() -> Any:
        """The store is reachable and durable; how far the worker lags behind the log and
        whether /v1 refuses new messages because of it (back-pressure leaves the process ready:
        every process shares the log, so there is nowhere else to send the traffic)."""
        try:
            with reader(engine).connect() as conn:
                conn.execute(text("SELECT 1"))
            behind, checkpoint = runtime.read_lag()
            store = "ok"
        except Exception as exc:
            store, behind, checkpoint = f"unreachable: {type(exc).__name__}", None, None
        ready = store == "ok" and runtime.accepts_writes
        body = Readiness(
            status="ready" if ready else "not_ready",
            store=store,
            durability={
                "backend": runtime.durability.backend,
                "settings": runtime.durability.settings,
                "ok": runtime.durability.ok,
                "problems": list(runtime.durability.problems),
            },
            unsafe_durability=settings.unsafe_durability,
            worker_lag=behind,
            checkpoint=checkpoint,
            worker_running=runtime.processor is not None,
            event_bus=runtime.bus.status if runtime.bus is not None else None,
            max_worker_lag=settings.max_worker_lag,
            backpressure=behind is not None and 0 < settings.max_worker_lag < behind,
        )
        return JSONResponse(body.model_dump(), status_code=200 if ready else 503)

    static = resources.files("c360.web").joinpath("static")
    index_html = static.joinpath("index.html").read_text("utf-8")

    @api.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> HTMLResponse:
        """The web app (its pages are drawn in the browser from the API)."""
        return HTMLResponse(index_html, headers={"Cache-Control": "no-cache"})

    api.mount("/static", StaticFiles(directory=str(static)), name="static")

    base_openapi = api.openapi

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is None:
            schema = base_openapi()
            schema["paths"].update(tracking_paths())
            components = schema.setdefault("components", {})
            components.setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
            for path, item in schema["paths"].items():
                if path.startswith("/api/"):
                    for operation in item.values():
                        operation["security"] = [{"bearer": []}]
            api.openapi_schema = schema
        return api.openapi_schema

    api.openapi = openapi  # type: ignore[method-assign]

    tracking = TrackingAPI(
        writer=lambda: runtime.writer,
        keys=keys,
        limits=Limits(settings.max_message_bytes, settings.max_properties),
        max_batch_bytes=settings.max_batch_bytes,
        clock=clock,
        durable=lambda: runtime.accepts_writes,
        rate_limiter=RateLimiter(settings.rate_limit_burst_s),
        webhooks=lambda: runtime.webhooks,
        backlog=lambda: runtime.backlog,
    )

    hardened = Hardening(
        AuditTrail(api, engine),  # who read, exported or changed what under /api
        max_body_bytes=settings.max_api_body_bytes,
        rate_per_s=settings.api_rate_limit_per_s,
        burst_s=settings.api_rate_limit_burst_s,
        # the steady clock, unless a test (or a replay) gave the server its own
        clock=time.monotonic if clock is system_clock else lambda: clock() / 1e6,
    )

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/v1/"):
            await tracking(scope, receive, send)
        else:
            await hardened(scope, receive, send)

    if settings.forwarded_allow_ips:
        # Behind trusted proxies the caller is who X-Forwarded-For names (rate limits,
        # sign-in limits, audit, consent proof) and the scheme X-Forwarded-Proto's (HSTS,
        # secure cookies); from any other peer the headers are ignored.
        from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

        return ProxyHeadersMiddleware(app, trusted_hosts=settings.forwarded_allow_ips)
    return app


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None
