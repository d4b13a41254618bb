"""A journey as its author writes it (YAML or JSON) and as the engine reads it.

A journey is a trigger, a list of steps and a few rules around them::

    name: cart-abandonment
    trigger: {event: Product Added}
    reentry: after 1 day                # never (default) | always | after <duration>
    exit_when: did "Order Completed"    # a segment-language condition, checked before each step
    goal: {event: Order Completed, within: 72 hours}
    control: 0.1                        # a sticky random 10 % holdout
    steps:
      - id: wait
        wait: 1 hour
      - id: remind
        send:
          channels: [line, zalo, email]
          template:
            subject: "{{ profile.first_name | default('Hi') }}, your cart is waiting"
            body: "{{ event.name }} is still in your cart."

Steps run in list order; ``next`` (or a branch's ``then``/``else``, a ``wait_for``'s
``on_event``/``on_timeout``) jumps forward to another step's id, or to ``end``. Jumps only go
forward, so every person's path is finite and each step runs at most once per entry.

Conditions (``exit_when``, ``entry_when``, ``branch.if``, ``trigger.where``) are parsed with the
segment language (``c360.segments.language``): they are data, never code.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from c360.activation.channels import ChannelName
from c360.errors import InvalidInput
from c360.segments import language as L

END = "end"
MAX_STEPS = 200
_ID = re.compile(r"^[A-Za-z][\w-]{0,59}$")
_NAME = re.compile(r"^[\w][\w .:-]{0,99}$")
_DURATION = re.compile(
    r"^\s*(\d{1,6})\s*(s|sec|secs|seconds?|m|min|mins|minutes?|h|hours?|d|days?|w|weeks?)\s*$",
    re.IGNORECASE,
)
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class JourneyError(InvalidInput):
    """A journey definition that cannot be used; the message names the field."""


def duration_s(text: str) -> int:
    """Seconds in ``"90 minutes"``, ``"1 hour"``, ``"72h"``, ``"2 days"``, ``"1 week"``."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"not a duration: {text!r} (write e.g. '30 minutes', '1 hour', '2 days')")
    unit = match.group(2).lower()
    return int(match.group(1)) * _UNIT_S["m" if unit.startswith("mi") else unit[0]]


def _condition(text: str) -> str:
    """Checks a condition parses; keeps the author's text (the engine parses it once)."""
    try:
        L.parse(text)
    except L.ConditionError as exc:
        raise ValueError(str(exc)) from None
    return text


