"""Message templates: what authors can write, what the sandbox refuses, and failing closed."""

import time
import unicodedata
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from c360.activation.templates import (
    FILTERS,
    Limits,
    Rendered,
    Template,
    TemplateError,
    compile_template,
    format_date,
    format_money,
    prepare,
    preview,
    render,
)
from c360.errors import InvalidInput

CONTEXT: dict[str, Any] = {
    "profile": {"first_name": "สมชาย", "last_name": "ใจดี", "points": 1250, "tier": "gold"},
    "event": {"order_id": "A-1001", "total": Decimal("1234.5"), "currency": "THB"},
    "recommendations": [
        {"name": "Áo thun", "price": 199000},
        {"name": "Quần jean", "price": 459000},
    ],
    "links": {"shop": "https://shop.example/vn?a=1&b=2", "unsubscribe": "https://u.example/x"},
}


def body(text: str, context: dict[str, Any] | None = None) -> str:
    return render(compile_template(body=text), CONTEXT if context is None else context).body


# --- what authors can write -----------------------------------------------------------------


def test_renders_thai_subject_and_body_from_profile_and_event() -> None:
    template = compile_template(
        subject="คุณ{{ profile.first_name }} คำสั่งซื้อ {{ event.order_id }}",
        body="สวัสดีคุณ{{ profile.first_name }} ยอดรวม {{ event.total | money('THB') }}",
    )
    rendered = render(template, CONTEXT)
    assert rendered == Rendered(
        subject="คุณสมชาย คำสั่งซื้อ A-1001",
        body="สวัสดีคุณสมชาย ยอดรวม ฿1,234.50",
        html=None,
    )


def test_vietnamese_loop_over_recommendations_with_dong_prices() -> None:
    text = (
        "Gợi ý cho bạn:\n"
        "{% for item in recommendations %}{{ loop.index }}. {{ item.name }}: "
        "{{ item.price | money('VND') }}\n{% endfor %}"
    )
    assert body(text) == "Gợi ý cho bạn:\n1. Áo thun: 199.000 ₫\n2. Quần jean: 459.000 ₫\n"


def test_decomposed_vietnamese_in_template_and_context_comes_out_composed() -> None:
    name = unicodedata.normalize("NFD", "Nguyễn Thị Hương")
    greeting = unicodedata.normalize("NFD", "Chào ")
    out = body(greeting + "{{ profile.name }}", {"profile": {"name": name}})
    assert out == "Chào Nguyễn Thị Hương"
    assert unicodedata.is_normalized("NFC", out)


def test_thai_text_round_trips_unchanged() -> None:
    thai = "ขอบคุณที่ใช้บริการ ก่อนเที่ยงคืน ๑๒ ธ.ค."
    assert body("{{ profile.note }}", {"profile": {"note": thai}}) == thai


def test_html_part_escapes_values_and_text_parts_do_not() -> None:
    context = {"profile": {"first_name": "<b>Lan</b> & Co"}, "links": CONTEXT["links"]}
    rendered = render(
        compile_template(
            body="Hi {{ profile.first_name }}",
            html='<p>Hi {{ profile.first_name }}</p><a href="{{ links.shop }}">shop</a>',
        ),
        context,
    )
    assert rendered.body == "Hi <b>Lan</b> & Co"
    assert rendered.html == (
        "<p>Hi &lt;b&gt;Lan&lt;/b&gt; &amp; Co</p>"
        '<a href="https://shop.example/vn?a=1&amp;b=2">shop</a>'
    )


def test_missing_field_fails_naming_it_and_its_line() -> None:
    with pytest.raises(TemplateError) as caught:
        body("Xin chào\n{{ profile.nickname }}!")
    assert "profile.nickname is missing" in str(caught.value)
    assert caught.value.part == "body"
    assert caught.value.line == 2
    assert isinstance(caught.value, InvalidInput)


def test_default_fills_a_missing_field_and_a_missing_parent() -> None:
    assert body("{{ profile.nickname | default('bạn') }}") == "bạn"
    assert body("{{ profile.address.city | default('HCMC') }}") == "HCMC"


def test_a_null_trait_counts_as_missing() -> None:
    context = {"profile": {"nickname": None}}
    assert body("{{ profile.nickname | default('khách') }}", context) == "khách"
    with pytest.raises(TemplateError, match=r"profile\.nickname is missing"):
        body("{{ profile.nickname }}", context)


def test_missing_list_item_is_named() -> None:
    with pytest.raises(TemplateError, match=r"recommendations\[5\] is missing"):
        body("{{ recommendations[5].name }}")


