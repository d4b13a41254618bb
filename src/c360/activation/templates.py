"""Message templates: Jinja2 text, checked when saved and rendered in a sandbox when sent.

A template reads only the plain data it is given, under four names::

    profile          the person's traits       {{ profile.first_name }}
    event            the triggering event      {{ event.order_id }}
    recommendations  a list of items           {% for item in recommendations %}
    links            prepared URLs             {{ links.unsubscribe }}

What a template may do is an allow-list, checked on the parsed template when it is saved
(:func:`compile_template`) and again by the sandbox when it renders:

- output, ``{% if %}`` and ``{% for %}`` (at most ``Limits.loop_depth`` deep, no ``recursive``);
- reading fields of mappings and items of lists; fields starting with ``_`` are refused, and no
  value has attributes or methods (``''.__class__``, ``'{0}'.format``, ``'a'.center(n)`` fail);
- the filters in :data:`FILTERS` and the tests in :data:`TESTS`; no function calls, no
  ``{% set %}``, ``{% macro %}``, ``{% include %}``, ``{% import %}`` or ``{% extends %}``;
- ``*``, ``**`` and ``%`` are checked so an expression cannot build a huge value, and every
  ``{% for %}`` draws on one budget of ``Limits.loop_items`` per render.

A missing field fails the render, naming it (``profile.first_name is missing``), unless the
template gives a fallback with ``| default(...)``; a null trait counts as missing. HTML parts
are escaped (autoescape), text parts (SMS, LINE, Zalo, the plain email body) are not. Every
failure raises :class:`TemplateError` and nothing is sent: there is no partial message.

Text is NFC-normalized going in (template and context) and coming out, so Vietnamese typed as
decomposed characters renders the same as precomposed, and Thai passes through unchanged.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date as Date
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import Enum
from functools import lru_cache
from types import TracebackType
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import StrictUndefined, TemplateSyntaxError, nodes, pass_context
from jinja2 import Template as JinjaTemplate
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.filters import (
    do_capitalize,
    do_default,
    do_first,
    do_last,
    do_lower,
    do_title,
    do_trim,
    do_upper,
    sync_do_join,
)
from jinja2.runtime import Context, LoopContext, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from c360.errors import InvalidInput

CONTEXT_NAMES: Final = ("profile", "event", "recommendations", "links")
"""The names a template can read; each is always there (empty when the engine has nothing)."""


class TemplateError(InvalidInput):
    """A template that cannot be saved or a message that cannot be rendered.

    ``part`` is ``"subject"``, ``"body"`` or ``"html"``; ``line`` is the template line of the
    first problem when known; ``problems`` lists every problem found (a save reports them all).
    """

    def __init__(
        self,
        message: str,
        *,
        part: str | None = None,
        line: int | None = None,
        problems: Sequence[str] = (),
    ) -> None:
        super().__init__(message)
        self.part = part
        self.line = line
        self.problems = tuple(problems) or (message,)


@dataclass(frozen=True, slots=True)
class Template:
    """A message as its author wrote it: ``body`` is the text (SMS, chat, plain email part)."""

    body: str
    subject: str | None = None
    html: str | None = None


@dataclass(frozen=True, slots=True)
class Rendered:
    """One person's message, ready for a channel."""

    body: str
    subject: str | None = None
    html: str | None = None


@dataclass(frozen=True, slots=True)
class Limits:
    """Sizes that keep one template from costing more than one message should."""

    template_chars: int = 100_000
    """Per part; an HTML email from a builder is often 30-80 k characters."""
    output_chars: int = 200_000
    """Per rendered part."""
    context_chars: int = 500_000
    """All text in the context together."""
    context_values: int = 20_000
    """Values (texts, numbers, lists, mappings) in the context together."""
    context_depth: int = 16
    loop_depth: int = 3
    loop_items: int = 20_000
    """Items all ``{% for %}`` loops of one part may step through together."""


DEFAULT_LIMITS: Final = Limits()
_PARTS: Final = ("subject", "body", "html")


# --- filters ------------------------------------------------------------------------------