Duration = Annotated[str, Field(min_length=1, max_length=40)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Schedule(_Model):
    """Enter every member of ``segment`` (everyone live, without one) at ``at`` local time on
    ``days``."""

    at: str = "09:00"
    days: tuple[str, ...] = WEEKDAYS
    segment: str | None = None

    @field_validator("at")
    @classmethod
    def _time(cls, value: str) -> str:
        if not _TIME.match(value):
            raise ValueError("a time of day as HH:MM, 24-hour (e.g. '09:30')")
        return value

    @field_validator("days")
    @classmethod
    def _days(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        days = tuple(d.lower()[:3] for d in value)
        unknown = [d for d in days if d not in WEEKDAYS]
        if unknown or not days:
            raise ValueError(f"days are {', '.join(WEEKDAYS)}; got {list(value)}")
        return days


class Trigger(_Model):
    """What enters a person: a tracked event (optionally with a ``where`` on its properties),
    entering a segment, or a schedule."""

    event: str | None = Field(None, min_length=1, max_length=200)
    where: str | None = None
    segment: str | None = Field(None, min_length=1, max_length=100)
    schedule: Schedule | None = None

    @model_validator(mode="after")
    def _one(self) -> Trigger:
        given = [k for k in ("event", "segment", "schedule") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of event, segment or schedule")
        if self.where is not None:
            if self.event is None:
                raise ValueError("'where' filters an event trigger's properties")
            try:
                self.where_condition()
            except L.ConditionError as exc:
                raise ValueError(f"where: {exc}") from None
        return self

    def where_condition(self) -> Any:
        """The ``where`` as the value condition a ``did ... where`` holds."""
        if self.where is None:
            return None
        did = L.parse(f"did {_quoted(self.event or '')} where {self.where}")
        assert isinstance(did, L.Did)
        return did.where


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Goal(_Model):
    """A conversion: ``event`` within ``within`` of entering, counted for both groups."""

    event: str = Field(min_length=1, max_length=200)
    within: Duration = "72 hours"
    revenue: str = Field("revenue", description="The event property holding its value.")

    @field_validator("within")
    @classmethod
    def _within(cls, value: str) -> str:
        duration_s(value)
        return value


class Template(_Model):
    subject: str | None = Field(None, max_length=2_000)
    body: str = Field(min_length=1, max_length=20_000)
    html: str | None = Field(None, max_length=200_000)


class Send(_Model):
    """Send one message on the first channel the person prefers, is reachable and consented on."""

    channels: tuple[ChannelName, ...] = (
        ChannelName.LINE,
        ChannelName.ZALO,
        ChannelName.EMAIL,
        ChannelName.SMS,
        ChannelName.PUSH,
    )
    purpose: Literal["marketing", "transactional"] = "marketing"
    consent: str | None = Field(
        "default",
        description="The consent purpose required; 'default' is the purpose for marketing "
        "and none for transactional messages.",
    )
    countries: tuple[str, ...] | None = Field(
        None,
        description="ISO country codes of the people this step is for (default: everyone); "
        "labels that a country's rules require (Vietnam's [QC]) are checked when saved.",
    )
    template: Template

    @field_validator("countries")
    @classmethod
    def _countries(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is None:
            return None
        codes = tuple(c.upper() for c in value)
        if not codes or any(not re.fullmatch(r"[A-Z]{2}", c) for c in codes):
            raise ValueError("two-letter ISO country codes, e.g. [TH, VN]")
        return codes

    @field_validator("channels")
    @classmethod
    def _channels(cls, value: tuple[ChannelName, ...]) -> tuple[ChannelName, ...]:
        if not value or ChannelName.WEBHOOK in value:
            raise ValueError("one or more of email, sms, line, zalo, push (webhooks: 'webhook:')")
        return tuple(dict.fromkeys(value))

    @property
    def consent_purpose(self) -> str | None:
        if self.consent == "default":
            return "marketing" if self.purpose == "marketing" else None
        return self.consent


class WaitUntil(_Model):
    time: str
    days: tuple[str, ...] = WEEKDAYS

    _time = field_validator("time")(Schedule._time.__func__)  # type: ignore[attr-defined]
    _days = field_validator("days")(Schedule._days.__func__)  # type: ignore[attr-defined]


class WaitFor(_Model):
    event: str = Field(min_length=1, max_length=200)
    timeout: Duration
    on_event: str | None = None
    on_timeout: str | None = None

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, value: str) -> str:
        duration_s(value)
        return value


class Branch(_Model):
    if_: str = Field(alias="if")
    then: str | None = None
    else_: str | None = Field(None, alias="else")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("if_")
    @classmethod
    def _if(cls, value: str) -> str:
        return _condition(value)


class SetTrait(_Model):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z_][\w]*$")
    value: str | int | float | bool | None


class Webhook(_Model):
    url: str = Field(min_length=8, max_length=2_000)
    body: str | None = Field(None, max_length=20_000, description="A template; JSON by default.")


class Step(_Model):
    """One step: exactly one of the action keys."""

    id: str
    next: str | None = None
    wait: Duration | None = None
    wait_until: WaitUntil | None = None
    wait_for: WaitFor | None = None
    branch: Branch | None = None
    send: Send | None = None
    set_trait: SetTrait | None = None
    webhook: Webhook | None = None
    exit: str | None = Field(None, min_length=1, max_length=200)

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _ID.match(value) or value == END:
            raise ValueError("a step id is a letter then letters, digits, - or _ (not 'end')")
        return value

    @field_validator("wait")
    @classmethod
    def _wait(cls, value: str | None) -> str | None:
        if value is not None:
            duration_s(value)
        return value

    @model_validator(mode="after")
    def _one_action(self) -> Step:
        actions = [k for k in ACTIONS if getattr(self, k) is not None]
        if len(actions) != 1:
            raise ValueError(f"step {self.id!r}: give exactly one of {', '.join(ACTIONS)}")
        return self

    @property
    def action(self) -> str:
        return next(k for k in ACTIONS if getattr(self, k) is not None)

    def targets(self) -> list[str]:
        """The step ids this step may go to, besides the one after it."""
        found = [self.next]
        if self.branch is not None:
            found += [self.branch.then, self.branch.else_]
        if self.wait_for is not None:
            found += [self.wait_for.on_event, self.wait_for.on_timeout]
        return [t for t in found if t is not None]


ACTIONS = ("wait", "wait_until", "wait_for", "branch", "send", "set_trait", "webhook", "exit")


class Journey(_Model):
    name: str
    description: str = Field("", max_length=2_000)
    trigger: Trigger
    entry_when: str | None = None
    reentry: str = "never"
    exit_when: str | None = None
    goal: Goal | None = None
    control: float = Field(0.0, ge=0.0, lt=1.0, description="Share of entries held out.")
    timezone: str | None = Field(
        None, description="For people whose own time zone is unknown; default: C360_TIMEZONE."
    )
    steps: tuple[Step, ...] = Field(min_length=1, max_length=MAX_STEPS)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("1-100 characters: letters, digits, space, '.', ':', '-', '_'")
        return value

    @field_validator("entry_when", "exit_when")
    @classmethod
    def _conditions(cls, value: str | None) -> str | None:
        return None if value is None else _condition(value)

    @field_validator("reentry")
    @classmethod
    def _reentry(cls, value: str) -> str:
        if value in ("never", "always"):
            return value
        if value.startswith("after "):
            duration_s(value[6:])
            return value
        raise ValueError("'never', 'always' or 'after <duration>' (e.g. 'after 7 days')")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            from c360.segments.membership import zone

            try:
                zone(value)
            except InvalidInput as exc:
                raise ValueError(str(exc)) from None
        return value

    @model_validator(mode="after")
    def _graph(self) -> Journey:
        position: dict[str, int] = {}
        for i, step in enumerate(self.steps):
            if step.id in position:
                raise ValueError(f"two steps have the id {step.id!r}")
            position[step.id] = i
        for i, step in enumerate(self.steps):
            for target in step.targets():
                if target == END:
                    continue
                if target not in position:
                    raise ValueError(f"step {step.id!r} goes to {target!r}, which is no step id")
                if position[target] <= i:
                    raise ValueError(
                        f"step {step.id!r} goes back to {target!r}: steps only go forward"
                    )
        return self

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    def after(self, step: Step, target: str | None = None) -> str:
        """Where a person goes after ``step``: ``target``, its ``next``, else the next step."""
        chosen = target or step.next
        if chosen is not None:
            return chosen
        index = self.steps.index(step)
        return self.steps[index + 1].id if index + 1 < len(self.steps) else END

    @property
    def reentry_after_s(self) -> int | None:
        """Seconds before a person may enter again (0: at once), None: never again."""
        if self.reentry == "never":
            return None
        if self.reentry == "always":
            return 0
        return duration_s(self.reentry[6:])

    def as_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def parse_journey(text: str | None = None, data: Any = None) -> Journey:
    """A journey from YAML/JSON text or from parsed data; errors name the field."""
    if text is not None:
        if len(text) > 500_000:
            raise JourneyError("a journey definition is at most 500,000 characters")
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            raise JourneyError(f"not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise JourneyError("a journey is a mapping with name, trigger and steps")
    steps = data.get("steps")
    if isinstance(steps, list):
        # steps without an id get one from their position, so short journeys stay short
        data = {
            **data,
            "steps": [
                {"id": f"step{i + 1}", **s} if isinstance(s, dict) and "id" not in s else s
                for i, s in enumerate(steps)
            ],
        }
    try:
        return Journey.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors()[:10]:
            where = ".".join(str(p) for p in error["loc"]) or "journey"
            message = str(error["msg"]).removeprefix("Value error, ")
            problems.append(f"{where}: {message}")
        raise JourneyError("journey definition: " + "; ".join(problems)) from None
    except L.ConditionError as exc:
        raise JourneyError(f"journey definition: {exc}") from None