def test_if_and_defined_tests_guard_optional_fields() -> None:
    text = "{% if profile.tier is defined and profile.tier == 'gold' %}VIP{% else %}-{% endif %}"
    assert body(text) == "VIP"
    assert body(text, {"profile": {}}) == "-"


def test_allowed_filters_work() -> None:
    assert body("{{ profile.tier | upper }} {{ 'ABC' | lower }} {{ 'nguyễn văn an' | title }}") == (
        "GOLD abc Nguyễn Văn An"
    )
    assert body("{{ recommendations | length }} {{ [1, 2, 3] | join(', ') }}") == "2 1, 2, 3"
    assert body("{{ 2.675 | round(1) }} {{ 7.1 | round(0, 'ceil') }}") == "2.7 8"
    assert body("{{ recommendations | first | length }}") == "2"


def test_truncate_never_splits_a_thai_tone_mark_from_its_letter() -> None:
    # "ก่อน": ก, then the tone mark ่ (a combining mark), then อ and น.
    assert body("{{ 'ก่อนเที่ยง' | truncate(5, '…') }}") == "ก่อน…"
    assert body("{{ 'ก่อนเที่ยง' | truncate(3, '…') }}") == "ก่…"
    assert body("{{ 'ก่อนเที่ยง' | truncate(2, '…') }}") == "…"
    assert body("{{ 'short' | truncate(10) }}") == "short"


def test_preview_renders_what_render_sends() -> None:
    template = compile_template(body="{{ profile.first_name }}")
    assert preview(template, CONTEXT) == render(template, CONTEXT)


def test_compile_returns_an_nfc_template() -> None:
    template = compile_template(body=unicodedata.normalize("NFD", "Chào {{ profile.a }}"))
    assert template == Template(body="Chào {{ profile.a }}")


# --- money and dates ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "locale", "expected"),
    [
        (1234.5, "THB", None, "฿1,234.50"),
        (Decimal("0.005"), "THB", None, "฿0.01"),
        (1234567, "VND", None, "1.234.567 ₫"),
        ("99000.5", "VND", None, "99.001 ₫"),
        (1234567, "VND", "en", "₫1,234,567"),
        (-1500, "VND", "vi", "-1.500 ₫"),
        (1234.5, "THB", "vi", "1.234,50 ฿"),
        (10, "SGD", None, "SGD 10.00"),
        (0, "USD", "en", "$0.00"),
    ],
)
def test_money_formats_the_way_people_write_it(
    amount: Any, currency: str, locale: str | None, expected: str
) -> None:
    assert format_money(amount, currency, locale) == expected


@pytest.mark.parametrize(
    "bad", [("12a", "THB"), (True, "THB"), (1, "XYZ"), (float("nan"), "THB"), (10**16, "VND")]
)
def test_money_refuses_what_it_cannot_format(bad: tuple[Any, str]) -> None:
    with pytest.raises(ValueError, match="money"):
        format_money(*bad)


def test_money_filter_in_a_template_fails_closed_on_a_bad_amount() -> None:
    with pytest.raises(TemplateError, match="money"):
        body("{{ profile.first_name | money('THB') }}")


def test_date_filter_formats_thai_buddhist_and_vietnamese_dates() -> None:
    moment = "2024-12-31T17:30:00Z"
    assert format_date(moment, "%-d %B %E", tz="Asia/Bangkok", locale="th") == "1 มกราคม 2568"
    assert format_date(moment, "%d/%m/%Y %H:%M", tz="Asia/Ho_Chi_Minh") == "01/01/2025 00:30"
    assert format_date(date(2025, 3, 8), "%-d %B, %Y", locale="vi") == "8 tháng 3, 2025"
    assert format_date(datetime(2025, 3, 8, 9, 5, tzinfo=UTC), "%b %d %H:%M:%S") == (
        "Mar 08 09:05:00"
    )
    text = "{{ event.at | date('%d %b %E', locale='th') }}"
    assert body(text, {"event": {"at": "2025-04-13"}}) == "13 เม.ย. 2568"


@pytest.mark.parametrize(
    ("value", "fmt", "tz"),
    [
        ("yesterday", "%d", None),
        ("2025-01-01", "%H", None),
        ("2025-01-01", "%A", None),
        ("2025-01-01T00:00:00Z", "%d", "Mars/Olympus"),
        (1735689600, "%d", None),
    ],
)
def test_date_refuses_what_it_cannot_format(value: Any, fmt: str, tz: str | None) -> None:
    with pytest.raises(ValueError, match="date"):
        format_date(value, fmt, tz)


# --- saving a template ----------------------------------------------------------------------


def test_syntax_error_is_reported_with_its_line_at_save() -> None:
    with pytest.raises(TemplateError) as caught:
        compile_template(body="ok\nok\n{% if profile.a %}unclosed")
    assert caught.value.part == "body"
    assert caught.value.line == 3
    assert str(caught.value).startswith("body line 3:")