_CURRENCIES: Final[Mapping[str, tuple[str | None, int]]] = {
    # code: (symbol, digits after the decimal point; ISO 4217)
    "THB": ("฿", 2),
    "VND": ("₫", 0),
    "USD": ("$", 2),
    "EUR": ("€", 2),
    "JPY": ("¥", 0),
    "KRW": ("₩", 0),
    "CNY": (None, 2),
    "SGD": (None, 2),
    "MYR": (None, 2),
    "IDR": (None, 2),
    "PHP": (None, 2),
    "LAK": (None, 2),
    "KHR": (None, 2),
    "MMK": (None, 2),
    "GBP": ("£", 2),
    "AUD": (None, 2),
    "HKD": (None, 2),
    "TWD": (None, 2),
}
_HOME_LOCALE: Final = {"VND": "vi", "THB": "th"}
_LOCALES: Final = ("en", "th", "vi")
_MAX_AMOUNT: Final = Decimal(10) ** 15


def format_money(value: Any, currency: str, locale: str | None = None) -> str:
    """``value`` as an amount of ``currency`` the way a person in ``locale`` writes it.

    ``th`` and ``en``: ``฿1,234.50``; ``vi``: ``1.234.567 ₫`` (``.`` groups thousands). The
    locale defaults to the currency's home (VND: ``vi``, THB: ``th``, others ``en``). Amounts
    are rounded half up to the currency's minor unit, as tills do: VND has none.
    """
    code = currency.upper() if isinstance(currency, str) else ""
    if code not in _CURRENCIES:
        raise ValueError(f"money: unknown currency {currency!r}; known: {', '.join(_CURRENCIES)}")
    where = locale or _HOME_LOCALE.get(code, "en")
    if where not in _LOCALES:
        raise ValueError(f"money: unknown locale {locale!r}; known: {', '.join(_LOCALES)}")
    symbol, digits = _CURRENCIES[code]
    amount = _decimal(value)
    if abs(amount) >= _MAX_AMOUNT:
        raise ValueError(f"money: {value!r} is too large to format")
    rounded = amount.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    sign = "-" if rounded < 0 else ""
    grouped = f"{abs(rounded):,.{digits}f}"
    if where == "vi":
        grouped = grouped.translate({ord(","): ".", ord("."): ","})
        return f"{sign}{grouped} {symbol or code}"
    return f"{sign}{symbol}{grouped}" if symbol else f"{sign}{code} {grouped}"


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise ValueError(f"money: {value!r} is not an amount")
    try:
        # A float goes through its shortest text form: 0.1 stays 0.1, not 0.1000000000000000055.
        amount = Decimal(value.strip() if isinstance(value, str) else str(value))
    except InvalidOperation:
        raise ValueError(f"money: {value!r} is not an amount") from None
    if not amount.is_finite():
        raise ValueError(f"money: {value!r} is not an amount")
    return amount


_MONTHS: Final[Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    "en": (
        (
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ),
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
    ),
    "th": (
        (
            "มกราคม",
            "กุมภาพันธ์",
            "มีนาคม",
            "เมษายน",
            "พฤษภาคม",
            "มิถุนายน",
            "กรกฎาคม",
            "สิงหาคม",
            "กันยายน",
            "ตุลาคม",
            "พฤศจิกายน",
            "ธันวาคม",
        ),
        (
            "ม.ค.",
            "ก.พ.",
            "มี.ค.",
            "เม.ย.",
            "พ.ค.",
            "มิ.ย.",
            "ก.ค.",
            "ส.ค.",
            "ก.ย.",
            "ต.ค.",
            "พ.ย.",
            "ธ.ค.",
        ),
    ),
    "vi": (
        tuple(f"tháng {m}" for m in range(1, 13)),
        tuple(f"thg {m}" for m in range(1, 13)),
    ),
}
_DIRECTIVE = re.compile(r"%(-?)(.)", re.DOTALL)
_MAX_FORMAT_CHARS: Final = 200


