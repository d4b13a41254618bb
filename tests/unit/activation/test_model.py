"""Journey definitions: what is accepted, what is refused and how the refusal reads."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from c360.activation.journeys import next_local_time
from c360.activation.model import END, JourneyError, duration_s, parse_journey
from c360.kernel.clock import from_us, to_us


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30 minutes", 1800),
        ("1 minute", 60),
        ("90 min", 5400),
        ("1 hour", 3600),
        ("72h", 259_200),
        ("2 days", 172_800),
        ("1 week", 604_800),
        ("45 s", 45),
    ],
)
def test_durations_read_as_people_write_them(text: str, seconds: int) -> None:
    assert duration_s(text) == seconds


@pytest.mark.parametrize("text", ["soon", "1 fortnight", "-1 hour", "1.5 hours", ""])
def test_durations_that_are_not_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        duration_s(text)


def test_steps_without_ids_get_them_by_position_and_flow_in_order() -> None:
    journey = parse_journey(
        "name: x\ntrigger: {event: A}\nsteps:\n  - wait: 1 hour\n  - id: last\n    exit: done"
    )
    first, last = journey.steps
    assert (first.id, first.action, last.action) == ("step1", "wait", "exit")
    assert journey.after(first) == "last"
    assert journey.after(last) == END


@pytest.mark.parametrize(
    ("yaml", "message"),
    [
        ("name: x\nsteps: [{exit: a}]", "trigger: Field required"),
        ("name: x\ntrigger: {event: A, segment: b}\nsteps: [{exit: a}]", "exactly one of"),
        ("name: x\ntrigger: {segment: b, where: 'a = 1'}\nsteps: [{exit: a}]", "event trigger"),
        ("name: x\ntrigger: {event: A}\nsteps: []", "at least 1"),
        ("name: x\ntrigger: {event: A}\nsteps: [{wait: 1 hour, exit: a}]", "exactly one of"),
        ("name: x\ntrigger: {event: A}\nsteps: [{id: a, exit: x}, {id: a, exit: y}]", "two steps"),
        ("name: x\ntrigger: {event: A}\nsteps: [{exit: x, next: nowhere}]", "no step id"),
        ("name: x\ntrigger: {event: A}\nreentry: sometimes\nsteps: [{exit: x}]", "reentry"),
        ("name: x\ntrigger: {event: A}\ncontrol: 1.5\nsteps: [{exit: x}]", "control"),
        ("name: x\ntrigger: {event: A}\ntimezone: Mars/Base\nsteps: [{exit: x}]", "time zone"),
        (
            "name: x\ntrigger: {schedule: {at: '25:00'}}\nsteps: [{exit: x}]",
            "HH:MM",
        ),
        (
            "name: x\ntrigger: {event: A}\nsteps: [{send: {channels: [fax], "
            "template: {body: hi}}}]",
            "channels",
        ),
        ("name: x\ntrigger: {event: A}\nsteps: [{branch: {if: 'a ==', then: end}}]", "branch"),
        ("name: [x\n", "not valid YAML at line"),
        ("- just a list", "a mapping"),
    ],
)
def test_unusable_definitions_name_the_problem(yaml: str, message: str) -> None:
    with pytest.raises(JourneyError, match=message.replace("[", r"\[")):
        parse_journey(yaml)


def test_a_definition_round_trips_through_json() -> None:
    text = """
name: welcome
trigger: {event: Signed Up, where: 'plan = "gold"'}
entry_when: country = "TH"
exit_when: did "Order Completed"
goal: {event: Order Completed, within: 7 days}
control: 0.2
steps:
  - {id: a, wait_until: {time: "09:30", days: [mon, fri]}}
  - {id: b, branch: {if: 'rfm.label = "Champions"', then: d, else: c}}
  - {id: c, wait_for: {event: App Opened, timeout: 2 days, on_timeout: end}}
  - {id: d, set_trait: {name: welcomed, value: true}}
"""
    journey = parse_journey(text)
    assert parse_journey(data=journey.as_json()) == journey
    assert journey.trigger.where_condition() is not None
    assert journey.reentry_after_s is None


def test_next_local_time_is_the_persons_wall_clock_time() -> None:
    bangkok = ZoneInfo("Asia/Bangkok")
    friday_10 = to_us(datetime(2026, 12, 11, 10, 0, tzinfo=bangkok))
    monday_9 = next_local_time(friday_10, "09:00", ("mon",), bangkok)
    assert from_us(monday_9).astimezone(bangkok) == datetime(2026, 12, 14, 9, 0, tzinfo=bangkok)
    # across a daylight-saving change the wall time is kept
    berlin = ZoneInfo("Europe/Berlin")
    before = to_us(datetime(2026, 3, 28, 12, 0, tzinfo=berlin))
    after = next_local_time(before, "09:00", ("sun",), berlin)
    assert from_us(after).astimezone(berlin).hour == 9
    assert after - before == (21 - 1) * 3_600_000_000