def test_save_reports_every_problem_at_once() -> None:
    with pytest.raises(TemplateError) as caught:
        compile_template(
            subject="{{ nobody }}",
            body="{{ profile.a | shout }}",
            html="{% include 'header.html' %}",
        )
    problems = caught.value.problems
    assert len(problems) == 3
    assert "subject line 1: unknown name 'nobody'" in problems[0]
    assert "filter 'shout' is not available" in problems[1]
    assert "{% include %} is not available" in problems[2]


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("{% include 'x.html' %}", "{% include %} is not available"),
        ("{% import 'macros.html' as m %}", "{% import %} is not available"),
        ("{% from 'm.html' import f %}", "{% from ... import %} is not available"),
        ("{% extends 'base.html' %}", "{% extends %} is not available"),
        ("{% set x = 1 %}", "{% set %} is not available"),
        ("{% macro m() %}{% endmacro %}", "{% macro %} is not available"),
        ("{% filter upper %}x{% endfilter %}", "{% filter %} blocks are not available"),
        ("{% with a = 1 %}{% endwith %}", "{% with %} is not available"),
        ("{% for x in recommendations recursive %}{% endfor %}", "recursive loops"),
        ("{{ profile.a is callable }}", "test 'callable' is not available"),
    ],
)
def test_constructs_outside_the_allow_list_are_refused_at_save(source: str, reason: str) -> None:
    with pytest.raises(TemplateError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        compile_template(body=source)


def test_template_longer_than_the_limit_is_refused() -> None:
    with pytest.raises(TemplateError, match="at most 50"):
        compile_template(body="x" * 51, limits=Limits(template_chars=50))


def test_a_body_is_required() -> None:
    with pytest.raises(TemplateError, match="needs a body"):
        compile_template(body=None)  # type: ignore[arg-type]


def test_filter_allow_list_is_small() -> None:
    assert {"attr", "map", "format", "safe", "tojson", "xmlattr", "pprint"}.isdisjoint(FILTERS)


# --- sandbox escapes fail closed ------------------------------------------------------------

ESCAPES = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ joiner.__init__.__globals__.os }}",
    "{{ namespace }}",
    "{{ self._TemplateReference__context }}",
    "{{ self }}",
    "{{ lipsum }}",
    "{{ lipsum.__globals__ }}",
    "{{ range(10**9) | length }}",
    "{% for i in range(10**9) %}x{% endfor %}",
    "{{ '{0.__class__}'.format(profile) }}",
    "{{ 'x'.format }}",
    "{{ profile | attr('__class__') }}",
    "{{ profile['__class__'] }}",
    "{{ profile.first_name['__class__'] }}",
    "{{ recommendations.__len__ }}",
    "{{ profile.items() }}",
    "{{ 'a'.center(10**9) }}",
    "{{ config }}",
    "{{ request }}",
    "{{ loop }}",
    "{{ profile | map(attribute='__class__') | list }}",
]
"""Refused when the template is saved, and again if one were rendered without saving."""

RENDER_TIME_ESCAPES = [
    "{{ profile.first_name.upper }}",
    "{{ profile.first_name.format }}",
    "{{ recommendations[0].name.__class__ | default('fallback') }}{{ profile.x.y }}",
    "{{ event.total.real }}",
    "{{ recommendations.append }}",
    "{{ 'a' * 10**9 }}",
    "{{ [1] * 10**9 }}",
    "{{ 9 ** (9 ** 9) }}",
    "{{ 2 ** 100000 }}",
    "{{ '%0999999999d' % 1 }}",
    "{{ '%s' % profile }}",
]
"""Valid-looking templates whose values turn out to be text, numbers or lists when rendered."""


@pytest.mark.parametrize("source", ESCAPES)
def test_sandbox_escape_is_refused_at_save_and_at_render(source: str) -> None:
    started = time.monotonic()
    with pytest.raises(TemplateError):
        compile_template(body=source)
    with pytest.raises(TemplateError):
        render(Template(body=source), CONTEXT)
    assert time.monotonic() - started < 1


@pytest.mark.parametrize("source", RENDER_TIME_ESCAPES)
def test_sandbox_escape_fails_closed_at_render(source: str) -> None:
    started = time.monotonic()
    with pytest.raises(TemplateError):
        render(Template(body=source), CONTEXT)
    assert time.monotonic() - started < 1


def test_for_loop_bomb_over_data_fails_closed_quickly() -> None:
    context = {"profile": {"xs": list(range(1000))}}
    bomb = (
        "{% for a in profile.xs %}{% for b in profile.xs %}{% for c in profile.xs %}"
        "{% endfor %}{% endfor %}{% endfor %}"
    )
    started = time.monotonic()
    with pytest.raises(TemplateError, match="loops went through more items"):
        body(bomb, context)
    assert time.monotonic() - started < 2