def format_date(
    value: Any, fmt: str = "%d/%m/%Y", tz: str | None = None, locale: str = "en"
) -> str:
    """A date or time (ISO-8601 text, ``date`` or ``datetime``) written with ``fmt``.

    Directives: ``%d %m %Y %y %H %M %S`` (``%-d`` drops the leading zero), ``%B``/``%b`` the
    month's name in ``locale`` (en, th, vi), ``%E`` the Thai Buddhist-era year (``%Y`` + 543)
    and ``%%``. ``tz`` (an IANA name) converts an aware time first; a naive one is taken as
    already in it.
    """
    if not isinstance(fmt, str) or len(fmt) > _MAX_FORMAT_CHARS:
        raise ValueError("date: the format must be text of at most 200 characters")
    if locale not in _MONTHS:
        raise ValueError(f"date: unknown locale {locale!r}; known: {', '.join(_MONTHS)}")
    moment = _moment(value)
    if tz is not None and isinstance(moment, datetime):
        zone = _zone(tz)
        moment = moment.replace(tzinfo=zone) if moment.tzinfo is None else moment.astimezone(zone)
    full, short = _MONTHS[locale]
    has_time = isinstance(moment, datetime)

    def directive(match: re.Match[str]) -> str:
        bare, code = match.group(1) == "-", match.group(2)
        if code == "%" and not bare:
            return "%"
        if code in "HMS" and not has_time:
            raise ValueError(f"date: %{code} needs a time, and {value!r} is a date")
        number = {
            "d": moment.day,
            "m": moment.month,
            "y": moment.year % 100,
            "H": getattr(moment, "hour", 0),
            "M": getattr(moment, "minute", 0),
            "S": getattr(moment, "second", 0),
        }.get(code)
        if number is not None:
            return str(number) if bare else f"{number:02d}"
        if bare:
            raise ValueError(f"date: %-{code} is not a directive")
        texts = {
            "Y": f"{moment.year:04d}",
            "E": str(moment.year + 543),
            "B": full[moment.month - 1],
            "b": short[moment.month - 1],
        }
        if code not in texts:
            raise ValueError(f"date: %{code} is not a directive; use %d %m %Y %y %H %M %S %B %b %E")
        return texts[code]

    return _DIRECTIVE.sub(directive, fmt)


def _moment(value: Any) -> Date | datetime:
    if isinstance(value, datetime | Date):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            if "T" in text or " " in text:
                return datetime.fromisoformat(text.replace("Z", "+00:00"))
            return Date.fromisoformat(text)
        except ValueError:
            pass
    raise ValueError(f"date: {value!r} is not an ISO-8601 date or time")


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):
        raise ValueError(f"date: unknown time zone {name!r}") from None


def _truncate(value: Any, length: int = 255, end: str = "...") -> str:
    """At most ``length`` characters, ``end`` included; never splits a Thai or Vietnamese mark."""
    text = str(value)
    if not isinstance(length, int) or length < 0:
        raise ValueError("truncate: the length must be a whole number of characters")
    if len(text) <= length:
        return text
    cut = max(length - len(end), 0)
    # A combining mark (Thai vowels and tones above or below, Vietnamese tone marks left
    # decomposed) belongs with the letter before it: cut before that letter instead.
    while cut > 0 and unicodedata.category(text[cut]).startswith("M"):
        cut -= 1
    return text[:cut].rstrip() + end


def _round(value: Any, precision: int = 0, method: str = "common") -> Any:
    if not isinstance(precision, int) or not 0 <= precision <= 12:
        raise ValueError("round: the precision must be a whole number from 0 to 12")
    if method == "common":
        return round(value, precision)
    if method not in ("ceil", "floor"):
        raise ValueError("round: the method must be common, ceil or floor")
    scale = 10**precision
    rounded = (math.ceil if method == "ceil" else math.floor)(value * scale)
    return rounded / scale if precision else rounded


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError, InvalidOperation):
        return default


def _length(value: Any) -> int:
    return len(value)


def _abs(value: Any) -> Any:
    return abs(value)


