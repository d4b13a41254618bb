"""Send policy: channel choice, quiet hours, frequency caps and labels, on a frozen clock."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from c360.activation.channels import ChannelName
from c360.activation.policy import (
    DEFAULT_RULES,
    Allow,
    Block,
    Cap,
    Choice,
    Defer,
    Hours,
    Rule,
    RuleBook,
    Skip,
    check_label,
    check_send,
    choose_channel,
    default_rules,
    rules_from_config,
)
from c360.errors import InvalidInput
from c360.kernel.clock import from_us, to_us

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
BKK = ZoneInfo("Asia/Bangkok")
BERLIN = ZoneInfo("Europe/Berlin")
HOUR = 3_600_000_000
EMAIL, SMS, LINE, ZALO = ChannelName.EMAIL, ChannelName.SMS, ChannelName.LINE, ChannelName.ZALO


def at(
    year: int,
    month: int,
    day: int,
    hour: int,
    minute: int,
    second: int = 0,
    us: int = 0,
    *,
    tz: ZoneInfo = HCM,
) -> int:
    return to_us(datetime(year, month, day, hour, minute, second, us, tzinfo=tz))


def local(us: int, tz: ZoneInfo = HCM) -> datetime:
    return from_us(us).astimezone(tz).replace(tzinfo=None)


def vn_ad_sms(
    now_us: int, history_us: list[int] | None = None, body: str = "[QC] Giảm 50%"
) -> Allow | Defer | Block:
    return check_send(
        DEFAULT_RULES,
        country="VN",
        channel=SMS,
        purpose="marketing",
        tz=HCM,
        now_us=now_us,
        history_us=history_us or [],
        body=body,
    )


# --- choosing a channel ---------------------------------------------------------------------


def test_preferred_channel_comes_before_the_steps_order() -> None:
    choice = choose_channel(
        preferred=[LINE],
        reachable={EMAIL: "lan@example.vn", LINE: "U123"},
        consented={EMAIL, LINE},
        allowed=[EMAIL, LINE],
    )
    assert choice == Choice(LINE, "U123")


def test_steps_order_is_used_when_the_preference_is_not_allowed() -> None:
    choice = choose_channel(
        [ZALO], {EMAIL: "a@b.th", SMS: "+66812345678"}, {EMAIL, SMS}, [SMS, EMAIL]
    )
    assert choice == Choice(SMS, "+66812345678")


def test_skip_says_why_for_every_channel_tried() -> None:
    choice = choose_channel(
        preferred=[EMAIL],
        reachable={EMAIL: "a@b.vn", SMS: "  "},
        consented={SMS},
        allowed=[LINE, EMAIL, SMS],
    )
    assert choice == Skip("no consent for email; no LINE user id; no phone number")


def test_unreachable_or_unconsented_channels_are_passed_over() -> None:
    choice = choose_channel([], {EMAIL: "a@b.vn", ZALO: "z1"}, {ZALO}, [EMAIL, ZALO])
    assert choice == Choice(ZALO, "z1")


def test_a_step_without_channels_skips() -> None:
    assert choose_channel([EMAIL], {EMAIL: "a@b.vn"}, {EMAIL}, []) == Skip(
        "the step allows no channel"
    )


# --- Vietnam, advertising SMS (Decree 91/2020/ND-CP) -----------------------------------------


def test_vn_ad_sms_before_seven_is_deferred_to_seven() -> None:
    verdict = vn_ad_sms(at(2026, 3, 10, 6, 59, 59))
    assert isinstance(verdict, Defer)
    assert local(verdict.until_us) == datetime(2026, 3, 10, 7, 0, 0)
    assert "07:00–22:00" in verdict.reason
    assert "Decree 91/2020/ND-CP" in verdict.reason


def test_vn_ad_sms_is_allowed_from_seven_until_just_before_ten_pm() -> None:
    assert vn_ad_sms(at(2026, 3, 10, 7, 0, 0)) == Allow()
    assert vn_ad_sms(at(2026, 3, 10, 21, 59, 59)) == Allow()
    assert vn_ad_sms(at(2026, 3, 10, 21, 59, 59, 999_999)) == Allow()


def test_vn_ad_sms_at_ten_pm_waits_for_seven_next_morning() -> None:
    verdict = vn_ad_sms(at(2026, 3, 10, 22, 0, 0))
    assert isinstance(verdict, Defer)
    assert local(verdict.until_us) == datetime(2026, 3, 11, 7, 0, 0)


def test_vn_hours_are_vietnam_time_whatever_the_persons_zone() -> None:
    # 07:30 in Bangkok is 07:30 in Ho Chi Minh City too (both UTC+7); 07:30 in Tokyo is 05:30.
    tokyo_morning = at(2026, 3, 10, 7, 30, tz=ZoneInfo("Asia/Tokyo"))
    verdict = check_send(
        DEFAULT_RULES,
        country="VN",
        channel=SMS,
        purpose="marketing",
        tz=ZoneInfo("Asia/Tokyo"),
        now_us=tokyo_morning,
        history_us=[],
        body="[QC] x",
    )
    assert isinstance(verdict, Defer)
    assert local(verdict.until_us) == datetime(2026, 3, 10, 7, 0, 0)


def test_fourth_vn_ad_sms_within_24_hours_is_blocked() -> None:
    history = [at(2026, 3, 10, 8, 0), at(2026, 3, 10, 12, 0), at(2026, 3, 10, 20, 0)]
    verdict = vn_ad_sms(at(2026, 3, 11, 7, 59, 59), history)
    assert isinstance(verdict, Block)
    assert "at most 3 per 24 h" in verdict.reason


def test_vn_ad_sms_cap_is_a_rolling_24_hours_not_a_calendar_day() -> None:
    # Three sent late on the 10th: a calendar-day cap would allow three more at 07:00 on the
    # 11th; the decree's "within 24 hours" does not.
    history = [at(2026, 3, 10, 21, 0), at(2026, 3, 10, 21, 30), at(2026, 3, 10, 21, 45)]
    assert isinstance(vn_ad_sms(at(2026, 3, 11, 7, 0), history), Block)
    assert vn_ad_sms(at(2026, 3, 11, 21, 0), history) == Allow()


def test_third_vn_ad_sms_within_24_hours_is_allowed() -> None:
    history = [at(2026, 3, 10, 8, 0), at(2026, 3, 10, 12, 0)]
    assert vn_ad_sms(at(2026, 3, 10, 20, 0), history) == Allow()


def test_vn_ad_sms_without_the_label_is_blocked() -> None:
    verdict = vn_ad_sms(at(2026, 3, 10, 10, 0), body="Giảm 50% hôm nay")
    assert isinstance(verdict, Block)
    assert "[QC]" in verdict.reason


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("[QC] Ưu đãi", True),
        ("[AD] Sale", True),
        (" [QC] leading space", False),
        ("[qc] lower case", False),
        ("Ưu đãi [QC]", False),
        ("{{ profile.label }} Ưu đãi", False),
    ],
)
def test_label_is_checked_when_a_template_is_saved(text: str, ok: bool) -> None:
    verdict = check_label(
        DEFAULT_RULES, country="vn", channel="sms", purpose="marketing", text=text
    )
    assert isinstance(verdict, Allow) is ok


def test_transactional_sms_in_vn_needs_no_label_hours_or_cap() -> None:
    night = at(2026, 3, 10, 2, 0)
    history = [night - i * HOUR for i in range(1, 10)]
    verdict = check_send(
        DEFAULT_RULES,
        country="VN",
        channel=SMS,
        purpose="transactional",
        tz=HCM,
        now_us=night,
        history_us=history,
        body="Mã OTP của bạn là 123456",
    )
    assert verdict == Allow()
    assert (
        check_label(DEFAULT_RULES, country="VN", channel="sms", purpose="transactional", text="x")
        == Allow()
    )


def test_vn_ad_email_is_capped_at_three_per_24_hours_without_a_body_label() -> None:
    history = [at(2026, 3, 10, 9, 0), at(2026, 3, 10, 10, 0), at(2026, 3, 10, 11, 0)]

    def send(now_us: int) -> Allow | Defer | Block:
        return check_send(
            DEFAULT_RULES,
            country="VN",
            channel=EMAIL,
            purpose="marketing",
            tz=HCM,
            now_us=now_us,
            history_us=history,
            body="Ưu đãi tháng 3",
        )

    assert isinstance(send(at(2026, 3, 10, 12, 0)), Block)
    assert send(at(2026, 3, 11, 11, 0)) == Allow()


# --- the generic marketing window ------------------------------------------------------------


def marketing(
    tz: ZoneInfo, now_us: int, country: str = "TH", channel: str = "line"
) -> Allow | Defer | Block:
    return check_send(
        DEFAULT_RULES,
        country=country,
        channel=channel,
        purpose="marketing",
        tz=tz,
        now_us=now_us,
        history_us=[],
        body="โปรโมชั่น",
    )


def test_thai_marketing_uses_the_default_window_in_bangkok_time() -> None:
    assert isinstance(marketing(BKK, at(2026, 3, 10, 7, 59, 59, tz=BKK)), Defer)
    assert marketing(BKK, at(2026, 3, 10, 8, 0, tz=BKK)) == Allow()
    assert marketing(BKK, at(2026, 3, 10, 20, 59, 59, tz=BKK)) == Allow()
    verdict = marketing(BKK, at(2026, 3, 10, 21, 0, tz=BKK))
    assert isinstance(verdict, Defer)
    assert local(verdict.until_us, BKK) == datetime(2026, 3, 11, 8, 0)


def test_marketing_window_across_the_spring_forward_in_berlin() -> None:
    # 2026-03-29: clocks go from 02:00 CET to 03:00 CEST; the night is an hour shorter.
    evening = at(2026, 3, 28, 22, 0, tz=BERLIN)
    verdict = marketing(BERLIN, evening, country="DE", channel="email")
    assert isinstance(verdict, Defer)
    assert local(verdict.until_us, BERLIN) == datetime(2026, 3, 29, 8, 0)
    assert verdict.until_us - evening == 9 * HOUR
    assert marketing(BERLIN, at(2026, 3, 29, 8, 0, tz=BERLIN), "DE", "email") == Allow()


def test_marketing_window_across_the_fall_back_in_berlin() -> None:
    # 2026-10-25: clocks go from 03:00 CEST back to 02:00 CET; the night is an hour longer.
    evening = at(2026, 10, 24, 22, 0, tz=BERLIN)
    verdict = marketing(BERLIN, evening, country="DE", channel="email")
    assert isinstance(verdict, Defer)
    assert verdict.until_us - evening == 11 * HOUR
    assert marketing(BERLIN, at(2026, 10, 25, 20, 59, 59, tz=BERLIN), "DE", "email") == Allow()


def test_a_window_opening_inside_the_dst_gap_opens_when_the_clocks_jump() -> None:
    book = RuleBook({("*", "*", "marketing"): Rule(hours=Hours(2 * 3600 + 1800, 86_400))})
    verdict = check_send(
        book,
        country="DE",
        channel="email",
        purpose="marketing",
        tz=BERLIN,
        now_us=at(2026, 3, 29, 1, 0, tz=BERLIN),
        history_us=[],
        body="x",
    )
    assert isinstance(verdict, Defer)
    # 02:30 never happens that night; 03:00 CEST (01:00 UTC) is the first moment after it.
    assert local(verdict.until_us, BERLIN) == datetime(2026, 3, 29, 3, 0)
    assert verdict.until_us == to_us(datetime(2026, 3, 29, 1, 0, tzinfo=ZoneInfo("UTC")))


def test_transactional_messages_go_at_night() -> None:
    verdict = check_send(
        DEFAULT_RULES,
        country="TH",
        channel=SMS,
        purpose="transactional",
        tz=BKK,
        now_us=at(2026, 3, 10, 3, 0, tz=BKK),
        history_us=[],
        body="รหัส OTP 123456",
    )
    assert verdict == Allow()


# --- rules as data ---------------------------------------------------------------------------


def test_most_specific_rule_applies_alone() -> None:
    assert DEFAULT_RULES.rule_for("VN", "sms", "marketing").label_prefixes == ("[QC]", "[AD]")
    assert DEFAULT_RULES.rule_for("VN", "zalo", "marketing").label_prefixes == ()
    assert DEFAULT_RULES.rule_for("TH", "sms", "marketing").hours == Hours(8 * 3600, 21 * 3600)
    assert DEFAULT_RULES.rule_for("", "push", "transactional") == Rule(source="c360 default")
    assert default_rules() is DEFAULT_RULES


def test_config_overrides_fields_and_keeps_the_rest() -> None:
    book = rules_from_config(
        {
            "VN/sms/marketing": {"caps": [{"max": 2, "window": "24h"}], "over_cap": "defer"},
            "TH/*/marketing": {"hours": "09:00-20:00", "max_per_local_day": 1},
            "*/email/marketing": None,
        }
    )
    vn = book.rule_for("VN", "sms", "marketing")
    assert vn.caps == (Cap(2, 86_400),)
    assert vn.label_prefixes == ("[QC]", "[AD]")
    assert vn.hours == Hours(7 * 3600, 22 * 3600)
    assert book.rule_for("TH", "line", "marketing") == Rule(
        hours=Hours(9 * 3600, 20 * 3600), max_per_local_day=1
    )
    assert DEFAULT_RULES.rule_for("VN", "sms", "marketing").caps == (Cap(3, 86_400),)


def test_over_cap_can_defer_to_when_room_opens_and_hours_allow() -> None:
    book = rules_from_config({"VN/sms/marketing": {"over_cap": "defer"}})
    history = [at(2026, 3, 10, 8, 0), at(2026, 3, 10, 9, 0), at(2026, 3, 10, 10, 0)]
    verdict = check_send(
        book,
        country="VN",
        channel=SMS,
        purpose="marketing",
        tz=HCM,
        now_us=at(2026, 3, 10, 11, 0),
        history_us=history,
        body="[QC] x",
    )
    assert isinstance(verdict, Defer)
    assert local(verdict.until_us) == datetime(2026, 3, 11, 8, 0)


def test_per_local_day_cap_counts_the_persons_calendar_day() -> None:
    book = rules_from_config({"TH/*/marketing": {"max_per_local_day": 1, "hours": None}})

    def send(now_us: int) -> Allow | Defer | Block:
        return check_send(
            book,
            country="TH",
            channel=LINE,
            purpose="marketing",
            tz=BKK,
            now_us=now_us,
            history_us=[at(2026, 3, 10, 23, 0, tz=BKK)],
            body="x",
        )

    assert isinstance(send(at(2026, 3, 10, 23, 59, 59, tz=BKK)), Block)
    assert send(at(2026, 3, 11, 0, 0, tz=BKK)) == Allow()


def test_outside_hours_can_block_instead_of_defer() -> None:
    book = rules_from_config({"*/*/marketing": {"outside_hours": "block"}})
    verdict = check_send(
        book,
        country="TH",
        channel=EMAIL,
        purpose="marketing",
        tz=BKK,
        now_us=at(2026, 3, 10, 23, 0, tz=BKK),
        history_us=[],
        body="x",
    )
    assert isinstance(verdict, Block)
    assert "08:00–21:00" in verdict.reason


def test_bad_config_names_every_bad_key() -> None:
    with pytest.raises(InvalidInput) as caught:
        rules_from_config(
            {
                "VN/sms/marketing": {
                    "hours": "7-22",
                    "caps": [{"max": 0, "window": "1 fortnight"}],
                    "zone": "Asia/Saigon City",
                    "colour": "red",
                },
                "vn/fax/marketing": {},
                "TH/*/marketing": {"outside_hours": "later", "label_prefixes": "[QC]"},
            }
        )
    message = str(caught.value)
    for fragment in (
        "send_rules.VN/sms/marketing.hours",
        "send_rules.VN/sms/marketing.caps[0].max",
        "send_rules.VN/sms/marketing.caps[0].window",
        "send_rules.VN/sms/marketing.zone",
        "send_rules.VN/sms/marketing.colour: unknown field",
        "send_rules.vn/fax/marketing",
        "send_rules.TH/*/marketing.outside_hours",
        "send_rules.TH/*/marketing.label_prefixes",
    ):
        assert fragment in message


def test_hours_cannot_cross_midnight() -> None:
    with pytest.raises(InvalidInput, match="hours"):
        rules_from_config({"*/*/marketing": {"hours": "22:00-07:00"}})
    with pytest.raises(ValueError, match="hours"):
        Hours(22 * 3600, 7 * 3600)


def test_window_accepts_seconds_and_units() -> None:
    book = rules_from_config(
        {"*/sms/marketing": {"caps": [{"max": 1, "window": 3600}, {"max": 5, "window": "7d"}]}}
    )
    assert book.rule_for("TH", "sms", "marketing").caps == (Cap(1, 3600), Cap(5, 7 * 86_400))