def test_loops_nested_deeper_than_the_limit_are_refused_at_save() -> None:
    source = "{% for a in profile.x %}" * 4 + "{% endfor %}" * 4
    with pytest.raises(TemplateError, match="loops nest at most 3 deep"):
        compile_template(body=source)


def test_output_longer_than_the_limit_fails_without_a_partial_message() -> None:
    context = {"profile": {"xs": list(range(500)), "word": "x" * 1000}}
    source = "{% for a in profile.xs %}{{ profile.word }}{% endfor %}"
    with pytest.raises(TemplateError, match="longer than 100,000"):
        render(compile_template(body=source), context, limits=Limits(output_chars=100_000))


def test_concatenation_cannot_outgrow_the_output_limit() -> None:
    context = {"profile": {"word": "x" * 5000}}
    source = "{{ " + " ~ ".join(["profile.word"] * 50) + " }}"
    with pytest.raises(TemplateError, match="longer than"):
        render(compile_template(body=source), context, limits=Limits(output_chars=100_000))


# --- the context is plain data --------------------------------------------------------------


class Secretive:
    password = "hunter2"

    def __str__(self) -> str:
        return self.password


def test_context_objects_other_than_plain_data_are_refused() -> None:
    with pytest.raises(TemplateError, match=r"profile.owner is a Secretive"):
        body("{{ profile.owner }}", {"profile": {"owner": Secretive()}})


def test_context_with_unknown_names_is_refused() -> None:
    with pytest.raises(TemplateError, match="unknown context names config"):
        body("x", {"config": {"secret": 1}})


def test_context_dates_and_decimals_become_plain_values() -> None:
    context = {
        "event": {"at": datetime(2025, 1, 2, 3, 4, tzinfo=UTC), "amount": Decimal("10.005")},
        "profile": {"birthday": date(1990, 5, 17)},
    }
    assert body(
        "{{ event.at }} {{ profile.birthday }} {{ event.amount | money('THB') }}", context
    ) == ("2025-01-02T03:04:00+00:00 1990-05-17 ฿10.01")


def test_context_larger_than_the_limit_is_refused() -> None:
    with pytest.raises(TemplateError, match="more than 1,000 characters"):
        render(
            compile_template(body="x"),
            {"profile": {"bio": "y" * 1001}},
            limits=Limits(context_chars=1000),
        )


def test_context_limit_names_the_text_that_went_over_it() -> None:
    with pytest.raises(TemplateError, match=r"more than 10 characters \(at profile.tags\[1\]\)"):
        render(
            compile_template(body="x"),
            {"profile": {"tags": ["vip", "khách hàng thân thiết"]}},
            limits=Limits(context_chars=10),
        )


def test_context_nested_deeper_than_the_limit_is_refused() -> None:
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(20):
        node["a"] = {}
        node = node["a"]
    with pytest.raises(TemplateError, match="nested more than"):
        body("x", {"profile": deep})


# --- a template prepared once, rendered for many ------------------------------------------


def test_prepared_template_renders_each_person_as_render_does() -> None:
    template = compile_template(
        subject="{{ profile.first_name }}", body="Chào {{ profile.first_name }}, {{ event.sku }}"
    )
    prepared = prepare(template)
    for person in ({"first_name": "Lan"}, {"first_name": "สมชาย", "tags": ["vip", 1, True]}):
        context = {"profile": person, "event": {"sku": "A-1"}}
        assert prepared.render(context) == render(template, context)


@pytest.mark.parametrize("source", ESCAPES)
def test_prepare_refuses_what_saving_refuses(source: str) -> None:
    with pytest.raises(TemplateError):
        prepare(Template(body=source))


@pytest.mark.parametrize("source", [s for s in RENDER_TIME_ESCAPES if "__" not in s])
def test_prepared_template_still_fails_closed_at_each_render(source: str) -> None:
    prepared = prepare(compile_template(body=source))
    for _ in range(2):
        with pytest.raises(TemplateError):
            prepared.render(CONTEXT)


def test_prepared_template_checks_the_limits_at_each_render() -> None:
    prepared = prepare(compile_template(body="{{ profile.a }}"), limits=Limits(context_chars=5))
    assert prepared.render({"profile": {"a": "short"}}).body == "short"
    with pytest.raises(TemplateError, match="more than 5 characters"):
        prepared.render({"profile": {"a": "too long"}})
    with pytest.raises(TemplateError, match=r"profile\.a is missing"):
        prepared.render({"profile": {}})