FILTERS: Final[Mapping[str, Callable[..., Any]]] = {
    "default": do_default,
    "d": do_default,
    "upper": do_upper,
    "lower": do_lower,
    "title": do_title,
    "capitalize": do_capitalize,
    "trim": do_trim,
    "round": _round,
    "int": _int,
    "abs": _abs,
    "join": sync_do_join,
    "truncate": _truncate,
    "length": _length,
    "count": _length,
    "first": do_first,
    "last": do_last,
    "money": format_money,
    "date": format_date,
}
"""The filters a template may use; anything else is refused when the template is saved."""

TESTS: Final = frozenset(
    [
        *("defined", "undefined", "none", "boolean", "true", "false", "number", "integer"),
        *("float", "string", "mapping", "sequence", "lower", "upper", "even", "odd"),
        *("divisibleby", "in", "eq", "ne", "lt", "le", "gt", "ge", "==", "!=", "<", "<="),
        *(">", ">=", "equalto", "greaterthan", "lessthan"),
    ]
)
"""The tests (``is defined``, ``is number``...) a template may use."""


# --- the sandbox --------------------------------------------------------------------------

_LOOP_FIELDS: Final = frozenset(
    {"index", "index0", "revindex", "revindex0", "first", "last", "length"}
    | {"depth", "depth0", "previtem", "nextitem"}
)
_ITERATE: Final = "c360_iterate"
_budget: ContextVar[list[int]] = ContextVar("c360_template_loop_budget")
_MAX_REPEAT: Final = DEFAULT_LIMITS.output_chars
_MAX_EXPONENT: Final = 64


class _Data(dict[str, Any]):
    """A mapping from the context that knows where it is, to name missing fields."""

    __slots__ = ("path",)

    def __init__(self, path: str) -> None:  # empty: no need for the base's __init__
        self.path = path


class _Items(list[Any]):
    """A list from the context that knows where it is."""

    __slots__ = ("path",)

    def __init__(self, path: str) -> None:  # empty: no need for the base's __init__
        self.path = path


def _where(obj: Any) -> str:
    path = getattr(obj, "path", None) if isinstance(obj, _Data | _Items) else None
    if path is not None:
        return str(path)
    return {str: "text", int: "a number", float: "a number", bool: "true/false"}.get(
        type(obj), "a value"
    )


@pass_context
def _iterate(context: Context, value: Any) -> Iterator[Any]:
    """What every ``{% for %}`` steps through: the value, paid for item by item."""
    budget = _budget.get()
    for item in value:
        budget[0] -= 1
        if budget[0] < 0:
            raise SecurityError("loops went through more items than one message may")
        yield item


class _Sandbox(ImmutableSandboxedEnvironment):
    """Jinja's sandbox with no attributes at all: data is read by key and index only."""

    intercepted_binops = frozenset({"*", "**", "%"})

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, Undefined):
            return obj  # a missing parent: ``| default`` still applies, printing names it
        if isinstance(obj, Mapping):
            if attribute in obj:
                return obj[attribute]
            return self.undefined(
                hint=f"{_where(obj)}.{attribute} is missing; add | default(...) if it is optional",
                obj=obj,
                name=attribute,
            )
        if isinstance(obj, LoopContext) and attribute in _LOOP_FIELDS:
            return getattr(obj, attribute)
        return self.undefined(
            hint=f"{_where(obj)} has no field {attribute!r}",
            obj=obj,
            name=attribute,
            exc=SecurityError,
        )

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(obj, Undefined):
            return obj
        if isinstance(obj, Mapping):
            if isinstance(argument, str) and argument.startswith("_"):
                return self.undefined(
                    hint=f"field names starting with '_' are refused ({argument!r})",
                    obj=obj,
                    name=argument,
                    exc=SecurityError,
                )
            try:
                return obj[argument]
            except (KeyError, TypeError):
                return self.undefined(
                    hint=f"{_where(obj)}[{argument!r}] is missing; add | default(...) "
                    "if it is optional",
                    obj=obj,
                    name=str(argument),
                )
        if isinstance(obj, str | list | tuple) and (
            isinstance(argument, slice) or type(argument) is int
        ):
            try:
                return obj[argument]
            except IndexError:
                return self.undefined(
                    hint=f"{_where(obj)}[{argument}] is missing; add | default(...) "
                    "if it is optional",
                    obj=obj,
                    name=str(argument),
                )
        return self.undefined(
            hint=f"{_where(obj)} has no item {argument!r}",
            obj=obj,
            name=str(argument),
            exc=SecurityError,
        )

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        raise SecurityError("templates cannot call functions or methods")

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "%" and isinstance(left, str):
            raise SecurityError("'%' formatting of text is not available; use filters")
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if (
                    isinstance(seq, str | list | tuple)
                    and isinstance(times, int)
                    and len(seq) * times > _MAX_REPEAT
                ):
                    raise SecurityError("'*' would build a value longer than a message may be")
        if operator == "**" and (
            not isinstance(right, int | float)
            or abs(right) > _MAX_EXPONENT
            or not isinstance(left, int | float)
        ):
            raise SecurityError(f"'**' accepts numbers and exponents up to {_MAX_EXPONENT}")
        return super().call_binop(context, operator, left, right)


def _none_as_empty(value: Any) -> Any:
    return "" if value is None else value


def _sandbox(*, html: bool) -> _Sandbox:
    env = _Sandbox(
        autoescape=html,
        undefined=StrictUndefined,
        finalize=_none_as_empty,
        keep_trailing_newline=True,
    )
    env.filters = {**FILTERS, _ITERATE: _iterate}
    env.tests = {name: env.tests[name] for name in TESTS}
    env.globals = {}
    return env


_TEXT_ENV: Final = _sandbox(html=False)
_HTML_ENV: Final = _sandbox(html=True)


# --- checking a template when it is saved --------------------------------------------------

_ALLOWED_NODES: Final = (
    nodes.Template,
    nodes.Output,
    nodes.TemplateData,
    nodes.If,
    nodes.For,
    nodes.Const,
    nodes.Name,
    nodes.Getattr,
    nodes.Getitem,
    nodes.Slice,
    nodes.Filter,
    nodes.Test,
    nodes.CondExpr,
    nodes.And,
    nodes.Or,
    nodes.Not,
    nodes.Neg,
    nodes.Pos,
    nodes.Compare,
    nodes.Operand,
    nodes.Concat,
    nodes.Add,
    nodes.Sub,
    nodes.Mul,
    nodes.Div,
    nodes.FloorDiv,
    nodes.Mod,
    nodes.Pow,
    nodes.List,
    nodes.Tuple,
    nodes.Dict,
    nodes.Pair,
    nodes.Keyword,
)
_REFUSED: Final[Mapping[type[nodes.Node], str]] = {
    nodes.Include: "{% include %} is not available: a message template stands alone",
    nodes.Import: "{% import %} is not available: a message template stands alone",
    nodes.FromImport: "{% from ... import %} is not available: a message template stands alone",
    nodes.Extends: "{% extends %} is not available: a message template stands alone",
    nodes.Block: "{% block %} is not available in message templates",
    nodes.Macro: "{% macro %} is not available in message templates",
    nodes.CallBlock: "{% call %} is not available in message templates",
    nodes.Call: "function and method calls are not available in message templates",
    nodes.Assign: "{% set %} is not available; write the expression where it is used",
    nodes.AssignBlock: "{% set %} is not available; write the expression where it is used",
    nodes.FilterBlock: "{% filter %} blocks are not available; filter each value",
    nodes.With: "{% with %} is not available in message templates",
}


def _check(ast: nodes.Template, limits: Limits) -> list[tuple[int, str]]:
    problems: list[tuple[int, str]] = []

    def visit(node: nodes.Node, bound: frozenset[str], depth: int) -> None:
        line = node.lineno
        if not isinstance(node, _ALLOWED_NODES):
            reason = _REFUSED.get(type(node), f"{type(node).__name__} is not available")
            problems.append((line, reason))
            return
        if isinstance(node, nodes.Name) and node.ctx == "load" and node.name not in bound:
            problems.append(
                (line, f"unknown name {node.name!r}; a template reads {', '.join(CONTEXT_NAMES)}")
            )
        elif isinstance(node, nodes.Getattr) and node.attr.startswith("_"):
            problems.append((line, f"field names starting with '_' are refused ({node.attr!r})"))
        elif isinstance(node, nodes.Getattr) and isinstance(node.node, nodes.Const):
            problems.append((line, f"{node.node.value!r} has no field {node.attr!r}"))
        elif (
            isinstance(node, nodes.Getitem)
            and isinstance(node.arg, nodes.Const)
            and isinstance(node.arg.value, str)
            and node.arg.value.startswith("_")
        ):
            problems.append(
                (line, f"field names starting with '_' are refused ({node.arg.value!r})")
            )
        elif isinstance(node, nodes.Filter) and node.name not in FILTERS:
            problems.append(
                (line, f"filter {node.name!r} is not available; use {', '.join(sorted(FILTERS))}")
            )
        elif isinstance(node, nodes.Test) and node.name not in TESTS:
            problems.append((line, f"test {node.name!r} is not available"))
        if isinstance(node, nodes.For):
            if node.recursive:
                problems.append((line, "recursive loops are not available"))
            if depth + 1 > limits.loop_depth:
                problems.append((line, f"loops nest at most {limits.loop_depth} deep"))
            visit(node.iter, bound, depth)
            targets = {n.name for n in node.target.find_all(nodes.Name)}
            if isinstance(node.target, nodes.Name):
                targets.add(node.target.name)
            inner = bound | targets | {"loop"}
            for child in node.body:
                visit(child, inner, depth + 1)
            if node.test is not None:
                visit(node.test, inner, depth + 1)
            for child in node.else_:
                visit(child, bound, depth)
            return
        for child in node.iter_child_nodes():
            visit(child, bound, depth)

    visit(ast, frozenset(CONTEXT_NAMES), 0)
    return sorted(problems, key=lambda p: p[0])


def _metered(ast: nodes.Template, env: _Sandbox) -> None:
    """Route every loop through the budgeted ``_iterate`` filter (after the check above)."""
    for loop in ast.find_all(nodes.For):
        wrapped = nodes.Filter(loop.iter, _ITERATE, [], [], None, None, lineno=loop.iter.lineno)
        wrapped.set_environment(env)
        loop.iter = wrapped


@dataclass(frozen=True, slots=True)
class _Compiled:
    parts: tuple[tuple[str, JinjaTemplate], ...]


def _normal(text: str) -> str:
    return unicodedata.normalize("NFC", text)


@lru_cache(maxsize=256)
def _compiled(template: Template, limits: Limits) -> _Compiled:
    problems: list[tuple[str, int | None, str]] = []
    parts: list[tuple[str, JinjaTemplate]] = []
    for part in _PARTS:
        source = getattr(template, part)
        if source is None:
            if part == "body":
                problems.append((part, None, "a message needs a body"))
            continue
        if not isinstance(source, str):
            problems.append((part, None, f"must be text, not {type(source).__name__}"))
            continue
        if len(source) > limits.template_chars:
            problems.append(
                (part, None, f"is {len(source):,} characters; at most {limits.template_chars:,}")
            )
            continue
        env = _HTML_ENV if part == "html" else _TEXT_ENV
        try:
            ast = env.parse(_normal(source), name=part, filename=f"<{part}>")
        except TemplateSyntaxError as exc:
            problems.append((part, exc.lineno, exc.message or "syntax error"))
            continue
        except RecursionError:
            problems.append((part, None, "is nested too deeply"))
            continue
        except Exception as exc:  # the lexer's own limits (a 5,000-digit number...)
            problems.append((part, None, f"cannot be read: {exc}"))
            continue
        found = _check(ast, limits)
        problems.extend((part, line, reason) for line, reason in found)
        if found:
            continue
        _metered(ast, env)
        try:
            code = env.compile(ast, name=part, filename=f"<{part}>")
        except (TemplateSyntaxError, RecursionError) as exc:
            problems.append((part, getattr(exc, "lineno", None), str(exc) or "cannot compile"))
            continue
        parts.append((part, env.template_class.from_code(env, code, env.make_globals(None))))
    if problems:
        texts = [_located(part, line, reason) for part, line, reason in problems]
        first = problems[0]
        raise TemplateError("; ".join(texts), part=first[0], line=first[1], problems=texts)
    return _Compiled(tuple(parts))


def _located(part: str, line: int | None, reason: str) -> str:
    return f"{part} line {line}: {reason}" if line is not None else f"{part}: {reason}"


def compile_template(
    *,
    body: str,
    subject: str | None = None,
    html: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Template:
    """Check a template when it is saved: the NFC-normalized :class:`Template`, ready to render.

    Every problem (syntax with its line, a refused construct, an unknown name or filter, a
    part too long) is reported at once in one :class:`TemplateError`.
    """
    template = Template(
        body=_normal(body) if isinstance(body, str) else body,
        subject=_normal(subject) if isinstance(subject, str) else subject,
        html=_normal(html) if isinstance(html, str) else html,
    )
    _compiled(template, limits)
    return template


# --- rendering ----------------------------------------------------------------------------


class _Sizes:
    __slots__ = ("chars", "limits", "values")

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.chars = 0
        self.values = 0

    def scalar(self, value: str | int | bool, parent: str, at: str | int, depth: int) -> Any:
        """A text, whole number or true/false (exactly those types) at ``parent.at`` (or
        ``parent[at]``), counted and checked as :func:`_plain` does, without its chain of type
        checks: most of a context is such values."""
        self.values += 1
        limits = self.limits
        if self.values > limits.context_values:
            raise TemplateError(f"the context holds more than {limits.context_values:,} values")
        if depth > limits.context_depth:
            raise TemplateError(
                f"{_path(parent, at)} is nested more than {limits.context_depth} deep"
            )
        if type(value) is str:
            value = unicodedata.normalize("NFC", value)
            self.chars += len(value)
            if self.chars > limits.context_chars:
                raise TemplateError(
                    f"the context holds more than {limits.context_chars:,} characters "
                    f"(at {_path(parent, at)})"
                )
        return value


_SCALARS: Final = frozenset({str, int, bool})


def _path(parent: str, at: str | int) -> str:
    return f"{parent}[{at}]" if isinstance(at, int) else f"{parent}.{at}"


def _plain(value: Any, path: str, depth: int, sizes: _Sizes) -> Any:
    """The context value as plain data: text, numbers, true/false, lists and mappings."""
    kind = type(value)
    sizes.values += 1
    if sizes.values > sizes.limits.context_values:
        raise TemplateError(f"the context holds more than {sizes.limits.context_values:,} values")
    if depth > sizes.limits.context_depth:
        raise TemplateError(f"{path} is nested more than {sizes.limits.context_depth} deep")
    # plain dicts and lists first: the checks below, in their order, decide for other types
    if kind is dict:
        return _mapping(value, path, depth, sizes)
    if kind is list:
        return _sequence(value, path, depth, sizes)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, str):
        text = _normal(str.__str__(value))
        sizes.chars += len(text)
        if sizes.chars > sizes.limits.context_chars:
            raise TemplateError(
                f"the context holds more than {sizes.limits.context_chars:,} characters (at {path})"
            )
        return text
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float | Decimal):
        if not math.isfinite(value):
            raise TemplateError(f"{path} is {value}; a template takes finite numbers")
        return float(value) if isinstance(value, float) else value
    if isinstance(value, datetime | Date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return _mapping(value, path, depth, sizes)
    if isinstance(value, list | tuple):
        return _sequence(value, path, depth, sizes)
    raise TemplateError(
        f"{path} is a {type(value).__name__}; a template takes text, numbers, true/false, "
        "dates, lists and mappings"
    )


def _mapping(value: Mapping[Any, Any], path: str, depth: int, sizes: _Sizes) -> _Data:
    data = _Data(path)
    for key, item in value.items():
        if not isinstance(key, str):
            raise TemplateError(f"{path} has a key {key!r}; keys must be text")
        if item is None:  # a null trait is a missing one, as in segments
            continue
        if type(item) in _SCALARS:
            data[_normal(key)] = sizes.scalar(item, path, key, depth + 1)
        else:
            data[_normal(key)] = _plain(item, f"{path}.{key}", depth + 1, sizes)
    return data


def _sequence(value: list[Any] | tuple[Any, ...], path: str, depth: int, sizes: _Sizes) -> _Items:
    items = _Items(path)
    for i, item in enumerate(value):
        if type(item) in _SCALARS:
            items.append(sizes.scalar(item, path, i, depth + 1))
        else:
            items.append(_plain(item, f"{path}[{i}]", depth + 1, sizes))
    return items


def _root(context: Mapping[str, Any], limits: Limits) -> dict[str, Any]:
    unknown = sorted(set(context) - set(CONTEXT_NAMES), key=str)
    if unknown:
        raise TemplateError(
            f"unknown context names {', '.join(map(str, unknown))}; "
            f"a template reads {', '.join(CONTEXT_NAMES)}"
        )
    sizes = _Sizes(limits)
    root: dict[str, Any] = {}
    for name in CONTEXT_NAMES:
        given = context.get(name)
        if given is None:
            given = [] if name == "recommendations" else {}
        if name == "recommendations":
            if not isinstance(given, list | tuple):
                raise TemplateError("recommendations must be a list")
        elif not isinstance(given, Mapping):
            raise TemplateError(f"{name} must be a mapping")
        root[name] = _plain(given, name, 0, sizes)
    return root


def _failure_line(tb: TracebackType | None, filename: str) -> int | None:
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _render_part(part: str, jinja: JinjaTemplate, root: dict[str, Any], limits: Limits) -> str:
    pieces: list[str] = []
    size = 0
    token = _budget.set([limits.loop_items])
    try:
        for piece in jinja.generate(root):
            size += len(piece)
            if size > limits.output_chars:
                raise TemplateError(
                    f"{part}: the message is longer than {limits.output_chars:,} characters",
                    part=part,
                )
            pieces.append(piece)
    except TemplateError:
        raise
    except UndefinedError as exc:
        line = _failure_line(exc.__traceback__, f"<{part}>")
        raise TemplateError(_located(part, line, str(exc)), part=part, line=line) from None
    except Exception as exc:  # fail closed: any error in a filter or the sandbox stops the send
        line = _failure_line(exc.__traceback__, f"<{part}>")
        reason = str(exc) or type(exc).__name__
        raise TemplateError(_located(part, line, reason), part=part, line=line) from None
    finally:
        _budget.reset(token)
    return _normal("".join(pieces))


@dataclass(frozen=True, slots=True, eq=False)
class Prepared:
    """A template checked and compiled once (a journey version's, say), to render for many
    people: :meth:`render` skips the parse and the check of :func:`render`, never the sandbox
    or the limits, which apply to every render."""

    template: Template
    limits: Limits
    _parts: tuple[tuple[str, JinjaTemplate], ...]

    def render(self, context: Mapping[str, Any]) -> Rendered:
        """One person's message, or TemplateError (see :func:`render`)."""
        limits = self.limits
        root = _root(context, limits)
        out = {part: _render_part(part, jinja, root, limits) for part, jinja in self._parts}
        return Rendered(body=out["body"], subject=out.get("subject"), html=out.get("html"))


def prepare(template: Template, *, limits: Limits = DEFAULT_LIMITS) -> Prepared:
    """``template`` checked as when saved (TemplateError if it fails) and compiled, ready to
    render."""
    checked = compile_template(
        body=template.body, subject=template.subject, html=template.html, limits=limits
    )
    return Prepared(checked, limits, _compiled(checked, limits).parts)


def render(
    template: Template, context: Mapping[str, Any], *, limits: Limits = DEFAULT_LIMITS
) -> Rendered:
    """One person's message, or TemplateError: never a partial message.

    ``context`` maps the names in :data:`CONTEXT_NAMES` to plain data (a missing name is
    empty); anything else in it is refused.
    """
    return prepare(template, limits=limits).render(context)


def preview(
    template: Template, context: Mapping[str, Any], *, limits: Limits = DEFAULT_LIMITS
) -> Rendered:
    """What the editor shows: the same path as :func:`render`, so a preview is what is sent."""
    return render(template, context, limits=limits)
